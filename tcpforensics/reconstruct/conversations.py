"""Per-conversation packet summary and probe typing (nmap/masscan wire shapes) for captures.

A conversation is every packet between two (address, port) endpoints. ``merge_conversations``
gives the result of a whole event table from those of its partitions by 4-tuple
(``reconstruct.partition``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.packets import ACK, FIN, PSH, RST, SYN, URG
from tcpforensics.reconstruct.rules import Rule, first_match

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

    Packets are taken in (ts, frame) order; conversations are numbered in the order of their
    first packet, and addresses in the order they first appear (source before destination).
    """
    if events.empty:
        return (_empty(), _empty_packets()) if packets else _empty()
    ev = events.reset_index(drop=True)
    order = np.lexsort((ev["frame"].to_numpy(dtype="int64", na_value=0), ev["ts"].to_numpy()))
    pk = _time_ordered(ev, order)
    # only the first packet of each conversation is taken from the frame itself
    first = ev.iloc[order[pk["first_at"]]][[c for c in NEEDED if c in ev.columns]].reset_index(drop=True)
    out = _typed(_described(_counted(pk), first))
    if packets:
        return out[COLUMNS], pd.DataFrame({c: pk[c] for c in PACKET_COLUMNS})
    return out[COLUMNS]


def _time_ordered(ev: pd.DataFrame, order: np.ndarray) -> dict[str, np.ndarray]:
    """Packet columns in time order, with conversation ids (``conv``), the initiator's
    packets (``fwd``) and each conversation's first and last row (``first_at``, ``last_at``)."""

    def col(name: str) -> np.ndarray:
        return ev[name].to_numpy(dtype="int64", na_value=0)[order]

    src_code, dst_code = _address_codes(ev["src_addr"], ev["dst_addr"], order)
    a = src_code * 65536 + col("src_port")
    b = dst_code * 65536 + col("dst_port")
    # endpoint ids, then one id per unordered endpoint pair (hash factorize on int64 keys)
    n = len(a)
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
    return {"ts": ev["ts"].to_numpy()[order], "frame": col("frame"), "flags": col("flags"),
            "payload": col("payload_len"), "conv": conv, "fwd": a == a[first_at[conv]],
            "src_code": src_code, "dst_code": dst_code, "first_at": first_at, "last_at": last_at}


def _counted(pk: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per conversation: packet counts by kind and direction, times, reply frame, codes."""
    conv, fwd, payload, first_at = pk["conv"], pk["fwd"], pk["payload"], pk["first_at"]
    n, m = len(conv), len(first_at)
    rev = ~fwd
    core = pk["flags"] & CORE
    is_sa = (core & (SYN | ACK | RST)) == (SYN | ACK)
    is_rst = (core & RST) != 0
    is_fin = (core & FIN) != 0
    is_syn = (core & (SYN | ACK)) == SYN
    pure_ack = ((core & (SYN | RST | FIN | ACK)) == ACK) & (payload == 0)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(conv[mask], minlength=m)

    # a pure ACK from the initiator after the peer's first SYN-ACK completes the handshake
    acked = fwd & pure_ack & (np.arange(n) > _first_row(conv, rev & is_sa, m)[conv])
    reply_at = _first_row(conv, rev, m)
    reply_frame = pd.array(np.where(reply_at < n, pk["frame"][np.minimum(reply_at, n - 1)], 0), dtype="Int64")
    reply_frame[reply_at >= n] = pd.NA
    return pd.DataFrame(
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
            "first_ts": pk["ts"][first_at],
            "last_ts": pk["ts"][pk["last_at"]],
            "reply_frame": reply_frame,
            "init_code": pk["src_code"][first_at],
            "peer_code": pk["dst_code"][first_at],
        }
    )


def _first_row(conv: np.ndarray, mask: np.ndarray, m: int) -> np.ndarray:
    """Per conversation: its first row where ``mask`` holds (``len(conv)`` when none)."""
    at = np.full(m, len(conv), dtype=np.int64)
    np.minimum.at(at, conv[mask], np.flatnonzero(mask))
    return at


def _described(out: pd.DataFrame, first: pd.DataFrame) -> pd.DataFrame:
    """``out`` with the endpoints, input and wire shape of each conversation's first packet."""
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
    return out


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    """``out`` with probe type, family, outcome, completion and failure (the rule tables)."""
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
    return out


def merge_conversations(parts: Iterable[tuple[pd.DataFrame, pd.DataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``conversations(events, packets=True)`` of a whole event table, from the results of its
    partitions (each 4-tuple wholly inside one: ``reconstruct.partition``).

    Conversations are renumbered by their first packet's (ts, frame), address codes by the
    first (ts, frame, source/destination) at which each address appears, rows put in the
    order the whole gives. Exact when (ts, frame) tells any two packets apart (one capture's
    frame numbers do); otherwise ties keep the order of the parts.
    """
    parts = [(conv, pk) for conv, pk in parts if len(conv)]
    if not parts:
        return _empty(), _empty_packets()
    codes = _merged_codes(parts)
    ids = _merged_ids([conv for conv, _ in parts])
    convs = [conv.assign(conv=i, init_code=c[conv["init_code"].to_numpy()], peer_code=c[conv["peer_code"].to_numpy()])
             for (conv, _), i, c in zip(parts, ids, codes, strict=True)]
    pks = [pk.assign(conv=i[pk["conv"].to_numpy()], src_code=c[pk["src_code"].to_numpy()],
                     dst_code=c[pk["dst_code"].to_numpy()])
           for (_, pk), i, c in zip(parts, ids, codes, strict=True)]
    conv = pd.concat(convs, ignore_index=True)
    pk = pd.concat(pks, ignore_index=True)
    conv = conv.take(np.argsort(conv["conv"].to_numpy(), kind="stable")).reset_index(drop=True)
    order = np.lexsort((pk["frame"].to_numpy(), pk["ts"].to_numpy()))
    return conv, pk.take(order).reset_index(drop=True)


def _merged_ids(convs: list[pd.DataFrame]) -> list[np.ndarray]:
    """Per part: new id of each conversation id, by (first_ts, first_frame) over all parts."""
    ts = np.concatenate([c["first_ts"].to_numpy() for c in convs])
    frame = np.concatenate([c["first_frame"].to_numpy(dtype=np.int64) for c in convs])
    new = np.empty(len(ts), dtype=np.int64)
    new[np.lexsort((frame, ts))] = np.arange(len(ts))
    bounds = np.cumsum([len(c) for c in convs])[:-1]
    # a part's rows are in id order (conv = 0, 1, ...): row position = old id
    return np.split(new, bounds)


def _merged_codes(parts: list[tuple[pd.DataFrame, pd.DataFrame]]) -> list[np.ndarray]:
    """Per part: new code of each address code, numbered as ``_address_codes`` numbers the
    whole (first appearance by ts, frame, source before destination; equal address = one code)."""
    found = [_first_appearances(conv, pk) for conv, pk in parts]
    addr, ts, frame, side = (np.concatenate(col) for col in zip(*found, strict=True))
    same = pd.factorize(pd.Series(addr, dtype=object), use_na_sentinel=False)[0]
    order = np.lexsort((side, frame, ts))
    new = np.empty(len(same), dtype=np.int64)
    new[order] = pd.factorize(same[order])[0]
    return np.split(new, np.cumsum([len(f[0]) for f in found])[:-1])


def _first_appearances(conv: pd.DataFrame, pk: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Per address code of one part: the address, and the ts, frame and side (0 source,
    1 destination) of the packet where it first appears. That packet is the first packet of a
    conversation holding the address (each packet of a conversation holds both its
    addresses), so the conversations alone tell it: ``pk`` may be any subset of the packets."""
    k = int(max(conv["init_code"].max(), conv["peer_code"].max())) + 1
    addr = np.empty(k, dtype=object)
    addr[conv["peer_code"].to_numpy()] = conv["peer_addr"].to_numpy(dtype=object)
    addr[conv["init_code"].to_numpy()] = conv["init_addr"].to_numpy(dtype=object)
    code = np.concatenate([conv["init_code"].to_numpy(), conv["peer_code"].to_numpy()])
    ts = np.tile(conv["first_ts"].to_numpy(), 2)
    frame = np.tile(conv["first_frame"].to_numpy(dtype=np.int64), 2)
    side = np.repeat(np.array([0, 1], dtype=np.int64), len(conv))
    order = np.lexsort((side, frame, ts, code))
    first = order[np.r_[True, code[order][1:] != code[order][:-1]]]  # earliest row of each code
    at = np.empty(k, dtype=np.int64)
    at[code[first]] = first
    return addr, ts[at], frame[at], side[at]


#: Packet columns the conversation table reads.
NEEDED = ("ts", "input", "frame", "src_addr", "src_port", "dst_addr", "dst_port", "flags", "payload_len",
          "window", "wscale", "opt_mss", "opt_sack_perm", "opt_ts", "ttl")


def _address_codes(src: pd.Series, dst: pd.Series, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Address codes of the packets in ``order``: one per distinct address of both columns
    (NA one more), numbered as the addresses first appear in that order, a packet's source
    before its destination (what ``merge_conversations`` rebuilds from partitions)."""
    src_any, dst_any = _value_codes(src, dst)
    both = np.empty(2 * len(order), dtype=np.int64)
    both[0::2] = src_any[order]
    both[1::2] = dst_any[order]
    codes = pd.factorize(both)[0].astype(np.int64)
    return codes[0::2].copy(), codes[1::2].copy()


def _value_codes(src: pd.Series, dst: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """One integer code per distinct address over both columns, in no particular order
    (categorical codes when the columns are categorical: the per-row work is a lookup, not a
    hash of every string)."""
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


#: Columns of the packets table (``packets=True``).
PACKET_COLUMNS = ["ts", "frame", "flags", "conv", "fwd", "src_code", "dst_code"]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=bool if c in _BOOL else object) for c in COLUMNS})


def _empty_packets() -> pd.DataFrame:
    dtypes = {"ts": "datetime64[ns]", "fwd": bool}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "int64")) for c in PACKET_COLUMNS})


def _text(values: object, index: pd.Index) -> pd.Series:
    """A text column kept as Python objects: isin/groupby on them hash, where the default
    Arrow-backed string dtype checks membership value by value. A categorical's rows share one
    object per category (8 bytes a row, not a string each)."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        shared = np.append(values.cat.categories.to_numpy(dtype=object), None)
        arr = shared[values.cat.codes.to_numpy()]  # code -1 (NA) takes the appended None
    else:
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
