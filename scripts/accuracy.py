"""Generate docs/accuracy.md: how tcpforensics agrees with jc, hand counts, Zeek and labels on ../shared/corpus.

Usage: python scripts/accuracy.py [--corpus DIR] [--output FILE] [--sections jc,wild,zeek,labels] [--limit N]

The comparisons are the ones the tests assert (tests/ingest/jc_compare.py, the hand counts of
text/wild/expected_counts.tsv, tests/reconstruct/test_flows_zeek.py, the label rules of
tests/detect/test_captures_corpus.py); this script only counts and tabulates them. The output is
deterministic: same corpus and code, same bytes.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the comparison helpers of the tests (tests/...)

from tcpforensics import __version__  # noqa: E402
from tcpforensics.errors import InputError  # noqa: E402
from tcpforensics.ingest import ingest  # noqa: E402
from tcpforensics.ingest.formats.ss.rows import INET_NETIDS  # noqa: E402
from tcpforensics.ingest.parsing import endpoints, vocab  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
DEFAULT_OUTPUT = ROOT / "docs" / "accuracy.md"
COMMAND = "python scripts/accuracy.py"
SECTIONS = ("jc", "wild", "zeek", "labels")
KEY = ["proto", "src_addr", "src_port", "dst_addr", "dst_port", "state"]
SCANS = ("port_scan", "address_scan", "block_scan", "distributed_scan")
FLOODS = ("syn_flood", "synack_reflection", "backscatter", "connection_flood", "rst_storm", "fin_storm")


def test_module(rel: str):
    """A test module of the project loaded by path under its own name, its ``from conftest
    import`` bound to tests/conftest.py (under pytest another conftest may hold that name)."""
    import importlib.util

    shared = importlib.import_module("tests.conftest")
    saved = sys.modules.get("conftest")
    sys.modules["conftest"] = shared
    try:
        name = "accuracy_" + Path(rel).stem
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, ROOT / rel)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # dataclasses look their module up while it loads
        spec.loader.exec_module(mod)
        return mod
    finally:
        if saved is None:
            sys.modules.pop("conftest", None)
        else:
            sys.modules["conftest"] = saved


def md_table(header: list[str], rows: list[list[object]]) -> list[str]:
    """A Markdown table (cells with '|' escaped)."""
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return out + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]


def mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.1f}%)" if d else "0/0"


# --- jc --------------------------------------------------------------------------------------


def jc_rows(path: Path) -> tuple[pd.DataFrame, bool]:
    """jc's network rows of one fixture as our key columns (+ pid), and whether jc has pids."""
    rows = json.loads(path.read_text())
    if rows and "netid" in rows[0]:  # ss
        rows = [r for r in rows if r["netid"] in INET_NETIDS]
        df = pd.DataFrame(rows)
        proto = df["netid"].map(INET_NETIDS)
        pids = df["opts"].map(lambda o: next(iter((o or {}).get("process_id") or {}), None)) if "opts" in df else None
        out = pd.DataFrame({
            "proto": proto, "src_addr": df["local_address"].str.strip("[]"),
            "src_port": endpoints.ports(df["local_port"].astype(str), proto),
            "dst_addr": df["peer_address"].str.strip("[]"),
            "dst_port": endpoints.ports(df["peer_port"].astype(str), proto),
            "state": vocab.normalize(df["state"]).astype(object),
        })
        if pids is not None and pids.notna().any():
            out["pid"] = pd.to_numeric(pids, errors="coerce").astype("Int64")
        return out, "pid" in out
    if rows and "remote_address" in rows[0]:  # /proc/net/tcp
        df = pd.DataFrame(rows)
        return pd.DataFrame({
            "proto": "tcp", "src_addr": df["local_address"], "src_port": df["local_port"],
            "dst_addr": df["remote_address"], "dst_port": df["remote_port"],
            "state": df["state"].map(lambda s: vocab.PROC_STATES[int(s, 16)]),
        }), False
    if rows and "command" in rows[0] and "name" in rows[0]:  # lsof
        return _jc_lsof(rows), True
    from tests.ingest.jc_compare import jc_frame  # netstat (Linux, BSD, macOS, Windows)

    out = jc_frame(path)
    net = pd.DataFrame([r for r in rows if r.get("kind", "network") == "network"])
    out["proto"] = net["proto"].str.lower().str.extract(r"^(tcp|udp|raw|icm)", expand=False)  # raw too
    return out, "pid" in out and out["pid"].notna().any()


def _jc_lsof(rows: list[dict]) -> pd.DataFrame:
    """jc's lsof rows of network files (TYPE IPv4/IPv6) as our key columns. jc reads NODE as an
    integer and gives None for TCP/UDP: the protocol is told by NAME, where lsof prints a state
    for TCP sockets only."""
    df = pd.DataFrame([r for r in rows if r.get("type") in ("IPv4", "IPv6")], columns=["name", "pid"])
    name = df["name"].str.extract(r"^(?P<l>[^ >]+?)(?:->(?P<r>\S+))?(?: \((?P<s>[A-Za-z0-9_]+)\))?\s*$")
    proto = pd.Series(["tcp" if pd.notna(s) else "udp" for s in name["s"]], index=df.index)

    def endpoint(text: pd.Series) -> tuple[pd.Series, pd.Series]:
        e = text.str.extract(r"^(?:\[(?P<b>[^\]]*)\]|(?P<a>[^\[\]]*?))(?::(?P<p>[^:\]]*))?$")
        return e["b"].fillna(e["a"]), e["p"]

    la, lp = endpoint(name["l"])
    ra, rp = endpoint(name["r"].fillna(""))
    return pd.DataFrame({
        "proto": proto, "src_addr": la, "src_port": endpoints.ports(lp.fillna(""), proto),
        "dst_addr": ra.replace("", None), "dst_port": endpoints.ports(rp.fillna(""), proto),
        "state": vocab.normalize(name["s"]).astype(object),
        "pid": pd.to_numeric(df["pid"], errors="coerce").astype("Int64"),
    })


def _lost(k: list[str]) -> bool:
    return k[1] == "-" and k[3] == "-"


#: Why a row is on one side only: (side, test on the row's key fields and the other side's
#: unmatched keys, reason), first match wins.
DIFF_RULES: tuple[tuple[str, Callable[[list[str], list[list[str]]], bool], str], ...] = (
    ("jc", lambda k, other: k[0] == "icm", "jc lists ICMP sockets among network rows; we skip them as "
     "'non-TCP/UDP protocol' (counted in the input accounting)"),
    ("jc", lambda k, other: _lost(k), "jc lost the row's endpoints (netstat -T leaves the UDP columns blank and jc "
     "splits on whitespace: a jc bug, asserted in tests/ingest/test_netstat_bsd.py)"),
    ("ours", lambda k, other: any(_lost(o) and o[0] == k[0] for o in other),
     "the same rows read in full by us (jc lost their endpoints)"),
    ("ours", lambda k, other: k[1] == "-" or k[3] == "-", "an endpoint we could not read"),
)


def differences(ours_only: pd.Series, jc_only: pd.Series) -> str:
    """The unmatched rows of one fixture, counted by the first DIFF_RULES reason that fits."""
    reasons: dict[str, int] = {}
    split = {"ours": [str(k).split("|") for k in ours_only.index], "jc": [str(k).split("|") for k in jc_only.index]}
    for side, counts in (("ours", ours_only), ("jc", jc_only)):
        other = split["jc" if side == "ours" else "ours"]
        for key, n in counts.items():
            k = str(key).split("|")
            why = next((r for s, test, r in DIFF_RULES if s == side and test(k, other)), f"row only in {side}: `{key}`")
            reasons[why] = reasons.get(why, 0) + int(n)
    return "; ".join(f"{n} x {why}" for why, n in reasons.items())


def keys(df: pd.DataFrame, with_pid: bool) -> pd.Series:
    """One text key per row: addresses, ports, state (TCP only: other protocols have none), pid."""
    cols = KEY + (["pid"] if with_pid else [])
    d = df.reindex(columns=cols).astype(object)
    d.loc[d["proto"].astype(str) != "tcp", "state"] = None
    d = d.where(d.notna(), "-")
    return d.astype(str).agg("|".join, axis=1)


def jc_section(corpus: Path, limit: int | None) -> tuple[list[str], str]:
    base = corpus / "text" / "jc"
    fixtures = sorted(base.rglob("*.json"))[:limit]
    rows, tot = [], [0, 0, 0]
    for js in fixtures:
        src = js.with_suffix(".out") if js.with_suffix(".out").is_file() else js.with_suffix("")
        rel = src.relative_to(base).as_posix()
        try:
            got = ingest(str(src), progress=False)
        except InputError as e:
            rows.append([rel, "-", len(json.loads(js.read_text())), "-", "-", f"not read: {e.reason}"])
            continue
        if got.format == "counters":
            rows.append([rel, "-", "-", "-", "counters", "kernel counters, not a socket table (tests/ingest/test_counters.py)"])
            continue
        theirs, with_pid = jc_rows(js)
        mine = got.events
        with_pid = with_pid and mine["pid"].notna().any()
        a, b = keys(mine, with_pid).value_counts(), keys(theirs, with_pid).value_counts()
        both = pd.concat([a.rename("ours"), b.rename("jc")], axis=1).fillna(0).astype("int64")
        common = both.min(axis=1)
        matched = int(common.sum())
        diff = differences((both["ours"] - common)[lambda x: x > 0].sort_index(),
                           (both["jc"] - common)[lambda x: x > 0].sort_index())
        rows.append([rel, len(mine), len(theirs), matched,
                     f"{got.format}; " + ("addresses, ports, state, pid" if with_pid else "addresses, ports, state"),
                     diff or "-"])
        tot = [tot[0] + len(mine), tot[1] + len(theirs), tot[2] + matched]
    head = ("jc (kellyjonbrazil/jc test fixtures): each fixture's network rows, ours against jc's JSON. "
            "A row matches when protocol, both addresses and ports, the state (TCP rows; normalized) and, "
            "where both sides show one, the pid are equal; rows are matched as multisets. jc keeps service "
            "names ('ssh') and brackets ('[::]'): both are resolved/removed on jc's side first. Rows jc "
            "returns for UNIX sockets are skipped lines on ours and left out of both counts; of lsof's "
            "files, only the network ones (TYPE IPv4/IPv6) are compared.")
    body = md_table(["fixture", "rows (ours)", "rows (jc)", "rows matching", "format; compared on", "differences"], rows)
    summary = f"jc: {pct(tot[2], tot[1])} of jc's rows matched ({tot[0]} rows ours)"
    return [head, "", *body], summary


# --- wild hand counts ----------------------------------------------------------------------------


def wild_section(corpus: Path, limit: int | None) -> tuple[list[str], str]:
    base = corpus / "text" / "wild"
    exp = pd.read_csv(base / "expected_counts.tsv", sep="\t", dtype=str, keep_default_na=False)
    exp = exp.sort_values("file").head(limit) if limit else exp.sort_values("file")
    rows, ok_all = [], 0
    for r in exp.itertuples(index=False):
        want_states = {vocab.canonical(k) or k: int(v) for k, v in json.loads(r.tcp_states_normalized).items()}
        try:
            ev = ingest(str(base / r.file), progress=False).events
        except InputError as e:
            rows.append([r.file, f"-/{r.tcp_rows}", f"-/{r.udp_rows}", f"not read: {e.reason}", mark(False)])
            continue
        tcp = int((ev["proto"] == "tcp").sum())
        udp = int((ev["proto"] == "udp").sum())
        got_states = {str(k): int(v) for k, v in ev.loc[ev["proto"] == "tcp", "state"].astype(object)
                      .fillna("(none)").value_counts().items()}
        same = got_states == want_states
        diff = "equal" if same else "; ".join(
            f"{s} {got_states.get(s, 0)} vs {want_states.get(s, 0)}"
            for s in sorted(set(got_states) | set(want_states)) if got_states.get(s, 0) != want_states.get(s, 0))
        ok = same and tcp == int(r.tcp_rows) and udp == int(r.udp_rows)
        ok_all += ok
        note = "" if ok or not r.notes else f" (hand-count note: {r.notes})"
        rows.append([r.file, f"{tcp}/{r.tcp_rows}", f"{udp}/{r.udp_rows}", diff + note, mark(ok)])
    head = ("Dumps collected from public web pages (localized netstat, ss, macOS variants, snapshot "
            "loops), against the TCP/UDP row and state counts read by hand "
            "(`text/wild/expected_counts.tsv`). Counts are shown ours/hand; a state difference reads "
            "`STATE ours vs hand`.")
    body = md_table(["file", "TCP rows", "UDP rows", "TCP states", "all agree"], rows)
    return [head, "", *body], f"hand counts: {pct(ok_all, len(exp))} files agree on TCP rows, UDP rows and states"


# --- Zeek ----------------------------------------------------------------------------------------


def zeek_section(corpus: Path, limit: int | None) -> tuple[list[str], str]:
    try:
        importlib.import_module("tcpforensics.reconstruct.flows")
        zk = test_module("tests/reconstruct/test_flows_zeek.py")
    except ImportError as e:
        return [f"Not available: {e}."], "Zeek: not available"
    zk.ZEEK = corpus / "pcap" / "zeek"
    names = sorted(r["name"] for r in zk._manifest())[:limit]
    rows, t = [], dict(rows=0, matched=0, extra=0, cs=0, cs_n=0, h=0, h_n=0)
    unmatched = []
    for name in names:
        res, _, _ = zk._compare(name)
        for z in res.missing:  # Zeek rows we have no row for, with what Zeek says of them
            inside = z.get("tunnel_parents", "-") not in ("-", None)
            unmatched.append(f"- `{name}`: {z.get('id.orig_h')}:{z.get('id.orig_p')} -> {z.get('id.resp_h')}:"
                             f"{z.get('id.resp_p')} ({z.get('conn_state', '-')} {z.get('history', '')})"
                             + (": a connection inside a tunnel (Zeek's tunnel_parents is set) that the capture "
                                "reader does not decapsulate" if inside else ""))
        rows.append([name, res.rows, res.matched, res.extra,
                     pct(res.cs_agree, res.cs_total) if res.cs_total else "no conn_state column",
                     pct(res.h_agree, res.h_total) if res.h_total else "no history column"])
        for k, v in (("rows", res.rows), ("matched", res.matched), ("extra", res.extra), ("cs", res.cs_agree),
                     ("cs_n", res.cs_total), ("h", res.h_agree), ("h_n", res.h_total)):
            t[k] += v
    head = ("Zeek's recorded conn.log for captures of its own test suite (`pcap/zeek`), against "
            "`tcpforensics.flows` run with each pair's checksum and bare mode (`manifest.tsv`). Rows "
            "match on the 4-tuple plus order of occurrence; Zeek's `X` history letter (application "
            "analyzers) is ignored. 'extra' counts our rows Zeek did not log.")
    body = md_table(["pair", "Zeek rows", "matched", "extra (ours)", "conn_state agrees", "history agrees"], rows)
    notes = [f"- `{pair}`: Zeek `{zh}`, ours `{ours}`: {why}" for (pair, zh), (ours, why) in sorted(zk.KNOWN_HISTORY.items())
             if pair in names]
    if unmatched:
        body += ["", "Zeek rows without a row of ours:", "", *unmatched]
    if notes:
        body += ["", "Known history differences (asserted in tests/reconstruct/test_flows_zeek.py):", "", *notes]
    summary = (f"Zeek: {t['matched']}/{t['rows']} rows matched, conn_state {pct(t['cs'], t['cs_n'])}, "
               f"history {pct(t['h'], t['h_n'])}")
    return [head, "", *body], summary


# --- labels --------------------------------------------------------------------------------------


def labels_section(corpus: Path, limit: int | None) -> tuple[list[str], str]:
    from tcpforensics.pipeline import analyze

    base = corpus / "pcap" / "labeled"
    rules: Callable[[str], dict] = test_module("tests/detect/test_captures_corpus.py").expectation
    with (base / "manifest.tsv").open(encoding="utf-8") as fh:
        manifest = sorted(csv.DictReader(fh, delimiter="\t"), key=lambda r: r["file"])[:limit]
    rows, agree = [], 0
    for r in manifest:
        exp = rules(r["label"])
        findings = analyze(str(base / r["file"]), progress=False).findings
        f = findings[findings["category"].isin(SCANS + FLOODS)]
        counts = f["category"].value_counts().sort_index()
        ours = ", ".join(f"{c} x{n}" if n > 1 else c for c, n in counts.items()) or "none"
        cat = exp.get("category")
        if cat is None:
            ok = f.empty
            want = f"no scan/flood ({exp.get('why', '')})"
        else:
            hit = f[f["category"] == cat]
            if "scanner" in exp:
                hit = hit[hit["subject"] == exp["scanner"]]
            ok = len(hit) > 0
            want = cat + (f" by {exp['scanner']}" if "scanner" in exp else "") + (
                f" on {exp['victim']}" if "victim" in exp else "")
        agree += ok
        rows.append([r["file"], want, ours, mark(ok)])
    head = ("Labeled captures (`pcap/labeled`: nmap scans, ping sweeps, Zeek scan-detector traces, SYN "
            "floods, reflection, backscatter, normal traffic), analysed with `tcpforensics.analyze` and "
            "default thresholds. The expectation comes from each capture's label through the rule table "
            "of tests/detect/test_captures_corpus.py; only scan and flood findings are listed.")
    body = md_table(["capture", "label says", "scan/flood findings (ours)", "agrees"], rows)
    return [head, "", *body], f"labels: {pct(agree, len(manifest))} captures agree with their label"


BUILDERS = {"jc": ("Socket tables against jc", jc_section),
            "wild": ("Wild dumps against hand counts", wild_section),
            "zeek": ("Flows against Zeek", zeek_section),
            "labels": ("Findings against labels", labels_section)}


def generate(corpus: Path, sections: tuple[str, ...] = SECTIONS, limit: int | None = None) -> str:
    """The Markdown page (deterministic for a given corpus and code)."""
    parts, summaries = [], []
    for name in sections:
        title, build = BUILDERS[name]
        body, summary = build(corpus, limit)
        parts += [f"## {title}", "", *body, ""]
        summaries.append(f"- {summary}")
    args = (f" --sections {','.join(sections)}" if sections != SECTIONS else "") + (f" --limit {limit}" if limit else "")
    head = [
        "# Accuracy on the test corpus",
        "",
        f"<!-- GENERATED by `{COMMAND}{args}`: do not edit by hand; re-run it after changing the code. -->",
        "",
        f"Generated by `{COMMAND}{args}` (tcpforensics {__version__}) from `../shared/corpus` "
        "(see its README.md for the sources and licences). Every disagreement is explained in the "
        "tests that assert it or in the notes below each table.",
        "",
        "Summary:",
        "",
        *summaries,
        "",
    ]
    return "\n".join(head + parts).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="'-' for standard output")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    ap.add_argument("--limit", type=int, default=None, help="at most N inputs per section (a quick check)")
    a = ap.parse_args(argv)
    sections = tuple(s.strip() for s in a.sections.split(",") if s.strip())
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    if not a.corpus.is_dir():
        print(f"accuracy: corpus not found at {a.corpus}", file=sys.stderr)
        return 2
    text = generate(a.corpus, sections, a.limit)
    if str(a.output) == "-":
        sys.stdout.write(text)
    else:
        a.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
