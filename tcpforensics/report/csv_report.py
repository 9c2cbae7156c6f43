"""CSV report: the findings table, or one file per table, cells neutralized against formulas."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from tcpforensics import schema
from tcpforensics.report import views
from tcpforensics.report.model import Report
from tcpforensics.report.safe import csv_cell, csv_column, flat, is_missing, terminal

#: Column order of findings.csv (details and evidence flattened to ``k=v;...`` and ``a;b``).
FINDING_CSV_COLUMNS = list(schema.FINDING_COLUMNS)


def cell(value: object) -> object:
    """One CSV cell: flattened, formula-neutralized, then stripped of escapes and controls.

    Neutralizing comes first so a cell that began with a tab or CR keeps its ' prefix; the
    stripping keeps a CSV printed to a terminal (``--format csv`` on stdout) harmless.
    """
    v = csv_cell(flat(value))
    return terminal(v) if isinstance(v, str) else (None if is_missing(v) else v)


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Every cell flattened (lists ``a;b``, dicts ``k=v;...``), formula-neutralized, control-free.

    Vectorized per column: numbers, booleans and timestamps pass as they are (a negative number
    is data); categorical columns are cleaned once per category; text columns with str ops.
    """
    out = {}
    for name in df.columns:
        s = df[name]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats = s.cat.categories
            if not (pd.api.types.is_numeric_dtype(cats.dtype) or pd.api.types.is_datetime64_any_dtype(cats.dtype)):
                clean = np.array([*csv_column(pd.Series(cats, dtype=object)).astype(object), None], dtype=object)
                s = pd.Series(clean[s.cat.codes.to_numpy()], index=s.index, dtype=object)
            out[name] = s
        elif pd.api.types.is_string_dtype(s.dtype) and s.dtype != object:
            out[name] = csv_column(s)
        elif s.dtype == object:
            plain_text = s.map(lambda v: isinstance(v, str) or is_missing(v)).all()
            out[name] = csv_column(s) if plain_text else s.map(cell)
        else:
            out[name] = s
    return pd.DataFrame(out, columns=df.columns, index=df.index)
def findings_frame(report: Report) -> pd.DataFrame:
    """The findings with exactly FINDING_COLUMNS, in order."""
    f = report.findings
    return pd.DataFrame({c: f[c] if c in f else pd.Series([None] * len(f), dtype=object) for c in FINDING_CSV_COLUMNS})


def render(report: Report) -> str:
    """The findings as CSV (one row per finding)."""
    return safe_frame(findings_frame(report)).to_csv(index=False)


def frames(report: Report) -> dict[str, pd.DataFrame]:
    """Every table of the report by file stem: findings, states, named tables, accounting, skipped."""
    out: dict[str, pd.DataFrame] = {"findings": findings_frame(report)}
    if "states" not in report.tables:
        out["states"] = views.histogram_view(report)
    for name, df in report.tables.items():
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "table"
        if stem in out or stem in ("accounting", "skipped"):
            stem = f"table_{stem}"
        out[stem] = df
    out["accounting"] = views.accounting_frame(report)
    out["skipped"] = report.skipped
    return out


def wants_directory(output: str | None) -> bool:
    """True when ``--output`` names a directory (existing, or a path ending in '/')."""
    return output is not None and (output.endswith(("/", "\\")) or Path(output).is_dir())


def write_dir(report: Report, directory: str | Path) -> list[Path]:
    """Write one CSV per table into ``directory`` (created if needed); return the paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, df in frames(report).items():
        p = d / f"{stem}.csv"
        p.write_text(safe_frame(df).to_csv(index=False), encoding="utf-8")
        written.append(p)
    return written
