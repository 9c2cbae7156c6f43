"""The socket rows every socket rule and table reads (subjects, owners, listeners), peaks per
snapshot, severity ladders and evidence references."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tcpforensics import pandas_compat
from tcpforensics.config import DEFAULTS, Config
from tcpforensics.detect import conntrack_view
from tcpforensics.reconstruct.rules import Row, first_match
from tcpforensics.schema import SEVERITIES

#: Addresses that mean "any" (listeners) or "no peer".
WILDCARDS: frozenset[str] = frozenset({"", "*", "0.0.0.0", "::", "[::]", ":::", "::0", "0:0:0:0:0:0:0:0"})

#: Severity ladder levels a threshold can name, lowest first.
LEVELS: tuple[str, ...] = ("low", "medium", "high", "critical")

#: At most this many "input:line" references per finding (``details['evidence_total']`` counts all).
EVIDENCE_CAP = 20


@dataclass
class Context:
    """What every rule reads: socket rows, timelines, counter deltas, settings."""

    df: pd.DataFrame
    timelines: pd.DataFrame
    counters: pd.DataFrame
    config: Config

    def levels(self, prefix: str) -> dict[str, float | None]:
        """The severity ladder ``<prefix>_low`` ... ``<prefix>_critical`` (levels not defined: None)."""
        return {lv: self.config.get(f"{prefix}_{lv}") if f"{prefix}_{lv}" in DEFAULTS else None
                for lv in LEVELS}


def frame(events: pd.DataFrame, created: Collection[str] = ()) -> pd.DataFrame:
    """Socket rows with plain string key columns, the latest-snapshot flag and evidence refs;
    ``created``: the inputs whose row times are creation times (column ``created``, else NaT)."""
    ev = events[events["kind"].astype(object).eq("socket")]
    df = pd.DataFrame(
        {
            "input": text(ev["input"]),
            "proto": text(ev["proto"], "", lower=True),
            "src_addr": text(ev["src_addr"], ""),
            "src_port": ev["src_port"],
            "dst_addr": text(ev["dst_addr"], ""),
            "dst_port": ev["dst_port"],
            "state": text(ev["state"], "-"),
            "pid": ev["pid"],
            "process": ev["process"].astype(object),
            "recv_q": ev["recv_q"],
            "send_q": ev["send_q"],
            "snapshot": ev["snapshot"].fillna(0).astype("int64"),
            "ts": ev["ts"],
            "line": ev["line"],
        }
    ).reset_index(drop=True)
    df["created"] = df["ts"].where(df["input"].isin(list(created)))
    df = _conntrack(df, ev)
    last = df.groupby("input")["snapshot"].transform("max")
    df["latest"] = df["snapshot"].eq(last)
    df["ref"] = df["input"] + ":" + df["line"].astype("Int64").astype("string").fillna("-").astype(str)
    df["local"] = endpoint(df["src_addr"], df["src_port"])
    df["remote"] = endpoint(df["dst_addr"], df["dst_port"])
    df["owner"] = owner(df)
    df["sock"] = df["input"] + "|" + df["proto"] + "|" + df["local"] + "|" + df["remote"] + "|" + df["pid"].astype("Int64").astype("string").fillna("-").astype(str)
    return df


def _conntrack(df: pd.DataFrame, ev: pd.DataFrame) -> pd.DataFrame:
    """Conntrack entries (rows with a reply tuple): their flags, original tuple and NAT kept in
    ``ct_*`` columns, then read as the socket their state describes (``conntrack_view``)."""
    n = len(df)
    reply_src = ev["reply_src_addr"] if "reply_src_addr" in ev else pd.Series([None] * n, dtype=object)
    ct = reply_src.notna().to_numpy(dtype=bool)
    if not ct.any():
        return df.assign(conntrack=ct, ct_state="-")
    reply_from = endpoint(text(reply_src, "").reset_index(drop=True), ev["reply_src_port"].reset_index(drop=True))
    reply_to = endpoint(text(ev["reply_dst_addr"], "").reset_index(drop=True), ev["reply_dst_port"].reset_index(drop=True))
    status = text(ev["ct_status"], "")
    df = df.assign(
        conntrack=ct,
        ct_listing=ct & ev["ct_event"].isna().to_numpy(dtype=bool),
        ct_unreplied=ct & status.str.contains("UNREPLIED", regex=False).to_numpy(dtype=bool),
        # NAT: the reply does not come from the original destination (DNAT) or does not go to
        # the original source (SNAT, masquerade), addresses or ports
        ct_nat=ct & ((reply_from != endpoint(df["dst_addr"], df["dst_port"])).to_numpy()
                     | (reply_to != endpoint(df["src_addr"], df["src_port"])).to_numpy()),
        ct_src=df["src_addr"],
        ct_dst=endpoint(df["dst_addr"], df["dst_port"]),
    )
    return conntrack_view.orient(df, ct)


def text(values: pd.Series, fill: str | None = None, lower: bool = False) -> pd.Series:
    """Column as plain strings, missing values as ``fill``; a categorical is converted through
    its categories (a few) and codes, not value by value."""
    if not isinstance(values.dtype, pd.CategoricalDtype) or (fill is None and values.isna().any()):
        out = values.astype(object)
        out = (out if fill is None else out.fillna(fill)).astype(str)
        return out.str.lower() if lower else out
    cats = values.cat.categories.astype(object).astype(str)
    names = pd.array(np.append(cats.to_numpy(dtype=object), "" if fill is None else fill), dtype="str")
    if lower:
        names = pd.Series(names).str.lower().array
    codes = values.cat.codes.to_numpy()
    return pd.Series(names.take(np.where(codes < 0, len(names) - 1, codes)), index=values.index)


def endpoint(addr: pd.Series, port: pd.Series) -> pd.Series:
    """'addr:port' with IPv6 addresses in brackets; a missing port prints as '*'."""
    a = addr.astype(object).fillna("").astype(str)
    a = a.where(~a.str.contains(":", regex=False) | a.str.startswith("["), "[" + a + "]")
    p = port.astype("Int64").astype("string").fillna("*").astype(str)
    return a + ":" + p


def owner(df: pd.DataFrame) -> pd.Series:
    """Who holds each socket: process "name[pid]" when shown; else the listener whose port it
    uses (server side); else the local host address (client side, orphans)."""
    name = df["process"].astype(object).fillna("").astype(str)
    pid = df["pid"].astype("Int64").astype("string").fillna("-").astype(str)
    proc = (name.where(name.ne(""), "pid") + "[" + pid + "]").where(df["pid"].notna())
    proc = pandas_compat.fill(proc, (name + "[?]").where(name.ne("")))
    listen = listeners(df)
    key = df["input"] + "|" + df["proto"] + "|" + df["src_port"].astype("Int64").astype("string").fillna("-").astype(str)
    lkey = listen["input"] + "|" + listen["proto"] + "|" + listen["src_port"].astype("Int64").astype("string").fillna("-").astype(str)
    by_port = pd.Series(listen["listener"].to_numpy(), index=lkey.to_numpy())
    by_port = by_port[~by_port.index.duplicated()]
    served = key.map(by_port)
    return pandas_compat.fill(pandas_compat.fill(proc.astype(object), served.astype(object)), df["src_addr"].astype(object))


def listeners(df: pd.DataFrame) -> pd.DataFrame:
    """Distinct LISTEN sockets: input, proto, src_addr, src_port, listener 'addr:port', process, pid."""
    lis = df[df["state"].eq("LISTEN")]
    cols = ["input", "proto", "src_addr", "src_port", "process", "pid", "send_q"]
    lis = lis[cols].drop_duplicates(["input", "proto", "src_addr", "src_port", "pid"])
    return lis.assign(listener=endpoint(lis["src_addr"], lis["src_port"]))


def peak(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group: the largest number of distinct sockets in any one snapshot, and its index.

    Socket tables are pictures; adding pictures counts one socket many times, so piles are
    measured in the worst snapshot (and a socket repeated within one counts once).
    """
    if rows.empty:
        return pd.DataFrame(columns=by + ["snapshot", "count"])
    per = rows.groupby(by + ["snapshot"], dropna=False, sort=False)["sock"].nunique().rename("count").reset_index()
    per = per.sort_values(["count", "snapshot"], ascending=[False, True], kind="stable")
    return per.drop_duplicates(by, keep="first").reset_index(drop=True)


def ladder_rules(thresholds: dict[str, float | None]) -> tuple[Row, ...]:
    """The severity ladder as a rule table over a ``value`` column: the levels highest first,
    each where the value reaches its threshold (first match wins; levels without one left out)."""
    return tuple(Row(level, lambda f, t=float(t): f["value"] >= t, f"value >= {t:g}")
                 for level in reversed(LEVELS) if (t := thresholds.get(level)) is not None)


def ladder(values: pd.Series, thresholds: dict[str, float | None]) -> pd.Series:
    """Severity per value: the highest level whose threshold the value reaches (None below all)."""
    frame = pd.DataFrame({"value": values.astype("float64").to_numpy()})
    return pd.Series(first_match(frame, ladder_rules(thresholds), default=None), index=values.index, dtype=object)


def bump(severity: pd.Series, to_at_least: str | pd.Series | None = None, by: int = 0) -> pd.Series:
    """Raise severities: to at least a level, and/or by some steps (capped at critical)."""
    rank = severity.map({s: i for i, s in enumerate(SEVERITIES)}).astype("float64")
    if to_at_least is not None:
        floor = (to_at_least if isinstance(to_at_least, pd.Series) else pd.Series(to_at_least, index=severity.index))
        frank = floor.map({s: i for i, s in enumerate(SEVERITIES)}).astype("float64")
        rank = np.fmax(rank, frank)
    rank = (rank + by).clip(upper=len(SEVERITIES) - 1)
    names = np.array(SEVERITIES, dtype=object)
    out = pd.Series(None, index=severity.index, dtype=object)
    ok = rank.notna()
    out[ok] = names[rank[ok].astype(int).to_numpy()]
    return out


def refs(rows: pd.DataFrame, by: list[str], cap: int = EVIDENCE_CAP) -> pd.DataFrame:
    """Per group: the first ``cap`` 'input:line' references and how many there were."""
    head = rows.sort_values(by + ["line"], kind="stable").groupby(by, sort=False, dropna=False).head(cap)
    lists = head.groupby(by, sort=False, dropna=False)["ref"].agg(list).rename("evidence")
    total = rows.groupby(by, sort=False, dropna=False).size().rename("evidence_total")
    return pd.concat([lists, total], axis=1).reset_index()


def prefix(addr: pd.Series) -> pd.Series:
    """Network prefix for spread measures: /16 for IPv4 (and v4-mapped IPv6), /48 for IPv6."""
    a = addr.astype(object).fillna("").astype(str).str.lower()
    v4 = a.str.extract(r"(?:^|:)(\d{1,3}\.\d{1,3})\.\d{1,3}\.\d{1,3}$")[0]
    v6 = a.str.extract(r"^([0-9a-f]{1,4}:[0-9a-f]{1,4}:[0-9a-f]{1,4}):")[0]
    return (v4 + ".0.0/16").fillna(v6 + "::/48").fillna(a)


def is_loopback(addr: pd.Series) -> pd.Series:
    """127.0.0.0/8, ::1 and ::ffff:127.x addresses."""
    a = addr.astype(object).fillna("").astype(str).str.lower()
    return a.str.match(r"^(?:::ffff:)?127\.") | a.isin(["::1", "localhost"])
