"""The package's public names: parse text or bytes like jc.parse, the settings types, a Report
whose flows, findings and tables are DataFrames; names load on first use."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import tcpforensics
from tcpforensics.errors import InputError
from tests.conftest import ROOT, SAMPLES

SS = SAMPLES / "close_wait" / "ss-tanp.txt"
CAPTURE = SAMPLES / "close_wait" / "capture.pcap"


def test_parse_text_bytes_and_named_format() -> None:
    text = SS.read_text(encoding="utf-8")
    whole = tcpforensics.read(str(SS))
    for got in (tcpforensics.parse(text), tcpforensics.parse(text.encode()), tcpforensics.parse(text, format="ss"),
                tcpforensics.parse("ss", text)):
        assert isinstance(got, pd.DataFrame)
        assert got.drop(columns="input").equals(whole.drop(columns="input"))
    assert set(tcpforensics.parse(text, name="host1")["input"]) == {"host1"}


def test_parse_capture_bytes() -> None:
    got = tcpforensics.parse(CAPTURE.read_bytes())
    assert len(got) == len(tcpforensics.read(str(CAPTURE))) and (got["kind"] == "packet").all()


@pytest.mark.parametrize("data, fmt, message", [
    ("x", "nope", "unknown input format 'nope'"),
    ("tcp ESTAB 0 0 1.2.3.4:5 6.7.8.9:10", "pcap", "is not a pcap capture"),
    ("", None, "is empty"),
])
def test_parse_refuses_unusable_input(data: str, fmt: str | None, message: str) -> None:
    with pytest.raises(InputError, match=message):
        tcpforensics.parse(data, format=fmt)


def test_report_exposes_dataframes() -> None:
    report = tcpforensics.analyze([str(SS), str(CAPTURE)])
    assert report.verdict == report.summary["verdict"]
    assert isinstance(report.findings, pd.DataFrame) and len(report.findings)
    assert report.flows.equals(report.evidence.flows()) and len(report.flows)
    assert len(report.conversations) and set(report.conversations["input"]) == {str(CAPTURE)}
    assert report.tables.listeners is report.tables["listeners"]
    with pytest.raises(AttributeError, match="no table 'nope'"):
        _ = report.tables.nope


def test_settings_types_are_exported() -> None:
    from tcpforensics.config import Config
    from tcpforensics.reconstruct.evidence import Options
    from tcpforensics.reconstruct.flows import FlowConfig

    assert (tcpforensics.Config, tcpforensics.Options, tcpforensics.FlowConfig) == (Config, Options, FlowConfig)
    assert tcpforensics.Config(thresholds={"close_wait_low": 2}).validate().get("close_wait_low") == 2
    assert set(tcpforensics.__all__) <= set(dir(tcpforensics))


def test_import_loads_no_stage_beyond_ingest() -> None:
    code = ("import sys, tcpforensics; "
            "print(sorted(m for m in sys.modules if m.split('.')[:2][-1] in "
            "('pipeline', 'detect', 'report', 'reconstruct') or m.startswith('dask')))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
    assert callable(tcpforensics.ingest) and callable(tcpforensics.analyze)
