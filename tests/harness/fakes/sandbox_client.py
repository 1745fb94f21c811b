"""Fake untrusted clients for the sandbox tests: `sandbox_client.py MODE
HOST PORT [ARG]`. Each does one thing a student program might, which the
sandbox must contain to its own cell:

echo (sends stdin, half-closes, prints the reply), whoami (echo, then
prints uid, cwd, HOME and the seccomp mode on stderr), forkbomb (forks until fork fails; the
children leave the process group and session and wait forever; prints how
many it made), bigfile (writes big.bin until the file size limit kills it),
spin (burns CPU forever), memory (allocates 1 MB blocks until MemoryError),
escape (connects to 127.0.0.1:ARG, a listener in the driver's namespace;
prints "reached" or "unreachable: ERROR"), flood (writes stdout forever).
"""

import os
import signal
import socket
import sys


def echo(host, port):
    s = socket.create_connection((host, port))
    s.sendall(sys.stdin.buffer.read())
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    sys.stdout.buffer.write(out)
    sys.stdout.flush()


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "echo":
        echo(host, port)
    elif mode == "whoami":
        echo(host, port)
        with open("/proc/self/status") as f:
            seccomp = next(ln.split()[1] for ln in f if ln.startswith("Seccomp:"))
        print(f"uid={os.getuid()} cwd={os.getcwd()} home={os.environ.get('HOME')} "
              f"seccomp={seccomp}", file=sys.stderr)
    elif mode == "forkbomb":
        n = 0
        while True:
            try:
                pid = os.fork()
            except OSError as e:
                print(f"forked {n}, then: {e.strerror}")
                sys.exit(3)
            if pid == 0:
                os.setsid()  # out of the group the driver stops
                while True:
                    signal.pause()
            n += 1
    elif mode == "bigfile":
        # Python ignores SIGXFSZ (EFBIG instead); a C program would not.
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        block = b"x" * (1 << 20)
        with open("big.bin", "wb") as f:
            while True:
                f.write(block)
                f.flush()
    elif mode == "spin":
        while True:
            pass
    elif mode == "memory":
        blocks = []
        try:
            while True:
                blocks.append(bytearray(1 << 20))
        except MemoryError:
            n = len(blocks)
            blocks.clear()
            print(f"MemoryError after {n} MB")
            sys.exit(4)
    elif mode == "escape":
        try:
            socket.create_connection(("127.0.0.1", int(sys.argv[4])), timeout=2).close()
            print("reached")
        except OSError as e:
            print(f"unreachable: {e.strerror or e}")
    elif mode == "flood":
        line = b"y" * 4095 + b"\n"
        while True:
            sys.stdout.buffer.write(line)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
