"""`tcpforensics flows` output formats (conn.log for zeek-cut, JSON lines) and chunked reconstruction."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

import tcpforensics
from tcpforensics.cli import app
from tcpforensics.reconstruct.flows import flows, flows_stream
from tcpforensics.report.zeek import FIELDS, to_conn_log
from tests.conftest import FIXTURES

CAP = str(FIXTURES / "flows" / "time_wait_reuse.pcap")


def _zeek_cut(text: str, *names: str) -> list[list[str]]:
    """What zeek-cut does: find #fields, print the named columns of every data line."""
    fields = next(ln for ln in text.splitlines() if ln.startswith("#fields")).split("\t")[1:]
    idx = [fields.index(n) for n in names]
    return [[ln.split("\t")[i] for i in idx] for ln in text.splitlines() if ln and not ln.startswith("#")]


def test_conn_log_headers_and_rows() -> None:
    text = to_conn_log(flows(tcpforensics.read(CAP)))
    lines = text.splitlines()
    assert lines[0] == "#separator \\x09"
    assert lines[1] == "#set_separator\t,"
    assert lines[2:5] == ["#empty_field\t(empty)", "#unset_field\t-", "#path\tconn"]
    assert lines[-1].startswith("#close\t")
    fields = next(ln for ln in lines if ln.startswith("#fields")).split("\t")[1:]
    types = next(ln for ln in lines if ln.startswith("#types")).split("\t")[1:]
    assert fields == [f for f, _, _ in FIELDS] and len(types) == len(fields)
    data = [ln.split("\t") for ln in lines if not ln.startswith("#")]
    assert len(data) == 2 and all(len(r) == len(fields) for r in data)
    assert _zeek_cut(text, "id.orig_p", "id.resp_p", "conn_state", "history") == [["40000", "80", "SF", "ShADdFf"]] * 2


def test_conn_log_unset_sizes_for_zero_duration() -> None:
    ev = tcpforensics.read(str(FIXTURES / "flows" / "syn_fin.pcap")).iloc[:1]  # one packet
    row = _zeek_cut(to_conn_log(flows(ev)), "duration", "orig_bytes", "history", "resp_states")[0]
    assert row == ["-", "-", "Q", "-"]  # Zeek leaves duration and sizes unset when duration is 0


def test_cli_formats(tmp_path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["flows", CAP, "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(ln) for ln in res.stdout.splitlines()]
    assert [r["history"] for r in rows] == ["ShADdFf", "ShADdFf"]
    out = tmp_path / "conn.log"
    res = runner.invoke(app, ["flows", CAP, "--format", "zeek", "--output", str(out)])
    assert res.exit_code == 0 and _zeek_cut(out.read_text(), "conn_state") == [["SF"], ["SF"]]
    res = runner.invoke(app, ["flows", CAP])
    assert res.exit_code == 0 and "192.0.2.1:40000" in res.stdout and "graceful" in res.stdout
    res = runner.invoke(app, ["flows", CAP, "--format", "parquet", "--output", str(tmp_path / "f.parquet")])
    assert res.exit_code == 0 and len(pd.read_parquet(tmp_path / "f.parquet")) == 2
    res = runner.invoke(app, ["flows", str(tmp_path / "missing.pcap")])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_cli_ignore_checksums_flag(tmp_path) -> None:
    res = CliRunner().invoke(app, ["flows", CAP, "--ignore-checksums", "--likely-server-ports", "80,443", "-f", "csv"])
    assert res.exit_code == 0 and res.stdout.count("\n") == 3
    res = CliRunner().invoke(app, ["flows", CAP, "--likely-server-ports", "eighty"])
    assert res.exit_code == 2


def test_stream_equals_whole() -> None:
    ev = pd.concat([tcpforensics.read(str(FIXTURES / "flows" / n)) for n in ("time_wait_reuse.pcap", "s2.pcap", "half_open.pcap")], ignore_index=True)
    ev = ev.sort_values("ts", kind="stable").reset_index(drop=True)
    whole = flows(ev)
    parts = pd.concat(list(flows_stream([ev.iloc[i:i + 3] for i in range(0, len(ev), 3)])), ignore_index=True)
    cols = ["orig_addr", "orig_port", "resp_port", "start", "conn_state", "history", "orig_bytes", "orig_final", "resp_final", "close"]
    key = ["orig_port", "start"]
    a = whole[cols].sort_values(key).reset_index(drop=True).astype(str)
    b = parts[cols].sort_values(key).reset_index(drop=True).astype(str)
    pd.testing.assert_frame_equal(a, b)


def test_stream_over_reader_chunks_equals_whole() -> None:
    import pytest

    from tests.conftest import corpus_path

    for name in ("ssh.pcap", "pop3.pcap", "ssh-half-duplex-client.pcap"):
        path = str(corpus_path("pcap", "zeek", name))
        whole = flows(tcpforensics.read(path))
        parts = pd.concat(list(flows_stream(tcpforensics.iter_events(path, chunk_packets=97))), ignore_index=True)
        cols = ["orig_addr", "orig_port", "resp_port", "start", "conn_state", "history", "orig_bytes", "resp_bytes", "close"]
        key = ["orig_addr", "orig_port", "start"]
        a = whole[cols].sort_values(key).reset_index(drop=True).astype(str)
        b = parts[cols].sort_values(key).reset_index(drop=True).astype(str)
        if len(a) != len(b):
            pytest.fail(f"{name}: {len(a)} flows whole, {len(b)} streamed")
        pd.testing.assert_frame_equal(a, b)
