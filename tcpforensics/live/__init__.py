"""Live: ``tcpforensics watch`` samples this host's ``/proc`` and runs the socket and counter
detectors on a ring of the last samples, interval after interval.

Modules, in the order a sample goes through them:

* ``procfs``: the ``/proc`` root (configurable) and which process holds each socket;
* ``table``: ``/proc/net/tcp``/``tcp6`` through the ``proc_net_tcp`` parser, only the lines that changed;
* ``sample``: one look at the host (sockets, counters, conntrack);
* ``window``: the ring of the last N samples as the inputs ``analyze`` would read, the session totals;
* ``track``: which findings started, changed or ended since the last interval;
* ``summary`` and ``view``: what is shown (rich dashboard or JSON lines);
* ``record``: ``--record DIR``, the samples as dated snapshot loops ``analyze`` reads back;
* ``watch``: the loop;
* ``capture``: ``watch -``, rolling capture findings of a pcap stream on standard input.

The package sits beside ``pipeline`` in the layers (it imports report, detect, reconstruct,
ingest and below; nothing imports it but the CLI).
"""

from tcpforensics.live.procfs import supported
from tcpforensics.live.watch import Options, watch

__all__ = ["Options", "supported", "watch"]
