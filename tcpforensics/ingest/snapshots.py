"""Split a text dump into snapshots at timestamp lines (``date`` output and the like).

Runs before format detection on every text input, so it knows no format: it looks at line
shapes only. Two things start a new snapshot (only when a data line came since the last start,
so ``date; netstat`` and ``netstat; date`` loops both give one snapshot per run; see the
judgement call on header repeats below):

1. a timestamp line (``is_marker``): the whole line, give or take decoration (``---``, ``#``,
   ``[...]``, a ``Label:`` prefix), is one of the ``_RULES`` shapes below: ``date`` in the C
   locale and in localized forms (de, fr, es, it, pt, nl, pl, cs, sv, tr, ru, ko, ja, zh),
   ISO 8601 / ``YYYY-MM-DD HH:MM:SS``, RFC 2822 (``date -R``), Windows ``%date% %time%``,
   PowerShell ``Get-Date``, or an epoch number (10 digits, optionally ms/us/ns, in the years
   2000..2099). Its time (naive, as printed; epoch in UTC) becomes ``ts`` of the snapshot; a
   line of those shapes whose month name we do not know still separates, with ``ts`` NaT.
2. the repeat of an opening line: a "header-like" line (letters, no digits: a title such as
   ``Active Internet connections (...)``, a column header, a notice; or an echoed command such
   as ``C:\\>netstat -an | findstr ":22"``, digits allowed) that was printed before the first
   data line of the input and is printed again after data lines. That is a tool run in a loop
   without timestamps. Its snapshot has ``ts`` NaT. Header-like lines
   that first appear after data (net-tools' ``Active UNIX domain sockets`` section after the
   Internet section, Windows ``[svchost.exe]`` lines) never split a single dump.

A "data line" is any non-blank line with a digit that is neither a timestamp line, nor a note
wrapped in parentheses (net-tools' "(No info could be read ... geteuid()=65534 ...)"), nor an
echoed command. A start with no data line after it (the trailing ``date`` of a ``netstat;
date`` loop) opens no snapshot. In such loops each time stamp is printed after its run, so
``ts`` lags one run behind; content cannot tell the two loop orders apart.

Judgement call on header repeats: ``netstat -tn; netstat -un`` or ``ss -ta; ss -ua`` print the
same header twice over different kinds of rows; that is one look at the machine, not two. So a
header repeat starts a snapshot only when the rows after it repeat a kind of row (its first
word: ``tcp``, ``udp6``, ``ESTAB``, ``TCP``, ``0:``) already seen in the current snapshot, as
a loop of one command does. Timestamp lines always start one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics import pandas_compat
from tcpforensics.ingest.datewords import MONTHS, PM_WORDS
from tcpforensics.ingest.parsing import columns as cols

# --- timestamp line shapes ----------------------------------------------------------------

_T = r"(?P<H>\d{1,2}):(?P<M>\d{2}):(?P<S>\d{2})(?:[.,](?P<F>\d{1,9}))?"
_AMPM = r"(?:\s*(?P<ampm>AM|PM|am|pm|a\.m\.|p\.m\.|오전|오후|ÖÖ|ÖS))?"
_TZ = r"(?:,?\s+(?P<tz>[^\W\d_]{1,6}(?:[+-]\d{1,2}(?::?\d{2})?)?|[+-]\d{2}(?::?\d{2})?))?"
_WD = r"(?:\(?[^\W\d_]+\.?\)?,?\s+)?"  # optional weekday word ("Tue", "Di", "mar.", "(수)")
_MON = r"(?P<mon>[^\W\d_]+\.?)"

#: Ordered rule table: (name, regex over the de-decorated line). First match wins.
_RULES: tuple[tuple[str, str], ...] = (
    ("epoch", r"@?(?P<epoch>\d{10}(?:\d{3}|\d{6}|\d{9})?)(?:\.(?P<efrac>\d{1,9}))?"),
    ("iso 8601", r"(?P<Y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:T|\s+)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<F>\d{1,9}))?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?|[A-Za-z]{2,5})?"),
    ("y m d (ko, ja, zh, slashes)", r"(?P<Y>\d{4})\s*[./年-]\s*(?P<m>\d{1,2})\s*[./月-]\s*(?P<d>\d{1,2})[.日]?\s+" + _WD + r"(?:(?P<ampm0>오전|오후|AM|PM)\s+)?" + _T + _AMPM + _TZ),
    ("wd mon d time tz y (C, en_US)", _WD + _MON + r"\s+(?P<d>\d{1,2}),?\s+" + _T + _AMPM + _TZ + r"\s+(?P<Y>\d{4})"),
    ("wd d mon time tz y (de, en_GB)", _WD + r"(?P<d>\d{1,2})\.?\s+" + _MON + r"\s+" + _T + _AMPM + _TZ + r"\s+(?P<Y>\d{4})"),
    ("wd d mon y time tz (fr es it pt nl pl cs sv tr ru, date -R)", _WD + r"(?P<d>\d{1,2})\.?\s+" + _MON + r"\s+(?P<Y>\d{4}),?\s+" + _T + _AMPM + _TZ),
    ("wd mon d, y time (Get-Date)", _WD + _MON + r"\s+(?P<d>\d{1,2}),\s+(?P<Y>\d{4}),?\s+" + _T + _AMPM + _TZ),
    ("wd a/b/y time (Windows %date% %time%)", _WD + r"(?P<a>\d{1,2})(?P<sep>[./])(?P<b>\d{1,2})[./](?P<Y>\d{4}),?\s+" + _T + _AMPM),
)

# Decoration around a timestamp: "--- ... ---", "# ...", "[ ... ]", "=== ... ===", "Label: ...".
# A label padded to a column ("CreationTime   : ...", PowerShell Format-List) is a record's
# field, not a timestamp line.
_DECOR = (
    r"^[\s\-=#*~<>\[\]|+]*(?:[^\W\d_]+(?:[ _-][^\W\d_]+)? ?[:=]\s+)?(?P<body>.*?)[\s\-=#*~<>\[\]|]*$"
)
# Cheap pre-filter (re2-compatible): a clock time or a long bare number somewhere.
_CANDIDATE = r"\d:\d\d:\d\d|\d{4}-\d\d-\d\d[T ]\d\d:\d\d|^[\s\-=#*~<>\[\]|+@]*\d{10}"

# An echoed command ("$ netstat -tan", "C:\\>netstat -an | findstr :22", "# ss -tan"): an opening
# line even with digits in it, so the same command run twice gives two snapshots.
_COMMAND = r"^(?:\S*[$#>%]\s*)?(?:sudo\s+)?(?:netstat|ss|nstat|cat\s+/proc/net/\S+)(?:\.exe)?(?:\s|$)"

_EPOCH_MIN, _EPOCH_MAX = 946_684_800, 4_102_444_800  # 2000-01-01 .. 2100-01-01 UTC


def split(text: pd.Series) -> pd.DataFrame:
    """Given lines (index = 1-based line number), return a frame with columns
    ``text, snapshot, ts, is_marker``: ``is_marker`` marks timestamp lines that separate
    snapshots, ``snapshot`` counts snapshots from 0, ``ts`` is the time printed on the
    timestamp line that opened the line's snapshot (NaT when none, or when it did not parse).
    """
    arr = cols.strings_or_empty(text)
    marker, marker_ts = _markers(text, arr)
    stripped = pc.utf8_trim_whitespace(arr)
    blank = cols.mask(pc.equal(stripped, ""))
    has_digit = cols.matches(stripped, r"\d")
    has_letter = cols.matches(stripped, r"[^\W\d_]")
    note = cols.matches(stripped, r"^\(.*\)$")  # "(No info ... =65534 ...)"
    command = cols.matches(stripped, _COMMAND)
    data = ~blank & has_digit & ~marker & ~note & ~command
    field = cols.matches(arr, r'^(?:[A-Za-z]\w*\s+: |\s*"[^"]*"\s*:)')  # "Key   : value" (Format-List), "key": (JSON)
    headerish = ~blank & (~has_digit | command) & has_letter & ~marker & ~field

    # Opening lines: header-like lines before the first data line; their repeats are candidates.
    n = len(text)
    first_data = int(np.argmax(data)) if data.any() else n
    repeat = np.zeros(n, dtype=bool)
    head_idx = np.flatnonzero(headerish)
    if len(head_idx):
        keys = pc.replace_substring_regex(stripped.take(pa.array(head_idx)), r"\s+", " ").to_numpy(zero_copy_only=False)
        before = head_idx < first_data
        opening = set(keys[before])
        if opening:
            repeat[head_idx] = (head_idx > first_data) & np.isin(keys, list(opening))

    # Starts need a data line before them (since the previous marker, resp. candidate) and one
    # after them: the last "date" of a "netstat; date" loop opens nothing.
    data_before = np.cumsum(data)
    last_data = int(np.flatnonzero(data)[-1]) if data.any() else -1
    after = np.arange(n) < last_data
    hard = marker & after & _data_since_previous(marker, data_before)
    soft = repeat & after & _data_since_previous(marker | repeat, data_before)
    soft &= ~_no_data_until_next(soft, hard, data_before)
    if soft.any():
        soft &= ~_merged_reruns(stripped, data, hard | soft, soft)
    start = hard | soft
    snapshot = np.cumsum(start)

    # ts: the last timestamp line, reset to NaT by a header-repeat start.
    setter = marker | soft
    vals = np.where(marker, marker_ts, np.datetime64("NaT", "ns"))
    group = np.cumsum(setter)
    per_group = np.concatenate([[np.datetime64("NaT", "ns")], vals[setter]])
    ts = per_group[group]
    return pd.DataFrame(
        {
            "text": text,
            "snapshot": pd.arrays.IntegerArray(snapshot.astype(np.int32), np.zeros(n, dtype=bool)),
            "ts": ts.astype("datetime64[ns]"),
            "is_marker": np.asarray(marker, dtype=bool),
        },
        index=text.index,
    )


def _data_since_previous(flags: np.ndarray, data_before: np.ndarray) -> np.ndarray:
    """For flagged lines: did a data line come since the previous flagged line (or the top)?"""
    out = np.zeros(len(flags), dtype=bool)
    at = np.flatnonzero(flags)
    counts = data_before[at]
    out[at] = counts > np.concatenate([[0], counts[:-1]])
    return out


def _no_data_until_next(soft: np.ndarray, hard: np.ndarray, data_before: np.ndarray) -> np.ndarray:
    """Soft starts followed by a hard start with no data line in between (that one wins)."""
    out = np.zeros(len(soft), dtype=bool)
    s_at, h_at = np.flatnonzero(soft), np.flatnonzero(hard)
    if len(s_at) and len(h_at):
        nxt = np.searchsorted(h_at, s_at)
        has = nxt < len(h_at)
        out[s_at[has]] = data_before[h_at[nxt[has]]] == data_before[s_at[has]]
    return out


def _merged_reruns(stripped: pa.Array, data: np.ndarray, start: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """Header-repeat starts to drop: those whose rows show no kind of row already seen in the
    current snapshot (a row's kind is its first word: tcp, udp6, ESTAB, TCP, 0:, TcpExt:...).

    ``netstat -tn; netstat -un`` or ``ss -ta; ss -ua`` print one header twice over rows of
    other kinds: one snapshot. A loop of one command repeats its kinds: one snapshot per run.
    The loop runs once per start (a handful, or one per run of a loop), not per line.
    """
    pos = np.flatnonzero(data)
    first = pc.list_element(pc.utf8_split_whitespace(stripped.take(pa.array(pos)), max_splits=1), 0)
    codes = pc.dictionary_encode(first).indices.to_numpy(zero_copy_only=False)
    segment = np.cumsum(start)[pos]
    kinds = pd.Series(codes).groupby(segment).unique()  # segment -> kinds of its rows
    starts = np.flatnonzero(start)
    drop = np.zeros(len(start), dtype=bool)
    seen = set(kinds.get(0, ()))
    for k, at in enumerate(starts, start=1):
        mine = set(kinds.get(k, ()))
        if soft[at] and not (mine & seen):
            drop[at] = True
            seen |= mine
        else:
            seen = mine
    return drop


def parse_timestamps(text: pd.Series, arr: pa.Array | None = None) -> tuple[pd.Series, pd.Series]:
    """Vectorized: (is a timestamp line, its time or NaT) for every line (see ``_RULES``).

    An RE2 pre-filter over the whole column keeps the (few) lines with a clock time or a
    long number; the rule table runs on those only.
    """
    is_marker, ts = _markers(text, cols.strings_or_empty(text) if arr is None else arr)
    return pd.Series(is_marker, index=text.index), pd.Series(ts, index=text.index, dtype="datetime64[ns]")


def _markers(text: pd.Series, arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """:func:`parse_timestamps` as numpy arrays (bool, datetime64[ns])."""
    short = cols.mask(pc.less_equal(pc.utf8_length(arr), 120))
    hit = short & cols.matches(arr, _CANDIDATE)
    if not hit.any():
        return np.zeros(len(text), dtype=bool), np.full(len(text), np.datetime64("NaT", "ns"))
    is_marker = pd.Series(False, index=text.index)
    ts = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    cand = pd.Series(arr.filter(pa.array(hit)).to_numpy(zero_copy_only=False), index=text.index[hit], dtype=object)
    body = cand.str.extract(_DECOR)["body"].fillna("")
    left = body
    for _name, rule in _RULES:
        if left.empty:
            break
        m = left.str.extract("^(?:" + rule + ")$")
        hit = m.notna().any(axis=1)
        if not hit.any():
            continue
        m = m[hit]
        when, keep = _times(m)
        is_marker[m.index[keep]] = True
        ts[m.index] = when
        left = left[~hit]
    ts[~is_marker] = pd.NaT
    return is_marker.to_numpy(dtype=bool), ts.to_numpy(dtype="datetime64[ns]")


def _col(m: pd.DataFrame, name: str) -> pd.Series:
    return m[name] if name in m.columns else pd.Series(np.nan, index=m.index, dtype=object)


def _times(m: pd.DataFrame) -> tuple[pd.Series, np.ndarray]:
    """Times of matched lines of one rule; and which matches are timestamp lines at all."""
    if "epoch" in m.columns:  # integer nanoseconds: 10 digits are seconds, 13 ms, 16 us, 19 ns
        digits = m["epoch"].str.len()
        frac = _col(m, "efrac").fillna("").where(digits.eq(10), "")
        ns_text = (m["epoch"] + frac.str.ljust(9, "0").str.slice(0, 9)).where(digits.eq(10), m["epoch"].str.ljust(19, "0"))
        ns = pd.to_numeric(ns_text, errors="coerce")  # uint64 when one passes int64
        keep = ((ns >= _EPOCH_MIN * 10**9) & (ns < _EPOCH_MAX * 10**9)).to_numpy()
        exact = np.where(keep, ns.to_numpy(), 0).astype(np.int64)  # kept ones fit int64: no float detour
        when = pd.Series(exact.view("datetime64[ns]"), index=m.index).where(keep)
        return when, keep
    month = pd.to_numeric(_col(m, "m"), errors="coerce")
    if "mon" in m.columns:
        keys = m["mon"].fillna("").str.normalize("NFC").str.lower().str.rstrip(".,")
        month = keys.map(MONTHS).astype(float)
    day = pd.to_numeric(_col(m, "d"), errors="coerce")
    if "a" in m.columns:  # Windows %date%: d.m.y with dots, m/d/y with slashes (d/m/y when a > 12)
        a = pd.to_numeric(m["a"], errors="coerce")
        b = pd.to_numeric(m["b"], errors="coerce")
        dmy = m["sep"].eq(".") | (a > 12)
        day, month = a.where(dmy, b), b.where(dmy, a)
    hour = pd.to_numeric(_col(m, "H"), errors="coerce")
    ampm = pandas_compat.fill(pandas_compat.fill(_col(m, "ampm"), _col(m, "ampm0")), "").str.upper().str.replace(".", "", regex=False)
    pm = ampm.isin([w.upper() for w in PM_WORDS])
    am = ampm.ne("") & ~pm
    hour = hour.where(~(pm & (hour < 12)), hour + 12).where(~(am & (hour == 12)), 0)
    frac = _col(m, "F").fillna("").str.ljust(9, "0").str.slice(0, 9)
    parts = pd.DataFrame(
        {
            "year": pd.to_numeric(_col(m, "Y"), errors="coerce"),
            "month": month,
            "day": day,
            "hour": hour,
            "minute": pd.to_numeric(_col(m, "M"), errors="coerce"),
            "second": pd.to_numeric(_col(m, "S"), errors="coerce").fillna(0),
            "ns": pd.to_numeric(frac.where(frac.ne(""), "0"), errors="coerce").fillna(0),
        }
    )
    ok = parts.notna().all(axis=1) & parts["year"].between(1678, 2261)  # datetime64[ns] range
    when = pd.Series(pd.NaT, index=m.index, dtype="datetime64[ns]")
    if ok.any():
        when[ok] = pd.to_datetime(parts[ok], errors="coerce").astype("datetime64[ns]")
    return when, np.ones(len(m), dtype=bool)
