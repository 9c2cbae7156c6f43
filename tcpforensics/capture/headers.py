"""Declarative header tables (dpkt style: name, struct format, default) and protocol constants."""

from __future__ import annotations

import struct

import numpy as np

# --- protocol constants, each named once -------------------------------------------------

# TCP flag bits (the low 9 bits of the data-offset/flags word)
TH_FIN = 0x001  # sender has finished sending
TH_SYN = 0x002  # synchronize sequence numbers (opening)
TH_RST = 0x004  # reset the connection
TH_PSH = 0x008  # push buffered data to the application
TH_ACK = 0x010  # acknowledgement field is significant
TH_URG = 0x020  # urgent pointer field is significant
TH_ECE = 0x040  # ECN echo (RFC 3168)
TH_CWR = 0x080  # congestion window reduced (RFC 3168)
TH_NS = 0x100  # ECN nonce concealment (RFC 3540, historic)
TH_FLAGS_MASK = 0x1FF  # every flag bit above

# TCP option kinds
TCPOPT_EOL = 0  # end of option list
TCPOPT_NOP = 1  # padding
TCPOPT_MSS = 2  # maximum segment size (SYN only)
TCPOPT_WSCALE = 3  # window scale shift (SYN only)
TCPOPT_SACK_PERM = 4  # SACK permitted (SYN only)
TCPOPT_TIMESTAMP = 8  # timestamps (RFC 7323)
TCP_MAX_WSCALE = 14  # RFC 7323: a larger shift is used as 14

# IPv4 fragment word (flags + offset)
IP_MF = 0x2000  # more fragments follow
IP_OFFMASK = 0x1FFF  # fragment offset, in 8-byte units

# IP protocol numbers
IPPROTO_HOPOPTS = 0  # IPv6 hop-by-hop options header
IPPROTO_ICMP = 1  # ICMP
IPPROTO_IGMP = 2  # IGMP
IPPROTO_IPIP = 4  # IPv4 in IP (tunnel)
IPPROTO_TCP = 6  # TCP
IPPROTO_UDP = 17  # UDP
IPPROTO_IPV6 = 41  # IPv6 in IP (6in4 tunnel)
IPPROTO_ROUTING = 43  # IPv6 routing header
IPPROTO_FRAGMENT = 44  # IPv6 fragment header
IPPROTO_GRE = 47  # generic routing encapsulation (tunnel)
IPPROTO_ESP = 50  # IPsec encapsulating security payload
IPPROTO_AH = 51  # IPsec authentication header
IPPROTO_ICMPV6 = 58  # ICMPv6
IPPROTO_NONE = 59  # IPv6: no next header
IPPROTO_DSTOPTS = 60  # IPv6 destination options header
IPPROTO_SCTP = 132  # SCTP
IPPROTO_MOBILITY = 135  # IPv6 mobility header

# Ethertypes
ETH_P_IP = 0x0800  # IPv4
ETH_P_ARP = 0x0806  # ARP
ETH_P_TEB = 0x6558  # transparent Ethernet bridging (Ethernet in GRE)
ETH_P_8021Q = 0x8100  # 802.1Q VLAN tag
ETH_P_IPV6 = 0x86DD  # IPv6
ETH_P_PPP = 0x880B  # PPP (in PPTP's enhanced GRE)
ETH_P_MPLS_UC = 0x8847  # MPLS unicast
ETH_P_MPLS_MC = 0x8848  # MPLS multicast
ETH_P_PPPOE_SESS = 0x8864  # PPPoE session stage
ETH_P_8021AD = 0x88A8  # 802.1ad service VLAN tag (QinQ outer)
ETH_P_QINQ_OLD = 0x9100  # pre-standard QinQ outer tag
ETH_P_MAX_LEN = 1500  # an "ethertype" at or below this is an 802.3 length (LLC frame)

# PPP protocol numbers
PPP_IP = 0x0021  # IPv4
PPP_IPV6 = 0x0057  # IPv6

# BSD loopback address families (DLT_NULL host order, DLT_LOOP network order)
AF_INET = 2  # IPv4 everywhere
AF_INET6_BSD = (24, 28, 30)  # IPv6: NetBSD/OpenBSD, FreeBSD, macOS

# UDP ports of tunnels we decapsulate
PORT_TEREDO = 3544  # Teredo: IPv6 over UDP/IPv4
PORT_GTP_U = 2152  # GTP-U: user-plane IP over UDP (mobile core)
PORT_VXLAN = 4789  # VXLAN: Ethernet over UDP

# Teredo (RFC 4380): optional headers before the IPv6 packet, and what marks it off any port
TEREDO_AUTH = 0x0001  # authentication header: id len, auth len, id, auth, nonce (8), confirmation (1)
TEREDO_AUTH_SIZE = 13  # its fixed part: type (2), two lengths (2), nonce (8), confirmation (1)
TEREDO_ORIGIN = 0x0000  # origin indication: type (2), obfuscated port (2) and IPv4 address (4)
TEREDO_ORIGIN_SIZE = 8
TEREDO_PREFIX = 0x20010000  # first 32 bits of a Teredo address (2001:0::/32), as Zeek's DPD pattern
TEREDO_NEXT_HEADERS = (  # what an IPv6 packet in Teredo starts with (59: bubbles)
    IPPROTO_HOPOPTS, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_ICMPV6,
    IPPROTO_NONE, IPPROTO_DSTOPTS,
)

# GRE header flag bits
GRE_CSUM = 0x8000  # checksum (+4 bytes with the reserved word)
GRE_KEY = 0x2000  # key present (+4 bytes)
GRE_SEQ = 0x1000  # sequence number present (+4 bytes)
GRE_ACK = 0x0080  # acknowledgement present (+4 bytes, version 1 only)
GRE_VERSION = 0x0007  # version: 0 = GRE, 1 = PPTP enhanced GRE

# GTP-U
GTP_GPDU = 0xFF  # message type carrying a user IP packet
GTP_OPT_MASK = 0x07  # E, S or PN flag: a 4-byte optional field follows the header
GTP_EXT_FLAG = 0x04  # E flag: extension headers follow
VXLAN_I_FLAG = 0x08  # VXLAN: the VNI field is valid

# pcapng block types
BT_SHB = 0x0A0D0D0A  # section header
BT_IDB = 0x00000001  # interface description
BT_OPB = 0x00000002  # packet (obsolete)
BT_SPB = 0x00000003  # simple packet
BT_EPB = 0x00000006  # enhanced packet
PCAPNG_BOM = 0x1A2B3C4D  # byte-order magic inside the section header
IDB_OPT_TSRESOL = 9  # if_tsresol: timestamp resolution
IDB_OPT_TSOFFSET = 14  # if_tsoffset: seconds added to every timestamp

# pcap magic numbers (as read little-endian from the first four bytes)
PCAP_MAGIC_US = 0xA1B2C3D4  # microsecond timestamps
PCAP_MAGIC_NS = 0xA1B23C4D  # nanosecond timestamps
MAX_SNAPLEN = 262144  # Wireshark's limit for ordinary link types: a bigger record is corrupt


# --- header tables ------------------------------------------------------------------------

_NP = {"B": "u1", "H": "u2", "I": "u4", "Q": "u8", "b": "i1", "h": "i2", "i": "i4", "q": "i8"}


class Header:
    """A fixed header: ordered (name, struct format, default) fields, like dpkt's ``__hdr__``.

    ``get`` gathers one field for many header starts at once (vectorized); ``pack`` builds
    the bytes of one header (used by the fixture generator and the benchmark synthesizer).
    """

    def __init__(self, name: str, fields: tuple[tuple[str, str, object], ...]) -> None:
        self.name = name
        self.fields = fields
        self.offsets: dict[str, int] = {}
        fmt = ""
        for fname, ffmt, _ in fields:
            self.offsets[fname] = struct.calcsize(">" + fmt)
            fmt += ffmt
        self.format = fmt
        self.size = struct.calcsize(">" + fmt)
        self._formats = {f: ff for f, ff, _ in fields}

    def get(self, a: np.ndarray, base: np.ndarray, name: str, order: str = ">") -> np.ndarray:
        """Field ``name`` of the headers starting at byte offsets ``base`` of buffer ``a``."""
        fmt = self._formats[name]
        return gather(a, base + self.offsets[name], fmt, order)

    def pack(self, order: str = ">", **values: object) -> bytes:
        """The header as bytes; fields not given take their default."""
        return struct.pack(order + self.format, *(values.get(n, d) for n, _, d in self.fields))


def gather(a: np.ndarray, offsets: np.ndarray, fmt: str, order: str = ">") -> np.ndarray:
    """Values of struct format ``fmt`` (B/H/I/Q, or ``Ns`` bytes) at ``offsets`` of ``a``.

    Multi-byte fields are read through a view of ``a`` with a one-byte stride (an unaligned
    value starting at every byte), so a field is one fancy-index gather, no index matrix.
    """
    if fmt == "B":
        return a[offsets]
    if fmt.endswith("s"):
        width = int(fmt[:-1])
        return a[offsets[:, None] + np.arange(width)]
    dt = np.dtype(order + _NP[fmt])
    if len(a) < dt.itemsize:
        return np.zeros(0, dtype=dt.newbyteorder("="))
    view = np.ndarray(shape=(len(a) - dt.itemsize + 1,), dtype=dt, buffer=a, offset=0, strides=(1,))
    return view[offsets].astype(dt.newbyteorder("="), copy=False)


# pcap / pcapng framing
PCAP_FILE = Header("pcap file", (
    ("magic", "I", PCAP_MAGIC_US), ("v_major", "H", 2), ("v_minor", "H", 4), ("thiszone", "i", 0),
    ("sigfigs", "I", 0), ("snaplen", "I", 65535), ("linktype", "I", 1),
))
PCAP_RECORD = Header("pcap record", (
    ("ts_sec", "I", 0), ("ts_frac", "I", 0), ("caplen", "I", 0), ("wirelen", "I", 0),
))
PCAPNG_BLOCK = Header("pcapng block", (("type", "I", 0), ("total_len", "I", 12)))
SHB = Header("section header", (
    ("type", "I", BT_SHB), ("total_len", "I", 28), ("bom", "I", PCAPNG_BOM),
    ("v_major", "H", 1), ("v_minor", "H", 0), ("section_len", "q", -1),
))
IDB = Header("interface description", (
    ("type", "I", BT_IDB), ("total_len", "I", 20), ("linktype", "H", 1), ("reserved", "H", 0),
    ("snaplen", "I", 0),
))
EPB = Header("enhanced packet", (
    ("type", "I", BT_EPB), ("total_len", "I", 32), ("iface", "I", 0), ("ts_high", "I", 0),
    ("ts_low", "I", 0), ("caplen", "I", 0), ("wirelen", "I", 0),
))
SPB = Header("simple packet", (("type", "I", BT_SPB), ("total_len", "I", 16), ("wirelen", "I", 0)))
OPB = Header("packet (obsolete)", (
    ("type", "I", BT_OPB), ("total_len", "I", 32), ("iface", "H", 0), ("drops", "H", 0),
    ("ts_high", "I", 0), ("ts_low", "I", 0), ("caplen", "I", 0), ("wirelen", "I", 0),
))

# link layers
ETHERNET = Header("ethernet", (("dst", "6s", b"\x00" * 6), ("src", "6s", b"\x00" * 6), ("type", "H", ETH_P_IP)))
VLAN = Header("802.1q", (("tci", "H", 0), ("type", "H", ETH_P_IP)))
MPLS = Header("mpls", (("label", "I", 0x100),))  # label:20 tc:3 bottom-of-stack:1 ttl:8
PPPOE = Header("pppoe session", (
    ("v_type", "B", 0x11), ("code", "B", 0), ("session", "H", 0), ("len", "H", 0), ("ppp_proto", "H", PPP_IP),
))
SLL = Header("linux sll", (
    ("pkttype", "H", 0), ("hatype", "H", 1), ("halen", "H", 6), ("addr", "8s", b"\x00" * 8), ("proto", "H", ETH_P_IP),
))
SLL2 = Header("linux sll2", (
    ("proto", "H", ETH_P_IP), ("reserved", "H", 0), ("ifindex", "I", 0), ("hatype", "H", 1),
    ("pkttype", "B", 0), ("halen", "B", 6), ("addr", "8s", b"\x00" * 8),
))
NULL = Header("bsd loopback", (("family", "I", AF_INET),))

# network and transport
IPV4 = Header("ipv4", (
    ("v_hl", "B", 0x45), ("tos", "B", 0), ("len", "H", 20), ("id", "H", 0), ("off", "H", 0),
    ("ttl", "B", 64), ("p", "B", IPPROTO_TCP), ("sum", "H", 0), ("src", "4s", b"\x00" * 4), ("dst", "4s", b"\x00" * 4),
))
IPV6 = Header("ipv6", (
    ("v_fc_flow", "I", 0x60000000), ("plen", "H", 0), ("nxt", "B", IPPROTO_TCP), ("hlim", "B", 64),
    ("src", "16s", b"\x00" * 16), ("dst", "16s", b"\x00" * 16),
))
IPV6_EXT = Header("ipv6 extension", (("nxt", "B", IPPROTO_TCP), ("len", "B", 0)))
IPV6_FRAG = Header("ipv6 fragment", (("nxt", "B", IPPROTO_TCP), ("reserved", "B", 0), ("off", "H", 0), ("id", "I", 0)))
TCP = Header("tcp", (
    ("sport", "H", 0), ("dport", "H", 0), ("seq", "I", 0), ("ack", "I", 0), ("off_flags", "H", 0x5000),
    ("win", "H", 65535), ("sum", "H", 0), ("urp", "H", 0),
))
UDP = Header("udp", (("sport", "H", 0), ("dport", "H", 0), ("ulen", "H", 8), ("sum", "H", 0)))
GRE = Header("gre", (("flags", "H", 0), ("proto", "H", ETH_P_IP)))
GTP = Header("gtp-u", (("flags", "B", 0x30), ("type", "B", GTP_GPDU), ("len", "H", 0), ("teid", "I", 0)))
VXLAN = Header("vxlan", (("flags", "B", VXLAN_I_FLAG), ("reserved", "3s", b"\x00" * 3), ("vni", "I", 0)))
