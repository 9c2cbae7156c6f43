"""Walk pcap and pcapng files (optionally gzip-compressed) in 4 MB blocks into record batches.

The records inside a block are found by ``capture.records`` (pcap record headers, pcapng
blocks, interface descriptions, timestamp resolutions).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from tcpforensics.capture import headers as h
from tcpforensics.capture.gunzip import Gunzip
from tcpforensics.capture.records import _Iface, _skip_block, _to_ns, _walk_pcap, _walk_pcapng

BLOCK_BYTES = 4 * 1024 * 1024


NAT = np.iinfo(np.int64).min


class NotACapture(Exception):
    """The stream is not a pcap/pcapng capture (message says why)."""


@dataclass
class Batch:
    """Packet records of one block: numpy arrays indexing into ``buf`` (one entry per packet)."""

    buf: np.ndarray  # uint8 view of the block
    data_off: np.ndarray  # int64: first byte of each packet in buf
    caplen: np.ndarray  # int64: captured bytes
    wirelen: np.ndarray  # int64: original length on the wire
    ts_ns: np.ndarray  # int64 nanoseconds since the epoch (NAT for a simple packet block)
    linktype: np.ndarray  # int64 link-layer type of each packet
    iface: np.ndarray  # uint16 interface id (0 for pcap)
    frame: np.ndarray  # int64 1-based packet number in the file
    bad: np.ndarray  # bool: the record itself is malformed (caplen beyond its block, unknown interface)


@dataclass
class Walker:
    """Reads one capture stream; ``batches()`` yields :class:`Batch` es in file order.

    After iteration ``stopped`` tells where and why reading ended early (None: clean end),
    ``blocks_skipped`` counts pcapng blocks of other types, ``linktypes`` the link types seen.
    """

    fh: io.BufferedIOBase
    on_progress: Callable[[int], None] | None = None
    format: str = ""
    compressed: bool = False
    stopped: dict | None = None
    blocks_skipped: Counter = field(default_factory=Counter)
    linktypes: Counter = field(default_factory=Counter)
    _frames: int = 0
    _consumed: int = 0
    _raw: io.BufferedIOBase | None = None  # the file itself (``fh`` decompresses when gzip)
    _gunzip: Gunzip | None = None
    _read_error: str = ""

    def open(self) -> None:
        """Check the magic number (unwrapping gzip); raise NotACapture when it is no capture."""
        head = self.fh.peek(4)[:4] if hasattr(self.fh, "peek") else b""
        if head[:2] == b"\x1f\x8b":
            self.compressed = True
            self._raw = self.fh
            self._gunzip = Gunzip(self.fh)
            self.fh = io.BufferedReader(self._gunzip, buffer_size=BLOCK_BYTES)
            try:
                head = self.fh.peek(4)[:4]
            except (OSError, EOFError, zlib.error) as e:
                raise NotACapture(f"is gzip-compressed but cannot be decompressed ({e})") from None
            if not head and self._gunzip.error:
                raise NotACapture(f"is gzip-compressed but cannot be decompressed ({self._gunzip.error})")
        else:
            self._raw = self.fh
        if not head:
            raise NotACapture("is empty")
        le = int.from_bytes(head.ljust(4, b"\0"), "little")
        be = int.from_bytes(head.ljust(4, b"\0"), "big")
        if le in (h.PCAP_MAGIC_US, h.PCAP_MAGIC_NS) or be in (h.PCAP_MAGIC_US, h.PCAP_MAGIC_NS):
            self.format = "pcap"
        elif le == h.BT_SHB:
            self.format = "pcapng"
        else:
            what = "gzip-compressed data" if self.compressed else "data"
            raise NotACapture(f"is {what} that is neither a pcap nor a pcapng capture")

    def position(self) -> int:
        """Bytes consumed from the underlying (possibly compressed) file."""
        try:
            return self._raw.tell()
        except (OSError, ValueError, AttributeError):
            return self._consumed

    def _read(self, n: int) -> bytes:
        """Up to ``n`` bytes: what one read gives (a pipe: what has arrived, so a live capture
        is decoded as it comes), empty only at the end."""
        try:
            data = self.fh.read1(n) if hasattr(self.fh, "read1") else self.fh.read(n)
        except (EOFError, OSError, zlib.error) as e:
            self._read_error = f"decompression failed ({e})" if self.compressed else f"read error ({e})"
            return b""
        if self._gunzip is not None and self._gunzip.error and not self._read_error:
            self._read_error = self._gunzip.error
        self._consumed += len(data)
        if self.on_progress is not None:
            self.on_progress(self.position())
        return data

    def batches(self) -> Iterator[Batch]:
        """Every packet record, in file order, a block at a time."""
        if not self.format:
            self.open()
        self._read_error = ""
        if self.format == "pcap":
            yield from self._pcap()
        else:
            yield from self._pcapng()

    # --- pcap -------------------------------------------------------------------------------

    def _pcap(self) -> Iterator[Batch]:
        hdr = self._read(h.PCAP_FILE.size)
        if len(hdr) < h.PCAP_FILE.size:
            raise NotACapture(f"has a truncated pcap file header ({len(hdr)} of {h.PCAP_FILE.size} bytes)")
        order = "<" if int.from_bytes(hdr[:4], "little") in (h.PCAP_MAGIC_US, h.PCAP_MAGIC_NS) else ">"
        magic, _, _, _, _, snaplen, network = struct.unpack(order + h.PCAP_FILE.format, hdr)
        frac_ns = 1 if magic == h.PCAP_MAGIC_NS else 1000
        linktype = network & 0xFFFF
        maxcap = max(h.MAX_SNAPLEN, snaplen if snaplen < 0x7FFFFFFF else 0)
        buf = b""
        base = h.PCAP_FILE.size
        while True:
            more = self._read(BLOCK_BYTES)
            buf = buf + more if buf else more
            if not buf:
                break
            offs, pos, bad_caplen = _walk_pcap(buf, order, maxcap)
            if len(offs):
                yield self._pcap_batch(buf, offs, order, frac_ns, linktype)
            if bad_caplen is not None:
                self._stop(base + pos, f"corrupt record header (captured length {bad_caplen} > {maxcap})")
                return
            buf = buf[pos:]
            base += pos
            if not more:
                break
        if buf or self._read_error:
            self._stop(base, self._read_error or f"file ends in the middle of a record ({len(buf)} bytes left)")

    def _pcap_batch(self, buf: bytes, offs: np.ndarray, order: str, frac_ns: int, linktype: int) -> Batch:
        a = np.frombuffer(buf, dtype=np.uint8)
        rec = h.PCAP_RECORD
        sec = rec.get(a, offs, "ts_sec", order).astype(np.int64)
        frac = rec.get(a, offs, "ts_frac", order).astype(np.int64)
        n = len(offs)
        self.linktypes[linktype] += n
        return Batch(
            buf=a,
            data_off=offs + rec.size,
            caplen=rec.get(a, offs, "caplen", order).astype(np.int64),
            wirelen=rec.get(a, offs, "wirelen", order).astype(np.int64),
            ts_ns=sec * 1_000_000_000 + frac * frac_ns,
            linktype=np.full(n, linktype, dtype=np.int64),
            iface=np.zeros(n, dtype=np.uint16),
            frame=self._number(n),
            bad=np.zeros(n, dtype=bool),
        )

    def _number(self, n: int) -> np.ndarray:
        frames = np.arange(self._frames + 1, self._frames + n + 1, dtype=np.int64)
        self._frames += n
        return frames

    def _stop(self, offset: int, reason: str) -> None:
        where = "decompressed stream" if self.compressed else "file"
        self.stopped = {"offset": offset, "after_frame": self._frames, "reason": reason, "where": where}

    # --- pcapng -----------------------------------------------------------------------------

    def _pcapng(self) -> Iterator[Batch]:
        buf = b""
        base = 0
        order = "<"
        ifaces: list[_Iface] = []
        eof = False
        while True:
            if not eof:
                more = self._read(BLOCK_BYTES)
                eof = not more
                buf = buf + more if buf else more
            if not buf:
                break
            pos, end = 0, len(buf)
            while True:
                offs, pos, status, info = _walk_pcapng(buf, pos, end, order, ifaces, self.blocks_skipped)
                if offs:
                    yield self._pcapng_batch(buf, np.array(offs, dtype=np.int64), order, ifaces)
                if status == "shb":
                    order = info
                    ifaces = []
                    pos = _skip_block(buf, pos, order)
                    continue
                break
            if status == "corrupt":
                self._stop(base + pos, info)
                return
            buf = buf[pos:]
            base += pos
            if eof:
                break
        if buf or self._read_error:
            self._stop(base, self._read_error or f"file ends in the middle of a block ({len(buf)} bytes left)")

    def _pcapng_batch(self, buf: bytes, offs: np.ndarray, order: str, ifaces: list[_Iface]) -> Batch:
        a = np.frombuffer(buf, dtype=np.uint8)
        n = len(offs)
        btype = h.PCAPNG_BLOCK.get(a, offs, "type", order)
        blen = h.PCAPNG_BLOCK.get(a, offs, "total_len", order).astype(np.int64)
        iface = np.zeros(n, dtype=np.int64)
        ts = np.zeros(n, dtype=np.uint64)
        caplen = np.zeros(n, dtype=np.int64)
        wirelen = np.zeros(n, dtype=np.int64)
        data_off = offs + h.EPB.size
        for bt, hdr, iface_field in ((h.BT_EPB, h.EPB, "iface"), (h.BT_OPB, h.OPB, "iface")):
            sel = np.flatnonzero(btype == bt)
            if not len(sel):
                continue
            o = offs[sel]
            iface[sel] = hdr.get(a, o, iface_field, order)
            ts[sel] = (hdr.get(a, o, "ts_high", order).astype(np.uint64) << np.uint64(32)) | hdr.get(a, o, "ts_low", order)
            caplen[sel] = hdr.get(a, o, "caplen", order)
            wirelen[sel] = hdr.get(a, o, "wirelen", order)
        bad = caplen > blen - h.EPB.size - 4
        spb = np.flatnonzero(btype == h.BT_SPB)
        if len(spb):
            o = offs[spb]
            wirelen[spb] = h.SPB.get(a, o, "wirelen", order)
            snap = ifaces[0].snaplen if ifaces and ifaces[0].snaplen else h.MAX_SNAPLEN
            caplen[spb] = np.minimum(np.minimum(wirelen[spb], blen[spb] - h.SPB.size - 4), snap)
            data_off[spb] = o + h.SPB.size
            bad[spb] = False
        known = iface < len(ifaces)
        bad |= ~known
        if not len(ifaces):
            bad[spb] = True
        caplen[bad] = 0
        linktype = np.full(n, -1, dtype=np.int64)
        ts_ns = np.full(n, NAT, dtype=np.int64)
        for i, itf in enumerate(ifaces):
            sel = np.flatnonzero(iface == i)
            if not len(sel):
                continue
            linktype[sel] = itf.linktype
            self.linktypes[itf.linktype] += len(sel)
            ts_ns[sel] = _to_ns(ts[sel], itf.tsresol) + itf.tsoffset * 1_000_000_000
        if len(spb):
            ts_ns[spb] = NAT
        return Batch(
            buf=a,
            data_off=data_off,
            caplen=caplen,
            wirelen=wirelen,
            ts_ns=ts_ns,
            linktype=linktype,
            iface=np.where(known, iface, 0).astype(np.uint16),
            frame=self._number(n),
            bad=bad,
        )
