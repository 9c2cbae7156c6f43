"""Velociraptor Windows/Linux netstat artifact results: JSON lines, pretty JSON, CSV; hand counts of the
READMEs; the same rows as JSON and CSV; the warning when the Linux default filter hid states."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpforensics.errors import InputError
from tcpforensics.ingest import ingest, ingest_text, to_lines
from tcpforensics.ingest.formats import velociraptor_netstat
from tests.conftest import FIXTURES

WIN = FIXTURES / "windows" / "velociraptor"
LIN = FIXTURES / "linux" / "velociraptor"
CRAFTED = {"SYN_RECEIVED": 2, "TIME_WAIT": 1, "FIN_WAIT_2": 1, "LAST_ACK": 1, "SYN_SENT": 1, "CLOSED": 1,
           "LISTEN": 3, "ESTABLISHED": 1, "CLOSE_WAIT": 1}
#: The READMEs' hand count: rows, tcp, states, ipv6 rows, rows with a time, warning.
COUNTS = {
    WIN / "windows-network-netstatenriched-testdata.json": (
        57, 38, {"LISTEN": 18, "ESTABLISHED": 7, "CLOSE_WAIT": 13}, 15, 57, False),
    WIN / "windows-network-netstat-crafted-from-docs.json": (14, 12, CRAFTED, 2, 13, False),
    WIN / "windows-network-netstat-crafted-from-docs.csv": (14, 12, CRAFTED, 2, 13, False),
    LIN / "linux-network-netstat-testcase-output.json": (2, 2, {"LISTEN": 1, "ESTABLISHED": 1}, 1, 0, True),
    LIN / "linux-network-netstatenriched-crafted-from-docs.json": (5, 5, {"LISTEN": 3, "ESTABLISHED": 2}, 1, 0, True),
}
KEY = ["proto", "family", "src_addr", "src_port", "dst_addr", "dst_port", "state", "raw_state", "pid", "process", "ts"]


def _ingest(path):
    r = ingest(str(path))
    assert r.format == "velociraptor_netstat"
    assert r.accounting["unaccounted"] == 0 and r.accounting["skipped"] == {}
    return r


@pytest.mark.parametrize("path", sorted(COUNTS), ids=lambda p: p.name)
def test_hand_counts(path) -> None:
    rows, tcp, states, v6, timed, warned = COUNTS[path]
    r = _ingest(path)
    e = r.events
    assert len(e) == rows and (e["proto"] == "tcp").sum() == tcp
    assert e["state"].dropna().astype(str).value_counts().to_dict() == states
    assert (e["family"] == "ipv6").sum() == v6 and e["ts"].notna().sum() == timed
    assert bool(r.meta.get("warnings")) is warned


def test_every_fixture_is_counted() -> None:
    found = {p for d in (WIN, LIN) for p in d.iterdir() if p.name != "README.md"}
    assert found == set(COUNTS)


def test_json_lines_and_csv_give_the_same_rows() -> None:
    a = _ingest(WIN / "windows-network-netstat-crafted-from-docs.json").events[KEY].astype(str).reset_index(drop=True)
    b = _ingest(WIN / "windows-network-netstat-crafted-from-docs.csv").events[KEY].astype(str).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_nested_objects_do_not_shadow_top_level_keys() -> None:
    e = _ingest(WIN / "windows-network-netstatenriched-testdata.json").events
    assert e["ts"].iloc[0] == pd.Timestamp("2020-08-01 09:17:02")  # not Authenticode.Timestamp ("")
    assert (e["pid"].iloc[0], e["process"].iloc[0], e["user"].iloc[0]) == (568, "svchost.exe", "NT AUTHORITY\\NETWORK SERVICE")
    assert e.loc[e["proto"] == "udp", "state"].isna().all()


def test_linux_process_info_and_state_words() -> None:
    e = _ingest(LIN / "linux-network-netstat-testcase-output.json").events
    assert e["pid"].tolist() == [3252, 15423] and e["process"].tolist() == ["bash", "nc"]
    assert e["raw_state"].tolist() == ["Listening", "Established"] and e["inode"].tolist() == [14610, 15440305]
    assert e["family"].tolist() == ["ipv4", "ipv6"]


def test_no_warning_when_other_states_are_there() -> None:
    line = ('{"Laddr":"10.0.0.5","Lport":22,"Raddr":"10.0.0.9","Rport":5000,"Pid":1,"Status":"CLOSE_WAIT",'
            '"ProcInfo":{"Name":"sshd"}}\n')
    r = ingest_text(line.encode(), "mem")
    assert r.format == "velociraptor_netstat" and "warnings" not in r.meta
    assert r.events["state"].iloc[0] == "CLOSE_WAIT" and r.events["process"].iloc[0] == "sshd"


def test_broken_records_are_skipped() -> None:
    text = '{"Laddr.IP":"10.0.0.1","Laddr.Port":1,"Status":"LISTEN"}\n{"Laddr.IP":"10.0.0.1","Laddr.\n'
    r = ingest_text(text.encode(), "mem", "velociraptor_netstat")
    assert r.accounting["skipped"] == {"unreadable JSON record": 1} and len(r.events) == 1


def test_detect_own_forms_high_and_other_fixtures_low() -> None:
    for p in COUNTS:
        assert velociraptor_netstat.detect(to_lines(p.read_bytes(), p.name)) >= 0.9, p.name
    others = [p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix in (".txt", ".csv", ".json", ".out", "")
              and "velociraptor" not in p.parts and "malicious" not in p.parts]
    for p in others:
        assert velociraptor_netstat.detect(to_lines(p.read_bytes(), p.name)) < 0.3, p.name


def test_bad_input_is_an_input_error() -> None:
    with pytest.raises(InputError):
        ingest_text(b"\n\n", "mem", "velociraptor_netstat")


_SAMPLES = [line for p in (WIN / "windows-network-netstat-crafted-from-docs.json",
                           WIN / "windows-network-netstat-crafted-from-docs.csv",
                           LIN / "linux-network-netstat-testcase-output.json")
            for line in p.read_text(encoding="utf-8").splitlines()[:14]]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.text(st.sampled_from(list('{}[]":,. LaddrIPortStatusESTAB0123456789\\')), max_size=80),
                          st.sampled_from(_SAMPLES)), min_size=1, max_size=16))
def test_any_lines_are_accounted(lines: list[str]) -> None:
    data = "\n".join(lines).encode()
    if not data.strip():
        return
    r = ingest_text(data, "mem", "velociraptor_netstat")
    assert r.accounting["unaccounted"] == 0
    assert set(r.skipped["reason"].astype(str)) <= {"unparseable line", "wrong field count", "unreadable JSON record",
                                                   "several JSON records on one line"}
