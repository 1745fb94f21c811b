"""The recording relay between a cell's clients and its server.

TCP: accepts each client on the relay port, connects to the server, and
forwards both directions; a half-close is passed on with shutdown(SHUT_WR)
and a reset with an SO_LINGER 0 close. UDP: one relay socket; each client
address gets its own upstream socket, and every datagram is a turn.
Each direction's bytes, EOF and RST are recorded with a timestamp.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any, cast

from harness.run import clock
from harness.spec import modes, transcript
from harness.spec.transcript import CLIENT, DATA, EOF, RST, SERVER

RECV_SIZE = 65536
_RESET_ERRNOS = {errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ETIMEDOUT}


@dataclass
class Event:
    t: float  # seconds since the relay started
    direction: str
    kind: str
    data: bytes = b""


@dataclass
class Connection:
    """One client connection (TCP) or one client address (UDP)."""

    index: int
    peer: str
    events: list[Event] = field(default_factory=list)
    # Local port of the relay's socket towards the server: the server's
    # accepted socket has it as its remote port (the hang monitor's names).
    upstream_port: int = 0
    opened: bool = False  # connected upstream (TCP); until then the relay is busy
    notes: list[str] = field(default_factory=list)
    closed: dict[str, bool] = field(default_factory=lambda: {CLIENT: False, SERVER: False})
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def turns(self, transport: str) -> list[transcript.Turn]:
        return [transcript.Turn(e.direction, e.kind, e.data) for e in self.events]


class _Base:
    def __init__(self, listen_port: int, upstream_port: int, host: str = "127.0.0.1",
                 chunk: int | None = None, chunk_delay: float = 0.0,
                 mode: "modes.Mode | None" = None, upstream_host: str | None = None,
                 socket_factory=socket.socket):
        self.listen_port = listen_port
        self.upstream = (upstream_host or "127.0.0.1", upstream_port)
        self.host = host
        # Delivery modes (segment, coalesce, latency, slow-reader) and the
        # address family of the listening socket (ipv6 mode: host "::1").
        self.mode = mode if mode is not None and mode.shapes_relay else None
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.chunk = chunk
        self.chunk_delay = chunk_delay
        # Makes the listening and upstream sockets (family, type): a
        # sandboxed cell's relay makes them inside the cell's namespace
        # (netns.socket_factory); accepted sockets follow their listener.
        self.socket = socket_factory
        self.t0 = time.monotonic()
        self.connections: list[Connection] = []
        self._tasks: set[asyncio.Task] = set()
        self._changed = asyncio.Event()
        # For the hang monitor: when bytes or a close last moved, and how
        # many deliveries a mode holds back (latency, segment gaps).
        self.last_activity = self.t0
        self.held = 0

    def quiet_for(self) -> float:
        """Seconds since anything moved through the relay; 0 while a
        delivery mode still holds something back, a connection is being
        opened towards the server, or one waits in the relay's own accept
        queue (a busy driver has not taken it yet)."""
        if self.held or self.backlog() or any(
                not c.opened and not c.done.is_set() for c in self.connections):
            return 0.0
        return time.monotonic() - self.last_activity

    def backlog(self) -> int:
        """Connections waiting in the relay's listen queue (TCP_INFO of a
        listening socket: tcpi_unacked is the accept queue's length)."""
        ls = getattr(self, "_listener", None)
        if ls is None:
            return 0
        try:
            info = ls.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 32)
        except OSError:
            return 0
        return struct.unpack_from("I", info, 24)[0] if len(info) >= 28 else 0

    def _record(self, conn: Connection, direction: str, kind: str, data: bytes = b"") -> None:
        if kind != DATA:
            if conn.closed[direction] and kind == EOF:
                return
            if any(e.direction == direction and e.kind == kind for e in conn.events):
                return
            conn.closed[direction] = True
        now = time.monotonic()
        self.last_activity = now
        conn.events.append(Event(now - self.t0, direction, kind, data))

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def transcript(self, transport: str) -> transcript.Transcript:
        return transcript.Transcript(transport, [c.turns(transport) for c in self.connections])

    def log_lines(self) -> list[str]:
        """Returns the timed event log (relay.log): every read, as it came."""
        lines = []
        for c in self.connections:
            lines.append(f"# connection {c.index} from {c.peer}")
            for n in c.notes:
                lines.append(f"# note: {n}")
            for e in c.events:
                if e.kind == DATA:
                    lines.append(f"{e.t * 1000:10.3f} ms {e.direction} {len(e.data):6d} bytes "
                                 f'"{transcript.escape(e.data[:200])}"'
                                 + (" ..." if len(e.data) > 200 else ""))
                else:
                    lines.append(f"{e.t * 1000:10.3f} ms {e.direction} {e.kind}")
        return lines


async def _make(factory, family: int, type: int) -> socket.socket:
    """A socket from the factory, which may be a coroutine function (a
    cell's holder makes sockets inside the cell, harness/run/cell.py)."""
    s = factory(family, type)
    if asyncio.iscoroutine(s):
        s = await s
    return s


def _abort(sock: socket.socket) -> None:
    """Closes with SO_LINGER 0 so the peer gets a reset."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class TcpRelay(_Base):
    transport = "tcp"

    async def start(self) -> None:
        """Binds the relay port. Raises OSError (EADDRINUSE) if it is taken."""
        ls = await _make(self.socket, self.family, socket.SOCK_STREAM)
        try:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((self.host, self.listen_port))
            # As deep as the kernel allows: 1,000 clients connect at once
            # (smtp/clients-1000), and with a full queue the kernel drops
            # their handshakes and retries them seconds later, when the
            # cell looks stuck (a relay that should stand in for the
            # server's own queue).
            ls.listen(socket.SOMAXCONN)
            ls.setblocking(False)
        except OSError:
            ls.close()
            raise
        self._listener = ls
        self._spawn(self._accept_loop())

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            csock, addr = await loop.sock_accept(self._listener)
            csock.setblocking(False)
            conn = Connection(len(self.connections) + 1, f"{addr[0]}:{addr[1]}")
            self.connections.append(conn)
            self.last_activity = time.monotonic()
            self._changed.set()
            self._spawn(self._serve(conn, csock))

    async def _serve(self, conn: Connection, csock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            ssock = await _make(self.socket, socket.AF_INET, socket.SOCK_STREAM)
        except OSError as e:
            conn.notes.append(f"no socket towards the server: {e.strerror or e}")
            _abort(csock)
            conn.done.set()
            self._changed.set()
            return
        ssock.setblocking(False)
        if self.mode is not None and self.mode.kind == "slow-reader":
            # Before connect, so the window the server sees is small.
            ssock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, modes.SLOW_RCVBUF)
        try:
            try:
                await loop.sock_connect(ssock, self.upstream)
            except OSError as e:
                # Nobody to relay to: the client sees a reset, as if refused.
                conn.notes.append(f"connecting to the server at port {self.upstream[1]} "
                                  f"failed: {e.strerror or e}")
                _abort(csock)
                ssock.close()
                return
            try:
                conn.upstream_port = ssock.getsockname()[1]
            except OSError:
                pass
            conn.opened = True
            for s in (csock, ssock):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            state: dict[str, Any] = {"reset": False}
            pump = self._pump if self.mode is None else self._pump_shaped
            up = asyncio.ensure_future(pump(conn, csock, ssock, CLIENT, state))
            down = asyncio.ensure_future(pump(conn, ssock, csock, SERVER, state))
            state["tasks"] = (up, down)
            try:
                await asyncio.gather(up, down, return_exceptions=True)
            finally:
                up.cancel()
                down.cancel()
                if state["reset"]:
                    _abort(csock)
                    _abort(ssock)
                else:
                    csock.close()
                    ssock.close()
        finally:
            conn.done.set()
            self._changed.set()

    async def _pump(self, conn: Connection, src: socket.socket, dst: socket.socket,
                    direction: str, state: dict) -> None:
        loop = asyncio.get_running_loop()
        other = SERVER if direction == CLIENT else CLIENT
        while True:
            try:
                data = await loop.sock_recv(src, RECV_SIZE)
            except OSError as e:
                if e.errno in _RESET_ERRNOS or isinstance(e, ConnectionError):
                    self._reset(conn, direction, state)
                    return
                raise
            if not data:
                self._record(conn, direction, EOF)
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            self._record(conn, direction, DATA, data)
            try:
                if self.chunk:
                    for i in range(0, len(data), self.chunk):
                        await loop.sock_sendall(dst, data[i:i + self.chunk])
                        if self.chunk_delay:
                            await asyncio.sleep(self.chunk_delay)
                else:
                    await loop.sock_sendall(dst, data)
            except OSError as e:
                if e.errno in _RESET_ERRNOS or isinstance(e, ConnectionError):
                    # The receiving side is gone: that side was reset.
                    self._reset(conn, other, state)
                    return
                raise

    async def _pump_shaped(self, conn: Connection, src: socket.socket, dst: socket.socket,
                           direction: str, state: dict) -> None:
        """_pump under a delivery mode: a reader records what src sends (so
        the transcript is unchanged) and queues it; a writer delivers it to
        dst as the mode says. EOF is queued behind the data."""
        loop = asyncio.get_running_loop()
        mode = self.mode
        assert mode is not None
        other = SERVER if direction == CLIENT else CLIENT
        queue: asyncio.Queue = asyncio.Queue()
        slow = mode.kind == "slow-reader" and direction == SERVER
        size = modes.SLOW_READ if slow else RECV_SIZE

        async def reader() -> None:
            while True:
                try:
                    data = await loop.sock_recv(src, size)
                except OSError as e:
                    if e.errno in _RESET_ERRNOS or isinstance(e, ConnectionError):
                        queue.put_nowait(("rst", b"", 0.0))
                        return
                    raise
                due = loop.time() + mode.ms / 1000.0
                if not data:
                    self._record(conn, direction, EOF)
                    self.held += 1
                    queue.put_nowait(("eof", b"", due))
                    return
                self._record(conn, direction, DATA, data)
                self.held += 1
                queue.put_nowait(("data", data, due))
                if slow:
                    await asyncio.sleep(modes.SLOW_GAP_S)

        async def send(data: bytes) -> None:
            await loop.sock_sendall(dst, data)

        async def writer() -> str:
            seg = modes.Segmenter(mode, conn.index, direction) \
                if mode.kind == "segment" else None
            held = b""  # coalesce: client bytes not yet delivered
            while True:
                if held:
                    try:
                        kind, data, due = await asyncio.wait_for(queue.get(),
                                                                 modes.COALESCE_IDLE_S)
                    except asyncio.TimeoutError:
                        await send(held)
                        held = b""
                        self.held -= 1
                        continue
                else:
                    kind, data, due = await queue.get()
                if kind != "rst":
                    self.held -= 1
                    self.last_activity = time.monotonic()
                if kind == "rst":
                    return "rst"
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if mode.kind == "coalesce" and direction == CLIENT:
                    if kind == "data":
                        if not held:
                            self.held += 1  # until the coalesced bytes go out
                        held += data
                        continue
                    if held:
                        await send(held)
                        held = b""
                        self.held -= 1
                if kind == "eof":
                    return "eof"
                if seg is None:
                    await send(data)
                    continue
                for piece, pause in seg.pieces(data):
                    await send(piece)
                    self.last_activity = time.monotonic()
                    if pause:
                        await asyncio.sleep(modes.SEGMENT_GAP_S)

        rd = asyncio.ensure_future(reader())
        try:
            try:
                how = await writer()
            except OSError as e:
                if e.errno in _RESET_ERRNOS or isinstance(e, ConnectionError):
                    self._reset(conn, other, state)
                    return
                raise
            if how == "rst":
                self._reset(conn, direction, state)
                return
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        finally:
            rd.cancel()

    def _reset(self, conn: Connection, direction: str, state: dict) -> None:
        """direction's side reset: record it, and reset the other side too."""
        self._record(conn, direction, RST)
        state["reset"] = True
        for t in state.get("tasks", ()):
            if t is not asyncio.current_task():
                t.cancel()

    def active(self) -> int:
        return sum(1 for c in self.connections if not c.done.is_set())

    async def settle(self, timeout: float, expected: int = 0) -> bool:
        """Waits until `expected` connections were accepted and every
        connection has finished both ways. Returns False after timeout
        (cell time, harness/run/clock.py)."""

        async def until() -> None:
            while len(self.connections) < expected or self.active():
                self._changed.clear()
                await self._changed.wait()

        task = asyncio.ensure_future(until())
        try:
            return await clock.wait_for(task, timeout)
        finally:
            task.cancel()

    async def close(self) -> None:
        """Stops accepting and drops every connection still open."""
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        listener = getattr(self, "_listener", None)
        if listener is not None:
            listener.close()


class UdpRelay(_Base):
    transport = "udp"

    async def start(self) -> None:
        s = await _make(self.socket, self.family, socket.SOCK_DGRAM)
        try:
            s.bind((self.host, self.listen_port))
            s.setblocking(False)
        except OSError:
            s.close()
            raise
        self._sock = s
        self._upstreams: dict[tuple, tuple[Connection, socket.socket]] = {}
        self._spawn(self._loop())

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                # (cast: mypy 1.0's typeshed has sock_recvfrom return bytes)
                data, addr = cast("tuple[bytes, tuple]",
                                  await loop.sock_recvfrom(self._sock, RECV_SIZE))
            except ConnectionRefusedError:
                continue  # an ICMP error from an earlier send; not a datagram
            entry = self._upstreams.get(addr)
            if entry is None:
                conn = Connection(len(self.connections) + 1, f"{addr[0]}:{addr[1]}",
                                  opened=True)
                up = await _make(self.socket, socket.AF_INET, socket.SOCK_DGRAM)
                up.setblocking(False)
                up.connect(self.upstream)
                entry = (conn, up)
                self._upstreams[addr] = entry
                self.connections.append(conn)
                self._spawn(self._replies(conn, up, addr))
            conn, up = entry
            self._record(conn, CLIENT, DATA, data)
            self._changed.set()
            if self.mode is not None and self.mode.ms:
                self.held += 1
                self._spawn(self._forward_later(conn, up, data, self.mode.ms / 1000.0))
                continue
            try:
                await loop.sock_sendall(up, data)
            except OSError as e:
                conn.notes.append(f"forwarding a datagram failed: {e.strerror or e}")

    async def _forward_later(self, conn: Connection, up: socket.socket, data: bytes,
                             delay: float) -> None:
        """latency mode: forwards one datagram after the delay."""
        try:
            await asyncio.sleep(delay)
            await asyncio.get_running_loop().sock_sendall(up, data)
        except OSError as e:
            conn.notes.append(f"forwarding a datagram failed: {e.strerror or e}")
        finally:
            self.held -= 1
            self.last_activity = time.monotonic()

    async def _replies(self, conn: Connection, up: socket.socket, addr: tuple) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    data = await loop.sock_recv(up, RECV_SIZE)
                except ConnectionRefusedError:
                    conn.notes.append("the server port refused a datagram (ICMP unreachable)")
                    continue
                self._record(conn, SERVER, DATA, data)
                self._changed.set()
                try:
                    await loop.sock_sendto(self._sock, data, addr)
                except OSError as e:
                    conn.notes.append(f"returning a datagram failed: {e.strerror or e}")
        finally:
            up.close()

    def active(self) -> int:
        return 0

    async def settle(self, timeout: float, expected: int = 0) -> bool:
        return True

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        s = getattr(self, "_sock", None)
        if s is not None:
            s.close()


def create(transport: str, listen_port: int, upstream_port: int, **kw) -> TcpRelay | UdpRelay:
    if transport == "tcp":
        return TcpRelay(listen_port, upstream_port, **kw)
    return UdpRelay(listen_port, upstream_port, **kw)
