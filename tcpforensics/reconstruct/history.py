"""Zeek history letters (S H A D F R Q I C T W G and ^) from packet columns, vectorized."""

from __future__ import annotations

import numpy as np

from tcpforensics.reconstruct.groups import cumcount

#: letter classes recorded at most once per direction (Conn::CheckHistory mask bits)
_ONCE = {"A": 0, "D": 1, "Q": 2, "I": 3, "S": 4, "H": 4}  # S and H share the SYN slot


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
    bits = syn.astype(np.int8) + fin.astype(np.int8) + rst.astype(np.int8)
    letter = np.select(
        [
            (bits > 1) & fin & rst,
            bits > 1,
            (bits == 1) & syn & ack,
            (bits == 1) & syn,
            (bits == 1) & fin,
            (bits == 1) & rst,
            (bits == 0) & (plen > 0),
            (bits == 0) & ack,
        ],
        [ord(c) for c in "IQHSFRDA"],
        default=0,
    ).astype(np.uint8)
    letter[~valid] = 0
    out = np.zeros(len(cid), dtype=np.uint8)
    cd = cid.astype(np.int64) * 2 + d
    # once-per-direction classes
    slot = np.full(len(cid), -1, dtype=np.int64)
    for ch, s in _ONCE.items():
        slot[letter == ord(ch)] = s
    sel = np.flatnonzero(slot >= 0)
    if len(sel):
        _, first = np.unique(cd[sel] * 8 + slot[sel], return_index=True)
        keep = sel[first]
        out[keep] = letter[keep]
    # F and R: first one per direction, then whenever the sequence value changes
    for ch, value in (("F", (seq + plen) & 0xFFFFFFFF), ("R", seq)):
        sel = np.flatnonzero(letter == ord(ch))
        if len(sel):
            o = np.argsort(cd[sel], kind="stable")
            s2 = sel[o]
            g = cd[s2]
            v = value[s2]
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
