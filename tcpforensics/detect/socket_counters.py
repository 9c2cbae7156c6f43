"""Socket-side findings from kernel counters: listen overflows, SYN cookies, retransmissions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.detect import socket_rows
from tcpforensics.detect.socket_rows import Context
from tcpforensics.detect.socket_text import finish
from tcpforensics.reconstruct.rules import Row, always, first_match


def _ladder(f: pd.DataFrame) -> pd.Series:
    """the ladder's level (none below every threshold)"""
    return f["ladder"]


#: The severity of a counter finding (first match wins): the ladder of its thresholds (the
#: ``ladder`` column), capped at low when one reading counts since boot.
COUNTER_SEVERITY: tuple[Row, ...] = (
    Row("low", lambda f: f["since_boot"], "a single reading counts since boot: low (even below every threshold)"),
    Row(_ladder, always, "the highest level of the ladder that the increase reaches"),
)

#: The severity of the retransmission finding (first match wins).
RETRANS_SEVERITY: tuple[Row, ...] = (
    Row(_ladder, lambda f: f["ladder"].isna(), "below every threshold: no finding"),
    Row("low", lambda f: f["since_boot"], "a single reading counts since boot: low at most"),
    Row(_ladder, always, "the highest level of the ladder that the ratio reaches"),
)


def counter_signals(counters: pd.DataFrame, names: tuple[str, ...]) -> dict[str, dict]:
    """Summed increase (several readings) or value since boot (one reading) of some counters."""
    if counters.empty:
        return {}
    c = counters[counters["counter"].isin(names) & counters["group"].isin(["TcpExt", ""])]
    out: dict[str, dict] = {}
    for name, g in c.groupby("counter", sort=False):  # a handful of counter names
        delta = g["delta"].dropna()
        if len(delta):
            out[str(name)] = {"delta": int(delta.sum())}
        elif int(g["value_last"].sum()):
            out[str(name)] = {"since_boot": int(g["value_last"].sum())}
    return out


def counter_rule(ctx: Context, category: str, names: tuple[str, ...], prefix: str) -> pd.DataFrame:
    """Findings from kernel counters that should stay at zero (ListenOverflows, SyncookiesSent)."""
    c = ctx.counters
    if c.empty:
        return pd.DataFrame()
    c = c[c["counter"].isin(names) & c["group"].isin(["TcpExt", ""])]
    if c.empty:
        return pd.DataFrame()
    several = c["readings"] > 1
    c = c.assign(figure=c["delta"].where(several, c["value_last"]).astype("Float64"))
    by = ["input"]
    g = c.groupby(by, sort=False)
    out = pd.DataFrame({
        "count": g["figure"].max(),
        "readings": g["readings"].max(),
        "first_seen": g["ts_first"].min(),
        "last_seen": g["ts_last"].max(),
        "evidence": g["ref"].agg(list),
    }).reset_index()
    out = out[out["count"].fillna(0) > 0]
    if out.empty:
        return pd.DataFrame()
    out["count"] = out["count"].round().astype("Int64")
    c = c.assign(figure=c["figure"].round().astype("Int64"))
    wide = c.pivot_table(index="input", columns="counter", values="figure", aggfunc="max", observed=True)
    out = out.merge(wide.reset_index(), on="input", how="left")
    out["ladder"] = socket_rows.ladder(out["count"], ctx.levels(prefix))
    out["since_boot"] = out["readings"] <= 1
    out["severity"] = first_match(out, COUNTER_SEVERITY)
    since_boot = out["since_boot"]
    out["window"] = np.where(since_boot, "since boot, a single reading", "between the first and last of " + out["readings"].astype(str) + " readings")
    out = out[out["severity"].notna()]
    out["subject"] = "local host (" + out["input"] + ")"
    out["category"] = category
    return finish(out, [n for n in names if n in out.columns] + ["window", "readings"])


def retransmissions(ctx: Context, category: str) -> pd.DataFrame:
    """RetransSegs / OutSegs (Tcp group) above a ratio; TCPTimeouts' share in the details."""
    c = ctx.counters
    if c.empty:
        return pd.DataFrame()
    c = c[c["counter"].isin(["RetransSegs", "OutSegs", "TCPTimeouts"]) & c["group"].isin(["Tcp", "TcpExt", ""])]
    if c.empty:
        return pd.DataFrame()
    c = c.assign(figure=c["delta"].where(c["readings"] > 1, c["value_last"]).astype("Float64"))
    wide = c.pivot_table(index="input", columns="counter", values="figure", aggfunc="max", observed=True)
    if not {"RetransSegs", "OutSegs"} <= set(wide.columns):
        return pd.DataFrame()
    meta = c.groupby("input", sort=False).agg(readings=("readings", "max"), first_seen=("ts_first", "min"),
                                              last_seen=("ts_last", "max"), evidence=("ref", list))
    out = wide.join(meta).reset_index()
    out = out[out["OutSegs"].fillna(0) >= ctx.config.get("retrans_min_segments")]
    if out.empty:
        return pd.DataFrame()
    out["ratio"] = (out["RetransSegs"] / out["OutSegs"]).astype("float64").round(4)
    out["count"] = out["RetransSegs"].round().astype("Int64")
    out["ladder"] = socket_rows.ladder(out["ratio"], ctx.levels("retrans_ratio"))
    out["since_boot"] = out["readings"] <= 1
    out["severity"] = first_match(out, RETRANS_SEVERITY)
    since_boot = out["since_boot"]
    out = out[out["severity"].notna()]
    if out.empty:
        return pd.DataFrame()
    out["window"] = np.where(since_boot, "since boot, a single reading", "between the first and last readings")
    timeouts = out["TCPTimeouts"] if "TCPTimeouts" in out else pd.Series(np.nan, index=out.index)
    out["timeouts_share"] = (timeouts / out["RetransSegs"]).astype("float64").round(3)
    out["ratio_pct"] = (out["ratio"] * 100).round(2).astype(str) + "%"
    out["out_segs"] = out["OutSegs"].astype("Int64").astype("string").fillna("-").astype(str)
    out["timeouts_text"] = np.where(
        out["timeouts_share"].fillna(0) >= 0.5,
        "most were retransmission timeouts (TCPTimeouts), not fast retransmits: whole windows lost, "
        "peers that vanished, or a black-holing path rather than ordinary congestion.",
        "sustained loss or congestion on some path, or peers that stopped answering.",
    )
    out["subject"] = "local host (" + out["input"] + ")"
    out["category"] = category
    return finish(out, ["ratio", "RetransSegs", "OutSegs", "TCPTimeouts", "timeouts_share", "window"])
