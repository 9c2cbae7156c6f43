"""Minimal reproducers of crashes found by fuzzing and property tests (see fuzz/FINDINGS.md)."""

from __future__ import annotations

import pandas as pd
import pytest

from tcpforensics.ingest import ingest_text
from tests.hostile.test_properties import check_text_account


@pytest.mark.parametrize("value", ["9223372036854775808", "18446744073709551615", "99999999999999999999"])
def test_counter_value_beyond_int64(value):
    # A kernel counter is an unsigned 64-bit number, so values past int64 are possible, and a
    # damaged dump can hold anything.
    data = f"TcpExt: SyncookiesSent ListenOverflows\nTcpExt: 0 {value}\n".encode()
    # A value that does not fit int64 is NA (unknown), the rest stay exact.
    check_text_account(data, "counters")
    ing = ingest_text(data, "x", "counters")
    values = dict(zip(ing.counters["counter"], ing.counters["value"], strict=True))
    assert values["SyncookiesSent"] == 0 and values["ListenOverflows"] is pd.NA


@pytest.mark.parametrize("year", ["0024", "9999", "1000"])
def test_date_line_with_a_year_beyond_datetime64(year):
    # A year outside datetime64[ns] (1678-2261) in a `date` line: such a time is unknown (NaT),
    # for every text format.
    data = f"Thu Mar  7 10:00:30 UTC {year}\ntcp 0 0 1.2.3.4:1 5.6.7.8:2 ESTABLISHED\n".encode()
    check_text_account(data, None)
    ing = ingest_text(data, "x")
    assert len(ing.events) == 1 and ing.events["ts"].isna().all()


def test_command_line_inside_a_listen_queue_section_is_counted_once():
    """F11 (atheris fuzz_netstat_bsd): a pasted ``sudo netstat ...`` line after a ``netstat -L``
    section was counted as a command line and skipped as unparseable (unaccounted -1)."""
    from tcpforensics.ingest import ingest_text

    text = (b"Current listen queue sizes (qlen/incqlen/maxqlen)\n"
            b"Listen         Local Address\n"
            b"0/0/128        *.5000\n"
            b"sudo netstat -anv -p tcp\n"
            b"0/0/128        127.0.0.1.631\n")
    acc = ingest_text(text, "f11", "netstat_bsd").accounting
    assert acc["unaccounted"] == 0, acc
    assert acc["structural"].get("command line") == 1, acc
    assert not acc["skipped"], acc


def test_command_line_right_after_a_section_title_is_counted_once():
    """F13 (atheris fuzz_netstat_bsd): a pasted ``sudo netstat ...`` line right after a
    ``Current listen queue sizes`` title was taken both for that section's column header and
    for a command line (unaccounted -1). Each line now takes the first structural class that
    claims it: blank, title, header, command line, elision, then a section's own header."""
    text = (b"Current listen queue sizes (qlen/incqlen/maxqlen)\n"
            b"sudo netstat -anv -p tcp | egrep 'Proto|(\\*\\.(80|443))'\n"
            b"Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)\n"
            b"0/0/128        127.0.0.1.631\n")
    acc = ingest_text(text, "f13", "netstat_bsd").accounting
    assert acc["unaccounted"] == 0, acc
    assert acc["structural"] == {"title": 1, "command line": 1}, acc
    assert acc["events"] == 1, acc
    assert acc["skipped"] == {"unparseable line": 1}, acc  # the Proto header outside an inet section


def test_epoch_line_beyond_int64_nanoseconds():
    """F14 (atheris fuzz_netstat_linux): a 19-digit epoch line above 2**63 ns raises
    ``TypeError: cannot safely cast non-equivalent uint64 to int64`` in ``snapshots._times``
    for every text format. Fixed: the range check (years 2000..2099) runs on the unsigned value,
    so the line is, like any epoch out of that range, no timestamp line and is counted as skipped."""
    text = (b"9999999999999999999\n"
            b"1700000000123456789\n"  # an epoch in range beside it keeps every nanosecond
            b"tcp        0      0 127.0.0.1:22            127.0.0.1:5000          ESTABLISHED\n")
    got = ingest_text(text, "f14", "netstat_linux")
    acc = got.accounting
    assert acc["unaccounted"] == 0, acc
    assert acc["structural"] == {"snapshot marker": 1} and acc["skipped"] == {"unparseable line": 1}, acc
    assert acc["events"] == 1 and got.events["ts"].iloc[0] == pd.Timestamp("2023-11-14 22:13:20.123456789")


def test_syn_received_sockets_without_a_listener_in_the_dump(tmp_path):
    """F16 (test_pipeline_properties, a mutated net-tools dump): SYN_RECEIVED rows and no LISTEN
    row: the listener lookup came back all-NaN float64 and was filled with strings, which
    pandas 3 warns of (Pandas4Warning, an error here and in pandas 4). The subject is '*:port'."""
    import warnings

    from tcpforensics.pipeline import analyze

    rows = "".join(f"tcp        0      0 192.168.0.116:80        96.53.{k}.126:645      SYN_RECV\n" for k in range(200))
    path = tmp_path / "netstat.txt"
    path.write_text("Active Internet connections (w/o servers)\n"
                    "Proto Recv-Q Send-Q Local Address           Foreign Address         State\n" + rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = analyze([str(path)])
    flood = report.findings[report.findings["category"] == "syn_flood"]
    assert list(flood["subject"]) == ["*:80"]


def test_ss_summary_line_whose_numbers_are_too_large():
    """F19 (atheris fuzz target ss_summary, after 31,905 inputs, 2026-12-07 18:10): a ``Total:``
    line with a 133-digit number matched the line's pattern but gave no counter (the value is NA
    and dropped), so the line was neither a counter line nor skipped (unaccounted 1). Such lines
    are now skipped as ``number out of range``; a table line of ``-`` only stays structural."""
    text = ("Total: 3" + "7" * 130 + "\nTCP:   35 (estab 10, closed 6, orphaned 0, timewait 3)\n\n"
            "Transport Total     IP        IPv6\n*\t  -         -         -\nRAW\t  0         0         0\n"
            "UDP\t  99999999999999999999  99999999999999999999  99999999999999999999\n").encode()
    check_text_account(text, "ss_summary")
    got = ingest_text(text, "f19", "ss_summary")
    acc = got.accounting
    assert acc["unaccounted"] == 0, acc
    assert acc["skipped"] == {"number out of range": 2}, acc
    assert acc["structural"] == {"blank": 1, "header": 1, "table line without values": 1}, acc
    assert acc["counter_lines"] == 2
