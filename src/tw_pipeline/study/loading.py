"""Read a study file, validate it and every sweep point, resolve its paths.

This is the one entry point from a file on disk to validated ``Study``
objects. All problems are collected and raised together, each located in
the file, so a user fixes a study in one pass rather than one error a run.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tw_pipeline.errors import InvalidStudy, Problem, did_you_mean
from tw_pipeline.study.errors import fields_at, problems_from_validation
from tw_pipeline.study.models import Study
from tw_pipeline.study.sweep import Point, apply_overrides, expand_sweep, format_value
from tw_pipeline.study.yaml_source import SourceMap, parse_yaml

__all__ = ["StudyFile", "load_study", "parse_assignment", "resolve_paths"]

log = logging.getLogger(__name__)

# Keys that name or place the study; sweeping them would make points
# collide in one folder or leave the study.
UNSWEEPABLE = ("study", "point", "sweep", "output", "batch")


@dataclass(frozen=True)
class StudyFile:
    """A validated study file and its expanded points.

    Attributes:
        path: absolute path of the study file.
        study: the study as written (paths relative, sweep included).
        points: each sweep point (one "default" point without a sweep) with
            its validated, sweep-free study whose paths are absolute.
    """

    path: Path
    study: Study
    points: list[tuple[Point, Study]]

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the study resolve against."""
        return self.path.parent

    def point(self, name: str) -> tuple[Point, Study]:
        """Return the point called ``name``.

        Raises:
            InvalidStudy: if no point has that name (with the closest names).
        """
        names = [point.name for point, _ in self.points]
        for point, study in self.points:
            if point.name == name:
                return point, study
        hint = did_you_mean(name, names) or "points: " + ", ".join(names[:10])
        problem = Problem(
            source=str(self.path), message=f"no sweep point named '{name}'", hint=hint
        )
        raise InvalidStudy(problem)


def load_study(path: Path | str, overrides: list[str] | None = None) -> StudyFile:
    """Read, validate and expand a study file.

    Args:
        path: the study file.
        overrides: ``key.path=value`` assignments from the command line; the
            value is read as YAML (``3``, ``0.01``, ``[a, b]``, ``elu``).

    Returns:
        The validated study with its points.

    Raises:
        InvalidStudy: listing every problem found, each with file, line,
            column, key path, the value found and what was expected.
    """
    path = Path(path)
    text = _read_text(path)
    document = parse_yaml(text, path)
    data, source = document.data, document.source

    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"a {type(data).__name__}"
        problem = Problem(
            source=str(path),
            message=f"found {found}; expected a mapping of study sections",
            hint="start from `configs/demo.yaml` or see `twpipe schema`",
        )
        raise InvalidStudy(problem)

    for assignment in overrides or []:
        key, value = parse_assignment(assignment)
        data = apply_overrides(data, {key: value})
        source.origins[tuple(key.split("."))] = f"--set {assignment}"

    try:
        study = Study.model_validate(data)
    except ValidationError as error:
        raise InvalidStudy(problems_from_validation(error, Study, source)) from None

    problems = _check_axes(study, data, source) + _check_overrides(study, overrides)
    if problems:
        raise InvalidStudy(problems)

    base_dir = path.resolve().parent
    points = _validate_points(study, data, source, base_dir)
    return StudyFile(path=path.resolve(), study=study, points=points)


def parse_assignment(assignment: str) -> tuple[str, Any]:
    """Split ``key.path=value`` and read the value as YAML.

    Raises:
        InvalidStudy: if there is no ``=`` or the value is not valid YAML.
    """
    key, separator, text = assignment.partition("=")
    key = key.strip()
    if not separator or not key:
        problem = Problem(
            source=f"--set {assignment}",
            message="expected key.path=value",
            hint="for example --set network.nodes=50",
        )
        raise InvalidStudy(problem)
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return key, value


def resolve_paths(study: Study, base_dir: Path) -> Study:
    """Return a copy of ``study`` with relative file and output paths made absolute."""
    samples = {
        name: sample.model_copy(
            update={"files": [_absolute(f, base_dir) for f in sample.files]}
        )
        for name, sample in study.data.samples.items()
    }
    data = study.data.model_copy(update={"samples": samples})
    output = study.output.model_copy(update={"dir": _absolute(study.output.dir, base_dir)})
    return study.model_copy(update={"data": data, "output": output})


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = None
        if path.parent.is_dir():
            siblings = [p.name for p in path.parent.glob("*.y*ml")]
            hint = did_you_mean(path.name, siblings)
        problem = Problem(source=str(path), message="study file not found", hint=hint)
        raise InvalidStudy(problem) from None
    except IsADirectoryError:
        problem = Problem(source=str(path), message="is a folder, not a study file")
        raise InvalidStudy(problem) from None
    except UnicodeDecodeError as error:
        problem = Problem(
            source=str(path),
            message=f"not a UTF-8 text file (byte {error.start})",
            hint="a study file is YAML text; was a data file given instead?",
        )
        raise InvalidStudy(problem) from None


def _check_axes(study: Study, data: dict[str, Any], source: SourceMap) -> list[Problem]:
    """Check that every swept key path names a key of the study."""
    if study.sweep is None:
        return []

    located: list[tuple[str, tuple[Any, ...]]] = [
        (key, ("sweep", "grid", key)) for key in study.sweep.grid
    ]
    for index, group in enumerate(study.sweep.zip):
        located.extend((key, ("sweep", "zip", index, key)) for key in group)

    problems = []
    seen: dict[str, str] = {}
    for key, where in located:
        message, hint = _axis_defect(key, data)
        if key in seen:
            message = f"'{key}' is swept twice (also in {seen[key]})"
            hint = "sweep each key in one place only"
        seen[key] = ".".join(str(p) for p in where[:-1])
        if message:
            problems.append(
                Problem(
                    source=source.locate(where, prefer_key=True),
                    path=".".join(str(p) for p in where),
                    message=message,
                    hint=hint,
                )
            )
    return problems


def _check_overrides(study: Study, overrides: list[str] | None) -> list[Problem]:
    """Refuse --set on a swept key: the sweep would silently win."""
    if study.sweep is None:
        return []
    swept = set(study.sweep.axes())
    problems = []
    for assignment in overrides or []:
        key = assignment.partition("=")[0].strip()
        if key in swept:
            problems.append(
                Problem(
                    source=f"--set {assignment}",
                    path=key,
                    message="this key is swept, so --set cannot fix it",
                    hint="run one point with --point NAME, or remove the key "
                    "from the sweep",
                )
            )
    return problems


def _axis_defect(key: str, data: dict[str, Any]) -> tuple[str | None, str | None]:
    parts = key.split(".")
    if parts[0] in UNSWEEPABLE:
        return f"'{parts[0]}' cannot be swept", "sweep training settings, not names"

    walked: list[str] = []
    raw: Any = data
    for part in parts:
        allowed = fields_at(Study, tuple(walked))
        if allowed is None:
            # A free-form mapping such as data.samples: its keys are names
            # the study itself defines.
            allowed = list(raw) if isinstance(raw, dict) else []
        if part not in allowed:
            where = ".".join(walked) or "the top level"
            hint = did_you_mean(part, allowed) or f"keys of {where}: " + ", ".join(
                map(str, allowed)
            )
            return f"'{key}' is not a key of the study ('{part}' unknown in {where})", hint
        walked.append(part)
        raw = raw.get(part) if isinstance(raw, dict) else None
    return None, None


def _validate_points(
    study: Study, data: dict[str, Any], source: SourceMap, base_dir: Path
) -> list[tuple[Point, Study]]:
    """Validate every point; raise one error listing all invalid points."""
    base = {key: value for key, value in data.items() if key != "sweep"}
    points = expand_sweep(study.sweep)
    validated: list[tuple[Point, Study]] = []
    problems: list[Problem] = []

    for point in points:
        values = ", ".join(f"{k}={format_value(v)}" for k, v in point.overrides.items())
        point_data = apply_overrides(base, point.overrides)
        if point.overrides:
            point_data["point"] = point.name
        point_source = copy.copy(source)
        point_source.origins = dict(source.origins)
        for key in point.overrides:
            point_source.origins[tuple(key.split("."))] = _axis_location(
                study, source, key
            )
        try:
            point_study = Study.model_validate(point_data)
        except ValidationError as error:
            context = f"sweep point '{point.name}' ({values})"
            problems.extend(
                problems_from_validation(error, Study, point_source, context=context)
            )
            continue
        validated.append((point, resolve_paths(point_study, base_dir)))

    if problems:
        raise InvalidStudy(problems)
    log.debug("validated %d point(s)", len(validated))
    return validated


def _axis_location(study: Study, source: SourceMap, key: str) -> str:
    assert study.sweep is not None
    if key in study.sweep.grid:
        return source.locate(("sweep", "grid", key), prefer_key=True)
    for index, group in enumerate(study.sweep.zip):
        if key in group:
            return source.locate(("sweep", "zip", index, key), prefer_key=True)
    return source.filename


def _absolute(path: Path, base_dir: Path) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()

