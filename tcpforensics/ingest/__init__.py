"""Ingest: any supported input (capture or socket-table dump) to the common event table.

The formats are the modules of ``tcpforensics/ingest/formats/``, found by ``registry``:
captures are recognised by their first bytes, text dumps by scoring every text format on a
sample of their lines; ``input_format`` names one and skips detection.
"""

from __future__ import annotations

import io
import sys
from collections import Counter
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from tcpforensics import schema
from tcpforensics.errors import InputError, reading
from tcpforensics.ingest import registry, snapshots, textio
from tcpforensics.ingest.base import Ingested, Lines, Parsed, skipped_of_input

#: Below this detection score no text format claims the input.
MIN_SCORE = 0.2
#: Inputs larger than this are refused for text formats (captures stream instead).
MAX_TEXT_BYTES = 2 * 1024**3
#: Standard input is held in memory whole (text or capture): refused beyond this size.
MAX_STDIN_BYTES = 2 * 1024**3


#: Bytes of standard input looked at to tell a capture stream from text.
STDIN_HEAD = 64


class _Prefixed(io.RawIOBase):
    """A binary stream that yields ``head`` and then the rest of ``rest``: standard input after
    its first bytes were read to detect its format."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        if len(self._head):
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read1(len(buffer)) if hasattr(self._rest, "read1") else self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_stdin() -> tuple[bytes, io.BufferedReader]:
    """The first bytes of standard input and a reader of all of it (those bytes included)."""
    raw = sys.stdin.buffer
    head = raw.read(STDIN_HEAD)
    return head, io.BufferedReader(_Prefixed(head, raw), buffer_size=1 << 20)


def read_input(source: str, fh: BinaryIO | None = None) -> bytes:
    """The bytes of a path, or of standard input for ``-`` (or of ``fh``, a reader of it);
    InputError when unreadable."""
    with reading(source):
        if source == "-":
            data = (fh or sys.stdin.buffer).read(MAX_STDIN_BYTES + 1)
            if len(data) > MAX_STDIN_BYTES:
                raise InputError(source, f"standard input is larger than the {MAX_STDIN_BYTES} byte limit; save it to a file")
            return data
        p = Path(source)
        if p.is_dir():
            raise InputError(source, "is a directory, not a file")
        size = p.stat().st_size
        if size > MAX_TEXT_BYTES and not _is_capture_path(p):
            raise InputError(source, f"text input of {size} bytes is larger than the {MAX_TEXT_BYTES} byte limit")
        return p.read_bytes()


def _is_capture_path(p: Path) -> bool:
    return _capture_of_path(p) is not None


def _capture_of_path(p: Path) -> str | None:
    with p.open("rb") as fh:
        return detect_capture(fh.read(64))


def detect_capture(head: bytes) -> str | None:
    """Name of the capture format that claims these first bytes, or None."""
    return next((f.name for f in registry.capture_formats() if f.module.detect(head)), None)


def to_lines(data: bytes, input_name: str) -> Lines:
    """Decode and split text input into numbered lines with snapshot markers."""
    text, encoding = textio.decode(data)
    raw = text.splitlines()
    series = pd.Series(raw, index=pd.RangeIndex(1, len(raw) + 1, name="line"), dtype=object)
    frame = snapshots.split(series)
    return Lines(input=input_name, encoding=encoding, frame=frame)


#: Detectors see at most this many lines: the head of the input plus an even spread of the rest.
SNIFF_LINES = 4000


def sniff_sample(lines: Lines, limit: int = SNIFF_LINES) -> Lines:
    """The lines format detection looks at: all of a small input; for a large one the first
    half of ``limit`` lines plus lines spread evenly over the rest (order kept)."""
    n = len(lines.frame)
    if n <= limit:
        return lines
    head = limit // 2
    rest = np.linspace(head, n - 1, limit - head).astype(np.int64)
    pos = np.unique(np.concatenate([np.arange(head), rest]))
    return Lines(input=lines.input, encoding=lines.encoding, frame=lines.frame.iloc[pos])


def sniff_text(lines: Lines) -> tuple[str, float, dict[str, float]]:
    """Score every text format on a sample of the lines; return (best name, its score, all
    scores). Detection never reads the whole of a large input."""
    sample = sniff_sample(lines)
    candidates = registry.text_formats()  # by ORDER: a tie goes to the first
    scores: dict[str, float] = {}
    for fmt in candidates:
        try:
            scores[fmt.name] = float(fmt.module.detect(sample))
        except Exception:  # a detector must never take the run down
            scores[fmt.name] = 0.0
    best = max(range(len(candidates)), key=lambda i: (scores[candidates[i].name], -i))
    return candidates[best].name, scores[candidates[best].name], scores


def ingest(source: str, input_format: str | None = None, **options) -> Ingested:
    """Read one input (path or '-') into an :class:`Ingested` (events, skipped, accounting).

    The format is detected from content; ``input_format`` overrides detection.
    Raises :class:`InputError` for unusable input.
    """
    fmt = named_format(source, input_format)
    if fmt is None and source != "-":
        with reading(source):
            capture = _capture_of_path(Path(source))
        fmt = registry.get(capture) if capture else None
    if fmt is not None and fmt.kind == "capture":
        return fmt.module.ingest(source, **options)
    data = read_input(source)
    if fmt is None and (name := detect_capture(data[:64])):
        return registry.get(name).module.ingest_bytes(data, source, **options)
    return ingest_text(data, source, input_format)


def named_format(source: str, input_format: str | None) -> registry.Format | None:
    """The format ``input_format`` names (None for None); InputError for an unknown name."""
    if input_format is None:
        return None
    fmt = registry.get(input_format)
    if fmt is None:
        known = ", ".join(f.name for f in registry.formats())
        raise InputError(source, f"unknown input format {input_format!r}; known: {known}")
    return fmt


def is_capture_file(source: str) -> bool:
    with reading(source):
        return _is_capture_path(Path(source))


def ingest_text(data: bytes, source: str, input_format: str | None = None) -> Ingested:
    """Parse the bytes of a text dump (any supported format) into the common tables."""
    if not data.strip():
        raise InputError(source, "is empty")
    if textio.looks_binary(data[:65536]):
        raise InputError(source, "is binary data, neither a capture (pcap/pcapng) nor a socket table dump")
    lines = to_lines(data, source)
    if input_format is None:
        name, score, scores = sniff_text(lines)
        if score < MIN_SCORE:
            raise InputError(
                source,
                "is not a recognised socket table (ss, netstat, /proc/net/tcp) or counter dump",
            )
    else:
        name, scores = input_format, {}
        if named_format(source, name).kind != "text":
            raise InputError(source, f"{name} is a capture format; this input is text")
    parsed: Parsed = registry.get(name).module.parse(lines)
    return _assemble(lines, name, parsed, scores)


def _assemble(lines: Lines, name: str, parsed: Parsed, scores: dict[str, float]) -> Ingested:
    frame = lines.frame
    rows = parsed.rows
    counters = parsed.meta.pop("counters", None)
    if len(rows):  # the snapshot and time of each row's line; the input and kind, as schema dtypes
        at = _positions(frame, rows["line"])
        rows = rows.assign(
            snapshot=frame["snapshot"].array.take(at, allow_fill=True),
            ts=_times(rows, frame["ts"].array.take(at, allow_fill=True)),
            input=schema.single_category(lines.input, len(rows)),
            kind=pd.Categorical.from_codes(np.zeros(len(rows), dtype=np.int8), dtype=schema.KIND_DTYPE),
        )
    events = schema.conform(rows, "socket") if len(rows) else schema.empty_events("socket")
    skipped = skipped_of_input(lines.input, parsed.skipped)
    n_lines = len(frame)
    n_markers = int(frame["is_marker"].sum())
    structural = Counter(parsed.structural)
    if n_markers:
        structural["snapshot marker"] += n_markers
    # counter dumps (formats/counters): a line of counter values is accounted as read
    counter_lines = int(counters["line"].nunique()) if counters is not None and len(counters) else 0
    accounted = len(events) + len(skipped) + sum(structural.values()) + counter_lines
    accounting = {
        "records_read": n_lines,
        "unit": "line",
        "events": len(events),
        "counter_lines": counter_lines,
        "counters": 0 if counters is None else len(counters),
        "structural": dict(structural),
        "skipped": skipped["reason"].value_counts().to_dict() if len(skipped) else {},
        "unaccounted": n_lines - accounted,
        "snapshots": int(frame["snapshot"].max()) + 1 if n_lines else 0,
        "encoding": lines.encoding,
    }
    meta = dict(parsed.meta)
    meta["detection_scores"] = scores
    return Ingested(
        input=lines.input,
        format=name,
        events=events,
        skipped=skipped,
        counters=counters,
        accounting=accounting,
        meta=meta,
    )


def _times(rows: pd.DataFrame, line_ts: pd.api.extensions.ExtensionArray) -> object:
    """The time of each row: its own (a format that reads one per line, e.g. conntrack -E)
    where it has one, else its line's snapshot time."""
    if "ts" not in rows:
        return line_ts
    own = pd.Series(rows["ts"].to_numpy(dtype="datetime64[ns]"))
    return own.where(own.notna(), pd.Series(line_ts).astype("datetime64[ns]")).array


def _positions(frame: pd.DataFrame, line: pd.Series) -> np.ndarray:
    """Row positions in ``frame`` (index: 1-based line numbers) of these line numbers; -1 where
    a number is not a line of the frame."""
    pos = pd.to_numeric(line, errors="coerce").to_numpy(dtype=float, na_value=np.nan) - 1
    ok = (pos >= 0) & (pos < len(frame))
    return np.where(ok, pos, -1).astype(np.intp)


def read(source: str, input_format: str | None = None, **options) -> pd.DataFrame:
    """The event table of one input (Python API: ``tcpforensics.read(path)``)."""
    return ingest(source, input_format, **options).events


def parse(data: str | bytes, format: str | None = None, name: str = "data", **options) -> pd.DataFrame:
    """The event table of an input held in memory (Python API: ``tcpforensics.parse``).

    ``data`` is the text of a socket-table or counter dump (``str``), or the bytes of any
    input, a capture included. ``format`` names one of ``registry.names()`` and skips content
    detection (jc's order, ``parse("ss", text)``, is understood too); ``name`` fills the
    ``input`` column. Raises :class:`InputError` for unusable input or an unknown format.
    """
    if isinstance(data, str) and data in registry.names() and isinstance(format, str | bytes) \
            and format not in registry.names():
        data, format = format, data  # parse("ss", text), as jc.parse takes it
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    fmt = named_format(name, format)
    if (fmt is None or fmt.kind == "capture") and (capture := detect_capture(raw[:64])):
        if fmt is not None and fmt.name != capture:
            raise InputError(name, f"is a {capture} capture, not {fmt.name}")
        return registry.get(capture).module.ingest_bytes(raw, name, **options).events
    if fmt is not None and fmt.kind == "capture":
        raise InputError(name, f"is not a {fmt.name} capture")
    return ingest_text(raw, name, format).events

