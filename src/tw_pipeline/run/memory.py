"""Give memory that a finished step freed back to the operating system.

A run holds its events for its whole length, and each fold and baseline
needs large temporary arrays on top of them. Python frees those arrays when
a step ends, but the C allocator (glibc's malloc on Linux) keeps much of the
freed memory for reuse, scattered between live blocks, so the process's
resident size ratchets up fold by fold. Trimming after each step returns it;
elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

__all__ = ["release_free_memory"]

log = logging.getLogger(__name__)


def release_free_memory() -> None:
    """Hand the allocator's free pages back to the operating system.

    Cheap when there is little to give back. It does not run Python's cycle
    collector, which costs a quarter of a second in a process holding
    TensorFlow: whatever holds large arrays in a cycle must let go of them
    itself (see ``EpochRunner.close``).
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> ctypes._CFuncPtr | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        # Not glibc (macOS, musl): nothing to trim.
        log.debug("malloc_trim is not available; freed memory stays with the allocator")
        return None
