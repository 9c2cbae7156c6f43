"""Kernel counter dumps: /proc/net/netstat and snmp, netstat -s, nstat; readings and deltas."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tcpforensics.ingest import ingest, ingest_text
from tcpforensics.reconstruct.counters import deltas
from tests.conftest import FIXTURES, corpus_path

COUNTERS = FIXTURES / "counters"


def _value(counters, group: str, counter: str, snapshot: int = 0) -> int:
    c = counters[(counters["group"] == group) & (counters["counter"] == counter) & (counters["snapshot"] == snapshot)]
    assert len(c) == 1, (group, counter, snapshot, len(c))
    return int(c["value"].iloc[0])


def _delta(counters, counter: str) -> int:
    d = deltas(counters)
    return int(d.loc[d["counter"] == counter, "delta"].iloc[0])


@pytest.mark.corpus
def test_proc_net_netstat_agrees_with_jc() -> None:
    path = corpus_path("text", "jc", "linux-proc", "net_netstat")
    oracle = json.loads(path.with_suffix(".json").read_text())
    ing = ingest(str(path))
    assert ing.format == "counters"
    assert ing.accounting["unaccounted"] == 0 and ing.accounting["counter_lines"] == 3
    c = ing.counters
    expected = {(g["type"], k): v for g in oracle for k, v in g.items() if k != "type"}
    got = {(str(g), str(k)): int(v) for g, k, v in zip(c["group"], c["counter"], c["value"], strict=True)}
    assert got == expected  # every counter of every group, same value (152 counters)
    assert len(got) == 152


def test_netstat_s_two_readings_give_deltas() -> None:
    ing = ingest(str(COUNTERS / "netstat-s_two-readings.txt"))
    assert ing.format == "counters" and len(ing.events) == 0
    acc = ing.accounting
    assert acc["unaccounted"] == 0 and acc["snapshots"] == 2
    assert acc["skipped"] == {"unmapped netstat -s phrase": 2}
    c = ing.counters
    assert sorted(c["snapshot"].unique()) == [0, 1]
    assert _value(c, "TcpExt", "ListenOverflows", 0) == 7
    assert _value(c, "TcpExt", "ListenOverflows", 1) == 57
    assert _value(c, "Tcp", "ActiveOpens", 1) == 1300  # "active connection openings"
    assert _value(c, "TcpExt", "DelayedACKLost", 0) == 12  # number inside the phrase
    assert _value(c, "TcpExt", "TCPSynRetrans", 0) == 40  # "Name: value" form
    assert _value(c, "Icmp", "InDestUnreachs", 0) == 45  # ICMP input histogram
    assert _value(c, "Icmp", "OutDestUnreachs", 0) == 45  # ICMP output histogram
    assert _value(c, "IcmpMsg", "InType3", 0) == 45
    assert _delta(c, "ListenDrops") == 1200
    assert _delta(c, "SyncookiesSent") == 250
    assert _delta(c, "RetransSegs") == 1100
    assert _delta(c, "OutSegs") == 10000
    assert c["ts"].notna().any()  # the date line between the readings gives the second its time


def test_nstat_names_split_into_group_and_counter() -> None:
    ing = ingest(str(COUNTERS / "nstat.txt"))
    c = ing.counters
    assert ing.accounting["unaccounted"] == 0 and ing.accounting["structural"] == {"nstat header": 1}
    assert _value(c, "TcpExt", "ListenOverflows") == 12
    assert _value(c, "Tcp", "RetransSegs") == 20
    assert _value(c, "Ip", "InReceives") == 2348
    assert _value(c, "Ip6", "InReceives") == 10
    assert deltas(c)["delta"].isna().all()  # one reading: no delta


SNMP = """Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 1000
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens OutSegs RetransSegs
Tcp: 1 200 120000 -1 10 5000 50
"""


def test_proc_snmp_repeated_without_markers_is_two_readings() -> None:
    second = SNMP.replace("5000 50", "9000 450").replace("64 1000", "64 3000")
    ing = ingest_text((SNMP + second).encode(), "snmp.txt")
    c = ing.counters
    assert ing.format == "counters" and ing.accounting["unaccounted"] == 0
    assert c["snapshot"].nunique() == 2
    assert _value(c, "Tcp", "MaxConn") == -1
    assert _delta(c, "RetransSegs") == 400
    assert _delta(c, "InReceives") == 2000


def test_names_and_values_of_different_length_are_skipped() -> None:
    text = "TcpExt: SyncookiesSent ListenOverflows\nTcpExt: 1 2 3\nIp: Forwarding\nIp: 1\n"
    ing = ingest_text(text.encode(), "bad.txt", "counters")
    assert ing.accounting["unaccounted"] == 0
    assert ing.accounting["skipped"] == {"names and values differ in count": 2}
    assert list(ing.counters["counter"].astype(str)) == ["Forwarding"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("State  Recv-Q Send-Q Local Address:Port Peer Address:Port\nLISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n", 0.0),
        (SNMP, 0.95),
        ("#kernel\nTcpExtListenOverflows 3 0.0\nTcpActiveOpens 5 0.0\nIpInReceives 1 0.0\n", 0.95),
    ],
)
def test_detect_scores(text: str, expected: float) -> None:
    from tcpforensics.ingest import to_lines
    from tcpforensics.ingest.formats import counters

    assert counters.detect(to_lines(text.encode(), "x")) == pytest.approx(expected)


def test_counters_file_alone_runs_through_analyze() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "tcpforensics", "analyze", "-f", "json", str(COUNTERS / "netstat-s_two-readings.txt")],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    cats = {f["category"]: f for f in report["findings"]}
    assert set(cats) == {"listen_overflow", "syn_cookies", "retransmissions"}
    assert cats["listen_overflow"]["count"] == 1200  # ListenDrops delta (overflows: 50)
    assert cats["syn_cookies"]["severity"] == "medium"
    assert cats["retransmissions"]["details"]["ratio"] == pytest.approx(0.11)


def test_proc_net_snmp6_two_columns() -> None:
    text = "Ip6InReceives                   \t2348\nIcmp6InMsgs                     \t4\nUdpLite6InDatagrams 0\n"
    c = ingest_text(text.encode(), "snmp6").counters
    assert _value(c, "Ip6", "InReceives") == 2348
    assert _value(c, "Icmp6", "InMsgs") == 4
    assert _value(c, "UdpLite6", "InDatagrams") == 0


def test_old_net_tools_spellings_and_stray_lines() -> None:
    text = ("Tcp:\n    10 active connections openings\n    100 segments send out\n"
            "    5 segments retransmited\n    0 bad segments received.\nTcpExt:\n"
            "    3 SYNs to LISTEN sockets ignored\n    garbage here\nrandom junk\n")
    ing = ingest_text(text.encode(), "old")
    c = ing.counters
    assert (_value(c, "Tcp", "OutSegs"), _value(c, "Tcp", "RetransSegs"), _value(c, "Tcp", "InErrs")) == (100, 5, 0)
    assert _value(c, "TcpExt", "ListenDrops") == 3
    assert ing.accounting["unaccounted"] == 0
    assert ing.accounting["skipped"] == {"not a counter line": 1, "unmapped netstat -s phrase": 1}
