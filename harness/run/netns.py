"""two-hosts mode: a network namespace per cell for the server.

Each cell gets namespace `slh-<driver pid>-<n>` and a veth pair: `slhA<n>` in
the driver's namespace with 10.213.X.Y+1/30, `slhB<n>` inside with
10.213.X.Y+2/30 (plus the namespace's own lo). The server runs under
`ip netns exec`, which execs it (same pid), so its socket shows in
/proc/<pid>/net/tcp*, the namespace's table. Deleting the namespace
destroys its veth end and with it the pair. Every namespace this process
made is deleted in the cell's finally and, as a last resort, at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import ipaddress
import os
import random
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass

from harness.run import cell as isolation, clock, janitor, processes, procnet, sandbox

NET = ipaddress.ip_network("10.213.0.0/16")  # test range: /30s carved from it
_LIVE: set[str] = set()
_counter = 0


def unavailable(what: str = "two-hosts") -> str | None:
    """Why namespaces cannot be made here, or None; what: who needs them."""
    if os.geteuid() != 0:
        hint = "skip this mode" if what == "two-hosts" else "accept it"
        return f"{what} needs root (ip netns add); run the driver as root or {hint}"
    if shutil.which("ip") is None:
        return f"{what} needs the ip command (Debian package iproute2)"
    if not os.path.isdir("/proc/self/ns") or not os.path.exists("/proc/self/ns/net"):
        return f"{what} needs network namespaces (no /proc/self/ns/net)"
    return None


@dataclass
class Hosts:
    ns: str
    host_if: str
    ns_if: str
    host_addr: str  # the driver's side of the /30
    server_addr: str  # the server's side
    parent: str | None = None  # the namespace of the driver's side (None: the driver's own)

    def wrap(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns] + argv


async def _ip(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "ip", *args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode("utf-8", "replace").strip()


async def _used_nets() -> set[ipaddress.IPv4Network]:
    rc, out = await _ip("-o", "-4", "addr", "show")
    nets = set()
    for line in out.splitlines():
        f = line.split()
        if "inet" in f:
            try:
                nets.add(ipaddress.IPv4Interface(f[f.index("inet") + 1]).network)
            except ValueError:
                pass
    return nets


async def create(parent: str | None = None) -> Hosts:
    """Makes a namespace and a veth pair with a free /30, the driver's end in
    the namespace parent (a sandboxed cell's, see isolated()) or, by
    default, in the driver's own. Raises OSError with the ip command's
    message on failure (after removing what was made)."""
    global _counter
    _counter += 1
    n = _counter
    ns = f"slh-{os.getpid()}-{n}"
    host_if, ns_if = f"slhA{os.getpid() % 10000}n{n}"[:15], f"slhB{os.getpid() % 10000}n{n}"[:15]
    used = await _used_nets() if parent is None else set()  # a fresh parent has none
    at = ("-n", parent) if parent is not None else ()
    subnets = NET.prefixlen
    for _ in range(50):
        k = random.randrange(1, 1 << (30 - subnets))
        net = ipaddress.ip_network(f"{NET.network_address + 4 * k}/30")
        if not any(net.overlaps(u) for u in used):
            break
    else:
        raise OSError("two-hosts: no free /30 in 10.213.0.0/16")
    a, b = str(net.network_address + 1), str(net.network_address + 2)
    _LIVE.add(ns)
    janitor.namespace(ns)
    steps = [
        ("netns", "add", ns),
        (*at, "link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", ns),
        (*at, "addr", "add", f"{a}/30", "dev", host_if),
        (*at, "link", "set", host_if, "up"),
        ("-n", ns, "addr", "add", f"{b}/30", "dev", ns_if),
        ("-n", ns, "link", "set", ns_if, "up"),
        ("-n", ns, "link", "set", "lo", "up"),
    ]
    h = Hosts(ns, host_if, ns_if, a, b, parent)
    for step in steps:
        rc, out = await _ip(*step)
        if rc != 0:
            await delete(h)
            raise OSError(f"ip {' '.join(step)}: {out or f'exit {rc}'}")
    return h


async def delete(h: Hosts) -> None:
    """Deletes the namespace (its veth end goes with it, and so the pair)
    and, if it is still there, the driver's end."""
    await _ip("netns", "delete", h.ns)
    at = ("-n", h.parent) if h.parent is not None else ()
    rc, _ = await _ip(*at, "link", "show", h.host_if)
    if rc == 0:
        await _ip(*at, "link", "delete", h.host_if)
    _LIVE.discard(h.ns)


# --------------------------------------------------------------------------
# A sandboxed cell's namespace: only lo, so untrusted code reaches nothing
# but the cell (its server, its clients, the driver's relay sockets).


async def isolated() -> str:
    """Makes a namespace whose only interface is lo, up. Returns its name.
    Raises OSError with the ip command's message (after removing it)."""
    global _counter
    _counter += 1
    ns = f"slhs-{os.getpid()}-{_counter}"
    _LIVE.add(ns)
    janitor.namespace(ns)
    for step in (("netns", "add", ns), ("-n", ns, "link", "set", "lo", "up")):
        rc, out = await _ip(*step)
        if rc != 0:
            await delete_ns(ns)
            raise OSError(f"ip {' '.join(step)}: {out or f'exit {rc}'}")
    return ns


async def delete_ns(ns: str) -> None:
    await _ip("netns", "delete", ns)
    _LIVE.discard(ns)


def socket_factory(ns: str):
    """Returns socket.socket's stand-in that makes each socket inside ns, for
    the relay. setns(2) moves only the calling thread, and a socket keeps the
    namespace it was made in: so a short-lived thread enters ns, makes the
    socket and ends; the driver's own threads never move."""
    path = sandbox.netns_path(ns)

    def make(family: int = socket.AF_INET, type: int = socket.SOCK_STREAM) -> socket.socket:
        box: dict = {}

        def run() -> None:
            try:
                sandbox.setns(path)
                box["sock"] = socket.socket(family, type)
            except BaseException as e:  # handed to the caller's thread
                box["error"] = e

        t = threading.Thread(target=run, name=f"setns {ns}")
        t.start()
        t.join()
        if "error" in box:
            raise box["error"]
        return box["sock"]

    return make


def _delete_all_at_exit() -> None:
    for ns in list(_LIVE):
        subprocess.run(["ip", "netns", "delete", ns], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        _LIVE.discard(ns)


atexit.register(_delete_all_at_exit)


def live() -> set[str]:
    return set(_LIVE)


# --------------------------------------------------------------------------
# Readiness inside the namespace


def _hex_addr(field: bytes) -> str:
    """Returns the address part of a /proc/net/tcp local address as text."""
    h = field.rsplit(b":", 1)[0].decode()
    raw = bytes.fromhex(h)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    addr = ipaddress.IPv6Address(words)
    return str(addr.ipv4_mapped or addr)


def bound_in(pid: int, pids: list[int], port: int, transport: str) -> list[str]:
    """Returns the local addresses on which pids' sockets are bound
    (listening, for TCP) on port, read from /proc/<pid>/net/, i.e. the
    table of pid's network namespace."""
    inodes = procnet.socket_inodes(pids)
    if not inodes:
        return []
    out = []
    for name in (transport, transport + "6"):
        try:
            with open(f"/proc/{pid}/net/{name}", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        for line in data.splitlines()[1:]:
            f = line.split()
            if len(f) < 10:
                continue
            try:
                lport = int(f[1].rsplit(b":", 1)[1], 16)
            except ValueError:
                continue
            if lport != port or int(f[9]) not in inodes:
                continue
            if transport == "tcp" and f[3] != b"0A":
                continue
            out.append(_hex_addr(f[1]))
    return out


def bound_addresses(pid: int, pids: list[int], port: int, transport: str) -> list[str]:
    """bound_in from the processes' own sockets (procnet.own_sockets, no
    table walk), or from the table where that cannot be used."""
    own = procnet.own_sockets(pids)
    if own is None:
        return bound_in(pid, pids, port, transport)
    return [s.addr for s in own if s.transport == transport and s.port == port
            and (s.listening if transport == "tcp" else not s.remote_port)]


def loopback_only(addrs: list[str]) -> bool:
    return bool(addrs) and all(ipaddress.ip_address(a).is_loopback for a in addrs)


async def wait_bound(child, port: int, transport: str, timeout: float,
                     more=None) -> tuple[bool, list[str]]:
    """Waits until the server's processes (child: processes.Child) show a
    socket bound on port in their namespace's table. Polls /proc, never
    connects. Returns (ready, local addresses); not ready on exit/timeout."""
    deadline = clock.Deadline(timeout)
    delay = 0.001
    polls = 0
    while True:
        # A cell's processes are its PID namespace's (more: orphans such as
        # daemons included); elsewhere the server's process group or session
        # too, found by a scan of every process on the machine (costly:
        # every 16th poll, as processes.wait_bound).
        pids = processes.tree(child, group=more is None and polls % 16 == 0)
        polls += 1
        if more is not None:
            pids += [p for p in more() if p not in pids]  # a cell's orphans (daemons)
        # A server that daemonises exits 0 while its child goes on to bind:
        # keep looking while something of it lives (as processes.wait_bound).
        alive = child.running or (child.proc.returncode == 0 and
                                  any(p != child.pid for p in pids))
        addrs = bound_addresses(child.pid, pids, port, transport) if alive else []
        if addrs:
            return True, addrs
        if not alive or deadline.expired():
            return False, []
        await asyncio.sleep(delay)
        delay = min(delay * 1.3, 0.02)


async def wait_ready(server: processes.Child, port: int, transport: str, timeout: float,
                     in_netns: bool, cell: isolation.Cell | None, uid: int | None = None
                     ) -> tuple[processes.Readiness, list[str]]:
    """Waits until the server's socket shows in the kernel's table: the
    driver's own, or, for a server in a namespace (two-hosts, a sandboxed
    cell), that namespace's. Returns the readiness and, from a namespace's
    table, the addresses the socket is bound to. The socket may be held
    outside the server's process group by a process the server left (a
    daemon): the cell's orphans, or outside a cell the sandbox uid's
    processes, count as the server's (the daemon is judged later)."""
    if not in_netns:
        return await processes.wait_bound(server, port, transport, timeout), []
    more = (lambda: [st.pid for st in cell.leftovers()]) if cell is not None else \
        (lambda: sandbox.processes_of(uid)) if uid is not None else None
    ok, addrs = await wait_bound(server, port, transport, timeout, more)
    other = () if ok or not server.running else \
        processes.bound_ports(server, transport, ns_pid=server.pid)
    # Exited before binding: is the port held by what is left of an
    # earlier server in the cell (a restart without SO_REUSEADDR)? Said in
    # the reason only; inside a cell no stranger can hold a port.
    held = (not ok and not server.running and cell is not None and
            bool(procnet.sockets(transport, port, ns_pid=cell.holder)))
    return processes.Readiness(ok, foreign=held, exited=not server.running, timed_out=not ok,
                               other_ports=other), addrs
