"""Zeek's TCP endpoint state machine and conn_state() as ordered, vectorized rule tables."""

from __future__ import annotations

import numpy as np

# Zeek's endpoint states (TCP_Endpoint.h; script-level TCP_INACTIVE .. TCP_RESET), same numbers.
INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)
ENDPOINT_STATE_NAMES = ("INACTIVE", "SYN_SENT", "SYN_ACK_SENT", "PARTIAL", "ESTABLISHED", "CLOSED", "RESET")

#: history strings for which RSTOS0 applies (conn_state(): /^\^?S[^HAFGIQ]*R.*$/)
RSTOS0_PATTERN = r"^\^?S[^HAFGIQ]*R.*$"


def transition(e, prev_p, p, io, syn, fin, rst, ack, plen, dc_e):
    """One packet's effect on its sender (state ``e``) and the peer (state ``p``).

    Mirrors ``TCPSessionAdapter::UpdateStateMachine`` (UpdateInactiveState, UpdateSYN_SentState,
    UpdateEstablishedState, UpdateClosedState, UpdateResetState). Every argument is an array
    over the packets processed together (one per connection). Returns (new_e, new_p, do_close,
    starts_attempt_timer).
    """
    inact = e == INACTIVE
    syn_sent = (e == SYN_SENT) | (e == SYN_ACK_SENT)
    est = (e == ESTABLISHED) | (e == PARTIAL)
    closed = e == CLOSED
    # sender: first matching rule wins (one rule per line, like the C++ switch)
    new_e = np.select(
        [
            inact & rst,                                                # RST from nothing -> RESET
            inact & fin,                                                # spontaneous FIN -> CLOSED
            inact & syn & io & ack,                                     # orig SYN-ACK first
            inact & syn & io,                                           # orig SYN
            inact & syn,                                                # resp SYN-ACK (or SYN)
            inact & ~io & (plen == 0) & (p == SYN_SENT),                # resp ACK before SYN-ACK: ignored
            inact & ack & (p == ESTABLISHED),                           # missed SYN, peer established
            inact,                                                      # midstream -> PARTIAL
            syn_sent & rst,
            syn_sent & fin,
            est & rst,
            est & fin,
            est & syn & (e == PARTIAL) & (p == INACTIVE) & ~ack,        # SYN after partial
            closed & rst & (p != CLOSED),                               # RST after own FIN
        ],
        [RESET, CLOSED, SYN_ACK_SENT, SYN_SENT, ESTABLISHED, INACTIVE, ESTABLISHED, PARTIAL,
         RESET, CLOSED, RESET, CLOSED, SYN_SENT, RESET],
        default=e,
    ).astype(np.int8)
    # peer: the responder's SYN(-ACK) establishes a SYN_SENT originator; a FIN after the
    # peer's FIN+RST turns the peer back to CLOSED.
    new_p = np.select(
        [
            inact & syn & ~io & (p == SYN_SENT),
            est & fin & ~rst & (p == RESET) & (prev_p == CLOSED),
        ],
        [ESTABLISHED, CLOSED],
        default=p,
    ).astype(np.int8)
    do_close = ((inact | syn_sent | est) & (fin | rst)) | (closed & rst & (p != CLOSED) & ~dc_e)
    attempt = inact & syn & io
    return new_e, new_p, do_close, attempt


def conn_state(os_, rs, orig_size, resp_size, history):
    """Zeek's ``conn_state()`` (base/protocols/conn/main.zeek) over arrays: ordered rules."""
    o_inactive = (os_ == INACTIVE) | (os_ == PARTIAL)
    r_inactive = (rs == INACTIVE) | (rs == PARTIAL)
    o_syn = (os_ == SYN_SENT) | (os_ == SYN_ACK_SENT)
    rstos0 = np.asarray(_matches(history, RSTOS0_PATTERN), dtype=bool)
    rules = [
        ((rs == RESET) & (o_syn | ((os_ == RESET) & (orig_size == 0) & (resp_size == 0))), "REJ"),
        ((rs == RESET) & o_inactive,                     "RSTRH"),
        ((rs == RESET),                                  "RSTR"),
        ((os_ == RESET) & r_inactive & rstos0,           "RSTOS0"),
        ((os_ == RESET) & r_inactive,                    "OTH"),
        ((os_ == RESET),                                 "RSTO"),
        ((os_ == CLOSED) & (rs == CLOSED),               "SF"),
        ((os_ == CLOSED) & r_inactive,                   "SH"),
        ((os_ == CLOSED),                                "S2"),
        ((rs == CLOSED) & o_inactive,                    "SHR"),
        ((rs == CLOSED),                                 "S3"),
        ((os_ == SYN_SENT) & (rs == INACTIVE),           "S0"),
        ((os_ == ESTABLISHED) & (rs == ESTABLISHED),     "S1"),
    ]
    return np.select([c for c, _ in rules], [v for _, v in rules], default="OTH")


def _matches(history, pattern: str):
    import pandas as pd

    return pd.Series(history, dtype=object).str.fullmatch(pattern).fillna(False).to_numpy(bool)
