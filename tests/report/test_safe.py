"""Cell safety: spreadsheet formulas, Markdown/HTML injection, terminal escapes."""

from __future__ import annotations

import pandas as pd
import pytest

from tcpforensics.report.csv_report import safe_frame
from tcpforensics.report.safe import csv_cell, markdown_cell, terminal


@pytest.mark.parametrize("value", ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_cell_neutralizes_formula_starts(value: str) -> None:
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["nginx", "127.0.0.1:80", " =not first", -5, 3.5, None])
def test_csv_cell_leaves_data_alone(value: object) -> None:
    assert csv_cell(value) == value


def test_safe_frame_every_column_kind() -> None:
    df = pd.DataFrame({
        "text": pd.Series(["=1", "ok", "\tx", None], dtype="str"),
        "cat": pd.Categorical(["@a", "b", "@a", None]),
        "num": pd.array([-1, 2, None, 4], dtype="Int64"),
        "obj": [["=a", "b"], {"k": 1}, "+x", None],
    })
    out = safe_frame(df)
    assert out["text"].tolist()[:3] == ["'=1", "ok", "' x"]  # tab folded after neutralizing
    assert pd.isna(out["text"].iloc[3])
    assert out["cat"].tolist()[:3] == ["'@a", "b", "'@a"] and pd.isna(out["cat"].iloc[3])
    assert out["num"].tolist()[:2] == [-1, 2]  # a negative number is data, not a formula
    assert out["obj"].tolist()[:3] == ["'=a;b", "k=1", "'+x"]


def test_markdown_cell_escapes_table_code_and_html() -> None:
    s = markdown_cell("a|b `c` <script>alert(1)</script> [x](http://e) **b** & _i_\nnext")
    assert "|" not in s.replace("\\|", "")
    assert "`" not in s.replace("\\`", "")
    assert "<" not in s and ">" not in s and "&lt;script&gt;" in s
    assert "\\[x\\](http://e)" in s and "\\*\\*b\\*\\*" in s and "&amp;" in s
    assert "\n" not in s


def test_terminal_strips_ansi_osc_and_controls() -> None:
    evil = "ng\x1b[31minx\x1b[0m\x1b]0;title\x07 \x9b2J\x07\x08x\u202etxt.exe\ttab\nnl"
    s = terminal(evil)
    assert s == "nginx xtxt.exe tab nl"
    assert all(ord(ch) >= 0x20 and not 0x7F <= ord(ch) <= 0x9F for ch in s)


def test_terminal_keeps_non_ascii_names() -> None:
    assert terminal("сервер-日本") == "сервер-日本"


def test_terminal_strips_osc8_hyperlinks_and_dcs() -> None:
    assert terminal("\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\") == "click"
    assert "\x1b" not in terminal("\x1bPq#0;2;0;0;0\x1b\\x")
