"""The crafted flow fixtures mixed into one capture, for tests that split a capture apart."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

import tcpforensics
from tcpforensics import schema
from tcpforensics.reconstruct.partition_hashes import ADDRESS_COLUMNS
from tests.conftest import FIXTURES

FLOW_FIXTURES = sorted((FIXTURES / "flows").glob("*.pcap"))


@functools.cache
def mixed_fixtures() -> pd.DataFrame:
    """Every flow fixture as one capture: each on addresses of its own, times interleaved
    (same start times), frames renumbered in time order."""
    frames = []
    for i, path in enumerate(FLOW_FIXTURES):
        ev = tcpforensics.read(str(path))
        frames.append(ev.assign(input=schema.single_category("mixed", len(ev)), **{
            c: ev[c].cat.rename_categories(lambda a, i=i: f"10.{i}.{a}") for c in ADDRESS_COLUMNS}))
    ev = schema.concat_events(frames)
    ev = ev.take(np.argsort(ev["ts"].to_numpy(), kind="stable")).reset_index(drop=True)
    return ev.assign(frame=pd.array(np.arange(1, len(ev) + 1), dtype="Int64"))
