"""Command-line interface (typer): wires ingest, reconstruct, detect and report; holds no logic."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tcpforensics.errors import InputError, UsageError, one_line
from tcpforensics.ingest import registry
from tcpforensics.version import __version__

if TYPE_CHECKING:
    from tcpforensics.ingest.inputs import Input

app = typer.Typer(
    name="tcpforensics",
    help="TCP forensics from packet captures and ss/netstat dumps: what happened to every connection.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class ReportFormat(StrEnum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"
    zeek = "zeek"


class EventFormat(StrEnum):
    csv = "csv"
    json = "json"
    parquet = "parquet"


class Severity(StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"
    never = "never"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tcpforensics {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """TCP forensics from packet captures and ss/netstat dumps."""


def _fail(message: str) -> None:
    typer.echo(f"tcpforensics: {one_line(message)}", err=True)
    raise typer.Exit(2)


def _write(text: str | bytes, output: Path | None) -> None:
    if output is None:
        if isinstance(text, bytes):
            sys.stdout.buffer.write(text)
        else:
            sys.stdout.write(text)
        return
    try:
        if isinstance(text, bytes):
            output.write_bytes(text)
        else:
            output.write_text(text, encoding="utf-8")
    except OSError as e:
        _fail(f"{output}: cannot write: {e.strerror or e}")


INPUTS = typer.Argument(..., help="Capture or socket-table dump files, folders (walked, content-detected) or globs; '-' reads standard input.")
INPUT_FORMAT = typer.Option(None, "--input-format", help=f"Skip content detection: read every input as this format ({', '.join(registry.names())}; see docs/formats.md).")
OUTPUT = typer.Option(None, "--output", "-o", help="Write to this file instead of standard output.")
ENGINE = typer.Option("native", "--engine", help="Capture reader: native (fast, default) or tshark (through pyshark; slow, a reference).")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar on stderr for long capture reads.")
CHECKSUMS = typer.Option("auto", "--checksums", help="TCP checksums when rebuilding flows: auto (ignore the bad sums of checksum offload, see docs/flows.md), verify (drop bad segments, Zeek's default) or ignore (accept all, zeek -C).")
SERVER_PORTS = typer.Option(None, "--likely-server-ports", help="Comma-separated ports that count as servers when orienting flows (default: Zeek's list).")
JOBS = typer.Option(1, "--jobs", "-j", min=1, help="Read and reconstruct inputs on this many local processes (Dask), or the partitions of a single capture; the report is the same.")
SCHEDULER = typer.Option(None, "--scheduler", help="Send the per-input work to this Dask scheduler (tcp://host:8786) instead of local processes.")
REPORT_OUTPUT = typer.Option(None, "--output", "-o", help="Write to this file instead of standard output; with --format csv, a directory (existing, or ending in '/') gets one CSV per table.")


@app.command()
def analyze(
    inputs: list[str] = INPUTS,
    fmt: ReportFormat = typer.Option(ReportFormat.table, "--format", "-f", help="Report format (zeek: the findings as a Zeek notice.log)."),
    output: str | None = REPORT_OUTPUT,
    fail_on: Severity = typer.Option(Severity.never, "--fail-on", help="Exit 1 when a finding is at or above this severity (for CI)."),
    config: str | None = typer.Option(None, "--config", help="TOML config file (default: ./tcpforensics.toml or \\[tool.tcpforensics] in ./pyproject.toml)."),
    input_format: str | None = INPUT_FORMAT,
    expected_listeners: str | None = typer.Option(None, "--expected-listeners", help="Comma-separated allow-list of listeners, e.g. '22,80,0.0.0.0:443,nginx'."),
    threshold: list[str] = typer.Option([], "--threshold", "-t", help="Override a threshold: NAME=VALUE (repeatable); see docs/detection-sockets.md and docs/detection-captures.md."),
    engine: str = ENGINE,
    quiet: bool = QUIET,
    plot: Path | None = typer.Option(None, "--plot", help="Also write PNG plots (states, SYN/RST rates, scans, closes, snapshots) into this directory."),
    checksums: str = CHECKSUMS,
    server_ports: str | None = SERVER_PORTS,
    jobs: int = JOBS,
    scheduler: str | None = SCHEDULER,
) -> None:
    """Diagnose inputs: state histogram, abnormal sockets and connections, scans and floods."""
    from tcpforensics import config as cfg
    from tcpforensics.pipeline import analyze as run
    from tcpforensics.pipeline import options_of
    from tcpforensics.report.render import fails, is_directory_output, render, write_directory

    try:
        conf = cfg.with_overrides(cfg.load(config), threshold, expected_listeners)
        options = options_of(checksums, server_ports)
        report = run(inputs, conf, input_format, options, jobs=jobs, scheduler=scheduler,
                     keep_evidence=plot is not None, engine=engine, progress=False if quiet or jobs > 1 else None)
    except (InputError, UsageError) as e:
        _fail(str(e))
        return
    if plot is not None:
        from tcpforensics.report.plots import render_all

        try:
            render_all(report, plot, link_base=Path(output).parent if output else None)
        except OSError as e:
            _fail(f"{plot}: cannot write: {e.strerror or e}")
    if is_directory_output(fmt.value, output):
        try:
            write_directory(report, output)
        except OSError as e:
            _fail(f"{output}: cannot write: {e.strerror or e}")
    else:
        _write(render(report, fmt.value), Path(output) if output is not None else None)
    if report.interrupted():  # the report (its verdict says INCOMPLETE) covers what was read
        raise typer.Exit(130)
    if fails(report, fail_on.value):
        raise typer.Exit(1)


@app.command()
def events(
    inputs: list[str] = INPUTS,
    fmt: EventFormat = typer.Option(EventFormat.csv, "--format", "-f", help="Output format of the event table."),
    output: Path | None = OUTPUT,
    input_format: str | None = INPUT_FORMAT,
    engine: str = ENGINE,
    quiet: bool = QUIET,
) -> None:
    """Write the common connection-event table of the inputs."""
    from tcpforensics import schema
    from tcpforensics.ingest.inputs import expand
    from tcpforensics.pipeline import ingest_input
    from tcpforensics.report import event_stream as stream
    from tcpforensics.report.export import write_table

    progress = False if quiet else None
    try:
        found = _with_events(expand(inputs).inputs, input_format)  # folders, globs and archives
        paths = [i.path for i in found]
        if input_format in (None, "pcap") and fmt.value in stream.STREAMABLE and all(i.name is None for i in found) \
                and stream.all_captures(paths):
            stream.write(paths, fmt.value, output, engine=engine, progress=progress)  # chunk by chunk
            return
        ingested = [ingest_input(i, input_format, engine=engine, progress=progress) for i in found]
    except InputError as e:
        _fail(str(e))
        return
    table = schema.concat_events([i.events for i in ingested])
    if fmt == EventFormat.parquet and output is None:
        _fail("--format parquet needs --output PATH")
    _write(write_table(table, fmt.value), output)


def _with_events(found: list[Input], input_format: str | None) -> list[Input]:
    """The inputs that hold events. A flow log's records are connections, not events: each is
    named on stderr as skipped, and when every input is one the command fails with that line."""
    from tcpforensics.ingest import flowlogs

    logs = {i.shown for i in found if flowlogs.claims(i.path, input_format)}
    why = "a flow log: its records are connections, not packet or socket events; read it with `tcpforensics flows` or `analyze`"
    if logs and len(logs) == len(found):
        raise InputError(found[0].shown, why)
    for name in sorted(logs):
        typer.echo(f"tcpforensics: {name}: skipped, {why}", err=True)
    return [i for i in found if i.shown not in logs]


class FlowFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    zeek = "zeek"
    parquet = "parquet"


@app.command()
def flows(
    inputs: list[str] = INPUTS,
    fmt: FlowFormat = typer.Option(FlowFormat.table, "--format", "-f", help="table, csv, json (lines), zeek (conn.log) or parquet."),
    output: Path | None = OUTPUT,
    ignore_checksums: bool = typer.Option(False, "--ignore-checksums", "-C", help="Accept packets with bad TCP checksums (like zeek -C; the same as --checksums ignore)."),
    checksums: str = CHECKSUMS,
    server_ports: str | None = SERVER_PORTS,
    input_format: str | None = INPUT_FORMAT,
    jobs: int = JOBS,
    scheduler: str | None = SCHEDULER,
) -> None:
    """One row per TCP connection: Zeek conn_state and history, RFC 9293 endpoint states, close."""
    from tcpforensics.pipeline import flows_of_inputs, options_of
    from tcpforensics.report.zeek import render_flows

    if fmt == FlowFormat.parquet and output is None:
        _fail("--format parquet needs --output PATH")
    try:
        options = options_of("ignore" if ignore_checksums else checksums, server_ports)
        table = flows_of_inputs(inputs, input_format, options, jobs=jobs, scheduler=scheduler)
    except (InputError, UsageError) as e:
        _fail(str(e))
        return
    _write(render_flows(table, fmt.value), output)


class WatchFormat(StrEnum):
    table = "table"
    json = "json"


@app.command()
def watch(
    source: str | None = typer.Argument(None, help="'-': read a pcap/pcapng stream from standard input (tcpdump -w -) and print rolling capture findings per interval of packet time, instead of sampling /proc."),
    interval: float = typer.Option(2.0, "--interval", "-i", min=0.05, help="Seconds between samples."),
    count: int | None = typer.Option(None, "--count", "-n", min=1, help="Stop after this many samples."),
    duration: float | None = typer.Option(None, "--duration", "-d", min=0, help="Stop after this many seconds."),
    window: int = typer.Option(5, "--window", "-w", min=1, help="Samples the detectors read (the last N): a pile's finding ends at most N intervals after it clears."),
    record: Path | None = typer.Option(None, "--record", help="Also write every sample into this folder as dated snapshot loops (sockets.txt, counters.txt, conntrack.txt) that 'tcpforensics analyze FOLDER' reads back."),
    fmt: WatchFormat = typer.Option(WatchFormat.table, "--format", "-f", help="table (a live view) or json (one line per finding start/change/end and per interval)."),
    fail_on: Severity = typer.Option(Severity.never, "--fail-on", help="Exit 1 as soon as a finding at or above this severity starts."),
    config: str | None = typer.Option(None, "--config", help="TOML config file (as for analyze)."),
    expected_listeners: str | None = typer.Option(None, "--expected-listeners", help="Comma-separated allow-list of listeners (as for analyze)."),
    threshold: list[str] = typer.Option([], "--threshold", "-t", help="Override a threshold: NAME=VALUE (repeatable), as for analyze."),
    proc: Path = typer.Option(Path("/proc"), "--proc", help="Read the socket tables and counters from this /proc root."),
    no_processes: bool = typer.Option(False, "--no-processes", help="Do not look up which process holds each socket (/proc/*/fd)."),
    max_cpu: float | None = typer.Option(None, "--max-cpu", min=0.001, max=1.0, help="Cap the detectors at this share of one core on average (e.g. 0.05 on hosts with 100k sockets; findings then lag a few intervals). Default: run them every interval the samples changed."),
) -> None:
    """Watch this host live: socket states, piles, counters and findings as they start and end (Linux /proc)."""
    from tcpforensics import config as cfg
    from tcpforensics import live
    from tcpforensics.live.procfs import ProcRoot

    try:
        conf = cfg.with_overrides(cfg.load(config), threshold, expected_listeners).validate()
    except (InputError, UsageError) as e:
        _fail(str(e))
        return
    options = live.Options(interval, count, duration, window, record, fail_on.value, proc, not no_processes, conf, max_cpu)
    if source is not None:
        _watch_capture(source, options, fmt)
    if not live.supported() and proc == Path("/proc"):
        _fail(f"watch reads Linux /proc and this is {sys.platform}; save 'netstat -an' in a loop with 'date' lines and run 'tcpforensics analyze' on it")
    if missing := ProcRoot(proc).missing():
        _fail(f"{proc}: cannot read {', '.join(missing)} (watch samples Linux /proc/net)")
    try:
        code = live.watch(options, _watch_sink(fmt))
    except OSError as e:
        _fail(f"{record}: cannot write: {e.strerror or e}")
        return
    raise typer.Exit(code)


def _watch_sink(fmt: WatchFormat) -> object:
    from tcpforensics.live.view import Dashboard, JsonLines

    return JsonLines(sys.stdout.write) if fmt == WatchFormat.json else Dashboard()


def _watch_capture(source: str, options: object, fmt: WatchFormat) -> None:
    """``watch -``: a capture stream on standard input, rolling findings per interval."""
    from tcpforensics.ingest import detect_capture, open_stdin
    from tcpforensics.live.capture import watch_capture

    if source != "-":
        _fail(f"watch {source}: only '-' (a capture stream on standard input) is read; analyze reads files")
    if options.record is not None:
        _fail("--record saves /proc samples; save a capture stream with tcpdump -w instead")
    head, fh = open_stdin()
    if detect_capture(head) is None:
        _fail("-: standard input is not a pcap or pcapng stream")
    try:
        code = watch_capture(fh, options, _watch_sink(fmt))
    except InputError as e:
        _fail(str(e))
        return
    raise typer.Exit(code)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("tcpforensics: interrupted", err=True)
        sys.exit(130)
    except SystemExit as e:  # typer turns Ctrl-C into a silent exit 130
        if e.code == 130:
            typer.echo("tcpforensics: interrupted", err=True)
        raise
