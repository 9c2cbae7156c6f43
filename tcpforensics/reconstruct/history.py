"""Zeek history letters (S H A D F R Q I C T W G and ^) from packet columns, vectorized."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.groups import cumcount

#: letter classes recorded at most once per direction (Conn::CheckHistory mask bits)
_ONCE = {"A": 0, "D": 1, "Q": 2, "I": 3, "S": 4, "H": 4}  # S and H share the SYN slot


def main_letters(cid, d, valid, syn, fin, rst, ack, plen, seq) -> np.ndarray:
    """The letter update_history() records for each packet (upper case), '' when none.

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
        ["I", "Q", "H", "S", "F", "R", "D", "A"],
        default="",
    ).astype(object)
    letter[~valid] = ""
    out = np.full(len(cid), "", dtype=object)
    cd = cid.astype(np.int64) * 2 + d
    # once-per-direction classes
    slot = np.full(len(cid), -1, dtype=np.int64)
    for ch, s in _ONCE.items():
        slot[letter == ch] = s
    sel = np.flatnonzero(slot >= 0)
    if len(sel):
        _, first = np.unique(cd[sel] * 8 + slot[sel], return_index=True)
        keep = sel[first]
        out[keep] = letter[keep]
    # F and R: first one per direction, then whenever the sequence value changes
    for ch, value in (("F", (seq + plen) & 0xFFFFFFFF), ("R", seq)):
        sel = np.flatnonzero(letter == ch)
        if len(sel):
            o = np.argsort(cd[sel], kind="stable")
            s2 = sel[o]
            g = cd[s2]
            v = value[s2]
            new = np.r_[True, (g[1:] != g[:-1]) | (v[1:] != v[:-1])]
            out[s2[new]] = ch
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
    """Join letter events (conn, packet position, order within packet) into history strings."""
    keep = letters != ""
    cid, pos, sub, letters, is_orig = cid[keep], pos[keep], sub[keep], letters[keep], is_orig[keep]
    letters = np.where(is_orig, letters, pd.Series(letters, dtype=object).str.lower().to_numpy(object))
    order = np.lexsort((sub, pos, cid))
    hist = pd.Series(letters[order], dtype=object).groupby(cid[order], sort=True).agg("".join)
    out = np.full(n, "", dtype=object)
    out[hist.index.to_numpy()] = hist.to_numpy()
    out = np.where(flipped, "^" + out.astype(str), out.astype(str))
    return out.astype(object)
