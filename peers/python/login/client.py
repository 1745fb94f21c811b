"""Login client: the tasks of seed 003 ("Roteiro 4: Sockets - parte 1";
slide ports 5666/5667/5668). No slide shows the program; written in that
lesson's idiom.

Takes stdin lines in pairs (user, password), sends a pair, prints the
server's reply line; on `OK` it is done, on `ERRO ...` it sends the next
pair (the server asks again). Contract: protocols/login/README.md.

Run: python3 peers/python/login/client.py HOST PORT < credentials
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
    lines = [line.removesuffix(b'\n')
             for line in peerlib.split_lines(peerlib.read_stdin())]
    if len(lines) < 2:
        raise peerlib.PeerError('no user and password on stdin')
    with socket.create_connection((host, port)) as sock:
        replies = peerlib.LineReader(sock, MAX_REPLY)
        while len(lines) >= 2:
            user, password, lines = lines[0], lines[1], lines[2:]
            sock.sendall(user + b'\n' + password + b'\n')
            reply = replies.read_line()
            if reply == b'OK\n':
                peerlib.write_out(reply)
                sock.shutdown(socket.SHUT_WR)
                peerlib.drain(sock)
                return 0
            if reply is None or not reply.startswith(b'ERRO ') \
                    or not reply.endswith(b'\n'):
                raise peerlib.PeerError('unexpected reply from the server')
            peerlib.write_out(reply)
    raise peerlib.PeerError('credentials refused')


if __name__ == '__main__':
    peerlib.run(main)
