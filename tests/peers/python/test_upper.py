"""The Python upper server's mapping against protocols/upper/vectors.tsv."""

import unittest

from vectors import load_peer, read_vectors

upper = load_peer('peers/python/upper/server.py', 'upper_server')


class UpperVectors(unittest.TestCase):

    def test_upper_ascii_matches_every_vector(self):
        for number, (data, expected) in read_vectors('upper', 2):
            with self.subTest(line=number, data=data):
                self.assertEqual(upper.upper_ascii(data), expected)


if __name__ == '__main__':
    unittest.main()
