"""The driver's last will: what to remove if it dies without doing so.

A driver ended by SIGKILL (or the OOM killer, or a crash) runs no finally
block. Its cells die with it (bwrap --die-with-parent, PID namespaces,
PR_SET_PDEATHSIG), but four kinds of thing live outside a cell: the
processes of cells on the shared network (two-hosts, or no bubblewrap),
two-hosts' named network namespaces (`ip netns add`), the tmpfs on the
scratch folders of programs sandboxed outside a cell, and the run's
scratch folders. The janitor is a small process in a session of its own
(so a terminal's SIGINT or SIGHUP does not reach it) that the driver tells
over a pipe what it made, one line each:

    pid PID START   a process it started (START: field 22 of its stat)
    ns NAME         a named network namespace
    mount PATH      a mount to detach (before the folders are removed)
    dir PATH        a folder to remove
    bye             the driver cleaned up itself: nothing to do

At EOF without `bye` (the driver is gone) it kills the processes whose
start time still matches (a recycled PID belongs to somebody else) with
their process groups, then every process left in each namespace, deletes
the namespaces, detaches the mounts and removes the folders. Run as a
script with `python3 -S` (standard library only, nothing imported from
harness) so it starts in about 15 ms; the driver starts it at the first
registration inside a run (`watching()`), and only then: a test that
drives one cell cleans up itself.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys

_proc: subprocess.Popen | None = None
_failed = False
_depth = 0


def start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses.
    fields = stat[stat.rfind(b")") + 2:].split()
    return fields[19].decode() if len(fields) > 19 else None


def _send(line: str) -> None:
    global _proc, _failed
    if _failed or _depth == 0:
        return  # outside a run (watching()): its caller cleans up itself
    if _proc is None:
        try:
            _proc = subprocess.Popen(
                [sys.executable, "-S", "-E", os.path.abspath(__file__)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        except OSError:
            _failed = True  # no janitor: the driver's own clean-up still runs
            return
    try:
        assert _proc.stdin is not None
        _proc.stdin.write(line.encode("utf-8", "surrogateescape") + b"\n")
        _proc.stdin.flush()
    except OSError:
        _failed = True


def process(pid: int) -> None:
    """Registers a process the driver started."""
    start = start_time(pid)
    if start is not None:
        _send(f"pid {pid} {start}")


def namespace(name: str) -> None:
    """Registers a named network namespace the driver made."""
    _send(f"ns {name}")


def mount(path: str | os.PathLike) -> None:
    """Registers a mount the driver made, to detach if the driver dies."""
    _send(f"mount {os.fspath(path)}")


def folder(path: str | os.PathLike) -> None:
    """Registers a folder to remove if the driver dies."""
    _send(f"dir {os.fspath(path)}")


def dismiss() -> None:
    """The driver has cleaned up: the janitor ends with nothing to do.
    Waits for it, so no process of the driver's outlives it."""
    global _proc
    p, _proc = _proc, None
    if p is None:
        return
    try:
        assert p.stdin is not None
        p.stdin.write(b"bye\n")
        p.stdin.close()
    except OSError:
        pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


@contextlib.contextmanager
def watching():
    """The extent of a run: what is registered inside is the janitor's until
    the outermost `with` ends, which dismisses it (the code inside removed
    what it made). Only a driver that dies inside leaves work for it."""
    global _depth
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            dismiss()


atexit.register(dismiss)


def _clean(pids: dict[int, str], names: list[str], dirs: list[str],
           mounts: list[str] = ()) -> None:  # type: ignore[assignment]
    for pid, start in pids.items():
        if start_time(pid) != start:
            continue  # gone, or the PID now belongs to another process
        for kill in (lambda: os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else None,
                     lambda: os.kill(pid, signal.SIGKILL)):
            try:
                kill()
            except OSError:
                pass
    for name in names:
        try:
            out = subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                                 timeout=10).stdout.split()
        except (OSError, subprocess.TimeoutExpired):
            out = []
        for word in out:
            try:
                os.kill(int(word), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        try:
            subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
    if mounts:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        for m in mounts:
            libc.umount2(os.fsencode(m), 2)  # MNT_DETACH
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def main() -> int:
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    pids: dict[int, str] = {}
    names: list[str] = []
    dirs: list[str] = []
    mounts: list[str] = []
    for raw in sys.stdin.buffer:
        kind, _, value = raw.rstrip(b"\n").decode("utf-8", "surrogateescape").partition(" ")
        if kind == "bye":
            return 0
        if kind == "pid":
            pid, _, start = value.partition(" ")
            pids[int(pid)] = start
        elif kind == "ns":
            names.append(value)
        elif kind == "dir":
            dirs.append(value)
        elif kind == "mount":
            mounts.append(value)
    _clean(pids, names, dirs, mounts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
