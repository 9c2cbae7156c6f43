"""Windows ``netstat`` (-a -n -o -b -q -p), in every display language and code page.

Columns (docs/schema.md): proto, family, src_addr, src_port, dst_addr, dst_port, state,
raw_state, pid, process (with -b).

Example::

    Active Connections

      Proto  Local Address          Foreign Address        State           PID
      TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1004
      TCP    192.168.1.10:49712     52.97.1.18:443         ESTABLISHED     5320
      UDP    0.0.0.0:5353           *:*                                    2100

    line 5: tcp ipv4 0.0.0.0:135 -> 0.0.0.0:0, state LISTEN (raw_state LISTENING), pid 1004
    line 6: tcp ipv4 192.168.1.10:49712 -> 52.97.1.18:443, state ESTABLISHED, pid 5320
    line 7: udp ipv4 0.0.0.0:5353 -> * (port NA), state NA, pid 2100

Decisions (tested):

* A row is ``TCP|UDP local foreign [state] [pid]``; the state never starts with a digit and
  may hold one space (translations such as ``IN ASCOLTO``); UDP rows have no state (NA).
* Endpoints are split at the last colon; ``[v6%zone]`` loses its brackets, keeps the zone;
  ``*:*`` gives address ``*`` and port NA; service names (``https``) become numbers,
  host names (``DESKTOP-1``, ``lhr25s34-in-f14``) stay as printed (family NA when neither
  endpoint is numeric).
* ``-b`` owner lines below a row are structural and fill that row's ``process``: the
  executable in brackets (``[svchost.exe]``); a bare service name printed before it
  (``Dnscache``) is counted but not kept (no schema column); the localized "Can not obtain
  ownership information" line leaves ``process`` NA. Owner lines with no row above them are
  skipped ("owner line without a row").
* Title lines (``Active Connections``, ``Aktive Verbindungen``, ...), the column header
  (``Proto``, ``Имя``, ``协议``, ``プロトコル``), blank lines, ``...`` elisions, shell prompts
  echoing the command, the cmd.exe banner and the "requires elevation" notice of -b are
  structural; anything else is skipped ("unparseable line").
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.base import Lines, Parsed, skipped_frame
from tcpforensics.ingest.parsing import columns as cols
from tcpforensics.ingest.parsing import endpoints, vocab

NAME = "netstat_windows"
KIND = "text"
DESCRIPTION = "Windows `netstat` (`-a -n -o -b -q -p`), in any display language; OEM, ANSI or UTF-16 files"
SAVE_WITH = "netstat -ano > netstat.txt"
FIXTURES = ("windows/*.txt",)
ORDER = 40

# One endpoint, split at the last colon ("[v6%zone]:port", "host:service", "*:*").
_EP = r"(?:\[(?P<{0}b>[^\]\s]*)\]|(?P<{0}a>[^\s\[]*?)):(?P<{0}p>[^\s:\]]*)"
# A connection row. Rows are padded to the header width in Japanese output, so any run of
# blanks separates columns.
_ROW = (
    r"^\s*(?P<proto>TCP|UDP|TCPv6|UDPv6)\s+" + _EP.format("l") + r"\s+" + _EP.format("f")
    + r"(?:\s+(?P<state>[^\d\s]\S*(?:\s[^\d\s]\S*)?))?(?:\s+(?P<pid>\d+))?\s*$"
)
# Line classes of the lines that are not rows: (name, RE2 pattern), read top to bottom.
_EXE = r"^\s*\[(?P<exe>[^\]]+)\]\s*$"
LINE_RULES: tuple[tuple[str, str], ...] = (
    ("blank", r"^\s*$"),
    ("exe", _EXE),
    # "Can not obtain ownership information" in every language we know, mojibake included
    # (informaci¢n, propri‚taire, d?obtenir): matched on its ASCII skeleton.
    ("no owner", r"^\s*(?:Can not obtain ownership information"
     r"|Impossible d.{1,3}obtenir les informations de propri.{1,3}taire"
     r"|No se puede obtener informaci.{1,3}n de propiedad"
     r"|Die Besitzinformationen k.{1,3}nnen nicht abgerufen werden"
     r"|Impossibile ottenere le informazioni sulla propriet.{1,3}"
     r"|N.{1,3}o .{1,3} poss.{1,3}vel obter informa.{1,6}es de propriedade"
     r"|Не удается получить сведения о владельце)\s*$"),
    ("elision", r"^\s*(?:\.\.\.|…)\s*$"),
    # netstat -b without an elevated prompt (en, de, fr, es; accents matched loosely)
    ("notice", r"^\s*(?:The requested operation requires elevation"
     r"|Der angeforderte Vorgang erfordert erh.{1,3}hte Rechte"
     r"|L.{1,3}op.{1,3}ration demand.{1,3}e n.{1,3}cessite une .{1,3}l.{1,3}vation"
     r"|La operaci.{1,3}n solicitada requiere elevaci.{1,3}n)\.?\s*$"),
    ("command line", r"^\s*(?:PS [A-Za-z]:\\[^>]*>.*|[A-Za-z]:\\[^>]*>.*|netstat(?:\.exe)?(?:\s.*)?)$"),
    ("banner", r"^\s*(?:Microsoft Windows \[.*\]|\(c\) .*(?:Microsoft|Майкрософт).*)\s*$"),
    ("header", r"^\s*(?:" + "|".join(vocab.WINDOWS_FIRST_COLUMN) + r")\s+\S"),
    ("service", r"^\s+[A-Za-z][\w.-]*\s*$"),
)
# A title we do not list: short, no digits or address/path characters, right above a header.
_TITLE_SHAPE = r"^\s*[^\d:\[\]\\/<>|]{3,60}$"


def _titles() -> pa.Array:
    return pa.array(sorted({p.casefold() for p, _, role, _ in vocab.NETSTAT_PHRASES if role == "title"}),
                    type=pa.large_string())


def _classify(arr: pa.Array) -> tuple[dict[str, pa.Array], np.ndarray, np.ndarray]:
    """Row fields, whether each line is a row, and a class name for every other line."""
    fields = cols.extract(arr, _ROW, empty_as_null=True)
    is_row = cols.mask(pc.is_valid(fields["proto"]))
    kind = np.full(len(arr), "", dtype=object)
    kind[is_row] = "row"
    rest_pos = np.flatnonzero(~is_row)
    if len(rest_pos):
        sub = arr.take(pa.array(rest_pos))
        titles = cols.mask(pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(sub)), value_set=_titles()))
        rules = LINE_RULES[:1] + (("title", titles),) + LINE_RULES[1:]  # titles: a word list
        names = np.array([name for name, _ in rules] + ["other"], dtype=object)
        kind[rest_pos] = names[cols.first_match(sub, [rule for _, rule in rules])]  # -1: "other"
    return fields, is_row, kind


def detect(lines: Lines) -> float:
    """High for upper-case TCP/UDP rows with addr:port endpoints and no queue columns."""
    text = lines.text.iloc[:2000]
    if text.empty:
        return 0.0
    arr = cols.clean_lines(text)
    _, is_row, kind = _classify(arr)
    useful = kind != "blank"
    if not is_row.any() or not useful.any():
        return 0.0
    known = is_row | ~np.isin(kind, ["other", "blank"])
    frac = float(known[useful].mean())
    bonus = 0.1 if (kind == "header").any() else 0.0
    return min(1.0, 0.85 * frac + bonus)


def parse(lines: Lines) -> Parsed:
    """Parse every line; -b owner lines give the process of the row above them."""
    text = lines.text
    line_no = text.index.to_numpy(dtype=np.int64)
    arr = cols.clean_lines(text)
    fields, is_row, kind = _classify(arr)
    n = len(kind)
    pos = np.arange(n)

    # -b owner lines belong to the closest row above them
    owner = np.maximum.accumulate(np.where(is_row, pos, -1)) if n else pos
    nxt = np.append(kind[1:], "")
    service = (kind == "service") & (nxt == "exe") & (owner >= 0)
    kind = np.where((kind == "service") & ~service, "other", kind)
    owner_kinds = np.isin(kind, ["exe", "no owner", "service"])
    orphan = owner_kinds & (owner < 0)
    exe_lines = np.flatnonzero((kind == "exe") & (owner >= 0))
    exe_names = cols.extract(arr.take(pa.array(exe_lines, type=pa.int64())), _EXE, empty_as_null=True)["exe"].to_pylist() if len(exe_lines) else []
    exe_by_row = pd.Series(exe_names, index=owner[exe_lines], dtype=object)
    exe_by_row = exe_by_row[~exe_by_row.index.duplicated()]

    # an unlisted title: short digit-free line right above a header (or above blank + header)
    nxt2 = np.append(kind[2:], ["", ""])[:n]
    before_header = (nxt == "header") | ((nxt == "blank") & (nxt2 == "header"))
    cand = np.flatnonzero((kind == "other") & before_header)
    if len(cand):
        looks = cols.matches(arr.take(pa.array(cand)), _TITLE_SHAPE)
        kind[cand[looks]] = "title"

    names = {"exe": "owner: executable", "service": "owner: service", "no owner": "owner: not available"}
    structural = Counter()
    for k, v in zip(*np.unique(kind[~orphan & (kind != "row") & (kind != "other")], return_counts=True), strict=True):
        structural[names.get(str(k), str(k))] += int(v)
    bad = np.flatnonzero((kind == "other") | orphan)
    reasons = np.where(orphan[bad], "owner line without a row", "unparseable line")
    skipped = skipped_frame(line_no[bad].tolist(), reasons.tolist(), arr.take(pa.array(bad, type=pa.int64())).to_pylist())
    rows_pos = np.flatnonzero(is_row)
    rows = _rows(fields, rows_pos, line_no, exe_by_row)
    return Parsed(rows=rows, skipped=skipped, structural=structural,
                  meta={"owner_lines": bool(len(exe_lines) or (kind == "no owner").any())})


def _rows(fields: dict[str, pa.Array], rows_pos: np.ndarray, line_no: np.ndarray,
          exe_by_row: pd.Series) -> pd.DataFrame:
    take = pa.array(rows_pos, type=pa.int64())
    f = {k: v.take(take) for k, v in fields.items()}
    proto = pc.utf8_lower(pc.replace_substring(f["proto"], "v6", ""))
    v6 = cols.mask(pc.ends_with(f["proto"], "v6"))
    local = pc.coalesce(f["lb"], f["la"])
    foreign = pc.coalesce(f["fb"], f["fa"])
    is_tcp = cols.mask(pc.equal(proto, "tcp"))
    raw = pc.if_else(pa.array(is_tcp), f["state"], pa.scalar(None, f["state"].type))
    raw_cat = cols.categorical(raw, empty_as_na=False)
    process = exe_by_row.reindex(rows_pos).to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "line": line_no[rows_pos],
            "proto": cols.categorical(proto, empty_as_na=False),
            "family": endpoints.families(local, foreign, np.where(v6, 1, -1)),
            "src_addr": cols.categorical(local, empty_as_na=False),
            "src_port": endpoints.port_numbers(f["lp"], proto).array,
            "dst_addr": cols.categorical(foreign, empty_as_na=False),
            "dst_port": endpoints.port_numbers(f["fp"], proto).array,
            "state": cols.states(raw_cat),
            "raw_state": raw_cat,
            "pid": cols.integers(f["pid"]).array,
            "process": pd.Categorical(process),
        }
    )
