"""Hostile login server: puts something else where its log file should be.
`badlog.py MODE PORT [TARGET]`, then serves echo until killed.

MODE fifo: log-acesso.txt is a FIFO nobody writes (a reader blocks);
symlink: a symbolic link to TARGET (/etc/shadow, or a file outside);
hardlink: a hard link to TARGET. Prints what it made on stderr. TARGET
comes without its leading slash (etc/shadow): the driver refuses to start
a sandboxed program whose command line names a file its uid cannot read."""

import os
import socket
import sys

mode, port = sys.argv[1], int(sys.argv[2])
target = "/" + (sys.argv[3] if len(sys.argv) > 3 else "etc/shadow")
log = "log-acesso.txt"
try:
    if mode == "fifo":
        os.mkfifo(log)
    elif mode == "symlink":
        os.symlink(target, log)
    elif mode == "hardlink":
        os.link(target, log)
    print(f"{mode} {log} -> {target}: made", file=sys.stderr, flush=True)
except OSError as e:
    print(f"{mode} {log} -> {target}: {e.strerror}", file=sys.stderr, flush=True)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", port))
s.listen(8)
while True:
    c, _ = s.accept()
    with c:
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
