"""Raw client: the matrix's tool for bad-input scenarios (no slide).

Connects, optionally waits for the server's first bytes (--read-first),
sends all of stdin verbatim, half-closes, reads until EOF and writes every
byte received to stdout unchanged: it sends what no well-behaved client of
a protocol would (overlong lines, CRLF, input to a server that only talks).
Sending and reading overlap (a thread sends), so a large request to a
server that answers while it reads (echo) never deadlocks.

Robustness scenarios (matrix.yaml `before:` steps) use three more flags:
  --reset-after N     send the first N bytes of stdin, then close with
                      SO_LINGER 0 (the server sees a reset); print nothing
  --hold              send stdin, then keep the connection open without
                      half-closing until killed (an idle or stalled client)
  --half-close-first  half-close right after connecting, before sending
                      anything (stdin is ignored), then read until EOF

Run: python3 peers/raw/client.py HOST PORT [--read-first | --reset-after N
     | --hold | --half-close-first] < bytes
"""

import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'python'))
import peerlib  # noqa: E402

USAGE = ('usage: raw/client.py HOST PORT [--read-first | --reset-after N '
         '| --hold | --half-close-first]')


def _flags(args):
    """Return (HOST, PORT, options) after removing the flags from args."""
    opts = {'read_first': False, 'reset_after': None, 'hold': False,
            'half_close_first': False}
    rest = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == '--read-first':
            opts['read_first'] = True
        elif a == '--hold':
            opts['hold'] = True
        elif a == '--half-close-first':
            opts['half_close_first'] = True
        elif a == '--reset-after':
            if i + 1 >= len(args) or not args[i + 1].isdigit():
                raise peerlib.UsageError(USAGE)
            opts['reset_after'] = int(args[i + 1])
            i += 1
        else:
            rest.append(a)
        i += 1
    if len(rest) != 2:
        raise peerlib.UsageError(USAGE)
    return rest[0], peerlib.parse_port(rest[1], USAGE), opts


def _read_all(sock):
    while True:
        data = sock.recv(65536)
        if not data:
            return
        peerlib.write_out(data)


def _send(sock, request, errors):
    try:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
    except OSError as err:
        errors.append(err)


def main(argv):
    host, port, opts = _flags(argv[1:])
    request = b'' if opts['half_close_first'] else peerlib.read_stdin()
    with socket.create_connection((host, port)) as sock:
        if opts['reset_after'] is not None:
            sock.sendall(request[:opts['reset_after']])
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack('ii', 1, 0))
            return 0
        if opts['half_close_first']:
            sock.shutdown(socket.SHUT_WR)
            _read_all(sock)
            return 0
        if opts['read_first']:
            # Wait for the server to speak first; keep what it said.
            data = sock.recv(65536)
            peerlib.write_out(data)
        if opts['hold']:
            sock.sendall(request)
            threading.Event().wait()  # until SIGTERM/SIGKILL
        errors = []
        sender = threading.Thread(target=_send, args=(sock, request, errors),
                                  daemon=True)
        sender.start()
        _read_all(sock)
        sender.join()
        if errors:
            raise errors[0]
    return 0


if __name__ == '__main__':
    peerlib.run(main)
