"""Verdicts from observations alone (no processes): the order of checks, the
reasons, strict mode and known failures."""

import unittest

import support
from harness.judge import verdict
from harness.judge.verdict import ClientOutcome, Outcome
from harness.judge.verdict import Exit
from harness.spec import matrix, transcript


def cell(**scenario):
    m = matrix.load(support.FIXTURES / "matrix" / "good.yaml", support.FIXTURES / "matrix")
    c = matrix.expand(m)[0]
    if scenario:
        import dataclasses
        c = dataclasses.replace(c, scenario=dataclasses.replace(c.scenario, **scenario))
    return c, m


def ok_client(i=1, stdout=b"HI\n"):
    return ClientOutcome(i, ["client"], Exit(0), stdout)


class VerdictTest(unittest.TestCase):
    def setUp(self):
        self.c, self.m = cell()

    def judge(self, o, strict=False, known=None):
        return verdict.judge(self.c, o, strict, known)

    def test_pass(self):
        j = self.judge(Outcome(clients=[ok_client()], comparison=transcript.Comparison(True)))
        self.assertEqual((j.verdict, j.reason), ("pass", ""))

    def test_error_wins(self):
        j = self.judge(Outcome(error="not built: x", server_failure="y", clients=[]))
        self.assertEqual((j.verdict, j.reason), ("error", "not built: x"))

    def test_crash_names_the_signal(self):
        j = self.judge(Outcome(clients=[ClientOutcome(1, [], Exit(None, 6))]))
        self.assertEqual(j.reason, "client crashed with SIGABRT")

    def test_exit_code_with_stderr_tail(self):
        j = self.judge(Outcome(clients=[ClientOutcome(1, [], Exit(1), b"", b"x\nrefused\n")]))
        self.assertEqual((j.verdict, j.reason), ("fail", "client exit code 1, expected 0: refused"))

    def test_expected_non_zero_exit(self):
        c, _ = cell(exit=1, stdout=None)
        j = verdict.judge(c, Outcome(clients=[ClientOutcome(1, [], Exit(1))]))
        self.assertEqual(j.verdict, "pass")

    def test_output_mismatch_has_an_escaped_diff(self):
        j = self.judge(Outcome(clients=[ok_client(stdout=b"HO\r\n")]))
        self.assertEqual(j.reason, "output mismatch: stdout differs from expected")
        self.assertIn("-HI\\n", j.diff)
        self.assertIn("+HO\\r\\n", j.diff)

    def test_stdout_pattern(self):
        c, _ = cell(stdout=None, stdout_pattern=transcript.Pattern("{ctime}\\n"))
        good = Outcome(clients=[ok_client(stdout=b"Sun Nov  2 03:49:05 2026\n")])
        bad = Outcome(clients=[ok_client(stdout=b"Sun Nov 02 03:49:05 2026\n")])
        self.assertEqual(verdict.judge(c, good).verdict, "pass")
        self.assertEqual(verdict.judge(c, bad).verdict, "fail")

    def test_many_clients_reason_counts_the_others(self):
        clients = [ok_client(1), ClientOutcome(2, [], Exit(1)), ClientOutcome(3, [], Exit(1))]
        j = self.judge(Outcome(clients=clients))
        self.assertEqual(j.reason, "client 2 of 3: client exit code 1, expected 0 "
                                   "(and 1 more client)")

    def test_timeouts(self):
        j = self.judge(Outcome(clients=[ClientOutcome(1, [], Exit(None, 9), timed_out=True)],
                               timeout_s=2))
        self.assertEqual(j.reason, "timeout: client still running after 2 s")
        j = self.judge(Outcome(cell_timeout_s=30))
        self.assertEqual(j.reason, "timeout: the cell exceeded 30 s")

    def test_server_crash_during_the_cell(self):
        j = self.judge(Outcome(clients=[ok_client()], server_exit=Exit(None, 11),
                               server_exited_early=True))
        self.assertEqual(j.reason, "server crashed with SIGSEGV during the cell")
        # stopped by the driver is not a crash
        j = self.judge(Outcome(clients=[ok_client()], server_exit=Exit(None, 15, True)))
        self.assertEqual(j.verdict, "pass")

    def test_effects(self):
        j = self.judge(Outcome(clients=[ok_client()], effects=["a", "b"]))
        self.assertEqual(j.reason, "missing effect: a (and 1 more)")

    def test_transcript_deviates_or_fails_when_strict(self):
        cmp = transcript.Comparison(False, 3, None, "--- g\n+++ r\n")
        o = Outcome(clients=[ok_client()], comparison=cmp)
        self.assertEqual(self.judge(o).verdict, "deviates")
        self.assertIn("turn 3", self.judge(o).reason)
        j = self.judge(o, strict=True)
        self.assertEqual((j.verdict, j.reason), ("fail", "transcript mismatch at turn 3"))
        self.assertEqual(j.diff, "--- g\n+++ r\n")
        cmp2 = transcript.Comparison(False, 1, 4, "")
        self.assertIn("turn 1 of connection 4", self.judge(Outcome(
            clients=[ok_client()], comparison=cmp2)).reason)

    def test_known_failures(self):
        kf = self.m.known_failures[0]
        self.assertEqual(self.judge(Outcome(clients=[ok_client()]), known=kf).verdict, "xpass")
        j = self.judge(Outcome(clients=[ok_client(stdout=b"")]), known=kf)
        self.assertEqual(j.verdict, "xfail")
        self.assertIn("documented quirk", j.reason)
        self.assertIn("output mismatch", j.reason)
        # an error is never excused
        self.assertEqual(self.judge(Outcome(error="e"), known=kf).verdict, "error")

    def test_exit_policy(self):
        self.assertEqual([v for v in verdict.VERDICTS if verdict.ok_for_exit(v)],
                         ["pass", "deviates", "xfail"])


if __name__ == "__main__":
    unittest.main()
