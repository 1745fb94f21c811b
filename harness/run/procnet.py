"""Reading the kernel's tables: sockets (/proc/net/tcp, tcp6, udp, udp6) and
processes (/proc/PID/stat, children, fd). Linux only; no probes, no sleeps."""

from __future__ import annotations

import os
from dataclasses import dataclass

TCP_LISTEN = "0A"
UDP_UNCONNECTED = "07"
_FILES = {"tcp": ("/proc/net/tcp", "/proc/net/tcp6"), "udp": ("/proc/net/udp", "/proc/net/udp6")}


@dataclass(frozen=True)
class Sock:
    transport: str
    port: int
    state: str
    inode: int
    remote_port: int

    @property
    def bound(self) -> bool:
        """True for a TCP listener or an unconnected bound UDP socket."""
        if self.transport == "tcp":
            return self.state == TCP_LISTEN
        return self.state == UDP_UNCONNECTED or self.remote_port == 0


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _read_listeners(path: str) -> bytes:
    """Returns the head of /proc/net/tcp[6] up to the first socket that is
    not listening. The kernel lists the listening hash before the
    established one (tcp_seq_start) and generates the file lazily, a page
    per read, so thousands of TIME_WAIT entries are never produced."""
    buf = bytearray()
    try:
        with open(path, "rb", buffering=0) as f:
            while True:
                chunk = f.read(4096)
                if not chunk:
                    break
                buf += chunk
                end = buf.rfind(b"\n")
                start = buf.rfind(b"\n", 0, end) + 1
                fields = bytes(buf[start:end]).split(None, 4)
                if start > 0 and len(fields) > 3 and fields[3] != b"0A":
                    break
    except OSError:
        return b""
    return bytes(buf)


def sockets(transport: str, port: int | None = None, listeners_only: bool = False,
            ns_pid: int | None = None) -> list[Sock]:
    """Returns the kernel's sockets of a transport, optionally only those
    with the given local port; listeners_only (TCP) reads just the
    listening part of the table, cheaply. ns_pid: the table of that
    process's network namespace (a cell's) instead of the driver's."""
    out = []
    needle = b":%04X " % port if port is not None else None
    paths: tuple[str, ...] = _FILES[transport]
    if ns_pid is not None:
        paths = tuple(p.replace("/proc/", f"/proc/{ns_pid}/", 1) for p in paths)
    for path in paths:
        if listeners_only and transport == "tcp":
            data = _read_listeners(path)
        else:
            data = _read(path)
        if needle is not None and needle not in data:
            continue
        for line in data.splitlines()[1:]:
            f = line.split()
            if len(f) < 10:
                continue
            lport = int(f[1].rsplit(b":", 1)[1], 16)
            if port is not None and lport != port:
                continue
            out.append(Sock(transport, lport, f[3].decode(), int(f[9]),
                            int(f[2].rsplit(b":", 1)[1], 16)))
    return out


def used_ports() -> set[int]:
    """Returns every local port with a socket in any state, TCP or UDP."""
    ports: set[int] = set()
    for transport in ("tcp", "udp"):
        for path in _FILES[transport]:
            for line in _read(path).splitlines()[1:]:
                f = line.split(None, 2)
                if len(f) >= 2:
                    try:
                        ports.add(int(f[1].rsplit(b":", 1)[1], 16))
                    except (ValueError, IndexError):
                        pass
    return ports


@dataclass(frozen=True)
class ProcStat:
    pid: int
    state: str
    ppid: int
    pgrp: int
    session: int


def _stat_fields(pid: int) -> list[bytes]:
    """The fields of /proc/PID/stat after the command name (state first),
    or [] if the process is gone."""
    data = _read(f"/proc/{pid}/stat")
    return data[data.rfind(b")") + 2:].split() if data else []


def stat(pid: int) -> ProcStat | None:
    """Returns the parsed /proc/PID/stat, or None if the process is gone."""
    rest = _stat_fields(pid)
    if not rest:
        return None
    try:
        return ProcStat(pid, rest[0].decode(), int(rest[1]), int(rest[2]), int(rest[3]))
    except (IndexError, ValueError):
        return None


def cpu_ticks(pid: int) -> int:
    """Returns the CPU time (clock ticks, user + system, with reaped
    children) pid has used so far, or 0 if it is gone."""
    rest = _stat_fields(pid)
    try:
        return sum(int(x) for x in rest[11:15])
    except (IndexError, ValueError):
        return 0


def all_pids() -> list[int]:
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def all_stats() -> list[ProcStat]:
    out = []
    for pid in all_pids():
        s = stat(pid)
        if s is not None:
            out.append(s)
    return out


def children(pid: int) -> list[int]:
    """Returns the direct children of pid (every thread's)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        data = _read(f"/proc/{pid}/task/{tid}/children")
        out.extend(int(x) for x in data.split())
    return out


def nested_pid(pid: int) -> bool:
    """True when pid lives in a PID namespace below the reader's (its
    status' NSpid line has more than one number). Readable for zombies."""
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith(b"NSpid:"):
            return len(line.split()) > 2
    return False


def descendants(pid: int) -> list[int]:
    """Returns pid's descendants (not pid), found through /proc children."""
    out: list[int] = []
    todo = children(pid)
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children(p))
    return out


def live_group_members(pgids: set[int] | int, ancestor: int | None = None,
                       among: list[int] | None = None) -> list[ProcStat]:
    """Returns the processes, zombies excluded, whose process group or
    session is one of pgids (children started with start_new_session have
    pgid == sid == their pid). With ancestor, only those descending from it:
    once a group has emptied, the kernel may give its number to an unrelated
    process (pid_max is often 32768), which must never be taken for ours.
    among: look only at these pids (a cell's processes) instead of every
    process on the machine."""
    if isinstance(pgids, int):
        pgids = {pgids}
    if among is not None:
        stats = [s for s in map(stat, among) if s is not None]
        return [s for s in stats
                if (s.pgrp in pgids or s.session in pgids) and s.state not in ("Z", "X")]
    stats = all_stats()
    hits = [s for s in stats
            if (s.pgrp in pgids or s.session in pgids) and s.state not in ("Z", "X")]
    if ancestor is None:
        return hits
    parent = {s.pid: s.ppid for s in stats}

    def descends(pid: int) -> bool:
        seen = 0
        while pid > 1 and seen < 4096:
            pid = parent.get(pid, 0)
            if pid == ancestor:
                return True
            seen += 1
        return False

    return [s for s in hits if descends(s.pid)]


def socket_fds(pid: int) -> list[tuple[int, int]]:
    """(fd, socket inode) of every socket pid has open ([] if it is gone)."""
    base = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(base)
    except OSError:
        return []
    out = []
    for fd in fds:
        try:
            target = os.readlink(f"{base}/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            out.append((int(fd), int(target[8:-1])))
    return out


def socket_inodes(pids: list[int] | set[int]) -> set[int]:
    """Returns the inodes of the sockets open in any of pids."""
    return {inode for pid in pids for _, inode in socket_fds(pid)}


@dataclass(frozen=True)
class OwnSock:
    """An INET socket a process holds, as the socket itself says (no table
    walk): see own_sockets."""

    inode: int
    transport: str  # tcp or udp
    addr: str  # local address
    port: int
    listening: bool  # TCP: listen() was called
    remote_port: int  # 0 when not connected


_SYS_PIDFD_GETFD = 438  # the same on x86_64 and aarch64
_libc = None


def _pidfd_getfd(pidfd: int, fd: int) -> int:
    global _libc
    if _libc is None:
        import ctypes
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)


def own_sockets(pids: list[int] | set[int]) -> list[OwnSock] | None:
    """The TCP and UDP sockets pids hold, read from the sockets themselves:
    each is copied into the driver with pidfd_getfd(2) (Linux 5.6; needs
    the right to ptrace the process, which the driver has over what it
    started), asked for its address and state, and closed again. Much
    cheaper than /proc/net/tcp, whose every read walks the machine's whole
    connection hash (262144 buckets here: 2-20 ms), and namespace-blind:
    it works for a process in any network namespace. Returns None where it
    cannot be used (then read the tables)."""
    import socket
    out: list[OwnSock] = []
    seen: set[int] = set()
    for pid in pids:
        pidfd = -1
        try:
            for fd, inode in socket_fds(pid):
                if inode in seen:
                    continue
                seen.add(inode)
                if pidfd < 0:
                    try:
                        pidfd = os.pidfd_open(pid)
                    except OSError:
                        break  # gone
                dup = _pidfd_getfd(pidfd, fd)
                if dup < 0:
                    import ctypes
                    if ctypes.get_errno() in (1, 38):  # EPERM, ENOSYS: not here
                        return None
                    continue  # the fd was closed meanwhile
                try:
                    s = socket.socket(fileno=dup)
                except OSError:
                    os.close(dup)
                    continue
                try:
                    if s.family not in (socket.AF_INET, socket.AF_INET6):
                        continue
                    name = s.getsockname()
                    tcp = s.type == socket.SOCK_STREAM
                    listening = bool(tcp and s.getsockopt(socket.SOL_SOCKET,
                                                          socket.SO_ACCEPTCONN))
                    try:
                        remote = s.getpeername()[1]
                    except OSError:
                        remote = 0
                    addr = name[0]
                    if addr.startswith("::ffff:"):
                        addr = addr[7:]
                    out.append(OwnSock(inode, "tcp" if tcp else "udp", addr, name[1],
                                       listening, remote))
                except OSError:
                    continue
                finally:
                    s.close()
        finally:
            if pidfd >= 0:
                os.close(pidfd)
    return out


def alive(pid: int) -> bool:
    s = stat(pid)
    return s is not None and s.state not in ("Z", "X")
