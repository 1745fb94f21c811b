"""Fake clients for the driver's tests: `client.py MODE HOST PORT [ARGS]`.

echo (sends stdin, half-closes, prints what comes back), trickle (the same,
one byte per send), garbage (prints something else), exit1 (fails with a
message), crash (SIGSEGV), hang (connects and never ends), flood (floods
stdout), udp (one datagram of stdin), reset (sends, then resets), notfound
(prints the JVM's class-not-found message and exits 1), args (echo, then
prints its extra arguments), env (echo, then prints its environment, one
NAME=VALUE a line, sorted).
"""

import os
import signal
import socket
import struct
import sys
import time


def connect(host, port):
    return socket.create_connection((host, port))


def exchange(host, port, data, trickle=False):
    s = connect(host, port)
    if trickle:
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
            time.sleep(0.002)
    else:
        s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = sys.stdin.buffer.read()
    if mode in ("echo", "trickle"):
        sys.stdout.buffer.write(exchange(host, port, data, mode == "trickle"))
    elif mode == "args":
        reply = exchange(host, port, data)
        sys.stdout.buffer.write(reply + " ".join(sys.argv[4:]).encode())
    elif mode == "env":
        reply = exchange(host, port, data)
        lines = sorted(f"{k}={v}\n" for k, v in os.environ.items())
        sys.stdout.buffer.write(reply + "".join(lines).encode())
    elif mode == "garbage":
        exchange(host, port, data)
        sys.stdout.buffer.write(b"\x00garbage\xff")
    elif mode == "exit1":
        exchange(host, port, data)
        print("fake: something went wrong", file=sys.stderr)
        sys.exit(1)
    elif mode == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif mode == "hang":
        s = connect(host, port)
        while True:
            time.sleep(60)
    elif mode == "flood":
        exchange(host, port, data)
        chunk = b"x" * 65536
        for _ in range(8 * 16):  # 8 MiB, well over the 1 MiB capture limit
            sys.stdout.buffer.write(chunk)
    elif mode == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(data, (host, port))
    elif mode == "reset":
        s = connect(host, port)
        s.sendall(data)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    elif mode == "notfound":
        print("Error: Could not find or load main class echo.Client", file=sys.stderr)
        sys.exit(1)
    else:
        print(f"unknown mode {mode}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
