"""Time-of-day client: the Java client of seed 002 (UTFPR, Spanhol; slide
port 5155). No Python slide shows it; written in the lessons' Python idiom.

Sends nothing (stdin is ignored), reads the first line the server sends
and prints it with exactly one newline. Contract:
protocols/timeofday/README.md.

Run: python3 peers/python/timeofday/client.py HOST PORT
"""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402

MAX_LINE = 1024


def main(argv):
    host, port = peerlib.client_args(argv)
    with socket.create_connection((host, port)) as sock:
        line = peerlib.LineReader(sock, MAX_LINE).read_line()
    if line is None:
        raise peerlib.PeerError('line longer than 1024 bytes')
    if not line:
        raise peerlib.PeerError('server closed the connection without a line')
    # Only b'\n' ends the line; a b'\r' just before it is dropped.
    if line.endswith(b'\n'):
        line = line[:-1].removesuffix(b'\r')
    peerlib.write_out(line + b'\n')
    return 0


if __name__ == '__main__':
    peerlib.run(main)
