"""Text columns as categoricals over one sorted set of categories (reconstruct.text_categories),
and the parts' text columns united through them (reconstruct.parts.Parts.categoricals)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpforensics.reconstruct.parts import Parts
from tcpforensics.reconstruct.text_categories import categoricals, isin, same_categories, united

TEXT = st.one_of(st.none(), st.text(alphabet="ab.:0123456789é", max_size=6))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(TEXT, max_size=30), max_size=5), st.booleans())
def test_united_gives_the_sorted_distinct_values_and_each_arrays_codes(arrays: list[list], large: bool) -> None:
    kind = pa.large_string() if large else pa.string()
    dtype, codes = united([pa.array(a, type=kind) for a in arrays])
    values = sorted({v for a in arrays for v in a if v is not None}, key=lambda v: v.encode())
    assert list(dtype.categories) == values  # (byte order, as Arrow sorts)
    assert len(codes) == len(arrays)
    for a, c in zip(arrays, codes, strict=True):
        assert c.dtype == np.int32
        assert [None if k < 0 else values[k] for k in c] == a


def test_united_mixes_string_types() -> None:
    dtype, codes = united([pa.array(["b", None]), pa.array(["a", "b"], type=pa.large_string())])
    assert list(dtype.categories) == ["a", "b"]
    assert [c.tolist() for c in codes] == [[1, -1], [0, 1]]
    assert united([])[1] == []


def test_categoricals_share_one_set_of_categories() -> None:
    a, b = categoricals([np.array(["x", None, "y"], dtype=object), pd.Series(["z", "x"], dtype="category")])
    assert a.categories is b.categories or a.categories.equals(b.categories)
    assert list(a.categories) == ["x", "y", "z"]
    assert a.tolist()[0] == "x" and pd.isna(a.tolist()[1]) and b.tolist() == ["z", "x"]
    assert same_categories(pd.Series(a), pd.Series(b))
    assert isin(pd.Series(a), ["y", "z"]).tolist() == [False, False, True]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=12), min_size=1, max_size=4), st.booleans())
def test_parts_unite_their_address_columns(tmp_path_factory, parts: list[list[tuple]], spill: bool) -> None:
    """Each part's two columns share one set of categories (as a partition's addresses do);
    held or spilled, every part's text comes back, over one sorted set for both columns."""
    tables = []
    for rows in parts:
        a, b = categoricals([np.array([r[0] for r in rows], dtype=object), np.array([r[1] for r in rows], dtype=object)])
        tables.append(pd.DataFrame({"init_addr": a, "peer_addr": b, "n": np.arange(len(rows))}))
    held = Parts(spill_dir=tmp_path_factory.mktemp("parts") if spill else None, budget=0)
    for t in tables:
        held.add(t)
    init, peer = held.categoricals(["init_addr", "peer_addr"])
    assert init.categories.equals(peer.categories)
    want = pd.concat(tables, ignore_index=True)
    assert init.astype(object).tolist() == want["init_addr"].astype(object).tolist()
    assert peer.astype(object).tolist() == want["peer_addr"].astype(object).tolist()
    held.close()
