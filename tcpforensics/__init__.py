"""tcpforensics: TCP forensics from packet captures and ss/netstat dumps, as a library and CLI."""

from __future__ import annotations

from tcpforensics.ingest import ingest, read
from tcpforensics.ingest.pcap import iter_events
from tcpforensics.pipeline import analyze, events_frame, flows, flows_frame
from tcpforensics.reconstruct.flows import flows_stream
from tcpforensics.report.model import Report
from tcpforensics.version import __version__

__all__ = ["Report", "analyze", "events_frame", "flows", "flows_frame", "flows_stream", "ingest", "iter_events",
           "read", "__version__"]
