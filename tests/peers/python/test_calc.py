"""The Python calc server's evaluation against protocols/calc/vectors.tsv."""

import unittest

from vectors import load_peer, read_vectors

calc = load_peer('peers/python/calc/server.py', 'calc_server')


class CalcVectors(unittest.TestCase):

    def test_calc_eval_matches_every_vector(self):
        for number, (request, reply) in read_vectors('calc', 2):
            with self.subTest(line=number, request=request):
                self.assertEqual(calc.calc_eval(request), reply)

    def test_format_number_rounds_half_even_and_strips(self):
        self.assertEqual(calc.format_number(0.0078125), b'0.007812')
        self.assertEqual(calc.format_number(-10.0), b'-10')
        self.assertEqual(calc.format_number(-0.0000001), b'0')


if __name__ == '__main__':
    unittest.main()
