"""The loopback recordings of samples/scans through the CLI: each gives the verdict its README
row describes (scanner, probe type, port states; flood victim and sources; quiet control)."""

from __future__ import annotations

import json
import re
from functools import cache

import pytest
from typer.testing import CliRunner

from tcpforensics.cli import app
from tests.conftest import SAMPLES

NMAP_PROBE = {"sS": "syn_half_open", "sT": "connect", "sF": "fin", "sN": "null", "sX": "xmas", "sA": "ack"}
#: Where the listeners' ports show up in each probe type's port states (nmap's vocabulary).
OPEN_STATE = {"sS": "open", "sT": "open", "sF": "open|filtered", "sN": "open|filtered", "sX": "open|filtered"}
QUIET = {"port_scan", "address_scan", "block_scan", "distributed_scan", "syn_flood", "connection_flood",
         "rst_storm", "fin_storm", "backscatter", "synack_reflection"}


def rows() -> list[tuple[str, str]]:
    """(sample, what was recorded) of every scans/ row of samples/README.md; "the same with"
    rows inherit the port list of the row above."""
    out, last = [], ""
    for line in (SAMPLES / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`scans/"):
            what = cells[1]
            if what.startswith("the same with") and last:
                what = f"{what} {last}"
            last = what
            out.append((cells[0].strip("`"), what))
    return out


ROWS = rows()


@cache
def report(sample: str) -> dict:
    r = CliRunner().invoke(app, ["analyze", str(SAMPLES / sample), "--format", "json"])
    assert r.exit_code == 0, r.output[-2000:]
    return json.loads(r.output)


def test_every_capture_has_a_row() -> None:
    assert {s for s, _ in ROWS} == {f"scans/{p.name}" for p in (SAMPLES / "scans").glob("*.pcap")}
    assert len(ROWS) == 9


@pytest.mark.parametrize("sample, what", ROWS, ids=[s for s, _ in ROWS])
def test_sample_verdict(sample: str, what: str) -> None:
    doc = report(sample)
    findings = doc["findings"]
    cats = {f["category"] for f in findings}
    nmap = re.search(r"nmap -(s[STFNXA])", what)
    if nmap:
        flag = nmap.group(1)
        (scan,) = [f for f in findings if f["category"] == "port_scan"]
        d = scan["details"]
        assert (scan["subject"], d["target"], d["probe_type"]) == ("127.0.0.1", "127.0.0.1", NMAP_PROBE[flag])
        ports = re.search(r"ports ([\d, -]+) of 127\.0\.0\.1", what).group(1)
        listeners = [int(p) for p in ports.replace(" ", "").split(",") if "-" not in p]
        assert d["ports_probed"] == 1024 + len(listeners)
        if flag == "sA":  # every port answers RST: unfiltered, which says nothing about open
            assert d["port_state_counts"] == {"unfiltered": d["ports_probed"]}
        else:
            assert d["port_states"][OPEN_STATE[flag]] == listeners
        assert not cats & (QUIET - {"port_scan"})
    elif "hping3" in what or "forged sources" in what:
        (flood,) = [f for f in findings if f["category"] == "syn_flood"]
        port = re.search(r"(?:-p |:)(\d+)", what).group(1)
        assert flood["subject"] == f"127.0.0.1:{port}"
        forged = re.search(r"(\d+) forged sources", what)
        sources = flood["details"]["distinct_sources"]
        assert sources == (int(forged.group(1)) if forged else 1)
        assert flood["details"]["syn_synack_ack"].endswith(":0")  # no handshake ever completed
        assert not cats & (QUIET - {"syn_flood"})
    else:
        assert "Normal control" in what
        assert not cats & QUIET
        assert doc["summary"]["max_severity"] in (None, "info", "low")
