"""Split printed endpoints ('addr:port', '[v6%zone]:port', BSD 'addr.port') into columns, vectorized."""

from __future__ import annotations

import socket
from functools import lru_cache

import numpy as np
import pandas as pd

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
    s = addresses.astype(object).fillna("").astype(str)
    v6 = s.str.contains(":", regex=False)
    v4 = s.str.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}")
    out = np.where(v6, "ipv6", np.where(v4, "ipv4", None))
    return pd.Series(out, index=addresses.index, dtype=object).astype("category")


@lru_cache(maxsize=4096)
def _service(name: str, proto: str) -> int | None:
    try:
        return socket.getservbyname(name, proto)
    except (OSError, UnicodeError):
        return None


def ports(text: pd.Series, proto: pd.Series | str = "tcp") -> pd.Series:
    """Port text -> UInt16: numbers as is; service names (``http``, ``ssh``) through the
    system services table; ``*``, empty and unknown names -> NA. Looks up unique names only."""
    t = text.astype(object).fillna("").astype(str).str.strip()
    num = pd.to_numeric(t.where(t.str.fullmatch(r"\d{1,5}"), None), errors="coerce")
    named = num.isna() & t.str.fullmatch(r"[A-Za-z][\w.+-]*")
    if named.any():
        pr = proto if isinstance(proto, pd.Series) else pd.Series(proto, index=t.index)
        pairs = pd.DataFrame({"n": t[named], "p": pr[named].astype(str).str.lower().str.rstrip("6")})
        uniq = pairs.drop_duplicates()
        uniq = uniq.assign(port=[_service(n, "udp" if p == "udp" else "tcp") for n, p in uniq.itertuples(index=False)])
        found = pairs.merge(uniq, on=["n", "p"], how="left")["port"]  # one lookup per distinct name
        num[named] = pd.to_numeric(found, errors="coerce").to_numpy(dtype=float)
    num = num.where((num >= 0) & (num <= 65535))
    return num.astype("UInt16")
