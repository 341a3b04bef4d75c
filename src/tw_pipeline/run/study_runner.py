"""Run the points of a study, skip finished ones, and summarise.

A failing point is recorded in its folder (failed.json) and does not stop
the others; the caller learns which points failed from the result.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from tw_pipeline.errors import BadInputError, InvalidStudy, Problem
from tw_pipeline.run.datacache import data_key, load_for_points
from tw_pipeline.run.layout import study_dir
from tw_pipeline.run.point_runner import PointTask, point_state, record_failure, run_point
from tw_pipeline.study.loading import StudyFile

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
        table: the study summary as a Markdown table.
    """

    study_dir: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
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
        jobs: number of points to run at once; only 1 is supported so far.
        force: rerun points that have already finished.

    Returns:
        What ran, what was skipped, what failed, and the summary table.

    Raises:
        InvalidStudy: for an unknown point name or more than one job.
        InvalidData: if the data cannot be loaded.
    """
    if jobs != 1:
        problem = Problem(
            source="--jobs",
            message=f"found {jobs}; running points in parallel is not available "
            "yet, expected 1",
            hint="run points side by side with `twpipe expand` and one "
            "`twpipe run POINT.yaml` per point",
        )
        raise InvalidStudy(problem)

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

    if pending:
        log.info(
            "study '%s': %d point(s) to run, %d already finished",
            study_file.study.study, len(pending), len(result.skipped),
        )
        datasets = load_for_points(pending)
        fingerprints = _fingerprints(pending)

    for point, study in pending:
        label = f"point {position[point.name]}/{total}"
        if point.name != "default":
            label += f" {point.name}"
        task = PointTask(
            study=study, swept=point.overrides, study_file=study_file.path, label=label
        )
        key = data_key(study)
        try:
            run_point(task, datasets[key], fingerprints[key])
        except BadInputError as error:
            record_failure(study, error, error.format())
            log.error("%s failed: %s", label, error.format())
            result.failed.append(point.name)
        except Exception as error:  # noqa: BLE001 - one point must not stop the rest
            details = traceback.format_exc()
            path = record_failure(study, error, details)
            log.error("%s failed: %s (details in %s)", label, error, path)
            log.debug("%s", details)
            result.failed.append(point.name)
        else:
            result.ran.append(point.name)

    result.table = _summarise(result.study_dir)
    return result


def _fingerprints(points: list) -> dict[str, str]:
    from tw_pipeline.data.load import data_fingerprint

    fingerprints: dict[str, str] = {}
    for _, study in points:
        key = data_key(study)
        if key not in fingerprints:
            fingerprints[key] = data_fingerprint(study)
    return fingerprints


def _summarise(folder: Path) -> str:
    from tw_pipeline.report.summary import write_summary

    if not folder.is_dir():
        return ""
    return write_summary(folder).markdown
