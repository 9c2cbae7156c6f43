"""Memory handed back to the system between the stages of a large reconstruction.

A capture is rebuilt partition by partition; each partition allocates and frees arrays of
tens of MiB. glibc's malloc keeps freed heap pages in the process, and Arrow's pool keeps
its own, so the resident size would grow with every partition although the live data does
not. ``give_back`` returns what the allocators (glibc's and Arrow's default pool) hold free;
it does nothing to glibc where glibc is not the C library.

    from tcpforensics import heap
    ...                    # a partition's flows
    heap.give_back()       # between partitions

(Pinning glibc's mmap threshold, so that every large array is mapped and unmapped, kept the
peak of the flow-heavy benchmark about 110 MiB lower but made the 10 M packet capture 40-50 %
slower: page faults on every fresh mapping. It is not done.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, when this process runs on it (None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 (glibc only: musl lacks it)
    except (OSError, AttributeError):
        return None
    return libc


def give_back() -> None:
    """Return the free memory of glibc's heap and of Arrow's default pool to the system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()
