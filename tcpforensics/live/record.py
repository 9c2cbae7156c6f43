"""``watch --record DIR``: every sample written as a dated snapshot loop ``analyze`` reads back.

The folder gets one file per kind of table, each a loop of ``time stamp line`` + table, the
shape of ``while true; do date -Ins; ss -tanp; sleep 2; done``:

* ``sockets.txt``: the socket rows as ``ss -tanp`` prints them (Netid, State, Recv-Q, Send-Q,
  local and peer address:port, ``users:(("name",pid=N))``), so the owning processes read back;
* ``counters.txt``: ``/proc/net/netstat`` and ``/proc/net/snmp`` as read;
* ``conntrack.txt``: ``/proc/net/nf_conntrack`` as read (when it was readable and not empty).

``tcpforensics analyze DIR`` then sees the same snapshots the live detectors saw (the time
stamp lines carry nanoseconds, so the times are the same too).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from tcpforensics.live.sample import Sample, dated

#: ss's word for each state of the schema.
SS_STATES: dict[str, str] = {
    "LISTEN": "LISTEN", "SYN_SENT": "SYN-SENT", "SYN_RECEIVED": "SYN-RECV", "ESTABLISHED": "ESTAB",
    "FIN_WAIT_1": "FIN-WAIT-1", "FIN_WAIT_2": "FIN-WAIT-2", "CLOSE_WAIT": "CLOSE-WAIT",
    "CLOSING": "CLOSING", "LAST_ACK": "LAST-ACK", "TIME_WAIT": "TIME-WAIT", "CLOSED": "UNCONN",
}
HEADER = "Netid State      Recv-Q Send-Q Local Address:Port Peer Address:Port Process"

@dataclass
class Recorder:
    """Appends samples to the files of a record folder (created if needed)."""

    folder: Path

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, BinaryIO] = {}

    def write(self, sample: Sample) -> None:
        """One sample: its socket table, counters and conntrack, each behind its time stamp."""
        self._append("sockets.txt", dated(ss_table(sample.sockets).encode(), sample.ts))
        if sample.counters_text:
            self._append("counters.txt", dated(sample.counters_text, sample.ts))
        if sample.conntrack is not None and sample.conntrack_text:
            self._append("conntrack.txt", dated(sample.conntrack_text, sample.ts))

    def _append(self, name: str, data: bytes) -> None:
        if name not in self._files:
            self._files[name] = (self.folder / name).open("ab")
        self._files[name].write(data)
        self._files[name].flush()

    def close(self) -> None:
        """Close the files."""
        for fh in self._files.values():
            fh.close()
        self._files.clear()

def ss_table(sockets: pd.DataFrame) -> str:
    """Socket rows as ``ss -tanp`` text (header included), built over whole columns."""
    if sockets.empty:
        return HEADER + "\n"
    state = sockets["state"].astype(object).map(SS_STATES).fillna("UNKNOWN").astype(str)
    users = ('users:(("' + sockets["process"].astype(object).fillna("?").astype(str) + '",pid='
             + sockets["pid"].astype("Int64").astype("string") + "))").fillna("")
    line = ("tcp   " + state.str.ljust(10) + " " + _number(sockets["recv_q"]) + " " + _number(sockets["send_q"])
            + " " + _endpoint(sockets["src_addr"], sockets["src_port"]) + " "
            + _endpoint(sockets["dst_addr"], sockets["dst_port"]) + " " + users)
    return HEADER + "\n" + "\n".join(line.str.rstrip().tolist()) + "\n"

def _number(values: pd.Series) -> pd.Series:
    return values.astype("Int64").astype("string").fillna("0").astype(str).str.rjust(6)

def _endpoint(addr: pd.Series, port: pd.Series) -> pd.Series:
    a = addr.astype(object).fillna("*").astype(str)
    a = a.where(~a.str.contains(":", regex=False), "[" + a + "]")
    return a + ":" + port.astype("Int64").astype("string").fillna("*").astype(str)
