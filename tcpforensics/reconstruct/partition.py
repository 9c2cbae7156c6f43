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

The parts, each importable from here: the hashes and the row mask (``partition_hashes``), the
per-input state (``partition_stats``), the categories kept across chunks
(``partition_categories``) and the ``Partitioner`` that stores the rows (this module).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from tcpforensics import schema
from tcpforensics.reconstruct.packets import _equals  # the same row test as prepare()
from tcpforensics.reconstruct.partition_categories import _Categories
from tcpforensics.reconstruct.partition_hashes import (
    ADDRESS_COLUMNS,
    PORT_COLUMNS,
    flow_rows,
    row_tuple_hashes,
    tuple_hashes,
)
from tcpforensics.reconstruct.partition_stats import CaptureStats, _input_codes, _ts_ns


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
