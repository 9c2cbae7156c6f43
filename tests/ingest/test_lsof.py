"""lsof -i: the column listing (-i -n -P, -nPi, +c 0, TID columns) and -F field output; jc agreement."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpforensics.ingest import ingest, ingest_text, to_lines
from tcpforensics.ingest.formats import lsof
from tests.conftest import FIXTURES

LSOF = FIXTURES / "linux" / "lsof"
RECORDED = ["lsof-i-n-P.txt", "lsof-nPi-tcp.txt", "lsof-i-names.txt", "lsof-i-F.txt"]


def _ingest(path: Path):
    r = ingest(str(path))
    assert r.format == "lsof"
    assert r.accounting["unaccounted"] == 0
    return r


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_forms_read_the_same_29_sockets(name: str) -> None:
    """Counted by hand: 29 IPv4/IPv6 TCP files, 2 LISTEN, 8 ESTABLISHED, 2 FIN_WAIT2,
    2 CLOSE_WAIT, 15 SYN_SENT; 8 IPv6; all of pid 1."""
    r = _ingest(LSOF / name)
    e = r.events
    assert len(e) == 29 and r.accounting["skipped"] == {}
    assert e["state"].astype(str).value_counts().to_dict() == {
        "SYN_SENT": 15, "ESTABLISHED": 8, "LISTEN": 2, "FIN_WAIT_2": 2, "CLOSE_WAIT": 2}
    assert set(e.loc[e["state"] == "FIN_WAIT_2", "raw_state"].astype(str)) == {"FIN_WAIT2"}
    assert e["family"].value_counts().to_dict() == {"ipv4": 21, "ipv6": 8}
    assert e["pid"].eq(1).all() and e["proto"].eq("tcp").all()
    listen = e[e["state"] == "LISTEN"]
    assert listen["src_port"].tolist() == [8081, 8082] and listen["dst_addr"].isna().all()
    assert e["dst_port"].value_counts()[9999] == 15


def test_command_names_as_lsof_cuts_them() -> None:
    assert set(_ingest(LSOF / "lsof-i-n-P.txt").events["process"].astype(str)) == {"tcpforens"}
    names = _ingest(LSOF / "lsof-i-names.txt").events
    assert set(names["process"].astype(str)) == {"tcpforensics-re"}  # +c 0: the kernel's 15 characters
    # without -n/-P: host names kept, service names resolved (tproxy is 8081)
    assert names["src_addr"].astype(str).iloc[0] == "localhost" and names["src_port"].iloc[0] == 8081


def test_linux_device_is_the_socket_inode() -> None:
    e = _ingest(LSOF / "lsof-i-n-P.txt").events
    assert e["inode"].notna().all() and e["inode"].is_unique
    assert _ingest(LSOF / "lsof-i-F.txt").events["inode"].isna().all()  # -F without the d/i fields


def test_macos_device_is_a_kernel_address_not_an_inode() -> None:
    r = _ingest(FIXTURES / "macos" / "lsof" / "lsof-iTCP-n-published.txt")
    e = r.events
    assert len(e) == 4 and e["inode"].isna().all()
    assert r.accounting["structural"] == {"command": 1, "header": 1}
    assert e["pid"].tolist() == [9971, 9971, 10152, 10153]
    assert (e["dst_addr"].iloc[3], e["dst_port"].iloc[3]) == ("fe80::150", 59367)


def test_field_output_queues_and_users() -> None:
    e = _ingest(LSOF / "lsof-i-F.txt").events
    assert e["user"].astype(str).eq("0").all()
    assert e["recv_q"].notna().all() and e["send_q"].notna().all()
    assert e["recv_q"].sum() == 22  # the 'hello' each accepted side left unread (TQR=5) and the IPv6 pair


def test_field_output_of_non_network_files_is_skipped() -> None:
    text = "p42\ncbash\nu1000\nfcwd\ntDIR\nn/home\nf3\ntIPv4\nPTCP\nn10.0.0.1:22->10.0.0.2:5000\nTST=ESTABLISHED\n"
    r = ingest_text(text.encode(), "mem")
    assert r.format == "lsof" and r.accounting["unaccounted"] == 0
    assert r.accounting["skipped"] == {"non-IP file: DIR": 1}
    e = r.events
    assert (e["pid"].iloc[0], e["process"].iloc[0], e["state"].iloc[0], e["dst_port"].iloc[0]) == (42, "bash", "ESTABLISHED", 5000)


@pytest.mark.parametrize("name, rows, udp", [("jc-ubuntu-18.04-lsof-sudo-excerpt.txt", 16, 2),
                                             ("jc-centos-7.7-lsof-sudo-excerpt.txt", 9, 3)])
def test_published_full_listings_with_threads(name: str, rows: int, udp: int) -> None:
    r = _ingest(LSOF / name)
    e = r.events
    assert len(e) == rows and (e["proto"] == "udp").sum() == udp
    assert e.loc[e["proto"] == "udp", "state"].isna().all()
    assert all(k.startswith("non-IP file: ") for k in r.accounting["skipped"])


@pytest.mark.parametrize("name", ["jc-ubuntu-18.04-lsof-sudo-excerpt.txt", "jc-centos-7.7-lsof-sudo-excerpt.txt",
                                  "lsof-i-n-P.txt", "lsof-i-names.txt"])
def test_agrees_with_jc(name: str) -> None:
    path = LSOF / name
    rows = json.loads(subprocess.run(["jc", "--lsof"], input=path.read_text(), capture_output=True, text=True,
                                     check=True).stdout)
    rows = [r for r in rows if r["type"] in ("IPv4", "IPv6")]
    e = _ingest(path).events
    assert len(e) == len(rows)
    for j, (_, ours) in zip(rows, e.iterrows(), strict=True):
        assert (ours["process"], ours["pid"], ours["user"]) == (j["command"], j["pid"], j["user"])
        name_text = j["name"].split(" (")[0]
        local = name_text.split("->")[0]
        assert local.rsplit(":", 1)[0].strip("[]") == ours["src_addr"]
        state = j["name"].split(" (")[1].rstrip(")") if " (" in j["name"] else None
        assert (None if pd.isna(ours["raw_state"]) else ours["raw_state"]) == state
        assert str(ours["inode"]) == j["device"]


def test_detect_own_forms_high_and_other_formats_low() -> None:
    for p in sorted(LSOF.glob("*.txt")) + sorted((FIXTURES / "macos" / "lsof").glob("*.txt")):
        assert lsof.detect(to_lines(p.read_bytes(), p.name)) >= 0.9, p.name
    others = [p for p in FIXTURES.rglob("*.txt") if "lsof" not in p.parts and "malicious" not in p.parts]
    for p in others:
        assert lsof.detect(to_lines(p.read_bytes(), p.name)) < 0.3, p.name


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(
    st.text(st.sampled_from(list("pcfnPTtu0123456789:->*[] ()ISTABLEHDQRv46=")), max_size=90),
    st.sampled_from((LSOF / "lsof-i-n-P.txt").read_text().splitlines()[:3]
                    + (LSOF / "lsof-i-F.txt").read_text().splitlines()[:12]),
), min_size=1, max_size=14))
def test_any_lines_are_accounted(lines: list[str]) -> None:
    data = "\n".join(lines).encode()
    if not data.strip():
        return
    r = ingest_text(data, "mem", "lsof")
    assert r.accounting["unaccounted"] == 0
