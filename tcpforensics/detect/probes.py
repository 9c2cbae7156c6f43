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

    Columns: conv, init_addr, init_port, peer_addr, peer_port, first_ts, last_ts, first_frame,
    reply_frame, shape, probe, family, outcome, failed, data_seen, answered_sa, answered_rst,
    init_acked, init_rst, init_pkts, peer_pkts, init_syns, completed, ttl. ``failed``: see
    FAILED_RULES. With ``packets=True`` also returns the packets (sorted by time) with their
    ``conv`` id and ``fwd`` (sent by the conversation's initiator).
    """
    if events.empty:
        if packets:
            return _empty(), events.assign(conv=pd.Series(dtype="int64"), fwd=pd.Series(dtype=bool))
        return _empty()
    ev = events.sort_values(["ts", "frame"], kind="stable").reset_index(drop=True)
    src = ev["src_addr"].astype(str).to_numpy()
    dst = ev["dst_addr"].astype(str).to_numpy()
    sport = ev["src_port"].fillna(0).astype("int64").to_numpy()
    dport = ev["dst_port"].fillna(0).astype("int64").to_numpy()
    addrs, inv = np.unique(np.concatenate([src, dst]), return_inverse=True)
    n = len(ev)
    a = inv[:n].astype(np.int64) * 65536 + sport
    b = inv[n:].astype(np.int64) * 65536 + dport
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pair = np.stack([lo, hi], axis=1)
    _, conv = np.unique(pair, axis=0, return_inverse=True)
    conv = conv.ravel()
    first_idx = pd.Series(np.arange(n)).groupby(conv).transform("min").to_numpy()
    fwd = a == a[first_idx]
    flags = ev["flags"].fillna(0).astype("int64").to_numpy()
    payload = ev["payload_len"].fillna(0).astype("int64").to_numpy()
    core = flags & CORE
    is_sa = (core & (SYN | ACK | RST)) == (SYN | ACK)
    is_rst = (core & RST) != 0
    is_fin = (core & FIN) != 0
    is_syn = (core & (SYN | ACK)) == SYN
    pure_ack = ((core & (SYN | RST | FIN | ACK)) == ACK) & (payload == 0)
    probe_like = payload == 0
    frame = ev["frame"].astype("int64").to_numpy()
    ts = ev["ts"].to_numpy()
    per = pd.DataFrame(
        {
            "conv": conv,
            "fwd": fwd,
            "rev": ~fwd,
            "rev_sa": ~fwd & is_sa,
            "rev_rst": ~fwd & is_rst,
            "rev_fin": ~fwd & is_fin,
            "fwd_fin": fwd & is_fin,
            "fwd_syn": fwd & is_syn,
            "fwd_rst": fwd & is_rst,
            "fwd_probe": fwd & probe_like,
            "rev_answer": ~fwd & (is_rst | is_sa),
            "data": payload > 0,
            "ts": ts,
            "frame": frame,
            "reply_frame": np.where(~fwd, frame, np.iinfo(np.int64).max),
        }
    )
    # a pure ACK from the initiator after the peer's SYN-ACK completes the handshake
    sa_ts = per["ts"].where(per["rev_sa"]).groupby(conv).transform("min")
    per["fwd_ack_after_sa"] = fwd & pure_ack & (per["ts"] >= sa_ts).fillna(False).to_numpy()
    g = per.groupby("conv", sort=True)
    agg = g.agg(
        init_pkts=("fwd", "sum"),
        peer_pkts=("rev", "sum"),
        answered_sa=("rev_sa", "any"),
        answered_rst=("rev_rst", "any"),
        peer_fin=("rev_fin", "any"),
        init_fin=("fwd_fin", "any"),
        init_syns=("fwd_syn", "sum"),
        init_rst=("fwd_rst", "any"),
        init_probe_pkts=("fwd_probe", "sum"),
        peer_answers=("rev_answer", "sum"),
        data_seen=("data", "any"),
        init_acked=("fwd_ack_after_sa", "any"),
        first_ts=("ts", "min"),
        last_ts=("ts", "max"),
        first_frame=("frame", "min"),
        reply_frame=("reply_frame", "min"),
    )
    fi = first_idx[np.unique(conv, return_index=True)[1]]
    first = ev.iloc[fi].reset_index(drop=True)
    out = agg.reset_index()
    out["first_frame"] = first["frame"].astype("int64").to_numpy()
    out["reply_frame"] = out["reply_frame"].where(out["reply_frame"] < np.iinfo(np.int64).max)
    out["init_addr"] = first["src_addr"].astype(str).to_numpy()
    out["init_port"] = first["src_port"].astype("Int64").to_numpy()
    out["peer_addr"] = first["dst_addr"].astype(str).to_numpy()
    out["peer_port"] = first["dst_port"].astype("Int64").to_numpy()
    out["ttl"] = first["ttl"].astype("Int64").to_numpy()
    out["input"] = first["input"].astype(str).to_numpy()
    shape_in = pd.DataFrame(
        {
            "core": (first["flags"].fillna(0).astype("int64") & CORE).to_numpy(),
            "window": first["window"].fillna(-1).astype("int64").to_numpy(),
            "opts": _any_option(first),
            "mss_only": _mss_only(first),
            "payload": first["payload_len"].fillna(0).astype("int64").to_numpy() > 0,
        }
    )
    out["shape"] = first_match(shape_in, SHAPE_RULES)
    # stateless probes: every initiator packet is an empty probe and the peer only answers
    out["stateless_only"] = (out["init_probe_pkts"] == out["init_pkts"]) & (
        out["peer_answers"] == out["peer_pkts"]
    ) & ~out["data_seen"]
    out["probe"] = first_match(out, PROBE_RULES)
    out["family"] = first_match(out, FAMILY_RULES)
    out["outcome"] = first_match(out, OUTCOME_RULES)
    out["is_probe"] = out["family"] != ""
    out["completed"] = out["answered_sa"] & (out["init_acked"] | out["data_seen"])
    out["failed"] = first_match(out, FAILED_RULES, default=False).astype(bool)
    if packets:
        return out[COLUMNS], ev.assign(conv=conv, fwd=fwd)
    return out[COLUMNS]


COLUMNS = [
    "conv", "input", "init_addr", "init_port", "peer_addr", "peer_port", "first_ts", "last_ts",
    "first_frame", "reply_frame", "shape", "probe", "family", "outcome", "is_probe", "failed",
    "data_seen", "answered_sa", "answered_rst", "init_acked", "init_rst", "init_fin", "peer_fin",
    "init_pkts", "peer_pkts", "init_syns", "completed", "ttl",
]


_BOOL = ("is_probe", "failed", "data_seen", "answered_sa", "answered_rst", "init_acked", "init_rst",
         "init_fin", "peer_fin", "completed")


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=bool if c in _BOOL else object) for c in COLUMNS})


def _any_option(first: pd.DataFrame) -> np.ndarray:
    cols = [first[c].fillna(False).astype(bool).to_numpy() for c in ("opt_mss", "opt_sack_perm", "opt_ts")]
    cols.append(first["wscale"].notna().to_numpy())
    return np.logical_or.reduce(cols)


def _mss_only(first: pd.DataFrame) -> np.ndarray:
    mss = first["opt_mss"].fillna(False).astype(bool).to_numpy()
    others = [first[c].fillna(False).astype(bool).to_numpy() for c in ("opt_sack_perm", "opt_ts")]
    others.append(first["wscale"].notna().to_numpy())
    return mss & ~np.logical_or.reduce(others)
