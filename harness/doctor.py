"""python3 -m harness doctor PEER: does a peer keep the program contract
(protocols/README.md) before it joins the matrix?

For every protocol the peer implements, and each role it has, a short
checklist: argv and exit codes (usage, bad port, connection refused), the
server's socket as the kernel shows it (that port, every interface), one
real scenario against the reference peer (a judged cell, as `run` would
run it), a second client, SIGTERM, and a client's empty stdin. Each check
starts its programs in their own sessions and stops them in a finally, so
a peer that hangs or floods is a reported failure, never a hung doctor.
Output format and meaning of each check: docs/adding-a-peer.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
import os
import shlex
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.command import common, filters
from harness.errors import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK, UsageError
from harness.judge import verdict
from harness.run import clock, janitor, netns, processes, procnet, runner
from harness.run.ports import PortPool
from harness.spec import matrix, transcript
from harness.spec.matrix import Cell, Matrix, Peer, Protocol, Scenario, Template

PROG = f"{common.PROG} doctor"
CHECKS = ("usage", "bad-port", "scenario", "binds", "second-client", "sigterm",
          "refused", "ipv6", "empty-stdin", "server-closes")
# Stack traces of the usual runtimes: Python, Java, Node.js, Go.
_TRACE = re.compile(r"^(Traceback \(most recent call last\)|Exception in thread |\s+at \S|"
                    r"goroutine \d+ \[|panic: )", re.M)
# A port argument no program can take: not a number, then out of 1..65535.
BAD_PORTS = ("x", "70000")
STOP_GRACE_S = processes.STOP_GRACE_S


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor", help="check that a peer follows the program contract",
        description="Check that a peer of matrix.yaml follows the program contract of "
                    "protocols/README.md (argv, exit codes, binding, stdin, stopping), "
                    "for every protocol it takes part in, against the reference peer. "
                    "Exit 0 all ok, 1 any failure, 2 usage or configuration errors.")
    p.add_argument("peer", metavar="PEER", help="a peer name from matrix.yaml")
    p.add_argument("--protocol", "-p", action="append", metavar="ID",
                   help="only these protocols (repeatable or comma-separated)")
    p.add_argument("--role", choices=("server", "client"), help="only this role")
    p.add_argument("--skip", action="append", metavar="CHECK",
                   help=f"leave out checks (repeatable or comma-separated): {', '.join(CHECKS)}")
    p.add_argument("--reference", default="c", metavar="PEER",
                   help="the peer the scenarios pair it with (default: %(default)s)")
    p.add_argument("--timeout", type=float, metavar="S",
                   help="how long a program may take to exit, bind or answer "
                        "(default: the scenario's timeout_s)")
    p.add_argument("--jobs", "-j", type=int, default=2,
                   help="protocol/role checklists at once (default: %(default)s)")
    common.add_ports_option(p, "the doctor")
    common.add_matrix_option(p)
    common.add_build_option(p)


@dataclass
class Check:
    name: str
    status: str  # "ok", "FAIL", "xfail" (a known failure of the matrix), "skip"
    detail: str


@dataclass
class Section:
    """One protocol and role: its command and its checklist."""

    protocol: Protocol
    role: str
    peer: Peer
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, status: str, detail: str) -> None:
        self.checks.append(Check(name, status, detail))


@dataclass
class Ran:
    """One program run to its end (or stopped at the timeout)."""

    exit: verdict.Exit
    finished: bool
    stdout: bytes
    stderr: bytes
    ports: tuple[int, ...] = ()  # what it had bound when stopped unfinished


def main(args: argparse.Namespace) -> int:
    root_file = common.matrix_file(args.matrix)
    m = common.load_matrix(args.matrix)
    if args.peer not in m.peers:
        raise UsageError(f"no peer {args.peer!r} in {root_file} (known: {', '.join(m.peers)})")
    if args.reference not in m.peers:
        raise UsageError(f"--reference {args.reference}: no such peer (known: {', '.join(m.peers)})")
    peer, ref = m.peers[args.peer], m.peers[args.reference]
    if peer.sandbox:
        # Most checks start the programs directly, outside harness/run/sandbox.py.
        raise UsageError(f"peer {peer.name} is sandboxed (untrusted code), and doctor runs "
                      f"programs unsandboxed: check it with python3 -m harness run")
    skip = set(filters.split(args.skip))
    if skip - set(CHECKS):
        raise UsageError(f"--skip {', '.join(sorted(skip - set(CHECKS)))}: no such check "
                      f"(known: {', '.join(CHECKS)})")
    mine = [p for p in m.protocols if peer.protocols is None or p in peer.protocols]
    wanted = filters.split(args.protocol) or mine
    for p in wanted:
        if p not in m.protocols:
            raise UsageError(f"--protocol {p}: no such protocol (known: {', '.join(m.protocols)})")
        if p not in mine:
            raise UsageError(f"--protocol {p}: peer {peer.name} implements only {', '.join(mine)}")
    roles = [r for r in matrix.ROLES if peer.template(r) is not None
             and (args.role is None or r == args.role)]
    if not roles:
        raise UsageError(f"peer {peer.name} has no {args.role} command")
    common.check_timeout(args.timeout)
    common.check_jobs(args.jobs)
    pool = PortPool(*common.port_range(args.ports))
    ctx = matrix.CommandContext.create(m.root, common.build_dir(args.build, PROG))
    sections = [Section(m.protocols[p], r, peer) for p in wanted for r in roles]
    print(f"doctor: peer {peer.name}, {len(wanted)} protocol{'s' if len(wanted) != 1 else ''}"
          f", scenarios against {ref.name} (protocols/README.md, Programs)")
    with janitor.watching():
        doc = Doctor(m, ctx, pool, ref, args.timeout, skip)
        interrupted, _ = asyncio.run(common.interruptible(
            doc.run_all(sections, args.jobs, _print_section)))
    if interrupted:
        print("python3 -m harness doctor: interrupted; everything it started was stopped",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    counts = {s: sum(1 for sec in sections for c in sec.checks if c.status == s)
              for s in ("ok", "FAIL", "xfail", "skip")}
    total = sum(counts.values())
    print(f"\n{peer.name}: {total} checks: {counts['ok']} ok, {counts['FAIL']} FAIL"
          + (f", {counts['xfail']} known failures" if counts["xfail"] else "")
          + (f", {counts['skip']} skipped" if counts["skip"] else ""))
    return EXIT_FAIL if counts["FAIL"] else EXIT_OK


def _print_section(sec: Section, argv: list[str]) -> None:
    print(f"\n{sec.protocol.name} ({sec.protocol.transport}) {sec.role}: {shlex.join(argv)}")
    for c in sec.checks:
        print(f"  {c.status:<5} {c.name}: {c.detail}")
    sys.stdout.flush()


def _clip(data: bytes, n: int = 100) -> str:
    s = transcript.escape(data[:n])
    return s + ("..." if len(data) > n else "")


def _has_trace(err: bytes) -> bool:
    return _TRACE.search(err.decode("utf-8", "replace")) is not None


def prompt_of(err: bytes) -> str:
    """The prompt a client left open on stderr in a run that worked: the
    text after its last newline ('' when stderr ends with one)."""
    text = err.decode("utf-8", "replace")
    return text.rsplit("\n", 1)[-1]


def _stderr_problem(err: bytes, prompt: str = "") -> str | None:
    """What is wrong with an error message: the contract wants one line,
    on a line of its own (not glued to a prompt without a newline)."""
    text = err.decode("utf-8", "replace")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return "nothing on stderr"
    if _has_trace(err):
        return f"a stack trace on stderr ({len(lines)} lines, last: {verdict.tail_line(err)!r})"
    if prompt.strip() and prompt.strip() in lines[-1]:
        head, _, message = lines[-1].partition(prompt.strip())
        if message.strip() and not head.strip():
            return (f"the message follows the prompt {prompt!r} on the same line "
                    f"({lines[-1]!r}); write \"\\n\" before it, so it starts on a "
                    f"line of its own")
    prompts = [ln for ln in lines if prompt.strip() and ln.strip() == prompt.strip()]
    if len(lines) - len(prompts) > 1:
        return f"{len(lines)} lines on stderr (last: {verdict.tail_line(err)!r})"
    return None


class Doctor:
    def __init__(self, m: Matrix, ctx: matrix.CommandContext, pool: PortPool, ref: Peer,
                 timeout: float | None, skip: set[str]):
        self.m, self.ctx, self.pool, self.ref = m, ctx, pool, ref
        self.timeout = timeout
        self.skip = skip
        self.scratch_root = Path(tempfile.mkdtemp(prefix="harness-doctor-"))
        janitor.folder(self.scratch_root)
        opts = runner.RunOptions(port_range=(pool.lo, pool.hi), timeout_s=timeout)
        self.cells = runner.CellRunner(m, ctx, opts, self.scratch_root / "cells", pool)
        self._n = 0
        # Who plays whom in which scenario: first as a plain run pairs them
        # (a default: false peer only where a scenario names it), then as
        # `run --server PEER --client PEER` would.
        self._pairs = [{(c.protocol.name, c.scenario.name, c.server.name, c.client.name)
                        for c in matrix.expand(m, named, modes=("plain",))}
                       for named in (frozenset(), frozenset(m.peers))]

    async def run_all(self, sections: list[Section], jobs: int, show) -> None:
        """Runs every section, at most jobs at once, showing each in order
        as soon as it and those before it are done."""
        processes.adopt_orphans()
        sem = asyncio.Semaphore(jobs)
        done: dict[int, list[str]] = {}
        shown = 0

        me = os.getpid()

        async def one(i: int) -> None:
            nonlocal shown
            async with sem:
                # The section's waits count cell time (harness/run/clock.py):
                # what the doctor's processes, its direct children, spent
                # waiting for a busy CPU does not count.
                clock.current.set(clock.CellClock(lambda: procnet.children(me)))
                done[i] = await self.section(sections[i])
            while shown in done:
                show(sections[shown], done.pop(shown))
                shown += 1

        try:
            await asyncio.gather(*(asyncio.ensure_future(one(i)) for i in range(len(sections))))
        finally:
            processes.kill_all()
            processes.sweep()
            shutil.rmtree(self.scratch_root, ignore_errors=True)

    # ----------------------------------------------------------------------
    # Helpers

    def _scratch(self) -> str:
        self._n += 1
        d = self.scratch_root / f"{self._n:04d}"
        d.mkdir(parents=True)
        return str(d)

    def _argv(self, sec: Section, port: int | str, host: str | None = None,
              drop: bool = False) -> list[str]:
        """The peer's command with the contract's arguments filled in (port
        may be text: a bad port, or PORT for display), or (drop) left out."""
        tpl = sec.peer.template(sec.role)
        assert tpl is not None
        if drop:
            tpl = dataclasses.replace(tpl, words=tuple(w for w in tpl.words
                                                       if w not in ("{port}", "{host}")))
        ctx = dataclasses.replace(self.ctx, host=host) if host else self.ctx
        return matrix.render(tpl, ctx, sec.protocol, port)  # type: ignore[arg-type]

    def _argv_contract(self, tpl: Template, role: str) -> str | None:
        """Why the template does not pass the contract's arguments as words
        of their own (then argv checks do not apply), or None."""
        needed = ("{port}",) if role == "server" else ("{host}", "{port}")
        for ph in needed:
            if ph not in tpl.words:
                inside = [w for w in tpl.words if ph in w]
                where = f" inside {inside[0]!r}" if inside else " nowhere"
                return (f"the template passes {ph}{where}, not as an argument of its own: "
                        f"the program does not take the contract's argv")
        return None

    def _scenario(self, sec: Section) -> Cell | None:
        """The first simple scenario (one client, no steps) in which the peer
        plays its role against the reference, as run would pair them."""
        proto = sec.protocol
        server, client = (sec.peer, self.ref) if sec.role == "server" else (self.ref, sec.peer)
        for pairs in self._pairs:
            for sc in proto.scenarios.values():
                if sc.before or sc.restart or sc.clients != 1:
                    continue
                if (proto.name, sc.name, server.name, client.name) in pairs:
                    return Cell(proto, sc, server, client)
        return None

    def _known(self, cell: Cell | None, mode: str, failure: str) -> tuple[str, str]:
        """(status, detail) for a failure that the cell shows in mode: xfail
        when matrix.yaml lists that cell as a known failure."""
        if cell is not None:
            kf = self.m.known_failure(dataclasses.replace(cell, mode=mode).id)
            if kf is not None:
                return "xfail", f"known failure ({mode}): {kf.reason} [{failure}]"
        return "FAIL", failure

    def _timeout(self, sc: Scenario | None) -> float:
        return self.timeout or (sc.timeout_s if sc else self.m.defaults.timeout_s)

    async def _run(self, argv: list[str], env: dict[str, str], stdin: bytes | None,
                   timeout: float, transport: str = "tcp") -> Ran:
        """Runs argv in a scratch directory until it exits or timeout; stops
        its whole group either way."""
        child = await processes.spawn(argv, self._scratch(), env, stdin)
        ports: tuple[int, ...] = ()
        try:
            finished = await child.wait(timeout)
            if not finished:
                ports = processes.bound_ports(child, transport)
        finally:
            await child.stop(grace=0.5)
        return Ran(child.exit(), finished, child.stdout.data(), child.stderr.data(), ports)

    @staticmethod
    def client_problem(cell: Cell, k: int, argv: list[str], ran: Ran,
                        timeout: float) -> tuple[str, str] | None:
        """What run would find wrong with client k's run of the cell, or None."""
        co = verdict.ClientOutcome(k, argv, ran.exit, ran.stdout, ran.stderr,
                                   timed_out=not ran.finished)
        return verdict.client_problem(cell, co, timeout)

    def _expect_exit(self, ran: Ran, code: int, timeout: float, what: str,
                     prompt: str = "") -> tuple[str, str]:
        """(status, detail) for a run that should exit with code and a
        one-line stderr message (on a line of its own after the prompt),
        printing nothing on stdout."""
        if not ran.finished:
            bound = f" (listening on {', '.join(map(str, ran.ports))}: a fixed port?)" \
                if ran.ports else ""
            return "FAIL", (f"still running after {timeout:g} s{bound}; the contract wants "
                            f"exit {code} at once ({what})")
        ex = ran.exit
        if ex.code != code:
            tail = verdict.tail_line(ran.stderr)
            got = ex.describe() + (f" ({tail!r})" if tail else "")
            trace = " after a stack trace" if _has_trace(ran.stderr) else ""
            return "FAIL", f"{got}{trace}; the contract wants exit {code} ({what})"
        bad = _stderr_problem(ran.stderr, prompt)
        if bad:
            return "FAIL", f"exit {code}, but {bad}; the contract wants a one-line message"
        if ran.stdout:
            return "FAIL", (f"exit {code}, but printed \"{_clip(ran.stdout)}\" on stdout; "
                            f"messages belong on stderr")
        return "ok", f"exit {code}, {verdict.tail_line(ran.stderr)!r}"

    # ----------------------------------------------------------------------
    # The checklists

    async def section(self, sec: Section) -> list[str]:
        """Runs the section's checks; returns the command to show (paths in
        the repository relative to it)."""
        root = f"{self.ctx.root}/"
        argv = [w[len(root):] if w.startswith(root) else w
                for w in self._argv(sec, "PORT", host="HOST")]
        try:
            if sec.role == "server":
                await self._server(sec)
            else:
                await self._client(sec)
        except OSError as e:
            sec.add("start", "FAIL", f"cannot start {argv[0]}: {e.strerror or e}")
        return argv

    def _wanted(self, name: str) -> bool:
        return name not in self.skip

    async def _usage_checks(self, sec: Section, timeout: float, stdin: bytes | None) -> None:
        tpl = sec.peer.template(sec.role)
        assert tpl is not None
        why = self._argv_contract(tpl, sec.role)
        env = self.cells.env_for(sec.peer)
        if self._wanted("usage"):
            if why:
                sec.add("no arguments", "skip", why)
            else:
                ran = await self._run(self._argv(sec, 0, drop=True), env, stdin, timeout,
                                      sec.protocol.transport)
                sec.add("no arguments", *self._expect_exit(ran, 2, timeout, "bad usage"))
        if self._wanted("bad-port"):
            if why:
                sec.add("bad port", "skip", why)
                return
            for bad in BAD_PORTS:
                ran = await self._run(self._argv(sec, bad), env, stdin, timeout,
                                      sec.protocol.transport)
                status, detail = self._expect_exit(ran, 2, timeout,
                                                   "a port is a number in 1..65535")
                sec.add(f"port {bad!r}", status, detail)

    async def _judged(self, sec: Section, cell: Cell) -> bool:
        """The scenario as run would judge it (relay, transcript, effects).
        Returns True if it works."""
        res = await self.cells.run(cell)
        name = f"{cell.scenario.name} with the {self.ref.name} " + \
            ("client" if sec.role == "server" else "server")
        v = res.verdict
        if v == verdict.PASS:
            sec.add(name, "ok", f"pass ({res.duration_s:.2f} s)")
        elif v == verdict.DEVIATES:
            sec.add(name, "ok", f"works, but {res.reason} (a fail under --strict; "
                                f"python3 -m harness show {cell.id})")
        elif v == verdict.XFAIL:
            sec.add(name, "xfail", res.reason)
        elif v == verdict.XPASS:
            sec.add(name, "ok", f"pass, though matrix.yaml lists it as a known failure "
                                f"(remove that entry): {res.judgement.known_failure.reason}")
        else:
            sec.add(name, "FAIL", f"{v}: {res.reason} (rerun: python3 -m harness run -k "
                                  f"{cell.id} --server {cell.server.name} "
                                  f"--client {cell.client.name})")
        return v in (verdict.PASS, verdict.DEVIATES, verdict.XPASS)

    async def _server(self, sec: Section) -> None:
        cell = self._scenario(sec)
        timeout = self._timeout(cell.scenario if cell else None)
        await self._usage_checks(sec, timeout, None)
        if cell is None:
            sec.add("scenario", "skip", f"no scenario with one client pairs this server "
                                        f"with the {self.ref.name} client")
        elif self._wanted("scenario"):
            await self._judged(sec, cell)
        if self._wanted("binds") or self._wanted("second-client") or self._wanted("sigterm"):
            await self._lifecycle(sec, cell, timeout)

    async def _lifecycle(self, sec: Section, cell: Cell | None, timeout: float) -> None:
        """One server from start to SIGTERM: the port and the addresses it
        binds, two clients in a row, and how it stops."""
        transport = sec.protocol.transport
        what = "listening on" if transport == "tcp" else "bound to"
        port = self.pool.acquire(1)[0]
        server = None
        try:
            server = await processes.spawn(self._argv(sec, port), self._scratch(),
                                           self.cells.env_for(sec.peer))
            ready = await processes.wait_bound(server, port, transport, timeout)
            if not ready.ready:
                if ready.exited:
                    await server.finish_output()  # its last words may still be in the pipe
                    tail = verdict.tail_line(server.stderr.data())
                    detail = (f"{server.exit().describe()} before binding port {port}"
                              + (f" ({tail!r})" if tail else ""))
                elif ready.other_ports:
                    detail = (f"not {what} port {port} after {timeout:g} s: it took "
                              f"{', '.join(map(str, ready.other_ports))} instead (a fixed "
                              f"port?)")
                else:
                    detail = f"not {what} port {port} after {timeout:g} s"
                if ready.foreign:
                    detail += " (another process holds that port: rerun)"
                sec.add("binds PORT", "FAIL", detail + "; the contract: `server PORT` binds "
                                                      "PORT and serves until stopped")
                return
            addrs = sorted(set(netns.bound_in(server.pid, processes.tree(server, True),
                                              port, transport)))
            shown = ", ".join(addrs) or "?"
            if netns.loopback_only(addrs):
                sec.add("binds PORT", *self._known(
                    cell, "two-hosts", f"{what} {shown} port {port} only: a client on another "
                                       f"host cannot reach it; the contract wants every "
                                       f"interface (0.0.0.0, or :: dual-stack)"))
            elif self._wanted("binds"):
                sec.add("binds PORT", "ok", f"{what} {shown} port {port} (every interface) "
                                            f"after {time.monotonic() - server.started:.2f} s")
            if self._wanted("second-client"):
                await self._two_clients(sec, cell, server, port, timeout)
            if self._wanted("sigterm"):
                await self._sigterm(sec, server, port)
        finally:
            if server is not None:
                await server.stop(STOP_GRACE_S)
            self.pool.release([port])

    async def _two_clients(self, sec: Section, cell: Cell | None, server: processes.Child,
                           port: int, timeout: float) -> None:
        if cell is None:
            sec.add("second client", "skip", "no scenario to run")
            return
        sc = cell.scenario
        assert self.ref.client is not None
        argv = matrix.render(self.ref.client, self.ctx, sec.protocol, port) + list(sc.args)
        env = self.cells.env_for(self.ref)
        for k in (1, 2):
            problem, ran_ok = None, False
            if server.running:
                ran = await self._run(argv, env, sc.stdin, timeout, sec.protocol.transport)
                problem = self.client_problem(cell, k, argv, ran, timeout)
                if problem is None and sc.server_stdout is not None and \
                        not await _wait_count(server.stdout, sc.server_stdout, k, 5.0):
                    problem = (f"server stdout has \"{_clip(sc.server_stdout)}\" fewer than "
                               f"{k} times", "")
                ran_ok = problem is None
                if problem is not None:
                    # A server that refused the client may be on its way out:
                    # give it a moment to show it, so the report names that.
                    await server.wait(1.0)
            if not server.running:
                served = k if ran_ok else k - 1
                sec.add("second client", "FAIL",
                        f"served {served} client{'s' if served != 1 else ''}, then ended "
                        f"({server.exit().describe()}); the contract wants it to serve "
                        f"until stopped" + (f" (client {k}: {problem[0]})" if problem else ""))
                return
            if problem is not None:
                sec.add("second client", "FAIL", f"{sc.name}, client {k} of 2 straight to "
                                                 f"the server: {problem[0]}")
                return
        sec.add("second client", "ok", f"{sc.name} twice in a row, the server still running")

    async def _sigterm(self, sec: Section, server: processes.Child, port: int) -> None:
        if not server.running:
            sec.add("SIGTERM", "skip", f"the server had already ended "
                                       f"({server.exit().describe()})")
            return
        t0 = time.monotonic()
        await server.stop(STOP_GRACE_S)
        took = time.monotonic() - t0
        ex = server.exit()
        left = [s for s in procnet.sockets(sec.protocol.transport, port) if s.bound]
        if ex.signal == signal.SIGKILL:
            sec.add("SIGTERM", "FAIL", f"still running {STOP_GRACE_S:g} s after SIGTERM "
                                       f"(killed); the contract wants it to stop on SIGTERM")
        elif left:
            processes.sweep()
            sec.add("SIGTERM", "FAIL", f"stopped, but port {port} was still bound: a "
                                       f"process left the server's process group")
        else:
            how = verdict.Exit(ex.code, ex.signal).describe()
            sec.add("SIGTERM", "ok", f"stopped in {took:.2f} s ({how})")

    async def _client(self, sec: Section) -> None:
        cell = self._scenario(sec)
        sc = cell.scenario if cell else None
        timeout = self._timeout(sc)
        stdin = sc.stdin if sc else b""
        await self._usage_checks(sec, timeout, stdin)
        env = self.cells.env_for(sec.peer)
        if cell is None:
            sec.add("scenario", "skip", f"no scenario with one client pairs this client "
                                        f"with the {self.ref.name} server")
        works = True
        if cell is not None and self._wanted("scenario"):
            works = await self._judged(sec, cell)
        # The runs against a reference server also show the client's prompt
        # (stderr without a final newline), which the error checks below need.
        prompt = ""
        if cell is not None and (self._wanted("ipv6") or self._wanted("empty-stdin")):
            prompt = await self._against_server(sec, cell, timeout, works)
        if self._wanted("refused"):
            if sec.protocol.transport != "tcp":
                sec.add("connection refused", "skip",
                        "udp: a datagram to a closed port is not refused")
            else:
                # A port of ours with nothing on it: the kernel refuses at once.
                port = self.pool.acquire(1)[0]
                try:
                    ran = await self._run(self._argv(sec, port), env, stdin, timeout)
                finally:
                    self.pool.release([port])
                status, detail = self._expect_exit(ran, 1, timeout, "a runtime error",
                                                   prompt)
                sec.add("connection refused", status, detail)
        if self._wanted("server-closes") and sec.protocol.transport == "tcp":
            await self._server_closes(sec, stdin, timeout, prompt)

    async def _server_closes(self, sec: Section, stdin: bytes, timeout: float,
                             prompt: str) -> None:
        """A server that accepts and closes at once, without a byte: the
        client must end; an exit 1 needs a one-line message on a line of its
        own (after a prompt without a newline, a "\\n" first)."""
        env = self.cells.env_for(sec.peer)
        port = self.pool.acquire(1)[0]

        async def close_at_once(reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
            # Half-close at once, then wait for the client's own close and
            # reset (no TIME_WAIT left on the doctor's port).
            writer.write_eof()
            try:
                while await asyncio.wait_for(reader.read(65536), timeout):
                    pass
            except (OSError, asyncio.TimeoutError):
                pass
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.close()

        srv = None
        try:
            srv = await asyncio.start_server(close_at_once, "127.0.0.1", port)
            ran = await self._run(self._argv(sec, port), env, stdin, timeout)
        finally:
            if srv is not None:
                srv.close()
                await srv.wait_closed()
            self.pool.release([port])
        if not ran.finished:
            sec.add("server closes", "FAIL", f"still running {timeout:g} s after the server "
                                             f"closed the connection without a byte")
        elif ran.exit.code == 1:
            sec.add("server closes", *self._expect_exit(
                ran, 1, timeout, "the server closed without a reply", prompt))
        elif ran.exit.code == 0:
            sec.add("server closes", "ok", f"exit 0, stdout \"{_clip(ran.stdout)}\"")
        else:
            sec.add("server closes", "FAIL", f"{ran.exit.describe()}; the contract wants exit "
                                             f"0, or 1 with a one-line message")

    async def _against_server(self, sec: Section, cell: Cell, timeout: float,
                              works: bool) -> str:
        """One reference server for two client runs: the scenario with
        {host} = ::1 (the ipv6 mode's address), then an empty stdin, which
        must end the client: exit 0, or 1 with a one-line message. Returns
        the prompt the client left open on stderr in a run that worked."""
        prompt = ""
        learned = False  # a run that worked showed what the client leaves on stderr
        transport = sec.protocol.transport
        assert self.ref.server is not None
        port = self.pool.acquire(1)[0]
        server = None
        env = self.cells.env_for(sec.peer)
        try:
            server = await processes.spawn(
                matrix.render(self.ref.server, self.ctx, sec.protocol, port), self._scratch(),
                self.cells.env_for(self.ref))
            ready = await processes.wait_bound(server, port, transport, timeout)
            if not ready.ready:
                sec.add("reference server", "skip", f"the {self.ref.name} server did not "
                                                    f"bind port {port}")
                return prompt
            if self._wanted("ipv6"):
                if not works:
                    sec.add("ipv6 host", "skip", f"{cell.scenario.name} does not work over "
                                                 f"IPv4 either")
                else:
                    argv = self._argv(sec, port, host="::1") + list(cell.scenario.args)
                    ran = await self._run(argv, env, cell.scenario.stdin, timeout, transport)
                    problem = self.client_problem(cell, 1, argv, ran, timeout)
                    if problem is None:
                        prompt, learned = prompt_of(ran.stderr), True
                        sec.add("ipv6 host", "ok", f"{cell.scenario.name} with HOST ::1")
                    else:
                        sec.add("ipv6 host", *self._known(
                            cell, "ipv6", f"{cell.scenario.name} with HOST ::1: {problem[0]}; "
                                          f"the contract wants HOST resolved, IPv4 or IPv6"))
            if not learned:
                # Not from ipv6 (skipped or failing): the scenario over IPv4.
                ran = await self._run(self._argv(sec, port) + list(cell.scenario.args), env,
                                      cell.scenario.stdin, timeout, transport)
                if self.client_problem(cell, 1, self._argv(sec, port), ran, timeout) is None:
                    prompt = prompt_of(ran.stderr)
            if self._wanted("empty-stdin"):
                ran = await self._run(self._argv(sec, port), env, b"", timeout, transport)
                self._empty_stdin(sec, ran, timeout, prompt)
        finally:
            if server is not None:
                await server.stop(STOP_GRACE_S)
            self.pool.release([port])
        return prompt

    def _empty_stdin(self, sec: Section, ran: Ran, timeout: float, prompt: str = "") -> None:
        if not ran.finished:
            sec.add("empty stdin", "FAIL", f"still running {timeout:g} s after its stdin "
                                           f"ended empty; the contract wants the client to "
                                           f"end (EOF on stdin is the end of the request)")
        elif ran.exit.code == 0:
            sec.add("empty stdin", "ok", f"exit 0, stdout \"{_clip(ran.stdout)}\"")
        elif ran.exit.code == 1:
            bad = _stderr_problem(ran.stderr, prompt)
            if bad:
                sec.add("empty stdin", "FAIL", f"exit 1, but {bad}; the contract wants a "
                                               f"one-line message")
            else:
                sec.add("empty stdin", "ok", f"exit 1, {verdict.tail_line(ran.stderr)!r}")
        else:
            sec.add("empty stdin", "FAIL", f"{ran.exit.describe()}; the contract wants exit "
                                           f"0, or 1 with a one-line message")


async def _wait_count(cap: processes.Capture, needle: bytes, n: int, timeout: float) -> bool:
    """True once cap holds needle n times (a server's output per client),
    within timeout of cell time."""
    return await clock.poll_until(lambda: cap.buf.count(needle) >= n or cap.closed,
                                  timeout, 0.01, 0.01) and cap.buf.count(needle) >= n
