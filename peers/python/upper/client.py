"""Uppercase client of seed 001 ("Programação com sockets"; slide port 12000).

Reads one line from stdin, sends it WITHOUT its newline (the slide uses
input()), reads ONE reply of at most 1024 bytes and prints it with a
newline, as print() does.

Run: python3 peers/python/upper/client.py HOST PORT < line
"""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402


def main(argv):
    host, port = peerlib.client_args(argv)
    client_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client_socket.connect((host, port))
    # input() on bytes: the slide's prompt goes to stderr, EOF is an error.
    peerlib.prompt('Digite algo em letra minúscula:')
    sentence = sys.stdin.buffer.readline()
    if not sentence:
        raise peerlib.PeerError('EOF when reading a line')
    # Kept on purpose: input() strips the newline, so the request goes out
    # with NO "\n" and no half-close; a contract server, which waits for
    # "\n" or EOF, never answers (scenarios hello, accents).
    sentence = sentence[:-1] if sentence.endswith(b'\n') else sentence
    # Kept on purpose: send(), not sendall(), as in the slide.
    client_socket.send(sentence)
    # Kept on purpose: ONE recv(1024); a reply split by the network comes
    # out cut short.
    modified = client_socket.recv(1024)
    peerlib.write_out(modified + b'\n')
    client_socket.close()
    return 0


if __name__ == '__main__':
    peerlib.run(main)
