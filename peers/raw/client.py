"""Raw client: the matrix's tool for bad-input scenarios (no slide).

Connects, optionally waits for the server's first bytes (--read-first),
sends all of stdin verbatim, half-closes, reads until EOF and writes every
byte received to stdout unchanged: it sends what no well-behaved client of
a protocol would (overlong lines, CRLF, input to a server that only talks).

Run: python3 peers/raw/client.py HOST PORT [--read-first] < bytes
"""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'python'))
import peerlib  # noqa: E402


def main(argv):
    args = argv[1:]
    read_first = '--read-first' in args
    if read_first:
        args.remove('--read-first')
    usage = 'usage: raw/client.py HOST PORT [--read-first]'
    if len(args) != 2:
        raise peerlib.UsageError(usage)
    host, port = args[0], peerlib.parse_port(args[1], usage)
    request = peerlib.read_stdin()
    with socket.create_connection((host, port)) as sock:
        if read_first:
            # Wait for the server to speak first; keep what it said.
            data = sock.recv(65536)
            peerlib.write_out(data)
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        while True:
            data = sock.recv(65536)
            if not data:
                break
            peerlib.write_out(data)
    return 0


if __name__ == '__main__':
    peerlib.run(main)
