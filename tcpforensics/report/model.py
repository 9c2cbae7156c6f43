"""Assemble a Report from ingested inputs, findings and tables (verdict, summary, accounting)."""

from __future__ import annotations

import pandas as pd

from tcpforensics import schema
from tcpforensics.analysis import Report
from tcpforensics.ingest.base import Ingested


def build_report(ingested: list[Ingested], findings: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> Report:
    """Put the pieces of a run into one Report."""
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
    events = [i.events for i in ingested if len(i.events)]
    hist: dict[str, int] = {}
    if events:
        ev = pd.concat([e[["kind", "state"]] for e in events], ignore_index=True)
        sock = ev[ev["kind"] == "socket"]
        hist = {str(k): int(v) for k, v in sock["state"].value_counts().items() if v}
    summary = {
        "verdict": verdict(findings),
        "findings": len(findings),
        "max_severity": None if findings.empty else str(findings["severity"].max()),
        "events": int(sum(len(i.events) for i in ingested)),
        "state_histogram": hist,
    }
    return Report(inputs=inputs, summary=summary, findings=findings, tables=tables,
                  accounting=accounting, skipped=skipped_df)


def verdict(findings: pd.DataFrame) -> str:
    """One line a person reads first: the worst finding, or that nothing is abnormal."""
    if findings.empty:
        return "OK: nothing abnormal found"
    top = findings.iloc[0]
    more = f" (+{len(findings) - 1} more findings)" if len(findings) > 1 else ""
    return f"{str(top['severity']).upper()}: {top['category']} on {top['subject']}{more}"
