"""Finding rows for capture detectors: evidence references, JSON-safe details, explicit dedup."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import zip_longest

import numpy as np
import pandas as pd

from tcpforensics import schema

#: Evidence lists and detail lists are capped at this many entries (the count says how many).
EVIDENCE_CAP = 20
LIST_CAP = 25


def frames(input_name: str, frame_numbers: Iterable, cap: int = EVIDENCE_CAP) -> list[str]:
    """Packet references "input#frame", in capture order, at most ``cap``."""
    nums = sorted({int(x) for x in frame_numbers if pd.notna(x)})[:cap]
    return [f"{input_name}#{n}" for n in nums]


def refs(rows: pd.DataFrame, input_name: str, frame_col: str = "first_frame") -> list[str]:
    """Evidence of some conversations, the first EVIDENCE_CAP in capture order: their flow
    uids (when known), then "input#frame" of their first packets."""
    first = rows.nsmallest(EVIDENCE_CAP, frame_col)
    uids = [str(u) for u in first["uid"].dropna()] if "uid" in first.columns else []
    return uids + frames(input_name, first[frame_col])


def capped(values: Iterable, cap: int = LIST_CAP) -> list:
    """A sorted, de-duplicated, JSON-friendly list of at most ``cap`` values."""
    vals = {_plain(v) for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))}
    try:
        out = sorted(vals)
    except TypeError:
        out = sorted(vals, key=str)
    return out[:cap]


def _plain(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    return v


def plain(obj: object) -> object:
    """Recursively turn numpy/pandas scalars into Python ones (for JSON reports)."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, (pd.Timestamp, np.datetime64)):
        return None if pd.isna(obj) else pd.Timestamp(obj).isoformat()
    if isinstance(obj, float) and np.isnan(obj):
        return None
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, np.floating):
        return round(float(obj), 6)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float):
        return round(obj, 6)
    return obj


def finding(
    severity: str,
    category: str,
    subject: str,
    target: str,
    count: int,
    details: dict,
    evidence: list[str],
    explanation: str,
    next_step: str,
    first_seen: object,
    last_seen: object,
) -> dict:
    """One finding row; ``target`` (with category and subject) is its dedup key."""
    return {
        "severity": severity,
        "category": category,
        "subject": subject,
        "count": int(count),
        "details": plain({"target": target, **details}),
        "evidence": list(evidence),
        "explanation": explanation,
        "next_step": next_step,
        "first_seen": first_seen,
        "last_seen": last_seen,
    }


def merge_evidence(lists: Iterable[list[str]]) -> list[str]:
    """Evidence of merged findings: taken in turn from each (so every input shows), without
    repeats; flow uids then packet references, each capped at EVIDENCE_CAP."""
    seen: dict[str, None] = {}
    for group in zip_longest(*lists):
        for e in group:
            if e is not None:
                seen.setdefault(e, None)
    uids = [e for e in seen if "#" not in e][:EVIDENCE_CAP]
    packets = [e for e in seen if "#" in e][:EVIDENCE_CAP]
    return uids + packets


def to_frame(rows: list[dict]) -> pd.DataFrame:
    """Findings table with schema dtypes (empty table when no rows)."""
    if not rows:
        return schema.empty_findings()
    df = pd.DataFrame(rows, columns=list(schema.FINDING_COLUMNS))
    for col, dtype in schema.FINDING_COLUMNS.items():
        if dtype == "object":
            continue
        df[col] = df[col].astype(dtype)
    return df


def dedup(findings: pd.DataFrame) -> pd.DataFrame:
    """Merge findings with the same key (category, subject, details.target), nothing else.

    No time-based suppression: a later scan of another target by the same scanner keeps its
    own key and its own row. Merged rows keep the worst severity, the summed count, evidence
    from each (capped) and the widest time window; details come from the largest row, with
    ``merged_findings`` saying how many rows were merged.
    """
    if findings.empty:
        return findings
    f = findings.reset_index(drop=True)
    key = f["category"].astype(str) + "\x1f" + f["subject"].astype(str) + "\x1f" + f["details"].map(
        lambda d: str(d.get("target", "")) if isinstance(d, dict) else ""
    )
    if not key.duplicated().any():
        return f
    f = f.assign(_key=key.to_numpy(), _order=np.arange(len(f)))
    f = f.sort_values(["_key", "count"], ascending=[True, False], kind="stable")
    g = f.groupby("_key", sort=False)
    out = g.agg(
        severity=("severity", "max"),
        category=("category", "first"),
        subject=("subject", "first"),
        count=("count", "sum"),
        details=("details", "first"),
        evidence=("evidence", merge_evidence),
        explanation=("explanation", "first"),
        next_step=("next_step", "first"),
        first_seen=("first_seen", "min"),
        last_seen=("last_seen", "max"),
        _order=("_order", "min"),
        _merged=("count", "size"),
    )
    out = out.sort_values("_order").reset_index(drop=True)
    # details are those of the largest row; say how many rows (captures) were merged
    out["details"] = [{**d, "merged_findings": int(n)} if n > 1 else d
                      for d, n in zip(out["details"], out["_merged"], strict=True)]
    out = out.drop(columns=["_order", "_merged"])
    return to_frame(out.to_dict("records"))
