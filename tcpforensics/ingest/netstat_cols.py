"""Endpoint, port and family columns for the BSD/Windows netstat parsers, on distinct values only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest import arrowcols as ac
from tcpforensics.ingest import endpoints


def _spread(a: pa.Array, fn, dtype: object) -> pd.Series:
    """Apply ``fn`` (a pandas Series -> Series function) to the distinct values of ``a`` and
    spread the answers back over every row (RangeIndex Series)."""
    d = pc.dictionary_encode(a)
    codes = np.asarray(pc.fill_null(d.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    uniq = pd.Series(d.dictionary.to_pylist(), dtype=object)
    res = pd.array(fn(uniq).to_numpy(), dtype=dtype) if len(uniq) else pd.array([], dtype=dtype)
    return pd.Series(res.take(codes, allow_fill=True))


def split(endpoint: pa.Array, style: str) -> tuple[pa.Array, pa.Array]:
    """(address, port text) of printed endpoints through ``endpoints.split`` on distinct values."""
    d = pc.dictionary_encode(endpoint)
    uniq = pd.Series(d.dictionary.to_pylist(), dtype=object)
    addr, port = endpoints.split(uniq, style=style) if len(uniq) else (uniq, uniq)
    a = pa.array(addr.astype(object).where(addr.notna(), None).tolist(), type=pa.large_string())
    p = pa.array(port.astype(object).where(port.notna(), None).tolist(), type=pa.large_string())
    return a.take(d.indices), p.take(d.indices)


def ports(port_text: pa.Array, proto: pa.Array) -> pd.Series:
    """Port text -> UInt16: digits converted in pyarrow; service names (``https``) through
    ``endpoints.service_ports`` on the distinct (name, protocol) pairs only; ``*`` and others NA."""
    out = ac.integers(port_text, "UInt16")
    named = ac.matches(pc.fill_null(port_text, ""), r"^[A-Za-z][\w.+-]*$")
    if named.any():
        sel = pa.array(named)
        found = endpoints.service_ports(port_text.filter(sel), pc.fill_null(proto, "tcp").filter(sel))
        out[named] = pd.array(np.where((found >= 0) & (found <= 65535), found, np.nan), dtype="Float64").astype("UInt16")
    return out


def family(local: pa.Array, foreign: pa.Array) -> pd.Series:
    """ipv4/ipv6 from the local address, else from the foreign one ('*' and names tell nothing)."""
    def fam(a: pa.Array) -> pd.Series:
        return _spread(a, lambda s: endpoints.family(s).astype(object), object)

    f = fam(local)
    missing = f.isna().to_numpy()
    if missing.any():
        f[missing] = fam(foreign.filter(pa.array(missing))).to_numpy()
    return f


def categorical(a: pa.Array) -> pd.Categorical:
    """Strings -> Categorical (shared helper)."""
    return ac.categorical(a)
