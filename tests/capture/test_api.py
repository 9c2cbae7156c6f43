"""Python API (read, iter_events), streaming CLI output, engine selection and progress switch."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from typer.testing import CliRunner

import tcpforensics
from tcpforensics.capture import progress
from tcpforensics.cli import app
from tcpforensics.errors import InputError
from tcpforensics.ingest import pcap
from tcpforensics.ingest import pcap_tshark as tshark
from tcpforensics.report.export import write_table
from tests.conftest import FIXTURES

CAPS = FIXTURES / "captures"
MULTI = str(CAPS / "multi_section.pcapng")
ENCAPS = str(CAPS / "encapsulations.pcap")


def test_read_returns_the_event_table():
    df = tcpforensics.read(ENCAPS)
    assert len(df) == 18 and (df["kind"] == "packet").all() and (df["proto"] == "tcp").all()


@pytest.mark.parametrize("size", [1, 3, 7, 100])
def test_iter_events_chunks_are_bounded_and_complete(size):
    chunks = list(tcpforensics.iter_events(ENCAPS, chunk_packets=size))
    assert all(len(c) <= size for c in chunks)
    assert sum(len(c) for c in chunks) == 18
    whole = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(whole.astype(object), tcpforensics.read(ENCAPS).astype(object))


def test_stream_sets_accounting_after_iteration():
    s = pcap.CaptureStream(MULTI, chunk_packets=2)
    rows = sum(len(c) for c in s)
    assert rows == s.accounting["events"] == 8
    assert s.accounting["records_read"] == 11 and list(s.skipped["line"]) == [10, 11]


def test_events_cli_streams_csv_identical_to_whole_table(tmp_path):
    out = tmp_path / "events.csv"
    res = CliRunner().invoke(app, ["events", ENCAPS, MULTI, "-o", str(out), "--quiet"])  # NaT: frame 4
    assert res.exit_code == 0, res.output
    whole = pd.concat([tcpforensics.read(ENCAPS), tcpforensics.read(MULTI)], ignore_index=True)
    expected = pd.read_csv(io.StringIO(write_table(whole, "csv")))
    got = pd.read_csv(out)
    assert got["ts"].str.len().eq(29).all()  # one precision (nanoseconds) in every chunk
    for df in (got, expected):
        df["ts"] = pd.to_datetime(df["ts"])
    pd.testing.assert_frame_equal(got, expected)


def test_events_cli_refuses_garbage_with_one_line():
    res = CliRunner().invoke(app, ["events", str(CAPS / "garbage.bin")])
    assert res.exit_code == 2
    assert len(res.output.strip().splitlines()) == 1


def test_tshark_missing_is_one_input_error(monkeypatch):
    monkeypatch.setattr(tshark.shutil, "which", lambda _: None)
    with pytest.raises(InputError, match="needs tshark"):
        pcap.ingest(ENCAPS, engine="tshark")
    res = CliRunner().invoke(app, ["events", ENCAPS, "--engine", "tshark"])
    assert res.exit_code == 2 and "needs tshark" in res.output


def test_tshark_engine_matches_native_on_fixtures():
    """multi_section.pcapng is left out: pyshark fails on a simple packet block (no timestamp,
    KeyError 'frame.time_epoch') and tshark stops at a packet of an undescribed interface.
    One asserted difference: tshark decodes Teredo on UDP 3544 only, so the two Teredo frames
    on other ports of encapsulations.pcap (23, 24) are ours alone (like Zeek, docs/captures.md)."""
    if not tshark.available():
        pytest.skip("tshark/pyshark not installed")
    for name in ("be_nsec.pcap", "encapsulations.pcap", "snaplen.pcap"):
        a = pcap.ingest(str(CAPS / name)).events
        b = pcap.ingest(str(CAPS / name), engine="tshark").events
        ours_only = a["frame"].isin([23, 24]) if name == "encapsulations.pcap" else a["frame"] < 0
        assert ours_only.sum() == (2 if name == "encapsulations.pcap" else 0)
        assert (a.loc[ours_only, "tunnel_depth"] == 1).all() and not b["frame"].isin([23, 24]).any()
        a = a[~ours_only].reset_index(drop=True)
        pd.testing.assert_frame_equal(a.astype(object), b.astype(object))


def test_progress_bar_only_on_a_terminal(monkeypatch):
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: False, raising=False)
    assert not progress.wanted(True, 10**10)
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: True, raising=False)
    assert progress.wanted(None, 10**10) and not progress.wanted(None, 1000)
    assert not progress.wanted(False, 10**10)
