"""Flow table as a Zeek conn.log (TSV with #separator/#fields/#types headers) that zeek-cut reads."""

from __future__ import annotations

import datetime as _dt
import re

import numpy as np
import pandas as pd

from tcpforensics.report.export import write_table
from tcpforensics.report.table import tab

#: (conn.log field, flow column, Zeek type). Zeek's own fields first, in conn.log order
#: (fields we cannot know, such as service or ip_bytes, are left out rather than faked), then
#: tcpforensics' endpoint-state fields.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("ts", "start", "time"),
    ("uid", "uid", "string"),
    ("id.orig_h", "orig_addr", "addr"),
    ("id.orig_p", "orig_port", "port"),
    ("id.resp_h", "resp_addr", "addr"),
    ("id.resp_p", "resp_port", "port"),
    ("proto", "", "enum"),
    ("duration", "duration", "interval"),
    ("orig_bytes", "orig_bytes", "count"),
    ("resp_bytes", "resp_bytes", "count"),
    ("conn_state", "conn_state", "string"),
    ("missed_bytes", "missed_bytes", "count"),
    ("history", "history", "string"),
    ("orig_pkts", "orig_pkts", "count"),
    ("resp_pkts", "resp_pkts", "count"),
    ("orig_states", "orig_states", "string"),
    ("resp_states", "resp_states", "string"),
    ("orig_final", "orig_final", "string"),
    ("resp_final", "resp_final", "string"),
    ("close", "close", "string"),
)

UNSET = "-"
EMPTY = "(empty)"
_NEEDS_ESCAPE = re.compile(r"[\x00-\x1f\x7f\\]|[^\x00-\x7f]")


def _escape(s: pd.Series) -> pd.Series:
    """Zeek's ASCII writer escaping: control bytes, backslash and non-ASCII as \\xNN."""
    def esc(text: str) -> str:
        return _NEEDS_ESCAPE.sub(lambda m: "".join(f"\\x{b:02x}" for b in m.group(0).encode("utf-8")), text)

    text = s.astype("string")
    mask = text.str.contains(_NEEDS_ESCAPE.pattern, regex=True).fillna(False)
    if mask.any():
        text = text.where(~mask, text[mask].map(esc))
    text = text.where(text != "", EMPTY)
    return text.fillna(UNSET)


def _stamp(t: pd.Timestamp | None = None) -> str:
    t = t or pd.Timestamp(_dt.datetime.now(_dt.UTC))
    return t.strftime("%Y-%m-%d-%H-%M-%S")


def to_conn_log(flows: pd.DataFrame, opened: pd.Timestamp | None = None) -> str:
    """Render the flow table as conn.log text."""
    n = len(flows)
    has_time = flows["duration"].fillna(0).to_numpy() > 0 if n else np.zeros(0, bool)
    cols: list[pd.Series] = []
    for field, col, typ in FIELDS:
        if field == "proto":
            cols.append(pd.Series(["tcp"] * n, dtype="string"))
            continue
        s = flows[col].reset_index(drop=True)
        if typ == "time":
            v = s.astype("datetime64[ns]").to_numpy().view(np.int64)
            out = pd.Series([f"{x / 1e9:.6f}" for x in v], dtype="string") if n else pd.Series([], dtype="string")
            out = out.where(~s.isna().to_numpy(), UNSET)
        elif typ == "interval":
            out = s.map(lambda x: f"{x:.6f}").astype("string").where(has_time, UNSET)
        elif typ in ("count", "port"):
            out = s.astype("Int64").astype("string").fillna(UNSET)
            if field in ("orig_bytes", "resp_bytes"):
                out = out.where(has_time, UNSET)  # Zeek sets sizes only when duration > 0
        else:
            out = _escape(s.astype("object").where(s.notna(), None))
            if field in ("history", "orig_states", "resp_states"):
                out = out.where(out != EMPTY, UNSET)
        cols.append(out.reset_index(drop=True))
    head = [
        "#separator \\x09",
        "#set_separator\t,",
        f"#empty_field\t{EMPTY}",
        f"#unset_field\t{UNSET}",
        "#path\tconn",
        f"#open\t{_stamp(opened)}",
        "#fields\t" + "\t".join(f for f, _, _ in FIELDS),
        "#types\t" + "\t".join(t for _, _, t in FIELDS),
    ]
    body = pd.concat(cols, axis=1).astype(str).agg("\t".join, axis=1).tolist() if n else []
    return "\n".join(head + body + [f"#close\t{_stamp(opened)}"]) + "\n"


#: columns shown by ``tcpforensics flows --format table`` (the other formats carry every column)
TABLE_COLUMNS = ("orig", "resp", "conn_state", "history", "close", "orig_final", "resp_final", "duration", "orig_pkts", "resp_pkts")


def render_flows(flows: pd.DataFrame, fmt: str) -> str | bytes:
    """The flow table as table / csv / json (lines) / zeek (conn.log) / parquet."""
    if fmt == "zeek":
        return to_conn_log(flows)
    if fmt == "table":
        shown = pd.DataFrame(
            {
                "orig": flows["orig_addr"].astype(str) + ":" + flows["orig_port"].astype(str),
                "resp": flows["resp_addr"].astype(str) + ":" + flows["resp_port"].astype(str),
                **{c: flows[c] for c in TABLE_COLUMNS[2:]},
            }
        )
        shown["duration"] = shown["duration"].round(6)
        return tab(shown, max_rows=max(len(shown), 1)) + "\n"
    return write_table(flows, fmt)
