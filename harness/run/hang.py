"""Is a cell stuck, and who waits for what? Read from /proc, never guessed
from the clock.

observe() takes a snapshot of a cell's processes (per thread: state, the
system call it is blocked in with its arguments, wchan, CPU time); two
snapshots a short quiet window apart that still() finds equal mean nothing
moved. waits() then names, per process, the thread that matters and the fd
it waits on, and explain() turns that into a sentence a student
understands. Linux only; reads /proc/PID/task/TID/syscall, which needs
ptrace-read permission (the driver is the processes' ancestor, or root);
where that is missing it falls back to wchan.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from harness.spec.transcript import CLIENT, DATA

# System call numbers of the calls a blocked peer can sit in. Checked
# against asm/unistd_64.h and asm-generic/unistd.h (aarch64 has no poll,
# select, epoll_wait or pause: its libc uses ppoll, pselect6, epoll_pwait).
_X86_64 = {
    "read": 0, "write": 1, "poll": 7, "pread64": 17, "pwrite64": 18, "readv": 19,
    "writev": 20, "select": 23, "pause": 34, "nanosleep": 35, "connect": 42,
    "accept": 43, "sendto": 44, "recvfrom": 45, "sendmsg": 46, "recvmsg": 47,
    "wait4": 61, "rt_sigtimedwait": 128, "rt_sigsuspend": 130, "futex": 202,
    "restart_syscall": 219, "clock_nanosleep": 230, "epoll_wait": 232, "waitid": 247,
    "pselect6": 270, "ppoll": 271, "epoll_pwait": 281, "accept4": 288,
    "recvmmsg": 299, "sendmmsg": 307, "epoll_pwait2": 441, "futex_waitv": 449,
}
_AARCH64 = {
    "epoll_pwait": 22, "pselect6": 72, "ppoll": 73, "read": 63, "write": 64,
    "readv": 65, "writev": 66, "pread64": 67, "pwrite64": 68, "waitid": 95,
    "futex": 98, "nanosleep": 101, "clock_nanosleep": 115, "restart_syscall": 128,
    "rt_sigsuspend": 133, "rt_sigtimedwait": 137, "accept": 202, "connect": 203,
    "sendto": 206, "recvfrom": 207, "sendmsg": 211, "recvmsg": 212, "accept4": 242,
    "recvmmsg": 243, "wait4": 260, "sendmmsg": 269, "epoll_pwait2": 441,
    "futex_waitv": 449,
}
_TABLES = {"x86_64": _X86_64, "aarch64": _AARCH64}
SYSCALLS: dict[str, int] = _TABLES.get(os.uname().machine, {})
_NAMES: dict[int, str] = {nr: name for name, nr in SYSCALLS.items()}

_READS = {"read", "readv", "pread64", "recvfrom", "recvmsg", "recvmmsg"}
_WRITES = {"write", "writev", "pwrite64", "sendto", "sendmsg", "sendmmsg"}
_POLLS = {"poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait", "epoll_pwait2"}
_SLEEPS = {"nanosleep", "clock_nanosleep"}
_CHILD_WAITS = {"wait4", "waitid"}
_SIGNAL_WAITS = {"pause", "rt_sigsuspend", "rt_sigtimedwait"}
_FUTEXES = {"futex", "futex_waitv"}

# Where /proc/PID/task/TID/syscall cannot be read (or says
# restart_syscall): what the kernel function a task sleeps in means.
# Names differ across kernels (futex_wait_queue became futex_do_wait,
# pipe_read anon_pipe_read); wait_woken is too generic to name.
_WCHAN = {
    "inet_csk_accept": "accept", "sk_wait_data": "recvfrom", "tcp_recvmsg": "recvfrom",
    "unix_stream_read_generic": "recvfrom", "__skb_wait_for_more_packets": "recvfrom",
    "pipe_read": "read", "anon_pipe_read": "read", "n_tty_read": "read",
    "sk_stream_wait_memory": "sendto", "unix_wait_for_peer": "sendto",
    "pipe_write": "write", "anon_pipe_write": "write",
    "inet_wait_for_connect": "connect",
    "do_sys_poll": "poll", "poll_schedule_timeout": "poll", "ep_poll": "epoll_wait",
    "do_epoll_wait": "epoll_wait", "do_select": "select",
    "futex_wait_queue": "futex", "futex_wait_queue_me": "futex", "futex_do_wait": "futex",
    "hrtimer_nanosleep": "nanosleep", "do_nanosleep": "nanosleep",
    "do_wait": "wait4", "kernel_wait4": "wait4",
    "sigsuspend": "rt_sigsuspend", "do_sigtimedwait": "rt_sigtimedwait",
}

# still()'s default CPU slack per process between two observations.
# Measured on this 2-core VM under load (load average 10-16), JDK 17 (G1)
# blocked in a socket read, 15 s after its start: its housekeeping threads
# use 2.5-6 ms of CPU per second (VM Periodic Task 20 wakes/s at 100-170 us
# each, G1 Service, monitor deflation); Node's and Python's idle threads
# use none. 10 ms covers a JVM over a window of up to about 1.5 s (pass
# more for longer windows). The slack is the weaker test: a thread blocked
# in I/O must not have run at all; the slack catches work in threads that
# wait on futexes or sleeps (a worker pool, a timer loop).
CPU_SLACK_NS = 10_000_000
_BUSY = ("R", "D")


@dataclass
class Task:
    """One thread."""

    tid: int
    state: str  # /proc/PID/task/TID/stat field 3 (R, S, D, T, Z...)
    syscall: int | None  # None if unreadable or "running"
    args: tuple[int, ...]
    wchan: str  # "" if 0 or unreadable; read only where the syscall does not say
    cpu_ns: int = 0  # schedstat field 1: time on the CPU
    runs: int = 0  # schedstat field 3: times it was scheduled in

    @property
    def call(self) -> str:
        """The blocking call's name: from the syscall number, else from
        wchan; "" if neither says."""
        name = _NAMES.get(self.syscall, "") if self.syscall is not None else ""
        if name in ("", "restart_syscall"):
            # "poll_schedule_timeout.constprop.0": the compiler's suffix off.
            name = _WCHAN.get(self.wchan.split(".", 1)[0], name)
        return name


@dataclass
class Proc:
    role: str
    pid: int
    comm: str
    tasks: list[Task]
    cpu_ns: int


@dataclass
class Observation:
    procs: list[Proc]
    t: float = field(default_factory=time.monotonic)

    def runnable(self) -> bool:
        """True if any thread is running or waiting for the CPU (R), or in
        uninterruptible sleep (D: busy in the kernel, not hung)."""
        return any(t.state in _BUSY for p in self.procs for t in p.tasks)

    def cpu_ns(self) -> int:
        return sum(p.cpu_ns for p in self.procs)


def _read(path: str, dir_fd: int | None = None, size: int = 4096) -> bytes:
    """One open and one read; b"" if the file is gone or unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return b""
    try:
        return os.read(fd, size)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _state(stat: bytes) -> str:
    i = stat.rfind(b")")
    return chr(stat[i + 2]) if i >= 0 and len(stat) > i + 2 else ""


def _task(tid: int, state: str, dfd: int) -> Task:
    """The rest of a task whose state is known, read through its open
    /proc/PID/task/TID directory."""
    cpu = runs = 0
    f = _read("schedstat", dfd).split()
    if len(f) >= 3:
        cpu, runs = int(f[0]), int(f[2])
    syscall: int | None = None
    args: tuple[int, ...] = ()
    if state != "R":
        f = _read("syscall", dfd).split()
        if f and f[0] == b"running":
            state = "R"  # woke up since its stat was read
        elif f:
            try:
                nr = int(f[0])
                if nr >= 0:
                    syscall = nr
                    args = tuple(int(x, 16) for x in f[1:7])
            except ValueError:
                pass
    wchan = ""
    if syscall is None or syscall == SYSCALLS.get("restart_syscall") or \
            syscall not in _NAMES:
        # Only where the number does not say (a third of a task's cost).
        wchan = _read("wchan", dfd).decode("ascii", "replace").strip()
    return Task(tid, state, syscall, args, "" if wchan == "0" else wchan, cpu, runs)


def _proc(role: str, pid: int, stop: Callable[[int], bool] | None,
          kids: list[int]) -> Proc | None | bool:
    """Reads one process; appends its children's pids to kids. Returns
    None if it is gone, False if a thread is R/D and stop(its tid)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    # The states first: a runnable thread ends an early-stopping observation
    # before anything else is read.
    dirs: list[tuple[int, int, str]] = []
    try:
        for name in tids:
            try:
                dfd = os.open(f"/proc/{pid}/task/{name}", os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                continue  # the thread ended
            dirs.append((int(name), dfd, ""))
            st = _state(_read("stat", dfd))
            if not st:
                continue
            dirs[-1] = (int(name), dfd, st)
            if stop is not None and st in _BUSY and stop(int(name)):
                return False
        tasks = []
        for tid, dfd, st in dirs:
            if not st:
                continue
            tasks.append(_task(tid, st, dfd))
            kids.extend(int(x) for x in _read("children", dfd, 65536).split())
    finally:
        for _, dfd, _ in dirs:
            os.close(dfd)
    if not tasks:
        return None
    comm = _read(f"/proc/{pid}/comm").decode("utf-8", "replace").rstrip("\n")
    return Proc(role, pid, comm, tasks, sum(t.cpu_ns for t in tasks))


def _observe(roles: dict[str, list[int]],
             stop: Callable[[int], bool] | None) -> Observation | None:
    procs: list[Proc] = []
    seen: set[int] = set()
    for role, roots in roles.items():
        todo = list(roots)
        while todo:
            pid = todo.pop(0)
            if pid in seen:
                continue
            seen.add(pid)
            kids: list[int] = []
            p = _proc(role, pid, stop, kids)
            if p is False:
                return None
            if p is None:
                continue
            procs.append(p)  # type: ignore[arg-type]
            todo.extend(kids)
    return Observation(procs)


def observe(roles: dict[str, list[int]]) -> Observation:
    """Snapshots the processes of each role: its root pids and their
    descendants (through /proc/PID/task/TID/children, as
    procnet.descendants). Vanished processes are skipped silently."""
    obs = _observe(roles, None)
    assert obs is not None
    return obs


def observe_until_runnable(roles: dict[str, list[int]],
                           previous: Observation | None = None) -> Observation | None:
    """observe(), but returns None as soon as a thread is runnable (R) or in
    D: the cell is not hung, and the rest need not be read. With previous
    (the last observation), only a runnable thread that still() would not
    take for a housekeeping blip stops it: one that was runnable or blocked
    in I/O then. With 20 idle JVMs a third of plain calls meet a runnable
    housekeeping thread."""
    if previous is None:
        return _observe(roles, lambda tid: True)
    busy = {t.tid for p in previous.procs for t in p.tasks
            if t.state in _BUSY or _blocked_in_io(t)}
    return _observe(roles, busy.__contains__)


def _blocked_in_io(t: Task) -> bool:
    c = t.call
    return c in _READS or c in _WRITES or c in _POLLS or c in (
        "accept", "accept4", "connect")


def still(a: Observation, b: Observation, cpu_slack_ns: int = CPU_SLACK_NS) -> bool:
    """True when a and b (a short window apart) show the same processes,
    each process's CPU time grown by at most cpu_slack_ns, every thread
    present in both in the same system call, no thread blocked in I/O
    scheduled even once in between (a poll loop with a short timeout is
    busy, not hung, however little CPU it uses), and no thread runnable.

    One allowance: a JVM's housekeeping threads (VM Periodic Task wakes 20
    times a second) are often caught runnable, and with 20 JVMs in a cell
    almost every observation catches one. A thread runnable in one of the
    two observations and in a futex or a sleep (not I/O) in the other, or
    started in between, is such a blip when its process has a thread
    blocked in I/O that did not run and the process stayed within the CPU
    slack. A thread runnable in both, a process with no quiet I/O thread,
    or a thread going from I/O to running or back, is busy."""
    pa = {p.pid: p for p in a.procs}
    pb = {p.pid: p for p in b.procs}
    if pa.keys() != pb.keys():
        return False
    for pid, p in pb.items():
        q = pa[pid]
        if p.cpu_ns - q.cpu_ns > cpu_slack_ns:
            return False
        before = {t.tid: t for t in q.tasks}
        quiet_io = blips = False
        for t in p.tasks:
            u = before.get(t.tid)
            busy_now = t.state in _BUSY
            if u is None:
                blips = blips or busy_now
                continue
            busy_then = u.state in _BUSY
            if busy_now and busy_then:
                return False
            if busy_now or busy_then:
                other = u if busy_now else t
                if _blocked_in_io(other):
                    return False
                blips = True
                continue
            if (u.syscall, u.wchan if u.syscall is None else "") != \
                    (t.syscall, t.wchan if t.syscall is None else ""):
                return False
            if _blocked_in_io(t):
                if t.runs != u.runs:
                    return False
                quiet_io = True
        for t in q.tasks:
            if t.state in _BUSY and t.tid not in {x.tid for x in p.tasks}:
                blips = True  # ran and ended in between
        if blips and not quiet_io:
            return False
    return True


# --- who waits for what --------------------------------------------------

@dataclass
class Wait:
    role: str
    pid: int
    call: str  # "recv()", "accept()", "read() on stdin", "poll()", "sleep", ...
    fd: int | None
    target: str  # "socket:[inode]", "pipe:[inode]", "/dev/null", a path, ""
    inode: int | None  # socket inode when the fd is a socket
    tid: int = 0
    kind: str = ""  # read, accept, connect, write, sleep, futex, child, signal, ...
    fds: tuple[int, ...] = ()  # poll/select/epoll: every fd it waits on
    # Whether the other end of the connection was accept()ed: filled where
    # the kernel's tables show it (a direct connection on this host); a
    # driver that relays sets it for the relayed connection.
    accepted: bool | None = None


# How much a thread's wait tells (the highest is the process's Wait).
# A thread reading or writing a connection outranks one in accept(): a
# thread-per-client server's worker holds the client that waits, while its
# main thread only waits for the next one.
_RANK = {"read": 60, "accept": 55, "connect": 60, "write": 60, "poll": 50,
         "sleep": 30, "signal": 30, "child": 25, "futex": 10, "other": 5,
         "stopped": 40, "exited": 40, "running": 0, "busy": 0}


def _fd_target(pid: int, fd: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return ""


def _socket_inode(target: str) -> int | None:
    if target.startswith("socket:[") and target.endswith("]"):
        return int(target[8:-1])
    return None


def _mem(pid: int, addr: int, size: int) -> bytes:
    """size bytes of pid's memory at addr (ptrace-read permission), or b""."""
    if not addr or size <= 0 or size > 65536:
        return b""
    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return b""
    try:
        return os.pread(fd, size, addr)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _polled_fds(pid: int, call: str, args: tuple[int, ...]) -> tuple[list[int], bool] | None:
    """The fds a poll-family call waits on and whether it waits for
    input (not only for room to write), or None if they cannot be read."""
    if len(args) < 3:
        return None
    if call in ("poll", "ppoll"):
        n = args[1]
        data = _mem(pid, args[0], 8 * n) if 0 < n <= 256 else b""
        if len(data) != 8 * n:
            return None
        fds, reading = [], False
        for i in range(n):
            fd = int.from_bytes(data[8 * i:8 * i + 4], "little", signed=True)
            events = int.from_bytes(data[8 * i + 4:8 * i + 6], "little")
            if fd >= 0:
                fds.append(fd)
                reading = reading or bool(events & 0x3)  # POLLIN | POLLPRI
        return fds, reading
    if call in ("select", "pselect6"):
        n = args[0]
        size = (n + 63) // 64 * 8
        fds, reading = [], False
        for which, ptr in ((0, args[1]), (1, args[2])):
            data = _mem(pid, ptr, size) if ptr and 0 < n <= 4096 else b""
            if ptr and len(data) != size:
                return None
            bits = int.from_bytes(data, "little")
            for fd in range(n):
                if bits >> fd & 1:
                    fds.append(fd)
                    reading = reading or which == 0
        return sorted(set(fds)), reading
    if call.startswith("epoll"):
        # The epoll instance lists what it watches in fdinfo: "tfd: N events: MASK".
        info = _read(f"/proc/{pid}/fdinfo/{args[0]}", size=65536)
        fds, reading = [], False
        for line in info.splitlines():
            if line.startswith(b"tfd:"):
                f = line.split()
                try:
                    fds.append(int(f[1]))
                    reading = reading or bool(int(f[3], 16) & 0x3)
                except (IndexError, ValueError):
                    continue
        return (fds, reading) if info else None
    return None


def _thread_wait(p: Proc, t: Task) -> Wait:
    w = Wait(p.role, p.pid, "", None, "", None, tid=t.tid)
    if t.state in ("R", "D"):
        w.call, w.kind = ("running", "running") if t.state == "R" else \
            ("busy in the kernel", "busy")
        return w
    if t.state in ("T", "t"):
        w.call, w.kind = "stopped", "stopped"
        return w
    if t.state in ("Z", "X"):
        w.call, w.kind = "exited", "exited"
        return w
    call = t.call
    fd = t.args[0] if t.args and t.syscall is not None and \
        _NAMES.get(t.syscall) == call else None
    if call in _POLLS:
        w.call, w.kind = ("select()" if "select" in call else "poll()"), "poll"
        # Only with the call's own arguments (not a name from wchan).
        polled = _polled_fds(p.pid, call, t.args) if fd is not None else None
        if polled is not None:
            fds, reading = polled
            w.fds = tuple(fds)
            targets = {f: _fd_target(p.pid, f) for f in fds}
            socks = [f for f in fds if _socket_inode(targets[f]) is not None]
            if len(socks) == 1:
                w.fd = socks[0]
            elif len(fds) == 1:
                w.fd = fds[0]
            if w.fd is not None:
                w.target = targets[w.fd]
                w.inode = _socket_inode(w.target)
            if socks and reading:
                w.kind = "read"  # a poll for input on sockets waits as a recv does
            elif socks:
                # Waiting for room to write, or a non-blocking connect
                # (Java's connect with a timeout) waiting to complete.
                sk = socket_ports(p.pid).get(w.inode or -1) if len(socks) == 1 else None
                w.kind = "connect" if sk and sk[2] == "SYN_SENT" else "write"
        return w
    if call in _READS or call in _WRITES or call in ("accept", "accept4", "connect"):
        w.fd = fd
        if fd is not None:
            w.target = _fd_target(p.pid, fd)
            w.inode = _socket_inode(w.target)
        sock = w.inode is not None or (fd is None and call not in ("read", "write"))
        if call in _READS:
            w.kind = "read"
            if fd == 0:
                w.call = "read() on stdin"
            elif call.startswith("recv") or (fd is None and sock):
                w.call = "recv()"
            else:
                w.call = "read()"
        elif call in _WRITES:
            w.kind = "write"
            if sock:
                w.call = "send() (buffer full)"
            elif fd in (1, 2):
                w.call = f"write() on {'stdout' if fd == 1 else 'stderr'} (nobody reads it)"
            else:
                w.call = "write() (pipe full)" if w.target.startswith("pipe:") else "write()"
        elif call == "connect":
            w.call, w.kind = "connect()", "connect"
        else:
            w.call, w.kind = "accept()", "accept"
        return w
    if call in _SLEEPS:
        w.call, w.kind = "sleep", "sleep"
    elif call in _FUTEXES:
        w.call, w.kind = "futex (another thread)", "futex"
    elif call in _CHILD_WAITS:
        w.call, w.kind = "wait for a child", "child"
    elif call in _SIGNAL_WAITS:
        w.call, w.kind = "pause (waits for a signal)", "signal"
    else:
        w.call = f"{call}()" if call else (
            f"system call {t.syscall}" if t.syscall is not None else
            (t.wchan or "unknown"))
        w.kind = "other"
    return w


def _score(w: Wait, pid: int) -> tuple[int, int, int]:
    rank = _RANK.get(w.kind, 5)
    if w.inode is not None:
        rank += 20  # a socket is what a cell's peers wait on
    return rank, w.tid == pid, -w.tid


def waits(obs: Observation) -> list[Wait]:
    """One Wait per process: the thread that matters. A thread blocked in
    I/O on a socket wins (in a JVM, the thread in read() or poll() on the
    socket among a dozen futex waiters; in Node, the main thread's
    epoll_wait), then other I/O, sleeps, child waits, futexes; ties go to
    the main thread. Connections accepted or not are marked where the
    kernel's tables show it."""
    out = []
    ports_cache: dict[int, dict[int, tuple[int, int, str]]] = {}
    for p in obs.procs:
        best = max((_thread_wait(p, t) for t in p.tasks), key=lambda w: _score(w, p.pid))
        if best.inode is not None and best.kind in ("read", "write"):
            best.accepted = _accepted(p.pid, best.inode, ports_cache)
        out.append(best)
    return out


# --- the kernel's socket tables -------------------------------------------

_TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
    "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
    "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}


def _table(pid: int) -> list[tuple[str, int, int, str, int]]:
    """(transport, local port, remote port, state, inode) rows of pid's
    network namespace."""
    rows = []
    for name in ("tcp", "tcp6", "udp", "udp6"):
        data = b""
        try:
            fd = os.open(f"/proc/{pid}/net/{name}", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            while True:  # generated a page per read
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        finally:
            os.close(fd)
        for line in data.splitlines()[1:]:
            f = line.split()
            if len(f) < 10:
                continue
            try:
                st = f[3].decode()
                rows.append((name[:3], int(f[1].rsplit(b":", 1)[1], 16),
                             int(f[2].rsplit(b":", 1)[1], 16),
                             _TCP_STATES.get(st, st) if name.startswith("tcp") else st,
                             int(f[9])))
            except (ValueError, IndexError):
                continue
    return rows


def socket_ports(pid: int) -> dict[int, tuple[int, int, str]]:
    """inode -> (local port, remote port, state) from /proc/PID/net/tcp,
    tcp6, udp, udp6: the tables of pid's network namespace. Sockets still
    in a listen queue (not accept()ed) have no inode and are left out."""
    return {inode: (lp, rp, st) for _, lp, rp, st, inode in _table(pid) if inode}


def connection_accepted(pid: int, local_port: int, remote_port: int) -> bool | None:
    """Whether the TCP connection with these ports, seen from the side that
    listens in pid's network namespace, was accept()ed: False while it sits
    in the listen queue (no inode yet), None if the kernel has no such
    connection. For a relayed cell: pid the server, local_port the server's
    port, remote_port the local port of the relay's upstream socket."""
    rows = [r for r in _table(pid) if r[0] == "tcp" and r[1] == local_port
            and r[2] == remote_port]
    return any(r[4] for r in rows) if rows else None


def _accepted(pid: int, inode: int, cache: dict) -> bool | None:
    """For a connected TCP socket of pid: True if the other end (in the
    same namespace) was accept()ed or connect()ed by someone, False if it
    still sits in a listen queue (no inode yet), None if not seen."""
    try:
        ns = os.readlink(f"/proc/{pid}/ns/net")  # one table per namespace
    except OSError:
        ns = str(pid)
    rows = cache.get(ns)
    if rows is None:
        rows = cache[ns] = _table(pid)
    mine = [r for r in rows if r[4] == inode and r[0] == "tcp"]
    if not mine or mine[0][2] == 0:
        return None
    _, lp, rp, _, _ = mine[0]
    peers = [r for r in rows if r[0] == "tcp" and r[1] == rp and r[2] == lp]
    if not peers:
        return None
    return any(r[4] for r in peers)


# --- in words ----------------------------------------------------------------

_NOUNS = ("server", "client", "relay", "peer", "program", "process", "receiver", "sender")


def _who(role: str) -> str:
    """"server" -> "the server", "client 2" -> "client 2", "before step 1"
    -> "the program before step 1"."""
    words = role.split()
    if not words:
        return "a process"
    if role == "process left behind":  # an orphan in the cell (runner)
        return "a process left behind"
    if words[0] in _NOUNS and len(words) > 1 and words[-1].isdigit():
        return role
    if any(x in _NOUNS for x in words):
        return f"the {role}"
    return f"the program {role}"


def _where(w: Wait, label: Callable[[Wait], str | None] | None) -> str:
    name = label(w) if label is not None else None
    if name:
        return name
    if w.kind == "accept":
        return "its listening socket"
    if w.inode is not None:
        return "its socket"
    if w.fds and w.fd is None:
        return "its sockets" if w.kind in ("read", "write") else f"{len(w.fds)} fds"
    if w.target.startswith("pipe:"):
        return "a pipe"
    return w.target


def _phrase(w: Wait, label) -> tuple[str, str]:
    """(verb, the rest) for one wait: ("is blocked", "in recv() on ...")."""
    k = w.kind
    if k in ("read", "write", "accept", "connect", "poll", "other"):
        where = "" if w.call.endswith(("on stdin", "(nobody reads it)")) else _where(w, label)
        return "is blocked", f"in {w.call}" + (f" on {where}" if where else "")
    return {
        "sleep": ("sleeps", ""),
        "futex": ("waits", "for another of its threads (futex)"),
        "child": ("waits", "for its child process to end"),
        "signal": ("waits", "for a signal (pause)"),
        "stopped": ("is stopped", "(SIGSTOP or a debugger)"),
        "exited": ("has exited", "but was not collected"),
        "running": ("is running", ""),
        "busy": ("is busy in the kernel", ""),
    }.get(k, ("waits", f"in {w.call}"))


MAX_CLAUSES = 5  # a sentence names at most this many waits, then "N more"


def _sentence(ws: list[Wait], label) -> str:
    parts = []
    last_verb = ""
    seen: dict[tuple[str, str, str], int] = {}
    for w in ws:
        verb, rest = _phrase(w, label)
        key = (w.role, verb, rest)
        if key in seen:  # a fork bomb's hundred children: said once, counted
            seen[key] += 1
            continue
        seen[key] = 1
        if verb == last_verb == "is blocked":
            parts.append(f"{_who(w.role)} {rest}")
        else:
            parts.append(" ".join(x for x in (_who(w.role), verb, rest) if x))
        last_verb = verb
    repeats = [n for n in seen.values() if n > 1]
    more = len(parts) - MAX_CLAUSES
    if more > 0:
        parts = parts[:MAX_CLAUSES] + [f"{more} more"]
    if repeats:
        parts[-1] += f" ({sum(repeats) - len(repeats)} more alike)"
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _relevant(ws: list[Wait]) -> list[Wait]:
    """Drops the waits that only wait on another of the same role's waits:
    a shell or launcher waiting for its child, a thread waiting on a futex
    while its process has a better one is already handled by waits()."""
    keep = []
    for w in ws:
        if w.kind in ("child", "futex") and any(
                v is not w and v.role == w.role and v.kind not in ("child", "futex")
                for v in ws):
            continue
        # A launcher (the sandbox wrapper, a script) waiting for the
        # program it runs says nothing the program's own wait does not.
        if w.kind == "child" and any(v is not w and v.role == w.role for v in ws):
            continue
        keep.append(w)
    return keep


def is_hung(ws: list[Wait]) -> bool:
    """True when no process runs, is busy in the kernel or sleeps: nothing
    will move unless something outside the cell does."""
    return bool(ws) and not any(w.kind in ("running", "busy", "sleep") for w in ws)


def _is_server(w: Wait) -> bool:
    return "server" in w.role


def _conclusion(ws: list[Wait]) -> str:
    readers = [w for w in ws if w.kind == "read" and not w.call.endswith("on stdin")]
    stdin = [w for w in ws if w.call.endswith("on stdin")]
    writers = [w for w in ws if w.kind == "write"]
    acceptors = [w for w in ws if w.kind == "accept"]
    connectors = [w for w in ws if w.kind == "connect"]
    unaccepted = [w for w in readers + writers if w.accepted is False]
    clauses = []
    if unaccepted:
        u = unaccepted[0]
        if acceptors or not any(_is_server(w) for w in ws):
            clauses.append(f"{_who(u.role)}'s connection still sits in a listen queue: "
                           f"nobody accepted it")
        elif any(_is_server(w) and w.kind in ("read", "write") and w.accepted is not False
                 for w in ws):
            clauses.append(f"the server has not accepted {_who(u.role)}'s connection: it "
                           f"serves one client at a time and is busy with another connection")
        else:
            clauses.append(f"the server has not accepted {_who(u.role)}'s connection: it "
                           f"accepted once and stopped accepting")
    elif acceptors and readers:
        r = [w for w in readers if not _is_server(w)] or readers
        how = ("the server accepted it but neither answered nor closed it"
               if r[0].accepted else "nobody answers or closes it")
        clauses.append(f"the server waits for a new connection while {_who(r[0].role)} "
                       f"still waits for a reply on its connection: {how}")
    elif writers:
        if len(writers) >= 2 and not readers:
            clauses.append("each is sending and neither reads: both buffers are full")
        else:
            clauses.append(f"{_who(writers[0].role)} cannot send because the other side "
                           f"does not read: the buffer is full")
    elif len(readers) >= 2:
        clauses.append("each waits for the other to send" if len(readers) == 2
                       else "each waits for another to send")
    elif readers:
        clauses.append(f"{_who(readers[0].role)} waits for data that never comes")
    if connectors:
        clauses.append(f"{_who(connectors[0].role)} cannot connect: nobody accepts on the "
                       f"server's port (its listen queue is full)")
    if stdin:
        clauses.append(f"{_who(stdin[0].role)} waits for input on stdin that never comes "
                       f"(nobody closed it)")
    return "; ".join(clauses)


def explain(ws: list[Wait], label: Callable[[Wait], str | None] | None = None,
            exchanges: int = 0, hint: str | None = None) -> str:
    """One sentence (or two) a student understands, e.g. "deadlock after 1
    exchange: the client is blocked in recv() on its connection to the
    server and the server in recv() on the connection: each waits for the
    other to send (no newline was sent; ...)". label(w) names w's socket
    the driver's way, or returns None for a generic name; exchanges is how
    many request/reply exchanges the relay saw; hint, a parenthesis added
    at the end (see request_hint)."""
    ws = _relevant(ws)
    tail = f" ({hint})" if hint else ""
    if not ws:
        return "nothing left to observe: every process has ended"
    who = _sentence(ws, label)
    sleepers = [w for w in ws if w.kind == "sleep"]
    if any(w.kind in ("running", "busy") for w in ws):
        return f"not hung: {who}"
    if sleepers:
        return (f"not a deadlock: {who}: {_who(sleepers[0].role)} goes on when its sleep "
                f"ends")
    when = f"after {exchanges} exchange{'' if exchanges == 1 else 's'}" if exchanges \
        else "before any exchange"
    blocked = [w for w in ws if w.kind in ("read", "write", "accept", "connect")]
    what = "deadlock" if len(blocked) >= 2 else "hung"
    why = _conclusion(ws)
    return f"{what} {when}: {who}" + (f": {why}" if why else "") + tail


# --- what the relay saw ------------------------------------------------------

def count_exchanges(connections: Iterable) -> int:
    """Request/reply exchanges in relay connections (anything with
    .events of .direction/.kind/.data): client data answered by server
    data, counted once per client turn."""
    n = 0
    for c in connections:
        pending = False
        for e in c.events:
            if e.kind != DATA:
                continue
            if e.direction == CLIENT:
                pending = True
            elif pending:
                n += 1
                pending = False
    return n


def request_hint(sent: bytes, client_closed: bool) -> str | None:
    """The parenthesis for a line protocol (a request ends at \\n or EOF),
    from the client bytes since the server last spoke and whether the
    client half-closed; None when the request was complete."""
    if client_closed:
        return None
    if not sent:
        return "the client sent nothing and did not close its side"
    if not sent.endswith(b"\n"):
        return ("no newline was sent and the client did not close its side; "
                "the contract ends a request at \\n or EOF")
    return None


def last_request(conn) -> tuple[bytes, bool]:
    """(client bytes since the server's last data, whether the client
    closed or reset its side) of one relay connection."""
    sent = b""
    closed = False
    for e in conn.events:
        if e.direction == CLIENT:
            if e.kind == DATA:
                sent += e.data
            else:
                closed = True
        elif e.kind == DATA:
            sent = b""
    return sent, closed
