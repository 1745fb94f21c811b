"""Echo-repr client: seed 002 "Cliente 2" (UTFPR, Spanhol; slide port 5050).

Sends each stdin line (the slide sends 'Hello world!' and 'Again!'), reads
ONE reply of at most 1024 bytes after each, and prints it on its own line.

Run: python3 peers/python/echo-repr/client.py HOST PORT < lines
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
    lines = peerlib.split_lines(peerlib.read_stdin())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect((host, port))
    for line in lines:
        # Not in the slide (its messages are short): the contract refuses
        # a line the server would have to answer in several messages.
        if len(line) > MAX_LINE:
            raise peerlib.PeerError('line longer than 1024 bytes')
        # Kept on purpose: send(), not sendall(), as in the slide.
        sock.send(line)
        # Kept on purpose: ONE recv(1024) per line; a reply split by the
        # network, or longer than 1024 bytes, is printed cut short.
        data = sock.recv(1024)
        if not data:
            raise peerlib.PeerError('server closed the connection')
        peerlib.write_out(data + b'\n')
    sock.close()
    return 0


if __name__ == '__main__':
    peerlib.run(main)
