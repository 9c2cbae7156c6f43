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
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from tcpforensics.errors import InputError
from tcpforensics.ingest import archives, origins
from tcpforensics.ingest.contents import (  # noqa: F401 - the skip reasons are part of this module's interface
    HEAD_BYTES,
    SKIP_BINARY,
    SKIP_BROKEN_LINK,
    SKIP_EMPTY,
    SKIP_GZIP,
    SKIP_NOT_EVIDENCE,
    SKIP_SPECIAL,
    classify,
    classify_head,
    explicit_kind,
    is_regular,
    unreadable,
)
from tcpforensics.ingest.rotation import _chains, _family

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
    name: str | None = None  # an archive member: 'ARCHIVE!/MEMBER' (``path`` is its private copy)

    @property
    def shown(self) -> str:
        """The input's name in the report: its path, or an archive member's name."""
        return self.name or self.path


@dataclass
class Expansion:
    """The inputs of a run and what was left out.

    ``inputs`` are in a deterministic order; ``skipped`` holds (path, reason) of every file
    (or folder) seen and not taken; ``groups`` the paths of each rotated capture in time order.
    """

    inputs: list[Input] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)
    origins: dict[str, origins.Origin] = field(default_factory=dict)  # by input name: a folder's or archive's

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
    sourced = [(source, _members(source, out.skipped)) for source in sources]
    seen: set[tuple] = set()
    taken: list[Input] = []
    for source, members in sourced:
        folder = _folder_origin(source, members) if source != "-" and _is_dir(source) else None
        for path, explicit in members:
            key = _identity(path)
            if key in seen:
                out.skipped.append((path, SKIP_DUPLICATE))
                continue
            seen.add(key)
            if is_regular(path) and archives.is_archive(path):
                taken += _archive(path, out)
                continue
            kind, reason = (explicit_kind(path), None) if explicit else classify(path)
            if kind is None:
                out.skipped.append((path, reason or SKIP_NOT_EVIDENCE))
                continue
            taken.append(Input(path, kind))
            if folder is not None:
                out.origins[path] = folder
    out.inputs, out.groups = _grouped(taken)
    return out


def _archive(path: str, out: Expansion) -> list[Input]:
    """The evidence members of an archive (copied out), their origin recorded in ``out``."""
    hints: dict[str, bytes] = {}
    copied = archives.walk(path, out.skipped, hints)
    where = origins.origin(path, hints)
    out.origins.update(dict.fromkeys((c.name for c in copied), where))
    return [Input(c.path, c.kind, name=c.name) for c in copied]


def _folder_origin(folder: str, members: list[tuple[str, bool]]) -> origins.Origin:
    """A folder's origin, from the files a host rule reads (their heads) and its name."""
    hints: dict[str, bytes] = {}
    for path, _ in members:
        rel = os.path.relpath(path, folder)
        if origins.is_hint(rel):
            try:
                with open(path, "rb") as fh:
                    hints[rel] = fh.read(origins.HINT_BYTES)
            except (OSError, ValueError):
                continue
    return origins.origin(folder, hints)


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
        skipped.append((path, unreadable(e)))
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


def _grouped(taken: list[Input]) -> tuple[list[Input], list[list[str]]]:
    """The inputs with each rotated set together (time order, where its first piece was)."""
    families: dict[tuple[str, str], list[str]] = {}
    for inp in taken:
        if inp.kind == "capture" and inp.name is None:  # (an archive's captures are not grouped)
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
