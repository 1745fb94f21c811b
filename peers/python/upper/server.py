"""Uppercase server of seed 001 ("Programação com sockets"; slide port 12000).

One request per connection: reads ONE chunk of at most 1024 bytes, sends
it back with a-z turned into A-Z, closes; one client at a time.

Run: python3 peers/python/upper/server.py PORT
"""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402


def upper_ascii(data):
    """Return data with the bytes a-z mapped to A-Z, every other byte kept."""
    # bytes.upper() touches ASCII letters only, so UTF-8 'é' passes through
    # (str.upper() or Java's toUpperCase() would change it).
    return data.upper()


def main(argv):
    port = peerlib.server_args(argv)
    server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Not in the slide: lets the matrix reuse a port still in TIME_WAIT.
    server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server_socket.bind(('', port))
    server_socket.listen(1)
    print('The server is ready to receive')
    while True:
        conn, addr = server_socket.accept()
        try:
            # Kept on purpose: ONE recv(1024) is the whole request, whether
            # or not a newline came; a longer request is cut at 1024 bytes
            # instead of getting the contract's ERRO reply.
            sentence = conn.recv(1024)
            # Kept on purpose: send(), not sendall(), as in the slide.
            conn.send(upper_ascii(sentence))
        except OSError as err:
            print(f'{addr}: {err}')
        # Kept on purpose: a plain close(), no lingering close; unread
        # input makes the kernel reset the connection.
        conn.close()


if __name__ == '__main__':
    peerlib.run(main)
