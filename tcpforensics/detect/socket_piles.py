"""Socket piles: sockets of one state counted per subject in the worst snapshot, graded by a
threshold ladder, with the details of each kind of pile (docs/detection-sockets.md).

A :class:`Pile` is the finder of one row of ``sockets.RULES``; ``time_wait`` counts TIME_WAIT
sockets against the ephemeral port range. The SYN flood and SYN_SENT piles tell their pattern by
ordered rule tables (label, condition, explanation), first match wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from tcpforensics.detect import socket_rows
from tcpforensics.detect.socket_counters import counter_signals
from tcpforensics.detect.socket_rows import Context
from tcpforensics.detect.socket_text import by_rules, finish
from tcpforensics.reconstruct.rules import Predicate, always

Details = Callable[[Context, pd.DataFrame, pd.DataFrame], pd.DataFrame]
BY = ["input", "subject"]


@dataclass(frozen=True)
class Pile:
    """Count sockets of ``state`` per ``subject`` (a column of ``socket_rows.frame``: listener,
    owner, dst_addr) in the peak snapshot; severity by the ladder ``<prefix>_low`` ...
    ``<prefix>_critical``; ``details`` adds what the category tells."""

    state: str
    subject: str
    prefix: str
    details: Details

    def __call__(self, ctx: Context, category: str) -> pd.DataFrame:
        df = ctx.df
        rows = df[df["state"].eq(self.state) & ~df["dst_addr"].isin(socket_rows.WILDCARDS)]
        if self.subject == "listener":
            rows = rows.assign(listener=_listener_subject(df, rows))
        if rows.empty:
            return pd.DataFrame()
        by = ["input", self.subject]
        pk = socket_rows.peak(rows, by)
        pk["severity"] = socket_rows.ladder(pk["count"], ctx.levels(self.prefix))
        pk = pk[pk["severity"].notna()]
        if pk.empty:
            return pd.DataFrame()
        at_peak = rows.merge(pk[by + ["snapshot"]], on=by + ["snapshot"])
        named = {self.subject: "subject"}
        out = skeleton(category, pk.rename(columns=named), at_peak.rename(columns=named), rows.rename(columns=named))
        return self.details(ctx, at_peak.rename(columns=named), out)


def _listener_subject(df: pd.DataFrame, rows: pd.DataFrame) -> pd.Series:
    """The listener a SYN_RECEIVED socket waits on: the LISTEN socket on its local port (first
    one when several), else '*:port' (the dump did not show listeners)."""
    lis = socket_rows.listeners(df)
    key = rows["input"] + "|" + rows["proto"] + "|" + rows["src_port"].astype("Int64").astype("string").fillna("-").astype(str)
    lkey = lis["input"] + "|" + lis["proto"] + "|" + lis["src_port"].astype("Int64").astype("string").fillna("-").astype(str)
    table = pd.Series(lis["listener"].to_numpy(), index=lkey.to_numpy())
    table = table[~table.index.duplicated()]
    fallback = "*:" + rows["src_port"].astype("Int64").astype("string").fillna("-").astype(str)
    found = key.map(table).astype(object)  # all NaN (float) when no listener is known
    return found.where(found.notna(), fallback.astype(object))


def skeleton(category: str, pk: pd.DataFrame, at_peak: pd.DataFrame, all_rows: pd.DataFrame) -> pd.DataFrame:
    """Finding skeleton: subject, count, severity, evidence (peak snapshot), first/last seen."""
    ev = socket_rows.refs(at_peak, BY)
    seen = all_rows.groupby(BY, sort=False).agg(first_seen=("ts", "min"), last_seen=("ts", "max")).reset_index()
    out = pk.merge(ev, on=BY, how="left").merge(seen, on=BY, how="left")
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


class Pattern(NamedTuple):
    """One pattern of a pile: its label, when it applies, the explanation it adds to the
    finding (a template filled from the finding's fields) and, for some, the next step."""

    label: str
    when: Predicate
    why: str
    next_step: str = ""


#: The pattern of a SYN flood's sources (first match wins; over the finding rows).
SYN_FLOOD_PATTERNS: tuple[Pattern, ...] = (
    Pattern("single source", lambda f: f["distinct_sources"].eq(1),
            "All from one source ({top_source}): a single-source flood or one broken client; block or rate-limit it."),
    Pattern("many sources, one or two entries each (spoofing likely)", lambda f: f["spoofing_likely"],
            "{distinct_sources} distinct sources in {distinct_prefixes} prefixes with one or two entries each: "
            "the pattern of spoofed source addresses ({spread}).  Filtering by source will not help; SYN "
            "cookies and upstream filtering will."),
    Pattern("one dominant source", lambda f: f["top_source_share"] >= 0.8,
            "{distinct_sources} distinct sources (top {top_source} with {top_source_count}): a distributed "
            "flood or a legitimate burst the backlog cannot absorb."),
    Pattern("a few sources, one or two entries each (too few to judge spoofing)", lambda f: f["few_each"],
            "{distinct_sources} distinct sources with one or two entries each: too few to tell spoofed "
            "sources from a burst of real clients."),
    Pattern("many sources with several entries each (distributed)", always,
            "{distinct_sources} distinct sources (top {top_source} with {top_source_count}): a distributed "
            "flood or a legitimate burst the backlog cannot absorb."),
)


def syn_flood_details(ctx: Context, at_peak: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    """Sources of the half-open connections (spread, spoofing), the listener's backlog and the
    kernel counters that raise the severity."""
    few_max = ctx.config.get("syn_flood_spoof_max_per_source")
    per_src = at_peak.groupby(BY + ["dst_addr"], sort=False).size().rename("n").reset_index()
    g = per_src.assign(few=per_src["n"] <= few_max).groupby(BY, sort=False)
    d = pd.DataFrame({
        "distinct_sources": g["dst_addr"].nunique(),
        "max_per_source": g["n"].max(),
        "share_sources_few": g["few"].mean().round(3),
    })
    d["distinct_prefixes"] = at_peak.assign(pfx=socket_rows.prefix(at_peak["dst_addr"])).groupby(BY, sort=False)["pfx"].nunique()
    top = _top(at_peak, BY, "dst_addr", "source")[["top_source", "top_source_count", "top_source_share"]]
    out = out.merge(d.join(top).reset_index(), on=BY, how="left")
    out["spoofing_likely"] = (out["distinct_sources"] >= ctx.config.get("syn_flood_spoof_min_sources")) & (
        out["share_sources_few"] >= ctx.config.get("syn_flood_spoof_share"))
    scattered = (out["distinct_prefixes"] / out["distinct_sources"]) >= 0.5
    out["spread"] = np.where(scattered, "scattered", "clustered")
    out["few_each"] = out["max_per_source"] <= few_max
    by_rules(out, SYN_FLOOD_PATTERNS, pattern="label", pattern_text="why")
    # the listener's backlog (ss prints it as Send-Q of a LISTEN socket): queue full is worse
    lis = socket_rows.listeners(ctx.df).drop_duplicates(["input", "listener"])
    lis = lis[lis["send_q"].astype("Float64").fillna(0) > 0]  # netstat prints 0: unknown
    backlog = pd.Series(lis["send_q"].to_numpy(), index=(lis["input"] + "|" + lis["listener"]).to_numpy())
    out["listener_backlog"] = (out["input"] + "|" + out["subject"]).map(backlog)
    full = (out["listener_backlog"].astype("Float64") > 0) & (out["count"] >= out["listener_backlog"].astype("Float64"))
    out["severity"] = socket_rows.bump(out["severity"], to_at_least=pd.Series(np.where(full.fillna(False), "high", "info"), index=out.index))
    # kernel counters from the same run strengthen the finding
    sig = counter_signals(ctx.counters, ("SyncookiesSent", "ListenOverflows", "ListenDrops"))
    if sig:
        out["kernel_counters"] = [sig] * len(out)
        if any(v.get("delta", 0) for v in sig.values()):
            out["severity"] = socket_rows.bump(out["severity"], by=1)
    out["port"] = out["subject"].str.rsplit(":", n=1).str[-1]
    return finish(out, ["distinct_sources", "distinct_prefixes", "max_per_source", "top_source",
                        "top_source_count", "spoofing_likely", "pattern", "listener_backlog", "kernel_counters"])


_SCAN_WHY = ("Attempts go to {distinct_targets} different destinations ({distinct_hosts} hosts, {distinct_ports} "
             "ports): outbound scanning, from a compromised host, a worm, or an administrator's scanner.")
_SCAN_NEXT = ("Identify the process making the connections (ss -tnp state syn-sent) and whether the scan is "
              "sanctioned; isolate the host if not.")
_DOWN_WHY = ("Most attempts go to {top_target} ({top_target_count}): that destination is down, filtered (a "
             "firewall silently dropping SYNs), or unroutable.")
_DOWN_NEXT = ("Check the destination: is the service up, does a firewall drop SYNs (no RST comes back), is the "
              "route there? Retry storms in the client make it worse.")

#: The pattern of a SYN_SENT pile's destinations (first match wins; ``scan``: at least
#: ``scan_n`` = syn_sent_scan_targets destinations; ``upstream``: one destination holds at
#: least syn_sent_upstream_share of the attempts).
SYN_SENT_PATTERNS: tuple[Pattern, ...] = (
    Pattern("port scan of few hosts",
            lambda f: f["scan"] & (f["distinct_ports"] >= f["scan_n"]) & (f["distinct_hosts"] < f["scan_n"]),
            _SCAN_WHY, _SCAN_NEXT),
    Pattern("address sweep over many hosts",
            lambda f: f["scan"] & (f["distinct_hosts"] >= f["scan_n"]) & (f["distinct_ports"] < f["scan_n"]),
            _SCAN_WHY, _SCAN_NEXT),
    Pattern("scan over many hosts and ports", lambda f: f["scan"], _SCAN_WHY, _SCAN_NEXT),
    Pattern("one unreachable destination", lambda f: f["upstream"], _DOWN_WHY, _DOWN_NEXT),
    Pattern("several unreachable destinations", always, _DOWN_WHY, _DOWN_NEXT),
)


def syn_sent_details(ctx: Context, at_peak: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    """Destinations of the attempts: a scan (raised to at least high) or an unreachable upstream."""
    g = at_peak.groupby(BY, sort=False)
    d = pd.DataFrame({"distinct_hosts": g["dst_addr"].nunique(), "distinct_ports": g["dst_port"].nunique()})
    d = d.join(_top(at_peak, BY, "remote", "target"))
    out = out.merge(d.reset_index(), on=BY, how="left")
    out["scan_n"] = ctx.config.get("syn_sent_scan_targets")
    out["scan"] = out["distinct_targets"] >= out["scan_n"]
    out["upstream"] = out["top_target_share"] >= ctx.config.get("syn_sent_upstream_share")
    by_rules(out, SYN_SENT_PATTERNS, pattern="label", pattern_text="why", next_text="next_step")
    out["severity"] = socket_rows.bump(out["severity"], to_at_least=pd.Series(np.where(out["scan"], "high", "info"), index=out.index))
    return finish(out, ["distinct_targets", "distinct_hosts", "distinct_ports", "top_target", "top_target_count", "pattern"])


def remote_details(ctx: Context, at_peak: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    """The peers of the pile, unread and unsent bytes, and sockets no process owns."""
    return _remote(ctx, at_peak, out, [])


def _remote(ctx: Context, at_peak: pd.DataFrame, out: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
    g = at_peak.groupby(BY, sort=False)
    d = _top(at_peak, BY, "remote", "remote").join(_top(at_peak, BY, "local", "local_endpoint")[["top_local_endpoint", "distinct_local_endpoints"]])
    d["distinct_remote_hosts"] = g["dst_addr"].nunique()
    d["unread_bytes"] = g["recv_q"].sum(min_count=1)
    d["unsent_bytes"] = g["send_q"].sum(min_count=1)
    # orphaned (no owning process) only means something where the dump shows owners at all
    # (ss -p, netstat -p/-o); without them every socket would look orphaned
    shows_owner = ctx.df.groupby("input", sort=False)["pid"].apply(lambda s: bool(s.notna().any()))
    orphaned = at_peak["pid"].isna().groupby([at_peak[c] for c in BY], sort=False).sum().astype("Int64")
    known = orphaned.index.get_level_values("input").map(shows_owner).to_numpy(dtype=bool, na_value=False)
    d["orphaned"] = orphaned.where(known)
    out = out.merge(d.reset_index(), on=BY, how="left")
    return finish(out, ["distinct_remote_hosts", "top_remote", "top_remote_count", "top_local_endpoint",
                        "distinct_local_endpoints", "unread_bytes", "unsent_bytes", "orphaned", *extra])


#: What the creation times of a CLOSE_WAIT pile tell (first match wins; ``created_span_s``:
#: seconds between the first and the last socket's creation, NA where the input has no
#: creation times; thresholds close_wait_leak_span_s and close_wait_burst_span_s).
CLOSE_WAIT_AGE_PATTERNS: tuple[Pattern, ...] = (
    Pattern("creation times unknown", lambda f: f["created_span_s"].isna(), ""),
    Pattern("slow leak", lambda f: f["created_span_s"] >= f["leak_s"],
            "The sockets were created over {created_span} ({created_first} to {created_last}): they piled "
            "up a few at a time, the mark of a slow leak that grows with the traffic until the process runs "
            "out of descriptors or is restarted."),
    Pattern("one burst", lambda f: f["created_span_s"] <= f["burst_s"],
            "The sockets were created within {created_span} (from {created_first}): connections opened "
            "together whose peers all closed (a pool filled at once, a batch of requests that stalled), "
            "more likely one stuck worker than a steady leak."),
    Pattern("built up over minutes", always,
            "The sockets were created over {created_span} ({created_first} to {created_last})."),
)


def close_wait_details(ctx: Context, at_peak: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    """``remote_details`` and, where the input gives the sockets' creation times, their spread:
    a slow leak (raised to at least medium) or one burst."""
    g = at_peak.groupby(BY, sort=False)["created"]
    ages = pd.DataFrame({"first": g.min(), "last": g.max()}).reset_index()
    out = out.merge(ages, on=BY, how="left")
    span = (out["last"] - out["first"]).dt.total_seconds()
    out["created_span_s"] = span.round(0).astype("Int64")
    out["created_span"] = span.map(_duration)
    out["created_first"] = out["first"].dt.strftime("%Y-%m-%d %H:%M:%S")
    out["created_last"] = out["last"].dt.strftime("%Y-%m-%d %H:%M:%S")
    out["leak_s"] = ctx.config.get("close_wait_leak_span_s")
    out["burst_s"] = ctx.config.get("close_wait_burst_span_s")
    by_rules(out, CLOSE_WAIT_AGE_PATTERNS, age_pattern="label", age_text="why")
    leak = out["age_pattern"].eq("slow leak")
    out["severity"] = socket_rows.bump(out["severity"], to_at_least=pd.Series(np.where(leak, "medium", "info"), index=out.index))
    out["age_pattern"] = out["age_pattern"].where(span.notna())
    return _remote(ctx, at_peak, out.drop(columns=["first", "last", "leak_s", "burst_s"]),
                   ["age_pattern", "created_first", "created_last", "created_span_s"])


def _duration(seconds: float) -> str:
    """'3 h 12 min', '14 min', '40 s' (NA: '')."""
    if pd.isna(seconds):
        return ""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 60} min" if s >= 60 else f"{s} s"


def local_details(ctx: Context, at_peak: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    """The local endpoints and owner the remote host holds connections to."""
    d = _top(at_peak, BY, "local", "local_endpoint")
    d["distinct_local_ports"] = at_peak.groupby(BY, sort=False)["src_port"].nunique()
    d["loopback"] = socket_rows.is_loopback(pd.Series(d.index.get_level_values("subject"), index=d.index))
    d = d.join(_top(at_peak.assign(owner=at_peak["owner"].astype(str)), BY, "owner", "owner")[["top_owner"]])
    out = out.merge(d.reset_index(), on=BY, how="left")
    return finish(out, ["distinct_local_ports", "top_local_endpoint", "top_local_endpoint_count", "top_owner", "loopback"])


def time_wait(ctx: Context, category: str) -> pd.DataFrame:
    """TIME_WAIT per (local addr, remote addr:port) against the ephemeral port range."""
    df = ctx.df
    lo, hi = int(ctx.config.get("ephemeral_port_low")), int(ctx.config.get("ephemeral_port_high"))
    size = max(hi - lo + 1, 1)
    port = df["src_port"].astype("Float64")
    in_range = ((port >= lo) & (port <= hi)).fillna(False).astype(bool)
    rows = df[df["state"].eq("TIME_WAIT") & in_range & ~df["dst_addr"].isin(socket_rows.WILDCARDS)]
    if rows.empty:
        return pd.DataFrame()
    rows = rows.rename(columns={"remote": "subject"})
    by = ["input", "src_addr", "subject"]
    pk = socket_rows.peak(rows, by)
    pk["fraction"] = pk["count"] / size
    pk["severity"] = socket_rows.ladder(pk["fraction"], ctx.levels("time_wait_fraction"))
    pk = pk[pk["severity"].notna()]
    if pk.empty:
        return pd.DataFrame()
    # the tuple's ports held in any state at the peak (ESTABLISHED ones count against the range too)
    tuple_rows = df[in_range].rename(columns={"remote": "subject"})
    used = tuple_rows.groupby(by + ["snapshot"], sort=False).size().rename("ports_in_use").reset_index()
    pk = pk.merge(used, on=by + ["snapshot"], how="left")
    at_peak = rows.merge(pk[by + ["snapshot"]], on=by + ["snapshot"])
    out = skeleton(category, pk, at_peak.drop(columns=["src_addr"]).assign(src_addr=at_peak["src_addr"]), rows)
    out = out.rename(columns={"src_addr": "local_addr"})
    out["range_size"] = size
    out["port_range"] = f"{lo}-{hi}"
    out["fraction"] = out["fraction"].round(4)
    out["fraction_pct"] = (out["fraction"] * 100).round(1).astype(str) + "%"
    return finish(out, ["local_addr", "fraction", "ports_in_use", "range_size", "port_range"])
