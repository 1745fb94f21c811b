"""Running cells: one cell end to end, and a whole run under --jobs.

One cell: two ports (server, relay) -> the server in its own session and a
scratch directory -> wait until the kernel shows its socket -> the relay ->
the clients, concurrently, each with the scenario's stdin and a timeout ->
settle the relay, wait for server stdout effects -> stop the server's group
-> read file effects, compare the transcript, judge. Every process is
stopped in a finally, whatever happened.

A whole run: units of cells under --jobs; the cells of a unit share one
server where they can ("Shared servers" below): a cell then starts at
the relay and, unless it is the unit's last, leaves the server running.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.judge import compare, verdict
from harness.judge.verdict import ClientOutcome, Judgement, Outcome
from harness.run import (cell as isolation, clock, hang, janitor, netns, processes, procnet,
                         relay, robustness, sandbox)
from harness.run.ports import PortPool
from harness.spec import mailbox, matrix, modes, steps, transcript
from harness.run.state import CellResult, Live, RunOptions, Shared, base_env
from harness.spec.matrix import Cell, CommandContext

PORT_ATTEMPTS = 5
FILE_LIMIT = 1 << 20
PROCS_PER_CLIENT = 24  # a JVM client runs ~15 threads; RLIMIT_NPROC counts them
# The hang monitor (see _monitor): every MONITOR_S it samples the cell clock;
# once the relay has been silent for QUIET_S it looks at the processes, and a
# second look CONFIRM_S later must find them still blocked the same way.
MONITOR_S = 0.1
QUIET_S = 0.3
CONFIRM_S = 0.25
LAG_S = 0.1  # a nap this much longer than asked: the driver itself was starved
_NOT_BUILT_MARKERS = ("Could not find or load main class", "can't open file")


class _Retry(Exception):
    """The port was taken by a foreign process: try the cell on other ports."""


def cell_paths(ctx: CommandContext, *programs: tuple[matrix.Peer, list[str]]) -> list[str]:
    """What a cell binds back where it masks folders (/tmp, a class;
    cell._binds): the repository, the build, the interpreters, and per
    program its command line's words; for a student (peer.folders) its own
    folder and build instead, never what its command line names (a
    check.yaml command or a link may name a classmate's files)."""
    out = [str(ctx.root), str(ctx.build), ctx.python, ctx.java or ""]
    for peer, argv in programs:
        out += peer.folders or argv
    return out


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
        self.sl_cell = find_sl_cell(ctx)
        self.isolated = False
        why = "asked for"
        if opts.isolate is not False:
            sup = isolation.support(self.sl_cell)
            self.isolated = sup.ok
            why = sup.why
            if sup.ok and not sup.sized:
                sandbox.note_once(f"{sup.bwrap} has no --size (bubblewrap < 0.7): a cell's "
                                  "/tmp and /dev/shm are not capped, and a program may fill "
                                  "memory with files")
        if not self.isolated:
            sandbox.note_once(f"cells run without namespaces of their own ({why}): "
                              f"ports come from the range {opts.port_range[0]}-"
                              f"{opts.port_range[1]}, and cells share this machine's "
                              f"network, /tmp and process table")

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

    def shares(self, cell: Cell) -> bool:
        """May this cell run on a server an earlier cell of the same
        protocol, server peer and mode left running ("Shared servers"
        below)? Only in a cell of its own namespaces
        (nothing else on the machine can reach the server between two
        scenarios), never for a sandboxed program (a student's), never in
        two-hosts (the server's namespace is made per cell)."""
        return (self.opts.share_servers and self.isolated and cell.scenario.shares_server
                and not cell.server.sandbox and not cell.client.sandbox
                and modes.parse(cell.mode).kind != "two-hosts")

    async def run(self, cell: Cell, repeat: int = 1, deadline: float | None = None,
                  watch: "CellWatch | None" = None, shared: "Shared | None" = None,
                  last: bool = True) -> CellResult:
        """Returns the judged result; never raises except on cancellation.
        watch, if given, is kept pointed at the attempt's live processes.
        shared, if given, carries a server from one cell of a unit to the
        next ("Shared servers" below): the cell runs on the server in it,
        if any, and leaves its own there unless last or it did not pass. A
        cell that does not pass on a shared server is run again on a server
        of its own, and that run is its verdict (a server that ends after
        one client, say, ends between two scenarios); the rest of the unit
        then starts a server each."""
        if shared is not None and shared.off:
            await self.release(shared)
        reused = shared is not None and shared.live is not None
        res = await self._run_once(cell, repeat, deadline, watch,
                                   None if shared is None or shared.off else shared, last)
        if reused and res.verdict not in (verdict.PASS, verdict.XPASS):
            assert shared is not None
            await self.release(shared)
            shared.off = True
            first, res = res, await self._run_once(cell, repeat, deadline, watch)
            res.shared_attempt = first.reason
            res.duration_s += first.duration_s
        res.ended = time.monotonic()
        return res

    async def _run_once(self, cell: Cell, repeat: int, deadline: float | None,
                        watch: "CellWatch | None", shared: "Shared | None" = None,
                        last: bool = True) -> CellResult:
        t0 = time.monotonic()
        self._seq += 1
        scratch = self.scratch_root / f"{self._seq:05d}-{cell.id.replace('/', '_')}"
        res = CellResult(cell, repeat, Judgement(verdict.ERROR, "not run"), Outcome(), 0.0)
        attempts = 0
        if watch is None:
            watch = CellWatch()
        token = None
        capped = self._scratch_on_tmpfs(cell)
        try:
            while True:
                attempts += 1
                res = CellResult(cell, repeat, Judgement(verdict.ERROR, "not run"), Outcome(),
                                 0.0, port_attempts=attempts)
                _drop_scratch(scratch, capped)
                scratch.mkdir(parents=True)
                if capped:
                    janitor.mount(scratch)
                    sandbox.mount_tmpfs(scratch)
                # Every wait of this attempt counts cell time (harness/run/clock.py).
                cc = clock.CellClock(watch.pids, _launched)
                if token is not None:
                    clock.current.reset(token)
                token = clock.current.set(cc)
                try:
                    await self._attempt(cell, res, scratch, deadline, watch, shared, last)
                except _Retry:
                    if attempts < PORT_ATTEMPTS:
                        continue
                    res.outcome.error = (f"ports taken by other processes {attempts} times in a "
                                         f"row (last: {res.server_port}); not the peers' fault")
                break
        except Exception as e:  # a driver bug must not take the run down
            res.outcome.error = f"driver error: {type(e).__name__}: {e}"
        finally:
            if token is not None:
                res.outcome.starved_s = clock.current.get().starved()
                clock.current.reset(token)
            _drop_scratch(scratch, capped)
        self._judge(res)
        if res.server_kept and res.verdict not in (verdict.PASS, verdict.XPASS):
            # The next scenario gets a server that has only ever passed.
            assert shared is not None
            try:
                await self.release(shared)
            except Exception as e:  # as above: a driver bug is this cell's error
                res.outcome.error = f"driver error: {type(e).__name__}: {e}"
                self._judge(res)
        res.duration_s = time.monotonic() - t0
        return res

    def _judge(self, res: CellResult) -> None:
        cell = res.cell
        known = self.m.known_failure(cell.id)
        res.judgement = compare.name_condition(
            cell, verdict.judge(cell, res.outcome, self.opts.strict, known))
        if cell.server.sandbox or cell.client.sandbox:
            res.judgement = _explain_limits(res.judgement, self.opts.sandbox_limits)

    async def release(self, shared: "Shared") -> None:
        """Stops the server shared holds and ends its cell. The cell that
        left it running gets its exit, the rest of its output and (judged
        again) any process that outlived it."""
        live, shared.live = shared.live, None
        res, shared.res = shared.res, None
        if live is None:
            return
        server = live.server
        try:
            if server is not None:
                await server.stop(self.opts.server_grace_s)
            left = live.cell.leftovers() if live.cell is not None else []
            if res is not None and server is not None:
                res.server_kept = False
                res.outcome.server_exit = server.exit()
                _take_output(res, live)
                if left:
                    res.outcome.leftovers = _named([st.pid for st in left])
                    self._judge(res)
        finally:
            if live.cell is not None:
                await asyncio.shield(live.cell.close())
                live.cell = None

    async def _attempt(self, cell: Cell, res: CellResult, scratch: Path,
                       deadline: float | None, watch: "CellWatch | None" = None,
                       shared: "Shared | None" = None, last: bool = True) -> None:
        o = res.outcome
        client_t, cell_t = self.timeouts(cell)
        o.timeout_s = client_t
        loop = asyncio.get_running_loop()
        if deadline is not None:
            cell_t = min(cell_t, max(0.0, deadline - loop.time()))
        live = Live()
        if shared is not None and shared.live is not None:
            live, shared.live, shared.res = shared.live, None, None
            live.next_cell()
        # two-hosts gives the server a namespace of its own with `ip netns`,
        # outside the cell (root only); its cells keep the shared network.
        in_cell = self.isolated and modes.parse(cell.mode).kind != "two-hosts"
        ports: list[int] = []
        if in_cell:
            res.server_port, res.relay_port = isolation.SERVER_PORT, isolation.RELAY_PORT
        else:
            ports = self.pool.acquire(2)
            res.server_port, res.relay_port = ports
        if watch is not None:
            watch.live = live
        retry = False
        ended = False  # the body ended (or timed out) without an exception
        live.in_cell = in_cell
        try:
            body = asyncio.ensure_future(self._body(cell, res, scratch, live, client_t,
                                                    shared.paths if shared else ()))
            try:
                # The run's own limit is wall time; the cell's is cell time.
                async with asyncio.timeout(max(0.0, deadline - loop.time())
                                           if deadline is not None else None):
                    finished = await clock.wait_for(body, cell_t, stoppable=False)
                if not finished:
                    o.cell_timeout_s = cell_t
            except TimeoutError:
                o.error = "not finished: the run's time limit was reached"
            finally:
                if not body.done():
                    body.cancel()
                    await asyncio.gather(body, return_exceptions=True)
            if body.done() and not body.cancelled() and body.exception() is not None:
                raise body.exception()  # type: ignore[misc]
            ended = True
        except _Retry:
            retry = True
        finally:
            keep = shared is not None and not last and ended
            if await self._cleanup(res, live, scratch, keep):
                assert shared is not None
                shared.live, shared.res = live, res
            if ports:
                self.pool.release(ports)
        if retry:
            raise _Retry()

    def _argvs(self, cell: Cell, server_port: int | None, relay_port: int | None
               ) -> tuple[list[str], list[str]] | None:
        """The server's and the client's command lines; None when a
        sandboxed peer has no interpreter the sandbox user can run."""
        assert cell.server.server is not None and cell.client.client is not None
        sctx = self._ctx_for(cell.server, cell.server.server)
        cctx = self._ctx_for(cell.client, cell.client.client)
        if sctx is None or cctx is None:
            return None
        cctx = dataclasses.replace(cctx, host="::1") \
            if modes.parse(cell.mode).kind == "ipv6" else cctx
        return (matrix.render(cell.server.server, sctx, cell.protocol, server_port or 0),
                matrix.render(cell.client.client, cctx, cell.protocol, relay_port or 0)
                + list(cell.scenario.args))

    def unit_paths(self, cells: list[Cell]) -> tuple[str, ...]:
        """What the cell of a shared server must show (cell_paths) for all
        the cells that will run in it."""
        out: set[str] = set()
        for c in cells:
            argvs = self._argvs(c, isolation.SERVER_PORT, isolation.RELAY_PORT)
            if argvs is not None:
                out.update(cell_paths(self.ctx, (c.server, argvs[0]), (c.client, argvs[1])))
        return tuple(sorted(out))

    async def _body(self, cell: Cell, res: CellResult, scratch: Path, live: Live,
                    client_t: float, unit_paths: tuple[str, ...] = ()) -> None:
        o = res.outcome
        sc = cell.scenario
        transport = cell.protocol.transport
        argvs = self._argvs(cell, res.server_port, res.relay_port)
        if argvs is None:
            o.error = ("sandbox: no Python interpreter the sandbox user can read "
                       f"({sandbox.unreachable(self.ctx.python)})")
            return
        res.server_argv, res.client_argv = argvs
        mode = modes.parse(cell.mode)
        problem = self._not_runnable(res.server_argv, "server") or \
            self._not_runnable(res.client_argv, "client")
        if problem:
            o.error = problem
            return
        paths = cell_paths(self.ctx, (cell.server, res.server_argv),
                           (cell.client, res.client_argv))
        paths += [w for step in sc.before for w in self._step_words(cell, step)]
        paths += [p for p in unit_paths if p not in paths]
        if live.server is not None and not set(paths) <= set(live.paths):
            # Its namespaces do not show what this cell needs (unit_paths
            # missed it): an error here, and run() runs it again alone.
            o.error = "driver error: the shared server's cell lacks this cell's paths"
            return
        if live.server is not None:
            res.server_reused = live.served
            self._forget_effects(cell, live)
        elif not await self._start_server(cell, res, scratch, live, paths, client_t):
            return
        server = live.server
        assert server is not None
        rl = relay.create(transport, res.relay_port, res.server_port,
                          chunk=self.opts.chunk, chunk_delay=self.opts.chunk_delay,
                          mode=mode, host="::1" if mode.kind == "ipv6" else "127.0.0.1",
                          upstream_host=live.hosts.server_addr if live.hosts else None,
                          socket_factory=(live.cell.socket if live.cell is not None else
                                          netns.socket_factory(live.cell_ns) if live.cell_ns
                                          else socket.socket))
        try:
            await rl.start()
        except OSError:
            raise _Retry() from None
        live.relay = rl
        if (sc.before or sc.restart) and not await robustness.prepare(self, cell, res, live, client_t):
            return
        server = live.server  # a restart replaces it
        env = self.peer_env(cell.client, cell.mode, live)
        o.clients = [ClientOutcome(i + 1, res.client_argv) for i in range(sc.clients)]
        live.clients.extend([None] * sc.clients)
        monitor = asyncio.ensure_future(self._monitor(cell, res, live))
        try:
            await asyncio.gather(*(self._client(cell, o.clients[i], live, i, env, client_t)
                                   for i in range(sc.clients)))
            o.hang = live.hang
            await robustness.release(live)
            if live.client_error:
                return
            await asyncio.sleep(0)  # let the relay accept what the clients connected
            await rl.settle(self.opts.settle_s)
            if sc.server_stdout is not None:
                if not await server.stdout.wait_contains(sc.server_stdout,
                                                         self.opts.effect_wait_s,
                                                         start=live.out_from[0]):
                    o.effects.append(
                        f"server stdout lacks \"{transcript.escape(sc.server_stdout)[:200]}\"")
        finally:
            monitor.cancel()
            await asyncio.gather(monitor, return_exceptions=True)
        if server.proc.returncode is not None:
            o.server_exited_early = True

    def _forget_effects(self, cell: Cell, live: Live) -> None:
        """Before a scenario on a shared server: empties what the scenario
        judges in the server's folder, so that it sees only what the server
        does now. Its files are truncated, not removed: a server may keep
        its log open (appending, it then writes at the new end); the
        messages in mailbox/ are removed (one file each)."""
        assert live.cell is not None
        sc = cell.scenario
        scratch = live.cell.host_path(isolation.SCRATCH)
        for name in sc.files:
            try:
                os.close(os.open(f"{scratch}/{name}", os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW
                                 | os.O_NONBLOCK | os.O_NOCTTY))
            except OSError:
                pass  # not there, or not a file: judged as such (and run again, alone)
        if sc.mailbox is not None:
            try:
                for e in os.scandir(f"{scratch}/{mailbox.FOLDER}"):
                    if e.name.endswith(".eml") and e.is_file(follow_symlinks=False):
                        os.unlink(e.path)
            except OSError:
                pass

    async def _start_server(self, cell: Cell, res: CellResult, scratch: Path, live: Live,
                            paths: list[str], client_t: float) -> bool:
        """Makes the cell (its namespaces, a sandbox's uid), starts the
        server and waits until it is bound. False: the cell is over (the
        reason is in res)."""
        o = res.outcome
        transport = cell.protocol.transport
        mode = modes.parse(cell.mode)
        live.paths = paths
        if live.in_cell:
            try:
                live.cell = await isolation.Cell.start(self.sl_cell, live.paths,
                                                       list(self.opts.hide))
            except isolation.CellError as e:
                o.error = f"cannot make the cell's namespaces: {e}"
                return False
        if cell.server.sandbox or cell.client.sandbox:
            problem = await self._sandbox(cell, res, scratch, live)
            if problem:
                o.error = problem
                return False
        if mode.kind == "two-hosts":
            try:
                live.hosts = await netns.create(parent=live.cell_ns)
            except OSError as e:
                o.error = f"two-hosts: cannot make the server's namespace: {e}"
                return False
        live.server_argv, server_cwd, inside = self.launch(cell.server, res.server_argv, live,
                                                           "server", scratch)
        try:
            server = await processes.spawn(live.server_argv, server_cwd,
                                           self.peer_env(cell.server, cell.mode, live, "server"),
                                           inside=inside)
        except OSError as e:
            o.error = f"cannot start the server {res.server_argv[0]}: {e.strerror or e}"
            return False
        live.server = server
        ready, addrs = await netns.wait_ready(server, res.server_port, transport, client_t,
                                               live.in_netns, live.cell,
                                               live.uid if live.cell is None else None)
        if live.hosts is not None and ready.ready and netns.loopback_only(addrs):
            o.server_failure = (f"server bound to {', '.join(sorted(set(addrs)))} port "
                                f"{res.server_port} only: a client on another host "
                                f"({live.hosts.host_addr}) cannot reach it")
            return False
        if not ready.ready:
            if ready.foreign and live.cell is None:
                raise _Retry()
            if ready.exited:
                await server.finish_output()  # its last words may still be in the pipe
            err = server.stderr.data()
            if ready.exited and any(mk.encode() in err for mk in _NOT_BUILT_MARKERS):
                o.error = f"not built: the server says {verdict.tail_line(err)!r}"
            elif ready.exited:
                o.server_failure = (f"server {server.exit().describe()} before binding port "
                                    f"{res.server_port}")
                tail = verdict.tail_line(err)
                if tail:
                    o.server_failure += f": {tail}"
            else:
                what = "listening on" if transport == "tcp" else "bound to"
                o.server_failure = f"server not {what} port {res.server_port} after {client_t:g} s"
                if ready.other_ports:
                    o.server_failure += (f" (it is {what} "
                                         f"{', '.join(map(str, ready.other_ports))} instead)")
            return False
        return True

    async def _monitor(self, cell: Cell, res: CellResult, live: Live) -> None:
        """Samples the cell clock and ends the cell's waits once the cell is
        provably stuck: the relay silent for QUIET_S, and two looks at the
        processes CONFIRM_S apart find none runnable, no CPU used and each
        blocked in the same call. Runs while the judged clients run and
        while the driver waits for the connections to close and for
        effects; the reason (who waits for what) stops the cell clock."""
        cc = clock.get()
        rl = live.relay
        assert isinstance(cc, clock.CellClock) and rl is not None
        loop = asyncio.get_running_loop()

        async def nap(seconds: float) -> bool:
            """Sleeps; False when the driver woke far too late: a starved
            driver is also a starved relay, whose silence means nothing."""
            t = loop.time()
            await asyncio.sleep(seconds)
            return loop.time() - t < seconds + LAG_S

        while True:
            if not await nap(MONITOR_S):
                continue
            cc.sample()
            if rl.quiet_for() < QUIET_S or None in live.clients:
                continue
            roles = self._roles(live)
            if not roles:
                continue
            first = hang.observe_until_runnable(roles)
            if first is None:
                continue
            if not await nap(CONFIRM_S) or rl.quiet_for() < QUIET_S + CONFIRM_S:
                continue
            second = hang.observe_until_runnable(self._roles(live), previous=first)
            if second is None or not hang.still(first, second):
                continue
            ws = hang.waits(second)
            if not hang.is_hung(ws):
                continue
            cc.stop(self._stuck_reason(cell, res, live, ws))
            return

    def _roles(self, live: Live) -> dict[str, list[int]]:
        """The cell's running processes by the role a student knows."""
        roles: dict[str, list[int]] = {}
        if live.server is not None and live.server.running:
            roles["server"] = [live.server.pid]
        n = len(live.clients)
        ended: dict[int, str] = {}  # process group -> role, for ended clients
        for i, c in enumerate(live.clients):
            if c is None:
                continue
            role = "client" if n == 1 else f"client {i + 1}"
            if c.running:
                roles[role] = [c.pid]
            elif processes.group_alive(c.pid):
                ended[c.pid] = role
        if ended:
            # Ended, but what they forked still runs (and holds their
            # output): one look for all of them, at the cell's processes
            # in a cell, else at every process on the machine.
            among = procnet.descendants(live.cell.holder) if live.cell is not None else None
            for m in procnet.live_group_members(set(ended), among=among):
                roles.setdefault(ended.get(m.pgrp) or ended.get(m.session, "a client"),
                                 []).append(m.pid)
        for k, c in enumerate(live.steps, 1):
            if c.running:
                roles[f"before step {k}"] = [c.pid]
        if live.cell is not None:
            # Orphans in the cell: what a program forked and left (setsid).
            left = [st.pid for st in live.cell.leftovers()]
            if left:
                roles["process left behind"] = left
        return roles

    def _stuck_reason(self, cell: Cell, res: CellResult, live: Live,
                      ws: list["hang.Wait"]) -> str:
        """Who waits for what, with the relay's names for the sockets."""
        rl = live.relay
        assert rl is not None
        conns = rl.connections
        judged = conns[live.step_conns:]
        by_upstream = {c.upstream_port: c for c in conns if c.upstream_port}
        by_peer = {int(c.peer.rsplit(":", 1)[1]): c for c in conns}
        ports: dict[int, dict[int, tuple[int, int, str]]] = {}
        server = live.server
        for w in ws:
            # A client talks to the relay, which always accepts: whether the
            # server accepted the relayed connection is the question.
            if w.role == "server" or w.inode is None or server is None:
                continue
            entry = hang.socket_ports(w.pid).get(w.inode)
            conn = by_peer.get(entry[0]) if entry else None
            if conn is not None and conn.upstream_port:
                w.accepted = hang.connection_accepted(server.pid, res.server_port,
                                                      conn.upstream_port)

        def label(w: "hang.Wait") -> str | None:
            if w.inode is None:
                return None
            table = ports.get(w.pid)
            if table is None:
                table = ports[w.pid] = hang.socket_ports(w.pid)
            entry = table.get(w.inode)
            if entry is None:
                return None
            local, remote, state = entry
            if w.role == "server":
                if local == res.server_port and state == "0A":
                    return "the listening socket"
                conn = by_upstream.get(remote)
                if conn is not None:
                    who = (" (a before step's)" if conn.index <= live.step_conns
                           else "")
                    return f"connection {conn.index}{who}"
                return None
            if remote == res.relay_port:
                return "its connection to the server"
            return None

        hint = None
        for c in judged:
            hint = hint or hang.request_hint(*hang.last_request(c))
        return hang.explain(ws, label, hang.count_exchanges(judged), hint)

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

    def _scratch_on_tmpfs(self, cell: Cell) -> bool:
        """Whether cell's scratch folder gets a tmpfs of its own (capped
        like a cell's /tmp): a program sandboxed outside a cell (two-hosts,
        or no bubblewrap) as root writes there, where the host's disk would
        cap it per file only."""
        in_cell = self.isolated and modes.parse(cell.mode).kind != "two-hosts"
        return not in_cell and self._uids is not None and \
            (cell.server.sandbox or cell.client.sandbox)

    async def _sandbox(self, cell: Cell, res: CellResult, scratch: Path,
                       live: Live) -> str | None:
        """Makes a sandboxed cell's namespace, uid and directories. Returns
        what went wrong (an error verdict), or None."""
        sc = cell.scenario
        lim = self.opts.sandbox_limits
        clients = sc.clients + len(sc.before) if cell.client.sandbox else 0
        live.limits = lim.replace(nproc=lim.nproc + PROCS_PER_CLIENT * clients)
        why = netns.unavailable("a sandboxed cell's own network namespace")
        if live.cell is not None:
            pass  # the cell is its own network already
        elif why is None:
            try:
                live.cell_ns = await netns.isolated()
            except OSError as e:
                return f"sandbox: cannot make the cell's network namespace: {e}"
        else:
            sandbox.note_once(f"sandboxed cells run without their own network namespace: {why}")
        if cell.client.sandbox:
            live.client_cwd = Path(isolation.CLIENT_DIR) if live.cell else scratch / "client"
            if live.cell is None:
                live.client_cwd.mkdir()
        if self._uids is None:
            sandbox.note_once(
                "sandboxed peers run as the driver's user (in their cell's user namespace, "
                "with its process limit)" if live.cell is not None else
                "sandboxed peers run as the driver's user, without a process limit: "
                "switching to an unprivileged uid needs root")
            return None
        for role, peer, argv in (("server", cell.server, res.server_argv),
                                 ("client", cell.client, res.client_argv)):
            if not peer.sandbox:
                continue
            for word in argv:
                why = sandbox.unreachable(word) \
                    if os.path.isabs(word) and os.path.exists(word) else None
                if why:
                    return f"sandbox: cannot start the {role}: {why}"
        try:
            live.uid = self._uids.acquire()
        except OSError as e:
            return f"sandbox: {e.strerror or e}"
        # The sandboxed programs' working directories are theirs alone (in
        # a cell they are the cell's own tmpfs, writable by its programs).
        if live.cell is None:
            if cell.server.sandbox:
                os.chown(scratch, live.uid, live.uid)
            if live.client_cwd is not None:
                os.chown(live.client_cwd, live.uid, live.uid)
        return None

    def launch(self, peer: matrix.Peer, argv: list[str], live: Live, role: str,
               scratch: Path) -> tuple[list[str], str, processes.Inside | None]:
        """The argv, working directory and place that run a program of peer:
        in the cell, started by its holder (a sandboxed peer with its uid
        and limits; the directory is inside the cell), else on the host
        with the fallbacks: the sandbox wrapper, `ip netns exec`
        (two-hosts), or as it is."""
        sandboxed = peer.sandbox and live.limits is not None
        if live.cell is not None:
            if role == "server":
                cwd = isolation.SCRATCH
            elif peer.sandbox and live.client_cwd is not None:
                cwd = str(live.client_cwd)
            else:
                cwd = str(self.ctx.root)
            extra: list[str] = []
            if sandboxed:
                assert live.limits is not None
                lim = live.limits
                extra = lim.cell_options()
                if live.uid is not None:
                    extra += ["--uid", str(live.uid), "--nproc", str(lim.nproc)]
                elif isolation.support(self.sl_cell).user_ns:
                    # Since Linux 5.14 the process limit counts per user
                    # namespace, and an unprivileged driver's cell has one.
                    extra += ["--nproc", str(lim.nproc)]
            return argv, cwd, processes.Inside(live.cell, tuple(extra))
        if role == "server":
            ns, cwd = (live.hosts.ns if live.hosts else live.cell_ns), str(scratch)
        else:
            ns = live.cell_ns
            cwd = str(live.client_cwd if peer.sandbox and live.client_cwd else self.ctx.root)
        if sandboxed:
            assert live.limits is not None
            # As root, the cell's file view without its namespaces: /tmp
            # and the class masked, the program's own folders kept.
            view = [] if live.uid is None else \
                isolation.masked_view([*live.paths, self.sl_cell], list(self.opts.hide), [cwd])
            return (sandbox.wrapper_argv(self.ctx.python, live.limits, live.uid, ns, view,
                                         filter_with(self.sl_cell)) + argv, cwd, None)
        if ns is not None:
            return ["ip", "netns", "exec", ns] + argv, cwd, None
        return argv, cwd, None

    def _step_words(self, cell: Cell, step: steps.Step) -> list[str]:
        peer = self.m.peers.get(step.client)
        if peer is None or peer.client is None:
            return []
        if peer.folders:
            return list(peer.folders)
        return matrix.render(peer.client, self.ctx, cell.protocol, 0)

    def peer_env(self, peer: matrix.Peer, mode: str, live: Live,
                 role: str = "client") -> dict[str, str]:
        """A program's environment; a sandboxed one in a cell also gets what
        the sandbox wrapper sets: its home is its folder, a JVM heap cap."""
        env = modes.env(mode, self.env_for(peer))
        if peer.sandbox and live.cell is not None and live.limits is not None:
            env = dict(env)
            env["HOME"] = isolation.SCRATCH if role == "server" else isolation.CLIENT_DIR
            env.setdefault("JDK_JAVA_OPTIONS", f"-Xmx{max(16, live.limits.data_mb // 4)}m")
        return env

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

    async def _client(self, cell: Cell, co: ClientOutcome, live: Live, i: int,
                      env: dict[str, str], timeout: float) -> None:
        try:
            argv, cwd, inside = self.launch(cell.client, co.argv, live, "client",
                                            Path(self.ctx.root))
            child = await processes.spawn(argv, cwd, env, cell.scenario.stdin, inside=inside)
        except OSError as e:
            live.client_error = f"cannot start the client {co.argv[0]}: {e.strerror or e}"
            return
        live.clients[i] = child
        finished = await child.wait(timeout)
        stuck = clock.get().stopped
        if not finished and stuck:
            live.hang = stuck
        elif not finished:
            co.cpu_s = _cpu_s([child.pid, *procnet.descendants(child.pid)])
        co.timed_out = not finished
        await child.stop(grace=0.5)
        co.exit = child.exit()
        co.stdout = child.stdout.data()
        co.stderr = child.stderr.data()
        co.stdout_truncated = child.stdout.truncated
        co.duration_s = (child.ended or time.monotonic()) - child.started
        if co.exit.code is not None and co.exit.code != 0 and any(
                mk.encode() in co.stderr for mk in _NOT_BUILT_MARKERS):
            live.client_error = f"not built: the client says {verdict.tail_line(co.stderr)!r}"

    async def _cleanup(self, res: CellResult, live: Live, scratch: Path,
                       keep: bool = False) -> bool:
        """Stops everything of the cell and collects what it left behind.
        Runs even when the cell was cancelled or timed out. keep: leave the
        server and its cell running if nothing went wrong around them;
        returns whether it did."""
        o = res.outcome
        server, rl, clients = live.server, live.relay, live.clients
        steps = [c for c in live.steps if c.running or c.members()]
        await asyncio.gather(*(c.stop(grace=0.2) for c in steps))
        if live.client_error and not o.error:
            o.error = live.client_error
        # Clients first (a timed-out or cancelled cell may still have some,
        # hundreds in a many-client cell: stopped at once, not one grace
        # after another), then the relay, then the server's whole group.
        running = [(k, c) for k, c in enumerate(clients)
                   if c is not None and (c.running or processes.group_alive(c.pid))]
        await asyncio.gather(*(c.stop(grace=0.2) for _, c in running))
        for k, c in running:
            co = o.clients[k] if k < len(o.clients) else None
            if co is not None and co.exit is None:
                co.exit = c.exit()
                co.stdout = c.stdout.data()
                co.stderr = c.stderr.data()
        if rl is not None:
            await rl.close()
            res.recorded = rl.transcript(res.cell.protocol.transport)
            res.relay_log = rl.log_lines()
        kept = (keep and server is not None and server.running and live.cell is not None
                and not (o.error or live.client_error or o.server_failure or o.hang)
                and o.cell_timeout_s is None)
        if server is not None:
            if kept:
                # Something in the cell besides the server's group (a
                # daemon that left it): found below, as for any cell,
                # once the server is stopped.
                assert live.cell is not None
                ours = {st.pid for st in server.members()}
                kept = all(st.pid in ours for st in live.cell.leftovers())
            was_running = server.running
            if not kept:
                await server.stop(self.opts.server_grace_s)
                o.server_exit = server.exit()
            if not was_running:
                o.server_exited_early = True
            _take_output(res, live)
            res.server_kept = kept
            live.served += 1
        if live.cell is not None and server is not None and not kept:
            # Anything still in the cell outlived the processes the driver
            # started and stopped: a daemon (setsid, double fork) is a
            # failure, and it dies with the cell. Looked at before the
            # uid's release, which kills whatever the sandbox uid runs.
            left = live.cell.leftovers()
            if left:
                o.leftovers = _named([st.pid for st in left])
        elif live.uid is not None and server is not None and not kept:
            # Outside a cell (two-hosts, no bubblewrap), a root driver's
            # sandboxed programs are their uid's only processes: whatever
            # still runs as it outlived what the driver stopped.
            o.leftovers = _named(sandbox.processes_of(live.uid))
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
                # Regular files only, never through a link, never blocking
                # on a FIFO: the program controls what is there.
                try:
                    if live.cell is not None:
                        data = live.cell.read_file(f"{isolation.SCRATCH}/{name}", FILE_LIMIT)
                    else:
                        data = isolation.read_regular(str(scratch / name), FILE_LIMIT)
                    if data is not None:
                        res.files[name] = data
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
            o.effects.extend(mailbox.check(sc.mailbox, Path(live.cell.host_path(
                isolation.SCRATCH)) if live.cell is not None else scratch,
                isolation.read_regular))
            if res.recorded is not None:
                o.comparison = compare.compare(sc, res.recorded,
                                             _rel(sc.golden_path, self.ctx.root), live.step_conns)
        if live.cell is not None and not kept:
            await asyncio.shield(live.cell.close())
            live.cell = None
        return kept


def _drop_scratch(scratch: Path, capped: bool) -> None:
    """Removes a cell's scratch folder, its tmpfs first when capped."""
    if capped:
        sandbox.unmount(scratch)
    shutil.rmtree(scratch, ignore_errors=True)


def filter_with(sl_cell: str) -> str | None:
    """sl_cell where it is built, for sandbox.wrapper_argv to put the
    seccomp filter of cells on a program sandboxed outside a cell; else
    None, said once."""
    if os.access(sl_cell, os.X_OK):
        return sl_cell
    sandbox.note_once(f"{sl_cell} is not built: programs sandboxed outside a cell run "
                      "without the seccomp filter")
    return None


def find_sl_cell(ctx: CommandContext) -> str:
    """sl-cell from the build the peers come from or, for a matrix whose
    build has none (the driver's tests), from SL_BUILD_DIR or the
    repository's own build folder."""
    here = Path(__file__).resolve().parents[2]
    candidates = [ctx.build, Path(os.environ.get("SL_BUILD_DIR") or ctx.build), here / "build"]
    for b in candidates:
        p = b / "c" / "cell" / "sl-cell"
        if os.access(p, os.X_OK):
            return str(p)
    return str(candidates[0] / "c" / "cell" / "sl-cell")


def _launched(pid: int) -> list[int]:
    """The program a launcher runs (the sandbox wrapper, `ip netns exec`, a
    script: one task, one child), for the cell clock; [] otherwise (a full
    walk of every thread's children costs too much to do every second)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
            kids = f.read().split()
    except OSError:
        return []
    return [int(k) for k in kids[:1]] if len(kids) == 1 else []


def _take_output(res: CellResult, live: Live) -> None:
    """The server's output during res's cell (all of it for a server that
    served no cell before)."""
    server = live.server
    assert server is not None
    res.server_stdout = server.stdout.data()[live.out_from[0]:]
    res.server_stderr = server.stderr.data()[live.out_from[1]:]
    res.server_truncated = server.stdout.truncated or server.stderr.truncated


def _named(pids: list[int]) -> list[str]:
    """Processes left in a cell as a reason names them: "PID (comm)"."""
    return [f"{pid} ({_comm(pid)})" for pid in pids]


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return f.read().decode("utf-8", "replace").strip()
    except OSError:
        return "?"


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) pids have used so far."""
    return sum(procnet.cpu_ticks(p) for p in pids) / _HZ


def _explain_limits(j: Judgement, limits: sandbox.Limits) -> Judgement:
    """Names the sandbox limit behind a signal in a reason: "client crashed
    with SIGXCPU (CPU limit 10 s)"."""
    reason = j.reason
    for sig in (signal.SIGXCPU, signal.SIGXFSZ):
        name = verdict.signal_name(sig)
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


# Shared servers. A server takes longer to start than most scenarios take
# to run (a JVM ~0.15 s of CPU, a whole cell ~40 ms), so the cells of one
# server (protocol, server peer, mode, repeat: every client peer and
# scenario) that allow it (Scenario.shares_server, CellRunner.shares) run
# one after another in one cell, on one server: the first starts it, each
# leaves it running for the next, the last stops it. A cell that does not
# pass (or leaves something behind, or whose server ended) stops it, and
# the next starts its own: a server only ever serves a cell after cells it
# passed. Each cell still has its own relay, transcript, clients, timeouts
# and verdict; its server.log holds what the server printed during it.


def _units(runner: CellRunner, jobs: list[tuple[Cell, int]]) -> list[list[int]]:
    """jobs grouped into units, each run one cell after another, in the
    order to start them. A known failure is a unit of its own (it starts
    its own server anyway, and most of them only wait: alone, they wait
    side by side, see below); they start first, then the costliest."""
    known = [runner.m.known_failure(c.id) is not None for c, _ in jobs]
    by_key: dict[tuple, list[int]] = {}
    for i, (c, rep) in enumerate(jobs):
        key: tuple = (c.protocol.name, c.server.name, c.mode, rep) \
            if runner.shares(c) and not known[i] else (i,)
        by_key.setdefault(key, []).append(i)
    return sorted(by_key.values(), key=lambda u: (not known[u[0]],
                                                  -sum(_cost(jobs[i][0]) for i in u)))


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

    live: Live | None = None
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
    processes.adopt_orphans()
    with janitor.watching():
        return await _run_cells(m, cells, ctx, opts, on_start, on_result)


async def _run_cells(m: matrix.Matrix, cells: list[Cell], ctx: CommandContext,
                     opts: RunOptions, on_start: Callable[[Cell, int], None] | None,
                     on_result: Callable[[CellResult], None] | None) -> list[CellResult]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + opts.run_timeout_s if opts.run_timeout_s else None
    scratch_root = Path(tempfile.mkdtemp(prefix="harness-"))
    janitor.folder(scratch_root)
    # Searchable (not listable) by others: a sandboxed program runs as another
    # user in a directory below it and may name its files by absolute path.
    os.chmod(scratch_root, 0o711)
    jobs = [(c, r) for c in cells for r in range(1, opts.repeat + 1)]
    results: list[CellResult | None] = [None] * len(jobs)
    sem = asyncio.Semaphore(max(1, opts.jobs))
    waiting = {"n": 0, "max": WAITING_PER_JOB * max(1, opts.jobs)}
    runner = CellRunner(m, ctx, opts, scratch_root)

    async def unit(idxs: list[int]) -> None:
        """Runs cells one after another, on one server where they share it;
        each holds a --jobs slot while it runs (see IDLE_CHECK_S)."""
        shared = Shared()
        held = started = False
        # A cell that left the server running is reported once the server's
        # fate is known: it served the next cell, or was stopped (its exit).
        pending: list[CellResult] = []

        def flush() -> None:
            for r in pending:
                if on_result:
                    on_result(r)
            pending.clear()

        def report(res: CellResult) -> None:
            flush()
            if res.server_kept:
                pending.append(res)
            elif on_result:
                on_result(res)

        todo = collections.deque(idxs)
        try:
            while todo:
                i = todo.popleft()
                cell, rep = jobs[i]
                if not held:
                    await sem.acquire()
                    held = True
                    if not started:
                        # What its server's cell must show: every cell's.
                        started = True
                        unstarted["n"] -= 1
                        if len(todo) > 0:
                            shared.paths = runner.unit_paths([jobs[k][0] for k in (i, *todo)])
                if len(todo) >= 2 and not unstarted["n"] and not sem.locked():
                    # The end of the run: every unit has started and a slot
                    # is free. The later half of this unit's cells go to a
                    # server of their own rather than leave a core idle.
                    later = [todo.pop() for _ in range((len(todo) + 1) // 2)][::-1]
                    unstarted["n"] += 1
                    tasks.append(asyncio.ensure_future(unit(later)))
                if deadline is not None and loop.time() >= deadline:
                    await runner.release(shared)
                    res = CellResult(cell, rep, verdict.judge(cell, Outcome(
                        error="not run: the run's time limit was reached")), Outcome(), 0.0)
                else:
                    if on_start:
                        on_start(cell, rep)
                    watch = CellWatch()
                    task = asyncio.ensure_future(runner.run(cell, rep, deadline, watch, shared,
                                                            last=not todo))
                    waits = False
                    try:
                        while True:
                            done, _ = await asyncio.wait({task}, timeout=IDLE_CHECK_S)
                            if done:
                                break
                            if held and waiting["n"] < waiting["max"] and \
                                    watch.idle(IDLE_CHECK_S):
                                held, waits = False, True
                                waiting["n"] += 1
                                sem.release()
                    finally:
                        if not task.done():
                            task.cancel()
                            await asyncio.gather(task, return_exceptions=True)
                        if waits:
                            waiting["n"] -= 1
                    res = task.result()
                results[i] = res
                report(res)
        finally:
            await asyncio.shield(runner.release(shared))
            if held:
                sem.release()
            flush()

    units = _units(runner, jobs)
    unstarted = {"n": len(units)}  # units that never held a slot yet
    tasks: list[asyncio.Task] = [asyncio.ensure_future(unit(u)) for u in units]
    try:
        n = 0
        while n < len(tasks):  # units add units (see unit())
            n, batch = len(tasks), tasks[n:]
            await asyncio.gather(*batch)
    finally:
        # Cancel what is still running, but only once: a second cancel would
        # interrupt a cell's cleanup (stopping its processes) half-way.
        for t in tasks:
            if not t.done() and not t.cancelling():
                t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.shield(isolation.close_all())
        processes.kill_all()
        processes.sweep()
        shutil.rmtree(scratch_root, ignore_errors=True)
    return [r for r in results if r is not None]
