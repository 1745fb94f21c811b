"""Plumbing shared by the Python peers: argv, exit codes, framing, closing.

The socket code that the lessons teach stays in each peer's own file; this
module only holds what every program needs the same way (the program
contract of protocols/README.md): `server PORT` / `client HOST PORT`,
exit 0 / 1 runtime error (one line on stderr) / 2 usage, bounded line
framing, and the lingering close.
"""

import os
import signal
import socket
import sys
import time

LINGER_S = 1.0


class UsageError(Exception):
    """Bad command line: exit 2 with the usage line."""


class PeerError(Exception):
    """A runtime error worth one line on stderr: exit 1."""


def _prog():
    path = os.path.abspath(sys.argv[0])
    return os.path.join(os.path.basename(os.path.dirname(path)),
                        os.path.basename(path))


def parse_port(text, usage):
    """Return the port number in text, or raise UsageError(usage)."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise UsageError(f'{usage} (PORT: a number in 1..65535)')
    return int(text)


def server_args(argv):
    """Return PORT from `server.py PORT`."""
    usage = 'usage: %s PORT' % _prog()
    if len(argv) != 2:
        raise UsageError(usage)
    return parse_port(argv[1], usage)


def client_args(argv):
    """Return (HOST, PORT) from `client.py HOST PORT`."""
    usage = 'usage: %s HOST PORT' % _prog()
    if len(argv) != 3:
        raise UsageError(usage)
    return argv[1], parse_port(argv[2], usage)


def _stop(signum, frame):
    # SIGTERM unwinds like SIGINT, so `with` blocks close their sockets.
    raise KeyboardInterrupt


_prompt_open = False


def prompt(text):
    """Write a prompt without a newline on stderr; an error message that
    follows it starts on a line of its own (protocols/README.md)."""
    global _prompt_open
    sys.stderr.write(text)
    sys.stderr.flush()
    _prompt_open = True


def _error_line(text):
    if _prompt_open:
        text = '\n' + text
    print(text, file=sys.stderr)


def run(main):
    """Run main(argv) and exit with the program contract's status."""
    signal.signal(signal.SIGTERM, _stop)
    try:
        status = main(sys.argv)
    except UsageError as err:
        print(err, file=sys.stderr)
        status = 2
    except PeerError as err:
        _error_line(f'{_prog()}: {err}')
        status = 1
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        _error_line(f'{_prog()}: {reason}')
        status = 1
    except KeyboardInterrupt:
        # A server stopped by SIGINT/SIGTERM: its normal end.
        status = 0
    sys.exit(status or 0)


def read_stdin():
    """Return all of stdin as bytes."""
    return sys.stdin.buffer.read()


def split_lines(data):
    """Split bytes after every b'\\n'; a last line without one is kept."""
    lines = []
    start = 0
    while start < len(data):
        end = data.find(b'\n', start)
        end = len(data) if end < 0 else end + 1
        lines.append(data[start:end])
        start = end
    return lines


def write_out(data):
    """Write bytes to stdout unchanged and flush them."""
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def tcp_listener(port):
    """Return a listening TCP socket on every interface (dual-stack when
    the host has IPv6), with SO_REUSEADDR (create_server sets it)."""
    if socket.has_dualstack_ipv6():
        return socket.create_server(('', port), family=socket.AF_INET6,
                                    dualstack_ipv6=True, backlog=64)
    return socket.create_server(('', port), backlog=64)


def linger_close(conn, timeout=LINGER_S):
    """Half-close, read and discard until the peer's EOF (at most timeout
    seconds), then close: closing with unread input would send a reset
    that can destroy the reply before the client reads it."""
    try:
        conn.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            conn.settimeout(left)
            if not conn.recv(4096):
                break
    except OSError:
        pass
    finally:
        conn.close()


def drain(sock):
    """Read and discard until EOF."""
    while sock.recv(4096):
        pass


class LineReader:
    """Bounded line framing over a socket (or anything with recv)."""

    def __init__(self, sock, limit):
        self.sock = sock
        self.limit = limit  # longest line, its b'\n' included
        self.buf = b''
        self.eof = False
        self.skipping = False

    def _fill(self):
        data = self.sock.recv(4096)
        if data:
            self.buf += data
        else:
            self.eof = True

    def read_line(self):
        """Return the next line with its b'\\n'; at EOF the unterminated
        remainder, or b'' when nothing is left; None when `limit` bytes
        arrived without b'\\n' (the rest of that line is then skipped)."""
        while True:
            nl = self.buf.find(b'\n')
            if self.skipping:
                if nl >= 0:
                    self.buf = self.buf[nl + 1:]
                    self.skipping = False
                    continue
                self.buf = b''
            elif 0 <= nl < self.limit:
                line, self.buf = self.buf[:nl + 1], self.buf[nl + 1:]
                return line
            elif len(self.buf) >= self.limit:
                # Answer as soon as the limit is reached, not at the b'\n'.
                self.buf = self.buf[self.limit:]
                self.skipping = True
                return None
            if self.eof:
                line, self.buf = self.buf, b''
                return line
            self._fill()
