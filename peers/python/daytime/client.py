"""Time client of seed 002 (UTFPR, Spanhol; slide port 8888).

Sends nothing (stdin is ignored), reads ONE reply of at most 1024 bytes,
closes and prints it with a newline.

Run: python3 peers/python/daytime/client.py HOST PORT
"""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402


def main(argv):
    host, port = peerlib.client_args(argv)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect((host, port))
    # Kept on purpose: ONE recv(1024), as in the slide; a time that arrives
    # in pieces is printed cut short.
    tm = s.recv(1024)
    s.close()
    peerlib.write_out(tm + b'\n')
    return 0


if __name__ == '__main__':
    peerlib.run(main)
