"""Cells end to end against purpose-built fake peers (tests/harness/fakes):
each misbehaviour gets the right verdict and reason, and afterwards no
process of the run survives and no port of the run is bound."""

import asyncio
import socket
import textwrap
import time
import unittest
from pathlib import Path
from unittest import mock

import support
from harness.run import runner
from harness.run.ports import PortPool
from harness.spec import matrix

S, C = "s-", "c-"


def by_pair(results):
    return {(r.cell.server.name[2:], r.cell.client.name[2:]): r for r in results}


class FakePeersTest(support.HarnessTestCase):
    """One run of many misbehaving pairs at once (jobs 8), judged cell by cell."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        from pathlib import Path
        cls._dir = tempfile.TemporaryDirectory(prefix="harness-fakes-")
        root = Path(cls._dir.name)
        servers = {m: m for m in ("echo", "hang", "nobind", "otherport", "exit3", "crash",
                                  "grandchild", "orphan", "ignoreterm", "flood")}
        clients = {m: m for m in ("echo", "garbage", "exit1", "crash", "hang", "flood",
                                  "notfound", "reset")}
        m = support.fake_matrix(root, servers, clients,
                                "stdin: 'Hello'\nstdout: 'Hello'\ntimeout_s: 4\n"
                                "cell_timeout_s: 30")
        cells = [c for c in matrix.expand(m)
                 if c.client.name == "c-echo" or c.server.name == "s-echo"]
        cls.sessions_before = set(support.processes._ALL_SESSIONS)
        cls.results = support.run_cells(m, cells, jobs=8, server_grace_s=0.5)
        cls.r = by_pair(cls.results)

    @classmethod
    def tearDownClass(cls):
        cls._dir.cleanup()

    def setUp(self):
        super().setUp()
        self.sessions_before = type(self).sessions_before

    def tearDown(self):
        self.assertClean(self.results)
        super().tearDown()

    def test_good_pair_passes(self):
        r = self.r[("echo", "echo")]
        self.assertVerdict(r, "pass")
        self.assertEqual(r.outcome.clients[0].stdout, b"Hello")
        self.assertIsNotNone(r.recorded)

    def test_server_that_hangs(self):
        # Named from evidence, long before the 4 s timeout: both sides
        # blocked reading, nothing on the wire.
        r = self.r[("hang", "echo")]
        # The fake server accepts, then only accepts again.
        self.assertVerdict(r, "fail", "deadlock")
        self.assertIn("the server is blocked in accept()", r.reason)
        self.assertIn("the client in recv() on its connection to the server", r.reason)
        self.assertIn("neither answered nor closed it", r.reason)

    def test_server_that_never_binds(self):
        r = self.r[("nobind", "echo")]
        self.assertVerdict(r, "fail", f"server not listening on port {r.server_port} after 4 s")

    def test_server_that_binds_another_port(self):
        r = self.r[("otherport", "echo")]
        self.assertVerdict(r, "fail", "instead)")
        self.assertIn("it is listening on", r.reason)

    def test_server_that_exits_non_zero(self):
        self.assertVerdict(self.r[("exit3", "echo")], "fail",
                           "server exit code 3 before binding port")
        self.assertIn("fake: giving up", self.r[("exit3", "echo")].reason)

    def test_server_that_crashes(self):
        self.assertVerdict(self.r[("crash", "echo")], "fail",
                           "server crashed with SIGSEGV during the cell")

    def test_grandchild_keeping_the_port(self):
        # the socket belongs to a double-forked grandchild: still ready,
        # and stopping the group kills it (assertClean in tearDown)
        self.assertVerdict(self.r[("grandchild", "echo")], "pass")

    def test_server_that_leaves_an_orphan(self):
        self.assertVerdict(self.r[("orphan", "echo")], "pass")

    def test_server_that_ignores_sigterm(self):
        r = self.r[("ignoreterm", "echo")]
        self.assertVerdict(r, "pass")
        self.assertEqual(r.outcome.server_exit.signal, 9)

    def test_server_flooding_stdout(self):
        r = self.r[("flood", "echo")]
        self.assertVerdict(r, "pass")
        self.assertTrue(r.server_truncated)
        self.assertLessEqual(len(r.server_stdout), support.processes.CAPTURE_LIMIT)

    def test_client_printing_garbage(self):
        r = self.r[("echo", "garbage")]
        self.assertVerdict(r, "fail", "output mismatch")
        self.assertIn("+\\x00garbage\\xff", r.judgement.diff)

    def test_client_exiting_non_zero(self):
        self.assertVerdict(self.r[("echo", "exit1")], "fail",
                           "client exit code 1, expected 0: fake: something went wrong")

    def test_client_crashing(self):
        self.assertVerdict(self.r[("echo", "crash")], "fail", "client crashed with SIGSEGV")

    def test_client_hanging(self):
        self.assertVerdict(self.r[("echo", "hang")], "fail", "timeout: client still running")

    def test_client_flooding_stdout(self):
        r = self.r[("echo", "flood")]
        self.assertVerdict(r, "fail", "more than the capture limit")
        self.assertLessEqual(len(r.outcome.clients[0].stdout), support.processes.CAPTURE_LIMIT)

    def test_client_not_built(self):
        self.assertVerdict(self.r[("echo", "notfound")], "error", "not built")

    def test_client_reset_is_a_wire_difference(self):
        r = self.r[("echo", "reset")]
        # exit 0 but no output: an output mismatch, and the transcript shows the reset
        self.assertVerdict(r, "fail", "output mismatch")
        self.assertIn("> RST", r.judgement.diff)


class VerdictKindsTest(support.HarnessTestCase):
    def test_deviates_and_strict(self):
        golden = '# transcript v1 tcp\n> "Hello"\n< "Hello"\n> RST\n'
        m = support.fake_matrix(self.tmp, {"echo": "echo"}, {"echo": "echo"}, golden=golden)
        r = support.run_cells(m)[0]
        self.assertVerdict(r, "deviates", "transcript differs from the golden at turn 3")
        self.assertIn("-> RST", r.judgement.diff)
        r = support.run_cells(m, strict=True)[0]
        self.assertVerdict(r, "fail", "transcript mismatch at turn 3")
        self.assertClean([r])

    def test_xfail_and_xpass(self):
        kf = ("\n  - cell: 'echo/hello/s-echo/c-garbage/*'\n    reason: prints garbage"
              "\n  - cell: 'echo/hello/s-echo/c-echo/*'\n    reason: thought broken")
        m = support.fake_matrix(self.tmp, {"echo": "echo"}, {"echo": "echo", "garbage": "garbage"},
                                known_failures=kf)
        res = by_pair(support.run_cells(m))
        self.assertVerdict(res[("echo", "garbage")], "xfail", "known failure: prints garbage")
        self.assertIn("output mismatch", res[("echo", "garbage")].reason)
        self.assertVerdict(res[("echo", "echo")], "xpass", "thought broken")
        self.assertClean(list(res.values()))

    def test_missing_program_is_an_error(self):
        body = """\
            version: 1
            peers:
              c:
                server: '{build}/c/{protocol}/server {port}'
                client: '/nonexistent/client {host} {port}'
            protocols:
              echo:
                transport: tcp
                scenarios:
                  hello: {stdin: 'Hello', stdout: 'Hello'}
            """
        path = support.write_matrix(self.tmp, body, {"echo/hello": support.ECHO_GOLDEN})
        m = matrix.load(path, self.tmp)
        r = support.run_cells(m)[0]
        self.assertVerdict(r, "error", "not built:")
        self.assertIn("c/echo/server does not exist", r.reason)
        self.assertClean([r])

    def test_cell_timeout(self):
        m = support.fake_matrix(self.tmp, {"echo": "echo"}, {"hang": "hang"},
                                "stdin: 'Hello'\nstdout: 'Hello'\ntimeout_s: 30\n"
                                "cell_timeout_s: 1")
        r = support.run_cells(m)[0]
        self.assertVerdict(r, "fail", "timeout: the cell exceeded 1 s")
        self.assertLess(r.duration_s, 10)
        self.assertClean([r])

    def test_run_time_limit(self):
        # Clients that sleep: waiting, not stuck, so only the run's limit
        # ends them (a deadlock would be named and ended at once).
        m = support.fake_matrix(self.tmp, {"echo": "echo"}, {"a": "hang", "b": "hang"},
                                "stdin: 'Hello'\nstdout: 'Hello'\ntimeout_s: 30\n"
                                "cell_timeout_s: 60")
        t0 = time.monotonic()
        # An idle cell would give its slot away: keep it, so the second
        # cell is still queued when the run's time is up.
        with mock.patch.object(runner, "WAITING_PER_JOB", 0):
            res = by_pair(support.run_cells(m, jobs=1, run_timeout_s=1.5))
        self.assertLess(time.monotonic() - t0, 20)
        verdicts = sorted((r.verdict, r.reason) for r in res.values())
        self.assertEqual(verdicts, [
            ("error", "not finished: the run's time limit was reached"),
            ("error", "not run: the run's time limit was reached")])
        self.assertClean(list(res.values()))

    def test_idle_cell_gives_its_slot_away(self):
        # Two cells whose client sleeps (idle, not stuck: the hang monitor
        # leaves a sleeper alone) until its timeout, one job: the second
        # starts before the first ends instead of after it.
        m = support.fake_matrix(self.tmp, {"echo": "echo"}, {"a": "hang", "b": "hang"},
                                "stdin: 'Hello'\nstdout: 'Hello'\ntimeout_s: 4\n")
        events = []
        ctx = matrix.CommandContext.create(m.root, m.root / "build")
        # (Sharing a server, they would run one after the other by design.)
        o = runner.RunOptions(port_range=support.PORT_RANGES["runner"], jobs=1,
                              share_servers=False)
        res = asyncio.run(runner.run_cells(
            m, matrix.expand(m), ctx, o,
            on_start=lambda c, r: events.append(("start", c.client.name)),
            on_result=lambda r: events.append(("end", r.cell.client.name))))
        self.assertEqual([v for v, _ in events], ["start", "start", "end", "end"], events)
        for r in res:
            self.assertVerdict(r, "fail", "timeout")
        self.assertClean(res)

    def test_concurrent_clients_args_and_stdin(self):
        m = support.fake_matrix(self.tmp, {"echo": "echo"}, {"args": "args"},
                                "clients: 6\nargs: ['--x', 'y']\nstdin: 'Hello'\n"
                                "stdout: 'Hello--x y'")
        r = support.run_cells(m)[0]
        self.assertVerdict(r, "pass")
        self.assertEqual(len(r.recorded.connections), 6)
        self.assertEqual(len(r.outcome.clients), 6)
        self.assertClean([r])

    def test_file_effects(self):
        ok = "stdin: 'Hello'\nstdout: 'Hello'\nfiles: {log-acesso.txt: 'Hello'}"
        m = support.fake_matrix(self.tmp / "a", {"log": "logfile"}, {"echo": "echo"}, ok)
        r = support.run_cells(m)[0]
        self.assertVerdict(r, "pass")
        self.assertEqual(r.files["log-acesso.txt"], b"Hello")
        wrong = "stdin: 'Hello'\nstdout: 'Hello'\nfiles: {log-acesso.txt: 'Bye'}"
        m = support.fake_matrix(self.tmp / "b", {"log": "logfile"}, {"echo": "echo"}, wrong)
        r2 = support.run_cells(m)[0]
        self.assertVerdict(r2, "fail", "missing effect: log-acesso.txt holds \"Hello\"")
        absent = "stdin: 'Hello'\nstdout: 'Hello'\nfiles: {log-acesso.txt: null}"
        m = support.fake_matrix(self.tmp / "c", {"log": "logfile"}, {"echo": "echo"}, absent)
        r3 = support.run_cells(m)[0]
        self.assertVerdict(r3, "fail", "must not exist or be empty")
        self.assertClean([r, r2, r3])

    def test_udp_server_stdout_effect(self):
        golden = '# transcript v1 udp\n> "Hi"\n'
        good = "stdin: 'Hi'\nstdout: ''\nserver_stdout: 'received message: b''Hi''\\n'"
        m = support.fake_matrix(self.tmp / "a", {"udp": "udp"}, {"udp": "udp"}, good,
                                transport="udp", golden=golden)
        r = support.run_cells(m)[0]
        self.assertVerdict(r, "pass")
        bad = "stdin: 'Hi'\nstdout: ''\nserver_stdout: 'received message: b''Ho''\\n'"
        m = support.fake_matrix(self.tmp / "b", {"udp": "udp"}, {"udp": "udp"}, bad,
                                transport="udp", golden=golden)
        r2 = support.run_cells(m, effect_wait_s=0.5)[0]
        self.assertVerdict(r2, "fail", "missing effect: server stdout lacks")
        self.assertClean([r, r2])


def shared_matrix(root, server_mode, scenarios, transport="tcp", golden=support.ECHO_GOLDEN,
                  known_failures="[]", goldens=None, two_clients=False):
    """One fake server (s-x) and the fake echo client (c-x; two_clients:
    also c-y, the same started another way) over several scenarios {name:
    YAML lines}; goldens: {name: text} where not golden."""
    root = Path(root)
    client = "udp" if transport == "udp" else "echo"
    body = (f"version: 1\npeers:\n  s-x:\n    server: '{support.FAKE_SERVER} {server_mode} "
            f"{{port}}'\n  c-x:\n    client: '{support.FAKE_CLIENT} {client} {{host}} {{port}}'\n"
            # the same client, started another way (another word to show in the cell)
            + (f"  c-y:\n    client: '{{python}} -S {support.FAKES / 'client.py'} {client} "
               f"{{host}} {{port}}'\n" if two_clients else "")
            + f"protocols:\n  echo:\n    transport: {transport}\n    scenarios:\n")
    for name, lines in scenarios.items():
        body += f"      {name}:\n" + textwrap.indent(lines.strip() + "\n", " " * 8)
    body += f"known_failures: {known_failures}\n"
    path = support.write_matrix(root, body, {f"echo/{n}": (goldens or {}).get(n, golden)
                                             for n in scenarios})
    return matrix.load(path, root)


HELLO = "stdin: 'Hello'\nstdout: 'Hello'\ntimeout_s: 4\ncell_timeout_s: 15"


class SharedServerTest(support.HarnessTestCase):
    """Scenarios of one pairing on one server (runner.py, "Shared servers"):
    each still judged on its own, and a server only ever serves a scenario
    after scenarios it passed."""

    def setUp(self):
        super().setUp()
        sup = runner.isolation.support(runner.find_sl_cell(
            matrix.CommandContext.create(support.ROOT, support.ROOT / "build")))
        if not sup.ok:
            self.skipTest(f"no cells here ({sup.why}): servers are never shared")

    def by_scenario(self, results, client="c-x"):
        return {r.cell.scenario.name: r for r in results if r.cell.client.name == client}

    def test_cells_of_a_server_run_on_one_unless_a_scenario_needs_its_own(self):
        m = shared_matrix(self.tmp, "echo", {"a": HELLO, "b": HELLO + "\nown_server: true",
                                            "c": HELLO, "d": HELLO}, two_clients=True)
        rs = support.run_cells(m, jobs=1)
        for x in rs:
            self.assertVerdict(x, "pass")
        order = sorted((x for x in rs if x.cell.scenario.name != "b"),
                       key=lambda x: x.server_reused)
        # a, c and d with both clients: one server, started once.
        self.assertEqual([(x.server_reused, x.server_kept) for x in order],
                         [(k, k < 5) for k in range(6)])
        self.assertIsNone(order[0].outcome.server_exit)
        self.assertTrue(order[-1].outcome.server_exit.stopped_by_driver)
        for client in ("c-x", "c-y"):
            b = self.by_scenario(rs, client)["b"]
            self.assertEqual((b.server_reused, b.server_kept), (0, False))
        self.assertTrue(all(x.recorded and len(x.recorded.connections) == 1
                            for x in rs), "each cell records its own connections")
        alone = support.run_cells(m, share_servers=False)
        self.assertEqual([x.server_reused for x in alone], [0] * 8)
        self.assertClean(rs + alone)

    def test_a_free_slot_takes_the_later_half_of_a_unit_on_a_server_of_its_own(self):
        # One unit of 6 cells, 2 jobs: the second slot would idle, so the
        # unit's last 3 cells run on a second server beside the first 3.
        m = shared_matrix(self.tmp, "echo", {n: HELLO for n in "abcdef"})
        rs = support.run_cells(m, jobs=2)
        for x in rs:
            self.assertVerdict(x, "pass")
        r = self.by_scenario(rs)
        self.assertEqual([r[n].server_reused for n in "abcdef"], [0, 1, 2, 0, 1, 2])
        self.assertEqual([r[n].server_kept for n in "abcdef"], [True, True, False] * 2)
        self.assertClean(rs)

    def test_a_server_that_ends_between_scenarios_gets_the_verdict_of_a_fresh_one(self):
        # The server is still running when the first scenario ends, and
        # exits only when the second's client connects: that scenario
        # fails on it, runs again on a server of its own and passes.
        m = shared_matrix(self.tmp, "one-client", {"a": HELLO, "b": HELLO, "c": HELLO})
        rs = support.run_cells(m, jobs=1)
        r = self.by_scenario(rs)
        for x in rs:
            self.assertVerdict(x, "pass")
        self.assertTrue(r["a"].server_kept)
        # (Its client lost the connection: reset, or not connected, and the
        # driver may or may not have seen the server's exit by then.)
        self.assertIn("client exit code 1", r["b"].shared_attempt or "")
        self.assertEqual(r["b"].server_reused, 0)
        self.assertEqual(r["c"].server_reused, 0, "after that, a server per scenario")
        self.assertClean(rs)

    def test_the_files_a_scenario_judges_are_the_ones_it_made(self):
        # The server appends each request to log-acesso.txt; the second
        # scenario's file holds its own request only, on the same server.
        # Whether it opens the file for each request or once, at start.
        sc = HELLO + "\nfiles: {log-acesso.txt: 'Hello'}"
        for mode in ("logfile", "keeplog"):
            with self.subTest(mode):
                m = shared_matrix(self.tmp / mode, mode, {"a": sc, "b": sc})
                rs = support.run_cells(m, jobs=1)
                r = self.by_scenario(rs)
                for x in rs:
                    self.assertVerdict(x, "pass")
                    self.assertEqual(x.files["log-acesso.txt"], b"Hello")
                self.assertEqual(r["b"].server_reused, 1)
                self.assertIsNone(r["b"].shared_attempt)
                self.assertClean(rs)

    def test_a_daemon_left_behind_fails_the_scenario_that_made_it(self):
        m = shared_matrix(self.tmp, "daemon", {"a": HELLO, "b": HELLO})
        rs = support.run_cells(m, jobs=1)
        for x in rs:
            self.assertVerdict(x, "fail", "outlived the server")
            self.assertEqual(x.server_reused, 0)
        self.assertClean(rs)

    def test_server_stdout_is_looked_for_in_what_it_printed_during_the_scenario(self):
        golden = '# transcript v1 udp\n> "Hi"\n'
        sc = "stdin: 'Hi'\nstdout: ''\nserver_stdout: 'received message: b''Hi''\\n'"
        m = shared_matrix(self.tmp, "udp", {"a": sc, "b": sc.replace("stdin: 'Hi'",
                                                                    "stdin: 'Ho'")},
                          transport="udp", golden=golden,
                          goldens={"b": golden.replace("Hi", "Ho")})
        rs = support.run_cells(m, jobs=1, effect_wait_s=0.5)
        r = self.by_scenario(rs)
        self.assertVerdict(r["a"], "pass")
        self.assertVerdict(r["b"], "fail", "missing effect: server stdout lacks")
        self.assertEqual(r["b"].server_stdout, b"received message: b'Ho'\n")
        self.assertEqual(r["b"].server_reused, 0, "run again on a server of its own")
        self.assertIn("server stdout lacks", r["b"].shared_attempt or "")
        self.assertClean(rs)

    def test_a_known_failure_starts_its_own_server(self):
        m = shared_matrix(self.tmp, "echo", {"a": HELLO, "b": HELLO, "c": HELLO},
                          known_failures="[{cell: 'echo/b/*/*/*', reason: test}]")
        rs = support.run_cells(m, jobs=1)
        r = self.by_scenario(rs)
        self.assertVerdict(r["b"], "xpass")
        self.assertEqual([(r[n].server_reused, r[n].server_kept) for n in "acb"],
                         [(0, True), (1, False), (0, False)])
        self.assertClean(rs)


class EnvironmentTest(support.HarnessTestCase):
    def test_peers_get_a_fixed_environment(self):
        """Only PATH, HOME and the like come from the driver: what else the
        machine sets (here a planted NODE_OPTIONS, LC_CTYPE, LC_ALL, TZ)
        never reaches a peer, which always gets TZ=UTC and LANG=C.UTF-8."""
        m = support.fake_matrix(self.tmp, {"echo": "echo"}, {"env": "env"},
                                "stdin: 'Hello'\nstdout: 'Hello'\ntimeout_s: 4")
        planted = {"NODE_OPTIONS": "--planted", "LC_CTYPE": "pt_BR.UTF-8", "LC_ALL": "C",
                   "TZ": "America/Sao_Paulo", "PATH": "/usr/bin:/bin:/planted"}
        with mock.patch.dict("os.environ", planted):
            r = support.run_cells(m)[0]
        out = r.outcome.clients[0].stdout.decode()
        self.assertTrue(out.startswith("Hello"), out)
        env = dict(line.split("=", 1) for line in out[len("Hello"):].splitlines())
        self.assertEqual(env["PATH"], planted["PATH"])
        self.assertEqual((env["TZ"], env["LANG"]), ("UTC", "C.UTF-8"))
        for name in ("NODE_OPTIONS", "LC_CTYPE", "LC_ALL"):
            self.assertNotIn(name, env)
        self.assertClean([r])


class ForeignPortTest(support.HarnessTestCase):
    def test_port_taken_by_a_foreign_process_is_retried(self):
        m = support.fake_matrix(self.tmp, {"echo": "echo"}, {"echo": "echo"})
        cell = matrix.expand(m)[0]
        lo, hi = support.PORT_RANGES["runner"]
        foreign = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        foreign.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        foreign.bind(("::", 0))
        foreign.listen()
        taken = foreign.getsockname()[1]

        class OnceTaken(PortPool):
            """Hands out the foreign-held port first, as if a process grabbed
            it between allocation and the server's bind."""
            first = True

            def acquire(self, count=1):
                ports = super().acquire(count)
                if self.first:
                    self.first = False
                    self.release(ports[:1])
                    return [taken] + ports[1:]
                return ports

        async def go(isolate):
            ctx = matrix.CommandContext.create(m.root, m.root / "build")
            opts = runner.RunOptions(port_range=(lo, hi), isolate=isolate)
            cr = runner.CellRunner(m, ctx, opts, self.tmp, OnceTaken(lo, hi))
            return await cr.run(cell)

        try:
            # Without namespaces (the fallback): the driver's port range,
            # where another program can take a port; the cell is retried.
            r = asyncio.run(go(False))
            # In a cell of its own, the machine's ports do not matter.
            OnceTaken.first = True
            inside = asyncio.run(go(None))
        finally:
            foreign.close()
        self.assertVerdict(r, "pass")
        self.assertEqual(r.port_attempts, 2)
        self.assertNotEqual(r.server_port, taken)
        self.assertVerdict(inside, "pass")
        self.assertEqual(inside.port_attempts, 1)
        self.assertClean([r, inside])


if __name__ == "__main__":
    unittest.main()
