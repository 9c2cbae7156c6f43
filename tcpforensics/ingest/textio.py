"""Turn the bytes of a text dump into str: BOMs, UTF-16, UTF-8 and legacy code pages."""

from __future__ import annotations

import codecs
import unicodedata
from functools import lru_cache

import numpy as np

from tcpforensics.ingest.parsing import vocab

#: Legacy code pages tried when the bytes are not UTF-8, in tie-break order: Windows OEM
#: pages first (what ``netstat > file`` writes in a console), then ANSI pages (what an editor
#: saves), then the double-byte East Asian pages.
CODEPAGES: tuple[str, ...] = (
    "cp850",  # OEM Western Europe (de, fr, es, it, pt)
    "cp437",  # OEM US
    "cp866",  # OEM Cyrillic (ru)
    "cp1252",  # ANSI Western Europe
    "cp1251",  # ANSI Cyrillic
    "cp936",  # GBK, Simplified Chinese (OEM = ANSI)
    "cp932",  # Shift-JIS, Japanese (OEM = ANSI)
)

#: Bytes sampled from the head of the input when scoring candidates.
HEAD_BYTES = 65536
#: Further lines holding non-ASCII bytes sampled from beyond the head.
EXTRA_LINES = 200

# Score weights: a vocabulary phrase decoded right is strong evidence; each non-ASCII
# letter is weak evidence; symbols, controls and replacement characters count against.
_W_PHRASE = 8
_W_LETTER = 1
_W_SYMBOL = -3
_W_BAD = -12


def decode(data: bytes) -> tuple[str, str]:
    """Decode ``data``; return (text, encoding name). Never raises.

    BOMs decide first (UTF-8, UTF-16 LE/BE); then BOM-less UTF-16 from the pattern of zero
    bytes; then strict UTF-8; otherwise every code page in :data:`CODEPAGES` (and lenient
    UTF-8) decodes a sample and the one whose text best matches known netstat vocabulary
    and plausible characters wins.
    """
    data = data if isinstance(data, bytes) else bytes(data)
    try:
        return _decode(data)
    except Exception:  # last resort: never raise on bad input
        return data.decode("latin-1"), "latin-1"


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith(codecs.BOM_UTF16_LE):
        return data[2:].decode("utf-16-le", errors="replace"), "utf-16"
    if data.startswith(codecs.BOM_UTF16_BE):
        return data[2:].decode("utf-16-be", errors="replace"), "utf-16-be"
    utf16 = _utf16_without_bom(data[:HEAD_BYTES])
    if utf16:
        return data.decode(utf16, errors="replace"), utf16
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    sample = _sample(data)
    best = max(
        ("utf-8",) + CODEPAGES,
        key=lambda enc: (_score(sample, enc), -_order(enc)),
    )
    return data.decode(best, errors="replace"), best


def _order(enc: str) -> int:
    return (("utf-8",) + CODEPAGES).index(enc)


def _utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' when zero bytes sit at odd / even offsets (ASCII in UTF-16)."""
    n = len(head) - len(head) % 2
    if n < 8:
        return None
    a = np.frombuffer(head[:n], dtype=np.uint8)
    even0 = float((a[0::2] == 0).mean())
    odd0 = float((a[1::2] == 0).mean())
    if odd0 > 0.3 and even0 < 0.05:
        enc = "utf-16-le"
    elif even0 > 0.3 and odd0 < 0.05:
        enc = "utf-16-be"
    else:
        return None
    # binary data can have the same zero pattern: demand text-like characters too
    text = head[:n].decode(enc, errors="replace")
    cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    bad = (cps == 0xFFFD) | ((cps < 32) & ~np.isin(cps, (9, 10, 13)))
    return enc if bad.sum() <= len(cps) * 0.02 else None


def _sample(data: bytes) -> bytes:
    """The head of the input plus some later lines that hold non-ASCII bytes."""
    head = data[:HEAD_BYTES]
    cut = head.rfind(b"\n")
    if len(data) > HEAD_BYTES and cut > 0:
        head = head[: cut + 1]
    rest = data[len(head) :]
    if not rest:
        return head
    arr = np.frombuffer(rest, dtype=np.uint8)
    high = np.flatnonzero(arr >= 0x80)
    if not len(high):
        return head
    newlines = np.flatnonzero(arr == 0x0A)
    starts = np.unique(np.searchsorted(newlines, high[: EXTRA_LINES * 64]))[:EXTRA_LINES]
    bounds = np.concatenate(([-1], newlines, [len(rest)]))
    extra = [rest[bounds[i] + 1 : bounds[i + 1] + 1] for i in starts]
    return head + b"".join(extra)


@lru_cache(maxsize=1)
def _phrases() -> tuple[str, ...]:
    words = {p for p, _, _, _ in vocab.NETSTAT_PHRASES}
    words |= {tok for tok, _, _ in vocab.STATE_TOKENS}
    # Only phrases with non-ASCII letters tell 8-bit pages apart; ASCII ones still tell
    # real text from UTF-16 or binary misreads, so keep both (case-folded).
    return tuple(sorted({w.casefold() for w in words if len(w) >= 2}))


def _score(sample: bytes, enc: str) -> float:
    text = sample.decode(enc, errors="replace")
    folded = text.casefold()
    score = 0.0
    for phrase in _phrases():
        if not phrase.isascii():
            hits = folded.count(phrase)
            if hits:
                score += _W_PHRASE * len(phrase) * min(hits, 50)
    score += _char_score(text)
    return score


def _char_score(text: str) -> float:
    """Plausibility of the non-ASCII characters: letters good, symbols/controls bad."""
    arr = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    high = arr[arr >= 0x80]
    if not len(high):
        return 0.0
    uniq, counts = np.unique(high, return_counts=True)
    total = 0.0
    for cp, n in zip(uniq.tolist(), counts.tolist(), strict=True):
        total += _char_weight(cp) * n
    return total


@lru_cache(maxsize=65536)
def _char_weight(cp: int) -> float:
    ch = chr(cp)
    if cp == 0xFFFD:
        return _W_BAD
    cat = unicodedata.category(ch)
    if cat in ("Cc", "Co", "Cn", "Cs"):
        return _W_BAD
    if cat.startswith("L"):
        return _W_LETTER
    if 0x2500 <= cp <= 0x25FF:  # box drawing, blocks, geometric shapes (cp437/cp850 art)
        return _W_BAD
    if ch in "’‘“”–—…€":  # punctuation real text carries
        return _W_LETTER
    return _W_SYMBOL


def looks_binary(data: bytes) -> bool:
    """True when ``data`` (a head sample) is not text in any encoding we read."""
    if not data:
        return False
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF8)):
        return False
    sample = data[:65536]
    if _utf16_without_bom(sample):
        return False
    if b"\x00" in sample:
        return True
    arr = np.frombuffer(sample, dtype=np.uint8)
    ctrl = int(((arr < 9) | ((arr > 13) & (arr < 32))).sum())
    return ctrl > len(sample) * 0.05
