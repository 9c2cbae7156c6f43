"""Archives as sources: the zip and tar files collectors write, read in place like folders.

A triage collection (UAC's ``.tar.gz``, Velociraptor's offline-collector and CyLR's ``.zip``,
a KAPE or hand-made zip) is an archive of hundreds of files, a few of them evidence. An
archive named as a source, or met in a folder, is walked member by member in its own order:
each member's head is content-detected as a folder's files are (``ingest.inputs``), and only
the evidence is copied out, to a private temporary folder (mode 0700, removed when the process
ends) under a number, never under the member's own name. Its input is then named
``ARCHIVE!/MEMBER`` (e.g. ``uac-web01-linux-20240101.tar.gz!/live_response/network/ss_-tanp.txt``).

Formats: zip (stored or deflated; ``zipfile``) and tar, plain or gzip/bzip2/xz-compressed
(``tarfile``), recognised from content, never from the name.

Refused, each member with its reason, the rest of the archive still read:

========================================  ==================================================
member                                    reason
========================================  ==================================================
absolute name, or a ``..`` component      ``SKIP_TRAVERSAL``
symbolic or hard link                     ``SKIP_LINK`` (links are never followed)
fifo, device                              ``contents.SKIP_SPECIAL``
larger than ``Limits.member_bytes``       ``SKIP_TOO_LARGE``
zip member compressed more than           ``SKIP_BOMB`` (a zip bomb)
``Limits.ratio`` to one (above 1 MiB)
past ``Limits.total_bytes`` read in all   ``SKIP_TOTAL``
past the first ``Limits.members``         ``SKIP_MEMBERS``: the walk stops there, the rest is
                                          one line
an archive inside the archive             ``SKIP_NESTED`` (not opened)
a member that cannot be read (bad CRC,    ``unreadable: ...``
truncated archive)
========================================  ==================================================

A file that looks like an archive and cannot be opened at all is skipped as
``unreadable archive: ...``; named on its own on the command line, it is the run's one-line
error (``plan``: no evidence). So is a zip whose directory lists more than
``Limits.zip_directory`` members: ``zipfile`` reads a directory whole (a million members take
about 650 MiB), a tar is read a member at a time (a million-member ``.tar.gz``: the first
200,000 looked at in about 8 s and 150 MiB, the rest one line).
"""

from __future__ import annotations

import atexit
import bz2
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from tcpforensics.ingest import flowlogs, ingest_text, origins, read_input, registry
from tcpforensics.ingest.base import Ingested
from tcpforensics.ingest.contents import HEAD_BYTES, SKIP_SPECIAL, classify_head

#: The separator between an archive's path and a member's name in an input's name.
SEP = "!/"

SKIP_TRAVERSAL = "path outside the archive (absolute or '..')"
SKIP_LINK = "link inside an archive (not followed)"
SKIP_TOO_LARGE = "larger than the archive member limit"
SKIP_BOMB = "compression ratio over the limit (zip bomb?)"
SKIP_TOTAL = "past the archive's total-size limit"
SKIP_MEMBERS = "past the archive member-count limit"
SKIP_NESTED = "archive inside an archive (not opened)"

_COPY_CHUNK = 1024**2
#: What reading a damaged, encrypted or odd archive raises: the member (or the rest of the
#: archive) is skipped with it as the reason.
DAMAGE: tuple[type[Exception], ...] = (OSError, EOFError, ValueError, zipfile.BadZipFile, tarfile.TarError, zlib.error,
                                       lzma.LZMAError, NotImplementedError, RuntimeError)
#: Bytes searched at a zip's end for its end record (22 bytes and a comment of up to 64 KiB).
_EOCD_SEARCH = 22 + 65_535 + 20
#: Bytes read to tell an archive from other content.
_SNIFF_BYTES = 4096
#: Compressed streams a tar may come in: magic, and a decompressor of their first block.
_COMPRESSED: tuple[tuple[bytes, Callable[[], object]], ...] = (
    (b"\x1f\x8b", lambda: zlib.decompressobj(wbits=31)),
    (b"BZh", bz2.BZ2Decompressor),
    (b"\xfd7zXZ\x00", lzma.LZMADecompressor),
)


@dataclass(frozen=True)
class Limits:
    """What one archive may hold before its members are refused (see the module doc)."""

    members: int = 200_000  # members looked at
    zip_directory: int = 2_000_000  # a zip whose directory lists more is not opened (it is read whole)
    member_bytes: int = 2 * 1024**3  # one member, uncompressed
    total_bytes: int = 16 * 1024**3  # every member read, uncompressed
    ratio: float = 200.0  # a zip member's uncompressed / compressed size
    ratio_floor: int = 1024**2  # members smaller than this are not judged by ratio


#: The limits every archive is read with.
LIMITS = Limits()


@dataclass(frozen=True)
class Entry:
    """One member as the walk sees it: its name, declared sizes, what it is, and how to open it."""

    name: str
    size: int
    packed: int | None  # compressed size (zip), None for tar
    kind: str  # "file", "dir", "link", "special"
    open: Callable[[], IO[bytes]]


@dataclass(frozen=True)
class Copied:
    """An evidence member copied out: the copy's path and the member's input name."""

    path: str
    name: str
    kind: str


def ingest(path: str, name: str, kind: str, input_format: str | None = None, progress: bool | None = None) -> Ingested:
    """An evidence member copied out to ``path``, read as its ``kind`` (from ``walk``) says and
    named ``name``; a capture is read whole, with the native engine."""
    data = read_input(path)
    if kind == "flowlog":
        return flowlogs.ingest_bytes(data, name, input_format)
    if kind == "capture":
        return registry.get("pcap").module.ingest_bytes(data, name, progress=progress)
    return ingest_text(data, name, input_format)


def is_archive(path: str) -> bool:
    """Whether the file at ``path`` is a zip or tar archive, from its first bytes. Never raises."""
    try:
        with open(path, "rb") as fh:
            return is_archive_head(fh.read(_SNIFF_BYTES))
    except (OSError, ValueError):
        return False


def is_archive_head(head: bytes) -> bool:
    """A zip's local header, or a tar header (``ustar`` at byte 257), plain or at the head of a
    gzip, bzip2 or xz stream (only its first block is decompressed)."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return True
    for magic, unpack in _COMPRESSED:
        if head.startswith(magic):
            try:
                head = unpack().decompress(head, 512)
            except (OSError, ValueError, EOFError, zlib.error, lzma.LZMAError):
                return False
            break
    return head[257:262] == b"ustar"


def walk(path: str, skipped: list[tuple[str, str]], hints: dict[str, bytes] | None = None,
         limits: Limits | None = None) -> list[Copied]:
    """The evidence members of the archive at ``path``, copied out; every other member goes to
    ``skipped`` as (name, reason). Evidence is told from the rest by the head of each member
    (``contents.classify_head``); the heads of the members that name the host
    (``origins.is_hint``) go to ``hints``."""
    limits = limits or LIMITS
    out: list[Copied] = []
    total = 0
    try:
        for n, entry in enumerate(_entries(path, limits)):
            name = f"{path}{SEP}{entry.name}"
            if n >= limits.members:
                skipped.append((f"{path}{SEP}...", f"{SKIP_MEMBERS} ({limits.members:,})"))
                break
            reason = _refused(entry, limits, total)
            if reason:
                if reason != "dir":
                    skipped.append((name, reason))
                continue
            total += entry.size
            copied = _copy_if_evidence(entry, name, limits, skipped,
                                       hints if hints is not None and origins.is_hint(entry.name) else None)
            if copied is not None:
                out.append(copied)
    except DAMAGE as e:
        skipped.append((path, f"unreadable archive: {e}"))
    return sorted(out, key=lambda c: c.name)  # name order, as a folder's files


def _refused(entry: Entry, limits: Limits, total: int) -> str | None:
    """Why a member is not read (``"dir"`` for a folder entry, which is not reported), or None."""
    parts = entry.name.replace("\\", "/").split("/")
    if entry.name.startswith(("/", "\\")) or ".." in parts or (len(entry.name) > 1 and entry.name[1] == ":"):
        return SKIP_TRAVERSAL
    if entry.kind in ("dir", "link", "special"):
        return {"dir": "dir", "link": SKIP_LINK, "special": SKIP_SPECIAL}[entry.kind]
    if entry.size > limits.member_bytes:
        return SKIP_TOO_LARGE
    if entry.packed is not None and entry.size > limits.ratio_floor and entry.size > limits.ratio * max(entry.packed, 1):
        return SKIP_BOMB
    if total + entry.size > limits.total_bytes:
        return SKIP_TOTAL
    return None


def _copy_if_evidence(entry: Entry, name: str, limits: Limits, skipped: list[tuple[str, str]],
                      hints: dict[str, bytes] | None) -> Copied | None:
    """Classify a member by its head (kept in ``hints`` when given); copy it out when it is evidence."""
    try:
        with entry.open() as fh:
            head = fh.read(HEAD_BYTES)
            more = fh.read(1)
            if hints is not None:
                hints[entry.name] = head[:origins.HINT_BYTES]
            if is_archive_head(head):
                skipped.append((name, SKIP_NESTED))
                return None
            kind, reason = classify_head(head, bool(more), name)
            if kind is None:
                skipped.append((name, reason or "not evidence"))
                return None
            target = _new_file()
            with open(target, "wb") as out:
                out.write(head + more)
                written = len(head) + len(more)
                while chunk := fh.read(_COPY_CHUNK):
                    written += len(chunk)
                    if written > limits.member_bytes:  # the size it declared was a lie
                        raise ValueError("larger than it declares")
                    out.write(chunk)
    except DAMAGE as e:
        skipped.append((name, f"unreadable: {e}"))
        return None
    return Copied(target, name, kind)


def _entries(path: str, limits: Limits) -> Iterator[Entry]:
    with open(path, "rb") as fh:
        zipped = fh.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
    if zipped:
        yield from _zip_entries(path, limits)
    else:
        yield from _tar_entries(path)


def _zip_entries(path: str, limits: Limits) -> Iterator[Entry]:
    listed = _zip_count(path)
    if listed is not None and listed > limits.zip_directory:
        raise ValueError(f"its directory lists {listed:,} members, over the limit of {limits.zip_directory:,}")
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            ftype = stat.S_IFMT(info.external_attr >> 16)  # Unix file type, when made on Unix (else 0)
            kind = "dir" if info.is_dir() else "link" if ftype == stat.S_IFLNK else \
                "special" if ftype not in (0, stat.S_IFREG, stat.S_IFDIR) else "file"
            yield Entry(info.filename, info.file_size, info.compress_size, kind,
                        lambda info=info: zf.open(info))


def _zip_count(path: str) -> int | None:
    """The member count a zip's end record (or its zip64 end record) states; None if not found."""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - _EOCD_SEARCH))
        tail = fh.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + 22 > len(tail):
            return None
        count = int.from_bytes(tail[at + 10:at + 12], "little")
        if count != 0xFFFF or at < 20 or tail[at - 20:at - 16] != b"PK\x06\x07":
            return count
        fh.seek(int.from_bytes(tail[at - 12:at - 4], "little"))
        record = fh.read(56)
    return int.from_bytes(record[32:40], "little") if record[:4] == b"PK\x06\x06" else count


def _tar_entries(path: str) -> Iterator[Entry]:
    with tarfile.open(path, "r:*") as tf:
        for info in _stream(tf):
            kind = "dir" if info.isdir() else "link" if info.issym() or info.islnk() else \
                "file" if info.isreg() else "special"
            yield Entry(info.name, info.size, None, kind, lambda info=info: _tar_member(tf, info))


def _stream(tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """Members one at a time, none kept (``TarFile`` would keep every header it has read)."""
    while (info := tf.next()) is not None:
        yield info
        tf.members = []


def _tar_member(tf: tarfile.TarFile, info: tarfile.TarInfo) -> IO[bytes]:
    fh = tf.extractfile(info)
    if fh is None:
        raise ValueError("no data")
    return fh


_PRIVATE: list[str] = []


def _new_file() -> str:
    """A new file in this process's private temporary folder (made on first use, 0700)."""
    if not _PRIVATE:
        folder = tempfile.mkdtemp(prefix="tcpforensics-archive-")
        os.chmod(folder, 0o700)
        _PRIVATE.append(folder)
        atexit.register(shutil.rmtree, folder, True)
    fd, target = tempfile.mkstemp(dir=_PRIVATE[0], suffix=".member")
    os.close(fd)
    return target
