"""Captures read in chunks, in bounded memory, give the evidence and findings of the whole file:
every corpus capture, the benchmark recipe (time-shifted copies, clock steps back), shuffled
chunks; a small chunk and partition size force every path (many partitions spilled to disk,
partitions rebuilt a time slice at a time, sorted by time when they step back)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tcpforensics
from tcpforensics.config import Config
from tcpforensics.detect import captures
from tcpforensics.reconstruct import evidence as rec
from tcpforensics.reconstruct import parts
from tests.conftest import ROOT, corpus_files, corpus_path, load_script

CAPTURES = corpus_files("*.pcap*", "pcap", "zeek") + corpus_files("*.pcap*", "pcap", "labeled")
CHUNK = 97


def _whole(path: Path) -> rec.CaptureEvidence:
    return rec.capture_evidence(str(path), tcpforensics.read(str(path)), Config(), rec.Options())


def _streamed(chunks, name: str, tmp_path: Path, parts: int = 3) -> rec.CaptureEvidence:
    return rec.streamed_evidence(name, chunks, Config(), rec.Options(), parts=parts, spill_dir=str(tmp_path))


def _assert_same(got: rec.CaptureEvidence, want: rec.CaptureEvidence) -> None:
    pd.testing.assert_frame_equal(got.flows, want.flows)
    pd.testing.assert_frame_equal(got.conversations, want.conversations)
    closing = want.conv_packets
    pd.testing.assert_frame_equal(got.conv_packets, closing)
    rows_got, tables_got = captures.diagnose_one(got, Config())
    rows_want, tables_want = captures.diagnose_one(want, Config())
    assert rows_got == rows_want
    assert tables_got.keys() == tables_want.keys()
    for name in tables_want:
        pd.testing.assert_frame_equal(tables_got[name], tables_want[name])


@pytest.fixture(autouse=True)
def spill_every_part(monkeypatch: pytest.MonkeyPatch) -> None:
    """The partitions' tables go to disk at once (no memory budget), so the merges read them back."""
    monkeypatch.setattr(parts, "HELD_BYTES", 0)


@pytest.fixture
def small_partitions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Partitions above 400 packets are rebuilt 400 packets (one time slice) at a time."""
    monkeypatch.setattr(rec, "PARTITION_ROWS", 400)


def _sizes(whole: rec.CaptureEvidence, monkeypatch: pytest.MonkeyPatch) -> int:
    """A chunk size giving about 30 chunks (at least CHUNK packets); partitions rebuilt by time
    slices of about a twentieth of the capture (at least 40 packets)."""
    n = len(whole.packets)
    monkeypatch.setattr(rec, "PARTITION_ROWS", max(40, n // 20))
    return max(CHUNK, n // 30)


@pytest.mark.corpus
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_streamed_capture_equals_the_whole_file(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus_path("pcap")
    whole = _whole(path)
    chunk = _sizes(whole, monkeypatch)
    got = _streamed(tcpforensics.iter_events(str(path), chunk_packets=chunk), str(path), tmp_path)
    _assert_same(got, whole)


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["em_syn_flood.pcap", "esnet_tcp_two_way_all_flags.pcap", "ncsa_backscatter.pcap"])
def test_chunks_in_any_order_give_the_whole_file(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = corpus_path("pcap", "labeled", name)
    whole = _whole(path)
    chunks = list(tcpforensics.iter_events(str(path), chunk_packets=_sizes(whole, monkeypatch)))
    random.Random(7).shuffle(chunks)  # time steps back from one chunk to the next
    assert any(a["ts"].min() < b["ts"].max() for a, b in zip(chunks[1:], chunks, strict=False))
    _assert_same(_streamed(chunks, str(path), tmp_path, parts=5), whole)


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["esnet_tcp_two_way_all_flags.pcap", "ncsa_backscatter.pcap"])
def test_empty_partitions_and_the_detector_columns_alone(name: str, tmp_path: Path) -> None:
    """More partitions than 4-tuples (most of them empty, their tables spilled and merged a
    column at a time) and flows and conversations kept with the detectors' columns only: the
    same tables in those columns, the same findings and tables."""
    path = corpus_path("pcap", "labeled", name)
    whole = _whole(path)
    got = rec.streamed_evidence(str(path), tcpforensics.iter_events(str(path), chunk_packets=CHUNK), Config(),
                                rec.Options(), parts=256, spill_dir=str(tmp_path), flow_columns=captures.FLOW_COLUMNS,
                                conversation_columns=captures.CONVERSATION_COLUMNS)
    assert list(got.flows.columns) == list(captures.FLOW_COLUMNS)
    assert list(got.conversations.columns) == list(captures.CONVERSATION_COLUMNS)
    addresses = got.flows["orig_addr"].cat.categories  # (one copy of the address texts for both tables)
    assert got.conversations["init_addr"].cat.categories is addresses
    assert got.conversations["peer_addr"].cat.categories is addresses
    pd.testing.assert_frame_equal(got.flows, whole.flows[list(captures.FLOW_COLUMNS)])
    pd.testing.assert_frame_equal(got.conversations, whole.conversations[list(captures.CONVERSATION_COLUMNS)])
    whole.flows = whole.flows[list(captures.FLOW_COLUMNS)]
    whole.conversations = whole.conversations[list(captures.CONVERSATION_COLUMNS)]
    _assert_same(got, whole)


def _capbuild():
    return load_script(ROOT / "benchmarks" / "capbuild.py")


@pytest.mark.corpus
@pytest.mark.slow
def test_the_benchmark_recipe_with_clock_steps_back(tmp_path: Path, small_partitions: None) -> None:
    """The benchmark's capture recipe (time-shifted copies of the Zeek traces, the clock
    stepping back every few copies), small: few 4-tuples carry every packet, so partitions
    are rebuilt by time slices, sorted first where the clock stepped back."""
    capbuild = _capbuild()
    sources = capbuild.load_sources(sorted(corpus_path("pcap", "zeek").glob("*.pcap")))
    path = tmp_path / "bench.pcap"
    capbuild.build_concat(path, sources, 12_000, backsteps=capbuild.Backsteps())
    whole = _whole(path)
    ts = tcpforensics.read(str(path))["ts"].to_numpy()
    assert (np.diff(ts.astype(np.int64)) < 0).any() and len(whole.flows) > 50
    got = _streamed(tcpforensics.iter_events(str(path), chunk_packets=500), str(path), tmp_path, parts=4)
    _assert_same(got, whole)


@pytest.mark.corpus
def test_analyze_streams_a_capture_file_like_the_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline reads capture files in chunks and partitions; the report is the same."""
    from tcpforensics import pipeline

    path = str(corpus_path("pcap", "labeled", "em_syn_flood.pcap"))
    default = tcpforensics.analyze(path)
    monkeypatch.setattr(pipeline, "CHUNK_PACKETS", 500)
    monkeypatch.setattr(pipeline, "PARTITION_BYTES", 64 * 1024)
    monkeypatch.setattr(rec, "PARTITION_ROWS", 300)
    small = tcpforensics.analyze(path)
    pd.testing.assert_frame_equal(small.findings, default.findings)
    pd.testing.assert_frame_equal(small.evidence.flows(), default.evidence.flows())
    assert small.accounting == default.accounting


@pytest.mark.corpus
def test_a_capture_piped_to_standard_input_gives_the_file_report() -> None:
    """`tcpdump -w - | tcpforensics analyze -`: read as it arrives, the same report as the file."""
    path = corpus_path("pcap", "labeled", "em_syn_flood.pcap")
    cmd = [sys.executable, "-m", "tcpforensics", "analyze", "--format", "json"]
    piped = subprocess.run([*cmd, "-"], input=path.read_bytes(), capture_output=True, timeout=120)
    from_file = subprocess.run([*cmd, str(path)], capture_output=True, timeout=120)
    assert piped.returncode == from_file.returncode == 0, piped.stderr
    a, b = json.loads(piped.stdout), json.loads(from_file.stdout)
    assert a["findings"] == [dict(f, evidence=[e.replace(str(path), "-") for e in f["evidence"]],
                                  details={**f["details"], "input": "-"}) for f in b["findings"]]


@pytest.mark.corpus
def test_ctrl_c_on_a_pipe_reports_what_was_read() -> None:
    """Ctrl-C while a capture streams in: the report covers the packets read, its verdict says
    the input is incomplete, and the exit code is 130."""
    data = corpus_path("pcap", "labeled", "em_syn_flood.pcap").read_bytes()
    run = subprocess.Popen([sys.executable, "-m", "tcpforensics", "analyze", "--format", "json", "-"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    run.stdin.write(data[: len(data) // 2])  # (returns once the reader took all but a pipe buffer)
    run.stdin.flush()
    time.sleep(1.5)  # time to decode what it took
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    report = json.loads(out)
    assert "INCOMPLETE" in report["summary"]["verdict"] and "interrupted (Ctrl-C)" in report["summary"]["verdict"]
    (acc,) = report["accounting"]
    assert 0 < acc["events"] < 12371  # the first half of the capture's TCP packets, not all
    assert [f["category"] for f in report["findings"]] == ["syn_flood"]



def _split_pcap(src: Path, folder: Path, pieces: int = 3) -> list[Path]:
    """``src`` cut into ``pieces`` files named as ``tcpdump -C`` names them (x.pcap, x.pcap1, ...)."""
    import dpkt

    with src.open("rb") as fh:
        reader = dpkt.pcap.Reader(fh)
        records, link = list(reader), reader.datalink()
    folder.mkdir()
    paths = [folder / ("x.pcap" + (str(i) if i else "")) for i in range(pieces)]
    size = -(-len(records) // pieces)
    for i, path in enumerate(paths):
        with path.open("wb") as out:
            writer = dpkt.pcap.Writer(out, linktype=link, nano=False)
            for ts, buf in records[i * size:(i + 1) * size]:
                writer.writepkt(buf, ts)
    return paths


@pytest.mark.corpus
@pytest.mark.parametrize("where", [("zeek", "ssh.pcap"), ("zeek", "ftp-cwd-navigation.pcap"),
                                   ("labeled", "zeek_http_bro_org.pcap"), ("labeled", "em_syn_flood.pcap")])
def test_three_rotated_pieces_give_the_flows_of_the_whole(where: tuple[str, str], tmp_path: Path) -> None:
    """A capture cut into 3 rotated files: one timeline, so connections spanning the cuts are
    one flow each, as in the whole file (only the piece and frame a flow starts in differ)."""
    src = corpus_path("pcap", *where)
    pieces = _split_pcap(src, tmp_path / "rotated")
    whole = tcpforensics.flows(str(src))
    joined = tcpforensics.flows(str(tmp_path / "rotated"))
    per_piece = pd.concat([tcpforensics.flows(str(p)) for p in pieces], ignore_index=True)
    located = ["input", "first_frame", "last_frame"]
    pd.testing.assert_frame_equal(joined.drop(columns=located), whole.drop(columns=located))
    assert len(per_piece) > len(whole)  # read apart, the cut connections fall in two
    assert set(joined["input"].astype(str)) <= {str(p) for p in pieces}
