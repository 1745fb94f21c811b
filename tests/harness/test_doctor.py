"""python3 -m harness doctor PEER: every rule of the program contract it
checks is broken by one fake peer (fakes/doctor_server.py, doctor_client.py)
and reported as a FAIL with what happened; well-behaved fakes and the real C
peer pass. After each run nothing the doctor started survives and no port
of its range is still bound."""

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path

import support
from harness import cli
from harness.run import procnet

# This module's own ports (the top of helper H2's 12000-13999 slice), so it
# never meets another test module or a driver run.
RANGE = (13500, 13999)
PORTS = f"{RANGE[0]}-{RANGE[1]}"
SERVER = f"{{python}} {support.FAKES / 'doctor_server.py'}"
CLIENT = f"{{python}} {support.FAKES / 'doctor_client.py'}"
SERVER_MODES = ("good", "naive", "hang", "flood", "loopback", "otherport", "oneshot",
                "ignoreterm", "crash")
CLIENT_MODES = ("good", "naive", "quiet", "chatty", "emptyhang", "floodrefused", "ipv4only",
                "prompt", "gluedprompt")
BUILD = Path(os.environ.get("SL_BUILD_DIR", support.ROOT / "build"))


def call(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["doctor", *argv])
    return code, out.getvalue(), err.getvalue()


def checks(out: str) -> dict[str, tuple[str, str]]:
    """{check name: (status, detail)} from the doctor's checklist lines."""
    found = {}
    for m in re.finditer(r"^  (ok|FAIL|xfail|skip) +([^:]+): (.*)$", out, re.M):
        found[m.group(2)] = (m.group(1), m.group(3))
    return found


class DoctorFakesTest(support.HarnessTestCase):
    port_range = RANGE

    def setUp(self):
        super().setUp()
        peers = [f"  ref:\n    server: '{SERVER} good {{port}}'\n"
                 f"    client: '{CLIENT} good {{host}} {{port}}'"]
        peers += [f"  s-{m}:\n    server: '{SERVER} {m} {{port}}'" for m in SERVER_MODES]
        peers += [f"  c-{m}:\n    client: '{CLIENT} {m} {{host}} {{port}}'"
                  for m in CLIENT_MODES]
        peers.append(f"  c-joined:\n    client: '{CLIENT} joined {{host}}:{{port}}'")
        # The same faults, recorded as known failures of the matching mode.
        peers.append(f"  c-ipv4known:\n    client: '{CLIENT} ipv4only {{host}} {{port}}'")
        peers.append(f"  s-loopknown:\n    server: '{SERVER} loopback {{port}}'")
        peers.append(f"  s-boxed:\n    sandbox: true\n    server: '{SERVER} good {{port}}'")
        body = ("version: 1\npeers:\n" + "\n".join(peers) + "\n"
                "protocols:\n  echo:\n    transport: tcp\n    scenarios:\n"
                "      hello: {stdin: 'Hello', stdout: 'Hello', timeout_s: 5}\n"
                "known_failures:\n"
                "  - {cell: 'echo/hello/*/c-ipv4known/ipv6', reason: AF_INET only}\n"
                "  - {cell: 'echo/hello/s-loopknown/*/two-hosts', reason: bound to lo}\n")
        self.matrix = str(support.write_matrix(self.tmp, body,
                                               {"echo/hello": support.ECHO_GOLDEN}))

    def doctor(self, peer, *extra, code=None):
        """Runs the doctor on a fake peer (2 s timeout); checks that nothing
        survives; returns (exit code, stdout, {check: (status, detail)})."""
        t0 = time.monotonic()
        rc, out, err = call(peer, "--matrix", self.matrix, "--reference", "ref",
                            "--ports", PORTS, "--timeout", "2", *extra)
        self.assertLess(time.monotonic() - t0, 60, out)
        self.assertClean()
        if code is not None:
            self.assertEqual(rc, code, out + err)
        return rc, out, checks(out)

    def assertCheck(self, found, name, status, *fragments):
        self.assertIn(name, found, found)
        got, detail = found[name]
        self.assertEqual(got, status, f"{name}: {detail}")
        for f in fragments:
            self.assertIn(f, detail, name)

    def test_good_peers_pass(self):
        _, out, found = self.doctor("s-good", code=0)
        self.assertEqual([k for k in found], ["no arguments", "port 'x'", "port '70000'",
                                              "hello with the ref client", "binds PORT",
                                              "second client", "SIGTERM"])
        self.assertTrue(all(s == "ok" for s, _ in found.values()), out)
        self.assertCheck(found, "binds PORT", "ok", "listening on :: port")
        self.assertIn("s-good: 7 checks: 7 ok, 0 FAIL", out)
        _, out, found = self.doctor("c-good", code=0)
        self.assertEqual([k for k in found], ["no arguments", "port 'x'", "port '70000'",
                                              "hello with the ref server", "ipv6 host",
                                              "empty stdin", "connection refused",
                                              "server closes"])
        self.assertCheck(found, "connection refused", "ok", "exit 1", "Connection refused")
        self.assertCheck(found, "empty stdin", "ok", "exit 0")

    def test_server_usage_tracebacks(self):
        _, out, found = self.doctor("s-naive", "--skip", "binds,second-client,sigterm",
                                    code=1)
        self.assertCheck(found, "no arguments", "FAIL", "exit code 1", "IndexError",
                         "stack trace", "the contract wants exit 2")
        self.assertCheck(found, "port 'x'", "FAIL", "ValueError")
        self.assertCheck(found, "port '70000'", "FAIL", "exit code 1")
        self.assertCheck(found, "hello with the ref client", "ok", "pass")
        self.assertIn("s-naive: 4 checks: 1 ok, 3 FAIL", out)

    def test_hanging_and_flooding_usage_are_stopped(self):
        for peer in ("s-hang", "s-flood"):
            _, _, found = self.doctor(peer, "--skip", "bad-port,scenario,binds,"
                                                      "second-client,sigterm", code=1)
            self.assertCheck(found, "no arguments", "FAIL", "still running after 2 s",
                             "exit 2 at once")

    def test_loopback_only(self):
        _, _, found = self.doctor("s-loopback", "--skip", "usage,bad-port,scenario", code=1)
        self.assertCheck(found, "binds PORT", "FAIL", "listening on 127.0.0.1 port", "only",
                         "every interface")
        self.assertCheck(found, "second client", "ok")
        self.assertCheck(found, "SIGTERM", "ok")

    def test_other_port(self):
        _, _, found = self.doctor("s-otherport", "--skip", "usage,bad-port,scenario", code=1)
        status, detail = found["binds PORT"]
        self.assertEqual(status, "FAIL", detail)
        m = re.search(r"not listening on port (\d+) after 2 s: it took (\d+) instead", detail)
        self.assertIsNotNone(m, detail)
        self.assertEqual(int(m.group(2)), int(m.group(1)) + 1)
        self.assertNotIn("second client", found)

    def test_one_client_then_exit(self):
        _, _, found = self.doctor("s-oneshot", "--skip", "usage,bad-port", code=1)
        self.assertCheck(found, "hello with the ref client", "ok")
        self.assertCheck(found, "second client", "FAIL",
                         "served 1 client, then ended (exit code 0)", "serve until stopped")
        self.assertCheck(found, "SIGTERM", "skip", "already ended")

    def test_ignores_sigterm(self):
        _, _, found = self.doctor("s-ignoreterm", "--skip", "usage,bad-port,scenario",
                                  code=1)
        self.assertCheck(found, "SIGTERM", "FAIL", "still running 2 s after SIGTERM")

    def test_server_exits_before_binding(self):
        _, _, found = self.doctor("s-crash", "--skip", "usage,bad-port", code=1)
        self.assertCheck(found, "binds PORT", "FAIL", "exit code 3 before binding port",
                         "fake: cannot start")
        self.assertCheck(found, "hello with the ref client", "FAIL", "exit code 3")

    def test_client_tracebacks(self):
        _, out, found = self.doctor("c-naive", "--skip", "scenario,empty-stdin", code=1)
        self.assertCheck(found, "no arguments", "FAIL", "IndexError", "stack trace")
        self.assertCheck(found, "port 'x'", "FAIL", "ValueError")
        self.assertCheck(found, "connection refused", "FAIL", "exit 1, but a stack trace",
                         "ConnectionRefusedError", "one-line message")

    def test_client_runtime_error_exit_0(self):
        _, _, found = self.doctor("c-quiet", "--skip", "usage,bad-port,empty-stdin", code=1)
        self.assertCheck(found, "connection refused", "FAIL", "exit code 0",
                         "the contract wants exit 1")
        self.assertCheck(found, "hello with the ref server", "ok")

    def test_client_output_and_empty_stdin(self):
        _, _, found = self.doctor("c-chatty", "--skip", "usage,bad-port,refused", code=1)
        self.assertCheck(found, "hello with the ref server", "FAIL", "output mismatch",
                         "harness run -k echo/hello/ref/c-chatty/plain")
        _, _, found = self.doctor("c-emptyhang", "--skip", "usage,bad-port,refused", code=1)
        self.assertCheck(found, "hello with the ref server", "ok")
        self.assertCheck(found, "empty stdin", "FAIL", "still running 2 s after its stdin "
                                                       "ended empty")

    def test_error_message_glued_to_the_prompt(self):
        # protocols/README.md: the one-line message starts on a line of its
        # own; after a prompt without a newline the client writes "\n" first.
        _, _, found = self.doctor("c-gluedprompt", "--skip", "usage,bad-port,ipv6", code=1)
        self.assertCheck(found, "connection refused", "FAIL",
                         "the message follows the prompt 'Msg: ' on the same line",
                         "'Msg: doctor_client.py: Connection refused'")
        self.assertCheck(found, "server closes", "ok", "exit 0")
        _, _, found = self.doctor("c-prompt", "--skip", "usage,bad-port,ipv6", code=0)
        self.assertCheck(found, "connection refused", "ok", "Connection refused")

    def test_client_ipv4_only(self):
        _, _, found = self.doctor("c-ipv4only", "--skip", "usage,bad-port,refused,empty-stdin",
                                  code=1)
        self.assertCheck(found, "hello with the ref server", "ok")
        self.assertCheck(found, "ipv6 host", "FAIL", "hello with HOST ::1: client exit code 1",
                         "HOST resolved, IPv4 or IPv6")

    def test_known_failures_of_a_mode_are_xfail(self):
        _, out, found = self.doctor("c-ipv4known", "--skip",
                                    "usage,bad-port,refused,empty-stdin", code=0)
        self.assertCheck(found, "ipv6 host", "xfail", "known failure (ipv6): AF_INET only",
                         "client exit code 1")
        self.assertIn("1 known failures", out)
        _, _, found = self.doctor("s-loopknown", "--skip",
                                  "usage,bad-port,scenario,second-client,sigterm", code=0)
        self.assertCheck(found, "binds PORT", "xfail", "known failure (two-hosts): bound to lo",
                         "127.0.0.1 port")

    def test_client_flooding_stderr_is_stopped(self):
        _, _, found = self.doctor("c-floodrefused", "--skip", "usage,bad-port,scenario,"
                                                              "empty-stdin", code=1)
        self.assertCheck(found, "connection refused", "FAIL", "still running after 2 s")

    def test_argv_inside_a_word_is_skipped(self):
        # A third-party program's own address syntax: no argv checks, the
        # rest with {host} and {port} filled in inside the word.
        _, out, found = self.doctor("c-joined", code=0)
        self.assertCheck(found, "no arguments", "skip", "{host} inside '{host}:{port}'")
        self.assertCheck(found, "bad port", "skip")
        self.assertCheck(found, "connection refused", "ok", "exit 1")
        self.assertCheck(found, "hello with the ref server", "ok")
        self.assertCheck(found, "ipv6 host", "ok")
        self.assertCheck(found, "empty stdin", "ok")

    def test_usage_errors(self):
        def usage(*argv):
            rc, out, err = call(*argv, "--matrix", self.matrix)
            self.assertEqual((rc, out), (2, ""), err)
            return err

        err = usage("nosuch", "--reference", "ref")
        self.assertIn("no peer 'nosuch'", err)
        self.assertIn("known: ref, s-good", err)
        self.assertIn("--protocol calc: no such protocol",
                      usage("s-good", "--protocol", "calc", "--reference", "ref"))
        self.assertIn("--skip nap: no such check",
                      usage("s-good", "--skip", "nap", "--reference", "ref"))
        self.assertIn("has no client command",
                      usage("s-good", "--role", "client", "--reference", "ref"))
        self.assertIn("--reference c: no such peer", usage("s-good"))
        self.assertIn("peer s-boxed is sandboxed", usage("s-boxed", "--reference", "ref"))

    def test_interrupt_stops_everything(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=sig.name):
                self._interrupt(sig)

    def _interrupt(self, sig):
        # The hanging usage check is mid-flight (30 s timeout) when the
        # signal arrives: the doctor must stop it and exit 130 at once.
        p = subprocess.Popen([sys.executable, "-m", "harness", "doctor", "s-hang",
                              "--matrix", self.matrix, "--reference", "ref",
                              "--ports", PORTS, "--timeout", "30"],
                             cwd=support.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        seen = set()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and p.poll() is None:
                kids = procnet.descendants(p.pid)
                seen.update(kids)
                if any(b"doctor_server.py" in _cmd(k) for k in kids):
                    break
                time.sleep(0.01)
            self.assertIsNone(p.poll(), "the doctor ended before it could be interrupted")
            t0 = time.monotonic()
            p.send_signal(sig)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 130, err)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertIn(b"interrupted", err)
        alive = [k for k in seen if procnet.alive(k)]
        self.assertEqual(alive, [], [_cmd(k) for k in alive])
        self.assertClean()


def _cmd(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


@unittest.skipUnless((BUILD / "c" / "echo" / "server").exists(),
                     f"the C peers are not built in {BUILD} (set SL_BUILD_DIR)")
class DoctorCTest(support.HarnessTestCase):
    port_range = RANGE

    def test_c_peer_passes(self):
        rc, out, err = call("c", "--build", str(BUILD), "--ports", PORTS)
        self.assertClean()
        self.assertEqual(rc, 0, out + err)
        found = re.findall(r"^  (\S+) ", out, re.M)
        self.assertGreater(len(found), 9 * 12)
        self.assertEqual(set(found), {"ok", "skip"}, out)
        self.assertIn(" 0 FAIL", out)


if __name__ == "__main__":
    unittest.main()
