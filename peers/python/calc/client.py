"""Calculator client: the exercise of seed 001 ("Programação com sockets";
slide port 12000). No slide shows it; written in that lesson's idiom.

Sends each stdin line (`SOMA 2 2`, ...) and prints the server's reply line
before sending the next one (lock-step, never pipelined).
Contract: protocols/calc/README.md.

Run: python3 peers/python/calc/client.py HOST PORT < requests
"""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402

# A reply line is at most 256 bytes, its b'\n' included (contract).
MAX_REPLY = 256


def main(argv):
    host, port = peerlib.client_args(argv)
    lines = peerlib.split_lines(peerlib.read_stdin())
    with socket.create_connection((host, port)) as sock:
        replies = peerlib.LineReader(sock, MAX_REPLY)
        for line in lines:
            if not line.endswith(b'\n'):
                line += b'\n'
            sock.sendall(line)
            reply = replies.read_line()
            if reply is None:
                raise peerlib.PeerError('reply line too long')
            if not reply.endswith(b'\n'):
                raise peerlib.PeerError('server closed the connection')
            peerlib.write_out(reply)
        sock.shutdown(socket.SHUT_WR)
        # Lock-step: nothing may follow the last reply but the EOF.
        if replies.buf or sock.recv(4096):
            raise peerlib.PeerError('unexpected bytes after the last reply')
        peerlib.drain(sock)
    return 0


if __name__ == '__main__':
    peerlib.run(main)
