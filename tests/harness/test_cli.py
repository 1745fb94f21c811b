"""The command line: list (and absences), show, validate, filters, exit
codes, and Ctrl-C: a run interrupted by SIGINT leaves no process and no
listening port behind."""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import unittest

import support
from harness import cli
from harness.run import processes, procnet

RANGE = support.PORT_RANGES["cli"]
PORTS = f"{RANGE[0]}-{RANGE[1]}"
REPO_MATRIX = str(support.ROOT / "matrix.yaml")


def call(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


class ListShowValidateTest(unittest.TestCase):
    def test_validate_repo_matrix(self):
        code, out, err = call("validate", "--matrix", REPO_MATRIX)
        self.assertEqual(code, 0, err)
        self.assertIn("OK: 10 protocols", out)

    def test_list_with_filters_and_absences(self):
        code, out, _ = call("list", "--matrix", REPO_MATRIX, "--protocol", "upper",
                            "--client", "raw,c", "-k", "long")
        self.assertEqual(code, 0)
        cells = [ln for ln in out.splitlines() if not ln.startswith(("#", "upper:"))]
        self.assertTrue(cells)
        self.assertTrue(all(c.startswith("upper/long-line/") for c in cells), cells)
        self.assertIn("upper: c as client: scenario only_clients: [raw] (long-line)", out)
        code, out, _ = call("list", "--matrix", REPO_MATRIX, "--absent", "--protocol", "upper")
        self.assertIn("upper: raw as client: default: false", out)
        self.assertNotIn("calc:", out)
        self.assertNotIn("upper/hello/c/c/plain", out)

    def test_list_names_for_cmake(self):
        code, out, _ = call("list", "--matrix", REPO_MATRIX, "--names", "protocols")
        self.assertEqual(code, 0)
        self.assertEqual(out.split()[:2], ["echo", "echo-repr"])

    def test_shard_partitions(self):
        _, all_out, _ = call("list", "--matrix", REPO_MATRIX)
        everything = [ln for ln in all_out.splitlines() if "/" in ln and not ln.startswith("#")
                      and ":" not in ln.split("/")[0]]
        shards = []
        for i in (1, 2, 3):
            _, out, _ = call("list", "--matrix", REPO_MATRIX, "--shard", f"{i}/3")
            shards += [ln for ln in out.splitlines() if ln in everything]
        self.assertEqual(sorted(shards), sorted(everything))

    def test_usage_errors_exit_2(self):
        for argv in (["list", "--matrix", REPO_MATRIX, "--protocol", "nope"],
                     ["list", "--matrix", REPO_MATRIX, "--shard", "4/3"],
                     ["run", "--matrix", REPO_MATRIX, "--jobs", "0"],
                     ["run", "--matrix", REPO_MATRIX, "--ports", "1-2"],
                     ["run", "--matrix", REPO_MATRIX, "-k", "no-such-cell-anywhere"],
                     ["show", "--matrix", REPO_MATRIX, "nope/nope"],
                     ["frobnicate"]):
            with self.subTest(argv=argv):
                code, _, err = call(*argv)
                self.assertEqual(code, 2, err)
                self.assertNotIn("Traceback", err)


class RunExitCodesTest(support.HarnessTestCase):
    port_range = RANGE

    def run_cli(self, m, *extra):
        out = self.tmp / "out"
        code, stdout, err = call("run", "--matrix", str(m.path), "--out", str(out),
                                 "--ports", PORTS, *extra)
        return code, stdout, json.loads((out / "results.json").read_text())

    def test_exit_0_on_pass_and_deviates_1_when_strict(self):
        golden = '# transcript v1 tcp\n> "Hello"\n< "Hello"\n> RST\n'
        m = support.fake_matrix(self.tmp / "m", {"echo": "echo"}, {"echo": "echo"},
                                golden=golden)
        code, out, data = self.run_cli(m)
        self.assertEqual(code, 0, out)
        self.assertEqual(data["counts"]["deviates"], 1)
        code, out, data = self.run_cli(m, "--strict")
        self.assertEqual(code, 1, out)
        self.assertEqual(data["counts"]["fail"], 1)

    def test_no_cells_runs_in_the_machines_network(self):
        m = support.fake_matrix(self.tmp / "m", {"echo": "echo"}, {"echo": "echo"})
        out = self.tmp / "out"
        code, _, err = call("run", "--matrix", str(m.path), "--out", str(out), "--ports", PORTS,
                            "--no-cells")
        self.assertEqual(code, 0, err)
        data = json.loads((out / "results.json").read_text())
        self.assertEqual(data["counts"]["pass"], 1)
        self.assertIn("cells run without namespaces of their own (asked for)", err)
        # The server listened on a port of the owned range, on this machine.
        self.assertTrue(RANGE[0] <= data["cells"][0]["server_port"] <= RANGE[1], data)

    def test_shared_server_in_the_outputs(self):
        from harness.run import cell as isolation, runner
        from harness.spec import matrix
        sup = isolation.support(runner.find_sl_cell(
            matrix.CommandContext.create(support.ROOT, support.ROOT / "build")))
        if not sup.ok:
            self.skipTest(f"no cells here ({sup.why}): servers are never shared")
        m = support.fake_matrix(self.tmp / "m", {"echo": "echo"}, {"a": "echo", "b": "echo"})
        code, out, data = self.run_cli(m, "--jobs", "1")
        self.assertEqual(code, 0, out)
        first, second = sorted(data["cells"], key=lambda c: c["server_reused"])
        self.assertEqual((first["server_reused"], first["server_kept"], first["server_exit"]),
                         (0, True, None))
        self.assertEqual((second["server_reused"], second["server_kept"]), (1, False))
        # Reported once the next cell had ended, but with its own times.
        self.assertLessEqual(first["end_s"], second["start_s"])
        self.assertAlmostEqual(first["end_s"] - first["start_s"], first["duration_s"], delta=0.3)
        log = (self.tmp / "out" / first["paths"]["server_log"]).read_text()
        self.assertIn("left running for the next cell", log)
        log = (self.tmp / "out" / second["paths"]["server_log"]).read_text()
        self.assertIn("a shared server: it served 1 earlier cell;", log)
        code, out, data = self.run_cli(m, "--own-servers")
        self.assertEqual([c["server_reused"] for c in data["cells"]], [0, 0], out)

    def test_repeat_and_show(self):
        m = support.fake_matrix(self.tmp / "m", {"echo": "echo"}, {"echo": "echo"})
        code, out, data = self.run_cli(m, "--repeat", "3", "--jobs", "2")
        self.assertEqual(code, 0, out)
        self.assertEqual([c["repeat"] for c in data["cells"]], [1, 2, 3])
        code, out, err = call("show", "--matrix", str(m.path), "--out", str(self.tmp / "out"),
                              "echo/hello/s-echo/c-echo")
        self.assertEqual(code, 0, err)
        self.assertIn("server (cwd: a scratch dir):", out)
        self.assertIn("--- recorded transcript", out)
        self.assertIn('> "Hello"', out)
        self.assertIn("last verdict: pass", out)
        self.assertIn("cmd.sh", out)


class SigintTest(support.HarnessTestCase):
    port_range = RANGE

    def test_sigint_leaves_nothing_behind(self):
        # Servers that hang and clients with a long timeout: the run is
        # mid-flight with many children when SIGINT arrives.
        m = support.fake_matrix(self.tmp / "m", {"hang": "hang", "ignoreterm": "ignoreterm"},
                                {"echo": "echo", "hang": "hang"},
                                "stdin: 'Hello'\nstdout: 'Hello'\nclients: 3\ntimeout_s: 60\n"
                                "cell_timeout_s: 120")
        # Orphans of the interrupted driver come to this process, which
        # reaps them as init would: a cell's PID namespace is torn down only
        # once its last process is reaped, and what runs this test (ctest)
        # may be an ancestor that never reaps strangers.
        processes.become_subreaper()
        p = subprocess.Popen([sys.executable, "-m", "harness", "run", "--matrix", str(m.path),
                              "--out", str(self.tmp / "out"), "--ports", PORTS, "--jobs", "4"],
                             cwd=support.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        seen: set[int] = set()
        try:
            # Watch the process tree until servers and clients are running.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                kids = procnet.descendants(p.pid)
                seen.update(kids)
                clients = [k for k in kids if b"client.py" in support.cmd(k)]
                if len(clients) >= 3 and any(b"server.py" in support.cmd(k) for k in kids):
                    break
                if p.poll() is not None:
                    break
                time.sleep(0.01)
            self.assertIsNone(p.poll(), "the run ended before it could be interrupted")
            self.assertTrue(seen)
            p.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 30
            while p.poll() is None and time.monotonic() < deadline:
                seen.update(procnet.descendants(p.pid))
                time.sleep(0.01)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 130, err.decode())
        self.assertNotIn(b"Traceback", err)
        # A cell's PID namespace ends once the kernel has reaped its last
        # process, which can trail its init's death by a moment: wait for
        # that (bounded), then nothing may be left.
        deadline = time.monotonic() + 60
        while any(procnet.alive(pid) for pid in seen) and time.monotonic() < deadline:
            try:
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            except ChildProcessError:
                pass
            time.sleep(0.01)
        survivors = [pid for pid in seen if procnet.alive(pid)]
        self.assertEqual(survivors, [], [(support.cmd(x), procnet.stat(x)) for x in survivors])
        sessions = procnet.live_group_members(seen)
        self.assertEqual(sessions, [])
        # Sockets of ours only: another clone's make test may use the range.
        mine = procnet.socket_inodes([os.getpid(), *seen])
        listening = [s for t in ("tcp", "udp") for s in procnet.sockets(t)
                     if s.bound and s.inode in mine and RANGE[0] <= s.port <= RANGE[1]]
        self.assertEqual(listening, [])
        data = json.loads((self.tmp / "out" / "results.json").read_text())
        self.assertTrue(data["interrupted"])
        self.assertEqual(data["exit_code"], 130)
        self.assertIn(b"INTERRUPTED", out)


if __name__ == "__main__":
    unittest.main()


class ShowModesTest(support.HarnessTestCase):
    """show finds a cell in every mode that runs it (issue 14), and a
    recorded cell folder that is not in the matrix (a student's)."""

    def test_cells_in_every_mode(self):
        out_dir = str(self.tmp / "none")
        for cell, host in (("calc/errors/c/java/segment=utf8", "127.0.0.1"),
                           ("echo/hello/c/c/ipv6", "::1"),
                           ("calc/errors/c/java/latency=50", "127.0.0.1")):
            with self.subTest(cell=cell):
                code, out, err = call("show", "--matrix", REPO_MATRIX, "--out", out_dir, cell)
                self.assertEqual(code, 0, err)
                self.assertIn(f"cell {cell}\n", out)
                self.assertIn(f" {host} 20001", out)
        # udp has no segment mode: no such cell, and the message says where it looked.
        code, _, err = call("show", "--matrix", REPO_MATRIX, "--out", out_dir,
                            "udp/big/c/c/segment")
        self.assertEqual(code, 2)
        self.assertIn("in any mode", err)

    def test_recorded_student_cell(self):
        d = self.tmp / "out" / "cells" / "upper" / "hello" / "ana" / "c" / "segment"
        d.mkdir(parents=True)
        (d / "cmd.sh").write_text("#!/bin/sh\n")
        (d / "server.log").write_text("Traceback (most recent call last):\nValueError: x\n")
        code, out, err = call("show", "--matrix", REPO_MATRIX, "--out", str(self.tmp / "out"),
                              "upper/hello/ana/c/segment")
        self.assertEqual(code, 0, err)
        self.assertIn("not a cell of the matrix", out)
        self.assertIn("ValueError: x", out)
