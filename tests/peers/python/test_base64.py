"""The Python SMTP peers' base64 helpers against
protocols/base64/vectors.tsv (the table the C, Java and Node tests read)."""

import unittest

from vectors import load_peer, read_vectors

mime = load_peer('peers/python/smtp/mime.py', 'smtp_mime')


class Base64Vectors(unittest.TestCase):

    def test_every_vector(self):
        rows = read_vectors('base64', 3)
        kinds = {kind for _, (kind, _, _) in rows}
        self.assertEqual(kinds, {b'ok', b'bad'})
        for number, (kind, raw, text) in rows:
            with self.subTest(line=number, text=text):
                if kind == b'ok':
                    self.assertEqual(mime.b64encode(raw), text)
                    self.assertEqual(mime.b64decode_strict(text), raw)
                else:
                    self.assertIsNone(mime.b64decode_strict(text))

    def test_slide_examples(self):
        self.assertEqual(mime.b64encode(b'\x01\x02\x03'), b'AQID')
        self.assertEqual(mime.b64encode(b'\x01\x02\x03\xce'), b'AQIDzg==')

    def test_lines_are_76_characters_and_crlf(self):
        lines = mime.b64lines(bytes(range(250)) * 2).split(b'\r\n')
        self.assertEqual(lines[-1], b'')
        self.assertTrue(all(len(x) == 76 for x in lines[:-2]))
        self.assertEqual(len(lines[-2]), len(mime.b64encode(
            bytes(range(250)) * 2)) % 76)


if __name__ == '__main__':
    unittest.main()
