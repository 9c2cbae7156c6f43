"""One pipeline: `tcpforensics flows`, `tcpforensics.flows()` and `analyze` give the same flows
for every corpus capture (the same checksum rule through every door)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import tcpforensics
from tcpforensics.cli import app
from tests.conftest import corpus_files, corpus_path

CAPTURES = corpus_files("*.pcap*", "pcap", "zeek") + corpus_files("*.pcap*", "pcap", "labeled")


def _cli_flows(path: Path, out: Path) -> pd.DataFrame:
    run = CliRunner().invoke(app, ["flows", str(path), "--format", "parquet", "-o", str(out)])
    assert run.exit_code == 0, run.output
    return pd.read_parquet(out)


@pytest.mark.corpus
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_every_door_gives_the_same_flows(path: Path, tmp_path: Path) -> None:
    corpus_path("pcap")
    by_path = tcpforensics.flows(str(path))
    by_events = tcpforensics.flows(tcpforensics.read(str(path)))
    by_analyze = tcpforensics.analyze(str(path)).evidence.flows()
    pd.testing.assert_frame_equal(by_events, by_path)
    pd.testing.assert_frame_equal(by_analyze, by_path)
    by_cli = _cli_flows(path, tmp_path / "flows.parquet")
    expected = by_path.astype({c: object for c in by_path.columns if isinstance(by_path[c].dtype, pd.CategoricalDtype)})
    got = by_cli.astype({c: object for c in by_cli.columns if isinstance(by_cli[c].dtype, pd.CategoricalDtype)})
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


@pytest.mark.corpus
def test_the_offload_rule_applies_through_every_door() -> None:
    """A loopback capture with offloaded sums: the CLI and API no longer drop its segments."""
    path = corpus_path("pcap", "zeek", "chksum-localhost-bad.pcap")
    auto = tcpforensics.flows(str(path))
    verify = tcpforensics.flows(str(path), checksums="verify")
    assert "c" in "".join(verify["history"]).lower()  # Zeek's default drops them (C/c letters)
    assert not auto["history"].str.contains("[Cc]").any()
