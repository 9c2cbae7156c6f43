"""Object-column fills (tcpforensics.pandas_compat) and event-table stacking give the same result
on pandas 2 and 3, without the downcasting FutureWarning of pandas 2."""

import warnings

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from tcpforensics import pandas_compat, schema

values = st.lists(st.one_of(st.none(), st.just(np.nan), st.sampled_from(["a", "b", ""]), st.booleans()), max_size=30)


def _reference_ffill(v: list) -> list:
    out, last, seen = [], None, False
    for x in v:
        if not pd.isna(x):
            last, seen = x, True
        out.append(last if seen else x)
    return out


@given(values)
def test_ffill_keeps_object_and_carries_the_last_value(v):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = pandas_compat.ffill(pd.Series(v, dtype=object))
    assert got.dtype == object
    want = _reference_ffill(v)
    assert [("NA" if pd.isna(x) else x) for x in got] == [("NA" if pd.isna(x) else x) for x in want]


@given(values, values)
def test_fill_takes_missing_values_from_other(v, w):
    n = min(len(v), len(w))
    s, o = pd.Series(v[:n], dtype=object), pd.Series(w[:n], dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = pandas_compat.fill(s, o)
    assert got.dtype == object
    for a, b, g in zip(s, o, got, strict=True):
        want = b if pd.isna(a) else a
        assert (pd.isna(g) and pd.isna(want)) or g == want


def test_all_missing_column_stays_object():
    """pandas 2 would turn these into float64 (NaN) and bool; pandas 3 keeps object."""
    assert pandas_compat.ffill(pd.Series([None, np.nan], dtype=object)).dtype == object
    assert pandas_compat.fill(pd.Series([True, None], dtype=object), False).tolist() == [True, False]
    assert pandas_compat.fill(pd.Series([None, None], dtype=object), "").tolist() == ["", ""]


def test_other_dtypes_use_pandas_own_fill():
    s = pd.Series([1, None, 3], dtype="Int64")
    assert pandas_compat.ffill(s).tolist() == [1, 1, 3]
    assert pandas_compat.fill(s, 0).dtype == "Int64"


def test_concat_events_keeps_categories_when_one_input_has_no_values():
    a = schema.conform(pd.DataFrame({"input": ["a", "a"], "kind": ["socket"] * 2, "process": ["nginx", "sshd"],
                                     "src_addr": ["10.0.0.1", "10.0.0.2"]}), "socket")
    b = schema.conform(pd.DataFrame({"input": ["b"], "kind": ["socket"], "src_addr": ["10.0.0.9"]}), "socket")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = schema.concat_events([a, b], "socket")
    assert list(got.columns) == schema.event_columns("socket")
    assert isinstance(got["process"].dtype, pd.CategoricalDtype)
    assert got["process"].astype(object).tolist()[:2] == ["nginx", "sshd"] and pd.isna(got["process"].iloc[2])
    assert got["src_addr"].astype(object).tolist() == ["10.0.0.1", "10.0.0.2", "10.0.0.9"]
    assert got["input"].astype(object).tolist() == ["a", "a", "b"]
    assert schema.concat_events([], "socket").empty
