"""Echo server of seed 004 (USP PMR3412, Aula 05; slide port 50007).

Accepts ONE client, sends back every chunk it receives until the client's
EOF, closes and exits, as the slide does.

Run: python3 peers/python/echo/server.py PORT
"""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402


def main(argv):
    port = peerlib.server_args(argv)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Not in the slide: lets the matrix reuse a port still in TIME_WAIT.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('', port))
        s.listen(1)
        # Kept on purpose: the slide serves one client and then exits, so
        # every client after the first finds no server (scenario concurrent).
        conn, addr = s.accept()
        with conn:
            print('Connected by', addr)
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                conn.sendall(data)
    return 0


if __name__ == '__main__':
    peerlib.run(main)
