"""Per-conversation packet summary and probe typing (nmap/masscan wire shapes) for captures.

A conversation is every packet between two (address, port) endpoints. ``merge_conversations``
gives the result of a whole event table from those of its partitions by 4-tuple
(``reconstruct.partition``). ``ConversationState`` gives it from chunks of any kind (a
4-tuple's packets spread over many), in memory that grows with the 4-tuples, not the packets:
the state of each chunk, merged in any order, finishes into the conversations of the whole
(and its FIN/RST segments); ``conversations`` itself is the finished state of one chunk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.packets import ACK, FIN, PSH, RST, SYN, URG
from tcpforensics.reconstruct.partition import sender_hashes
from tcpforensics.reconstruct.parts import Parts, frame
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
    This is ``ConversationState.of(events).finish()``, with every packet instead of the
    FIN/RST segments.
    """
    if events.empty:
        return (_empty(), _empty_packets()) if packets else _empty()
    ev = events.reset_index(drop=True)
    state, pair_of_row = _partial(ev)
    out, link = _finished(state.pairs)
    if not packets:
        return out
    order = np.lexsort((_ints(ev["frame"]), ev["ts"].to_numpy()))
    return out, _packet_table(link, pair_of_row[order], ev["ts"].to_numpy()[order], _ints(ev["frame"])[order],
                              _ints(ev["flags"])[order])


# --- the mergeable state ----------------------------------------------------------------------

#: Key of "no such packet" where the least (time, frame, row) is kept, and where the greatest is.
_NONE_LOW, _NONE_HIGH = np.iinfo(np.int64).max, np.iinfo(np.int64).min
#: Time key of a packet without a time: after every time (numpy sorts NaT last).
_NAT_KEY = _NONE_LOW - 1
#: Summed per directed pair: packets, SYNs without ACK, packets without payload, answers
#: (SYN-ACKs and RSTs).
_SUMMED = ("pkts", "syns", "empty", "answers")
#: Any per directed pair: a RST, a FIN, a payload.
_ANY = ("rst", "fin", "data")
#: Packets of a directed pair as (time key, frame, row in its chunk): its earliest ("first");
#: its earliest SYN-ACK ("sa", _NONE_LOW when none); its latest pure ACK ("ack", _NONE_HIGH
#: when none).
_PACKETS = ("first", "sa", "ack")
_ORDER = ("tk", "fr", "rw")
_KEYS = (*(f"{p}_{k}" for p in _PACKETS for k in _ORDER), "last_tk")  # and the latest time key
#: ``ConversationState.pairs``: hashes of the sending and the receiving endpoint (address text,
#: port: ``partition.sender_hashes``), the aggregates; then the NEEDED columns of the pair's
#: earliest packet.
PAIR_COLUMNS = ("src_hash", "dst_hash", *_SUMMED, *_ANY, *_KEYS)
#: ``ConversationState.closes``: the FIN and RST segments, with their pair's hashes.
CLOSE_COLUMNS = ("ts", "frame", "flags", "src_hash", "dst_hash")

Columns = dict[str, Any]  # column name -> numpy or pandas array, every column of one length


@dataclass(eq=False)
class ConversationState:
    """What ``conversations`` needs of some of a capture's packets, mergeable with the state of
    any other packets of it: ``merge`` the states of the chunks of any split of an event table
    (rows in any order, a 4-tuple's packets in any chunks), in any order, then ``finish``: that
    is ``conversations(events, packets=True)``, the packet table holding the FIN/RST segments.

    ``pairs`` holds one row per directed endpoint pair (sender, receiver) seen (PAIR_COLUMNS,
    then the NEEDED columns of its earliest packet, categorical ones as object arrays):
    at most two rows a 4-tuple, whatever its packets. ``closes`` holds the FIN and RST
    segments (CLOSE_COLUMNS). Pairs are keyed by 64-bit hashes of the endpoints' address text
    and port, the same in every chunk and process (two endpoints sharing a hash would merge).

    Packets are ordered by (ts, frame) as ``conversations`` orders them, ties by their row
    in their chunk (then by the order of the merged states): exact for any split when
    (ts, frame) tells any two packets apart (one capture's frame numbers do), and for one
    chunk whatever the ties.
    """

    pairs: Columns
    closes: Columns

    def __len__(self) -> int:
        """The directed endpoint pairs held."""
        return len(self.pairs["src_hash"]) if self.pairs else 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the columns (an object column's values counted row by row)."""
        cols = (*self.pairs.values(), *self.closes.values())
        return sum(int(_series(v).memory_usage(index=False, deep=True)) for v in cols)

    @classmethod
    def of(cls, events: pd.DataFrame) -> ConversationState:
        """The state of some packet events (the columns ``conversations`` reads)."""
        return _partial(events.reset_index(drop=True))[0] if len(events) else cls({}, {})

    @classmethod
    def merge(cls, states: Iterable[ConversationState]) -> ConversationState:
        """The state of the packets of all these states (each packet in one of them)."""
        states = [s for s in states if len(s)]
        if len(states) <= 1:
            return states[0] if states else cls({}, {})
        q = _concat([s.pairs for s in states])
        agg, first = _reduced(_pair_ids(q["src_hash"], q["dst_hash"]), q)
        pairs = _pairs(q["src_hash"][first], q["dst_hash"][first], agg,
                       {c: v[first] for c, v in q.items() if c not in PAIR_COLUMNS})
        return cls(pairs, {c: np.concatenate([s.closes[c] for s in states]) for c in CLOSE_COLUMNS})

    def finish(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``conversations(events, packets=True)`` of the packets, the packet table holding
        the FIN and RST segments only."""
        if not len(self):
            return _empty(), _empty_packets()
        out, link = _finished(self.pairs)
        c, n = self.closes, len(self)
        pair = _pair_ids(*(np.concatenate([self.pairs[h], c[h]]) for h in ("src_hash", "dst_hash")))[n:]
        order = np.lexsort((c["frame"], c["ts"]))  # (pairs are distinct: ids 0..n-1; ties: state order)
        return out, _packet_table(link, pair[order], c["ts"][order], c["frame"][order], c["flags"][order])


def _partial(ev: pd.DataFrame) -> tuple[ConversationState, np.ndarray]:
    """The state of an event table (index 0..n-1), and the row of ``pairs`` of each event."""
    t = _time_keys(ev["ts"])
    frame, flags, payload = (_ints(ev[c]) for c in ("frame", "flags", "payload_len"))
    src, dst = _value_codes(ev["src_addr"], ev["dst_addr"])
    pair = _pair_ids(src * 65536 + _ints(ev["src_port"]), dst * 65536 + _ints(ev["dst_port"]))
    core = flags & CORE
    is_sa = (core & (SYN | ACK | RST)) == (SYN | ACK)
    is_rst = (core & RST) != 0
    pure_ack = ((core & (SYN | RST | FIN | ACK)) == ACK) & (payload == 0)
    order = (t, frame, np.arange(len(ev)))
    each = {  # every packet as the state of a pair of its own
        "pkts": np.ones(len(ev), dtype=np.int64), "syns": (core & (SYN | ACK)) == SYN, "empty": payload == 0,
        "answers": is_rst | is_sa, "rst": is_rst, "fin": (core & FIN) != 0, "data": payload > 0,
        **{f"first_{k}": v for k, v in zip(_ORDER, order, strict=True)},
        **{f"sa_{k}": np.where(is_sa, v, _NONE_LOW) for k, v in zip(_ORDER, order, strict=True)},
        **{f"ack_{k}": np.where(pure_ack, v, _NONE_HIGH) for k, v in zip(_ORDER, order, strict=True)},
        "last_tk": t,
    }
    agg, first = _reduced(pair, each)
    firsts = _objects({c: ev[c].array[first] for c in NEEDED if c in ev.columns})
    ends = sender_hashes(_frame({"src_addr": _concat_arrays([firsts["src_addr"], firsts["dst_addr"]]),
                                 "src_port": _concat_arrays([firsts["src_port"], firsts["dst_port"]])}))
    sent = ends[: len(first)], ends[len(first):]
    closing = (flags & (FIN | RST)) != 0
    closes = {"ts": ev["ts"].to_numpy()[closing], "frame": frame[closing], "flags": flags[closing],
              "src_hash": sent[0][pair[closing]], "dst_hash": sent[1][pair[closing]]}
    return ConversationState(_pairs(*sent, agg, firsts), closes), pair


def _reduced(pair: np.ndarray, cols: Columns) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Pair states (``cols``: the aggregate columns, a row each) merged by ``pair`` (ids
    0..m-1); and per pair the row of its earliest packet (the first of equal ones)."""
    m = int(pair.max()) + 1
    out, rows = {}, {}
    for c in _SUMMED:
        out[c] = np.zeros(m, dtype=np.int64)
        np.add.at(out[c], pair, cols[c])
    for c in _ANY:
        out[c] = np.bincount(pair[cols[c]], minlength=m) > 0
    for p in _PACKETS:
        keys = [cols[f"{p}_{o}"] for o in _ORDER]
        rows[p] = _first_least(pair, m, [~v for v in keys] if p == "ack" else keys)  # (~ reverses the order)
        out |= {f"{p}_{o}": v[rows[p]] for o, v in zip(_ORDER, keys, strict=True)}
    out["last_tk"] = np.full(m, _NONE_HIGH)
    np.maximum.at(out["last_tk"], pair, cols["last_tk"])
    return out, rows["first"]


def _first_least(group: np.ndarray, m: int, keys: list[np.ndarray]) -> np.ndarray:
    """Per group 0..m-1 (each with rows): its first row holding the least ``keys`` (compared
    in order, as tuples)."""
    on = np.ones(len(group), dtype=bool)
    for key in keys:
        least = np.full(m, _NONE_LOW)
        np.minimum.at(least, group[on], key[on])
        on &= key == least[group]
    at = np.full(m, len(group))
    np.minimum.at(at, group[on], np.flatnonzero(on))
    return at


def _pairs(src_hash: np.ndarray, dst_hash: np.ndarray, agg: dict[str, np.ndarray], firsts: Columns) -> Columns:
    """The ``pairs`` columns, in order."""
    return {"src_hash": src_hash, "dst_hash": dst_hash, **{c: agg[c] for c in PAIR_COLUMNS[2:]}, **firsts}


def _objects(cols: Columns) -> Columns:
    """``cols`` with categorical columns as object arrays of the values (NA: None, as ``_text``
    gives them), converting only the values used (a chunk of a capture carries its whole
    address book)."""
    out = dict(cols)
    for c, v in cols.items():
        if isinstance(v, pd.Categorical):
            used = np.flatnonzero(np.bincount(v.codes + 1, minlength=len(v.categories) + 1)[1:])
            at = np.full(len(v.categories) + 1, len(used))  # (code -1, NA: the appended None)
            at[used] = np.arange(len(used))
            out[c] = np.append(v.categories.take(used).to_numpy(dtype=object), None)[at[v.codes]]
    return out


def _finished(q: Columns) -> tuple[pd.DataFrame, tuple[np.ndarray, ...]]:
    """The conversations of the ``pairs`` columns, and how the pairs map on them: per pair,
    its conversation and whether it is the initiator's; per conversation, its address codes."""
    order = np.lexsort([q[f"first_{k}"] for k in _ORDER[::-1]])  # (stable)
    src, dst = q["src_hash"][order], q["dst_hash"][order]
    conv = _pair_ids(np.minimum(src, dst), np.maximum(src, dst))  # numbered by first packet
    first = np.r_[True, conv[1:] > np.maximum.accumulate(conv)[:-1]]  # its earliest pair: the initiator's
    init = order[first]
    peer = np.full(len(init), -1)
    peer[conv[~first]] = order[~first]
    has_peer = peer >= 0

    def of(rows: np.ndarray, c: str, none: object = None) -> np.ndarray:
        v = np.asarray(q[c][rows])
        return v if none is None else np.where(has_peer, v, none)

    reply_frame = pd.array(of(peer, "first_fr", 0), dtype="Int64")
    reply_frame[~has_peer] = pd.NA
    last_tk = np.maximum(of(init, "last_tk"), of(peer, "last_tk", _NONE_HIGH))
    init_code, peer_code = _address_codes(_series(q["src_addr"]), _series(q["dst_addr"]), init)
    out = pd.DataFrame(
        {
            "conv": np.arange(len(init)),
            "init_pkts": of(init, "pkts"),
            "peer_pkts": of(peer, "pkts", 0),
            "answered_sa": of(peer, "sa_tk", _NONE_LOW) != _NONE_LOW,
            "answered_rst": of(peer, "rst", False),
            "peer_fin": of(peer, "fin", False),
            "init_fin": of(init, "fin"),
            "init_syns": of(init, "syns"),
            "init_rst": of(init, "rst"),
            "init_probe_pkts": of(init, "empty"),
            "peer_answers": of(peer, "answers", 0),
            "data_seen": of(init, "data") | of(peer, "data", False),
            # a pure ACK from the initiator after the peer's first SYN-ACK completes the handshake
            "init_acked": _after([of(init, f"ack_{k}") for k in _ORDER],
                                 [of(peer, f"sa_{k}", _NONE_LOW) for k in _ORDER]),
            "first_ts": of(init, "ts"),
            "last_ts": _times(last_tk, q["ts"].dtype),
            "reply_frame": reply_frame,
            "init_code": init_code,
            "peer_code": peer_code,
        }
    )
    firsts = _frame({c: v[init] for c, v in q.items() if c not in PAIR_COLUMNS})
    conv_of, fwd_of = np.empty_like(conv), np.empty_like(first)
    conv_of[order], fwd_of[order] = conv, first
    return _typed(_described(out, firsts))[COLUMNS], (conv_of, fwd_of, init_code, peer_code)


def _after(a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
    """Tuple ``a`` > tuple ``b``, element-wise."""
    after, tied = np.zeros(len(a[0]), dtype=bool), np.ones(len(a[0]), dtype=bool)
    for x, y in zip(a, b, strict=True):
        after |= tied & (x > y)
        tied &= x == y
    return after


def _packet_table(link: tuple[np.ndarray, ...], pair: np.ndarray, ts: np.ndarray, frame: np.ndarray,
                  flags: np.ndarray) -> pd.DataFrame:
    """PACKET_COLUMNS of packets given by their row of ``pairs`` (``link``: see _finished)."""
    conv_of, fwd_of, init_code, peer_code = link
    conv, fwd = conv_of[pair], fwd_of[pair]
    own, other = init_code[conv], peer_code[conv]
    return pd.DataFrame({"ts": ts, "frame": frame, "flags": flags, "conv": conv, "fwd": fwd,
                         "src_code": np.where(fwd, own, other), "dst_code": np.where(fwd, other, own)})


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
    pairs = [(conv, pk) for conv, pk in parts if len(conv)]
    return merge_conversation_parts(Parts.of([c for c, _ in pairs]), Parts.of([p for _, p in pairs]))


def merge_conversation_parts(convs: Parts, pks: Parts) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`merge_conversations` of the partitions' conversations and packet tables, part
    ``i`` of ``pks`` belonging to part ``i`` of ``convs``; built a column at a time."""
    if not convs.rows:
        return _empty(), _empty_packets()
    conv_bounds = np.cumsum(convs.lengths)[:-1]
    first_ts, first_frame = convs.column("first_ts"), convs.column("first_frame").astype(np.int64)
    new_id = np.empty(len(first_ts), dtype=np.int64)
    new_id[np.lexsort((first_frame, first_ts))] = np.arange(len(first_ts))
    shared, texts = convs.text_codes(["init_addr", "peer_addr"])  # (one code per distinct address)
    addresses = dict(zip(("init_addr", "peer_addr"), texts, strict=True))
    codes = _merged_codes(*(np.split(np.asarray(a), conv_bounds) for a in (
        convs.column("init_code"), convs.column("peer_code"), addresses["init_addr"], addresses["peer_addr"],
        first_ts, first_frame)))
    del first_ts, first_frame
    order = np.empty_like(new_id)
    order[new_id] = np.arange(len(new_id))  # row of the merged table -> row of the parts

    def conv_column(c: str) -> Any:
        if c == "conv":
            return np.arange(len(order), dtype=np.int64)
        if c in addresses:
            return shared[addresses.pop(c)[order]]
        values = convs.column(c)
        if c in ("init_code", "peer_code"):
            values = _recoded(values, convs.lengths, codes)
        return values[order] if isinstance(values, np.ndarray) else values.take(order)

    conv = frame({c: conv_column(c) for c in convs.columns})
    return conv, _merged_packets(pks, np.split(new_id, conv_bounds), codes)


def _merged_packets(pks: Parts, ids: list[np.ndarray], codes: list[np.ndarray]) -> pd.DataFrame:
    """The parts' packet tables as one, in (ts, frame) order, with merged conversation ids and
    address codes."""
    if not pks.rows:
        return _empty_packets()
    recode = {"conv": ids, "src_code": codes, "dst_code": codes}
    ts, frames = pks.column("ts"), pks.column("frame")
    order = np.lexsort((frames, ts))

    def column(c: str) -> Any:
        values = ts if c == "ts" else frames if c == "frame" else pks.column(c)
        if c in recode:
            values = _recoded(values, pks.lengths, recode[c])
        return values[order] if isinstance(values, np.ndarray) else values.take(order)

    return frame({c: column(c) for c in pks.columns})


def _recoded(values: np.ndarray, lengths: list[int], maps: list[np.ndarray]) -> np.ndarray:
    """Each part's stretch of ``values`` through that part's map."""
    pieces = np.split(np.asarray(values), np.cumsum(lengths)[:-1])
    return np.concatenate([m[v] for m, v in zip(maps, pieces, strict=True)])


def _merged_codes(init_code: list, peer_code: list, init_addr: list, peer_addr: list,
                  first_ts: list, first_frame: list) -> list[np.ndarray]:
    """Per part: new code of each address code, numbered as ``_address_codes`` numbers the
    whole (first appearance by ts, frame, source before destination; equal address = one code).
    Each argument holds one array per part."""
    found = [_first_appearances(*cols) for cols in zip(init_code, peer_code, init_addr, peer_addr,
                                                        first_ts, first_frame, strict=True)]
    addr, ts, frame, side = (np.concatenate(col) for col in zip(*found, strict=True))
    same = pd.factorize(addr if addr.dtype.kind in "iu" else pd.Series(addr, dtype=object), use_na_sentinel=False)[0]
    order = np.lexsort((side, frame, ts))
    new = np.empty(len(same), dtype=np.int64)
    new[order] = pd.factorize(same[order])[0]
    return np.split(new, np.cumsum([len(f[0]) for f in found])[:-1])


def _first_appearances(init_code: np.ndarray, peer_code: np.ndarray, init_addr: np.ndarray, peer_addr: np.ndarray,
                       first_ts: np.ndarray, first_frame: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per address code of one part: the address, and the ts, frame and side (0 source,
    1 destination) of the packet where it first appears. That packet is the first packet of a
    conversation holding the address (each packet of a conversation holds both its
    addresses), so the part's conversations alone tell it."""
    if not len(init_code):
        return init_addr[:0], first_ts[:0], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    k = int(max(init_code.max(), peer_code.max())) + 1
    addr = np.empty(k, dtype=init_addr.dtype)
    addr[peer_code] = peer_addr
    addr[init_code] = init_addr
    code = np.concatenate([init_code, peer_code])
    ts = np.tile(first_ts, 2)
    frame = np.tile(first_frame, 2)
    side = np.repeat(np.array([0, 1], dtype=np.int64), len(init_code))
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
    hash of every string; one set of categories for both: the codes themselves)."""
    if isinstance(src.dtype, pd.CategoricalDtype) and src.dtype == dst.dtype:
        na = len(src.cat.categories)
        return tuple(np.where(c < 0, na, c).astype(np.int64) for c in (src.cat.codes.to_numpy(), dst.cat.codes.to_numpy()))
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


def _pair_ids(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One int64 id per distinct (a, b) pair, numbered in order of first appearance."""
    codes, uniques = pd.factorize(np.concatenate([a, b]))
    n = len(a)
    return pd.factorize(codes[:n].astype(np.int64) * len(uniques) + codes[n:])[0].astype(np.int64)


def _concat(parts: list[Columns]) -> Columns:
    """The rows of all these columns."""
    return {c: _concat_arrays([p[c] for p in parts]) for c in parts[0]}


def _concat_arrays(arrays: list) -> Any:
    """One array of these (numpy's, or pandas' of their dtype)."""
    if all(isinstance(a, np.ndarray) for a in arrays):
        return np.concatenate(arrays)
    return pd.concat([_series(a) for a in arrays], ignore_index=True).array


def _series(values: Any) -> pd.Series:
    """A column as a Series (an object array stays one: no string inference)."""
    return pd.Series(values, dtype=object if isinstance(values, np.ndarray) and values.dtype.kind == "O" else None)


def _frame(cols: Columns) -> pd.DataFrame:
    return pd.DataFrame({c: _series(v) for c, v in cols.items()})


def _time_keys(ts: pd.Series) -> np.ndarray:
    """int64 ns of each time (no time: _NAT_KEY)."""
    t = ts.to_numpy(dtype="datetime64[ns]").view(np.int64)
    return np.where(t == np.iinfo(np.int64).min, _NAT_KEY, t)


def _times(keys: np.ndarray, dtype: object) -> np.ndarray:
    """``_time_keys`` back to times of ``dtype``."""
    return np.where(keys == _NAT_KEY, np.iinfo(np.int64).min, keys).view("datetime64[ns]").astype(dtype)


def _ints(col: pd.Series) -> np.ndarray:
    return col.to_numpy(dtype="int64", na_value=0)
