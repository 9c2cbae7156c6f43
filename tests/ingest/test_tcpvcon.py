"""Sysinternals tcpvcon: -a -c CSV (4.x without ports, older with ports, eight fields), the -a listing,
TCPView's saved table; hand counts of the README; the same sockets in two forms."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpforensics.errors import InputError
from tcpforensics.ingest import ingest, ingest_text, to_lines
from tcpforensics.ingest.formats import tcpvcon
from tests.conftest import FIXTURES

TV = FIXTURES / "windows" / "tcpvcon"
PUBLISHED = "tcpvcon-a-c-n-v4-published-excerpt.csv"
LISTING = "tcpvcon-a-n-listing-crafted-from-docs.txt"
#: The README's hand count: rows, tcp rows, states, ipv6 rows, structural lines.
COUNTS = {
    PUBLISHED: (19, 16, {"LISTEN": 12, "ESTABLISHED": 4}, 2, {}),
    LISTING: (19, 16, {"LISTEN": 12, "ESTABLISHED": 4}, 2, {"banner": 3, "blank": 20, "record line": 76}),
    "tcpvcon-a-c-ports-crafted-from-docs.csv": (
        10, 9, {"LISTEN": 5, "ESTABLISHED": 1, "TIME_WAIT": 1, "CLOSE_WAIT": 1, "SYN_SENT": 1}, 2, {}),
    "tcpvcon-eight-fields-crafted-from-docs.csv": (3, 2, {"LISTEN": 1, "ESTABLISHED": 1}, 0, {}),
    "tcpview-save-crafted-from-docs.txt": (
        7, 6, {"LISTEN": 3, "ESTABLISHED": 1, "CLOSE_WAIT": 1, "TIME_WAIT": 1}, 1, {"header": 1}),
}
KEY = ["proto", "family", "src_addr", "src_port", "dst_addr", "dst_port", "state", "raw_state", "pid", "process"]


def _ingest(name: str):
    r = ingest(str(TV / name))
    assert r.format == "tcpvcon"
    assert r.accounting["unaccounted"] == 0
    return r


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_hand_counts(name: str) -> None:
    rows, tcp, states, v6, structural = COUNTS[name]
    r = _ingest(name)
    e = r.events
    assert len(e) == rows and r.accounting["skipped"] == {}
    assert (e["proto"] == "tcp").sum() == tcp
    assert e["state"].dropna().astype(str).value_counts().to_dict() == states
    assert (e["family"] == "ipv6").sum() == v6
    assert r.accounting["structural"] == structural
    assert e.loc[e["proto"] == "udp", "state"].isna().all()


def test_every_fixture_is_counted() -> None:
    assert sorted(p.name for p in TV.iterdir() if p.name != "README.md") == sorted(COUNTS)


def test_listing_and_csv_give_the_same_rows() -> None:
    a = _ingest(PUBLISHED).events[KEY].astype(str).reset_index(drop=True)
    b = _ingest(LISTING).events[KEY].astype(str).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_v4_rows_have_no_ports_and_v6_rows_lose_their_brackets() -> None:
    e = _ingest(PUBLISHED).events
    assert e["src_port"].isna().all() and e["dst_port"].isna().all()
    v6 = e[e["family"] == "ipv6"]
    assert set(v6["src_addr"].astype(str)) == {"0:0:0:0:0:0:0:0"} and v6["pid"].tolist() == [924, 3904]
    assert e["process"].iloc[1] == "OneApp.IGCC.WinService.exe"


def test_older_rows_carry_ports() -> None:
    e = _ingest("tcpvcon-a-c-ports-crafted-from-docs.csv").events
    assert e["src_port"].notna().all()
    assert e.loc[e["family"] == "ipv6", "src_addr"].astype(str).tolist() == ["0:0:0:0:0:0:0:0", "0:0:0:0:0:0:0:1"]
    udp = e[e["proto"] == "udp"].iloc[0]
    assert (udp["src_port"], udp["dst_addr"]) == (5353, "*") and pd.isna(udp["dst_port"])


def test_tcpview_create_time() -> None:
    e = _ingest("tcpview-save-crafted-from-docs.txt").events
    assert e["ts"].iloc[3] == pd.Timestamp("2021-08-09 10:01:55")
    assert e["raw_state"].iloc[2] == "Close Wait"


def test_wrong_field_count_is_skipped() -> None:
    r = ingest_text(b"TCP,a.exe,1,LISTENING,0.0.0.0,0.0.0.0\nTCP,b.exe,2,LISTENING\nhello\n", "mem", "tcpvcon")
    assert r.accounting["skipped"] == {"wrong field count": 1, "unparseable line": 1} and len(r.events) == 1


def test_detect_own_forms_high_and_other_fixtures_low() -> None:
    for p in sorted(TV.glob("*.*")):
        if p.suffix != ".md":
            assert tcpvcon.detect(to_lines(p.read_bytes(), p.name)) >= 0.9, p.name
    others = [p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix in (".txt", ".csv", ".json", ".out", "")
              and "tcpvcon" not in p.parts and "malicious" not in p.parts]
    for p in others:
        assert tcpvcon.detect(to_lines(p.read_bytes(), p.name)) < 0.3, p.name


def test_bad_input_is_an_input_error() -> None:
    with pytest.raises(InputError):
        ingest_text(b"   \n", "mem", "tcpvcon")


_SAMPLES = [line for name in (PUBLISHED, LISTING, "tcpview-save-crafted-from-docs.txt")
            for line in (TV / name).read_text(encoding="utf-8").splitlines()[:14]]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.text(st.sampled_from(list("TCPUDV6,[]:*. 0123456789\tLISTENPIDStateLocalRemote\"")),
                                  max_size=80),
                          st.sampled_from(_SAMPLES)), min_size=1, max_size=16))
def test_any_lines_are_accounted(lines: list[str]) -> None:
    data = "\n".join(lines).encode()
    if not data.strip():
        return
    r = ingest_text(data, "mem", "tcpvcon")
    assert r.accounting["unaccounted"] == 0
    assert set(r.skipped["reason"].astype(str)) <= {"unparseable line", "wrong field count"}
