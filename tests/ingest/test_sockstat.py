"""FreeBSD sockstat: with and without the state column, UNIX rows, sockets of no process."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpforensics.ingest import ingest, ingest_text, to_lines
from tcpforensics.ingest.formats import sockstat
from tests.conftest import FIXTURES

SOCKSTAT = FIXTURES / "freebsd" / "sockstat"


def _ingest(path: Path):
    r = ingest(str(path))
    assert r.format == "sockstat"
    assert r.accounting["unaccounted"] == 0
    return r


def test_published_listing_without_state() -> None:
    """sockstat on ns1: 12 Internet rows (7 tcp, 5 udp; 2 IPv6), 2 UNIX stream rows, a prompt."""
    r = _ingest(SOCKSTAT / "sockstat-ns1-published.txt")
    e = r.events
    assert len(e) == 12
    assert e["proto"].value_counts().to_dict() == {"tcp": 7, "udp": 5}
    assert e["family"].value_counts().to_dict() == {"ipv4": 10, "ipv6": 2}
    assert e["state"].isna().all() and e["raw_state"].isna().all()
    assert r.accounting["skipped"] == {"non-IP socket: stream": 2}
    assert r.accounting["structural"] == {"header": 1, "command": 1}
    first = e.iloc[0]
    assert (first["user"], first["process"], first["pid"], first["src_addr"], first["src_port"],
            first["dst_addr"], first["dst_port"]) == ("root", "sshd", 45933, "192.168.5.2", 22, "192.168.5.4", 59217)
    star = e.iloc[1]
    assert star["src_addr"] == "*" and pd.isna(star["dst_port"]) and star["family"] == "ipv6"


def test_published_listening_sockets() -> None:
    e = _ingest(SOCKSTAT / "sockstat-4l-published.txt").events
    assert len(e) == 19 and (e["proto"] == "tcp").sum() == 18
    assert (e["src_port"] == 80).sum() == 11 and set(e["user"].astype(str)) == {"charix", "www", "root"}


def test_state_column_and_sockets_of_no_process() -> None:
    r = _ingest(SOCKSTAT / "sockstat-46s-crafted.txt")
    e = r.events
    assert len(e) == 10
    assert e["state"].astype(str).tolist()[:6] == ["ESTABLISHED", "CLOSE_WAIT", "CLOSE_WAIT", "SYN_SENT", "LISTEN", "LISTEN"]
    assert e.loc[e["proto"] == "udp", "state"].isna().all()
    orphan = e[e["pid"].isna()]
    assert len(orphan) == 2 and orphan["process"].isna().all() and orphan["user"].isna().all()
    assert orphan["state"].astype(str).tolist() == ["LISTEN", "TIME_WAIT"]
    # IPv6 unbracketed: the port is after the last colon
    v6 = e[e["process"] == "fetch"].iloc[0]
    assert (v6["src_addr"], v6["src_port"], v6["dst_addr"], v6["dst_port"]) == ("2001:db8::5", 54012, "2001:db8::9", 443)
    assert orphan.iloc[0]["src_addr"] == "::1" and orphan.iloc[0]["src_port"] == 4045


def test_sctp_and_unparseable_rows_are_skipped_by_kind() -> None:
    text = (SOCKSTAT / "sockstat-ns1-published.txt").read_text() + \
        "root     sctpd      12    3  sctp4  10.0.0.1:5000         *:*\nsomething else\n"
    r = ingest_text(text.encode(), "mem")
    assert r.accounting["skipped"] == {"non-IP socket: stream": 2, "non-TCP/UDP protocol: sctp4": 1, "unparseable line": 1}


def test_detect_own_forms_high_and_other_formats_low() -> None:
    for p in sorted(SOCKSTAT.glob("*.txt")):
        assert sockstat.detect(to_lines(p.read_bytes(), p.name)) >= 0.9, p.name
    others = [p for p in FIXTURES.rglob("*.txt") if "sockstat" not in p.parts and "malicious" not in p.parts]
    for p in others:
        assert sockstat.detect(to_lines(p.read_bytes(), p.name)) < 0.5, p.name


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(
    st.text(st.sampled_from(list("tcpud46 *:.?0123456789abLISTENUSER")), max_size=90),
    st.sampled_from((SOCKSTAT / "sockstat-46s-crafted.txt").read_text().splitlines()),
), min_size=1, max_size=12))
def test_any_lines_are_accounted(lines: list[str]) -> None:
    data = "\n".join(lines).encode()
    if not data.strip():
        return
    r = ingest_text(data, "mem", "sockstat")
    assert r.accounting["unaccounted"] == 0
