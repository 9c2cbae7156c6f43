"""The tables each partition of a capture gives (its flows, its conversations), kept until
they are merged: in memory, or spilled to disk and read back a column at a time.

A capture of a million connections gives a flow table and a conversation table of a million
rows each. Spilled, the partitions' tables wait on disk while the next partitions are rebuilt,
and the merge (``reconstruct.flows.merge_flows``, ``conversation_merge.merge_conversations``)
assembles the whole table one column at a time, in its final order: memory holds the result
and one column more, never every part and a copy of them.

    parts = Parts(spill_dir="/tmp")       # or Parts() to hold them in memory
    parts.add(flows_of_partition_0)
    parts.add(flows_of_partition_1)
    start = parts.column("start")         # every part's rows, in part order
    parts.close()

Columns come back with the dtype of the first part. Categorical columns have their parts'
categories united (in the order ``Index.union`` gives, as ``pd.concat`` of the parts would
after ``set_categories``); object columns (text kept as Python objects) come back as objects,
one object per distinct value.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from tcpforensics import heap
from tcpforensics.reconstruct.text_categories import united

#: Parts are held in memory until together they pass this many bytes; then they go to disk.
HELD_BYTES = 64 * 1024**2


class Parts:
    """Tables with the same columns, one per partition (see the module docstring)."""

    def __init__(self, spill_dir: str | os.PathLike[str] | None = None, budget: int | None = None) -> None:
        self.lengths: list[int] = []
        self.dtypes: dict[str, object] = {}
        self.budget = HELD_BYTES if budget is None else budget
        self.folder = None if spill_dir is None else tempfile.mkdtemp(prefix="parts-", dir=spill_dir)
        self._removal = None if self.folder is None else weakref.finalize(self, shutil.rmtree, self.folder, True)
        self._held: list[pd.DataFrame | None] = []  # None: the part is on disk
        self._held_bytes = 0

    @classmethod
    def of(cls, tables: list[pd.DataFrame]) -> Parts:
        """The tables, held in memory."""
        parts = cls()
        for t in tables:
            parts.add(t)
        return parts

    def add(self, table: pd.DataFrame) -> None:
        """One more partition's table (the dtypes are the first non-empty table's). With a
        spill folder, tables are held until they pass the budget, then every part goes to disk."""
        if not self.dtypes and len(table):
            self.dtypes = dict(table.dtypes.items())
        self.lengths.append(len(table))
        self._held.append(table)
        if self.folder is None or not len(table):
            return
        self._held_bytes += int(table.memory_usage(deep=False).sum())
        if self._held_bytes > self.budget:
            for p, held in enumerate(self._held):
                if held is not None and len(held):
                    self._spill(p, held)
                    self._held[p] = None

    def _spill(self, p: int, table: pd.DataFrame) -> None:
        coded = {c: pd.Categorical(table[c]) if table[c].dtype == object else table[c] for c in table.columns}
        arrow = pa.Table.from_pandas(pd.DataFrame(coded, copy=False), preserve_index=False)
        with pa.OSFile(self._path(p), "wb") as sink, ipc.new_file(sink, arrow.schema) as out:
            out.write_table(arrow)

    @property
    def columns(self) -> list[str]:
        return list(self.dtypes)

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def rows(self) -> int:
        return sum(self.lengths)

    def column(self, name: str) -> pd.api.extensions.ExtensionArray | np.ndarray:
        """Column ``name`` of every part, end to end, as an array of the first part's dtype."""
        dtype = self.dtypes[name]
        pieces = [self._piece(p, name, dtype) for p in range(len(self)) if self.lengths[p]]
        if not pieces:
            return pd.Series([], dtype=dtype).array
        if _coded(dtype):
            whole = _united(pieces, dtype)
        elif isinstance(pieces[0], np.ndarray):
            whole = np.concatenate(pieces)
        else:
            whole = type(pieces[0])._concat_same_type(pieces)
        if self.folder is not None:
            del pieces
            heap.give_back()  # (reading a part's column from its file leaves a few MiB free in the heap)
        return whole

    def categoricals(self, names: list[str]) -> list[pd.Categorical]:
        """Text columns ``names`` (categorical or object) of every part, end to end, as
        categoricals over one sorted set of categories: the same code for the same text in
        every column (a table's two address columns). Read and united as Arrow dictionaries
        (``text_categories``): no Python string is made for a part's text."""
        filled = [p for p in range(len(self)) if self.lengths[p]]
        pieces = [(n, self._dictionary(p, n)) for n in names for p in filled]
        if not pieces:
            return [pd.Categorical([], dtype=pd.CategoricalDtype(pd.Index([], dtype="str"))) for _ in names]
        dictionaries = [piece.dictionary for _, piece in pieces]
        same = _repeats(dictionaries, len(filled))
        distinct = sorted(set(same))
        dtype, at = united([dictionaries[i] for i in distinct])
        where = dict(zip(distinct, at, strict=True))
        codes: dict[str, list[np.ndarray]] = {n: [] for n in names}
        for k, (name, piece) in enumerate(pieces):
            indices = pc.fill_null(piece.indices, -1).to_numpy(zero_copy_only=False)
            codes[name].append(np.append(where[same[k]], -1).astype(np.int32)[indices])
        return [pd.Categorical.from_codes(np.concatenate(codes[n]), dtype=dtype) for n in names]

    def _dictionary(self, p: int, name: str) -> pa.DictionaryArray:
        """Text column ``name`` of part ``p`` as an Arrow dictionary array."""
        held = self._held[p]
        if held is not None:
            col = held[name]
            return pa.array(col.array if isinstance(col.dtype, pd.CategoricalDtype) else pd.Categorical(col))
        arrow = self._read(p, name)
        return arrow.combine_chunks() if isinstance(arrow.type, pa.DictionaryType) else arrow.dictionary_encode().combine_chunks()

    def close(self) -> None:
        """Drop the tables (and the spill folder)."""
        self._held = []
        if self._removal is not None:
            self._removal()

    def __enter__(self) -> Parts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _path(self, p: int) -> str:
        return os.path.join(self.folder, f"part-{p:05d}.arrow")

    def _piece(self, p: int, name: str, dtype: object) -> object:
        """Column ``name`` of part ``p`` (object columns as categoricals of their values)."""
        held = self._held[p]
        if held is not None:
            col = held[name]
            return pd.Categorical(col) if _objects(dtype) else (col.array if isinstance(col.array, pd.Categorical)
                                                                 or not isinstance(col.dtype, np.dtype) else col.to_numpy())
        arrow = self._read(p, name)
        if _coded(dtype):
            return arrow.to_pandas().array
        if hasattr(dtype, "__from_arrow__"):
            return dtype.__from_arrow__(arrow)
        return arrow.to_numpy().astype(dtype, copy=False)


    def _read(self, p: int, name: str) -> pa.ChunkedArray:
        """Column ``name`` of spilled part ``p`` (only that column's buffers are read: a part's
        file holds the columns in table order)."""
        with pa.OSFile(self._path(p)) as source:
            reader = ipc.open_file(source, options=ipc.IpcReadOptions(included_fields=[self.columns.index(name)]),
                                   memory_pool=pa.system_memory_pool())
            return pa.chunked_array([reader.get_batch(b).column(0) for b in range(reader.num_record_batches)],
                                    type=reader.schema.field(0).type)

def frame(columns: dict[str, object]) -> pd.DataFrame:
    """A DataFrame of these arrays without copying them (an object array of text stays object)."""
    return pd.DataFrame({c: pd.Series(v, dtype=object, copy=False) if isinstance(v, np.ndarray) and _objects(v.dtype)
                         else v for c, v in columns.items()}, copy=False)


def _repeats(dictionaries: list[pa.Array], parts: int) -> list[int]:
    """For each of the dictionaries (column by column, ``parts`` per column): the first of the
    same part's dictionaries equal to it (a table's two address columns share one)."""
    same = list(range(len(dictionaries)))
    for k in range(parts, len(dictionaries)):
        for j in range(k % parts, k, parts):
            if dictionaries[j].equals(dictionaries[k]):
                same[k] = same[j]
                break
    return same


def _objects(dtype: object) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind == "O"


def _coded(dtype: object) -> bool:
    """Columns kept as categories on disk: categoricals and object (text) columns."""
    return isinstance(dtype, pd.CategoricalDtype) or _objects(dtype)


def _united(pieces: list[pd.Categorical], dtype: object) -> pd.Categorical | np.ndarray:
    """Categorical pieces as one (categories united as ``merge_flows`` unites them); for an
    object column, the values as an object array sharing one object per distinct value."""
    cats = pieces[0].categories
    if any(not p.categories.equals(cats) for p in pieces[1:]):
        for p in pieces[1:]:
            cats = cats.union(p.categories)
    ordered = bool(getattr(dtype, "ordered", False))
    codes = np.concatenate([_recoded(p, cats) for p in pieces])
    if _objects(dtype):
        return np.append(cats.to_numpy(dtype=object), None)[codes]  # code -1 (NA) -> None
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(cats, ordered=ordered))


def _recoded(piece: pd.Categorical, cats: pd.Index) -> np.ndarray:
    """The piece's codes into ``cats`` (-1 stays -1)."""
    if piece.categories.equals(cats):
        return piece.codes.astype(np.int32)
    at = np.append(cats.get_indexer(piece.categories), -1).astype(np.int32)
    return at[piece.codes]
