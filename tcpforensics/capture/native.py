"""The native engine: walk blocks, decode every batch with numpy, keep TCP rows and an account."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tcpforensics.capture import decode as d
from tcpforensics.capture import layers
from tcpforensics.capture.pcapfile import Batch, Walker
from tcpforensics.capture.table import AddressBook
from tcpforensics.capture.tcp import tcp_fields

#: Skipped packets listed one per row (frame, reason); beyond this only their counts are kept.
MAX_SKIPPED_ROWS = 100_000

_SKIP_TEXT = {
    layers.OUT_TRUNCATED: "captured bytes end inside a link, IP or TCP header",
    layers.OUT_MALFORMED: "header contradicts itself (version, header or total length, record length)",
    layers.OUT_FRAGMENT: "IP fragment after the first: carries no TCP header",
}


@dataclass
class Tally:
    """Running account of one capture: packets by outcome, skipped packets by frame."""

    packets: int = 0
    rows: int = 0  # skipped packets listed one per row
    capped: bool = False  # more were skipped than listed (see MAX_SKIPPED_ROWS)
    outcomes: np.ndarray = field(default_factory=lambda: np.zeros(len(layers.OUTCOMES), dtype=np.int64))
    skipped: list[pd.DataFrame] = field(default_factory=list)

    def add(self, batch: Batch, layer: np.ndarray) -> None:
        self.packets += len(layer)
        self.outcomes += np.bincount(layer - layers.FIRST_OUTCOME, minlength=len(layers.OUTCOMES))
        sk = np.flatnonzero(layer >= layers.OUT_TRUNCATED)
        room = MAX_SKIPPED_ROWS - self.rows
        if len(sk) > room:  # counts stay exact (outcomes); only the per-frame detail is capped
            sk = sk[: max(room, 0)]
            self.capped = True
        self.rows += len(sk)
        if len(sk):
            codes = layer[sk]
            reasons = np.array([name for _, name in layers.OUTCOMES], dtype=object)[codes - layers.FIRST_OUTCOME]
            text = pd.Series(codes).map(_SKIP_TEXT).astype(object)
            unknown = codes == layers.OUT_UNKNOWN_LINK
            if unknown.any():
                text[unknown] = "link type " + pd.Series(batch.linktype[sk][unknown]).astype(str).to_numpy()
            self.skipped.append(pd.DataFrame({"line": batch.frame[sk], "reason": reasons, "text": text.to_numpy()}))

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {"event": {}, "non_tcp": {}, "skipped": {}}
        for (bucket, name), n in zip(layers.OUTCOMES, self.outcomes.tolist(), strict=True):
            if n:
                out[bucket][name] = n
        return out


def decode_batch(batch: Batch, tally: Tally, book: AddressBook) -> dict[str, np.ndarray]:
    """TCP columns of one batch (numpy), counting every packet's outcome into ``tally``."""
    p = layers.DecodeState(batch.buf, batch.data_off, batch.caplen, batch.wirelen, batch.linktype, batch.bad)
    d.decode(p)
    t, cols = tcp_fields(p)
    tally.add(batch, p.layer)
    n = len(t)
    v6 = cols["is_v6"]
    both = book.codes(np.concatenate([v6, v6]), np.concatenate([cols.pop("src_hi"), cols.pop("dst_hi")]),
                      np.concatenate([cols.pop("src_lo"), cols.pop("dst_lo")]))
    cols["src"], cols["dst"] = both[:n], both[n:]
    cols["ts_ns"] = batch.ts_ns[t]
    cols["frame"] = batch.frame[t]
    cols["iface"] = batch.iface[t]
    cols["caplen"] = batch.caplen[t].astype(np.uint32)
    cols["wirelen"] = batch.wirelen[t].astype(np.uint32)
    return cols


def iter_decoded(walker: Walker, tally: Tally, book: AddressBook) -> Iterator[dict[str, np.ndarray]]:
    """Decoded TCP columns, one dict per block of the capture."""
    for batch in walker.batches():
        yield decode_batch(batch, tally, book)


def accounting(walker: Walker, tally: Tally, engine: str = "native") -> dict:
    """The capture's accounting entry (see ``Ingested.accounting``)."""
    c = tally.counts()
    events = c["event"].get("tcp", 0)
    return {
        "records_read": tally.packets,
        "unit": "packet",
        "events": events,
        "non_tcp": c["non_tcp"],
        "structural": {},
        "skipped": c["skipped"],
        "unaccounted": tally.packets - events - sum(c["non_tcp"].values()) - sum(c["skipped"].values()),
        "capture_format": walker.format,
        "compressed": walker.compressed,
        "engine": engine,
        "link_types": {int(k): v for k, v in sorted(walker.linktypes.items())},
        "blocks_skipped": {f"{k:#x}": v for k, v in sorted(Counter(walker.blocks_skipped).items())},
        "stopped": walker.stopped,
        "skipped_rows_capped": tally.capped,
    }
