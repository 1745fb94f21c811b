"""The Python echo-repr server's reply against
protocols/echo-repr/vectors.tsv."""

import unittest

from vectors import load_peer, read_vectors

echo_repr = load_peer('peers/python/echo-repr/server.py', 'echo_repr_server')


class EchoReprVectors(unittest.TestCase):

    def test_echo_reply_matches_every_vector(self):
        for number, (data, text) in read_vectors('echo-repr', 2):
            with self.subTest(line=number, data=data):
                self.assertEqual(echo_repr.echo_reply(data),
                                 b'Echo ==>' + text)

    def test_vectors_agree_with_this_python(self):
        # The vectors were generated with repr(); a mismatch here means the
        # table, not the peer, is wrong.
        for number, (data, text) in read_vectors('echo-repr', 2):
            with self.subTest(line=number, data=data):
                self.assertEqual(repr(data).encode('ascii'), text)


if __name__ == '__main__':
    unittest.main()
