"""Detectors: rule tables that turn the evidence (flows, conversations, socket timelines,
counter deltas) into findings, deduplicated by one rule (``findings.dedup``).

Each capture is diagnosed on its own (``captures.diagnose_one``: it can run where the
capture's evidence was built); socket inputs are diagnosed together; ``combine`` merges it all.
"""

from __future__ import annotations

import pandas as pd

from tcpforensics.config import Config
from tcpforensics.detect import captures, findings, sockets
from tcpforensics.reconstruct.evidence import Evidence, SocketEvidence

#: What diagnosing one capture gives: its input name, finding rows and summary tables.
CaptureResult = tuple[str, list[dict], dict[str, pd.DataFrame]]


def run(evidence: Evidence, config: Config) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Every detector that applies to the evidence; findings (deduplicated, most severe first)
    and summary tables."""
    parts = [(c.input, *captures.diagnose_one(c, config)) for c in evidence.captures]
    return combine(parts, evidence.sockets, config)


def combine(capture_results: list[CaptureResult], socket_evidence: SocketEvidence | None,
            config: Config, socket_tables: bool = True) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The findings and tables of a run from each capture's results and the socket evidence
    (``socket_tables=False``: without the socket summary tables, as ``watch`` runs it)."""
    parts: list[pd.DataFrame] = []
    tables: dict[str, pd.DataFrame] = {}
    if socket_evidence is not None:
        f, t = sockets.diagnose(socket_evidence, config, socket_tables)
        parts.append(f)
        tables.update(t)
    if capture_results:
        f, t = captures.combine(capture_results)
        parts.append(f)
        tables.update(t)
    parts = [p for p in parts if len(p)]
    merged = findings.dedup(pd.concat(parts, ignore_index=True) if len(parts) > 1 else (parts[0] if parts else []))
    return merged.sort_values("severity", ascending=False, kind="stable").reset_index(drop=True), tables
