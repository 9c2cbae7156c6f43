"""Linux ``/proc/net/tcp`` and ``/proc/net/tcp6`` socket tables (and their udp look-alikes).

Columns (docs/schema.md): proto, family, src_addr, src_port, dst_addr, dst_port, state,
raw_state, send_q, recv_q, user, inode, timer.

Example::

      sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
       0: 3500007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 34000 1 ...
       3: 802AA8C0:D450 2104C798:01BB 08 00000000:00000052 02:00000A6F 00000000  1000        0 149098 2 ...

    line 2: tcp ipv4 127.0.0.53:53 -> 0.0.0.0:0, state LISTEN (raw_state 0A), user 101,
            inode 34000, timer "off (0.00/0/0)"
    line 3: tcp ipv4 192.168.42.128:54352 -> 152.199.4.33:443, state CLOSE_WAIT (08), recv_q 82,
            user 1000, inode 149098, timer "keepalive (26.71/0/0)"

Addresses are the kernel's 32-bit words printed with ``%08X`` in host byte order; like every
reader of these files (net-tools, jc, ss's own fallback) we assume a little-endian host (x86,
ARM), so each word's bytes are reversed. Ports, ``st`` and the queues are plain hex numbers,
decoded in numpy.

``st`` -> ``state`` through ``vocab.PROC_STATES`` (``raw_state`` keeps the hex as printed);
``tx_queue`` -> ``send_q`` and ``rx_queue`` -> ``recv_q``; ``uid`` -> ``user``; ``inode`` as
printed (0 for TIME_WAIT and request sockets); ``timer`` is what ``netstat -o`` prints from
the same fields: ``keepalive (7010.53/0/0)`` (timer kind, seconds left at USER_HZ 100,
retransmits, unanswered probes). A header ending in ``drops`` (/proc/net/udp, udp6) marks the
rows below it as udp (state NA, ``raw_state`` kept). Headers, blank lines, ``...`` elisions
and shell prompts are structural; anything else is skipped as ``unparseable line``.
"""

from __future__ import annotations

import socket
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.base import Lines, Parsed, skipped_frame
from tcpforensics.ingest.parsing import columns as cols
from tcpforensics.ingest.parsing import vocab
from tcpforensics.schema import STATE_DTYPE

NAME = "proc_net_tcp"
KIND = "text"
DESCRIPTION = "Linux `/proc/net/tcp` and `/proc/net/tcp6` (hex addresses and states)"
SAVE_WITH = "cat /proc/net/tcp /proc/net/tcp6 > tcp.txt"
FIXTURES = ("linux/proc-*.txt",)
ORDER = 50

_HEADER = r"^[ \t]*sl[ \t]+local_address[ \t]+rem(?:ote)?_address[ \t]+st[ \t]+tx_queue[ \t]+rx_queue"
_X = "[0-9A-Fa-f]"
_ADDR = f"{_X}{{8}}(?:{_X}{{24}})?:{_X}{{4}}"
_ROW = (
    rf"^[ \t]*[0-9]+:[ \t]+{_ADDR}[ \t]+{_ADDR}[ \t]+{_X}{{2}}[ \t]+{_X}{{8}}:{_X}{{8}}[ \t]+"
    rf"{_X}{{2}}:{_X}{{8}}[ \t]+{_X}{{8}}[ \t]+[0-9]+[ \t]+-?[0-9]+[ \t]+[0-9]+(?:[ \t]|$)"
)

# Ordered line-kind rules (first match wins).
_KIND_RULES: tuple[tuple[str, str], ...] = (
    ("blank", r"^[ \t]*$"),
    ("header", _HEADER),
    ("row", _ROW),
    ("elision", r"^[ \t]*(?:\.\.\.+|…)[ \t]*$"),
    ("command", r"^[ \t]*(?:\[[^\]]*\]|[\w.@:~/-]*)[$#%>][ \t]"),
)

#: Timer kinds of the ``tr`` field as net-tools names them (include/net/inet_connection_sock.h).
TIMERS: dict[int, str] = {0: "off", 1: "on", 2: "keepalive", 3: "timewait", 4: "probe"}
#: USER_HZ: tm->when is printed in clock ticks of 1/100 s.
USER_HZ = 100


def detect(lines: Lines) -> float:
    """High on the ``sl local_address rem_address st ...`` header or rows shaped like it."""
    text = lines.text.iloc[:5000]
    if text.empty:
        return 0.0
    arr = cols.strings_or_empty(text)
    if cols.matches(arr, _HEADER).any():
        return 0.98
    nonblank = int((~cols.matches(arr, r"^[ \t]*$")).sum())
    rows = int(cols.matches(arr, _ROW).sum())
    return round(0.9 * rows / nonblank, 3) if nonblank else 0.0


def parse(lines: Lines) -> Parsed:
    """Decode every row; headers, blank lines and prompts are structural, the rest skipped."""
    text = lines.text
    line_no = text.index.to_numpy(dtype=np.int64)
    arr = cols.strings_or_empty(text)
    kinds = np.array([name for name, _ in _KIND_RULES] + ["other"], dtype="U16")
    kind = kinds[cols.first_match(arr, [pattern for _, pattern in _KIND_RULES])]  # -1: "other"

    rows_pos = np.flatnonzero(kind == "row")
    header_pos = np.flatnonzero(kind == "header")
    udp_header = cols.matches(arr.take(pa.array(header_pos)), r"[ \t]drops[ \t]*$") if len(header_pos) else []
    # proto of each row: that of the header above it (tcp when there is none)
    hdr_idx = np.searchsorted(header_pos, rows_pos, side="right") - 1
    is_udp = np.zeros(len(rows_pos), dtype=bool)
    if len(header_pos):
        is_udp = np.where(hdr_idx >= 0, np.asarray(udp_header, dtype=bool)[np.clip(hdr_idx, 0, None)], False)
    rows = _rows(arr.take(pa.array(rows_pos)), is_udp)
    rows["line"] = pd.Series(line_no[rows_pos], dtype="Int64")

    structural = Counter({str(k): int(v) for k, v in zip(*np.unique(kind, return_counts=True), strict=True)})
    structural.pop("row", None)
    structural.pop("other", None)
    skip_pos = np.flatnonzero(kind == "other")
    skipped = skipped_frame(
        [int(x) for x in line_no[skip_pos]],
        ["unparseable line"] * len(skip_pos),
        [str(t) for t in text.to_numpy()[skip_pos]],
    )
    return Parsed(rows=rows, skipped=skipped, structural=structural)


def _rows(arr: pa.Array, is_udp: np.ndarray) -> pd.DataFrame:
    """Decode row lines (already validated by ``_ROW``) into event columns."""
    parts = pc.ascii_split_whitespace(pc.utf8_trim_whitespace(arr), max_splits=10)
    tok = [pc.list_element(parts, i) for i in range(10)]
    _sl, local, remote, st, queues, timer, retr, uid, probes, inode = tok
    src_addr, src_port = _endpoint(local)
    dst_addr, dst_port = _endpoint(remote)
    tx, rx = _pair(queues)
    tr, when = _pair(timer)

    st_val, _ = cols.hex_values(st)
    cats = list(STATE_DTYPE.categories)
    table = np.array([cats.index(vocab.PROC_STATES[i]) if i in vocab.PROC_STATES else -1 for i in range(256)])
    codes = np.where(np.asarray(is_udp, dtype=bool), -1, table[np.clip(st_val, 0, 255)])
    state = pd.Categorical.from_codes(codes, dtype=STATE_DTYPE)
    proto = np.where(is_udp, "udp", "tcp")
    family = np.where(np.asarray(pc.utf8_length(local).to_numpy(zero_copy_only=False)) > 13, "ipv6", "ipv4")

    return pd.DataFrame({
        "proto": pd.Categorical(proto),
        "family": pd.Categorical(family, categories=["ipv4", "ipv6"]),
        "src_addr": src_addr, "src_port": src_port,
        "dst_addr": dst_addr, "dst_port": dst_port,
        "state": state,
        "raw_state": cols.categorical(st, empty_as_na=True),
        "send_q": cols.hex_integers(tx),
        "recv_q": cols.hex_integers(rx),
        "user": cols.categorical(uid, empty_as_na=True),
        "inode": cols.integers(inode),
        "timer": _timer(tr, when, retr, probes),
    })


def _pair(field: pa.Array) -> tuple[pa.Array, pa.Array]:
    """'AAAA:BBBB' -> ('AAAA', 'BBBB')."""
    parts = pc.split_pattern(field, ":", max_splits=1)
    return pc.list_element(parts, 0), pc.list_element(parts, 1)


def _endpoint(field: pa.Array) -> tuple[pd.Categorical, pd.Series]:
    """'0100007F:0016' (v4) or 32-hex-digit v6 -> (address text, port)."""
    hexaddr, hexport = _pair(field)
    port_val, port_ok = cols.hex_values(hexport)
    port = cols.typed(port_val, port_ok, "UInt16")
    width = np.asarray(pc.utf8_length(hexaddr).to_numpy(zero_copy_only=False))
    codes = np.full(len(width), -1, dtype=np.int64)
    categories: list[str] = []
    for w, fam in ((8, socket.AF_INET), (32, socket.AF_INET6)):
        sel = np.flatnonzero(width == w)
        if len(sel):
            texts, inverse = _addresses(hexaddr.take(pa.array(sel)), w, fam)
            codes[sel] = inverse + len(categories)
            categories += texts
    cats = pd.Index(categories, dtype=object)
    return pd.Categorical.from_codes(codes, categories=cats), port


def _addresses(hexaddr: pa.Array, width: int, fam: int) -> tuple[list[str], np.ndarray]:
    """Hex words in host (little-endian) order -> (distinct address texts, index of each row).

    Bytes are decoded in numpy; only the distinct addresses are formatted: IPv4 by Arrow
    (four octet columns joined with '.'), IPv6 by ``inet_ntop`` (RFC 5952 text).
    """
    nib, _ = cols.hex_digits(hexaddr, width)
    octets = (nib[:, 0::2] * 16 + nib[:, 1::2]).astype(np.uint8)  # bytes as printed
    octets = octets.reshape(len(octets), width // 8, 4)[:, :, ::-1].reshape(len(octets), width // 2)
    if fam == socket.AF_INET:  # hash the 32-bit values (no sort)
        inverse, uniq = pd.factorize(np.ascontiguousarray(octets).view(np.uint32).ravel())
        raw = np.ascontiguousarray(uniq, dtype=np.uint32).view(np.uint8).reshape(len(uniq), 4)
    else:
        keys = np.ascontiguousarray(octets).view(f"V{width // 2}").ravel()
        uniq, inverse = np.unique(keys, return_inverse=True)
        raw = uniq.view(np.uint8).reshape(len(uniq), width // 2)
    if fam == socket.AF_INET:
        octet_texts = [pc.cast(pa.array(raw[:, i]), pa.large_string()) for i in range(4)]
        texts = pc.binary_join_element_wise(*octet_texts, pa.scalar(".", pa.large_string())).to_pylist()
    else:
        texts = [socket.inet_ntop(fam, u.tobytes()) for u in raw]
    return texts, inverse.ravel()


def _timer(tr: pa.Array, when: pa.Array, retr: pa.Array, probes: pa.Array) -> pd.Categorical:
    """netstat -o style timer text from the tr, tm->when, retrnsmt and timeout fields."""
    kind_val, _ = cols.hex_values(tr)
    when_val, _ = cols.hex_values(when)
    retr_val, _ = cols.hex_values(retr)
    names = pa.array([TIMERS.get(k, f"unkn-{k}") for k in range(256)], type=pa.large_string())
    name = names.take(pa.array(np.clip(kind_val, 0, 255)))

    def text(values: np.ndarray, pad: int = 0) -> pa.Array:
        t = pc.cast(pa.array(values), pa.large_string())
        return pc.utf8_lpad(t, width=pad, padding="0") if pad else t

    sep = lambda s: pa.scalar(s, pa.large_string())  # noqa: E731
    out = pc.binary_join_element_wise(
        name, sep(" ("), text(when_val // USER_HZ), sep("."), text(when_val % USER_HZ, 2), sep("/"),
        text(retr_val), sep("/"), pc.cast(pc.fill_null(probes, "0"), pa.large_string()), sep(")"),
        sep(""),
    )
    return cols.categorical(out, empty_as_na=True)
