"""A progress bar for `twpipe apply`, shown only to a person at a terminal.

In batch jobs and log files a bar is noise; there, one log line per file
says what was done.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(
    total: int, description: str, *, enabled: bool | None = None
) -> Iterator[Callable[[int], None]]:
    """Yield a function that advances a bar by a number of events.

    Args:
        total: the number of events to do.
        description: the text before the bar.
        enabled: force the bar on or off; by default it is shown when
            stderr is a terminal.
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield lambda _rows: None
        return

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda rows: progress.advance(task, rows)
