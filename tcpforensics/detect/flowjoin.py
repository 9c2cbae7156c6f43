"""Attach reconstructed flows (uid, conn_state, history) to the packet conversations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.rules import Row, always, first_match

#: Zeek's is_failed_conn (policy/misc/scan.zeek) on a SYN probe's flow, first match wins:
#: no data either way and (no SYN-ACK, refused, or reset by the originator after SYN-ACK).
#: The label "packets" keeps the packet-level answer.
FLOW_FAILED_RULES: tuple[Row, ...] = (
    Row("packets", lambda f: f["history"].fillna("").str.contains("[Cc]"),
        "the history has a bad-checksum letter (C/c): the flow dropped segments that the wire did "
        "carry (checksum offload on the capturing host), so the packet-level answer stands"),
    Row(False, lambda f: (f["orig_bytes"].fillna(0) > 0) | (f["resp_bytes"].fillna(0) > 0),
        "payload bytes in either direction"),
    Row(False, lambda f: f["history"].fillna("").str.contains("[Dd]"), "the history has a data letter (D/d)"),
    Row(True, lambda f: f["conn_state"].isin(["S0", "REJ", "RSTOS0", "SH"]),
        "conn_state S0, REJ, RSTOS0 or SH (histories S, Sr, SR, SF): no SYN-ACK, or refused"),
    Row(True, lambda f: (f["conn_state"] == "RSTO") & f["history"].fillna("").str.contains("S")
        & f["history"].fillna("").str.contains("h"),
        "conn_state RSTO after a SYN and a SYN-ACK (histories ShR, ShAR): reset by the originator"),
    Row(False, always, "otherwise: a connection that worked"),
)

#: The flow columns the failure rules read.
FACT_COLS = ("history", "conn_state", "orig_bytes", "resp_bytes")


def attach(conv: pd.DataFrame, flows: pd.DataFrame | None) -> pd.DataFrame:
    """Add the uid of each conversation's flow (the flow that starts with the conversation's
    first packet) and recompute ``failed`` of SYN probes from that flow."""
    if flows is None or flows.empty or conv.empty:
        return conv.assign(uid=pd.NA) if "uid" not in conv.columns else conv
    # a flow's first packet is the first packet of its 4-tuple's first conversation: look the
    # flows up by that frame (integers) instead of by four address/port columns in both
    # orientations; only the uid is added to the conversations, the rules read the flow
    # columns of the SYN probes alone (no copy of the conversation table)
    frames = flows["first_frame"].to_numpy(dtype=np.int64, na_value=-1)
    known, firsts = np.unique(frames, return_index=True)  # (sorted; the first flow of a repeated frame)
    wanted = conv["first_frame"].to_numpy(dtype=np.int64)
    at = np.minimum(np.searchsorted(known, wanted), len(known) - 1)
    found = known[at] == wanted
    rows = firsts[at]
    out = conv.assign(uid=flows["uid"].array.take(np.where(found, rows, -1), allow_fill=True))  # (-1: NA)
    syn = (out["family"] == "syn").to_numpy(dtype=bool) & found
    failed = out["failed"].to_numpy(dtype=bool).copy()
    if syn.any():
        facts = pd.DataFrame({c: flows[c].array.take(rows[syn]) for c in FACT_COLS})
        verdict = np.asarray(first_match(facts, FLOW_FAILED_RULES, default=False), dtype=object)
        known = facts["conn_state"].notna().to_numpy()
        decided = known & (verdict != "packets")
        at_syn = np.flatnonzero(syn)[decided]
        failed[at_syn] = verdict[decided] == True  # noqa: E712
    out["failed"] = failed
    return out

