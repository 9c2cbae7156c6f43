"""The conntrack table's fill: how many entries against ``nf_conntrack_max``, and what fills it.

The finder of the ``conntrack_fill`` row of ``sockets.RULES``: per input with conntrack entries
(``conntrack -L``, ``/proc/net/nf_conntrack``) or conntrack counters (``conntrack -C`` / ``-S``,
``nf_conntrack_count``), the entries of its fullest listing against ``nf_conntrack_max`` (read
from the input, else from another input, else the ``conntrack_max`` threshold), graded by the
``conntrack_fill_*`` ladder and raised to high when the kernel counted drops. The composition
(states, ``[UNREPLIED]``, top sources and destinations, NAT) is told in TCP-state terms by the
first matching row of ``CONNTRACK_PATTERNS``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.config import register_defaults
from tcpforensics.detect import socket_rows
from tcpforensics.detect.socket_piles import Pattern
from tcpforensics.detect.socket_rows import Context
from tcpforensics.detect.socket_text import by_rules, finish
from tcpforensics.reconstruct.rules import always

THRESHOLDS: dict[str, float | int] = {
    # nf_conntrack_max when no input gives it: 65536 is the common distribution value (the
    # kernel sizes it from memory: 262144 on a host with 8 GB and more).
    "conntrack_max": 65536,
    # share of nf_conntrack_max in use; at 1.0 the kernel drops the first packet of new flows
    # ("nf_conntrack: table full, dropping packet").
    "conntrack_fill_low": 0.5, "conntrack_fill_medium": 0.75, "conntrack_fill_high": 0.9,
    "conntrack_fill_critical": 0.98,
    "conntrack_pattern_share": 0.5,  # a state or flag this share of the entries names the pattern
    "conntrack_many_sources": 50,  # distinct sources of unreplied entries that make them a flood
}
register_defaults(THRESHOLDS)

#: Counters of ``conntrack -S`` that count packets the table could not take.
DROP_COUNTERS: tuple[str, ...] = ("drop", "early_drop", "insert_failed")

#: What fills the table (first match wins; over the finding rows).
CONNTRACK_PATTERNS: tuple[Pattern, ...] = (
    Pattern("unreplied from many sources (SYN flood)",
            lambda f: (f["unreplied_share"] >= f["pattern_share"]) & (f["distinct_sources"] >= f["many_sources"]),
            "{unreplied} entries ({unreplied_pct}) are [UNREPLIED]: SYNs from {distinct_sources} sources that "
            "got no answer through the firewall, each kept 120 s in SYN_SENT "
            "(nf_conntrack_tcp_timeout_syn_sent): the pattern of a SYN flood with spread or spoofed sources.",
            "Rate-limit new flows (nftables limit / meter on ct state new), lower "
            "nf_conntrack_tcp_timeout_syn_sent, or exempt the attacked service from tracking (notrack)."),
    Pattern("unreplied to many destinations (scan)",
            lambda f: (f["unreplied_share"] >= f["pattern_share"]) & (f["distinct_destinations"] >= f["many_sources"]),
            "{unreplied} entries ({unreplied_pct}) are [UNREPLIED] SYNs to {distinct_destinations} destinations "
            "(top source {top_source}): a scan from or through this host; every probe holds an entry for "
            "120 s.",
            "Find the scanning source ({top_source}) and stop or rate-limit it; a scanner behind NAT fills "
            "the gateway's table (masscan at 15 k/s fills 2 M entries in two minutes)."),
    Pattern("unreplied",
            lambda f: f["unreplied_share"] >= f["pattern_share"],
            "{unreplied} entries ({unreplied_pct}) are [UNREPLIED]: connection attempts nobody answers "
            "(a dropped port, a dead upstream, top destination {top_destination}); each stays 120 s "
            "in SYN_SENT.",
            "Check the top destinations ({top_destination}): a firewall drop or a vanished upstream; "
            "lower nf_conntrack_tcp_timeout_syn_sent if they are expected."),
    Pattern("TIME_WAIT",
            lambda f: f["time_wait_share"] >= f["pattern_share"],
            "{time_wait} entries ({time_wait_pct}) are in TIME_WAIT: many short connections, each "
            "tracked 120 s after it closed (nf_conntrack_tcp_timeout_time_wait).",
            "Reuse connections (keep-alive, pooling) or lower nf_conntrack_tcp_timeout_time_wait."),
    Pattern("ESTABLISHED",
            lambda f: f["established_share"] >= f["pattern_share"],
            "{established} entries ({established_pct}) are ESTABLISHED: conntrack keeps an established "
            "flow 5 days (nf_conntrack_tcp_timeout_established 432000 s), also after both peers "
            "vanished without a FIN or RST.",
            "Lower nf_conntrack_tcp_timeout_established (e.g. to a few hours) or check for a connection "
            "leak at the top source ({top_source})."),
    Pattern("mixed", always,
            "No single state fills it.",
            "Raise nf_conntrack_max (and nf_conntrack_buckets) to the load, or exempt bulk traffic from "
            "tracking (nftables notrack)."),
)


def conntrack_fill(ctx: Context, category: str) -> pd.DataFrame:
    """One finding per input whose conntrack table is filled up to a ladder level, or whose
    kernel counted drops."""
    df = ctx.df
    rows = df[df["ct_listing"]] if "ct_listing" in df else df.iloc[:0]
    counters = _conntrack_counters(ctx.counters)
    if rows.empty and counters.empty:
        return pd.DataFrame()
    pk = socket_rows.peak(rows.assign(subject=rows["input"]), ["input"]) if len(rows) else \
        pd.DataFrame({"input": pd.Series(dtype=object), "snapshot": pd.Series(dtype="int64"), "count": pd.Series(dtype="int64")})
    inputs = pd.Index(pd.concat([pk["input"], counters["input"]]).unique(), name="input")
    out = pd.DataFrame(index=inputs).join(pk.set_index("input")).join(_wide(counters)).reset_index()
    out["listed"] = out["count"].fillna(0).astype("int64")
    out["count"] = np.fmax(out["listed"].to_numpy(dtype="float64"), out.get("count_counter", np.nan)).astype("int64") \
        if "count_counter" in out else out["listed"]
    _maximum(ctx, out)
    out["fill"] = (out["count"] / out["conntrack_max"]).round(4)
    out["severity"] = socket_rows.ladder(out["fill"], ctx.levels("conntrack_fill"))
    drops = out["drops"].fillna(0) if "drops" in out else pd.Series(0, index=out.index)
    out["drops"] = drops.astype("int64")
    out["severity"] = socket_rows.bump(out["severity"], to_at_least=pd.Series(np.where(drops > 0, "high", "info"), index=out.index))
    out = out[out["severity"].notna() & ((out["fill"] >= _lowest(ctx)) | (drops > 0))]
    if out.empty:
        return pd.DataFrame()
    at_peak = rows.merge(out[["input", "snapshot"]].dropna(), on=["input", "snapshot"]) if len(rows) else rows
    out = _composition(ctx, out, at_peak)
    out["subject"] = "conntrack table (" + out["input"] + ")"
    out["category"] = category
    ev = socket_rows.refs(at_peak, ["input"]) if len(at_peak) else pd.DataFrame(columns=["input", "evidence", "evidence_total"])
    seen = rows.groupby("input", sort=False).agg(first_seen=("ts", "min"), last_seen=("ts", "max")).reset_index() \
        if len(rows) else pd.DataFrame(columns=["input", "first_seen", "last_seen"])
    out = out.merge(ev, on="input", how="left").merge(seen, on="input", how="left")
    out["evidence"] = [e if isinstance(e, list) else [] for e in out["evidence"]]
    by_rules(out, CONNTRACK_PATTERNS, pattern="label", pattern_text="why", next_text="next_step")
    return finish(out, ["fill", "conntrack_max", "max_source", "listed", "states", "unreplied", "nat",
                        "top_sources", "top_destinations", "drops", "pattern"])


def _conntrack_counters(counters: pd.DataFrame) -> pd.DataFrame:
    if counters is None or counters.empty or "group" not in counters:
        return pd.DataFrame(columns=["input", "counter", "figure"])
    c = counters[counters["group"].astype(object).eq("Conntrack")]
    figure = c["delta"].where(c["readings"] > 1, c["value_last"]) if len(c) else c.get("value_last")
    return pd.DataFrame({"input": c["input"].astype(object), "counter": c["counter"].astype(object),
                         "figure": figure, "value_last": c["value_last"]})


def _wide(counters: pd.DataFrame) -> pd.DataFrame:
    """Per input: count_counter, max_counter (last values) and drops (summed increase)."""
    if counters.empty:
        return pd.DataFrame(index=pd.Index([], name="input"))
    last = counters.pivot_table(index="input", columns="counter", values="value_last", aggfunc="max", observed=True)
    out = pd.DataFrame(index=last.index)
    out["count_counter"] = last["count"] if "count" in last else np.nan
    out["max_counter"] = last["max"] if "max" in last else np.nan
    dropped = counters[counters["counter"].isin(DROP_COUNTERS)]
    out["drops"] = dropped.groupby("input")["figure"].sum().reindex(out.index) if len(dropped) else np.nan
    return out


def _maximum(ctx: Context, out: pd.DataFrame) -> None:
    """``conntrack_max`` and where it comes from: this input, another input, the threshold."""
    own = out["max_counter"] if "max_counter" in out else pd.Series(np.nan, index=out.index)
    other = own.max()
    default = float(ctx.config.get("conntrack_max"))
    out["conntrack_max"] = own.fillna(other if pd.notna(other) else default).astype("int64")
    out["max_source"] = np.where(own.notna(), "nf_conntrack_max in this input",
                                 np.where(pd.notna(other), "nf_conntrack_max of another input",
                                          "the conntrack_max threshold: no nf_conntrack_max in the inputs"))


def _lowest(ctx: Context) -> float:
    levels = [v for v in ctx.levels("conntrack_fill").values() if v is not None]
    return min(levels) if levels else 0.0


def _composition(ctx: Context, out: pd.DataFrame, at_peak: pd.DataFrame) -> pd.DataFrame:
    """What fills each table: states, [UNREPLIED], NAT, top sources and destinations."""
    g = at_peak.groupby("input", sort=False)
    n = g.size()
    def per_input(column: str, top: int | None = None) -> pd.Series:  # one dict per input (a few)
        return pd.Series({k: v.value_counts().head(top).to_dict() for k, v in g[column]}, dtype=object)

    comp = pd.DataFrame({
        "unreplied": g["ct_unreplied"].sum(),
        "nat": g["ct_nat"].sum(),
        "time_wait": g["ct_state"].agg(lambda s: int((s == "TIME_WAIT").sum())),
        "established": g["ct_state"].agg(lambda s: int((s == "ESTABLISHED").sum())),
        "states": per_input("ct_state"),
        "top_sources": per_input("ct_src", 5),
        "top_destinations": per_input("ct_dst", 5),
        "distinct_sources": g["ct_src"].nunique(),
        "distinct_destinations": g["ct_dst"].nunique(),
    }) if len(at_peak) else pd.DataFrame(index=pd.Index([], name="input"))
    out = out.merge(comp, left_on="input", right_index=True, how="left")
    total = out["input"].map(n).astype("float64")
    out["nat"] = out["nat"].fillna(0).astype("int64") if "nat" in out else 0
    for name in ("unreplied", "time_wait", "established"):
        out[name] = out[name].fillna(0).astype("int64") if name in out else 0
        share = (out[name] / total).fillna(0.0)
        out[f"{name}_share"] = share.round(3)
        out[f"{name}_pct"] = (share * 100).round(1).astype(str) + "%"
    for name in ("distinct_sources", "distinct_destinations"):
        out[name] = out[name].fillna(0).astype("int64") if name in out else 0
    out["top_source"] = [next(iter(d), "-") if isinstance(d, dict) else "-" for d in out.get("top_sources", [None] * len(out))]
    out["top_destination"] = [next(iter(d), "-") if isinstance(d, dict) else "-" for d in out.get("top_destinations", [None] * len(out))]
    out["fill_pct"] = (out["fill"] * 100).round(1).astype(str) + "%"
    out["states_text"] = [_states_text(d) for d in out.get("states", [None] * len(out))]
    out["drops_text"] = np.where(out["drops"] > 0, "The kernel counted " + out["drops"].astype(str)
                                 + " packets it could not track (conntrack -S drop, early_drop, insert_failed): "
                                 "the table was full.", "")
    out["pattern_share"] = float(ctx.config.get("conntrack_pattern_share"))
    out["many_sources"] = float(ctx.config.get("conntrack_many_sources"))
    return out


def _states_text(states: object) -> str:
    if not isinstance(states, dict) or not states:
        return "The entries themselves are not in the inputs (counters only)."
    return "By state: " + ", ".join(f"{k} {v}" for k, v in states.items()) + "."
