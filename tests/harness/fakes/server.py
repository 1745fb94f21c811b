"""Fake servers for the driver's tests: `server.py MODE PORT`.

Each mode misbehaves in one way the driver must judge correctly:
echo (well-behaved TCP echo, many clients), udp (prints each datagram like
the udp contract), hang (accepts, never answers), nobind (never binds),
otherport (binds an ephemeral port instead of PORT), crash (SIGSEGV on the
first connection), exit3 (exits 3 at once), grandchild (a double-forked
grandchild serves and keeps the port; the server itself waits), orphan (the
same, but the server exits and leaves the grandchild behind), ignoreterm
(echo that ignores SIGTERM), flood (echo that floods stdout), logfile
(echo that appends each request to log-acesso.txt), keeplog (the same
with the file opened once, at start, and kept open), one-client (echoes one
connection, then exits when the next arrives, without accepting it: a
one-shot server whose exit comes late), daemon (echo that, on its first
connection, leaves a setsid daemon behind).
"""

import os
import select
import signal
import socket
import sys
import threading
import time


def listen(port, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", port))
    s.listen(64)
    return s


def echo_conn(c, log=None):
    with c:
        data = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
            c.sendall(b)
        if isinstance(log, str):
            with open(log, "ab") as f:
                f.write(data)
        elif log is not None:
            log.write(data)
            log.flush()
        c.shutdown(socket.SHUT_WR)


def serve_echo(s, log=None):
    while True:
        c, _ = s.accept()
        threading.Thread(target=echo_conn, args=(c, log), daemon=True).start()


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "echo":
        serve_echo(listen(port))
    elif mode == "logfile":
        serve_echo(listen(port), "log-acesso.txt")
    elif mode == "keeplog":
        serve_echo(listen(port), open("log-acesso.txt", "ab"))
    elif mode == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("", port))
        while True:
            data, _ = s.recvfrom(65536)
            sys.stdout.write("received message: %s\n" % (data,))
            sys.stdout.flush()
    elif mode == "one-client":
        s = listen(port)
        c, _ = s.accept()
        echo_conn(c)
        select.select([s], [], [])
        sys.exit(0)
    elif mode == "daemon":
        s = listen(port)
        c, _ = s.accept()
        if os.fork() == 0:
            os.setsid()
            s.close()
            c.close()
            while True:
                time.sleep(60)
        threading.Thread(target=echo_conn, args=(c,), daemon=True).start()
        serve_echo(s)
    elif mode == "hang":
        s = listen(port)
        conns = []
        while True:
            c, _ = s.accept()
            conns.append(c)
    elif mode == "nobind":
        while True:
            time.sleep(60)
    elif mode == "otherport":
        s = listen(0)
        while True:
            time.sleep(60)
    elif mode == "crash":
        s = listen(port)
        s.accept()
        os.kill(os.getpid(), signal.SIGSEGV)
    elif mode == "exit3":
        print("fake: giving up", file=sys.stderr)
        sys.exit(3)
    elif mode in ("grandchild", "orphan"):
        if os.fork() == 0:
            if os.fork() == 0:
                serve_echo(listen(port))
            os._exit(0)
        os.wait()
        if mode == "orphan":
            sys.exit(0)
        while True:
            time.sleep(60)
    elif mode == "ignoreterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        serve_echo(listen(port))
    elif mode == "flood":
        s = listen(port)
        threading.Thread(target=serve_echo, args=(s,), daemon=True).start()
        chunk = b"flood " * 10000 + b"\n"
        out = sys.stdout.buffer
        while True:
            out.write(chunk)
    else:
        print(f"unknown mode {mode}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
