"""Time server of seed 002 (UTFPR, Spanhol; slide port 8888).

On each connection sends time.ctime() (`Www Mmm dd hh:mm:ss yyyy`, no
newline) and closes; one client at a time. Never reads.

Run: python3 peers/python/daytime/server.py PORT
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402


def main(argv):
    port = peerlib.server_args(argv)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Not in the slide: lets the matrix reuse a port still in TIME_WAIT.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('', port))
    s.listen(5)
    while True:
        conn, addr = s.accept()
        print(f'Accepted connection from [{addr}]')
        curr_time = time.ctime(time.time())
        try:
            # Kept on purpose: send(), not sendall(), as in the slide.
            conn.send(str.encode(curr_time))
        except OSError as err:
            print(f'{addr}: {err}')
        # Kept on purpose: a plain close(), no lingering close; a client
        # that sends anything gets a reset (scenario input-ignored).
        conn.close()


if __name__ == '__main__':
    peerlib.run(main)
