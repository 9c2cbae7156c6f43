"""What a format works on and returns: the lines of a text input (``Lines``), what a text
format's ``parse`` gives (``Parsed``) and what ingesting any input gives (``Ingested``).

What a format module declares and defines is in ``registry.py``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from tcpforensics import schema


@dataclass
class Lines:
    """Decoded text of one input: one row per physical line (1-based ``line`` index).

    ``text`` holds the line without its end-of-line; ``snapshot`` and ``ts`` say which
    snapshot the line belongs to (see ``snapshots.py``); ``is_marker`` flags lines that were
    consumed as snapshot separators (timestamp lines) so format parsers can ignore them.
    """

    input: str
    encoding: str
    frame: pd.DataFrame  # index: line (int, 1-based); columns: text, snapshot, ts, is_marker

    @property
    def text(self) -> pd.Series:
        """The text of every line that is not a snapshot marker, indexed by line number."""
        f = self.frame
        marker = f["is_marker"].to_numpy(dtype=bool)
        return f["text"][~marker] if marker.any() else f["text"]


@dataclass
class Parsed:
    """What a text format parser returns: rows (with a ``line`` column) and skipped lines.

    ``rows`` carries whichever event columns the format fills (``line`` required); the caller
    adds ``input``, ``kind``, ``snapshot`` and ``ts`` from the line numbers and conforms the
    table to the schema. ``skipped`` has columns ``line, reason, text``. ``structural`` counts
    lines recognised as non-data (titles, headers, notices, blank, elision) by kind.
    """

    rows: pd.DataFrame
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["line", "reason", "text"]))
    structural: Counter = field(default_factory=Counter)
    meta: dict = field(default_factory=dict)


@dataclass
class Ingested:
    """One input turned into the common tables, with an exact account of its records."""

    input: str
    format: str
    events: pd.DataFrame
    skipped: pd.DataFrame = field(default_factory=schema.empty_skipped)
    counters: pd.DataFrame | None = None
    accounting: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)


def skipped_frame(lines: list[int], reasons: list[str], texts: list[str]) -> pd.DataFrame:
    """Build a ``skipped`` table from parallel lists (texts truncated to 200 characters)."""
    return pd.DataFrame(
        {"line": lines, "reason": reasons, "text": [t[:200] for t in texts]}
    )


def skipped_of_input(input_name: str, skipped: pd.DataFrame) -> pd.DataFrame:
    """A parser's ``skipped`` rows (line, reason, text) as the input's skipped-record table
    (``schema.SKIP_COLUMNS``)."""
    if not len(skipped):
        return schema.empty_skipped()
    return pd.DataFrame({
        "input": schema.single_category(input_name, len(skipped)),
        "line": pd.array(skipped["line"].to_numpy(), dtype="Int64"),
        "reason": pd.Categorical(skipped["reason"].to_numpy(dtype=object)),
        "text": skipped["text"].astype("string").array,
    })
