"""Volatility netscan/netstat/sockstat: Volatility 3 text, -r csv, -r json, Volatility 2 netscan; hand
counts of the READMEs; the same sockets in three renderers; creation times as event times."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpforensics.errors import InputError
from tcpforensics.ingest import ingest, ingest_text, to_lines
from tcpforensics.ingest.formats import volatility_net
from tests.conftest import FIXTURES

WIN = FIXTURES / "windows" / "volatility"
LIN = FIXTURES / "linux" / "volatility"
FCSC = WIN / "windows-netstat-vol3-2.4.2-fcsc-writeup-excerpt.txt"
FCSC_STATES = {"ESTABLISHED": 8, "LISTEN": 5, "CLOSE_WAIT": 1}
#: The READMEs' hand count: rows, tcp, states, ipv6, rows with a time, skipped, structural.
COUNTS = {
    FCSC: (18, 14, FCSC_STATES, 4, 18, {}, {"banner": 2, "blank": 1, "header": 1}),
    WIN / "windows-netstat-vol3-r-csv-crafted-from-docs.csv": (18, 14, FCSC_STATES, 4, 18, {}, {"header": 1}),
    WIN / "windows-netstat-vol3-r-json-crafted-from-docs.json": (
        18, 14, FCSC_STATES, 4, 18, {}, {"bracket": 2, "record line": 216}),
    WIN / "windows-netscan-vol3-utc-redacted-thm-writeup.txt": (
        11, 6, {"ESTABLISHED": 3, "LISTEN": 2, "CLOSED": 1}, 4, 10, {},
        {"command line": 2, "blank": 1, "elision": 3, "header": 1}),
    WIN / "netscan-vol2.6-heroctf-writeup-excerpt.txt": (
        14, 8, {"ESTABLISHED": 1, "LISTEN": 4, "CLOSED": 3}, 5, 6, {}, {"command line": 1, "banner": 1, "header": 1}),
    LIN / "linux-sockstat-vol3-2.28.0-exam-writeup.txt": (
        7, 7, {"LISTEN": 2, "ESTABLISHED": 5}, 1, 0, {"non-IP socket: AF_UNIX": 2}, {"banner": 1, "blank": 2, "header": 1}),
    LIN / "linux-sockstat-vol3-pid-column-writeup.txt": (1, 1, {"ESTABLISHED": 1}, 0, 0, {}, {"header": 1}),
    LIN / "linux-sockstat-vol3-r-csv-crafted-from-docs.csv": (
        7, 7, {"LISTEN": 2, "ESTABLISHED": 5}, 1, 0, {"non-IP socket: AF_UNIX": 2}, {"header": 1}),
    LIN / "linux-sockstat-vol3-r-json-crafted-from-docs.json": (
        7, 7, {"LISTEN": 2, "ESTABLISHED": 5}, 1, 0, {"non-IP socket: AF_UNIX": 2}, {"bracket": 2, "record line": 153}),
}
KEY = ["proto", "family", "src_addr", "src_port", "dst_addr", "dst_port", "state", "raw_state", "pid", "process", "ts"]


def _ingest(path):
    r = ingest(str(path))
    assert r.format == "volatility_net"
    assert r.accounting["unaccounted"] == 0
    return r


@pytest.mark.parametrize("path", sorted(COUNTS), ids=lambda p: p.name)
def test_hand_counts(path) -> None:
    rows, tcp, states, v6, timed, skipped, structural = COUNTS[path]
    r = _ingest(path)
    e = r.events
    assert len(e) == rows and (e["proto"] == "tcp").sum() == tcp
    assert e["state"].dropna().astype(str).value_counts().to_dict() == states
    assert (e["family"] == "ipv6").sum() == v6 and e["ts"].notna().sum() == timed
    assert r.accounting["skipped"] == skipped and r.accounting["structural"] == structural
    assert e.loc[e["proto"] == "udp", "state"].isna().all()


def test_every_fixture_is_counted() -> None:
    assert {p for d in (WIN, LIN) for p in d.iterdir() if p.name != "README.md"} == set(COUNTS)


@pytest.mark.parametrize("name", ["windows-netstat-vol3-r-csv-crafted-from-docs.csv",
                                  "windows-netstat-vol3-r-json-crafted-from-docs.json"])
def test_renderers_give_the_same_rows(name: str) -> None:
    a = _ingest(FCSC).events[KEY].astype(str).reset_index(drop=True)
    b = _ingest(WIN / name).events[KEY].astype(str).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("name", ["linux-sockstat-vol3-r-csv-crafted-from-docs.csv",
                                  "linux-sockstat-vol3-r-json-crafted-from-docs.json"])
def test_sockstat_renderers_give_the_same_rows(name: str) -> None:
    a = _ingest(LIN / "linux-sockstat-vol3-2.28.0-exam-writeup.txt").events[KEY].astype(str).reset_index(drop=True)
    b = _ingest(LIN / name).events[KEY].astype(str).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_creation_times_and_owners() -> None:
    e = _ingest(FCSC).events
    assert e["ts"].iloc[5] == pd.Timestamp("2023-04-17 17:16:51") and e["process"].iloc[5] == "brave.exe"
    assert e["process"].iloc[7] == "CompatTelRunne"  # the kernel's 14 characters
    udp6 = e[(e["proto"] == "udp") & (e["family"] == "ipv6")]
    assert udp6["src_addr"].astype(str).tolist() == ["::", "fe80::b5bb:163f:5627:748f"]


def test_redacted_cells() -> None:
    e = _ingest(WIN / "windows-netscan-vol3-utc-redacted-thm-writeup.txt").events
    c2 = e[e["pid"] == 10032].iloc[0]
    assert pd.isna(c2["src_port"]) and pd.isna(c2["ts"]) and (c2["dst_addr"], c2["dst_port"]) == ("10.0.0.129", 8081)


def test_volatility2_endpoints() -> None:
    e = _ingest(WIN / "netscan-vol2.6-heroctf-writeup-excerpt.txt").events
    first = e.iloc[0]
    assert pd.isna(first["src_addr"]) and first["src_port"] == 49164 and first["state"] == "CLOSED"
    v6 = e[(e["family"] == "ipv6") & (e["proto"] == "tcp")]
    assert v6["src_addr"].astype(str).tolist() == ["::", "::"] and v6["src_port"].tolist() == [49156, 135]
    assert e.loc[e["pid"] == 1456, "src_addr"].astype(str).tolist() == ["::1", "10.0.2.15", "fe80::61b0:3a44:7ba4:e7df"]
    nc = e[e["process"] == "nc.exe"].iloc[0]
    assert (nc["dst_addr"], nc["dst_port"], nc["state"]) == ("146.59.156.82", 4444, "ESTABLISHED")


def test_connscan_rows_have_no_state() -> None:
    text = ("Offset(P)  Local Address             Remote Address            Pid\n"
            "---------- ------------------------- ------------------------- ---\n"
            "0x01f60850 0.0.0.0:1026              127.0.0.1:1029            1024\n")
    r = ingest_text(text.encode(), "mem")
    assert r.format == "volatility_net" and r.accounting["unaccounted"] == 0
    e = r.events
    assert len(e) == 1 and pd.isna(e["state"].iloc[0]) and (e["src_port"].iloc[0], e["pid"].iloc[0]) == (1026, 1024)


def test_detect_own_forms_high_and_other_fixtures_low() -> None:
    for p in COUNTS:
        assert volatility_net.detect(to_lines(p.read_bytes(), p.name)) >= 0.9, p.name
    others = [p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix in (".txt", ".csv", ".json", ".out", "")
              and "volatility" not in p.parts and "malicious" not in p.parts]
    for p in others:
        assert volatility_net.detect(to_lines(p.read_bytes(), p.name)) < 0.3, p.name


def test_bad_input_is_an_input_error() -> None:
    with pytest.raises(InputError):
        ingest_text(b" \t \n", "mem", "volatility_net")


_SAMPLES = [line for p in (FCSC, LIN / "linux-sockstat-vol3-2.28.0-exam-writeup.txt",
                           WIN / "netscan-vol2.6-heroctf-writeup-excerpt.txt")
            for line in p.read_text(encoding="utf-8").splitlines()[:12]]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.text(st.sampled_from(list("0x1234abcdef\t .:*-TCPUDv46LISTENAF_IN[]{}\"")), max_size=80),
                          st.sampled_from(_SAMPLES)), min_size=1, max_size=16))
def test_any_lines_are_accounted(lines: list[str]) -> None:
    data = "\n".join(lines).encode()
    if not data.strip():
        return
    r = ingest_text(data, "mem", "volatility_net")
    assert r.accounting["unaccounted"] == 0
