"""Logging set-up for the command line (the library never configures logging)."""

from __future__ import annotations

import logging
import sys

__all__ = ["configure_logging"]


class _Formatter(logging.Formatter):
    """Time-stamped lines; the level is shown only when it is not INFO."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = self.formatTime(record, "%H:%M:%S")
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        if record.levelno == logging.INFO:
            return f"{stamp} {message}"
        return f"{stamp} {record.levelname.lower()}: {message}"


def configure_logging(*, quiet: bool = False, verbose: bool = False) -> None:
    """Send twpipe's messages to stderr at the level the user asked for."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())

    package = logging.getLogger("tw_pipeline")
    package.handlers[:] = [handler]
    package.setLevel(level)
    package.propagate = False

    # Libraries below us are chatty at INFO; their warnings still come through.
    for name in ("tensorflow", "absl", "h5py", "matplotlib", "numexpr"):
        logging.getLogger(name).setLevel(logging.WARNING)
