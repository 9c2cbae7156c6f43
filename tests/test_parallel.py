"""Many inputs on many processes: the same report whatever runs it; dead workers never drop an input."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tcpforensics import pipeline
from tcpforensics.errors import InputError
from tcpforensics.ingest.inputs import expand
from tcpforensics.parallel import map_inputs, map_ordered
from tcpforensics.pipeline import analyze
from tests.conftest import corpus_path

pytestmark = pytest.mark.slow


def _case_folder(root: Path) -> Path:
    """Every file of pcap/labeled and text/wild in one folder tree (links, not copies)."""
    case = root / "case"
    for part in (("pcap", "labeled"), ("text", "wild")):
        src = corpus_path(*part)
        shutil.copytree(src, case / part[-1], copy_function=os.symlink)
    return case


def _findings(report) -> list[tuple]:
    f = report.findings
    return list(zip(f["severity"].astype(str), f["category"], f["subject"], f["count"], f["evidence"].map(tuple),
                    strict=True))


def test_jobs_and_a_scheduler_give_the_serial_report(tmp_path: Path) -> None:
    from distributed import LocalCluster

    case = _case_folder(tmp_path)
    serial = analyze([str(case)], keep_evidence=False, progress=False)
    assert len(serial.inputs) > 70 and len(serial.findings) > 30
    two = analyze([str(case)], jobs=2, keep_evidence=False, progress=False)
    assert _findings(two) == _findings(serial)
    assert two.accounting == serial.accounting and two.summary == serial.summary
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        remote = analyze([str(case)], scheduler=cluster.scheduler_address, keep_evidence=False, progress=False)
    assert _findings(remote) == _findings(serial)


def test_one_large_capture_is_spread_by_partitions(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run of one capture reads it here and rebuilds its partitions on the workers: the
    same flows, findings and accounting as the serial run."""
    capture = str(corpus_path("pcap", "labeled", "em_syn_flood.pcap"))
    monkeypatch.setattr(pipeline, "PARTITION_BYTES", 64 * 1024)  # (about 14 partitions)
    serial = analyze([capture], progress=False)
    seen: list[int] = []
    spread = pipeline._streamed_capture

    def noted(pieces, work, fh=None):
        seen.append(work.jobs)
        return spread(pieces, work, fh)

    monkeypatch.setattr(pipeline, "_streamed_capture", noted)
    two = analyze([capture], jobs=2, progress=False)
    assert seen == [2]  # (read here, partitions to the two workers)
    assert len(serial.evidence.flows()) > 5000
    pd.testing.assert_frame_equal(two.evidence.flows(), serial.evidence.flows())
    assert _findings(two) == _findings(serial) and len(_findings(serial)) >= 1
    assert two.accounting == serial.accounting and two.summary == serial.summary


def _square(x: int) -> int:
    return x * x


def test_map_ordered_keeps_order_and_takes_items_only_when_there_is_room() -> None:
    taken: list[int] = []

    def items():
        for i in range(12):
            taken.append(i)
            yield i

    out = map_ordered(_square, items(), "numbers", jobs=2, window=3)
    assert next(out) == 0 and len(taken) == 3  # (three out, the first one back)
    assert list(out) == [i * i for i in range(1, 12)]
    assert list(map_ordered(_square, iter(range(4)), "numbers")) == [0, 1, 4, 9]  # (jobs 1: here)


def _die_once(marker: str) -> str:
    """Kill this worker process the first time (the marker file says it happened), then work."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return marker


def _die_on_seven(item: str) -> str:
    if "7" in item:
        os._exit(1)
    return item


def test_a_worker_killed_mid_run_is_replaced_and_its_input_retried(tmp_path: Path) -> None:
    items = [str(tmp_path / f"m{i}") for i in range(4)]
    assert map_inputs(_die_once, items, items, jobs=2) == items


def test_an_input_that_keeps_killing_workers_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="capture-7.pcap: the worker process analysing it died"):
        map_inputs(_die_on_seven, ["a", "b7"], ["capture-1.pcap", "capture-7.pcap"], jobs=2, allowed_failures=1)


def test_an_input_error_in_a_worker_reaches_the_caller(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("this is not a socket table\n")
    good = corpus_path("pcap", "labeled", "ncsa_port_scan.pcap")
    with pytest.raises(InputError, match="bad.txt"):
        analyze([str(good), str(bad)], jobs=2, progress=False)


def test_notebook_frames_of_many_files_hold_every_input(tmp_path: Path) -> None:
    """Events and flows of a folder as Dask DataFrames: one partition per input (its captures
    and the Zeek conn.logs beside them), the rows of each."""
    import tcpforensics

    folder = corpus_path("pcap", "labeled")
    captures = sorted(str(p) for p in folder.glob("*.pcap*"))
    inputs = expand([str(folder)]).paths()
    assert set(captures) < set(inputs)
    flows = tcpforensics.flows_frame(str(folder))
    assert flows.npartitions == len(inputs)
    got = flows.compute()
    want = pd.concat([tcpforensics.flows(p).astype({"input": object, "orig_addr": object, "resp_addr": object})
                      for p in inputs], ignore_index=True)
    assert len(got) == len(want)
    assert sorted(got["uid"]) == sorted(want["uid"])
    events = tcpforensics.events_frame([str(folder)])
    assert len(events.compute()) == sum(len(tcpforensics.read(p)) for p in captures)
