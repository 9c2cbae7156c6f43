"""TCP fields of the decoded packets: ports, flags, lengths, options, addresses, checksum."""

from __future__ import annotations

import numpy as np

from tcpforensics.capture import headers as h
from tcpforensics.capture.checksum import tcp_checksum_ok
from tcpforensics.capture.layers import OUT_MALFORMED, OUT_TCP, DecodeState


def tcp_fields(p: DecodeState) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Row indices of TCP packets and their fields (header contradictions -> malformed)."""
    a = p.a
    t = np.flatnonzero(p.layer == OUT_TCP)
    o = p.off[t]
    word = h.TCP.get(a, o, "off_flags").astype(np.int64)
    hlen = (word >> 12) * 4
    seglen = p.l4_end[t] - o
    payload = seglen - hlen
    bad = (hlen < h.TCP.size) | (payload < 0)
    if bad.any():
        p.layer[t[bad]] = OUT_MALFORMED
        t, o, word, hlen, seglen, payload = t[~bad], o[~bad], word[~bad], hlen[~bad], seglen[~bad], payload[~bad]
    ip = p.ip_off[t]
    v6 = p.ip6[t]
    cols: dict[str, np.ndarray] = {
        "src_port": h.TCP.get(a, o, "sport"),
        "dst_port": h.TCP.get(a, o, "dport"),
        "seq": h.TCP.get(a, o, "seq"),
        "ack": h.TCP.get(a, o, "ack"),
        "flags": (word & h.TH_FLAGS_MASK).astype(np.uint16),
        "window": h.TCP.get(a, o, "win"),
        "payload_len": payload.astype(np.uint32),
        "is_v6": v6,
        "tunnel_depth": p.depth[t],
    }
    cols.update(_options(a, o, o + hlen, p.end[t]))
    cols.update(_addresses(a, ip, v6))
    ttl_at = np.where(v6, ip + h.IPV6.offsets["hlim"], ip + h.IPV4.offsets["ttl"])
    cols["ttl"] = a[ttl_at]
    v4id = h.gather(a, np.where(v6, ip, ip + h.IPV4.offsets["id"]), "H").astype(np.uint32)
    cols["ip_id"] = np.where(v6, p.frag_id[t], v4id).astype(np.uint32)
    cols["ip_id_na"] = v6 & ~p.has_frag_id[t]
    verifiable = (p.l4_end[t] <= p.end[t]) & ~p.partial[t]
    ok = tcp_checksum_ok(a, ip, v6, o, seglen, p.end[t] - o)
    cols["checksum"] = np.where(verifiable, np.where(ok, 0, 1), 2).astype(np.int8)
    return t, cols


def _options(a: np.ndarray, start: np.ndarray, hdr_end: np.ndarray, cap_end: np.ndarray) -> dict[str, np.ndarray]:
    """Presence of MSS, SACK-permitted, timestamps and the window-scale shift, vectorized.

    An option counts as present when its kind and length bytes were captured and fit in the
    TCP header, even if snaplen cut its value (as tshark reports it); the shift needs its byte.
    """
    n = len(start)
    mss = np.zeros(n, dtype=bool)
    sack = np.zeros(n, dtype=bool)
    ts = np.zeros(n, dtype=bool)
    wscale = np.zeros(n, dtype=np.int8)
    has_ws = np.zeros(n, dtype=bool)
    stop = np.minimum(hdr_end, cap_end)
    pos = start + h.TCP.size
    live = np.flatnonzero(pos < stop)
    for _ in range(40):  # at most 40 option bytes: one step per option, all packets at once
        if not len(live):
            break
        ps = pos[live]
        kind = a[ps]
        nop = kind == h.TCPOPT_NOP
        long_ = (kind != h.TCPOPT_EOL) & ~nop & (ps + 1 < stop[live])
        length = np.zeros(len(live), dtype=np.int64)
        length[long_] = a[ps[long_] + 1]
        valid = long_ & (length >= 2) & (ps + length <= hdr_end[live])
        rows = live[valid]
        k, ln, at = kind[valid], length[valid], ps[valid]
        mss[rows[(k == h.TCPOPT_MSS) & (ln == 4)]] = True
        sack[rows[k == h.TCPOPT_SACK_PERM]] = True
        ts[rows[(k == h.TCPOPT_TIMESTAMP) & (ln == 10)]] = True
        w = (k == h.TCPOPT_WSCALE) & (ln == 3) & (at + 2 < cap_end[rows])
        wscale[rows[w]] = np.minimum(a[at[w] + 2], h.TCP_MAX_WSCALE)
        has_ws[rows[w]] = True
        pos[live[nop]] += 1
        pos[rows] += ln
        live = live[nop | valid]
        live = live[pos[live] < stop[live]]
    return {"opt_mss": mss, "opt_sack_perm": sack, "opt_ts": ts, "wscale": wscale, "wscale_na": ~has_ws}


def _addresses(a: np.ndarray, ip: np.ndarray, v6: np.ndarray) -> dict[str, np.ndarray]:
    """Addresses as integer keys: IPv4 in ``lo`` (``hi`` 0), IPv6 as two 64-bit halves."""
    out = {}
    for side, off4, off6 in (("src", 12, 8), ("dst", 16, 24)):
        hi = np.zeros(len(ip), dtype=np.uint64)
        lo = h.gather(a, np.where(v6, ip, ip + off4), "I").astype(np.uint64)
        s6 = np.flatnonzero(v6)
        if len(s6):
            hi[s6] = h.gather(a, ip[s6] + off6, "Q")
            lo[s6] = h.gather(a, ip[s6] + off6 + 8, "Q")
        out[f"{side}_hi"] = hi
        out[f"{side}_lo"] = lo
    return out
