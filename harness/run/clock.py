"""Cell time: the wall clock less the time a cell was starved of CPU.

A timeout is a verdict on a program only if the program had the processor.
On a machine at load 40 a JVM client can wait seconds in the run queue
before it runs its first line; that wait is the machine's, not the peer's.
So every wait of a cell (a client's run, readiness, effects, settling, the
cell's own limit) counts cell time:

    cell time = wall time - starved time

Starved time grows by, per sampling interval, the longest time any one task
(thread) of the cell, or the driver's own main thread, spent runnable but
not running. The longest, not the sum: twenty clients waiting side by side
were starved for one interval, not twenty. The source is the scheduler's
own account, /proc/PID/task/TID/schedstat (second field: run-queue wait in
ns). The scheduler adds a wait there only once the task runs, so a task
seen runnable at two samples in a row, without having run in between, is
counted as starved for that interval at once, and that credit is taken off
when the scheduler later reports the wait. Tasks that come and go between
two samples are missed, which only makes the estimate smaller (a timeout
comes sooner, never later).

A ceiling still bounds every wait in wall time (CEILING x the timeout), so
a cell ends however busy the machine is. A program that sleeps is not
starved and meets its timeout on time; one that spins on a loaded machine
has the cell time its share of the CPU gives it.

The clock of the running cell travels in a context variable: asyncio tasks
copy their context when they are created, so every wait made inside a
cell's task (processes, steps, the relay's settle) uses the cell's clock
without passing it around. Outside a cell, waits use the wall clock.

A cell's clock can also end its waits early: the hang monitor (runner)
calls stop(reason) when the cell is provably stuck, and every pending and
later stoppable wait returns as if it had timed out.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import time
from typing import Awaitable, Callable, Iterable

CEILING = 8.0  # a wait never lasts more than CEILING x its timeout of wall time
# Samples closer together than this are not taken: each reads two /proc
# files per thread (20 JVM clients are ~800 reads), and the driver that
# does it is the same process that relays every cell's bytes.
_SAMPLE_MIN_S = 1.0


def _read(path: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return b""
    try:
        return os.read(fd, 512)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _task_sample(pid: int, tid: int) -> tuple[int, int, bool] | None:
    """(on-CPU ns, run-queue wait ns, runnable now) of one task, or None."""
    f = _read(f"/proc/{pid}/task/{tid}/schedstat").split()
    if len(f) < 2:
        return None
    stat = _read(f"/proc/{pid}/task/{tid}/stat")
    end = stat.rfind(b")")
    try:
        return int(f[0]), int(f[1]), stat[end + 2:end + 3] == b"R"
    except ValueError:
        return None


def _tasks(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except (OSError, ValueError):
        return []


class Clock:
    """The wall clock: what waits use outside a cell."""

    def starved(self, fresh: bool = False) -> float:
        return 0.0

    @property
    def stopped(self) -> str | None:
        return None

    async def wait_for(self, aw: Awaitable, timeout: float | None,
                       stoppable: bool = True) -> bool:
        """Waits for aw (shielded: a timeout does not cancel it). Returns
        True once it is done, False when timeout (cell time) ran out first
        or, if stoppable, the clock was stopped. The awaitable's own
        exceptions are not raised here: the caller awaits it again to see
        its result. Grace periods (SIGTERM before SIGKILL) are not
        stoppable: a stuck cell still gets a clean stop."""
        fut = asyncio.ensure_future(aw)
        if fut.done():
            return True
        done, _ = await asyncio.wait({fut}, timeout=timeout)
        return bool(done)


class CellClock(Clock):
    """Cell time for one cell; pids() returns the cell's live root pids
    (their descendants, through descendants(), and threads are sampled)."""

    def __init__(self, pids: Callable[[], Iterable[int]],
                 descendants: Callable[[int], list[int]] | None = None):
        self._pids = pids
        self._descendants = descendants
        # (pid, tid) -> (cpu ns, run-queue wait ns, runnable, credited ns)
        self._seen: dict[tuple[int, int], tuple[int, int, bool, int]] = {}
        self._starved_ns = 0
        self._last_sample = 0.0
        self._me = os.getpid()
        self._stop_reason: str | None = None
        self._stop = asyncio.Event()

    def sample(self, fresh: bool = False) -> None:
        """Adds the starvation since the previous sample (taken at most
        once a second unless fresh: a timeout about to expire)."""
        now = time.monotonic()
        if now - self._last_sample < (0.0 if fresh else _SAMPLE_MIN_S):
            return
        wall_ns = int((now - self._last_sample) * 1e9) if self._last_sample else 0
        self._last_sample = now
        pids: set[int] = set()
        for p in self._pids():
            pids.add(p)
            if self._descendants is not None:
                pids.update(self._descendants(p))
        worst = 0
        seen: dict[tuple[int, int], tuple[int, int, bool, int]] = {}
        tasks = [(self._me, self._me)] + [(p, t) for p in pids for t in _tasks(p)]
        for pid, tid in tasks:
            got = _task_sample(pid, tid)
            if got is None:
                continue
            cpu, delay, runnable = got
            before = self._seen.get((pid, tid))
            if before is None:
                # New to this cell: all of a cell process's wait is the
                # cell's; the driver's before the cell began is not.
                before = (cpu, delay, False, 0) if pid == self._me else (0, 0, False, 0)
            cpu0, delay0, runnable0, credit = before
            if runnable and runnable0 and cpu == cpu0 and delay == delay0 and wall_ns:
                starved = wall_ns  # in the run queue all along, not yet reported
                credit += wall_ns
            else:
                starved = max(0, delay - delay0 - credit)
                credit = 0
            seen[(pid, tid)] = (cpu, delay, runnable, credit)
            worst = max(worst, starved)
        self._seen = seen
        if wall_ns:
            worst = min(worst, wall_ns)
        self._starved_ns += worst

    def starved(self, fresh: bool = False) -> float:
        """Seconds the cell was starved so far; fresh: sample now (before
        a timeout is declared: the last second's starvation counts too)."""
        self.sample(fresh)
        return self._starved_ns / 1e9

    @property
    def stopped(self) -> str | None:
        return self._stop_reason

    def stop(self, reason: str) -> None:
        """Ends every stoppable wait of the cell now and from now on."""
        if self._stop_reason is None:
            self._stop_reason = reason
            self._stop.set()

    async def wait_for(self, aw: Awaitable, timeout: float | None,
                       stoppable: bool = True) -> bool:
        fut = asyncio.ensure_future(aw)
        if fut.done():
            return True
        if stoppable and self._stop_reason is not None:
            return False
        stopper = asyncio.ensure_future(self._stop.wait() if stoppable
                                        else asyncio.Event().wait())
        try:
            start = time.monotonic()
            starved0 = self.starved()
            while True:
                left: float | None = None
                if timeout is not None:
                    wall = time.monotonic() - start
                    used = wall - (self.starved() - starved0)
                    left = min(timeout - used, CEILING * timeout - wall)
                    if left <= 0:
                        used = wall - (self.starved(fresh=True) - starved0)
                        left = min(timeout - used, CEILING * timeout - wall)
                    if left <= 0:
                        return False
                    # Look again at least every second: starvation since
                    # the wait began lengthens it, and is only known by
                    # sampling.
                    left = min(left, _SAMPLE_MIN_S)
                done, _ = await asyncio.wait({fut, stopper}, timeout=left,
                                             return_when=asyncio.FIRST_COMPLETED)
                if fut in done:
                    return True
                if stopper in done:
                    return False
        finally:
            stopper.cancel()


class Deadline:
    """A timeout of cell time, for loops that poll: left() is what remains
    (never more than the wall-clock ceiling allows)."""

    def __init__(self, timeout: float):
        self.clock = current.get()
        self.timeout = timeout
        self.start = time.monotonic()
        self.starved0 = self.clock.starved()

    def left(self, fresh: bool = False) -> float:
        wall = time.monotonic() - self.start
        used = wall - (self.clock.starved(fresh) - self.starved0)
        return min(self.timeout - used, CEILING * self.timeout - wall)

    def expired(self) -> bool:
        # Sampled afresh before it says so: the starvation of the last
        # second (samples are at most a second apart) counts too.
        return self.left() <= 0 and self.left(fresh=True) <= 0


_WALL = Clock()
current: contextvars.ContextVar[Clock] = contextvars.ContextVar("cell_clock", default=_WALL)


def get() -> Clock:
    return current.get()


async def wait_for(aw: Awaitable, timeout: float | None, stoppable: bool = True) -> bool:
    """wait_for on the current cell's clock (see Clock.wait_for)."""
    return await current.get().wait_for(aw, timeout, stoppable)


async def poll_until(cond: Callable[[], bool], timeout: float, step: float = 0.005,
                     max_step: float = 0.05, stoppable: bool = True) -> bool:
    """Polls cond() with growing steps until it holds (True) or timeout of
    cell time passes (False; also when stoppable and the clock is stopped)."""
    if cond():
        return True

    async def until() -> None:
        delay = step
        while not cond():
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, max_step)

    task = asyncio.ensure_future(until())
    try:
        return await current.get().wait_for(task, timeout, stoppable)
    finally:
        task.cancel()
