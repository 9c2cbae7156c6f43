"""docs/schema.md is generated from tcpforensics.schema and must not drift."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_schema_doc_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("gen_schema", ROOT / "docs" / "gen_schema.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    current = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    assert current == mod.render(), "docs/schema.md is stale: run python docs/gen_schema.py"
    from tcpforensics import schema

    for col in schema.EVENT_COLUMNS:
        assert f"| `{col.name}` |" in current
