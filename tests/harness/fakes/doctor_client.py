"""Fake echo clients for the doctor's tests: `doctor_client.py MODE HOST PORT`.

`good` keeps the program contract (protocols/README.md): stdin is the
request, half-close, print the reply, exit 1 with one line on stderr on a
runtime error, 2 on bad usage. Every other mode breaks one rule:
naive (no argv checks, lets exceptions escape: tracebacks, exit 1),
quiet (a runtime error exits 0), chatty (labels its output on stdout),
emptyhang (with an empty stdin, waits for a reply that never comes),
floodrefused (connection refused: floods stderr forever), ipv4only (an
AF_INET socket: HOST ::1 fails), gluedprompt (writes the prompt `Msg: `
with no newline on stderr before connecting, and its error message right
after it, on the same line). prompt is good with that prompt (the error
message on a line of its own). joined is good but takes one HOST:PORT
word, like a third-party program's address.
"""

import socket
import sys


def usage():
    print("usage: doctor_client.py MODE HOST PORT", file=sys.stderr)
    sys.exit(2)


def connect(host, port, ipv4only):
    if not ipv4only:
        return socket.create_connection((host, port))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.connect((host, port))
    except OSError:
        s.close()
        raise
    return s


def exchange(host, port, data, half_close=True, ipv4only=False):
    with connect(host, port, ipv4only) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "joined" and len(args) == 1:
        args = args[0].rsplit(":", 1)
    if mode == "naive":
        sys.stdout.buffer.write(exchange(args[0], int(args[1]), sys.stdin.buffer.read()))
        return
    if len(args) != 2 or not args[1].isdigit() or not 1 <= int(args[1]) <= 65535:
        usage()
    host, port = args[0], int(args[1])
    if mode in ("prompt", "gluedprompt"):
        sys.stderr.write("Msg: ")
        sys.stderr.flush()
    data = sys.stdin.buffer.read()
    try:
        reply = exchange(host, port, data, half_close=not (mode == "emptyhang" and not data),
                         ipv4only=(mode == "ipv4only"))
    except OSError as e:
        if mode == "floodrefused":
            while True:
                sys.stderr.write("refused! " * 1000 + "\n")
        own_line = "\n" if mode == "prompt" else ""
        print(f"{own_line}doctor_client.py: {e.strerror or e}", file=sys.stderr)
        sys.exit(0 if mode == "quiet" else 1)
    if mode == "chatty":
        sys.stdout.write("Received: ")
        sys.stdout.flush()
    sys.stdout.buffer.write(reply)


if __name__ == "__main__":
    main()
