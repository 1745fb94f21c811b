"""Robustness scenarios: what happens to the server before the judged clients.

matrix.yaml keys (format: docs/matrix.md, "Robustness scenarios"):

- `before:` a list of steps, run in order once the server is ready and
  before the judged clients. A step is one run of a client program (the raw
  client unless `client:` names another peer) through the relay, with its
  own `stdin` and `args`. A step is not judged, except that one that has not
  ended after the scenario's timeout means the server never closed its
  connection. `background: true` keeps the step running (e.g. the raw
  client's `--hold`: connected and silent) while the judged clients run; it
  is stopped after them.
- `restart: true | SIGKILL | SIGTERM`: after the steps, the server's group
  gets the signal (true: SIGKILL), and the same command is started again at
  once on the same port; the judged clients run once it listens.
- `compare: streams`: the judged connections are compared with the golden
  per direction (each direction's bytes concatenated, then the close
  events) instead of turn by turn, for data that interleaves (a 1 MB echo).
- `robustness: true`: a failing cell's reason starts with the scenario's
  name and description, so the report names the condition that broke the
  server.

The relay records the steps' connections too (transcript.txt shows them
first); only the judged clients' connections are compared with the golden.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from harness.run import clock, processes, procnet
from harness.spec import transcript
from harness.spec.transcript import CLIENT, DATA, SERVER

if TYPE_CHECKING:  # no import cycle at run time: matrix imports this module
    from harness.spec.matrix import Cell, Peer, Scenario
    from harness.run.runner import CellResult, CellRunner
    from harness.judge.verdict import Judgement

STEP_KEYS = {"client", "stdin", "args", "background"}
RESTART_SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM}
COMPARES = ("turns", "streams")
MAX_STEPS = 10
POLL_S = 0.005
STEP_GRACE_S = 0.5
ACCEPT_WAIT_S = 2.0  # how long a background step may wait for the server's accept()


@dataclass(frozen=True)
class Step:
    """One `before:` step."""

    client: str  # peer name
    stdin: bytes
    args: tuple[str, ...]
    background: bool
    line: int

    def describe(self) -> str:
        return " ".join((self.client,) + self.args)


# --------------------------------------------------------------------------
# matrix.yaml


def parse_keys(w: Any, m: dict, what: str, transport: str,
               peers: dict[str, "Peer"]) -> dict[str, Any]:
    """Validates the robustness keys of one scenario mapping m (key ->
    (key node, value node)) with the matrix walker w. Returns the Scenario
    fields they set."""
    out: dict[str, Any] = {}
    if "before" in m:
        knode, node = m["before"]
        if transport != "tcp":
            w.err(knode, f"{what}: before: steps are for tcp protocols only")
        elif not isinstance(node, yaml.SequenceNode) or not node.value:
            kind = "an empty list" if isinstance(node, yaml.SequenceNode) else "not a list"
            w.err(node, f"{what}: before must be a non-empty list of steps ({kind})")
        elif len(node.value) > MAX_STEPS:
            w.err(node, f"{what}: before: at most {MAX_STEPS} steps, not {len(node.value)}")
        else:
            steps = []
            for k, item in enumerate(node.value, 1):
                step = _step(w, item, f"{what}: before step {k}", peers)
                if step is not None:
                    steps.append(step)
            out["before"] = tuple(steps)
    if "restart" in m:
        node = m["restart"][1]
        v = w.value(node) if isinstance(node, yaml.ScalarNode) else None
        if v is True:
            out["restart"] = "SIGKILL"
        elif v is False:
            out["restart"] = None
        elif isinstance(v, str) and v in RESTART_SIGNALS:
            out["restart"] = v
        else:
            w.err(node, f"{what}: restart must be true, false, SIGKILL or SIGTERM, "
                        f"not {v!r}" if v is not None else
                  f"{what}: restart must be true, false, SIGKILL or SIGTERM")
    if "compare" in m:
        s = w.string(m["compare"][1], f"{what}: compare")
        if s is not None and s not in COMPARES:
            w.err(m["compare"][1], f"{what}: compare must be turns or streams, not {s!r}")
        elif s is not None:
            out["compare"] = s
    if "robustness" in m:
        b = w.boolean(m["robustness"][1], f"{what}: robustness")
        if b is not None:
            out["robustness"] = b
    return out


def _step(w: Any, node: yaml.Node, what: str, peers: dict[str, "Peer"]) -> Step | None:
    sm = w.mapping(node, what, STEP_KEYS)
    if sm is None:
        return None
    n = len(w.problems)
    client = "raw"
    if "client" in sm:
        client = w.string(sm["client"][1], f"{what}: client") or "raw"
    peer = peers.get(client)
    where = sm["client"][1] if "client" in sm else node
    if peer is None:
        w.err(where, f"{what}: unknown peer {client!r}")
    elif peer.client is None:
        w.err(where, f"{what}: peer {client!r} has no client command")
    stdin = w.bytes_field(sm["stdin"][1], f"{what}: stdin") if "stdin" in sm else b""
    args: tuple[str, ...] = ()
    if "args" in sm:
        lst = w.string_list(sm["args"][1], f"{what}: args")
        args = tuple(s for s, _ in lst or [])
    background = False
    if "background" in sm:
        background = bool(w.boolean(sm["background"][1], f"{what}: background"))
    if len(w.problems) != n:
        return None
    return Step(client, stdin or b"", args, background, node.start_mark.line + 1)


# --------------------------------------------------------------------------
# Running


async def _wait_for(cond, timeout: float) -> bool:
    """Polls cond() every few ms; True once it holds, False after timeout
    (cell time, harness/clock.py)."""
    return await clock.poll_until(cond, timeout, POLL_S, POLL_S)


def _client_bytes(conn) -> int:
    return sum(len(e.data) for e in conn.events if e.direction == CLIENT and e.kind == DATA)


def _accepted(server, port: int) -> int:
    """How many connections on the server's port its processes hold (have
    accept()ed): connected sockets of the port whose inode is theirs. A
    connection still in the listen queue has no inode yet."""
    from harness.run.processes import _tree  # the server's processes, as readiness sees them
    pids = _tree(server.pid, group=True)
    own = procnet.own_sockets(pids)
    if own is not None:
        return sum(1 for sk in own if sk.transport == "tcp" and sk.port == port
                   and not sk.listening and sk.remote_port)
    inodes = procnet.socket_inodes(pids)
    # The server's own namespace's table (a cell's, or the driver's).
    return sum(1 for sk in procnet.sockets("tcp", port, ns_pid=server.pid)
               if not sk.bound and sk.inode in inodes)


async def prepare(runner: "CellRunner", cell: "Cell", res: "CellResult", live: Any,
                  timeout: float) -> bool:
    """Runs the scenario's before steps, then its restart. Returns False when
    the cell must not go on (the outcome says why)."""
    from harness.spec import matrix, modes  # run time only: matrix imports this module

    sc = cell.scenario
    o = res.outcome
    rl = live.relay
    # The steps reach the relay the way the judged clients do (ipv6: ::1).
    ctx = runner.ctx
    if modes.parse(cell.mode).kind == "ipv6":
        ctx = dataclasses.replace(ctx, host="::1")
    for k, step in enumerate(sc.before, 1):
        peer = runner.m.peers[step.client]
        assert peer.client is not None
        argv = matrix.render(peer.client, ctx, cell.protocol, res.relay_port) + list(step.args)
        argv, cwd = runner.launch(peer, argv, live, "client", runner.ctx.root)
        expected = len(rl.connections) + 1
        watch = step.background and live.hosts is None and live.cell_ns is None
        accepted = _accepted(live.server, res.server_port) if watch else 0
        try:
            child = await processes.spawn(argv, cwd, runner.peer_env(peer, cell.mode, live),
                                          step.stdin)
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


async def restart(runner: "CellRunner", cell: "Cell", res: "CellResult", live: Any,
                  timeout: float) -> bool:
    """Stops the server's group with the scenario's signal and starts the
    same command again on the same port; True once it listens again."""
    from harness.run.runner import wait_ready  # run time only: runner imports this module

    sc = cell.scenario
    o = res.outcome
    old = live.server
    sig = RESTART_SIGNALS[sc.restart or "SIGKILL"]
    if old.running:
        try:
            os.killpg(old.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    await old.stop(runner.opts.server_grace_s)
    try:
        new = await processes.spawn(live.server_argv, old.cwd,
                                    runner.peer_env(cell.server, cell.mode, live, "server"))
    except OSError as e:
        o.error = f"cannot restart the server {res.server_argv[0]}: {e.strerror or e}"
        return False
    live.server = new
    ready, _ = await wait_ready(new, res.server_port, cell.protocol.transport, timeout, live)
    if ready.ready:
        return True
    what = "listening on" if cell.protocol.transport == "tcp" else "bound to"
    if ready.exited:
        o.server_failure = (f"restarted at once after {sc.restart}, the server "
                            f"{new.exit().describe()} before {what} port {res.server_port}")
        from harness.judge.verdict import _tail_line
        tail = _tail_line(new.stderr.data())
        if tail:
            o.server_failure += f": {tail}"
        if ready.foreign:
            o.server_failure += (" (the killed server's connections still hold the port: "
                                 "SO_REUSEADDR missing?)")
    else:
        o.server_failure = (f"restarted at once after {sc.restart}, the server is not "
                            f"{what} port {res.server_port} after {timeout:g} s")
    return False


async def release(live: Any) -> None:
    """Stops the background steps (after the judged clients)."""
    for child in live.steps:
        if child.running:
            await child.stop(grace=STEP_GRACE_S)


# --------------------------------------------------------------------------
# Judging


def streams(turns: list[transcript.Turn], transport: str = "tcp") -> list[transcript.Turn]:
    """The turns as compared with `compare: streams`: all client data, then
    all server data (each merged into one turn), then the close events."""
    data = [t for d in (CLIENT, SERVER) for t in turns if t.kind == DATA and t.direction == d]
    closes = [t for t in turns if t.kind != DATA]
    return transcript.canonical(data + closes, transport)


def compare(sc: "Scenario", recorded: transcript.Transcript, golden_name: str,
            skip: int = 0) -> transcript.Comparison:
    """Compares the judged connections (those after the first skip, which
    belong to before steps) with the golden, turn by turn or as streams."""
    golden = sc.golden
    conns = recorded.connections[skip:]
    if sc.compare == "streams":
        golden = transcript.Transcript(golden.transport,
                                       [streams(c, golden.transport)
                                        for c in golden.connections[:1]])
        conns = [streams(c, recorded.transport) for c in conns]
    c = transcript.compare(golden, transcript.Transcript(recorded.transport, conns or [[]]),
                           golden_name)
    if not c.equal and skip:
        # Name the connection as transcript.txt numbers it (steps first).
        c = dataclasses.replace(c, connection=(c.connection or 1) + skip)
    return c


def name_condition(cell: "Cell", j: "Judgement") -> "Judgement":
    """For a robustness scenario, a reason that starts with the condition."""
    sc = cell.scenario
    if not getattr(sc, "robustness", False) or not j.reason:
        return j
    cond = sc.name + (f" ({sc.description})" if sc.description else "")
    return dataclasses.replace(j, reason=f"{cond}: {j.reason}")
