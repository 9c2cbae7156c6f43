"""Windows netstat: every language, -b owner lines, encodings, jc agreement, wild corpus counts."""

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
from tcpforensics.ingest.formats import netstat_windows
from tcpforensics.ingest.parsing import endpoints, vocab
from tests.conftest import FIXTURES, corpus_files, corpus_path
from tests.ingest.jc_compare import jc_frame, ours, wild_expected

WINDOWS = FIXTURES / "windows"
KEY = ["line", "proto", "family", "src_addr", "src_port", "dst_addr", "dst_port", "state",
       "raw_state", "pid", "process"]


def _events(path: Path) -> pd.DataFrame:
    r = ingest(str(path))
    assert r.format == "netstat_windows"
    assert r.accounting["unaccounted"] == 0
    return r.events


def _plain(df: pd.DataFrame) -> list[tuple]:
    return [tuple(None if pd.isna(v) else v for v in row) for row in df[KEY].astype(object).itertuples(index=False)]


# --- fixtures, one per display language -------------------------------------------------


def test_english_ano_ipv6_zone_udp() -> None:
    e = _events(WINDOWS / "en_netstat-ano.txt")
    assert len(e) == 9
    zone = e[e["line"] == 11].iloc[0]
    assert (zone["src_addr"], zone["src_port"], zone["family"]) == ("fe80::1c2d:aa:bb:cc%12", 139, "ipv6")
    assert (zone["dst_addr"], zone["dst_port"]) == ("::", 0)
    udp = e[e["proto"] == "udp"]
    assert udp["state"].isna().all() and udp["raw_state"].isna().all()
    assert (udp["dst_addr"] == "*").all() and udp["dst_port"].isna().all()
    assert udp["pid"].tolist() == [2448, 3120]
    assert e["state"].value_counts()[lambda s: s > 0].to_dict() == {
        "LISTEN": 3, "ESTABLISHED": 2, "CLOSE_WAIT": 1, "SYN_SENT": 1}


def test_german_states() -> None:
    e = _events(WINDOWS / "de_netstat-an.txt")
    assert dict(zip(e["raw_state"].dropna().astype(str), e["state"].dropna().astype(str), strict=True)) == {
        "ABHÖREN": "LISTEN", "HERGESTELLT": "ESTABLISHED", "WARTEND": "TIME_WAIT",
        "SCHLIESSEN_WARTEN": "CLOSE_WAIT", "FIN_WARTEN_2": "FIN_WAIT_2"}


def test_french_b_owner_lines_hostnames_and_services() -> None:
    r = ingest(str(WINDOWS / "fr_netstat-abo.txt"))
    e = r.events
    assert e["process"].astype(object).where(e["process"].notna(), None).tolist() == [
        "svchost.exe", None, "NVIDIA Web Helper.exe", None, "svchost.exe"]
    assert e["pid"].tolist() == [1244, 4, 7012, 0, 2448]
    # hostnames stay as printed, service names become numbers
    assert e["dst_addr"].astype(str).tolist()[:4] == ["DESKTOP-1", "DESKTOP-1", "lhr25s34-in-f14", "DESKTOP-1"]
    assert e["dst_port"].tolist()[:4] == [0, 0, 443, 80]
    assert e["family"].tolist()[:4] == ["ipv4"] * 4  # from the numeric local address
    s = r.accounting["structural"]
    assert (s["owner: executable"], s["owner: service"], s["owner: not available"]) == (3, 2, 1)
    assert s["command line"] == 2 and s["title"] == 1 and s["header"] == 1


def test_spanish_quic_udp_row_keeps_foreign_address() -> None:
    e = _events(WINDOWS / "es_netstat-nabo.txt")
    quic = e[e["proto"] == "udp"].iloc[0]
    assert (quic["dst_addr"], quic["dst_port"], quic["process"]) == ("172.217.20.170", 443, "firefox.exe")
    assert pd.isna(quic["state"])


@pytest.mark.parametrize("name, n, states", [
    ("pt-BR_netstat.txt", 3, {"ESTABLISHED": 2, "CLOSE_WAIT": 1}),
    ("it_netstat-ano.txt", 4, {"LISTEN": 1, "ESTABLISHED": 1, "LAST_ACK": 1}),
    ("ru_netstat-a.txt", 4, {"LISTEN": 2, "ESTABLISHED": 1}),
    ("zh-CN_netstat-aqn.txt", 4, {"LISTEN": 1, "BOUND": 1, "FIN_WAIT_1": 1}),
    ("ja_netstat-ano.txt", 3, {"LISTEN": 1, "ESTABLISHED": 1, "TIME_WAIT": 1}),
])
def test_other_languages(name: str, n: int, states: dict) -> None:
    e = _events(WINDOWS / name)
    assert len(e) == n
    assert e["state"].value_counts()[lambda s: s > 0].to_dict() == states


def test_russian_header_banner_and_command_are_structural() -> None:
    r = ingest(str(WINDOWS / "ru_netstat-a.txt"))
    assert r.accounting["structural"] == {"banner": 2, "blank": 3, "command line": 1, "header": 1, "title": 1}


def test_unknown_lines_are_skipped_not_fatal() -> None:
    text = _text("en_netstat-ano.txt") + "  TCP    garbage\r\n [orphan.exe]\r\n"
    r = ingest_text(text.encode(), "x.txt")
    assert r.accounting["unaccounted"] == 0
    assert r.accounting["skipped"] == {"unparseable line": 1}
    assert len(r.events) == 9
    # an owner line right after a non-row line still belongs to the row above it
    assert r.events["process"].astype(object).iloc[-1] == "orphan.exe"


def test_owner_line_before_any_row_is_skipped() -> None:
    r = ingest_text(b" [svchost.exe]\n  TCP    0.0.0.0:135    0.0.0.0:0    LISTENING\n", "x.txt",
                    "netstat_windows")
    assert r.accounting["skipped"] == {"owner line without a row": 1}


def test_two_letter_state_translation() -> None:
    r = ingest_text(b"  TCP    0.0.0.0:135    0.0.0.0:0    IN ASCOLTO      1452\n", "x.txt", "netstat_windows")
    row = r.events.iloc[0]
    assert (row["raw_state"], row["state"], row["pid"]) == ("IN ASCOLTO", "LISTEN", 1452)


def _text(name: str) -> str:
    return (WINDOWS / name).read_text(encoding="utf-8")


# --- encodings: each fixture in the code pages Windows writes it in ---------------------

ENCODINGS = {
    "en_netstat-ano.txt": ["utf-16", "cp437", "cp850", "cp1252"],
    "de_netstat-an.txt": ["utf-16", "cp850", "cp437", "cp1252"],
    "fr_netstat-abo.txt": ["utf-16", "cp850", "cp1252"],
    "es_netstat-nabo.txt": ["utf-16", "cp850", "cp437", "cp1252"],
    "pt-BR_netstat.txt": ["utf-16", "cp850", "cp1252"],
    "it_netstat-ano.txt": ["utf-16", "cp850", "cp1252"],
    "ru_netstat-a.txt": ["utf-16", "cp866", "cp1251"],
    "zh-CN_netstat-aqn.txt": ["utf-16", "cp936"],
    "ja_netstat-ano.txt": ["utf-16", "cp932"],
}


@pytest.mark.parametrize("name, enc", [(n, e) for n, encs in ENCODINGS.items() for e in encs])
def test_encodings_give_the_same_rows(name: str, enc: str) -> None:
    """The French '’' has no cp850 code point: Windows writes '?', which we do too."""
    original = _text(name)
    data = original.encode(enc, errors="replace")
    expected_text = data.decode(enc)
    text, got = textio.decode(data)
    assert text == expected_text
    assert data.decode(got, errors="replace") == expected_text  # cp437/cp850 may both be right
    reference = ingest_text(original.encode("utf-8"), "ref").events
    decoded = ingest_text(data, "enc")
    assert decoded.format == "netstat_windows" and decoded.accounting["unaccounted"] == 0
    assert decoded.accounting["encoding"] == got
    assert _plain(decoded.events) == _plain(reference)


# --- detection ----------------------------------------------------------------------------


def test_detect_own_format_high_and_others_low() -> None:
    for p in sorted(WINDOWS.glob("*.txt")):
        assert netstat_windows.detect(to_lines(p.read_bytes(), p.name)) >= 0.8, p.name
    others = sorted((FIXTURES / "linux").glob("*.txt")) + sorted((FIXTURES / "macos").glob("*.txt")) \
        + sorted((FIXTURES / "freebsd").glob("*.txt"))
    assert others
    for p in others:
        assert netstat_windows.detect(to_lines(p.read_bytes(), p.name)) < 0.2, p.name


def test_endpoint_split_matches_the_shared_helper() -> None:
    """The row pattern splits endpoints itself (speed); it must agree with endpoints.split."""
    e = pd.concat([_events(p) for p in sorted(WINDOWS.glob("*.txt"))])
    raw = pd.concat([
        pd.Series(p.read_text(encoding="utf-8").splitlines()) for p in sorted(WINDOWS.glob("*.txt"))
    ])
    fields = raw.str.extract(r"^\s*(?:TCP|UDP)\s+(\S+)\s+(\S+)").dropna()
    addr, port = endpoints.split(fields[0])
    assert addr.tolist() == e["src_addr"].astype(str).tolist()
    assert endpoints.ports(port, "tcp").fillna(0).tolist() == e["src_port"].fillna(0).tolist()


# --- corpus: jc agreement -----------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["netstat.out", "netstat-an.out", "netstat-aon.out"])
def test_jc_windows_10_agreement(name: str) -> None:
    """Same rows as jc: count, endpoints, normalized state, pid. jc keeps IPv6 brackets
    ('[::]'); jc_frame strips them, the only normalization needed."""
    path = corpus_path("text", "jc", "windows", "windows-10", name)
    theirs = jc_frame(path.with_suffix(".json"))
    mine = ours(_events(path))
    assert len(mine) == len(theirs)
    pd.testing.assert_frame_equal(mine, theirs[mine.columns], check_dtype=False)


# --- corpus: wild files against expected_counts.tsv ---------------------------------------


def canonical_counts(counts: dict) -> dict:
    """expected_counts.tsv uses net-tools names (FIN_WAIT2, SYN_RECV): map to canonical."""
    out: Counter = Counter()
    for k, v in counts.items():
        out[vocab.canonical(k) or k] += v
    return dict(out)


@pytest.mark.corpus
@pytest.mark.parametrize("row", wild_expected("windows/"), ids=lambda r: r["file"])
def test_wild_windows_counts(row: dict) -> None:
    """Counts of every wild Windows file. Notes honoured: ABH™REN mojibake maps to LISTEN
    (vocab), '...' elisions are structural, QUIC UDP rows with a foreign address count as UDP,
    the zh file's two command runs (BOUND, then LISTENING) both count."""
    path = corpus_path("text", "wild", row["file"])
    e = _events(path)
    assert (e["proto"] == "tcp").sum() == int(row["tcp_rows"])
    assert (e["proto"] == "udp").sum() == int(row["udp_rows"])
    got = e.loc[e["proto"] == "tcp", "state"].value_counts()[lambda s: s > 0].to_dict()
    assert got == canonical_counts(json.loads(row["tcp_states_normalized"]))
    assert (e["state"] == "UNKNOWN").sum() == sum(json.loads(row["unmapped_state_tokens"]).values())


@pytest.mark.corpus
def test_wild_windows_all_listed() -> None:
    corpus_path("text", "wild", "windows")
    listed = {r["file"] for r in wild_expected("windows/")}
    present = {f"windows/{p.name}" for p in corpus_files("*", "text", "wild", "windows")}
    assert present == listed


@pytest.mark.corpus
def test_wild_b_owner_lines() -> None:
    """-b: owner lines fill the process of the row above; 'no owner' lines leave it NA."""
    path = corpus_path("text", "wild", "windows", "fr_win10or11_netstat-anb_danyGhassan-tp5_FULL.txt")
    r = ingest(str(path))
    s = r.accounting["structural"]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert s["owner: executable"] == sum(1 for t in lines if t.strip().startswith("["))
    assert s["owner: not available"] == sum(1 for t in lines if "Impossible d" in t)
    first = r.events.iloc[0]
    assert (first["src_port"], first["process"]) == (135, "svchost.exe")
    assert (r.events["process"] == "chrome.exe").sum() == 67


# --- end to end through the CLI ------------------------------------------------------------


def test_cli_events_csv() -> None:
    res = CliRunner().invoke(app, ["events", str(WINDOWS / "fr_netstat-abo.txt"), "--format", "csv"])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(io.StringIO(res.stdout))
    assert len(df) == 5
    assert df["process"].tolist()[2] == "NVIDIA Web Helper.exe"
    assert df["state"].fillna("").tolist() == ["LISTEN", "LISTEN", "ESTABLISHED", "TIME_WAIT", ""]
    assert df["raw_state"].fillna("").tolist() == ["LISTENING", "LISTENING", "ESTABLISHED", "TIME_WAIT", ""]


def test_cli_events_csv_utf16_input(tmp_path: Path) -> None:
    p = tmp_path / "netstat.txt"
    p.write_bytes(_text("zh-CN_netstat-aqn.txt").encode("utf-16"))
    res = CliRunner().invoke(app, ["events", str(p), "--format", "csv"])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(io.StringIO(res.stdout))
    assert df["state"].fillna("").tolist() == ["LISTEN", "BOUND", "FIN_WAIT_1", ""]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([
    "  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1012",
    "  UDP    [::]:500               *:*                                    3120",
    " [svchost.exe]", "  Dnscache", " Can not obtain ownership information", "", "...",
    "  Proto  Local Address          Foreign Address        State           PID",
    "Active Connections", "  TCP    [::", "C:\\> netstat -ano",
]) | st.text(max_size=40), max_size=30))
def test_any_mix_of_lines_is_fully_accounted(lines: list[str]) -> None:
    data = "\n".join(lines).encode("utf-8", errors="replace")
    data += b"\n  TCP    1.2.3.4:1  5.6.7.8:2  ESTABLISHED\n"
    if textio.looks_binary(data):  # control-character soup is refused (InputError), by design
        return
    r = ingest_text(data, "fuzz.txt", "netstat_windows")
    assert r.accounting["unaccounted"] == 0
    assert len(r.events) >= 1


def test_elevation_notice_is_structural() -> None:
    data = b"C:\\>netstat -b\r\nThe requested operation requires elevation.\r\n"
    r = ingest_text(data + b"\r\nActive Connections\r\n", "x.txt", "netstat_windows")
    assert r.accounting["structural"]["notice"] == 1 and r.accounting["skipped"] == {}
    fr = ingest_text("L’opération demandée nécessite une élévation.\n".encode(), "x.txt", "netstat_windows")
    assert fr.accounting["structural"] == {"notice": 1}


def test_no_break_spaces_from_web_copies() -> None:
    row = "  TCP\u00a0\u00a0\u00a0 0.0.0.0:135\u00a0\u00a0 0.0.0.0:0\u00a0\u00a0 LISTENING\u00a0\u00a0 1012\n"
    r = ingest_text(row.encode(), "x.txt", "netstat_windows")
    assert r.events[["src_port", "state", "pid"]].values.tolist() == [[135, "LISTEN", 1012]]
