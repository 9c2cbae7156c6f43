"""ConversationState: conversations of a capture from the states of any split of its packets.

The states of any chunks of a packet event table (consecutive, shuffled, dealt at random;
a 4-tuple's packets over many chunks), merged in any order or as a tree, finish into exactly
``conversations(whole, packets=True)``, the packet table cut to the FIN/RST segments.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tcpforensics
from tcpforensics import schema
from tcpforensics.reconstruct.conversation_rules import PROBE_RULES
from tcpforensics.reconstruct.conversation_state import ConversationState
from tcpforensics.reconstruct.conversations import conversations
from tcpforensics.reconstruct.evidence import tcp_packets
from tcpforensics.reconstruct.packets import FIN, RST
from tcpforensics.reconstruct.partition_hashes import ADDRESS_COLUMNS
from tcpforensics.reconstruct.rules import first_match
from tests.conftest import FIXTURES, corpus_files, corpus_path
from tests.reconstruct.mixed import mixed_fixtures

CAPTURES = corpus_files("*.pcap*", "pcap", "zeek") + corpus_files("*.pcap*", "pcap", "labeled")
CHUNK = 97
DEALT = 5


def _want(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``conversations(events, packets=True)``, packets cut to the FIN/RST segments."""
    conv, pk = conversations(events, packets=True)
    return conv, pk[(pk["flags"].to_numpy() & (FIN | RST)) != 0].reset_index(drop=True)


def _assert_finishes_to(state: ConversationState, want: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    for got, expected in zip(state.finish(), want, strict=True):
        pd.testing.assert_frame_equal(got, expected)


def _tree(states: list[ConversationState]) -> ConversationState:
    """Merged in pairs, then pairs of those merges, and so on."""
    while len(states) > 1:
        states = [ConversationState.merge(states[i:i + 2]) for i in range(0, len(states), 2)]
    return states[0] if states else ConversationState.merge([])


def _folded(states: list[ConversationState]) -> ConversationState:
    """Merged one at a time into a running state."""
    merged = ConversationState.merge([])
    for s in states:
        merged = ConversationState.merge([merged, s])
    return merged


def _assert_merges_to(states: list[ConversationState], want: tuple[pd.DataFrame, pd.DataFrame],
                      rng: random.Random, fold: bool = False) -> None:
    """In the given order, in a random order (at once, as a tree and, with ``fold``, one at a
    time): each merge finishes to ``want`` and holds one row per directed endpoint pair."""
    shuffled = states.copy()
    rng.shuffle(shuffled)
    merges = [ConversationState.merge(states), ConversationState.merge(shuffled), _tree(shuffled)]
    if fold:
        merges.append(_folded(shuffled))
    for merged in merges:
        _assert_finishes_to(merged, want)
        assert len(merged) == len(merges[0])
        assert all(len(v) == len(merged) for v in merged.pairs.values())


def _split(events: pd.DataFrame, part: np.ndarray, parts: int) -> list[pd.DataFrame]:
    return [events[part == p] for p in range(parts)]


# --- the corpus -------------------------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize("path", CAPTURES, ids=[f"{p.parent.name}/{p.name}" for p in CAPTURES])
def test_any_split_of_a_capture_merges_to_the_whole(path: Path) -> None:
    corpus_path("pcap")
    whole = tcp_packets(tcpforensics.read(str(path)))
    want = _want(whole)
    whole_state = ConversationState.of(whole)
    _assert_finishes_to(whole_state, want)
    assert len(whole_state) <= 2 * len(want[0])
    rng = random.Random(path.name)
    # consecutive chunks of CHUNK rows: merged in file order, shuffled, as a tree
    consecutive = [ConversationState.of(whole.iloc[i:i + CHUNK]) for i in range(0, len(whole), CHUNK)]
    _assert_merges_to(consecutive, want, rng)
    # rows dealt to DEALT chunks at random: every 4-tuple spread over them
    part = np.random.default_rng(rng.randrange(1 << 32)).integers(0, DEALT, len(whole))
    dealt = [ConversationState.of(chunk) for chunk in _split(whole, part, DEALT)]
    _assert_merges_to(dealt, want, rng, fold=True)
    if len(whole):
        assert len(ConversationState.merge(dealt)) == len(whole_state)


# --- crafted captures -------------------------------------------------------------------------


def _events(name: str) -> pd.DataFrame:
    return tcpforensics.read(str(FIXTURES / "flows" / name))


@settings(max_examples=30, deadline=None)
@given(data=st.data(), parts=st.integers(1, 9), merge=st.sampled_from(["flat", "tree", "fold"]))
def test_any_split_of_the_flow_fixtures_merges_to_the_whole(data: st.DataObject, parts: int, merge: str) -> None:
    whole = mixed_fixtures()
    part = np.array(data.draw(st.lists(st.integers(0, parts - 1), min_size=len(whole), max_size=len(whole))))
    chunks = _split(whole, part, parts)
    # chunks as the capture reader gives them (their own addresses as categories), or plain text
    kinds = data.draw(st.lists(st.sampled_from(["whole", "own", "text"]), min_size=parts, max_size=parts))
    chunks = [c if k == "whole" else
              c.assign(**{a: c[a].cat.remove_unused_categories() for a in ADDRESS_COLUMNS}) if k == "own" else
              c.astype({a: object for a in (*ADDRESS_COLUMNS, "input")})
              for c, k in zip(chunks, kinds, strict=True)]
    states = [ConversationState.of(c) for c in chunks]
    states = [states[i] for i in data.draw(st.permutations(range(parts)))]
    merged = {"flat": ConversationState.merge, "tree": _tree, "fold": _folded}[merge](states)
    _assert_finishes_to(merged, _want(whole))


#: Endpoint pairs of the random packets: conversations sharing a server, and an endpoint
#: talking to itself (both directions one).
PAIRS = ((("10.0.0.1", 40000), ("10.0.0.2", 80)), (("10.0.0.1", 40001), ("10.0.0.2", 80)),
         (("10.0.0.3", 40000), ("10.0.0.2", 80)), (("10.0.0.2", 80), ("10.0.0.1", 40002)),
         (("2001:db8::1", 80), ("2001:db8::2", 80)), (("2001:db8::1", 80), ("2001:db8::1", 80)))
FLAGS = (0x02, 0x12, 0x10, 0x11, 0x04, 0x14, 0x16, 0x18, 0x01, 0x29, 0x00, 0xC2)


def _random_packets(seed: int, n: int, unique_frames: bool) -> pd.DataFrame:
    """``n`` packets of PAIRS, either way, random flags, payloads, windows and MSS option,
    equal times often; frames 1..n, or 0..3 (ties) unless ``unique_frames``; rows shuffled."""
    rng = np.random.default_rng(seed)
    ends = [PAIRS[p][::-1] if back else PAIRS[p] for p, back in zip(rng.integers(0, len(PAIRS), n),
                                                                    rng.integers(0, 2, n), strict=True)]
    dt = rng.choice([0.0, 0.0, 0.001, 1.0, 30.0], n)
    df = pd.DataFrame(
        {
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.cumsum(dt), unit="s"),
            "kind": "packet", "proto": "tcp", "input": "random",
            "src_addr": [e[0][0] for e in ends], "src_port": [e[0][1] for e in ends],
            "dst_addr": [e[1][0] for e in ends], "dst_port": [e[1][1] for e in ends],
            "flags": rng.choice(FLAGS, n), "payload_len": rng.choice([0, 0, 0, 0, 0, 100], n),
            "window": rng.choice([0, 1024, 65535], n), "opt_mss": rng.integers(0, 2, n).astype(bool), "ttl": 64,
            "frame": np.arange(1, n + 1) if unique_frames else rng.integers(0, 4, n),
        }
    )
    return schema.conform(df, "packet").take(rng.permutation(n)).reset_index(drop=True)


def _by_definition(ev: pd.DataFrame) -> dict[str, list]:
    """The counted columns of ``conversations`` as defined, one packet at a time: packets in
    (ts, frame, row) order; a conversation is an unordered endpoint pair, its initiator the
    sender of its first packet."""
    col = {c: ev[c].tolist() for c in ("ts", "frame", "src_addr", "src_port", "dst_addr", "dst_port", "flags",
                                       "payload_len")}
    convs: dict[frozenset, list[int]] = {}  # in order of their first packet
    for i in sorted(range(len(ev)), key=lambda i: (col["ts"][i], col["frame"][i], i)):
        ends = frozenset([(col["src_addr"][i], col["src_port"][i]), (col["dst_addr"][i], col["dst_port"][i])])
        convs.setdefault(ends, []).append(i)
    rows = []
    for pkts in convs.values():
        init = (col["src_addr"][pkts[0]], col["src_port"][pkts[0]])
        fwd = [(col["src_addr"][i], col["src_port"][i]) == init for i in pkts]
        core = [col["flags"][i] & 0x3F for i in pkts]
        empty = [col["payload_len"][i] == 0 for i in pkts]
        sa = [c & (0x02 | 0x10 | 0x04) == 0x12 for c in core]
        peer = [k for k, f in enumerate(fwd) if not f]
        peer_sa = [k for k in peer if sa[k]]
        init_empty = [empty[k] for k, f in enumerate(fwd) if f]
        rows.append({
            "init_pkts": sum(fwd), "peer_pkts": len(peer),
            "init_syns": sum(f and c & 0x12 == 0x02 for f, c in zip(fwd, core, strict=True)),
            "answered_sa": bool(peer_sa), "answered_rst": any(core[k] & 0x04 for k in peer),
            "init_rst": any(f and c & 0x04 for f, c in zip(fwd, core, strict=True)),
            "init_fin": any(f and c & 0x01 for f, c in zip(fwd, core, strict=True)),
            "peer_fin": any(core[k] & 0x01 for k in peer),
            "data_seen": not all(empty),
            # a pure ACK from the initiator after the peer's first SYN-ACK
            "init_acked": bool(peer_sa) and any(fwd[k] and core[k] & 0x17 == 0x10 and empty[k]
                                                for k in range(peer_sa[0] + 1, len(pkts))),
            "first_ts": col["ts"][pkts[0]], "last_ts": col["ts"][pkts[-1]], "first_frame": col["frame"][pkts[0]],
            "reply_frame": col["frame"][pkts[peer[0]]] if peer else None,
            "init_addr": init[0], "init_port": init[1],
            # (probe typing) initiator packets all empty, peer packets all SYN-ACKs or RSTs
            "stateless_only": all(init_empty) and all(sa[k] or core[k] & 0x04 for k in peer) and all(empty),
        })
    return {c: [r[c] for r in rows] for c in rows[0]}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60), unique_frames=st.booleans(), data=st.data())
def test_any_packets(seed: int, n: int, unique_frames: bool, data: st.DataObject) -> None:
    """Random flags, a self-conversation, equal times: conversations() counts as defined; one
    chunk's state gives conversations() whatever the ties; any split does when (ts, frame)
    tells the packets apart."""
    whole = _random_packets(seed, n, unique_frames)
    want = _want(whole)
    defined = _by_definition(whole)
    typed = pd.DataFrame(defined | {"shape": want[0]["shape"]})
    assert want[0]["probe"].tolist() == first_match(typed, PROBE_RULES).tolist()
    for c, values in defined.items():
        if c != "stateless_only":
            assert [None if v is pd.NA else v for v in want[0][c].tolist()] == values, c
    _assert_finishes_to(ConversationState.of(whole), want)
    if unique_frames:
        parts = data.draw(st.integers(1, 6))
        part = np.array(data.draw(st.lists(st.integers(0, parts - 1), min_size=n, max_size=n)))
        states = [ConversationState.of(c) for c in _split(whole, part, parts)]
        _assert_finishes_to(_tree([states[i] for i in data.draw(st.permutations(range(parts)))]), want)


# --- edges ------------------------------------------------------------------------------------


def test_empty_states() -> None:
    want = conversations(schema.empty_events("packet"), packets=True)
    ev = _events("s2.pcap")
    for state in (ConversationState.of(schema.empty_events("packet")), ConversationState.merge([]),
                  ConversationState.merge([ConversationState.of(ev.iloc[:0]), ConversationState.merge([])])):
        assert len(state) == 0
        _assert_finishes_to(state, want)
    empty = ConversationState.of(ev.iloc[:0])
    _assert_finishes_to(ConversationState.merge([empty, ConversationState.of(ev), empty]), _want(ev))


def test_state_grows_with_pairs_not_packets() -> None:
    """The same 4-tuples over 200 times the packets: the same pairs, one row each (only the
    FIN/RST segments are kept one by one)."""
    ev = _events("zero_window.pcap")
    span = ev["ts"].max() - ev["ts"].min() + pd.Timedelta(seconds=1)
    many = schema.concat_events([ev.assign(ts=ev["ts"] + k * span) for k in range(200)])
    many = many.assign(frame=pd.array(np.arange(1, len(many) + 1), dtype="Int64"))
    one, all_of_them = ConversationState.of(ev), ConversationState.of(many)
    assert len(all_of_them) == len(one) <= 2 * len(conversations(ev))
    closing = int(((many["flags"].to_numpy() & (FIN | RST)) != 0).sum())
    assert all(len(v) == closing for v in all_of_them.closes.values())
    chunks = [ConversationState.of(many.iloc[i:i + 50]) for i in range(0, len(many), 50)]
    merged = _tree(chunks)
    assert len(merged) == len(one)
    _assert_finishes_to(merged, _want(many))
