"""Stream the packet events of captures to CSV or JSON lines chunk by chunk (bounded memory)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from tcpforensics.errors import InputError
from tcpforensics.ingest import is_capture_file
from tcpforensics.ingest.pcap import CHUNK_PACKETS, CaptureStream
from tcpforensics.report.export import write_table

STREAMABLE = ("csv", "json")


def all_captures(sources: list[str]) -> bool:
    """True when every input is a capture file (so the event table can be streamed)."""
    return bool(sources) and all(s != "-" and is_capture_file(s) for s in sources)


def chunks(sources: list[str], engine: str = "native", progress: bool | None = None,
           chunk_packets: int = CHUNK_PACKETS) -> Iterator[pd.DataFrame]:
    """Event chunks of every capture in turn."""
    for source in sources:
        yield from CaptureStream(source, chunk_packets, engine, progress)


def ts_text(ts: pd.Series) -> pd.Series:
    """Timestamps as ``YYYY-MM-DD HH:MM:SS.nnnnnnnnn`` (empty for NaT), vectorized."""
    text = np.datetime_as_string(ts.to_numpy(dtype="datetime64[ns]"), unit="ns")
    text = np.char.replace(text.astype(str), "T", " ")
    return pd.Series(np.where(ts.isna().to_numpy(), "", text), index=ts.index, dtype=object)


def write(sources: list[str], fmt: str, output: Path | None, engine: str = "native",
          progress: bool | None = None, chunk_packets: int = CHUNK_PACKETS) -> int:
    """Write the events of ``sources`` as ``fmt`` to ``output`` (stdout: None); rows written."""


    if fmt not in STREAMABLE:
        raise ValueError(f"{fmt} output cannot be streamed")
    try:
        fh: IO[str] = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout  # noqa: SIM115
    except OSError as e:
        raise InputError(str(output), f"cannot write: {e.strerror or e}") from None
    rows = 0
    try:
        for chunk in chunks(sources, engine, progress, chunk_packets):
            if not len(chunk) and rows:
                continue
            if fmt == "csv":  # one timestamp precision for every chunk (pandas picks per chunk)
                chunk = chunk.assign(ts=ts_text(chunk["ts"]))
            text = write_table(chunk, fmt)
            if fmt == "csv" and rows:
                text = text.split("\n", 1)[1]  # the header once, at the top
            fh.write(text)
            rows += len(chunk)
    finally:
        if output:
            fh.close()
    return rows
