"""Turn the sources a responder names into the evidence inputs of one run.

A source is one of:

* ``-``: standard input, taken as it is;
* a file: always taken (an unreadable or unrecognised file is reported when it is read);
* a folder: walked recursively in name order, hidden files included; a symbolic link to a
  folder is followed unless that folder was already walked (no loops);
* a glob pattern (``*``, ``?``, ``[...]``, ``**`` for any depth), used only when no file of
  that exact name exists; matched folders are walked.

A source that does not exist and matches nothing is an error (nothing is read then).

What counts as evidence in a folder or among glob matches is decided from content, never
from the name, reading at most :data:`HEAD_BYTES` of each file:

* a capture: pcap or pcapng, plain or gzip-compressed;
* a flow log (Zeek conn.log, Suricata eve.json, VPC flow logs; plain or gzip-compressed) that
  ``ingest.flowlogs`` recognises;
* a text dump that some text format (ss, netstat of Linux/BSD/macOS/Windows, /proc/net/tcp,
  conntrack, lsof, sockstat, counter dumps) recognises with a score of at least ``MIN_SCORE``, decoded as the ingestors
  decode it (BOMs, UTF-16, code pages).

Everything else is skipped and kept with its reason ("empty", "binary, not a capture", "not a
socket table, capture or counter dump", "unreadable: <why>", "special file (fifo/device/
socket)", ...). A file reached twice (a link, a repeated source) is taken once.

Rotated captures (``tcpdump -C``, ``-G``, ``-W``, plain or gzip-compressed) that are given
together are recognised as one capture cut into pieces, so that a connection spanning two
pieces can be read as one flow. Content decides first, names second. Captures are pieces of
one rotated set when they

* sit in the same folder and have names that differ only in runs of digits (``x.pcap``,
  ``x.pcap1``, ``x.pcap2``; ``x.pcap00`` .. ``x.pcap09``; ``trace-2024-01-02_10:00:00.pcap``;
  a ``.gz`` suffix aside);
* have the same link types;
* follow each other in time: in the order of their first packets, each piece starts after
  the previous piece's first packet and no earlier than its last packet, less what packets
  reordered at the cut explain: at most :data:`TOLERANCE_NS` (1 s), and at most a tenth of the
  shorter piece's duration or :data:`REORDER_NS` (1 ms), whichever is larger.

Two captures recorded at the same time (``eth0.pcap`` and ``eth1.pcap``) overlap in time and
are not grouped; nor are copies of one capture. A gap between pieces is allowed (``-G`` on a
quiet link), so captures named alike on one link type that follow each other in time are
grouped even when days apart. When a family
holds two rotated sets (``eth0.pcap*`` and ``eth1.pcap*``) each piece follows the set whose
last name it shares the longest start with.

Inputs come out in the order of the sources; a folder's files and a pattern's matches in name
order (``*`` does not match hidden names, as in a shell; a folder walk includes them); the
pieces of a rotated set together, in time order, where the first of them was met.

Sources are walked and their content classified here; ``ingest.rotation`` groups the pieces
of rotated captures, ordered by the first and last packet times ``ingest.capture_times``
reads.
"""

from __future__ import annotations

import errno
import glob
import os
import stat
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from tcpforensics.errors import InputError
from tcpforensics.ingest import (
    MIN_SCORE,
    SNIFF_LINES,
    detect_capture,
    flowlogs,
    sniff_text,
    textio,
    to_lines,
)
from tcpforensics.ingest.capture_times import (
    _GZIP_MAGIC,
)
from tcpforensics.ingest.rotation import _chains, _family

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
SKIP_WALKED = "folder already walked (symbolic link)"
SKIP_DUPLICATE = "same file as an earlier input"


_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Input:
    """One evidence input: its path ('-' for standard input), kind and rotated set.

    ``kind`` is 'capture' when the file starts with a capture magic number, 'stdin' for '-',
    else 'text' (also for a named pipe or device, which is not read ahead of time).
    """

    path: str
    kind: str  # 'capture' | 'text' | 'flowlog' | 'stdin'
    group: int | None = None  # index into Expansion.groups when a piece of a rotated capture


@dataclass
class Expansion:
    """The inputs of a run and what was left out.

    ``inputs`` are in a deterministic order; ``skipped`` holds (path, reason) of every file
    (or folder) seen and not taken; ``groups`` the paths of each rotated capture in time order.
    """

    inputs: list[Input] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)

    def skipped_counts(self) -> dict[str, int]:
        """Number of skipped files by reason, most frequent first."""
        counts = Counter(reason for _, reason in self.skipped)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def paths(self) -> list[str]:
        """The paths of the inputs, in order."""
        return [i.path for i in self.inputs]


def expand(sources: list[str]) -> Expansion:
    """The evidence inputs named by ``sources`` (paths, folders, globs, '-'); see the module doc.

    Raises :class:`InputError` only for a source that does not exist and matches nothing.
    """
    out = Expansion()
    members = [m for source in sources for m in _members(source, out.skipped)]
    seen: set[tuple] = set()
    taken: list[Input] = []
    for path, explicit in members:
        key = _identity(path)
        if key in seen:
            out.skipped.append((path, SKIP_DUPLICATE))
            continue
        seen.add(key)
        kind, reason = (_explicit_kind(path), None) if explicit else _classify(path)
        if kind is None:
            out.skipped.append((path, reason or SKIP_NOT_EVIDENCE))
        else:
            taken.append(Input(path, kind))
    out.inputs, out.groups = _grouped(taken)
    return out


# --- sources to candidate files -----------------------------------------------------------


def _members(source: str, skipped: list[tuple[str, str]]) -> list[tuple[str, bool]]:
    """(path, explicit) of every file a source names; folders walked, globs matched."""
    if source == "-":
        return [(source, True)]
    if os.path.isdir(source):
        return [(p, False) for p in _walk(source, skipped)]
    if _exists(source):
        return [(source, True)]
    matches = _glob(source) if _GLOB_CHARS & set(source) else []
    if not matches:
        raise InputError(source, "no such file or directory")
    found: list[tuple[str, bool]] = []
    for match in matches:
        if os.path.isdir(match):
            found += [(p, False) for p in _walk(match, skipped)]
        else:
            found.append((match, False))
    return found


def _glob(pattern: str) -> list[str]:
    """Matches of a pattern in name order; ``**`` does not go round symbolic link loops."""
    matches = sorted(glob.glob(pattern, recursive=True))
    return [m for m in matches if not _through_loop(m)] if "**" in pattern else matches


def _through_loop(path: str) -> bool:
    """Whether a path passes the same folder twice (a link back up the tree)."""
    seen: set[tuple[int, int]] = set()
    here = os.path.abspath(path)
    while True:
        try:
            st = os.stat(here)
        except OSError as e:
            return e.errno == errno.ELOOP
        except ValueError:
            return False
        if (st.st_dev, st.st_ino) in seen:
            return True
        seen.add((st.st_dev, st.st_ino))
        up = os.path.dirname(here)
        if up == here:
            return False
        here = up


def _exists(path: str) -> bool:
    """False only when the path is known not to exist (a broken link does not)."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except (OSError, ValueError):
        return True
    return True


def _walk(root: str, skipped: list[tuple[str, str]]) -> Iterator[str]:
    """Files under ``root``, depth first in name order; each folder walked once."""
    walked: set[tuple[int, int]] = set()
    stack: list[Iterator[str]] = [iter([root])]
    while stack:
        path = next(stack[-1], None)
        if path is None:
            stack.pop()
        elif not _is_dir(path):
            yield path
        else:
            entries = _folder(path, walked, skipped)
            if entries:
                stack.append(iter(entries))


def _is_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _folder(path: str, walked: set[tuple[int, int]], skipped: list[tuple[str, str]]) -> list[str]:
    """The entries of a folder in name order; [] when already walked or unreadable."""
    try:
        st = os.stat(path)
        if (st.st_dev, st.st_ino) in walked:
            skipped.append((path, SKIP_WALKED))
            return []
        walked.add((st.st_dev, st.st_ino))
        with os.scandir(path) as it:
            names = sorted(entry.name for entry in it)
    except OSError as e:
        skipped.append((path, _unreadable(e)))
        return []
    return [os.path.join(path, name) for name in names]


def _identity(path: str) -> tuple:
    if path == "-":
        return ("stdin",)
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return ("path", os.path.abspath(path))
    return ("file", st.st_dev, st.st_ino)


def _unreadable(e: OSError) -> str:
    return f"unreadable: {e.strerror or e}"


# --- content detection ---------------------------------------------------------------------


def _explicit_kind(path: str) -> str:
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


def _classify(path: str) -> tuple[str | None, str | None]:
    """(kind, None) when a folder or glob member is evidence, else (None, reason)."""
    reason = _not_regular(path)
    if reason:
        return None, reason
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
            cut = bool(fh.read(1))
    except OSError as e:
        return None, _unreadable(e)
    if flowlogs.claims(path):  # (before captures: a rotated conn.log is gzip too)
        return "flowlog", None
    if detect_capture(head[:64]):
        return ("capture", None) if _is_capture(head) else (None, SKIP_GZIP)
    return _classify_text(head, path, cut)


def _not_regular(path: str) -> str | None:
    try:
        st = os.stat(path)
    except FileNotFoundError as e:
        return SKIP_BROKEN_LINK if os.path.islink(path) else _unreadable(e)
    except OSError as e:
        return _unreadable(e)
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


def _grouped(taken: list[Input]) -> tuple[list[Input], list[list[str]]]:
    """The inputs with each rotated set together (time order, where its first piece was)."""
    families: dict[tuple[str, str], list[str]] = {}
    for inp in taken:
        if inp.kind == "capture":
            families.setdefault(_family(inp.path), []).append(inp.path)
    sets = [c for paths in families.values() if len(paths) > 1 for c in _chains(paths) if len(c) > 1]
    set_of = {path: i for i, paths in enumerate(sets) for path in paths}
    ordered: list[Input] = []
    groups: list[list[str]] = []
    placed: set[int] = set()
    for inp in taken:
        i = set_of.get(inp.path)
        if i is None:
            ordered.append(inp)
        elif i not in placed:
            placed.add(i)
            ordered += [Input(p, "capture", len(groups)) for p in sets[i]]
            groups.append(sets[i])
    return ordered, groups
