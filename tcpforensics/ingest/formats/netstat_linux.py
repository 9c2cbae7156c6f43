"""Linux net-tools ``netstat`` (-a -n -t -u -w -p -e -o -l -W), in any display language.

Columns (docs/schema.md): proto, family, src_addr, src_port, dst_addr, dst_port, state,
raw_state, recv_q, send_q, user and inode (-e), pid and process (-p), timer (-o).

Example::

    Active Internet connections (servers and established)
    Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name
    tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN      812/sshd
    tcp        0     36 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED 1999/sshd: alice
    udp        0      0 127.0.0.53:53           0.0.0.0:*                           640/systemd-resolve

    line 3: tcp ipv4 0.0.0.0:22 -> 0.0.0.0:* (port NA), state LISTEN, pid 812, process sshd
    line 4: tcp ipv4 10.0.0.5:22 -> 10.0.0.9:51234, state ESTABLISHED, send_q 36, pid 1999,
            process "sshd: alice"
    line 5: udp ipv4 127.0.0.53:53 -> 0.0.0.0:*, state NA, pid 640, process systemd-resolve

Every line is classified by the ordered rule table ``LINE_RULES`` (first match wins), over the
whole column at once. Socket rows (``tcp``, ``tcp6``, ``udp``, ``udp6``, ``raw``, ``raw6``) are
split by row shape:

    Proto Recv-Q Send-Q Local-Address Foreign-Address [State] [User Inode] [PID/Program] [Timer]

The first five columns are single tokens. The tail is matched by ``_TAIL``: a timer
``word (x.xx/n/n)`` at the end, ``PID/Program`` (program names may hold spaces and are cut at
20 characters by netstat) or ``-``, a ``User Inode`` pair (``-e``), and what is left in front
is the state (one or two words: cs ``POSLEDNÍ ACK``; empty for most UDP rows). The header is
used to recognise the table, not to cut columns by position: rows overflow their columns (wide
queues, long addresses), translated headers are spaced differently from rows (es), and the
pt_BR catalogue drops ``Inode`` from the ``-e`` header while its rows keep it.

Decisions (see ``LINE_RULES``), the same as the ss ingestor's for the same kernel sockets:
UNIX domain rows (and IPX/AX.25/Bluetooth sections) are skipped with reason ``non-IP socket``;
raw rows (``-w``) are events with proto ``raw``, ``state`` NA and the kernel state number as
printed in ``raw_state`` (``7``); UDP-Lite rows (``udpl``) are skipped with reason ``udplite
socket``. Section titles, headers, the non-root notices (one to three lines, any catalogue,
anywhere in a ``2>&1`` capture), blank lines, ``...`` elisions, separators, comments and
echoed netstat commands are structural. Anything else is skipped as ``unparseable line``.

UDP and raw rows get ``state`` NA (stateless) and keep ``raw_state`` (``ESTABLISHED`` for a
connected UDP socket). ``tcp6``/``udp6``/``raw6`` give family ipv6 whatever the address looks
like (``127.0.0.1:9200`` on a tcp6 row is a v4-mapped socket of an AF_INET6 listener).
Addresses are kept as printed (hostnames, ``10.x.x.x`` masks); ports go through the services
table (``localhost:ipp`` -> 631).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tcpforensics.ingest.base import Lines, Parsed, skipped_frame
from tcpforensics.ingest.parsing import columns as cols
from tcpforensics.ingest.parsing import endpoints, vocab

NAME = "netstat_linux"
KIND = "text"
DESCRIPTION = "Linux net-tools `netstat` (`-tunape -o -l`), English and localized (de, es, fr, pt_BR, cs, ca, sv, ja ...)"
SAVE_WITH = "netstat -tanp > netstat.txt"
FIXTURES = ("linux/netstat-*.txt", "linux/snapshots-*.txt")
ORDER = 20

# --- vocabularies (net-tools 2.10 gettext catalogues: cs de et fr ja pt_BR; es/ca/sv from the
#     reference notes) -----------------------------------------------------------------------

_INTERNET_TITLES = (
    "Active Internet connections",
    "Aktive Internetverbindungen",
    "Aktivní Internetová spojení",
    "Aktiivsed internetiühendused",
    "Connexions Internet actives",
    "稼働中のインターネット接続",
    "Conexões Internet Ativas",
    "Connexions actives d'Internet",
    "Aktiva internetanslutningar",
)
_OTHER_TITLES = (
    "Active UNIX domain sockets",
    "Aktive Sockets in der UNIX-Domäne",
    "Aktivní sokety domény UNIX",
    "Aktiivsed UNIX domeeni soklid",
    "Sockets du domaine UNIX actives",
    "稼働中のUNIXドメインソケット",
    "Domain sockets UNIX ativos",
    "Active IPX sockets",
    "Aktive IPX Sockets",
    "Active AX.25 sockets",
    "Active NET/ROM sockets",
    "Active X.25 sockets",
    "Active Bluetooth connections",
    "Active ROSE sockets",
)
#: Line starts of the non-root notices ("Not all processes could be identified ...", "No info
#: could be read for -p ..."), one entry per printed line.
_NOTICE_PARTS = (
    "(No info could be read for",
    "(Pro „-p“ nelze získat žádné informace",
    "byl superuživatelem)",
    '("-p"の情報を読み込めませんでした',
    '("-p" jaoks ei saanud infot lugeda',
    "(Not all processes could be identified",
    "will not be shown, you would have to be root",
    "(Es konnten nicht alle Prozesse identifiziert",
    "nicht-eigene Proze",
    "nicht-eigene Proce",
    "(Všechny procesy nemohly být identifikovány",
    "pouze o procesech, jichž jste vlastníkem",
    "byste být superuživatelem",
    "(Mõnesid protsesse ei saanud identifitseerida",
    "info lugemiseks peab olema root",
    "(Tous les processus ne peuvent être identifiés",
    "non possédés ne seront pas affichées",
    "(一部のプロセスが識別されますが",
    "表示されません。それら全てを見るには",
    "(Nem todos os processos puderam ser identificados",
    "de outrem não serão mostrados",
)
#: Title suffixes of -l / -a / neither, per catalogue (BSD prints "(including servers)").
_TITLE_SUFFIXES = (
    "(servers and established)", "(only servers)", "(w/o servers)",
    "(Server und stehende Verbindungen)", "(Nur Server)", "(ohne Server)",
    "(serveurs et établies)", "(seulement serveurs)", "(sans serveurs)",
    "(servery a navázaná spojení)", "(pouze servery)", "(w/o servery)",
    "(serverid ja ühendatud)", "(ainult serverid)", "(ilma serveriteta)",
    "(サーバと確立)", "(サーバのみ)", "(w/oサーバ)",
    "(servidores e estabelecidas)", "(sem os servidores)",
)
#: The "Local Address" header words per catalogue.
_LOCAL_WORDS = (
    "Local Address", "Adresse locale", "Dirección local", "Místní Adresa", "Kohalik aadress",
    "内部アドレス", "Endereço Local", "Adreça local", "Lokal adress",
)
#: Second and third header words (Recv-Q Send-Q) in each catalogue.
_QUEUE_WORDS = (
    r"Recv-Q\s+Send-Q",
    r"Recib\s+Enviad",
    r"Přích-F\s+Odch-F",
    r"VvJrk\s+SaatJrk",
    r"受信-Q\s+送信-Q",
)


def _alt(words: tuple[str, ...]) -> str:
    return "(?:" + "|".join(_escape(w) for w in words) + ")"


def _escape(text: str) -> str:
    # RE2-safe escaping of a literal phrase (re.escape escapes spaces and non-ASCII too).
    return "".join("\\" + c if c in r".^$*+?()[]{}|\/-" else c for c in text)


_ROW = r"^\s*(?:tcp|udp|raw)6?\s+\d{1,18}\s+\d{1,18}\s+\S*:[^\s:.]+\s+\S*:[^\s:.]+(?:\s|$)"

#: Ordered rule table: (kind, accounting label, RE2 pattern over the line). First match wins.
#: kind: "row" (parsed), "skip" (skipped with the label as reason), "structural".
LINE_RULES: tuple[tuple[str, str, str], ...] = (
    ("structural", "blank", r"^\s*$"),
    ("row", "socket row", _ROW),
    ("skip", "non-IP socket", r"^\s*unix\s+\d+\s"),
    ("skip", "udplite socket", r"^\s*udpl6?\s+\d+\s+\d+\s"),
    ("skip", "non-IP socket", r"^\s*(?:ipx|ax25|netrom|x25|rose|l2cap|rfcomm|sco)\s"),
    ("structural", "notice", r"^\s*" + _alt(_NOTICE_PARTS)),
    ("structural", "title", r"^\s*" + _alt(_INTERNET_TITLES + _OTHER_TITLES)),
    ("structural", "header", r"^\s*Proto\s+\D*$"),
    # A title in a catalogue we do not have: words, then "(only servers)"-like, no digits.
    ("structural", "title", r"^\s*[^\W\d_][^\d():]*\([^\d()]*\)\s*$"),
    ("structural", "elision", r"^\s*(?:\.{2,}|…)\s*$"),
    ("structural", "separator", r"^\s*[~=*_-]{3,}"),
    # An echoed command: "$ netstat -tan", "prompt># netstat ...", "...; do date; netstat -an".
    ("structural", "command", r"(?:^(?:\S*[$#>%]\s*)?|[;&|]\s*|\bdo\s+)(?:sudo\s+)?netstat(?:\s|$)"),
    ("structural", "comment", r"^\s*#"),
)

# Tail after the foreign address: [state] [user inode] [pid/program | -] [timer].
_TIMER = r"[^\s(]+ \(+[\d.,]+(?:/\d+){1,2}\)"  # "off (0.00/0/0)", cs "timewait (59,93/0/0)"
_TAIL_SIMPLE = r"^(?:(?P<state>[^\s\d/-]\S*)\s*)?(?P<pidprog>\d+/\S*|-)?$"
_TAIL = (
    r"^(?:(?P<state>.*?)\s+)??"
    r"(?:(?P<user>[^\s/]+)\s+(?P<inode>\d{1,18})(?:\s+|$))?"  # user names hold no '/': "1/x 0" is PID/Program
    r"(?P<pidprog>\d+/.*?|-)?"
    r"(?:\s*(?P<timer>" + _TIMER + r"))?$"
)

# Detection: a net-tools row has colon-port endpoints ("a.b.c.d:22", ":::*", "host:ssh");
# BSD prints "a.b.c.d.22" / "*.*" (its tcp6 rows also carry two queues).
_DETECT_ROW = r"^\s*(?:tcp|udp)6?\s+\d+\s+\d+\s+\S*:[^\s:.]+\s+\S*:[^\s:.]+(?:\s|$)"
_DETECT_QUEUE_ROW = r"^\s*(?:tcp|udp)\d*\s+\d+\s+\d+\s"
_DETECT_HEADER = (
    r"^\s*Proto\s+(?:" + "|".join(_QUEUE_WORDS) + r")\s+" + _alt(_LOCAL_WORDS) + r"\s[^()\d]*$"
)
_DETECT_TITLE = r"^\s*" + _alt(_INTERNET_TITLES) + r"\s*" + _alt(_TITLE_SUFFIXES) + r"\s*$"
# ss prints "Netid ... Local Address:Port  Peer Address:Port": rows alike, never net-tools.
_SS_HEADER = r"Address:Port\s+Peer\s+Address:Port|^\s*Netid\s+"
_DETECT_SAMPLE = 5000


def detect(lines: Lines) -> float:
    """High on net-tools output (its header, its tcp/udp rows with two queues and colon ports)."""
    arr = cols.strings_or_empty(lines.text.iloc[: 2 * _DETECT_SAMPLE])
    arr = arr.filter(pc.not_equal(pc.utf8_trim_whitespace(arr), ""))[:_DETECT_SAMPLE]
    if len(arr) == 0:
        return 0.0
    rows = int(cols.matches(arr, _DETECT_ROW).sum())
    queue_rows = int(cols.matches(arr, _DETECT_QUEUE_ROW).sum())
    header = bool(cols.matches(arr, _DETECT_HEADER).any())
    title = bool(cols.matches(arr, _DETECT_TITLE).any())
    if cols.matches(arr, _SS_HEADER).any():
        return 0.1
    consistency = rows / queue_rows if queue_rows else 0.0
    if header:
        return 0.6 + 0.4 * (consistency if queue_rows else 0.5)
    if rows:
        return 0.45 + 0.15 * title + 0.35 * consistency
    return 0.25 if title and not queue_rows else 0.0


def classify(text: pd.Series) -> pd.DataFrame:
    """Vectorized: kind and label of every line by ``LINE_RULES`` (index kept)."""
    rule = cols.first_match(cols.strings_or_empty(text), [pattern for _, _, pattern in LINE_RULES])
    kind = np.array([k for k, _, _ in LINE_RULES] + ["skip"], dtype=object)[rule]  # -1: no rule
    label = np.array([lab for _, lab, _ in LINE_RULES] + ["unparseable line"], dtype=object)[rule]
    return pd.DataFrame({"kind": kind, "label": label}, index=text.index)


def parse(lines: Lines) -> Parsed:
    """Parse every line: socket rows to events; the rest structural or skipped with a reason."""
    text = lines.text
    cls = classify(text)
    structural = Counter(cls.loc[cls["kind"].eq("structural"), "label"].tolist())
    skip = cls["kind"].eq("skip")
    skipped = skipped_frame(
        cls.index[skip].tolist(), cls.loc[skip, "label"].tolist(), text[skip].tolist()
    )
    is_row = cls["kind"].eq("row").to_numpy()
    rows = _rows(text[is_row])
    meta = {"rows_by_proto": rows["proto_raw"].value_counts().to_dict()} if len(rows) else {}
    return Parsed(rows=rows.drop(columns="proto_raw"), skipped=skipped, structural=structural, meta=meta)


def _rows(text: pd.Series) -> pd.DataFrame:
    """Split socket rows (all known to match ``_ROW``) into event columns.

    Columns with few distinct values (the tail after the foreign address, endpoints, ports,
    PID/Program) are parsed once per distinct value and spread back by dictionary codes.
    """
    if text.empty:
        return pd.DataFrame(columns=["line", "proto_raw"])
    arr = pc.utf8_trim_whitespace(cols.strings_or_empty(text))
    parts = pc.ascii_split_whitespace(arr, max_splits=5)
    col = [pc.list_element(parts, i) for i in range(5)]
    has_rest = cols.to_numpy(pc.greater(pc.list_value_length(parts), 5))
    rest_np = np.full(len(text), "", dtype=object)
    if has_rest.any():
        rest_np[has_rest] = cols.to_numpy(pc.list_element(parts.filter(pa.array(has_rest)), 5))
    tail = _tail(pa.array(rest_np, type=pa.large_string()))
    proto_raw = cols.categorical(col[0], empty_as_na=True, str_categories=True)
    is_v6 = cols.to_numpy(pc.ends_with(col[0], "6"))
    proto = cols.categorical(pc.replace_substring_regex(col[0], "6$", ""), empty_as_na=True, str_categories=True)
    out = {
        "line": text.index.to_numpy(),
        "proto_raw": proto_raw,
        "proto": proto,
        "family": pd.Categorical.from_codes(is_v6.astype(np.int8), ["ipv4", "ipv6"]),
        "recv_q": cols.to_numpy(pc.cast(col[1], pa.int64())),
        "send_q": cols.to_numpy(pc.cast(col[2], pa.int64())),
    }
    for side, c in (("src", col[3]), ("dst", col[4])):
        out[f"{side}_addr"], out[f"{side}_port"] = _endpoints(c, pd.Series(proto))
    out.update({name: values.array for name, values in tail.items()})
    not_tcp = np.asarray(proto != "tcp", dtype=bool)
    out["state"] = pd.Categorical.from_codes(np.where(not_tcp, -1, out["state"].codes), dtype=vocab.STATE_DTYPE)
    return pd.DataFrame(out)


def _tail(rest: pa.Array) -> dict[str, pd.Series]:
    """Parse the text after the foreign address (see module docstring), once per distinct text.

    Two RE2 passes: ``_TAIL_SIMPLE`` for the common shapes (state, PID/Program without a
    space), ``_TAIL`` for the rest (``-e`` user and inode, ``-o`` timers, spaces in names).
    """
    d = pc.dictionary_encode(rest)
    uniq = d.dictionary
    idx = cols.to_numpy(d.indices)
    names = ("state", "user", "inode", "pidprog", "timer")
    part = {n: np.full(len(uniq), "", dtype=object) for n in names}
    simple = pc.extract_regex(uniq, _TAIL_SIMPLE)
    ok = cols.to_numpy(pc.is_valid(simple))
    for n in ("state", "pidprog"):
        part[n][ok] = cols.to_numpy(pc.struct_field(simple, n).filter(pa.array(ok)))
    hard = np.flatnonzero(~ok)
    if len(hard):
        m = pc.extract_regex(uniq.take(pa.array(hard)), _TAIL)
        valid = cols.to_numpy(pc.is_valid(m))
        for n in names:
            part[n][hard[valid]] = cols.to_numpy(pc.fill_null(pc.struct_field(m, n), ""))[valid]
        # _TAIL matches every text (all groups optional; state takes the rest): defensive.
        part["state"][hard[~valid]] = cols.to_numpy(uniq.take(pa.array(hard[~valid])))
    state_u = cols.to_numpy(pc.utf8_trim_whitespace(pa.array(part["state"], type=pa.large_string())))
    raw_state = _spread_categorical(*_factorize(state_u), idx)
    pidprog = pa.array(part["pidprog"], type=pa.large_string())
    pp = pc.extract_regex(pidprog, r"^(?P<pid>\d{1,10})/(?P<prog>.*?)\s*$")
    return {
        "raw_state": raw_state,
        "state": pd.Series(cols.states(raw_state.array)),
        "user": _spread_categorical(*_factorize(part["user"]), idx),
        "inode": _integers(pa.array(part["inode"], type=pa.large_string()), idx),
        "pid": _integers(pc.struct_field(pp, "pid"), idx),
        "process": _spread_categorical(*_factorize(cols.to_numpy(pc.struct_field(pp, "prog"))), idx),
        "timer": _spread_categorical(*_factorize(part["timer"]), idx),
    }


def _factorize(values: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """Codes and sorted categories of strings ("" and None -> -1), as ``astype("category")``."""
    values = np.asarray(values, dtype=object)
    return pd.factorize(np.where(values == "", None, values), sort=True)


def _spread_categorical(codes: np.ndarray, cats: pd.Index, idx: np.ndarray) -> pd.Series:
    """A categorical of the distinct values' ``codes`` spread over the rows by ``idx``."""
    return pd.Series(pd.Categorical.from_codes(codes[idx], categories=pd.Index(np.asarray(cats, dtype=object))))


def _integers(digits: pa.Array, idx: np.ndarray) -> pd.Series:
    """Digit strings of the distinct values ("" or null: NA) as Int64, spread over the rows."""
    return pd.Series(cols.integers(digits).array.take(idx))


def _endpoints(tokens: pa.Array, proto: pd.Series) -> tuple[pd.Categorical, pd.api.extensions.ExtensionArray]:
    """(address, port) of printed endpoints ``addr:port``, split once per distinct endpoint.

    Every token has a colon (``_ROW`` requires ``:port``): the port is the text after the last
    colon and brackets around the address are dropped, as ``endpoints.split(style="colon")``
    does (tests check they agree); here it is a plain split, which RE2 regexes are slow at.
    Ports through ``endpoints.ports`` semantics: numbers, service names per tcp/udp, ``*`` NA.
    """
    d = pc.dictionary_encode(tokens)
    idx = cols.to_numpy(d.indices)
    halves = pc.split_pattern(d.dictionary, ":", max_splits=1, reverse=True)
    addr_u = pc.list_element(halves, 0)
    bracketed = pc.and_(pc.starts_with(addr_u, "["), pc.ends_with(addr_u, "]"))
    addr_u = pc.if_else(bracketed, pc.utf8_slice_codeunits(addr_u, 1, -1), addr_u)
    addr = cols.categorical(addr_u.take(pa.array(idx)), empty_as_na=True, str_categories=True)
    port_u = pc.list_element(halves, 1)
    numeric_u = cols.to_numpy(pc.match_substring_regex(port_u, r"^\d{1,5}$"))
    num = np.full(len(port_u), np.nan)
    if numeric_u.any():
        num[numeric_u] = cols.to_numpy(pc.cast(port_u.filter(pa.array(numeric_u)), pa.int64()))
    port = num[idx]
    # service names ("ssh", "domain"): tcp and udp may differ, so resolve with the row's proto
    named_u = ~numeric_u & cols.to_numpy(pc.match_substring_regex(port_u, r"^[A-Za-z]"))
    named = named_u[idx]
    if named.any():
        port[named] = endpoints.service_ports(port_u.take(pa.array(idx[named])), pd.Series(proto[named])).to_numpy(
            dtype=float, na_value=np.nan)
    port = np.where((port >= 0) & (port <= 65535), port, np.nan)
    return addr, pd.array(port, dtype="Float64").astype("UInt16")
