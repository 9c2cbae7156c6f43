"""Summary tables of socket snapshots for reports: states, listeners, processes, remotes, timelines."""

from __future__ import annotations

import pandas as pd

from tcpforensics.config import Config
from tcpforensics.detect import socket_rows
from tcpforensics.schema import STATES

#: Rows kept in the "top" tables (remotes, stuck sockets).
TOP = 20


def _state_columns(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Count of rows per group and state, one column per state present (canonical order)."""
    wide = rows.pivot_table(index=by, columns="state", values="line", aggfunc="size", fill_value=0)
    order = [s for s in STATES if s in wide.columns] + [c for c in wide.columns if c not in STATES]
    wide = wide[order]
    wide.insert(0, "sockets", wide.sum(axis=1))
    wide.columns.name = None
    return wide.reset_index()


def summary_tables(df: pd.DataFrame, tl: pd.DataFrame, counters: pd.DataFrame, config: Config) -> dict[str, pd.DataFrame]:
    """Tables named states, listeners, processes, remotes, timelines, stuck_sockets, counters.

    Socket counts describe the latest snapshot of each input (a picture of the end state);
    ``rows`` in ``states`` counts every row of every snapshot.
    """
    tables: dict[str, pd.DataFrame] = {}
    if len(df):
        tables.update(_snapshot_tables(df))
    if len(tl) and int(tl["snapshots_total"].max()) > 1:
        tables.update(_timeline_tables(tl))
    if len(counters):
        tables.update(_counter_tables(counters))
        tables.update(_summary_vs_listing(df, counters))
    return tables


def _summary_vs_listing(df: pd.DataFrame, counters: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """socket_totals: what ``ss -s`` counted (``estab``: /proc/net/snmp CurrEstab, ESTABLISHED
    and CLOSE_WAIT; ``timewait``: /proc/net/sockstat tw) beside what the TCP socket tables of
    the inputs list in their latest snapshots. A summary above the listing means sockets the
    listing does not show: another host or namespace, time between the two commands, or
    sockets hidden from the listing."""
    s = counters[counters["group"].astype(object).eq("SsSummary") & counters["counter"].isin(["estab", "timewait"])]
    if s.empty:
        return {}
    wide = s.pivot_table(index="input", columns="counter", values="value_last", aggfunc="last", observed=True)
    ct = df["conntrack"] if "conntrack" in df else pd.Series(False, index=df.index)
    listed = df[df["latest"] & df["proto"].eq("tcp") & ~ct.astype(bool)] if len(df) else df
    out = pd.DataFrame({
        "input": wide.index.astype(str),
        "ss_s_estab": wide["estab"].to_numpy() if "estab" in wide else pd.NA,
        "listed_estab_close_wait": int(listed["state"].isin(["ESTABLISHED", "CLOSE_WAIT"]).sum()),
        "ss_s_timewait": wide["timewait"].to_numpy() if "timewait" in wide else pd.NA,
        "listed_time_wait": int(listed["state"].eq("TIME_WAIT").sum()),
        "listing_inputs": int(listed["input"].nunique()),
    })
    return {"socket_totals": out}


def _snapshot_tables(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """states, listeners, processes, remotes: the latest snapshot of each input."""
    tables: dict[str, pd.DataFrame] = {}
    latest = df[df["latest"]]
    st = latest.groupby(["proto", "state"], sort=False).size().rename("count")
    rows = df.groupby(["proto", "state"], sort=False).size().rename("rows")
    states = pd.concat([st, rows], axis=1).fillna(0).astype("int64").reset_index()
    states["_o"] = states["state"].map({s: i for i, s in enumerate(STATES)}).fillna(len(STATES))
    tables["states"] = states.sort_values(["proto", "_o"]).drop(columns="_o").reset_index(drop=True)

    lis = socket_rows.listeners(latest)
    if len(lis):
        on_port = latest[~latest["state"].eq("LISTEN")].merge(
            lis[["input", "proto", "src_port", "listener"]].drop_duplicates(["input", "proto", "src_port"]),
            on=["input", "proto", "src_port"])
        base = lis[["input", "proto", "listener", "process", "pid", "send_q"]].rename(columns={"send_q": "backlog"})
        if len(on_port):
            counts = _state_columns(on_port, ["input", "proto", "listener"])
            base = base.merge(counts, on=["input", "proto", "listener"], how="left")
        counted = [c for c in base.columns if c in STATES or c == "sockets"]
        base[counted] = base[counted].fillna(0).astype("int64")
        tables["listeners"] = base.reset_index(drop=True)

    owned = latest[latest["pid"].notna() | latest["process"].notna()]
    if len(owned):
        procs = _state_columns(owned.assign(process=owned["process"].astype(object).fillna("?"),
                                            pid=owned["pid"].astype("Int64").astype("string").fillna("-").astype(str)),
                               ["process", "pid"])
        tables["processes"] = procs.sort_values("sockets", ascending=False, kind="stable").reset_index(drop=True)

    remote = latest[~latest["dst_addr"].isin(socket_rows.WILDCARDS) & ~latest["state"].isin(["LISTEN", "BOUND"])]
    if len(remote):
        rem = _state_columns(remote.rename(columns={"dst_addr": "remote_host"}), ["remote_host"])
        rem = rem.sort_values("sockets", ascending=False, kind="stable").head(TOP).reset_index(drop=True)
        tables["remotes"] = rem
    return tables


def _timeline_tables(tl: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """timelines (per input) and socket_timelines (the sockets that moved or sit in a closing state)."""
    tables: dict[str, pd.DataFrame] = {}
    g = tl.groupby(tl["input"].astype(str), sort=False)
    tables["timelines"] = pd.DataFrame({
        "snapshots": g["snapshots_total"].max(),
        "sockets": g.size(),
        "appeared": g["appeared"].sum(),
        "vanished": g["vanished"].sum(),
        "changed_state": g["changed"].sum(),
        "stuck": g["stuck"].sum() if "stuck" in tl else 0,
        "in_every_snapshot": (tl["snapshots_seen"] == tl["snapshots_total"]).groupby(tl["input"].astype(str)).sum(),
    }).rename_axis("input").reset_index()
    moving = tl[tl["changed"] | tl["last_state"].isin(["CLOSE_WAIT", "FIN_WAIT_1", "FIN_WAIT_2", "LAST_ACK", "CLOSING", "SYN_RECEIVED", "SYN_SENT"])]
    moving = moving.sort_values(["last_state_sightings", "last_state_s"], ascending=False, kind="stable").head(TOP)
    cols = ["input", "proto", "src_addr", "src_port", "dst_addr", "dst_port", "pid", "states",
            "state_times", "snapshots_seen", "vanished", "close_kind"]
    tables["socket_timelines"] = moving[cols].reset_index(drop=True)
    return tables


def _counter_tables(counters: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """counters: the notable kernel counters with their meaning."""
    tables: dict[str, pd.DataFrame] = {}
    interesting = counters[counters["counter"].isin(list(_COUNTERS))]
    if len(interesting):
        t = interesting[["input", "group", "counter", "readings", "value_first", "value_last", "delta"]].copy()
        t["meaning"] = t["counter"].map(_COUNTERS)
        tables["counters"] = t.reset_index(drop=True)
    return tables


#: Kernel counters worth showing beside socket findings, with what they count.
_COUNTERS: dict[str, str] = {
    "ListenOverflows": "accept queue full: a completed connection was dropped",
    "ListenDrops": "SYNs to LISTEN sockets dropped (includes overflows)",
    "SyncookiesSent": "SYN queue full: answered with a SYN cookie",
    "SyncookiesRecv": "valid SYN cookies returned by clients",
    "SyncookiesFailed": "invalid SYN cookies received",
    "TCPReqQFullDrop": "SYNs dropped because the SYN queue was full and cookies were off",
    "TCPReqQFullDoCookies": "SYN queue full, cookie sent",
    "EmbryonicRsts": "RSTs received for SYN_RECV sockets",
    "TCPTimeouts": "retransmission timeouts",
    "RetransSegs": "segments retransmitted",
    "OutSegs": "segments sent",
    "InSegs": "segments received",
    "ActiveOpens": "connections opened by this host",
    "PassiveOpens": "connections accepted by this host",
    "AttemptFails": "connection attempts that failed",
    "EstabResets": "established connections reset",
    "OutRsts": "RSTs sent",
    "CurrEstab": "connections currently ESTABLISHED or CLOSE_WAIT (a gauge)",
    "TCPAbortOnTimeout": "connections aborted after too many retransmissions",
    "TCPAbortOnData": "connections reset because data arrived after close",
    "TCPTimeWaitOverflow": "TIME_WAIT sockets not created (tcp_max_tw_buckets reached)",
    # conntrack (group Conntrack) and ss -s (group SsSummary)
    "count": "conntrack: entries in the table (nf_conntrack_count, conntrack -C)",
    "max": "conntrack: nf_conntrack_max, the table's size",
    "drop": "conntrack -S: packets dropped, the table full",
    "early_drop": "conntrack -S: entries evicted early to make room",
    "insert_failed": "conntrack -S: entries that could not be inserted",
    "estab": "ss -s: TCP sockets ESTABLISHED or CLOSE_WAIT (CurrEstab)",
    "timewait": "ss -s: TCP sockets in TIME_WAIT",
}
