"""tcpforensics: TCP forensics from packet captures and ss/netstat dumps, as a library and CLI.

In a notebook (docs/user-guide.md#python-api)::

    import tcpforensics
    events = tcpforensics.parse(text)                # or parse("ss", text), read(path)
    report = tcpforensics.analyze(["capture.pcap", "ss.txt"])
    report.verdict, report.findings, report.flows    # a line, DataFrames

The readers (``parse``, ``read``, ``ingest``) are loaded with the package; everything else
(the pipeline, its stages and their settings) on first use, so ``import tcpforensics`` and
``tcpforensics --help`` do not load the detectors, reports or Dask.
"""

from __future__ import annotations

import importlib
from typing import Any

from tcpforensics.ingest import ingest, parse, read
from tcpforensics.version import __version__

#: Public names loaded on first use: name -> (module that defines it, modules to load with it).
_LAZY: dict[str, tuple[str, tuple[str, ...]]] = {
    "iter_events": ("tcpforensics.ingest.pcap", ()),
    "analyze": ("tcpforensics.pipeline", ()),
    "events_frame": ("tcpforensics.pipeline", ()),
    "flows": ("tcpforensics.pipeline", ()),
    "flows_frame": ("tcpforensics.pipeline", ()),
    "flows_stream": ("tcpforensics.reconstruct.flows", ()),
    "Report": ("tcpforensics.report.model", ()),
    # settings: Config's thresholds are registered by the detectors, so they load with it
    "Config": ("tcpforensics.config", ("tcpforensics.detect",)),
    "load_config": ("tcpforensics.config", ("tcpforensics.detect",)),
    "FlowConfig": ("tcpforensics.reconstruct.flows", ()),
    "Options": ("tcpforensics.reconstruct.evidence", ()),
}

__all__ = ["Config", "FlowConfig", "Options", "Report", "analyze", "events_frame", "flows", "flows_frame",
           "flows_stream", "ingest", "iter_events", "load_config", "parse", "read", "__version__"]


def __getattr__(name: str) -> Any:
    """Load a public name (or a subpackage, ``tcpforensics.pipeline``) on first use."""
    if name not in _LAZY:
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    module, also = _LAZY[name]
    for extra in also:
        importlib.import_module(extra)
    value = getattr(importlib.import_module(module), "load" if name == "load_config" else name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
