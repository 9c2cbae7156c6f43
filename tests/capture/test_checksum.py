"""Vectorized ones' complement sums against a plain byte-by-byte RFC 1071 computation."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpforensics.capture.checksum import ones_sum


def _reference(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.lists(st.integers(0, 300), min_size=2, max_size=12))
def test_segments_anywhere_in_the_buffer(data, cuts):
    a = np.frombuffer(data, dtype=np.uint8)
    cuts = sorted(min(c, len(data)) for c in cuts)[: len(cuts) // 2 * 2]
    start = np.array(cuts[0::2], dtype=np.int64)
    length = np.array(cuts[1::2], dtype=np.int64) - start
    got = ones_sum(a, start, length)
    for s, n, g in zip(start.tolist(), length.tolist(), got.tolist(), strict=True):
        # 0 and 0xFFFF are the same number in ones' complement
        assert _reference(data[s : s + n]) % 0xFFFF == g % 0xFFFF
