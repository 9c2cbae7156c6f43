"""Attach reconstructed flows (uid, conn_state, history) to the packet conversations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.rules import Rule, first_match

#: Zeek's is_failed_conn (policy/misc/scan.zeek) on a SYN probe's flow, first match wins:
#: no data either way and (no SYN-ACK, refused, or reset by the originator after SYN-ACK).
#: "packets": a bad-checksum letter (C/c) means the flow dropped segments that the wire did
#: carry (checksum offload on the capturing host), so the packet-level answer stands.
FLOW_FAILED_RULES: tuple[Rule, ...] = (
    ("packets", lambda f: f["history"].fillna("").str.contains("[Cc]")),
    (False, lambda f: (f["orig_bytes"].fillna(0) > 0) | (f["resp_bytes"].fillna(0) > 0)),
    (False, lambda f: f["history"].fillna("").str.contains("[Dd]")),
    (True, lambda f: f["conn_state"].isin(["S0", "REJ", "RSTOS0", "SH"])),   # S, Sr, SR, SF
    (True, lambda f: (f["conn_state"] == "RSTO") & f["history"].fillna("").str.contains("S")
     & f["history"].fillna("").str.contains("h")),                           # ShR, ShAR
    (False, lambda f: True),
)

FLOW_COLS = ["uid", "conn_state", "history", "orig_bytes", "resp_bytes", "close"]


def attach(conv: pd.DataFrame, flows: pd.DataFrame | None) -> pd.DataFrame:
    """Add uid, conn_state, history, close to each conversation (the flow that starts with the
    conversation's first packet) and recompute ``failed`` of SYN probes from the flow."""
    if flows is None or flows.empty or conv.empty:
        return conv.assign(uid=pd.NA) if "uid" not in conv.columns else conv
    # a flow's first packet is the first packet of its 4-tuple's first conversation: join on
    # that frame (integers) instead of on four address/port columns in both orientations
    right = flows[["first_frame"] + FLOW_COLS].astype({"first_frame": "int64"})
    right = right.drop_duplicates("first_frame")
    out = conv.merge(right, on="first_frame", how="left")
    syn = (out["family"] == "syn") & out["conn_state"].notna()
    if syn.any():
        verdict = first_match(out[syn], FLOW_FAILED_RULES, default=False)
        keep = verdict == "packets"
        packet_level = out.loc[syn, "failed"].to_numpy(dtype=bool)
        out.loc[syn, "failed"] = np.where(keep, packet_level, verdict == True)  # noqa: E712
    out["failed"] = out["failed"].astype(bool)
    return out
