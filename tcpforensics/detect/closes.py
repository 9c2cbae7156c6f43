"""Abnormal closes from the flows table: resets, lost final ACKs, half-open and half-closed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.config import Config, register_defaults
from tcpforensics.detect import evidence as ev
from tcpforensics.detect.rules import Rule, first_match

DEFAULTS = {
    "close.pile_low": 10,  # ours: this many of one close kind from one host is worth a look
    "close.pile_medium": 100,  # ours: a pile (a leaking service, a resetting middlebox)
}
register_defaults(DEFAULTS)

#: Close kinds reported as abnormal: kind -> (whose doing it is, what it means, next step).
#: graceful, open_at_end and midstream are normal or unknowable and only appear in tables.
CLOSE_KINDS: dict[str, tuple[str, str, str]] = {
    "reset_by_orig": ("orig", "the client aborted the connection with RST",
                      "See whether the client timed out or crashed; resets right after the handshake "
                      "without data are usually scans or health checks."),
    "reset_by_resp": ("resp", "the server aborted the connection with RST",
                      "Check the server's logs around the first reset: crashes, full accept queues or "
                      "a proxy/firewall killing idle connections."),
    "rejected": ("resp", "connection attempts were refused with RST (nothing listening)",
                 "Check that the service is running and listening on this port."),
    "no_answer": ("resp", "SYNs were never answered (host down, filtered, or SYNs dropped)",
                  "Check reachability and firewalls between the hosts."),
    "half_open": ("resp", "the handshake never completed (SYN answered, final ACK never seen)",
                  "Look for SYN-ACKs lost on the way back or a client that gave up."),
    "lost_final_ack": ("resp", "both sides sent FIN but the last ACK was never seen",
                       "Usually harmless (capture loss or end of capture); many of them point at "
                       "packet loss on the path."),
    "half_closed_orig": ("resp", "the client closed (FIN) but the server never did: the server "
                         "socket sat in CLOSE_WAIT, the client in FIN_WAIT_2",
                         "A server that never closes after the peer's FIN leaks sockets (CLOSE_WAIT): "
                         "check that the application closes its connections."),
    "half_closed_resp": ("orig", "the server closed (FIN) but the client never did: the client "
                         "socket sat in CLOSE_WAIT, the server in FIN_WAIT_2",
                         "Check that the client application closes its sockets after the server's FIN."),
}

#: Severity of one close-kind finding (first match wins): low/info unless it piles up.
SEVERITY_RULES: tuple[Rule, ...] = (
    ("medium", lambda f: f["count"] >= f["pile_medium"]),
    ("low", lambda f: f["count"] >= f["pile_low"]),
    ("info", lambda f: True),
)


def tables(flows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """flows_by_state, top_talkers and abnormal_closes tables from the flows."""
    if flows is None or flows.empty:
        return {}
    by_state = (
        flows.groupby(["conn_state", "close"], observed=True, dropna=False).size().rename("connections")
        .reset_index().sort_values("connections", ascending=False, kind="stable").reset_index(drop=True)
    )
    by_state["share"] = (by_state["connections"] / len(flows)).round(4)
    return {"flows_by_state": by_state, "top_talkers": top_talkers(flows), "abnormal_closes": abnormal_table(flows)}


def top_talkers(flows: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """Hosts by bytes sent and received over all their connections (either role)."""
    o = pd.DataFrame({"host": flows["orig_addr"].astype(str), "connections": 1,
                      "as_originator": 1, "as_responder": 0,
                      "pkts": flows["orig_pkts"].fillna(0).astype("int64") + flows["resp_pkts"].fillna(0).astype("int64"),
                      "bytes_sent": flows["orig_bytes"].fillna(0).astype("int64"),
                      "bytes_received": flows["resp_bytes"].fillna(0).astype("int64")})
    r = pd.DataFrame({"host": flows["resp_addr"].astype(str), "connections": 1,
                      "as_originator": 0, "as_responder": 1, "pkts": o["pkts"].to_numpy(),
                      "bytes_sent": o["bytes_received"].to_numpy(), "bytes_received": o["bytes_sent"].to_numpy()})
    t = pd.concat([o, r], ignore_index=True).groupby("host").sum()
    t["bytes"] = t["bytes_sent"] + t["bytes_received"]
    t = t.sort_values(["bytes", "connections"], ascending=False).head(n).reset_index()
    return t[["host", "connections", "as_originator", "as_responder", "pkts", "bytes_sent", "bytes_received", "bytes"]]


def _responsible(f: pd.DataFrame) -> np.ndarray:
    role = f["close"].map(lambda k: CLOSE_KINDS.get(str(k), ("resp",))[0]).to_numpy()
    return np.where(role == "orig", f["orig_addr"].astype(str).to_numpy(), f["resp_addr"].astype(str).to_numpy())


def abnormal_table(flows: pd.DataFrame) -> pd.DataFrame:
    """Per abnormal close kind: connections, resets before/after data, top hosts and ports."""
    f = flows[flows["close"].isin(list(CLOSE_KINDS))]
    cols = ["close", "connections", "before_data", "after_data", "top_hosts", "top_ports", "meaning"]
    if f.empty:
        return pd.DataFrame(columns=cols)
    f = f.assign(host=_responsible(f), data=_had_data(f))
    rows = []
    for kind, g in f.groupby("close", observed=True, sort=False):  # one row per close kind (<= 8)
        rows.append({
            "close": str(kind),
            "connections": int(len(g)),
            "before_data": int((~g["data"]).sum()),
            "after_data": int(g["data"].sum()),
            "top_hosts": _top(g["host"]),
            "top_ports": _top(g["resp_port"].astype("Int64").astype(str)),
            "meaning": CLOSE_KINDS[str(kind)][1],
        })
    return pd.DataFrame(rows, columns=cols).sort_values("connections", ascending=False).reset_index(drop=True)


def _had_data(f: pd.DataFrame) -> np.ndarray:
    return ((f["orig_bytes"].fillna(0) > 0) | (f["resp_bytes"].fillna(0) > 0)).to_numpy(dtype=bool)


def _top(s: pd.Series, n: int = 5) -> str:
    vc = s.value_counts().head(n)
    return ", ".join(f"{k} ({v})" for k, v in vc.items())


def detect(flows: pd.DataFrame | None, config: Config, exclude_uids: set[str] | None = None) -> list[dict]:
    """One abnormal_close finding per (close kind, responsible host); flows already explained
    by a scan or flood finding (``exclude_uids``) are left out."""
    if flows is None or flows.empty:
        return []
    f = flows[flows["close"].isin(list(CLOSE_KINDS))]
    if exclude_uids:
        f = f[~f["uid"].isin(list(exclude_uids))]
    if f.empty:
        return []
    f = f.assign(host=_responsible(f), data=_had_data(f))
    groups = f.groupby(["close", "host"], observed=True, sort=False)
    stats = groups.size().rename("count").reset_index()
    stats = stats.assign(pile_low=int(config.get("close.pile_low")), pile_medium=int(config.get("close.pile_medium")))
    stats["severity"] = first_match(stats, SEVERITY_RULES)
    rows = []
    for (kind, host), g in groups:  # one pass per (kind, host) group
        kind = str(kind)
        role, meaning, next_step = CLOSE_KINDS[kind]
        sev = stats.loc[(stats["close"] == kind) & (stats["host"] == host), "severity"].iloc[0]
        before, after = int((~g["data"]).sum()), int(g["data"].sum())
        peers = g["resp_addr" if role == "orig" else "orig_addr"].astype(str)
        start, end = g["start"].min(), g["end"].max() if "end" in g.columns else g["start"].max()
        details = {
            "close": kind,
            "host": host,
            "role": "originator" if role == "orig" else "responder",
            "connections": int(len(g)),
            "before_data": before,
            "after_data": after,
            "conn_states": {str(k): int(v) for k, v in g["conn_state"].value_counts().items()},
            "top_peers": _top(peers),
            "top_ports": _top(g["resp_port"].astype("Int64").astype(str)),
            "window": {"start": start, "end": end},
        }
        reset_note = (f" ({before} before any data, {after} after data)" if kind.startswith("reset") else "")
        explanation = f"{len(g)} connection(s) involving {host}: {meaning}{reset_note}."
        evidence = [str(u) for u in g.sort_values("start")["uid"].head(ev.EVIDENCE_CAP)]
        rows.append(ev.finding(sev, "abnormal_close", host, kind, len(g), details, evidence, explanation,
                               next_step, start, end))
    return rows
