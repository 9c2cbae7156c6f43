"""Which captures given together are pieces of one rotated capture (``tcpdump -C``, ``-G``,
``-W``; ``ingest.inputs``): captures of one name family (names that differ only in runs of
digits) split into sets whose pieces follow each other in time on the same link types.
"""

from __future__ import annotations

import os
import re

from tcpforensics.ingest.capture_times import _Span, _span

#: A rotated piece may start this much before the previous piece's last packet.
TOLERANCE_NS = 1_000_000_000
#: Overlap always allowed between pieces, however short (packets reordered at the cut).
REORDER_NS = 1_000_000


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
