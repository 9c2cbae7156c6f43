"""The sampler on a /proc root of files (``--proc``): socket tables through the line cache,
counters, conntrack; and the tracker's start/end on counter increases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tcpforensics.config import Config
from tcpforensics.ingest import ingest_text
from tcpforensics.live import Options, watch
from tcpforensics.live.procfs import ProcRoot
from tcpforensics.live.sample import Sampler
from tcpforensics.live.table import LineCache
from tcpforensics.live.window import Window
from tests.live.conftest import FIXTURES, Scenario

COLUMNS = ["proto", "family", "src_addr", "src_port", "dst_addr", "dst_port", "state", "raw_state",
           "send_q", "recv_q", "user", "inode"]


def netstat(overflows: int) -> str:
    return f"TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 {overflows} {overflows}\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    lines = (FIXTURES / "proc-real-tcp-tcp6.txt").read_text().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if i and "local_address" in line)
    (tmp_path / "net").mkdir()
    (tmp_path / "net/tcp").write_text("".join(lines[:cut]))
    (tmp_path / "net/tcp6").write_text("".join(lines[cut:]))
    (tmp_path / "net/netstat").write_text(netstat(0))
    (tmp_path / "net/nf_conntrack").write_bytes((FIXTURES / "conntrack/proc-net-nf_conntrack.txt").read_bytes())
    return tmp_path


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[COLUMNS].astype(object).where(frame[COLUMNS].notna(), None).reset_index(drop=True)


def test_sample_reads_the_tables_as_the_parser_does(root: Path) -> None:
    sample = Sampler(ProcRoot(root), processes=False).sample()
    whole = pd.concat([ingest_text((root / n).read_bytes(), n, "proc_net_tcp").events for n in ("net/tcp", "net/tcp6")])
    pd.testing.assert_frame_equal(_plain(sample.sockets), _plain(whole))
    assert sample.counters is not None and set(sample.counters["counter"].astype(str)) >= {"ListenOverflows"}
    assert sample.conntrack is not None and len(sample.conntrack) > 0


def test_line_cache_reuses_rows_and_parses_changed_lines(root: Path) -> None:
    data = (root / "net/tcp").read_bytes()
    cache = LineCache()
    cache.update(data)
    lines = data.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if b" 08 " in line)
    changed = lines[:1] + lines[2:at] + [lines[at].replace(b" 08 ", b" 01 ")] + lines[at + 1:]  # one dropped, one changed
    rows = cache.update(b"".join(changed))
    assert cache.parsed == {"parsed": len(lines) - 1 + 1, "reused": len(lines) - 3} and cache.changed
    pd.testing.assert_frame_equal(_plain(rows), _plain(ingest_text(b"".join(changed), "t", "proc_net_tcp").events))
    cache.update(b"".join(changed))
    assert not cache.changed


def test_counter_increase_starts_and_ends_a_finding(root: Path) -> None:
    """ListenOverflows rising between two samples: listen_overflow starts, and ends once the
    increase has left the window."""
    scenario = Scenario({1: lambda: (root / "net/netstat").write_text(netstat(5))})
    options = Options(interval=0.01, count=5, window=2, root=root, processes=False, config=Config())
    assert watch(options, scenario) == 0
    assert scenario.seqs("start", "listen_overflow") == [2]
    assert scenario.seqs("end", "listen_overflow") == [3]
    start = next(e for e in scenario.events if e["event"] == "start" and e["category"] == "listen_overflow")
    assert start["count"] == 5 and start["subject"] == f"local host ({root / 'net/netstat'})"


def test_fail_on_stops_at_the_first_finding_that_reaches_it(root: Path) -> None:
    scenario = Scenario({1: lambda: (root / "net/netstat").write_text(netstat(5))})
    options = Options(interval=0.01, count=9, window=2, root=root, processes=False, fail_on="medium")
    assert watch(options, scenario) == 1
    assert scenario.intervals()[-1]["seq"] == 2


def test_max_cpu_rests_the_detectors(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a tiny CPU share the detectors run once, then rest (the samples keep coming)."""
    runs: list[int] = []
    real = Window.findings
    monkeypatch.setattr(Window, "findings", lambda self, config, cut=True: runs.append(1) or real(self, config, cut))
    bump = {i: (lambda i=i: (root / "net/netstat").write_text(netstat(i))) for i in range(6)}
    scenario = Scenario(bump)
    options = Options(interval=0.01, count=6, window=2, root=root, processes=False, max_cpu=0.001)
    assert watch(options, scenario) == 0
    assert len(scenario.intervals()) == 6 and len(runs) == 1


def test_line_cache_on_a_file_of_both_tables() -> None:
    """tcp and tcp6 rows in one file (a concatenated dump): every row found again."""
    data = (FIXTURES / "proc-real-tcp-tcp6.txt").read_bytes()
    cache = LineCache()
    cache.update(data)
    rows = cache.update(data)
    assert cache.parsed["reused"] == cache.parsed["parsed"] == len(rows) and not cache.changed
    pd.testing.assert_frame_equal(_plain(rows), _plain(ingest_text(data, "t", "proc_net_tcp").events))
