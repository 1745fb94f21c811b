"""Echo client of seed 004 (USP PMR3412, Aula 05; slide port 50007).

Sends stdin's bytes (the slide sends b'Hello, world'), reads ONE reply of
at most 1024 bytes, closes, and prints what came back.

Run: python3 peers/python/echo/client.py HOST PORT < message
"""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402


def main(argv):
    host, port = peerlib.client_args(argv)
    message = peerlib.read_stdin()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.connect((host, port))
        s.sendall(message)
        # Kept on purpose: ONE recv(1024) and no half-close, as in the
        # slide; a reply split by the network, or longer than 1024 bytes,
        # comes out cut short (the relay's 1-byte mode shows it).
        data = s.recv(1024)
    peerlib.write_out(data)
    return 0


if __name__ == '__main__':
    peerlib.run(main)
