"""Helpers shared by the jc agreement tests: jc's JSON rows as a frame comparable to ours."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from tcpforensics.ingest.parsing import endpoints, vocab

COLUMNS = ["proto", "src_addr", "src_port", "dst_addr", "dst_port", "state"]


def jc_frame(path: Path, network_only: bool = True) -> pd.DataFrame:
    """jc's rows with our column names: proto tcp/udp, brackets removed from addresses
    (jc keeps '[::]'), port names resolved with the same services table, states normalized."""
    rows = json.loads(path.read_text())
    if network_only:
        rows = [r for r in rows if r.get("kind", "network") == "network"]
    df = pd.DataFrame(rows)
    proto = df["proto"].str.lower().str.extract(r"^(tcp|udp|icm)", expand=False)
    out = pd.DataFrame({
        "proto": proto,
        "src_addr": df.get("local_address", pd.Series(None, index=df.index)).str.strip("[]"),
        "src_port": endpoints.ports(df.get("local_port", pd.Series(None, index=df.index)), proto.fillna("tcp")),
        "dst_addr": df.get("foreign_address", pd.Series(None, index=df.index)).str.strip("[]"),
        "dst_port": endpoints.ports(df.get("foreign_port", pd.Series(None, index=df.index)), proto.fillna("tcp")),
        "state": vocab.normalize(df.get("state", pd.Series(None, index=df.index)).replace("", None)).astype(object),
    })
    if "pid" in df:
        out["pid"] = pd.to_numeric(df["pid"], errors="coerce").astype("Int64")
    return out


def ours(events: pd.DataFrame) -> pd.DataFrame:
    """Our events reduced to the compared columns, plain dtypes."""
    out = events[COLUMNS + (["pid"] if events["pid"].notna().any() else [])].copy()
    for c in ("proto", "src_addr", "dst_addr", "state"):
        out[c] = out[c].astype(object)
    return out.reset_index(drop=True)


def wild_expected(prefix: str) -> list[dict]:
    """Rows of ../shared/corpus/text/wild/expected_counts.tsv for files under ``prefix``
    (empty when the corpus is absent; the tests then skip or fail through corpus_path)."""
    from tests.conftest import CORPUS

    path = CORPUS / "text" / "wild" / "expected_counts.tsv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh, delimiter="\t") if r["file"].startswith(prefix)]
