"""``watch --record DIR`` read back by ``analyze DIR`` gives the findings the live detectors
gave on the same samples (a session no longer than its window, so both saw every sample)."""

from __future__ import annotations

import socket
from pathlib import Path

import pandas as pd

from tcpforensics.config import Config
from tcpforensics.live import Options, watch
from tcpforensics.live.record import Recorder
from tcpforensics.live.sample import Sampler
from tcpforensics.live.watch import names_of
from tcpforensics.live.window import Window
from tcpforensics.pipeline import analyze
from tests.live.conftest import Scenario, linux_only, listener

pytestmark = linux_only

KEY = ["category", "subject", "severity", "count"]


def _key(findings: pd.DataFrame, names: dict[str, str]) -> list[tuple]:
    f = findings[KEY].astype(object).copy()
    for mine, theirs in names.items():
        f["subject"] = f["subject"].str.replace(mine, theirs, regex=False)
    return sorted(map(tuple, f.to_numpy().tolist()))


def test_record_read_back_gives_the_same_findings(tmp_path: Path) -> None:
    """The findings active at the end of ``watch --record`` are those ``analyze`` finds."""
    srv = listener()
    clients = [socket.create_connection(srv.getsockname()) for _ in range(8)]
    held = [srv.accept()[0] for _ in clients]
    for c in clients[:6]:
        c.close()  # six CLOSE_WAIT on the server side, two ESTABLISHED pairs
    conf = Config(thresholds={"close_wait_low": 3, "fin_wait_2_low": 3}).validate()
    record = tmp_path / "rec"
    scenario = Scenario()
    try:
        assert watch(Options(interval=0.1, count=4, window=4, record=record, config=conf), scenario) == 0
    finally:
        for s in held + clients:
            s.close()
        srv.close()
    assert {"counters.txt", "sockets.txt"} <= {p.name for p in record.iterdir()}
    changes = [e for e in scenario.events if e["event"] != "interval"]
    active = {(e["category"], e["subject"]) for e in changes if e["event"] == "start"}
    active -= {(e["category"], e["subject"]) for e in changes if e["event"] == "end"}
    assert ("close_wait_leak", next(s for c, s in active if c == "close_wait_leak")) in active
    report = analyze([str(record)], conf)
    names = {str(record / "counters.txt"): "/proc/net/netstat"}
    assert {(c, s) for c, s, *_ in _key(report.findings, names)} == active


def test_window_findings_equal_analyze_of_its_record(tmp_path: Path) -> None:
    """Sample by sample: the ring's findings (every column that matters) equal those of
    ``analyze`` on the record of the same samples."""
    srv = listener()
    clients = [socket.create_connection(srv.getsockname()) for _ in range(6)]
    held = [srv.accept()[0] for _ in clients]
    for c in clients:
        c.close()
    conf = Config(thresholds={"close_wait_low": 3, "fin_wait_2_low": 3}).validate()
    window = Window(3, names_of(Path("/proc")))
    recorder = Recorder(tmp_path / "rec")
    sampler = Sampler()
    try:
        for _ in range(3):
            sample = sampler.sample()
            window.add(sample)
            recorder.write(sample)
    finally:
        recorder.close()
        for s in held + clients:
            s.close()
        srv.close()
    live = window.findings(conf)
    report = analyze([str(tmp_path / "rec")], conf)
    names = {str(tmp_path / "rec" / "counters.txt"): "/proc/net/netstat"}
    assert len(live) and _key(live, {}) == _key(report.findings, names)
    assert list(live["first_seen"]) == list(report.findings.set_index(["category", "subject"]).reindex(
        pd.MultiIndex.from_frame(live[["category", "subject"]].astype(object)))["first_seen"])
