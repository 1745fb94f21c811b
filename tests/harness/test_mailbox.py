"""harness/spec/mailbox.py: the mailbox: effect of smtp scenarios, on message
files written into a temporary scratch folder (no processes)."""

import base64
import tempfile
import unittest
from pathlib import Path

import support  # noqa: F401  (puts the repository on sys.path)
from harness.run.cell import read_regular
from harness.spec import mailbox

BLOB = bytes((i * 167 + 13) % 256 for i in range(1000))


def _message(subject=b"Ol\xc3\xa1", b64=None, blank=b"\r\n", env=True):
    b64 = base64.b64encode(BLOB) if b64 is None else b64
    lines = b"".join(b64[i:i + 76] + b"\r\n" for i in range(0, len(b64), 76))
    head = (b"X-Envelope-From: <a@x>\r\nX-Envelope-To: <b@y>\r\n"
            b"X-Envelope-To: <c@z>\r\n") if env else \
        b"Return-path: <a@x>\r\nEnvelope-to: b@y,\r\n c@z\r\n"
    return (head + b"From: <a@x>\r\nSubject: " + subject + b"\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n"
            + blank + b"--B\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
            b"oi\r\n.x\r\n\r\n--B\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Disposition: attachment; filename=\"blob.bin\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + lines + b"--B--\r\n")


SPEC = mailbox.Spec(1, "a@x", ("b@y", "c@z"), "Olá", "oi\n.x\n", BLOB, "blob.bin")


class MailboxCheck(unittest.TestCase):

    def check(self, *messages, spec=SPEC):
        with tempfile.TemporaryDirectory() as d:
            if messages:
                (Path(d) / "mailbox").mkdir()
            for i, m in enumerate(messages, 1):
                (Path(d) / "mailbox" / f"{i}.eml").write_bytes(m)
            return mailbox.check(spec, Path(d), read_regular)

    def test_a_right_message_passes(self):
        self.assertEqual(self.check(_message()), [])

    def test_an_rfc2047_subject_and_an_mta_envelope_pass(self):
        self.assertEqual(self.check(_message(b"=?utf-8?b?T2zDoQ==?=", env=False)), [])

    def test_count(self):
        self.assertEqual(self.check(), ["mailbox/ holds 0 message(s), expected 1"])
        self.assertEqual(self.check(spec=mailbox.Spec(0)), [])
        self.assertIn("holds 2", self.check(_message(), _message())[0])

    def test_attachment_byte_for_byte(self):
        bad = base64.b64encode(BLOB[:-1] + b"x")
        got = self.check(_message(b64=bad))
        self.assertEqual(len(got), 1)
        self.assertIn("first difference at byte 999", got[0])

    def test_base64_without_padding_or_in_long_lines(self):
        text = base64.b64encode(BLOB)
        self.assertIn("not valid base64", self.check(_message(b64=text.rstrip(b"=")))[0])
        one_line = _message().replace(b"\r\n", b"\n")  # still parses
        self.assertEqual(self.check(one_line), [])
        long_lines = _message().replace(text[:76] + b"\r\n", text[:76])
        self.assertIn("a line of 152 characters", self.check(long_lines)[0])

    def test_wrong_envelope_subject_and_text(self):
        spec = mailbox.Spec(1, "z@z", ("b@y",), "Oi", "other\n")
        got = "\n".join(self.check(_message(), spec=spec))
        self.assertIn("envelope sender 'a@x'", got)
        self.assertIn("envelope recipients", got)
        self.assertIn("Subject 'Olá'", got)
        self.assertIn("text part", got)

    def test_missing_blank_line_is_a_malformed_message(self):
        got = self.check(_message(blank=b""), spec=mailbox.Spec(1))
        self.assertTrue(any("malformed message" in p for p in got), got)


if __name__ == "__main__":
    unittest.main()
