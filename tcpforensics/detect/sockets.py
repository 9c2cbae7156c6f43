"""Socket-table diagnoses: an ordered rule table from socket snapshots and kernel counters to findings."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tcpforensics.config import Config, register_defaults
from tcpforensics.detect import findings
from tcpforensics.detect import socketframe as sf
from tcpforensics.detect.socket_counters import counter_rule, counter_signals, retransmissions
from tcpforensics.detect.socket_tables import summary_tables
from tcpforensics.detect.socket_text import finish
from tcpforensics.detect.socketframe import Context
from tcpforensics.reconstruct.evidence import SocketEvidence

# --- thresholds (reasoning for every default: docs/detection-sockets.md) ---------------------
THRESHOLDS: dict[str, float | int] = {
    # SYN_RECEIVED per listener, peak snapshot. Linux caps the SYN queue at the listen backlog
    # (min(backlog, net.core.somaxconn); somaxconn 128 before 5.4, 4096 since): 128 fills the
    # old default, 512 the common application backlog 511 (nginx, redis, apache).
    "syn_recv_low": 10, "syn_recv_medium": 50, "syn_recv_high": 128, "syn_recv_critical": 512,
    "syn_flood_spoof_min_sources": 10,  # distinct sources before spoofing can be judged
    "syn_flood_spoof_max_per_source": 2,  # half-open entries per spoofed source (SYN + retry)
    "syn_flood_spoof_share": 0.9,  # share of sources with at most that many entries
    # SYN_SENT per owner: unanswered connects live ~127 s (tcp_syn_retries 6: 1+2+...+64 s).
    "syn_sent_low": 10, "syn_sent_medium": 30, "syn_sent_high": 100,
    "syn_sent_scan_targets": 10,  # distinct destination host:port that make a pile look like a scan
    "syn_sent_upstream_share": 0.8,  # one destination this share of the pile: an unreachable upstream
    # CLOSE_WAIT per owner: the kernel never times CLOSE_WAIT out; each holds a descriptor and
    # the default soft RLIMIT_NOFILE is 1024.
    "close_wait_low": 5, "close_wait_medium": 20, "close_wait_high": 100, "close_wait_critical": 1000,
    # FIN_WAIT_2 per owner: orphans expire after tcp_fin_timeout (60 s); a pile means peers that
    # never close (their own CLOSE_WAIT leak) or half-closed sockets the application keeps.
    "fin_wait_2_low": 20, "fin_wait_2_medium": 100, "fin_wait_2_high": 1000,
    # LAST_ACK per owner: waiting for the last ACK; the FIN is retransmitted for
    # tcp_orphan_retries (default 0 = 8 tries), so a pile means peers that vanished.
    "last_ack_low": 10, "last_ack_medium": 50, "last_ack_high": 500,
    # TIME_WAIT per (local addr, remote addr:port) against the ephemeral range
    # (net.ipv4.ip_local_port_range default 32768-60999 = 28232 ports).
    "ephemeral_port_low": 32768, "ephemeral_port_high": 60999,
    "time_wait_fraction_low": 0.10, "time_wait_fraction_medium": 0.25,
    "time_wait_fraction_high": 0.50, "time_wait_fraction_critical": 0.90,
    # ESTABLISHED connections held by one remote host.
    "remote_established_low": 100, "remote_established_medium": 500, "remote_established_high": 2000,
    # stuck: the same socket in the same state longer than the kernel would keep it there.
    "stuck_min_sightings": 3,  # without timestamps: seen in that state in this many sightings
    "stuck_syn_sent_s": 127, "stuck_syn_received_s": 63, "stuck_fin_wait_1_s": 60,
    "stuck_fin_wait_2_s": 60, "stuck_close_wait_s": 60, "stuck_closing_s": 60, "stuck_last_ack_s": 60,
    "stuck_socket_low": 1, "stuck_socket_medium": 5, "stuck_socket_high": 50,
    # kernel counters (increase between readings; a single reading is since boot: low at most)
    "listen_overflow_medium": 1, "listen_overflow_high": 1000,
    "syn_cookies_medium": 1, "syn_cookies_high": 1000,
    "retrans_ratio_low": 0.01, "retrans_ratio_medium": 0.02, "retrans_ratio_high": 0.10,
    "retrans_min_segments": 1000,  # segments sent before a ratio means anything
}
register_defaults(THRESHOLDS)

STUCK_LIMITS: dict[str, str] = {
    "SYN_SENT": "stuck_syn_sent_s", "SYN_RECEIVED": "stuck_syn_received_s",
    "FIN_WAIT_1": "stuck_fin_wait_1_s", "FIN_WAIT_2": "stuck_fin_wait_2_s",
    "CLOSE_WAIT": "stuck_close_wait_s", "CLOSING": "stuck_closing_s", "LAST_ACK": "stuck_last_ack_s",
}


# --- the rule table ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Pile:
    """Sockets of one state counted per subject in the peak snapshot."""

    category: str
    state: str
    subject: str  # a column of socketframe.frame: listener, owner, dst_addr
    prefix: str  # threshold prefix: <prefix>_low ... <prefix>_critical


#   category                   state           subject      thresholds
PILES: tuple[Pile, ...] = (
    Pile("syn_flood",              "SYN_RECEIVED", "listener",  "syn_recv"),
    Pile("syn_sent_pile",          "SYN_SENT",     "owner",     "syn_sent"),
    Pile("close_wait_leak",        "CLOSE_WAIT",   "owner",     "close_wait"),
    Pile("fin_wait_2_pile",        "FIN_WAIT_2",   "owner",     "fin_wait_2"),
    Pile("last_ack_pile",          "LAST_ACK",     "owner",     "last_ack"),
    Pile("remote_connection_pile", "ESTABLISHED",  "dst_addr",  "remote_established"),
)


def _pile(ctx: Context, pile: Pile) -> pd.DataFrame:
    """Count sockets of ``pile.state`` per subject in the worst snapshot; details per category."""
    df = ctx.df
    rows = df[df["state"].eq(pile.state) & ~df["dst_addr"].isin(sf.WILDCARDS)]
    if pile.subject == "listener":
        rows = rows.assign(listener=_listener_subject(df, rows))
    if rows.empty:
        return pd.DataFrame()
    by = ["input", pile.subject]
    pk = sf.peak(rows, by)
    pk["severity"] = sf.ladder(pk["count"], ctx.levels(pile.prefix))
    pk = pk[pk["severity"].notna()]
    if pk.empty:
        return pd.DataFrame()
    at_peak = rows.merge(pk[by + ["snapshot"]], on=by + ["snapshot"])
    out = _base(pile.category, pk.rename(columns={pile.subject: "subject"}), at_peak.rename(columns={pile.subject: "subject"}), rows.rename(columns={pile.subject: "subject"}))
    extra = DETAILS[pile.category](ctx, at_peak.rename(columns={pile.subject: "subject"}), out)
    return extra


def _listener_subject(df: pd.DataFrame, rows: pd.DataFrame) -> pd.Series:
    """The listener a SYN_RECEIVED socket waits on: the LISTEN socket on its local port (first
    one when several), else '*:port' (the dump did not show listeners)."""
    lis = sf.listeners(df)
    key = rows["input"] + "|" + rows["proto"] + "|" + rows["src_port"].astype("Int64").astype("string").fillna("-").astype(str)
    lkey = lis["input"] + "|" + lis["proto"] + "|" + lis["src_port"].astype("Int64").astype("string").fillna("-").astype(str)
    table = pd.Series(lis["listener"].to_numpy(), index=lkey.to_numpy())
    table = table[~table.index.duplicated()]
    fallback = "*:" + rows["src_port"].astype("Int64").astype("string").fillna("-").astype(str)
    found = key.map(table).astype(object)  # all NaN (float) when no listener is known (F16)
    return found.where(found.notna(), fallback.astype(object))


def _base(category: str, pk: pd.DataFrame, at_peak: pd.DataFrame, all_rows: pd.DataFrame) -> pd.DataFrame:
    """Finding skeleton: subject, count, severity, evidence (peak snapshot), first/last seen."""
    by = ["input", "subject"]
    ev = sf.refs(at_peak, by)
    seen = all_rows.groupby(by, sort=False).agg(first_seen=("ts", "min"), last_seen=("ts", "max")).reset_index()
    out = pk.merge(ev, on=by, how="left").merge(seen, on=by, how="left")
    out["category"] = category
    return out


def _top(rows: pd.DataFrame, by: list[str], column: str, name: str) -> pd.DataFrame:
    """Most frequent value of ``column`` per group, its count and share, and distinct values."""
    cnt = rows.groupby(by + [column], sort=False, dropna=False).size().rename("n").reset_index()
    cnt = cnt.sort_values(by + ["n"], ascending=[True] * len(by) + [False], kind="stable")
    first = cnt.drop_duplicates(by, keep="first").set_index(by)
    total = rows.groupby(by, sort=False).size()
    distinct = rows.groupby(by, sort=False)[column].nunique()
    return pd.DataFrame({
        f"top_{name}": first[column].astype(str),
        f"top_{name}_count": first["n"],
        f"top_{name}_share": (first["n"] / total).round(3),
        f"distinct_{name}s": distinct,
    })


# --- per-category details (vectorized over the findings of a category) ----------------------
def _syn_flood_details(ctx: Context, at_peak: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    by = ["input", "subject"]
    per_src = at_peak.groupby(by + ["dst_addr"], sort=False).size().rename("n").reset_index()
    few = per_src["n"] <= ctx.config.get("syn_flood_spoof_max_per_source")
    g = per_src.assign(few=few).groupby(by, sort=False)
    d = pd.DataFrame({
        "distinct_sources": g["dst_addr"].nunique(),
        "max_per_source": g["n"].max(),
        "share_sources_few": g["few"].mean().round(3),
    })
    d["distinct_prefixes"] = at_peak.assign(pfx=sf.prefix(at_peak["dst_addr"])).groupby(by, sort=False)["pfx"].nunique()
    top = _top(at_peak, by, "dst_addr", "source")[["top_source", "top_source_count", "top_source_share"]]
    out = out.merge(d.join(top).reset_index(), on=by, how="left")
    out["spoofing_likely"] = (out["distinct_sources"] >= ctx.config.get("syn_flood_spoof_min_sources")) & (
        out["share_sources_few"] >= ctx.config.get("syn_flood_spoof_share"))
    out["scattered_prefixes"] = (out["distinct_prefixes"] / out["distinct_sources"]) >= 0.5
    few_each = out["max_per_source"] <= ctx.config.get("syn_flood_spoof_max_per_source")
    out["pattern"] = np.select(
        [out["distinct_sources"].eq(1), out["spoofing_likely"], out["top_source_share"] >= 0.8, few_each],
        ["single source", "many sources, one or two entries each (spoofing likely)", "one dominant source",
         "a few sources, one or two entries each (too few to judge spoofing)"],
        default="many sources with several entries each (distributed)",
    )
    out["pattern_text"] = np.select(
        [out["distinct_sources"].eq(1), out["spoofing_likely"], few_each],
        ["All from one source (" + out["top_source"] + "): a single-source flood or one broken client; block or rate-limit it.",
         out["distinct_sources"].astype(str) + " distinct sources in " + out["distinct_prefixes"].astype(str)
         + " prefixes with one or two entries each: the pattern of spoofed source addresses (" +
         np.where(out["scattered_prefixes"], "scattered", "clustered") + ").  Filtering by source will not help; SYN cookies and upstream filtering will.",
         out["distinct_sources"].astype(str) + " distinct sources with one or two entries each: too few to "
         "tell spoofed sources from a burst of real clients."],
        default=out["distinct_sources"].astype(str) + " distinct sources (top " + out["top_source"] + " with "
        + out["top_source_count"].astype(str) + "): a distributed flood or a legitimate burst the backlog cannot absorb.",
    )
    # the listener's backlog (ss prints it as Send-Q of a LISTEN socket): queue full is worse
    lis = sf.listeners(ctx.df).drop_duplicates(["input", "listener"])
    lis = lis[lis["send_q"].astype("Float64").fillna(0) > 0]  # netstat prints 0: unknown
    backlog = pd.Series(lis["send_q"].to_numpy(), index=(lis["input"] + "|" + lis["listener"]).to_numpy())
    out["listener_backlog"] = (out["input"] + "|" + out["subject"]).map(backlog)
    full = (out["listener_backlog"].astype("Float64") > 0) & (out["count"] >= out["listener_backlog"].astype("Float64"))
    out["severity"] = sf.bump(out["severity"], to_at_least=pd.Series(np.where(full.fillna(False), "high", "info"), index=out.index))
    # kernel counters from the same run strengthen the finding
    sig = counter_signals(ctx.counters, ("SyncookiesSent", "ListenOverflows", "ListenDrops"))
    if sig:
        out["kernel_counters"] = [sig] * len(out)
        if any(v.get("delta", 0) for v in sig.values()):
            out["severity"] = sf.bump(out["severity"], by=1)
    out["port"] = out["subject"].str.rsplit(":", n=1).str[-1]
    return finish(out, ["distinct_sources", "distinct_prefixes", "max_per_source", "top_source",
                         "top_source_count", "spoofing_likely", "pattern", "listener_backlog", "kernel_counters"])


def _syn_sent_details(ctx: Context, at_peak: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    by = ["input", "subject"]
    g = at_peak.groupby(by, sort=False)
    d = pd.DataFrame({"distinct_hosts": g["dst_addr"].nunique(), "distinct_ports": g["dst_port"].nunique()})
    d = d.join(_top(at_peak, by, "remote", "target"))
    out = out.merge(d.reset_index(), on=by, how="left")
    scan_n = ctx.config.get("syn_sent_scan_targets")
    scan = out["distinct_targets"] >= scan_n
    upstream = out["top_target_share"] >= ctx.config.get("syn_sent_upstream_share")
    out["pattern"] = np.select(
        [scan & (out["distinct_ports"] >= scan_n) & (out["distinct_hosts"] < scan_n),
         scan & (out["distinct_hosts"] >= scan_n) & (out["distinct_ports"] < scan_n),
         scan, upstream],
        ["port scan of few hosts", "address sweep over many hosts", "scan over many hosts and ports",
         "one unreachable destination"],
        default="several unreachable destinations",
    )
    out["pattern_text"] = np.where(
        scan,
        "Attempts go to " + out["distinct_targets"].astype(str) + " different destinations ("
        + out["distinct_hosts"].astype(str) + " hosts, " + out["distinct_ports"].astype(str)
        + " ports): outbound scanning, from a compromised host, a worm, or an administrator's scanner.",
        "Most attempts go to " + out["top_target"] + " (" + out["top_target_count"].astype(str)
        + "): that destination is down, filtered (a firewall silently dropping SYNs), or unroutable.",
    )
    out["next_text"] = np.where(
        scan,
        "Identify the process making the connections (ss -tnp state syn-sent) and whether the scan is sanctioned; isolate the host if not.",
        "Check the destination: is the service up, does a firewall drop SYNs (no RST comes back), is the route there? Retry storms in the client make it worse.",
    )
    out["severity"] = sf.bump(out["severity"], to_at_least=pd.Series(np.where(scan, "high", "info"), index=out.index))
    return finish(out, ["distinct_targets", "distinct_hosts", "distinct_ports", "top_target", "top_target_count", "pattern"])


def _remote_details(ctx: Context, at_peak: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    by = ["input", "subject"]
    g = at_peak.groupby(by, sort=False)
    d = _top(at_peak, by, "remote", "remote").join(_top(at_peak, by, "local", "local_endpoint")[["top_local_endpoint", "distinct_local_endpoints"]])
    d["distinct_remote_hosts"] = g["dst_addr"].nunique()
    d["unread_bytes"] = g["recv_q"].sum(min_count=1)
    d["unsent_bytes"] = g["send_q"].sum(min_count=1)
    # orphaned (no owning process) only means something where the dump shows owners at all
    # (ss -p, netstat -p/-o); without them every socket would look orphaned
    shows_owner = ctx.df.groupby("input", sort=False)["pid"].apply(lambda s: bool(s.notna().any()))
    orphaned = at_peak["pid"].isna().groupby([at_peak[c] for c in by], sort=False).sum().astype("Int64")
    known = orphaned.index.get_level_values("input").map(shows_owner).to_numpy(dtype=bool, na_value=False)
    d["orphaned"] = orphaned.where(known)
    out = out.merge(d.reset_index(), on=by, how="left")
    return finish(out, ["distinct_remote_hosts", "top_remote", "top_remote_count", "top_local_endpoint",
                         "distinct_local_endpoints", "unread_bytes", "unsent_bytes", "orphaned"])


def _local_details(ctx: Context, at_peak: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    by = ["input", "subject"]
    d = _top(at_peak, by, "local", "local_endpoint")
    d["distinct_local_ports"] = at_peak.groupby(by, sort=False)["src_port"].nunique()
    d["loopback"] = sf.is_loopback(pd.Series(d.index.get_level_values("subject"), index=d.index))
    d = d.join(_top(at_peak.assign(owner=at_peak["owner"].astype(str)), by, "owner", "owner")[["top_owner"]])
    out = out.merge(d.reset_index(), on=by, how="left")
    return finish(out, ["distinct_local_ports", "top_local_endpoint", "top_local_endpoint_count", "top_owner", "loopback"])


DETAILS: dict[str, Callable[[Context, pd.DataFrame, pd.DataFrame], pd.DataFrame]] = {
    "syn_flood": _syn_flood_details,
    "syn_sent_pile": _syn_sent_details,
    "close_wait_leak": _remote_details,
    "fin_wait_2_pile": _remote_details,
    "last_ack_pile": _remote_details,
    "remote_connection_pile": _local_details,
}


# --- rules that are not simple piles ---------------------------------------------------------
def _time_wait(ctx: Context) -> pd.DataFrame:
    """TIME_WAIT per (local addr, remote addr:port) against the ephemeral port range."""
    df = ctx.df
    lo, hi = int(ctx.config.get("ephemeral_port_low")), int(ctx.config.get("ephemeral_port_high"))
    size = max(hi - lo + 1, 1)
    port = df["src_port"].astype("Float64")
    in_range = ((port >= lo) & (port <= hi)).fillna(False).astype(bool)
    rows = df[df["state"].eq("TIME_WAIT") & in_range & ~df["dst_addr"].isin(sf.WILDCARDS)]
    if rows.empty:
        return pd.DataFrame()
    rows = rows.rename(columns={"remote": "subject"})
    by = ["input", "src_addr", "subject"]
    pk = sf.peak(rows, by)
    pk["fraction"] = pk["count"] / size
    pk["severity"] = sf.ladder(pk["fraction"], ctx.levels("time_wait_fraction"))
    pk = pk[pk["severity"].notna()]
    if pk.empty:
        return pd.DataFrame()
    # the tuple's ports held in any state at the peak (ESTABLISHED ones count against the range too)
    tuple_rows = df[in_range].rename(columns={"remote": "subject"})
    used = tuple_rows.groupby(by + ["snapshot"], sort=False).size().rename("ports_in_use").reset_index()
    pk = pk.merge(used, on=by + ["snapshot"], how="left")
    at_peak = rows.merge(pk[by + ["snapshot"]], on=by + ["snapshot"])
    out = _base("time_wait_exhaustion", pk, at_peak.drop(columns=["src_addr"]).assign(src_addr=at_peak["src_addr"]), rows)
    out = out.rename(columns={"src_addr": "local_addr"})
    out["range_size"] = size
    out["port_range"] = f"{lo}-{hi}"
    out["fraction"] = out["fraction"].round(4)
    out["fraction_pct"] = (out["fraction"] * 100).round(1).astype(str) + "%"
    return finish(out, ["local_addr", "fraction", "ports_in_use", "range_size", "port_range"])


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


def _stuck(ctx: Context) -> pd.DataFrame:
    """Sockets seen in one closing state across snapshots for longer than its kernel timer."""
    tl = ctx.timelines
    stuck = tl[tl["stuck"]] if len(tl) else tl
    if stuck.empty:
        return pd.DataFrame()
    owner_of = pd.Series(ctx.df["owner"].to_numpy(), index=ctx.df["ref"].to_numpy())
    owner_of = owner_of[~owner_of.index.duplicated()]
    local = sf.endpoint(stuck["src_addr"].astype(object), stuck["src_port"])
    remote = sf.endpoint(stuck["dst_addr"].astype(object), stuck["dst_port"])
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
    out = out.merge(st_txt, on=by).merge(examples, on=by).merge(sf.refs(s, by), on=by)
    out["severity"] = sf.ladder(out["count"], ctx.levels("stuck_socket"))
    out = out[out["severity"].notna()]
    out["category"] = "stuck_socket"
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


def _unexpected_listeners(ctx: Context) -> pd.DataFrame:
    """LISTEN sockets that no allow-list entry matches (only when an allow-list is given)."""
    if ctx.config.expected_listeners is None:
        return pd.DataFrame()
    lis = sf.listeners(ctx.df)
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
            m &= addr.eq(e_addr) | (addr.eq("*") & (e_addr in sf.WILDCARDS))
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
        "loopback": g["src_addr"].first().pipe(lambda s: sf.is_loopback(s)),
    }).reset_index().merge(sf.refs(bad, by), on=by)
    out["severity"] = np.where(out["loopback"], "low", "medium")
    out["category"] = "unexpected_listener"
    out["allow_list"] = [list(ctx.config.expected_listeners)] * len(out)
    return finish(out, ["process", "loopback", "allow_list"])


#   category                   rule (each returns the finding rows of its category)
RULES: tuple[tuple[str, Callable[[Context], pd.DataFrame]], ...] = (
    ("syn_flood",              lambda ctx: _pile(ctx, PILES[0])),
    ("syn_sent_pile",          lambda ctx: _pile(ctx, PILES[1])),
    ("close_wait_leak",        lambda ctx: _pile(ctx, PILES[2])),
    ("fin_wait_2_pile",        lambda ctx: _pile(ctx, PILES[3])),
    ("last_ack_pile",          lambda ctx: _pile(ctx, PILES[4])),
    ("stuck_socket",           _stuck),
    ("time_wait_exhaustion",   _time_wait),
    ("remote_connection_pile", lambda ctx: _pile(ctx, PILES[5])),
    ("unexpected_listener",    _unexpected_listeners),
    ("listen_overflow",        lambda ctx: counter_rule(ctx, "listen_overflow", ("ListenOverflows", "ListenDrops"), "listen_overflow")),
    ("syn_cookies",            lambda ctx: counter_rule(ctx, "syn_cookies", ("SyncookiesSent",), "syn_cookies")),
    ("retransmissions",        retransmissions),
)


def diagnose(evidence: SocketEvidence, config: Config) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Findings (not yet deduplicated) and summary tables from socket timelines and counters."""
    df = sf.frame(evidence.events)
    tl = evidence.timelines.assign(stuck=stuck_mask(evidence.timelines, config))
    ctx = Context(df=df, timelines=tl, counters=evidence.counters, config=config)
    parts = [p.assign(measure="peak") for _, rule in RULES if len(p := rule(ctx))]
    found = findings.to_frame(pd.concat(parts, ignore_index=True) if parts else [])
    return found, summary_tables(df, tl, evidence.counters, config)
