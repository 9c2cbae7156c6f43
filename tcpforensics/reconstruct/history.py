"""Zeek history letters (S H A D F R Q I C T W G and ^) from packet columns, vectorized."""

from __future__ import annotations

import numpy as np

from tcpforensics.groups import cumcount

#: letter classes recorded at most once per direction (Conn::CheckHistory mask bits)
_ONCE = {"A": 0, "D": 1, "Q": 2, "I": 3, "S": 4, "H": 4}  # S and H share the SYN slot


def _letter_table() -> np.ndarray:
    """update_history()'s letter for each combination of SYN, FIN, RST, ACK, payload (bits 0-4)."""
    k = np.arange(32)
    syn, fin, rst, ack, data = ((k >> b) & 1 == 1 for b in range(5))
    bits = syn.astype(np.int8) + fin.astype(np.int8) + rst.astype(np.int8)
    return np.select(
        [
            (bits > 1) & fin & rst,
            bits > 1,
            (bits == 1) & syn & ack,
            (bits == 1) & syn,
            (bits == 1) & fin,
            (bits == 1) & rst,
            (bits == 0) & data,
            (bits == 0) & ack,
        ],
        [ord(c) for c in "IQHSFRDA"],
        default=0,
    ).astype(np.uint8)


_LETTER_TABLE = _letter_table()
_SLOT_TABLE = np.full(256, -1, dtype=np.int8)
for _ch, _s in _ONCE.items():
    _SLOT_TABLE[ord(_ch)] = _s


def main_letters(cid, d, valid, syn, fin, rst, ack, plen, seq) -> np.ndarray:
    """The letter update_history() records for each packet, as an ASCII code (0 when none).

    Rules (TCPSessionAdapter.cc update_history, one per line):
      more than one of SYN/FIN/RST: I if FIN and RST, else Q         (once per direction)
      SYN alone: H with ACK, else S                                  (once per direction)
      FIN alone: F, again only when seq+len differs from the last FIN's
      RST alone: R, again only when seq differs from the last RST's
      none: D if payload, else A if ACK                              (once per direction)
    Bad-checksum packets (``valid`` False) get no letter here (they give C, see scaled()).
    """
    # the rules depend on five bits only: evaluate them once on the 32 combinations
    combo = (syn.astype(np.uint8) | (fin.astype(np.uint8) << 1) | (rst.astype(np.uint8) << 2)
             | (ack.astype(np.uint8) << 3) | ((plen > 0).astype(np.uint8) << 4))
    letter = _LETTER_TABLE[combo]
    letter *= valid
    out = np.zeros(len(cid), dtype=np.uint8)
    # once-per-direction classes: the first packet of each (connection, direction, slot)
    slot = _SLOT_TABLE[letter]
    sel = np.flatnonzero(slot >= 0)
    if len(sel):
        code = d[sel].astype(np.int8) * 8 + slot[sel]
        for v in np.unique(code):
            s = sel[code == v]
            c = cid[s]
            keep = s[np.r_[True, c[1:] != c[:-1]]]  # packets are grouped by connection
            out[keep] = letter[keep]
    # F and R: first one per direction, then whenever the sequence value changes
    for ch in "FR":
        sel = np.flatnonzero(letter == ord(ch))
        if len(sel):
            cd = cid[sel].astype(np.int64) * 2 + d[sel]
            o = np.argsort(cd, kind="stable")
            s2 = sel[o]
            g = cd[o]
            v = (seq[s2] + plen[s2]) & 0xFFFFFFFF if ch == "F" else seq[s2]
            new = np.r_[True, (g[1:] != g[:-1]) | (v[1:] != v[:-1])]
            out[s2[new]] = ord(ch)
    return out


def scaled(mask: np.ndarray, cid: np.ndarray, d: np.ndarray) -> np.ndarray:
    """True where a scaled letter (C T W G) is recorded: the 1st, 10th, 100th ... occurrence
    per direction (Session::ScaledHistoryEntry)."""
    out = np.zeros(len(mask), dtype=bool)
    sel = np.flatnonzero(mask)
    if len(sel):
        k = cumcount(cid[sel].astype(np.int64) * 2 + d[sel]) + 1
        lg = np.log10(k)
        out[sel] = np.isclose(lg, np.round(lg))
    return out


def assemble(n: int, cid: np.ndarray, pos: np.ndarray, sub: np.ndarray, letters: np.ndarray,
             is_orig: np.ndarray, flipped: np.ndarray) -> np.ndarray:
    """Join letter events (conn, packet position, order within packet; ASCII codes, 0 = none)
    into history strings, lower case for the responder and ``^`` first when flipped."""
    keep = letters != 0
    cid, pos, sub, codes, is_orig = cid[keep], pos[keep], sub[keep], letters[keep], is_orig[keep]
    codes = np.where(is_orig, codes, codes + 32).astype(np.uint8)  # tolower for A-Z
    order = np.lexsort((sub, pos, cid))
    cid, codes = cid[order], codes[order]
    rank = np.arange(len(cid)) - np.searchsorted(cid, cid, side="left")
    width = int(rank.max()) + 2 if len(cid) else 1
    grid = np.zeros((n, width), dtype=np.uint8)
    grid[:, 0] = np.where(flipped, ord("^"), 0)
    col = rank + flipped[cid].astype(np.int64)
    grid[cid, col] = codes
    return grid.view(f"S{width}").ravel().astype(str).astype(object)
