"""The capture detectors on flow logs (reconstruct/flowlogs.py): a conn.log gives the findings
its capture gives, where the log carries the evidence.

Two comparisons over the corpus:

1. Zeek's own conn.logs of ``pcap/zeek`` (written by Zeek, ``ts`` masked) against the
   captures they came from, read with the checksum mode of each Zeek run and, for the runs in
   bare mode (``zeek -b``) that load the conn scripts alone, without likely server ports, as
   Zeek oriented them (manifest): with them, chksum-localhost-bad's server-first connection is
   flipped, an SHR where Zeek logs SH, the same host but the mirrored close kind. All 26
   pairs give the same findings (category, close kind, count). One difference in subjects:
   ssh-half-duplex-client rolls its smallest half_closed_orig hosts into "1 other hosts", and
   with the log's masked times, hosts of equal count tie in another order (128.2.13.133 from
   the capture, 131.159.21.1 from the log).
2. Every capture of ``pcap/labeled`` (nmap scans, floods, reflection, backscatter, closes) as
   the conn.log ``tcpforensics flows --format zeek`` writes, read back: the same findings
   (category, subject, count) for all 43. What the details cannot keep, the log lacking the
   packets: probe types from the wire shape (``syn_half_open``/``stateless_syn`` become ``syn``
   without window and options; ``xmas`` becomes ``fin``, as Zeek writes F for both),
   ``distinct_ttls`` (0: no TTL), times at microseconds, and the open ports of rs_nmap_sV and
   rs_nmap_sC, whose SYN-ACKs carry bad checksums: the flows drop them (history ``ScR``), so
   the log shows no answer where the packets do.
"""

from __future__ import annotations

import csv

import pytest

from tcpforensics import pipeline
from tcpforensics.report.zeek import to_conn_log
from tests.conftest import CORPUS, corpus_files, corpus_path

pytestmark = pytest.mark.corpus


def zeek_pairs() -> list[tuple[str, str, str]]:
    path = CORPUS / "pcap" / "zeek" / "manifest.tsv"
    if not path.is_file():
        return []
    out = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            logs = sorted((CORPUS / "pcap" / "zeek").glob(f"{row['name']}.conn.*"))
            if logs:
                mode = "ignore" if ("-C" in row["checksum_mode"] or "nets" in row["checksum_mode"]) else "verify"
                # zeek -b loading the conn scripts alone: no analyzer registers likely server ports
                bare = row["bare_mode"].startswith("yes") and "@load base/protocols/conn]" in row["zeek_cmd"]
                out.append((row["pcap_file"], logs[0].name, mode, bare))
    return out


def kinds(report) -> list[tuple]:
    f = report.findings
    return sorted(zip(f["category"], [d.get("target") for d in f["details"]], f["count"].astype(int), strict=True))


@pytest.mark.parametrize(("capture", "log", "mode", "bare"), zeek_pairs(), ids=lambda x: str(x))
def test_zeek_conn_logs_give_the_findings_of_their_captures(capture: str, log: str, mode: str, bare: bool) -> None:
    corpus_path("pcap", "zeek")
    zeek = CORPUS / "pcap" / "zeek"
    options = pipeline.options_of(checksums=mode, likely_server_ports="" if bare else None)
    packets = pipeline.analyze([str(zeek / capture)], options=options)
    logged = pipeline.analyze([str(zeek / log)])
    assert kinds(logged) == kinds(packets)
    if capture != "ssh-half-duplex-client.pcap":  # (the roll-up tie, above)
        assert sorted(logged.findings["subject"]) == sorted(packets.findings["subject"])
    assert all("from a flow log" in d["log_limits"] for d in logged.findings["details"])


@pytest.mark.slow
@pytest.mark.parametrize("capture", corpus_files("*.pcap*", "pcap", "labeled"), ids=lambda p: p.name)
def test_labeled_captures_as_conn_logs_give_the_same_findings(capture, tmp_path) -> None:
    corpus_path("pcap", "labeled")
    log = tmp_path / f"{capture.name}.conn.log"
    log.write_text(to_conn_log(pipeline.flows(str(capture))))
    a, b = pipeline.analyze([str(capture)]).findings, pipeline.analyze([str(log)]).findings
    assert sorted(zip(b["category"], b["subject"], b["count"].astype(int), strict=True)) == \
        sorted(zip(a["category"], a["subject"], a["count"].astype(int), strict=True))
