"""The live timeline in bounded memory: a ring of the last N samples (what the detectors read)
and aggregates of the whole session that merge without keeping samples (``Totals``).

Each interval the ring becomes the inputs ``analyze`` would have built from a dated snapshot
loop of the same samples (``inputs``: one socket-table input, one counter input, one conntrack
input, snapshots numbered from the oldest sample in the ring), and the socket and counter
detectors run on them unchanged (``detect.combine`` over ``reconstruct.evidence.socket_evidence``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tcpforensics import detect, schema
from tcpforensics.config import DEFAULTS, Config
from tcpforensics.detect.socket_rows import LEVELS
from tcpforensics.ingest.base import Ingested
from tcpforensics.live.sample import Sample
from tcpforensics.reconstruct import evidence as rec


@dataclass(frozen=True)
class Names:
    """The input names the findings of a live session carry (subjects of counter findings
    read ``local host (NAME)``)."""

    sockets: str = "/proc/net/tcp"
    counters: str = "/proc/net/netstat"
    conntrack: str = "/proc/net/nf_conntrack"


@dataclass
class Totals:
    """Aggregates of every sample of the session (not only the ring): mergeable, O(states)."""

    samples: int = 0
    first: np.datetime64 | None = None
    last: np.datetime64 | None = None
    peak: dict[str, int] = field(default_factory=dict)  # most sockets seen in each state
    cpu_seconds: float = 0.0

    def add(self, sample: Sample, states: pd.Series) -> None:
        """Count one sample (``states``: its sockets per state)."""
        self.merge(Totals(1, sample.ts, sample.ts, {str(k): int(v) for k, v in states.items() if v}, sample.seconds))

    def merge(self, other: Totals) -> None:
        """Fold another session's aggregates into these."""
        self.samples += other.samples
        self.first = other.first if self.first is None else min(self.first, other.first or self.first)
        self.last = other.last if self.last is None else max(self.last, other.last or self.last)
        for k, v in other.peak.items():
            self.peak[k] = max(self.peak.get(k, 0), v)
        self.cpu_seconds += other.cpu_seconds


@dataclass
class Window:
    """The ring of the last ``size`` samples and the session's totals."""

    size: int
    names: Names = field(default_factory=Names)
    samples: deque = field(default_factory=deque)
    totals: Totals = field(default_factory=Totals)

    def add(self, sample: Sample) -> None:
        """Append a sample, dropping the oldest beyond ``size``."""
        self.samples.append(sample)
        while len(self.samples) > self.size:
            self.samples.popleft()
        self.totals.add(sample, sample.sockets["state"].value_counts())

    def inputs(self, config: Config | None = None) -> list[Ingested]:
        """The ring as ``analyze`` reads a dated snapshot loop: one input per kind of table;
        with ``config``, without the socket rows no finding can be made of (``Cut``)."""
        ring = list(self.samples)
        n = len(ring)
        cut = Cut.of(ring, config) if config is not None else None
        parts = [_at(s.sockets if cut is None else s.sockets[cut.keep(s)], i, s.ts, self.names.sockets)
                 for i, s in enumerate(ring)]
        out = [Ingested(self.names.sockets, "proc_net_tcp", schema.concat_events(parts, "socket"), accounting={"snapshots": n})]
        readings = [_reading(s.counters, i, self.names.counters) for i, s in enumerate(ring) if s.counters is not None]
        if readings:
            out.append(Ingested(self.names.counters, "counters", schema.empty_events("socket"),
                                counters=pd.concat(readings, ignore_index=True), accounting={"snapshots": n}))
        tracked = [_at(s.conntrack, i, s.ts, self.names.conntrack) for i, s in enumerate(ring) if s.conntrack is not None]
        if tracked:
            out.append(Ingested(self.names.conntrack, "conntrack", schema.concat_events(tracked, "socket"),
                                accounting={"snapshots": n}))
        return out

    def signature(self) -> tuple[int, ...]:
        """The versions of the samples in the ring: equal signatures, equal detector inputs
        (but for the times)."""
        return tuple(s.version for s in self.samples)

    def findings(self, config: Config, cut: bool = True) -> pd.DataFrame:
        """The socket and counter findings of the ring (deduplicated, most severe first);
        ``cut``: without the rows no finding can be made of (``Cut``)."""
        inputs = self.inputs(config if cut else None)
        found, _tables = detect.combine([], rec.socket_evidence(inputs), config, socket_tables=False)
        return found


def _lowest(config: Config, prefix: str) -> float:
    """The lowest level of a severity ladder (``<prefix>_low`` ... ``_critical``)."""
    return min(float(config.get(k)) for lv in LEVELS if (k := f"{prefix}_{lv}") in DEFAULTS)


TUPLE = ["src_addr", "dst_addr", "dst_port"]


def tallies(sample: Sample) -> tuple[pd.Series, pd.Series]:
    """ESTABLISHED rows per remote address and TIME_WAIT rows per (local address, remote
    address, remote port) of one sample (computed once per sample)."""
    if sample.tallies is None:
        s = sample.sockets
        est = s[s["state"].eq("ESTABLISHED")]
        tw = s[s["state"].eq("TIME_WAIT")]
        sample.tallies = (est["dst_addr"].astype(object).value_counts(),
                          tw.groupby([tw[c].astype(object) for c in TUPLE], dropna=False).size())
    return sample.tallies


@dataclass
class Cut:
    """Rows of the ring no finding can be made of, so the detectors need not read them:
    ESTABLISHED rows of a remote host that never holds ``remote_established_low`` of them in
    one sample (the ``remote_connection_pile`` ladder), and TIME_WAIT rows of a (local
    address, remote address:port) tuple that never holds ``time_wait_fraction_low`` of the
    ephemeral range in one sample (``time_wait_exhaustion``); ESTABLISHED rows of a TIME_WAIT
    tuple that stays are kept (they are the ports in use its details count). Counting rows,
    not distinct sockets, and keeping every sample's rows of a subject that reaches the
    threshold in any sample, it never drops a row a finding counts, dates or details: the
    findings are those of the whole ring (``tests/live/test_window.py``). On a busy host most
    rows are these: a ring of 100 k sockets per sample shrinks to its piles."""

    remotes: pd.Index   # remote addresses whose ESTABLISHED rows stay
    tuples: pd.MultiIndex  # (local, remote, port) whose TIME_WAIT rows stay

    @classmethod
    def of(cls, ring: list[Sample], config: Config) -> Cut:
        est = pd.concat([tallies(s)[0] for s in ring], axis=1).max(axis=1) if ring else pd.Series(dtype="int64")
        tw = pd.concat([tallies(s)[1] for s in ring], axis=1).max(axis=1) if ring else pd.Series(dtype="int64")
        size = max(int(config.get("ephemeral_port_high")) - int(config.get("ephemeral_port_low")) + 1, 1)
        big_tw = tw[tw >= _lowest(config, "time_wait_fraction") * size].index
        return cls(est[est >= _lowest(config, "remote_established")].index,
                   big_tw if isinstance(big_tw, pd.MultiIndex) else pd.MultiIndex.from_tuples([], names=TUPLE))

    def keep(self, sample: Sample) -> np.ndarray:
        """Which rows of a sample the detectors read."""
        s = sample.sockets
        state = s["state"]
        keep = ~(state.eq("TIME_WAIT") | state.eq("ESTABLISHED")).to_numpy()
        keep |= (state.eq("ESTABLISHED") & s["dst_addr"].isin(self.remotes)).to_numpy()
        if len(self.tuples):
            near = np.flatnonzero((state.isin(["TIME_WAIT", "ESTABLISHED"]) & s["dst_addr"].isin(
                self.tuples.get_level_values(1).unique())).to_numpy())
            sub = s.iloc[near]
            key = pd.MultiIndex.from_arrays([sub[c].astype(object) for c in TUPLE])
            keep[near[key.isin(self.tuples)]] = True
        return keep


def _at(rows: pd.DataFrame, snapshot: int, ts: np.datetime64, name: str) -> pd.DataFrame:
    """A sample's rows as snapshot ``snapshot`` of input ``name`` (schema dtypes, so stacking
    the ring casts nothing)."""
    n = len(rows)
    return rows.assign(snapshot=pd.array(np.full(n, snapshot, dtype=np.int32)),
                       ts=np.full(n, ts, dtype="datetime64[ns]"), input=schema.single_category(name, n),
                       kind=pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), dtype=schema.KIND_DTYPE),
                       line=pd.array(rows["line"].to_numpy(dtype=np.int64, na_value=0), dtype="Int64"))


def _reading(counters: pd.DataFrame, snapshot: int, name: str) -> pd.DataFrame:
    """A sample's counter reading as reading ``snapshot`` of input ``name``."""
    n = len(counters)
    return counters.assign(snapshot=pd.array(np.full(n, snapshot, dtype=np.int32)),
                           input=schema.single_category(name, n))
