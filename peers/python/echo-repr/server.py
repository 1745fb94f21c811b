"""Echo-repr server: seed 002 "Servidor 2" (UTFPR, Spanhol; slide port 5050).

Answers each chunk it receives with 'Echo ==>' + the chunk's Python bytes
repr (the slide formats the bytes object with an f-string, so the reply
reads Echo ==>b'...'), until the client's EOF; one client at a time.

Run: python3 peers/python/echo-repr/server.py PORT
"""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402


def echo_reply(data):
    """Return the reply to one received chunk: b'Echo ==>' + repr(data)."""
    return str.encode(f'Echo ==>{data}')


def main(argv):
    port = peerlib.server_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Not in the slide: lets the matrix reuse a port still in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(('', port))
    sock.listen(5)
    while True:
        conn, addr = sock.accept()
        print(f'Servidor conectado por {addr}')
        try:
            while True:
                # Kept on purpose: one reply per recv(1024), not per line;
                # lines that arrive together are answered as one message,
                # a line that arrives in pieces gets several replies.
                data = conn.recv(1024)
                if not data:
                    break
                # Kept on purpose: send(), not sendall(), as in the slide.
                conn.send(echo_reply(data))
        except OSError as err:
            print(f'{addr}: {err}')
        conn.close()


if __name__ == '__main__':
    peerlib.run(main)
