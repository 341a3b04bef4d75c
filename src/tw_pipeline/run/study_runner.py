"""Run the points of a study, skip finished ones, and summarise.

A failing point is recorded in its folder (failed.json) and does not stop
the others; the caller learns which points failed from the result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from tw_pipeline.run.datacache import data_key, load_for_points
from tw_pipeline.run.layout import study_dir
from tw_pipeline.run.point_runner import PointTask, execute_point, point_state
from tw_pipeline.study.loading import StudyFile
from tw_pipeline.training.fold_inputs import FoldInputCache

__all__ = ["StudyRunResult", "run_study"]

log = logging.getLogger(__name__)


@dataclass
class StudyRunResult:
    """What a call of :func:`run_study` did.

    Attributes:
        study_dir: the study's run folder.
        ran: points trained in this call.
        skipped: points that had already finished.
        failed: points that failed, each with failed.json in its folder.
        errors: the one-line error of each failed point.
        table: the study summary as a Markdown table.
    """

    study_dir: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    table: str = ""


def run_study(
    study_file: StudyFile,
    *,
    only: str | None = None,
    jobs: int = 1,
    force: bool = False,
) -> StudyRunResult:
    """Run every unfinished point of a study (or only the one named).

    Args:
        study_file: the loaded study.
        only: name of the single point to run.
        jobs: number of points to run at once, in separate processes.
        force: rerun points that have already finished.

    Returns:
        What ran, what was skipped, what failed, and the summary table.

    Raises:
        InvalidStudy: for an unknown point name, or a finished point whose
            configuration changed.
        InvalidData: if the data cannot be loaded.
    """
    selected = [study_file.point(only)] if only else list(study_file.points)
    result = StudyRunResult(study_dir=study_dir(selected[0][1]))
    total = len(study_file.points)
    position = {point.name: i + 1 for i, (point, _) in enumerate(study_file.points)}

    pending = []
    for point, study in selected:
        if point_state(study, force=force) == "finished":
            log.info("point %s already finished, skipping", point.name)
            result.skipped.append(point.name)
        else:
            pending.append((point, study))

    datasets: dict = {}
    fingerprints: dict[str, str] = {}
    if pending:
        log.info(
            "study '%s': %d point(s) to run, %d already finished",
            study_file.study.study, len(pending), len(result.skipped),
        )
        datasets = load_for_points(pending)
        fingerprints = _fingerprints(pending)

    tasks = []
    for point, study in pending:
        label = f"point {position[point.name]}/{total}"
        if point.name != "default":
            label += f" {point.name}"
        task = PointTask(
            study=study, swept=point.overrides, study_file=study_file.path, label=label
        )
        tasks.append(task)

    if jobs > 1 and len(tasks) > 1:
        errors = _run_parallel(tasks, datasets, fingerprints, result.study_dir, jobs)
    else:
        # Points on the same data share their fold preparation.
        caches = {key: FoldInputCache() for key in datasets}
        errors = {}
        for task in tasks:
            key = data_key(task.study)
            errors[task.study.point_name] = execute_point(
                task, datasets[key], fingerprints[key], caches[key]
            )

    for task in tasks:
        name = task.study.point_name
        error = errors.get(name)
        if error:
            result.failed.append(name)
            result.errors[name] = error
        else:
            result.ran.append(name)

    result.table = _summarise(result.study_dir)
    return result


def _run_parallel(
    tasks: list[PointTask],
    datasets: dict,
    fingerprints: dict[str, str],
    folder: Path,
    jobs: int,
) -> dict[str, str | None]:
    from tw_pipeline.run.datastore import save_dataset
    from tw_pipeline.run.parallel import remove_store, run_parallel

    # One store per distinct data configuration, shared by its points.
    stores: dict[str, Path] = {}
    for number, key in enumerate(datasets):
        stores[key] = save_dataset(datasets[key], folder / ".data-store" / str(number))
    try:
        work = [
            (task, stores[data_key(task.study)], fingerprints[data_key(task.study)])
            for task in tasks
        ]
        return run_parallel(work, jobs=min(jobs, len(tasks)))
    finally:
        remove_store(folder / ".data-store")


def _fingerprints(points: list) -> dict[str, str]:
    from tw_pipeline.data.load import data_fingerprint

    fingerprints: dict[str, str] = {}
    for _, study in points:
        key = data_key(study)
        if key not in fingerprints:
            fingerprints[key] = data_fingerprint(study)
    return fingerprints


def _summarise(folder: Path) -> str:
    from tw_pipeline.report.summary import collect_points, write_summary

    # With every point failed there is nothing to rank; the caller reports
    # the failures instead.
    if not folder.is_dir() or not collect_points(folder):
        return ""
    return write_summary(folder).markdown
