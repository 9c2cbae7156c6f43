"""Property tests: any near-valid input ends in an exact account or one InputError line."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcpforensics.errors import InputError
from tcpforensics.ingest import ingest_text, pcap, registry
from tests.conftest import corpus_path
from tests.hostile import mutate

PROPS = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def check_text_account(data: bytes, fmt: str | None) -> None:
    """The invariant: an InputError (one line) or lines == events + skipped + structural."""
    try:
        ing = ingest_text(data, "hostile", fmt)
    except InputError as e:
        assert "\n" not in str(e)
        return
    acc = ing.accounting
    assert acc["unaccounted"] == 0, acc
    parts = acc["events"] + sum(acc["skipped"].values()) + sum(acc["structural"].values()) + acc["counter_lines"]
    assert parts == acc["records_read"]
    assert acc["events"] == len(ing.events)
    assert sum(acc["skipped"].values()) == len(ing.skipped)


def check_capture_account(data: bytes) -> None:
    """The invariant: an InputError (one line) or packets == TCP events + non-TCP + skipped."""
    try:
        ing = pcap.ingest_bytes(data, "hostile", progress=False)
    except InputError as e:
        assert "\n" not in str(e)
        return
    acc = ing.accounting
    assert acc["unaccounted"] == 0, acc
    assert acc["records_read"] == acc["events"] + sum(acc["non_tcp"].values()) + sum(acc["skipped"].values())
    assert acc["events"] == len(ing.events)
    assert sum(acc["skipped"].values()) == len(ing.skipped)


def _seeds(target: str) -> list:
    corpus_path("text" if target != "pcap" else "pcap")  # skip without the corpus, fail under CI
    found = mutate.seeds(target, 60_000 if target != "pcap" else 200_000)
    assert found, f"no seed files for {target}"
    return found


@pytest.mark.parametrize("fmt", [f.name for f in registry.text_formats()])
def test_mutated_dump_parses_with_exact_account(fmt):
    seeds = _seeds(fmt)

    @PROPS
    @given(i=st.integers(0, len(seeds) - 1), seed=st.integers(0, 2**32), ops=st.integers(1, 8))
    def run(i, seed, ops):
        check_text_account(mutate.mutate_text(seeds[i].read_bytes(), seed, ops), fmt)

    run()


def test_mutated_dump_with_detection_has_exact_account():
    seeds = [p for f in registry.text_formats() for p in _seeds(f.name)]

    @settings(PROPS, max_examples=50)
    @given(i=st.integers(0, len(seeds) - 1), seed=st.integers(0, 2**32), ops=st.integers(0, 6))
    def run(i, seed, ops):
        check_text_account(mutate.mutate_text(seeds[i].read_bytes(), seed, ops), None)

    run()


@PROPS
@given(data=st.binary(max_size=2000) | st.text(max_size=500).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_random_bytes_never_crash(data):
    for fmt in (None, "ss", "netstat_windows"):
        check_text_account(data, fmt)


@settings(PROPS, max_examples=100)
@given(data=st.data())
def test_mutated_capture_has_exact_account(data):
    seeds = _seeds("pcap")
    i = data.draw(st.integers(0, len(seeds) - 1))
    seed = data.draw(st.integers(0, 2**32))
    ops = data.draw(st.integers(1, 6))
    check_capture_account(mutate.mutate_bytes(seeds[i].read_bytes(), seed, ops))


@settings(PROPS, max_examples=60)
@given(blob=st.binary(max_size=600), magic=st.sampled_from(
    [b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\x0a\x0d\x0d\x0a", b"\x1f\x8b"]))
def test_random_bytes_after_a_capture_magic(blob, magic):
    check_capture_account(magic + blob)
