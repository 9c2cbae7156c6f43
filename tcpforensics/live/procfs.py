"""Reading this host's ``/proc``: the files ``watch`` samples and which process holds each socket.

The root is configurable (``ProcRoot("/proc")`` by default) so tests and the benchmark can point
the sampler at a folder holding files of the same shapes (``net/tcp``, ``net/tcp6``,
``net/netstat``, ``net/snmp``, ``net/nf_conntrack``, ``PID/fd/*``, ``PID/comm``).

Process names come from the ``socket:[INODE]`` links of ``/proc/PID/fd`` (as ``ss -p`` finds
them) and ``/proc/PID/comm``; processes whose descriptors this user may not read are skipped,
so their sockets have no owner. The descriptor scan is the only per-item Python loop of a
sample; it runs only when a socket with an inode not seen before appears.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: The socket tables sampled, relative to the root.
SOCKET_FILES: tuple[str, ...] = ("net/tcp", "net/tcp6")
#: The kernel counter files sampled (their text is read as one ``counters`` dump).
COUNTER_FILES: tuple[str, ...] = ("net/netstat", "net/snmp")
#: The connection-tracking table, read when present and readable.
CONNTRACK_FILE = "net/nf_conntrack"


def supported() -> bool:
    """``watch`` samples Linux ``/proc``; elsewhere it refuses with one line."""
    return sys.platform.startswith("linux")


@dataclass(frozen=True)
class ProcRoot:
    """Where the ``/proc`` files are read from."""

    path: Path = Path("/proc")

    def read(self, name: str) -> bytes | None:
        """The bytes of ``root/name``, or None when it is absent or unreadable."""
        try:
            return (self.path / name).read_bytes()
        except OSError:
            return None

    def missing(self) -> list[str]:
        """Socket tables that cannot be read (a ``/proc`` without networking, another OS)."""
        return [n for n in SOCKET_FILES[:1] if self.read(n) is None]


@dataclass
class Owners:
    """inode -> (pid, process name) of the sockets processes hold, refreshed on demand."""

    root: ProcRoot
    table: pd.DataFrame = field(default_factory=lambda: _owner_frame([], [], []))
    unowned: frozenset[int] = frozenset()  # inodes no readable process held at the last scan
    scans: int = 0  # how many times /proc/*/fd was scanned

    def lookup(self, inodes: pd.Series) -> pd.DataFrame:
        """pid and process for each inode (NA where unknown); rescans ``/proc/*/fd`` when a
        non-zero inode is neither known nor known to be unowned."""
        ino = inodes.astype("Int64").fillna(0).to_numpy(dtype=np.int64)
        known = np.isin(ino, self.table.index.to_numpy()) | (ino == 0)
        fresh = set(np.unique(ino[~known]).tolist()) - self.unowned
        if fresh:
            self.table = scan(self.root)
            self.scans += 1
            self.unowned = frozenset(set(np.unique(ino).tolist()) - set(self.table.index.tolist()))
        hit = self.table.reindex(ino)
        return pd.DataFrame({"pid": hit["pid"].to_numpy(), "process": hit["process"].to_numpy()})


def _owner_frame(inodes: list[int], pids: list[int], names: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({"pid": pd.array(pids, dtype="Int64"), "process": pd.array(names, dtype=object)},
                         index=pd.Index(inodes, dtype=np.int64, name="inode"))
    return frame[~frame.index.duplicated()]


def scan(root: ProcRoot) -> pd.DataFrame:
    """inode -> pid, process of every socket descriptor of every readable process."""
    inodes: list[int] = []
    pids: list[int] = []
    names: list[str] = []
    try:
        entries = [e for e in os.listdir(root.path) if e.isdigit()]
    except OSError:
        entries = []
    for pid in entries:
        found = _sockets_of(root.path / pid)
        if found:
            name = _comm(root.path / pid)
            inodes += found
            pids += [int(pid)] * len(found)
            names += [name] * len(found)
    return _owner_frame(inodes, pids, names)


def _sockets_of(proc: Path) -> list[int]:
    """The socket inodes of one process's descriptors ([] when they cannot be read)."""
    fd = proc / "fd"
    try:
        names = os.listdir(fd)
    except OSError:  # not ours to read, or gone
        return []
    links = (_link(fd / n) for n in names)
    return [int(link[8:-1]) for link in links if link.startswith("socket:[")]


def _link(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:  # closed since the listing
        return ""


def _comm(proc: Path) -> str:
    try:
        return (proc / "comm").read_text(errors="replace").strip() or "?"
    except OSError:
        return "?"
