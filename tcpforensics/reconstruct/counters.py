"""Counter deltas: what each kernel counter did between the first and the last reading."""

from __future__ import annotations

import pandas as pd

#: Columns of :func:`deltas`.
DELTA_COLUMNS: list[str] = ["input", "group", "counter", "readings", "value_first", "value_last",
                            "delta", "ts_first", "ts_last", "line_last"]


def deltas(counters: pd.DataFrame) -> pd.DataFrame:
    """Per (input, group, counter): first and last reading, their values and the increase.

    With one reading ``delta`` is NA and ``value_last`` is the value since boot (or, for plain
    ``nstat``, since its previous run). A decrease (counter reset, reboot) gives NA.
    """
    if counters is None or counters.empty:
        return pd.DataFrame(columns=DELTA_COLUMNS)
    c = counters.sort_values(["input", "group", "counter", "snapshot"], kind="stable")
    g = c.groupby(["input", "group", "counter"], observed=True, sort=False)
    out = g.agg(
        readings=("snapshot", "nunique"),
        value_first=("value", "first"),
        value_last=("value", "last"),
        ts_first=("ts", "first"),
        ts_last=("ts", "last"),
        line_last=("line", "last"),
    ).reset_index()
    d = out["value_last"] - out["value_first"]
    out["delta"] = d.where((out["readings"] > 1) & (d >= 0))
    return out
