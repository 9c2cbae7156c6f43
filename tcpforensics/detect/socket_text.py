"""Finishing socket finding rows: the details dict, and texts filled from each row's fields."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.rules import which


def finish(out: pd.DataFrame, detail_cols: list[str]) -> pd.DataFrame:
    """Finding rows: the details dict from the named columns (and ``evidence_total``)."""
    out = out.reset_index(drop=True)
    if "evidence_total" in out:
        detail_cols = detail_cols + ["evidence_total"]
    cols = [c for c in detail_cols if c in out.columns]
    recs = out[cols].astype(object).where(out[cols].notna(), None).to_dict("records") if cols else [{}] * len(out)
    out["details"] = [{k: python_values(v) for k, v in r.items() if v is not None} | {"input": i}
                      for r, i in zip(recs, out["input"], strict=True)]
    return out


def explain(out: pd.DataFrame, explanation: str, next_step: str) -> pd.DataFrame:
    """Finding rows with their explanation and next step: templates filled from each row's
    fields (a field a row lacks prints as '?')."""
    fields = _fields(out)
    out["explanation"] = [explanation.format_map(Missing(f)).strip() for f in fields]
    out["next_step"] = [next_step.format_map(Missing(f)).strip() for f in fields]
    return out


def by_rules(out: pd.DataFrame, rules: Sequence[tuple], **columns: str) -> None:
    """Set columns of ``out`` from the first rule of ``rules`` that holds for each row (rows of
    label, condition, then texts, as NamedTuples): ``column="attribute"``; the label is taken
    as it is, every other attribute is a template filled from the row's fields."""
    hit = which(out, rules)
    fields = _fields(out)
    for column, attr in columns.items():
        values = [getattr(rules[i], attr) for i in hit]
        out[column] = values if attr == "label" else [v.format_map(Missing(f)) for v, f in zip(values, fields, strict=True)]


def _fields(out: pd.DataFrame) -> list[dict]:
    return out.astype(object).where(out.notna(), "").to_dict("records")


class Missing(dict):
    """format_map mapping that prints '?' for a field a row lacks."""

    def __missing__(self, key: str) -> str:
        return "?"


def python_values(v: object) -> object:
    """numpy scalars (also inside dicts and lists) as Python values, nothing else changed (the
    socket details keep their floats and NA as they are)."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {k: python_values(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [python_values(x) for x in v]
    return v
