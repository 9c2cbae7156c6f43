"""Socket rules that are not piles: sockets stuck in one state across snapshots (from the
timelines), and listeners that the expected-listener allow-list does not name."""

from __future__ import annotations

import ipaddress

import pandas as pd

from tcpforensics.config import Config
from tcpforensics.detect import socket_rows
from tcpforensics.detect.socket_rows import Context
from tcpforensics.detect.socket_text import finish
from tcpforensics.reconstruct.rules import Row, always, first_match

#: The threshold that limits how long a socket may stay in each state before it is stuck.
STUCK_LIMITS: dict[str, str] = {
    "SYN_SENT": "stuck_syn_sent_s", "SYN_RECEIVED": "stuck_syn_received_s",
    "FIN_WAIT_1": "stuck_fin_wait_1_s", "FIN_WAIT_2": "stuck_fin_wait_2_s",
    "CLOSE_WAIT": "stuck_close_wait_s", "CLOSING": "stuck_closing_s", "LAST_ACK": "stuck_last_ack_s",
}


def stuck_mask(tl: pd.DataFrame, config: Config) -> pd.Series:
    """Per timeline row: held in its last (closing or handshake) state longer than the kernel
    would keep it there: past the state's time limit when timed, else in enough sightings."""
    if tl.empty:
        return pd.Series(False, index=tl.index, dtype=bool)
    limit = tl["last_state"].map({s: float(config.get(k)) for s, k in STUCK_LIMITS.items()})
    timed = tl["last_state_s"].notna() & tl["last_state_since"].notna()
    by_time = timed & (tl["last_state_s"] > limit)
    by_count = ~timed & (tl["last_state_sightings"] >= config.get("stuck_min_sightings"))
    return (limit.notna() & (tl["last_state_sightings"] >= 2) & (by_time | by_count)).astype(bool)


def stuck(ctx: Context, category: str) -> pd.DataFrame:
    """Sockets seen in one closing state across snapshots for longer than its kernel timer."""
    tl = ctx.timelines
    stuck = tl[tl["stuck"]] if len(tl) else tl
    if stuck.empty:
        return pd.DataFrame()
    owner_of = pd.Series(ctx.df["owner"].to_numpy(), index=ctx.df["ref"].to_numpy())
    owner_of = owner_of[~owner_of.index.duplicated()]
    local = socket_rows.endpoint(stuck["src_addr"].astype(object), stuck["src_port"])
    remote = socket_rows.endpoint(stuck["dst_addr"].astype(object), stuck["dst_port"])
    held = stuck["last_state_s"].round(0).astype("Int64").astype("string").fillna("-").astype(str) + " s"
    held = held.where(stuck["last_state_s"].notna(), stuck["last_state_sightings"].astype(str) + " sightings")
    s = pd.DataFrame({
        "input": stuck["input"].astype(str).to_numpy(),
        "subject": stuck["last_line"].map(owner_of).fillna(stuck["src_addr"].astype(str)).to_numpy(),
        "state": stuck["last_state"].to_numpy(),
        "ref": stuck["last_line"].to_numpy(),
        "line": stuck["last_line"].str.rsplit(":", n=1).str[-1].astype("int64").to_numpy(),
        "ts": stuck["last_seen"].to_numpy(),
        "first_ts": stuck["first_seen"].to_numpy(),
        "held_s": stuck["last_state_s"].to_numpy(),
        "held_sightings": stuck["last_state_sightings"].to_numpy(),
        "example": (local + " -> " + remote + " " + stuck["last_state"] + " for " + held).to_numpy(),
    })
    by = ["input", "subject"]
    g = s.groupby(by, sort=False)
    out = pd.DataFrame({
        "count": g.size(),
        "first_seen": g["first_ts"].min(),
        "last_seen": g["ts"].max(),
        "longest_s": g["held_s"].max(),
        "most_sightings": g["held_sightings"].max(),
    }).reset_index()
    states = s.groupby(by + ["state"], sort=False).size().rename("n").reset_index()
    states["txt"] = states["state"] + " " + states["n"].astype(str)
    st_txt = states.groupby(by, sort=False)["txt"].agg(", ".join).rename("states_text").reset_index()
    examples = s.groupby(by, sort=False).head(5).groupby(by, sort=False)["example"].agg(list).rename("examples").reset_index()
    out = out.merge(st_txt, on=by).merge(examples, on=by).merge(socket_rows.refs(s, by), on=by)
    out["severity"] = socket_rows.ladder(out["count"], ctx.levels("stuck_socket"))
    out = out[out["severity"].notna()]
    out["category"] = category
    return finish(out, ["states_text", "longest_s", "most_sightings", "examples"])


def _expected(entries: list[str]) -> list[tuple[str | None, int | None, str | None]]:
    """Allow-list entries -> (addr, port, process) patterns; None matches anything."""
    rows = []
    for raw in entries:  # a handful of configured entries
        e = raw.strip()
        addr = port = proc = None
        if e.startswith("[") and "]" in e:
            addr, _, rest = e[1:].partition("]")
            port = rest.lstrip(":") or None
        elif e.isdigit():
            port = e
        elif ":" in e and (e.rsplit(":", 1)[1].isdigit() or e.rsplit(":", 1)[1] == "*") and e.count(":") == 1:
            left, port = e.rsplit(":", 1)
            if left == "*" or _is_ip(left):
                addr = left
            else:
                proc = left
        elif _is_ip(e):
            addr = e
        else:
            proc = e
        rows.append((None if addr in (None, "*") else addr.lower(),
                     None if port in (None, "*") else int(port),
                     proc.lower() if proc else None))
    return rows


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%")[0])
        return True
    except ValueError:
        return False


#: The severity of a listener the allow-list does not name (first match wins).
LISTENER_SEVERITY: tuple[Row, ...] = (
    Row("low", lambda f: f["loopback"], "bound to a loopback address: reachable from this host only"),
    Row("medium", always, "bound to an address other hosts can reach"),
)


def unexpected_listeners(ctx: Context, category: str) -> pd.DataFrame:
    """LISTEN sockets that no allow-list entry matches (only when an allow-list is given)."""
    if ctx.config.expected_listeners is None:
        return pd.DataFrame()
    lis = socket_rows.listeners(ctx.df)
    lis = lis[lis["proto"].str.startswith("tcp")]
    if lis.empty:
        return pd.DataFrame()
    addr = lis["src_addr"].str.lower()
    port = lis["src_port"].astype("Float64")
    proc = lis["process"].astype(object).fillna("").astype(str).str.lower()
    allowed = pd.Series(False, index=lis.index)
    for e_addr, e_port, e_proc in _expected(ctx.config.expected_listeners):  # per entry
        m = pd.Series(True, index=lis.index)
        if e_addr is not None:
            m &= addr.eq(e_addr) | (addr.eq("*") & (e_addr in socket_rows.WILDCARDS))
        if e_port is not None:
            m &= port.eq(e_port).fillna(False).astype(bool)
        if e_proc is not None:
            m &= proc.eq(e_proc)
        allowed |= m
    bad = ctx.df[ctx.df["state"].eq("LISTEN")].merge(
        lis.loc[~allowed, ["input", "proto", "src_addr", "src_port"]].drop_duplicates(),
        on=["input", "proto", "src_addr", "src_port"])
    if bad.empty:
        return pd.DataFrame()
    bad = bad.assign(subject=bad["local"])
    by = ["input", "subject"]
    g = bad.groupby(by, sort=False)
    out = pd.DataFrame({
        "count": g["pid"].nunique(dropna=False),
        "first_seen": g["ts"].min(), "last_seen": g["ts"].max(),
        "process": g["owner"].first(),
        "port": g["src_port"].first().astype("Int64").astype("string").fillna("-").astype(str),
        "loopback": g["src_addr"].first().pipe(lambda s: socket_rows.is_loopback(s)),
    }).reset_index().merge(socket_rows.refs(bad, by), on=by)
    out["severity"] = first_match(out, LISTENER_SEVERITY)
    out["category"] = category
    out["allow_list"] = [list(ctx.config.expected_listeners)] * len(out)
    return finish(out, ["process", "loopback", "allow_list"])
