"""Packet events split by canonical 4-tuple into partitions that can be analysed one by one.

Every row goes to partition ``tuple_hashes(...) % parts``: a hash of the unordered pair of
(address text, port) endpoints, so both directions of a 4-tuple, and so every connection and
every conversation, land in the same partition whatever the chunk, file or process. Rows that
``flows()`` ignores (not a TCP packet, no 4-tuple or no time) are routed the same way, with a
missing address or port hashed as a value of its own (a port as 0, as ``conversations`` keys
it), and counted in ``CaptureStats.other``: nothing is dropped.

``flows`` of a partition needs the capture-wide end time of each input (``orig_final`` /
``resp_final`` age TIME_WAIT to it): ``Partitioner.stats.ends``, or ``capture_end``.

Categorical columns are stored as codes into categories kept per column across chunks (the
two address columns share theirs), so a partition comes back with one set of categories
however the chunks' categories differed; address categories are reduced to the addresses
the partition uses.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from tcpforensics import schema
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


# --- mergeable per-input state ----------------------------------------------------------------


@dataclass
class CaptureStats:
    """Per input (None: rows without one): last packet time ``flows()`` would see, in ns
    (``ends``), rows added (``rows``) and rows ``flows()`` ignores (``other``)."""

    ends: dict[object, int] = field(default_factory=dict)
    rows: dict[object, int] = field(default_factory=dict)
    other: dict[object, int] = field(default_factory=dict)

    def merge(self, other: CaptureStats) -> CaptureStats:
        """The state of both (ends: latest, counts: summed)."""
        return CaptureStats(_combine(self.ends, other.ends, max), _combine(self.rows, other.rows, int.__add__),
                            _combine(self.other, other.other, int.__add__))

    def capture_end(self) -> dict[object, pd.Timestamp]:
        """``ends`` as timestamps: the ``capture_end`` argument of ``flows()``."""
        return {k: pd.Timestamp(v) for k, v in self.ends.items()}

    def add(self, events: pd.DataFrame) -> None:
        """Count the rows of one more chunk."""
        names, codes = _input_codes(events)
        self.count(names, codes, _ts_ns(events), flow_rows(events))

    def count(self, names: list, codes: np.ndarray, ts: np.ndarray | None, counted: np.ndarray) -> None:
        """Count rows given as each one's index into input ``names``, time (ns) and whether
        ``flows()`` reads it."""
        _accumulate(self.rows, names, np.bincount(codes, minlength=len(names)))
        _accumulate(self.other, names, np.bincount(codes[~counted], minlength=len(names)))
        if ts is None or not counted.any():
            return
        last = np.full(len(names), np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(last, codes[counted], ts[counted])
        seen = np.flatnonzero(np.bincount(codes[counted], minlength=len(names)))
        chunk_ends = {names[i]: int(last[i]) for i in seen.tolist()}  # one item per input
        self.ends = _combine(self.ends, chunk_ends, max)


def _ts_ns(events: pd.DataFrame) -> np.ndarray | None:
    return events["ts"].to_numpy("datetime64[ns]").view(np.int64) if "ts" in events.columns else None


def _combine(a: dict, b: dict, op: Callable[[int, int], int]) -> dict:
    """Keys of both; ``op`` of the two values where both have one."""
    return {k: op(a[k], b[k]) if k in a and k in b else a.get(k, b.get(k)) for k in a.keys() | b.keys()}


def _accumulate(into: dict, names: list, counts: np.ndarray) -> None:
    for name, n in zip(names, counts.tolist(), strict=True):  # one step per input name
        if n:
            into[name] = into.get(name, 0) + n


def _input_codes(events: pd.DataFrame) -> tuple[list, np.ndarray]:
    """Input names (None first, for rows without one) and each row's index into them."""
    if "input" not in events.columns:
        return [None], np.zeros(len(events), dtype=np.int64)
    cat = pd.Categorical(events["input"])
    return [None, *cat.categories.tolist()], cat.codes.astype(np.int64) + 1


# --- categories kept across chunks ------------------------------------------------------------


class _Categories:
    """The categories one column (or the two address columns) took over all chunks, in order
    of first appearance; a value keeps its code for good. A chunk whose categories extend the
    previous chunk's (the capture reader's address book only grows) costs a look-up of the new
    ones only; a look-up probes the known texts against a hash table of the new ones."""

    def __init__(self, dtype: pd.CategoricalDtype) -> None:
        self.values = np.zeros(0, dtype=object)   # by code
        self._texts = np.zeros(0, dtype=object)   # str of each value, by code
        self._hashes = np.array([NA_ADDRESS_HASH], dtype=np.uint64)  # see hashes()
        self._matches: dict[tuple[str, bool, int], np.ndarray] = {}  # see matches()
        self._last: tuple[pd.Index, np.ndarray] | None = None  # last categories, their codes (then -1)
        self.index_dtype = dtype.categories.dtype
        self.ordered = bool(dtype.ordered)

    def codes(self, col: pd.Series) -> np.ndarray:
        """The column's values as int32 codes into ``values`` (-1 for NA), new values added."""
        cat = col.array if isinstance(col.dtype, pd.CategoricalDtype) else pd.Categorical(col)
        cats = cat.categories
        if not len(self.values) and len(cats):  # (an empty chunk's may be untyped)
            self.index_dtype = cats.dtype
        if self._last is None or not cats.equals(self._last[0]):  # (most chunks repeat them)
            self._last = cats, np.r_[self._codes_of(cats), -1].astype(np.int32)
        return self._last[1][cat.codes]

    def _codes_of(self, cats: pd.Index) -> np.ndarray:
        """Codes of these categories: the previous chunk's for a prefix they repeat."""
        known = 0
        if self._last is not None:
            prev = self._last[0]
            if len(prev) <= len(cats) and cats[: len(prev)].equals(prev):
                known = len(prev)
        head = self._last[1][:known] if known else np.zeros(0, dtype=np.int32)
        return np.r_[head, self._lookup(cats[known:].to_numpy(dtype=object))].astype(np.int32)

    def _lookup(self, values: np.ndarray) -> np.ndarray:
        """Codes of distinct ``values``; the ones never seen get new codes."""
        keys = _texts(values)
        at = pd.Index(keys).get_indexer(self._texts)  # per known text: its place among keys, or -1
        out = np.full(len(keys), -1, dtype=np.int64)
        seen = at >= 0
        out[at[seen]] = np.flatnonzero(seen)
        new = np.flatnonzero(out < 0)
        out[new] = len(self.values) + np.arange(len(new))
        self.values = np.concatenate([self.values, values[new]])
        self._texts = np.concatenate([self._texts, keys[new]])
        return out.astype(np.int32)

    def matches(self, value: str, lower: bool = False) -> np.ndarray:
        """``packets._equals`` of every value by code, then False (for code -1)."""
        key = (value, lower, len(self.values))  # (values are only ever added)
        if key not in self._matches:
            every = pd.Categorical.from_codes(np.arange(len(self.values)), dtype=self.dtype(self.values))
            self._matches[key] = np.r_[_equals(pd.Series(every), value, lower), False]
        return self._matches[key]

    def hashes(self) -> np.ndarray:
        """``address_hashes`` of every value by code, then NA_ADDRESS_HASH (for code -1)."""
        done = len(self._hashes) - 1
        if done < len(self.values):
            self._hashes = np.r_[self._hashes[:done], address_hashes(self.values[done:]), NA_ADDRESS_HASH]
        return self._hashes

    def categorical(self, codes: np.ndarray, used: np.ndarray | None = None) -> pd.Categorical:
        """A categorical of ``codes``; categories ``values[used]`` (default: every value)."""
        if used is None:
            return pd.Categorical.from_codes(codes, dtype=self.dtype(self.values))
        remap = np.full(len(self.values) + 1, -1, dtype=np.int32)  # (last slot: NA stays -1)
        remap[used] = np.arange(len(used), dtype=np.int32)
        return pd.Categorical.from_codes(remap[codes], dtype=self.dtype(self.values[used]))

    def dtype(self, values: np.ndarray) -> pd.CategoricalDtype:
        return pd.CategoricalDtype(pd.Index(values, dtype=self.index_dtype), ordered=self.ordered)


# --- the partitioner --------------------------------------------------------------------------


class Partitioner:
    """Event chunks routed to ``parts`` partitions by canonical 4-tuple (see the module doc).

    Rows are kept as Arrow record batches (categorical columns as codes): in memory, or,
    with ``spill_dir``, appended to one Arrow IPC stream file per partition in a private
    folder made inside ``spill_dir`` (removed by ``close``), so ``add`` holds one chunk at a
    time. ``stats`` is the mergeable per-input state (capture end, row counts), ``sizes``
    the rows per partition.
    """

    def __init__(self, parts: int, spill_dir: str | os.PathLike[str] | None = None) -> None:
        if parts < 1:
            raise ValueError("parts must be at least 1")
        self.parts = parts
        self.stats = CaptureStats()
        self.sizes = np.zeros(parts, dtype=np.int64)
        self.folder = None if spill_dir is None else tempfile.mkdtemp(prefix="partitions-", dir=spill_dir)
        self._removal = None if self.folder is None else weakref.finalize(self, shutil.rmtree, self.folder, True)
        self._dtypes: dict[str, object] = {}  # column -> dtype, from the first chunk
        self._cats: dict[str, _Categories] = {}
        self._schema: pa.Schema | None = None
        self._held: list[list[pa.RecordBatch]] = [[] for _ in range(parts)]
        self._writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}  # open stream files
        self._spilled = np.zeros(parts, dtype=bool)  # partitions with a stream file
        self._sealed = False

    def add(self, chunk: pd.DataFrame, parts: np.ndarray | None = None) -> None:
        """Route the rows of one more chunk (chunks in any order; row order kept within one):
        by 4-tuple, or to the partition numbers ``parts`` gives for each row."""
        if self._sealed:
            raise RuntimeError("Partitioner.add after the partitions were read")
        coded = self._encode(chunk)
        self._count(chunk, coded)
        small = np.uint16 if self.parts <= 1 << 16 else np.int64  # (a stable sort of 16 bits is a radix sort)
        if parts is None:
            part = (self._tuple_hashes(chunk, coded) % np.uint64(self.parts)).astype(small)
        else:
            part = np.asarray(parts).astype(small)
        batch = pa.RecordBatch.from_arrays([pa.array(a) for a in coded.values()], schema=self._schema)
        counts = np.bincount(part, minlength=self.parts)
        self.sizes += counts
        batch = batch.take(pa.array(np.argsort(part, kind="stable")))
        starts = np.cumsum(counts) - counts
        for p in np.flatnonzero(counts).tolist():  # one step per partition
            self._store(p, batch.slice(int(starts[p]), int(counts[p])))

    def capture_end(self) -> dict[object, pd.Timestamp]:
        """Per input, the time of its last packet ``flows()`` reads (its ``capture_end``)."""
        return self.stats.capture_end()

    def partitions(self) -> Iterator[pd.DataFrame]:
        """Each partition's events in turn (the chunks' dtypes; rows in the order added)."""
        for p in range(self.parts):
            yield self.partition(p)

    def partition(self, p: int) -> pd.DataFrame:
        """The events of partition ``p``."""
        self._seal()
        return self._decode(self._stored(p))

    def chunks(self, p: int, rows: int) -> Iterator[pd.DataFrame]:
        """The events of partition ``p`` in the order added, about ``rows`` at a time (read from
        its stream file a batch at a time: memory holds one chunk, not the partition)."""
        self._seal()
        held: list[pa.RecordBatch] = []
        n = 0
        for batch in self._batches(p):
            held.append(batch)
            n += batch.num_rows
            if n >= rows:
                yield self._decode(pa.Table.from_batches(held, schema=self._schema))
                held, n = [], 0
        if held:
            yield self._decode(pa.Table.from_batches(held, schema=self._schema))

    def column(self, p: int, name: str) -> np.ndarray:
        """One column of partition ``p`` as stored (categorical columns: codes), in the order added."""
        self._seal()
        # copied: a view would keep the batch's whole message body (every column) alive
        parts = [batch.column(0).to_numpy(zero_copy_only=False).copy() for batch in self._batches(p, [name])]
        return np.concatenate(parts) if parts else np.zeros(0)

    def close(self) -> None:
        """Drop the partitions, their categories (and the spill folder)."""
        self._seal()
        self._held = [[] for _ in range(self.parts)]
        self._cats = {}
        if self._removal is not None:
            self._removal()

    def __enter__(self) -> Partitioner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- storage --

    def _encode(self, chunk: pd.DataFrame) -> dict[str, object]:
        """The chunk's columns, categorical ones as int32 codes into the kept categories."""
        if not self._dtypes:
            self._start(chunk)
        if list(chunk.columns) != list(self._dtypes):
            raise ValueError(f"chunk columns {list(chunk.columns)} differ from the first chunk's {list(self._dtypes)}")
        coded = {}
        for c, dtype in self._dtypes.items():
            s = chunk[c]
            coded[c] = self._cats[c].codes(s) if c in self._cats else (s if s.dtype == dtype else s.astype(dtype)).array
        if self._schema is None:
            self._schema = pa.RecordBatch.from_arrays([pa.array(a) for a in coded.values()], names=list(coded)).schema
        return coded

    def _count(self, chunk: pd.DataFrame, coded: dict[str, object]) -> None:
        """``stats`` of the chunk (input names from the kept categories)."""
        if "input" in self._cats:
            names = [None, *self._cats["input"].values.tolist()]
            codes = coded["input"].astype(np.int64) + 1
        else:
            names, codes = _input_codes(chunk)
        self.stats.count(names, codes, _ts_ns(chunk), flow_rows(chunk, lambda c, value, lower: (
            self._cats[c].matches(value, lower)[coded[c]] if c in self._cats else _equals(chunk[c], value, lower))))

    def _tuple_hashes(self, chunk: pd.DataFrame, coded: dict[str, object]) -> np.ndarray:
        """``row_tuple_hashes`` of the chunk (address hashes from the kept categories)."""
        if not all(c in self._cats for c in ADDRESS_COLUMNS):
            return row_tuple_hashes(chunk)
        hashes = self._cats[ADDRESS_COLUMNS[0]].hashes()
        ports = [chunk[c].to_numpy(dtype=np.int64, na_value=0) for c in PORT_COLUMNS]
        return tuple_hashes(hashes[coded[ADDRESS_COLUMNS[0]]], ports[0], hashes[coded[ADDRESS_COLUMNS[1]]], ports[1])

    def _start(self, chunk: pd.DataFrame) -> None:
        self._dtypes = dict(chunk.dtypes.items())
        cats = {c: dt for c, dt in self._dtypes.items() if isinstance(dt, pd.CategoricalDtype)}
        shared = [c for c in ADDRESS_COLUMNS if c in cats]
        self._cats = {c: _Categories(dt) for c, dt in cats.items() if c not in shared}
        if shared:
            both = _Categories(cats[shared[0]])
            self._cats.update(dict.fromkeys(shared, both))

    def _store(self, p: int, batch: pa.RecordBatch) -> None:
        if self.folder is None:
            self._held[p].append(batch)
            return
        if p not in self._writers:
            self._writers[p] = pa.ipc.new_stream(self._path(p), self._schema)
            self._spilled[p] = True
        self._writers[p].write_batch(batch)

    def _path(self, p: int) -> str:
        return os.path.join(self.folder, f"part-{p:05d}.arrows")

    def _seal(self) -> None:
        """Finish the stream files (once): from here on partitions are read, not added to."""
        self._sealed = True
        for w in self._writers.values():
            w.close()
        self._writers = {}

    def _batches(self, p: int, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The record batches of partition ``p`` (only ``columns``, when given), read one at a
        time into memory the system allocator gives back when they are dropped (a mapped file,
        or a caching allocator, would keep the whole partition's pages resident)."""
        if self._schema is None:
            return
        if self.folder is not None and self._spilled[p]:
            fields = None if columns is None else [self._schema.get_field_index(c) for c in columns]
            options = pa.ipc.IpcReadOptions(included_fields=fields)
            with pa.OSFile(self._path(p)) as source, pa.ipc.open_stream(
                    source, options=options, memory_pool=pa.system_memory_pool()) as reader:
                yield from reader
            return
        for batch in self._held[p]:
            yield batch if columns is None else batch.select(columns)

    def _stored(self, p: int) -> pa.Table | None:
        """Partition ``p`` as stored (None before any chunk: then an empty packet table)."""
        if self._schema is None:
            return None
        if self.folder is not None and self._spilled[p]:
            with pa.ipc.open_stream(self._path(p)) as reader:
                return reader.read_all()
        return pa.Table.from_batches(self._held[p], schema=self._schema)

    def _decode(self, table: pa.Table | None) -> pd.DataFrame:
        """Stored batches back to the chunks' dtypes; address categories: the addresses used."""
        if table is None:
            return schema.empty_events("packet")
        codes = {c: table.column(c).to_numpy().astype(np.int32, copy=False) for c in self._cats}
        addr = [c for c in ADDRESS_COLUMNS if c in self._cats]
        used = None
        if addr:
            both = np.concatenate([codes[c] for c in addr])
            used = np.flatnonzero(np.bincount(both[both >= 0], minlength=len(self._cats[addr[0]].values)))
        out = {}
        for c, dtype in self._dtypes.items():
            kept = self._cats.get(c)
            out[c] = _from_arrow(table.column(c), dtype) if kept is None else kept.categorical(
                codes[c], used if c in addr else None)
        return pd.DataFrame(out)


def _from_arrow(col: pa.ChunkedArray, dtype: object) -> object:
    """An Arrow column as a pandas array of ``dtype`` (nullable types without a float detour)."""
    if hasattr(dtype, "__from_arrow__"):
        return dtype.__from_arrow__(col)
    return col.to_numpy().astype(dtype, copy=False)
