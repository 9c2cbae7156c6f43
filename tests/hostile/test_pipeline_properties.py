"""Mutated inputs through the whole pipeline (ingest, reconstruct, detect, every renderer)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcpforensics.errors import InputError
from tcpforensics.ingest import registry
from tcpforensics.pipeline import analyze
from tcpforensics.report.render import FORMATS, render
from tests.conftest import corpus_path
from tests.hostile import mutate

PIPE = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def _analyze_and_render(path) -> None:
    try:
        report = analyze([str(path)])
    except InputError:
        return
    for fmt in FORMATS:
        out = render(report, fmt)
        assert isinstance(out, str)
        if fmt == "json":
            json.loads(out)
    assert all(a["unaccounted"] == 0 for a in report.accounting)


@PIPE
@given(data=st.data())
def test_mutated_dump_through_the_pipeline(tmp_path_factory, data):
    corpus_path("text")
    seeds = [p for f in registry.text_formats() for p in mutate.seeds(f.name, 30_000)]
    p = seeds[data.draw(st.integers(0, len(seeds) - 1))]
    blob = mutate.mutate_text(p.read_bytes(), data.draw(st.integers(0, 2**32)), data.draw(st.integers(1, 6)))
    path = tmp_path_factory.mktemp("dump") / "input.txt"
    path.write_bytes(blob)
    _analyze_and_render(path)


@PIPE
@given(data=st.data())
def test_mutated_capture_through_the_pipeline(tmp_path_factory, data):
    corpus_path("pcap")
    seeds = mutate.seeds("pcap", 100_000)
    p = seeds[data.draw(st.integers(0, len(seeds) - 1))]
    blob = mutate.mutate_bytes(p.read_bytes(), data.draw(st.integers(0, 2**32)), data.draw(st.integers(1, 5)))
    path = tmp_path_factory.mktemp("cap") / "input.pcap"
    path.write_bytes(blob)
    _analyze_and_render(path)
