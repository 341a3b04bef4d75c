"""What a run records about how it was made: versions, inputs, times, host."""

from __future__ import annotations

import platform
import socket
import sys
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

from tw_pipeline import __version__

__all__ = ["now", "provenance_record"]

# Packages whose version can change a result.
_PACKAGES = (
    "tensorflow",
    "keras",
    "numpy",
    "scikit-learn",
    "pandas",
    "tables",
    "h5py",
    "uproot",
    "pydantic",
)


def now() -> str:
    """The current time in ISO 8601, UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def provenance_record(
    *, config_hash: str, data_fingerprint: str, study_file: str, started: str
) -> dict[str, Any]:
    """Collect the provenance of a point run (without its end time)."""
    versions = {"twpipe": __version__, "python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "config_hash": config_hash,
        "data_fingerprint": data_fingerprint,
        "study_file": study_file,
        "command": sys.argv,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "versions": versions,
        "started": started,
        "finished": None,
    }
