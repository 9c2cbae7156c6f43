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
    "close.hosts_per_kind": 5,  # findings per close kind; the other hosts share one finding
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
    role = f["close"].astype(object).map({k: v[0] for k, v in CLOSE_KINDS.items()}).fillna("resp").to_numpy()
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


def _fold_small(f: pd.DataFrame, keep: int) -> np.ndarray:
    """Keep the ``keep`` busiest hosts of each close kind; name the rest "N other hosts"."""
    n = f.groupby(["close", "host"])["host"].transform("size")
    rank = pd.DataFrame({"close": f["close"], "host": f["host"], "n": n}).drop_duplicates(["close", "host"])
    rank["r"] = rank.sort_values(["n", "host"], ascending=[False, True]).groupby("close").cumcount()
    others = rank[rank["r"] >= keep].groupby("close").size()
    r = f[["close", "host"]].merge(rank[["close", "host", "r"]], on=["close", "host"], how="left")["r"].to_numpy()
    label = f["close"].map(lambda k: f"{others.get(k, 0)} other hosts").to_numpy()
    return np.where(r >= keep, label, f["host"].to_numpy())


def detect(flows: pd.DataFrame | None, config: Config, exclude_uids: set[str] | None = None) -> list[dict]:
    """One abnormal_close finding per (close kind, responsible host); flows already explained
    by a scan or flood finding (``exclude_uids``) are left out."""
    if flows is None or flows.empty:
        return []
    f = flows[flows["close"].isin(list(CLOSE_KINDS))]
    if exclude_uids:
        uids = pd.Series(f["uid"].to_numpy(dtype=object), dtype=object)
        f = f[~uids.isin(list(exclude_uids)).to_numpy()]
    if f.empty:
        return []
    role = f["close"].astype(object).map({k: v[0] for k, v in CLOSE_KINDS.items()}).to_numpy()
    f = pd.DataFrame({
        "close": f["close"].astype(object).to_numpy(),
        "host": _responsible(f),
        "peer": np.where(role == "orig", f["resp_addr"].astype(object), f["orig_addr"].astype(object)),
        "port": f["resp_port"].astype("Int64").astype(object).map(str).to_numpy(),
        "conn_state": f["conn_state"].astype(object).to_numpy(),
        "data": _had_data(f),
        "start": f["start"].to_numpy(),
        "end": (f["end"] if "end" in f.columns else f["start"]).to_numpy(),
        "uid": f["uid"].astype(object).to_numpy(),
    })
    f["host"] = _fold_small(f, int(config.get("close.hosts_per_kind")))
    key = ["close", "host"]
    stats = f.groupby(key, sort=False).agg(count=("uid", "size"), after_data=("data", "sum"),
                                           start=("start", "min"), end=("end", "max"))
    stats = stats.assign(pile_low=int(config.get("close.pile_low")), pile_medium=int(config.get("close.pile_medium")))
    stats["severity"] = first_match(stats, SEVERITY_RULES)
    peers = _top_by(f, key, "peer")
    ports = _top_by(f, key, "port")
    states = f.groupby(key + ["conn_state"]).size().sort_index()
    firsts = f.sort_values("start", kind="stable").groupby(key, sort=False).head(ev.EVIDENCE_CAP)
    uids = firsts.groupby(key, sort=False)["uid"].agg(list)
    rows = []
    for (kind, host), st in stats.iterrows():  # one small dict per finding
        role, meaning, next_step = CLOSE_KINDS[kind]
        n, after = int(st["count"]), int(st["after_data"])
        before = n - after
        details = {
            "close": kind,
            "host": host,
            "role": "originator" if role == "orig" else "responder",
            "connections": n,
            "before_data": before,
            "after_data": after,
            "conn_states": {str(k): int(v) for k, v in states.loc[(kind, host)].items()},
            "top_peers": peers.loc[(kind, host)],
            "top_ports": ports.loc[(kind, host)],
            "window": {"start": st["start"], "end": st["end"]},
        }
        reset_note = (f" ({before} before any data, {after} after data)" if kind.startswith("reset") else "")
        explanation = f"{n} connection(s) involving {host}: {meaning}{reset_note}."
        evidence = [str(u) for u in uids.loc[(kind, host)]]
        rows.append(ev.finding(st["severity"], "abnormal_close", host, kind, n, details, evidence, explanation,
                               next_step, st["start"], st["end"]))
    return rows


def _top_by(f: pd.DataFrame, key: list[str], col: str, n: int = 5) -> pd.Series:
    """Per group of ``key``: its ``n`` most frequent values of ``col`` as "value (count), ..."."""
    counts = f.groupby(key + [col], sort=False).size().rename("n").reset_index()
    counts = counts.sort_values([*key, "n", col], ascending=[True] * len(key) + [False, True], kind="stable")
    top = counts.groupby(key, sort=False).head(n)
    text = top[col].astype(object).map(str) + " (" + top["n"].astype(object).map(str) + ")"
    return text.groupby([top[k] for k in key], sort=False).agg(", ".join)
