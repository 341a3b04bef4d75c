"""Run one point of a study: every fold, its evaluation and its report.

The order of writes is what makes a run safe to interrupt: the config and
provenance come first, then each fold's files, then the plots, and the
metrics file last. A point is finished exactly when its metrics file exists,
so a run killed at any moment leaves a folder that a rerun recognises as
unfinished and redoes.
"""

from __future__ import annotations

import logging
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.errors import BadInputError, InvalidStudy, Problem
from tw_pipeline.run import atomic
from tw_pipeline.run.layout import PointLayout, point_layout
from tw_pipeline.run.provenance import now, provenance_record
from tw_pipeline.study.models import Study
from tw_pipeline.study.serialize import config_hash, study_to_yaml
from tw_pipeline.training.fold_inputs import FoldInputCache

__all__ = [
    "PointTask",
    "execute_point",
    "failure_summary",
    "point_state",
    "record_failure",
    "run_point",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PointTask:
    """One point to run, with what it needs to know about its place in the study.

    Attributes:
        study: the point's validated study, paths absolute.
        swept: the swept key paths and this point's values.
        study_file: the file the point came from (for provenance).
        label: "point i/N" for progress messages.
    """

    study: Study
    swept: dict[str, Any]
    study_file: Path
    label: str


def point_state(study: Study, *, force: bool = False) -> str:
    """Tell whether a point must run: "run" or "finished".

    Raises:
        InvalidStudy: if the point finished with a different configuration;
            its results would otherwise be silently kept (or lost).
    """
    layout = point_layout(study)
    metrics = layout.finished_metrics()
    if metrics is None or force:
        return "run"
    if metrics.get("config_hash") != config_hash(study):
        problem = Problem(
            source=str(layout.root),
            message=f"point '{study.point_name}' finished earlier with a different "
            "configuration",
            hint="rerun it with --force (replaces those results), or set another "
            "output.dir or study name to keep both",
        )
        raise InvalidStudy(problem)
    return "finished"


def run_point(
    task: PointTask,
    dataset: Dataset,
    data_fingerprint: str,
    cache: FoldInputCache | None = None,
) -> dict[str, Any]:
    """Train, evaluate and report one point; return its metrics.

    Args:
        task: the point and its context.
        dataset: the point's loaded events.
        data_fingerprint: fingerprint of the input files, for provenance.
        cache: folds prepared by earlier points on the same dataset.

    Returns:
        The metrics written to the point's metrics.json.
    """
    # Imported here: these pull in TensorFlow and matplotlib.
    from tw_pipeline.evaluation.analysis import evaluate_point, train_baselines
    from tw_pipeline.evaluation.metrics import aggregate_folds
    from tw_pipeline.report.evaluation_plots import write_evaluation_plots
    from tw_pipeline.report.html import write_point_page
    from tw_pipeline.report.plots import write_point_plots
    from tw_pipeline.training.folds import assign_folds
    from tw_pipeline.training.network import build_model, network_summary
    from tw_pipeline.training.train import train_fold

    study = task.study
    layout = point_layout(study)
    _start_clean(layout)
    started = now()
    started_clock = time.perf_counter()
    digest = config_hash(study)

    # Config and provenance first, so even a failed point says what it was.
    atomic.write_text(layout.config, study_to_yaml(study))
    provenance = provenance_record(
        config_hash=digest,
        data_fingerprint=data_fingerprint,
        study_file=str(task.study_file),
        started=started,
    )
    atomic.write_json(layout.provenance, provenance)

    model = build_model(study.network, len(study.variables), study.training.seed)
    atomic.write_text(layout.network, network_summary(model) + "\n")

    folds = assign_folds(
        dataset.labels,
        study.folds.k,
        study.training.seed,
        event_number=dataset.event_number,
    )
    # Before the network: see train_baselines for why.
    baselines = train_baselines(dataset, folds, study)

    outcomes = []
    for fold in study.folds.trained:
        outcome = train_fold(
            dataset,
            fold,
            folds,
            study,
            layout.fold(fold),
            progress_prefix=f"{task.label} ",
            cache=cache,
        )
        outcomes.append(outcome)
        test_auc = outcome.metrics["test"]["auc"]
        log.info(
            "%s fold %d/%d done: test AUC %s",
            task.label, fold + 1, study.folds.k, _number(test_auc),
        )

    evaluation = evaluate_point(
        outcomes, dataset, folds, study, layout.root, baselines=baselines
    )
    outcomes = evaluation.outcomes
    if evaluation.scan is not None:
        atomic.write_text(layout.cut_scan, evaluation.scan.to_csv())

    write_point_plots(outcomes, dataset, study, layout.plots, evaluation.baselines)
    write_evaluation_plots(evaluation, study, layout.plots)
    distances: dict[str, Any] = {}
    if dataset.systematic is not None or dataset.decorrelated is not None:
        from tw_pipeline.report.decorrelation_plots import (
            evaluate_and_plot_decorrelation,
        )

        outcomes, distances = evaluate_and_plot_decorrelation(
            outcomes, dataset, folds, study
        )

    fold_metrics = [outcome.metrics for outcome in outcomes]
    metrics = {
        "study": study.study,
        "point": study.point_name,
        "swept": task.swept,
        "config_hash": digest,
        "folds": fold_metrics,
        "aggregate": {**aggregate_folds(fold_metrics), **distances},
        "evaluation": evaluation.summary,
        "seconds": round(time.perf_counter() - started_clock, 1),
    }
    if study.report.html:
        # Before the metrics file: a finished point always has its page.
        write_point_page(layout.root, metrics)

    provenance["finished"] = now()
    atomic.write_json(layout.provenance, provenance)
    # Last: from here on the point counts as finished.
    atomic.write_json(layout.metrics, metrics)
    return metrics


def execute_point(
    task: PointTask,
    dataset: Dataset,
    data_fingerprint: str,
    cache: FoldInputCache | None = None,
) -> str | None:
    """Run a point and contain its failure.

    Returns:
        None if the point finished, else a one-line description of the error,
        which is also recorded in the point's failed.json.
    """
    try:
        run_point(task, dataset, data_fingerprint, cache)
    except BadInputError as error:
        path = record_failure(task.study, error, error.format())
        log.error("%s failed: %s", task.label, error.format())
        return f"{failure_summary(error)} (see {path})"
    except Exception as error:  # noqa: BLE001 - one point must not stop the rest
        details = traceback.format_exc()
        path = record_failure(task.study, error, details)
        log.error("%s failed: %s: %s (details in %s)", task.label,
                  type(error).__name__, error, path)
        log.debug("%s", details)
        return f"{type(error).__name__}: {error} (see {path})"
    return None


def record_failure(study: Study, error: BaseException, details: str) -> Path:
    """Write the error of a failed point into its folder and return the path."""
    layout = point_layout(study)
    payload = {
        "point": study.point_name,
        "error": f"{type(error).__name__}: {error}",
        "summary": failure_summary(error),
        "details": details,
        "time": now(),
    }
    atomic.write_json(layout.failed, payload)
    return layout.failed


def failure_summary(error: BaseException) -> str:
    """One line saying why a point failed, for listings such as `twpipe status`."""
    if isinstance(error, BadInputError):
        line = error.problems[0].format().splitlines()[0]
        more = len(error.problems) - 1
        return f"{line} (and {more} more)" if more else line
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _start_clean(layout: PointLayout) -> None:
    # A folder without a metrics file is the remains of an interrupted or
    # failed run (or results being replaced with --force): start afresh so
    # no stale fold or plot is mixed into the new results.
    if layout.root.exists():
        log.info("clearing unfinished results in %s", layout.root)
        shutil.rmtree(layout.root)
    layout.root.mkdir(parents=True)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"

