"""The Python login server's pair check against protocols/login/vectors.tsv."""

import unittest

from vectors import load_peer, read_vectors

login = load_peer('peers/python/login/server.py', 'login_server')


class LoginVectors(unittest.TestCase):

    def test_check_pair_matches_every_vector(self):
        for number, (user, password, reply, logline) in \
                read_vectors('login', 4):
            with self.subTest(line=number, user=user, password=password):
                expected_log = logline + b'\n' if logline else b''
                self.assertEqual(login.check_pair(user, password),
                                 (reply + b'\n', expected_log))

    def test_overlong_line_is_invalid_unless_the_other_is_empty(self):
        # None stands for a line the framing cut at 256 bytes.
        self.assertEqual(login.check_pair(None, b'pw'),
                         (login.INVALID, b''))
        self.assertEqual(login.check_pair(b'alice', None),
                         (login.INVALID, b''))
        self.assertEqual(login.check_pair(None, b''), (login.EMPTY, b''))


if __name__ == '__main__':
    unittest.main()
