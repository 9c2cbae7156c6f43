"""Flow logs (Zeek conn.log, Suricata eve.json, VPC flow logs): bytes to a table of flow records.

A flow-log format (``KIND = "flowlog"`` in ``tcpforensics/ingest/formats/``) has the functions
of a text format, ``detect(lines)`` and ``parse(lines)``, but its ``Parsed.rows`` are flow
records (``schema.FLOW_RECORD_DTYPES``: the flow columns it knows and the record columns),
not events. This module reads such an input, plain or gzip-compressed (rotated
``conn.2026-12-07-10.log.gz``), recognises its format from the content, parses it and returns
an :class:`Ingested` whose ``meta["flows"]`` holds the records; ``events`` is empty.
``reconstruct/flowlogs.py`` turns the records into flows and conversations.

Every line is accounted for: ``accounting["flows"]`` records, ``skipped`` (by reason) and
``structural`` (headers, other event types, blank lines) add up to ``records_read``.
"""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from tcpforensics import schema
from tcpforensics.errors import InputError
from tcpforensics.ingest import read_input, registry, textio
from tcpforensics.ingest.base import Ingested, Lines, Parsed, skipped_of_input

#: Below this detection score no flow-log format claims the input.
MIN_SCORE = 0.5
#: Bytes of the head (decompressed) that detection reads.
HEAD_BYTES = 256 * 1024
#: Largest decompressed input read whole.
MAX_BYTES = 2 * 1024**3
_GZIP = b"\x1f\x8b"


def flowlog_formats() -> tuple[registry.Format, ...]:
    """The flow-log formats, by ``ORDER``."""
    return tuple(f for f in registry.formats() if f.kind == "flowlog")


def claims(source: str, input_format: str | None = None) -> bool:
    """Whether ``source`` (a path) is a flow log: ``input_format`` names a flow-log format, or
    none is named and one recognises the head of its content. Never raises."""
    if input_format is not None:
        fmt = registry.get(input_format)
        return fmt is not None and fmt.kind == "flowlog"
    if source == "-":
        return False
    try:
        with Path(source).open("rb") as fh:
            raw = fh.read(HEAD_BYTES)
    except (OSError, ValueError):
        return False
    return claims_head(raw, source)


def claims_head(raw: bytes, source: str) -> bool:
    """Whether the first bytes of an input (gzip-compressed or not) are a flow log's. Never raises."""
    try:
        head = raw if raw[:2] != _GZIP else zlib.decompressobj(wbits=31).decompress(raw, HEAD_BYTES)
    except (ValueError, EOFError, zlib.error):
        return False
    if not head.strip() or textio.looks_binary(head[:65536]):
        return False
    cut = head.rfind(b"\n")
    try:
        return sniff(lines_of(head[: cut + 1] if cut > 0 else head, source))[1] >= MIN_SCORE
    except Exception:  # detection of odd content must not stop the run
        return False


def lines_of(data: bytes, source: str) -> Lines:
    """The decoded lines of a flow log (no snapshot markers: a log has none)."""
    text, encoding = textio.decode(data)
    raw = text.splitlines()
    index = pd.RangeIndex(1, len(raw) + 1, name="line")
    frame = pd.DataFrame({"text": pd.Series(raw, index=index, dtype=object),
                          "snapshot": np.zeros(len(raw), dtype=np.int32),
                          "ts": pd.Series(pd.NaT, index=index, dtype="datetime64[ns]"),
                          "is_marker": np.zeros(len(raw), dtype=bool)}, index=index)
    return Lines(input=source, encoding=encoding, frame=frame)


def sniff(lines: Lines) -> tuple[str, float]:
    """The flow-log format that scores best on the first lines, and its score."""
    sample = Lines(lines.input, lines.encoding, lines.frame.iloc[:2000])
    best, score = "", 0.0
    for fmt in flowlog_formats():
        try:
            s = float(fmt.module.detect(sample))
        except Exception:  # a detector must never take the run down
            s = 0.0
        if s > score:
            best, score = fmt.name, s
    return best, score


def read_bytes(source: str) -> bytes:
    """The bytes of a flow log (a path or '-'), gunzipped when compressed; InputError when unreadable."""
    return decompressed(read_input(source), source)


def decompressed(data: bytes, source: str) -> bytes:
    """``data`` gunzipped when it starts with the gzip magic (InputError when corrupt)."""
    if data[:2] != _GZIP:
        return data
    try:
        d = zlib.decompressobj(wbits=31)
        out = d.decompress(data, MAX_BYTES + 1)
    except (zlib.error, gzip.BadGzipFile, EOFError) as e:
        raise InputError(source, f"is a corrupt gzip file ({e})") from None
    if len(out) > MAX_BYTES:
        raise InputError(source, f"decompresses to more than the {MAX_BYTES} byte limit")
    return out


def ingest(source: str, input_format: str | None = None) -> Ingested:
    """Read one flow log (a path) into an :class:`Ingested` with its records in ``meta["flows"]``."""
    return ingest_bytes(read_bytes(source), source, input_format)


def ingest_bytes(data: bytes, source: str, input_format: str | None = None) -> Ingested:
    """A flow log held in memory (gzip or plain) to an :class:`Ingested`."""
    data = decompressed(data, source)
    if not data.strip():
        raise InputError(source, "is empty")
    if textio.looks_binary(data[:65536]):
        raise InputError(source, "is binary data, not a flow log")
    lines = lines_of(data, source)
    if input_format is None:
        name, score = sniff(lines)
        if score < MIN_SCORE:
            raise InputError(source, "is not a recognised flow log (Zeek conn.log, Suricata eve.json, VPC flow log)")
    else:
        fmt = registry.get(input_format)
        if fmt is None or fmt.kind != "flowlog":
            raise InputError(source, f"{input_format} is not a flow-log format")
        name = input_format
    parsed: Parsed = registry.get(name).module.parse(lines)
    return assemble(lines, name, parsed)


def assemble(lines: Lines, name: str, parsed: Parsed) -> Ingested:
    """The records conformed to the flow-record schema, the skipped lines and the accounting."""
    rows = parsed.rows
    n = len(rows)
    rows = rows.assign(input=schema.single_category(lines.input, n),
                       first_frame=rows["line"], last_frame=rows["line"]) if n else rows
    records = schema.conform_flow_records(rows)
    skipped = skipped_of_input(lines.input, parsed.skipped)
    n_lines = len(lines.frame)
    structural = Counter(parsed.structural)
    accounting = {
        "records_read": n_lines,
        "unit": "line",
        "events": 0,
        "flows": n,
        "structural": dict(structural),
        "skipped": skipped["reason"].value_counts().to_dict() if len(skipped) else {},
        "unaccounted": n_lines - n - len(skipped) - sum(structural.values()),
        "encoding": lines.encoding,
    }
    return Ingested(input=lines.input, format=name, events=schema.empty_events("packet"), skipped=skipped,
                    accounting=accounting, meta={**parsed.meta, "flows": records})
