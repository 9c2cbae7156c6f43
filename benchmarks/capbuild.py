"""Build large benchmark captures from the corpus by time-shifted concatenation (not timed).

Shared by ``bench_capture.py`` (``capture-2M.pcap``) and ``bench_memory.py`` (the 2 M, 10 M,
10 M-with-backsteps and flow-heavy captures). Nothing here is a benchmark; it only writes data
files under ``benchmarks/data/``.

One *pass* writes every source capture once, in order, each copy shifted in time after the
previous one (``t_base + shift + min(max(ts - first, 0), 86400)``; after a copy the shift grows by
its clamped span + 1 s); passes repeat until the wanted number of TCP packets is reached (whole
passes only). The output is a classic little-endian microsecond pcap (Ethernet, snaplen 262144)
whose record lengths are the captured lengths. ``build_concat`` writes exactly the bytes that
``bench_capture.py`` wrote with its per-record loop before this module existed (same float
arithmetic), one pass at a time with numpy, so 10 M records never sit in memory at once.

Options of ``build_concat``:

- ``backsteps``: every ``every`` copies the clock steps back by the next of ``seconds``
  (cycled), as merged captures or clock steps do; a streaming reader then sees time go backwards.
- ``rewrite``: copy ``k`` (pass index) gets ``k`` added (mod 256) to the second and third octets
  of both IPv4 addresses, so every pass's connections are new 4-tuples. The IPv4 header checksum
  is recomputed; TCP and UDP checksums are updated incrementally (RFC 1624) for the changed
  pseudo-header words, which keeps each packet's checksum exactly as valid (or as invalid) as
  it was in the source.

Usage (from another benchmark script in this directory)::

    import capbuild
    sources = capbuild.load_sources(capbuild.corpus_pcaps(CORPUS))
    stats = capbuild.build_concat(DATA / "capture-2M.pcap", sources, 2_000_000)
"""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
T_BASE = 1_600_000_000.0
MAX_SPAN = 86400.0  # odd clocks clamped to a day
#: manifest labels of the scan (nmap, sweeps), flood, reflection and backscatter captures of
#: corpus/pcap/labeled
FLOW_HEAVY_LABEL = re.compile(r"scan|nmap|flood|reflection|backscatter|sweep", re.IGNORECASE)


@dataclass
class Source:
    """One source capture: its frames, dpkt timestamps and IPv4 TCP packet count."""

    name: str
    ts: list[float]
    frames: list[bytes]
    tcp: int


@dataclass
class Backsteps:
    """Every ``every`` copies, step the clock back by the next of ``seconds`` (cycled)."""

    every: int = 5
    seconds: Sequence[float] = (3.0, 20.0, 75.0, 240.0, 30.0, 600.0, 10.0, 150.0)


@dataclass
class BuildStats:
    """What was written (saved beside the capture as JSON)."""

    path: str
    frames: int = 0
    tcp: int = 0
    passes: int = 0
    copies: int = 0
    bytes: int = 0
    seconds: float = 0.0
    #: distinct IPv4 TCP 4-tuples (either direction) in the whole file
    tuples_distinct: int = 0
    #: sum over passes of each pass's distinct 4-tuples (= connections when every copy of a
    #: 4-tuple is a new connection, as with the time-shifted copies here)
    tuples_per_pass_summed: int = 0
    backsteps: int = 0
    max_backstep_s: float = 0.0
    rewrite: bool = False
    sources: list[str] = field(default_factory=list)


def corpus_pcaps(corpus: Path) -> list[Path]:
    """The capture files of ``corpus`` (``corpus/pcap``), as bench_capture.py globs them."""
    return sorted(corpus.glob("*/*.pcap*"))


def flow_heavy_pcaps(labeled: Path) -> list[Path]:
    """The scan, SYN flood and reflection/backscatter captures listed in labeled/manifest.tsv."""
    out = []
    for line in (labeled / "manifest.tsv").read_text().splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) < 6 or not FLOW_HEAVY_LABEL.search(cols[4]):
            continue
        m = re.search(r"tcp_pkts=(\d+)", cols[5])
        if m and int(m.group(1)) == 0:  # the UDP scan: no TCP at all
            continue
        out.append(labeled / cols[0])
    return sorted(out)


def _ipv4_tcp(buf: bytes) -> bool:
    return len(buf) > 23 and buf[12:14] == b"\x08\x00" and buf[23] == 6


def load_sources(paths: Iterable[Path]) -> list[Source]:
    """Ethernet captures read with dpkt (other link types skipped), as bench_capture.py does."""
    import dpkt

    sources = []
    for path in paths:
        with open(path, "rb") as fh:
            r = dpkt.pcap.UniversalReader(fh)
            if r.datalink() != dpkt.pcap.DLT_EN10MB:
                continue
            recs = [(ts, bytes(buf)) for ts, buf in r]
        sources.append(
            Source(
                path.name,
                [t for t, _ in recs],
                [b for _, b in recs],
                sum(1 for _, b in recs if _ipv4_tcp(b)),
            )
        )
    return sources


class _Template:
    """One pass of all sources, as pcap record bytes with zero timestamps, plus parsed offsets."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = [s for s in sources if s.frames]
        self.counts = np.array([len(s.frames) for s in self.sources], dtype=np.int64)
        self.spans = [min(max(s.ts[-1] - s.ts[0], 0.0), MAX_SPAN) for s in self.sources]
        self.tcp = sum(s.tcp for s in self.sources)
        self.frames = int(self.counts.sum())
        parts: list[bytes] = []
        hdr: list[int] = []
        rel: list[float] = []
        off = 0
        for s in self.sources:
            first = s.ts[0]
            for ts, buf in zip(s.ts, s.frames, strict=True):
                rel.append(min(max(ts - first, 0.0), MAX_SPAN))
                hdr.append(off)
                parts.append(struct.pack("<IIII", 0, 0, len(buf), len(buf)))
                parts.append(buf)
                off += 16 + len(buf)
        self.blob = np.frombuffer(b"".join(parts), dtype=np.uint8)
        self.hdr = np.array(hdr, dtype=np.int64)
        self.ts_idx = self.hdr[:, None] + np.arange(8)
        self.rel = np.array(rel, dtype=np.float64)
        self._parse()

    def _parse(self) -> None:
        """Offsets (into blob) of IPv4 headers, their checksummed words, L4 checksums, TCP ports."""
        ip: list[int] = []
        hw: list[int] = []
        hseg: list[int] = []
        l4c: list[int] = []
        l4ip: list[int] = []
        l4udp: list[bool] = []
        tcp_ip: list[int] = []
        tcp_l4: list[int] = []
        blob = self.blob.tobytes()
        for h in self.hdr.tolist():
            caplen = struct.unpack_from("<I", blob, h + 8)[0]
            f0, end = h + 16, h + 16 + caplen
            l3 = f0 + 14
            if end >= l3 and blob[f0 + 12 : f0 + 14] == b"\x81\x00":
                l3 += 4
            if end < l3 + 20 or blob[l3 - 2 : l3] != b"\x08\x00" or blob[l3] >> 4 != 4:
                continue
            ihl = (blob[l3] & 0x0F) * 4
            if ihl < 20 or end < l3 + ihl:
                continue
            ip.append(l3)
            hseg.append(len(hw))
            hw.extend(l3 + 2 * i for i in range(ihl // 2) if i != 5)
            proto = blob[l3 + 9]
            first_fragment = struct.unpack_from(">H", blob, l3 + 6)[0] & 0x1FFF == 0
            l4 = l3 + ihl
            if not first_fragment:
                continue
            if proto == 6 and end >= l4 + 18:
                l4c.append(l4 + 16)
                l4ip.append(l3)
                l4udp.append(False)
            elif proto == 17 and end >= l4 + 8 and blob[l4 + 6 : l4 + 8] != b"\x00\x00":
                l4c.append(l4 + 6)
                l4ip.append(l3)
                l4udp.append(True)
            if proto == 6 and end >= l4 + 4:
                tcp_ip.append(l3)
                tcp_l4.append(l4)
        i64 = np.int64
        self.ip = np.array(ip, dtype=i64)
        self.hw = np.array(hw, dtype=i64)
        self.hseg = np.array(hseg, dtype=i64)
        self.l4c = np.array(l4c, dtype=i64)
        self.l4ip = np.array(l4ip, dtype=i64)
        self.l4udp = np.array(l4udp, dtype=bool)
        self.tcp_ip = np.array(tcp_ip, dtype=i64)
        self.tcp_l4 = np.array(tcp_l4, dtype=i64)

    # --- per pass ---------------------------------------------------------------------------

    def stamp(self, buf: np.ndarray, starts: list[float]) -> None:
        """Write the timestamps: ``start of the copy + clamped offset``, as bench_capture did."""
        t = np.repeat(np.array(starts, dtype=np.float64), self.counts) + self.rel
        sec = t.astype(np.int64)
        usec = ((t - sec) * 1e6).astype(np.int64)
        both = np.column_stack([sec.astype("<u4"), usec.astype("<u4")])
        buf[self.ts_idx] = both.view(np.uint8).reshape(-1, 8)

    def shift_addresses(self, buf: np.ndarray, k: int) -> None:
        """Add ``k`` to octets 2 and 3 of IPv4 source and destination; fix the checksums."""
        if not len(self.ip) or k % 256 == 0:
            return
        u32 = np.uint32
        # the address words as they are now (for the incremental L4 update)
        aw = self.l4ip[:, None] + np.array([12, 14, 16, 18])
        old = (buf[aw].astype(u32) << 8) | buf[aw + 1]
        for o in (13, 14, 17, 18):
            buf[self.ip + o] = (buf[self.ip + o].astype(np.int64) + k) % 256
        new = (buf[aw].astype(u32) << 8) | buf[aw + 1]
        # IPv4 header checksum, recomputed (the checksum word itself left out of the sum)
        words = (buf[self.hw].astype(u32) << 8) | buf[self.hw + 1]
        s = np.add.reduceat(words, self.hseg)
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        c = ~s & 0xFFFF
        buf[self.ip + 10] = c >> 8
        buf[self.ip + 11] = c & 0xFF
        if not len(self.l4c):
            return
        # TCP/UDP checksums: HC' = ~(~HC + ~m + m') over the four changed words (RFC 1624, eq. 3)
        hc = (buf[self.l4c].astype(u32) << 8) | buf[self.l4c + 1]
        s = (~hc & 0xFFFF) + (~old & 0xFFFF).sum(axis=1) + new.sum(axis=1)
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        c = ~s & 0xFFFF
        c[self.l4udp & (c == 0)] = 0xFFFF  # UDP: a computed 0 is sent as 0xFFFF
        buf[self.l4c] = c >> 8
        buf[self.l4c + 1] = c & 0xFF

    def tuples(self, buf: np.ndarray) -> np.ndarray:
        """Distinct IPv4 TCP 4-tuples of this pass (direction folded), as (lo, hi) uint64 rows."""
        if not len(self.tcp_ip):
            return np.empty((0, 2), dtype=np.uint64)
        u64 = np.uint64

        def be(idx: np.ndarray, n: int) -> np.ndarray:
            v = np.zeros(len(idx), dtype=u64)
            for i in range(n):
                v = (v << u64(8)) | buf[idx + i].astype(u64)
            return v

        a = (be(self.tcp_ip + 12, 4) << u64(16)) | be(self.tcp_l4, 2)
        b = (be(self.tcp_ip + 16, 4) << u64(16)) | be(self.tcp_l4 + 2, 2)
        return np.unique(np.column_stack([np.minimum(a, b), np.maximum(a, b)]), axis=0)


def build_concat(
    path: Path,
    sources: list[Source],
    target_tcp: int,
    *,
    min_tuples: int = 0,
    backsteps: Backsteps | None = None,
    rewrite: bool = False,
) -> BuildStats:
    """Write ``path`` (through ``path.tmp``): whole passes until >= target_tcp IPv4 TCP packets
    (and, with ``min_tuples``, >= that many distinct TCP 4-tuples)."""
    t0 = time.perf_counter()
    tpl = _Template(sources)
    if not tpl.tcp:
        raise ValueError("no IPv4 TCP packet in the sources")
    stats = BuildStats(str(path), rewrite=rewrite, sources=[s.name for s in tpl.sources])
    same_tuples = None if rewrite else tpl.tuples(tpl.blob)  # every pass has the same 4-tuples
    seen: list[np.ndarray] = []
    shift = 0.0
    step_i = 0

    def distinct() -> int:
        if same_tuples is not None:
            return len(same_tuples)
        if len(seen) > 1:
            seen[:] = [np.unique(np.concatenate(seen), axis=0)]
        return len(seen[0]) if seen else 0

    def enough() -> bool:
        if stats.tcp < target_tcp:
            return False
        # the exact (sorting) count only once the per-pass sum, its upper bound, is there
        return not min_tuples or (
            stats.tuples_per_pass_summed >= min_tuples and distinct() >= min_tuples
        )

    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as out:
        out.write(PCAP_HEADER)
        while not enough():
            starts = []
            for span in tpl.spans:
                starts.append(T_BASE + shift)
                shift += span + 1.0
                stats.copies += 1
                if backsteps and stats.copies % backsteps.every == 0:
                    back = backsteps.seconds[step_i % len(backsteps.seconds)]
                    step_i += 1
                    shift -= back
                    stats.backsteps += 1
                    stats.max_backstep_s = max(stats.max_backstep_s, back)
            buf = tpl.blob.copy()
            tpl.stamp(buf, starts)
            if rewrite:
                tpl.shift_addresses(buf, stats.passes)
                tup = tpl.tuples(buf)
                seen.append(tup)
            else:
                tup = same_tuples
            stats.tuples_per_pass_summed += len(tup)
            out.write(buf.tobytes())
            stats.passes += 1
            stats.tcp += tpl.tcp
            stats.frames += tpl.frames
    tmp.replace(path)
    stats.tuples_distinct = distinct()
    stats.bytes = path.stat().st_size
    stats.seconds = time.perf_counter() - t0
    return stats
