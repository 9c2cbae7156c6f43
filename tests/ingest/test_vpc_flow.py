"""AWS VPC flow logs as input (ingest/formats/vpc_flow.py): the default and custom formats of
the AWS documentation's examples (tests/fixtures/vpc/README.md), counted by hand."""

from __future__ import annotations

import pandas as pd

from tcpforensics import pipeline
from tcpforensics.ingest import flowlogs
from tcpforensics.reconstruct import flowlogs as rf
from tests.conftest import FIXTURES

VPC = FIXTURES / "vpc"


def read(name: str):
    ing = flowlogs.ingest(str(VPC / name))
    assert ing.format == "vpc_flow" and ing.accounting["unaccounted"] == 0
    return ing, rf.flows_of_records(ing.meta["flows"])


def test_default_format_accept_and_reject() -> None:
    ing, flows = read("default-accept-reject.log")
    assert ing.accounting["flows"] == 2 and ing.accounting["skipped"] == {"not TCP": 2}  # the two ICMP records
    assert flows["resp_port"].tolist() == [22, 3389]
    # ACCEPT without tcp-flags: nothing proven; REJECT: a refused attempt
    assert flows["history"].fillna("-").tolist() == ["-", "S"]
    assert flows["conn_state"].astype(str).tolist() == ["OTH", "S0"]
    assert flows["orig_pkts"].tolist() == [20, 20]


def test_tcp_flags_of_both_directions_joined() -> None:
    ing, flows = read("tcp-flag-sequence.log")
    # 3 records: 43416 -> 5001 SYN (2) alone; 43638 -> 5001 SYN+FIN (3) and its reply SYN-ACK+FIN (19)
    assert ing.accounting["flows"] == 3 and len(flows) == 2
    assert flows["orig_port"].tolist() == [43416, 43638]
    assert flows["history"].tolist() == ["S", "ShFf"]
    assert flows["conn_state"].astype(str).tolist() == ["S0", "SF"]
    assert flows["close"].astype(str).tolist() == ["no_answer", "graceful"]
    assert flows["orig_pkts"].tolist() == [8, 17] and flows["resp_pkts"].tolist() == [0, 14]
    assert flows["start"].iloc[0] == pd.Timestamp("2019-08-26 19:47:55")
    # the OR-ed flags prove neither the order of the FINs nor the final ACK
    assert flows["orig_final"].astype(str).tolist() == ["SYN_SENT", "UNKNOWN"]


def test_gzip_log_reads_as_the_plain_one() -> None:
    _, plain = read("tcp-flag-sequence.log")
    _, gz = read("vpcflow.2019-08-27.log.gz")
    assert gz.drop(columns=["input", "uid"]).equals(plain.drop(columns=["input", "uid"]))  # (uids hash the input name)


def test_nodata_skipdata_and_headerless_default_format() -> None:
    ing, flows = read("headerless-v2.log")
    assert ing.accounting["structural"] == {"no data": 1}
    assert ing.accounting["skipped"] == {"SKIPDATA: records lost": 1}
    assert flows["orig_addr"].astype(str).tolist() == ["2001:db8:1234:a100:8d6e:3477:df66:f105"]


def test_custom_format_without_protocol_is_not_taken_as_tcp() -> None:
    ing, flows = read("custom-nat-gateway.log")
    assert ing.accounting["skipped"] == {"protocol unknown": 2} and flows.empty


def test_a_rejected_sweep_is_a_port_scan(tmp_path) -> None:
    """A default-format log: one source rejected on 40 ports of one host in a minute."""
    head = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
    rows = "".join(f"2 123456789010 eni-1 198.51.100.7 10.0.0.5 40000 {port} 6 1 44 1700000000 1700000060 REJECT OK\n"
                   for port in range(1, 41))
    log = tmp_path / "vpc.log"
    log.write_text(head + rows)
    report = pipeline.analyze([str(log)])
    scans = report.findings[report.findings["category"] == "port_scan"]
    assert scans["subject"].tolist() == ["198.51.100.7"] and int(scans["count"].iloc[0]) == 40
    assert "from a flow log" in scans["details"].iloc[0]["log_limits"]


def test_unsolicited_syn_acks_are_backscatter(tmp_path) -> None:
    """One source's SYN-ACKs (tcp-flags 18) to 59 hosts, no SYN from them in the log: the
    answers of a spoofed flood reaching bystanders."""
    head = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags\n"
    rows = "".join(f"2 1 eni-1 203.0.113.9 10.0.0.{h} 80 {40000 + h} 6 1 40 1700000000 1700000060 ACCEPT OK 18\n"
                   for h in range(1, 60))
    log = tmp_path / "vpc.log"
    log.write_text(head + rows)
    report = pipeline.analyze([str(log)])
    assert report.findings[["category", "subject"]].values.tolist() == [["backscatter", "203.0.113.9"]]
    assert int(report.findings["count"].iloc[0]) == 59
