"""Views of a Report shared by the renderers: findings, histogram, named tables, accounting."""

from __future__ import annotations

import math
import re

import pandas as pd

from tcpforensics.report.model import Report
from tcpforensics.report.safe import flat

#: Named tables a detector may return, in the order people read them, with their titles.
#: Any other table is rendered after these, titled from its name.
KNOWN_TABLES: dict[str, str] = {
    "listeners": "Per listener",
    "processes": "Per process",
    "remotes": "Per remote host",
    "timelines": "Snapshots",
    "socket_timelines": "Sockets that changed state",
    "counters": "Kernel counters",
    "flows_by_state": "Connections by final state",
    "abnormal_closes": "Abnormal closes",
    "scan_candidates": "Scan candidates",
    "top_talkers": "Top talkers",
    "states": "States by protocol",
    "not_evidence": "Files not taken as evidence",
}
#: Tables whose content the state histogram already shows to a person (kept in CSV and JSON).
SHOWN_AS_HISTOGRAM = frozenset({"states"})
#: How many skipped line numbers a person sees per input and reason before "+N more".
SKIPPED_LINES_SHOWN = 20


def display(value: object) -> object:
    """A cell as a person reads it: lists/dicts flattened, floats to 4 significant digits.

    (CSV and JSON keep full precision; only the terminal and Markdown use this.)
    """
    v = flat(value)
    if isinstance(v, float) and math.isfinite(v) and not v.is_integer():
        return f"{v:.4g}" if abs(v) < 10_000 else f"{v:,.0f}"
    return v


def first_sentence(text: object, limit: int = 90) -> str:
    """The first sentence of ``text``, cut at ``limit`` characters (a short explanation)."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return ""
    s = str(text).strip()
    m = re.search(r"(?<=[.!?])\s", s)
    if m:
        s = s[: m.start()]
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"


def evidence_text(evidence: object, shown: int = 5) -> str:
    """The first ``shown`` evidence references and how many more there are."""
    if not isinstance(evidence, (list, tuple)):
        return "" if evidence is None or pd.isna(evidence) else str(evidence)
    head = ", ".join(map(str, evidence[:shown]))
    return head + (f" (+{len(evidence) - shown} more)" if len(evidence) > shown else "")


def findings_view(report: Report, short: bool = True) -> pd.DataFrame:
    """Findings as a person reads them: severity, category, subject, count, explanation, next step."""
    f = report.findings
    if f.empty:
        return pd.DataFrame(columns=["severity", "category", "subject", "count", "explanation", "next step"])
    text = f["explanation"].map(first_sentence) if short else f["explanation"].fillna("")
    step = f["next_step"].map(first_sentence) if short else f["next_step"].fillna("")
    out = pd.DataFrame({
        "severity": f["severity"].astype(str),
        "category": f["category"],
        "subject": f["subject"],
        "count": f["count"],
        "explanation": text,
        "next step": step,
    })
    hosts = f["details"].map(lambda d: d.get("host") if isinstance(d, dict) else None)
    if hosts.notna().any():  # inputs of collections that name their hosts
        out.insert(2, "host", hosts.map(lambda h: ", ".join(h) if isinstance(h, list) else (h or "")))
    if not short:
        out["evidence"] = f["evidence"].map(evidence_text) if "evidence" in f else ""
    return out


def histogram_view(report: Report) -> pd.DataFrame:
    """The state histogram as rows: state, sockets, share of all sockets."""
    hist = report.summary.get("state_histogram") or {}
    total = sum(hist.values())
    rows = [(s, n, f"{100 * n / total:.1f}%") for s, n in hist.items()]
    return pd.DataFrame(rows, columns=["state", "sockets", "share"])


def table_title(name: str) -> str:
    """A person's title for a named table."""
    return KNOWN_TABLES.get(name, name.replace("_", " ").strip().capitalize())


def named_tables(report: Report, for_people: bool = True) -> list[tuple[str, str, pd.DataFrame]]:
    """(name, title, table) for every non-empty named table, known tables first."""
    names = [n for n in KNOWN_TABLES if n in report.tables]
    names += sorted(n for n in report.tables if n not in KNOWN_TABLES)
    out = []
    for n in names:
        df = report.tables[n]
        if df is None or df.empty or (for_people and n in SHOWN_AS_HISTOGRAM and report.summary.get("state_histogram")):
            continue
        if for_people and "input" in df.columns and len(report.inputs) == 1:
            df = df.drop(columns="input")  # the same value on every row: said once, in accounting
        out.append((n, table_title(n), df))
    return out


def _counts(d: object) -> str:
    if not isinstance(d, dict) or not d:
        return "0"
    return f"{sum(d.values())} (" + ", ".join(f"{k}: {v}" for k, v in d.items()) + ")"


def accounting_view(report: Report) -> pd.DataFrame:
    """Per input: format, records read, events, structural and skipped records by reason."""
    rows = []
    for a in report.accounting:
        rows.append({
            "input": a.get("input"),
            "format": a.get("format"),
            "encoding": a.get("encoding") or "",
            "snapshots": a.get("snapshots"),
            "records read": f"{a.get('records_read', '')} {a.get('unit', 'line')}s".strip(),
            "events": a.get("events"),
            "structural": _counts(a.get("structural")),
            "skipped": _counts(a.get("skipped")),
            "unaccounted": a.get("unaccounted", 0),
        })
    return pd.DataFrame(rows, columns=["input", "format", "encoding", "snapshots", "records read",
                                       "events", "structural", "skipped", "unaccounted"])


def accounting_frame(report: Report) -> pd.DataFrame:
    """Accounting as a flat table (CSV): one row per input and count (kind: structural/skipped)."""
    rows = []
    for a in report.accounting:
        base = {"input": a.get("input"), "format": a.get("format"), "unit": a.get("unit", "line")}
        for key in ("records_read", "events", "unaccounted", "snapshots"):
            if key in a:
                rows.append({**base, "kind": "total", "item": key, "count": a[key]})
        for kind in ("structural", "skipped"):
            for item, n in (a.get(kind) or {}).items():
                rows.append({**base, "kind": kind, "item": item, "count": n})
    return pd.DataFrame(rows, columns=["input", "format", "unit", "kind", "item", "count"])


def skipped_view(report: Report, shown: int = SKIPPED_LINES_SHOWN) -> pd.DataFrame:
    """Per input and reason: how many records were skipped and the first line numbers."""
    sk = report.skipped
    if sk.empty:
        return pd.DataFrame(columns=["input", "reason", "count", "lines"])
    units = {a.get("input"): a.get("unit", "line") for a in report.accounting}
    rows = []
    for (inp, reason), g in sk.groupby(["input", "reason"], observed=True, sort=True):
        nums = g["line"].dropna().astype("int64").sort_values().tolist()
        head = ", ".join(map(str, nums[:shown]))
        more = f" (+{len(nums) - shown} more)" if len(nums) > shown else ""
        rows.append({"input": inp, "reason": reason, "count": len(g),
                     "lines": f"{units.get(inp, 'line')}s {head}{more}"})
    return pd.DataFrame(rows, columns=["input", "reason", "count", "lines"])
