"""Per-conversation packet summary and probe typing (nmap/masscan wire shapes) for captures.

A conversation is every packet between two (address, port) endpoints. ``merge_conversations``
gives the result of a whole event table from those of its partitions by 4-tuple
(``reconstruct.partition``). ``ConversationState`` gives it from chunks of any kind (a
4-tuple's packets spread over many), in memory that grows with the 4-tuples, not the packets:
the state of each chunk, merged in any order, finishes into the conversations of the whole
(and its FIN/RST segments); ``conversations`` itself is the finished state of one chunk.

The parts: the table columns and shared array helpers (``conversation_columns``), the rule
tables that type a conversation (``conversation_rules``), the mergeable state
(``conversation_state``) and the merge of partitions' results (``conversation_merge``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.reconstruct.conversation_columns import (
    _empty,
    _empty_packets,
    _ints,
)
from tcpforensics.reconstruct.conversation_state import (
    _finished,
    _packet_table,
    _partial,
)


def conversations(events: pd.DataFrame, packets: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """One row per 4-tuple conversation seen in the packets, oriented by its first packet.

    Columns: conv, init_addr, init_port, peer_addr, peer_port, init_code and peer_code (integer
    address codes, equal codes = equal addresses), first_ts, last_ts, first_frame,
    reply_frame, shape, probe, family, outcome, failed, data_seen, answered_sa, answered_rst,
    init_acked, init_rst, init_pkts, peer_pkts, init_syns, completed, ttl. ``failed``: see
    FAILED_RULES. With ``packets=True`` also returns the packets in time order as ts, frame,
    flags, conv (conversation id), fwd (sent by its initiator), src_code and dst_code (the
    address codes of init_code/peer_code).

    Packets are taken in (ts, frame) order; conversations are numbered in the order of their
    first packet, and addresses in the order they first appear (source before destination).
    This is ``ConversationState.of(events).finish()``, with every packet instead of the
    FIN/RST segments.
    """
    if events.empty:
        return (_empty(), _empty_packets()) if packets else _empty()
    ev = events.reset_index(drop=True)
    state, pair_of_row = _partial(ev)
    out, link = _finished(state.pairs)
    if not packets:
        return out
    order = np.lexsort((_ints(ev["frame"]), ev["ts"].to_numpy()))
    return out, _packet_table(link, pair_of_row[order], ev["ts"].to_numpy()[order], _ints(ev["frame"])[order],
                              _ints(ev["flags"])[order])
