"""Split printed endpoints ('addr:port', '[v6%zone]:port', BSD 'addr.port') into columns, vectorized."""

from __future__ import annotations

import socket
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest import arrowcols as ac

# addr:port with optional [brackets]; the port is the text after the LAST separator.
_COLON = r"^\s*(?:\[(?P<b>[^\]]*)\]|(?P<a>.*?))(?::(?P<p>[^:\]]*))?\s*$"
# BSD/macOS: the port is the text after the LAST dot ("10.0.0.1.22", "*.*", "fe80::1%lo0.123").
_DOT = r"^\s*(?P<a>.*)\.(?P<p>[^.]*)\s*$"


def split(endpoints: pd.Series, style: str = "colon") -> tuple[pd.Series, pd.Series]:
    """Return (address, port text) for each printed endpoint; brackets removed.

    ``style="colon"``: Linux/Windows ``addr:port`` (IPv6 in brackets or bare with the port
    after the last colon). ``style="dot"``: BSD/macOS ``addr.port``.
    """
    s = endpoints.astype(object).fillna("").astype(str)
    if style == "dot":
        m = s.str.extract(_DOT)
        return m["a"].fillna(s), m["p"]
    m = s.str.extract(_COLON)
    addr = m["b"].where(m["b"].notna(), m["a"])
    return addr, m["p"]


def family(addresses: pd.Series) -> pd.Series:
    """ipv6 when the address holds a colon, ipv4 when it looks dotted-quad, else NA."""
    code = family_codes(_text(addresses))
    present = [k for k in (0, 1) if (code == k).any()]  # categories: the families present
    remap = np.full(3, -1)
    remap[present] = np.arange(len(present))
    cats = pd.Index([FAMILIES[k] for k in present], dtype=object)
    return pd.Series(pd.Categorical.from_codes(remap[code], categories=cats), index=addresses.index)


FAMILIES = ("ipv4", "ipv6")


def family_codes(addresses: pa.Array) -> np.ndarray:
    """Per address: 1 (ipv6: a colon), 0 (ipv4: dotted quad) or -1 (unknown, null)."""
    v6 = ac.mask(pc.match_substring(addresses, ":"))
    v4 = ac.matches(addresses, r"^[0-9]{1,3}(?:\.[0-9]{1,3}){3}$")
    return np.where(v6, 1, np.where(v4, 0, -1)).astype(np.int8)


@lru_cache(maxsize=4096)
def _service(name: str, proto: str) -> int | None:
    try:
        return socket.getservbyname(name, proto)
    except (OSError, UnicodeError, ValueError):  # unknown, unencodable, NUL inside
        return None


def service_ports(names: pa.Array, protos: pa.Array) -> pd.api.extensions.ExtensionArray:
    """Service names (``http``, ``ssh``) -> UInt16 port numbers through the system services
    table, per row's protocol (``udp``/``udp6`` look up udp, anything else tcp); NA when unknown.
    Looks up each distinct (name, protocol) pair once."""
    names = _text(names)
    udp = pc.equal(pc.utf8_rtrim(pc.utf8_lower(_text(protos)), "6"), "udp")
    names = names.cast(pa.large_string())
    tag = pc.if_else(udp, pa.scalar("u", pa.large_string()), pa.scalar("t", pa.large_string()))
    key = pc.binary_join_element_wise(tag, names, pa.scalar("\x00", pa.large_string()))
    d = pc.dictionary_encode(key)
    found = [_service(k[2:], "udp" if k[0] == "u" else "tcp") for k in d.dictionary.to_pylist()]
    table = np.array([np.nan if f is None else f for f in found], dtype=float)
    codes = np.asarray(d.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return pd.array(table[codes] if len(table) else np.full(len(codes), np.nan), dtype="Float64").astype("UInt16")


def ports(text: pd.Series | pa.Array, proto: pd.Series | pa.Array | str = "tcp") -> pd.Series:
    """Port text -> UInt16: numbers as is; service names (``http``, ``ssh``) through the
    system services table; ``*``, empty and unknown names -> NA. Looks up unique names only."""
    t = pc.utf8_trim_whitespace(_text(text))
    num = ac.integers(pc.if_else(pc.match_substring_regex(t, r"^[0-9]{1,5}$"), t, ""), "UInt16")
    named = ac.matches(t, r"^[A-Za-z][\w.+-]*$")
    if named.any():
        sel = pa.array(named)
        pr = pa.array(np.full(len(t), proto, dtype=object), type=pa.large_string()) if isinstance(proto, str) \
            else _text(proto)
        num[named] = service_ports(t.filter(sel), pr.filter(sel))
    if isinstance(text, pd.Series):
        num.index = text.index
    return num


def _text(values: pd.Series | pd.Categorical | pa.Array) -> pa.Array:
    """Strings as a pyarrow string array, missing -> "" (other values of a Series as ``str``)."""
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        values = pd.Series(values)
        if not isinstance(values.dtype, pd.StringDtype):
            values = values.astype(object).fillna("").astype(str)
    return pc.fill_null(ac.strings(values), "")
