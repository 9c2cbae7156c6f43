"""Abnormal closes from the flows table: resets, lost final ACKs, half-open and half-closed."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from tcpforensics.config import Config, register_defaults
from tcpforensics.detect import findings as ev
from tcpforensics.reconstruct.rules import Row, always, first_match
from tcpforensics.reconstruct.text_categories import same_categories

DEFAULTS = {
    "close.pile_low": 10,  # ours: this many of one close kind from one host is worth a look
    "close.pile_medium": 100,  # ours: a pile (a leaking service, a resetting middlebox)
    "close.hosts_per_kind": 5,  # findings per close kind; the other hosts share one finding
    # ours: a half-closed connection whose last packet is this close to the end of the capture,
    # on an endpoint that closed its other connections gracefully, was cut off by the capture
    # (the missing FIN came after it stopped), not left open; 5 s = Zeek's tcp_close_delay
    "close.end_grace_s": 5.0,
}
register_defaults(DEFAULTS)


class CloseKind(NamedTuple):
    """What an abnormal close kind says: whose doing it is, what it means, the next step."""

    role: str  # "orig" (the originator, the client) or "resp" (the responder, the server)
    meaning: str
    next_step: str


#: Close kinds reported as abnormal (the kinds come from ``endpoint_states.CLOSE_RULES``).
#: graceful, open_at_end and midstream are normal or unknowable and only appear in tables.
CLOSE_KINDS: dict[str, CloseKind] = {
    "reset_by_orig": CloseKind("orig", "the client aborted the connection with RST",
                               "See whether the client timed out or crashed; resets right after the handshake "
                               "without data are usually scans or health checks."),
    "reset_by_resp": CloseKind("resp", "the server aborted the connection with RST",
                               "Check the server's logs around the first reset: crashes, full accept queues or "
                               "a proxy/firewall killing idle connections."),
    "rejected": CloseKind("resp", "connection attempts were refused with RST (nothing listening)",
                          "Check that the service is running and listening on this port."),
    "no_answer": CloseKind("resp", "SYNs were never answered (host down, filtered, or SYNs dropped)",
                           "Check reachability and firewalls between the hosts."),
    "half_open": CloseKind("resp", "the handshake never completed (SYN answered, final ACK never seen)",
                           "Look for SYN-ACKs lost on the way back or a client that gave up."),
    "lost_final_ack": CloseKind("resp", "both sides sent FIN but the last ACK was never seen",
                                "Usually harmless (capture loss or end of capture); many of them point at "
                                "packet loss on the path."),
    "half_closed_orig": CloseKind("resp", "the client closed (FIN) but the server never did: the server "
                                  "socket sat in CLOSE_WAIT, the client in FIN_WAIT_2",
                                  "A server that never closes after the peer's FIN leaks sockets (CLOSE_WAIT): "
                                  "check that the application closes its connections."),
    "half_closed_resp": CloseKind("orig", "the server closed (FIN) but the client never did: the client "
                                  "socket sat in CLOSE_WAIT, the server in FIN_WAIT_2",
                                  "Check that the client application closes its sockets after the server's FIN."),
}

#: Severity of one close-kind finding (first match wins): low/info unless it piles up.
SEVERITY_RULES: tuple[Row, ...] = (
    Row("medium", lambda f: f["count"] >= f["pile_medium"],
        "at least `close.pile_medium` connections of the kind on the host: a pile"),
    Row("low", lambda f: f["count"] >= f["pile_low"], "at least `close.pile_low` connections: worth a look"),
    Row("info", always, "fewer connections"),
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


def _hosts(flows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Integer codes of orig_addr and resp_addr over one shared address index (the last
    entry, "-", stands for a missing address). A merged flow table's address columns share
    their categories: the codes are theirs."""
    o, r = flows["orig_addr"], flows["resp_addr"]
    if same_categories(o, r):
        cats = o.cat.categories
        missing = len(cats)
        oc, rc = (np.where(c < 0, missing, c) for c in (o.cat.codes.to_numpy(), r.cat.codes.to_numpy()))
        return oc, rc, cats.append(pd.Index(["-"], dtype=cats.dtype))
    o, r = pd.Categorical(o.astype("category")), pd.Categorical(r.astype("category"))
    codes, uniques = pd.factorize(o.categories.append(r.categories), sort=True)  # (codes in address order)
    om = np.append(codes[: len(o.categories)], len(uniques))
    rm = np.append(codes[len(o.categories):], len(uniques))
    return om[o.codes], rm[r.codes], uniques.append(pd.Index(["-"], dtype=uniques.dtype))


def top_talkers(flows: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """Hosts by bytes sent and received over all their connections (either role)."""
    oc, rc, names = _hosts(flows)
    m = len(names)
    ob = flows["orig_bytes"].to_numpy(dtype="float64", na_value=0)
    rb = flows["resp_bytes"].to_numpy(dtype="float64", na_value=0)
    pk = flows["orig_pkts"].to_numpy(dtype="float64", na_value=0) + flows["resp_pkts"].to_numpy(dtype="float64", na_value=0)

    def tot(codes: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(codes, weights=w, minlength=m)

    as_orig, as_resp = tot(oc).astype("int64"), tot(rc).astype("int64")
    sent = (tot(oc, ob) + tot(rc, rb)).astype("int64")
    received = (tot(oc, rb) + tot(rc, ob)).astype("int64")
    connections, total = as_orig + as_resp, sent + received
    seen = np.flatnonzero(connections > 0)
    top = seen[np.lexsort((-connections[seen], -total[seen]))[:n]]  # (stable: ties in host order)
    return pd.DataFrame({
        "host": names.take(top).astype(object),
        "connections": connections[top],
        "as_originator": as_orig[top],
        "as_responder": as_resp[top],
        "pkts": (tot(oc, pk) + tot(rc, pk)).astype("int64")[top],
        "bytes_sent": sent[top],
        "bytes_received": received[top],
        "bytes": total[top],
    })


def _abnormal(flows: pd.DataFrame, keep: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.Index]:
    """The abnormal-close flows (of the rows ``keep`` when given, a mask) as integer-coded
    columns: kind, host (whose doing), peer, port. Only those rows' columns are taken."""
    abnormal = flows["close"].isin(list(CLOSE_KINDS)).to_numpy()
    rows = np.flatnonzero(abnormal if keep is None else abnormal & keep)
    oc, rc, names = _hosts(flows)
    oc, rc = oc[rows], rc[rows]

    def col(c: str) -> pd.Series:
        return flows[c].take(rows)

    kinds = _categorical(col("close"), list(CLOSE_KINDS))
    by_orig = np.array([CLOSE_KINDS[k].role == "orig" for k in CLOSE_KINDS])[kinds.codes]
    out = pd.DataFrame({
        "kind": kinds.codes.astype(np.int64),
        "host": np.where(by_orig, oc, rc).astype(np.int64),
        "peer": np.where(by_orig, rc, oc).astype(np.int64),
        "port": col("resp_port").to_numpy(dtype="int64", na_value=-1),
        "data": _had_data(col("orig_bytes"), col("resp_bytes")),
        "start": col("start").to_numpy(),
        "end": col("end" if "end" in flows.columns else "start").to_numpy(),
        "state": _categorical(col("conn_state"), None),
        "uid": col("uid").array,  # (text objects only for the uids a finding shows)
    }, copy=False)
    return out, names


def _categorical(s: pd.Series, categories: list | None) -> pd.Categorical:
    """The column as a Categorical (with these categories), without a round trip through str."""
    cat = s.astype("category").cat
    if categories is None:
        return pd.Categorical(cat.remove_unused_categories().values)
    return pd.Categorical(cat.set_categories(categories).values)


def _top(codes: pd.Series, by: pd.Series | list, label: object, n: int = 5) -> dict:
    """Per group of ``by``: its ``n`` most frequent ``codes`` as "label (count), ..."."""
    keys = [by] if isinstance(by, pd.Series) else by
    counts = codes.groupby(keys, sort=False).value_counts()
    counts = counts[counts > 0].sort_values(ascending=False, kind="stable")
    top = counts.groupby(level=list(range(len(keys))), sort=False).head(n)
    out: dict = {}
    for idx, c in top.items():  # at most n entries per group
        *group, value = idx
        key = group[0] if len(group) == 1 else tuple(group)
        out.setdefault(key, []).append(f"{label(value)} ({c})")
    return {k: ", ".join(v) for k, v in out.items()}


def abnormal_table(flows: pd.DataFrame) -> pd.DataFrame:
    """Per abnormal close kind: connections, resets before/after data, top hosts and ports."""
    cols = ["close", "connections", "before_data", "after_data", "top_hosts", "top_ports", "meaning"]
    f, names = _abnormal(flows)
    if f.empty:
        return pd.DataFrame(columns=cols)
    kinds = list(CLOSE_KINDS)
    g = f.groupby("kind").agg(connections=("uid", "size"), after_data=("data", "sum"))
    hosts = _top(f["host"], f["kind"], lambda c: names[c])
    ports = _top(f["port"], f["kind"], str)
    t = pd.DataFrame({
        "close": [kinds[k] for k in g.index],
        "connections": g["connections"].to_numpy(),
        "before_data": (g["connections"] - g["after_data"]).to_numpy(),
        "after_data": g["after_data"].to_numpy(),
        "top_hosts": [hosts[k] for k in g.index],
        "top_ports": [ports[k] for k in g.index],
        "meaning": [CLOSE_KINDS[kinds[k]].meaning for k in g.index],
    }, columns=cols)
    return t.sort_values("connections", ascending=False, kind="stable").reset_index(drop=True)


def cut_by_capture_end(flows: pd.DataFrame, grace_s: float, among: np.ndarray | None = None) -> np.ndarray:
    """Mask of half-closed flows that the end of the capture cut off rather than a peer that
    never closed: the flow's last packet is within ``grace_s`` of the capture's last packet,
    and the endpoint that did not close (the server for half_closed_orig, the client for
    half_closed_resp) closed at least one other connection gracefully in the capture.
    ``among`` (a mask) restricts the question to those flows, as if they were the only ones."""
    among = np.ones(len(flows), dtype=bool) if among is None else among
    close = flows["close"]
    orig_side = close.isin(["half_closed_resp"]).to_numpy() & among  # the client is the one that did not close
    half = orig_side | (close.isin(["half_closed_orig"]).to_numpy() & among)
    if not half.any():
        return np.zeros(len(flows), dtype=bool)
    end = pd.to_datetime(flows["end"]).to_numpy()
    near_end = end >= end[among].max() - np.timedelta64(int(grace_s * 1e9), "ns")
    graceful = close.isin(["graceful"]).to_numpy() & among
    orig, resp_host, _ = _hosts(flows)
    resp = resp_host.astype(np.int64) * 65537 + flows["resp_port"].to_numpy(dtype="int64", na_value=-1) + 1  # (address, port)
    closes_others = np.where(orig_side, _seen_in(orig, graceful), _seen_in(pd.factorize(resp)[0], graceful))
    return half & near_end & closes_others


def _seen_in(codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per row: whether its code (a factorized key) is the code of one of ``rows`` (a mask)."""
    seen = np.zeros(int(codes.max()) + 2 if len(codes) else 1, dtype=bool)
    seen[codes[rows]] = True
    return seen[codes]


def _had_data(orig_bytes: pd.Series, resp_bytes: pd.Series) -> np.ndarray:
    return (orig_bytes.to_numpy(dtype="float64", na_value=0) > 0) | (resp_bytes.to_numpy(dtype="float64", na_value=0) > 0)


def detect(flows: pd.DataFrame | None, config: Config, explained: np.ndarray | None = None) -> list[dict]:
    """One abnormal_close finding per (close kind, responsible host); the 5 busiest hosts of a
    kind get their own, the rest share "N other hosts". Flows already explained by a scan or
    flood finding (boolean mask ``explained`` over ``flows``) are left out."""
    if flows is None or flows.empty:
        return []
    keep = np.ones(len(flows), dtype=bool) if explained is None else ~explained
    keep &= ~cut_by_capture_end(flows, float(config.get("close.end_grace_s")), keep)
    f, names = _abnormal(flows, keep)
    if f.empty:
        return []
    kinds = list(CLOSE_KINDS)
    keep = int(config.get("close.hosts_per_kind"))
    # fold: the busiest hosts of each kind keep their group, the others share host code -1
    per = f.groupby(["kind", "host"]).size().rename("n").reset_index()
    per["rank"] = per.sort_values(["n", "host"], ascending=[False, True]).groupby("kind").cumcount()
    small = per[per["rank"] >= keep]
    others = small.groupby("kind").size().to_dict()
    if len(small):
        width = len(names) + 1
        folded = np.isin(f["kind"].to_numpy() * width + f["host"].to_numpy(),
                         small["kind"].to_numpy() * width + small["host"].to_numpy())
        f.loc[folded, "host"] = -1
    key = ["kind", "host"]
    stats = f.groupby(key).agg(count=("uid", "size"), after_data=("data", "sum"), start=("start", "min"),
                               end=("end", "max"))
    stats = stats.assign(pile_low=int(config.get("close.pile_low")), pile_medium=int(config.get("close.pile_medium")))
    stats["severity"] = first_match(stats, SEVERITY_RULES)
    by = [f["kind"], f["host"]]
    peers = _top(f["peer"], by, lambda c: names[c])
    ports = _top(f["port"], by, str)
    states = _top(f["state"], by, str, n=20)
    firsts = f.sort_values("start", kind="stable").groupby(key, sort=False).head(ev.EVIDENCE_CAP)
    uids = firsts.groupby(key, sort=False)["uid"].agg(list).to_dict()
    rows = []
    for (k, h), st in stats.iterrows():  # one small dict per finding
        kind = kinds[k]
        host = f"{others[k]} other hosts" if h == -1 else str(names[h])
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
            "conn_states": states.get((k, h), ""),
            "top_peers": peers[(k, h)],
            "top_ports": ports[(k, h)],
            "window": {"start": st["start"], "end": st["end"]},
        }
        reset_note = (f" ({before} before any data, {after} after data)" if kind.startswith("reset") else "")
        explanation = f"{n} connection(s) involving {host}: {meaning}{reset_note}."
        evidence = [str(u) for u in uids[(k, h)]]
        rows.append(ev.finding(st["severity"], "abnormal_close", host, kind, n, details, evidence, explanation,
                               next_step, st["start"], st["end"]))
    return rows
