"""Regenerate the tables of rules in the documentation from the rule tables in the code.

Run: python docs/gen_rules.py [--check]

Each table sits between ``<!-- rules table NAME: generated ... -->`` and
``<!-- end of rules table NAME -->`` in its page and is written from the rows of one rule table
(label, condition, explanation; first match wins where the table says so). A test checks that
the pages are current, so a rule cannot change without its documentation.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # (docs/generated.py, when run or loaded by path)
import generated  # noqa: E402

from tcpforensics.detect import (
    closes,
    conntrack_view,
    floods,
    flowjoin,
    scans,
    socket_checks,
    socket_conntrack,
    socket_counters,
    socket_piles,
    sockets,
)
from tcpforensics.reconstruct import endpoint_states, flowlog_rules
from tcpforensics.reconstruct import sockets as socket_timelines
from tcpforensics.reconstruct.rules import markdown_table

DOCS = Path(__file__).resolve().parent
COMMAND = "python docs/gen_rules.py"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def socket_rules() -> str:
    """The socket rule table: category, what it counts, its subject, notes."""
    rows = ["| category | figure | subject | notes |", "|---|---|---|---|"]
    rows += [f"| {r.category} | {_cell(r.figure)} | {_cell(r.subject)} | {_cell(r.notes)} |" for r in sockets.RULES]
    return "\n".join(rows)


def patterns(table: tuple[socket_piles.Pattern, ...]) -> str:
    """A pile's patterns: label and the explanation the finding gets (``{field}``: a value of the finding)."""
    rows = ["| pattern | explanation added to the finding |", "|---|---|"]
    rows += [f"| {p.label} | {_cell(p.why)} |" for p in table]
    return "\n".join(rows)


def close_kinds() -> str:
    """The socket close-kind rules: the condition's columns, the label and why."""
    rows = ["| last state | present at end | local role | close kind | why |", "|---|---|---|---|---|"]
    for r in socket_timelines.CLOSE_KIND_RULES:
        w = r.when
        present = "any" if w.present is None else ("yes" if w.present else "no")
        rows.append(f"| {w.state} | {present} | {w.role or 'any'} | {r.label or '-'} | {_cell(r.why)} |")
    return "\n".join(rows)


def close_kinds_reported() -> str:
    """The abnormal close kinds: whose doing each is, what it means, the next step."""
    rows = ["| close kind | whose doing | meaning | next step |", "|---|---|---|---|"]
    role = {"orig": "originator (client)", "resp": "responder (server)"}
    rows += [f"| {kind} | {role[k.role]} | {_cell(k.meaning)} | {_cell(k.next_step)} |"
             for kind, k in closes.CLOSE_KINDS.items()]
    return "\n".join(rows)


#: (page, table name) -> how the table is written.
TABLES: dict[tuple[str, str], Callable[[], str]] = {
    ("flows.md", "close"): lambda: markdown_table(endpoint_states.CLOSE_RULES, ("close", "rule")),
    ("flows.md", "suricata"): lambda: markdown_table(endpoint_states.SURICATA_RULES, ("tcp.state", "when")),
    ("flows.md", "suricata finals"): lambda: markdown_table(flowlog_rules.SURICATA_FINALS, ("resp_final", "when")),
    ("flows.md", "flag letters"): lambda: markdown_table(flowlog_rules.FLAG_LETTERS, ("letters (orig/resp)", "when")),
    ("flows.md", "log conn_state"): lambda: markdown_table(flowlog_rules.CONN_STATE_RULES, ("conn_state", "when")),
    ("flows.md", "log endpoints"): lambda: markdown_table(flowlog_rules.ENDPOINT_RULES, ("paths (finals)", "when")),
    ("states.md", "close kind"): close_kinds,
    ("states.md", "local role"): lambda: markdown_table(socket_timelines.LOCAL_ROLE_RULES, ("local role", "when")),
    ("detection-sockets.md", "socket rules"): socket_rules,
    ("detection-sockets.md", "syn_flood patterns"): lambda: patterns(socket_piles.SYN_FLOOD_PATTERNS),
    ("detection-sockets.md", "syn_sent patterns"): lambda: patterns(socket_piles.SYN_SENT_PATTERNS),
    ("detection-sockets.md", "close_wait ages"): lambda: patterns(socket_piles.CLOSE_WAIT_AGE_PATTERNS),
    ("detection-sockets.md", "conntrack patterns"): lambda: patterns(socket_conntrack.CONNTRACK_PATTERNS),
    ("detection-sockets.md", "conntrack view"):
        lambda: markdown_table(conntrack_view.CONNTRACK_VIEW, ("socket of", "when")),
    ("detection-sockets.md", "listener severity"):
        lambda: markdown_table(socket_checks.LISTENER_SEVERITY, ("severity", "when")),
    ("detection-sockets.md", "counter severity"):
        lambda: markdown_table(socket_counters.COUNTER_SEVERITY, ("severity", "when")),
    ("detection-sockets.md", "retransmission severity"):
        lambda: markdown_table(socket_counters.RETRANS_SEVERITY, ("severity", "when")),
    ("detection-captures.md", "flow failed"): lambda: markdown_table(flowjoin.FLOW_FAILED_RULES, ("failed", "when")),
    ("detection-captures.md", "scan mode"):
        lambda: markdown_table(scans.mode_rules(scans.DEFAULTS), ("rule", "when, and the finding(s)")),
    ("detection-captures.md", "scan severity"): lambda: markdown_table(scans.SCAN_SEVERITY, ("severity", "when")),
    ("detection-captures.md", "syn_flood rule"): lambda: markdown_table(floods.FLOOD_RULES, ("rule", "when")),
    ("detection-captures.md", "spoofing likelihood"):
        lambda: markdown_table(floods.SPOOF_RULES, ("spoofing_likelihood", "when")),
    ("detection-captures.md", "syn_flood severity"):
        lambda: markdown_table(floods.SYN_FLOOD_SEVERITY, ("severity", "when")),
    ("detection-captures.md", "synack_reflection severity"):
        lambda: markdown_table(floods.REFLECTION_SEVERITY, ("severity", "when")),
    ("detection-captures.md", "abnormal close kinds"): close_kinds_reported,
    ("detection-captures.md", "close severity"): lambda: markdown_table(closes.SEVERITY_RULES, ("severity", "when")),
}


def markers(name: str) -> tuple[str, str]:
    return (f"<!-- rules table {name}: generated by {COMMAND}, do not edit -->",
            f"<!-- end of rules table {name} -->")


def with_table(text: str, name: str, table: str, where: Path) -> str:
    """``text`` with the block of table ``name`` replaced by ``table``."""
    return generated.with_block(text, *markers(name), table, where)


def rendered() -> dict[Path, str]:
    """Every page this script writes, with the content it must have."""
    out: dict[Path, str] = {}
    for (page, name), make in TABLES.items():
        path = DOCS / page
        text = out.get(path) or path.read_text(encoding="utf-8")
        out[path] = with_table(text, name, make(), path)
    return out


def main() -> int:
    return generated.write_or_check(rendered(), COMMAND)


if __name__ == "__main__":
    raise SystemExit(main())
