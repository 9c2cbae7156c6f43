"""Suricata eve.json flow and netflow records as input (ingest/formats/suricata_eve.py). The
fixture's flow records are Suricata's expected output for three suricata-verify tests
(tests/fixtures/suricata/README.md); their captures are in the corpus, so the flows from the
records are checked against the flows of the packets."""

from __future__ import annotations

import pandas as pd
import pytest

from tcpforensics import pipeline
from tcpforensics.ingest import flowlogs
from tcpforensics.reconstruct import flowlogs as rf
from tests.conftest import CORPUS, FIXTURES, corpus_path

EVE = FIXTURES / "suricata"


def read(name: str):
    ing = flowlogs.ingest(str(EVE / name))
    assert ing.format == "suricata_eve" and ing.accounting["unaccounted"] == 0
    return ing, rf.flows_of_records(ing.meta["flows"])


def test_flow_records_counted_by_hand() -> None:
    ing, flows = read("eve-verify.json")
    # 6 lines: 3 TCP flow records, 1 UDP flow record, 1 alert, 1 stats
    assert ing.accounting["flows"] == 3
    assert ing.accounting["skipped"] == {"not TCP": 1}
    assert ing.accounting["structural"] == {"event alert": 1, "event stats": 1}
    assert flows["orig_addr"].astype(str).tolist() == ["192.168.3.131", "fe80::20c:29ff:fef3:cf38", "147.183.77.73"]
    assert flows["orig_pkts"].tolist() == [11, 4, 1] and flows["resp_pkts"].tolist() == [0, 3, 0]
    assert flows["uid"].tolist() == ["1001", "1002", "1003"]


def test_flags_become_history_conn_state_and_close() -> None:
    _, flows = read("eve-verify.json")
    # ts 0x19 FIN|PSH|ACK, tc 0x00 / ts 0x1b FIN|SYN|PSH|ACK, tc 0x12 SYN|ACK / ts 0x02 SYN
    assert flows["history"].tolist() == ["ADF", "ShAaDF", "S"]
    assert flows["conn_state"].astype(str).tolist() == ["SH", "S2", "S0"]
    assert flows["close"].astype(str).tolist() == ["half_closed_orig", "half_closed_orig", "no_answer"]
    # tcp.state close_wait names the responder's state; syn_sent leaves the derived one
    assert flows["resp_final"].astype(str).tolist() == ["CLOSE_WAIT", "CLOSE_WAIT", "UNKNOWN"]
    assert flows["orig_final"].astype(str).tolist() == ["UNKNOWN", "UNKNOWN", "SYN_SENT"]


def test_netflow_records_of_both_directions_are_one_flow() -> None:
    ing, flows = read("eve-netflow.json")
    assert ing.accounting["flows"] == 2 and len(flows) == 1
    row = flows.iloc[0]
    assert (row["orig_port"], row["resp_port"], row["orig_pkts"], row["resp_pkts"]) == (58307, 80, 4, 3)
    assert row["history"] == "ShAaDF" and row["conn_state"] == "S2"


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["sv_http_onesided_nosyn", "sv_ipv6_vlan_http_close_wait", "sv_single_syn"])
def test_records_agree_with_the_packets_they_describe(name: str) -> None:
    """conn_state, close and the responder's final state from the eve record equal the flow
    rebuilt from the capture Suricata read."""
    corpus_path("pcap", "labeled")
    packets = pipeline.flows(str(CORPUS / "pcap" / "labeled" / f"{name}.pcap")).iloc[0]
    _, flows = read("eve-verify.json")
    mine = flows[flows["orig_port"] == packets["orig_port"]].iloc[0]
    for col in ("orig_addr", "resp_port", "orig_pkts", "resp_pkts", "conn_state", "close", "resp_final"):
        assert str(mine[col]) == str(packets[col]), col
    assert abs(mine["start"] - packets["start"]) < pd.Timedelta(microseconds=1)


def test_lines_that_are_not_json_are_skipped() -> None:
    data = (EVE / "eve-verify.json").read_bytes() + b"not json\n{\"event_type\":\"flow\",\"proto\":\"TCP\"}\n"
    ing = flowlogs.ingest_bytes(data, "eve.json")
    assert ing.accounting["skipped"] == {"not TCP": 1, "unparseable JSON line": 1, "no endpoint addresses": 1}
    assert ing.accounting["unaccounted"] == 0


def test_syn_probes_answered_by_resets_are_a_port_scan(tmp_path) -> None:
    """40 flow records of one source: a SYN each (ts 02), answered by RST-ACK (tc 14)."""
    rows = "".join(
        '{"timestamp":"2024-01-14T17:40:52.000000+0000","event_type":"flow","src_ip":"198.51.100.7",'
        f'"src_port":40000,"dest_ip":"10.0.0.5","dest_port":{port},"proto":"TCP",'
        '"flow":{"pkts_toserver":1,"pkts_toclient":1,"bytes_toserver":58,"bytes_toclient":54,'
        '"start":"2024-01-14T17:40:52.000000+0000","end":"2024-01-14T17:40:52.000100+0000","state":"closed",'
        '"reason":"timeout"},"tcp":{"tcp_flags":"16","tcp_flags_ts":"02","tcp_flags_tc":"14","state":"closed"}}\n'
        for port in range(1, 41))
    log = tmp_path / "eve.json"
    log.write_text(rows)
    report = pipeline.analyze([str(log)])
    scans = report.findings[report.findings["category"] == "port_scan"]
    assert scans["subject"].tolist() == ["198.51.100.7"] and int(scans["count"].iloc[0]) == 40
    assert scans["details"].iloc[0]["probe_type"] == "syn"
