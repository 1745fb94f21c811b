"""UDP receiver of seed 004 (USP PMR3412, Aula 05; slide port 5005).

Prints `received message: ` + the Python bytes repr of every datagram it
receives; never replies. Stdout is the contract here: run it with -u (or
it is block-buffered in a pipe and lost when the receiver is killed).

Run: python3 -u peers/python/udp/server.py PORT
"""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402


def main(argv):
    port = peerlib.server_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # The slide binds 127.0.0.1; every interface serves the matrix as well.
    sock.bind(('', port))
    while True:
        # Kept on purpose: a 1024-byte buffer, as in the slide; a longer
        # datagram is truncated to its first 1024 bytes (scenario big).
        data, addr = sock.recvfrom(1024)
        print('received message: %s' % data, flush=True)


if __name__ == '__main__':
    peerlib.run(main)
