"""The recording relay: forwarding, half-close and reset propagation,
chunking that never changes a transcript, UDP datagrams as turns."""

import asyncio
import socket
import struct
import unittest

import support
from harness.run import relay
from harness.run.ports import PortPool
from harness.spec import transcript
from harness.spec.transcript import CLIENT

POOL = PortPool(*support.PORT_RANGES["relay"])


def text(r: relay.TcpRelay | relay.UdpRelay, transport: str = "tcp") -> list[list[str]]:
    t = r.transcript(transport)
    return [transcript.format_turns(transcript.canonical(c, transport)) for c in t.connections]


async def line_server(reader, writer):
    """Lock-step: one upper-cased reply per line; closes after EOF."""
    while True:
        line = await reader.readline()
        if not line:
            break
        writer.write(line.upper())
        await writer.drain()
    writer.close()


async def eof_server(reader, writer):
    """Answers only after the client's EOF: needs the half-close relayed."""
    data = await reader.read()
    writer.write(data.upper())
    await writer.drain()
    writer.close()


class TcpRelayTest(unittest.TestCase):
    def run_case(self, handler, client, chunk=None, chunk_delay=0.0):
        async def main():
            server = await asyncio.start_server(handler, "127.0.0.1", 0)
            sport = server.sockets[0].getsockname()[1]
            port = POOL.acquire(1)[0]
            r = relay.TcpRelay(port, sport, chunk=chunk, chunk_delay=chunk_delay)
            await r.start()
            try:
                result = await asyncio.wait_for(client(port), 10)
                self.assertTrue(await r.settle(5))
                return r, result
            finally:
                await r.close()
                server.close()
                await server.wait_closed()
                POOL.release([port])
        return asyncio.run(main())

    @staticmethod
    async def lockstep_client(port, lines=(b"um\n", b"dois\n", b"tr\xc3\xaas\n")):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        got = []
        for ln in lines:
            writer.write(ln)
            await writer.drain()
            got.append(await reader.readline())
        writer.write_eof()
        rest = await reader.read()
        writer.close()
        return b"".join(got) + rest

    def test_lockstep_transcript(self):
        r, out = self.run_case(line_server, self.lockstep_client)
        self.assertEqual(out, b"UM\nDOIS\nTR\xc3\xaaS\n")
        self.assertEqual(text(r), [['> "um\\n"', '< "UM\\n"', '> "dois\\n"', '< "DOIS\\n"',
                                    '> "tr\\xc3\\xaas\\n"', '< "TR\\xc3\\xaaS\\n"',
                                    "> EOF", "< EOF"]])

    def test_one_byte_chunks_give_the_same_transcript(self):
        reads = []

        async def counting_line_server(reader, writer):
            buf = b""
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                reads.append(data)
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    writer.write(line.upper() + b"\n")
            writer.close()

        plain, out1 = self.run_case(counting_line_server, self.lockstep_client)
        n_plain = len(reads)
        chunked, out2 = self.run_case(counting_line_server, self.lockstep_client, chunk=1,
                                      chunk_delay=0.001)
        self.assertEqual(out1, out2)
        self.assertEqual(text(plain), text(chunked))
        # the relay really forwarded byte by byte: the server read the same
        # lines in many more pieces, yet the transcript did not change
        self.assertGreater(len(reads) - n_plain, n_plain)

    def test_client_trickling_bytes_is_one_turn(self):
        async def trickle(port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.transport.get_extra_info("socket").setsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for b in b"hello":
                writer.write(bytes([b]))
                await writer.drain()
                await asyncio.sleep(0.003)
            writer.write_eof()
            data = await reader.read()
            writer.close()
            return data

        r, out = self.run_case(eof_server, trickle)
        self.assertEqual(out, b"HELLO")
        reads = [e for e in r.connections[0].events if e.direction == CLIENT and e.data]
        self.assertGreater(len(reads), 1, "the client's bytes should arrive in several reads")
        self.assertEqual(text(r), [['> "hello"', '< "HELLO"', "> EOF", "< EOF"]])

    def test_half_close_is_propagated(self):
        # eof_server only answers after EOF; without shutdown(SHUT_WR)
        # through the relay this would hang until the timeout.
        async def client(port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"abc")
            writer.write_eof()
            data = await reader.read()
            writer.close()
            return data

        r, out = self.run_case(eof_server, client)
        self.assertEqual(out, b"ABC")
        self.assertEqual(text(r), [['> "abc"', '< "ABC"', "> EOF", "< EOF"]])

    def test_client_reset_is_recorded_and_passed_on(self):
        seen = {}

        async def handler(reader, writer):
            try:
                seen["data"] = await reader.read()
            except ConnectionResetError:
                seen["reset"] = True
            writer.close()

        async def client(port):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"x")
            await asyncio.sleep(0.05)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()

        r, _ = self.run_case(handler, client)
        self.assertEqual(text(r), [['> "x"', "> RST"]])
        self.assertTrue(seen.get("reset"), f"the server should see a reset, saw {seen}")

    def test_server_reset_is_recorded_and_passed_on(self):
        async def handler(reader, writer):
            await reader.readexactly(1)
            sock = writer.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()

        async def client(port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"x")
            try:
                await reader.read()
                return "eof"
            except ConnectionResetError:
                return "reset"
            finally:
                writer.close()

        r, out = self.run_case(handler, client)
        self.assertEqual(out, "reset")
        self.assertEqual(text(r), [['> "x"', "< RST"]])

    def test_no_server_means_the_client_is_reset(self):
        async def main():
            port, dead = POOL.acquire(2)
            r = relay.TcpRelay(port, dead)
            await r.start()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                try:
                    data = await asyncio.wait_for(reader.read(), 5)
                    outcome = "eof" if not data else "data"
                except ConnectionResetError:
                    outcome = "reset"
                writer.close()
                await r.settle(5)
                return r, outcome
            finally:
                await r.close()
                POOL.release([port, dead])

        r, outcome = asyncio.run(main())
        self.assertEqual(outcome, "reset")
        self.assertIn("failed", " ".join(r.connections[0].notes))
        self.assertEqual(text(r), [[]])

    def test_concurrent_connections_get_their_own_sections(self):
        async def many(port):
            return await asyncio.gather(*(self.lockstep_client(port, (b"a%d\n" % i,))
                                          for i in range(5)))

        r, outs = self.run_case(line_server, many)
        self.assertEqual(sorted(outs), sorted(b"A%d\n" % i for i in range(5)))
        self.assertEqual(len(r.connections), 5)
        for turns in text(r):
            self.assertEqual(len(turns), 4)

    def test_relay_port_taken_raises(self):
        async def main():
            port = POOL.acquire(1)[0]
            holder = socket.create_server(("127.0.0.1", port))
            try:
                r = relay.TcpRelay(port, 1)
                with self.assertRaises(OSError):
                    await r.start()
            finally:
                holder.close()
                POOL.release([port])
        asyncio.run(main())


class UdpRelayTest(unittest.TestCase):
    def test_datagrams_are_turns_per_client(self):
        async def main():
            loop = asyncio.get_running_loop()
            srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            srv.bind(("127.0.0.1", 0))
            srv.setblocking(False)
            sport = srv.getsockname()[1]

            async def echo_upper():
                while True:
                    data, addr = await loop.sock_recvfrom(srv, 65536)
                    await loop.sock_sendto(srv, data.upper(), addr)

            task = asyncio.ensure_future(echo_upper())
            port = POOL.acquire(1)[0]
            r = relay.UdpRelay(port, sport)
            await r.start()
            clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
            try:
                got = []
                for i, c in enumerate(clients):
                    c.setblocking(False)
                    c.connect(("127.0.0.1", port))
                    for msg in (b"a%d" % i, b"", b"b%d" % i):
                        await loop.sock_sendall(c, msg)
                        got.append(await asyncio.wait_for(loop.sock_recv(c, 65536), 5))
                return r, got
            finally:
                task.cancel()
                for c in clients:
                    c.close()
                await r.close()
                srv.close()
                POOL.release([port])

        r, got = asyncio.run(main())
        self.assertEqual(got, [b"A0", b"", b"B0", b"A1", b"", b"B1"])
        self.assertEqual(text(r, "udp"), [
            ['> "a0"', '< "A0"', '> ""', '< ""', '> "b0"', '< "B0"'],
            ['> "a1"', '< "A1"', '> ""', '< ""', '> "b1"', '< "B1"']])


if __name__ == "__main__":
    unittest.main()
