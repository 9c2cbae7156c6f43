"""tcpforensics: TCP forensics from packet captures and ss/netstat dumps, as a library and CLI."""

from __future__ import annotations

__version__ = "0.1.0"

from tcpforensics.analysis import Report, analyze  # noqa: E402
from tcpforensics.ingest import ingest, read  # noqa: E402
from tcpforensics.ingest.pcap import iter_events  # noqa: E402
from tcpforensics.reconstruct.flows import flows, flows_stream  # noqa: E402

__all__ = ["Report", "analyze", "flows", "flows_stream", "ingest", "iter_events", "read", "__version__"]
