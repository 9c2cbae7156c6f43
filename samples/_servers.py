"""Loopback workloads for samples/*/record.sh: listeners and clients with a chosen process name.

Run only on 127.0.0.1 (the record scripts run it inside a private network namespace).
"""

from __future__ import annotations

import argparse
import ctypes
import socket
import threading
import time

HOST = "127.0.0.1"


def set_name(name: str) -> None:
    """Set the process name ss/netstat show (Linux prctl PR_SET_NAME, max 15 bytes)."""
    libc = ctypes.CDLL(None)
    libc.prctl(15, name.encode()[:15], 0, 0, 0)


def listener(port: int, backlog: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, port))
    s.listen(backlog)
    return s


def backlog_server(port: int, backlog: int, seconds: float) -> None:
    """Listen and never accept (the SYN flood target)."""
    s = listener(port, backlog)
    time.sleep(seconds)
    s.close()


def leak_server(port: int, seconds: float) -> None:
    """Accept, read until EOF, and never close the accepted socket (CLOSE_WAIT leak)."""
    s = listener(port, 128)
    held: list[socket.socket] = []

    def drain(c: socket.socket) -> None:
        while c.recv(4096):
            pass
        held.append(c)  # the bug: the socket is kept, never closed

    s.settimeout(0.2)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            c, _ = s.accept()
        except TimeoutError:
            continue
        threading.Thread(target=drain, args=(c,), daemon=True).start()


def echo_close_server(port: int, seconds: float) -> None:
    """Accept, read until EOF, then close (the client closes first and keeps TIME_WAIT)."""
    s = listener(port, 1024)
    s.settimeout(0.2)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            c, _ = s.accept()
        except TimeoutError:
            continue
        while c.recv(4096):
            pass
        c.close()


def clients(port: int, count: int, hold: float, pause: float) -> None:
    """Open ``count`` connections, send a line, hold ``hold`` s, close each (client first)."""
    conns = []
    for i in range(count):
        c = socket.create_connection((HOST, port))
        c.sendall(b"hello %d\n" % i)
        if hold:
            conns.append(c)
        else:
            c.close()
        if pause:
            time.sleep(pause)
    time.sleep(hold)
    for c in conns:
        c.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("mode", choices=["backlog", "leak", "echo-close", "clients"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--name", default="")
    p.add_argument("--backlog", type=int, default=128)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--hold", type=float, default=0)
    p.add_argument("--pause", type=float, default=0)
    a = p.parse_args()
    if a.name:
        set_name(a.name)
    if a.mode == "backlog":
        backlog_server(a.port, a.backlog, a.seconds)
    elif a.mode == "leak":
        leak_server(a.port, a.seconds)
    elif a.mode == "echo-close":
        echo_close_server(a.port, a.seconds)
    else:
        clients(a.port, a.count, a.hold, a.pause)


if __name__ == "__main__":
    main()
