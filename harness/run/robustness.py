"""Running a robustness scenario's `before:` steps and its `restart:`
(the keys: harness/spec/steps.py): once the server is ready and before the
judged clients, each step's client runs through the relay; a background
step goes on until the judged clients are done; a restart kills the
server's group and starts the same command on the same port.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Protocol

from harness.judge import verdict
from harness.run import clock, netns, processes, procnet
from harness.run.state import CellResult, Live, RunOptions
from harness.spec import matrix, modes
from harness.spec.matrix import Cell, CommandContext, Matrix
from harness.spec.steps import RESTART_SIGNALS
from harness.spec.transcript import CLIENT, DATA

POLL_S = 0.005
STEP_GRACE_S = 0.5
ACCEPT_WAIT_S = 2.0  # how long a background step may wait for the server's accept()


class Launcher(Protocol):
    """What the steps need of the cell runner (runner.CellRunner)."""

    m: Matrix
    ctx: CommandContext
    opts: RunOptions

    def launch(self, peer: matrix.Peer, argv: list[str], live: Live, role: str,
               scratch: Path) -> tuple[list[str], str, processes.Inside | None]: ...

    def peer_env(self, peer: matrix.Peer, mode: str, live: Live,
                 role: str = "client") -> dict[str, str]: ...


async def _wait_for(cond, timeout: float) -> bool:
    """Polls cond() every few ms; True once it holds, False after timeout
    (cell time, harness/run/clock.py)."""
    return await clock.poll_until(cond, timeout, POLL_S, POLL_S)


def _client_bytes(conn) -> int:
    return sum(len(e.data) for e in conn.events if e.direction == CLIENT and e.kind == DATA)


def _accepted(server, port: int) -> int:
    """How many connections on the server's port its processes hold (have
    accept()ed): connected sockets of the port whose inode is theirs. A
    connection still in the listen queue has no inode yet."""
    pids = processes.tree(server, group=True)  # as readiness sees them
    own = procnet.own_sockets(pids)
    if own is not None:
        return sum(1 for sk in own if sk.transport == "tcp" and sk.port == port
                   and not sk.listening and sk.remote_port)
    inodes = procnet.socket_inodes(pids)
    # The server's own namespace's table (a cell's, or the driver's).
    return sum(1 for sk in procnet.sockets("tcp", port, ns_pid=server.pid)
               if not sk.bound and sk.inode in inodes)


async def prepare(runner: Launcher, cell: Cell, res: CellResult, live: Live,
                  timeout: float) -> bool:
    """Runs the scenario's before steps, then its restart. Returns False when
    the cell must not go on (the outcome says why)."""
    sc = cell.scenario
    o = res.outcome
    rl = live.relay
    # Called once the server is ready and the relay listens.
    assert rl is not None and res.server_port is not None and res.relay_port is not None
    # The steps reach the relay the way the judged clients do (ipv6: ::1).
    ctx = runner.ctx
    if modes.parse(cell.mode).kind == "ipv6":
        ctx = dataclasses.replace(ctx, host="::1")
    for k, step in enumerate(sc.before, 1):
        peer = runner.m.peers[step.client]
        assert peer.client is not None
        argv = matrix.render(peer.client, ctx, cell.protocol, res.relay_port) + list(step.args)
        argv, cwd, inside = runner.launch(peer, argv, live, "client", runner.ctx.root)
        expected = len(rl.connections) + 1
        watch = step.background and live.hosts is None and live.cell_ns is None
        accepted = _accepted(live.server, res.server_port) if watch else 0
        try:
            child = await processes.spawn(argv, cwd, runner.peer_env(peer, cell.mode, live),
                                          step.stdin, inside=inside)
        except OSError as e:
            o.error = f"cannot start before step {k} ({argv[0]}): {e.strerror or e}"
            return False
        live.steps.append(child)
        if step.background:
            # Running on: go on once the relay has passed its bytes on (or
            # the step ended by itself).
            await _wait_for(lambda: len(rl.connections) >= expected or not child.running,
                            timeout)
            if len(rl.connections) >= expected:
                conn = rl.connections[expected - 1]
                await _wait_for(lambda: _client_bytes(conn) >= len(step.stdin)
                                or conn.done.is_set() or not child.running, timeout)
            if watch:
                # ... and once the server has accept()ed it: a restart then
                # leaves a connection of the killed server on the port, and
                # a one-at-a-time server is busy with it. A server that
                # never accepts it is not judged here.
                await _wait_for(lambda: not child.running
                                or _accepted(live.server, res.server_port) > accepted,
                                min(timeout, ACCEPT_WAIT_S))
            continue
        if not await child.wait(timeout):
            await child.stop(grace=STEP_GRACE_S)
            o.server_failure = (f"before step {k} ({step.describe()}) still running after "
                                f"{timeout:g} s: the server never ended its connection")
            return False
        # Let the relay finish the step's connection, so the server has seen
        # its end (reset, EOF) before what comes next.
        await _wait_for(lambda: len(rl.connections) >= expected, runner.opts.settle_s)
        if len(rl.connections) >= expected:
            conn = rl.connections[expected - 1]
            await _wait_for(conn.done.is_set, runner.opts.settle_s)
    live.step_conns = len(rl.connections)
    if sc.restart:
        return await restart(runner, cell, res, live, timeout)
    return True


async def restart(runner: Launcher, cell: Cell, res: CellResult, live: Live,
                  timeout: float) -> bool:
    """Stops the server's group with the scenario's signal and starts the
    same command again on the same port; True once it listens again."""
    sc = cell.scenario
    o = res.outcome
    old = live.server
    assert old is not None and res.server_port is not None  # a server was started
    sig = RESTART_SIGNALS[sc.restart or "SIGKILL"]
    if old.running:
        try:
            os.killpg(old.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    await old.stop(runner.opts.server_grace_s)
    try:
        new = await processes.spawn(live.server_argv, old.cwd,
                                    runner.peer_env(cell.server, cell.mode, live, "server"),
                                    inside=old.inside)
    except OSError as e:
        o.error = f"cannot restart the server {res.server_argv[0]}: {e.strerror or e}"
        return False
    live.server = new
    ready, _ = await netns.wait_ready(new, res.server_port, cell.protocol.transport, timeout,
                                      live.in_netns, live.cell)
    if ready.ready:
        return True
    what = "listening on" if cell.protocol.transport == "tcp" else "bound to"
    if ready.exited:
        o.server_failure = (f"restarted at once after {sc.restart}, the server "
                            f"{new.exit().describe()} before {what} port {res.server_port}")
        tail = verdict.tail_line(new.stderr.data())
        if tail:
            o.server_failure += f": {tail}"
        if ready.foreign:
            o.server_failure += (" (the killed server's connections still hold the port: "
                                 "SO_REUSEADDR missing?)")
    else:
        o.server_failure = (f"restarted at once after {sc.restart}, the server is not "
                            f"{what} port {res.server_port} after {timeout:g} s")
    return False


async def release(live: Live) -> None:
    """Stops the background steps (after the judged clients)."""
    for child in live.steps:
        if child.running:
            await child.stop(grace=STEP_GRACE_S)
