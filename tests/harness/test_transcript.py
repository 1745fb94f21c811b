"""Transcripts: escaping, the text format, patterns, comparison."""

import unittest

import support  # noqa: F401  (puts the repo on sys.path)
from harness.spec import transcript as T
from harness.spec.transcript import CLIENT, DATA, EOF, RST, SERVER, Turn


class EscapeTest(unittest.TestCase):
    def test_escape_every_byte_round_trips(self):
        data = bytes(range(256))
        self.assertEqual(T.unescape(T.escape(data)), data)

    def test_escape_rules(self):
        self.assertEqual(T.escape(b'a"b\\c\n\r\t\x00\x7f\xc3\xa9'),
                         'a\\"b\\\\c\\n\\r\\t\\x00\\x7f\\xc3\\xa9')
        self.assertEqual(T.escape(b" ~"), " ~")

    def test_escape_of_long_mostly_plain_data_escapes_every_special_byte(self):
        # Long plain runs take another path than short or dense data: the
        # same bytes escape the same either way, wherever the specials are.
        for special in (b"\n", b'"', b"\\", b"\x00", b"\xff", b"\t\r"):
            data = special + b"0123456789abcdef" * 100 + special + b"x" * 50 + special
            want = "".join(T.escape(bytes([b])) for b in data)
            self.assertEqual(T.escape(data), want)
            self.assertEqual(T.unescape(T.escape(data)), data)

    def test_unescape_utf8_and_escapes(self):
        self.assertEqual(T.unescape("tr\\xc3\\xaas é"), "três é".encode())
        self.assertEqual(T.unescape("\\x0A\\x0a"), b"\n\n")
        self.assertEqual(T.unescape('bare " quote'), b'bare " quote')

    def test_unescape_errors_name_the_column(self):
        for bad, col in (("ab\\q", 3), ("\\x4", 1), ("\\xzz", 1), ("end\\", 4)):
            with self.subTest(bad=bad):
                with self.assertRaises(T.EscapeError) as cm:
                    T.unescape(bad)
                self.assertEqual(cm.exception.column, col)


class PatternTest(unittest.TestCase):
    def test_ctime(self):
        p = T.Pattern("{ctime}")
        self.assertTrue(p.matches(b"Sun Nov  2 03:49:05 2026"))
        self.assertTrue(p.matches(b"Mon Dec 22 13:00:59 2025"))
        self.assertFalse(p.matches(b"Sun Nov 02 03:49:05 2026"))  # zero-padded: Java style
        self.assertFalse(p.matches(b"Sun Nov  2 03:49:05 2026\n"))

    def test_javadate_with_escaped_literals(self):
        p = T.Pattern("Agora \\xc3\\xa9:{javadate}\\n")
        self.assertTrue(p.matches("Agora é:Sun Nov 02 03:49:05 UTC 2026\n".encode()))
        self.assertTrue(p.matches("Agora é:Sun Nov 02 03:49:05 GMT+01:00 2026\n".encode()))
        self.assertFalse(p.matches(b"Agora ?:Sun Nov 02 03:49:05 UTC 2026\n"))
        self.assertFalse(p.matches("Agora é:Sun Nov  2 03:49:05 UTC 2026\n".encode()))

    def test_literal_in_non_canonical_form(self):
        # A literal é in a pattern means its UTF-8 bytes, like \xc3\xa9.
        self.assertTrue(T.Pattern("é{int}").matches("é42".encode()))
        self.assertTrue(T.Pattern("\\x41").matches(b"A"))

    def test_int_and_any(self):
        p = T.Pattern("n={int} rest={any}!")
        self.assertTrue(p.matches(b"n=-42 rest=!"))
        self.assertTrue(p.matches(b"n=7 rest=a!b!"))
        self.assertFalse(p.matches(b"n=x rest=!"))

    def test_literal_brace_and_regex_chars(self):
        p = T.Pattern("\\{int} (.*)")
        self.assertTrue(p.matches(b"{int} (.*)"))
        self.assertFalse(p.matches(b"5 (.*)"))

    def test_bad_patterns(self):
        for bad in ("{date}", "{ctime", "x\\q", "{}"):
            with self.subTest(bad=bad):
                with self.assertRaises(T.EscapeError):
                    T.Pattern(bad)


class FormatParseTest(unittest.TestCase):
    def test_round_trip(self):
        t = T.Transcript("tcp", [[Turn(CLIENT, DATA, b"SOMA 2 2\n"), Turn(SERVER, DATA, b"4\n"),
                                  Turn(CLIENT, EOF), Turn(SERVER, RST)]])
        text = T.format_transcript(t)
        self.assertEqual(text, '# transcript v1 tcp\n> "SOMA 2 2\\n"\n< "4\\n"\n> EOF\n< RST\n')
        self.assertEqual(T.parse(text).connections, t.connections)

    def test_connections_sections(self):
        t = T.Transcript("tcp", [[Turn(CLIENT, DATA, b"a")], [Turn(CLIENT, DATA, b"b")]])
        text = T.format_transcript(t, ["echo/x"])
        self.assertIn("# connection 2\n", text)
        back = T.parse(text)
        self.assertEqual(len(back.connections), 2)
        self.assertEqual(back.connections[1][0].data, b"b")

    def test_comments_blank_lines_and_udp_header(self):
        t = T.parse('# transcript v1 udp\n\n# hi\n> ""\n> "x"\n')
        self.assertEqual(t.transport, "udp")
        self.assertEqual([x.data for x in t.connections[0]], [b"", b"x"])

    def test_string_with_quotes_and_backslashes(self):
        t = T.parse('> "a\\"b\\\\"\n')
        self.assertEqual(t.connections[0][0].data, b'a"b\\')

    def test_parse_errors_have_line_numbers(self):
        cases = [('# transcript v1 tcp\n> "ok"\n> "unterminated\n', 3),
                 ('> "ok"\n\n= "x"\n', 3),
                 ('> "x" trailing\n', 1),
                 ('> "\\q"\n', 1),
                 ('# transcript v2 tcp\n', 1),
                 ('# transcript v1 sctp\n', 1),
                 ('< ~"{nope}"\n', 1),
                 ('> hello\n', 1)]
        for text, line in cases:
            with self.subTest(text=text):
                with self.assertRaises(T.ParseError) as cm:
                    T.parse(text)
                self.assertEqual(cm.exception.line, line)

    def test_patterns_refused_in_recordings(self):
        with self.assertRaises(T.ParseError):
            T.parse('< ~"{ctime}"\n', allow_patterns=False)


class CanonicalCompareTest(unittest.TestCase):
    def turns(self, *spec):
        out = []
        for d, x in spec:
            out.append(Turn(d, x) if x in (EOF, RST) else Turn(d, DATA, x))
        return out

    def test_chunking_never_matters(self):
        a = self.turns((CLIENT, b"ab"), (CLIENT, b"c"), (SERVER, b"x"), (CLIENT, EOF))
        b = self.turns((CLIENT, b"a"), (CLIENT, b"bc"), (SERVER, b"x"), (CLIENT, EOF))
        self.assertTrue(T.compare_turns(a, b, "tcp").equal)

    def test_udp_datagrams_stay_separate(self):
        a = self.turns((CLIENT, b"ab"))
        b = self.turns((CLIENT, b"a"), (CLIENT, b"b"))
        c = T.compare_turns(a, b, "udp")
        self.assertFalse(c.equal)
        self.assertEqual(c.turn, 1)

    def test_close_events_are_ordered_last(self):
        a = self.turns((SERVER, EOF), (CLIENT, b"x"), (CLIENT, EOF))
        canon = T.canonical(a, "tcp")
        self.assertEqual([t.text() for t in canon], ['> "x"', "> EOF", "< EOF"])

    def test_first_differing_turn_and_diff(self):
        golden = self.turns((CLIENT, b"DIV 1 0\n"), (SERVER, b"ERRO divisao por zero\n"),
                            (CLIENT, EOF), (SERVER, EOF))
        rec = self.turns((CLIENT, b"DIV 1 0\n"), (SERVER, b"inf\n"), (CLIENT, EOF), (SERVER, EOF))
        c = T.compare_turns(golden, rec, "tcp", "golden.txt", "rec")
        self.assertFalse(c.equal)
        self.assertEqual(c.turn, 2)
        self.assertIn('-< "ERRO divisao por zero\\n"', c.diff)
        self.assertIn('+< "inf\\n"', c.diff)
        self.assertIn("--- golden.txt", c.diff)

    def test_missing_close_event(self):
        golden = self.turns((CLIENT, b"x"), (CLIENT, EOF), (SERVER, EOF))
        rec = self.turns((CLIENT, b"x"), (CLIENT, EOF))
        c = T.compare_turns(golden, rec, "tcp")
        self.assertEqual(c.turn, 3)

    def test_matched_patterns_do_not_show_in_the_diff(self):
        golden = [Turn(SERVER, DATA, pattern=T.Pattern("{ctime}")), Turn(CLIENT, DATA, b"a"),
                  Turn(CLIENT, EOF)]
        rec = self.turns((SERVER, b"Sun Nov  2 03:49:05 2026"), (CLIENT, b"b"), (CLIENT, EOF))
        c = T.compare_turns(golden, rec, "tcp")
        self.assertEqual(c.turn, 2)
        self.assertNotIn("{ctime}", c.diff)
        self.assertIn('-> "a"', c.diff)

    def test_pattern_merged_with_literal_under_chunking(self):
        golden = T.parse('< ~"Agora \\xc3\\xa9:{javadate}\\n"\n').connections[0]
        rec = self.turns((SERVER, "Agora é:".encode()),
                         (SERVER, b"Sun Nov 02 03:49:05 UTC 2026\n"))
        self.assertTrue(T.compare_turns(golden, rec, "tcp").equal)
        # and a golden written in two lines compares the same
        golden2 = T.parse('< "Agora \\xc3\\xa9:"\n< ~"{javadate}\\n"\n').connections[0]
        self.assertTrue(T.compare_turns(golden2, rec, "tcp").equal)

    def test_every_connection_against_the_golden(self):
        golden = T.parse('> "a"\n> EOF\n')
        rec = T.Transcript("tcp", [self.turns((CLIENT, b"a"), (CLIENT, EOF)),
                                   self.turns((CLIENT, b"b"), (CLIENT, EOF))])
        c = T.compare(golden, rec)
        self.assertFalse(c.equal)
        self.assertEqual((c.connection, c.turn), (2, 1))
        self.assertIn("recorded connection 2", c.diff)

    def test_repo_goldens_parse(self):
        for path in sorted(support.ROOT.glob("protocols/*/golden/*.txt")):
            with self.subTest(golden=str(path.relative_to(support.ROOT))):
                t = T.parse(path.read_text(encoding="utf-8"))
                self.assertEqual(len(t.connections), 1)


if __name__ == "__main__":
    unittest.main()
