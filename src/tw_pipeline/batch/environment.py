"""Record the environment `twpipe submit` runs in, and a job wrapper that restores it.

A batch job starts on another machine with a bare login environment. The
wrapper therefore names the Python interpreter of the submitting
environment by its absolute path (a virtual environment or conda
environment on a shared file system), or the Apptainer/Singularity image the
submission ran in, and repeats the settings a run depends on.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["JobEnvironment", "current_environment", "wrapper_script"]

# Thread settings read by BLAS, OpenMP and TensorFlow when a process starts.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "TF_NUM_INTRAOP_THREADS")


@dataclass(frozen=True)
class JobEnvironment:
    """Where twpipe ran at submit time.

    Attributes:
        python: absolute path of the Python interpreter.
        prefix: the virtual environment's folder, or None outside one.
        container: the container image twpipe ran in, or None.
        container_command: ``apptainer`` or ``singularity``.
        variables: environment variables to set in the job (PYTHONPATH with
            absolute entries, container bind paths).
    """

    python: str
    prefix: str | None = None
    container: str | None = None
    container_command: str = "apptainer"
    variables: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for the user: what the jobs will run in."""
        where = f"container {self.container}" if self.container else (
            f"environment {self.prefix}" if self.prefix else f"Python {self.python}"
        )
        return f"jobs run twpipe with {self.python} in the {where}"


def current_environment() -> JobEnvironment:
    """Describe the environment of this process."""
    variables = {}
    pythonpath = os.environ.get("PYTHONPATH")
    if pythonpath:
        # Relative entries would resolve against the job's folder instead.
        entries = [str(Path(entry).resolve()) for entry in pythonpath.split(os.pathsep) if entry]
        variables["PYTHONPATH"] = os.pathsep.join(entries)

    container = None
    command = "apptainer"
    for name, runtime in (("APPTAINER_CONTAINER", "apptainer"),
                          ("SINGULARITY_CONTAINER", "singularity")):
        if os.environ.get(name):
            container, command = os.environ[name], runtime
            break
    if container:
        for name in ("APPTAINER_BIND", "SINGULARITY_BIND"):
            if os.environ.get(name):
                variables[name] = os.environ[name]

    prefix = sys.prefix if sys.prefix != sys.base_prefix else None
    return JobEnvironment(
        python=str(Path(sys.executable).absolute()),
        prefix=prefix,
        container=container,
        container_command=command,
        variables=variables,
    )


def wrapper_script(environment: JobEnvironment, cpus: int) -> str:
    """The shell script every job runs: ``run-point.sh POINT_FILE``.

    Args:
        environment: the submitting environment to run in.
        cpus: CPU cores the job requested; the thread pools are sized to them.
    """
    command = [environment.python, "-m", "tw_pipeline", "run"]
    if environment.container:
        command = [environment.container_command, "exec", environment.container, *command]

    lines = [
        "#!/bin/bash",
        "# Runs one sweep point in the environment `twpipe submit` was run from:",
        f"#   {environment.describe()}",
        "# Usage: run-point.sh POINT_FILE",
        "set -euo pipefail",
        'if [ "$#" -ne 1 ]; then echo "usage: $0 POINT_FILE" >&2; exit 2; fi',
    ]
    for name, value in sorted(environment.variables.items()):
        lines.append(f"export {name}={shlex.quote(value)}")
    for name in _THREAD_VARIABLES:
        lines.append(f"export {name}={cpus}")
    lines += [
        "export TF_NUM_INTEROP_THREADS=1",
        "export TF_CPP_MIN_LOG_LEVEL=2",
        'echo "twpipe job on $(hostname) at $(date -u +%FT%TZ): $1" >&2',
        f'exec {shlex.join(command)} "$1"',
    ]
    return "\n".join(lines) + "\n"
