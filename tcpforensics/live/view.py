"""How a live session is shown: a rich dashboard redrawn each interval (``Dashboard``), or one
JSON line per finding start, change or end and per interval summary (``JsonLines``).

Both are sinks with one method, ``show(summary, changes, active)``; text from the host
(process names) goes through ``rich.markup.escape`` before it reaches the terminal.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Protocol

import pandas as pd
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text


class Summary(Protocol):
    """What a sink shows of one interval (``summary.Summary``, ``capture.CaptureSummary``)."""

    seq: int
    ts: object

    def headline(self, active: int) -> str: ...
    def tables(self) -> list[tuple[str, pd.DataFrame]]: ...
    def to_dict(self) -> dict: ...


#: Finding changes kept on the dashboard.
RECENT = 8
_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


class Sink(Protocol):
    def show(self, summary: Summary, changes: pd.DataFrame, active: pd.DataFrame) -> None: ...
    def close(self) -> None: ...


class JsonLines:
    """``--format json``: a line per finding start/change/end, then the interval summary."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def show(self, summary: Summary, changes: pd.DataFrame, active: pd.DataFrame) -> None:
        ts = str(pd.Timestamp(summary.ts))
        for row in changes.itertuples(index=False):
            self.write(json.dumps({"event": row.event, "seq": summary.seq, "ts": ts, "category": row.category,
                                   "subject": row.subject, "severity": row.severity, "was": _plain(row.was),
                                   "count": _plain(row.count), "explanation": _plain(row.explanation)}) + "\n")
        self.write(json.dumps(summary.to_dict() | {"active": len(active)}) + "\n")

    def close(self) -> None:
        pass


def _plain(value: object) -> object:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return int(value) if hasattr(value, "__int__") and not isinstance(value, str | float) else value


class Dashboard:
    """The terminal view: redrawn in place on a terminal, printed once per interval otherwise."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.recent: deque[str] = deque(maxlen=RECENT)
        self.live = Live(console=self.console, auto_refresh=False) if self.console.is_terminal else None
        if self.live is not None:
            self.live.start()

    def show(self, summary: Summary, changes: pd.DataFrame, active: pd.DataFrame) -> None:
        for row in changes.itertuples(index=False):
            self.recent.append(_change_line(summary, row))
        if self.live is not None:
            self.live.update(self.render(summary, active), refresh=True)
            return
        for row in changes.itertuples(index=False):
            self.console.print(_change_line(summary, row), highlight=False)
        self.console.print(summary.headline(len(active)), highlight=False)

    def render(self, summary: Summary, active: pd.DataFrame) -> Group:
        """The whole dashboard of one interval."""
        parts: list = [Text.from_markup(summary.headline(len(active)))]
        parts += [_table(title, frame) for title, frame in summary.tables()]
        if len(active):
            parts.append(_table("active findings", active.reindex(columns=["severity", "category", "subject", "count"])))
        if self.recent:
            parts.append(Text.from_markup("\n".join(self.recent)))
        return Group(*parts)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def _change_line(summary: Summary, row: object) -> str:
    sev = str(row.severity)
    mark = {"start": "+", "end": "-", "change": "~"}[row.event]
    count = "" if pd.isna(row.count) else f" ({int(row.count)})"
    return (f"{mark} #{summary.seq} [{_STYLE.get(sev, '')}]{sev}[/] {row.category} "
            f"{escape(str(row.subject))}{count} {row.event}{'s' if row.event != 'change' else 'd from ' + str(row.was)}")


def _table(title: str, frame: pd.DataFrame) -> Table:
    t = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for c in frame.columns:
        t.add_column(str(c), justify="right" if pd.api.types.is_numeric_dtype(frame[c]) else "left")
    for row in frame.astype(object).itertuples(index=False):
        t.add_row(*(escape("" if pd.isna(v) else str(v)) for v in row))
    return t
