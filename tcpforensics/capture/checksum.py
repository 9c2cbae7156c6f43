"""TCP checksums of many segments at once: ones' complement sums with numpy (RFC 1071, 793)."""

from __future__ import annotations

import numpy as np

from tcpforensics.capture import headers as h


def _fold(s: np.ndarray) -> np.ndarray:
    for _ in range(4):  # 64-bit sums fold into 16 bits in at most four carries
        s = (s & np.uint64(0xFFFF)) + (s >> np.uint64(16))
    return s


def ones_sum(a: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Folded 16-bit ones' complement sum (network byte order) of ``a[start:start+length]``.

    Words are summed little-endian straight from the buffer (no copy) with ``np.add.reduceat``,
    one pass for segments starting at even offsets and one for odd; the sum of byte-swapped
    words is the byte-swapped sum (RFC 1071 section 2), so one swap at the end suffices.
    """
    n = len(start)
    total = np.zeros(n, dtype=np.uint64)
    nwords = length // 2
    for parity in (0, 1):
        sel = np.flatnonzero(((start & 1) == parity) & (nwords > 0))
        if not len(sel):
            continue
        base = a[parity:]
        words = base[: len(base) // 2 * 2].view("<u2")
        k0 = (start[sel] - parity) // 2
        bounds = np.empty(2 * len(sel), dtype=np.int64)
        bounds[0::2] = k0
        bounds[1::2] = k0 + nwords[sel]
        if bounds[-1] >= len(words):  # the last segment runs to the end of the buffer
            bounds = bounds[:-1]
        total[sel] = np.add.reduceat(words, bounds, dtype=np.uint64)[0::2]
    odd = np.flatnonzero(length & 1)
    total[odd] += a[start[odd] + length[odd] - 1]  # zero-padded last byte (high byte, swapped)
    s = _fold(total)
    return ((s & np.uint64(0xFF)) << np.uint64(8)) | (s >> np.uint64(8))


def tcp_checksum_ok(a: np.ndarray, ip: np.ndarray, v6: np.ndarray, start: np.ndarray,
                    length: np.ndarray, captured: np.ndarray) -> np.ndarray:
    """True where the TCP checksum of each segment (header + payload + pseudo-header) is right.

    ``length`` is the segment length from the IP header (used in the pseudo-header);
    ``captured`` the bytes actually present (only meaningful when it equals ``length``).
    """
    body = ones_sum(a, start, np.minimum(length, captured))
    pseudo = np.full(len(ip), h.IPPROTO_TCP, dtype=np.uint64) + length.astype(np.uint64)
    for is6, off, nbytes in ((False, h.IPV4.offsets["src"], 8), (True, h.IPV6.offsets["src"], 32)):
        sel = np.flatnonzero(v6 == is6)
        if not len(sel):
            continue
        raw = a[(ip[sel] + off)[:, None] + np.arange(nbytes)]
        pseudo[sel] += raw.view(">u2").sum(axis=1, dtype=np.uint64)
    return _fold(body + pseudo) == 0xFFFF
