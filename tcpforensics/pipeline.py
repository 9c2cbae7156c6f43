"""The orchestrator: ingest -> reconstruct -> detect -> report, in one direction.

Each stage is a function of the previous stage's output: ``ingest`` gives an input's event
table, ``reconstruct.evidence`` the evidence (flows and conversations of each capture, socket
timelines and counter deltas of the socket inputs, built once with one set of options),
``detect.run`` the findings, and ``report.model.build_report`` the Report the renderers print.
``analyze``, ``flows`` and the CLI commands all go through here, so the same input gives the
same flows through every door.

Per-input work (read a capture and rebuild its evidence) runs in this process or spread over
processes and machines by ``parallel.map_inputs`` (``jobs``, ``scheduler``); socket inputs
are combined and detection runs here, on results that arrive in input order.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

import pandas as pd

from tcpforensics import detect, schema
from tcpforensics.config import Config
from tcpforensics.detect import captures
from tcpforensics.errors import InputError, UsageError
from tcpforensics.ingest import (
    archives,
    detect_capture,
    flowlogs,
    ingest,
    ingest_text,
    is_capture_file,
    open_stdin,
    read_input,
)
from tcpforensics.ingest.base import Ingested
from tcpforensics.ingest.inputs import Input, expand
from tcpforensics.ingest.origins import Origin
from tcpforensics.ingest.pcap import CaptureStream
from tcpforensics.parallel import map_inputs
from tcpforensics.reconstruct import evidence as rec
from tcpforensics.reconstruct import flowlogs as flowlog_evidence
from tcpforensics.reconstruct.flows import FlowConfig
from tcpforensics.report.model import Report, build_report

#: Packets per chunk read from a capture file.
CHUNK_PACKETS = 262_144
#: A capture file is reconstructed in partitions of about this many bytes of it (by 4-tuple).
PARTITION_BYTES = 16 * 1024**2
#: Partitions of a capture read from standard input (its size is not known beforehand).
STDIN_PARTS = 16


@dataclass(frozen=True)
class Work:
    """One input to read and reconstruct, with everything a worker process needs: a file, '-',
    or the pieces of one rotated capture (read as one timeline)."""

    source: str | tuple[str, ...] | Input  # an Input: an archive's member (copied out)
    input_format: str | None
    config: Config
    options: rec.Options
    keep_evidence: bool = True  # False: a capture's evidence and packets are dropped once diagnosed
    ingest_options: dict[str, Any] = field(default_factory=dict)
    flow_columns: tuple[str, ...] | None = None  # only these flow columns are kept (None: all)
    conversation_columns: tuple[str, ...] | None = None  # likewise, conversation columns
    jobs: int = 1  # a capture's partitions rebuilt on this many local processes (a run of one input)
    scheduler: str | None = None  # or on this Dask cluster


@dataclass
class Done:
    """What one input gives: its ingest records (one per file) and, for a capture, its evidence
    and what its detectors found (finding rows and summary tables)."""

    ingested: list[Ingested]
    capture: rec.CaptureEvidence | None = None
    diagnosis: detect.CaptureResult | None = None


def ingest_all(sources: list[str], input_format: str | None = None, **options: Any) -> list[Ingested]:
    """Ingest every input, folders, globs and archives expanded (raises InputError on the first
    unusable one)."""
    return [ingest_input(i, input_format, **options) for i in expand(sources).inputs]


def ingest_input(item: Input, input_format: str | None = None, **options: Any) -> Ingested:
    """Ingest one input of an expansion: a file, '-', or an archive member under its name."""
    if item.name is None:
        return ingest(item.path, input_format, **options)
    return archives.ingest(item.path, item.name, item.kind, input_format, options.get("progress"))


def options_of(checksums: str = "auto", likely_server_ports: str | None = None,
               flow: FlowConfig | dict | None = None) -> rec.Options:
    """Reconstruction options from the CLI's spelling (``--checksums``, ``--likely-server-ports``)."""
    base = flow if isinstance(flow, FlowConfig) else FlowConfig.from_mapping(flow)
    if likely_server_ports is not None:
        try:
            ports = frozenset(int(p) for p in likely_server_ports.split(",") if p.strip())
        except ValueError:
            raise UsageError(f"--likely-server-ports {likely_server_ports!r}: expected comma-separated port numbers") from None
        base = replace(base, likely_server_ports=ports)
    return rec.Options(checksums=checksums, flow=base)


def reconstruct_one(work: Work) -> Done:
    """Read one input and rebuild its capture evidence (runs in a worker process when parallel).

    Capture files are read in chunks and reconstructed partition by partition (bounded
    memory); the pieces of a rotated capture become one capture, so a connection spanning two
    pieces is one flow. Text dumps and standard input are read whole."""
    if isinstance(work.source, Input):
        return _member(work, work.source)
    pieces = [work.source] if isinstance(work.source, str) else list(work.source)
    if all(flowlogs.claims(p, work.input_format) for p in pieces):  # flow logs: records -> flows evidence
        items = [flowlogs.ingest(p, work.input_format) for p in pieces]
        capture = flowlog_evidence.evidence(rotated_name(pieces), [i.meta.pop("flows") for i in items])
        return Done(items, capture)
    if pieces == ["-"] and work.input_format in (None, "pcap"):
        head, fh = open_stdin()
        if work.input_format == "pcap" or detect_capture(head):
            return _streamed_capture(pieces, work, fh)
        return Done([ingest_text(read_input("-", fh), "-", work.input_format)])
    if work.input_format in (None, "pcap") and all(p != "-" and is_capture_file(p) for p in pieces):
        return _streamed_capture(pieces, work)
    items = [ingest(p, work.input_format, **work.ingest_options) for p in pieces]
    if items[0].format != "pcap":
        return Done(items)
    events = schema.concat_events([i.events for i in items], "packet")
    capture = rec.capture_evidence(rotated_name(pieces), events, work.config, work.options)
    return Done([replace(i, events=schema.empty_events("packet")) for i in items], capture)


def _member(work: Work, member: Input) -> Done:
    """An archive's member: a flow log's or a capture's evidence, or a text input."""
    item = ingest_input(member, work.input_format, progress=work.ingest_options.get("progress"))
    if member.kind == "flowlog":
        return Done([item], flowlog_evidence.evidence(member.shown, [item.meta.pop("flows")]))
    if item.format != "pcap":
        return Done([item])
    capture = rec.capture_evidence(member.shown, item.events, work.config, work.options)
    return Done([replace(item, events=schema.empty_events("packet"))], capture)


def _streamed_capture(pieces: list[str], work: Work, fh: BinaryIO | None = None) -> Done:
    """A capture file (or the pieces of one, or standard input through ``fh``) through
    ``reconstruct.evidence.streamed_evidence``. Ctrl-C while reading stops the reading; the
    evidence of what was read stands and its accounting says the reading was interrupted."""
    engine = work.ingest_options.get("engine", "native")
    shown = work.ingest_options.get("progress")
    streams = [CaptureStream(p, CHUNK_PACKETS, engine, shown, fh) for p in pieces]
    size = sum(os.path.getsize(p) for p in pieces) if fh is None else None
    parts = STDIN_PARTS if size is None else max(1, math.ceil(size / PARTITION_BYTES))
    chunks = (chunk for stream in streams if not any(s.interrupted for s in streams) for chunk in stream)
    capture = rec.streamed_evidence(rotated_name(pieces), chunks, work.config, work.options, parts,
                                    tempfile.gettempdir(), keep_packets=work.keep_evidence,
                                    flow_columns=work.flow_columns, conversation_columns=work.conversation_columns,
                                    jobs=work.jobs, scheduler=work.scheduler)
    items = [Ingested(input=s.source, format="pcap", events=schema.empty_events("packet"), skipped=s.skipped,
                      accounting=s.accounting, meta={"stopped": s.accounting.get("stopped")}) for s in streams]
    return Done(items, capture)


def rotated_name(pieces: list[str]) -> str:
    """The name of a capture: its file, or the first piece and how many follow it."""
    return pieces[0] if len(pieces) == 1 else f"{pieces[0]} (+{len(pieces) - 1} rotated pieces)"


def plan(sources: list[str]) -> tuple[list[str | tuple[str, ...] | Input], list[tuple[str, str]], dict[str, Origin]]:
    """The units of work named by the sources (files, '-', rotated sets, archive members;
    folders, globs and archives expanded), the files left out with their reasons, and the
    collection and host of the inputs of folders and archives (``ingest.inputs``)."""
    found = expand(sources)
    if not found.inputs:
        seen = "; ".join(f"{n} {reason}" for reason, n in found.skipped_counts().items()) or "no files"
        raise InputError(", ".join(sources), f"holds no capture, socket table or counter dump ({seen})")
    units: list[str | tuple[str, ...] | Input] = []
    for item in found.inputs:
        if item.name is not None:
            units.append(item)
        elif item.group is None:
            units.append(item.path)
        elif item.path == found.groups[item.group][0]:
            units.append(tuple(found.groups[item.group]))
    return units, found.skipped, found.origins


def _run(fn: Any, work: list[Work], jobs: int, scheduler: str | None) -> list[Done]:
    """``fn`` over the work, in input order: standard input here (a worker cannot read it),
    the rest as ``parallel.map_inputs`` runs it. A run of one input is read here and its
    partitions (a capture's) go to the workers instead."""
    if len(work) == 1 and (jobs > 1 or scheduler is not None):
        return [fn(replace(work[0], jobs=jobs, scheduler=scheduler))]
    here = {i: fn(w) for i, w in enumerate(work) if w.source == "-"}
    rest = [w for w in work if w.source != "-"]
    spread = iter(map_inputs(fn, rest, [_name(w.source) for w in rest], jobs, scheduler))
    return [here[i] if i in here else next(spread) for i in range(len(work))]


def _name(unit: str | tuple[str, ...] | Input) -> str:
    if isinstance(unit, Input):
        return unit.shown
    return unit if isinstance(unit, str) else rotated_name(list(unit))


def analyze_one(work: Work) -> Done:
    """:func:`reconstruct_one`, then the capture detectors, which need no other input; the
    evidence is dropped afterwards unless ``work.keep_evidence`` (plots and the Python API read
    it; the rendered reports do not)."""
    done = reconstruct_one(work)
    if done.capture is not None:
        found = detect.captures.diagnose_one(done.capture, work.config, release=not work.keep_evidence)
        done.diagnosis = (done.capture.input, *found)
        if not work.keep_evidence:
            done.capture = None
    return done


def analyze(
    sources: list[str] | str,
    config: Config | None = None,
    input_format: str | None = None,
    options: rec.Options | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    keep_evidence: bool = True,
    **ingest_options: Any,
) -> Report:
    """Analyze inputs end to end and return a :class:`Report` (``tcpforensics.analyze``).

    ``jobs`` > 1 reads and reconstructs the inputs on that many local processes (Dask);
    ``scheduler`` sends that work to an existing Dask cluster. The report is the same.
    ``keep_evidence=False`` leaves ``Report.evidence`` without the captures (less memory)."""
    if isinstance(sources, str):
        sources = [sources]
    config = (config or Config()).validate()  # unknown or ill-typed thresholds: UsageError
    options = options or rec.Options()
    units, left_out, origins = plan(sources)
    slim = {} if keep_evidence else {"flow_columns": captures.FLOW_COLUMNS,  # (the detectors' columns are enough)
                                     "conversation_columns": captures.CONVERSATION_COLUMNS}
    work = [Work(u, input_format, config, options, keep_evidence, ingest_options, **slim) for u in units]
    done = _run(analyze_one, work, jobs, scheduler)
    ingested = [placed(i, origins) for d in done for i in d.ingested]
    socket_inputs = [i for i in ingested if i.format != "pcap"]
    evidence = rec.Evidence(captures=[d.capture for d in done if d.capture is not None],
                            sockets=rec.socket_evidence(socket_inputs) if socket_inputs else None)
    findings, tables = detect.combine([d.diagnosis for d in done if d.diagnosis is not None], evidence.sockets, config)
    return build_report(ingested, findings, tables, evidence, left_out)


def placed(item: Ingested, origins: dict[str, Origin]) -> Ingested:
    """An input with the collection and host it came from in its ``meta`` (when known)."""
    where = origins.get(item.input)
    if where is None:
        return item
    return replace(item, meta={**item.meta, "collection": where.collection, "host": where.host,
                               "collector": where.collector})


def flows(source: pd.DataFrame | str | list[str], config: FlowConfig | dict | None = None,
          checksums: str | None = None, input_format: str | None = None) -> pd.DataFrame:
    """One row per TCP connection (``tcpforensics.flows``): of an event table, a capture path or
    several paths. Checksums as ``analyze`` treats them (``auto``), unless ``checksums`` says
    otherwise or ``config`` sets ``ignore_checksums``."""
    mapping = config if isinstance(config, dict) else None
    flow = config if isinstance(config, FlowConfig) else FlowConfig.from_mapping(mapping)
    if checksums is None:
        checksums = "ignore" if flow.ignore_checksums else "auto"
    options = rec.Options(checksums=checksums, flow=flow)
    if isinstance(source, pd.DataFrame):
        return rec.capture_flows(rec.tcp_packets(source), Config(), options)
    return flows_of_inputs([source] if isinstance(source, str) else list(source), input_format, options)


def flows_of_inputs(inputs: list[str], input_format: str | None = None, options: rec.Options | None = None,
                    config: Config | None = None, jobs: int = 1, scheduler: str | None = None) -> pd.DataFrame:
    """The flows of every capture among the inputs (what ``tcpforensics flows`` prints)."""
    config = (config or Config()).validate()
    units, *_ = plan(inputs)
    work = [Work(u, input_format, config, options or rec.Options(), False) for u in units]
    done = _run(reconstruct_one, work, jobs, scheduler)
    return rec.concat_flows([d.capture.flows for d in done if d.capture is not None])


def events_frame(sources: list[str] | str, input_format: str | None = None, **ingest_options: Any) -> Any:
    """The event tables of many inputs as one Dask DataFrame (a partition per input file; every
    event column, socket and packet ones). Computed where Dask runs it (``.compute()``, or a
    ``distributed.Client`` of the session)."""
    import dask.dataframe as dd

    found = expand([sources] if isinstance(sources, str) else sources).inputs
    return dd.from_map(_all_events, found, input_format=input_format, ingest_options=ingest_options,
                       meta=_plain_categories(schema.conform(pd.DataFrame())), enforce_metadata=False)


def flows_frame(sources: list[str] | str, options: rec.Options | None = None) -> Any:
    """The flows of many captures as one Dask DataFrame (a partition per capture, the pieces
    of a rotated capture together), built as ``analyze`` builds them."""
    import dask.dataframe as dd

    units, *_ = plan([sources] if isinstance(sources, str) else sources)
    work = [Work(u, None, Config(), options or rec.Options(), False) for u in units]
    return dd.from_map(_flows_of_work, work, meta=_plain_categories(schema.conform_flows(pd.DataFrame())),
                       enforce_metadata=False)


def _all_events(item: Input, input_format: str | None, ingest_options: dict[str, Any]) -> pd.DataFrame:
    if flowlogs.claims(item.path, input_format):  # (a flow log's records are flows: it has no events)
        return _plain_categories(schema.conform(pd.DataFrame()))
    return _plain_categories(schema.conform(ingest_input(item, input_format, **ingest_options).events))


def _flows_of_work(work: Work) -> pd.DataFrame:
    done = reconstruct_one(work)
    return _plain_categories(done.capture.flows if done.capture is not None else schema.conform_flows(pd.DataFrame()))


def _plain_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns with categories of one dtype (object), as Dask unites partitions."""
    cats = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.assign(**{c: pd.Categorical.from_codes(
        frame[c].cat.codes, dtype=pd.CategoricalDtype(pd.Index(frame[c].cat.categories, dtype=object),
                                                     frame[c].cat.ordered)) for c in cats})
