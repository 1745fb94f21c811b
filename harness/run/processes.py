"""Child processes: each in its own session (so its whole process group can
be stopped), output captured with a cap, readiness read from the kernel's
socket table, and a registry so nothing survives a timeout, Ctrl-C or exit.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import os
import signal
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from harness.judge.verdict import Exit
from harness.run import clock, janitor, procnet

CAPTURE_LIMIT = 1 << 20  # bytes kept per stream; the rest is counted and dropped
STOP_GRACE_S = 2.0

# Process groups started and not yet confirmed gone: killed at exit no matter what.
_LIVE_GROUPS: set[int] = set()
# Every session started (pgid == sid == the leader's pid), for the final sweep.
_ALL_SESSIONS: set[int] = set()


def _kill_all_at_exit() -> None:
    kill_all(signal.SIGKILL)


atexit.register(_kill_all_at_exit)


def kill_all(sig: int = signal.SIGKILL) -> None:
    """Sends sig to every process, descending from this driver, in a group it
    started and still tracks (process by process: a tracked group whose
    leader was reaped may have lent its number to a stranger)."""
    if not _LIVE_GROUPS:
        return
    for s in procnet.live_group_members(set(_LIVE_GROUPS), os.getpid()):
        try:
            os.kill(s.pid, sig)
        except ProcessLookupError:
            pass


def sweep() -> int:
    """Kills every live process left in a session or group this driver
    started (one /proc scan; catches children that changed their process
    group). Returns how many it found."""
    if not _ALL_SESSIONS:
        return 0
    # Only our descendants: we are the children's subreaper, so an escaped
    # grandchild is re-parented to us; a stranger that inherited a recycled
    # group number is not.
    left = procnet.live_group_members(_ALL_SESSIONS | _LIVE_GROUPS, os.getpid())
    # Process by process, never by group number: a group whose leader was
    # reaped may have lent its number to a stranger (another driver's
    # client, seen killed this way while three drivers shared the machine).
    for s in left:
        try:
            os.kill(s.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    me = os.getpid()
    for s in left:
        # Re-parented to us (subreaper): reap the zombie. Leaders we spawned
        # are asyncio's to reap.
        if s.ppid == me and s.pid not in _ALL_SESSIONS:
            try:
                os.waitpid(s.pid, 0)
            except ChildProcessError:
                pass
    return len(left)


async def ended(proc: asyncio.subprocess.Process, timeout: float | None = None) -> bool:
    """Waits until proc has ended (its exit status is known), not for its
    pipes: on Python 3.11 Process.wait() also waits until every pipe is
    closed, which a grandchild holding one (a cell's init, a daemon) can
    put off forever. Returns False after timeout seconds (wall clock)."""
    loop = asyncio.get_running_loop()
    end = None if timeout is None else loop.time() + timeout
    delay = 0.001
    while proc.returncode is None:
        if end is not None and loop.time() >= end:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
    return True


def use_pidfd_watcher() -> None:
    """On Python 3.11, waits for children with pidfds instead of one thread
    per child (3.12 does this by itself)."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    try:
        fd = os.pidfd_open(os.getpid())
        os.close(fd)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            loop = asyncio.get_running_loop()
            watcher = asyncio.get_child_watcher()
            if not isinstance(watcher, asyncio.PidfdChildWatcher):
                watcher = asyncio.PidfdChildWatcher()
                asyncio.set_child_watcher(watcher)
            watcher.attach_loop(loop)
    except (OSError, AttributeError, NotImplementedError):
        pass


def adopt_orphans() -> None:
    """Before a driver starts programs (in its event loop): it becomes the
    subreaper of their descendants (a daemonising server is still stopped)
    and waits for children with pidfds."""
    become_subreaper()
    use_pidfd_watcher()


def started_here(pid: int) -> bool:
    """True when pid leads a session this driver started (spawn)."""
    return pid in _ALL_SESSIONS


def become_subreaper() -> bool:
    """Makes orphaned descendants re-parent to this process (Linux
    PR_SET_CHILD_SUBREAPER), so a daemonising grandchild is still ours to
    reap. Returns True on success."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class Capture:
    """Collects a stream up to a cap while draining the rest, and lets a
    caller wait until some bytes have appeared."""

    def __init__(self, limit: int = CAPTURE_LIMIT):
        self.limit = limit
        self.buf = bytearray()
        self.total = 0
        self.closed = False
        self._changed = asyncio.Event()

    @property
    def truncated(self) -> bool:
        return self.total > len(self.buf)

    def data(self) -> bytes:
        return bytes(self.buf)

    async def pump(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            self.closed = True
            return
        try:
            while True:
                chunk = await stream.read(65536)
                if not chunk:
                    break
                self.total += len(chunk)
                room = self.limit - len(self.buf)
                if room > 0:
                    self.buf += chunk[:room]
                self._changed.set()
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            self._changed.set()

    async def wait_contains(self, needle: bytes, timeout: float, start: int = 0) -> bool:
        """Returns True once the captured bytes from offset start on contain
        needle, False after timeout (cell time, see harness/run/clock.py) or
        when the stream ended without it."""

        async def until() -> None:
            while self.buf.find(needle, start) < 0 and not self.closed:
                self._changed.clear()
                await self._changed.wait()

        task = asyncio.ensure_future(until())
        try:
            await clock.wait_for(task, timeout)
        finally:
            task.cancel()
        return self.buf.find(needle, start) >= 0


@dataclass
class Child:
    """A started process with its captured output."""

    argv: list[str]
    cwd: str
    proc: Any  # asyncio.subprocess.Process, or cell.Program (the same face)
    stdout: Capture
    stderr: Capture
    started: float
    tasks: list[asyncio.Task] = field(default_factory=list)
    stopped_by_driver: bool = False
    ended: float | None = None
    inside: Inside | None = None  # where it was started (a restart goes there too)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    def members(self) -> list[procnet.ProcStat]:
        """The live processes of its process group or session (what it
        forked and left behind once it ended). In a cell only the cell's
        processes are looked at (a PID namespace: nobody else's can be
        there); elsewhere every process on the machine that descends from
        the driver."""
        if self.inside is not None:
            return procnet.live_group_members(
                self.pid, among=procnet.descendants(self.inside.cell.holder))
        return procnet.live_group_members(self.pid, os.getpid())

    def exit(self) -> Exit:
        rc = self.proc.returncode
        if rc is None:
            return Exit(None)
        if rc < 0:
            return Exit(None, -rc, self.stopped_by_driver)
        return Exit(rc, None, self.stopped_by_driver)

    async def wait(self, timeout: float | None = None, stoppable: bool = True) -> bool:
        """Returns True if the process ended within timeout (cell time, see
        harness/run/clock.py; a stopped cell clock ends the wait unless not
        stoppable)."""
        if self.proc.returncode is not None:
            return True
        if not await clock.wait_for(self.proc.wait(), timeout, stoppable):
            return False
        if self.ended is None:
            self.ended = time.monotonic()
        return True

    async def finish_output(self, timeout: float = 1.0) -> None:
        """Waits (bounded) for the output pumps: a grandchild can hold the pipes."""
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=timeout)
            for t in self.tasks:
                t.cancel()

    async def _members_until_gone(self, timeout: float) -> list[procnet.ProcStat]:
        """Polls members() with growing steps until none is left or timeout
        seconds of cell time have passed (a killed process vanishes only
        once it runs: on a starved machine that wait is the machine's);
        returns the last look."""
        last: list[procnet.ProcStat] = []

        def gone() -> bool:
            last[:] = self.members()
            return not last

        await clock.poll_until(gone, timeout, 0.002, 0.05, stoppable=False)
        return last

    async def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Stops the whole process group: SIGTERM, then SIGKILL after grace;
        reaps what is ours and forgets the group once nothing is left."""
        pgid = self.pid
        members: list = []
        try:
            if self.proc.returncode is None:
                # The leader is not reaped yet, so the group number is ours.
                self.stopped_by_driver = True
                _signal_group(pgid, signal.SIGTERM)
            elif group_alive(pgid):
                # Reaped: the number may be a stranger's by now; only members
                # descending from us (we are their subreaper) get the signal.
                for s in self.members():
                    _signal_pid(s.pid, signal.SIGTERM)
            await self.wait(grace, stoppable=False)
            # Other members (forked children) are not ours to wait for: poll.
            members = await self._members_until_gone(
                grace if self.proc.returncode is None else grace / 2) \
                if group_alive(pgid) else []
            if members or self.proc.returncode is None:
                if self.proc.returncode is None:
                    _signal_group(pgid, signal.SIGKILL)
                for s in members:
                    try:
                        os.kill(s.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                await self.wait(5.0, stoppable=False)
                # SIGKILL is delivered when the process next runs: on a busy
                # machine it may still show as sleeping for a while.
                members = await self._members_until_gone(5.0)
        finally:
            if self.proc.returncode is None:
                _signal_group(pgid, signal.SIGKILL)
                try:
                    os.kill(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            else:
                _reap_group(pgid)
                if not members:
                    _LIVE_GROUPS.discard(pgid)
            if self.proc.stdin is not None and not self.proc.stdin.is_closing():
                self.proc.stdin.close()
        await self.finish_output()


def group_alive(pgid: int) -> bool:
    """Cheap test (no /proc scan): does any process, zombies included, still
    have this process group?"""
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _signal_pid(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _reap_group(pgid: int) -> None:
    """Reaps zombies of the group re-parented to us (we are a subreaper).
    Only called after the group leader itself has been waited for."""
    while True:
        try:
            pid, _ = os.waitpid(-pgid, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@dataclass(frozen=True)
class Inside:
    """Where a program runs when not on the host: a cell (run.cell.Cell,
    whose holder starts it) and the sandbox's sl-cell limit options."""

    cell: Any
    limits: tuple[str, ...] = ()


async def spawn(argv: list[str], cwd: str, env: dict[str, str], stdin: bytes | None = None,
                capture_limit: int = CAPTURE_LIMIT, inside: Inside | None = None) -> Child:
    """Starts argv in a new session, in a cell when inside says so (cwd is
    then a path inside it). stdin bytes are fed then closed (None:
    /dev/null). Raises OSError if the program cannot be started."""
    if inside is not None:
        start = inside.cell.exec(argv, cwd, env, list(inside.limits), stdin is not None)
    else:
        start = asyncio.create_subprocess_exec(
            *argv, cwd=cwd, env=env,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True, close_fds=True)
    creating = asyncio.ensure_future(start)
    try:
        proc = await asyncio.shield(creating)
    except asyncio.CancelledError:
        # Cancelled (Ctrl-C, a timeout) while the child was being created:
        # it may exist already, so finish creating it and kill it.
        try:
            proc = await creating
        except Exception:
            raise asyncio.CancelledError() from None
        _signal_group(proc.pid, signal.SIGKILL)
        await ended(proc, 5.0)
        raise
    _LIVE_GROUPS.add(proc.pid)
    _ALL_SESSIONS.add(proc.pid)
    if inside is None:  # a cell's programs end with it, whatever happens
        janitor.process(proc.pid)
    child = Child(argv, cwd, proc, Capture(capture_limit), Capture(capture_limit),
                  time.monotonic(), inside=inside)
    child.tasks.append(asyncio.ensure_future(child.stdout.pump(proc.stdout)))
    child.tasks.append(asyncio.ensure_future(child.stderr.pump(proc.stderr)))
    if stdin is not None:
        child.tasks.append(asyncio.ensure_future(_feed(proc, stdin)))
    return child


async def _feed(proc: asyncio.subprocess.Process, data: bytes) -> None:
    assert proc.stdin is not None
    try:
        if data:
            proc.stdin.write(data)
            await proc.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        try:
            proc.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            pass


# --------------------------------------------------------------------------
# Readiness


@dataclass
class Readiness:
    """What watching the socket table found."""

    ready: bool
    foreign: bool = False  # a socket on the port not owned by the server's processes
    other_ports: tuple[int, ...] = ()  # ports the server's processes did bind
    exited: bool = False
    timed_out: bool = False


def tree(child: Child, group: bool = False) -> list[int]:
    """The server's processes: the leader and its /proc descendants, plus
    with group=True the live members of its process group or session (a
    daemonising server's children are re-parented away from the leader)."""
    pids = [child.pid] + procnet.descendants(child.pid)
    if group:
        pids += [s.pid for s in child.members() if s.pid not in pids]
    return pids


def bound_ports(child: Child, transport: str, ns_pid: int | None = None) -> tuple[int, ...]:
    """Returns the local ports the child's processes have bound (listening
    for TCP); used to say 'listens on 41234, not 20001'. ns_pid: read the
    table of that process's network namespace."""
    pids = tree(child, group=True)
    own = procnet.own_sockets(pids)
    if own is not None:
        return tuple(sorted({s.port for s in own if s.transport == transport and
                             (s.listening if transport == "tcp" else not s.remote_port)}))
    inodes = procnet.socket_inodes(pids)
    if not inodes:
        return ()
    return tuple(sorted({s.port for s in procnet.sockets(transport, ns_pid=ns_pid)
                         if s.inode in inodes and s.bound}))


async def wait_bound(child: Child, port: int, transport: str, timeout: float) -> Readiness:
    """Waits until the kernel shows a socket of the child's processes bound
    (TCP: listening) on port. Polls, never connects: first the processes'
    socket fds (cheap), and only while they hold sockets the kernel's
    table (/proc/net/tcp*, udp*) for the port and those inodes."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = clock.Deadline(timeout)
    delay = 0.0005
    polls = 0
    while True:
        polls += 1
        leader_gone = child.proc.returncode is not None
        if leader_gone and (child.proc.returncode != 0
                            or not child.members()):
            # Exited before binding. A port held by someone else (a
            # listener, or TIME_WAIT for a server without SO_REUSEADDR) is
            # not the peer's fault.
            foreign = bool(procnet.sockets(transport, port))
            return Readiness(False, foreign=foreign, exited=True)
        # The leader's own fds every time, its descendants every 4th poll,
        # its whole group every 16th (a scan of /proc).
        if leader_gone or polls % 16 == 0:
            pids = tree(child, group=True)
        elif polls % 4 == 0:
            pids = tree(child)
        else:
            pids = [child.pid]
        inodes = procnet.socket_inodes(pids)
        if inodes:
            socks = procnet.sockets(transport, port, listeners_only=True)
            if any(s.bound and s.inode in inodes for s in socks):
                return Readiness(True)
        now = loop.time()
        if deadline.expired():
            # One last full look (the whole group) before giving up.
            socks = procnet.sockets(transport, port)
            mine = procnet.socket_inodes(tree(child, group=True))
            if any(s.bound and s.inode in mine for s in socks):
                return Readiness(True)
            foreign = any(s.bound and s.inode not in mine for s in socks)
            return Readiness(False, foreign=foreign, timed_out=True,
                             other_ports=bound_ports(child, transport))
        await asyncio.sleep(delay)
        # 0.5 ms steps for the first 50 ms (native programs bind in a few
        # ms), then growing to 20 ms (a JVM takes hundreds).
        if now - start > 0.05:
            delay = min(delay * 1.3, 0.02)
