"""Conntrack entries as the socket rules see them: one endpoint's socket, or none.

A conntrack entry is a flow, not a socket: its state is the firewall's view of both sides. The
socket piles (SYN floods, SYN_SENT piles, ESTABLISHED per remote host, TIME_WAIT per port
tuple) read an entry as the socket of the endpoint that state describes; ``CONNTRACK_VIEW``
says which, by the entry's common state (first match wins). The local side of the socket is
then the original source (initiator) or the original destination (responder), the remote side
the other one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.rules import Row, always, first_match

#: Which endpoint's socket a conntrack entry stands for, by its common state (first match wins).
CONNTRACK_VIEW: tuple[Row, ...] = (
    Row("initiator", lambda f: f["state"].isin(["SYN_SENT"]),
        "SYN_SENT: the originator's connection attempt (a SYN with no answer yet; [UNREPLIED]): "
        "the SYN_SENT pile of its source"),
    Row("responder", lambda f: f["state"].isin(["SYN_RECEIVED"]),
        "SYN_RECEIVED: the responder answered with SYN-ACK and waits for the final ACK: the "
        "half-open pile of the listener (original destination address:port)"),
    Row("responder", lambda f: f["state"].isin(["ESTABLISHED"]),
        "ESTABLISHED: the server's socket, its peer the original source (connections per "
        "remote host)"),
    Row("initiator", lambda f: f["state"].isin(["TIME_WAIT"]),
        "TIME_WAIT: the side that closed first, usually the client: TIME_WAIT per (source "
        "address, destination address:port), the ephemeral ports of that tuple"),
    Row("none", always,
        "FIN_WAIT, CLOSE_WAIT, LAST_ACK, CLOSE and the rest: conntrack does not say which side "
        "stopped; not given to the socket piles (counted by the conntrack_fill finding)"),
)

_SWAP = (("src_addr", "dst_addr"), ("src_port", "dst_port"))


def orient(df: pd.DataFrame, conntrack: np.ndarray) -> pd.DataFrame:
    """``df`` (socket rows) with the conntrack rows as their ``CONNTRACK_VIEW`` socket:
    responder rows swapped (local = original destination), rows of no view with state ``-``;
    the entry's state is kept in ``ct_state`` (``-`` on socket rows)."""
    conntrack = np.asarray(conntrack, dtype=bool)
    df = df.assign(ct_state=np.where(conntrack, df["state"].to_numpy(dtype=object), "-"))
    if not conntrack.any():
        return df
    view = np.asarray(first_match(df, CONNTRACK_VIEW), dtype=object)
    swap = conntrack & (view == "responder")
    if swap.any():
        for a, b in _SWAP:
            left, right = df[a].copy(), df[b].copy()
            df[a] = left.where(~swap, right)
            df[b] = right.where(~swap, left)
    df["state"] = df["state"].where(~(conntrack & (view == "none")), "-")
    return df
