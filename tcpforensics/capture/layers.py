"""The layer machine's vocabulary (``capture.decode``): the codes of the active layers and of the
terminal outcomes (with their accounting buckets), the dispatch tables from link types,
ethertypes and IP protocols to layer codes, and ``DecodeState``, the decoding state of one batch
that the layer handlers read and move.
"""

from __future__ import annotations

import numpy as np

from tcpforensics.capture import headers as h

# --- layer codes (active) -----------------------------------------------------------------
(L_ETH, L_VLAN, L_MPLS, L_MPLS_PAYLOAD, L_PPPOE, L_PPP, L_SLL, L_SLL2, L_NULL, L_LOOP, L_RAW,
 L_IPV4, L_IPV6, L_IPEXT, L_UDP, L_TEREDO, L_GTP, L_VXLAN, L_GRE, L_TCP, L_TEREDO_PROBE) = range(1, 22)

# --- outcomes (terminal): (accounting bucket, name); code = FIRST_OUTCOME + position --------
OUTCOMES: tuple[tuple[str, str], ...] = (
    ("event", "tcp"),
    ("non_tcp", "udp"),
    ("non_tcp", "icmp"),
    ("non_tcp", "icmpv6"),
    ("non_tcp", "arp"),
    ("non_tcp", "igmp"),
    ("non_tcp", "sctp"),
    ("non_tcp", "esp"),
    ("non_tcp", "gre"),  # GRE carrying something other than IP or Ethernet
    ("non_tcp", "other ip"),  # any other IP protocol
    ("non_tcp", "other link"),  # non-IP frames: LLC, LLDP, STP, ...
    ("skipped", "truncated"),  # captured bytes end inside a header we need
    ("skipped", "unknown link type"),
    ("skipped", "malformed header"),  # a header that contradicts itself (version, lengths)
    ("skipped", "fragment"),  # IPv4/IPv6 fragment after the first: no transport header
)
FIRST_OUTCOME = 64
(OUT_TCP, OUT_UDP, OUT_ICMP, OUT_ICMPV6, OUT_ARP, OUT_IGMP, OUT_SCTP, OUT_ESP, OUT_GRE,
 OUT_OTHER_IP, OUT_OTHER_LINK, OUT_TRUNCATED, OUT_UNKNOWN_LINK, OUT_MALFORMED,
 OUT_FRAGMENT) = range(FIRST_OUTCOME, FIRST_OUTCOME + len(OUTCOMES))
MAX_ROUNDS = 24  # deeper nesting than this is taken as malformed

# --- dispatch tables ----------------------------------------------------------------------
LINK_TYPES: dict[int, int] = {
    0: L_NULL,  # BSD loopback, address family in host byte order
    1: L_ETH,  # Ethernet
    9: L_PPP,  # PPP
    12: L_RAW,  # raw IP (DLT_RAW on most systems)
    14: L_RAW,  # raw IP (DLT_RAW on BSD/OS)
    50: L_PPP,  # PPP in HDLC-like framing
    101: L_RAW,  # LINKTYPE_RAW
    108: L_LOOP,  # OpenBSD loopback, address family in network byte order
    113: L_SLL,  # Linux cooked capture v1
    228: L_IPV4,  # raw IPv4
    229: L_IPV6,  # raw IPv6
    276: L_SLL2,  # Linux cooked capture v2
}
ETHERTYPES: dict[int, int] = {
    h.ETH_P_IP: L_IPV4,
    h.ETH_P_IPV6: L_IPV6,
    h.ETH_P_8021Q: L_VLAN,
    h.ETH_P_8021AD: L_VLAN,
    h.ETH_P_QINQ_OLD: L_VLAN,
    h.ETH_P_MPLS_UC: L_MPLS,
    h.ETH_P_MPLS_MC: L_MPLS,
    h.ETH_P_PPPOE_SESS: L_PPPOE,
    h.ETH_P_ARP: OUT_ARP,
    h.ETH_P_TEB: L_ETH,
    h.ETH_P_PPP: L_PPP,
}
IP_PROTOCOLS: dict[int, int] = {
    h.IPPROTO_TCP: L_TCP,
    h.IPPROTO_UDP: L_UDP,
    h.IPPROTO_IPIP: L_IPV4,
    h.IPPROTO_IPV6: L_IPV6,
    h.IPPROTO_GRE: L_GRE,
    h.IPPROTO_ICMP: OUT_ICMP,
    h.IPPROTO_IGMP: OUT_IGMP,
    h.IPPROTO_ICMPV6: OUT_ICMPV6,
    h.IPPROTO_SCTP: OUT_SCTP,
    h.IPPROTO_ESP: OUT_ESP,
    h.IPPROTO_AH: L_IPEXT,
}
IPV6_EXTENSIONS = (h.IPPROTO_HOPOPTS, h.IPPROTO_ROUTING, h.IPPROTO_FRAGMENT, h.IPPROTO_DSTOPTS,
                   h.IPPROTO_MOBILITY, 139, 140)  # 139 HIP, 140 shim6
PPP_PROTOCOLS: dict[int, int] = {h.PPP_IP: L_IPV4, h.PPP_IPV6: L_IPV6}
LOOP_FAMILIES: dict[int, int] = {h.AF_INET: L_IPV4, **{f: L_IPV6 for f in h.AF_INET6_BSD}}


def _lut(size: int, default: int, table: dict[int, int]) -> np.ndarray:
    lut = np.full(size, default, dtype=np.uint8)
    for k, v in table.items():
        lut[k] = v
    return lut


_LINK_LUT = _lut(65536, OUT_UNKNOWN_LINK, LINK_TYPES)
_ETYPE_LUT = _lut(65536, OUT_OTHER_LINK, ETHERTYPES)
_IP4_LUT = _lut(256, OUT_OTHER_IP, IP_PROTOCOLS)
_IP6_LUT = _lut(256, OUT_OTHER_IP, {**IP_PROTOCOLS, **{p: L_IPEXT for p in IPV6_EXTENSIONS}})
_PPP_LUT = _lut(65536, OUT_OTHER_LINK, PPP_PROTOCOLS)


class DecodeState:
    """Decoding state of one batch: per-packet layer code, offsets and what the IP layer said."""

    def __init__(self, a: np.ndarray, data_off: np.ndarray, caplen: np.ndarray,
                 wirelen: np.ndarray, linktype: np.ndarray, bad: np.ndarray) -> None:
        n = len(data_off)
        self.a = a
        self.off = data_off.copy()
        self.end = data_off + caplen
        self.wire_end = data_off + np.maximum(wirelen, caplen)
        self.layer = _LINK_LUT[np.clip(linktype, 0, 65535)]
        self.layer[linktype < 0] = OUT_UNKNOWN_LINK
        self.layer[bad] = OUT_MALFORMED
        self.proto = np.zeros(n, dtype=np.int64)  # protocol number for the IP extension layer
        self.depth = np.zeros(n, dtype=np.uint8)
        self.ip_off = np.full(n, -1, dtype=np.int64)
        self.ip6 = np.zeros(n, dtype=bool)
        self.l4_end = np.zeros(n, dtype=np.int64)
        self.partial = np.zeros(n, dtype=bool)  # first fragment: the segment is incomplete
        self.frag_id = np.zeros(n, dtype=np.int64)
        self.has_frag_id = np.zeros(n, dtype=bool)
        self.udp_end = np.zeros(n, dtype=np.int64)  # where the innermost UDP datagram ends

    # helpers: gather relative to each packet's current offset
    def u8(self, idx: np.ndarray, rel: int = 0) -> np.ndarray:
        return self.a[self.off[idx] + rel].astype(np.int64)

    def u16(self, idx: np.ndarray, rel: int = 0) -> np.ndarray:
        return h.gather(self.a, self.off[idx] + rel, "H").astype(np.int64)

    def u32(self, idx: np.ndarray, rel: int = 0, order: str = ">") -> np.ndarray:
        return h.gather(self.a, self.off[idx] + rel, "I", order).astype(np.int64)

    def fits(self, idx: np.ndarray, size: int | np.ndarray) -> np.ndarray:
        return self.off[idx] + size <= self.end[idx]

    def need(self, idx: np.ndarray, size: int | np.ndarray) -> np.ndarray:
        """The packets of ``idx`` holding ``size`` more bytes; the others end as truncated."""
        ok = self.fits(idx, size)
        if ok.all():
            return idx
        self.layer[idx[~ok]] = OUT_TRUNCATED
        return idx[ok]

    def goto(self, idx: np.ndarray, codes: np.ndarray | int) -> None:
        self.layer[idx] = codes
