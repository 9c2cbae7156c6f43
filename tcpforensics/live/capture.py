"""``tcpforensics watch -``: rolling findings of a capture arriving on standard input
(``tcpdump -i any -w - | tcpforensics watch -``).

The stream is read by the native reader in small chunks (``ingest.pcap.CaptureStream``, as
``analyze -`` reads it) and cut into intervals of packet time (``--interval``; a capture
replayed from a file gives the same intervals as it did live). At the end of each interval the
packets of the last ``--window`` intervals are rebuilt into capture evidence
(``reconstruct.evidence.capture_evidence``) and the capture detectors run on it
(``detect.captures.diagnose_one``: scans, floods, resets and closes); ``track.Tracker`` says
which findings started, changed or ended. Memory holds the packets of the window only.
Packets that arrive late (their time before the open interval's) count in the open interval;
an idle gap longer than the window empties the ring.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pandas as pd

from tcpforensics import detect, schema
from tcpforensics.detect import captures
from tcpforensics.ingest.pcap import CaptureStream
from tcpforensics.live.track import Tracker
from tcpforensics.live.view import Sink
from tcpforensics.live.watch import DONE, FAILED, Options
from tcpforensics.reconstruct import evidence as rec

#: Packets per chunk read from the stream (small: an interval closes soon after its end arrives).
CHUNK_PACKETS = 4096
SYN, RST, ACK = 0x02, 0x04, 0x10


@dataclass
class CaptureSummary:
    """One interval of a capture stream: its packets, SYNs, SYN-ACKs, resets, 4-tuples."""

    seq: int
    ts: np.datetime64
    packets: int
    syn: int
    synack: int
    rst: int
    tuples: int
    cpu_ms: float = 0.0

    def headline(self, active: int) -> str:
        return (f"[bold]#{self.seq}[/] {pd.Timestamp(self.ts):%Y-%m-%d %H:%M:%S.%f} (packet time)  {self.packets} packets  "
                f"{self.syn} SYN  {self.synack} SYN-ACK  {self.rst} RST  {self.tuples} 4-tuples  "
                f"{active} active findings  {self.cpu_ms:.0f} ms CPU")

    def tables(self) -> list[tuple[str, pd.DataFrame]]:
        return []

    def to_dict(self) -> dict:
        return {"event": "interval", "seq": self.seq, "ts": str(pd.Timestamp(self.ts)), "packets": self.packets,
                "syn": self.syn, "synack": self.synack, "rst": self.rst, "tuples": self.tuples,
                "cpu_ms": round(self.cpu_ms, 1)}


def summarize(seq: int, start: np.datetime64, packets: pd.DataFrame) -> CaptureSummary:
    """Counts of one interval's packets (flags over whole columns)."""
    flags = packets["flags"].to_numpy(dtype=np.int64, na_value=0)
    syn = (flags & (SYN | ACK)) == SYN
    synack = (flags & (SYN | ACK)) == (SYN | ACK)
    tuples = packets[["src_addr", "src_port", "dst_addr", "dst_port"]].drop_duplicates()
    return CaptureSummary(seq, start, len(packets), int(syn.sum()), int(synack.sum()),
                          int(((flags & RST) != 0).sum()), len(tuples))


@dataclass
class Rolling:
    """The ring of the last intervals' packets and the detectors over it."""

    options: Options
    sink: Sink
    ring: deque
    tracker: Tracker
    seq: int = 0

    def close(self, start: np.datetime64, packets: pd.DataFrame) -> bool:
        """End one interval: run the detectors on the ring, show the changes; True to stop
        (a finding reached ``--fail-on``)."""
        cpu = time.process_time()
        self.ring.append(packets)
        while len(self.ring) > max(self.options.window, 1):
            self.ring.popleft()
        events = schema.concat_events(list(self.ring), "packet")
        found = schema.empty_findings()
        if len(events):
            evidence = rec.capture_evidence("-", events, self.options.config, rec.Options())
            rows, tables = captures.diagnose_one(evidence, self.options.config)
            found, _ = detect.combine([("-", rows, tables)], None, self.options.config)
        changes = self.tracker.update(found)
        summary = summarize(self.seq, start, packets)
        summary.cpu_ms = (time.process_time() - cpu) * 1000
        self.sink.show(summary, changes, self.tracker.current)
        self.seq += 1
        return self.tracker.at_least(changes, self.options.fail_on)


def watch_capture(fh: BinaryIO, options: Options, sink: Sink) -> int:
    """Read the stream to its end (or Ctrl-C, or ``--count`` intervals); DONE or FAILED."""
    step = np.int64(round(options.interval * 1e9))
    rolling = Rolling(options, sink, deque(), Tracker())
    stream = CaptureStream("-", CHUNK_PACKETS, "native", False, fh)
    open_bin: int | None = None
    origin = np.int64(0)
    pending: list[pd.DataFrame] = []
    try:
        for chunk in stream:
            if chunk.empty:
                continue
            ns = chunk["ts"].to_numpy(dtype="datetime64[ns]").view(np.int64)
            if open_bin is None:
                origin, open_bin = ns.min(), 0
            bins = np.maximum.accumulate(np.maximum((ns - origin) // step, open_bin))
            for b in np.unique(bins):
                if b > open_bin:
                    if _flush(rolling, origin, step, open_bin, b, pending, options):
                        return FAILED
                    if _enough(options, rolling.seq):
                        return DONE
                    pending, open_bin = [], int(b)
                pending.append(chunk[bins == b])
        if open_bin is not None and _flush(rolling, origin, step, open_bin, open_bin + 1, pending, options):
            return FAILED
        return DONE
    except KeyboardInterrupt:
        return DONE
    finally:
        sink.close()


def _enough(options: Options, intervals: int) -> bool:
    """``--count`` intervals, or ``--duration`` seconds of packet time, are done."""
    if options.count is not None and intervals >= options.count:
        return True
    return options.duration is not None and intervals * options.interval >= options.duration - 1e-9


def _flush(rolling: Rolling, origin: np.int64, step: np.int64, open_bin: int, next_bin: int,
           pending: list[pd.DataFrame], options: Options) -> bool:
    """Close the open interval and the empty ones up to ``next_bin`` (at most a window's worth:
    beyond that the ring is empty anyway)."""
    def start(b: int) -> np.datetime64:
        return np.datetime64(int(origin + b * step), "ns")

    packets = schema.concat_events(pending, "packet") if pending else schema.empty_events("packet")
    if rolling.close(start(open_bin), packets):
        return True
    empty = schema.empty_events("packet")
    for b in range(open_bin + 1, min(next_bin, open_bin + 1 + max(options.window, 1))):
        if _enough(options, rolling.seq):
            return False
        if rolling.close(start(b), empty):
            return True
    return False
