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

FLOW_COLS = ["uid", "conn_state", "history", "orig_bytes", "resp_bytes", "close"]


def attach(conv: pd.DataFrame, flows: pd.DataFrame | None) -> pd.DataFrame:
    """Add uid, conn_state, history, close to each conversation (the flow that starts with the
    conversation's first packet) and recompute ``failed`` of SYN probes from the flow."""
    if flows is None or flows.empty or conv.empty:
        return conv.assign(uid=pd.NA) if "uid" not in conv.columns else conv
    # a flow's first packet is the first packet of its 4-tuple's first conversation: look the
    # flows up by that frame (integers) instead of by four address/port columns in both
    # orientations; columns are taken, not merged (no copy of the conversation table)
    frames = flows["first_frame"].to_numpy(dtype=np.int64, na_value=-1)
    firsts = np.unique(frames, return_index=True)[1]  # (the first flow of a repeated frame)
    at = pd.Index(frames[firsts]).get_indexer(conv["first_frame"].to_numpy(dtype=np.int64))
    found = at >= 0
    rows = np.where(found, firsts[np.maximum(at, 0)], 0)
    joined = {c: _masked(flows[c].array.take(rows), found) for c in FLOW_COLS}
    out = conv.assign(**joined)
    syn = ((out["family"] == "syn") & out["conn_state"].notna()).to_numpy()
    if syn.any():
        facts = pd.DataFrame({c: joined[c][syn] for c in ("history", "conn_state", "orig_bytes", "resp_bytes")})
        verdict = first_match(facts, FLOW_FAILED_RULES, default=False)
        failed = out["failed"].to_numpy(dtype=bool).copy()
        verdict = np.asarray(verdict, dtype=object)
        keep = verdict == "packets"
        failed[syn] = np.where(keep, failed[syn], verdict == True)  # noqa: E712
        out["failed"] = failed
    else:
        out["failed"] = out["failed"].astype(bool)
    return out


def _masked(values: pd.api.extensions.ExtensionArray, found: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values`` with the rows where nothing was found set to NA."""
    if found.all():
        return values
    values = values.copy()
    values[~found] = None
    return values
