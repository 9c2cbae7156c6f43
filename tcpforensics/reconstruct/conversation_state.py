"""The mergeable state of conversations (``ConversationState``): what ``conversations`` needs of
some of a capture's packets, one row per directed endpoint pair whatever its packets, merged
in any order and finished into the conversation table and its FIN/RST segments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.conversation_columns import (
    COLUMNS,
    NEEDED,
    Columns,
    _address_codes,
    _concat,
    _concat_arrays,
    _empty,
    _empty_packets,
    _frame,
    _ints,
    _pair_ids,
    _series,
    _value_codes,
    compact,
)
from tcpforensics.reconstruct.conversation_rules import CORE, _described, _typed
from tcpforensics.reconstruct.packets import ACK, FIN, RST, SYN
from tcpforensics.reconstruct.partition_hashes import sender_hashes

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
#: port: ``partition_hashes.sender_hashes``), the aggregates; then the NEEDED columns of the pair's
#: earliest packet.
PAIR_COLUMNS = ("src_hash", "dst_hash", *_SUMMED, *_ANY, *_KEYS)
#: ``ConversationState.closes``: the FIN and RST segments, with their pair's hashes.
CLOSE_COLUMNS = ("ts", "frame", "flags", "src_hash", "dst_hash")


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
    return compact(_typed(_described(out, firsts))[COLUMNS]), (conv_of, fwd_of, init_code, peer_code)


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


def _time_keys(ts: pd.Series) -> np.ndarray:
    """int64 ns of each time (no time: _NAT_KEY)."""
    t = ts.to_numpy(dtype="datetime64[ns]").view(np.int64)
    return np.where(t == np.iinfo(np.int64).min, _NAT_KEY, t)


def _times(keys: np.ndarray, dtype: object) -> np.ndarray:
    """``_time_keys`` back to times of ``dtype``."""
    return np.where(keys == _NAT_KEY, np.iinfo(np.int64).min, keys).view("datetime64[ns]").astype(dtype)
