"""pcap and pcapng captures, optionally gzip-compressed, read in bounded memory.

Columns (docs/schema.md): one row per TCP segment (``kind`` packet): ts, proto, family,
src_addr, src_port, dst_addr, dst_port, frame, flags, seq, ack, payload_len, window, wscale,
opt_mss, opt_sack_perm, opt_ts, ttl, ip_id, caplen, wirelen, checksum, iface, tunnel_depth.

Example::

    tcpdump -i lo -w capture.pcap 'tcp port 8000'     # then: curl http://127.0.0.1:8000/

    frame 1: 127.0.0.1:40114 -> 127.0.0.1:8000, flags 2 (SYN), seq 2295639026, window 65495,
             wscale 10, opt_mss, opt_sack_perm, opt_ts, ttl 64, checksum bad (loopback offload)
    frame 2: 127.0.0.1:8000 -> 127.0.0.1:40114, flags 18 (SYN ACK), ack 2295639027

The format is recognised by its magic number (pcap in both byte orders, microsecond and
nanosecond; pcapng; gzip). Link layers, tunnels, the two engines (``--engine native``, the
default, or ``tshark``) and what is skipped and why: docs/captures.md. The reader is
``tcpforensics/ingest/pcap.py`` on ``tcpforensics/capture/``; this module registers it.
"""

from __future__ import annotations

from tcpforensics.ingest.pcap import detect, ingest, ingest_bytes

__all__ = ["detect", "ingest", "ingest_bytes"]

NAME = "pcap"
KIND = "capture"
DESCRIPTION = (
    "pcap and pcapng captures, optionally gzip-compressed (`.pcap.gz`); Ethernet, Linux SLL/SLL2, "
    "BSD loopback, raw IP, VLAN/MPLS/PPPoE, Teredo/GTP/VXLAN/GRE tunnels"
)
SAVE_WITH = "tcpdump -i eth0 -w capture.pcap"
FIXTURES = ("captures/*.pcap*", "flows/*.pcap")
ORDER = 0
