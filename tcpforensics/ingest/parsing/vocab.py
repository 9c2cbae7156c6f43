"""State vocabularies of every tool and language, mapped to the canonical RFC 9293 names."""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd

from tcpforensics.schema import STATE_DTYPE

# One table, read top to bottom: (token as printed, canonical state, where it comes from).
# Tokens are matched after `_key` (upper case, accents kept, spaces/hyphens as printed).
STATE_TOKENS: tuple[tuple[str, str, str], ...] = (
    # net-tools netstat (Linux)
    ("ESTABLISHED", "ESTABLISHED", "net-tools, BSD, Windows"),
    ("SYN_SENT", "SYN_SENT", "net-tools, BSD, Windows"),
    ("SYN_RECV", "SYN_RECEIVED", "net-tools"),
    ("FIN_WAIT1", "FIN_WAIT_1", "net-tools"),
    ("FIN_WAIT2", "FIN_WAIT_2", "net-tools"),
    ("TIME_WAIT", "TIME_WAIT", "net-tools, BSD, Windows"),
    ("CLOSE", "CLOSED", "net-tools (TCP_CLOSE)"),
    ("CLOSE_WAIT", "CLOSE_WAIT", "net-tools, BSD, Windows"),
    ("LAST_ACK", "LAST_ACK", "net-tools, BSD, Windows"),
    ("LISTEN", "LISTEN", "net-tools, ss, BSD"),
    ("CLOSING", "CLOSING", "net-tools, ss, BSD, Windows"),
    # ss (iproute2)
    ("ESTAB", "ESTABLISHED", "ss"),
    ("SYN-SENT", "SYN_SENT", "ss"),
    ("SYN-RECV", "SYN_RECEIVED", "ss"),
    ("FIN-WAIT-1", "FIN_WAIT_1", "ss"),
    ("FIN-WAIT-2", "FIN_WAIT_2", "ss"),
    ("TIME-WAIT", "TIME_WAIT", "ss"),
    ("UNCONN", "CLOSED", "ss (TCP_CLOSE; UDP sockets show it too)"),
    ("CLOSE-WAIT", "CLOSE_WAIT", "ss"),
    ("LAST-ACK", "LAST_ACK", "ss"),
    ("UNKNOWN", "UNKNOWN", "ss"),
    # BSD / macOS
    ("CLOSED", "CLOSED", "BSD, Windows"),
    ("SYN_RCVD", "SYN_RECEIVED", "BSD"),
    ("FIN_WAIT_1", "FIN_WAIT_1", "BSD, Windows"),
    ("FIN_WAIT_2", "FIN_WAIT_2", "BSD, Windows"),
    # Windows (English)
    ("LISTENING", "LISTEN", "Windows"),
    ("SYN_RECEIVED", "SYN_RECEIVED", "Windows"),
    ("BOUND", "BOUND", "Windows netstat -q"),
    ("SYN_SEND", "SYN_SENT", "Windows doc spelling"),
    ("TIMED_WAIT", "TIME_WAIT", "Windows doc spelling"),
    ("DELETE_TCB", "CLOSED", "Windows MIB_TCP_STATE"),
    # Windows German (real: XP/7, and Win10/11 reports); cp850 mojibake of ABHÖREN included
    ("ABHÖREN", "LISTEN", "Windows de"),
    ("ABH™REN", "LISTEN", "Windows de, cp850 byte read as cp1252"),
    ("ABH?REN", "LISTEN", "Windows de, lossy conversion"),
    ("ABHREN", "LISTEN", "Windows de, byte dropped"),
    ("ABHÃ–REN", "LISTEN", "Windows de, UTF-8 read as cp1252"),
    ("HERGESTELLT", "ESTABLISHED", "Windows de"),
    ("WARTEND", "TIME_WAIT", "Windows de"),
    ("SCHLIESSEN_WARTEN", "CLOSE_WAIT", "Windows de"),
    ("FIN_WARTEN_1", "FIN_WAIT_1", "Windows de (Checkmk map)"),
    ("FIN_WARTEN_2", "FIN_WAIT_2", "Windows de"),
    ("SYN_GESENDET", "SYN_SENT", "Windows de (Checkmk map)"),
    ("SYN_EMPFANGEN", "SYN_RECEIVED", "Windows de (Checkmk map)"),
    ("SCHLIESSEND", "CLOSING", "Windows de (Checkmk agent)"),
    ("LETZTE_BESTÄTIGUNG", "LAST_ACK", "Windows de (unconfirmed)"),
    ("GESCHLOSSEN", "CLOSED", "Windows de (unconfirmed)"),
    # Windows other languages (unconfirmed: synthetic tests in other tools; harmless to know)
    ("ÉCOUTE", "LISTEN", "Windows fr (unconfirmed)"),
    ("À L'ÉCOUTE", "LISTEN", "Windows fr (unconfirmed)"),
    ("ETABLI", "ESTABLISHED", "Windows fr (unconfirmed)"),
    ("ÉTABLI", "ESTABLISHED", "Windows fr (unconfirmed)"),
    ("ESCUCHANDO", "LISTEN", "Windows es (unconfirmed)"),
    ("ESTABLECIDO", "ESTABLISHED", "Windows es (unconfirmed); net-tools es (real)"),
    ("ESCUTANDO", "LISTEN", "Windows pt-BR (unconfirmed)"),
    ("ESTABELECIDA", "ESTABLISHED", "Windows pt-BR (unconfirmed); net-tools pt_BR po"),
    ("IN ASCOLTO", "LISTEN", "Windows it (unconfirmed)"),
    ("ASCOLTO", "LISTEN", "Windows it (unconfirmed)"),
    ("STABILITO", "ESTABLISHED", "Windows it (unconfirmed)"),
    ("IN ATTESA", "TIME_WAIT", "Windows it (unconfirmed)"),
    ("ПРОСЛУШИВАНИЕ", "LISTEN", "Windows ru (unconfirmed)"),
    ("УСТАНОВЛЕНО", "ESTABLISHED", "Windows ru (unconfirmed)"),
    # net-tools localized catalogues (gettext)
    ("VERBUNDEN", "ESTABLISHED", "net-tools de"),
    ("ESCUCHAR", "LISTEN", "net-tools es (Debian)"),
    ("SYN_ENVIADO", "SYN_SENT", "net-tools pt_BR po"),
    ("SYN_RECEBIDO", "SYN_RECEIVED", "net-tools pt_BR po"),
    ("ESPERA_FIN1", "FIN_WAIT_1", "net-tools pt_BR po"),
    ("ESPERA_FIN2", "FIN_WAIT_2", "net-tools pt_BR po"),
    ("FECHAR", "CLOSED", "net-tools pt_BR po"),
    ("ESPERANDO_FECHAR", "CLOSE_WAIT", "net-tools pt_BR po"),
    ("ÚLTIMO_ACK", "LAST_ACK", "net-tools pt_BR po"),
    ("OUÇA", "LISTEN", "net-tools pt_BR po"),
    ("FECHANDO", "CLOSING", "net-tools pt_BR po"),
    ("SPOJENO", "ESTABLISHED", "net-tools cs po"),
    ("NASLOUCHÁ", "LISTEN", "net-tools cs po"),
    ("ZAVŘEN", "CLOSED", "net-tools cs po"),
    ("POSLEDNÍ ACK", "LAST_ACK", "net-tools cs po (two words)"),
    ("ZAVÍRÁ", "CLOSING", "net-tools cs po"),
    ("ESTABLERT", "ESTABLISHED", "net-tools ca po"),
    ("SYNSENT", "SYN_SENT", "net-tools ca po"),
    ("SYNRECV", "SYN_RECEIVED", "net-tools ca po"),
    ("FINWAIT1", "FIN_WAIT_1", "net-tools ca po"),
    ("FINWAIT2", "FIN_WAIT_2", "net-tools ca po"),
    ("TEMPS", "TIME_WAIT", "net-tools ca po"),
    ("TANCA", "CLOSED", "net-tools ca po"),
    ("CLOSEWAIT", "CLOSE_WAIT", "net-tools ca po"),
    ("LASTACK", "LAST_ACK", "net-tools ca po"),
    ("ESCOLTA", "LISTEN", "net-tools ca po"),
    ("TANCAMENT", "CLOSING", "net-tools ca po"),
    ("ETABLERAD", "ESTABLISHED", "net-tools sv po"),
    ("STÄNG", "CLOSED", "net-tools sv po"),
    ("STÄNG_VÄNTA", "CLOSE_WAIT", "net-tools sv po"),
    ("LYSSNAR", "LISTEN", "net-tools sv po"),
    ("STÄNGER", "CLOSING", "net-tools sv po"),
    # net-tools "UNKNOWN" state (unknown kernel state number), net-tools 2.10 catalogues
    ("NEZNÁM", "UNKNOWN", "net-tools cs po"),
    ("UNBEKANNT", "UNKNOWN", "net-tools de po"),
    ("TUNDMATU", "UNKNOWN", "net-tools et po"),
    ("INCONNU", "UNKNOWN", "net-tools fr po"),
    ("不明", "UNKNOWN", "net-tools ja po"),
    ("DESCONHECIDA", "UNKNOWN", "net-tools pt_BR po"),
)

#: /proc/net/tcp ``st`` hex codes (include/net/tcp_states.h).
PROC_STATES: dict[int, str] = {
    0x01: "ESTABLISHED",
    0x02: "SYN_SENT",
    0x03: "SYN_RECEIVED",
    0x04: "FIN_WAIT_1",
    0x05: "FIN_WAIT_2",
    0x06: "TIME_WAIT",
    0x07: "CLOSED",
    0x08: "CLOSE_WAIT",
    0x09: "LAST_ACK",
    0x0A: "LISTEN",
    0x0B: "CLOSING",
    0x0C: "SYN_RECEIVED",  # TCP_NEW_SYN_RECV (request sock)
}


def _key(token: str) -> str:
    return unicodedata.normalize("NFC", token.strip()).upper()


#: Lookup by normalized token.
STATE_MAP: dict[str, str] = {_key(tok): canon for tok, canon, _ in STATE_TOKENS}

#: State tokens that contain a space (parsers must join two words before splitting columns).
MULTIWORD_STATES: tuple[str, ...] = tuple(tok for tok, _, _ in STATE_TOKENS if " " in tok)


def canonical(token: str | None) -> str | None:
    """Canonical state for one printed token (None when unknown or empty)."""
    if token is None:
        return None
    return STATE_MAP.get(_key(token))


def normalize(raw: pd.Series) -> pd.Series:
    """Vectorized: printed state tokens -> canonical state categorical (NA when empty).

    Unknown non-empty tokens map to UNKNOWN (the token stays in ``raw_state``).
    """
    codes, uniq = pd.factorize(raw.astype(object), use_na_sentinel=True)
    canon = canonical_codes(list(uniq))
    out = np.where(codes >= 0, canon[np.clip(codes, 0, None)] if len(canon) else -1, -1)
    return pd.Series(pd.Categorical.from_codes(out, dtype=STATE_DTYPE), index=raw.index)


_STATE_CODE = {name: k for k, name in enumerate(STATE_DTYPE.categories)}


def canonical_codes(tokens: list) -> np.ndarray:
    """Codes in ``STATE_DTYPE`` of distinct printed tokens: the canonical state, UNKNOWN for
    an unknown non-empty token, -1 (NA) for an empty one. One dictionary look-up per token."""
    def code(t: object) -> int:
        canon = STATE_MAP.get(_key(str(t))) or ("UNKNOWN" if str(t).strip() else None)
        return _STATE_CODE[canon] if canon else -1

    return np.array([code(t) for t in tokens], dtype=np.int64)


def is_state(tokens: pd.Series) -> np.ndarray:
    """Vectorized: which tokens are a known state word in any vocabulary."""
    keys = tokens.astype(str).str.strip().str.upper()
    return keys.isin(set(STATE_MAP)).to_numpy()

# --- netstat titles, headers and notices in every display language ----------------------
# (phrase as printed, language, role, source). Roles: "title" (section title line),
# "header" (column header words), "no-owner" (netstat -b "Can not obtain ownership
# information"). Used by the Windows/BSD parsers to recognise structural lines and by
# ``textio`` to tell code pages apart (a phrase that decodes right is evidence for the page).
NETSTAT_PHRASES: tuple[tuple[str, str, str, str], ...] = (
    ("Active Connections", "en", "title", "Windows"),
    ("Active Internet connections", "en", "title", "BSD/macOS, net-tools"),
    ("Proto", "en", "header", "Windows, BSD, net-tools"),
    ("Local Address", "en", "header", "Windows, BSD, net-tools"),
    ("Foreign Address", "en", "header", "Windows, BSD, net-tools"),
    ("Can not obtain ownership information", "en", "no-owner", "Windows -b"),
    ("Aktive Verbindungen", "de", "title", "Windows de"),
    ("Lokale Adresse", "de", "header", "Windows de"),
    ("Remoteadresse", "de", "header", "Windows de"),
    ("Aktive Internetverbindungen", "de", "title", "net-tools de"),
    ("Connexions actives", "fr", "title", "Windows fr"),
    ("Adresse locale", "fr", "header", "Windows fr, net-tools fr"),
    ("Adresse distante", "fr", "header", "Windows fr, net-tools fr"),
    ("État", "fr", "header", "Windows fr"),
    ("Impossible d’obtenir les informations de propriétaire", "fr", "no-owner", "Windows fr -b"),
    ("Impossible d'obtenir les informations de propriétaire", "fr", "no-owner", "Windows fr -b, ASCII apostrophe"),
    ("Conexiones activas", "es", "title", "Windows es"),
    ("Dirección local", "es", "header", "Windows es"),
    ("Dirección remota", "es", "header", "Windows es"),
    ("No se puede obtener información de propiedad", "es", "no-owner", "Windows es -b"),
    ("Conexões ativas", "pt-BR", "title", "Windows pt-BR"),
    ("Endereço local", "pt-BR", "header", "Windows pt-BR"),
    ("Endereço externo", "pt-BR", "header", "Windows pt-BR"),
    ("Connessioni attive", "it", "title", "Windows it"),
    ("Indirizzo locale", "it", "header", "Windows it"),
    ("Indirizzo esterno", "it", "header", "Windows it"),
    ("Активные подключения", "ru", "title", "Windows ru"),
    ("Имя", "ru", "header", "Windows ru (first column, not Proto)"),
    ("Локальный адрес", "ru", "header", "Windows ru"),
    ("Внешний адрес", "ru", "header", "Windows ru"),
    ("Состояние", "ru", "header", "Windows ru"),
    ("活动连接", "zh-CN", "title", "Windows zh-CN"),
    ("协议", "zh-CN", "header", "Windows zh-CN"),
    ("本地地址", "zh-CN", "header", "Windows zh-CN"),
    ("外部地址", "zh-CN", "header", "Windows zh-CN"),
    ("状态", "zh-CN", "header", "Windows zh-CN"),
    ("アクティブな接続", "ja", "title", "Windows ja"),
    ("プロトコル", "ja", "header", "Windows ja"),
    ("ローカル アドレス", "ja", "header", "Windows ja"),
    ("外部アドレス", "ja", "header", "Windows ja"),
    ("状態", "ja", "header", "Windows ja"),
)

#: First header column of Windows netstat in every known language ("Имя" in Russian).
WINDOWS_FIRST_COLUMN: tuple[str, ...] = ("Proto", "Имя", "协议", "プロトコル")
