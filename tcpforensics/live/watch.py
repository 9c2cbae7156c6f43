"""The live loop of ``tcpforensics watch``: sample, keep, detect, compare, show, sleep.

Each interval: one ``Sample`` of ``/proc`` (``sample.Sampler``), appended to the ring
(``window.Window``) and, with ``--record``, to the record folder (``record.Recorder``); the
socket and counter detectors run on the ring (from the second sample on: the first is the
baseline the counters' increases are measured from); ``track.Tracker`` says which findings
started, changed or ended; the sink shows it. ``--fail-on`` ends the session with 1 as soon
as a finding at or above that severity starts (or rises to it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tcpforensics.config import Config
from tcpforensics.live.procfs import ProcRoot
from tcpforensics.live.record import Recorder
from tcpforensics.live.sample import Sample, Sampler
from tcpforensics.live.summary import Summary, summarize
from tcpforensics.live.track import Tracker
from tcpforensics.live.view import Sink
from tcpforensics.live.window import Names, Window
from tcpforensics.schema import empty_findings

#: The detectors run at least every this many intervals, even when no sample changed (the
#: times move: stuck sockets age, counters other than ``sample.WATCHED_COUNTERS`` change).
REFRESH = 10
#: Exit codes: the session ran to its end (or Ctrl-C), a finding reached ``--fail-on``.
DONE, FAILED = 0, 1


@dataclass
class Options:
    """What ``watch`` was asked for."""

    interval: float = 2.0
    count: int | None = None        # stop after this many samples
    duration: float | None = None   # stop after this many seconds
    window: int = 5                 # samples the detectors read
    record: Path | None = None
    fail_on: str = "never"
    root: Path = Path("/proc")
    processes: bool = True
    config: Config = field(default_factory=Config)
    max_cpu: float | None = None    # share of one core the detectors may use on average (None: no cap)


def names_of(root: Path) -> Names:
    """The input names of a session reading ``root`` (``/proc/net/tcp`` and so on)."""
    return Names(str(root / "net/tcp"), str(root / "net/netstat"), str(root / "net/nf_conntrack"))


def watch(options: Options, sink: Sink) -> int:
    """Run the session; DONE or FAILED. Ctrl-C ends it as DONE (the record is closed first)."""
    session = Session(options, Recorder(options.record) if options.record is not None else None)
    started = time.monotonic()
    try:
        while True:
            began = time.monotonic()
            summary, changes = session.step()
            sink.show(summary, changes, session.tracker.current)
            if session.tracker.at_least(changes, options.fail_on):
                return FAILED
            if _over(options, summary.seq + 1, time.monotonic() - started):
                return DONE
            time.sleep(max(0.0, options.interval - (time.monotonic() - began)))
    except KeyboardInterrupt:
        return DONE
    finally:
        sink.close()
        if session.recorder is not None:
            session.recorder.close()


@dataclass
class Session:
    """What a session keeps between intervals: the sampler, the ring, the detector, the
    tracker, the record and the previous sample."""

    options: Options
    recorder: Recorder | None = None

    def __post_init__(self) -> None:
        self.sampler = Sampler(ProcRoot(self.options.root), self.options.processes)
        self.window = Window(max(self.options.window, 1), names_of(self.options.root))
        self.detector = Detector(self.options)
        self.tracker = Tracker()
        self.before: Sample | None = None

    def step(self) -> tuple[Summary, pd.DataFrame]:
        """One interval: sample, record, detect; the view of it and the finding changes."""
        cpu = time.process_time()
        sample = self.sampler.sample()
        self.window.add(sample)
        if self.recorder is not None:
            self.recorder.write(sample)
        sample.counters_text = sample.conntrack_text = None  # (recorded: the ring keeps the tables only)
        changes = self.tracker.update(self.detector.findings(self.window, self.tracker.current))
        summary = summarize(sample, self.before)
        summary.cpu_ms = (time.process_time() - cpu) * 1000
        summary.session = {"samples": self.window.totals.samples, "peak": dict(self.window.totals.peak)}
        self.before = sample
        return summary, changes


@dataclass
class Detector:
    """Runs the detectors on the ring when its samples changed (or every ``REFRESH`` intervals);
    otherwise the last findings stand. With ``max_cpu`` a run that took D seconds of CPU is
    followed by none for D / max_cpu seconds (on a busy host the findings then lag a few
    intervals, and the detectors use that share of a core on average)."""

    options: Options
    last: tuple[int, ...] = ()
    idle: int = 0
    resume: float = 0.0  # time.monotonic() before which the detectors rest (max_cpu)
    cost: float = 0.0  # CPU seconds of the last run

    def findings(self, window: Window, current: pd.DataFrame) -> pd.DataFrame:
        """This interval's findings (none on the first sample: the baseline)."""
        if len(window.samples) < 2 and self.options.count != 1:
            return empty_findings()
        signature = window.signature()
        if (signature == self.last and self.idle + 1 < REFRESH) or time.monotonic() < self.resume:
            self.idle += 1
            return current
        self.last, self.idle = signature, 0
        cpu = time.process_time()
        found = window.findings(self.options.config)
        self.cost = time.process_time() - cpu
        if self.options.max_cpu:
            self.resume = time.monotonic() + self.cost / self.options.max_cpu
        return found


def _over(options: Options, samples: int, elapsed: float) -> bool:
    if options.count is not None and samples >= options.count:
        return True
    return options.duration is not None and elapsed + options.interval > options.duration + 1e-9
