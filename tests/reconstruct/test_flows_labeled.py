"""Flows of ../shared/corpus/pcap/labeled against the Suricata and Zeek expectations shipped there."""

from __future__ import annotations

import re

import pytest

import tcpforensics
from tcpforensics.reconstruct.endpoint_states import suricata_state
from tcpforensics.reconstruct.flows import flows
from tests.conftest import corpus_path

#: Suricata-verify expectations (labels/*.test.yaml): the flow event's 5-tuple and tcp.state
SURICATA = ["sv_single_syn", "sv_http_onesided_nosyn", "sv_ipv6_vlan_http_close_wait"]


def _expected_tcp_state(name: str) -> str:
    text = corpus_path("pcap", "labeled", "labels", f"{name}.test.yaml").read_text()
    # the check whose match has event_type flow (the last tcp.state in these files)
    return re.findall(r"tcp\.state:\s*(\w+)", text)[-1]


@pytest.mark.corpus
@pytest.mark.parametrize("name", SURICATA)
def test_suricata_session_state(name: str) -> None:
    got = flows(tcpforensics.read(str(corpus_path("pcap", "labeled", f"{name}.pcap"))))
    assert len(got) == 1
    assert suricata_state(got["orig_final"], got["resp_final"])[0] == _expected_tcp_state(name)


# Zeek baselines shipped with the labeled captures (all run with -C -b; bare mode loads no
# protocol script with ports in conn-size-flip / conn_state-RST-behavior, http in missing-syn).
ZEEK = {
    # labels/zeek_missing-syn.conn.log
    "zeek_tcp_missing_syn": ({"ignore_checksums": True, "likely_server_ports": [80]}, [("SF", "^hADdFaf", 11, 10)]),
    # labels/zeek_one-sided.conn.log: orig_pkts 0, resp_pkts 3 after the flip
    "zeek_tcp_one_sided": ({"ignore_checksums": True, "likely_server_ports": []}, [(None, "^haf", 0, 3)] * 2),
    # labels/zeek_conn_state-RST-behavior.out lines 1, 2, 4
    "zeek_tcp_single_rst": ({"ignore_checksums": True, "likely_server_ports": []}, [("OTH", "R", None, None)]),
    "zeek_tcp_syn_then_rst": ({"ignore_checksums": True, "likely_server_ports": []}, [("RSTOS0", "SR", None, None)]),
    "zeek_tcp_syn_stuff_rst": ({"ignore_checksums": True, "likely_server_ports": []}, [("OTH", "SaFR", None, None)]),
}


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(ZEEK))
def test_zeek_baselines(name: str) -> None:
    cfg, rows = ZEEK[name]
    got = flows(tcpforensics.read(str(corpus_path("pcap", "labeled", f"{name}.pcap"))), cfg)
    assert len(got) == len(rows)
    for (_, g), (cs, hist, op, rp) in zip(got.iterrows(), rows, strict=True):
        assert g.history == hist
        if cs is not None:
            assert g.conn_state == cs
        if op is not None:
            assert (g.orig_pkts, g.resp_pkts) == (op, rp)


@pytest.mark.corpus
def test_zeek_endpoint_state_baselines() -> None:
    # labels/zeek_fin-retransmit.out: orig state=5 (CLOSED) 3 pkts, resp state=6 (RESET) 2 pkts
    got = flows(tcpforensics.read(str(corpus_path("pcap", "labeled", "zeek_tcp_fin_retransmission.pcap"))), {"ignore_checksums": True}).iloc[0]
    assert (got.zeek_orig_state, got.orig_pkts, got.zeek_resp_state, got.resp_pkts) == ("CLOSED", 3, "RESET", 2)
    # labels/zeek_rst-after-syn.stdout: orig size=175 state=1 (SYN_SENT) 4 pkts; resp size=0 state=6 5 pkts
    got = flows(tcpforensics.read(str(corpus_path("pcap", "labeled", "zeek_tcp_rst_inject.pcap"))), {"ignore_checksums": True}).iloc[0]
    assert (got.orig_bytes, got.zeek_orig_state, got.orig_pkts) == (175, "SYN_SENT", 4)
    assert (got.resp_bytes, got.zeek_resp_state, got.resp_pkts) == (0, "RESET", 5)
