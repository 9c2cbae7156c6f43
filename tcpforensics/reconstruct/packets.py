"""Packet events -> sorted numpy columns keyed by canonical 4-tuple (the input of flow reconstruction)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tcpforensics.capture import headers as h

#: The TCP flag bits under their short names (defined once, in capture/headers.py).
FIN, SYN, RST, PSH, ACK, URG = h.TH_FIN, h.TH_SYN, h.TH_RST, h.TH_PSH, h.TH_ACK, h.TH_URG


@dataclass
class SortedPackets:
    """Packet columns sorted by (4-tuple, time, frame); ``dirb`` is 1 when the packet goes hi->lo."""

    key: np.ndarray      # int64 canonical 4-tuple id (sorted)
    ts: np.ndarray       # int64 ns
    frame: np.ndarray    # int64
    dirb: np.ndarray     # int8 0/1 physical direction within the tuple
    flags: np.ndarray    # integer bit set (the column's own width: only masked)
    seq: np.ndarray      # int64 (uint32 value)
    ack: np.ndarray      # int64 (uint32 value)
    plen: np.ndarray     # int64 payload length
    window: np.ndarray   # integer (own width: only compared with 0)
    valid: np.ndarray    # bool: checksum accepted (or not checked)
    sport: np.ndarray    # integer (own width, e.g. uint16)
    dport: np.ndarray
    saddr: np.ndarray    # int64 code into ``addrs``
    daddr: np.ndarray
    addrs: np.ndarray    # object array of address strings
    inputs: pd.Categorical  # input name per packet
    row: np.ndarray      # position of the packet in the events table given to prepare()

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def syn(self) -> np.ndarray:
        return (self.flags & SYN) != 0

    @property
    def fin(self) -> np.ndarray:
        return (self.flags & FIN) != 0

    @property
    def rst(self) -> np.ndarray:
        return (self.flags & RST) != 0

    @property
    def ackf(self) -> np.ndarray:
        return (self.flags & ACK) != 0


def _int(s: pd.Series | None, n: int, fill: int) -> np.ndarray:
    if s is None:
        return np.full(n, fill, dtype=np.int64)
    if pd.api.types.is_integer_dtype(s.dtype):
        return s.to_numpy(dtype=np.int64, na_value=fill)
    return pd.to_numeric(s, errors="coerce").fillna(fill).to_numpy(dtype=np.int64)


def _narrow(s: pd.Series | None, n: int, fill: int) -> np.ndarray:
    """Like ``_int`` but in the column's own integer width (cheaper to reorder); NA -> ``fill``."""
    if s is not None and pd.api.types.is_integer_dtype(s.dtype):
        dt = getattr(s.dtype, "numpy_dtype", s.dtype)
        if np.can_cast(np.min_scalar_type(fill), dt):
            return s.to_numpy(dtype=dt, na_value=fill)
    return _int(s, n, fill)


def _equals(s: pd.Series, value: str, lower: bool = False) -> np.ndarray:
    """``s == value`` (NA -> False), comparing a categorical's categories only once."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories.astype(str)
        hit = np.asarray((cats.str.lower() if lower else cats) == value)
        codes = s.cat.codes.to_numpy()
        return np.r_[hit, False][codes]  # code -1 (NA) -> the appended False
    t = s.astype("string")
    return (t.str.lower() if lower else t).eq(value).fillna(False).to_numpy(bool)


def _in_nets(addrs: pd.Index, nets: tuple[str, ...]) -> np.ndarray:
    """For each address string: inside one of ``nets`` (evaluated once per distinct address)."""
    if not nets or len(addrs) == 0:
        return np.zeros(len(addrs), dtype=bool)
    parsed = [ipaddress.ip_network(n, strict=False) for n in nets]
    out = np.zeros(len(addrs), dtype=bool)
    for i, a in enumerate(addrs):  # distinct addresses only, not packets
        try:
            ip = ipaddress.ip_address(str(a))
        except ValueError:
            continue
        out[i] = any(ip.version == n.version and ip in n for n in parsed)
    return out


def prepare(events: pd.DataFrame, ignore_checksums: bool = False, ignore_checksums_nets: tuple[str, ...] = ()) -> SortedPackets:
    """Select TCP packet events and sort them by canonical 4-tuple, time and frame."""
    df, rows = _tcp_rows(events)
    n = len(df)
    cats, scode, dcode = _address_text_codes(df)
    key, dirb = _tuple_keys(df, scode, dcode)
    ts = df["ts"].to_numpy("datetime64[ns]").view(np.int64) if n else np.zeros(0, np.int64)
    frame = _int(df["frame"] if "frame" in df.columns else None, n, 0)
    if "frame" not in df.columns or (frame == 0).all():
        frame = np.arange(1, n + 1, dtype=np.int64)
    order = np.lexsort((frame, ts, key))
    valid = _checksums_valid(df, cats, scode, ignore_checksums, ignore_checksums_nets)
    inputs = pd.Categorical(df["input"]) if "input" in df.columns else pd.Categorical([None] * n)

    def sorted64(col: np.ndarray) -> np.ndarray:
        """``col`` in packet order, as int64 (reordered first, in its own narrower width)."""
        return col[order].astype(np.int64, copy=False)

    small = np.int32 if len(cats) < 2**31 else np.int64
    return SortedPackets(
        key=sorted64(key), ts=sorted64(ts), frame=sorted64(frame), dirb=dirb[order], flags=_narrow(df.get("flags"), n, 0)[order],
        seq=sorted64(_narrow(df.get("seq"), n, 0)), ack=sorted64(_narrow(df.get("ack"), n, 0)),
        plen=sorted64(_narrow(df.get("payload_len"), n, 0)), window=_narrow(df.get("window"), n, 1)[order],
        valid=valid[order], sport=_narrow(df["src_port"], n, 0)[order], dport=_narrow(df["dst_port"], n, 0)[order],
        saddr=sorted64(scode.astype(small)), daddr=sorted64(dcode.astype(small)),
        addrs=np.asarray(cats, dtype=object), inputs=inputs.take(order) if n else inputs, row=sorted64(rows),
    )


def _tcp_rows(events: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The TCP packet events with a 4-tuple (and a time, when the table has times), and the row
    of each in ``events``."""
    df = events
    rows = np.arange(len(df))
    keep = np.ones(len(df), dtype=bool)
    if "kind" in df.columns:
        keep &= _equals(df["kind"], "packet")
    if "proto" in df.columns:
        keep &= df["proto"].isna().to_numpy(bool) | _equals(df["proto"], "tcp", lower=True)
    if not keep.all():
        df = df[keep]
        rows = rows[keep]
    need = ["src_addr", "dst_addr", "src_port", "dst_port"]
    ok = np.ones(len(df), dtype=bool)
    for c in need:
        ok &= df[c].notna().to_numpy(bool)
    if "ts" in df.columns:
        ok &= df["ts"].notna().to_numpy(bool)
    if not ok.all():  # (filtering copies every column)
        df = df[ok]
        rows = rows[ok]
    return df, rows


def _address_text_codes(df: pd.DataFrame) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """The addresses of both columns as text (sorted), and each row's source and destination
    code into them."""
    src = pd.Categorical(df["src_addr"])
    dst = pd.Categorical(df["dst_addr"])
    cats = src.categories.astype(str).union(dst.categories.astype(str))
    scode = cats.get_indexer(src.categories.astype(str))[src.codes].astype(np.int64)
    dcode = cats.get_indexer(dst.categories.astype(str))[dst.codes].astype(np.int64)
    return cats, scode, dcode


def _tuple_keys(df: pd.DataFrame, scode: np.ndarray, dcode: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's canonical 4-tuple key (the same both ways) and its direction (1: the source
    endpoint is the greater)."""
    n = len(df)
    a = scode * 65536 + _int(df["src_port"], n, 0)
    b = dcode * 65536 + _int(df["dst_port"], n, 0)
    dirb = (a > b).astype(np.int8)
    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    del a, b
    key = pd.factorize(lo)[0].astype(np.int64)
    del lo
    key *= int(hi.max()) + 1 if n else 1
    key += hi
    return key, dirb


def _checksums_valid(df: pd.DataFrame, cats: pd.Index, scode: np.ndarray, ignore_checksums: bool,
                     ignore_checksums_nets: tuple[str, ...]) -> np.ndarray:
    """Per row: not a bad checksum (truncated packets and senders in ``ignore_checksums_nets``
    aside; every row when ``ignore_checksums``)."""
    valid = np.ones(len(df), dtype=bool)
    if not ignore_checksums and "checksum" in df.columns:
        bad = _equals(df["checksum"], "bad")
        if "caplen" in df.columns and "wirelen" in df.columns:
            trunc = (pd.to_numeric(df["caplen"], errors="coerce") < pd.to_numeric(df["wirelen"], errors="coerce")).fillna(False).to_numpy(bool)
            bad &= ~trunc
        if ignore_checksums_nets:
            bad &= ~_in_nets(cats, tuple(ignore_checksums_nets))[scode]
        valid = ~bad
    return valid
