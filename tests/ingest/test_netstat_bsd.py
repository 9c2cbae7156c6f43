"""macOS / FreeBSD netstat: dotted endpoints, -A/-v/-b/-T/-x layouts, sections, jc agreement."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tcpforensics.cli import app
from tcpforensics.ingest import ingest, ingest_text, textio, to_lines
from tcpforensics.ingest.formats import netstat_bsd
from tcpforensics.ingest.parsing import vocab
from tests.conftest import FIXTURES, corpus_files, corpus_path
from tests.ingest.jc_compare import jc_frame, ours, wild_expected

MACOS = FIXTURES / "macos"
FREEBSD = FIXTURES / "freebsd"


def _ingest(path: Path):
    r = ingest(str(path))
    assert r.format == "netstat_bsd"
    assert r.accounting["unaccounted"] == 0
    return r


def _na(v: object) -> object:
    return None if pd.isna(v) else v


# --- fixtures ----------------------------------------------------------------------------


def test_macos_anv_process_pid_column_with_spaces() -> None:
    r = _ingest(MACOS / "netstat-anv_process-pid.txt")
    e = r.events
    assert e["process"].astype(str).tolist() == [
        "secure-agentd", "Google Chrome He", "ntpd", "ControlCenter", "Brave Browser He", "curl",
        "mDNSResponder", "Google Chrome He"]
    assert e["pid"].tolist() == [31607, 7187, 211, 6601, 7200, 7300, 390, 7187]
    assert e["recv_q"].tolist()[4] == 12
    # fe80::1%lo0.123: the port is after the last dot, the zone stays with the address
    v6 = e.iloc[2]
    assert (v6["src_addr"], v6["src_port"], v6["dst_port"], v6["family"]) == ("fe80::1%lo0", 123, 50321, "ipv6")
    assert (v6["raw_state"], v6["state"]) == ("SYN_RCVD", "SYN_RECEIVED")
    # tcp46 / udp46 are dual-stack (IPv6) sockets; '*.*' is address '*' with no port
    assert e.loc[e["line"] == 6, "family"].item() == "ipv6"
    udp46 = e[e["line"] == 10].iloc[0]
    assert (udp46["proto"], udp46["family"], udp46["src_addr"], _na(udp46["src_port"])) == ("udp", "ipv6", "*", None)
    assert e.loc[e["proto"] == "udp", "state"].isna().all()
    assert r.accounting["skipped"] == {"unix domain socket": 2}
    assert r.accounting["structural"] == {"title": 3, "header": 3}


def test_macos_A_flowhash_b_bytes_and_other_sections() -> None:
    r = _ingest(MACOS / "netstat-Anb_sections.txt")
    e = r.events
    assert e["state"].astype(object).tolist()[:3] == ["ESTABLISHED", "FIN_WAIT_2", "LAST_ACK"]
    assert e["src_addr"].astype(str).tolist() == ["192.168.1.221"] * 3 + ["*"]
    assert r.accounting["skipped"] == {
        "non-TCP/UDP protocol: icm4": 1, "kernel control module": 1,
        "kernel event socket": 1, "kernel control socket": 1}


def test_freebsd_an_states_and_command_line() -> None:
    r = _ingest(FREEBSD / "netstat-an.txt")
    e = r.events
    assert e["state"].value_counts()[lambda s: s > 0].to_dict() == {
        "SYN_RECEIVED": 2, "LISTEN": 2, "ESTABLISHED": 1, "TIME_WAIT": 1, "FIN_WAIT_1": 1, "CLOSING": 1}
    assert e["send_q"].tolist()[4] == 52
    assert r.accounting["structural"]["command line"] == 1


@pytest.mark.parametrize("path, family", [
    (FREEBSD / "netstat-Lan.txt", ["ipv4", "ipv6", "ipv4"]),
    (MACOS / "netstat-Lan.txt", [None, "ipv4", "ipv6"]),  # macOS prints no proto: '*' tells nothing
])
def test_listen_queue_sizes(path: Path, family: list) -> None:
    """netstat -L: qlen -> recv_q, maxqlen -> send_q, state LISTEN implied (raw_state NA)."""
    r = _ingest(path)
    e = r.events
    assert (e["state"] == "LISTEN").all() and e["raw_state"].isna().all()
    assert [_na(v) for v in e["family"]] == family
    assert r.accounting["structural"] == {"title": 1, "header": 1}
    if path.parent == FREEBSD:
        assert e["recv_q"].tolist() == [0, 0, 129] and e["send_q"].tolist() == [128, 128, 128]
        assert e["src_addr"].astype(str).tolist()[2] == "192.168.71.163" and e["src_port"].tolist()[2] == 80
    else:
        assert e["send_q"].tolist() == [128, 128, 5] and e["src_port"].tolist() == [5000, 631, 49152]


def test_headerless_grep_output_uses_default_layout() -> None:
    data = b"tcp4       0      0  10.0.0.1.22            10.0.0.9.50000         ESTABLISHED\n" \
           b"tcp4       3      0  10.0.0.1.22            10.0.0.9.50001         CLOSE_WAIT\n"
    r = ingest_text(data, "grep.txt")
    assert r.format == "netstat_bsd"
    assert r.events["recv_q"].tolist() == [0, 3]
    assert r.events["dst_port"].tolist() == [50000, 50001]


def test_looped_runs_of_two_layouts_read_each_row_with_its_own_header() -> None:
    """``netstat -an`` and ``netstat -anv`` in turns (two layouts, each header repeated):
    rows are read with the layout of the closest header above and come out in line order."""
    an = ("Active Internet connections (including servers)\n"
          "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)\n"
          "tcp4       {q}      0  10.0.0.1.22            10.0.0.9.{p}         ESTABLISHED\n")
    anv = ("Active Internet connections (including servers)\n"
           "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)      "
           "rhiwat shiwat    pid   epid  state    options\n"
           "tcp4       {q}      0  10.0.0.1.22            10.0.0.9.{p}         CLOSE_WAIT   "
           "131072 131072   {pid}      0 0x0104 0x00000000\n")
    text = (an.format(q=1, p=50001) + anv.format(q=2, p=50002, pid=701)
            + an.format(q=3, p=50003) + anv.format(q=4, p=50004, pid=702))
    r = ingest_text(text.encode(), "loop.txt", "netstat_bsd")
    e = r.events
    assert r.accounting["unaccounted"] == 0 and r.accounting["skipped"] == {}
    assert e["line"].tolist() == [3, 6, 9, 12]
    assert e["recv_q"].tolist() == [1, 2, 3, 4] and e["dst_port"].tolist() == [50001, 50002, 50003, 50004]
    assert [_na(v) for v in e["pid"]] == [None, 701, None, 702]
    assert e["state"].astype(object).tolist() == ["ESTABLISHED", "CLOSE_WAIT"] * 2


def test_garbage_lines_are_skipped() -> None:
    text = (FREEBSD / "netstat-an.txt").read_text() + "tcp4 this is not a row\nsomething else\n"
    r = ingest_text(text.encode(), "x.txt")
    assert r.accounting["unaccounted"] == 0
    # both land in the Unix-socket section (after its title), so they are skipped as such
    assert r.accounting["skipped"] == {"unix domain socket": 3}
    text = "Active Internet connections\n" + "tcp4 this is not a row\nnonsense\n" + \
        "tcp4       0      0  10.0.0.1.22   10.0.0.9.50000   ESTABLISHED\n"
    r = ingest_text(text.encode(), "x.txt", "netstat_bsd")
    assert r.accounting["skipped"] == {"unparseable line": 2}
    assert len(r.events) == 1


def test_detect_own_format_high_and_others_low() -> None:
    for p in sorted(MACOS.glob("*.txt")) + sorted(FREEBSD.glob("*.txt")):
        assert netstat_bsd.detect(to_lines(p.read_bytes(), p.name)) >= 0.8, p.name
    others = sorted((FIXTURES / "linux").glob("*.txt")) + sorted((FIXTURES / "windows").glob("*.txt"))
    assert others
    for p in others:
        assert netstat_bsd.detect(to_lines(p.read_bytes(), p.name)) < 0.2, p.name
    linux = b"tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN\n"
    assert netstat_bsd.detect(to_lines(linux, "l")) == 0.0


# --- corpus: jc agreement ------------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["netstat-Aa.out", "netstat-Aax.out", "netstat-aT.out", "netstat-an.out"])
def test_jc_freebsd12_agreement(name: str) -> None:
    """Same network rows as jc (count, endpoints with service names resolved alike, state).
    -T and -x print no state column: both sides have none. The Unix-socket rows jc returns
    with kind 'socket' are our skipped 'unix domain socket' lines, one for one."""
    path = corpus_path("text", "jc", "freebsd12", name)
    r = _ingest(path)
    theirs = jc_frame(path.with_suffix(".json"))
    mine = ours(r.events)
    pd.testing.assert_frame_equal(mine, theirs[mine.columns], check_dtype=False)
    all_jc = json.loads(path.with_suffix(".json").read_text())
    assert r.accounting["skipped"]["unix domain socket"] == sum(1 for x in all_jc if x["kind"] == "socket")


@pytest.mark.corpus
def test_jc_freebsd12_AaT_disagreement_is_a_jc_bug() -> None:
    """netstat -AaT: UDP rows leave the three -T columns blank. jc splits on whitespace and
    loses the UDP endpoints (no local/foreign address in its JSON); we read '*.syslog'/'*.*'.
    Every TCP row agrees; the UDP difference is asserted here."""
    path = corpus_path("text", "jc", "freebsd12", "netstat-AaT.out")
    mine = ours(_ingest(path).events)
    theirs = jc_frame(path.with_suffix(".json"))
    tcp = mine["proto"] == "tcp"
    pd.testing.assert_frame_equal(mine[tcp], theirs.loc[tcp, mine.columns], check_dtype=False)
    assert theirs.loc[~tcp, "src_addr"].isna().all() and theirs.loc[~tcp, "dst_addr"].isna().all()
    assert mine.loc[~tcp, ["src_addr", "src_port", "dst_addr"]].values.tolist() == [["*", 514, "*"]] * 2


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["netstat.out", "netstat-An.out"])
def test_jc_osx_agreement(name: str) -> None:
    """jc's osx JSON mixes kinds: 'network' rows (TCP/UDP + one icm4 row), 'socket' (UNIX
    domain), kernel event/control sockets and control modules. Network TCP/UDP rows agree
    one for one, truncated host names ('on-in-x6d.1e100.') and service names included. The
    icm4 row and every non-network row are our skipped lines, counted by kind."""
    path = corpus_path("text", "jc", "osx-10.14.6", name)
    r = _ingest(path)
    theirs = jc_frame(path.with_suffix(".json"))
    icmp = theirs["proto"] == "icm"
    assert icmp.sum() == 1 and r.accounting["skipped"]["non-TCP/UDP protocol: icm4"] == 1
    theirs = theirs[~icmp].reset_index(drop=True)
    mine = ours(r.events)
    pd.testing.assert_frame_equal(mine, theirs[mine.columns], check_dtype=False)
    kinds = Counter(x["kind"] for x in json.loads(path.with_suffix(".json").read_text()))
    skipped = r.accounting["skipped"]
    assert skipped["unix domain socket"] == kinds["socket"]
    assert skipped["kernel event socket"] == kinds["Active kernel event socket"]
    assert skipped["kernel control socket"] == kinds["Active kernel control socket"]
    assert skipped["kernel control module"] == kinds["Registered kernel control module"]


# --- corpus: wild files ---------------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize("row", wild_expected("macos/"), ids=lambda r: r["file"])
def test_wild_macos_counts(row: dict) -> None:
    path = corpus_path("text", "wild", row["file"])
    e = _ingest(path).events
    assert (e["proto"] == "tcp").sum() == int(row["tcp_rows"])
    assert (e["proto"] == "udp").sum() == int(row["udp_rows"])
    want = Counter()
    for k, v in json.loads(row["tcp_states_normalized"]).items():
        want[vocab.canonical(k) or k] += v
    assert e.loc[e["proto"] == "tcp", "state"].value_counts()[lambda s: s > 0].to_dict() == dict(want)


@pytest.mark.corpus
def test_wild_macos_all_listed_and_pids() -> None:
    corpus_path("text", "wild", "macos")
    listed = {r["file"] for r in wild_expected("macos/")}
    assert {f"macos/{p.name}" for p in corpus_files("*", "text", "wild", "macos")} == listed
    e = _ingest(corpus_path("text", "wild", "macos", "macos-new_netstat-anv_process-pid-column_test-fixture.txt")).events
    assert e["process"].astype(str).tolist() == ["secure-agentd", "Brave Browser He", "Brave Browser He", "Google Chrome He"]
    assert e["pid"].tolist() == [31607, 7187, 7187, 35474]
    e = _ingest(corpus_path("text", "wild", "macos", "macos_netstat-anvb_bare-pid_test-fixture.txt")).events
    assert e["pid"].tolist() == [31607, 4719, 4720] and e["process"].isna().all()
    e = _ingest(corpus_path("text", "wild", "macos", "macos_netstat-anv-p-tcp_orbstack-docs.txt")).events
    assert e["pid"].tolist() == [10521, 10521] and e["src_port"].tolist() == [80, 443]


# --- end to end through the CLI --------------------------------------------------------------


def test_cli_events_csv() -> None:
    res = CliRunner().invoke(app, ["events", str(MACOS / "netstat-anv_process-pid.txt"), "--format", "csv"])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(io.StringIO(res.stdout))
    assert len(df) == 8
    assert df.loc[1, "process"] == "Google Chrome He" and df.loc[1, "pid"] == 7187
    assert df.loc[2, "state"] == "SYN_RECEIVED" and df.loc[2, "raw_state"] == "SYN_RCVD"
    assert set(df["input"]) == {str(MACOS / "netstat-anv_process-pid.txt")}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([
    "Active Internet connections (including servers)",
    "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)",
    "Tcpcb            Proto Recv-Q Send-Q Local Address      Foreign Address    (state)",
    "tcp4       0      0  127.0.0.1.8443         127.0.0.1.64809        ESTABLISHED",
    "fffff80003df43d0 tcp4       0      0 192.168.71.1.ssh   192.168.71.1.56321 ESTABLISHED",
    "udp4       0      0  *.*                    *.*", "Active LOCAL (UNIX) domain sockets",
    "icm4    8136      0  *.*                    *.*", "", "tcp4 0",
]) | st.text(max_size=40), max_size=30))
def test_any_mix_of_lines_is_fully_accounted(lines: list[str]) -> None:
    data = "\n".join(lines).encode("utf-8", errors="replace")
    if not data.strip() or textio.looks_binary(data):  # refused with InputError, by design
        return
    r = ingest_text(data, "fuzz.txt", "netstat_bsd")
    assert r.accounting["unaccounted"] == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
                                             max_size=12)), max_size=20))
def test_dot_split_agrees_with_the_reference_split(values):
    """The parser's pyarrow split of ``addr.port`` gives what ``endpoints.split(style="dot")`` gives."""
    import pyarrow as pa

    from tcpforensics.ingest.parsing import endpoints

    addr, port = endpoints.split_dot(pa.array(values, pa.large_string()))
    kept = [v for v in values if v is not None]
    want_a, want_p = endpoints.split(pd.Series(kept, dtype=object), style="dot") if kept else (pd.Series([]), pd.Series([]))
    got = [(a, p) for v, a, p in zip(values, addr.to_pylist(), port.to_pylist(), strict=True) if v is not None]
    want = [(a, None if pd.isna(p) else p) for a, p in zip(want_a, want_p, strict=True)]
    assert got == want
    assert all(a is None and p is None for v, a, p in zip(values, addr.to_pylist(), port.to_pylist(), strict=True) if v is None)
