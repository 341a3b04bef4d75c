"""One submission of a sweep: its folder, its queue of point files, its wrapper.

Each call of `twpipe submit` gets a folder of its own under the study's run
folder, so jobs still queued from an earlier submission keep reading the
queue they were given:

    <output.dir>/<study>/batch/points/            one study file per point + points.txt
    <output.dir>/<study>/batch/submit-001/queue.txt      point files of this submission
    <output.dir>/<study>/batch/submit-001/run-point.sh   the job wrapper
    <output.dir>/<study>/batch/submit-001/sweep.sub      (HTCondor) or sweep.sbatch (Slurm)
    <output.dir>/<study>/batch/submit-001/logs/          the jobs' output and error
    <output.dir>/<study>/batch/submit-001/submission.json backend, job id, points, time
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tw_pipeline.errors import BadInputError, Problem

__all__ = ["Submission", "SubmitFailed", "run_submit_command"]

log = logging.getLogger(__name__)


class SubmitFailed(BadInputError):
    """Raised when the batch system's submit command is missing or refuses the jobs."""

    kind = "submission failed"

    @classmethod
    def from_output(cls, command: str, output: str) -> SubmitFailed:
        """The error for a submit command whose answer could not be understood."""
        problem = Problem(
            source=command,
            message=f"unexpected answer: {output.strip()[:300]!r}",
            hint="check the batch system with its own tools; the files are written",
        )
        return cls(problem)


@dataclass(frozen=True)
class Submission:
    """The files of one submission.

    Attributes:
        study: the study's name.
        folder: the submission's folder.
        points: names of the points submitted, in queue order.
        point_files: their expanded study files (absolute).
    """

    study: str
    folder: Path
    points: list[str]
    point_files: list[Path]

    @property
    def queue(self) -> Path:
        """The point files of this submission, one a line."""
        return self.folder / "queue.txt"

    @property
    def wrapper(self) -> Path:
        """The script each job runs."""
        return self.folder / "run-point.sh"

    @property
    def logs(self) -> Path:
        """The jobs' output, error and log files."""
        return self.folder / "logs"

    @property
    def record(self) -> Path:
        """What was submitted, when, and the batch system's job id."""
        return self.folder / "submission.json"


def run_submit_command(command: list[str], folder: Path, *, hint: str) -> str:
    """Run a batch system's submit command in ``folder`` and return its output.

    Raises:
        SubmitFailed: if the command is not installed or exits non-zero.
    """
    if shutil.which(command[0]) is None:
        problem = Problem(
            source=command[0],
            message="command not found; this machine cannot submit to this batch system",
            hint=hint,
        )
        raise SubmitFailed(problem)
    log.info("running %s in %s", " ".join(command), folder)
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        problem = Problem(
            source=" ".join(command),
            message=f"exited with code {done.returncode}: "
            f"{(done.stderr or done.stdout).strip()[:500]}",
            hint=f"the files are in {folder}; fix the batch settings and submit again",
        )
        raise SubmitFailed(problem)
    return done.stdout
