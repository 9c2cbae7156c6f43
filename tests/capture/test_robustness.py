"""Damaged captures never raise anything but InputError, and every packet is accounted for."""

from __future__ import annotations

import numpy as np
import pytest

from tcpforensics.errors import InputError
from tcpforensics.ingest import pcap
from tests.conftest import FIXTURES

CAPS = FIXTURES / "captures"
SEEDS = range(60)


def _mutate(data: bytes, seed: int) -> bytes:
    """Flip random bytes after the file header (or cut the file), deterministically."""
    rng = np.random.default_rng(seed)
    a = np.frombuffer(data, dtype=np.uint8).copy()
    n = int(rng.integers(1, 12))
    at = rng.integers(24, len(a), size=n)
    a[at] = rng.integers(0, 256, size=n, dtype=np.uint8)
    out = a.tobytes()
    if seed % 5 == 0:
        out = out[: int(rng.integers(24, len(out)))]
    return out


@pytest.mark.parametrize("name", ["encapsulations.pcap", "multi_section.pcapng", "be_nsec.pcap"])
@pytest.mark.parametrize("seed", SEEDS)
def test_mutated_capture_is_read_or_refused_cleanly(name, seed):
    data = _mutate((CAPS / name).read_bytes(), seed)
    try:
        ing = pcap.ingest_bytes(data, "mutated")
    except InputError:
        return
    acc = ing.accounting
    assert acc["unaccounted"] == 0
    assert len(ing.events) == acc["events"]
    assert (ing.events["payload_len"].astype("int64") >= 0).all()
