"""Inputs the fuzzer found for the flow-log formats (fuzz/FINDINGS.md): each gave a traceback
before the fix; now flows or one InputError."""

from __future__ import annotations

from tcpforensics.ingest import flowlogs
from tcpforensics.reconstruct import flowlogs as rf

#: A netflow record cut by mutation: no dest_port, so the 4-tuple key of the joined directions
#: had a missing port (joining the directions compared a string with NaN).
NETFLOW_WITHOUT_PORT = (
    b'{"timestamp":"2014-02-07T16:15:28.474011+0000","flow_id":2,"event_type":"netflow",'
    b'"src_ip":"fe80:0000:0000:0000:020c:29ff:fef3:cf38","src_port":58307,'
    b'"dest_ip":"fe80:0000:0000:0000:020c:2980,"proto":"TCP","netflow":{"pkts":4,"bytes":461},'
    b'"tcp":{"tcp_flags":"12","syn":true,"ack":true}}\n'
)


def test_a_one_way_record_without_a_port_is_a_flow() -> None:
    ing = flowlogs.ingest_bytes(NETFLOW_WITHOUT_PORT, "eve.json", "suricata_eve")
    flows = rf.evidence("eve.json", [ing.meta["flows"]]).flows
    assert len(flows) == 1 and flows["resp_port"].isna().all()


#: A VPC record whose ``end`` (971187477913820 s) lies beyond datetime64[ns] (year 2262).
VPC_END_BEYOND_2262 = (b"2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 "
                       b"2001:db8:1234:a102::1 34892 22 6 54 8855 1477913708 971187477913820 ACCEPT OK\n")


def test_a_vpc_time_beyond_datetime64_is_nat() -> None:
    ing = flowlogs.ingest_bytes(VPC_END_BEYOND_2262, "vpc.log", "vpc_flow")
    flows = rf.evidence("vpc.log", [ing.meta["flows"]]).flows
    assert len(flows) == 1 and flows["end"].isna().all() and flows["start"].notna().all()
