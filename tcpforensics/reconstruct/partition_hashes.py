"""The hashes that route packet events to partitions (``reconstruct.partition``): 64-bit hashes
of address text, of (address, port) endpoints and of the unordered pair of them (a 4-tuple,
both directions alike), the same in every chunk, file and process; and the mask of the rows
``flows()`` reads.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.packets import _equals  # the same row test as prepare()

#: columns holding addresses: one set of categories for both, hashed by their text
ADDRESS_COLUMNS: tuple[str, str] = ("src_addr", "dst_addr")
PORT_COLUMNS: tuple[str, str] = ("src_port", "dst_port")
#: hash of a missing address (any fixed value other than a string's hash)
NA_ADDRESS_HASH = np.uint64(0x9E3779B97F4A7C15)
_PORT_SALT = np.uint64(0xD6E8FEB86659FD93)


# --- hashing ----------------------------------------------------------------------------------


def mix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer of uint64 values (a new array; overflow wraps)."""
    x = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def address_hashes(values: object) -> np.ndarray:
    """uint64 hash of each address's text (NA -> NA_ADDRESS_HASH), the same in every process."""
    text = np.array(values, dtype=object)  # (a copy: NAs are blanked below)
    na = pd.isna(text)
    text[na] = ""
    return np.where(na, NA_ADDRESS_HASH, pd.util.hash_array(_texts(text), categorize=False))


def _texts(values: np.ndarray) -> np.ndarray:
    """Object array of ``str(value)`` for each value (the array itself when all are str)."""
    return values if pd.api.types.infer_dtype(values) == "string" else values.astype(str).astype(object)


def tuple_hashes(src_hash: np.ndarray, src_port: np.ndarray, dst_hash: np.ndarray,
                 dst_port: np.ndarray) -> np.ndarray:
    """uint64 hash of each unordered pair of (address hash, port) endpoints."""
    a = _endpoint_hashes(src_hash, src_port)
    b = _endpoint_hashes(dst_hash, dst_port)
    return mix64(mix64(np.minimum(a, b)) ^ np.maximum(a, b))


def _endpoint_hashes(addr_hash: np.ndarray, port: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return mix64(np.asarray(addr_hash, np.uint64) ^ mix64(np.asarray(port).astype(np.uint64) + _PORT_SALT))


def row_tuple_hashes(events: pd.DataFrame) -> np.ndarray:
    """``tuple_hashes`` of every row of an event table (missing port -> 0)."""
    hashes = [_column_address_hashes(events[c]) for c in ADDRESS_COLUMNS]
    ports = [events[c].to_numpy(dtype=np.int64, na_value=0) for c in PORT_COLUMNS]
    return tuple_hashes(hashes[0], ports[0], hashes[1], ports[1])


def sender_hashes(events: pd.DataFrame) -> np.ndarray:
    """uint64 hash of every row's sending endpoint (source address text, source port)."""
    return _endpoint_hashes(_column_address_hashes(events["src_addr"]),
                            events["src_port"].to_numpy(dtype=np.int64, na_value=0))


def _column_address_hashes(col: pd.Series) -> np.ndarray:
    """Address hashes of a column (a categorical's categories are hashed once each)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        per_cat = np.r_[address_hashes(col.cat.categories.to_numpy(dtype=object)), NA_ADDRESS_HASH]
        return per_cat[col.cat.codes.to_numpy()]  # code -1 (NA) -> the appended NA hash
    return address_hashes(col.to_numpy(dtype=object))


def route(events: pd.DataFrame, parts: int) -> np.ndarray:
    """Partition number of every row of an event table (int64 in [0, parts))."""
    return (row_tuple_hashes(events) % np.uint64(parts)).astype(np.int64)


def flow_rows(events: pd.DataFrame, equals: Callable[[str, str, bool], np.ndarray] | None = None) -> np.ndarray:
    """Mask of the rows ``flows()`` reads: TCP packets with a 4-tuple and a time (the rows
    ``packets.prepare`` keeps). ``equals(column, value, lower)`` may stand in for
    ``packets._equals`` of that column."""
    test = equals or (lambda c, value, lower: _equals(events[c], value, lower))
    keep = np.ones(len(events), dtype=bool)
    if "kind" in events.columns:
        keep &= test("kind", "packet", False)
    if "proto" in events.columns:
        keep &= events["proto"].isna().to_numpy(bool) | test("proto", "tcp", True)
    for c in (*ADDRESS_COLUMNS, *PORT_COLUMNS, "ts"):
        if c != "ts" or c in events.columns:
            keep &= events[c].notna().to_numpy(bool)
    return keep
