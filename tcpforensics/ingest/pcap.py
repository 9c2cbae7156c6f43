"""Capture ingestor (pcap, pcapng, gzip): packet events through the native or the tshark engine."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd

from tcpforensics import schema
from tcpforensics.capture import native, progress, table
from tcpforensics.capture.pcapfile import NotACapture, Walker
from tcpforensics.errors import InputError, reading
from tcpforensics.ingest.base import Ingested

NAME = "pcap"
DESCRIPTION = "pcap / pcapng capture (optionally gzip-compressed)"
ENGINES = ("native", "tshark")
#: Default rows per chunk for streaming (``iter_events``).
CHUNK_PACKETS = 1_000_000

_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a")


def detect(head: bytes) -> bool:
    """True when the first bytes are a pcap, pcapng or gzip magic number."""
    return head[:4] in _MAGICS or head[:2] == b"\x1f\x8b"


def ingest(source: str, engine: str = "native", progress: bool | None = None, **options) -> Ingested:
    """Read a capture file into packet events (all TCP segments) with an exact account."""
    _check_engine(source, engine)
    if engine == "tshark":
        from tcpforensics.ingest import pcap_tshark as tshark

        return tshark.ingest(source, **options)
    with _opened(source) as fh:
        return _ingest_native(fh, source, _size(source), progress)


def ingest_bytes(data: bytes, source: str, engine: str = "native", progress: bool | None = None,
                 **options) -> Ingested:
    """Read a capture held in memory (standard input)."""
    _check_engine(source, engine)
    if engine == "tshark":
        raise InputError(source, "--engine tshark reads files only, not standard input")
    return _ingest_native(io.BufferedReader(io.BytesIO(data)), source, len(data), progress)


def iter_events(source: str, chunk_packets: int = CHUNK_PACKETS, engine: str = "native",
                progress: bool | None = None) -> Iterator[pd.DataFrame]:
    """Packet events of a capture file in chunks of at most ``chunk_packets`` rows."""
    stream = CaptureStream(source, chunk_packets, engine, progress)
    yield from stream


class CaptureStream:
    """Iterate event chunks of one capture (a path, or an open binary stream such as standard
    input); afterwards, or once iteration stops early, ``accounting`` and ``skipped`` are set.

    Ctrl-C while reading ends the stream where it is: the chunks read so far stand,
    ``accounting["stopped"]`` says the reading was interrupted, and ``interrupted`` is True."""

    def __init__(self, source: str, chunk_packets: int = CHUNK_PACKETS, engine: str = "native",
                 progress: bool | None = None, fh: io.BufferedIOBase | None = None) -> None:
        if chunk_packets < 1:
            raise ValueError("chunk_packets must be at least 1")
        _check_engine(source, engine)
        if engine == "tshark" and fh is not None:
            raise InputError(source, "--engine tshark reads files only, not standard input")
        self.source = source
        self.chunk_packets = chunk_packets
        self.engine = engine
        self.progress = progress
        self.fh = fh
        self.accounting: dict = {}
        self.skipped = schema.empty_skipped()
        self.interrupted = False

    def __iter__(self) -> Iterator[pd.DataFrame]:
        if self.engine == "tshark":
            from tcpforensics.ingest import pcap_tshark as tshark

            ing = tshark.ingest(self.source)
            self.accounting, self.skipped = ing.accounting, ing.skipped
            for start in range(0, len(ing.events), self.chunk_packets):
                yield ing.events.iloc[start : start + self.chunk_packets].reset_index(drop=True)
            return
        if self.fh is not None:
            yield from self._native(self.fh, None)
            return
        with _opened(self.source) as fh:
            yield from self._native(fh, _size(self.source))

    def _native(self, fh: io.BufferedIOBase, size: int | None) -> Iterator[pd.DataFrame]:
        walker, tally, book = _walker(fh, self.source), native.Tally(), table.AddressBook()
        pending: list[dict[str, np.ndarray]] = []
        held = 0
        yielded = False
        try:
            with progress.bar(self.source, size, progress.wanted(self.progress, size)) as upd:
                walker.on_progress = upd
                for cols in _guarded(native.iter_decoded(walker, tally, book), self.source):
                    pending.append(cols)
                    held += len(cols["frame"])
                    while held >= self.chunk_packets:
                        merged = table.concat(pending)
                        yield table.build(table.take(merged, slice(0, self.chunk_packets)), self.source,
                                          book.names, compact=True)
                        yielded = True
                        rest = table.take(merged, slice(self.chunk_packets, None))
                        pending, held = [rest], len(rest["frame"])
        except KeyboardInterrupt:
            self.interrupted = True
            walker.stopped = {"after_frame": tally.packets, "reason": "interrupted (Ctrl-C): the rest was not read"}
        finally:
            self.accounting = native.accounting(walker, tally)
            self.skipped = _skipped(tally, self.source)
        if held or not yielded:
            yield table.build(table.concat(pending), self.source, book.names, compact=True)


def _ingest_native(fh: io.BufferedIOBase, source: str, size: int | None, show: bool | None) -> Ingested:
    walker, tally, book = _walker(fh, source), native.Tally(), table.AddressBook()
    with progress.bar(source, size, progress.wanted(show, size)) as upd:
        walker.on_progress = upd
        chunks = list(_guarded(native.iter_decoded(walker, tally, book), source))
    events = table.build(table.concat(chunks), source, book.names)
    acc = native.accounting(walker, tally)
    return Ingested(input=source, format=NAME, events=events, skipped=_skipped(tally, source),
                    accounting=acc, meta={"stopped": walker.stopped})


def _walker(fh: io.BufferedIOBase, source: str) -> Walker:
    walker = Walker(fh)
    try:
        walker.open()
    except NotACapture as e:
        raise InputError(source, str(e)) from None
    return walker


def _guarded(it: Iterator, source: str) -> Iterator:
    try:
        yield from it
    except NotACapture as e:
        raise InputError(source, str(e)) from None
    except OSError as e:
        raise InputError(source, f"cannot read: {e.strerror or e}") from None


def _skipped(tally: native.Tally, source: str) -> pd.DataFrame:
    if not tally.skipped:
        return schema.empty_skipped()
    sk = pd.concat(tally.skipped, ignore_index=True)
    sk.insert(0, "input", source)
    return sk[list(schema.SKIP_COLUMNS)].astype(schema.SKIP_COLUMNS)


def _check_engine(source: str, engine: str) -> None:
    if engine not in ENGINES:
        raise InputError(source, f"unknown capture engine {engine!r}; known: {', '.join(ENGINES)}")


def _size(source: str) -> int | None:
    try:
        return os.path.getsize(source)
    except OSError:
        return None


@contextmanager
def _opened(source: str) -> Iterator[io.BufferedReader]:
    with reading(source):
        fh = open(source, "rb")  # noqa: SIM115 - closed below
    with fh:
        yield fh
