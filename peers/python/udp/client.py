"""UDP sender of seed 004 (USP PMR3412, Aula 05; slide port 5005).

Sends all of stdin (the slide sends b"Hello, World!") as ONE datagram and
prints nothing on stdout.

Run: python3 peers/python/udp/client.py HOST PORT < message
"""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402

MAX_DATAGRAM = 65507  # the largest UDP payload over IPv4


def main(argv):
    host, port = peerlib.client_args(argv)
    message = peerlib.read_stdin()
    if len(message) > MAX_DATAGRAM:
        raise peerlib.PeerError('message too long for one datagram')
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.sendto(message, (host, port))
    sock.close()
    return 0


if __name__ == '__main__':
    peerlib.run(main)
