"""Assemble a Report (verdict, summary, accounting) and the views every renderer shares."""

from __future__ import annotations

import re

import pandas as pd

from tcpforensics import schema
from tcpforensics.analysis import Report
from tcpforensics.ingest.base import Ingested

#: Named tables a detector may return, in the order people read them, with their titles.
#: Any other table is rendered after these, titled from its name.
KNOWN_TABLES: dict[str, str] = {
    "listeners": "Per listener",
    "processes": "Per process",
    "remotes": "Per remote host",
    "flows": "Connections",
    "scanners": "Scanning sources",
    "states": "States by protocol (all snapshots)",
}
#: Tables whose content the state histogram already shows to a person (kept in CSV and JSON).
SHOWN_AS_HISTOGRAM = frozenset({"states"})
#: Accounting keys every input has (JSON keeps exactly these; others go under ``extra``).
ACCOUNTING_KEYS: tuple[str, ...] = (
    "input", "format", "encoding", "unit", "records_read", "events", "structural",
    "skipped", "unaccounted", "snapshots",
)
#: How many skipped line numbers a person sees per input and reason before "+N more".
SKIPPED_LINES_SHOWN = 20


def build_report(ingested: list[Ingested], findings: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> Report:
    """Put the pieces of a run into one Report (findings most severe first)."""
    findings = sort_findings(findings)
    inputs = [
        {
            "input": i.input,
            "format": i.format,
            "encoding": i.accounting.get("encoding"),
            "snapshots": i.accounting.get("snapshots"),
            "events": len(i.events),
        }
        for i in ingested
    ]
    accounting = [{"input": i.input, "format": i.format, **i.accounting} for i in ingested]
    skipped = [i.skipped for i in ingested if len(i.skipped)]
    skipped_df = pd.concat(skipped, ignore_index=True) if skipped else schema.empty_skipped()
    hist = state_histogram([i.events for i in ingested])
    sev = findings["severity"].astype(str).value_counts() if len(findings) else pd.Series(dtype="int64")
    summary = {
        "verdict": verdict(findings, sum(hist.values()), len(ingested)),
        "findings": len(findings),
        "max_severity": None if findings.empty else str(findings["severity"].max()),
        "severity_counts": {s: int(sev.get(s, 0)) for s in reversed(schema.SEVERITIES)},
        "inputs": len(ingested),
        "events": int(sum(len(i.events) for i in ingested)),
        "sockets": int(sum(hist.values())),
        "state_histogram": hist,
    }
    return Report(inputs=inputs, summary=summary, findings=findings, tables=tables,
                  accounting=accounting, skipped=skipped_df)


def sort_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings most severe first (stable: detector order within a severity)."""
    if findings.empty:
        return findings
    order = findings["severity"].astype(schema.SEVERITY_DTYPE)
    return findings.assign(severity=order).sort_values("severity", ascending=False, kind="stable").reset_index(drop=True)


def state_histogram(events: list[pd.DataFrame]) -> dict[str, int]:
    """Sockets per canonical state in the last snapshot of each socket input, in STATES order."""
    parts = []
    for ev in events:
        sock = ev.loc[ev["kind"] == "socket", ["snapshot", "state"]]
        if len(sock):
            last = sock["snapshot"].max()
            parts.append(sock["state"] if pd.isna(last) else sock.loc[sock["snapshot"] == last, "state"])
    if not parts:
        return {}
    counts = pd.concat(parts, ignore_index=True).astype(schema.STATE_DTYPE).value_counts()
    return {s: int(counts[s]) for s in schema.STATES if counts.get(s, 0)}


def verdict(findings: pd.DataFrame, sockets: int = 0, inputs: int = 1) -> str:
    """One line a person reads first: the worst finding, or that nothing is abnormal."""
    if findings.empty:
        seen = f" in {sockets} sockets" if sockets else ""
        return f"OK: nothing abnormal found{seen} ({inputs} input{'s' if inputs != 1 else ''})"
    top = findings.iloc[0]
    n = len(findings) - 1
    notes = [f"count {top['count']}"] if pd.notna(top.get("count")) else []
    notes += [f"+{n} more finding{'s' if n != 1 else ''}"] if n else []
    tail = f" ({'; '.join(notes)})" if notes else ""
    return f"{str(top['severity']).upper()}: {top['category']} on {top['subject']}{tail}"


# --- views shared by the table, Markdown and CSV renderers ----------------------------------


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
