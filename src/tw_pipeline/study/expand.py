"""Write one complete, sweep-free study file per point, plus an index.

The written files are the queue of a batch system: each is a valid study
that `twpipe run` accepts on its own, and the index lists them one a line.
Expanding twice gives byte-identical files, so the folder can be kept in
version control and re-expanded safely.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from tw_pipeline.errors import InvalidStudy, Problem
from tw_pipeline.run import atomic
from tw_pipeline.study.loading import StudyFile
from tw_pipeline.study.serialize import study_to_yaml
from tw_pipeline.study.sweep import format_value

__all__ = ["INDEX_NAME", "ExpandResult", "expand_to_folder"]

INDEX_NAME = "points.txt"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpandResult:
    """What an expansion wrote.

    Attributes:
        index: the index file (one point file name a line).
        files: every point file, in point order.
        written: how many files were new or changed.
    """

    index: Path
    files: list[Path]
    written: int


def expand_to_folder(
    study_file: StudyFile, out_dir: Path, *, force: bool = False
) -> ExpandResult:
    """Write the points of ``study_file`` into ``out_dir``.

    Args:
        study_file: the loaded study.
        out_dir: destination folder; created if missing.
        force: overwrite existing files whose content differs.

    Raises:
        InvalidStudy: if files with other content exist and ``force`` is off.
            Nothing is written in that case.
    """
    out_dir = out_dir.resolve()
    planned: dict[Path, str] = {}
    for point, study in study_file.points:
        header = _header(study_file, point.name, point.overrides, out_dir)
        text = study_to_yaml(study, relative_to=out_dir, header=header)
        planned[out_dir / f"{point.name}.yaml"] = text
    index_text = "".join(f"{path.name}\n" for path in planned)
    planned[out_dir / INDEX_NAME] = index_text

    # Check every destination before writing any, so a refusal leaves the
    # folder exactly as it was.
    conflicts = [
        path for path, text in planned.items()
        if path.exists() and path.read_text(encoding="utf-8") != text
    ]
    if conflicts and not force:
        shown = ", ".join(path.name for path in conflicts[:5])
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        problem = Problem(
            source=str(out_dir),
            message=f"{len(conflicts)} file(s) exist with different content: "
            f"{shown}{more}",
            hint="pass --force to overwrite them, or choose another folder with -o",
        )
        raise InvalidStudy(problem)

    written = 0
    for path, text in planned.items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        atomic.write_text(path, text)
        written += 1
    log.info(
        "%d point file(s) and the index %s in %s (%d new or changed)",
        len(planned) - 1, INDEX_NAME, out_dir, written,
    )
    files = [path for path in planned if path.name != INDEX_NAME]
    return ExpandResult(index=out_dir / INDEX_NAME, files=files, written=written)


def _header(study_file: StudyFile, name: str, overrides: dict, out_dir: Path) -> str:
    origin = Path(os.path.relpath(study_file.path, out_dir)).as_posix()
    lines = [
        f"Point '{name}' of study '{study_file.study.study}', expanded from {origin}",
        "by `twpipe expand`. Edit the study, not this file, and expand again.",
    ]
    if overrides:
        lines.append("Swept values:")
        lines.extend(f"  {key} = {format_value(value)}" for key, value in overrides.items())
    return "\n".join(lines)
