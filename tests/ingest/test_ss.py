"""ss ingestor: jc oracle, wild corpus counts, hand-made and recorded fixtures, detection, CLI."""

from __future__ import annotations

import csv
import io
import json
import socket
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tcpforensics.cli import app
from tcpforensics.ingest import ingest, ingest_text, to_lines
from tcpforensics.ingest.formats import proc_net_tcp, ss
from tcpforensics.ingest.parsing import vocab
from tests.conftest import FIXTURES, corpus_files, corpus_path

LINUX = FIXTURES / "linux"
JC_SS = ["centos-7.7/ss-sudo-a.out", "ubuntu-18.04/ss-sudo-a.out", "generic/ss-wide.out"]


def _ingest(path: Path):
    r = ingest(str(path))
    assert r.format == "ss", r.meta["detection_scores"]
    assert r.accounting["unaccounted"] == 0, r.accounting
    return r


def _port(text: str, proto: str) -> int | None:
    """What a printed port should become: number, resolved service name, or None ('*')."""
    if text.isdigit():
        return int(text)
    try:
        return socket.getservbyname(text, "udp" if proto == "udp" else "tcp")
    except OSError:
        return None


def _addr(jc_addr: str | None) -> str | None:
    return None if jc_addr is None else jc_addr.strip("[]")


def _na(v):
    return None if pd.isna(v) else v


# --- oracle: jc's JSON beside each ss table ----------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize("rel", JC_SS)
def test_ss_agrees_with_jc(rel: str) -> None:
    out = corpus_path("text", "jc", rel)
    jc_rows = json.loads(out.with_suffix(".json").read_text())
    r = _ingest(out)
    ev, sk = r.events, r.skipped

    # Deliberate difference 1: jc returns every socket; we keep IP sockets only. Each
    # unix/netlink/packet/vsock row is a skipped line "non-IP socket" instead of an event.
    inet = [j for j in jc_rows if j["netid"] in ss.rows.INET_NETIDS]
    non_ip = [j for j in jc_rows if j["netid"] not in ss.rows.INET_NETIDS]
    assert {j["netid"] for j in non_ip} <= set(ss.NON_IP_NETIDS)
    assert len(ev) == len(inet)
    assert (sk["reason"] == "non-IP socket").sum() == len(non_ip)
    assert len(ev) + len(sk) == len(jc_rows)

    for j, (_, e) in zip(inet, ev.iterrows(), strict=True):
        proto = ss.rows.INET_NETIDS[j["netid"]]
        assert e["proto"] == proto
        assert e["raw_state"] == j["state"]
        want_state = None if proto in ss.rows.STATELESS else vocab.canonical(j["state"])
        assert _na(e["state"]) == want_state
        assert (e["recv_q"], e["send_q"]) == (j["recv_q"], j["send_q"])
        # jc keeps brackets ('[::]') and splits '%dev' into 'interface'; we drop both
        assert e["src_addr"] == _addr(j["local_address"])
        assert e["dst_addr"] == _addr(j["peer_address"])
        # Deliberate difference 2: jc keeps service names as text ('ssh', 'bootpc'); we
        # resolve them. Raw/icmp6 sockets print a protocol ('ipv6-icmp') where the port goes:
        # not a port, so NA.
        for ours, theirs in ((e["src_port"], j["local_port"]), (e["dst_port"], j["peer_port"])):
            want = None if proto in ("raw", "icmp6") else _port(theirs, proto)
            assert _na(ours) == want, (j, e.to_dict())
        procs = (j.get("opts") or {}).get("process_id")
        if procs:  # jc: {pid: {user: program, ...}} in ss's order; ours: first pid, names
            first_pid, first = next(iter(procs.items()))
            assert e["pid"] == int(first_pid)
            assert e["process"].split(",")[0] == first["user"]
            names = list(dict.fromkeys(v["user"] for v in procs.values()))
            assert e["process"] == ",".join(names)
        else:
            assert pd.isna(e["pid"]) and pd.isna(e["process"])
        inode = (j.get("opts") or {}).get("inode_number")
        assert _na(e["inode"]) == (int(inode) if inode else None)


# --- wild corpus: row and state counts of expected_counts.tsv ----------------------------------


def _expected_counts() -> dict[str, dict]:
    base = corpus_path("text", "wild")
    with open(base / "expected_counts.tsv", newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh, delimiter="\t")}


def _truth(row: dict) -> dict[str, int]:
    """States of expected_counts mapped to our canonical names; a note 'TRAP: true = N STATE'
    overrides the naive count (the state is implied by a `state` filter in the file)."""
    states = {vocab.canonical(k) or k: v for k, v in json.loads(row["tcp_states_normalized"]).items()}
    note = row["notes"] or ""
    if "TRAP: true = " in note:
        n, state = note.split("TRAP: true = ", 1)[1].split()[:2]
        states = {vocab.canonical(state): int(n)}
    return states


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_files("ss-*.txt", "text", "wild", "ss"), ids=lambda p: p.name)
def test_wild_ss_expected_counts(path: Path) -> None:
    row = _expected_counts()[f"ss/{path.name}"]
    ev = _ingest(corpus_path("text", "wild", "ss", path.name)).events
    assert (ev["proto"] == "tcp").sum() == int(row["tcp_rows"])
    assert (ev["proto"] == "udp").sum() == int(row["udp_rows"])
    tcp = ev[ev["proto"] == "tcp"]
    got = tcp["state"].astype(str).value_counts().to_dict()
    assert got == _truth(row)
    if "TRAP" in (row["notes"] or ""):
        # expected_counts' naive count says UNKNOWN (no State column); the `state
        # established` filter on the command line in the file tells the real state.
        assert json.loads(row["tcp_states_normalized"]) == {"UNKNOWN": len(tcp)}
        assert set(tcp["raw_state"].astype(str)) == {"established"}
        assert tcp["timer"].notna().all()  # the timer alone on the next line is attached


@pytest.mark.corpus
def test_wild_ss_corpus_present() -> None:
    """Guards the parametrized test above against silently running on nothing."""
    corpus_path("text", "wild", "ss")
    assert len(corpus_files("ss-*.txt", "text", "wild", "ss")) >= 4


# --- hand-made and recorded fixtures -------------------------------------------------------------


def test_netid_udp_multiprocess_and_odd_names() -> None:
    ev = _ingest(LINUX / "ss-tuanp-users.txt").events.set_index("line")
    # UDP: no TCP state, but the printed token is kept
    assert ev.loc[2, "proto"] == "udp" and pd.isna(ev.loc[2, "state"]) and ev.loc[2, "raw_state"] == "UNCONN"
    assert ev.loc[3, "raw_state"] == "ESTAB" and pd.isna(ev.loc[3, "state"])
    assert ev.loc[2, "src_addr"] == "127.0.0.53" and ev.loc[2, "src_port"] == 53  # '%lo' dropped
    assert pd.isna(ev.loc[2, "dst_port"])  # '*'
    # several processes: first pid; each distinct program once, in ss's order
    assert (ev.loc[4, "pid"], ev.loc[4, "process"]) == (1201, "nginx")
    assert (ev.loc[5, "pid"], ev.loc[5, "process"]) == (1978, "master,smtpd")
    # names with spaces, colons, brackets, parentheses
    assert ev.loc[3, "process"] == "app (worker)"
    assert ev.loc[6, "process"] == "sshd: vagrant [priv],sshd: vagrant@pts/0"
    assert ev.loc[7, "process"] == "postgres: app db 10.0.2.15(41000) idle"
    assert ev.loc[9, "process"] == "my app" and ev.loc[9, "src_addr"] == "::" and ev.loc[9, "src_port"] == 8080
    assert ev.loc[10, "state"] == "SYN_SENT"
    assert ev.loc[8, "family"] == "ipv6" and ev.loc[4, "family"] == "ipv4"


def test_no_netid_protocol_guess() -> None:
    udp = _ingest(LINUX / "ss-uln-no-netid.txt").events
    assert list(udp["proto"]) == ["udp", "udp"] and udp["state"].isna().all()
    tcp = _ingest(LINUX / "ss-real-tanpeimo.txt").events
    assert set(tcp["proto"]) == {"tcp"}


def test_state_filter_on_command_line_implies_state() -> None:
    r = _ingest(LINUX / "ss-o-state-filter-command.txt")
    ev = r.events
    assert list(ev["state"]) == ["FIN_WAIT_2", "FIN_WAIT_2"]
    assert list(ev["raw_state"]) == ["fin-wait-2", "fin-wait-2"]
    assert list(ev["src_port"]) == [socket.getservbyname("http", "tcp")] * 2  # service name
    assert list(ev["timer"]) == ["timewait,37sec,0", "timewait,12sec,0"]
    assert r.accounting["structural"] == {"command": 1, "header": 1}


def test_state_filter_without_command_is_unknown() -> None:
    ev = _ingest(LINUX / "ss-tn-state-filter-no-command.txt").events
    assert list(ev["state"]) == ["UNKNOWN", "UNKNOWN"]
    assert ev["raw_state"].isna().all()
    assert list(ev["send_q"]) == [0, 52]


def test_real_state_filter_matches_unfiltered_run() -> None:
    """Recorded on loopback: `ss -tn state established` lists exactly the ESTAB rows of
    `ss -tuanp` taken the same instant (record_loopback.py)."""
    filt = _ingest(LINUX / "ss-real-state-established.txt").events
    full = _ingest(LINUX / "ss-real-tuanp.txt").events
    assert set(filt["state"]) == {"ESTABLISHED"} and set(filt["raw_state"]) == {"established"}
    key = ["src_addr", "src_port", "dst_addr", "dst_port"]
    est = full[full["state"] == "ESTABLISHED"]
    assert sorted(map(tuple, filt[key].astype(str).to_numpy())) == sorted(map(tuple, est[key].astype(str).to_numpy()))


def test_wrapped_detail_lines_attach_to_the_row_above() -> None:
    r = _ingest(LINUX / "ss-tanpeimo-wrapped-old.txt")
    ev = r.events.set_index("line")
    assert list(ev.index) == [2, 5, 10]
    assert (ev.loc[2, "pid"], ev.loc[2, "process"], ev.loc[2, "inode"]) == (1021, "sshd", 14712)
    assert ev.loc[2, "timer"] == "keepalive,89min,0"
    # -e uid on an indented line; the timer alone at column 0 two lines further down
    assert (ev.loc[5, "user"], ev.loc[5, "inode"], ev.loc[5, "timer"]) == ("26", 22222, "keepalive,119min,0")
    assert ev.loc[10, "inode"] == 12345 and pd.isna(ev.loc[10, "timer"])
    assert r.accounting["structural"] == {"header": 1, "continuation": 6, "elision": 1}


def test_real_tanpeimo_recording() -> None:
    """`ss -tanpeimo` recorded on loopback: tab-indented -i/-m lines, -e fields, -o timers."""
    r = _ingest(LINUX / "ss-real-tanpeimo.txt")
    ev = r.events
    assert len(ev) == 13 and r.accounting["structural"]["continuation"] == 12
    assert ev["inode"].notna().all()
    tw = ev[ev["state"] == "TIME_WAIT"].iloc[0]
    assert tw["timer"].startswith("timewait,") and tw["inode"] == 0 and pd.isna(tw["pid"])
    assert ev["timer"].str.startswith("keepalive,").sum() == 1
    mapped = ev[ev["src_addr"] == "::ffff:127.0.0.1"]
    assert len(mapped) == 1 and mapped["family"].iloc[0] == "ipv6"
    dual = ev[(ev["src_addr"] == "*") & (ev["state"] == "LISTEN")]
    assert list(dual["family"]) == ["ipv6"]  # '*:port' with v6only:0 is an IPv6 socket
    assert set(ev["state"]) == {"LISTEN", "ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT_2", "TIME_WAIT"}


def test_real_ss_agrees_with_proc_net_tcp_of_the_same_instant() -> None:
    """Second oracle: the kernel's own table read at the same moment (record_loopback.py)."""
    s = _ingest(LINUX / "ss-real-tanpeimo.txt").events
    p = ingest(str(LINUX / "proc-real-tcp-tcp6.txt")).events
    cols = ["src_port", "dst_port", "state", "recv_q", "send_q"]
    live = s[s["inode"] > 0].set_index("inode")
    proc = p[p["inode"] > 0].set_index("inode")
    assert set(live.index) == set(proc.index)
    for ino in live.index:
        a, b = live.loc[ino], proc.loc[ino]
        for c in cols:
            if c == "send_q" and a["state"] == "LISTEN":
                # listeners: ss prints the backlog limit as Send-Q, /proc's tx_queue is 0
                assert b[c] == 0 and a[c] > 0
                continue
            assert _na(a[c]) in (_na(b[c]), None), (ino, c)  # ss prints '*' where /proc has 0
        # ss prints '*' for a dual-stack listener and 0.0.0.0 where /proc has the same
        if a["src_addr"] != "*":
            assert a["src_addr"] == b["src_addr"]
    # the TIME_WAIT socket has no inode in either; match it by its endpoints
    key = ["src_addr", "src_port", "dst_addr", "dst_port", "state"]
    tw = lambda df: sorted(map(tuple, df[df["state"] == "TIME_WAIT"][key].astype(str).to_numpy()))  # noqa: E731
    assert tw(s) == tw(p) and len(tw(s)) == 1


def test_service_names_mapped_v6_tabs_zones() -> None:
    ev = _ingest(LINUX / "ss-ta-services-mapped-tabs.txt").events.set_index("line")
    svc = lambda n: socket.getservbyname(n, "tcp")  # noqa: E731
    assert (ev.loc[2, "src_addr"], ev.loc[2, "src_port"]) == ("*", svc("ssh"))
    assert (ev.loc[3, "src_addr"], ev.loc[3, "src_port"], ev.loc[3, "family"]) == ("::", svc("ssh"), "ipv6")
    assert (ev.loc[4, "src_addr"], ev.loc[4, "src_port"]) == ("0.0.0.0", svc("domain"))  # '%lo' + tab
    assert (ev.loc[5, "src_addr"], ev.loc[5, "dst_addr"]) == ("::ffff:192.0.2.5", "::ffff:198.51.100.20")
    assert (ev.loc[5, "src_port"], ev.loc[5, "dst_port"], ev.loc[5, "family"]) == (svc("https"), 50001, "ipv6")
    assert (ev.loc[6, "src_addr"], ev.loc[6, "src_port"], ev.loc[6, "dst_port"]) == ("::1", svc("ipp"), 49152)
    assert (ev.loc[7, "src_port"], ev.loc[7, "dst_addr"]) == (svc("http-alt"), "203.0.113.9")  # tab, space, tab
    assert (ev.loc[8, "src_addr"], ev.loc[8, "dst_addr"], ev.loc[8, "recv_q"]) == ("fe80::1", "fe80::2", 1)


def test_headerless_rows_with_netid() -> None:
    ev = _ingest(LINUX / "ss-headerless-grep-netid.txt").events
    assert list(ev["proto"]) == ["tcp", "udp", "tcp"]
    assert list(ev["state"].astype(object).where(ev["state"].notna(), None)) == ["ESTABLISHED", None, "TIME_WAIT"]
    assert list(ev["process"].astype(object).fillna("")) == ["nginx", "dhclient", ""]


def test_non_ip_sockets_are_skipped_with_a_reason() -> None:
    r = _ingest(LINUX / "ss-a-non-ip.txt")
    assert list(r.events["proto"]) == ["tcp", "icmp6"]
    assert pd.isna(r.events["state"].iloc[1]) and r.events["raw_state"].iloc[1] == "UNCONN"
    assert r.accounting["skipped"] == {"non-IP socket": 5}


def test_garbage_lines_are_skipped_not_lost() -> None:
    data = (
        b"State  Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
        b"ESTAB  0      0      10.0.0.1:22        10.0.0.2:4000\n"
        b"%%% something else entirely %%%\n"
        b"\n"
        b"LISTEN 0      128    0.0.0.0:22         0.0.0.0:*\n"
        b"tcpx   ESTAB  0      0      10.0.0.1:1    10.0.0.2:2\n"
    )
    r = ingest_text(data, "mem", "ss")
    assert len(r.events) == 2
    assert r.accounting["skipped"] == {"unparseable line": 1, "unknown netid": 1}
    assert r.accounting["structural"] == {"header": 1, "blank": 1}
    assert r.accounting["unaccounted"] == 0


@pytest.mark.parametrize("path", sorted(LINUX.glob("ss-*.txt")), ids=lambda p: p.name)
def test_every_fixture_line_accounted(path: Path) -> None:
    r = _ingest(path)
    assert len(r.events) > 0
    assert r.events["line"].is_unique


# --- detection -----------------------------------------------------------------------------------


@pytest.mark.corpus
def test_detect_high_on_ss_low_elsewhere() -> None:
    base = corpus_path("text")
    others = [p for p in base.rglob("*") if p.is_file() and p.suffix not in (".json", ".tsv", ".md")]
    others += sorted(LINUX.glob("netstat-*.txt")) + sorted(LINUX.glob("proc-*.txt")) + sorted(LINUX.glob("ss-*.txt"))
    assert others
    for p in others:
        lines = to_lines(p.read_bytes(), str(p))
        score = ss.detect(lines)
        if p.name.startswith("ss-"):
            assert score >= 0.8, p
            assert proc_net_tcp.detect(lines) < 0.2, p
        else:
            assert score < 0.2, (p, score)


# --- end to end through the CLI -------------------------------------------------------------------


def test_cli_events_csv_on_an_ss_dump() -> None:
    path = LINUX / "ss-tuanp-users.txt"
    res = CliRunner().invoke(app, ["events", str(path), "--format", "csv"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(io.StringIO(res.stdout))
    assert len(table) == 9
    assert list(table["line"]) == list(range(2, 11))
    assert set(table["proto"]) == {"tcp", "udp"}
    assert (table.loc[table["line"] == 5, "process"] == "master,smtpd").all()


# --- property: generated rows of every layout parse back to their parts ----------------------------


def test_generated_rows_of_every_layout_round_trip() -> None:
    """Rows built from known parts, with or without Netid and State, random padding (spaces
    and tabs), optional users/timer/-e fields, parse back to exactly those parts."""
    import random

    rnd = random.Random(11)
    states = ["ESTAB", "LISTEN", "SYN-RECV", "FIN-WAIT-1", "TIME-WAIT", "CLOSE-WAIT", "LAST-ACK"]
    names = ["nginx", "my app", "sshd: root [priv]", "a(b)c", "x:y"]
    for netid_col, state_col in ((True, True), (True, False), (False, True), (False, False)):
        header = " ".join(
            (["Netid"] if netid_col else []) + (["State"] if state_col else [])
            + ["Recv-Q Send-Q Local Address:Port Peer Address:Port Process"]
        )
        lines, want = [header], []
        for i in range(200):
            sp = lambda: rnd.choice([" ", "  ", "\t", " \t ", "      "])  # noqa: E731
            v6 = i % 3 == 0
            la, pa_ = (f"2001:db8::{i:x}", "2001:db8::1") if v6 else (f"10.0.{i % 250}.1", "192.0.2.9")
            lp, pp = 1024 + i, rnd.randint(1, 65535)
            st = rnd.choice(states)
            ep = (lambda a, p: f"[{a}]:{p}") if v6 else (lambda a, p: f"{a}:{p}")
            cols = (["tcp"] if netid_col else []) + ([st] if state_col else [])
            cols += [str(i % 7), str(i % 5), ep(la, lp), ep(pa_, pp)]
            name, pid = rnd.choice(names), 100 + i
            extra = f'users:(("{name}",pid={pid},fd=3))' if i % 2 else ""
            extra += f" timer:(keepalive,{i}min,0)" if i % 4 == 1 else ""
            extra += f" uid:{i} ino:{9000 + i} sk:{i:x}" if i % 5 == 0 else ""
            lines.append(sp().lstrip("\t") + sp().join(cols) + sp() + extra)
            want.append((la, lp, pa_, pp, st if state_col else None, i % 7, i % 5,
                         pid if i % 2 else None, name if i % 2 else None,
                         f"keepalive,{i}min,0" if i % 4 == 1 else None,
                         str(i) if i % 5 == 0 else None, 9000 + i if i % 5 == 0 else None))
        r = ingest_text("\n".join(lines).encode(), "mem", "ss")
        assert r.accounting["unaccounted"] == 0 and len(r.skipped) == 0
        ev = r.events
        got = list(zip(ev["src_addr"], ev["src_port"], ev["dst_addr"], ev["dst_port"],
                       ev["raw_state"].astype(object).where(ev["raw_state"].notna(), None),
                       ev["recv_q"], ev["send_q"],
                       ev["pid"].astype(object).where(ev["pid"].notna(), None),
                       ev["process"].astype(object).where(ev["process"].notna(), None),
                       ev["timer"].astype(object).where(ev["timer"].notna(), None),
                       ev["user"].astype(object).where(ev["user"].notna(), None),
                       ev["inode"].astype(object).where(ev["inode"].notna(), None), strict=True))
        assert got == want, (netid_col, state_col)
        assert set(ev["proto"]) == {"tcp"}
        if not state_col:
            assert set(ev["state"]) == {"UNKNOWN"}


# --- bad input never raises -------------------------------------------------------------------------


_ALPHABET = st.sampled_from(list("0123456789abcdefABCDEF :.[]()%*\t\"',=-_/\\xa0users:timerESTAB LISTEN tcp udp"))
_LINE = st.one_of(
    st.text(_ALPHABET, max_size=60),
    st.sampled_from([
        "State Recv-Q Send-Q Local Address:Port Peer Address:Port",
        "Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port Process",
        "ESTAB 0 0 1.2.3.4:5 6.7.8.9:10", "tcp 0 0 [::1]:1 [::1]:2", "\t skmem:(r0)", "timer:(on,1s,0)",
        "$ ss -t state established", "...", "", "u_str ESTAB 0 0 * 1 * 2", "tcp ESTAB 0 0 a b",
        'users:(("x",pid=1,fd=2))', "0 0 : :", "ESTAB 99999999999999999999 0 1:1 2:2",
    ]),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(_LINE, min_size=1, max_size=12))
def test_any_lines_parse_without_error_and_are_accounted(lines: list[str]) -> None:
    data = "\n".join(lines).encode()
    if not data.strip():
        return
    r = ingest_text(data, "mem", "ss")
    assert r.accounting["unaccounted"] == 0
    assert ss.detect(to_lines(data, "mem")) <= 1.0


def test_no_break_spaces_read_as_spaces() -> None:
    data = "State\u00a0 Recv-Q Send-Q Local Address:Port Peer Address:Port\nESTAB\u00a00 0 10.0.0.1:22\u00a0 10.0.0.2:9\n"
    r = ingest_text(data.encode(), "mem", "ss")
    assert len(r.events) == 1 and r.events["dst_port"].iloc[0] == 9


def test_detect_headerless_rows_without_netid_or_state() -> None:
    """`ss -tn state established | grep ...`: rows only, no Netid, no State."""
    data = b"0      0      192.0.2.1:22    198.51.100.7:51234\n0      52     192.0.2.1:22    198.51.100.9:40022\n"
    assert ss.detect(to_lines(data, "mem")) >= 0.2
    r = ingest_text(data, "mem")
    assert r.format == "ss" and list(r.events["state"]) == ["UNKNOWN", "UNKNOWN"]


def test_old_users_format_and_details_after_users() -> None:
    """iproute2 before 2015 printed ("name",pid,fd) without 'pid='; text after users:(...)
    (timer, -i info with parentheses) must not leak into the process names."""
    data = (
        b"State Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
        b'ESTAB 0 0 10.0.0.1:22 10.0.0.2:4000 users:(("sshd",1234,3)) timer:(keepalive,10min,0)\n'
        b'ESTAB 0 0 10.0.0.1:22 10.0.0.3:4000 users:(("a b",pid=1,fd=3),("c",pid=2,fd=4)) timer:(on,1s,0)\n'
        b"\t bbr:(bw:1bps,mrtt:0.1) cwnd:10 x:((\"y\",pid=9,fd=1))\n"
    )
    ev = ingest_text(data, "mem", "ss").events
    assert (ev["pid"].iloc[0], ev["process"].iloc[0], ev["timer"].iloc[0]) == (1234, "sshd", "keepalive,10min,0")
    assert (ev["pid"].iloc[1], ev["process"].iloc[1], ev["timer"].iloc[1]) == (1, "a b,c", "on,1s,0")


def test_detect_low_on_net_tools_udp_rows() -> None:
    """net-tools UDP rows have no state and look like ss rows without State; the netstat
    header settles it."""
    data = (
        b"Active Internet connections (servers and established)\n"
        b"Proto Recv-Q Send-Q Local Address           Foreign Address         State\n"
        + b"udp        0      0 0.0.0.0:68              0.0.0.0:*\n" * 10
    )
    assert ss.detect(to_lines(data, "mem")) < 0.2
