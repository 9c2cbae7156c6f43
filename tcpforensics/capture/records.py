"""Record boundaries inside a block of a capture file (``capture.pcapfile`` reads the blocks):
pcap record headers, pcapng blocks with their section byte orders and interface description
blocks, and timestamps in an interface's resolution as nanoseconds.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass

import numpy as np

from tcpforensics.capture import headers as h

#: A pcapng block longer than this is taken as corruption, not read into memory.
MAX_BLOCK = 64 * 1024 * 1024


#: if_tsoffset beyond this many seconds (~272 years) is taken as damage.
MAX_TSOFFSET = 2**33


@dataclass
class _Iface:
    linktype: int
    snaplen: int
    tsresol: int = 6  # decimal exponent, or 0x80 | binary exponent
    tsoffset: int = 0


def _walk_pcap(buf: bytes, order: str, maxcap: int) -> tuple[np.ndarray, int, int | None]:
    """Offsets of the complete records in ``buf``, where the walk stopped, and a bad caplen.

    The only per-record Python loop of the reader: each record header says where the next one
    starts, so the chain is followed in Python (~0.25 us a record, bound by memory latency);
    every check is done afterwards on the whole array of offsets.
    """
    caplen_at = struct.Struct(order + "8xI").unpack_from
    found: list[int] = []
    append = found.append
    pos = 0
    try:
        while True:
            append(pos)
            pos += 16 + caplen_at(buf, pos)[0]
    except struct.error:  # the next header is not in the buffer (its end, or past it)
        pass
    offs = np.array(found, dtype=np.int64)
    end = len(buf)
    offs = offs[offs + 16 <= end]
    caplen = h.PCAP_RECORD.get(np.frombuffer(buf, dtype=np.uint8), offs, "caplen", order).astype(np.int64)
    bad = (caplen > maxcap) | (offs + 16 + caplen > end)
    if not bad.any():
        return offs, (int(offs[-1] + 16 + caplen[-1]) if len(offs) else 0), None
    first = int(np.argmax(bad))
    corrupt = int(caplen[first]) if caplen[first] > maxcap else None
    return offs[:first], int(offs[first]), corrupt


_PACKET_BLOCKS = (h.BT_EPB, h.BT_SPB, h.BT_OPB)
_MIN_PACKET_BLOCK = {h.BT_EPB: h.EPB.size + 4, h.BT_OPB: h.OPB.size + 4, h.BT_SPB: h.SPB.size + 4}


def _walk_pcapng(
    buf: bytes, pos: int, end: int, order: str, ifaces: list[_Iface], skipped: Counter
) -> tuple[list[int], int, str, object]:
    """Offsets of packet blocks from ``pos``; stops at a section header, damage or the block end."""
    unpack = struct.Struct(order + "II").unpack_from
    offs: list[int] = []
    append = offs.append
    limit = end - 12
    epb = h.BT_EPB
    while pos <= limit:
        btype, blen = unpack(buf, pos)
        if btype == epb and 32 <= blen <= end - pos and not blen & 3:  # the common case first
            append(pos)
            pos += blen
            continue
        if btype == h.BT_SHB:
            new = _section_order(buf[pos + 8 : pos + 12])
            if new is None:
                return offs, pos, "corrupt", "corrupt section header (bad byte-order magic)"
            blen = struct.unpack_from(new + "I", buf, pos + 4)[0]
            if blen < h.SHB.size + 4 or blen % 4 or blen > MAX_BLOCK:
                return offs, pos, "corrupt", f"corrupt section header (length {blen})"
            if pos + blen > end:
                break
            return offs, pos, "shb", new
        if blen < 12 or blen % 4 or blen > MAX_BLOCK:
            return offs, pos, "corrupt", f"corrupt block header (type {btype:#x}, length {blen})"
        nxt = pos + blen
        if nxt > end:
            break
        if btype in _PACKET_BLOCKS:
            if blen < _MIN_PACKET_BLOCK[btype]:
                return offs, pos, "corrupt", f"corrupt packet block (type {btype:#x}, length {blen})"
            append(pos)
        elif btype == h.BT_IDB:
            ifaces.append(_parse_idb(buf, pos, blen, order))
        else:
            skipped[btype] += 1
        pos = nxt
    return offs, pos, "more", None


def _section_order(bom: bytes) -> str | None:
    if bom == h.PCAPNG_BOM.to_bytes(4, "little"):
        return "<"
    if bom == h.PCAPNG_BOM.to_bytes(4, "big"):
        return ">"
    return None


def _skip_block(buf: bytes, pos: int, order: str) -> int:
    blen = struct.unpack_from(order + "I", buf, pos + 4)[0]
    return pos + blen


def _parse_idb(buf: bytes, pos: int, blen: int, order: str) -> _Iface:
    linktype, _, snaplen = struct.unpack_from(order + "HHI", buf, pos + 8)
    itf = _Iface(linktype=linktype, snaplen=snaplen)
    opt, stop = pos + h.IDB.size, pos + blen - 4
    while opt + 4 <= stop:  # options of one interface block: a handful, read once per interface
        code, olen = struct.unpack_from(order + "HH", buf, opt)
        if code == 0:
            break
        body = buf[opt + 4 : opt + 4 + olen]
        if code == h.IDB_OPT_TSRESOL and olen >= 1:
            itf.tsresol = body[0]
        elif code == h.IDB_OPT_TSOFFSET and olen >= 8:
            itf.tsoffset = struct.unpack(order + "q", body[:8])[0]
            if abs(itf.tsoffset) > MAX_TSOFFSET:  # damaged: ignore rather than overflow
                itf.tsoffset = 0
        opt += 4 + olen + (-olen % 4)
    return itf


def _to_ns(ts: np.ndarray, tsresol: int) -> np.ndarray:
    """pcapng timestamp units to int64 nanoseconds for one interface's if_tsresol.

    Damaged values give wrong times but never an error (int64 arithmetic wraps).
    """
    with np.errstate(over="ignore"):
        if tsresol & 0x80:
            shift = tsresol & 0x7F
            if shift >= 63:
                return (ts.astype(np.float64) * (1e9 / 2.0**shift)).astype(np.int64)
            secs = (ts >> np.uint64(shift)).astype(np.int64)
            frac = (ts & np.uint64((1 << shift) - 1)).astype(np.float64)
            return secs * 1_000_000_000 + np.round(frac * (1e9 / (1 << shift))).astype(np.int64)
        if tsresol <= 9:
            return ts.astype(np.int64) * np.int64(10 ** (9 - tsresol))
        if tsresol <= 28:
            return (ts // np.uint64(10 ** (tsresol - 9))).astype(np.int64)
        return np.zeros(len(ts), dtype=np.int64)
