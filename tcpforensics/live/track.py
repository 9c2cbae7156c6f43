"""Which findings started, ended or changed severity between two intervals.

A finding is the same finding from one interval to the next when its category and subject are
the same (the key ``findings.dedup`` uses, less ``details.target``, which socket findings do
not set). ``Tracker.update`` compares the findings of this interval with the last ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from tcpforensics.schema import SEVERITIES

#: Columns of the change rows ``Tracker.update`` returns.
CHANGE_COLUMNS: list[str] = ["event", "category", "subject", "severity", "was", "count", "explanation"]


def rank(severity: str | None) -> int:
    """Position of a severity in ``schema.SEVERITIES`` (-1 for none, or ``never``)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


@dataclass
class Tracker:
    """The findings of the last interval, by (category, subject)."""

    current: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["category", "subject", "severity", "count", "explanation"]))

    def update(self, findings: pd.DataFrame) -> pd.DataFrame:
        """Change rows: ``start`` (new key), ``change`` (severity differs), ``end`` (key gone)."""
        now = _keyed(findings)
        before = _keyed(self.current)
        both = now.join(before[["severity"]].rename(columns={"severity": "was"}), how="outer")
        started = both[both["was"].isna() & both["severity"].notna()].assign(event="start")
        changed = both[both["was"].notna() & both["severity"].notna() & (both["was"] != both["severity"])].assign(event="change")
        ended = before.loc[both.index[both["severity"].isna()]].assign(event="end", was=lambda f: f["severity"])
        self.current = findings
        rows = pd.concat([ended, changed, started]).reset_index()
        return rows.reindex(columns=CHANGE_COLUMNS)

    def at_least(self, changes: pd.DataFrame, severity: str) -> bool:
        """A finding started, or rose, to ``severity`` or above in these changes."""
        up = changes[changes["event"].isin(["start", "change"])]
        return bool(up["severity"].map(rank).ge(rank(severity)).any()) if rank(severity) >= 0 else False


def _keyed(findings: pd.DataFrame) -> pd.DataFrame:
    cols = ["category", "subject", "severity", "count", "explanation"]
    f = findings.reindex(columns=cols).astype({"category": object, "subject": object, "severity": object})
    return f.drop_duplicates(["category", "subject"]).set_index(["category", "subject"])
