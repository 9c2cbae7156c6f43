"""Partitioned analysis equals whole-capture analysis, exactly.

Chunks of a capture go through a ``Partitioner`` (by canonical 4-tuple); ``flows`` and
``conversations`` of each partition, merged, must equal those of the whole capture, whatever
the number of partitions, the storage (memory, Arrow spill files) and the order of the chunks.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tcpforensics
from tcpforensics import schema
from tcpforensics.ingest.pcap import iter_events
from tcpforensics.reconstruct.conversation_merge import merge_conversations
from tcpforensics.reconstruct.conversations import conversations
from tcpforensics.reconstruct.flows import flows, merge_flows
from tcpforensics.reconstruct.partition import Partitioner
from tcpforensics.reconstruct.partition_hashes import ADDRESS_COLUMNS, route
from tests.conftest import FIXTURES, corpus_files, corpus_path
from tests.reconstruct.mixed import mixed_fixtures

CAPTURES = corpus_files("*.pcap*", "pcap", "zeek") + corpus_files("*.pcap*", "pcap", "labeled")
CONFIGS = ({"ignore_checksums": True}, None)
CHUNK = 97


def _partitioned(chunks: list[pd.DataFrame], parts: int, spill_dir: Path | None = None) -> Partitioner:
    pt = Partitioner(parts, spill_dir)
    for chunk in chunks:
        pt.add(chunk)
    return pt


def _assert_frame_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """``assert_frame_equal``, categorical columns compared by categories (in order) and codes
    (pandas compares them value by value, boxed: minutes on the larger captures)."""
    assert list(got.columns) == list(want.columns)
    cats = [c for c in want.columns if isinstance(want[c].dtype, pd.CategoricalDtype)]
    for c in cats:
        assert isinstance(got[c].dtype, pd.CategoricalDtype), c
        pd.testing.assert_index_equal(got[c].cat.categories, want[c].cat.categories, exact=True)
        assert got[c].cat.ordered == want[c].cat.ordered, c
        np.testing.assert_array_equal(got[c].cat.codes.to_numpy(), want[c].cat.codes.to_numpy(), err_msg=c)
    pd.testing.assert_frame_equal(got.drop(columns=cats), want.drop(columns=cats))


def _whole(events: pd.DataFrame, conv: bool = True) -> dict[str, object]:
    """What the partitions must give: flows per config, and conversations (with packets)."""
    want: dict[str, object] = {repr(cfg): flows(events, cfg) for cfg in CONFIGS}
    if conv:
        want["conv"] = conversations(events, packets=True)
    return want


def _assert_merged_equal_whole(pt: Partitioner, want: dict[str, object], configs: tuple = CONFIGS) -> None:
    """Merged flows (each config of ``configs``) and conversations of the partitions == ``want``."""
    events = [e for e in pt.partitions() if len(e)]
    ends = pt.capture_end()
    for cfg in configs:
        _assert_frame_equal(merge_flows(flows(e, cfg, capture_end=ends) for e in events), want[repr(cfg)])
    if "conv" in want:
        got = merge_conversations(conversations(e, packets=True) for e in events)
        for g, w in zip(got, want["conv"], strict=True):
            _assert_frame_equal(g, w)


def _assert_partitions_hold_the_events(pt: Partitioner, whole: pd.DataFrame) -> None:
    """Every row in exactly one partition, with the whole table's dtypes (address categories:
    the partition's own addresses, one set for both columns)."""
    parts = [pt.partition(p) for p in range(pt.parts)]
    assert [len(e) for e in parts] == pt.sizes.tolist()
    for e in parts:
        assert list(e.columns) == list(whole.columns)
        for c in whole.columns:
            if c in ADDRESS_COLUMNS:
                assert e[c].dtype.categories.dtype == whole[c].dtype.categories.dtype
                assert set(e[c].cat.categories) <= set(whole[c].cat.categories)
            else:
                assert e[c].dtype == whole[c].dtype, c
        assert e["src_addr"].dtype == e["dst_addr"].dtype
    back = schema.concat_events(parts, "packet")
    back = back.take(np.argsort(back["frame"].to_numpy(), kind="stable")).reset_index(drop=True)
    for c in ADDRESS_COLUMNS:
        np.testing.assert_array_equal(back[c].to_numpy(object), whole[c].to_numpy(object))
    _assert_frame_equal(back.drop(columns=list(ADDRESS_COLUMNS)), whole.drop(columns=list(ADDRESS_COLUMNS)))


# --- the corpus -------------------------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize("path", CAPTURES, ids=[f"{p.parent.name}/{p.name}" for p in CAPTURES])
def test_partitioned_capture_equals_whole(path: Path, tmp_path: Path) -> None:
    corpus_path("pcap")
    whole = tcpforensics.read(str(path))
    chunks = list(iter_events(str(path), chunk_packets=CHUNK))
    want = _whole(whole)
    # in memory, chunks in file order
    with _partitioned(chunks, 3) as pt:
        assert pt.stats.rows == ({str(path): len(whole)} if len(whole) else {})
        if len(whole):
            assert pt.capture_end() == {str(path): whole["ts"].max()}
        _assert_partitions_hold_the_events(pt, whole)
        _assert_merged_equal_whole(pt, want)
    # spilled to Arrow stream files, chunks shuffled; Zeek's default checksum mode only (both
    # modes with spills and shuffles: test_any_chunking_of_a_mixed_capture_equals_whole)
    random.Random(CHUNK).shuffle(chunks)
    with _partitioned(chunks, 7, tmp_path) as pt:
        _assert_merged_equal_whole(pt, want, configs=(None,))
    assert not list(tmp_path.iterdir())  # the private spill folder is gone


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["labeled/esnet_tcp_two_way_all_flags.pcap", "zeek/ssh-half-duplex-client.pcap"])
def test_chunks_going_back_in_time_give_the_whole(name: str, tmp_path: Path) -> None:
    path = str(corpus_path("pcap", *name.split("/")))
    whole = tcpforensics.read(path)
    chunks = list(iter_events(path, chunk_packets=CHUNK))[::-1]
    random.Random(1).shuffle(chunks)
    steps_back = [b["ts"].min() < a["ts"].max() for a, b in zip(chunks, chunks[1:], strict=False)]
    assert sum(steps_back) >= len(chunks) // 4
    with _partitioned(chunks, 5, tmp_path) as pt:
        _assert_merged_equal_whole(pt, _whole(whole))


# --- routing ----------------------------------------------------------------------------------


def _events(*names: str) -> pd.DataFrame:
    return schema.concat_events([tcpforensics.read(str(FIXTURES / "flows" / n)) for n in names])


def test_route_ignores_direction_and_category_coding() -> None:
    ev = _events("time_wait_reuse.pcap")
    ev = pd.concat([ev, ev.assign(src_port=ev["src_port"] + 1)], ignore_index=True)  # two tuples
    parts = route(ev, 1 << 20)
    swapped = ev.rename(columns={"src_addr": "dst_addr", "dst_addr": "src_addr",
                                 "src_port": "dst_port", "dst_port": "src_port"})
    recoded = ev.assign(**{c: ev[c].cat.add_categories(["192.0.2.99"]).cat.reorder_categories(
        ["192.0.2.99", *ev[c].cat.categories[::-1]]) for c in ADDRESS_COLUMNS})
    plain = ev.astype({c: object for c in ADDRESS_COLUMNS})
    for other in (swapped, recoded, plain):
        np.testing.assert_array_equal(route(other, 1 << 20), parts)
    assert len(set(parts[: len(ev) // 2])) == 1 and parts[0] != parts[-1]


def test_rows_flows_ignore_are_kept_and_counted() -> None:
    ev = _events("lost_final_ack.pcap")
    odd = ev.iloc[:3].copy()
    odd["proto"] = odd["proto"].cat.add_categories(["udp"])
    odd.loc[0, "proto"] = "udp"
    odd.loc[1, "src_port"] = pd.NA
    odd.loc[2, "dst_addr"] = pd.NA
    both = schema.concat_events([ev, odd])
    both["frame"] = pd.array(np.arange(1, len(both) + 1), dtype="Int64")
    with _partitioned([both.iloc[:5], both.iloc[5:]], 4) as pt:
        name = str(FIXTURES / "flows" / "lost_final_ack.pcap")
        assert pt.stats.rows == {name: len(both)} and pt.stats.other == {name: 3}
        assert pt.capture_end() == {name: ev["ts"].max()}
        assert int(pt.sizes.sum()) == len(both)
        _assert_merged_equal_whole(pt, _whole(both))


def test_stats_merge_and_reading_seals(tmp_path: Path) -> None:
    a_ev, b_ev = _events("s2.pcap"), _events("simultaneous.pcap")
    a, b = _partitioned([a_ev], 2, tmp_path), _partitioned([b_ev], 2, tmp_path)
    merged = a.stats.merge(b.stats)
    names = [str(FIXTURES / "flows" / n) for n in ("s2.pcap", "simultaneous.pcap")]
    assert merged.rows == {names[0]: len(a_ev), names[1]: len(b_ev)}
    assert merged.capture_end() == {names[0]: a_ev["ts"].max(), names[1]: b_ev["ts"].max()}
    list(a.partitions())
    with pytest.raises(RuntimeError):
        a.add(a_ev)
    a.close()
    b.close()
    assert not list(tmp_path.iterdir())
    with Partitioner(3) as empty:
        events = list(empty.partitions())
    assert all(e.empty and list(e.columns) == schema.event_columns("packet") for e in events)
    assert merge_flows(flows(e) for e in events).equals(flows(schema.empty_events("packet")))
    got = merge_conversations(conversations(e, packets=True) for e in events)
    for g, w in zip(got, conversations(schema.empty_events("packet"), packets=True), strict=True):
        pd.testing.assert_frame_equal(g, w)


# --- flows: content uids, capture end, ties ---------------------------------------------------


def test_uid_depends_on_the_connection_only() -> None:
    alone = flows(_events("simultaneous.pcap"))
    others = _events("time_wait_reuse.pcap")
    moved = others.assign(**{c: others[c].cat.rename_categories(lambda a: "10.9." + a) for c in ADDRESS_COLUMNS})
    with_more = flows(schema.concat_events([moved, _events("simultaneous.pcap")]))
    assert set(alone["uid"]) <= set(with_more["uid"])
    assert all(re.fullmatch(r"C[0-9A-Za-z]{11}", u) for u in with_more["uid"])
    assert with_more["uid"].is_unique


def test_capture_end_from_outside_ages_time_wait() -> None:
    ev = _events("simultaneous.pcap")
    name = ev["input"].iloc[0]
    last = ev["ts"].max()
    assert flows(ev)["orig_final"].iloc[0] == "TIME_WAIT"
    assert flows(ev, capture_end={name: last + pd.Timedelta(seconds=61)})["orig_final"].iloc[0] == "CLOSED"
    assert flows(ev, capture_end={name: last - pd.Timedelta(seconds=61)})["orig_final"].iloc[0] == "TIME_WAIT"
    assert flows(ev, capture_end={"other": last + pd.Timedelta(seconds=61)})["orig_final"].iloc[0] == "TIME_WAIT"


def test_ties_of_start_and_frame_order_by_uid() -> None:
    """Two inputs with the same times and frame numbers on different 4-tuples, in different
    partitions: flows() and the merge order the tied rows the same way (by uid)."""
    ev = _events("time_wait_reuse.pcap")
    parts = route(ev, 4)[0]
    for k in range(1, 50):
        twin = ev.assign(input=schema.single_category("twin", len(ev)),
                         **{c: ev[c].cat.rename_categories(lambda a, k=k: f"10.{k}.{a}") for c in ADDRESS_COLUMNS})
        if route(twin, 4)[0] != parts:
            break
    whole = schema.concat_events([ev, twin])
    want = flows(whole)
    assert want["start"].duplicated().any()
    assert (want.groupby(["start", "first_frame"])["uid"].apply(lambda u: u.is_monotonic_increasing)).all()
    with _partitioned([whole], 4) as pt:
        assert set(pt.capture_end()) == {ev["input"].iloc[0], "twin"}
        _assert_merged_equal_whole(pt, _whole(whole, conv=False))


# --- conversations: address codes -------------------------------------------------------------


def test_conversation_codes_follow_first_appearance() -> None:
    ev = _events("time_wait_reuse.pcap", "zero_window.pcap")
    ev = ev.iloc[::-1].reset_index(drop=True)  # rows against time: codes still follow time
    conv, pk = conversations(ev, packets=True)
    both = np.column_stack([pk["src_code"], pk["dst_code"]]).ravel()
    first_seen = pd.unique(both)
    np.testing.assert_array_equal(first_seen, np.arange(len(first_seen)))
    assert conv["conv"].tolist() == list(range(len(conv)))
    assert pk["ts"].is_monotonic_increasing


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(1, 40), parts=st.integers(1, 12), seed=st.integers(0, 1000), spill=st.booleans())
def test_any_chunking_of_a_mixed_capture_equals_whole(size: int, parts: int, seed: int, spill: bool,
                                                      tmp_path: Path) -> None:
    whole = mixed_fixtures()
    chunks = [whole.iloc[i:i + size] for i in range(0, len(whole), size)]
    # each chunk with only its own addresses as categories, like the capture reader's chunks
    chunks = [c.assign(**{a: c[a].cat.remove_unused_categories() for a in ADDRESS_COLUMNS}) for c in chunks]
    random.Random(seed).shuffle(chunks)
    with _partitioned(chunks, parts, tmp_path if spill else None) as pt:
        assert int(pt.sizes.sum()) == len(whole)
        _assert_merged_equal_whole(pt, _whole(whole))
