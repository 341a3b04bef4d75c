"""`twpipe submit`: expand a sweep, pick the points to run, write and submit the jobs.

The expanded point files are the queue and the run folders are the state:
there is no database. A point that finished is never submitted again; one
that failed is submitted again (or, with ``retry_failed``, only those); one
that has started and not finished is left alone, since its job may still
be running.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from tw_pipeline.batch import htcondor, slurm
from tw_pipeline.batch.environment import current_environment, wrapper_script
from tw_pipeline.batch.status import POINTS_DIR, study_status
from tw_pipeline.batch.submission import Submission
from tw_pipeline.run import atomic
from tw_pipeline.run.layout import study_dir
from tw_pipeline.run.point_runner import point_state
from tw_pipeline.run.provenance import now
from tw_pipeline.study.expand import expand_to_folder
from tw_pipeline.study.loading import StudyFile

__all__ = ["BACKENDS", "SubmitResult", "submit_study"]

log = logging.getLogger(__name__)

BACKENDS = ("htcondor", "slurm")

_FOLDER = re.compile(r"^submit-(\d{3,})$")


@dataclass(frozen=True)
class SubmitResult:
    """What :func:`submit_study` did.

    Attributes:
        submission: the submission written, or None when nothing was left to run.
        batch_file: the submit description or sbatch script, or None.
        job_id: the batch system's id (cluster or array job), None on a dry run.
        skipped: points not submitted, each with its state.
    """

    submission: Submission | None
    batch_file: Path | None
    job_id: str | None
    skipped: dict[str, str]


def submit_study(
    study_file: StudyFile,
    backend: str,
    *,
    retry_failed: bool = False,
    dry_run: bool = False,
) -> SubmitResult:
    """Write the batch files of a study's unfinished points and submit them.

    Args:
        study_file: the loaded study (with command-line overrides applied).
        backend: "htcondor" or "slurm".
        retry_failed: submit only the points that failed.
        dry_run: write the files but do not submit.

    Returns:
        The submission, its batch file, the job id and what was left out.

    Raises:
        InvalidStudy: if a finished point's configuration changed.
        SubmitFailed: if the submit command is missing or refuses the jobs.
    """
    if backend not in BACKENDS:
        msg = f"unknown backend {backend!r}"
        raise ValueError(msg)

    # Refuses a finished point whose configuration changed before anything
    # is written, as `twpipe run` does.
    for _, study in study_file.points:
        point_state(study)

    runs = study_dir(study_file.points[0][1])
    expanded = expand_to_folder(study_file, runs / POINTS_DIR, force=True)
    files = {path.stem: path for path in expanded.files}
    states = {status.name: status.state for status in study_status(runs)}

    wanted = ("failed",) if retry_failed else ("failed", "not started")
    chosen = [name for name in files if states.get(name, "not started") in wanted]
    skipped = {name: states.get(name, "not started") for name in files if name not in chosen}
    _explain(skipped, retry_failed)
    if not chosen:
        log.info("nothing to submit: %s", _count(skipped))
        return SubmitResult(None, None, None, skipped)

    submission = Submission(
        study=study_file.study.study,
        folder=_new_folder(runs / "batch"),
        points=chosen,
        point_files=[files[name] for name in chosen],
    )
    batch = study_file.points[0][1].batch
    environment = current_environment()
    submission.logs.mkdir(parents=True, exist_ok=True)
    atomic.write_text(submission.queue, "".join(f"{path}\n" for path in submission.point_files))
    atomic.write_text(submission.wrapper, wrapper_script(environment, batch.cpus))
    os.chmod(submission.wrapper, 0o755)
    if backend == "htcondor":
        batch_file = submission.folder / htcondor.SUBMIT_FILE
        atomic.write_text(batch_file, htcondor.submit_description(submission, batch))
    else:
        batch_file = submission.folder / slurm.SCRIPT_FILE
        atomic.write_text(batch_file, slurm.array_script(submission, batch))
    log.info("%d point(s) in %s; %s", len(chosen), submission.folder, environment.describe())

    job_id = None
    if not dry_run:
        job_id = (htcondor if backend == "htcondor" else slurm).submit(submission)
        log.info("submitted %d job(s) to %s as %s", len(chosen), backend, job_id)
    atomic.write_json(submission.record, {
        "backend": backend,
        "job_id": job_id,
        "submitted": None if dry_run else now(),
        "points": chosen,
        "python": environment.python,
        "container": environment.container,
    })
    return SubmitResult(submission, batch_file, job_id, skipped)


def _new_folder(batch_dir: Path) -> Path:
    numbers = []
    for folder in batch_dir.glob("submit-*"):
        match = _FOLDER.match(folder.name)
        if match:
            numbers.append(int(match.group(1)))
    if numbers:
        latest = batch_dir / f"submit-{max(numbers):03d}"
        # A dry run's folder is reused by the next submission: it never ran.
        if _was_dry_run(latest):
            return latest
    return batch_dir / f"submit-{max(numbers, default=0) + 1:03d}"


def _was_dry_run(folder: Path) -> bool:
    try:
        record = json.loads((folder / "submission.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        # No record: the submission stopped before submitting.
        return True
    return record.get("submitted") is None


def _explain(skipped: dict[str, str], retry_failed: bool) -> None:
    running = [name for name, state in skipped.items() if state == "running"]
    if running:
        log.warning(
            "%d point(s) started and have not finished, so they are not submitted "
            "again: %s. If their jobs are gone, delete those point folders and submit again",
            len(running), ", ".join(running[:10]),
        )
    if retry_failed:
        waiting = [name for name, state in skipped.items() if state == "not started"]
        if waiting:
            log.info("--retry-failed leaves out %d point(s) not started yet", len(waiting))


def _count(skipped: dict[str, str]) -> str:
    counts: dict[str, int] = {}
    for state in skipped.values():
        counts[state] = counts.get(state, 0) + 1
    return ", ".join(f"{n} {state}" for state, n in counts.items()) or "no points"
