"""harness/grading/diagnose_smtp.py: each SMTP lab bug named from the evidence
that identifies it, on synthetic cell results (no processes), and a
correct session left to the generic rules."""

import unittest
from types import SimpleNamespace

import support  # noqa: F401  (puts the repository on sys.path)
from harness.grading import diagnose, diagnose_smtp
from harness.spec.transcript import CLIENT, DATA, SERVER, Transcript, Turn

GOOD = [(SERVER, b"220 lesson.example ESMTP ready\r\n"), (CLIENT, b"HELO a\r\n"),
        (SERVER, b"250 lesson.example\r\n"), (CLIENT, b"MAIL FROM:<a@x>\r\n"),
        (SERVER, b"250 OK\r\n"), (CLIENT, b"RCPT TO:<b@y>\r\n"), (SERVER, b"250 OK\r\n"),
        (CLIENT, b"DATA\r\n"), (SERVER, b"354 End data with <CR><LF>.<CR><LF>\r\n"),
        (CLIENT, b"Subject: x\r\n\r\n..hidden\r\n.\r\n"), (SERVER, b"250 OK\r\n")]


def result(turns, scenario="plain", reason="client exit code 1, expected 0", client="ana"):
    recorded = Transcript("tcp", [[Turn(d, DATA, b) for d, b in turns]])
    cell = SimpleNamespace(client=SimpleNamespace(name=client),
                           scenario=SimpleNamespace(name=scenario, before=()),
                           protocol=SimpleNamespace(name="smtp"))
    return SimpleNamespace(cell=cell, recorded=recorded, reason=reason)


def replace(turns, index, data):
    out = list(turns)
    out[index] = (out[index][0], data)
    return out


class SmtpBugs(unittest.TestCase):

    def test_the_catalogue_is_merged_into_diagnose(self):
        for bug in diagnose_smtp.CATALOGUE:
            self.assertIn(bug, diagnose.CATALOGUE)

    def test_a_correct_session_is_left_to_the_generic_rules(self):
        self.assertIsNone(diagnose_smtp.classify(result(GOOD), "client"))
        self.assertIsNone(diagnose_smtp.classify(result(GOOD, "dot-line"), "client"))

    def test_bare_lf(self):
        bug, why = diagnose_smtp.classify(result(replace(GOOD, 1, b"HELO a\n")), "client")
        self.assertEqual(bug, "smtp-bare-lf")
        self.assertIn('"HELO a\\n"', why)

    def test_no_wait_for_354(self):
        turns = GOOD[:7] + [(CLIENT, b"DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n")]
        bug, why = diagnose_smtp.classify(result(turns), "client")
        self.assertEqual(bug, "smtp-no-354-wait")
        self.assertIn("before the server answered DATA", why)

    def test_no_dot_stuffing(self):
        turns = replace(GOOD, 9, b"Subject: x\r\n\r\nbefore\r\n.\r\n.hidden\r\n.\r\n")
        turns.append((SERVER, b"500 Command unrecognized\r\n"))
        bug, _ = diagnose_smtp.classify(result(turns, "dot-line"), "client")
        self.assertEqual(bug, "smtp-no-dot-stuffing")

    def test_base64_from_the_mailbox_check_or_a_long_line(self):
        reason = ("missing effect: mailbox/1.eml: attachment base64 has a line of 1336 "
                  "characters (at most 76)")
        bug, why = diagnose_smtp.classify(result(GOOD, "attachment", reason), "client")
        self.assertEqual(bug, "smtp-base64-lines")
        self.assertIn("1336", why)
        turns = replace(GOOD, 9, b"Subject: x\r\n\r\n" + b"QUJD" * 334 + b"\r\n.\r\n")
        turns[-1] = (SERVER, b"500 Line too long\r\n")
        bug, why = diagnose_smtp.classify(result(turns, "attachment"), "client")
        self.assertEqual(bug, "smtp-base64-lines")
        self.assertIn("1336 bytes", why)

    def test_missing_blank_line(self):
        reason = "missing effect: mailbox/1.eml: malformed message: MissingHeaderBodySeparatorDefect"
        bug, _ = diagnose_smtp.classify(result(GOOD, "plain", reason), "client")
        self.assertEqual(bug, "smtp-no-blank-line")

    def test_only_the_students_client_is_judged_here(self):
        bad = result(replace(GOOD, 1, b"HELO a\n"))
        self.assertIsNone(diagnose_smtp.classify(bad, "server"))
        self.assertIsNone(diagnose_smtp.classify(result(GOOD, client="raw"), "client"))


if __name__ == "__main__":
    unittest.main()
