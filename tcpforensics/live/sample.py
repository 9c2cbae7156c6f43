"""One look at this host: the socket tables, the kernel counters and conntrack, read from
``/proc`` at one moment (``Sampler.sample``).

Sockets go through ``table.LineCache`` (the ``proc_net_tcp`` parser, only on lines that changed)
and get their owning process from ``procfs.Owners``; the counter text goes through the ``counters``
parser as one reading at the sample's time, and the conntrack text through ``ingest.ingest_text``
behind the sample's time stamp line, as a ``date; cat /proc/net/nf_conntrack`` loop is read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tcpforensics import schema
from tcpforensics.errors import InputError
from tcpforensics.ingest import ingest_text
from tcpforensics.ingest.base import Lines
from tcpforensics.ingest.formats import counters
from tcpforensics.live.procfs import CONNTRACK_FILE, COUNTER_FILES, SOCKET_FILES, Owners, ProcRoot
from tcpforensics.live.table import LineCache


def stamp(ts: np.datetime64) -> str:
    """The time stamp line of a sample (ISO 8601, UTC, nanoseconds), as ``ingest.snapshots`` reads it."""
    return f"{np.datetime_as_string(ts, unit='ns')}Z"


@dataclass
class Sample:
    """What one sample saw: its time (UTC, naive), socket rows (event columns; ``input``,
    ``snapshot`` and ``ts`` are set by the window), counter readings and conntrack rows."""

    seq: int
    ts: np.datetime64
    sockets: pd.DataFrame
    counters_text: bytes | None = None
    counters: pd.DataFrame | None = None
    conntrack_text: bytes | None = None
    conntrack: pd.DataFrame | None = None
    seconds: float = 0.0  # CPU time the sample took
    version: int = 0  # changes when what the detectors read differs from the sample before
    tallies: tuple | None = None  # window.tallies, computed once


@dataclass
class Sampler:
    """Reads samples from a ``/proc`` root; keeps the line caches and the owner table."""

    root: ProcRoot = field(default_factory=ProcRoot)
    processes: bool = True
    caches: dict[str, LineCache] = field(default_factory=dict)
    owners: Owners | None = None
    seq: int = 0
    version: int = 0
    _last: tuple = ()

    def __post_init__(self) -> None:
        self.owners = Owners(self.root) if self.processes else None
        self.caches = {name: LineCache() for name in SOCKET_FILES}

    def sample(self) -> Sample:
        """Read everything once; the sample's time is when its socket tables were read."""
        cpu = time.process_time()
        ts = np.datetime64(time.time_ns(), "ns")
        texts = {name: self.root.read(name) for name in SOCKET_FILES}
        parts = [rows for n, data in texts.items() if len(rows := self.caches[n].update(data or b""))]
        sockets = schema.concat_events(parts, "socket") if parts else self.caches[SOCKET_FILES[0]].rows
        sockets = self._owned(sockets.assign(line=np.arange(1, len(sockets) + 1)))
        counters_text = b"".join(d for n in COUNTER_FILES if (d := self.root.read(n))) or None
        conntrack_text = self.root.read(CONNTRACK_FILE) or None
        out = Sample(self.seq, ts, sockets, counters_text, _readings(counters_text, ts),
                     conntrack_text, _conntrack(conntrack_text, ts))
        self.version += self._changed(out)
        out.version = self.version
        out.seconds = time.process_time() - cpu
        self.seq += 1
        return out

    def _changed(self, sample: Sample) -> bool:
        """Did the socket tables, their owners, the conntrack table or the counters the
        detectors read change since the previous sample?"""
        moved = any(c.changed for c in self.caches.values())
        key = (self.owners.scans if self.owners else 0, _tracked(sample.conntrack), _watched(sample.counters))
        moved = moved or key != self._last
        self._last = key
        return moved

    def _owned(self, sockets: pd.DataFrame) -> pd.DataFrame:
        if self.owners is None or sockets.empty:
            return sockets
        found = self.owners.lookup(sockets["inode"])
        return sockets.assign(pid=pd.array(found["pid"].to_numpy(), dtype="Int64"),
                              process=pd.Categorical(found["process"].to_numpy(), categories=_names(found["process"])))


#: Counters whose change makes the detectors run again at once (the others are read at the
#: periodic refresh).
WATCHED_COUNTERS: tuple[str, ...] = ("ListenOverflows", "ListenDrops", "SyncookiesSent", "RetransSegs")


#: Conntrack columns whose change makes the detectors run again (not the timeouts, which count down).
TRACKED = ["state", "src_addr", "src_port", "dst_addr", "dst_port", "reply_src_addr", "reply_dst_addr", "ct_status"]


def _tracked(conntrack: pd.DataFrame | None) -> int:
    """A hash of the conntrack entries the detectors read (0 without conntrack)."""
    if conntrack is None:
        return 0
    return int(pd.util.hash_pandas_object(conntrack[TRACKED].astype(object), index=False).sum())


def _watched(counters: pd.DataFrame | None) -> tuple:
    if counters is None:
        return ()
    c = counters[counters["counter"].astype(object).isin(WATCHED_COUNTERS)]
    return tuple(zip(c["counter"].astype(str), c["value"].astype("Int64").fillna(-1).astype(int), strict=True))


def dated(text: bytes, ts: np.datetime64) -> bytes:
    """A sample's text behind its time stamp line (one run of a ``date; cat ...`` loop)."""
    return stamp(ts).encode() + b"\n" + text + (b"" if text.endswith(b"\n") else b"\n")


def _names(process: pd.Series) -> pd.Index:
    """The process names as categories of object dtype (the schema's)."""
    return pd.Index(process.dropna().unique(), dtype=object)


def _readings(text: bytes | None, ts: np.datetime64) -> pd.DataFrame | None:
    """The counter readings of one sample, by the ``counters`` parser (one reading, time ``ts``)."""
    if not text:
        return None
    lines = text.decode("ascii", "replace").splitlines()
    index = pd.RangeIndex(1, len(lines) + 1, name="line")
    frame = pd.DataFrame({"text": pd.Series(lines, index=index, dtype=object), "snapshot": 0,
                          "ts": np.full(len(lines), ts), "is_marker": False}, index=index)
    found = counters.parse(Lines(input="counters", encoding="ascii", frame=frame)).meta.get("counters")
    return found if found is not None and len(found) else None


def _conntrack(text: bytes | None, ts: np.datetime64) -> pd.DataFrame | None:
    """The conntrack entries of one sample (``conntrack`` format); None when the table is empty."""
    if not text or not text.strip():
        return None
    try:
        return ingest_text(dated(text, ts), "conntrack", "conntrack").events
    except InputError:
        return None
