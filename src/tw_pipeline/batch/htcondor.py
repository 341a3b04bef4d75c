"""HTCondor: a submit description that queues one job per point file.

The jobs read and write the study's run folder directly, so it must be on
a file system the worker nodes see (AFS or EOS on lxplus). Only the wrapper
script travels with the job.
"""

from __future__ import annotations

import re

from tw_pipeline.batch.submission import Submission, SubmitFailed, run_submit_command
from tw_pipeline.study.models import Batch

__all__ = ["SUBMIT_FILE", "submit", "submit_description"]

SUBMIT_FILE = "sweep.sub"

_SUBMITTED = re.compile(r"submitted to cluster (\d+)")


def submit_description(submission: Submission, batch: Batch) -> str:
    """The submit description of ``submission``, as text."""
    folder = submission.folder
    lines = [
        "# HTCondor submit description written by `twpipe submit`:",
        f"# one job per line of {submission.queue.name}, each running one sweep point.",
        f"# Submit with: cd {folder} && condor_submit {SUBMIT_FILE}",
        "universe              = vanilla",
        f"executable            = {submission.wrapper}",
        "arguments             = $(point)",
        f"initialdir            = {folder}",
        "output                = logs/$(ClusterId).$(ProcId).out",
        "error                 = logs/$(ClusterId).$(ProcId).err",
        "log                   = logs/jobs.log",
        f"batch_name            = twpipe-{submission.study}",
        f"request_cpus          = {batch.cpus}",
        f"request_memory        = {batch.memory_mb}MB",
    ]
    if batch.disk_mb is not None:
        # request_disk is in KiB when given without a unit.
        lines.append(f"request_disk          = {batch.disk_mb}MB")
    if batch.job_flavour is not None:
        lines.append(f'+JobFlavour           = "{batch.job_flavour}"')
    if batch.time_seconds is not None:
        lines.append(f"+MaxRuntime           = {batch.time_seconds}")
    if batch.max_running is not None:
        lines.append(f"max_materialize       = {batch.max_running}")
    lines += [
        "should_transfer_files = YES",
        "when_to_transfer_output = ON_EXIT",
        "getenv                = False",
    ]
    lines.extend(batch.htcondor_commands)
    lines.append(f"queue point from {submission.queue.name}")
    return "\n".join(lines) + "\n"


def submit(submission: Submission) -> str:
    """Hand the submit description to ``condor_submit``; return the cluster id."""
    output = run_submit_command(
        ["condor_submit", SUBMIT_FILE], submission.folder, hint="log in to a "
        "submit node such as lxplus, or use --dry-run to write the files only",
    )
    match = _SUBMITTED.search(output)
    if not match:
        raise SubmitFailed.from_output("condor_submit", output)
    return match.group(1)

