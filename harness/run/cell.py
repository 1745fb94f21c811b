"""One isolation layer for every cell: its own network, mount, PID and IPC
namespaces (and a user namespace when the driver is not root), made by
bubblewrap, whose PID 1 is c/cell/cell.c's holder (`sl-cell hold`).
docs/security.md has the threat model; this module is the mechanism.

    cell = await Cell.start(sl_cell)      # bwrap --as-pid-1 ... -- sl-cell hold FD
    proc = await cell.exec(argv, cwd, env, limits)   # started by the holder
    sock = await cell.socket(AF_INET, SOCK_STREAM)   # made inside the cell
    data = cell.read_file(path)           # a file the cell wrote
    await cell.close()                    # everything in it dies

What a cell sees:
- network: its own loopback only; the server, the clients and the driver's
  relay (whose sockets the holder makes inside and passes over SCM_RIGHTS)
  meet there, on fixed ports that collide with nothing on the machine;
- files: the system's folders of / read-only (SYSTEM_TOPS); of the
  others (home folders, /srv, /var, a workspace) only what its programs
  need, read-only (the repository, the build, a student's own folder, an
  interpreter's installation: _binds); a private /tmp, /dev/shm and /run
  (tmpfs: host unix sockets under /run and /tmp are out of reach);
  SCRATCH (/tmp/cell inside) is the one writable folder, on that tmpfs,
  gone with the cell;
- processes: only its own (PID namespace; the holder is PID 1, so no
  program in it can signal the holder, and it reaps their orphans).
Every program of a cell is forked by the holder (one fork and the
program's own exec: no launcher process per program) and reported back as
a Program, which looks to the rest of the driver like the
asyncio.subprocess.Process of a program the driver started itself.
It dies with the driver: the holder exits at EOF on its control socket
(closed by the kernel when the driver dies, however it dies), bwrap has
--die-with-parent, and when the PID namespace's init ends the kernel kills
everything in it, setsid daemons included. Nothing is left on disk.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import itertools
import os
import pwd
import shutil
import signal
import socket
import stat
import struct
import subprocess
from dataclasses import dataclass
from typing import Callable

from harness.run import processes, procnet, sandbox

SCRATCH = "/tmp/cell"  # the cell's writable folder, inside the cell
CLIENT_DIR = "/tmp/cell/client"  # a sandboxed client's own folder in it
SERVER_PORT = 20001  # fixed: a cell's loopback is its own
RELAY_PORT = 20002
FILE_LIMIT = 1 << 20
# A cell's tmpfs, in MB (RAM): /tmp holds the scratch folder (a login log,
# 1,000 delivered messages, exim's spool take a few MB); without a cap a
# program could fill half the machine's memory with files under the
# file-size limit each.
TMPFS_MB = {"/tmp": sandbox.TMPFS_MB, "/dev/shm": 16, "/run": 1}
START_TIMEOUT_S = 30.0  # bwrap to "ready"; a ceiling, it takes milliseconds
START_ATTEMPTS = 3
ANSWER_TIMEOUT_S = 60.0  # the holder silent while a request waits (Channel); it answers in ms


class CellError(OSError):
    """A cell could not be made or used (the driver's problem, not a peer's)."""


@dataclass
class Support:
    """Whether cells can be made here, and if not why (said once)."""

    ok: bool
    why: str = ""
    bwrap: str = ""
    user_ns: bool = False  # an unprivileged driver's cells have a user namespace
    sized: bool = True  # bwrap caps the cell's tmpfs (--size: bubblewrap >= 0.7)


_support: dict[str, Support] = {}


def support(sl_cell: str) -> Support:
    """Finds out once per driver (and helper path) whether a cell can be
    made: bwrap on PATH, sl-cell built, and a trial cell that starts and
    ends."""
    if sl_cell in _support:
        return _support[sl_cell]
    _support[sl_cell] = _probe(sl_cell)
    return _support[sl_cell]


def _probe(sl_cell: str) -> Support:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Support(False, "bubblewrap is not installed (apt-get install bubblewrap)")
    if not os.access(sl_cell, os.X_OK):
        return Support(False, f"{sl_cell} is not built (cmake --build the build folder)")
    user_ns = os.geteuid() != 0
    for sized in (True, False):
        argv = bwrap_argv(bwrap, user_ns, sized) + ["--", "/bin/true"]
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=START_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as e:
            return Support(False, f"bwrap cannot make namespaces here: {e}")
        err = r.stderr.decode("utf-8", "replace").strip().splitlines()
        if r.returncode != 0 and sized and "--size" in "".join(err):
            continue  # an older bubblewrap: cells without the cap, said once
        if r.returncode != 0:
            return Support(False, "bwrap cannot make namespaces here: "
                                  f"{err[-1] if err else f'exit {r.returncode}'}")
        return Support(True, "", bwrap, user_ns, sized)
    raise AssertionError("unreachable")


def _quiet_env(**extra: str) -> dict[str, str]:
    """The environment of bwrap and the holder (PID 1 of the cell, whose
    /proc/1/environ a program of an unprivileged driver's cell can read)
    and of run_once's compilers: none of the driver's own (a teacher's
    tokens and settings), only what finding and running programs needs."""
    env = {"PATH": os.environ.get("PATH") or os.defpath, "LANG": "C.UTF-8", "TZ": "UTC"}
    if os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    env.update(extra)
    return env


def bwrap_argv(bwrap: str, user_ns: bool, sized: bool = True) -> list[str]:
    """bwrap's words for a cell, up to the binds and the program (also
    what bench/cell_cost.py measures). sized: cap the tmpfs (--size)."""

    def tmpfs(path: str, mb: int, perms: list[str]) -> list[str]:
        return perms + (["--size", str(mb << 20)] if sized else []) + ["--tmpfs", path]

    argv = [bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--die-with-parent", "--new-session", "--as-pid-1",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            *tmpfs("/tmp", TMPFS_MB["/tmp"], ["--perms", "01777"]),
            *tmpfs("/dev/shm", TMPFS_MB["/dev/shm"], ["--perms", "01777"]),
            *tmpfs("/run", TMPFS_MB["/run"], []),
            "--perms", "01777", "--dir", SCRATCH,
            "--perms", "01777", "--dir", CLIENT_DIR]
    if user_ns:
        argv[1:1] = ["--unshare-user"]
    else:
        # bwrap leaves a root driver's holder no capability but these: it
        # switches students' programs to the sandbox uid.
        argv[1:1] = ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return argv


_LIVE: set["Cell"] = set()
_STARTING: set[asyncio.subprocess.Process] = set()
_INITS: set[int] = set()  # every cell's init not yet seen gone


async def close_all() -> None:
    """Ends every cell still open or starting (a cancelled run) and waits
    until their processes are gone: a PID namespace ends only once its
    last process is reaped, which can take a moment after its init died."""
    for proc in list(_STARTING):
        below = _kill(proc)
        _INITS.update(below)
        await _ended(proc)
    for c in list(_LIVE):
        await c.close()
    await _gone(list(_INITS), 10.0)
    _INITS.difference_update([p for p in _INITS if not procnet.alive(p)])


class Cell:
    """A running cell: the bwrap process, its holder and the control socket."""

    def __init__(self, proc: asyncio.subprocess.Process, ctl: socket.socket, holder: int,
                 sl_cell: str):
        self.proc = proc
        self.ctl = ctl
        self.holder = holder  # the holder's pid, as the driver sees it: PID 1 of the cell
        self.sl_cell = sl_cell
        self._chan = Channel(ctl)
        _LIVE.add(self)
        _INITS.add(holder)

    @classmethod
    async def start(cls, sl_cell: str, paths: list[str] = (),  # type: ignore[assignment]
                    hide: list[str] = ()) -> "Cell":  # type: ignore[assignment]
        """Makes a cell. paths: files or folders the programs use (their
        repository, build, a student's folder); one under a folder the cell
        replaces (/tmp, /run, /dev/shm, or a folder of hide) is bound in
        read-only. hide: folders whose contents the cell does not see (a
        class of students: each cell sees only its own student's folder).
        Raises CellError. bwrap's read-only bind of / walks every mount on
        the machine; one that another program removes meanwhile (a netns of
        `ip netns`) fails it, so a failed start is tried again."""
        for attempt in range(START_ATTEMPTS):
            try:
                return await cls._start(sl_cell, paths, hide)
            except CellError:
                if attempt == START_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    @classmethod
    async def _start(cls, sl_cell: str, paths: list[str], hide: list[str]) -> "Cell":
        sup = support(sl_cell)
        if not sup.ok:
            raise CellError(sup.why)
        ctl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ctl.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        ctl.setblocking(False)
        # sl-cell itself too: bwrap runs it inside (a clone under /tmp).
        binds = _binds([*paths, sl_cell], hide)
        argv = bwrap_argv(sup.bwrap, sup.user_ns, sup.sized) + binds + [
            "--", sl_cell, "hold", str(theirs.fileno())]
        # Not cancelled half-way: asyncio cannot end a process whose pipes
        # it was still connecting (Process.wait() then never returns).
        creating = asyncio.ensure_future(asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, pass_fds=(theirs.fileno(),),
            start_new_session=True, env=_quiet_env()))
        try:
            proc = await asyncio.shield(creating)
        except asyncio.CancelledError:
            ctl.close()
            try:
                proc = await creating
            except Exception:
                raise asyncio.CancelledError() from None
            finally:
                theirs.close()
            _INITS.update(_kill(proc))
            await _ended(proc)
            raise
        except OSError as e:
            ctl.close()
            raise CellError(f"cannot start bwrap: {e.strerror or e}") from None
        finally:
            theirs.close()
        _STARTING.add(proc)
        try:
            holder = await asyncio.wait_for(_ready(ctl), START_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError, CellError) as e:
            ctl.close()
            below = _kill(proc)
            await _ended(proc)
            await _gone(below)
            err = await _stderr(proc)
            raise CellError(f"the cell did not start: {err or e}") from None
        except BaseException:  # cancelled (Ctrl-C) while it started
            ctl.close()
            below = _kill(proc)
            await asyncio.shield(_ended(proc))
            await asyncio.shield(_gone(below))
            raise
        finally:
            _STARTING.discard(proc)
        ctl.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 0)
        return cls(proc, ctl, holder, sl_cell)

    async def exec(self, argv: list[str], cwd: str, env: dict[str, str],
                   limits: list[str] | None = None, stdin: bool = False) -> "Program":
        """Starts argv inside the cell, in cwd (a path inside), in a session
        of its own, with sl-cell's limit options (sandboxed peers). stdout
        and stderr are pipes, stdin one too when asked for (else
        /dev/null). Raises CellError when the holder cannot be asked, OSError
        when it cannot start the program (an exec failure is the program's
        exit status 127, with sl-cell's words on its stderr)."""
        argv_fields = [*(limits or []), "--", *argv]
        env_fields = [f"{k}={v}" for k, v in env.items()]
        fields = [cwd, str(len(argv_fields)), *argv_fields, str(len(env_fields)), *env_fields]
        req = b"".join(os.fsencode(f) + b"\0" for f in fields)
        ours: list[int] = []  # the driver's ends

        def pipes() -> list[int]:
            """The program's ends (the driver's go to ours). Made only when
            the request is sent, and closed right after: a thousand
            clients starting at once hold their pipes one at a time."""
            theirs: list[int] = []
            try:
                if stdin:
                    r, w = os.pipe2(os.O_CLOEXEC)
                    theirs.append(r)
                    ours.append(w)
                else:
                    theirs.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
                for _ in range(3):  # stdout, stderr, status
                    r, w = os.pipe2(os.O_CLOEXEC)
                    ours.append(r)
                    theirs.append(w)
            except BaseException:
                for fd in theirs:
                    os.close(fd)
                raise
            return theirs

        try:
            msg, fds = await self._chan.ask(b"x", req, pipes)
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        if not fds:
            for fd in ours:
                os.close(fd)
            text = msg[1:].decode("utf-8", "replace") if msg[:1] == b"e" else "no answer"
            raise OSError(errno.EAGAIN, f"the cell cannot start {argv[0]}: {text}")
        try:
            pid = _pidfd_pid(fds[0])
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            os.close(fds[0])
        try:
            return await Program.open(pid, ours, stdin)
        except BaseException:
            _signal(pid, signal.SIGKILL)  # started, but nobody would know it
            raise

    async def socket(self, family: int = socket.AF_INET,
                     type: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket made inside the cell's network namespace."""
        msg, fds = await self._chan.ask(b"s", b"%d %d" % (family, type))
        if not fds:
            text = msg[1:].decode("utf-8", "replace") if msg[:1] == b"e" else "no answer"
            raise CellError(f"the cell cannot make a socket: {text}")
        return socket.socket(family, type, fileno=fds[0])

    def host_path(self, path: str) -> str:
        """Where a path inside the cell is, seen from the driver."""
        return f"/proc/{self.holder}/root{path}"

    def read_file(self, path: str, limit: int = FILE_LIMIT) -> bytes | None:
        """See read_regular, for a path inside the cell."""
        return read_regular(self.host_path(path), limit)

    def leftovers(self) -> list[procnet.ProcStat]:
        """Processes still in the cell besides its holder (PID 1): what
        outlived the programs the driver started and stopped (a daemon)."""
        out = []
        for pid in procnet.descendants(self.holder):
            st = procnet.stat(pid)
            if st is not None and st.state not in ("Z", "X"):
                out.append(st)
        return out

    async def close(self) -> None:
        """Ends the cell: the holder sees EOF and exits, bwrap's init with
        it, and the kernel kills whatever else is in the PID namespace.
        Returns once bwrap has ended and no process of the cell is left."""
        if self.ctl.fileno() >= 0:
            self._chan.fail("the cell is closed")
        self.ctl.close()  # again on a second call: a no-op
        if not await _ended(self.proc, 5.0):
            _kill(self.proc)
            await _ended(self.proc)
        # The init's death makes the kernel kill the rest: wait for that.
        await _gone([self.holder])
        if not procnet.alive(self.holder):
            _INITS.discard(self.holder)
        # Only now: a close interrupted half-way (Ctrl-C) is finished by
        # close_all, which closes whatever is still listed.
        _LIVE.discard(self)
        await _stderr(self.proc)


class Channel:
    """Requests to a cell's holder over its control socket, and their
    answers. Requests are pipelined: sent at once, answered as each is done
    (a program once it has exec'd), so a hundred clients starting together
    cost the holder one wake-up, not a hundred round trips (each a wait for
    a processor under load), and the relay's socket for the first client's
    connection does not wait behind them.

    A request fails (CellError) only when the holder shows no sign of life
    for ANSWER_TIMEOUT_S while it waits: nothing read of the requests and
    nothing answered. Waiting in the queue behind a thousand programs that a
    starved holder starts one by one is not that (it once failed a third
    of a 1,000-client cell's connections on a machine at load 12)."""

    def __init__(self, ctl: socket.socket):
        self.ctl = ctl
        self._waiting: dict[bytes, asyncio.Future] = {}
        # One sender at a time: a full socket makes a sender wait for it to
        # be writable, and the event loop wakes one writer per fd.
        self._send_lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self._broken: str | None = None
        self._heard = 0.0  # loop time of the holder's last sign of life
        asyncio.get_running_loop().add_reader(ctl.fileno(), self._answers)

    async def ask(self, kind: bytes, payload: bytes,
                  make_fds: Callable[[], list[int]] | None = None) -> tuple[bytes, list[int]]:
        """One request to the holder; returns its answer (the kind and
        text, and the fds that came with it). make_fds() makes the fds to
        pass, when it is this request's turn to be sent; they are closed
        once sent. Raises CellError when the holder is gone or silent (a
        harness error, never a hung cell)."""
        if self._broken:
            raise CellError(self._broken)
        rid = b"%d" % next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        try:
            await self._patiently(self._send(kind + rid + b"\0" + payload, make_fds),
                                  "took no request")
        except BaseException as e:
            self._waiting.pop(rid, None)
            if isinstance(e, OSError) and not isinstance(e, CellError):
                raise CellError(f"the cell's holder: {e.strerror or e}") from None
            raise
        # A cancelled or timed-out caller's answer still comes; _answers
        # disposes of it.
        return await self._patiently(fut, "gave no answer")

    async def _send(self, msg: bytes, make_fds: Callable[[], list[int]] | None) -> None:
        async with self._send_lock:
            fds = make_fds() if make_fds is not None else []
            try:
                await _send_fds(self.ctl, msg, fds)
            finally:
                for fd in fds:
                    os.close(fd)
        # Room in the socket: the holder has read what came before.
        self._heard = asyncio.get_running_loop().time()

    async def _patiently(self, aw, what: str):
        """aw's result, waiting as long as the holder shows a sign of life
        at least every ANSWER_TIMEOUT_S (counted from now at the earliest)."""
        loop = asyncio.get_running_loop()
        since = loop.time()
        task = asyncio.ensure_future(aw)
        try:
            while True:
                left = max(since, self._heard) + ANSWER_TIMEOUT_S - loop.time()
                if left <= 0:
                    raise CellError(f"the cell's holder {what}: nothing came from it in "
                                    f"{ANSWER_TIMEOUT_S:g} s")
                done, _ = await asyncio.wait({task}, timeout=left)
                if done:
                    return task.result()
        finally:
            if not task.done():
                task.cancel()

    def _answers(self) -> None:
        """The control socket is readable: hands each answer to the request
        it answers ("KIND ID" or "eID TEXT")."""
        while True:
            try:
                msg, fds, _, _ = socket.recv_fds(self.ctl, 256, 1)
            except BlockingIOError:
                return
            except OSError as e:
                self.fail(f"the cell's holder: {e.strerror or e}")
                return
            if not msg:
                self.fail("the cell's holder is gone")
                return
            self._heard = asyncio.get_running_loop().time()
            rid, _, text = msg[1:].partition(b" ")
            fut = self._waiting.pop(rid, None)
            if fut is not None and not fut.done():
                fut.set_result((msg[:1] + text, list(fds)))
                continue
            # Nobody wants it any more (cancelled): a started program is
            # killed, a socket or pidfd closed.
            for fd in fds:
                if msg[:1] == b"p":
                    try:
                        signal.pidfd_send_signal(fd, signal.SIGKILL)
                    except OSError:
                        pass
                os.close(fd)

    def fail(self, why: str) -> None:
        """Every request, waiting or to come, fails with why."""
        self._broken = why
        try:
            asyncio.get_running_loop().remove_reader(self.ctl.fileno())
        except (RuntimeError, ValueError):
            pass
        waiting, self._waiting = self._waiting, {}
        for fut in waiting.values():
            if not fut.done():
                fut.set_exception(CellError(why))


class Program:
    """A program the cell's holder started, with the face of the
    asyncio.subprocess.Process of a program the driver started itself (pid,
    returncode, wait(), stdin, stdout, stderr), which is all the driver's
    process handling (processes.Child) uses. pid is the program's pid in
    the driver's namespace, and the program leads its session and group
    there. The holder writes its wait status to a pipe and reaps it once
    the driver has closed that pipe (so, as with the driver's own
    children, the pid is not reused while returncode is None); the end of
    the cell (the holder killed) reads as SIGKILL."""

    def __init__(self, pid: int, status_fd: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdin: asyncio.StreamWriter | None = None
        self.stdout: asyncio.StreamReader | None = None
        self.stderr: asyncio.StreamReader | None = None
        self._status_fd = status_fd
        loop = asyncio.get_running_loop()
        self._done: asyncio.Future[int] = loop.create_future()
        loop.add_reader(status_fd, self._status)

    @classmethod
    async def open(cls, pid: int, fds: list[int], stdin: bool) -> "Program":
        """fds: the driver's ends, [stdin's,] stdout's, stderr's, status's."""
        loop = asyncio.get_running_loop()
        if stdin:
            w, *fds = fds
        out, err, status = fds
        prog = cls(pid, status)
        try:
            if stdin:
                transport, protocol = await loop.connect_write_pipe(
                    asyncio.streams.FlowControlMixin, os.fdopen(w, "wb", 0))
                w = -1
                prog.stdin = asyncio.StreamWriter(transport, protocol, None, loop)
            prog.stdout = await _reader(out)
            out = -1
            prog.stderr = await _reader(err)
            err = -1
        except BaseException:
            for fd in (w if stdin else -1, out, err):
                if fd >= 0:
                    os.close(fd)
            prog._close_status()
            raise
        return prog

    def _status(self) -> None:
        try:
            data = os.read(self._status_fd, 4)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if len(data) == 4:
            self.returncode = os.waitstatus_to_exitcode(struct.unpack("i", data)[0])
        else:  # the holder is gone, and everything in the cell with it
            self.returncode = -signal.SIGKILL
        self._close_status()  # now the holder reaps it
        self._done.set_result(self.returncode)

    def _close_status(self) -> None:
        if self._status_fd >= 0:
            asyncio.get_running_loop().remove_reader(self._status_fd)
            os.close(self._status_fd)
            self._status_fd = -1

    async def wait(self) -> int:
        return await asyncio.shield(self._done)


async def _reader(fd: int) -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(loop=loop)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop),
                                 os.fdopen(fd, "rb", 0))
    return reader


def _pidfd_pid(pidfd: int) -> int:
    """The pid a pidfd stands for, in this driver's PID namespace."""
    with open(f"/proc/self/fdinfo/{pidfd}", "rb") as f:
        for line in f:
            if line.startswith(b"Pid:"):
                pid = int(line.split()[1])
                if pid > 0:
                    return pid
    raise CellError("the holder's program has no pid in the driver's namespace")


_MASKED = ("/tmp", "/run", "/dev/shm", "/var/run")
# The folders of / a cell shows read-only as they are: the system's
# programs, libraries and settings. Every other folder of / (home folders,
# /root, /srv, /mnt, /var, a CI's workspace) is an empty read-only tmpfs
# in a cell, with only the folders its programs need bound back (_needed).
SYSTEM_TOPS = frozenset({"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "opt",
                         "dev", "proc", "sys", "tmp", "run"})
_PREFIXED = ("bin", "sbin", "shims")  # an installation's folders of programs
# This repository, whole: its peers import its libraries (peers/python).
_REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _hidden_tops(paths, masked=_MASKED) -> set[str]:
    """For each existing absolute path under a folder the cell replaces by
    its own tmpfs (masked), the top folder below it (/tmp/x for /tmp/x/y/z)."""
    out = set()
    for p in paths:
        if not p or not os.path.isabs(p):
            continue
        real = os.path.realpath(p)
        for m in masked:
            if real.startswith(m + "/"):
                top = m + "/" + real[len(m) + 1:].split("/", 1)[0]
                if os.path.exists(top) and top != SCRATCH.rsplit("/", 1)[0] + "/cell":
                    out.add(top)
    return out


def _needed(path: str) -> str | None:
    """The folder a program named by path needs: a folder itself, a file's
    folder; for a folder of programs (bin, sbin, pyenv's shims) the
    installation above it (/root/.pyenv/versions/3.11.7 for its
    bin/python3). Never a home folder for less than itself: a file in
    one is needed alone, ~/bin only itself. None for a relative or
    missing path."""
    if not path or not os.path.isabs(path) or not os.path.exists(path):
        return None
    real = os.path.realpath(path)
    folder = real if os.path.isdir(real) else os.path.dirname(real)
    if folder != real and folder in _homes():
        return real
    if os.path.basename(folder) in _PREFIXED and os.path.dirname(folder) not in _homes():
        folder = os.path.dirname(folder)
    return folder


@functools.lru_cache(maxsize=1)
def _homes() -> frozenset[str]:
    """The machine's home folders (and the driver's own HOME)."""
    homes = {os.path.realpath(os.path.expanduser("~"))}
    try:
        homes |= {os.path.realpath(p.pw_dir) for p in pwd.getpwall() if p.pw_dir}
    except OSError:
        pass
    # Only those a cell may hide (not /bin, a system user's home).
    return frozenset(h for h in homes if h.split("/")[1:2] != [""]
                     and h.split("/")[1] not in SYSTEM_TOPS)


def _outside_system() -> list[str]:
    """The folders of / that are not the system's (SYSTEM_TOPS) and that a
    sandboxed program could look into: what a cell hides. Not an empty
    one, nor one it cannot enter (as root, /root or lost+found, mode
    0700: the sandbox uid is another; as a user, one the user cannot
    enter): each hidden folder costs the cell's start some mounts."""
    try:
        names = os.listdir("/")
    except OSError:
        return []
    out = []
    for n in names:
        top = f"/{n}"
        if n in SYSTEM_TOPS or os.path.islink(top) or not os.path.isdir(top):
            continue
        try:
            enterable = os.stat(top).st_mode & 0o001 if os.geteuid() == 0 \
                else os.access(top, os.X_OK)
            if enterable and os.listdir(top):
                out.append(top)
        except PermissionError:
            out.append(top)  # it may be entered, not listed: hidden
        except OSError:
            continue
    return sorted(out)


def _way_down(top: str, n: str, made: set[str]) -> list[str]:
    """bwrap's options making the folders between top (a tmpfs of the
    cell's) and n, with the host's modes, those not in made yet (bwrap
    would make them 0700, and the sandbox uid could not walk down)."""
    out = []
    parts = n[len(top) + 1:].split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = top + "/" + "/".join(parts[:i])
        if d not in made:
            made.add(d)
            out += ["--perms", f"{stat.S_IMODE(os.stat(d).st_mode):04o}", "--dir", d]
    return out


def _outermost(folders) -> list[str]:
    """folders without those inside another of them, sorted."""
    out: list[str] = []
    for f in sorted(set(folders)):
        if not any(f.startswith(o.rstrip("/") + "/") for o in out):
            out.append(f)
    return out


def _binds(paths, hide=(), writable=(), masks=()) -> list[str]:
    """bwrap's options after bwrap_argv's (also the sandbox wrapper's view,
    masked_view): every folder of / outside the system (_outside_system)
    replaced by an empty tmpfs, with what is needed below it bound back
    in read-only (_needed, of paths, PATH, JAVA_HOME and this repository:
    a student's own folder, an interpreter's installation, never a whole
    home folder); masks (masked_view's tmpfs, made after those); what is
    needed under the cell's own /tmp, /run or /dev/shm bound back in
    read-only, the same way; then each existing folder of hide, outermost first,
    replaced by an empty tmpfs, and the folders of paths (and of PATH and
    JAVA_HOME) below it bound back in read-only; then writable bound in
    read-write; last, every tmpfs made here made read-only. What a cell's
    programs name stays visible; the rest of a hidden folder (the other
    students, the teacher's home) is not there."""
    out: list[str] = []
    sealed: list[str] = []
    made: set[str] = set()  # folders made on the way to a bind
    # Programs named by a bare word are found on PATH (java, node under a
    # teacher's home): those folders stay visible too.
    found = [*os.environ.get("PATH", "").split(":"), os.environ.get("JAVA_HOME", "")]
    needed = _outermost(n for n in map(_needed, [*paths, *found, _REPOSITORY])
                        if n and n != "/")
    for top in _outside_system():
        inside = [n for n in needed if n.startswith(top + "/")]
        if top in needed:
            continue  # a program needs all of it
        out += ["--tmpfs", top]
        for n in inside:
            out += _way_down(top, n, made) + ["--ro-bind", n, n]
        sealed.append(top)
    out += masks
    # Under the cell's own /tmp, /run and /dev/shm: what is needed, the
    # same way (a student's folder, never the folder beside it).
    for n in needed:
        m = next((m for m in _MASKED if n.startswith(m + "/")), None)
        if m is not None and not (n + "/").startswith(SCRATCH + "/"):
            out += _way_down(m, n, made) + ["--ro-bind", n, n]
    folders = {os.path.realpath(h) for h in hide if h and os.path.isabs(h)}
    for h in sorted(folders, key=lambda f: (f.count("/"), f)):
        if not os.path.isdir(h) or any(m == h or m.startswith(h.rstrip("/") + "/")
                                       for m in _MASKED):
            continue  # never /, /tmp or a folder holding one of them
        out += ["--tmpfs", h]
        for top in sorted(_hidden_tops([*paths, *found], (h,))):
            out += ["--ro-bind", top, top]
        sealed.append(h)
    for w in writable:
        out += ["--bind", w, w]
    for s in sealed:
        out += ["--remount-ro", s]
    return out


@functools.lru_cache(maxsize=1)
def _per_mount_proc() -> bool:
    """Linux >= 5.8: a new /proc mount has options of its own (before, it
    shared the machine's and hidepid would have hidden for everyone)."""
    try:
        major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 8)


def masked_view(paths: list[str], hide: list[str], writable: list[str]) -> list[str]:
    """A cell's masks as options for the sandbox wrapper's own mount
    namespace (harness/run/sandbox.py), where a program runs outside any
    cell (two-hosts, or no bubblewrap) as root: /tmp, /dev/shm and /run
    empty, the folders of / outside the system hidden (/var/tmp with
    /var), /proc showing the sandbox uid only its own processes, paths
    and hide as in a cell (_binds), writable bound back read-write, and /
    read-only (its other mounts, such as /dev and /sys, keep their own
    flags). Not the rest of a cell: the machine's PID namespace, with
    other uids' processes hidden."""
    masks = []
    for m in ("/tmp", "/dev/shm", "/run"):
        masks += ["--tmpfs", m]
    if _per_mount_proc():
        masks += ["--proc", "/proc"]
    return _binds(paths, hide, writable, masks) + ["--remount-ro", "/"]


def run_once(sl_cell: str, argv: list[str], cwd: str, writable: list[str],
             readable: list[str], limits: list[str], timeout: float,
             hide: list[str] = ()) -> tuple[int, str]:  # type: ignore[assignment]
    """Runs argv once in a cell of its own (the same namespaces and file
    view as a cell's programs, hide as Cell.start's), with `sl-cell run`'s
    LIMITS and --uid, the folders in writable bound read-write: how check
    compiles a student's code. Returns (exit status, output). Raises
    CellError where no cell can be made, subprocess.TimeoutExpired after
    timeout."""
    sup = support(sl_cell)
    if not sup.ok:
        raise CellError(sup.why)
    # Not argv's words nor cwd: they name what the student's folder holds,
    # links included, which may point into a classmate's folder.
    binds = _binds([*readable, *writable, sl_cell], hide, writable)
    full = (bwrap_argv(sup.bwrap, sup.user_ns, sup.sized) + binds +
            ["--chdir", cwd, "--", sl_cell, "run", *limits, "--", *argv])
    p = subprocess.run(full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout, check=False,
                       start_new_session=True,
                       env=_quiet_env(HOME=writable[0] if writable else cwd))
    return p.returncode, p.stdout.decode("utf-8", "replace")


def read_regular(path: str, limit: int = FILE_LIMIT) -> bytes | None:
    """Reads at most limit + 1 bytes of a regular file without following a
    symlink at its last component and without blocking on a FIFO or a
    device. Returns None if it does not exist; raises OSError with a
    reason in words for anything else (a symlink, a FIFO, a folder)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == 40:  # ELOOP: the last component is a symlink
            raise OSError(e.errno, "it is a symbolic link, not a file the program wrote; "
                                   "not followed") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else
                    "a folder" if stat.S_ISDIR(st.st_mode) else
                    "a device or socket")
            raise OSError(22, f"it is {kind}, not a regular file; not read")
        chunks = []
        left = limit + 1
        while left > 0:
            b = os.read(fd, min(left, 65536))
            if not b:
                break
            chunks.append(b)
            left -= len(b)
        return b"".join(chunks)
    finally:
        os.close(fd)


async def _receive(ctl: socket.socket, recv):
    """recv(ctl) once the non-blocking control socket has something."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future = loop.create_future()

    def readable() -> None:
        try:
            got = recv(ctl)
        except BlockingIOError:
            return
        except OSError as e:
            if not fut.done():
                fut.set_exception(e)
            return
        if not fut.done():
            fut.set_result(got)

    loop.add_reader(ctl.fileno(), readable)
    try:
        return await fut
    finally:
        loop.remove_reader(ctl.fileno())


async def _ready(ctl: socket.socket) -> int:
    """Waits for the holder's "ready" and returns its pid (the kernel's
    credentials, translated to the driver's PID namespace)."""
    msg, anc, _, _ = await _receive(ctl, lambda c: c.recvmsg(16, socket.CMSG_SPACE(12)))
    if msg != b"r":
        raise CellError("the holder ended before it was ready")
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid, _, _ = struct.unpack("iII", data[:12])
            return pid
    raise CellError("the holder's pid did not come with its message")


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def _send_fds(ctl: socket.socket, msg: bytes, fds: list[int]) -> None:
    """Sends msg with fds (if any) over the non-blocking control socket."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            if fds:
                socket.send_fds(ctl, [msg], fds)
            else:
                ctl.send(msg)
            return
        except BlockingIOError:
            pass
        fut: asyncio.Future = loop.create_future()
        def writable() -> None:
            if not fut.done():
                fut.set_result(None)

        loop.add_writer(ctl.fileno(), writable)
        try:
            await fut
        finally:
            loop.remove_writer(ctl.fileno())


async def _ended(proc: asyncio.subprocess.Process, limit_s: float = 10.0) -> bool:
    """Waits (bounded) until bwrap has ended, reaping the cell's orphans
    meanwhile: bwrap ends after its init, and the init only once every
    process of its namespace has been reaped (reap_orphans). Not
    Process.wait(): that also waits for the stderr pipe, which the init
    holds as long as it lives."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while proc.returncode is None and loop.time() < end:
        reap_orphans()
        await processes.ended(proc, 0.005)
    return proc.returncode is not None


def _kill(proc: asyncio.subprocess.Process) -> list[int]:
    """SIGKILLs bwrap and the cell's init below it (in a session of its
    own, so not in bwrap's group; killing PID 1 of the cell ends
    everything in it). Returns the pids signalled besides bwrap."""
    if proc.returncode is not None:
        return []
    below = procnet.descendants(proc.pid)
    for pid in [*below, proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return below


async def _gone(pids: list[int], limit_s: float = 2.0) -> None:
    """Waits (bounded) until pids are gone: the kernel ends a PID namespace
    asynchronously after its init dies, and only once every process of the
    namespace has been reaped, some of them by this driver (reap_orphans)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while True:
        reap_orphans()
        if not any(procnet.alive(p) for p in pids) or loop.time() >= end:
            return
        await asyncio.sleep(0.005)


def reap_orphans() -> int:
    """Reaps the driver's zombie children that live in a PID namespace
    below its own: a cell's init (its holder) once bwrap has ended. The
    driver is their subreaper,
    so they are re-parented to it, and asyncio does not know them (it
    waits only for what it started, all in the driver's own namespace:
    that is what makes this safe). Unreaped, they stay until the driver
    exits, and the init of their namespace, which waits for every process
    of it to be reaped, never ends. Returns how many it reaped."""
    try:  # one system call when there is no zombie child at all
        if os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            return 0
    except ChildProcessError:
        return 0
    n = 0
    for pid in procnet.children(os.getpid()):
        st = procnet.stat(pid)
        if st is None or st.state != "Z" or not procnet.nested_pid(pid):
            continue
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                n += 1
        except ChildProcessError:
            pass
    return n


async def _stderr(proc: asyncio.subprocess.Process) -> str:
    if proc.stderr is None:
        return ""
    try:
        data = await asyncio.wait_for(proc.stderr.read(4096), 1.0)
    except (asyncio.TimeoutError, OSError):
        return ""
    return data.decode("utf-8", "replace").strip()

