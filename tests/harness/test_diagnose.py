"""The diagnosis rules on synthetic cell results (no processes): each named
bug from the evidence that identifies it, the mode rules (fails only in
segment / locale-c / ipv6), a plain failure explaining the other modes,
and plain feedback for what no rule explains."""

import re
import unittest

import support
from harness.grading import check, diagnose, students
from harness.judge.verdict import FAIL, PASS, ClientOutcome, Judgement, Outcome
from harness.run import runner
from harness.judge.verdict import Exit
from harness.spec import matrix, transcript
from harness.spec.transcript import CLIENT, DATA, EOF, RST, SERVER, Turn

M = matrix.load(support.ROOT / "matrix.yaml", support.ROOT)
ME = "alice"


def _matrix(protocol: str) -> check.CheckMatrix:
    st = students.from_commands(ME, "{python} s.py {port}", "{python} c.py {host} {port}",
                                protocol)
    return check.check_matrix(M, [check.Checked(st, protocol)], ["c", "python", "java"])


CM = {p: _matrix(p) for p in ("upper", "echo", "timeofday", "calc", "udp")}


def d(direction: str, data: bytes) -> Turn:
    return Turn(direction, DATA, data)


def result(cell_id: str, verdict: str = FAIL, reason: str = "output mismatch", *,
           stdout: bytes | None = None, turns: list[Turn] | None = None, conns=None,
           timed_out: bool = False, code: int = 0, stderr: bytes = b"",
           server_exit: Exit | None = None, early: bool = False,
           server_stderr: bytes = b"") -> runner.CellResult:
    proto, sc, server, client, mode = cell_id.split("/")
    cm = CM[proto]
    cell = matrix.Cell(cm.protocols[proto], cm.protocols[proto].scenarios[sc],
                       cm.peers[server], cm.peers[client], mode)
    o = Outcome(server_exit=server_exit or Exit(None, 15, True), server_exited_early=early)
    o.clients = [ClientOutcome(1, ["client"], Exit(code) if not timed_out else Exit(None, 15),
                               stdout if stdout is not None else (cell.scenario.stdout or b""),
                               stderr, timed_out=timed_out)]
    if conns is None:
        conns = [turns if turns is not None else cell.scenario.golden.connections[0]]
    rec = transcript.Transcript(cell.protocol.transport, conns)
    return runner.CellResult(cell, 1, Judgement(verdict, reason), o, 0.1,
                             recorded=rec, server_stderr=server_stderr)


def ok(cell_id: str) -> runner.CellResult:
    return result(cell_id, PASS, "")


def names(results, **kw) -> list[tuple[str, str]]:
    return [(b.id, b.role) for b in diagnose.diagnose(results, ME, **kw).bugs]


HELLO_REQ = d(CLIENT, b"hello, world\n")


class ExplainBytesTest(unittest.TestCase):
    E = diagnose.Expect(b"HELLO, WORLD\n")

    def test_each_named_difference(self):
        cases = {b"HELLO, WORLD": "no-newline", b"HELLO, WORLD\r\n": "crlf",
                 b"b'HELLO, WORLD\\n'": "bytes-repr", b"HELLO, WORLD\n": None,
                 b"nothing alike": None}
        for got, want in cases.items():
            with self.subTest(got=got):
                self.assertEqual(diagnose.explain_bytes(self.E, got), want)

    def test_extra_output_only_for_what_a_client_printed(self):
        got = b"Resposta: HELLO, WORLD\n"
        self.assertIsNone(diagnose.explain_bytes(self.E, got))
        self.assertEqual(diagnose.explain_bytes(self.E, got, stdout=True), "extra-output")

    def test_charset_variants_of_a_literal(self):
        e = diagnose.Expect("A\u00e7\u00e3O \u00e9 OK\n".encode())
        for got in (b"A??O ? OK\n", "A\ufffd\ufffdO \ufffd OK\n".encode(),
                    "A\u00e7\u00e3O \u00e9 OK\n".encode("latin-1")):
            with self.subTest(got=got):
                self.assertEqual(diagnose.explain_bytes(e, got), "charset")

    def test_charset_in_a_pattern_keeps_its_placeholders(self):
        e = diagnose.Expect(pattern=transcript.Pattern("Agora \\xc3\\xa9:{javadate}\\n"))
        got = b"Agora ?:Tue Dec 01 08:00:00 UTC 2026\n"
        self.assertEqual(diagnose.explain_bytes(e, got), "charset")
        self.assertIsNone(diagnose.explain_bytes(e, b"Agora \xc3\xa9:yesterday\n"))


class ServerBugsTest(unittest.TestCase):
    def test_no_newline_and_crlf_and_bytes_repr_on_the_wire(self):
        for reply, bug in ((b"HELLO, WORLD", "no-newline"), (b"HELLO, WORLD\r\n", "crlf"),
                           (b"b'HELLO, WORLD\\n'", "bytes-repr")):
            with self.subTest(bug=bug):
                r = result(f"upper/hello/{ME}/c/plain", turns=[
                    HELLO_REQ, d(SERVER, reply), Turn(CLIENT, EOF), Turn(SERVER, EOF)],
                    stdout=reply)
                self.assertEqual(names([r]), [(bug, "server")])

    def test_one_recv_server_fails_only_in_segment_modes(self):
        rs = [ok(f"upper/hello/{ME}/c/plain"),
              result(f"upper/hello/{ME}/c/segment", reason="client exit code 1", code=1,
                     turns=[HELLO_REQ, d(SERVER, b"H"), Turn(CLIENT, RST)])]
        diag = diagnose.diagnose(rs, ME)
        self.assertEqual([(b.id, b.evidence) for b in diag.bugs],
                         [("one-recv-server", [f"upper/hello/{ME}/c/segment"])])
        self.assertIn('replied "H"', diag.bugs[0].details[0])

    def test_single_client_the_server_exited_by_itself(self):
        r = result(f"upper/reset-mid-request/{ME}/c/plain", reason="client exit code 1",
                   code=1, conns=[[], []], early=True, server_exit=Exit(0))
        self.assertEqual(names([r]), [("single-client", "server")])

    def test_single_client_explains_a_cell_where_the_server_was_still_exiting(self):
        # echo/concurrent: the first client was served; the other 19 were
        # reset or refused while the server exited, and the driver stopped
        # it before its end was seen (not "early", killed by the driver).
        conns = [[d(CLIENT, b"Hello, world"), Turn(CLIENT, EOF), d(SERVER, b"Hello, world"),
                  Turn(SERVER, EOF)], [d(CLIENT, b"Hello, world"), Turn(SERVER, RST)], []]
        racing = result(f"echo/concurrent/{ME}/c/plain", reason="client 2 exit code 1",
                        conns=conns)
        racing.outcome.clients *= 20
        proof = result(f"echo/clients-100/{ME}/c/plain", reason="client 2 exit code 1",
                       conns=conns, early=True, server_exit=Exit(0))
        diag = diagnose.diagnose([racing, proof], ME)
        self.assertEqual([(b.id, sorted(b.evidence)) for b in diag.bugs],
                         [("single-client", sorted([racing.cell.id, proof.cell.id]))])
        self.assertEqual(diag.unmatched, [])
        # Alone, the racing cell names nothing: clients reset prove no exit.
        self.assertEqual(names([racing]), [])

    def test_single_client_names_the_cause_of_one_at_a_time_too(self):
        rs = [result(f"upper/reset-mid-request/{ME}/c/plain", code=1, conns=[[], []],
                     early=True, server_exit=Exit(0)),
              result(f"upper/idle-client/{ME}/c/plain", reason="timeout", timed_out=True,
                     stdout=b"", conns=[[], [HELLO_REQ]])]
        diag = diagnose.diagnose(rs, ME)
        self.assertEqual([b.id for b in diag.bugs], ["single-client"])
        self.assertEqual(len(diag.bugs[0].evidence), 2)

    def test_one_at_a_time_the_judged_client_got_nothing_while_another_held_on(self):
        r = result(f"upper/idle-client/{ME}/c/plain", reason="timeout", timed_out=True,
                   stdout=b"", conns=[[Turn(CLIENT, EOF)], [HELLO_REQ, d(SERVER, b"HELLO")]])
        self.assertEqual(names([r]), [("one-at-a-time", "server")])

    def test_never_closes_is_not_one_at_a_time_with_an_idle_client(self):
        # The judged client got its whole reply, but no EOF (and the killed
        # client's buffered stdout is lost).
        r = result(f"upper/idle-client/{ME}/c/plain", reason="timeout", timed_out=True,
                   stdout=b"", conns=[[d(SERVER, b"")], [HELLO_REQ, d(SERVER, b"HELLO, WORLD\n")]])
        self.assertEqual(names([r]), [("never-closes", "server")])

    def test_crash_on_bad_input_process_or_thread(self):
        dead = result(f"upper/binary/{ME}/raw/plain", early=True, server_exit=Exit(1),
                      stdout=b"", turns=[d(CLIENT, b"\x00abc\xff\n"), Turn(SERVER, RST)],
                      server_stderr=b"UnicodeDecodeError: 'utf-8' codec can't decode\n")
        thread = result(f"upper/binary/{ME}/raw/plain", stdout=b"",
                        turns=[d(CLIENT, b"\x00abc\xff\n"), Turn(SERVER, EOF)],
                        server_stderr=b"Traceback (most recent call last):\n  x\nValueError\n")
        for r in (dead, thread):
            self.assertEqual(names([r]), [("crash-on-bad-input", "server")])

    # What rafa's Java calc server (tests/zoo) printed when "SOMA 1 x" killed
    # the client's thread.
    JAVA_TRACE = (b'Exception in thread "Thread-0" java.lang.NumberFormatException: For input '
                  b'string: "x"\n\tat java.base/java.lang.Double.parseDouble(Double.java:651)\n'
                  b'\tat Server.answer(Server.java:100)\n'
                  b'\tat java.base/java.lang.Thread.run(Thread.java:840)\n')
    CALC_ERRORS_CUT = [d(CLIENT, b"DIV 1 0\n"), d(SERVER, b"ERRO divisao por zero\n"),
                       d(CLIENT, b"POT 2 3\n"), d(SERVER, b"ERRO operacao desconhecida\n"),
                       d(CLIENT, b"SOMA 1\n"), d(SERVER, b"ERRO numero de operandos\n"),
                       d(CLIENT, b"SOMA 1 x\n"), Turn(SERVER, EOF), Turn(CLIENT, EOF)]

    def test_crash_on_bad_input_with_a_reference_client(self):
        # The C client sends the malformed lines of calc/errors; the server
        # closes where the contract has an ERRO reply.
        rs = [result(f"calc/errors/{ME}/c/{m}", reason="client exit code 1, expected 0",
                     code=1, stdout=b"", turns=self.CALC_ERRORS_CUT,
                     server_stderr=self.JAVA_TRACE) for m in ("plain", "segment")]
        diag = diagnose.diagnose(rs, ME)
        self.assertEqual([(b.id, len(b.evidence)) for b in diag.bugs],
                         [("crash-on-bad-input", 2)])
        self.assertEqual(diag.unmatched, [])
        detail = diag.bugs[0].details[0]
        self.assertIn('"SOMA 1 x\\n"', detail)
        self.assertIn('"ERRO numero invalido\\n"', detail)
        self.assertIn('NumberFormatException: For input string: "x"', detail)

    def test_crash_on_bad_input_a_c_server_died_before_the_first_error_reply(self):
        r = result(f"calc/errors/{ME}/c/plain", code=1, stdout=b"", early=True,
                   server_exit=Exit(None, 11), turns=[d(CLIENT, b"DIV 1 0\n"), Turn(SERVER, RST)])
        self.assertEqual(names([r]), [("crash-on-bad-input", "server")])

    def test_closing_before_an_ordinary_reply_or_unprovoked_is_not_a_crash(self):
        basic = result(f"calc/basic/{ME}/c/plain", code=1, stdout=b"4\n", turns=[
            d(CLIENT, b"SOMA 2 2\n"), d(SERVER, b"4\n"), d(CLIENT, b"SUB 5 3\n"),
            Turn(SERVER, EOF)])
        # A reset before any reply, with no crash on record (a server going
        # away, say), says nothing about the input.
        gone = result(f"calc/errors/{ME}/c/plain", code=1, stdout=b"",
                      turns=[d(CLIENT, b"DIV 1 0\n"), Turn(SERVER, RST)])
        for r in (basic, gone):
            with self.subTest(cell=r.cell.id):
                self.assertEqual(names([r]), [])

    def test_never_closes_whole_reply_but_no_eof(self):
        r = result(f"upper/hello/{ME}/c/plain", reason="timeout", timed_out=True,
                   turns=[HELLO_REQ, d(SERVER, b"HELLO, WORLD\n"), Turn(CLIENT, EOF)])
        self.assertEqual(names([r]), [("never-closes", "server")])

    def test_loopback_only_from_two_hosts_or_the_bind_probe(self):
        r = result(f"upper/hello/{ME}/c/two-hosts", conns=[],
                   reason="server bound to 127.0.0.1 port 20001 only: a client on another "
                          "host (10.213.0.1) cannot reach it")
        self.assertEqual(names([r]), [("loopback-only", "server")])
        diag = diagnose.diagnose([ok(f"upper/hello/{ME}/c/plain")], ME, ["127.0.0.1"], 20001)
        self.assertEqual([(b.id, b.evidence) for b in diag.bugs],
                         [("loopback-only", ["probe:bind"])])
        self.assertEqual(names([], probe_addrs=["0.0.0.0"]), [])
        self.assertEqual(names([], probe_addrs=["::"]), [])

    def test_wrong_port_server(self):
        r = result(f"upper/hello/{ME}/c/plain", conns=[],
                   reason="server not listening on port 20000 after 10 s (it is listening "
                          "on 20007 instead)")
        self.assertEqual(names([r]), [("wrong-port", "server")])


class CrashLineTest(unittest.TestCase):
    def test_the_last_line_that_is_not_a_stack_frame(self):
        py = (b'Traceback (most recent call last):\n  File "server.py", line 9, in <module>\n'
              b'    n = float(x)\n        ^^^^^^^^\nValueError: could not convert string\n')
        cases = {ServerBugsTest.JAVA_TRACE:
                 'Exception in thread "Thread-0" java.lang.NumberFormatException: '
                 'For input string: "x"',
                 py: "ValueError: could not convert string",
                 b"server: bind: Address in use\n\n": "server: bind: Address in use",
                 b"\tat only.a.Frame(F.java:1)\n": "at only.a.Frame(F.java:1)",
                 b"": ""}
        for stderr, want in cases.items():
            with self.subTest(stderr=stderr):
                self.assertEqual(diagnose.crash_line(stderr), want)


class ClientBugsTest(unittest.TestCase):
    def test_printed_output(self):
        for out, bug in ((b"Resposta: HELLO, WORLD\n", "extra-output"),
                         (b"b'HELLO, WORLD\\n'\n", "bytes-repr")):
            with self.subTest(bug=bug):
                r = result(f"upper/hello/c/{ME}/plain", stdout=out)
                self.assertEqual(names([r]), [(bug, "client")])

    def test_request_without_newline(self):
        r = result(f"upper/hello/c/{ME}/plain", reason="transcript mismatch at turn 1",
                   turns=[d(CLIENT, b"hello, world"), Turn(CLIENT, EOF),
                          d(SERVER, b"HELLO, WORLD"), Turn(SERVER, EOF)],
                   stdout=b"HELLO, WORLD")
        self.assertEqual(names([r]), [("no-newline", "client")])

    def test_one_recv_client_fails_only_in_segment_modes(self):
        rs = [ok(f"upper/hello/c/{ME}/plain"),
              result(f"upper/hello/c/{ME}/segment", stdout=b"H")]
        diag = diagnose.diagnose(rs, ME)
        self.assertEqual([b.id for b in diag.bugs], ["one-recv-client"])
        self.assertIn('printed "H"', diag.bugs[0].details[0])

    def test_charset_fails_only_in_locale_c(self):
        rs = [ok(f"upper/accents/c/{ME}/plain"),
              result(f"upper/accents/c/{ME}/locale-c", stdout=b"A??O ? OK\n")]
        self.assertEqual(names(rs), [("charset", "client")])

    def test_ipv4_only_never_connected_to_ipv6(self):
        rs = [ok(f"upper/hello/c/{ME}/plain"),
              result(f"upper/hello/c/{ME}/ipv6", code=1, stdout=b"", conns=[],
                     stderr=b"socket.gaierror: Address family for hostname not supported\n")]
        self.assertEqual(names(rs), [("ipv4-only", "client")])

    def test_wrong_port_never_connected_at_all(self):
        r = result(f"upper/hello/c/{ME}/plain", code=1, stdout=b"", conns=[],
                   stderr=b"ConnectionRefusedError: [Errno 111] Connection refused\n")
        self.assertEqual(names([r]), [("wrong-port", "client")])


class FalseNamesTest(unittest.TestCase):
    """Issue 14: a rule names a bug only with evidence that nothing in the
    cell contradicts; specific rules win over general ones."""

    def test_utf8_split_wins_over_one_recv_server(self):
        trace = (b"Traceback (most recent call last):\n  File \"server.py\", line 9\n"
                 b"UnicodeDecodeError: 'utf-8' codec can't decode byte 0xc3 in position 3: "
                 b"unexpected end of data\n")
        rs = [ok(f"upper/accents/{ME}/c/plain"),
              result(f"upper/accents/{ME}/c/segment=utf8", code=1, stdout=b"",
                     turns=[d(CLIENT, "ação é ok\n".encode()), Turn(SERVER, RST)],
                     server_stderr=trace)]
        diag = diagnose.diagnose(rs, ME)
        self.assertEqual([b.id for b in diag.bugs], ["utf8-split"])
        self.assertIn("UnicodeDecodeError", diag.bugs[0].details[0])

    def test_timeouts_in_segment_mode_are_not_one_recv(self):
        # A correct server on a busy machine: the clients gave up waiting;
        # the server sent a beginning of the reply or nothing, and never
        # closed. No reply made from a prefix of the request.
        for got in (b"", b"HELLO"):
            with self.subTest(got=got):
                turns = [HELLO_REQ] + ([d(SERVER, got)] if got else [])
                rs = [ok(f"upper/hello/{ME}/c/plain"),
                      result(f"upper/hello/{ME}/c/segment", reason="timeout", timed_out=True,
                             stdout=b"", turns=turns)]
                diag = diagnose.diagnose(rs, ME)
                self.assertEqual(diag.bugs, [])
                self.assertEqual(len(diag.unmatched), 1)

    def test_a_close_after_a_timeout_is_no_evidence(self):
        # The driver's teardown after the clients gave up can put the
        # server's EOF on record: still no named bug.
        seg = result(f"upper/hello/{ME}/c/segment", reason="timeout", timed_out=True,
                     stdout=b"", turns=[HELLO_REQ, d(SERVER, b"HELLO"), Turn(SERVER, EOF)])
        err = result(f"calc/errors/{ME}/c/plain", reason="timeout", timed_out=True,
                     stdout=b"", turns=[d(CLIENT, b"DIV 1 0\n"), Turn(SERVER, EOF)])
        self.assertEqual(names([ok(f"upper/hello/{ME}/c/plain"), seg]), [])
        self.assertEqual(names([err]), [])

    def test_a_client_that_timed_out_is_not_one_recv_client(self):
        rs = [ok(f"upper/hello/c/{ME}/plain"),
              result(f"upper/hello/c/{ME}/segment", stdout=b"", timed_out=True)]
        self.assertEqual(names(rs), [])

    def test_charset_needs_a_charset_difference_in_the_bytes(self):
        rs = [ok(f"echo/concurrent/{ME}/c/plain"),
              result(f"echo/concurrent/{ME}/c/locale-c", reason="client 2 of 20: reset",
                     code=1, stdout=b"", turns=[d(CLIENT, b"Hello, world"), Turn(SERVER, RST)])]
        self.assertNotIn("charset", [b for b, _ in names(rs)])

    def test_ipv4_only_even_when_plain_fails_for_another_reason(self):
        rs = [result(f"upper/hello/c/{ME}/plain", stdout=b"HELLO, WORLD\n\n"),
              result(f"upper/hello/c/{ME}/ipv6", code=1, stdout=b"", conns=[],
                     stderr=b"OSError: [Errno 97] Address family not supported by protocol\n")]
        ids = [b for b, _ in names(rs)]
        self.assertIn("ipv4-only", ids)
        self.assertNotIn("wrong-port", ids)

    def test_a_jvm_banner_and_a_timeout_are_not_wrong_port(self):
        banner = b"Picked up JDK_JAVA_OPTIONS: -Xss512k\n"
        r = result(f"calc/basic/c/{ME}/plain", reason="timeout", stdout=b"", conns=[],
                   timed_out=True, stderr=banner)
        self.assertEqual(names([r]), [])
        self.assertEqual(diagnose.crash_line(banner + b"Exception in thread \"main\" x\n"),
                         'Exception in thread "main" x')
        self.assertEqual(diagnose.crash_line(banner), "")

    def test_unicode_upper_is_no_named_bug_and_is_put_in_words(self):
        req = "ação é ok\n".encode()
        turns = [d(CLIENT, req), d(SERVER, "AÇÃO É OK\n".encode()), Turn(CLIENT, EOF),
                 Turn(SERVER, EOF)]
        r = result(f"upper/accents/{ME}/c/plain", turns=turns)
        diag = diagnose.diagnose([r], ME)
        self.assertEqual(diag.bugs, [])
        words = " ".join(diag.unmatched[0].words)
        self.assertIn("`çã` (c3 a7 c3 a3) came back as `ÇÃ` (c3 87 c3 83), at byte 1", words)
        self.assertIn("`é` (c3 a9) came back as `É` (c3 89)", words)
        self.assertIn("only a-z may change", words)

    def test_an_extra_trailing_newline_is_put_in_words(self):
        turns = [HELLO_REQ, d(SERVER, b"HELLO, WORLD\n\n"), Turn(CLIENT, EOF), Turn(SERVER, EOF)]
        diag = diagnose.diagnose([result(f"upper/hello/{ME}/c/plain", turns=turns)], ME)
        self.assertEqual(diag.bugs, [])
        self.assertEqual(diag.unmatched[0].words,
                         ["your reply has one extra `\\n` at the end"])


class UnflushedTest(unittest.TestCase):
    def test_a_client_that_received_everything_and_printed_nothing(self):
        r = result(f"upper/hello/c/{ME}/plain", stdout=b"")
        self.assertEqual(names([r]), [("unflushed-output", "client")])
        # Printed nothing because nothing came: not this bug.
        r = result(f"upper/hello/c/{ME}/plain", stdout=b"", turns=[HELLO_REQ, Turn(SERVER, EOF)])
        self.assertNotIn(("unflushed-output", "client"), names([r]))

    def test_a_receiver_stopped_with_its_line_in_a_buffer(self):
        from harness.judge.verdict import Exit as X
        r = result(f"udp/hello/{ME}/c/plain", reason="missing effect", stdout=b"",
                   server_exit=X(None, 15, True))
        self.assertEqual(names([r]), [("unflushed-output", "server")])


class CrashQuotedTest(unittest.TestCase):
    def test_the_programs_own_crash_is_quoted_and_groups_its_cells(self):
        # A Python calc server whose handler thread dies on int('0.1'): the
        # clients only time out; the traceback is in server.log.
        trace = (b"Exception in thread Thread-1 (serve):\nTraceback (most recent call last):\n"
                 b"  File \"server.py\", line 12, in serve\n    a = int(parts[1])\n"
                 b"ValueError: invalid literal for int() with base 10: '0.1'\n")
        rs = [result(f"calc/decimals/{ME}/c/{m}", reason="timeout: client still running",
                     timed_out=True, stdout=b"", server_stderr=trace,
                     turns=[d(CLIENT, b"DIV 1 3\n")]) for m in ("plain", "segment")]
        rs.append(result(f"calc/basic/{ME}/c/plain", reason="timeout: client still running",
                         timed_out=True, stdout=b"", server_stderr=trace,
                         turns=[d(CLIENT, b"SOMA 2 2\n")]))
        diag = diagnose.diagnose(rs, ME)
        self.assertEqual(diag.bugs, [])
        [u] = diag.unmatched
        self.assertEqual(u.words[0], "your server crashed: ValueError: invalid literal for "
                                     "int() with base 10: '0.1' (server.log)")
        self.assertEqual(len(u.same_as), 2)

    def test_a_limit_is_named(self):
        from harness.judge.verdict import Exit as X
        r = result(f"calc/basic/{ME}/c/plain", reason="client exit code 1", code=1,
                   stdout=b"", server_exit=X(None, 25), early=True,
                   turns=[d(CLIENT, b"SOMA 2 2\n"), Turn(SERVER, RST)])
        self.assertEqual(diagnose.program_crash(r, "server"),
                         "your server was stopped by the file size limit (File too large)")


class WordiffTest(unittest.TestCase):
    def test_extra_missing_changed(self):
        from harness.grading.wordiff import describe
        self.assertEqual(describe(b"OK\n", b"OK\n"), [])
        self.assertEqual(describe(b"4\n", b"4\n\n"), ["your reply has one extra `\\n` at the end"])
        self.assertEqual(describe(b"4\n", b"4"), ["your reply lacks the final `\\n`"])
        self.assertEqual(describe(b"HELLO\n", b"H"),
                         ["your reply stops after 1 byte(s): `ELLO\\n` is missing at the end"])
        self.assertEqual(describe(b"abc\n", b"Resposta: abc\n", "output", "your client's"),
                         ["your client's output begins with `Resposta: `, which the contract "
                          "does not have"])
        self.assertEqual(describe("xé\n".encode(), "xÉ\n".encode()),
                         ["`é` (c3 a9) came back as `É` (c3 89), at byte 1"])
        self.assertEqual(describe(b"a\xffb", b"a?b"),
                         ["`\\xff` (ff) came back as `?` (3f), at byte 1"])
        self.assertEqual(describe(b"1\n", b""),
                         ["your reply is empty where the contract has `1\\n`"])

    def test_whole_difference_and_many_pieces(self):
        from harness.grading.wordiff import describe
        [w] = describe(b"received message: b'Hello'\n", b"got a datagram\n", "output",
                       "your receiver's")
        self.assertIn("is `got a datagram\\n` where the contract has `received message", w)
        ws = describe(b"4\n2\n4\n2\n", b"4.0\n2.0\n4.0\n2.0\n")
        self.assertEqual(ws[0], "your reply has 2 extra bytes `.0` at byte 1")
        self.assertEqual(ws[-1], "(and 1 more difference(s))")

    def test_udp_receiver_in_words(self):
        rs = result(f"udp/hello/{ME}/c/plain", reason="missing effect: server stdout lacks",
                    stdout=b"", conns=[[d(CLIENT, b"Hello, World!")]])
        rs.server_stdout = b"got a datagram\n"
        diag = diagnose.diagnose([rs], ME)
        self.assertIn("the receiver printed `got a datagram` where the contract prints "
                      "the datagram's repr", diag.unmatched[0].words[0])


class AggregationTest(unittest.TestCase):
    def test_a_plain_failure_explains_the_same_pairing_in_other_modes(self):
        turns = [HELLO_REQ, d(SERVER, b"HELLO, WORLD"), Turn(CLIENT, EOF), Turn(SERVER, EOF)]
        rs = [result(f"upper/hello/{ME}/c/{m}", turns=turns, stdout=b"HELLO, WORLD")
              for m in ("plain", "segment", "latency=50")]
        rs.append(result(f"upper/hello/{ME}/c/ipv6", reason="something else entirely",
                         turns=[HELLO_REQ], stdout=b""))
        diag = diagnose.diagnose(rs, ME)
        self.assertEqual([b.id for b in diag.bugs], ["no-newline"])
        self.assertEqual(len(diag.bugs[0].evidence), 4)
        self.assertEqual(diag.unmatched, [])

    def test_unmatched_failure_gets_sent_expected_got(self):
        r = result(f"upper/hello/{ME}/c/plain", stdout=b"nope\n",
                   turns=[HELLO_REQ, d(SERVER, b"nope\n"), Turn(CLIENT, EOF), Turn(SERVER, EOF)])
        r2 = result(f"upper/hello/{ME}/java/plain", stdout=b"nope\n",
                    turns=[HELLO_REQ, d(SERVER, b"nope\n"), Turn(CLIENT, EOF),
                           Turn(SERVER, EOF)])
        diag = diagnose.diagnose([r, r2], ME)
        self.assertEqual(diag.bugs, [])
        [u] = diag.unmatched
        self.assertEqual(u.sent, "hello, world\\n")
        self.assertIn('< "HELLO, WORLD\\n"', u.expected)
        self.assertIn('< "nope\\n"', u.got)
        self.assertEqual(u.same_as, [f"upper/hello/{ME}/java/plain"])

    def test_passing_and_known_failure_cells_name_nothing(self):
        from harness.judge.verdict import XFAIL, XPASS
        rs = [ok(f"upper/hello/{ME}/c/plain"), result(f"upper/hello/{ME}/python/plain", XFAIL),
              result(f"upper/hello/{ME}/python/segment", XPASS)]
        diag = diagnose.diagnose(rs, ME)
        self.assertEqual((diag.bugs, diag.unmatched), ([], []))

    def test_catalogue_ids_are_the_briefs(self):
        # The brief's fourteen, and issue 14's utf8-split and unflushed-output.
        self.assertEqual(sorted(diagnose.CATALOGUE), sorted(
            "one-recv-server one-recv-client no-newline crlf loopback-only charset "
            "single-client one-at-a-time bytes-repr extra-output wrong-port "
            "crash-on-bad-input never-closes ipv4-only utf8-split unflushed-output".split()
            # the SMTP lab's own (harness/grading/diagnose_smtp.py)
            + "smtp-bare-lf smtp-no-dot-stuffing smtp-no-354-wait smtp-base64-lines "
              "smtp-no-blank-line".split()))

    def test_every_catalogue_id_is_in_the_teachers_table(self):
        table = (support.ROOT / "docs" / "teachers.md").read_text(encoding="utf-8")
        for bug in diagnose.CATALOGUE:
            with self.subTest(bug=bug):
                self.assertTrue(re.search(rf"\n\| `{re.escape(bug)}` \|", table),
                                f"docs/teachers.md has no row for {bug}")


if __name__ == "__main__":
    unittest.main()
