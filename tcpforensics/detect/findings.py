"""The one finding shape of every detector, its evidence references, and the one dedup rule.

A finding row has the columns of ``schema.FINDING_COLUMNS`` plus two that the dedup reads and
drops: ``input`` (where it was seen) and ``measure``, what ``count`` measures:

- ``total``: things that happened (probes, connections, packets); counts of the same finding
  in several inputs add up (two captures of one scan hold different probes);
- ``peak``: a level at one moment (sockets in a state in the worst snapshot, a counter
  increase); the largest is kept (two snapshots of one host show the same sockets again).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import zip_longest

import numpy as np
import pandas as pd

from tcpforensics import schema
from tcpforensics.reconstruct.rules import Rule, first_match

#: Evidence lists and detail lists are capped at this many entries (the count says how many).
EVIDENCE_CAP = 20
LIST_CAP = 25


def grade(rules: Sequence[Rule], **facts: object) -> str:
    """The label of the first rule of ``rules`` that holds for one finding's ``facts`` (the
    columns the rules read, one value each): a severity from its rule table."""
    return str(first_match(pd.DataFrame({k: [v] for k, v in facts.items()}), rules)[0])


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


def text_rows(table: pd.DataFrame, at: np.ndarray, columns: Iterable[str]) -> pd.DataFrame:
    """The ``columns`` of rows ``at`` (positions) of a table, its categorical (text) columns
    as Python strings: the rows a finding reads, whatever the table holds its text as."""
    def taken(c: str) -> pd.Series:
        col = table[c].take(at)
        if not isinstance(col.dtype, pd.CategoricalDtype):
            return col
        # the rows' texts alone (astype(object) would turn every category into a string first)
        codes = col.cat.codes.to_numpy()
        texts = col.cat.categories.array.take(codes, allow_fill=True)
        return pd.Series(np.asarray(texts, dtype=object), index=col.index, dtype=object)
    return pd.DataFrame({c: taken(c) for c in columns})


def capped(values: Iterable, cap: int = LIST_CAP) -> list:
    """A sorted, de-duplicated, JSON-friendly list of at most ``cap`` values."""
    vals = {_python_scalar(v) for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))}
    try:
        out = sorted(vals)
    except TypeError:
        out = sorted(vals, key=str)
    return out[:cap]


def _python_scalar(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    return v


def finding_values(obj: object) -> object:
    """A finding's details as Python values, recursively: numpy/pandas scalars as Python ones,
    NA and NaN as None, timestamps as ISO 8601, floats rounded to 6 digits (the report's
    ``json_value`` then only has Python values to write)."""
    if isinstance(obj, dict):
        return {str(k): finding_values(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finding_values(v) for v in obj]
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
    input_name: str = "",
    measure: str = "total",
) -> dict:
    """One finding row; ``target`` (with category and subject) is its dedup key."""
    return {
        "input": input_name,
        "measure": measure,
        "severity": severity,
        "category": category,
        "subject": subject,
        "count": int(count),
        "details": finding_values({"target": target, **details}),
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


def to_frame(rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """Finding rows (dicts or a frame) as a findings table with schema dtypes, ``input`` and
    ``measure`` kept for :func:`dedup` (empty table when no rows)."""
    if len(rows) == 0:
        return schema.empty_findings().assign(input=pd.Series(dtype=object), measure=pd.Series(dtype=object))
    df = pd.DataFrame(rows) if isinstance(rows, list) else rows.reset_index(drop=True)
    df = df.reindex(columns=list(schema.FINDING_COLUMNS) + ["input", "measure"])
    measure = df["measure"].astype(object)
    df["measure"] = measure.where(measure.notna(), "total")
    df["count"] = pd.to_numeric(df["count"], errors="coerce").round()
    for col, dtype in schema.FINDING_COLUMNS.items():
        if dtype != "object":
            df[col] = df[col].astype(dtype)
    return df


def dedup(findings: pd.DataFrame) -> pd.DataFrame:
    """Merge findings with the same key (category, subject, details.target), nothing else.

    No time-based suppression: a later scan of another target by the same scanner keeps its
    own key and its own row. Merged rows keep the worst severity; the count adds up (measure
    ``total``) or the largest stays (``peak``); evidence is taken in turn from each (capped),
    the time window is the widest; details, explanation and next step come from the most
    severe, then largest row, with ``inputs`` (when several) and ``merged_findings`` added.
    Returns schema.FINDING_COLUMNS only, in the order the keys first appeared.
    """
    f = to_frame(findings)
    if f.empty:
        return f[list(schema.FINDING_COLUMNS)]
    target = f["details"].map(lambda d: str(d.get("target", "")) if isinstance(d, dict) else "")
    f = f.assign(_key=(f["category"].astype(str) + "\x1f" + f["subject"].astype(str) + "\x1f" + target).to_numpy(),
                 _order=np.arange(len(f)))
    f = f.sort_values(["severity", "count"], ascending=False, kind="stable")
    g = f.groupby("_key", sort=False)
    peak = g["measure"].transform(lambda m: (m == "peak").any()).to_numpy(dtype=bool)
    out = g.agg(
        severity=("severity", "max"), category=("category", "first"), subject=("subject", "first"),
        details=("details", "first"), evidence=("evidence", merge_evidence),
        explanation=("explanation", "first"), next_step=("next_step", "first"),
        first_seen=("first_seen", "min"), last_seen=("last_seen", "max"), _order=("_order", "min"),
        _merged=("count", "size"), _inputs=("input", _inputs),
    )
    total = f.assign(count=f["count"].where(~peak, 0)).groupby("_key", sort=False)["count"].sum()
    top = f.assign(count=f["count"].where(peak, 0)).groupby("_key", sort=False)["count"].max()
    out["count"] = (total + top).reindex(out.index)
    out["details"] = [_merged_details(d, n, i) for d, n, i in zip(out["details"], out["_merged"], out["_inputs"], strict=True)]
    out = out.sort_values("_order").reset_index(drop=True)
    return to_frame(out[list(schema.FINDING_COLUMNS)])[list(schema.FINDING_COLUMNS)]


def _inputs(names: pd.Series) -> list[str]:
    return sorted({str(n) for n in names if isinstance(n, str) and n})


def _merged_details(details: object, merged: int, inputs: list[str]) -> object:
    """Details of the kept row, saying which input showed it (``input``, or ``inputs`` when
    several) and how many rows were merged."""
    if not isinstance(details, dict):
        return details
    seen = {"inputs": inputs} if len(inputs) > 1 else {"input": details.get("input", inputs[0])} if inputs else {}
    return {**details, **seen, **({"merged_findings": int(merged)} if merged > 1 else {})}
