"""Ordered rule tables evaluated over whole columns: the first rule that holds names the row.

A rule table is a tuple of rows ``(label, condition)`` or ``(label, condition, explanation)``
(:class:`Row`): the condition is a function of a frame of columns returning one boolean per
row; the explanation says in words what the condition tests, and documentation tables are
generated from it (:func:`markdown_table`), so the code and its docs cannot drift. A last row
whose condition is :func:`always` names the default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

Predicate = Callable[[pd.DataFrame], object]
Rule = tuple[object, Predicate] | tuple[object, Predicate, str]  # (label or callable giving labels, predicate[, explanation])


class Row(NamedTuple):
    """One rule: the label it gives, the condition (over a frame), and why, for the docs."""

    label: object
    when: Predicate
    why: str = ""


def always(frame: pd.DataFrame) -> bool:
    """The condition of a default row: holds for every row."""
    return True


def first_match(frame: pd.DataFrame, rules: Sequence[Rule], default: object = "") -> np.ndarray:
    """Label every row of ``frame`` with the first rule whose predicate holds (vectorized).

    A label may be a constant or a callable returning one label per row (e.g. a column).
    """
    n = len(frame)
    out = np.full(n, default, dtype=object)
    done = np.zeros(n, dtype=bool)
    for label, predicate, *_ in rules:
        hit = np.asarray(predicate(frame))
        hit = np.broadcast_to(hit.astype(bool), (n,)) if hit.ndim == 0 else _bool(hit)
        take = hit & ~done
        if not take.any():
            continue
        values = label(frame) if callable(label) else label
        if callable(label):
            out[take] = np.asarray(values, dtype=object)[take]
        else:
            out[take] = values
        done |= take
    return out


def which(frame: pd.DataFrame, rules: Sequence[Rule]) -> np.ndarray:
    """Per row of ``frame``: the index of the first rule whose predicate holds (-1: none), for
    tables whose rows carry more than a label (an explanation per row, say), so the label and
    its explanation come from one rule."""
    return first_match(frame, [(i, rule[1]) for i, rule in enumerate(rules)], default=-1).astype(np.int64)


def markdown_table(rules: Sequence[Row], header: tuple[str, str]) -> str:
    """The rows as a Markdown table of label and explanation, in evaluation order."""
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| {_spelled(r.label)} | {r.why.replace('|', chr(92) + '|')} |" for r in rules]
    return "\n".join(lines)


def _spelled(label: object) -> str:
    """A label as the docs show it: a callable label by its docstring (what it gives)."""
    return (label.__doc__ or label.__name__).strip() if callable(label) else str(label)


def _bool(values: np.ndarray) -> np.ndarray:
    if values.dtype == bool:
        return values
    return pd.array(values, dtype="boolean").fillna(False).to_numpy(dtype=bool)
