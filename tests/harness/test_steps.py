"""Robustness scenarios (harness/spec/steps.py): the before:/restart:/compare:/
robustness: keys (validation with file:line), stream comparison, the
condition in the reason, and cells against fake servers with the raw
client's --hold, --reset-after and --half-close-first."""

import textwrap
import unittest

import support
from harness.errors import ConfigError
from harness.judge import compare, verdict
from harness.spec import matrix, transcript

PORTS = (32500, 32999)
RAW = f"{{python}} {support.ROOT / 'peers' / 'raw' / 'client.py'} {{host}} {{port}}"
FAKE = support.FAKE_SERVER

# A one-client echo server without SO_REUSEADDR: it cannot be restarted at
# once while a connection of the killed one is still open.
NO_REUSE = textwrap.dedent("""\
    import socket, sys
    s = socket.socket()
    s.bind(("", int(sys.argv[1])))
    s.listen(1)
    while True:
        c, _ = s.accept()
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
        c.close()
    """)


def _matrix(root, scenario, server=f"{FAKE} echo {{port}}", transport="tcp",
            golden=support.ECHO_GOLDEN):
    sc = "\n".join("        " + ln for ln in textwrap.dedent(scenario).strip().splitlines())
    body = (f"version: 1\npeers:\n  srv:\n    server: '{server}'\n"
            f"  raw:\n    default: false\n    client: '{RAW}'\n"
            f"protocols:\n  echo:\n    transport: {transport}\n    scenarios:\n      s:\n"
            f"{sc}\n")
    path = support.write_matrix(root, body, {"echo/s": golden})
    return matrix.load(path, root)


class Validation(support.HarnessTestCase):
    BAD = {
        "before: 3": "before must be a non-empty list of steps",
        "before: []": "before must be a non-empty list of steps",
        "before: [{stdn: 'x'}]": "before step 1: unknown key 'stdn'",
        "before: [{client: nobody}]": "before step 1: unknown peer 'nobody'",
        "before: [{client: srv}]": "before step 1: peer 'srv' has no client command",
        "before: [{background: 2}]": "background must be true or false",
        "before: [{stdin: '\\q'}]": "before step 1: stdin: unknown escape",
        "restart: SIGHUP": "restart must be true, false, SIGKILL or SIGTERM",
        "compare: bytes": "compare must be turns or streams, not 'bytes'",
        "robustness: 1": "robustness must be true or false",
    }

    def test_bad_values_give_file_line(self):
        for line, msg in self.BAD.items():
            with self.subTest(line=line):
                with self.assertRaises(ConfigError) as cm:
                    _matrix(self.tmp / "m", f"only_clients: [raw]\nstdin: 'Hello'\n{line}")
                text = str(cm.exception)
                self.assertIn(msg, text)
                self.assertRegex(text, r"matrix\.yaml:1[0-9]:")

    def test_before_is_tcp_only(self):
        with self.assertRaises(ConfigError) as cm:
            _matrix(self.tmp / "m", "only_clients: [raw]\nbefore: [{stdin: 'x'}]",
                    transport="udp", golden='# transcript v1 udp\n> "x"\n')
        self.assertIn("before: steps are for tcp protocols only", str(cm.exception))

    def test_model(self):
        m = _matrix(self.tmp / "m", """\
            only_clients: [raw]
            robustness: true
            compare: streams
            restart: true
            before:
              - {background: true, args: ['--hold'], stdin: 'a\\x00'}
              - {args: ['--reset-after', 2]}
            """)
        sc = m.protocols["echo"].scenarios["s"]
        self.assertEqual(sc.restart, "SIGKILL")
        self.assertEqual(sc.compare, "streams")
        self.assertTrue(sc.robustness)
        self.assertEqual([(s.client, s.stdin, s.args, s.background) for s in sc.before],
                         [("raw", b"a\x00", ("--hold",), True),
                          ("raw", b"", ("--reset-after", "2"), False)])
        plain = _matrix(self.tmp / "n", "only_clients: [raw]").protocols["echo"].scenarios["s"]
        self.assertEqual((plain.before, plain.restart, plain.compare, plain.robustness),
                         ((), None, "turns", False))


class Judging(unittest.TestCase):
    def _sc(self, golden_text, compare="turns", robustness=False, desc=""):
        return matrix.Scenario(
            "big", "echo", desc, b"", (), 1, None, None, 0, {}, None, support.ROOT,
            transcript.parse(golden_text), 1.0, 1.0, None, None, 1,
            compare=compare, robustness=robustness)

    def test_streams_ignore_interleaving(self):
        golden = '# transcript v1 tcp\n> "abcd"\n< "ABCD"\n> EOF\n< EOF\n'
        rec = transcript.parse('# transcript v1 tcp\n> "ab"\n< "AB"\n> "cd"\n< "CD"\n'
                               '< EOF\n> EOF\n')
        self.assertFalse(compare.compare(self._sc(golden), rec, "g").equal)
        self.assertTrue(compare.compare(self._sc(golden, "streams"), rec, "g").equal)
        bad = transcript.parse('# transcript v1 tcp\n> "ab"\n< "AB"\n> "cd"\n< "CX"\n')
        self.assertFalse(compare.compare(self._sc(golden, "streams"), bad, "g").equal)

    def test_step_connections_are_skipped_and_numbered(self):
        golden = '# transcript v1 tcp\n> "x"\n< "x"\n> EOF\n< EOF\n'
        rec = transcript.parse('# transcript v1 tcp\n# connection 1\n> "junk"\n> RST\n'
                               '# connection 2\n> "x"\n< "x"\n> EOF\n< EOF\n'
                               '# connection 3\n> "x"\n< "y"\n> EOF\n< EOF\n')
        c = compare.compare(self._sc(golden), rec, "g", skip=1)
        self.assertFalse(c.equal)
        self.assertEqual(c.connection, 3)
        self.assertTrue(compare.compare(self._sc(golden), transcript.Transcript(
            "tcp", rec.connections[:2]), "g", skip=1).equal)

    def test_pattern_golden_in_streams(self):
        golden = '# transcript v1 tcp\n> ~"{any}"\n< ~"0123{any}"\n> EOF\n< EOF\n'
        rec = transcript.Transcript("tcp", [[
            transcript.Turn(">", "data", b"0123" * 1000), transcript.Turn("<", "data", b"01"),
            transcript.Turn("<", "data", b"23" * 10), transcript.Turn(">", "EOF"),
            transcript.Turn("<", "EOF")]])
        self.assertTrue(compare.compare(self._sc(golden, "streams"), rec, "g").equal)

    def test_condition_named_in_reason(self):
        sc = self._sc('# transcript v1 tcp\n', robustness=True, desc="after a reset")
        cell = matrix.Cell(None, sc, None, None)  # only the scenario is read
        j = compare.name_condition(cell, verdict.Judgement(verdict.FAIL, "connection refused"))
        self.assertEqual(j.reason, "big (after a reset): connection refused")
        ok = compare.name_condition(cell, verdict.Judgement(verdict.PASS, ""))
        self.assertEqual(ok.reason, "")
        plain = matrix.Cell(None, self._sc('# transcript v1 tcp\n'), None, None)
        self.assertEqual(compare.name_condition(
            plain, verdict.Judgement(verdict.FAIL, "x")).reason, "x")


class Cells(support.HarnessTestCase):
    port_range = PORTS

    def _run(self, scenario, **kw):
        m = _matrix(self.tmp / "m", scenario, **kw)
        results = support.run_cells(m, port_range=PORTS)
        self.assertEqual(len(results), 1)
        self.assertClean(results)
        return results[0]

    JUDGED = ("only_clients: [raw]\nstdin: 'Hello'\nstdout: 'Hello'\ntimeout_s: 5\n"
              "robustness: true\n")

    def test_idle_reset_and_half_close_steps_then_served(self):
        r = self._run(self.JUDGED + textwrap.dedent("""\
            before:
              - {background: true, args: ['--hold'], stdin: 'He'}
              - {args: ['--reset-after', '3'], stdin: 'Hello'}
              - {args: ['--half-close-first']}
            """))
        self.assertVerdict(r, verdict.PASS)
        self.assertEqual(len(r.recorded.connections), 4)  # three steps, one judged
        self.assertEqual(r.recorded.connections[0][0].data, b"He")

    def test_restart_on_the_same_port(self):
        r = self._run(self.JUDGED + "restart: SIGKILL\n"
                      "before: [{background: true, args: ['--hold'], stdin: 'x'}]\n")
        self.assertVerdict(r, verdict.PASS)
        r = self._run(self.JUDGED + "restart: SIGTERM\n")
        self.assertVerdict(r, verdict.PASS)

    def test_restart_without_reuseaddr_names_the_condition(self):
        script = self.tmp / "noreuse.py"
        script.write_text(NO_REUSE)
        r = self._run(self.JUDGED + "description: killed and restarted\nrestart: true\n"
                      "before: [{background: true, args: ['--hold'], stdin: 'x'}]\n",
                      server=f"{{python}} {script} {{port}}")
        self.assertVerdict(r, verdict.FAIL, "s (killed and restarted): restarted at once "
                                            "after SIGKILL, the server exit code 1")
        self.assertIn("SO_REUSEADDR", r.reason)

    def test_a_server_that_never_closes_fails_the_step(self):
        r = self._run(self.JUDGED.replace("timeout_s: 5", "timeout_s: 1")
                      + "before: [{args: ['--half-close-first']}]\n",
                      server=f"{FAKE} hang {{port}}")
        self.assertVerdict(r, verdict.FAIL, "before step 1 (raw --half-close-first) still "
                                            "running after 1 s")

    def test_one_client_server_fails_the_idle_scenario(self):
        script = self.tmp / "one.py"
        script.write_text(NO_REUSE)
        r = self._run(self.JUDGED + "before: [{background: true, args: ['--hold']}]\n",
                      server=f"{{python}} {script} {{port}}")
        # Named from evidence: the one-at-a-time server reads the idle
        # connection while the judged client waits for an accept.
        self.assertVerdict(r, verdict.FAIL, "s: deadlock")
        self.assertIn("it serves one client at a time and is busy with another connection",
                      r.reason)

    def test_big_echo_as_streams(self):
        r = self._run("""\
            only_clients: [raw]
            compare: streams
            stdin: [{repeat: '0123456789abcdef', times: 62500}]
            stdout: [{repeat: '0123456789abcdef', times: 62500}]
            """, golden='# transcript v1 tcp\n> ~"{any}"\n< ~"0123{any}"\n> EOF\n< EOF\n')
        self.assertVerdict(r, verdict.PASS)


if __name__ == "__main__":
    unittest.main()
