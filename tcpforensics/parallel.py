"""Run one function over many inputs: in this process, on local worker processes, or on a Dask
cluster, with results in input order whatever the order in which they complete.

- ``jobs=1`` and no scheduler: a plain loop here (no Dask started).
- ``jobs=N``: a ``dask.distributed.LocalCluster`` of N single-threaded worker processes.
- ``scheduler="tcp://host:8786"``: the work goes to that existing Dask cluster (its workers
  must see the input paths and have tcpforensics installed).

``map_inputs`` runs a list of inputs; ``map_ordered`` streams the pieces of one (the partitions
of a large capture), a few at a time.

Faults: a worker that dies is replaced and its task retried by Dask (``allowed_failures``
times); if it keeps dying the run stops with one line naming the input (``InputError``),
never a report that silently lacks it. An ``InputError`` raised by a task reaches the caller
as it is. Ctrl-C closes the client and the local cluster, which stops the workers.
"""

from __future__ import annotations

import logging
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from tcpforensics.errors import InputError, UsageError

T = TypeVar("T")
R = TypeVar("R")

#: How many dead workers one task may cost before the run gives up on its input (Dask's default).
ALLOWED_FAILURES = 3


def map_inputs(fn: Callable[[T], R], items: Sequence[T], names: Sequence[str], jobs: int = 1,
               scheduler: str | None = None, allowed_failures: int = ALLOWED_FAILURES) -> list[R]:
    """``[fn(item) for item in items]``, run as asked (see the module docstring); ``names``
    label each item in error messages."""
    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: expected 1 or more")
    if scheduler is None and (jobs == 1 or len(items) <= 1):
        return [fn(item) for item in items]
    with _client(jobs, scheduler, allowed_failures) as client:
        futures = client.map(fn, list(items), pure=False)
        try:
            return [_result(f, name) for f, name in zip(futures, names, strict=True)]
        finally:
            client.cancel(futures)


def map_ordered(fn: Callable[[T], R], items: Iterable[T], name: str, jobs: int = 1, scheduler: str | None = None,
                window: int | None = None, allowed_failures: int = ALLOWED_FAILURES) -> Iterator[R]:
    """``fn`` of each item, yielded in item order, run as :func:`map_inputs` runs it, with at
    most ``window`` items (default: twice ``jobs``) out at a time: an item is taken from
    ``items`` (which may be a generator) only when there is room for it, and a result is held
    only until the caller takes it, so a long sequence costs ``window`` items of memory.
    ``name`` labels every item in error messages (the pieces of one input)::

        for table in map_ordered(rebuild, (read(p) for p in parts), "big.pcap", jobs=4):
            ...
    """
    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: expected 1 or more")
    if scheduler is None and jobs == 1:
        yield from map(fn, items)
        return
    window = window or 2 * jobs
    with _client(jobs, scheduler, allowed_failures) as client:
        pending: deque[Any] = deque()
        try:
            for item in items:
                pending.append(client.submit(fn, item, pure=False))
                if len(pending) >= window:
                    yield _result(pending.popleft(), name)
            while pending:
                yield _result(pending.popleft(), name)
        finally:
            client.cancel(list(pending))


def _result(future: Any, name: str) -> Any:
    """The result of one task; a task whose workers kept dying becomes an InputError."""
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        raise InputError(name, "the worker process analysing it died repeatedly (out of memory or "
                               "killed); run it alone or with fewer --jobs") from None


@contextmanager
def _client(jobs: int, scheduler: str | None, allowed_failures: int) -> Iterator[Any]:
    """A Dask client on a new local cluster or on the given scheduler; closed on the way out."""
    import dask
    from distributed import Client, LocalCluster

    settings = {"distributed.scheduler.allowed-failures": allowed_failures}
    if sys.platform == "linux":  # workers forked from this process start with its modules loaded
        settings["distributed.worker.multiprocessing-method"] = "fork"
    with dask.config.set(settings):
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as e:
                raise UsageError(f"--scheduler {scheduler}: cannot connect ({e})") from None
            with client:
                yield client
            return
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        with cluster, Client(cluster) as client:
            yield client
