"""The evidence, built once: flows and conversations of captures, socket timelines, counter deltas.

Every detector reads an :class:`Evidence`; none rebuilds any part of it. ``build`` is the
reconstruct stage of the pipeline: it takes the ingested inputs and one set of options, so
``tcpforensics flows``, ``tcpforensics.flows()`` and ``analyze`` see the same flows.

Checksums (``Options.checksums``): ``auto`` applies the offload rule of ``offload.py``;
``verify`` drops every bad segment (Zeek's default); ``ignore`` accepts them all (``zeek -C``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from tcpforensics import heap, schema
from tcpforensics.config import Config
from tcpforensics.errors import UsageError
from tcpforensics.ingest.base import Ingested
from tcpforensics.parallel import map_ordered
from tcpforensics.reconstruct import offload
from tcpforensics.reconstruct.conversation_merge import merge_conversation_parts
from tcpforensics.reconstruct.conversation_state import ConversationState
from tcpforensics.reconstruct.conversations import conversations
from tcpforensics.reconstruct.counters import deltas
from tcpforensics.reconstruct.flows import FlowConfig, flows, flows_stream, merge_flows
from tcpforensics.reconstruct.packets import FIN, RST
from tcpforensics.reconstruct.partition import Partitioner
from tcpforensics.reconstruct.parts import Parts
from tcpforensics.reconstruct.sockets import timelines

#: A partition with more packets than this has its flows rebuilt a time slice at a time.
PARTITION_ROWS = 262_144

#: Checksum handling for flows (see the module docstring).
CHECKSUM_MODES: tuple[str, ...] = ("auto", "verify", "ignore")


@dataclass(frozen=True)
class Options:
    """How flows are rebuilt: checksum mode and Zeek's timers and port lists."""

    checksums: str = "auto"
    flow: FlowConfig = field(default_factory=FlowConfig)

    def __post_init__(self) -> None:
        if self.checksums not in CHECKSUM_MODES:
            raise UsageError(f"--checksums {self.checksums!r}: expected one of {', '.join(CHECKSUM_MODES)}")


@dataclass
class CaptureEvidence:
    """What the capture detectors read about one capture."""

    input: str
    packets: pd.DataFrame  # the TCP packet events (the plots draw rates from them)
    flows: pd.DataFrame  # schema.FLOW_COLUMNS (or the flow_columns it was built with), in start order
    conversations: pd.DataFrame  # reconstruct.conversation_columns.COLUMNS, one row per 4-tuple
    conv_packets: pd.DataFrame  # FIN/RST segments: ts, frame, flags, conv, fwd, src_code, dst_code


@dataclass
class SocketEvidence:
    """What the socket and counter detectors read about every socket-table input together."""

    events: pd.DataFrame  # socket rows of every input (schema event columns)
    timelines: pd.DataFrame  # reconstruct.sockets.TIMELINE_COLUMNS
    counters: pd.DataFrame  # reconstruct.counters.DELTA_COLUMNS plus ref
    snapshots: dict[str, int]  # snapshots per input
    created: frozenset[str] = frozenset()  # inputs whose row times are the sockets' creation times


@dataclass
class Evidence:
    """The whole evidence of one run."""

    captures: list[CaptureEvidence] = field(default_factory=list)
    sockets: SocketEvidence | None = None

    def flows(self) -> pd.DataFrame:
        """The flows of every capture as one table (inputs in order)."""
        return concat_flows([c.flows for c in self.captures])


def build(ingested: list[Ingested], config: Config, options: Options | None = None) -> Evidence:
    """Reconstruct the evidence of these inputs (captures one by one, socket inputs together)."""
    options = options or Options()
    captures = [capture_evidence(i.input, i.events, config, options) for i in ingested if i.format == "pcap"]
    socket_inputs = [i for i in ingested if i.format != "pcap"]
    return Evidence(captures=captures, sockets=socket_evidence(socket_inputs) if socket_inputs else None)


def capture_evidence(name: str, events: pd.DataFrame, config: Config, options: Options) -> CaptureEvidence:
    """Flows and conversations of one capture's packets, held in memory whole."""
    return streamed_evidence(name, [events], config, options, parts=1, keep_packets=True)


def streamed_evidence(name: str, chunks: Iterable[pd.DataFrame], config: Config, options: Options,
                      parts: int = 1, spill_dir: str | None = None, keep_packets: bool = False,
                      flow_columns: Sequence[str] | None = None,
                      conversation_columns: Sequence[str] | None = None, jobs: int = 1,
                      scheduler: str | None = None) -> CaptureEvidence:
    """The evidence of one capture read as consecutive event chunks, in bounded memory.

    The TCP packets are routed to ``parts`` partitions by 4-tuple (spilled to ``spill_dir``
    when given) while the mergeable state that needs the whole capture is counted: the
    checksum tally and each input's end time. Then each partition, which holds whole
    connections and conversations, has its flows and conversations rebuilt on its own; with
    several partitions, their tables wait in ``spill_dir`` and are merged a column at a time:
    equal to the whole capture's, whatever the time order of the chunks. Only the FIN and RST
    segments of conversations are kept (the storm detector's input); the packets themselves
    only with ``keep_packets`` (for the plots); of the flows and conversations, only
    ``flow_columns`` and ``conversation_columns`` when given (the columns the detectors read:
    the whole tables are for the reader). ``jobs`` > 1 or a ``scheduler`` rebuilds the
    partitions on Dask workers (``Spread``); the evidence is the same."""
    counts = offload.tally(schema.empty_events("packet"))
    kept: list[pd.DataFrame] = []
    spill = spill_dir if parts > 1 else None
    with Partitioner(parts, spill) as split, Parts(spill) as flow_parts, Parts(spill) as conv_parts, \
            Parts(spill) as close_parts:
        for chunk in chunks:
            pkts = tcp_packets(chunk)
            counts = offload.merge([counts, offload.tally(pkts)])
            split.add(pkts)
            if keep_packets:
                kept.append(pkts)
            del chunk, pkts
        flow_config, decision = _checksum_rule(counts, config, options)
        del counts  # (a row per sender: not needed once decided)
        ends = split.capture_end()
        capture_end = dict.fromkeys(ends, max(ends.values())) if ends else {}  # one timeline
        rebuilt = _rebuilt(split, _Setting(decision, flow_config, capture_end), spill_dir, Spread(name, jobs, scheduler))
        for table, (conv, close) in rebuilt:  # one partition in memory at a time (a few when spread)
            flow_parts.add(table if flow_columns is None else table[list(flow_columns)])
            conv_parts.add(conv if conversation_columns is None else conv[list(conversation_columns)])
            close_parts.add(close)
            del table, conv, close
            heap.give_back()
        split.close()
        heap.give_back()
        table = merge_flows(flow_parts)
        heap.give_back()
        conv, close_packets = merge_conversation_parts(conv_parts, close_parts)
        conv = _sharing_addresses(conv, table)
    heap.give_back()
    packets = schema.concat_events(kept, "packet") if kept else schema.empty_events("packet")
    return CaptureEvidence(input=name, packets=packets, flows=table, conversations=conv, conv_packets=close_packets)


def _sharing_addresses(conv: pd.DataFrame, flows: pd.DataFrame) -> pd.DataFrame:
    """The conversations with the flows' address categories when both hold the same addresses
    (one capture's packets give both): one copy of the address texts instead of two."""
    cols = [c for c in ("init_addr", "peer_addr") if c in conv.columns]
    dtype = flows["orig_addr"].dtype if "orig_addr" in flows.columns else None
    if not cols or not isinstance(dtype, pd.CategoricalDtype) or not all(
            isinstance(conv[c].dtype, pd.CategoricalDtype) and conv[c].cat.categories.equals(dtype.categories)
            for c in cols):
        return conv
    return conv.assign(**{c: pd.Categorical.from_codes(conv[c].cat.codes.to_numpy(), dtype=dtype) for c in cols})


def _checksum_rule(counts: pd.DataFrame, config: Config, options: Options) -> tuple[FlowConfig, offload.Decision | None]:
    """The flow settings a capture is rebuilt with (checksums ignored or verified) and, in
    ``auto``, the offload decision to apply to its packets first."""
    mode, decision = options.checksums, None
    if mode == "auto":
        decision = offload.decide(counts, config)
        mode = "ignore" if decision.ignore_all else "verify"
    return replace(options.flow, ignore_checksums=mode == "ignore"), decision


def _checked(events: pd.DataFrame, decision: offload.Decision | None) -> pd.DataFrame:
    """The packets with the offload decision applied to their checksums."""
    return offload.apply(events, decision) if decision is not None and len(events) else events


@dataclass(frozen=True)
class Spread:
    """Where the partitions of one capture are rebuilt: here (``jobs`` 1, no scheduler), on
    ``jobs`` local processes, or on the Dask cluster at ``scheduler`` (``parallel``);
    ``name`` labels the capture in error messages."""

    name: str = ""
    jobs: int = 1
    scheduler: str | None = None


@dataclass(frozen=True)
class _Setting:
    """What rebuilding any partition of one capture needs besides its packets."""

    decision: offload.Decision | None
    flow_config: FlowConfig
    capture_end: dict


Rebuilt = tuple[pd.DataFrame, tuple[pd.DataFrame, pd.DataFrame]]  # flows, (conversations, FIN/RST segments)


def _rebuilt(split: Partitioner, setting: _Setting, spill_dir: str | None, spread: Spread) -> Iterator[Rebuilt]:
    """Each partition's flows, and its conversations with their FIN/RST segments, in partition
    order. A small partition is read once and rebuilt at once (by a worker when spread: its
    packets go there, so the worker needs no access to the spill folder). A large one (a few
    4-tuples can carry most of a capture's packets) is rebuilt here, a slice at a time."""
    small = [p for p in range(len(split.sizes)) if split.sizes[p] <= PARTITION_ROWS]
    tasks = ((split.partition(p), setting) for p in small)
    with closing(map_ordered(_rebuild, tasks, spread.name, spread.jobs, spread.scheduler)) as done:
        for p in range(len(split.sizes)):
            yield next(done) if split.sizes[p] <= PARTITION_ROWS else _large_partition(split, p, setting, spill_dir)


def _rebuild(task: tuple[pd.DataFrame, _Setting]) -> Rebuilt:
    """The flows and conversations of one partition's packets, rebuilt at once."""
    events, setting = task
    conv, pk = conversations(events, packets=True)
    table = flows(_checked(events, setting.decision), setting.flow_config, capture_end=setting.capture_end)
    return table, (conv, pk[(pk["flags"].to_numpy() & (FIN | RST)) != 0].reset_index(drop=True))


def _large_partition(split: Partitioner, p: int, setting: _Setting, spill_dir: str | None) -> Rebuilt:
    """A large partition read a slice at a time, in time order (sorted by time first if its
    rows step back in time): the slices go through ``flows_stream`` and, on the way, into the
    mergeable ``ConversationState`` (such a partition holds few 4-tuples, so the state stays
    small)."""
    ts = split.column(p, "ts").astype("datetime64[ns]").view(np.int64)
    chunks = split.chunks(p, PARTITION_ROWS) if (np.diff(ts) >= 0).all() else _by_time(split, p, ts, spill_dir)
    state = [ConversationState.of(schema.empty_events("packet"))]

    def noted(slices: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for part in slices:
            state[0] = ConversationState.merge([state[0], ConversationState.of(part)])
            yield _checked(part, setting.decision)

    table = merge_flows(flows_stream(noted(chunks), setting.flow_config, setting.capture_end))
    return table, state[0].finish()


def _by_time(split: Partitioner, p: int, ts: np.ndarray, spill_dir: str | None) -> Iterator[pd.DataFrame]:
    """Partition ``p`` in time order, a bucket of about PARTITION_ROWS rows at a time: its rows
    are routed to time buckets (equal times together), then each bucket is sorted."""
    cuts = np.unique(np.sort(ts)[PARTITION_ROWS::PARTITION_ROWS])
    bucket = np.searchsorted(cuts, ts, side="right")
    with Partitioner(len(cuts) + 1, spill_dir) as buckets:
        done = 0
        for chunk in split.chunks(p, PARTITION_ROWS):
            buckets.add(chunk, bucket[done:done + len(chunk)])
            done += len(chunk)
        for b in range(len(cuts) + 1):
            rows = buckets.partition(b)
            order = np.lexsort((rows["frame"].to_numpy(dtype=np.int64, na_value=0), rows["ts"].to_numpy()))
            yield rows.take(order).reset_index(drop=True)


def capture_flows(packets: pd.DataFrame, config: Config, options: Options) -> pd.DataFrame:
    """The flows of one capture's TCP packets under the checksum mode of ``options``."""
    flow_config, decision = _checksum_rule(offload.tally(packets), config, options)
    return flows(_checked(packets, decision), flow_config)


def tcp_packets(events: pd.DataFrame) -> pd.DataFrame:
    """The TCP packet rows of an event table."""
    if events.empty:
        return events
    keep = (events["kind"] == "packet").to_numpy(dtype=bool, na_value=False) & (
        events["proto"] == "tcp").to_numpy(dtype=bool, na_value=False)
    return events if keep.all() else events[keep]


def socket_evidence(inputs: list[Ingested]) -> SocketEvidence:
    """Socket timelines and counter deltas of every socket-table and counter input."""
    events = schema.concat_events([i.events for i in inputs if len(i.events)], "socket")
    snaps = {i.input: int(i.accounting.get("snapshots") or 1) for i in inputs}
    readings = [i.counters for i in inputs if i.counters is not None and len(i.counters)]
    return SocketEvidence(events=events, timelines=timelines(events, snaps),
                          counters=_counter_refs(deltas(pd.concat(readings, ignore_index=True) if readings else None)),
                          snapshots=snaps,
                          created=frozenset(i.input for i in inputs if i.meta.get("row_times") == "created"))


def _counter_refs(counters: pd.DataFrame) -> pd.DataFrame:
    """Counter deltas with plain-text keys and an "input:line" reference to the last reading."""
    if counters.empty:
        return counters
    line = counters["line_last"].astype("Int64").astype("string").fillna("-").astype(str)
    return counters.assign(
        ref=counters["input"].astype(str) + ":" + line,
        input=counters["input"].astype(str),
        group=counters["group"].astype(str),
        counter=counters["counter"].astype(str),
    )


def concat_flows(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Flow tables of several captures as one (labels as plain objects when they differ)."""
    parts = [t for t in tables if len(t)]
    if not parts:
        return tables[0] if tables else schema.conform_flows(pd.DataFrame())
    if len(parts) > 1:
        parts = [f.astype({"input": object, "orig_addr": object, "resp_addr": object}) for f in parts]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
