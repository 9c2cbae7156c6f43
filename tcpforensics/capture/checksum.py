"""TCP checksums of many segments at once: ones' complement sums with numpy (RFC 1071, 793)."""

from __future__ import annotations

import threading

import numpy as np

from tcpforensics.capture import headers as h

_local = threading.local()


def _scratch(n: int) -> np.ndarray:
    """A reused uint64 buffer of at least ``n`` (fresh big allocations cost page faults)."""
    buf = getattr(_local, "buf", None)
    if buf is None or len(buf) < n:
        buf = _local.buf = np.empty(max(n, 1 << 20), dtype=np.uint64)
    return buf[:n]


def _fold(s: np.ndarray) -> np.ndarray:
    for _ in range(4):  # 64-bit sums fold into 16 bits in at most four carries
        s = (s & np.uint64(0xFFFF)) + (s >> np.uint64(16))
    return s


def ones_sum(a: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Folded 16-bit ones' complement sum (network byte order) of ``a[start:start+length]``.

    One running sum over the buffer seen as little-endian 32-bit words (no copy); each
    segment is widened to whole words, the few bytes outside it are subtracted again. Modulo
    0xFFFF a 32-bit word sums like its two 16-bit halves, so the exact sum folds to the sum of
    16-bit words aligned on even offsets: byte-swapped for segments starting at an even offset
    (RFC 1071: swapping commutes with the sum), network order as it is for odd ones.
    """
    out = np.zeros(len(start), dtype=np.uint64)
    live = np.flatnonzero(length > 0)
    if not len(live):
        return out
    s = start[live]
    e = s + length[live]
    r0, r1 = s & ~3, (e + 3) & ~3
    nw = len(a) // 4
    tail = np.flatnonzero(r1 >= nw * 4)  # segments reaching the buffer's last word (or past it)
    if len(tail):
        base = int(r0[tail].min())
        padded = np.concatenate([a[base:], np.zeros(8, dtype=np.uint8)])
        out[live[tail]] = ones_sum(padded, s[tail] - base, length[live[tail]])
        keep = r1 < nw * 4
        live, s, e, r0, r1 = live[keep], s[keep], e[keep], r0[keep], r1[keep]
        if not len(live):
            return out
    words = a[: nw * 4].view("<u4")
    prefix = _scratch(nw + 1)  # running sum: no overflow below 2**32 words
    prefix[0] = 0
    np.cumsum(words, dtype=np.uint64, out=prefix[1:])
    exact = prefix[r1 >> 2] - prefix[r0 >> 2]
    for k in range(3):  # the bytes of the first and last word outside the segment
        before = r0 + k
        m = before < s
        exact[m] -= a[before[m]].astype(np.uint64) << ((before[m] & 3) * 8).astype(np.uint64)
        after = e + k
        m = after < r1
        exact[m] -= a[after[m]].astype(np.uint64) << ((after[m] & 3) * 8).astype(np.uint64)
    f = _fold(exact)
    even = (s & 1) == 0
    f[even] = ((f[even] & np.uint64(0xFF)) << np.uint64(8)) | (f[even] >> np.uint64(8))
    out[live] = f
    return out


def tcp_checksum_ok(a: np.ndarray, ip: np.ndarray, v6: np.ndarray, start: np.ndarray,
                    length: np.ndarray, captured: np.ndarray) -> np.ndarray:
    """True where the TCP checksum of each segment (header + payload + pseudo-header) is right.

    ``length`` is the segment length from the IP header (used in the pseudo-header);
    ``captured`` the bytes actually present (only meaningful when it equals ``length``).
    """
    body = ones_sum(a, start, np.minimum(length, captured))
    pseudo = np.full(len(ip), h.IPPROTO_TCP, dtype=np.uint64) + length.astype(np.uint64)
    four = np.flatnonzero(~v6)
    for off in (h.IPV4.offsets["src"], h.IPV4.offsets["dst"]):
        x = h.gather(a, ip[four] + off, "I").astype(np.uint64)
        pseudo[four] += (x >> np.uint64(16)) + (x & np.uint64(0xFFFF))
    six = np.flatnonzero(v6)
    if len(six):
        raw = a[(ip[six] + h.IPV6.offsets["src"])[:, None] + np.arange(32)]
        pseudo[six] += raw.view(">u2").sum(axis=1, dtype=np.uint64)
    return _fold(body + pseudo) == 0xFFFF
