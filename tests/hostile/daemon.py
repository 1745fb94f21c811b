"""Hostile server: a daemon that keeps the port. `daemon.py PORT TOKEN`.

Listens, then double-forks a grandchild that calls setsid (out of the
process group and session the driver stops) and serves echo on the
inherited socket forever; the server itself waits too, like a normal
server. TOKEN is in the daemon's command line so the test can look for
it from outside."""

import os
import signal
import socket
import sys

port = int(sys.argv[1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", port))
s.listen(8)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        while True:
            c, _ = s.accept()
            with c:
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    c.sendall(b)
    os._exit(0)
s.close()
while True:
    signal.pause()
