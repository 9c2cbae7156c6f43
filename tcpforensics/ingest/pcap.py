"""Capture reader (pcap, pcapng, gzip): placeholder until the native reader lands."""

from __future__ import annotations

from tcpforensics.errors import InputError
from tcpforensics.ingest.base import Ingested

NAME = "pcap"
DESCRIPTION = "pcap / pcapng capture (optionally gzip-compressed)"

_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a", b"\x1f\x8b")


def detect(head: bytes) -> bool:
    """True when the first bytes are a pcap, pcapng or gzip magic number."""
    return head[:4] in _MAGICS or head[:2] == b"\x1f\x8b"


def ingest(source: str, **options) -> Ingested:
    """Read a capture file into packet events."""
    raise InputError(source, "capture reading is not available yet")


def ingest_bytes(data: bytes, source: str, **options) -> Ingested:
    """Read a capture held in memory (stdin)."""
    raise InputError(source, "capture reading is not available yet")
