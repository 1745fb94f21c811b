"""Sandboxed peers (matrix.yaml `sandbox: true`, harness/run/sandbox.py).

The fake untrusted client (fakes/sandbox_client.py) fork-bombs, fills a
file, spins, eats memory, floods stdout and tries to reach a listener in
the driver's namespace; each must cost only its own cell and end with a
reason that names the limit. A sandboxed echo pair still passes, in plain
and two-hosts modes. After every run: no process of it survives, no port
listens, no namespace is left. The uid, process-limit and namespace tests
need root and ip; they are skipped with the reason otherwise.

Ports 19500-19999 (this test's own slice of the sandbox work's range).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import unittest

import support
from harness.run import netns, procnet, runner, sandbox
from harness.spec import matrix

PORTS = (19500, 19899)
ESCAPE_PORT = 19990  # a listener in the driver's namespace
FAKE_SERVER = support.FAKE_SERVER
SANDBOX_CLIENT = f"{{python}} {support.FAKES / 'sandbox_client.py'}"
ROOT = os.geteuid() == 0 and shutil.which("ip") is not None
needs_root = unittest.skipUnless(ROOT, "needs root and the ip command: the sandbox switches "
                                       "uid and makes a network namespace only then")

SCENARIO = "stdin: 'Hello'\nstdout: 'Hello'\ntimeout_s: 5\ncell_timeout_s: 20"


def sandbox_matrix(root, client_mode: str, scenario: str = SCENARIO) -> matrix.Matrix:
    """One protocol `echo`, scenario `hello`: the fake echo server and the
    fake untrusted client in client_mode, both sandboxed."""
    lines = "\n".join("        " + ln for ln in scenario.strip().splitlines())
    body = (f"version: 1\npeers:\n"
            f"  s-echo:\n    sandbox: true\n    server: '{FAKE_SERVER} echo {{port}}'\n"
            f"  c-{client_mode}:\n    sandbox: true\n"
            f"    client: '{SANDBOX_CLIENT} {client_mode} {{host}} {{port}}'\n"
            f"protocols:\n  echo:\n    transport: tcp\n    scenarios:\n      hello:\n"
            f"{lines}\n")
    path = support.write_matrix(root, body, {"echo/hello": support.ECHO_GOLDEN})
    return matrix.load(path, root)


def fake_processes() -> list[str]:
    """Command lines of live sandbox_client.py processes of this checkout
    (any uid: what escaped the process tree too; another clone's make
    test, running the same tests at the same time, is not ours)."""
    mine = os.fsencode(support.FAKES / "sandbox_client.py")
    out = []
    for pid in procnet.all_pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if mine in argv and procnet.alive(pid):
            out.append(f"{pid} {support._cmdline(pid)}")
    return out


def our_namespaces() -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    mark = f"-{os.getpid()}-"
    return [ln.split()[0] for ln in listed.splitlines() if ln.startswith("slh") and mark in ln]


class SandboxTest(support.HarnessTestCase):
    port_range = PORTS

    def run_one(self, client_mode: str, scenario: str = SCENARIO, modes=("plain",),
                **limits: int) -> runner.CellResult:
        m = sandbox_matrix(self.tmp / "m", client_mode, scenario)
        cells = matrix.expand(m, modes=modes)
        self.assertEqual(len(cells), 1)
        res = support.run_cells(m, cells, port_range=PORTS, jobs=2, server_grace_s=0.5,
                                sandbox_limits=sandbox.Limits().replace(**limits))
        self.assertClean(res)
        self.assertEqual(fake_processes(), [], "processes of the sandboxed client survive")
        if ROOT:
            self.assertEqual(our_namespaces(), [], "namespaces left behind")
            self.assertEqual(netns.live(), set())
        return res[0]

    def test_echo_pair_passes(self):
        r = self.run_one("echo")
        self.assertVerdict(r, "pass")
        # The reported commands are the programs' own, rerunnable by hand
        # (cmd.sh), not the sandbox's launcher around them.
        self.assertNotIn("sl-cell", " ".join(r.server_argv))
        self.assertNotIn("sandbox.py", " ".join(r.client_argv))

    @needs_root
    def test_runs_as_a_cell_uid_in_its_own_directory(self):
        for mode in ("plain", "two-hosts"):  # in a cell; through the wrapper
            with self.subTest(mode=mode):
                r = self.run_one("whoami", modes=(mode,))
                self.assertVerdict(r, "pass")
                err = r.outcome.clients[0].stderr.decode()
                fields = dict(f.split("=", 1) for f in err.split())
                uid = int(fields["uid"])
                self.assertTrue(sandbox.UID_BASE <= uid < sandbox.UID_BASE + sandbox.UID_COUNT,
                                err)
                self.assertTrue(fields["cwd"].endswith("/client"), err)
                self.assertEqual(fields["home"], fields["cwd"])
                self.assertEqual(fields["seccomp"], "2", err)  # the filter (filter.h)

    @needs_root
    def test_fork_bomb_stops_at_the_process_limit(self):
        r = self.run_one("forkbomb", SCENARIO.replace("timeout_s: 5", "timeout_s: 2"), nproc=40)
        # Its children keep its stdout open, so the client never finishes:
        # a timeout, or (in a cell) the children named, stuck in pause().
        self.assertVerdict(r, "fail")
        out = r.outcome.clients[0].stdout.decode()
        self.assertRegex(out, r"forked \d+, then: Resource temporarily unavailable")
        n = int(out.split()[1].rstrip(","))
        # 40 + 24 for the one client; the server's threads count too.
        self.assertLess(n, 40 + runner.PROCS_PER_CLIENT)

    def test_huge_file_is_stopped_by_the_file_size_limit(self):
        r = self.run_one("bigfile", fsize_mb=2)
        self.assertVerdict(r, "fail", "client crashed with SIGXFSZ (file size limit 2 MB reached)")

    def test_spinning_is_stopped_by_the_cpu_limit(self):
        r = self.run_one("spin", cpu_s=1)
        self.assertVerdict(r, "fail", "client crashed with SIGXCPU (CPU limit 1 s)")

    def test_memory_hog_is_stopped_by_the_data_limit(self):
        r = self.run_one("memory", data_mb=64)
        self.assertVerdict(r, "fail", "client exit code 4")
        self.assertIn(b"MemoryError after", r.outcome.clients[0].stdout)

    def test_flooding_stdout_costs_only_the_cell(self):
        r = self.run_one("flood", SCENARIO.replace("timeout_s: 5", "timeout_s: 1"))
        self.assertVerdict(r, "fail", "timeout: client still running after 1 s")
        self.assertTrue(r.outcome.clients[0].stdout_truncated)

    @needs_root
    def test_the_driver_namespace_is_out_of_reach(self):
        with socket.socket() as ls:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(("127.0.0.1", ESCAPE_PORT))
            ls.listen(8)
            ls.setblocking(False)
            r = self.run_one("escape", SCENARIO.replace("stdin: 'Hello'",
                                                        f"args: ['{ESCAPE_PORT}']"))
            self.assertIn(b"unreachable: Connection refused", r.outcome.clients[0].stdout)
            with self.assertRaises(BlockingIOError):
                ls.accept()

    @needs_root
    def test_two_hosts_inside_the_cell_namespace(self):
        r = self.run_one("echo", modes=("two-hosts",))
        self.assertVerdict(r, "pass")
        self.assertIsNotNone(r.recorded)


class LimitsTest(unittest.TestCase):
    def test_parse_and_args(self):
        lim = sandbox.parse_limits("cpu_s=5, data-mb=512")
        self.assertEqual(lim, sandbox.Limits(cpu_s=5, data_mb=512))
        self.assertEqual(lim.args()[:4], ["--cpu-s", "5", "--data-mb", "512"])
        for bad in ("cpu=5", "cpu_s", "cpu_s=x", "nproc=0"):
            with self.assertRaises(ValueError):
                sandbox.parse_limits(bad)

    def test_unreachable_names_the_closed_directory(self):
        d = self.enterContext(support.tempfile.TemporaryDirectory())
        os.chmod(d, 0o700)
        f = os.path.join(d, "prog")
        open(f, "w").close()
        self.assertIn(f"{d} is not searchable", sandbox.unreachable(f) or "")
        os.chmod(d, 0o755)
        os.chmod(f, 0o600)
        self.assertIn(f"{f} is not readable", sandbox.unreachable(f) or "")
        os.chmod(f, 0o644)
        self.assertIsNone(sandbox.unreachable(f))

    def test_peer_key(self):
        m = sandbox_matrix(support.Path(self.enterContext(
            support.tempfile.TemporaryDirectory())), "echo")
        self.assertTrue(m.peers["s-echo"].sandbox)
        self.assertFalse(matrix.Peer("p", None, None, None, True, {}, "", 1).sandbox)


if __name__ == "__main__":
    unittest.main()
