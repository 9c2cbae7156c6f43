"""Capture detections: scans, floods and abnormal closes, each with evidence and an explanation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics import heap
from tcpforensics.config import Config
from tcpforensics.detect import closes, findings, floods, flowjoin, scans
from tcpforensics.reconstruct.evidence import CaptureEvidence
from tcpforensics.reconstruct.text_categories import isin

#: The flow columns the capture detectors read (a capture's evidence built for them alone
#: may hold only these).
FLOW_COLUMNS = ("uid", "orig_addr", "resp_addr", "resp_port", "start", "end", "orig_pkts", "resp_pkts",
                "orig_bytes", "resp_bytes", "conn_state", "history", "close", "first_frame")
#: The conversation columns they read (likewise).
CONVERSATION_COLUMNS = ("init_addr", "init_port", "init_code", "peer_addr", "peer_port", "peer_code", "first_ts",
                        "last_ts", "first_frame", "shape", "probe", "family", "outcome", "is_probe", "failed",
                        "data_seen", "answered_sa", "completed", "init_syns", "init_pkts", "ttl")


def diagnose_one(capture: CaptureEvidence, config: Config,
                 release: bool = False) -> tuple[list[dict], dict[str, pd.DataFrame]]:
    """Findings (as rows) and tables of one capture's evidence. ``release``: the caller keeps
    no evidence, so the capture's conversation tables are emptied once the detectors that read
    them are done (the close detectors then run without them in memory)."""
    flows = capture.flows if len(capture.flows) else None
    conv = flowjoin.attach(capture.conversations, flows)
    heap.give_back()
    scan_rows, walks = scans.detect(conv, config, capture.input)
    flagged = scans.candidates(walks)
    del walks  # (a row per initiator)
    heap.give_back()  # (each detector's working arrays, freed, go back before the next one's)
    flood_rows = floods.detect(conv, capture.conv_packets, config, capture.input)
    del conv
    if release:
        capture.conversations = capture.conversations.iloc[:0].copy()
        capture.conv_packets = capture.conv_packets.iloc[:0].copy()
    heap.give_back()
    explained = _explained(flows, scan_rows + flood_rows)
    close_rows = closes.detect(flows, config, explained)
    heap.give_back()
    tables = closes.tables(flows) if flows is not None else {}
    if len(flagged):
        tables["scan_candidates"] = flagged
    rows = [{**r, "input": capture.input} for r in scan_rows + flood_rows + close_rows]  # a few
    limits = getattr(capture, "limits", None)  # evidence that is not packets says what it cannot show
    if limits:
        rows = [{**r, "details": {**r["details"], "log_limits": limits}} for r in rows]
    return rows, tables


def _explained(flows: pd.DataFrame | None, rows: list[dict]) -> np.ndarray | None:
    """Mask of the flows without data that a scan or flood finding already explains (the
    scanner's probes, half-open attempts on a flooded service, answers around reflection and
    backscatter hosts); they are not repeated as abnormal closes."""
    if flows is None or flows.empty or not rows:
        return None
    scanners = {r["subject"] for r in rows if r["category"] in scans.SCAN_CATEGORIES}
    for r in rows:
        if r["category"] == "distributed_scan":
            scanners.update(r["details"].get("scanners", []))
    hosts = list({r["subject"] for r in rows if r["category"] in ("synack_reflection", "backscatter", "connection_flood")})
    orig, resp = flows["orig_addr"], flows["resp_addr"]
    hit = isin(orig, list(scanners) + hosts) | isin(resp, hosts)
    port = flows["resp_port"].to_numpy(dtype="int64", na_value=-1)
    for r in rows:  # one pass per flooded service (few)
        if r["category"] == "syn_flood":
            addr, _, svc_port = r["details"]["victim"].rpartition(":")
            hit |= isin(resp, [addr]) & (port == int(svc_port))
    empty = (flows["orig_bytes"].to_numpy(dtype="float64", na_value=0) == 0) & (
        flows["resp_bytes"].to_numpy(dtype="float64", na_value=0) == 0)
    return hit & empty


def combine(parts: list[tuple[str, list[dict], dict[str, pd.DataFrame]]]) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Findings (not yet deduplicated) and summary tables of several captures from the
    (input, rows, tables) that :func:`diagnose_one` gave each, in input order; tables gain an
    ``input`` column when there are several captures."""
    rows: list[dict] = []
    per_table: dict[str, list[pd.DataFrame]] = {}
    for name, found, tables in parts:
        rows.extend(found)
        for table_name, table in tables.items():
            per_table.setdefault(table_name, []).append(table.assign(input=name) if len(parts) > 1 else table)
    tables = {name: pd.concat(frames, ignore_index=True) for name, frames in per_table.items()}
    return findings.to_frame(rows), tables
