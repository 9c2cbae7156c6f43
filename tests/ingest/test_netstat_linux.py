"""net-tools netstat ingestor: jc's JSON, hand counts of wild dumps, real loopback fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tcpforensics.ingest import ingest, ingest_text, to_lines
from tcpforensics.ingest.formats import netstat_linux
from tcpforensics.ingest.parsing import endpoints, vocab
from tests.conftest import FIXTURES, SAMPLES, corpus_files, corpus_path

LINUX = FIXTURES / "linux"

JC_FILES = (
    corpus_files("netstat*.out", "text", "jc", "centos-7.7")
    + corpus_files("netstat*.out", "text", "jc", "ubuntu-18.04")
    + corpus_files("netstat.out", "text", "jc", "fedora32")
    + corpus_files("netstat-no-state.out", "text", "jc", "generic")
)
WILD = corpus_files("*", "text", "wild", "linux")


def _parse(path: Path):
    return ingest(str(path), "netstat_linux")


def _canon(series: pd.Series) -> pd.Series:
    return vocab.normalize(series).astype(object)


# --- jc oracle ------------------------------------------------------------------------------


def test_jc_corpus_is_there() -> None:
    corpus_path("text", "jc")
    assert len(JC_FILES) == 12


@pytest.mark.corpus
@pytest.mark.parametrize("path", JC_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_agrees_with_jc(path: Path) -> None:
    corpus_path("text", "jc")
    jc = pd.DataFrame(json.loads(path.with_suffix(".json").read_text()))
    got = _parse(path)
    ev = got.events
    assert got.accounting["unaccounted"] == 0
    assert netstat_linux.detect(to_lines(path.read_bytes(), path.name)) >= 0.9

    # jc lists UNIX domain rows (kind "socket") beside the network rows: we skip them with the
    # reason "non-IP socket", as many as jc has. Raw rows (raw6, state "7": the kernel state
    # number) are events with proto "raw", as jc has them among its network rows.
    assert got.accounting["skipped"] == ({"non-IP socket": int(jc["proto"].eq("unix").sum())} if jc["proto"].eq("unix").any() else {})
    net = jc[jc["kind"].eq("network")].reset_index(drop=True)
    assert set(net["proto"]) <= {"tcp", "tcp6", "udp", "udp6", "raw", "raw6"}
    assert len(ev) == len(net)

    assert ev["proto"].astype(str).tolist() == net["proto"].str.rstrip("6").tolist()
    assert ev["family"].astype(str).tolist() == np.where(net["proto"].str.endswith("6"), "ipv6", "ipv4").tolist()
    # Addresses: jc keeps the brackets of "[::]:ssh" (net-tools prints them when the port is a
    # service name); we drop them, like every other ingestor, so "[::]" compares as "::".
    assert ev["src_addr"].astype(str).tolist() == net["local_address"].str.strip("[]").tolist()
    assert ev["dst_addr"].astype(str).tolist() == net["foreign_address"].str.strip("[]").tolist()
    # Ports: jc keeps the printed text ("ssh", "domain", "*"); resolved the same way, they agree.
    for ours, theirs in (("src_port", "local_port"), ("dst_port", "foreign_port")):
        want = endpoints.ports(net[theirs], net["proto"])
        assert ev[ours].astype("Int64").fillna(-1).tolist() == want.astype("Int64").fillna(-1).tolist()

    # States: jc prints them verbatim; the TCP rows agree after normalisation. UDP and raw rows
    # get state NA (stateless) and keep the printed word ("ESTABLISHED" for a connected UDP
    # socket in fedora32, "7" for raw) in raw_state, where jc has it as "state".
    tcp = net["proto"].str.startswith("tcp").to_numpy()
    assert ev.loc[tcp, "state"].astype(object).tolist() == _canon(net.loc[tcp, "state"]).tolist()
    assert ev.loc[~tcp, "state"].isna().all()
    assert ev["raw_state"].astype(object).fillna("").tolist() == net["state"].fillna("").tolist()

    # PID/Program name: "-" is no pid; names with spaces ("sshd: /usr/sbin", "pgpool: watchd",
    # "avahi-daemon: r") and truncated names agree with jc exactly.
    if "pid" in net:
        assert ev["pid"].fillna(-1).tolist() == net["pid"].astype("Int64").fillna(-1).tolist()
        assert ev["process"].astype(object).fillna("").tolist() == net["program_name"].fillna("").tolist()
    else:
        assert ev["pid"].isna().all()
    if "user" in net:
        assert ev["user"].astype(object).fillna("").tolist() == net["user"].fillna("").astype(str).tolist()
        assert ev["inode"].fillna(-1).tolist() == net["inode"].astype("Int64").fillna(-1).tolist()
    assert ev["recv_q"].tolist() == net["recv_q"].tolist()
    assert ev["send_q"].tolist() == net["send_q"].tolist()


# --- hand counts of dumps from the web -------------------------------------------------------


def _expected() -> pd.DataFrame:
    tsv = corpus_path("text", "wild", "expected_counts.tsv")
    exp = pd.read_csv(tsv, sep="\t", dtype=str, keep_default_na=False)
    return exp[exp["file"].str.startswith("linux/")].set_index("file")


@pytest.mark.corpus
@pytest.mark.parametrize("path", WILD, ids=lambda p: p.name)
def test_wild_counts(path: Path) -> None:
    exp = _expected().loc[f"linux/{path.name}"]
    got = _parse(path)
    ev = got.events
    assert got.accounting["unaccounted"] == 0
    assert int((ev["proto"] == "tcp").sum()) == int(exp["tcp_rows"])
    assert int((ev["proto"] == "udp").sum()) == int(exp["udp_rows"])
    # The hand counts use net-tools names (SYN_RECV): map them to canonical names here.
    want = {vocab.canonical(k) or k: v for k, v in json.loads(exp["tcp_states_normalized"]).items()}
    tcp_states = ev.loc[ev["proto"] == "tcp", "state"].astype(object).value_counts().to_dict()
    assert tcp_states == want
    assert not ev.loc[ev["proto"] == "tcp", "state"].eq("UNKNOWN").any()
    assert netstat_linux.detect(to_lines(path.read_bytes(), path.name)) >= 0.7


@pytest.mark.corpus
def test_wild_notes() -> None:
    """The traps the notes column names: a date loop, Korean date lines, '...' elisions."""
    base = corpus_path("text", "wild", "linux")
    istio = _parse(base / "netstat-ntlup_while-date-loop_istio.txt")
    assert istio.accounting["snapshots"] == 2
    per = istio.events.groupby("snapshot").size().to_dict()
    assert per == {0: 3, 1: 4}
    assert istio.events.loc[istio.events["snapshot"] == 1, "ts"].unique().tolist() == [pd.Timestamp("2019-10-13 07:30:02")]
    assert istio.events.loc[istio.events["snapshot"] == 0, "ts"].isna().all()  # no date before the first run
    assert istio.accounting["structural"]["elision"] == 1  # the "..." line

    masked = _parse(base / "netstat-tonp_timers_masked-ips.txt")
    ev = masked.events
    assert ev["src_addr"].astype(str).eq("xx.xxx.x.x").all()  # masked by the author, kept as printed
    assert ev["dst_addr"].astype(str).eq("xxx.xxx.x.250").all() and ev["dst_port"].eq(3306).all()
    assert ev["timer"].astype(str).str.match(r"^(keepalive|on) \(").all()
    assert ev["pid"].isin([22388, 20882]).all() and ev["process"].astype(str).eq("java").all()
    # The count-only loop after the table: 7 Korean `date` lines, each followed by a `wc -l`
    # number that is no socket row (skipped: "unparseable line").
    assert masked.accounting["structural"]["snapshot marker"] == 7
    assert masked.accounting["skipped"] == {"unparseable line": 7}
    assert masked.accounting["snapshots"] == 8

    lab = _parse(base / "netstat-np_synflood_lab_elided.txt")
    assert lab.accounting["structural"]["elision"] == 1
    # "193" is the output of `| wc -l` (the author's count of SYN_RECV rows), not a row.
    assert lab.skipped["text"].tolist() == ["193"]


# --- real net-tools output recorded on loopback (see make_netstat_fixtures.sh) ----------------


def _fixture(name: str):
    return ingest(str(LINUX / name))


def _rows(name: str) -> list[str]:
    return [ln for ln in (LINUX / name).read_text(encoding="utf-8").splitlines() if ln.startswith(("tcp", "udp"))]


@pytest.mark.parametrize(
    "name",
    [
        "netstat-tanp-C.txt",
        "netstat-tuanpeo-C.txt",
        "netstat-tuanpe-de.txt",
        "netstat-tuanpe-fr.txt",
        "netstat-tuanpe-ptBR.txt",
        "netstat-tuanpeo-ja.txt",
        "netstat-tanpo-cs.txt",
        "netstat-ta-names-C.txt",
        "netstat-tanp-nonroot-C.txt",
        "netstat-tlnp-nonroot-de.txt",
        "netstat-anp-unix-C.txt",
        "netstat-tanp-lastack-C.txt",
        "netstat-tanp-lastack-cs.txt",
        "netstat-tanp-lastack-ptBR.txt",
    ],
)
def test_fixture_detected_and_accounted(name: str) -> None:
    got = _fixture(name)
    assert got.format == "netstat_linux"
    assert got.accounting["unaccounted"] == 0
    assert len(got.events) == len(_rows(name))
    assert not got.events["state"].eq("UNKNOWN").any()
    assert got.skipped.empty or set(got.skipped["reason"]) == {"non-IP socket"}


def test_same_sockets_in_every_language() -> None:
    """One set of sockets printed in C, de, fr, pt_BR, ja (all -tuanpe): same events."""
    cols = ["proto", "family", "src_addr", "src_port", "dst_addr", "dst_port", "state", "pid", "process", "user", "inode"]
    ref = _fixture("netstat-tuanpeo-C.txt").events[cols]
    for name in ("netstat-tuanpe-de.txt", "netstat-tuanpe-fr.txt", "netstat-tuanpe-ptBR.txt", "netstat-tuanpeo-ja.txt"):
        ev = _fixture(name).events[cols]
        pd.testing.assert_frame_equal(ev.astype(object), ref.astype(object), check_names=True)
    ev = _fixture("netstat-tuanpeo-C.txt").events
    # -e: user and inode; pt_BR's header drops "Inode" (catalogue bug), the rows keep it.
    assert ev["inode"].notna().all() and ev["user"].astype(str).eq("0").all()
    assert set(ev["process"].dropna().astype(str)) == {"Web Content", "python3"}
    assert ev.loc[ev["pid"].isna(), "process"].isna().all()  # "-": TIME_WAIT, FIN_WAIT2
    udp = ev[ev["proto"] == "udp"]
    assert udp["state"].isna().all()
    assert udp["raw_state"].astype(object).tolist() == [np.nan, "ESTABLISHED"]
    assert udp["dst_port"].tolist() == [pd.NA, 28085]
    de = _fixture("netstat-tuanpe-de.txt").events
    assert set(de["raw_state"].dropna().astype(str)) >= {"VERBUNDEN", "LISTEN"}
    pt = _fixture("netstat-tuanpe-ptBR.txt").events
    assert set(pt["raw_state"].dropna().astype(str)) >= {"OUÇA", "ESTABELECIDA", "ESPERANDO_FECHAR", "ESPERA_FIN2"}


def test_timers_in_every_language() -> None:
    c = _fixture("netstat-tuanpeo-C.txt").events["timer"].astype(str)
    assert c.str.match(r"^(off|keepalive|timewait) \(\d+\.\d\d/0/0\)$").all()
    ja = _fixture("netstat-tuanpeo-ja.txt").events["timer"].astype(str)
    assert set(ja.str.split(" ").str[0]) == {"オフ", "キープアライブ", "時間待ち"}
    cs = _fixture("netstat-tanpo-cs.txt").events
    assert cs["timer"].astype(str).str.match(r"^(vyp|keepalive|timewait) \(\d+[.,]\d\d/0/0\)$").all()  # "59,93": decimal comma
    assert cs["process"].astype(object).fillna("-").isin(["Web Content", "python3", "-"]).all()


def test_two_word_state_and_syn_sent() -> None:
    """cs prints LAST_ACK as two words, "POSLEDNÍ ACK" (recorded in a network namespace)."""
    cols = ["src_addr", "src_port", "dst_addr", "dst_port", "state", "pid"]
    ref = _fixture("netstat-tanp-lastack-C.txt").events
    assert ref["state"].astype(str).value_counts().to_dict() == {
        "LISTEN": 2, "ESTABLISHED": 2, "SYN_SENT": 2, "FIN_WAIT_2": 1, "LAST_ACK": 1,
    }
    for name, last_ack in (("netstat-tanp-lastack-cs.txt", "POSLEDNÍ ACK"), ("netstat-tanp-lastack-ptBR.txt", "ÚLTIMO_ACK")):
        ev = _fixture(name).events
        pd.testing.assert_frame_equal(ev[cols].astype(object), ref[cols].astype(object))
        assert ev.loc[ev["state"] == "LAST_ACK", "raw_state"].astype(str).tolist() == [last_ack]
    assert "POSLEDNÍ ACK" in vocab.MULTIWORD_STATES


def test_hostnames_and_service_names() -> None:
    ev = _fixture("netstat-ta-names-C.txt").events
    assert set(ev["src_addr"].astype(str)) == {"localhost", "::", "::1", "127.0.0.1"}
    assert ev["src_port"].notna().all()
    # "[::]:28084": brackets printed by net-tools around :: when resolving names; dropped.
    assert (ev["dst_addr"].astype(str) == "::").sum() == 2
    # service names: "localhost:ipp" (-a without -n) -> 631 through the services table.
    text = (LINUX / "netstat-ta-names-C.txt").read_text().replace("localhost:28081", "localhost:ipp", 1)
    named = ingest_text(text.encode(), "named.txt").events
    assert named["src_port"].iloc[0] == 631


def test_unix_section_and_notices_are_not_rows() -> None:
    got = _fixture("netstat-anp-unix-C.txt")
    assert got.accounting["skipped"] == {"non-IP socket": 1}
    assert got.accounting["structural"] == {"title": 2, "header": 2}
    assert got.accounting["snapshots"] == 1  # the UNIX section is no new snapshot
    nonroot = _fixture("netstat-tanp-nonroot-C.txt")
    assert nonroot.accounting["structural"]["notice"] == 1
    assert nonroot.events["pid"].isna().all()


@pytest.mark.parametrize(
    "notice",
    [
        "(Not all processes could be identified, non-owned process info\n will not be shown, you would have to be root to see it all.)",
        "(Es konnten nicht alle Prozesse identifiziert werden; Informationen über\nnicht-eigene Prozesse werden nicht angezeigt; Root kann sie anzeigen.)",
        "(Tous les processus ne peuvent être identifiés, les infos sur les processus\nnon possédés ne seront pas affichées, vous devez être root pour les voir toutes.)",
        "(Všechny procesy nemohly být identifikovány. Budou vypsány informace\npouze o procesech, jichž jste vlastníkem. Abyste mohl vidět vše, musel\nbyste být superuživatelem.)",
    ],
)
def test_notice_anywhere(notice: str) -> None:
    """The stderr notice (catalogue text, 2 or 3 lines) lands anywhere in a 2>&1 capture."""
    rows = _rows("netstat-tanp-C.txt")
    head = (LINUX / "netstat-tanp-C.txt").read_text().splitlines()[:2]
    text = "\n".join(head + rows[:5] + notice.split("\n") + rows[5:]) + "\n"
    got = ingest_text(text.encode(), "notice.txt")
    assert got.format == "netstat_linux"
    assert len(got.events) == len(rows)
    assert got.accounting["structural"]["notice"] == notice.count("\n") + 1
    assert got.accounting["unaccounted"] == 0 and got.skipped.empty


def test_headerless_grep_output_and_odd_lines() -> None:
    """Rows without header (grep), a raw row, a UDP-Lite row, junk: each accounted for."""
    rows = _rows("netstat-tuanpeo-C.txt")
    text = "\n".join(
        ["$ sudo netstat -tuanpeow | grep 2808", *rows,
         "raw6       0      0 :::58                   :::*                    7           0          27015      874/systemd-network",
         "udpl       0      0 0.0.0.0:5000            0.0.0.0:*                           0          1          -",
         "this is not netstat", ""]
    )  # the final "" only ends the last line
    got = ingest_text(text.encode(), "grep.txt")
    assert got.format == "netstat_linux"
    assert len(got.events) == len(rows) + 1
    raw = got.events[got.events["proto"] == "raw"].iloc[0]
    assert (raw["family"], raw["src_addr"], raw["src_port"], raw["raw_state"]) == ("ipv6", "::", 58, "7")
    assert pd.isna(raw["state"]) and (raw["user"], raw["inode"], raw["pid"]) == ("0", 27015, 874)
    assert got.accounting["skipped"] == {"udplite socket": 1, "unparseable line": 1}
    assert got.accounting["structural"] == {"command": 1}


def test_ipv6_and_mapped_addresses() -> None:
    text = "\n".join([
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State",
        "tcp6       0      0 ::ffff:10.0.0.1:443     ::ffff:10.0.0.2:51000   ESTABLISHED",
        "tcp6       0      0 :::22                   :::*                    LISTEN",
        "tcp6       0      0 fe80::1%eth0:22         fe80::2%eth0:41000      TIME_WAIT",
        "tcp        0      0 10.x.x.x:443            10.x.x.x:52000          SYN_RECV",
    ])
    ev = ingest_text(text.encode(), "v6.txt", "netstat_linux").events
    assert ev["src_addr"].astype(str).tolist() == ["::ffff:10.0.0.1", "::", "fe80::1%eth0", "10.x.x.x"]
    assert ev["src_port"].tolist() == [443, 22, 22, 443]
    assert ev["dst_port"].tolist() == [51000, pd.NA, 41000, 52000]
    assert ev["family"].astype(str).tolist() == ["ipv6", "ipv6", "ipv6", "ipv4"]
    assert ev["state"].astype(str).tolist() == ["ESTABLISHED", "LISTEN", "TIME_WAIT", "SYN_RECEIVED"]


def test_split_agrees_with_shared_endpoint_helper() -> None:
    """The RE2-free endpoint split of the parser gives what endpoints.split gives."""
    tokens = pd.Series([":::22", "::ffff:10.0.0.1:443", "[::]:ssh", "0.0.0.0:*", "10.x.x.x:443",
                        "localhost.localdo:35450", "fe80::1%eth0:22", "[::1]:631"])
    import pyarrow as pa

    addr, port = netstat_linux._endpoints(pa.array(tokens.tolist()), pd.Series(["tcp"] * len(tokens)))
    a2, p2 = endpoints.split(tokens)
    assert list(addr.astype(object)) == a2.tolist()
    assert list(port) == endpoints.ports(p2, "tcp").tolist()


@pytest.mark.corpus
@pytest.mark.parametrize(
    "sub",
    ["macos", "ss", "windows"],
)
def test_low_score_on_other_tools(sub: str) -> None:
    files = corpus_files("*", "text", "wild", sub)
    corpus_path("text", "wild", sub)
    assert files
    for path in files:
        assert netstat_linux.detect(to_lines(path.read_bytes(), path.name)) < 0.2, path.name


@pytest.mark.corpus
def test_low_score_on_jc_other_tools() -> None:
    base = corpus_path("text", "jc")
    others = [p for p in base.rglob("*.out") if p not in JC_FILES]
    assert len(others) >= 10
    for path in others:
        assert netstat_linux.detect(to_lines(path.read_bytes(), path.name)) < 0.2, path.name


# --- row shapes, generated ------------------------------------------------------------------

_STATES = ["ESTABLISHED", "LISTEN", "TIME_WAIT", "SYN_RECV", "CLOSE_WAIT", "VERBUNDEN", "NASLOUCHÁ",
           "POSLEDNÍ ACK", "ÚLTIMO_ACK", "ESCUCHAR", "CLOSE"]
_ADDRS = ["127.0.0.1", "0.0.0.0", "::", "::1", "::ffff:10.0.0.1", "10.x.x.x", "localhost", "fe80::1%eth0"]
_prog = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789-_.:@/[ ", min_size=1, max_size=18).map(str.strip).filter(bool)
_row = st.fixed_dictionaries({
    "proto": st.sampled_from(["tcp", "tcp6", "udp", "udp6"]),
    "rq": st.integers(0, 10**7), "sq": st.integers(0, 10**6),
    "la": st.sampled_from(_ADDRS), "lp": st.integers(0, 65535),
    "fa": st.sampled_from(_ADDRS), "fp": st.one_of(st.just("*"), st.integers(1, 65535).map(str)),
    "state": st.sampled_from(_STATES),
    "udp_state": st.sampled_from(["", "ESTABLISHED"]),
    "user": st.one_of(st.just(None), st.from_regex(r"[a-z_][a-z0-9_-]{0,12}|[0-9]{1,5}", fullmatch=True)),
    "inode": st.integers(0, 10**8),
    "pid": st.one_of(st.just(None), st.integers(1, 4 * 10**6)),
    "prog": _prog,
    "timer": st.one_of(st.just(None), st.sampled_from(["off (0.00/0/0)", "keepalive (7198.00/0/0)", "timewait (59,93/0/0)", "オフ (0.00/0/0)"])),
})


# Without -e, PID/Program "1/0 0" (a program name with a space and a number) is PID/Program,
# not the -e pair user "1/0", inode 0: user names hold no '/'.
_PROGRAM_LIKE_USER_AND_INODE = [{"proto": "tcp", "rq": 0, "sq": 0, "la": "127.0.0.1", "lp": 0, "fa": "127.0.0.1", "fp": "*",
         "state": "ESTABLISHED", "udp_state": "", "user": None, "inode": 0, "pid": 1, "prog": "0 0", "timer": None}]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_row, min_size=1, max_size=8), with_p=st.booleans(), with_e=st.booleans(), with_o=st.booleans())
@example(rows=_PROGRAM_LIKE_USER_AND_INODE, with_p=True, with_e=False, with_o=False)
def test_generated_rows_round_trip(rows: list[dict], with_p: bool, with_e: bool, with_o: bool) -> None:
    """Rows printed with net-tools' widths for any mix of -e -p -o come back field for field."""
    lines = []
    for r in rows:
        udp = r["proto"].startswith("udp")
        state = r["udp_state"] if udp else r["state"]
        text = f"{r['proto']:<5} {r['rq']:>6} {r['sq']:>6} {r['la'] + ':' + str(r['lp']):<23} {r['fa'] + ':' + r['fp']:<23} {state:<11}"
        if with_e:
            text += f" {r['user'] or '0':<10} {r['inode']:<10}"
        if with_p:
            pp = "-" if r["pid"] is None else f"{r['pid']}/{r['prog']}"
            text += f" {pp:<20}"
        if with_o:
            text += f" {r['timer'] or 'off (0.00/0/0)'}"
        lines.append(text.rstrip() + " " * (len(lines) % 2))
    ev = ingest_text(("\n".join(lines) + "\n").encode(), "gen.txt", "netstat_linux").events
    assert len(ev) == len(rows)
    for r, (_, e) in zip(rows, ev.iterrows(), strict=True):
        udp = r["proto"].startswith("udp")
        assert e["proto"] == r["proto"].rstrip("6")
        assert (e["src_addr"], e["src_port"]) == (r["la"], r["lp"])
        assert e["dst_addr"] == r["fa"]
        assert (pd.isna(e["dst_port"]) if r["fp"] == "*" else e["dst_port"] == int(r["fp"]))
        assert (e["recv_q"], e["send_q"]) == (r["rq"], r["sq"])
        raw = r["udp_state"] if udp else r["state"]
        assert (pd.isna(e["raw_state"]) if raw == "" else e["raw_state"] == raw)
        if udp:
            assert pd.isna(e["state"])
        else:
            assert e["state"] == vocab.canonical(r["state"])
        if with_e:
            assert (e["user"], e["inode"]) == (r["user"] or "0", r["inode"])
        else:
            assert pd.isna(e["user"]) and pd.isna(e["inode"])
        if with_p and r["pid"] is not None:
            assert (e["pid"], e["process"]) == (r["pid"], r["prog"])
        else:
            assert pd.isna(e["pid"]) and pd.isna(e["process"])
        assert (e["timer"] == (r["timer"] or "off (0.00/0/0)")) if with_o else pd.isna(e["timer"])


# Control characters make the input binary (InputError by design, tested elsewhere).
_PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tails=st.lists(st.text(_PRINTABLE, min_size=0, max_size=40), min_size=1, max_size=6),
       junk=st.lists(st.text(_PRINTABLE, min_size=0, max_size=30), max_size=4))
def test_garbage_never_raises(tails: list[str], junk: list[str]) -> None:
    """Odd tails after valid endpoints, odd lines, absurd numbers: accounted, never a traceback."""
    lines = ["Proto Recv-Q Send-Q Local Address           Foreign Address         State"]
    lines += [f"tcp        0      0 127.0.0.1:22            127.0.0.1:5000          {t}" for t in tails]
    lines += ["tcp 99999999999999999999999 0 1.2.3.4:1 5.6.7.8:2 ESTABLISHED",
              "tcp 0 0 1.2.3.4:1 5.6.7.8:2 ESTABLISHED 99999999999999999999/x",
              "tcp 0 0 1.2.3.4:1 5.6.7.8:99999 LISTEN root 99999999999999999999999"]
    lines += junk
    got = ingest_text("\n".join(lines).encode(), "junk.txt", "netstat_linux")
    assert got.accounting["unaccounted"] == 0
    assert len(got.events) >= len(tails)


@pytest.mark.parametrize("scenario", ["close_wait", "loop", "normal_http", "synflood", "time_wait"])
def test_same_sockets_as_ss_in_samples(scenario: str) -> None:
    """samples/<scenario>: netstat and ss recorded of the same sockets at the same moments
    (see each record.sh) give the same events, snapshot by snapshot."""
    name = "loop" if scenario == "loop" else "tanp"
    net_path, ss_path = SAMPLES / scenario / f"netstat-{name}.txt", SAMPLES / scenario / f"ss-{name}.txt"
    if not (net_path.exists() and ss_path.exists()):
        pytest.skip(f"samples/{scenario} not recorded")
    net, ss_ = ingest(str(net_path)), ingest(str(ss_path))
    assert (net.format, ss_.format) == ("netstat_linux", "ss")
    keys = ["snapshot", "proto", "family", "src_addr", "src_port", "dst_addr", "dst_port", "state"]
    a = net.events[keys].astype(str).value_counts().sort_index()
    b = ss_.events[keys].astype(str).value_counts().sort_index()
    pd.testing.assert_series_equal(a, b)
    assert net.accounting["snapshots"] == ss_.accounting["snapshots"]
