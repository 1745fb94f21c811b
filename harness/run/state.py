"""What running a cell works with: the run's options, a cell's result, and
what one attempt at a cell has started (for the cleanup and for the
robustness steps, harness/run/robustness.py). Data only; harness/run/runner.py
does the running.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from harness.judge.verdict import Judgement, Outcome
from harness.run import cell as isolation, netns, processes, sandbox
from harness.run.processes import Child
from harness.run.relay import TcpRelay, UdpRelay
from harness.spec import transcript
from harness.spec.matrix import Cell

SETTLE_S = 2.0  # after the clients: how long connections may take to close
EFFECT_WAIT_S = 5.0  # how long to wait for expected server stdout


@dataclass
class RunOptions:
    jobs: int = max(1, (os.cpu_count() or 1) * 2)
    strict: bool = False
    repeat: int = 1
    timeout_s: float | None = None  # overrides every scenario's client timeout
    run_timeout_s: float | None = None
    port_range: tuple[int, int] = (20000, 29999)
    chunk: int | None = None  # relay forwards in chunks of this many bytes
    chunk_delay: float = 0.0
    server_grace_s: float = processes.STOP_GRACE_S
    settle_s: float = SETTLE_S
    effect_wait_s: float = EFFECT_WAIT_S
    # Limits of sandboxed peers (matrix.yaml `sandbox: true`); nproc grows
    # with a scenario's clients (PROCS_PER_CLIENT each).
    sandbox_limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    # Every cell in its own namespaces (harness/run/cell.py); None: wherever
    # they can be made, False: never (the driver's port range instead).
    isolate: bool | None = None
    # Folders whose contents no cell sees but for what its programs name
    # (check: the class folder and the results beside it, so a student's
    # program reads neither other students' code nor their builds).
    hide: tuple[str, ...] = ()
    # Cells of one server peer run on one server where they allow it
    # (harness/run/runner.py, "Shared servers"); False: a server per cell.
    share_servers: bool = True


@dataclass
class CellResult:
    cell: Cell
    repeat: int  # 1-based
    judgement: Judgement
    outcome: Outcome
    duration_s: float
    server_port: int | None = None
    relay_port: int | None = None
    server_argv: list[str] = field(default_factory=list)
    client_argv: list[str] = field(default_factory=list)
    server_stdout: bytes = b""
    server_stderr: bytes = b""
    server_truncated: bool = False
    recorded: transcript.Transcript | None = None
    relay_log: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    port_attempts: int = 1
    dir: Path | None = None
    # A shared server (runner.py, "Shared servers"): how many cells it
    # served before this one, and whether it was left running for the next
    # (then it has no exit yet, and its output here is this cell's).
    server_reused: int = 0
    server_kept: bool = False
    # Why the cell did not pass on a shared server, when it was run again
    # on a server of its own (the verdict is that second run's).
    shared_attempt: str | None = None
    ended: float | None = None  # time.monotonic() when it was judged

    @property
    def verdict(self) -> str:
        return self.judgement.verdict

    @property
    def reason(self) -> str:
        return self.judgement.reason

    @property
    def id(self) -> str:
        return self.cell.id if self.repeat <= 1 else f"{self.cell.id}#{self.repeat}"


# What a peer takes from the driver's environment: where programs are and
# whose they are, nothing else. The rest of a host's environment changes
# what peers do and cost from machine to machine: LC_CTYPE a JVM's charset,
# NODE_OPTIONS or JAVA_TOOL_OPTIONS their flags, LD_PRELOAD their code,
# NODE_EXTRA_CA_CERTS ~40 ms of every Node.js start (docs/performance.md).
PASSED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "JAVA_HOME")


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every peer gets: PASSED_ENV from the driver's,
    TZ=UTC, LANG=C.UTF-8, then extra (the matrix's and the peer's env)."""
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.setdefault("PATH", os.defpath)
    env["TZ"] = "UTC"
    env["LANG"] = "C.UTF-8"
    env.update(extra or {})
    return env


@dataclass
class Live:
    """What one attempt at a cell has started, for the cleanup."""

    server: Child | None = None
    relay: TcpRelay | UdpRelay | None = None
    clients: list[Child | None] = field(default_factory=list)
    client_error: str | None = None
    hosts: netns.Hosts | None = None  # two-hosts mode: the server's namespace
    steps: list[Child] = field(default_factory=list)  # before: steps (robustness.py)
    step_conns: int = 0  # relay connections that belong to the steps
    # A sandboxed cell (harness/run/sandbox.py): its namespace, uid and limits.
    cell_ns: str | None = None
    uid: int | None = None
    limits: sandbox.Limits | None = None
    client_cwd: Path | None = None  # a sandboxed client's scratch directory
    cell: isolation.Cell | None = None  # the cell's namespaces (harness/run/cell.py)
    in_cell: bool = False  # the cell is to run in namespaces of its own
    server_argv: list[str] = field(default_factory=list)  # as started (wrapped)
    # What its programs may see where folders are masked (cell._binds).
    paths: list[str] = field(default_factory=list)
    hang: str | None = None  # a judged client ended by the hang monitor: why
    # A server kept for the next cell: the cells it has served, and where
    # this cell's part of its stdout and stderr starts.
    served: int = 0
    out_from: tuple[int, int] = (0, 0)

    def next_cell(self) -> None:
        """Forgets what the previous cell started around its server (a
        shared one, still running) and marks where its output continues."""
        assert self.server is not None
        self.relay, self.clients, self.client_error = None, [], None
        self.steps, self.step_conns, self.hang = [], 0, None
        self.out_from = (len(self.server.stdout.buf), len(self.server.stderr.buf))

    @property
    def in_netns(self) -> bool:
        """True when the server's socket is in another namespace's table."""
        return self.hosts is not None or self.cell_ns is not None or self.cell is not None


@dataclass
class Shared:
    """The server one cell of a unit left running for the next (runner.py,
    "Shared servers"): its cell, process and what it has served."""

    live: Live | None = None
    res: "CellResult | None" = None  # the cell that left it running
    paths: tuple[str, ...] = ()  # what its cell shows: every cell of the unit's
    off: bool = False  # the rest of the unit starts a server per cell
