"""Vectorized layer decoding: link, VLAN/MPLS/PPPoE, IPv4/IPv6, tunnels, TCP, for a whole batch.

Every packet carries a current layer code and a byte offset. Each round, every layer kind
present is handled once for all packets at that layer (numpy over the group), which moves
them to their next layer or to a terminal outcome. The loop runs over layer kinds and
rounds (nesting depth), never over packets.

The codes, dispatch tables and the ``DecodeState`` are in ``capture.layers`` ; this
module holds the loop and one handler per layer kind.
"""

from __future__ import annotations

import numpy as np

from tcpforensics.capture import headers as h
from tcpforensics.capture.layers import (
    _ETYPE_LUT,
    _IP4_LUT,
    _IP6_LUT,
    _PPP_LUT,
    FIRST_OUTCOME,
    L_ETH,
    L_GRE,
    L_GTP,
    L_IPEXT,
    L_IPV4,
    L_IPV6,
    L_LOOP,
    L_MPLS,
    L_MPLS_PAYLOAD,
    L_NULL,
    L_PPP,
    L_PPPOE,
    L_RAW,
    L_SLL,
    L_SLL2,
    L_TCP,
    L_TEREDO,
    L_TEREDO_PROBE,
    L_UDP,
    L_VLAN,
    L_VXLAN,
    LOOP_FAMILIES,
    MAX_ROUNDS,
    OUT_FRAGMENT,
    OUT_GRE,
    OUT_MALFORMED,
    OUT_OTHER_LINK,
    OUT_TCP,
    OUT_TRUNCATED,
    OUT_UDP,
    DecodeState,
)


def decode(p: DecodeState) -> DecodeState:
    """Run the layer machine until every packet has an outcome."""
    layer = p.layer
    for _ in range(MAX_ROUNDS):
        active = layer < FIRST_OUTCOME
        if not active.any():
            break
        present = np.flatnonzero(np.bincount(layer[active], minlength=FIRST_OUTCOME))
        for code in present:
            idx = np.flatnonzero(layer == code)
            if len(idx):
                HANDLERS[code](p, idx)
    layer[layer < FIRST_OUTCOME] = OUT_MALFORMED
    return p


# --- handlers -----------------------------------------------------------------------------

def _ethertype(p: DecodeState, idx: np.ndarray, etype: np.ndarray, default: int = OUT_OTHER_LINK) -> None:
    codes = _ETYPE_LUT[etype]
    if default != OUT_OTHER_LINK:
        codes[codes == OUT_OTHER_LINK] = default
    p.goto(idx, codes)


def _ethertype_layer(header: h.Header, field: str):
    """A decoder for a link header that ends in an EtherType field (Ethernet, 802.1Q, SLL, SLL2)."""

    def decode(p: DecodeState, idx: np.ndarray) -> None:
        idx = p.need(idx, header.size)
        etype = p.u16(idx, header.offsets[field])
        p.off[idx] += header.size
        _ethertype(p, idx, etype)

    return decode


_eth = _ethertype_layer(h.ETHERNET, "type")


_vlan = _ethertype_layer(h.VLAN, "type")


def _mpls(p: DecodeState, idx: np.ndarray) -> None:
    idx = p.need(idx, h.MPLS.size)
    bottom = (p.u8(idx, 2) & 1).astype(bool)  # bottom-of-stack bit
    p.off[idx] += h.MPLS.size
    p.goto(idx[bottom], L_MPLS_PAYLOAD)


def _mpls_payload(p: DecodeState, idx: np.ndarray) -> None:
    """No protocol field after MPLS: the first nibble says IPv4, IPv6 or a control word."""
    idx = p.need(idx, 1)
    nibble = p.u8(idx) >> 4
    p.goto(idx, OUT_OTHER_LINK)
    p.goto(idx[nibble == 4], L_IPV4)
    p.goto(idx[nibble == 6], L_IPV6)
    cw = idx[nibble == 0]  # pseudowire control word, then Ethernet
    p.off[cw] += 4
    p.goto(cw, L_ETH)


def _pppoe(p: DecodeState, idx: np.ndarray) -> None:
    idx = p.need(idx, h.PPPOE.size)
    proto = p.u16(idx, h.PPPOE.offsets["ppp_proto"])
    p.off[idx] += h.PPPOE.size
    p.goto(idx, _PPP_LUT[proto])


def _ppp(p: DecodeState, idx: np.ndarray) -> None:
    idx = p.need(idx, 2)
    hdlc = p.u16(idx) == 0xFF03  # address and control bytes of HDLC-like framing
    p.off[idx[hdlc]] += 2
    idx = p.need(idx, 2)
    first = p.u8(idx)
    short = (first & 1).astype(bool)  # protocol field compressed to one byte
    proto = np.where(short, first, p.u16(idx))
    p.off[idx] += np.where(short, 1, 2)
    p.goto(idx, _PPP_LUT[proto])


_sll = _ethertype_layer(h.SLL, "proto")


_sll2 = _ethertype_layer(h.SLL2, "proto")


def _family(p: DecodeState, idx: np.ndarray, family: np.ndarray) -> None:
    codes = np.full(len(idx), OUT_OTHER_LINK, dtype=np.uint8)
    for fam, code in LOOP_FAMILIES.items():
        codes[family == fam] = code
    p.off[idx] += h.NULL.size
    p.goto(idx, codes)


def _null(p: DecodeState, idx: np.ndarray) -> None:
    idx = p.need(idx, h.NULL.size)
    le = p.u32(idx, 0, "<")
    be = p.u32(idx, 0, ">")
    _family(p, idx, np.where(le <= 0xFFFF, le, be))  # host order of the capturing machine


def _loop(p: DecodeState, idx: np.ndarray) -> None:
    idx = p.need(idx, h.NULL.size)
    _family(p, idx, p.u32(idx, 0, ">"))


def _raw(p: DecodeState, idx: np.ndarray) -> None:
    idx = p.need(idx, 1)
    version = p.u8(idx) >> 4
    p.goto(idx, OUT_MALFORMED)
    p.goto(idx[version == 4], L_IPV4)
    p.goto(idx[version == 6], L_IPV6)


def _ipv4(p: DecodeState, idx: np.ndarray) -> None:
    idx = p.need(idx, h.IPV4.size)
    vhl = p.u8(idx)
    ihl = (vhl & 0x0F) * 4
    total = p.u16(idx, h.IPV4.offsets["len"])
    total = np.where(total == 0, p.end[idx] - p.off[idx], total)  # TSO: length left as 0
    bad = ((vhl >> 4) != 4) | (ihl < h.IPV4.size) | (total < ihl)
    p.goto(idx[bad], OUT_MALFORMED)
    idx, ihl, total = idx[~bad], ihl[~bad], total[~bad]
    ok = p.fits(idx, ihl)
    p.goto(idx[~ok], OUT_TRUNCATED)
    idx, ihl, total = idx[ok], ihl[ok], total[ok]
    frag = p.u16(idx, h.IPV4.offsets["off"])
    proto = p.u8(idx, h.IPV4.offsets["p"])
    _enter_ip(p, idx, total, v6=False)
    p.partial[idx] |= (frag & h.IP_MF) != 0  # sticky: an outer first fragment leaves inner data incomplete
    p.off[idx] += ihl
    p.goto(idx, _IP4_LUT[proto])
    p.proto[idx] = proto
    p.goto(idx[(frag & h.IP_OFFMASK) != 0], OUT_FRAGMENT)


def _enter_ip(p: DecodeState, idx: np.ndarray, total: np.ndarray, v6: bool) -> None:
    p.depth[idx] += p.ip_off[idx] >= 0  # an IP header inside another: one more tunnel layer
    p.ip_off[idx] = p.off[idx]
    p.ip6[idx] = v6
    p.l4_end[idx] = np.minimum(p.off[idx] + total, p.wire_end[idx])
    p.has_frag_id[idx] = False


def _ipv6(p: DecodeState, idx: np.ndarray) -> None:
    idx = p.need(idx, h.IPV6.size)
    bad = (p.u8(idx) >> 4) != 6
    p.goto(idx[bad], OUT_MALFORMED)
    idx = idx[~bad]
    plen = p.u16(idx, h.IPV6.offsets["plen"])
    plen = np.where(plen == 0, p.end[idx] - p.off[idx] - h.IPV6.size, plen)  # jumbogram / TSO
    nxt = p.u8(idx, h.IPV6.offsets["nxt"])
    _enter_ip(p, idx, plen + h.IPV6.size, v6=True)
    p.off[idx] += h.IPV6.size
    p.proto[idx] = nxt
    p.goto(idx, _IP6_LUT[nxt])


def _ipext(p: DecodeState, idx: np.ndarray) -> None:
    """IPv6 extension headers (and AH in IPv4): skip them, noting fragment headers."""
    idx = p.need(idx, 8)
    kind = p.proto[idx]
    nxt = p.u8(idx, 0)
    size = (p.u8(idx, 1) + 1) * 8
    size = np.where(kind == h.IPPROTO_AH, (p.u8(idx, 1) + 2) * 4, size)
    frag = kind == h.IPPROTO_FRAGMENT
    size[frag] = h.IPV6_FRAG.size
    f = idx[frag]
    word = p.u16(f, h.IPV6_FRAG.offsets["off"])
    p.frag_id[f] = p.u32(f, h.IPV6_FRAG.offsets["id"])
    p.has_frag_id[f] = True
    p.partial[f] |= (word & 1) != 0  # M flag
    p.off[idx] += size
    p.proto[idx] = nxt
    p.goto(idx, np.where(p.ip6[idx], _IP6_LUT[nxt], _IP4_LUT[nxt]))
    p.goto(f[(word >> 3) != 0], OUT_FRAGMENT)


def _udp(p: DecodeState, idx: np.ndarray) -> None:
    idx = p.need(idx, h.UDP.size)
    sport = p.u16(idx, 0)
    dport = p.u16(idx, 2)
    ulen = p.u16(idx, h.UDP.offsets["ulen"])
    p.udp_end[idx] = np.where(ulen >= h.UDP.size, np.minimum(p.off[idx] + ulen, p.l4_end[idx]), p.l4_end[idx])
    p.off[idx] += h.UDP.size
    codes = np.full(len(idx), L_TEREDO_PROBE, dtype=np.uint8)  # no tunnel port: Teredo only if it proves it
    for port, code in ((h.PORT_VXLAN, L_VXLAN), (h.PORT_TEREDO, L_TEREDO), (h.PORT_GTP_U, L_GTP)):
        codes[(sport == port) | (dport == port)] = code
    p.goto(idx, codes)


def _teredo_headers(p: DecodeState, idx: np.ndarray) -> None:
    """Skip the optional Teredo authentication (0x0001) and origin indication (0x0000) headers."""
    ok = p.fits(idx, 4)
    auth = idx[ok][p.u16(idx[ok]) == h.TEREDO_AUTH]
    p.off[auth] += h.TEREDO_AUTH_SIZE + p.u8(auth, 2) + p.u8(auth, 3)
    ok = p.fits(idx, 2)
    origin = idx[ok][p.u16(idx[ok]) == h.TEREDO_ORIGIN]
    p.off[origin] += h.TEREDO_ORIGIN_SIZE


def _teredo(p: DecodeState, idx: np.ndarray) -> None:
    """Teredo on its port (3544): optional authentication and origin-indication headers, then IPv6."""
    _teredo_headers(p, idx)
    ok = p.fits(idx, h.IPV6.size)
    v6 = idx[ok][(p.u8(idx[ok]) >> 4) == 6]
    p.goto(idx, OUT_UDP)
    p.goto(v6, L_IPV6)


def _teredo_probe(p: DecodeState, idx: np.ndarray) -> None:
    """UDP on any other port is Teredo (direct, relay or peer traffic) only when its payload is,
    like Zeek's Teredo analyzer checks: after the optional Teredo headers, an IPv6 header whose
    payload length fills the rest of the datagram exactly, with a plausible next header, and a
    Teredo address (2001:0::/32) on one side, as Zeek's detection pattern (docs/captures.md)."""
    _teredo_headers(p, idx)
    ok = p.fits(idx, h.IPV6.size)
    p.goto(idx, OUT_UDP)  # the others stay plain UDP (the offset past the UDP header no longer matters)
    c = idx[ok]
    c = c[(p.u8(c) >> 4) == 6]  # cheap test first: most UDP payloads stop here
    plen = p.u16(c, h.IPV6.offsets["plen"])
    c = c[plen + h.IPV6.size == p.udp_end[c] - p.off[c]]
    nxt = p.u8(c, h.IPV6.offsets["nxt"])
    src = p.u32(c, h.IPV6.offsets["src"])
    dst = p.u32(c, h.IPV6.offsets["dst"])
    valid = np.isin(nxt, h.TEREDO_NEXT_HEADERS) & ((src == h.TEREDO_PREFIX) | (dst == h.TEREDO_PREFIX))
    p.goto(c[valid], L_IPV6)


def _gtp(p: DecodeState, idx: np.ndarray) -> None:
    """GTP-U G-PDU (version 1): header, optional fields and extension headers, then IP."""
    ok = p.fits(idx, h.GTP.size)
    p.goto(idx, OUT_UDP)
    idx = idx[ok]
    flags = p.u8(idx)
    gpdu = ((flags >> 5) == 1) & ((flags & 0x10) != 0) & (p.u8(idx, 1) == h.GTP_GPDU)
    idx, flags = idx[gpdu], flags[gpdu]
    size = np.where((flags & h.GTP_OPT_MASK) != 0, 12, 8)
    ext = (flags & h.GTP_EXT_FLAG) != 0
    nxt = np.zeros(len(idx), dtype=np.int64)
    e = np.flatnonzero(ext & p.fits(idx, 12))
    nxt[e] = p.u8(idx[e], 11)
    for _ in range(8):  # extension headers chain: each is length*4 bytes, next type last
        e = np.flatnonzero((nxt != 0) & p.fits(idx, size + 1))
        if not len(e):
            break
        elen = p.a[p.off[idx[e]] + size[e]].astype(np.int64) * 4
        good = (elen > 0) & p.fits(idx[e], size[e] + elen)
        nxt[e] = 0
        eg = e[good]
        nxt[eg] = p.a[p.off[idx[eg]] + size[eg] + elen[good] - 1]
        size[eg] += elen[good]
    p.off[idx] += size
    ok = p.fits(idx, 1)
    idx = idx[ok]
    nibble = p.u8(idx) >> 4
    p.goto(idx[nibble == 4], L_IPV4)
    p.goto(idx[nibble == 6], L_IPV6)


def _vxlan(p: DecodeState, idx: np.ndarray) -> None:
    ok = p.fits(idx, h.VXLAN.size)
    p.goto(idx, OUT_UDP)
    idx = idx[ok]
    idx = idx[(p.u8(idx) & h.VXLAN_I_FLAG) != 0]
    p.off[idx] += h.VXLAN.size
    p.goto(idx, L_ETH)


def _gre(p: DecodeState, idx: np.ndarray) -> None:
    idx = p.need(idx, h.GRE.size)
    flags = p.u16(idx)
    proto = p.u16(idx, 2)
    version = flags & h.GRE_VERSION
    opt = (((flags & (h.GRE_CSUM | 0x4000)) != 0).astype(np.int64) + ((flags & h.GRE_KEY) != 0)
           + ((flags & h.GRE_SEQ) != 0))
    size = np.where(version == 1, 8 + 4 * ((flags & h.GRE_SEQ) != 0) + 4 * ((flags & h.GRE_ACK) != 0),
                    4 + 4 * opt)
    routed = (flags & 0x4000) != 0  # source routing entries: not followed
    p.off[idx] += size
    _ethertype(p, idx, proto, default=OUT_GRE)
    p.goto(idx[(version > 1) | routed], OUT_GRE)


def _tcp(p: DecodeState, idx: np.ndarray) -> None:
    idx = p.need(idx, h.TCP.size)
    p.goto(idx, OUT_TCP)


HANDLERS = {
    L_ETH: _eth, L_VLAN: _vlan, L_MPLS: _mpls, L_MPLS_PAYLOAD: _mpls_payload, L_PPPOE: _pppoe,
    L_PPP: _ppp, L_SLL: _sll, L_SLL2: _sll2, L_NULL: _null, L_LOOP: _loop, L_RAW: _raw,
    L_IPV4: _ipv4, L_IPV6: _ipv6, L_IPEXT: _ipext, L_UDP: _udp, L_TEREDO: _teredo, L_GTP: _gtp,
    L_VXLAN: _vxlan, L_GRE: _gre, L_TCP: _tcp, L_TEREDO_PROBE: _teredo_probe,
}
