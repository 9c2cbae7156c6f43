"""Findings as a Zeek ``notice.log`` (TSV with ``#fields``/``#types``), so they go back into a
Zeek or SIEM pipeline that already reads notices.

One row per finding: ``ts`` its first_seen, ``uid`` the first flow uid of its evidence,
``note`` ``TCPForensics::`` and its category (``TCPForensics::Port_Scan``), ``msg`` its
explanation, ``sub`` its severity and target, ``src`` the subject when it is an address (a
scanner, a backscatter or reflection sender), ``dst`` and ``p`` the victim of a flood
(``ADDR:PORT``), ``n`` its count, ``actions`` ``Notice::ACTION_LOG``. Text is escaped as Zeek's
ASCII writer does (``report/zeek.py``).
"""

from __future__ import annotations

import ipaddress

import pandas as pd

from tcpforensics.report.model import Report
from tcpforensics.report.zeek import EMPTY, UNSET, _escape, _stamp

FIELDS = (("ts", "time"), ("uid", "string"), ("note", "enum"), ("msg", "string"), ("sub", "string"),
          ("src", "addr"), ("dst", "addr"), ("p", "port"), ("n", "count"), ("actions", "set[enum]"),
          ("suppress_for", "interval"))


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _endpoint(text: str) -> tuple[str | None, str | None]:
    addr, _, port = str(text).rpartition(":")
    return (_address(addr), f"{port}/tcp") if addr and port.isdigit() and _address(addr) else (None, None)


def rows(findings: pd.DataFrame) -> pd.DataFrame:
    """The notice fields of each finding (text, unset as None)."""
    out = []
    for f in findings.itertuples(index=False):  # (a report holds a few findings)
        details = f.details if isinstance(f.details, dict) else {}
        uids = [e for e in (f.evidence or []) if isinstance(e, str) and "#" not in e]
        dst, port = _endpoint(details.get("victim") or f.subject)
        ts = pd.Timestamp(f.first_seen)
        out.append({
            "ts": None if pd.isna(ts) else f"{ts.value / 1e9:.6f}",
            "uid": uids[0] if uids else None,
            "note": "TCPForensics::" + "_".join(w.capitalize() for w in str(f.category).split("_")),
            "msg": str(f.explanation),
            "sub": f"{f.severity}: {details.get('target', f.subject)}",
            "src": _address(str(f.subject)),
            "dst": dst, "p": port,
            "n": None if pd.isna(f.count) else str(int(f.count)),
            "actions": "Notice::ACTION_LOG", "suppress_for": "3600.000000",
        })
    return pd.DataFrame(out, columns=[name for name, _ in FIELDS])


def render(report: Report) -> str:
    """The findings of ``report`` as notice.log text."""
    table = rows(report.findings)
    head = ["#separator \\x09", "#set_separator\t,", f"#empty_field\t{EMPTY}", f"#unset_field\t{UNSET}",
            "#path\tnotice", f"#open\t{_stamp()}", "#fields\t" + "\t".join(n for n, _ in FIELDS),
            "#types\t" + "\t".join(t for _, t in FIELDS)]
    cells = {c: _escape(table[c].astype(object).fillna("")).where(table[c].notna(), UNSET).to_numpy()
             for c in table.columns}
    body = [] if table.empty else pd.DataFrame(cells).agg("\t".join, axis=1).tolist()
    return "\n".join(head + body + [f"#close\t{_stamp()}"]) + "\n"
