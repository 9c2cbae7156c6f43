"""Reports built by hand for renderer tests (no detector needed), with hostile cell values."""

from __future__ import annotations

import pandas as pd

from tcpforensics import schema
from tcpforensics.ingest.base import Ingested
from tcpforensics.report.model import Report, build_report

EVIL_PROCESS = "evil\x1b[31mRED\x1b]0;pwned\x07|`<b>x</b>`\u202e"


def findings_frame(rows: list[dict]) -> pd.DataFrame:
    """A findings table with schema dtypes from a few dict rows."""
    df = pd.DataFrame(rows, columns=list(schema.FINDING_COLUMNS))
    return df.astype({k: v for k, v in schema.FINDING_COLUMNS.items() if k not in ("details", "evidence")})


def make_report(findings: pd.DataFrame | None = None, tables: dict | None = None, skipped_lines: int = 0) -> Report:
    """A Report over one small socket input, with the given findings and tables."""
    events = schema.conform(pd.DataFrame({
        "input": "dump.txt", "kind": "socket", "proto": "tcp", "family": "ipv4",
        "src_addr": ["127.0.0.1"] * 4, "src_port": [8080, 8080, 8080, 9090],
        "dst_addr": ["0.0.0.0", "127.66.1.17", "127.66.2.34", "127.0.0.1"],
        "dst_port": [0, 1822, 1823, 5000],
        "state": ["LISTEN", "SYN_RECEIVED", "SYN_RECEIVED", "CLOSE_WAIT"],
        "process": ["webapp", None, None, EVIL_PROCESS], "snapshot": 0, "line": [2, 3, 4, 5],
    }), "socket")
    skipped = pd.DataFrame({
        "input": "dump.txt", "line": range(100, 100 + skipped_lines),
        "reason": "unparseable row", "text": "garbage",
    }).astype(schema.SKIP_COLUMNS) if skipped_lines else schema.empty_skipped()
    ing = Ingested(
        input="dump.txt", format="ss", events=events, skipped=skipped,
        accounting={"records_read": 6 + skipped_lines, "unit": "line", "events": 4,
                    "structural": {"header": 1, "blank": 1},
                    "skipped": {"unparseable row": skipped_lines} if skipped_lines else {},
                    "unaccounted": 0, "snapshots": 1, "encoding": "utf-8"},
    )
    if findings is None:
        findings = schema.empty_findings()
    return build_report([ing], findings, tables if tables is not None else {})


def syn_flood_finding(severity: str = "high", subject: str = "127.0.0.1:8080") -> dict:
    return {
        "severity": severity, "category": "syn_flood", "subject": subject, "count": 129,
        "details": {"sources": 8, "ratio": float("nan")},
        "evidence": [f"dump.txt:{n}" for n in range(3, 10)],
        "explanation": "Many half-open connections in SYN_RECEIVED. The handshake is never completed.",
        "next_step": "Check TcpExtSyncookiesSent and the sources. Consider rate limits.",
        "first_seen": pd.NaT, "last_seen": pd.NaT,
    }
