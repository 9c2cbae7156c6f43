"""Per-conversation packet summary and probe typing (nmap/masscan wire shapes) for captures."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.detect.rules import Rule, first_match

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
CORE = FIN | SYN | RST | PSH | ACK | URG  # ECE/CWR/NS ignored when typing a probe

#: Shape of the first packet of a conversation, first matching rule wins (one rule a line).
#: Sources: nmap and masscan wire notes in ../shared/reference/detection.md.
#: Columns: core (flags & CORE), window, opts (any TCP option), mss_only, payload (> 0 bytes).
SHAPE_RULES: tuple[Rule, ...] = (
    ("data", lambda f: f["payload"]),                                   # mid-stream data, not a probe
    ("syn_ack", lambda f: f["core"] == SYN | ACK),                      # an answer, never a probe
    ("rst", lambda f: (f["core"] & RST) != 0),                          # an answer or an abort
    ("stateless_syn", lambda f: (f["core"] == SYN) & ~f["opts"]),        # masscan-like: no TCP options
    ("syn_half_open", lambda f: (f["core"] == SYN) & (f["window"] == 1024) & f["mss_only"]),  # nmap -sS
    ("syn", lambda f: f["core"] == SYN),                                # the OS's own SYN
    ("null", lambda f: f["core"] == 0),                                 # nmap -sN
    ("fin", lambda f: f["core"] == FIN),                                # nmap -sF
    ("xmas", lambda f: f["core"] == FIN | PSH | URG),                   # nmap -sX
    ("maimon", lambda f: f["core"] == FIN | ACK),                       # nmap -sM
    ("ack", lambda f: f["core"] == ACK),                                # nmap -sA and -sW (same probe)
    ("odd_flags", lambda f: True),                                      # OS-detection probes, tools
)

SYN_SHAPES = ("stateless_syn", "syn_half_open", "syn")
STATELESS_SHAPES = ("null", "fin", "xmas", "maimon", "ack", "odd_flags")

#: Probe type of a conversation: the first packet's shape refined by what the initiator did
#: after the answer (first match wins).
PROBE_RULES: tuple[Rule, ...] = (
    ("session", lambda f: f["data_seen"]),                                           # real use
    ("connect", lambda f: f["shape"].isin(SYN_SHAPES) & f["answered_sa"] & f["init_acked"]),
    ("syn_half_open", lambda f: f["shape"].isin(SYN_SHAPES) & f["answered_sa"] & f["init_rst"]),
    ("unsolicited", lambda f: f["shape"].isin(("syn_ack", "rst"))),                   # answer, no ask
    ("midstream", lambda f: f["shape"] == "data"),
    ("midstream", lambda f: f["shape"].isin(STATELESS_SHAPES) & ~f["stateless_only"]),
    (lambda f: f["shape"], lambda f: True),                                           # its shape
)

#: Probe family of a probe type (first match wins); "" = not a probe.
FAMILY_RULES: tuple[Rule, ...] = (
    ("syn", lambda f: f["probe"].isin(SYN_SHAPES + ("connect",))),
    ("ack", lambda f: f["probe"] == "ack"),
    ("stateless", lambda f: f["probe"].isin(STATELESS_SHAPES)),
)

#: What the target's answer says about the port, by probe family (nmap's port states).
OUTCOME_RULES: tuple[Rule, ...] = (
    ("open", lambda f: (f["family"] == "syn") & f["answered_sa"]),
    ("closed", lambda f: (f["family"] == "syn") & f["answered_rst"]),
    ("filtered", lambda f: f["family"] == "syn"),
    ("unfiltered", lambda f: (f["family"] == "ack") & f["answered_rst"]),
    ("filtered", lambda f: f["family"] == "ack"),
    ("closed", lambda f: (f["family"] == "stateless") & f["answered_rst"]),
    ("open|filtered", lambda f: f["family"] == "stateless"),
)

#: Is a probe a failed connection attempt? Zeek's is_failed_conn (scan.zeek): no answer,
#: rejected, or answered and then reset by the prober before any data (first match wins).
FAILED_RULES: tuple[Rule, ...] = (
    (False, lambda f: ~f["is_probe"]),
    (False, lambda f: f["data_seen"]),
    (True, lambda f: f["family"] != "syn"),     # stateless probes never open a connection
    (True, lambda f: ~f["answered_sa"]),        # S0, REJ, RSTOS0, SH: no SYN-ACK
    (True, lambda f: f["init_rst"]),            # ShR / ShAR: open port, reset without data
    (False, lambda f: True),                    # handshake answered and left open or closed
)


def conversations(events: pd.DataFrame, packets: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """One row per 4-tuple conversation seen in the packets, oriented by its first packet.

    Columns: conv, init_addr, init_port, peer_addr, peer_port, init_code and peer_code (integer
    address codes, equal codes = equal addresses), first_ts, last_ts, first_frame,
    reply_frame, shape, probe, family, outcome, failed, data_seen, answered_sa, answered_rst,
    init_acked, init_rst, init_pkts, peer_pkts, init_syns, completed, ttl. ``failed``: see
    FAILED_RULES. With ``packets=True`` also returns the packets in time order as ts, frame,
    flags, conv (conversation id), fwd (sent by its initiator), src_code and dst_code (the
    address codes of init_code/peer_code).
    """
    if events.empty:
        if packets:
            empty = pd.DataFrame({c: pd.Series(dtype="int64") for c in ("frame", "flags", "conv", "src_code", "dst_code")})
            return _empty(), empty.assign(ts=pd.Series(dtype="datetime64[ns]"), fwd=pd.Series(dtype=bool))
        return _empty()
    ev = events.reset_index(drop=True)
    # work on numpy columns in time order; only the first packet of each conversation is
    # taken from the frame itself
    ts = ev["ts"].to_numpy()
    order = np.lexsort((ev["frame"].to_numpy(dtype="int64", na_value=0), ts))
    ts = ts[order]
    n = len(ev)

    def col(name: str) -> np.ndarray:
        return ev[name].to_numpy(dtype="int64", na_value=0)[order]

    src_code, dst_code = _address_codes(ev["src_addr"], ev["dst_addr"])
    src_code, dst_code = src_code[order], dst_code[order]
    a = src_code * 65536 + col("src_port")
    b = dst_code * 65536 + col("dst_port")
    # endpoint ids, then one id per unordered endpoint pair (hash factorize on int64 keys)
    ends = pd.factorize(np.concatenate([a, b]))[0]
    n_ends = int(ends.max()) + 1
    ea, eb = ends[:n].astype(np.int64), ends[n:].astype(np.int64)
    conv = pd.factorize(np.minimum(ea, eb) * n_ends + np.maximum(ea, eb))[0].astype(np.int64)
    m = int(conv.max()) + 1
    # packets are in time order, so a conversation's first/last packet is its first/last row
    first_at = np.full(m, n, dtype=np.int64)
    np.minimum.at(first_at, conv, np.arange(n))
    last_at = np.zeros(m, dtype=np.int64)
    np.maximum.at(last_at, conv, np.arange(n))
    fwd = a == a[first_at[conv]]
    rev = ~fwd
    flags = col("flags")
    payload = col("payload_len")
    frame = col("frame")
    core = flags & CORE
    is_sa = (core & (SYN | ACK | RST)) == (SYN | ACK)
    is_rst = (core & RST) != 0
    is_fin = (core & FIN) != 0
    is_syn = (core & (SYN | ACK)) == SYN
    pure_ack = ((core & (SYN | RST | FIN | ACK)) == ACK) & (payload == 0)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(conv[mask], minlength=m)

    # a pure ACK from the initiator after the peer's first SYN-ACK completes the handshake
    sa_at = np.full(m, n, dtype=np.int64)
    np.minimum.at(sa_at, conv[rev & is_sa], np.flatnonzero(rev & is_sa))
    acked = fwd & pure_ack & (np.arange(n) > sa_at[conv])
    reply_at = np.full(m, n, dtype=np.int64)
    np.minimum.at(reply_at, conv[rev], np.flatnonzero(rev))
    out = pd.DataFrame(
        {
            "conv": np.arange(m),
            "init_pkts": count(fwd),
            "peer_pkts": count(rev),
            "answered_sa": count(rev & is_sa) > 0,
            "answered_rst": count(rev & is_rst) > 0,
            "peer_fin": count(rev & is_fin) > 0,
            "init_fin": count(fwd & is_fin) > 0,
            "init_syns": count(fwd & is_syn),
            "init_rst": count(fwd & is_rst) > 0,
            "init_probe_pkts": count(fwd & (payload == 0)),
            "peer_answers": count(rev & (is_rst | is_sa)),
            "data_seen": count(payload > 0) > 0,
            "init_acked": count(acked) > 0,
            "first_ts": ts[first_at],
            "last_ts": ts[last_at],
            "reply_frame": pd.array(np.where(reply_at < n, frame[np.minimum(reply_at, n - 1)], 0), dtype="Int64"),
        }
    )
    out.loc[reply_at >= n, "reply_frame"] = pd.NA
    first = ev.iloc[order[first_at]][[c for c in NEEDED if c in ev.columns]].reset_index(drop=True)
    out["init_code"] = src_code[first_at]
    out["peer_code"] = dst_code[first_at]
    out["first_frame"] = first["frame"].astype("int64").to_numpy()
    out["init_addr"] = _text(first["src_addr"], out.index)
    out["init_port"] = first["src_port"].astype("Int64").to_numpy()
    out["peer_addr"] = _text(first["dst_addr"], out.index)
    out["peer_port"] = first["dst_port"].astype("Int64").to_numpy()
    out["ttl"] = first["ttl"].astype("Int64").to_numpy()
    out["input"] = _text(first["input"], out.index)
    shape_in = pd.DataFrame(
        {
            "core": (first["flags"].fillna(0).astype("int64") & CORE).to_numpy(),
            "window": first["window"].fillna(-1).astype("int64").to_numpy(),
            "opts": _any_option(first),
            "mss_only": _mss_only(first),
            "payload": first["payload_len"].fillna(0).astype("int64").to_numpy() > 0,
        }
    )
    out["shape"] = _text(first_match(shape_in, SHAPE_RULES), out.index)
    # stateless probes: every initiator packet is an empty probe and the peer only answers
    out["stateless_only"] = (out["init_probe_pkts"] == out["init_pkts"]) & (
        out["peer_answers"] == out["peer_pkts"]
    ) & ~out["data_seen"]
    out["probe"] = _text(first_match(out, PROBE_RULES), out.index)
    out["family"] = _text(first_match(out, FAMILY_RULES), out.index)
    out["outcome"] = _text(first_match(out, OUTCOME_RULES), out.index)
    out["is_probe"] = out["family"] != ""
    out["completed"] = out["answered_sa"] & (out["init_acked"] | out["data_seen"])
    out["failed"] = first_match(out, FAILED_RULES, default=False).astype(bool)
    if packets:
        pk = pd.DataFrame({"ts": ts, "frame": frame, "flags": flags, "conv": conv, "fwd": fwd,
                           "src_code": src_code, "dst_code": dst_code})
        return out[COLUMNS], pk
    return out[COLUMNS]


#: Packet columns the conversation table reads.
NEEDED = ("ts", "input", "frame", "src_addr", "src_port", "dst_addr", "dst_port", "flags", "payload_len",
          "window", "wscale", "opt_mss", "opt_sack_perm", "opt_ts", "ttl")


def _address_codes(src: pd.Series, dst: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """One integer code per distinct address over both columns (categorical codes when the
    columns are categorical: the per-row work is a lookup, not a hash of every string)."""
    if isinstance(src.dtype, pd.CategoricalDtype) and isinstance(dst.dtype, pd.CategoricalDtype):
        cats = pd.Index(src.cat.categories.astype(object)).append(pd.Index(dst.cat.categories.astype(object)))
        codes, uniques = pd.factorize(cats)
        na = len(uniques)
        ks, kd = len(src.cat.categories), codes[len(src.cat.categories):]
        smap = np.append(codes[:ks], na)
        dmap = np.append(kd, na)
        return smap[src.cat.codes.to_numpy()].astype(np.int64), dmap[dst.cat.codes.to_numpy()].astype(np.int64)
    codes, _ = pd.factorize(pd.concat([src.astype(object), dst.astype(object)], ignore_index=True),
                            use_na_sentinel=False)
    n = len(src)
    return codes[:n].astype(np.int64), codes[n:].astype(np.int64)


COLUMNS = [
    "conv", "input", "init_addr", "init_port", "peer_addr", "peer_port", "init_code", "peer_code",
    "first_ts", "last_ts",
    "first_frame", "reply_frame", "shape", "probe", "family", "outcome", "is_probe", "failed",
    "data_seen", "answered_sa", "answered_rst", "init_acked", "init_rst", "init_fin", "peer_fin",
    "init_pkts", "peer_pkts", "init_syns", "completed", "ttl",
]


_BOOL = ("is_probe", "failed", "data_seen", "answered_sa", "answered_rst", "init_acked", "init_rst",
         "init_fin", "peer_fin", "completed")


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=bool if c in _BOOL else object) for c in COLUMNS})


def _text(values: object, index: pd.Index) -> pd.Series:
    """A text column kept as Python objects: isin/groupby on them hash, where the default
    Arrow-backed string dtype checks membership value by value."""
    arr = values.astype(object).to_numpy() if isinstance(values, pd.Series) else np.asarray(values, dtype=object)
    return pd.Series(arr, index=index, dtype=object)


def _any_option(first: pd.DataFrame) -> np.ndarray:
    cols = [first[c].fillna(False).astype(bool).to_numpy() for c in ("opt_mss", "opt_sack_perm", "opt_ts")]
    cols.append(first["wscale"].notna().to_numpy())
    return np.logical_or.reduce(cols)


def _mss_only(first: pd.DataFrame) -> np.ndarray:
    mss = first["opt_mss"].fillna(False).astype(bool).to_numpy()
    others = [first[c].fillna(False).astype(bool).to_numpy() for c in ("opt_sack_perm", "opt_ts")]
    others.append(first["wscale"].notna().to_numpy())
    return mss & ~np.logical_or.reduce(others)
