"""A rich progress bar on stderr for long capture reads (off when stderr is not a terminal)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Files smaller than this finish too fast for a bar to be worth drawing.
MIN_BYTES = 64 * 1024 * 1024


def wanted(progress: bool | None, total: int | None) -> bool:
    """Show a bar? ``None`` means: when stderr is a terminal and the input is large."""
    if progress is False:
        return False
    if not sys.stderr.isatty():
        return False
    return progress is True or (total or 0) >= MIN_BYTES


@contextmanager
def bar(label: str, total: int | None, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """Yield an ``update(bytes_done)`` callback, or None when no bar is shown."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as prog:
        task = prog.add_task(label, total=total)
        yield lambda done: prog.update(task, completed=done)
