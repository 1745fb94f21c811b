"""Acknowledging client: the C client of seed 002 (UTFPR, Spanhol; slide
example port 5488). No Python slide shows it; written in the lessons'
Python idiom.

Prompts on stderr, sends one stdin line, half-closes, reads the server's
reply to EOF and prints it with a newline. Contract: protocols/ack/README.md.

Run: python3 peers/python/ack/client.py HOST PORT < line
"""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402


def main(argv):
    host, port = peerlib.client_args(argv)
    with socket.create_connection((host, port)) as sock:
        peerlib.prompt('Informe a mensagem: ')
        message = sys.stdin.buffer.readline()
        sock.sendall(message)
        # The half-close ends a message that has no "\n".
        sock.shutdown(socket.SHUT_WR)
        reply = b''
        while True:
            data = sock.recv(4096)
            if not data:
                break
            reply += data
    if not reply:
        raise peerlib.PeerError('no reply from the server')
    peerlib.write_out(reply + b'\n')
    return 0


if __name__ == '__main__':
    peerlib.run(main)
