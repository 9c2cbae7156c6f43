"""What the live view shows each interval, from the newest sample and the one before it:
sockets per state and their rate of change, listeners (accept queue, half-open and established
connections on their port), processes by state, and kernel counter deltas. Grouped in pandas
over whole columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tcpforensics.live.sample import Sample
from tcpforensics.schema import STATES

#: Counters shown when they moved (TcpExt, Tcp): the ones the socket detectors read and their kin.
COUNTERS: tuple[str, ...] = ("ListenOverflows", "ListenDrops", "SyncookiesSent", "SyncookiesFailed",
                             "ActiveOpens", "PassiveOpens", "AttemptFails", "EstabResets",
                             "RetransSegs", "TCPTimeouts", "TCPAbortOnData", "TCPAbortOnTimeout")
#: Rows kept in the listener and process tables.
TOP = 10


@dataclass
class Summary:
    """One interval's view: tables as small frames, plus the sample's time and cost."""

    seq: int
    ts: np.datetime64
    sockets: int
    states: pd.DataFrame     # state, sockets, per_s
    listeners: pd.DataFrame  # listener, process, accept_queue, SYN_RECEIVED, ESTABLISHED
    processes: pd.DataFrame  # owner, sockets, one column per state present
    counters: pd.DataFrame   # counter, delta, per_s
    cpu_ms: float
    session: dict = field(default_factory=dict)  # samples so far and the peak of each state (window.Totals)

    def headline(self, active: int) -> str:
        """The first line of the view (rich markup)."""
        states = ", ".join(f"{r.state} {r.sockets}" for r in self.states.itertuples())
        return (f"[bold]#{self.seq}[/] {pd.Timestamp(self.ts):%Y-%m-%d %H:%M:%S} UTC  {self.sockets} sockets  "
                f"{active} active findings  {self.cpu_ms:.0f} ms CPU  ({states})")

    def tables(self) -> list[tuple[str, pd.DataFrame]]:
        """The view's tables, titled (empty ones left out)."""
        peaks = pd.DataFrame({"state": list(self.session.get("peak", {})),
                              "peak": list(self.session.get("peak", {}).values())})
        named = [("states", self.states), ("listeners", self.listeners), ("processes", self.processes),
                 ("counter deltas", self.counters), (f"session peaks ({self.session.get('samples', 0)} samples)", peaks)]
        return [(t, f) for t, f in named if len(f)]

    def to_dict(self) -> dict:
        """JSON-ready: the interval summary line of ``--format json``."""
        return {
            "event": "interval", "seq": self.seq, "ts": str(pd.Timestamp(self.ts)), "sockets": self.sockets,
            "states": {r.state: int(r.sockets) for r in self.states.itertuples()},
            "counters": {r.counter: int(r.delta) for r in self.counters.itertuples()},
            "listeners": [{"listener": r.listener, "process": r.process, "accept_queue": _int(r.accept_queue),
                           "syn_received": int(r.SYN_RECEIVED), "established": int(r.ESTABLISHED)}
                          for r in self.listeners.itertuples()],
            "cpu_ms": round(self.cpu_ms, 1), "session": self.session,
        }


def _int(value: object) -> int | None:
    return None if pd.isna(value) else int(value)


def summarize(now: Sample, before: Sample | None) -> Summary:
    """The view of ``now`` (rates against ``before``)."""
    s = now.sockets
    seconds = _seconds(now, before)
    return Summary(now.seq, now.ts, len(s), _states(s, before.sockets if before else None, seconds),
                   _listeners(s), _processes(s), _counters(now, before, seconds), now.seconds * 1000)


def _seconds(now: Sample, before: Sample | None) -> float:
    if before is None:
        return float("nan")
    return max((now.ts - before.ts) / np.timedelta64(1, "s"), 1e-9)


def _states(s: pd.DataFrame, prev: pd.DataFrame | None, seconds: float) -> pd.DataFrame:
    count = s["state"].astype(object).value_counts()
    old = prev["state"].astype(object).value_counts() if prev is not None else pd.Series(dtype="int64")
    order = [x for x in STATES if x in count.index or x in old.index]
    now = count.reindex(order, fill_value=0)
    per_s = (now - old.reindex(order, fill_value=0)) / seconds
    return pd.DataFrame({"state": order, "sockets": now.to_numpy(), "per_s": per_s.round(1).to_numpy()})


def _port(s: pd.DataFrame) -> pd.Series:
    return s["src_port"].astype("Int64")


def _listeners(s: pd.DataFrame) -> pd.DataFrame:
    lis = s[s["state"].eq("LISTEN")]
    if lis.empty:
        return pd.DataFrame(columns=["listener", "process", "accept_queue", "SYN_RECEIVED", "ESTABLISHED"])
    per_port = s[s["state"].isin(["SYN_RECEIVED", "ESTABLISHED"])].groupby([_port(s), s["state"].astype(object)]).size().unstack(fill_value=0)
    per_port = per_port.reindex(columns=["SYN_RECEIVED", "ESTABLISHED"], fill_value=0)
    out = pd.DataFrame({
        "listener": _endpoint(lis).to_numpy(),
        "process": _owner(lis).to_numpy(),
        "accept_queue": lis["recv_q"].astype("Int64").to_numpy(),
        "port": _port(lis).to_numpy(),
    })
    out = out.merge(per_port, left_on="port", right_index=True, how="left").fillna({"SYN_RECEIVED": 0, "ESTABLISHED": 0})
    out = out.astype({"SYN_RECEIVED": "int64", "ESTABLISHED": "int64"})
    out = out.sort_values(["accept_queue", "SYN_RECEIVED", "ESTABLISHED"], ascending=False, kind="stable")
    return out.drop(columns=["port"]).head(TOP).reset_index(drop=True)


def _endpoint(s: pd.DataFrame) -> pd.Series:
    addr = s["src_addr"].astype(object).fillna("").astype(str)
    addr = addr.where(~addr.str.contains(":", regex=False), "[" + addr + "]")
    return addr + ":" + _port(s).astype("string").fillna("*").astype(str)


def _owner(s: pd.DataFrame) -> pd.Series:
    name = s["process"].astype(object).fillna("-").astype(str)
    pid = s["pid"].astype("Int64").astype("string")
    return (name + "[" + pid + "]").fillna(name).astype(str)


def _processes(s: pd.DataFrame) -> pd.DataFrame:
    owned = s[s["pid"].notna()]
    if owned.empty:
        return pd.DataFrame(columns=["owner", "sockets"])
    wide = owned.groupby([_owner(owned), owned["state"].astype(object)]).size().unstack(fill_value=0)
    wide = wide[[x for x in STATES if x in wide.columns]]
    wide.insert(0, "sockets", wide.sum(axis=1))
    wide = wide.sort_values("sockets", ascending=False, kind="stable").head(TOP)
    return wide.rename_axis("owner").reset_index()


def _counters(now: Sample, before: Sample | None, seconds: float) -> pd.DataFrame:
    empty = pd.DataFrame(columns=["counter", "delta", "per_s"])
    if now.counters is None or before is None or before.counters is None:
        return empty
    def values(c: pd.DataFrame) -> pd.Series:
        c = c[c["counter"].astype(object).isin(COUNTERS) & c["group"].astype(object).isin(["Tcp", "TcpExt"])]
        return c.groupby(c["counter"].astype(object))["value"].max()
    delta = (values(now.counters) - values(before.counters)).dropna().astype("int64")
    moved = delta[delta != 0]
    delta = moved.reindex([c for c in COUNTERS if c in moved.index])
    return pd.DataFrame({"counter": delta.index, "delta": delta.astype("int64").to_numpy(),
                         "per_s": (delta / seconds).round(1).to_numpy()})
