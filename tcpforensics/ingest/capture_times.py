"""The first and last packet times of a capture file (``first_last_times``), read from its head
and its end without reading the whole file: pcapng by walking blocks back from the end, pcap
by finding a chain of records in its tail. ``ingest.rotation`` orders rotated pieces by them.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tcpforensics.capture import headers as h
from tcpforensics.capture.pcapfile import NAT, NotACapture, Walker
from tcpforensics.capture.records import _section_order

#: Bytes read from the head of a capture to find its first packet and interfaces.
CAPTURE_HEAD_BYTES = 64 * 1024
#: Bytes first read from the end of a capture to find its last packet (grown up to the max).
TAIL_BYTES = 256 * 1024
MAX_TAIL_BYTES = 2 * 1024 * 1024


#: Record timestamps in a pcap tail may go back this much and still be one chain of records.
RESYNC_SLACK_S = 3600


_GZIP_MAGIC = b"\x1f\x8b"
_DAY_NS = 86400 * 1_000_000_000
_PLAUSIBLE_SPAN_NS = 50 * 366 * _DAY_NS  # a last packet found from the end: at most 50 years on


_SHB_BYTES = h.BT_SHB.to_bytes(4, "little")  # the section header type reads the same both ways


@dataclass(frozen=True)
class _Span:
    linktypes: frozenset[int]
    first: int  # ns since the epoch, first timestamped packet in file order
    last: int  # ns since the epoch, last timestamped packet in file order


def first_last_times(path: str) -> tuple[int, int] | None:
    """(first, last) packet timestamps of a capture in ns since the epoch, in file order.

    The first packet is read from the head; the last without reading the whole file: pcapng
    by walking blocks back from the end (each block ends with its length), pcap by finding,
    in a tail window, the chain of record headers that ends exactly at the end of the file.
    A gzip-compressed, damaged or cut capture is walked from the start instead (in bounded
    memory). None when the file is no capture or has no timestamped packet.
    """
    span = _span(path)
    return None if span is None else (span.first, span.last)


def _span(path: str) -> _Span | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(CAPTURE_HEAD_BYTES)
            size = os.fstat(fh.fileno()).st_size
            span = None if head[:2] == _GZIP_MAGIC else _span_from_ends(fh, head, size)
            if span is None:
                fh.seek(0)
                span = _span_by_walking(fh)
            return span
    except (OSError, ValueError):
        return None


def _span_from_ends(fh: io.BufferedReader, head: bytes, size: int) -> _Span | None:
    got = _stamps(head)
    if got is None or not len(got[1]):
        return None
    walker, stamps, _ = got
    first = int(stamps[0])
    last = _pcap_last(fh, head, size, first) if walker.format == "pcap" else _pcapng_last(fh, head, size)
    if last is None or not first - _DAY_NS <= last <= first + _PLAUSIBLE_SPAN_NS:
        return None  # e.g. a later pcapng section with another resolution: walk instead
    return _Span(frozenset(walker.linktypes), first, last)


def _span_by_walking(fh: io.BufferedReader) -> _Span | None:
    walker = Walker(fh)
    first = last = None
    try:
        for batch in walker.batches():
            ts = batch.ts_ns[~batch.bad & (batch.ts_ns != NAT)]
            if len(ts):
                first = int(ts[0]) if first is None else first
                last = int(ts[-1])
    except NotACapture:
        return None
    return None if first is None else _Span(frozenset(walker.linktypes), first, last)


def _stamps(data: bytes) -> tuple[Walker, np.ndarray, bool] | None:
    """The walker, timestamps of the valid records and whether any record was bad, of a
    capture held in memory (None when it is no capture)."""
    walker = Walker(io.BufferedReader(io.BytesIO(data)))
    parts: list[np.ndarray] = []
    bad = False
    try:
        for batch in walker.batches():
            bad |= bool(batch.bad.any())
            parts.append(batch.ts_ns[~batch.bad & (batch.ts_ns != NAT)])
    except NotACapture:
        return None
    return walker, (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)), bad


def _tails(fh: io.BufferedReader, size: int, floor: int, least: int = 0) -> Iterator[tuple[int, bytes]]:
    """(start, bytes) of growing windows (from ``least`` bytes) at the end of the file; the
    last one starts at ``floor`` (after the file header) when the file is not much larger."""
    window = max(TAIL_BYTES, least)
    while True:
        start = size - window
        start = floor if start < CAPTURE_HEAD_BYTES else start
        fh.seek(start)
        yield start, fh.read(size - start)
        if start == floor or window >= max(MAX_TAIL_BYTES, least):
            return
        window = min(4 * window, max(MAX_TAIL_BYTES, least))


def _last_of(stream: bytes) -> int | None:
    """Timestamp of the last record of a stitched stream that reads cleanly to its end."""
    got = _stamps(stream)
    if got is None or got[2] or not len(got[1]) or got[0].stopped is not None:
        return None
    return int(got[1][-1])


def _pcap_last(fh: io.BufferedReader, head: bytes, size: int, first_ns: int) -> int | None:
    hdr = head[: h.PCAP_FILE.size]
    order = "<" if int.from_bytes(hdr[:4], "little") in (h.PCAP_MAGIC_US, h.PCAP_MAGIC_NS) else ">"
    magic, _, _, _, _, snaplen, _ = struct.unpack(order + h.PCAP_FILE.format, hdr)
    rule = _RecordRule(
        order=order,
        max_caplen=snaplen if 0 < snaplen < 0x7FFFFFFF else h.MAX_SNAPLEN,
        max_frac=1_000_000_000 if magic == h.PCAP_MAGIC_NS else 1_000_000,
        min_sec=(first_ns - _DAY_NS) // 1_000_000_000,
    )
    least = 2 * (h.PCAP_RECORD.size + rule.max_caplen)  # the last record whole, and one before
    for start, tail in _tails(fh, size, h.PCAP_FILE.size, least):
        at = _pcap_resync(tail, rule, whole=start == h.PCAP_FILE.size)
        if at is not None:
            return _last_of(hdr + tail[at:])
    return None


@dataclass(frozen=True)
class _RecordRule:
    """What a pcap record header must look like to be taken as one."""

    order: str
    max_caplen: int
    max_frac: int
    min_sec: int  # a day before the first packet


def _pcap_resync(tail: bytes, rule: _RecordRule, whole: bool) -> int | None:
    """Offset in ``tail`` where a chain of sane record headers starts that lands exactly on
    its end (the earliest such offset), or None. ``whole``: the chain must start at 0."""
    a = np.frombuffer(tail, dtype=np.uint8)
    n = len(a)
    if n < h.PCAP_RECORD.size:
        return None
    offs = np.arange(n - h.PCAP_RECORD.size + 1, dtype=np.int64)
    sec = h.PCAP_RECORD.get(a, offs, "ts_sec", rule.order).astype(np.int64)
    frac = h.PCAP_RECORD.get(a, offs, "ts_frac", rule.order)
    nxt = offs + h.PCAP_RECORD.size + h.PCAP_RECORD.get(a, offs, "caplen", rule.order).astype(np.int64)
    sane = (nxt - offs - h.PCAP_RECORD.size <= rule.max_caplen) & (frac < rule.max_frac)
    sane &= (sec >= rule.min_sec) & (nxt <= n)
    cand, sec, nxt = offs[sane], sec[sane], nxt[sane]
    m = len(cand)
    if not m:
        return None
    at = np.minimum(np.searchsorted(cand, nxt), m - 1)
    linked = (cand[at] == nxt) & (sec[at] >= sec - RESYNC_SLACK_S)
    step = np.concatenate([np.where(nxt == n, m, np.where(linked, at, m + 1)), [m, m + 1]])
    end = step
    for _ in range(m.bit_length() + 1):  # pointer doubling: where each chain ends
        end = end[end]
    if whole:
        return 0 if cand[0] == 0 and end[0] == m else None
    ok = np.flatnonzero((end[:m] == m) & (step[:m] != m))  # at least two records
    return int(cand[ok[0]]) if len(ok) else None


def _pcapng_last(fh: io.BufferedReader, head: bytes, size: int) -> int | None:
    prefix, order = _section_prefix(head)
    if not prefix:
        return None
    for start, tail in _tails(fh, size, 0):
        walked = _walk_back(tail, order)
        if walked is None:
            return None
        pos, types = walked
        if not {h.BT_EPB, h.BT_OPB} & set(types):
            if start:
                continue  # no timestamped packet yet: a larger window
            return None
        if tail[pos : pos + 4] == _SHB_BYTES:
            return _last_of(tail[pos:])
        return _last_of(prefix + tail[pos:]) if start else None
    return None


def _section_prefix(head: bytes) -> tuple[bytes, str]:
    """The section header and interface blocks of the last section that starts in ``head``,
    and its byte order (b"" when the head holds no complete section header)."""
    prefix, order, pos = b"", "<", 0
    while pos + 12 <= len(head):
        shb = head[pos : pos + 4] == _SHB_BYTES
        if shb:
            new = _section_order(head[pos + 8 : pos + 12])
            if new is None:
                break
            order = new
        btype, blen = struct.unpack_from(order + "II", head, pos)
        if blen < 12 or blen % 4 or pos + blen > len(head):
            break
        if shb:
            prefix = head[pos : pos + blen]
        elif btype == h.BT_IDB and prefix:
            prefix += head[pos : pos + blen]
        pos += blen
    return prefix, order


def _walk_back(tail: bytes, order: str) -> tuple[int, list[int]] | None:
    """From the end of ``tail``, back over whole pcapng blocks (each ends with its length)
    to the earliest one in the window or a section header: (its offset, block types; none
    when the last block is larger than the window), or None when the file does not end on
    a block."""
    u32 = struct.Struct(order + "I").unpack_from
    pos, types = len(tail), []
    while pos >= 12:
        blen = u32(tail, pos - 4)[0]
        start = pos - blen
        if blen < 12 or blen % 4:
            return (pos, types) if types else None
        if start < 0:  # the block begins before the window
            break
        if u32(tail, start + 4)[0] != blen:
            return (pos, types) if types else None
        types.append(u32(tail, start)[0])
        pos = start
        if types[-1] == h.BT_SHB:
            break
    return pos, types
