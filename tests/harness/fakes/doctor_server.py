"""Fake echo servers for the doctor's tests: `doctor_server.py MODE PORT`.

`good` keeps the program contract (protocols/README.md); every other mode
breaks one rule of it the way a student's program does:
naive (int(sys.argv[1]) unguarded: a traceback and exit 1 on bad usage),
hang (no port argument: waits forever instead of exiting 2), flood (no
port argument: floods stdout forever), loopback (binds 127.0.0.1 only),
otherport (binds PORT + 1), oneshot (serves one client, exits 0),
ignoreterm (ignores SIGTERM), crash (exits 3 before binding).
"""

import signal
import socket
import sys
import threading


def usage():
    print("usage: doctor_server.py MODE PORT", file=sys.stderr)
    sys.exit(2)


def port_arg(args):
    if len(args) != 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= 65535:
        usage()
    return int(args[0])


def echo(c):
    with c:
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
        c.shutdown(socket.SHUT_WR)


def listen(host, port):
    # Every interface is one dual-stack socket, as the C reference's, so
    # clients can be checked with HOST ::1 against it.
    family = socket.AF_INET if host else socket.AF_INET6
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((host, port))
    s.listen(16)
    return s


def serve(s, once=False):
    while True:
        c, _ = s.accept()
        if once:
            echo(c)
            return
        threading.Thread(target=echo, args=(c,), daemon=True).start()


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "naive":
        port = int(args[0])  # the bug: IndexError / ValueError tracebacks
    elif mode == "hang" and not args:
        threading.Event().wait()
    elif mode == "flood" and not args:
        while True:
            sys.stdout.write("x" * 65536)
    else:
        port = port_arg(args)
    if mode == "crash":
        print("fake: cannot start", file=sys.stderr)
        sys.exit(3)
    if mode == "ignoreterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    host = "127.0.0.1" if mode == "loopback" else ""
    if mode == "otherport":
        port += 1
    serve(listen(host, port), once=(mode == "oneshot"))


if __name__ == "__main__":
    main()
