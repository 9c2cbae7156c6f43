"""The columns of the conversation and packet tables (``reconstruct.conversations``), and the
array helpers shared by building, merging and finishing them: empty tables, text columns as
Python objects, pair and address codes, columns of numpy or pandas arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.text_categories import categoricals, same_categories

Columns = dict[str, Any]  # column name -> numpy or pandas array, every column of one length


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
    if same_categories(src, dst):
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


#: Text columns of the conversation table, held as categoricals (sorted categories; the two
#: address columns over one set): a code per row, and the rules' isin and equality tests
#: look at the few categories, not at every row. Rows a finding reads are handed to it as
#: Python strings (``detect.findings.text_rows``).
TEXT_COLUMNS = ("input", "init_addr", "peer_addr", "shape", "probe", "family", "outcome")
ADDRESS_COLUMNS = ("init_addr", "peer_addr")


#: Columns of small integers (ports, TTLs, per-conversation packet counts), held as int32.
SMALL_INT_COLUMNS = ("init_port", "peer_port", "ttl", "init_syns", "init_pkts", "peer_pkts")


def compact(conv: pd.DataFrame) -> pd.DataFrame:
    """The conversation table with its TEXT_COLUMNS as categoricals and SMALL_INT_COLUMNS as
    int32 (a conversation table can hold millions of rows)."""
    small = {c: conv[c].astype(np.int32) for c in SMALL_INT_COLUMNS if c in conv.columns and conv[c].dtype == np.int64}
    if small:
        conv = conv.assign(**small)
    texts = {c: conv[c] for c in TEXT_COLUMNS if c in conv.columns and not isinstance(conv[c].dtype, pd.CategoricalDtype)}
    if not texts:
        return conv
    coded = dict(zip(ADDRESS_COLUMNS, categoricals([texts.pop(c) for c in ADDRESS_COLUMNS]), strict=True)) \
        if all(c in texts for c in ADDRESS_COLUMNS) else {}
    coded.update({c: categoricals([v])[0] for c, v in texts.items()})
    return conv.assign(**{c: pd.Series(v, index=conv.index, copy=False) for c, v in coded.items()})


def _empty() -> pd.DataFrame:
    return compact(pd.DataFrame({c: pd.Series(dtype=bool if c in _BOOL else object) for c in COLUMNS}))


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


def _ints(col: pd.Series) -> np.ndarray:
    return col.to_numpy(dtype="int64", na_value=0)
