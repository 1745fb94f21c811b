"""Multi-connection echo server of seed 004 (USP PMR3412, Aula 05; slide
port 50007), built on `selectors` with non-blocking sockets.

Serves any number of clients at once from one thread: each readable
connection gets one recv(1000) and the chunk is sent straight back.

Run: python3 peers/python/echo/server_selectors.py PORT
"""

import os
import selectors
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402

sel = selectors.DefaultSelector()


def accept(sock, mask):
    conn, addr = sock.accept()  # ready: the selector said so
    print('Connected by', addr)
    conn.setblocking(False)
    sel.register(conn, selectors.EVENT_READ, read)


def read(conn, mask):
    # As in the slide, an error on one connection (a reset here, or the
    # BlockingIOError below) is not caught and ends the whole server.
    data = conn.recv(1000)  # ready: the selector said so
    if data:
        # Kept on purpose: send(), not sendall(), "hoping it won't block"
        # as the slide says: a partial send silently drops the rest, and a
        # full send buffer raises BlockingIOError, which ends the server.
        conn.send(data)
    else:
        sel.unregister(conn)
        conn.close()


def main(argv):
    port = peerlib.server_args(argv)
    sock = socket.socket()
    # Not in the slide: lets the matrix reuse a port still in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(('', port))
    sock.listen(100)
    sock.setblocking(False)
    sel.register(sock, selectors.EVENT_READ, accept)
    while True:
        for key, mask in sel.select():
            callback = key.data
            callback(key.fileobj, mask)


if __name__ == '__main__':
    peerlib.run(main)
