"""The Python peers' shared plumbing: line framing, line splitting and the
lingering close (over socketpair, no ports)."""

import socket
import time
import unittest

from vectors import load_peer

peerlib = load_peer('peers/python/peerlib.py', 'peerlib')


class Chunks:
    """A recv() that hands out the given chunks, then EOF."""

    def __init__(self, *chunks):
        self.chunks = list(chunks)

    def recv(self, size):
        if not self.chunks:
            return b''
        chunk = self.chunks.pop(0)
        assert len(chunk) <= size
        return chunk


def read_all(reader):
    lines = []
    while True:
        line = reader.read_line()
        lines.append(line)
        if line == b'':
            return lines


class LineReaderTests(unittest.TestCase):

    def test_line_reader_two_lines_in_one_chunk(self):
        reader = peerlib.LineReader(Chunks(b'um\ndois\n'), 256)
        self.assertEqual(read_all(reader), [b'um\n', b'dois\n', b''])

    def test_line_reader_byte_at_a_time_equals_all_at_once(self):
        data = b'SOMA 1 2\r\n\nx' + b'y' * 300 + b'\nfim'
        whole = read_all(peerlib.LineReader(Chunks(data), 256))
        single = read_all(peerlib.LineReader(
            Chunks(*(bytes([b]) for b in data)), 256))
        self.assertEqual(single, whole)
        self.assertEqual(whole, [b'SOMA 1 2\r\n', b'\n', None, b'fim', b''])

    def test_line_reader_limit_counts_the_newline(self):
        fits = b'a' * 255 + b'\n'
        self.assertEqual(read_all(peerlib.LineReader(Chunks(fits), 256)),
                         [fits, b''])
        too_long = b'a' * 256 + b'\nok\n'
        self.assertEqual(read_all(peerlib.LineReader(Chunks(too_long), 256)),
                         [None, b'ok\n', b''])

    def test_line_reader_overlong_reported_before_newline_arrives(self):
        # The 256th byte is enough: no recv is needed after it.
        reader = peerlib.LineReader(Chunks(b'a' * 256, b'a\n'), 256)
        self.assertIsNone(reader.read_line())
        self.assertEqual(reader.sock.chunks, [b'a\n'])

    def test_line_reader_overlong_line_cut_by_eof(self):
        reader = peerlib.LineReader(Chunks(b'a' * 300), 256)
        self.assertEqual(read_all(reader), [None, b''])

    def test_split_lines_keeps_newlines_and_last_line(self):
        self.assertEqual(peerlib.split_lines(b'a\n\nb\r\nc'),
                         [b'a\n', b'\n', b'b\r\n', b'c'])
        self.assertEqual(peerlib.split_lines(b''), [])


class LingerCloseTests(unittest.TestCase):

    def test_linger_close_sends_eof_and_reads_until_peer_eof(self):
        server, client = socket.socketpair()
        with client:
            server.sendall(b'reply')
            client.sendall(b'unread input')
            client.shutdown(socket.SHUT_WR)
            peerlib.linger_close(server)
            self.assertEqual(client.recv(100), b'reply')
            self.assertEqual(client.recv(100), b'')
            self.assertEqual(server.fileno(), -1)

    def test_linger_close_gives_up_after_timeout(self):
        server, client = socket.socketpair()
        with client:
            start = time.monotonic()
            peerlib.linger_close(server, timeout=0.2)
            self.assertLess(time.monotonic() - start, 2)
            self.assertEqual(server.fileno(), -1)
            self.assertEqual(client.recv(100), b'')


if __name__ == '__main__':
    unittest.main()
