"""Snapshot splitting: date/ISO/epoch/localized timestamp lines, repeated headers, single dumps."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tcpforensics.cli import app
from tcpforensics.ingest import ingest, ingest_text, snapshots, to_lines
from tests.conftest import FIXTURES, corpus_files, corpus_path

LINUX = FIXTURES / "linux"


def _lines(name: str) -> list[str]:
    return (LINUX / name).read_text(encoding="utf-8").splitlines()


def _markers(name: str) -> list[str]:
    """The lines the fixture script printed with `date` (they do not start like netstat lines)."""
    return [ln for ln in _lines(name) if ln and not ln.startswith(("tcp", "udp", "Active", "Proto", "Aktive"))]


def _per_snapshot(name: str) -> pd.DataFrame:
    got = ingest(str(LINUX / name))
    assert got.format == "netstat_linux"
    assert got.accounting["unaccounted"] == 0
    ev = got.events
    return ev.groupby("snapshot", dropna=False).agg(rows=("line", "size"), ts=("ts", "first"), n_ts=("ts", "nunique"))


def test_date_loop_c_locale() -> None:
    """`while :; do date; netstat -ant; sleep 1; done`: three snapshots with the date's time."""
    want = [datetime.strptime(m, "%a %b %d %H:%M:%S %Z %Y") for m in _markers("snapshots-date-loop-C.txt")]
    assert len(want) == 3
    per = _per_snapshot("snapshots-date-loop-C.txt")
    assert per.index.tolist() == [0, 1, 2]
    assert per["ts"].tolist() == [pd.Timestamp(w) for w in want]
    assert per["n_ts"].eq(1).all()
    assert per["rows"].tolist() == [15, 15, 15]


def test_iso_decorated() -> None:
    raw = [m.strip("- ") for m in _markers("snapshots-iso-decorated.txt")]
    want = [pd.Timestamp(datetime.fromisoformat(r).replace(tzinfo=None)) for r in raw]
    per = _per_snapshot("snapshots-iso-decorated.txt")
    assert per["ts"].tolist() == want and len(want) == 3
    assert per["rows"].tolist() == [11, 11, 11]


def test_epoch_lines() -> None:
    want = [pd.Timestamp(datetime.fromtimestamp(int(m), tz=UTC).replace(tzinfo=None)) for m in _markers("snapshots-epoch.txt")]
    per = _per_snapshot("snapshots-epoch.txt")
    assert per["ts"].tolist() == want and len(want) == 2


@pytest.mark.parametrize(
    "name, first, second",
    [
        # German `date`: "Di 24. Nov 07:23:44 UTC 2026"; Korean: "2026. 11. 24. (화) 07:23:46 UTC"
        ("snapshots-date-loop-de.txt", "2026-11-24 07:23:44", "2026-11-24 07:23:45"),
        ("snapshots-date-loop-ko.txt", "2026-11-24 07:23:46", "2026-11-24 07:23:47"),
    ],
)
def test_localized_date_loops(name: str, first: str, second: str) -> None:
    per = _per_snapshot(name)
    assert per["ts"].tolist() == [pd.Timestamp(first), pd.Timestamp(second)]
    assert per["rows"].tolist() == [11, 11]


def test_repeated_header_without_timestamps() -> None:
    per = _per_snapshot("snapshots-repeated-header.txt")
    assert per["rows"].tolist() == [15, 15, 15]
    assert per["ts"].isna().all()


def test_single_dump_is_one_snapshot() -> None:
    got = ingest(str(LINUX / "snapshots-single.txt"))
    assert got.accounting["snapshots"] == 1
    assert got.events["snapshot"].eq(0).all() and got.events["ts"].isna().all()
    assert "snapshot marker" not in got.accounting["structural"]


def test_unix_section_is_not_a_new_snapshot_but_a_rerun_is() -> None:
    """netstat -a: Internet section, then UNIX section (one run). Two runs concatenated: two."""
    one = (LINUX / "netstat-anp-unix-C.txt").read_text()
    got = ingest_text((one + one).encode(), "twice.txt")
    per = got.events.groupby("snapshot").size()
    assert per.tolist() == [17, 17]
    assert got.accounting["skipped"] == {"non-IP socket": 2}
    lines = to_lines((one + one).encode(), "twice.txt").frame
    unix_titles = lines[lines["text"].str.startswith("Active UNIX")]
    assert unix_titles["snapshot"].tolist() == [0, 1]


def test_two_commands_with_one_header_are_one_snapshot() -> None:
    """`netstat -tan; netstat -uan` prints the same title and header twice over tcp, then udp
    rows: one look at the machine. Run in a loop, each tcp part starts a new snapshot."""
    tcp_run = _lines("snapshots-single.txt")
    udp_rows = [ln for ln in _lines("netstat-tuanpeo-C.txt") if ln.startswith("udp")]
    udp_run = tcp_run[:2] + udp_rows  # same title and header as the tcp run (both -an)
    once = ingest_text("\n".join(tcp_run + udp_run).encode(), "tn-un.txt")
    assert once.accounting["snapshots"] == 1
    assert len(once.events) == len(tcp_run) - 2 + len(udp_rows)
    loop = ingest_text("\n".join((tcp_run + udp_run) * 3).encode(), "tn-un-loop.txt")
    per = loop.events.groupby(["snapshot", "proto"], observed=True).size()
    assert per.to_dict() == {(i, p): n for i in range(3) for p, n in (("tcp", 15), ("udp", 2))}


def test_ts_resets_on_a_header_restart() -> None:
    """A dated run then an undated rerun: the second snapshot must not inherit the date."""
    lines = _lines("snapshots-date-loop-C.txt")
    dates = [i for i, ln in enumerate(lines) if ln in _markers("snapshots-date-loop-C.txt")]
    dated_run = lines[dates[0] : dates[1]]
    text = "\n".join(dated_run + _lines("snapshots-single.txt"))
    got = ingest_text(text.encode(), "mixed.txt")
    ts = got.events.groupby("snapshot")["ts"].first()
    assert ts.iloc[0] == pd.Timestamp(datetime.strptime(lines[0], "%a %b %d %H:%M:%S %Z %Y"))
    assert len(ts) == 2 and pd.isna(ts.iloc[1])


def test_trailing_date_opens_no_empty_snapshot() -> None:
    """`netstat; date` loops print the time after each run: the last date opens nothing."""
    lines = _lines("snapshots-date-loop-C.txt")
    dates = [i for i, ln in enumerate(lines) if ln in _markers("snapshots-date-loop-C.txt")]
    runs = [lines[a + 1 : b] for a, b in zip(dates, dates[1:] + [len(lines)], strict=True)]
    text = "\n".join(ln for run, d in zip(runs, dates, strict=True) for ln in [*run, lines[d]])
    got = ingest_text(text.encode(), "after.txt")
    assert got.accounting["snapshots"] == 3
    assert got.events.groupby("snapshot").size().tolist() == [15, 15, 15]
    assert got.events.loc[got.events["snapshot"] == 0, "ts"].isna().all()


@pytest.mark.parametrize(
    "line, want",
    [
        ("Tue Nov 24 07:11:25 UTC 2026", "2026-11-24 07:11:25"),  # date, C locale
        ("Tue Nov 24 07:11:25 AM UTC 2026", "2026-11-24 07:11:25"),  # en_US (glibc 2.29+)
        ("Sun Mar  1 07:01:02 PM UTC 2026", "2026-03-01 19:01:02"),
        ("Tue 24 Nov 07:11:25 UTC 2026", "2026-11-24 07:11:25"),  # en_GB
        ("Di 24. Nov 07:11:25 UTC 2026", "2026-11-24 07:11:25"),  # de_DE
        ("So  1. Mär 19:01:02 CET 2026", "2026-03-01 19:01:02"),
        ("mar. 24 nov. 2026 07:11:25 UTC", "2026-11-24 07:11:25"),  # fr_FR
        ("dim. 01 mars 2026 19:01:02 UTC", "2026-03-01 19:01:02"),
        ("mar 24 nov 2026 07:11:25 UTC", "2026-11-24 07:11:25"),  # es_ES
        ("mar 24 nov 2026, 07:11:25, UTC", "2026-11-24 07:11:25"),  # it_IT
        ("ter 24 nov 2026 07:11:25 -03", "2026-11-24 07:11:25"),  # pt_BR
        ("di 24 nov 2026  7:11:25 UTC", "2026-11-24 07:11:25"),  # nl_NL
        ("wto, 24 lis 2026, 07:11:25 UTC", "2026-11-24 07:11:25"),  # pl_PL
        ("Út 24. listopadu 2026, 07:11:25 UTC", "2026-11-24 07:11:25"),  # cs_CZ
        ("tis 24 nov 2026 07:11:25 UTC", "2026-11-24 07:11:25"),  # sv_SE
        ("Sal 24 Kas 2026 07:11:25 +03", "2026-11-24 07:11:25"),  # tr_TR
        ("Вт 24 ноя 2026 07:11:25 MSK", "2026-11-24 07:11:25"),  # ru_RU
        ("2020. 06. 03. (수) 15:27:48 KST", "2020-06-03 15:27:48"),  # ko_KR
        ("2026年 11月 24日 火曜日 07:11:25 JST", "2026-11-24 07:11:25"),  # ja_JP
        ("2026年  3月  1日 日曜日 19:01:02 JST", "2026-03-01 19:01:02"),
        ("2026年 11月 24日 星期二 07:11:25 CST", "2026-11-24 07:11:25"),  # zh_CN
        ("Tue, 24 Nov 2026 07:11:25 +0000", "2026-11-24 07:11:25"),  # date -R
        ("2026-11-24T07:11:25Z", "2026-11-24 07:11:25"),  # date -Is / ISO 8601
        ("2026-11-24T07:11:25,123456789+01:00", "2026-11-24 07:11:25.123456789"),  # date -Ins
        ("2026-11-24 07:11:25", "2026-11-24 07:11:25"),
        ("--- 2026-11-24 07:11:25 ---", "2026-11-24 07:11:25"),
        ("=== Tue Nov 24 07:11:25 UTC 2026 ===", "2026-11-24 07:11:25"),
        ("[2026-11-24 07:11:25]", "2026-11-24 07:11:25"),
        ("# Timestamp: 2026-11-24T07:11:25Z", "2026-11-24 07:11:25"),
        ("1700000000", "2023-11-14 22:13:20"),  # date +%s
        ("1700000000.25", "2023-11-14 22:13:20.25"),
        ("1700000000123", "2023-11-14 22:13:20.123"),  # ms
        ("Tuesday, November 24, 2026 7:11:25 AM", "2026-11-24 07:11:25"),  # PowerShell Get-Date
        ("Tue 11/24/2026  7:11:25.12", "2026-11-24 07:11:25.12"),  # cmd %date% %time% (en-US)
        ("24.11.2026  7:11:25,12", "2026-11-24 07:11:25.12"),  # cmd %date% %time% (de-DE)
        # the shape of a `date` line in a language whose month names we do not know: a
        # separator, but no time
        ("Τρι 24 Νοε 2026 07:11:25 UTC", None),
    ],
)
def test_timestamp_shapes(line: str, want: str | None) -> None:
    is_marker, ts = snapshots.parse_timestamps(pd.Series([line]))
    assert bool(is_marker.iloc[0])
    if want is None:
        assert pd.isna(ts.iloc[0])
    else:
        assert ts.iloc[0] == pd.Timestamp(want)


@pytest.mark.parametrize(
    "line",
    [
        "tcp        0      0 127.0.0.1:8000          127.0.0.1:51234         ESTABLISHED 1234/python3",
        "tcp6       0      0 2001:db8:12:34::1:22    2001:db8:12:35::9:41000 ESTABLISHED",
        "88",  # `wc -l` output in a count loop
        "193",
        "999999999",  # 9 digits: before 2001, a number not an epoch
        "4200000000",  # after 2100
        "Nov 24 07:11:25 host sshd[812]: Accepted publickey",  # syslog: text after the time
        "  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1234",
        "ESTAB 0 0 10.0.0.1:22 10.0.0.2:51234 timer:(keepalive,119min,0)",
        "sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
        "   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   118        0 24178",
        "udp        0      0 0.0.0.0:5353            0.0.0.0:*                           442/avahi-daemon: r",
        "tcp   LISTEN 0      128    0.0.0.0:22    0.0.0.0:*    users:((\"sshd\",pid=812,fd=3))",
        "Active Internet connections (servers and established)",
    ],
)
def test_data_rows_are_not_timestamps(line: str) -> None:
    is_marker, ts = snapshots.parse_timestamps(pd.Series([line]))
    assert not bool(is_marker.iloc[0])
    assert pd.isna(ts.iloc[0])


def test_timestamp_line_without_known_month_still_separates() -> None:
    rows = _lines("snapshots-single.txt")
    text = "\n".join(["Τρι 24 Νοε 2026 07:11:25 UTC", *rows, "Τρι 24 Νοε 2026 07:11:26 UTC", *rows])
    got = ingest_text(text.encode(), "el.txt")
    assert got.accounting["snapshots"] == 2
    assert got.accounting["structural"]["snapshot marker"] == 2
    assert got.events["ts"].isna().all()


def test_split_is_vectorized_over_a_large_loop() -> None:
    """500 runs of the C date loop fixture (~9,000 lines): every run its own snapshot."""
    one = (LINUX / "snapshots-date-loop-C.txt").read_text()
    frame = to_lines((one * 167).encode(), "loop.txt").frame
    assert int(frame["snapshot"].max()) + 1 == 3 * 167
    assert int(frame["is_marker"].sum()) == 3 * 167


@pytest.mark.corpus
def test_corpus_single_dumps_stay_single() -> None:
    """Every corpus text dump is one snapshot, except the two date loops and one file with
    two runs of the same command (its echoed command line repeats)."""
    corpus_path("text")
    multi = {}
    for path in corpus_files("**/*", "text"):
        if not path.is_file() or path.suffix in (".json", ".tsv", ".md"):
            continue
        frame = to_lines(path.read_bytes(), path.name).frame
        n = int(frame["snapshot"].max()) + 1
        if n > 1:
            multi[path.name] = n
    assert multi == {
        "netstat-ntlup_while-date-loop_istio.txt": 2,
        "netstat-tonp_timers_masked-ips.txt": 8,  # a table, then 7 dated `wc -l` counts
        "zh_win_netstat-aqn_BOUND.txt": 2,  # `C:\>netstat -a -q -n | findstr ":22"` twice
    }


def test_cli_events_show_snapshot_and_ts() -> None:
    r = CliRunner().invoke(app, ["events", str(LINUX / "snapshots-date-loop-C.txt"), "--format", "csv"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 45
    by_snap = {}
    for row in rows:
        by_snap.setdefault(row["snapshot"], set()).add(row["ts"])
    want = [datetime.strptime(m, "%a %b %d %H:%M:%S %Z %Y") for m in _markers("snapshots-date-loop-C.txt")]
    assert {k: sorted(v) for k, v in by_snap.items()} == {
        str(i): [w.strftime("%Y-%m-%d %H:%M:%S")] for i, w in enumerate(want)
    }
    assert {row["raw_state"] for row in rows} >= {"LISTEN", "ESTABLISHED", "TIME_WAIT", "FIN_WAIT2", "CLOSE_WAIT"}


_PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))
_LINE = st.one_of(
    st.text(_PRINTABLE, max_size=40),
    st.sampled_from(["Tue Nov 24 07:11:25 UTC 2026", "2026-11-24 07:11:26", "1700000000", "",
                     "Active Internet connections (servers and established)",
                     "Proto Recv-Q Send-Q Local Address           Foreign Address         State",
                     "tcp        0      0 127.0.0.1:22            127.0.0.1:5000          ESTABLISHED"]),
)


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(_LINE, max_size=30))
def test_split_invariants(lines: list[str]) -> None:
    """Any lines: snapshots count up from 0 without gaps, markers are exactly the timestamp
    lines, and the data lines (a digit; not a marker, note or command) of one snapshot share
    one time."""
    text = pd.Series(lines, index=pd.RangeIndex(1, len(lines) + 1), dtype=object)
    frame = snapshots.split(text)
    assert frame.index.equals(text.index) and frame["text"].tolist() == lines
    snap = frame["snapshot"].to_numpy()
    assert (len(snap) == 0) or (snap[0] == 0 and (pd.Series(snap).diff().fillna(0).isin([0, 1])).all())
    is_marker, _ = snapshots.parse_timestamps(text)
    assert frame["is_marker"].tolist() == is_marker.tolist()
    t = frame["text"].str.strip()
    note = t.str.match(r"^\(.*\)$") | t.str.contains(snapshots._COMMAND, regex=True)
    data = frame[t.str.contains(r"\d") & ~frame["is_marker"] & ~note]
    assert data.groupby("snapshot")["ts"].nunique(dropna=False).le(1).all()
