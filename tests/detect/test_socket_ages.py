"""Creation times of a CLOSE_WAIT pile (Get-NetTCPConnection, Velociraptor, Volatility) tell a
slow leak from one burst; inputs without them, or with snapshot times only, get no such judgement."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import tcpforensics
from tcpforensics.detect.sockets import THRESHOLDS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HEADER = '"LocalAddress","LocalPort","RemoteAddress","RemotePort","State","OwningProcess","CreationTime"\n'


def _powershell(tmp_path: Path, minutes_apart: float, n: int = 6) -> Path:
    """An Export-Csv of n CLOSE_WAIT sockets of pid 4242, created ``minutes_apart`` apart."""
    start = pd.Timestamp("2026-03-02 08:00:00")
    rows = [f'"10.0.0.5","{50000 + i}","192.0.2.80","443","CloseWait","4242",'
            f'"{(start + pd.Timedelta(minutes=minutes_apart * i)).isoformat()}Z"\n' for i in range(n)]
    path = tmp_path / "tcp.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def _close_wait(path: Path) -> pd.Series:
    found = tcpforensics.analyze([str(path)]).findings
    rows = found[found["category"].eq("close_wait_leak")]
    assert len(rows) == 1
    return rows.iloc[0]


@pytest.mark.parametrize(("minutes_apart", "pattern", "span_s"), [
    (60.0, "slow leak", 5 * 3600),         # created over 5 h
    (2.0, "built up over minutes", 600),   # over 10 min
    (0.1, "one burst", 30),                # within 30 s
])
def test_creation_spread_names_the_pile(tmp_path: Path, minutes_apart: float, pattern: str, span_s: int) -> None:
    f = _close_wait(_powershell(tmp_path, minutes_apart))
    assert f["count"] == 6
    assert f["details"]["age_pattern"] == pattern
    assert f["details"]["created_span_s"] == span_s
    assert f["details"]["created_first"] == "2026-03-02 08:00:00"
    assert f["first_seen"] == pd.Timestamp("2026-03-02 08:00:00")
    assert ("created over" in f["explanation"]) == (pattern != "one burst")


def test_a_slow_leak_is_at_least_medium(tmp_path: Path) -> None:
    assert 6 < THRESHOLDS["close_wait_medium"]  # by count alone: low
    assert _close_wait(_powershell(tmp_path, 60.0))["severity"] == "medium"
    assert _close_wait(_powershell(tmp_path, 0.1))["severity"] == "low"


def test_velociraptor_testdata_is_one_burst() -> None:
    """Velociraptor's own test data: WinStore.App.exe's 13 CLOSE_WAIT sockets were created
    between 09:18:15 and 09:18:28 UTC (checked by hand in the JSON)."""
    f = _close_wait(FIXTURES / "windows/velociraptor/windows-network-netstatenriched-testdata.json")
    assert (f["subject"], f["count"]) == ("WinStore.App.exe[2532]", 13)
    assert f["details"]["age_pattern"] == "one burst"
    assert f["details"]["created_span_s"] == 13


def test_no_creation_times_no_judgement(tmp_path: Path) -> None:
    """The same sockets as netstat -ano (no times), and as a dated snapshot (one time for
    every row: the snapshot's, not the sockets'): no age pattern, nothing added."""
    lines = [f"  TCP    10.0.0.5:{50000 + i}    192.0.2.80:443    CLOSE_WAIT    4242\n" for i in range(6)]
    table = "  Proto  Local Address          Foreign Address        State           PID\n" + "".join(lines)
    for name, text in (("plain.txt", table), ("dated.txt", "2026-03-02 08:00:00\n" + table)):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        f = _close_wait(path)
        assert "age_pattern" not in f["details"] and "created_span_s" not in f["details"]
        assert f["explanation"].endswith("never releases dead connections).")
        assert pd.isna(f["first_seen"]) == (name == "plain.txt")


@pytest.mark.parametrize(("fixture", "created"), [
    ("windows/powershell/format-list-crafted-from-docs.txt", True),
    ("windows/velociraptor/windows-network-netstatenriched-testdata.json", True),
    ("windows/volatility/windows-netstat-vol3-2.4.2-fcsc-writeup-excerpt.txt", True),
    ("windows/tcpvcon/tcpview-save-crafted-from-docs.txt", True),
    ("windows/tcpvcon/tcpvcon-a-c-n-v4-published-excerpt.csv", False),  # no times at all
    ("linux/snapshots-date-loop-C.txt", False),  # snapshot times
])
def test_the_inputs_whose_times_are_creation_times(fixture: str, created: bool) -> None:
    item = tcpforensics.ingest(str(FIXTURES / fixture))
    assert (item.meta.get("row_times") == "created") == created
