"""Helpers shared by the driver's tests: paths, throw-away matrices that use
the fake peers, and the checks every run must pass (nothing survives,
nothing listens). A failing check prints the command, the exit codes, the
transcript diff and the tails of both logs."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FAKES = HERE / "fakes"
FIXTURES = HERE / "fixtures"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harness.run import procnet, processes, runner  # noqa: E402
from harness.spec import matrix, transcript  # noqa: E402

FAKE_SERVER = f"{{python}} {FAKES / 'server.py'}"
FAKE_CLIENT = f"{{python}} {FAKES / 'client.py'}"

# Each test module owns a port range (outside the kernel's ephemeral range
# and the driver's default 20000-29999) so parallel ctest runs never meet.
PORT_RANGES = {
    "runner": (30000, 30499),
    "cli": (30500, 30999),
    "processes": (31000, 31499),
    "relay": (31500, 31999),
    "report": (32000, 32499),
}

ECHO_GOLDEN = '# transcript v1 tcp\n> "Hello"\n< "Hello"\n> EOF\n< EOF\n'


def write_matrix(root: Path, body: str, goldens: dict[str, str] | None = None) -> Path:
    """Writes root/matrix.yaml (body, dedented) and goldens
    {"proto/scenario": text} under root/protocols/. Returns the path."""
    root.mkdir(parents=True, exist_ok=True)
    for key, text in (goldens or {}).items():
        proto, sc = key.split("/")
        g = root / "protocols" / proto / "golden"
        g.mkdir(parents=True, exist_ok=True)
        (g / f"{sc}.txt").write_text(text, encoding="utf-8")
    path = root / "matrix.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def fake_matrix(root: Path, servers: dict[str, str], clients: dict[str, str],
                scenario: str = "", transport: str = "tcp", golden: str = ECHO_GOLDEN,
                known_failures: str = "[]") -> matrix.Matrix:
    """A one-protocol matrix `echo` with one scenario `hello` (overridable
    by `scenario`, YAML lines indented under it) whose peers run the fake
    programs in the given modes: servers {name: mode}, clients {name: mode}."""
    peers = []
    for name, mode in servers.items():
        peers.append(f"  s-{name}:\n    server: '{FAKE_SERVER} {mode} {{port}}'")
    for name, mode in clients.items():
        peers.append(f"  c-{name}:\n    client: '{FAKE_CLIENT} {mode} {{host}} {{port}}'")
    sc = scenario or "stdin: 'Hello'\nstdout: 'Hello'\ntimeout_s: 3\ncell_timeout_s: 15"
    sc_lines = "\n".join("        " + ln for ln in textwrap.dedent(sc).strip().splitlines())
    body = ("version: 1\npeers:\n" + "\n".join(peers) + "\n"
            f"protocols:\n  echo:\n    transport: {transport}\n    scenarios:\n      hello:\n"
            f"{sc_lines}\nknown_failures: {known_failures}\n")
    path = write_matrix(root, body, {"echo/hello": golden})
    return matrix.load(path, root)


def run_cells(m: matrix.Matrix, cells=None, port_range=PORT_RANGES["runner"],
              **opts) -> list[runner.CellResult]:
    """Runs cells (default: all) of m in this process and returns results."""
    cells = cells if cells is not None else matrix.expand(m)
    ctx = matrix.CommandContext.create(m.root, m.root / "build")
    o = runner.RunOptions(port_range=port_range, **opts)
    return asyncio.run(runner.run_cells(m, cells, ctx, o))


def _tail(data: bytes, n: int = 15, width: int = 160) -> str:
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join("      " + (ln if len(ln) <= width else ln[:width] + " [...]")
                     for ln in lines[-n:]) or "      (empty)"


def explain(r: runner.CellResult) -> str:
    """The story of a cell for a failing assertion: commands, exits,
    reason, transcript diff and log tails."""
    o = r.outcome
    out = [f"cell {r.id}: {r.verdict}: {r.reason}",
           f"  server: {' '.join(r.server_argv)}",
           f"    {o.server_exit.describe() if o.server_exit else 'not started'}",
           f"  client: {' '.join(r.client_argv)}"]
    for c in o.clients:
        out.append(f"    client {c.index}: {c.exit.describe() if c.exit else 'not started'}"
                   + (" (timed out)" if c.timed_out else ""))
    if r.judgement.diff:
        out.append("  diff:\n" + textwrap.indent(r.judgement.diff, "    "))
    if r.recorded is not None:
        out.append("  transcript:\n" + textwrap.indent(
            transcript.format_transcript(r.recorded), "    "))
    out.append("  server stdout tail:\n" + _tail(r.server_stdout))
    out.append("  server stderr tail:\n" + _tail(r.server_stderr))
    for c in o.clients[:3]:
        out.append(f"  client {c.index} stdout tail:\n" + _tail(c.stdout))
        out.append(f"  client {c.index} stderr tail:\n" + _tail(c.stderr))
    return "\n".join(out)


class HarnessTestCase(unittest.TestCase):
    """Base class: a temp dir per test, and cleanliness checks."""

    port_range = PORT_RANGES["runner"]

    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="harness-test-")
        self.tmp = Path(self._tmp.name)
        self.sessions_before = set(processes._ALL_SESSIONS)

    def tearDown(self) -> None:
        self._tmp.cleanup()

    def assertVerdict(self, r: runner.CellResult, verdict: str, reason: str | None = None):
        if r.verdict != verdict or (reason is not None and reason not in r.reason):
            self.fail(f"expected {verdict}" + (f" with reason containing {reason!r}"
                                               if reason else "") + "\n" + explain(r))

    def assertClean(self, results: list[runner.CellResult] = ()) -> None:
        """No process this test started survives; no port of the run listens;
        no descendant of this process is alive."""
        started = processes._ALL_SESSIONS - self.sessions_before
        alive = procnet.live_group_members(started) if started else []
        desc = [p for p in procnet.descendants(os.getpid()) if procnet.alive(p)]
        ports = set()
        for r in results:
            ports.update(p for p in (r.server_port, r.relay_port) if p)
        lo, hi = self.port_range
        # Only sockets this test's processes hold (the relay's are this
        # process's own): another test or another clone's make test may
        # use the same ports at the same time.
        mine = procnet.socket_inodes([os.getpid(), *desc, *(s.pid for s in alive)])
        listening = [s for t in ("tcp", "udp") for s in procnet.sockets(t)
                     if s.bound and s.inode in mine and (s.port in ports or lo <= s.port <= hi)]
        problems = []
        if alive:
            problems.append("processes of the run survive: " + ", ".join(
                f"{s.pid} ({_cmdline(s.pid)})" for s in alive))
        if desc:
            problems.append("descendants alive: " + ", ".join(
                f"{p} ({_cmdline(p)})" for p in desc))
        if listening:
            problems.append("ports still bound: " + ", ".join(
                f"{s.transport}/{s.port}" for s in listening))
        if problems:
            # Clean up so one failure does not cascade, then fail loudly.
            processes.sweep()
            self.fail("\n".join(problems) + "\n" + "\n\n".join(explain(r) for r in results))


def cmd(pid: int) -> bytes:
    """pid's raw command line (NUL-separated), or b"" once it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()[:120]
    except OSError:
        return "?"
