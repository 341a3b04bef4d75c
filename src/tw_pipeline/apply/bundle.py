"""What a finished point's run folder holds for applying its models later.

A run folder carries everything needed to score new events: the exact
resolved study (``config.yaml``: the variables in order, the event-number
column, k), one model and one preprocessing file per fold, and the config
hash. :func:`read_run` reads and cross-checks all of it, without TensorFlow,
so that a damaged or unfinished folder is refused before any file is read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tw_pipeline.data.detect import display_path
from tw_pipeline.errors import BadInputError, InvalidData, Problem
from tw_pipeline.run.layout import PointLayout
from tw_pipeline.study.models import Study
from tw_pipeline.study.serialize import config_hash
from tw_pipeline.training.preprocess import Scaler

__all__ = ["FoldFiles", "FoldRule", "RunBundle", "default_score_name", "read_run"]

FoldRule = Literal["event-number", "mean"]

# File names inside fold-<i>/, as training writes them (training/train.py
# imports TensorFlow, so they are not imported from there).
MODEL_FILE = "model.keras"
SCALER_FILE = "scaler.json"


@dataclass(frozen=True)
class FoldFiles:
    """The model of one fold and the preprocessing it was trained with."""

    fold: int
    model: Path
    scaler: Scaler


@dataclass(frozen=True)
class RunBundle:
    """A finished point, ready to score new events.

    Attributes:
        root: the point's run folder.
        study: the point's resolved study, as it ran.
        folds: one entry per trained fold, in fold order.
        config_hash: the hash that identifies the configuration.
    """

    root: Path
    study: Study
    folds: tuple[FoldFiles, ...]
    config_hash: str

    @property
    def variables(self) -> tuple[str, ...]:
        """The network's inputs, in the order it expects them."""
        return tuple(self.study.variables)

    @property
    def event_number(self) -> str | None:
        """The event-number column of the fold rule, or None."""
        return self.study.data.event_number

    @property
    def k(self) -> int:
        return self.study.folds.k

    @property
    def rule(self) -> FoldRule:
        """How an event picks its model(s).

        "event-number": event ``n`` is scored by the model of fold ``n % k``,
        the one that did not train on it. "mean": without event numbers, the
        fold an event was in cannot be told, so the score is the mean of all
        fold models.
        """
        return "event-number" if self.event_number is not None else "mean"

    def describe_rule(self) -> str:
        """The fold rule in words, as written into outputs and logs."""
        if self.rule == "event-number":
            return (
                f"each event scored by the model of fold {self.event_number} % "
                f"{self.k}, which did not train on it"
            )
        return (
            f"mean of the {len(self.folds)} fold models (the study has no "
            "data.event_number, so the training fold of an event is unknown)"
        )


def default_score_name(study: Study) -> str:
    """``<study>_score``, with characters that are awkward in branch names replaced."""
    return re.sub(r"\W", "_", f"{study.study}_score")


def read_run(run_dir: Path | str) -> RunBundle:
    """Read a finished point's run folder.

    Args:
        run_dir: the point's folder, ``<output.dir>/<study>/<point>``.

    Returns:
        The point's study and fold files, cross-checked.

    Raises:
        InvalidData: when the folder is not a finished point, a fold's model
            or preprocessing file is missing or does not match the study, or
            the fold rule needs models that were not trained.
    """
    root = Path(run_dir)
    layout = PointLayout(root=root)
    shown = display_path(root)
    if not root.is_dir():
        raise InvalidData(
            Problem(
                message="no such folder",
                source=shown,
                hint="give a point's run folder, e.g. runs/<study>/<point>",
            )
        )
    if not layout.config.is_file():
        raise InvalidData(
            Problem(
                message="is not a point's run folder (it has no config.yaml)",
                source=shown,
                hint=_points_hint(root),
            )
        )
    if layout.finished_metrics() is None:
        raise InvalidData(
            Problem(
                message="this point has not finished (metrics.json is missing)",
                source=shown,
                hint="run the study to the end (`twpipe run STUDY.yaml`) first",
            )
        )

    study = _read_study(layout)
    folds = tuple(_read_fold(layout, study, fold) for fold in study.folds.trained)

    missing = sorted(set(range(study.folds.k)) - set(study.folds.trained))
    if study.data.event_number is not None and missing:
        raise InvalidData(
            Problem(
                message=(
                    f"folds {missing} of k={study.folds.k} have no model (folds.train "
                    f"is {study.folds.trained}); with data.event_number every event "
                    "must be scored by the model of its own fold"
                ),
                source=shown,
                path="folds.train",
                hint="rerun the study with folds.train: all",
            )
        )
    return RunBundle(
        root=root, study=study, folds=folds, config_hash=config_hash(study)
    )


def _points_hint(root: Path) -> str:
    """Name the point folders below ``root``, if it is a study's folder."""
    points = sorted(p.name for p in root.iterdir() if (p / "config.yaml").is_file())
    if points:
        listing = ", ".join(points[:10]) + (", ..." if len(points) > 10 else "")
        return f"this looks like a study's folder; give one of its points: {listing}"
    return "give a point's run folder, e.g. runs/<study>/<point>"


def _read_study(layout: PointLayout) -> Study:
    # Imported here: study loading pulls in the YAML source map machinery.
    from tw_pipeline.study.loading import load_study

    try:
        return load_study(layout.config).study
    except BadInputError as err:
        raise InvalidData(err.problems) from None


def _read_fold(layout: PointLayout, study: Study, fold: int) -> FoldFiles:
    folder = layout.fold(fold)
    model = folder / MODEL_FILE
    scaler_file = folder / SCALER_FILE
    for path in (model, scaler_file):
        if not path.is_file():
            raise InvalidData(
                Problem(
                    message=f"fold {fold} has no {path.name}",
                    source=display_path(folder),
                    hint="the run folder is incomplete; rerun the study with --force",
                )
            )

    source = display_path(scaler_file)
    try:
        payload = json.loads(scaler_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InvalidData(
            Problem(
                message=f"cannot be read ({err})", source=source, hint="rerun the study"
            )
        ) from err
    scaler = Scaler.from_json(payload, source=source)

    # The preprocessing must belong to this study: same inputs in the same
    # order, same fold, same k. A mismatch means files were mixed by hand.
    expected = {"variables": list(study.variables), "fold": fold, "k": study.folds.k}
    found = {
        "variables": list(scaler.variables),
        "fold": payload.get("fold", fold),
        "k": payload.get("k", study.folds.k),
    }
    for key, value in expected.items():
        if found[key] != value:
            raise InvalidData(
                Problem(
                    message=(
                        f"records {key} {found[key]!r}, but config.yaml says {value!r}"
                    ),
                    source=source,
                    path=key,
                    hint="the fold's files do not belong to this point; rerun the "
                    "study with --force",
                )
            )
    return FoldFiles(fold=fold, model=model, scaler=scaler)
