"""What a file is, from its first bytes: evidence of a kind (a capture, a flow log, a text
dump some format recognises) or the reason it is not (``SKIP_*``), for the members of folders,
globs and archives (``ingest.inputs``, ``ingest.archives``). Content decides, never the name."""

from __future__ import annotations

import os
import stat
import zlib

import numpy as np

from tcpforensics.ingest import (
    MIN_SCORE,
    SNIFF_LINES,
    detect_capture,
    flowlogs,
    sniff_text,
    textio,
    to_lines,
)
from tcpforensics.ingest.capture_times import _GZIP_MAGIC

#: Bytes read from the head of each folder or glob member to decide whether it is evidence.
HEAD_BYTES = 256 * 1024
#: Lines of that head the text formats score: as many as every input's detection sees whole.
HEAD_LINES = SNIFF_LINES // 2


SKIP_EMPTY = "empty"
SKIP_BINARY = "binary, not a capture"
SKIP_NOT_EVIDENCE = "not a socket table, capture or counter dump"
SKIP_GZIP = "gzip-compressed, not a capture"
SKIP_SPECIAL = "special file (fifo/device/socket)"
SKIP_BROKEN_LINK = "broken symbolic link"


def unreadable(e: OSError) -> str:
    return f"unreadable: {e.strerror or e}"


def explicit_kind(path: str) -> str:
    """Kind of a file named on the command line: never read beyond its magic number, and not
    at all when it is a pipe or device (reading would consume it)."""
    if path == "-":
        return "stdin"
    try:
        if stat.S_ISREG(os.stat(path).st_mode):
            with open(path, "rb") as fh:
                return "capture" if detect_capture(fh.read(64)) else "text"
    except (OSError, ValueError):
        pass
    return "text"


def classify(path: str) -> tuple[str | None, str | None]:
    """(kind, None) when a folder or glob member is evidence, else (None, reason)."""
    reason = _not_regular(path)
    if reason:
        return None, reason
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
            cut = bool(fh.read(1))
    except OSError as e:
        return None, unreadable(e)
    return classify_head(head, cut, path)


def classify_head(head: bytes, cut: bool, path: str) -> tuple[str | None, str | None]:
    """(kind, None) when the first :data:`HEAD_BYTES` of a file (``cut``: it goes on) are
    evidence, else (None, reason); ``path`` names it (also an archive member's name)."""
    if flowlogs.claims_head(head, path):  # (before captures: a rotated conn.log is gzip too)
        return "flowlog", None
    if detect_capture(head[:64]):
        return ("capture", None) if _is_capture(head) else (None, SKIP_GZIP)
    return _classify_text(head, path, cut)


def is_regular(path: str) -> bool:
    try:
        return path != "-" and stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _not_regular(path: str) -> str | None:
    try:
        st = os.stat(path)
    except FileNotFoundError as e:
        return SKIP_BROKEN_LINK if os.path.islink(path) else unreadable(e)
    except OSError as e:
        return unreadable(e)
    except ValueError as e:  # a name the OS cannot take (embedded NUL)
        return f"unreadable: {e}"
    return None if stat.S_ISREG(st.st_mode) else SKIP_SPECIAL


def _is_capture(head: bytes) -> bool:
    """A capture magic at the head, looking inside gzip (a gzipped log is no capture)."""
    if head[:2] != _GZIP_MAGIC:
        return True
    try:
        inner = zlib.decompressobj(wbits=31).decompress(head, 64)
    except zlib.error:
        return False
    return inner[:2] != _GZIP_MAGIC and detect_capture(inner[:64]) is not None


def _classify_text(head: bytes, path: str, cut: bool) -> tuple[str | None, str | None]:
    if not head.strip():
        return None, SKIP_EMPTY
    if textio.looks_binary(head[:65536]):
        return None, SKIP_BINARY
    head = _whole_lines(head, cut)
    try:
        _, score, _ = sniff_text(to_lines(head, path))
    except Exception:  # detection of odd text must skip the file, never stop the expansion
        score = 0.0
    return ("text", None) if score >= MIN_SCORE else (None, SKIP_NOT_EVIDENCE)


def _whole_lines(head: bytes, cut: bool) -> bytes:
    """The first :data:`HEAD_LINES` lines of ``head``; its last, partial line dropped when
    the file goes on (a newline's NUL is kept with it in UTF-16 LE text)."""
    ends = np.flatnonzero(np.frombuffer(head, dtype=np.uint8) == 0x0A)
    if len(ends) > HEAD_LINES:
        ends, cut = ends[:HEAD_LINES], True
    if not cut or not len(ends):
        return head
    end = int(ends[-1]) + 1
    return head[: end + 1] if head[end : end + 1] == b"\0" else head[:end]
