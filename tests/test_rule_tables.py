"""Rule tables: one shape (label, condition, explanation; first match wins) and documentation
generated from the rows (docs/gen_rules.py), so a rule cannot change without its docs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcpforensics.detect import closes, floods, flowjoin, scans, socket_piles, sockets
from tcpforensics.reconstruct import endpoint_states
from tcpforensics.reconstruct.rules import Row, always, first_match, markdown_table, which
from tests.conftest import ROOT, load_script


def _gen_rules():
    return load_script(ROOT / "docs" / "gen_rules.py")


def test_rule_tables_in_docs_are_current() -> None:
    stale = [p.name for p, text in _gen_rules().rendered().items() if p.read_text(encoding="utf-8") != text]
    assert stale == [], f"run python docs/gen_rules.py ({', '.join(stale)})"


def test_first_match_takes_rows_with_explanations() -> None:
    rules = (Row("big", lambda f: f["x"] > 10, "x above 10"), ("small", lambda f: f["x"] > 0), Row("none", always))
    frame = pd.DataFrame({"x": [20, 5, 0]})
    assert first_match(frame, rules).tolist() == ["big", "small", "none"]
    assert which(frame, rules).tolist() == [0, 1, 2]
    assert markdown_table([rules[0]], ("size", "when")) == "| size | when |\n|---|---|\n| big | x above 10 |"


def test_every_table_ends_with_a_default_and_explains_every_row() -> None:
    for table in (endpoint_states.CLOSE_RULES, endpoint_states.SURICATA_RULES,
                  socket_piles.SYN_FLOOD_PATTERNS, socket_piles.SYN_SENT_PATTERNS,
                  floods.SPOOF_RULES, floods.SYN_FLOOD_SEVERITY, floods.REFLECTION_SEVERITY,
                  scans.SCAN_SEVERITY, closes.SEVERITY_RULES, flowjoin.FLOW_FAILED_RULES):
        assert table[-1].when is always
        assert all(r.why for r in table)


def test_detection_tables_without_a_default_explain_every_row() -> None:
    """Tables where no row means "not flagged" have no default row, but every row is explained."""
    for table in (floods.FLOOD_RULES, scans.mode_rules(scans.DEFAULTS)):
        assert all(isinstance(r, Row) and r.why for r in table)


def test_flood_and_scan_severities_follow_their_thresholds() -> None:
    frame = pd.DataFrame({"half_open": [1000, 999], "high_half_open": 1000})
    assert first_match(frame, floods.SYN_FLOOD_SEVERITY).tolist() == ["high", "medium"]
    frame = pd.DataFrame({"conversations": [1000, 10], "high_conversations": floods.DEFAULTS["reflection.high_conversations"]})
    assert first_match(frame, floods.REFLECTION_SEVERITY).tolist() == ["high", "medium"]
    frame = pd.DataFrame({"failed_pairs": [250, 30, 30], "high_pairs": 250, "trigger": ["trw", "threshold", "trw"]})
    assert first_match(frame, scans.SCAN_SEVERITY).tolist() == ["high", "medium", "low"]


def test_close_rules_in_order() -> None:
    states = {"orig_final": np.array(["CLOSED", "LAST_ACK", "CLOSED"], dtype=object),
              "resp_final": np.array(["CLOSED", "CLOSED", "SYN_RECEIVED"], dtype=object)}
    got = endpoint_states.close_category(np.array(["SF", "SF", "S0"]), np.array(["ShAdDaFf", "ShADFf", "Sh"]), states)
    assert got.tolist() == ["graceful", "lost_final_ack", "no_answer"]  # S0 comes before half_open


def test_each_socket_category_is_spelled_once() -> None:
    categories = [r.category for r in sockets.RULES]
    assert len(categories) == len(set(categories))
    assert all(r.explanation and r.next_step for r in sockets.RULES)
