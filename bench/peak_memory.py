"""Peak resident memory of a stretch of code, read from the Linux kernel."""

from __future__ import annotations

from pathlib import Path

__all__ = ["reset_peak", "rss_status"]


def reset_peak() -> None:
    """Reset the kernel's peak-RSS mark, so VmHWM counts from now on."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def rss_status(field: str) -> int:
    """A memory field of /proc/self/status (VmRSS, VmHWM), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    message = f"{field} not in /proc/self/status; this benchmark needs Linux"
    raise RuntimeError(message)
