"""Atomic file writes: a reader sees the old file or the new one, never half.

Every result twpipe writes goes through here. The content is written to a
temporary file in the destination's folder (so the final rename stays on one
file system), flushed to disk, and renamed over the destination.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "write_bytes", "write_json", "write_text"]


@contextmanager
def atomic_path(destination: Path | str) -> Iterator[Path]:
    """Yield a temporary path; rename it to ``destination`` if the block succeeds.

    Use it for writers that want a file name rather than bytes, such as
    ``model.save`` or ``figure.savefig``. The temporary name keeps the
    destination's suffix, because several writers choose the format by it.
    On an exception the temporary file is removed and the destination is
    left as it was.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=f".tmp{destination.suffix}",
        dir=destination.parent,
    )
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        _fsync_file(temporary)
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes(destination: Path | str, data: bytes) -> None:
    """Write ``data`` to ``destination`` atomically."""
    with atomic_path(destination) as temporary:
        temporary.write_bytes(data)


def write_text(destination: Path | str, text: str) -> None:
    """Write UTF-8 ``text`` to ``destination`` atomically."""
    write_bytes(destination, text.encode("utf-8"))


def write_json(destination: Path | str, payload: Any) -> None:
    """Write ``payload`` as indented JSON to ``destination`` atomically."""
    text = json.dumps(payload, indent=2, sort_keys=False, allow_nan=False)
    write_text(destination, text + "\n")


def _fsync_file(path: Path) -> None:
    # Without the flush to disk, a crash just after the rename could leave an
    # empty file under the final name on some file systems.
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
