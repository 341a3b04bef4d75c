"""Slurm: an array job whose task i runs line i+1 of the submission's queue.

Every path in the script is absolute and the working directory is set, so
the jobs behave the same wherever `sbatch` was called from.
"""

from __future__ import annotations

import shlex

from tw_pipeline.batch.submission import Submission, SubmitFailed, run_submit_command
from tw_pipeline.study.models import Batch

__all__ = ["SCRIPT_FILE", "array_script", "submit"]

SCRIPT_FILE = "sweep.sbatch"


def array_script(submission: Submission, batch: Batch) -> str:
    """The sbatch script of ``submission``, as text."""
    folder = submission.folder
    tasks = f"0-{len(submission.points) - 1}"
    if batch.max_running is not None:
        tasks += f"%{batch.max_running}"
    options = [
        f"--job-name=twpipe-{submission.study}",
        f"--array={tasks}",
        "--ntasks=1",
        f"--cpus-per-task={batch.cpus}",
        f"--mem={batch.memory_mb}M",
        f"--chdir={folder}",
        f"--output={folder}/logs/%A_%a.out",
        f"--error={folder}/logs/%A_%a.err",
    ]
    if batch.time_seconds is not None:
        options.append(f"--time={_clock(batch.time_seconds)}")
    if batch.partition is not None:
        options.append(f"--partition={batch.partition}")
    if batch.disk_mb is not None:
        options.append(f"--tmp={batch.disk_mb}M")
    options.extend(batch.slurm_options)

    queue = shlex.quote(str(submission.queue))
    lines = [
        "#!/bin/bash",
        *(f"#SBATCH {option}" for option in options),
        "# Slurm array job written by `twpipe submit`: task i runs the point file",
        f"# on line i+1 of {submission.queue.name}. Submit with: sbatch {SCRIPT_FILE}",
        "set -euo pipefail",
        f'point=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" {queue})',
        'if [ -z "$point" ]; then',
        f'  echo "no point on line $((SLURM_ARRAY_TASK_ID + 1)) of {submission.queue}" >&2',
        "  exit 2",
        "fi",
        f'exec {shlex.quote(str(submission.wrapper))} "$point"',
    ]
    return "\n".join(lines) + "\n"


def submit(submission: Submission) -> str:
    """Hand the script to ``sbatch``; return the array's job id."""
    output = run_submit_command(
        ["sbatch", "--parsable", SCRIPT_FILE], submission.folder,
        hint="log in to the cluster's login node, or use --dry-run to write the "
        "files only",
    )
    job = output.strip().split(";")[0]
    if not job.isdigit():
        raise SubmitFailed.from_output("sbatch", output)
    return job


def _clock(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{days}-{clock}" if days else clock
