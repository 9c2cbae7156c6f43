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
* a text dump that some text format (ss, netstat of Linux/BSD/macOS/Windows, /proc/net/tcp,
  counter dumps) recognises with a score of at least ``MIN_SCORE``, decoded as the ingestors
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
"""

from __future__ import annotations

import errno
import glob
import io
import os
import re
import stat
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from tcpforensics.capture import headers as h
from tcpforensics.capture.pcapfile import NAT, NotACapture, Walker, _section_order
from tcpforensics.errors import InputError
from tcpforensics.ingest import MIN_SCORE, SNIFF_LINES, detect_capture, sniff_text, textio, to_lines

#: Bytes read from the head of each folder or glob member to decide whether it is evidence.
HEAD_BYTES = 256 * 1024
#: Lines of that head the text formats score: as many as every input's detection sees whole.
HEAD_LINES = SNIFF_LINES // 2
#: Bytes read from the head of a capture to find its first packet and interfaces.
CAPTURE_HEAD_BYTES = 64 * 1024
#: Bytes first read from the end of a capture to find its last packet (grown up to the max).
TAIL_BYTES = 256 * 1024
MAX_TAIL_BYTES = 2 * 1024 * 1024
#: A rotated piece may start this much before the previous piece's last packet.
TOLERANCE_NS = 1_000_000_000
#: Overlap always allowed between pieces, however short (packets reordered at the cut).
REORDER_NS = 1_000_000
#: Record timestamps in a pcap tail may go back this much and still be one chain of records.
RESYNC_SLACK_S = 3600

SKIP_EMPTY = "empty"
SKIP_BINARY = "binary, not a capture"
SKIP_NOT_EVIDENCE = "not a socket table, capture or counter dump"
SKIP_GZIP = "gzip-compressed, not a capture"
SKIP_SPECIAL = "special file (fifo/device/socket)"
SKIP_BROKEN_LINK = "broken symbolic link"
SKIP_WALKED = "folder already walked (symbolic link)"
SKIP_DUPLICATE = "same file as an earlier input"

_GZIP_MAGIC = b"\x1f\x8b"
_DAY_NS = 86400 * 1_000_000_000
_PLAUSIBLE_SPAN_NS = 50 * 366 * _DAY_NS  # a last packet found from the end: at most 50 years on
_GLOB_CHARS = frozenset("*?[")
_SHB_BYTES = h.BT_SHB.to_bytes(4, "little")  # the section header type reads the same both ways


@dataclass(frozen=True)
class Input:
    """One evidence input: its path ('-' for standard input), kind and rotated set.

    ``kind`` is 'capture' when the file starts with a capture magic number, 'stdin' for '-',
    else 'text' (also for a named pipe or device, which is not read ahead of time).
    """

    path: str
    kind: str  # 'capture' | 'text' | 'stdin'
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


# --- rotated captures ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    linktypes: frozenset[int]
    first: int  # ns since the epoch, first timestamped packet in file order
    last: int  # ns since the epoch, last timestamped packet in file order


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


def _family(path: str) -> tuple[str, str]:
    """(folder, name with digit runs masked): names that differ only in digits share it.

    A digit run at the end of the name is optional, as tcpdump -C names its first file
    ``x.pcap`` and the next ones ``x.pcap1``, ``x.pcap2``; a ``.gz`` suffix is ignored, as
    tcpdump -z gzip compresses every piece but the one it is still writing.
    """
    folder, name = os.path.split(os.path.abspath(path))
    masked = re.sub(r"\d+", "#", re.sub(r"\.gz$", "", name))
    return folder, re.sub(r"#$", "", masked)


def _chains(paths: list[str]) -> list[list[str]]:
    """Split captures of one name family into sets that follow each other in time."""
    spans = {p: s for p in paths if (s := _span(p)) is not None}
    order = sorted(spans, key=lambda p: (spans[p].first, spans[p].last, _natural(p)))
    chains: list[list[str]] = []
    for p in order:
        # two rotated sets of one family (eth0-*, eth1-*): follow the closest name
        fits = [(_affinity(c[-1], p), spans[c[-1]].last, -i) for i, c in enumerate(chains)
                if _follows(spans[c[-1]], spans[p])]
        if fits:
            chains[-max(fits)[2]].append(p)
        else:
            chains.append([p])
    return chains


def _follows(prev: _Span, nxt: _Span) -> bool:
    """Whether ``nxt`` can be the piece after ``prev``: same link types, starts later, and
    starts before prev's last packet by no more than reordering at a cut explains (at most
    TOLERANCE_NS, and at most a tenth of the shorter piece: simultaneous captures overlap
    for most of their length)."""
    shorter = min(prev.last - prev.first, nxt.last - nxt.first)
    slack = min(TOLERANCE_NS, max(REORDER_NS, shorter // 10))
    return prev.linktypes == nxt.linktypes and nxt.first > prev.first and prev.last - nxt.first <= slack


def _natural(path: str) -> tuple:
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", path) if t)


def _affinity(a: str, b: str) -> int:
    """Length of the name two pieces start with (eth1.pcap1 is closer to eth1.pcap than to
    eth0.pcap1)."""
    return len(os.path.commonprefix([os.path.basename(a), os.path.basename(b)]))


# --- first and last packet times -----------------------------------------------------------


def first_last_times(path: str) -> tuple[int, int] | None:
    """(first, last) packet timestamps of a capture in ns since the epoch, in file order.

    The first packet is read from the head; the last without reading the whole file: pcapng
    by walking blocks back from the end (each block ends with its length), pcap by finding,
    in a tail window, the chain of record headers that ends exactly at the end of the file.
    A gzip-compressed, damaged or cut capture is walked from the start instead (in bounded
    memory). None when the file is no capture or has no timestamped packet.
    """
    span = _span(path)
    return None if span is None else (span.first, span.last)


def _span(path: str) -> _Span | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(CAPTURE_HEAD_BYTES)
            size = os.fstat(fh.fileno()).st_size
            span = None if head[:2] == _GZIP_MAGIC else _span_from_ends(fh, head, size)
            if span is None:
                fh.seek(0)
                span = _span_by_walking(fh)
            return span
    except (OSError, ValueError):
        return None


def _span_from_ends(fh: io.BufferedReader, head: bytes, size: int) -> _Span | None:
    got = _stamps(head)
    if got is None or not len(got[1]):
        return None
    walker, stamps, _ = got
    first = int(stamps[0])
    last = _pcap_last(fh, head, size, first) if walker.format == "pcap" else _pcapng_last(fh, head, size)
    if last is None or not first - _DAY_NS <= last <= first + _PLAUSIBLE_SPAN_NS:
        return None  # e.g. a later pcapng section with another resolution: walk instead
    return _Span(frozenset(walker.linktypes), first, last)


def _span_by_walking(fh: io.BufferedReader) -> _Span | None:
    walker = Walker(fh)
    first = last = None
    try:
        for batch in walker.batches():
            ts = batch.ts_ns[~batch.bad & (batch.ts_ns != NAT)]
            if len(ts):
                first = int(ts[0]) if first is None else first
                last = int(ts[-1])
    except NotACapture:
        return None
    return None if first is None else _Span(frozenset(walker.linktypes), first, last)


def _stamps(data: bytes) -> tuple[Walker, np.ndarray, bool] | None:
    """The walker, timestamps of the valid records and whether any record was bad, of a
    capture held in memory (None when it is no capture)."""
    walker = Walker(io.BufferedReader(io.BytesIO(data)))
    parts: list[np.ndarray] = []
    bad = False
    try:
        for batch in walker.batches():
            bad |= bool(batch.bad.any())
            parts.append(batch.ts_ns[~batch.bad & (batch.ts_ns != NAT)])
    except NotACapture:
        return None
    return walker, (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)), bad


def _tails(fh: io.BufferedReader, size: int, floor: int, least: int = 0) -> Iterator[tuple[int, bytes]]:
    """(start, bytes) of growing windows (from ``least`` bytes) at the end of the file; the
    last one starts at ``floor`` (after the file header) when the file is not much larger."""
    window = max(TAIL_BYTES, least)
    while True:
        start = size - window
        start = floor if start < CAPTURE_HEAD_BYTES else start
        fh.seek(start)
        yield start, fh.read(size - start)
        if start == floor or window >= max(MAX_TAIL_BYTES, least):
            return
        window = min(4 * window, max(MAX_TAIL_BYTES, least))


def _last_of(stream: bytes) -> int | None:
    """Timestamp of the last record of a stitched stream that reads cleanly to its end."""
    got = _stamps(stream)
    if got is None or got[2] or not len(got[1]) or got[0].stopped is not None:
        return None
    return int(got[1][-1])


def _pcap_last(fh: io.BufferedReader, head: bytes, size: int, first_ns: int) -> int | None:
    hdr = head[: h.PCAP_FILE.size]
    order = "<" if int.from_bytes(hdr[:4], "little") in (h.PCAP_MAGIC_US, h.PCAP_MAGIC_NS) else ">"
    magic, _, _, _, _, snaplen, _ = struct.unpack(order + h.PCAP_FILE.format, hdr)
    rule = _RecordRule(
        order=order,
        max_caplen=snaplen if 0 < snaplen < 0x7FFFFFFF else h.MAX_SNAPLEN,
        max_frac=1_000_000_000 if magic == h.PCAP_MAGIC_NS else 1_000_000,
        min_sec=(first_ns - _DAY_NS) // 1_000_000_000,
    )
    least = 2 * (h.PCAP_RECORD.size + rule.max_caplen)  # the last record whole, and one before
    for start, tail in _tails(fh, size, h.PCAP_FILE.size, least):
        at = _pcap_resync(tail, rule, whole=start == h.PCAP_FILE.size)
        if at is not None:
            return _last_of(hdr + tail[at:])
    return None


@dataclass(frozen=True)
class _RecordRule:
    """What a pcap record header must look like to be taken as one."""

    order: str
    max_caplen: int
    max_frac: int
    min_sec: int  # a day before the first packet


def _pcap_resync(tail: bytes, rule: _RecordRule, whole: bool) -> int | None:
    """Offset in ``tail`` where a chain of sane record headers starts that lands exactly on
    its end (the earliest such offset), or None. ``whole``: the chain must start at 0."""
    a = np.frombuffer(tail, dtype=np.uint8)
    n = len(a)
    if n < h.PCAP_RECORD.size:
        return None
    offs = np.arange(n - h.PCAP_RECORD.size + 1, dtype=np.int64)
    sec = h.PCAP_RECORD.get(a, offs, "ts_sec", rule.order).astype(np.int64)
    frac = h.PCAP_RECORD.get(a, offs, "ts_frac", rule.order)
    nxt = offs + h.PCAP_RECORD.size + h.PCAP_RECORD.get(a, offs, "caplen", rule.order).astype(np.int64)
    sane = (nxt - offs - h.PCAP_RECORD.size <= rule.max_caplen) & (frac < rule.max_frac)
    sane &= (sec >= rule.min_sec) & (nxt <= n)
    cand, sec, nxt = offs[sane], sec[sane], nxt[sane]
    m = len(cand)
    if not m:
        return None
    at = np.minimum(np.searchsorted(cand, nxt), m - 1)
    linked = (cand[at] == nxt) & (sec[at] >= sec - RESYNC_SLACK_S)
    step = np.concatenate([np.where(nxt == n, m, np.where(linked, at, m + 1)), [m, m + 1]])
    end = step
    for _ in range(m.bit_length() + 1):  # pointer doubling: where each chain ends
        end = end[end]
    if whole:
        return 0 if cand[0] == 0 and end[0] == m else None
    ok = np.flatnonzero((end[:m] == m) & (step[:m] != m))  # at least two records
    return int(cand[ok[0]]) if len(ok) else None


def _pcapng_last(fh: io.BufferedReader, head: bytes, size: int) -> int | None:
    prefix, order = _section_prefix(head)
    if not prefix:
        return None
    for start, tail in _tails(fh, size, 0):
        walked = _walk_back(tail, order)
        if walked is None:
            return None
        pos, types = walked
        if not {h.BT_EPB, h.BT_OPB} & set(types):
            if start:
                continue  # no timestamped packet yet: a larger window
            return None
        if tail[pos : pos + 4] == _SHB_BYTES:
            return _last_of(tail[pos:])
        return _last_of(prefix + tail[pos:]) if start else None
    return None


def _section_prefix(head: bytes) -> tuple[bytes, str]:
    """The section header and interface blocks of the last section that starts in ``head``,
    and its byte order (b"" when the head holds no complete section header)."""
    prefix, order, pos = b"", "<", 0
    while pos + 12 <= len(head):
        shb = head[pos : pos + 4] == _SHB_BYTES
        if shb:
            new = _section_order(head[pos + 8 : pos + 12])
            if new is None:
                break
            order = new
        btype, blen = struct.unpack_from(order + "II", head, pos)
        if blen < 12 or blen % 4 or pos + blen > len(head):
            break
        if shb:
            prefix = head[pos : pos + blen]
        elif btype == h.BT_IDB and prefix:
            prefix += head[pos : pos + blen]
        pos += blen
    return prefix, order


def _walk_back(tail: bytes, order: str) -> tuple[int, list[int]] | None:
    """From the end of ``tail``, back over whole pcapng blocks (each ends with its length)
    to the earliest one in the window or a section header: (its offset, block types; none
    when the last block is larger than the window), or None when the file does not end on
    a block."""
    u32 = struct.Struct(order + "I").unpack_from
    pos, types = len(tail), []
    while pos >= 12:
        blen = u32(tail, pos - 4)[0]
        start = pos - blen
        if blen < 12 or blen % 4:
            return (pos, types) if types else None
        if start < 0:  # the block begins before the window
            break
        if u32(tail, start + 4)[0] != blen:
            return (pos, types) if types else None
        types.append(u32(tail, start)[0])
        pos = start
        if types[-1] == h.BT_SHB:
            break
    return pos, types
