"""Running cells: one cell end to end, and a whole run under --jobs.

One cell: two ports (server, relay) -> the server in its own session and a
scratch directory -> wait until the kernel shows its socket -> the relay ->
the clients, concurrently, each with the scenario's stdin and a timeout ->
settle the relay, wait for server stdout effects -> stop the server's group
-> read file effects, compare the transcript, judge. Every process is
stopped in a finally, whatever happened.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from harness import mailbox
from harness import (matrix, modes, netns, processes, procnet, relay, sandbox, steps,
                     transcript, verdict)
from harness.matrix import Cell, CommandContext
from harness.ports import PortPool
from harness.processes import Child, Exit
from harness.verdict import ClientOutcome, Judgement, Outcome

SETTLE_S = 2.0  # after the clients: how long connections may take to close
EFFECT_WAIT_S = 5.0  # how long to wait for expected server stdout
PORT_ATTEMPTS = 5
FILE_LIMIT = 1 << 20
PROCS_PER_CLIENT = 24  # a JVM client runs ~15 threads; RLIMIT_NPROC counts them
_NOT_BUILT_MARKERS = ("Could not find or load main class", "can't open file")


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

    @property
    def verdict(self) -> str:
        return self.judgement.verdict

    @property
    def reason(self) -> str:
        return self.judgement.reason

    @property
    def id(self) -> str:
        return self.cell.id if self.repeat <= 1 else f"{self.cell.id}#{self.repeat}"


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every peer gets: TZ=UTC, LANG=C.UTF-8, LC_ALL unset."""
    env = {k: v for k, v in os.environ.items() if k != "LC_ALL"}
    env["TZ"] = "UTC"
    env["LANG"] = "C.UTF-8"
    env.update(extra or {})
    return env


class _Retry(Exception):
    """The port was taken by a foreign process: try the cell on other ports."""


@dataclass
class _Live:
    """What one attempt at a cell has started, for the cleanup."""

    server: Child | None = None
    relay: relay.TcpRelay | relay.UdpRelay | None = None
    clients: list[Child | None] = field(default_factory=list)
    client_error: str | None = None
    hosts: netns.Hosts | None = None  # two-hosts mode: the server's namespace
    steps: list[Child] = field(default_factory=list)  # before: steps (steps.py)
    step_conns: int = 0  # relay connections that belong to the steps
    # A sandboxed cell (harness/sandbox.py): its namespace, uid and limits.
    cell_ns: str | None = None
    uid: int | None = None
    limits: sandbox.Limits | None = None
    client_cwd: Path | None = None  # a sandboxed client's scratch directory

    @property
    def in_netns(self) -> bool:
        """True when the server's socket is in another namespace's table."""
        return self.hosts is not None or self.cell_ns is not None


class CellRunner:
    """Runs cells of one matrix; shared state: ports, command context."""

    def __init__(self, m: matrix.Matrix, ctx: CommandContext, opts: RunOptions,
                 scratch_root: Path, pool: PortPool | None = None):
        self.m = m
        self.ctx = ctx
        self.opts = opts
        self.pool = pool or PortPool(*opts.port_range)
        self.scratch_root = scratch_root
        self._envs: dict[str, dict[str, str]] = {}
        self._seq = 0
        self._uids = sandbox.UidPool() if sandbox.can_switch_uid() else None
        self._sandbox_ctx: CommandContext | None = None

    def env_for(self, peer: matrix.Peer) -> dict[str, str]:
        env = self._envs.get(peer.name)
        if env is None:
            env = base_env({**self.m.defaults.env, **peer.env})
            self._envs[peer.name] = env
        return env

    def timeouts(self, cell: Cell) -> tuple[float, float]:
        """Returns (client timeout, cell timeout) after --timeout."""
        t = self.opts.timeout_s or cell.scenario.timeout_s
        ct = cell.scenario.cell_timeout_s
        if self.opts.timeout_s:
            ct = max(ct, 2 * t + self.opts.settle_s + self.opts.server_grace_s)
        return t, ct

    async def run(self, cell: Cell, repeat: int = 1, deadline: float | None = None,
                  watch: "CellWatch | None" = None) -> CellResult:
        """Returns the judged result; never raises except on cancellation.
        watch, if given, is kept pointed at the attempt's live processes."""
        t0 = time.monotonic()
        self._seq += 1
        scratch = self.scratch_root / f"{self._seq:05d}-{cell.id.replace('/', '_')}"
        res = CellResult(cell, repeat, Judgement(verdict.ERROR, "not run"), Outcome(), 0.0)
        attempts = 0
        try:
            while True:
                attempts += 1
                res = CellResult(cell, repeat, Judgement(verdict.ERROR, "not run"), Outcome(),
                                 0.0, port_attempts=attempts)
                shutil.rmtree(scratch, ignore_errors=True)
                scratch.mkdir(parents=True)
                try:
                    await self._attempt(cell, res, scratch, deadline, watch)
                except _Retry:
                    if attempts < PORT_ATTEMPTS:
                        continue
                    res.outcome.error = (f"ports taken by other processes {attempts} times in a "
                                         f"row (last: {res.server_port}); not the peers' fault")
                break
        except Exception as e:  # a driver bug must not take the run down
            res.outcome.error = f"driver error: {type(e).__name__}: {e}"
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        res.duration_s = time.monotonic() - t0
        known = self.m.known_failure(cell.id)
        res.judgement = steps.name_condition(
            cell, verdict.judge(cell, res.outcome, self.opts.strict, known))
        if cell.server.sandbox or cell.client.sandbox:
            res.judgement = _explain_limits(res.judgement, self.opts.sandbox_limits)
        return res

    async def _attempt(self, cell: Cell, res: CellResult, scratch: Path,
                       deadline: float | None, watch: "CellWatch | None" = None) -> None:
        o = res.outcome
        client_t, cell_t = self.timeouts(cell)
        o.timeout_s = client_t
        loop = asyncio.get_running_loop()
        if deadline is not None:
            cell_t = min(cell_t, max(0.0, deadline - loop.time()))
        ports = self.pool.acquire(2)
        res.server_port, res.relay_port = ports
        live = _Live()
        if watch is not None:
            watch.live = live
        retry = False
        try:
            try:
                async with asyncio.timeout(cell_t):
                    await self._body(cell, res, scratch, live, client_t)
            except TimeoutError:
                if deadline is not None and loop.time() >= deadline - 0.01:
                    o.error = "not finished: the run's time limit was reached"
                else:
                    o.cell_timeout_s = cell_t
        except _Retry:
            retry = True
        finally:
            await self._cleanup(res, live, scratch)
            self.pool.release(ports)
        if retry:
            raise _Retry()

    async def _body(self, cell: Cell, res: CellResult, scratch: Path, live: _Live,
                    client_t: float) -> None:
        o = res.outcome
        sc = cell.scenario
        transport = cell.protocol.transport
        assert cell.server.server is not None and cell.client.client is not None
        sctx = self._ctx_for(cell.server, cell.server.server)
        cctx = self._ctx_for(cell.client, cell.client.client)
        if sctx is None or cctx is None:
            o.error = ("sandbox: no Python interpreter the sandbox user can read "
                       f"({sandbox.unreachable(self.ctx.python)})")
            return
        res.server_argv = matrix.render(cell.server.server, sctx, cell.protocol,
                                        res.server_port)
        mode = modes.parse(cell.mode)
        cctx = dataclasses.replace(cctx, host="::1") if mode.kind == "ipv6" else cctx
        res.client_argv = matrix.render(cell.client.client, cctx, cell.protocol,
                                        res.relay_port) + list(sc.args)
        problem = self._not_runnable(res.server_argv, "server") or \
            self._not_runnable(res.client_argv, "client")
        if problem:
            o.error = problem
            return
        if cell.server.sandbox or cell.client.sandbox:
            problem = await self._sandbox(cell, res, scratch, live)
            if problem:
                o.error = problem
                return
        if mode.kind == "two-hosts":
            try:
                live.hosts = await netns.create(parent=live.cell_ns)
            except OSError as e:
                o.error = f"two-hosts: cannot make the server's namespace: {e}"
                return
        res.server_argv = self.wrap(cell.server, res.server_argv, live,
                                    live.hosts.ns if live.hosts else live.cell_ns)
        res.client_argv = self.wrap(cell.client, res.client_argv, live, live.cell_ns)
        try:
            server = await processes.spawn(res.server_argv, str(scratch),
                                           modes.env(cell.mode, self.env_for(cell.server)))
        except OSError as e:
            o.error = f"cannot start the server {res.server_argv[0]}: {e.strerror or e}"
            return
        live.server = server
        ready, addrs = await wait_ready(server, res.server_port, transport, client_t, live)
        if live.hosts is not None and ready.ready and netns.loopback_only(addrs):
            o.server_failure = (f"server bound to {', '.join(sorted(set(addrs)))} port "
                                f"{res.server_port} only: a client on another host "
                                f"({live.hosts.host_addr}) cannot reach it")
            return
        if not ready.ready:
            if ready.foreign:
                raise _Retry()
            err = server.stderr.data()
            if ready.exited and any(mk.encode() in err for mk in _NOT_BUILT_MARKERS):
                o.error = f"not built: the server says {verdict._tail_line(err)!r}"
            elif ready.exited:
                o.server_failure = (f"server {server.exit().describe()} before binding port "
                                    f"{res.server_port}")
                tail = verdict._tail_line(err)
                if tail:
                    o.server_failure += f": {tail}"
            else:
                what = "listening on" if transport == "tcp" else "bound to"
                o.server_failure = f"server not {what} port {res.server_port} after {client_t:g} s"
                if ready.other_ports:
                    o.server_failure += (f" (it is {what} "
                                         f"{', '.join(map(str, ready.other_ports))} instead)")
            return
        rl = relay.create(transport, res.relay_port, res.server_port,
                          chunk=self.opts.chunk, chunk_delay=self.opts.chunk_delay,
                          mode=mode, host="::1" if mode.kind == "ipv6" else "127.0.0.1",
                          upstream_host=live.hosts.server_addr if live.hosts else None,
                          socket_factory=(netns.socket_factory(live.cell_ns)
                                          if live.cell_ns else socket.socket))
        try:
            await rl.start()
        except OSError:
            raise _Retry() from None
        live.relay = rl
        if (sc.before or sc.restart) and not await steps.prepare(self, cell, res, live, client_t):
            return
        server = live.server  # a restart replaces it
        env = modes.env(cell.mode, self.env_for(cell.client))
        o.clients = [ClientOutcome(i + 1, res.client_argv) for i in range(sc.clients)]
        live.clients.extend([None] * sc.clients)
        await asyncio.gather(*(self._client(cell, o.clients[i], live, i, env, client_t)
                               for i in range(sc.clients)))
        await steps.release(live)
        if live.client_error:
            return
        await asyncio.sleep(0)  # let the relay accept what the clients connected
        await rl.settle(self.opts.settle_s)
        if sc.server_stdout is not None:
            if not await server.stdout.wait_contains(sc.server_stdout, self.opts.effect_wait_s):
                o.effects.append(
                    f"server stdout lacks \"{transcript.escape(sc.server_stdout)[:200]}\"")
        if server.proc.returncode is not None:
            o.server_exited_early = True

    def _ctx_for(self, peer: matrix.Peer, tpl: matrix.Template) -> CommandContext | None:
        """A peer's command context: a sandboxed peer's {python} must be
        readable by the sandbox user. None when no interpreter is."""
        if not peer.sandbox or self._uids is None or "{python}" not in tpl.text:
            return self.ctx
        if self._sandbox_ctx is None:
            py = sandbox.python_for_sandbox(self.ctx.python)
            if py is None:
                return None
            self._sandbox_ctx = dataclasses.replace(self.ctx, python=py)
        return self._sandbox_ctx

    async def _sandbox(self, cell: Cell, res: CellResult, scratch: Path,
                       live: _Live) -> str | None:
        """Makes a sandboxed cell's namespace, uid and directories. Returns
        what went wrong (an error verdict), or None."""
        sc = cell.scenario
        lim = self.opts.sandbox_limits
        clients = sc.clients + len(sc.before) if cell.client.sandbox else 0
        live.limits = lim.replace(nproc=lim.nproc + PROCS_PER_CLIENT * clients)
        why = netns.unavailable("a sandboxed cell's own network namespace")
        if why is None:
            try:
                live.cell_ns = await netns.isolated()
            except OSError as e:
                return f"sandbox: cannot make the cell's network namespace: {e}"
        else:
            sandbox.note_once(f"sandboxed cells run without their own network namespace: {why}")
        if cell.client.sandbox:
            live.client_cwd = scratch / "client"
            live.client_cwd.mkdir()
        if self._uids is None:
            sandbox.note_once("sandboxed peers run as the driver's user, without a process "
                              "limit: switching to an unprivileged uid needs root")
            return None
        for role, peer, argv in (("server", cell.server, res.server_argv),
                                 ("client", cell.client, res.client_argv)):
            if not peer.sandbox:
                continue
            for word in argv:
                why = os.path.isabs(word) and os.path.exists(word) and sandbox.unreachable(word)
                if why:
                    return f"sandbox: cannot start the {role}: {why}"
        try:
            live.uid = self._uids.acquire()
        except OSError as e:
            return f"sandbox: {e.strerror or e}"
        # The sandboxed programs' working directories are theirs alone.
        if cell.server.sandbox:
            os.chown(scratch, live.uid, live.uid)
        if live.client_cwd is not None:
            os.chown(live.client_cwd, live.uid, live.uid)
        return None

    def wrap(self, peer: matrix.Peer, argv: list[str], live: _Live,
             ns: str | None) -> list[str]:
        """The argv that runs a program of peer in the cell: a sandboxed
        peer's through the sandbox wrapper (namespace ns, the cell's uid and
        limits), another's in namespace ns if any."""
        if peer.sandbox and live.limits is not None:
            return sandbox.wrapper_argv(self.ctx.python, live.limits, live.uid, ns) + argv
        if ns is not None:
            return ["ip", "netns", "exec", ns] + argv
        return argv

    def _not_runnable(self, argv: list[str], role: str) -> str | None:
        prog = argv[0]
        if prog == "java" and self.ctx.java is None:
            return f"cannot start the {role}: java is not on PATH"
        if os.path.isabs(prog) and not os.path.exists(prog):
            try:
                Path(prog).relative_to(self.ctx.build)
            except ValueError:
                return f"cannot start the {role}: {prog} does not exist"
            return (f"not built: {prog} does not exist "
                    f"(build first: cmake --build {self.ctx.build})")
        return None

    async def _client(self, cell: Cell, co: ClientOutcome, live: _Live, i: int,
                      env: dict[str, str], timeout: float) -> None:
        try:
            cwd = live.client_cwd if cell.client.sandbox and live.client_cwd else self.ctx.root
            child = await processes.spawn(co.argv, str(cwd), env, cell.scenario.stdin)
        except OSError as e:
            live.client_error = f"cannot start the client {co.argv[0]}: {e.strerror or e}"
            return
        live.clients[i] = child
        finished = await child.wait(timeout)
        co.timed_out = not finished
        await child.stop(grace=0.5)
        co.exit = child.exit()
        co.stdout = child.stdout.data()
        co.stderr = child.stderr.data()
        co.stdout_truncated = child.stdout.truncated
        co.duration_s = (child.ended or time.monotonic()) - child.started
        if co.exit.code is not None and co.exit.code != 0 and any(
                mk.encode() in co.stderr for mk in _NOT_BUILT_MARKERS):
            live.client_error = f"not built: the client says {verdict._tail_line(co.stderr)!r}"

    async def _cleanup(self, res: CellResult, live: _Live, scratch: Path) -> None:
        """Stops everything of the cell and collects what it left behind.
        Runs even when the cell was cancelled or timed out."""
        o = res.outcome
        server, rl, clients = live.server, live.relay, live.clients
        for c in live.steps:
            if c.running or processes.procnet.live_group_members(c.pid):
                await c.stop(grace=0.2)
        if live.client_error and not o.error:
            o.error = live.client_error
        # Clients first (a timed-out cell may still have some), then the
        # relay, then the server's whole group.
        for k, c in enumerate(clients):
            if c is not None and (c.running or processes.group_alive(c.pid)):
                await c.stop(grace=0.2)
                co = o.clients[k] if k < len(o.clients) else None
                if co is not None and co.exit is None:
                    co.exit = c.exit()
                    co.stdout = c.stdout.data()
                    co.stderr = c.stderr.data()
        if rl is not None:
            await rl.close()
            res.recorded = rl.transcript(res.cell.protocol.transport)
            res.relay_log = rl.log_lines()
        if server is not None:
            was_running = server.running
            await server.stop(self.opts.server_grace_s)
            if not was_running:
                o.server_exited_early = True
            o.server_exit = server.exit()
            res.server_stdout = server.stdout.data()
            res.server_stderr = server.stderr.data()
            res.server_truncated = server.stdout.truncated or server.stderr.truncated
        if live.hosts is not None:
            await asyncio.shield(netns.delete(live.hosts))
            live.hosts = None
        if live.uid is not None and self._uids is not None:
            # Whatever left the process groups (setsid, double fork) dies here.
            self._uids.release(live.uid)
            live.uid = None
        if live.cell_ns is not None:
            await asyncio.shield(netns.delete_ns(live.cell_ns))
            live.cell_ns = None
        sc = res.cell.scenario
        if server is not None and rl is not None and not o.error:
            for name, expected in sc.files.items():
                path = scratch / name
                try:
                    with open(path, "rb") as f:
                        data = f.read(FILE_LIMIT + 1)
                    res.files[name] = data
                except FileNotFoundError:
                    data = None
                except OSError as e:
                    o.effects.append(f"{name}: cannot read: {e.strerror}")
                    continue
                if expected is None:
                    if data:
                        o.effects.append(f"{name} must not exist or be empty, but it holds "
                                         f"\"{transcript.escape(data[:120])}\"")
                elif data is None:
                    o.effects.append(f"{name} was not created")
                elif data != expected:
                    o.effects.append(f"{name} holds \"{transcript.escape(data[:120])}\", "
                                     f"expected \"{transcript.escape(expected[:120])}\"")
            o.effects.extend(mailbox.check(sc.mailbox, scratch))
            if res.recorded is not None:
                o.comparison = steps.compare(sc, res.recorded,
                                             _rel(sc.golden_path, self.ctx.root), live.step_conns)


async def wait_ready(server: Child, port: int, transport: str, timeout: float,
                     live: _Live) -> tuple[processes.Readiness, list[str]]:
    """Waits until the server's socket shows in the kernel's table: the
    driver's own, or, for a server in a namespace (two-hosts, a sandboxed
    cell), that namespace's. Returns the readiness and, from a namespace's
    table, the addresses the socket is bound to."""
    if not live.in_netns:
        return await processes.wait_bound(server, port, transport, timeout), []
    ok, addrs = await netns.wait_bound(server, port, transport, timeout)
    return processes.Readiness(ok, exited=not server.running, timed_out=not ok), addrs


def _explain_limits(j: Judgement, limits: sandbox.Limits) -> Judgement:
    """Names the sandbox limit behind a signal in a reason: "client crashed
    with SIGXCPU (CPU limit 10 s)"."""
    reason = j.reason
    for sig in (signal.SIGXCPU, signal.SIGXFSZ):
        name = processes.signal_name(sig)
        if name in reason:
            reason = reason.replace(name, f"{name} ({limits.explain(sig)})")
    return dataclasses.replace(j, reason=reason) if reason != j.reason else j


def _rel(p: Path, root: Path) -> str:
    try:
        return str(p.relative_to(root))
    except ValueError:
        return str(p)


# --------------------------------------------------------------------------
# A whole run


def _cost(cell: Cell) -> int:
    """A rough cost used to start slow cells first (JVM start-up, many clients)."""
    c = 0
    for peer, role in ((cell.server, "server"), (cell.client, "client")):
        tpl = peer.template(role)
        if tpl is not None and "{java}" in tpl.text:
            c += 3 if role == "server" else 2 * cell.scenario.clients
    return c + cell.scenario.clients


# A cell counts against --jobs while its processes use the CPU. One whose
# processes have used less than IDLE_SHARE of a core over IDLE_CHECK_S (a
# client that hangs until its timeout, a wait for server output that never
# comes), after running for at least twice that, gives its slot to the next
# cell and finishes outside the count; at most WAITING_PER_JOB x jobs cells
# wait like this at once. Known failures start first: most of them wait.
IDLE_CHECK_S = 0.5
IDLE_SHARE = 0.05
WAITING_PER_JOB = 4


@dataclass
class CellWatch:
    """The live processes of a running cell, to tell whether it is idle."""

    live: _Live | None = None
    ticks: int = -1

    def pids(self) -> list[int]:
        lv = self.live
        if lv is None:
            return []
        kids = [lv.server, *lv.clients, *lv.steps]
        return [c.pid for c in kids if c is not None and c.running]

    def idle(self, interval_s: float) -> bool:
        """True if, since the previous call, the cell's processes used less
        than IDLE_SHARE of a core (the first call only takes a reading)."""
        pids = self.pids()
        ticks = sum(procnet.cpu_ticks(p) for p in pids)
        before, self.ticks = self.ticks, ticks
        if before < 0 or not pids:
            return False
        return (ticks - before) / _HZ < IDLE_SHARE * interval_s


_HZ = os.sysconf("SC_CLK_TCK")


async def run_cells(m: matrix.Matrix, cells: list[Cell], ctx: CommandContext,
                    opts: RunOptions,
                    on_start: Callable[[Cell, int], None] | None = None,
                    on_result: Callable[[CellResult], None] | None = None) -> list[CellResult]:
    """Runs cells (each opts.repeat times) with at most opts.jobs at once.
    Returns results in matrix order. Cancellation stops every child."""
    processes.become_subreaper()
    processes.use_pidfd_watcher()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + opts.run_timeout_s if opts.run_timeout_s else None
    scratch_root = Path(tempfile.mkdtemp(prefix="harness-"))
    # Searchable (not listable) by others: a sandboxed program runs as another
    # user in a directory below it and may name its files by absolute path.
    os.chmod(scratch_root, 0o711)
    jobs = [(c, r) for c in cells for r in range(1, opts.repeat + 1)]
    order = sorted(range(len(jobs)), key=lambda i: (m.known_failure(jobs[i][0].id) is None,
                                                    -_cost(jobs[i][0])))
    results: list[CellResult | None] = [None] * len(jobs)
    sem = asyncio.Semaphore(max(1, opts.jobs))
    waiting = {"n": 0, "max": WAITING_PER_JOB * max(1, opts.jobs)}
    runner = CellRunner(m, ctx, opts, scratch_root)

    async def one(i: int) -> None:
        cell, rep = jobs[i]
        await sem.acquire()
        held = True
        try:
            if deadline is not None and loop.time() >= deadline:
                res = CellResult(cell, rep, verdict.judge(cell, Outcome(
                    error="not run: the run's time limit was reached")), Outcome(), 0.0)
            else:
                if on_start:
                    on_start(cell, rep)
                watch = CellWatch()
                task = asyncio.ensure_future(runner.run(cell, rep, deadline, watch))
                try:
                    while True:
                        done, _ = await asyncio.wait({task}, timeout=IDLE_CHECK_S)
                        if done:
                            break
                        if held and waiting["n"] < waiting["max"] and \
                                watch.idle(IDLE_CHECK_S):
                            held = False
                            waiting["n"] += 1
                            sem.release()
                finally:
                    if not task.done():
                        task.cancel()
                        await asyncio.gather(task, return_exceptions=True)
                    if not held:
                        waiting["n"] -= 1
                res = task.result()
            results[i] = res
            if on_result:
                on_result(res)
        finally:
            if held:
                sem.release()

    tasks = [asyncio.ensure_future(one(i)) for i in order]
    try:
        await asyncio.gather(*tasks)
    finally:
        # Cancel what is still running, but only once: a second cancel would
        # interrupt a cell's cleanup (stopping its processes) half-way.
        for t in tasks:
            if not t.done() and not t.cancelling():
                t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        processes.kill_all()
        processes.sweep()
        shutil.rmtree(scratch_root, ignore_errors=True)
    return [r for r in results if r is not None]
