"""Kernel TCP/IP counters as text: /proc/net/netstat and /proc/net/snmp(6), ``netstat -s``, ``nstat``.

Columns: no socket events; the counter table (docs/schema.md, "Kernel counters"): ts, input,
snapshot (one reading each), group, counter, value, line. The socket detectors read the
increase of each counter between readings (two dumps, or one loop of several).

Example::

    #kernel
    TcpActiveOpens                  12                 0.0
    TcpExtListenOverflows           3                  0.0
    TcpExtListenDrops               3                  0.0

    reading 0: Tcp ActiveOpens 12, TcpExt ListenOverflows 3, TcpExt ListenDrops 3

The four layouts: ``Group: Name Name ...`` lines each followed by ``Group: 1 2 ...``
(/proc/net/netstat, /proc/net/snmp; a pair whose counts differ is skipped); nstat's
``GroupName value [rate]`` (the group is split off by ``GROUPS``); ``netstat -s`` sections with
``Name: value`` lines, English phrases (``netstat_s.PHRASES``; a phrase not listed is skipped
as ``unmapped netstat -s phrase``) and ICMP histograms. A new reading starts at a snapshot
marker or when a counter repeats.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from tcpforensics import pandas_compat, schema
from tcpforensics.groups import cumcount
from tcpforensics.ingest.base import Lines, Parsed, skipped_frame
from tcpforensics.ingest.formats.counters import netstat_s

NAME = "counters"
KIND = "text"
DESCRIPTION = "kernel TCP/IP counters: `/proc/net/netstat`, `/proc/net/snmp(6)`, `netstat -s` (Linux), `nstat`"
SAVE_WITH = "nstat -az > counters.txt"
FIXTURES = ("counters/*.txt",)
ORDER = 60

#: Counter groups as the kernel names them (nstat glues the group to the counter name:
#: ``TcpExtListenOverflows``); longest first so ``TcpExt`` wins over ``Tcp``.
GROUPS: tuple[str, ...] = (
    "MPTcpExt", "TcpExt", "IpExt", "IcmpMsg", "Icmp6", "Icmp", "UdpLite6", "UdpLite",
    "Udp6", "Udp", "Ip6", "Tcp", "Ip", "Sctp",
)

_GROUP_RE = "|".join(GROUPS)
_PROC = r"^(?P<group>[A-Za-z][A-Za-z0-9]*):(?P<rest>(?:[ \t]+\S+)+)[ \t]*$"
_SECTION = r"^(?P<section>[A-Za-z][A-Za-z0-9]*):[ \t]*$"
_NAMEVAL = r"^[ \t]+(?P<name>[A-Za-z][A-Za-z0-9_]*):[ \t]*(?P<value>-?\d+)[ \t]*$"
_NSTAT = r"^(?P<name>[A-Za-z][A-Za-z0-9_]*)[ \t]+(?P<value>-?\d+)(?:[ \t]+-?[\d.]+)?[ \t]*$"
_NSTAT_HEAD = r"^#\s*kernel\s*$"
_INDENTED = r"^[ \t]+\S"
_HIST_HEAD = r"^[ \t]+ICMP (?P<dir>input|output) histogram:[ \t]*$"
_HIST_ENTRY = r"^[ \t]+(?P<what>[a-z][a-z ]*[a-z]):[ \t]*(?P<value>\d+)[ \t]*$"


def _classify(text: pd.Series) -> pd.DataFrame:
    """One row per line: which counter syntax it has (vectorized regex matches)."""
    t = text.astype(str)
    proc = t.str.extract(_PROC)
    is_proc = proc["group"].notna()
    rest_tokens = proc["rest"].str.split()
    is_values = is_proc & proc["rest"].str.fullmatch(r"(?:[ \t]+-?\d+)+[ \t]*", na=False).astype(bool)
    nstat = t.str.extract(_NSTAT)
    nameval = t.str.extract(_NAMEVAL)
    return pd.DataFrame(
        {
            "blank": t.str.strip().eq(""),
            "nstat_head": t.str.fullmatch(_NSTAT_HEAD),
            "proc_group": proc["group"],
            "proc_tokens": rest_tokens,
            "proc_ntokens": proc["rest"].str.count(r"\S+"),
            "proc_values": is_values,
            "section": t.str.extract(_SECTION)["section"],
            "nameval_name": nameval["name"],
            "nameval_value": nameval["value"],
            "nstat_name": nstat["name"],
            "nstat_value": nstat["value"],
            "indented": t.str.match(_INDENTED),
        },
        index=text.index,
    )


def _obj(s: pd.Series) -> np.ndarray:
    """A column as a numpy object array, missing -> None."""
    return s.to_numpy(dtype=object, na_value=None)


def _shift(a: np.ndarray, k: int, fill: object) -> np.ndarray:
    """``a`` moved down ``k`` rows (up for negative ``k``), ``fill`` in the rows left empty."""
    out = np.empty_like(a)
    if k > 0:
        out[:k], out[k:] = fill, a[:-k]
    else:
        out[k:], out[:k] = fill, a[-k:]
    return out


def _proc_pairs(group: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per line: a names line directly followed by a values line of the same group."""
    names = pd.notna(group) & ~values
    values_ok = values & _shift(names, 1, False) & (_shift(group, 1, None) == group)
    return _shift(values_ok, -1, False) | values_ok


def detect(lines: Lines) -> float:
    """Confidence 0..1 that these lines are kernel counters (any of the four layouts)."""
    text = lines.text
    c = _classify(text)
    content = ~c["blank"]
    n = int(content.sum())
    if n == 0:
        return 0.0
    proc_ok = pd.Series(_proc_pairs(_obj(c["proc_group"]), c["proc_values"].to_numpy(dtype=bool)), index=c.index)
    sections = c["section"].isin(GROUPS)
    nstat_ok = c["nstat_name"].str.match(f"^(?:{_GROUP_RE})", na=False).astype(bool)
    netstat_s = c["indented"] & (c["nameval_name"].notna() | text.astype(str).str.match(r"^[ \t]+\d+ \S"))
    recognised = proc_ok | sections | nstat_ok | c["nstat_head"].fillna(False) | netstat_s
    share = float(recognised[content].mean())
    signature = bool(proc_ok.any() or c["nstat_head"].any() or nstat_ok.sum() >= 3 or (sections.sum() >= 2 and netstat_s.any()))
    return 0.95 * share if signature else 0.0


#: What each line is, by the first rule below that claims it (``parse``): structural kinds,
#: counter kinds (a row per counter) and this one skip kind, a reason of its own.
_MISMATCH = "skip:names and values differ in count"
_STRUCTURAL = ("blank", "nstat header", "counter names", "section header", "histogram header")


def parse(lines: Lines) -> Parsed:
    """Counter rows into ``meta['counters']`` (schema.COUNTER_COLUMNS); no socket events.

    Each line's kind is set by the first step below that claims it: blank and nstat header
    lines, /proc/net/netstat and /proc/net/snmp pairs, netstat -s lines, nstat lines."""
    text = lines.text.astype(str)
    c = _classify(text)
    line_no = text.index.to_numpy(dtype=np.int64)
    kind = np.full(len(text), "", dtype=object)
    kind[c["blank"].to_numpy(dtype=bool)] = "blank"
    kind[(kind == "") & c["nstat_head"].fillna(False).to_numpy(dtype=bool)] = "nstat header"
    parts = _proc_rows(c, kind, line_no)
    netstat_s_parts, has_section = _netstat_s_rows(text, c, kind, line_no)
    parts += netstat_s_parts + _nstat_rows(c, kind, line_no)
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["line", "group", "counter", "value"])
    counters = _readings(rows, lines.frame, lines.input)
    structural, skipped = _accounting(text, kind, c["indented"].to_numpy(dtype=bool), has_section, line_no)
    return Parsed(rows=pd.DataFrame({"line": pd.Series(dtype="Int64")}), skipped=skipped,
                  structural=structural, meta={"counters": counters})


def _proc_rows(c: pd.DataFrame, kind: np.ndarray, line_no: np.ndarray) -> list[pd.DataFrame]:
    """/proc/net/netstat, /proc/net/snmp: "Group: Name Name ..." then "Group: 1 2 ..."; a pair
    whose names and values differ in count is skipped."""
    group = _obj(c["proc_group"])
    tokens = _obj(c["proc_tokens"])
    is_values = c["proc_values"].to_numpy(dtype=bool)
    pairs = _proc_pairs(group, is_values) & (kind == "")
    values_lines = pairs & is_values
    names_lines = pairs & ~is_values
    n_tokens = c["proc_ntokens"].to_numpy(dtype=float, na_value=np.nan)
    mismatch = values_lines & (_shift(n_tokens, 1, np.nan) != n_tokens)
    kind[names_lines] = "counter names"
    kind[values_lines & ~mismatch] = "proc"
    kind[mismatch | (_shift(mismatch, -1, False) & names_lines)] = _MISMATCH
    ok = kind == "proc"
    if not ok.any():
        return []
    return [pd.DataFrame({"line": line_no[ok], "group": group[ok], "counter": _shift(tokens, 1, None)[ok],
                          "value": tokens[ok]}).explode(["counter", "value"], ignore_index=True)]


def _netstat_s_rows(text: pd.Series, c: pd.DataFrame, kind: np.ndarray,
                    line_no: np.ndarray) -> tuple[list[pd.DataFrame], np.ndarray]:
    """netstat -s: section headers, "Name: value", "123 phrase", ICMP histograms; also which
    lines are under a section header."""
    indented = c["indented"].to_numpy(dtype=bool)
    open_ = kind == ""
    title = _obj(c["section"])
    is_section = open_ & pd.notna(title) & ~indented
    kind[is_section] = "section header"
    section = pandas_compat.ffill_values(np.where(is_section, title, None))
    has_section = pd.notna(section)
    head_dir = _obj(text.str.extract(_HIST_HEAD)["dir"])
    hist_head = open_ & pd.notna(head_dir)
    kind[hist_head] = "histogram header"
    hist_dir = pandas_compat.ffill_values(np.where(hist_head, head_dir, np.where(is_section, "", None)))
    hist_dir = np.where(pd.isna(hist_dir), "", hist_dir)
    hist = text.str.extract(_HIST_ENTRY)
    what = _obj(hist["what"])
    in_hist = (kind == "") & indented & (hist_dir != "") & pd.notna(what) & (section == "Icmp")
    nv_name = _obj(c["nameval_name"])
    nameval = (kind == "") & indented & pd.notna(nv_name) & has_section
    kind[nameval] = "nameval"
    template = text.str.strip().str.replace(r"\s+", " ", regex=True).str.replace(r"\d+", "#", regex=True)
    phrase_counter = netstat_s.phrase_counters(np.where(has_section, section, ""), template.to_numpy(dtype=object))
    is_phrase = (kind == "") & indented & has_section & pd.notna(phrase_counter)
    kind[is_phrase] = "phrase"
    hist_counter = netstat_s.histogram_counters(what)
    is_hist = in_hist & pd.notna(hist_counter) & (kind == "")
    kind[is_hist] = "histogram"

    parts: list[pd.DataFrame] = []
    if nameval.any():
        parts.append(_part(line_no, nameval, section, nv_name, _obj(c["nameval_value"])))
    if is_phrase.any():  # the first number of the line (the phrase's '#')
        number = np.full(len(text), None, dtype=object)
        number[is_phrase] = _obj(text[is_phrase].str.extract(r"(\d+)")[0])
        parts.append(_part(line_no, is_phrase, section, phrase_counter, number))
    if is_hist.any():
        name = np.where(hist_dir == "input", "In", "Out") + np.where(is_hist, hist_counter, "")
        parts.append(_part(line_no, is_hist, section, name, _obj(hist["value"])))
    return parts, has_section


def _nstat_rows(c: pd.DataFrame, kind: np.ndarray, line_no: np.ndarray) -> list[pd.DataFrame]:
    """nstat and /proc/net/snmp6: "TcpExtListenOverflows  12  0.0" (group glued to the name)."""
    nstat_name = _obj(c["nstat_name"])
    is_nstat = (kind == "") & ~c["indented"].to_numpy(dtype=bool) & pd.notna(nstat_name)
    kind[is_nstat] = "nstat"
    if not is_nstat.any():
        return []
    split = c["nstat_name"][is_nstat].str.extract(f"^(?P<group>{_GROUP_RE})(?P<counter>\\w+)$")
    return [pd.DataFrame({
        "line": line_no[is_nstat],
        "group": split["group"].fillna("").to_numpy(),
        "counter": split["counter"].fillna(c["nstat_name"][is_nstat]).to_numpy(),
        "value": c["nstat_value"][is_nstat].to_numpy(),
    })]


def _accounting(text: pd.Series, kind: np.ndarray, indented: np.ndarray, has_section: np.ndarray,
                line_no: np.ndarray) -> tuple[Counter, pd.DataFrame]:
    """Every line is a counter line, structural, or skipped with its reason."""
    structural = Counter({k: int(v) for k in _STRUCTURAL if (v := (kind == k).sum())})
    reason = np.where(kind == _MISMATCH, _MISMATCH.removeprefix("skip:"), "").astype(object)
    reason[kind == ""] = "not a counter line"
    reason[(kind == "") & indented & has_section] = "unmapped netstat -s phrase"
    sk = reason != ""
    return structural, skipped_frame(line_no[sk].tolist(), reason[sk].tolist(), text.to_numpy(dtype=object)[sk].tolist())


def _part(line: np.ndarray, m: np.ndarray, group: np.ndarray, counter: np.ndarray, value: np.ndarray) -> pd.DataFrame:
    """Counter rows of the lines ``m``: (line, group, counter, value text)."""
    return pd.DataFrame({"line": line[m], "group": group[m], "counter": counter[m], "value": value[m]})


def _readings(rows: pd.DataFrame, frame: pd.DataFrame, input_name: str) -> pd.DataFrame:
    """Number the readings: a new reading starts at a snapshot marker or when a counter repeats."""
    cols = list(schema.COUNTER_COLUMNS)
    if rows.empty:
        return pd.DataFrame({k: pd.Series(dtype=v) for k, v in schema.COUNTER_COLUMNS.items()})[cols]
    rows = rows.sort_values("line", kind="stable").reset_index(drop=True)
    line = rows["line"].to_numpy(dtype=np.int64)
    at = line - 1  # frame rows by position (its index is the 1-based line number)
    lsnap = frame["snapshot"].to_numpy(dtype=np.int64, na_value=0)[at]
    group, groups = pd.factorize(rows["group"].astype(object), sort=True)
    counter, names = pd.factorize(rows["counter"].astype(object), sort=True)
    # the repetition of (marker snapshot, group, counter) (codes +1: NA is -1); keys stay < len(rows)**2
    key = np.unique(lsnap * (len(groups) + 1) + group + 1, return_inverse=True)[1].ravel() * (len(names) + 1) + counter + 1
    occ = cumcount(key)
    # a reading is (marker snapshot, repetition); readings keep their order of appearance
    reading = np.unique(lsnap * (int(occ.max()) + 1) + occ, return_inverse=True)[1].ravel()
    # the reading's time is the first known time of any of its lines
    line_ts = frame["ts"].to_numpy(dtype="datetime64[ns]")[at]
    known = ~np.isnat(line_ts)
    first = np.full(int(reading.max()) + 1, np.datetime64("NaT", "ns"))
    with_ts, at_first = np.unique(reading[known], return_index=True)
    first[with_ts] = line_ts[known][at_first]
    ts = first[reading]
    n = len(rows)
    return pd.DataFrame({
        "ts": ts,
        "input": schema.single_category(input_name, n),
        "snapshot": pd.arrays.IntegerArray(reading.astype(np.int32), np.zeros(n, dtype=bool)),
        "group": pd.Categorical.from_codes(group, categories=pd.Index(np.asarray(groups, dtype=object))),
        "counter": pd.Categorical.from_codes(counter, categories=pd.Index(np.asarray(names, dtype=object))),
        "value": _values(rows["value"]).astype("Int64").array,
        "line": pd.array(line, dtype="Int64"),
    })[cols]


def _values(text: pd.Series) -> pd.Series:
    """Counter values as numbers; one past int64 (a wrapped u64 counter, damage) becomes NA."""
    value = pd.to_numeric(text, errors="coerce")
    if value.dtype.kind in "uf":  # some value did not fit int64: parse the ones that do exactly
        digits = text.astype(str).str.strip().str.lstrip("+")
        fits = digits.str.fullmatch(r"-?\d{1,18}")
        value = pd.to_numeric(digits.where(fits), errors="coerce").astype("Int64")
    return value
