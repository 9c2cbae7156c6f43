"""Turn the bytes of a text dump into str: BOMs, UTF-16, UTF-8 and legacy code pages."""

from __future__ import annotations

import codecs


def decode(data: bytes) -> tuple[str, str]:
    """Decode ``data``; return (text, encoding name). Never raises."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return data.decode("utf-16", errors="replace"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def looks_binary(data: bytes) -> bool:
    """True when ``data`` (a head sample) is not text in any encoding we read."""
    if not data:
        return False
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    sample = data[:65536]
    if b"\x00" in sample:
        return True
    ctrl = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return ctrl > len(sample) * 0.05
