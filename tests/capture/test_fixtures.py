"""Native reader on crafted captures (tests/fixtures/captures, written by make_fixtures.py)."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from tcpforensics import schema
from tcpforensics.capture import native
from tcpforensics.errors import InputError
from tcpforensics.ingest import ingest, pcap
from tests.conftest import FIXTURES

CAPS = FIXTURES / "captures"


def read(name: str):
    return pcap.ingest(str(CAPS / name))


def test_big_endian_nanosecond_pcap():
    ing = read("be_nsec.pcap")
    ev = ing.events
    assert list(ev.columns) == schema.event_columns("packet")
    assert {c: str(t) for c, t in ev.dtypes.items()} == {c: str(schema.EVENT_DTYPES[c]) for c in ev.columns}
    assert ev["ts"].tolist() == [pd.Timestamp("2023-11-14 22:13:20.123456789") + pd.Timedelta(nanoseconds=i) for i in range(3)]
    assert ev["frame"].tolist() == [1, 2, 3]
    assert ev["flags"].tolist() == [0x02, 0x12, 0x18]
    assert ev["seq"].tolist() == [1000, 5000, 1001]
    assert ev["ack"].tolist() == [0, 1001, 5001]
    assert ev["payload_len"].tolist() == [0, 0, 5]
    syn = ev.iloc[0]
    assert (syn.wscale, syn.opt_mss, syn.opt_sack_perm, syn.opt_ts, syn.ttl, syn.ip_id) == (7, True, True, True, 61, 7)
    assert ev["wscale"].isna().tolist() == [False, True, True]
    assert ev["opt_mss"].tolist() == [True, True, False]
    assert ev["checksum"].tolist() == ["ok"] * 3
    assert ing.accounting["unaccounted"] == 0 and ing.accounting["capture_format"] == "pcap"


def test_gzip_is_transparent():
    plain, gz = read("be_nsec.pcap"), read("be_nsec.pcap.gz")
    assert gz.accounting["compressed"] is True
    pd.testing.assert_frame_equal(plain.events.drop(columns="input"), gz.events.drop(columns="input"))


ENCAPS = {  # frame -> (src_port, tunnel_depth, family) for the TCP events of encapsulations.pcap
    1: (40000, 0, "ipv4"), 2: (40001, 0, "ipv4"), 3: (40002, 0, "ipv4"), 4: (40003, 0, "ipv4"),
    5: (40004, 0, "ipv4"), 6: (40005, 0, "ipv4"), 7: (40006, 0, "ipv6"), 8: (40007, 1, "ipv4"),
    9: (40008, 1, "ipv4"), 10: (40009, 1, "ipv4"), 11: (40010, 1, "ipv6"), 12: (40011, 1, "ipv4"),
    13: (40012, 0, "ipv4"), 14: (40013, 0, "ipv4"), 19: (40014, 0, "ipv4"), 20: (40015, 0, "ipv6"),
    23: (40016, 1, "ipv6"), 24: (40017, 1, "ipv6"),  # Teredo off port 3544, plain and with origin indication
}  # 25, 26: IPv6 in UDP without a Teredo address, or not filling the datagram: plain udp


def test_encapsulations_tunnels_and_non_tcp():
    ing = read("encapsulations.pcap")
    ev = ing.events.set_index("frame")
    got = {f: (r.src_port, r.tunnel_depth, r.family) for f, r in ev.iterrows()}
    assert got == ENCAPS
    acc = ing.accounting
    assert acc["records_read"] == 26 and acc["events"] == 18
    assert acc["non_tcp"] == {"udp": 3, "icmp": 1, "arp": 1, "other link": 1}  # ICMP quoting TCP is icmp
    assert acc["skipped"] == {"truncated": 1, "fragment": 1}
    assert acc["unaccounted"] == 0
    assert dict(zip(ing.skipped["line"], ing.skipped["reason"], strict=True)) == {18: "fragment", 22: "truncated"}


def test_padding_payload_from_ip_length_and_checksums():
    ev = read("encapsulations.pcap").events.set_index("frame")
    assert ev.loc[13, "caplen"] == 60 and ev.loc[13, "payload_len"] == 1  # Ethernet padding ignored
    assert ev.loc[13, "checksum"] == "ok"  # the checksum covers the IP length, not the padding
    assert ev.loc[14, "checksum"] == "bad"
    assert ev.loc[19, "checksum"] == "unverifiable"  # first fragment: the segment is incomplete
    assert ev.loc[19, ["payload_len", "ip_id"]].tolist() == [16, 99]
    assert ev.loc[20, "ip_id"] == 0xABCDEF  # IPv6 fragment header identification
    assert pd.isna(ev.loc[7, "ip_id"])  # IPv6 without a fragment header


def test_snaplen_truncation_keeps_ip_lengths():
    ev = read("snaplen.pcap").events
    assert ev["caplen"].tolist() == [64, 64]
    assert ev["wirelen"].tolist() == [254, 74]
    assert ev["payload_len"].tolist() == [200, 0]
    assert ev["checksum"].tolist() == ["unverifiable", "unverifiable"]


def test_pcapng_sections_interfaces_link_types_and_resolutions():
    ing = read("multi_section.pcapng")
    ev = ing.events.set_index("frame")
    assert ev.index.tolist() == [1, 2, 3, 5, 6, 7, 8, 9]
    assert ev["iface"].tolist() == [0, 1, 2, 1, 0, 1, 1, 2]
    assert ev["src_port"].tolist() == [41003, 41000, 41002, 41001, 41004, 41005, 41006, 41007]
    t0 = pd.Timestamp("2023-11-14 22:13:20")
    assert ev.loc[1, "ts"] == t0 + pd.Timedelta(microseconds=1)  # default resolution: microseconds
    assert ev.loc[2, "ts"] == t0 + pd.Timedelta(nanoseconds=2)  # if_tsresol 9
    assert ev.loc[3, "ts"] == t0 + pd.Timedelta(milliseconds=500)  # if_tsresol 2^-20
    assert ev.loc[5, "ts"] == t0 + pd.Timedelta(nanoseconds=4)  # obsolete packet block
    assert ev.loc[8, "family"] == "ipv6"  # DLT_NULL, big-endian host, AF_INET6 = 30
    acc = ing.accounting
    assert acc["records_read"] == 11 and acc["capture_format"] == "pcapng"
    assert acc["non_tcp"] == {"arp": 1}  # frame 4, a simple packet block
    assert acc["skipped"] == {"unknown link type": 1, "malformed header": 1}  # link type 147; interface 7
    assert acc["blocks_skipped"] == {"0xbad": 1}
    assert acc["link_types"] == {0: 2, 1: 2, 101: 2, 108: 1, 113: 1, 147: 1, 276: 1}


@pytest.mark.parametrize(("name", "packets", "reason"), [
    ("cut_mid_record.pcap", 2, "file ends in the middle of a record"),
    ("corrupt_caplen.pcap", 1, "corrupt record header"),
    ("cut_mid_block.pcapng", 10, "file ends in the middle of a block"),
    ("cut.pcap.gz", 2, "compressed stream ends early"),
])
def test_damaged_captures_keep_every_packet_before_the_damage(name, packets, reason):
    ing = read(name)
    assert ing.accounting["records_read"] == packets
    assert ing.events["frame"].max() <= packets
    stopped = ing.accounting["stopped"]
    assert stopped["after_frame"] == packets and stopped["reason"].startswith(reason)


def test_header_only_capture_is_valid_and_empty():
    ing = read("header_only.pcap")
    assert len(ing.events) == 0 and list(ing.events.columns) == schema.event_columns("packet")
    assert ing.accounting["records_read"] == 0 and ing.accounting["stopped"] is None


@pytest.mark.parametrize(("name", "message"), [
    ("empty.pcap", "is empty"),
    ("garbage.bin", "neither a pcap nor a pcapng"),
])
def test_not_a_capture_is_one_input_error(name, message):
    with pytest.raises(InputError, match=message):
        pcap.ingest(str(CAPS / name))


def test_registry_routes_by_content_and_garbage_fails_cleanly():
    assert ingest(str(CAPS / "be_nsec.pcap.gz")).format == "pcap"
    with pytest.raises(InputError):
        ingest(str(CAPS / "garbage.bin"))


def test_stdin_bytes_match_file():
    data = (CAPS / "multi_section.pcapng").read_bytes()
    a = pcap.ingest_bytes(data, "-").events.drop(columns="input")
    b = read("multi_section.pcapng").events.drop(columns="input")
    pd.testing.assert_frame_equal(a, b)


def test_unknown_engine_is_an_input_error():
    with pytest.raises(InputError, match="unknown capture engine"):
        pcap.ingest(str(CAPS / "be_nsec.pcap"), engine="wireshark")


def test_gzip_bomb_is_stopped_with_counts_kept(tmp_path):
    header = (CAPS / "be_nsec.pcap").read_bytes()[:24]
    bomb = gzip.compress(header + b"\0" * (48 << 20), compresslevel=9)  # 48 MiB of empty records
    ing = pcap.ingest_bytes(bomb, "bomb.pcap.gz")
    acc = ing.accounting
    assert "gzip bomb" in acc["stopped"]["reason"]
    assert acc["records_read"] < (48 << 20) // 16 and acc["unaccounted"] == 0
    assert acc["skipped_rows_capped"] and len(ing.skipped) == native.MAX_SKIPPED_ROWS


def test_corrupt_gzip_is_one_input_error():
    with pytest.raises(InputError, match="cannot be decompressed"):
        pcap.ingest_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 200, "bad.gz")
