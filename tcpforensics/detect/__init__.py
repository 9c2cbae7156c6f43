"""Detectors: rule tables that turn events, socket timelines and flows into findings."""

from __future__ import annotations

import pandas as pd

from tcpforensics import schema
from tcpforensics.config import Config
from tcpforensics.ingest.base import Ingested


def run_all(ingested: list[Ingested], config: Config) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Run the detectors that apply to each kind of evidence; return findings and tables."""
    from tcpforensics.detect import sockets

    findings: list[pd.DataFrame] = []
    tables: dict[str, pd.DataFrame] = {}
    socket_inputs = [i for i in ingested if i.format != "pcap"]
    capture_inputs = [i for i in ingested if i.format == "pcap"]
    if socket_inputs:
        f, t = sockets.diagnose(socket_inputs, config)
        findings.append(f)
        tables.update(t)
    if capture_inputs:
        from tcpforensics.detect import captures

        f, t = captures.diagnose(capture_inputs, config)
        findings.append(f)
        tables.update(t)
    findings = [f for f in findings if len(f)]
    if not findings:
        return schema.empty_findings(), tables
    out = pd.concat(findings, ignore_index=True)
    out = out.sort_values("severity", ascending=False, kind="stable").reset_index(drop=True)
    return out, tables
