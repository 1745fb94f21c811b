"""Modes (harness/spec/modes.py, the relay's delivery shaping, harness/run/netns.py):
parsing, cut points, reproducible segmentation that never changes a correct
pair's transcript, coalescing, the locale-c environment, ipv6 and the
two-hosts namespaces (root only).

Run as a script with `--fake-server ADDR PORT`, this file is a tiny echo
server bound to ADDR (the two-hosts tests use it to play a server bound to
127.0.0.1 only)."""

import socket
import sys

if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--fake-server":
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((sys.argv[2], int(sys.argv[3])))
    ls.listen(8)
    while True:
        c, _ = ls.accept()
        with c:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                c.sendall(b)

import asyncio  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402

import support  # noqa: E402
from harness.run import netns, relay  # noqa: E402
from harness.run.ports import PortPool  # noqa: E402
from harness.spec import matrix, modes, transcript  # noqa: E402

POOL = PortPool(19000, 19499)  # outside support.PORT_RANGES and 20000-29999
RANGE = (19500, 19999)


class ParseTest(unittest.TestCase):
    def test_canonical_forms(self):
        self.assertEqual(modes.parse("segment").kind, "segment")
        self.assertEqual(modes.parse("segment=random:07").text, "segment=random:7")
        self.assertEqual(modes.parse("latency=50").ms, 50)
        for bad in ("bogus", "segment=lines", "segment=random:x", "latency", "latency=-1",
                    "ipv6=1"):
            with self.assertRaises(ValueError, msg=bad):
                modes.parse(bad)

    def test_list_and_all(self):
        self.assertEqual(modes.parse_list(["segment,coalesce", "segment"]),
                         ["segment", "coalesce"])
        self.assertEqual(tuple(modes.parse_list(["all"])), modes.ALL)

    def test_keys_match_kinds_and_patterns(self):
        self.assertTrue(modes.matches("segment", "segment=utf8"))
        self.assertTrue(modes.matches("segment=*", "segment=crlf"))
        self.assertFalse(modes.matches("segment", "coalesce"))
        self.assertIsNotNone(modes.not_applicable("segment=delim", "udp"))
        self.assertIsNone(modes.not_applicable("latency=5", "udp"))


class CutPointTest(unittest.TestCase):
    def test_every_byte(self):
        self.assertEqual(modes.split(b"abc", modes.cut_points(b"abc", "")), [b"a", b"b", b"c"])

    def test_delim_just_before_and_after_each_newline(self):
        data = b"ab\ncd\n"
        self.assertEqual(modes.cut_points(data, "delim"), [2, 3, 5])
        self.assertEqual(modes.split(data, [2, 3, 5]), [b"ab", b"\n", b"cd", b"\n"])

    def test_crlf_inside_each_pair(self):
        data = b"a\r\nb\r\n"
        self.assertEqual(modes.split(data, modes.cut_points(data, "crlf")),
                         [b"a\r", b"\nb\r", b"\n"])

    def test_utf8_inside_each_character(self):
        data = "té€😀x".encode()  # 1 + 2 + 3 + 4 + 1 bytes
        self.assertEqual(modes.cut_points(data, "utf8"), [2, 4, 5, 7, 8, 9])
        # invalid or cut-short sequences are left alone
        self.assertEqual(modes.cut_points(b"\xc3(\xe2\x82", "utf8"), [])

    def test_random_is_reproducible_for_a_seed(self):
        data = bytes(range(200))
        a = modes.Segmenter(modes.parse("segment=random:5"), 1, ">").pieces(data)
        b = modes.Segmenter(modes.parse("segment=random:5"), 1, ">").pieces(data)
        c = modes.Segmenter(modes.parse("segment=random:6"), 1, ">").pieces(data)
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)
        self.assertEqual(b"".join(p for p, _ in a), data)

    def test_long_writes_end_in_big_pieces(self):
        seg = modes.Segmenter(modes.parse("segment"), 1, ">")
        ps = seg.pieces(b"x" * (modes.SEGMENT_FULL_BYTES + 3000))
        self.assertEqual(sum(1 for _, pause in ps if pause), modes.SEGMENT_FULL_BYTES)
        self.assertEqual([len(p) for p, pause in ps if not pause], [1024, 1024, 952])


async def line_server(reader, writer):
    while True:
        line = await reader.readline()
        if not line:
            break
        writer.write(b"<" + line)
        await writer.drain()
    writer.close()


class RelayModeTest(unittest.TestCase):
    def relay_run(self, mode, handler, client, host="127.0.0.1"):
        async def main():
            server = await asyncio.start_server(handler, "127.0.0.1", 0)
            sport = server.sockets[0].getsockname()[1]
            port = POOL.acquire(1)[0]
            r = relay.TcpRelay(port, sport, host=host,
                               mode=modes.parse(mode) if mode else None)
            await r.start()
            try:
                result = await asyncio.wait_for(client(host, port), 20)
                await r.settle(5)
            finally:
                await r.close()
                server.close()
                await server.wait_closed()
                POOL.release([port])
            return r, result
        return asyncio.run(main())

    @staticmethod
    async def lockstep(host, port):
        reader, writer = await asyncio.open_connection(host, port)
        got = b""
        for line in (b"um\r\n", "tr\u00eas\n".encode(), b"quatro\n"):
            writer.write(line)
            await writer.drain()
            got += await reader.readline()
        writer.write_eof()
        got += await reader.read()
        writer.close()
        return got

    def test_segmentation_never_changes_a_correct_pairs_transcript(self):
        plain, out0 = self.relay_run(None, line_server, self.lockstep)
        base = transcript.format_transcript(plain.transcript("tcp"))
        for mode in ("segment", "segment=delim", "segment=crlf", "segment=utf8",
                     "segment=random:1", "segment=random:2", "coalesce", "latency=20",
                     "slow-reader"):
            r, out = self.relay_run(mode, line_server, self.lockstep)
            self.assertEqual(out, out0, mode)
            self.assertEqual(transcript.format_transcript(r.transcript("tcp")), base, mode)

    def test_segment_delivers_one_byte_per_read(self):
        chunks = []

        async def recorder(reader, writer):
            while True:
                b = await reader.read(65536)
                if not b:
                    break
                chunks.append(b)
            writer.close()

        async def client(host, port):
            _, writer = await asyncio.open_connection(host, port)
            writer.write(b"SOMA 1 2\n")
            writer.write_eof()
            await writer.drain()
            await asyncio.sleep(0.2)
            writer.close()

        self.relay_run("segment", recorder, client)
        self.assertEqual(chunks, [bytes([b]) for b in b"SOMA 1 2\n"])

    def test_coalesce_delivers_two_messages_in_one_write(self):
        chunks = []

        async def recorder(reader, writer):
            while True:
                b = await reader.read(65536)
                if not b:
                    break
                chunks.append(b)
            writer.close()

        async def client(host, port):
            _, writer = await asyncio.open_connection(host, port)
            writer.write(b"user\n")
            await writer.drain()
            await asyncio.sleep(0.03)  # two writes, less than the idle gap apart
            writer.write(b"senha\n")
            await writer.drain()
            writer.write_eof()
            await asyncio.sleep(0.3)
            writer.close()

        r, _ = self.relay_run("coalesce", recorder, client)
        self.assertEqual(chunks, [b"user\nsenha\n"])
        # The transcript still shows what the client sent, as one turn.
        self.assertEqual(transcript.format_turns(transcript.canonical(
            r.transcript("tcp").connections[0], "tcp"))[0], '> "user\\nsenha\\n"')

    def test_coalesce_flushes_after_the_idle_gap_for_lockstep_clients(self):
        t0 = time.monotonic()
        _, out = self.relay_run("coalesce", line_server, self.lockstep)
        self.assertIn(b"<quatro\n", out)
        self.assertLess(time.monotonic() - t0, 3)

    def test_latency_delays_each_direction(self):
        t0 = time.monotonic()
        self.relay_run("latency=100", line_server, self.lockstep)
        # three round trips, each 100 ms there and 100 ms back
        self.assertGreaterEqual(time.monotonic() - t0, 0.6)

    def test_ipv6_relay_listens_on_loopback6(self):
        if not socket.has_ipv6:
            self.skipTest("no IPv6")
        r, out = self.relay_run("ipv6", line_server, self.lockstep, host="::1")
        self.assertIn(b"<um\r\n", out)
        self.assertTrue(r.connections[0].peer.startswith("::1"))


class EnvTest(unittest.TestCase):
    def test_locale_c(self):
        base = {"LANG": "C.UTF-8", "LC_CTYPE": "pt_BR.UTF-8", "PATH": "/bin", "TZ": "UTC"}
        self.assertEqual(modes.env("locale-c", base),
                         {"PATH": "/bin", "TZ": "UTC", "LC_ALL": "C"})
        self.assertIs(modes.env("segment", base), base)


SCENARIO = """\
stdin: 'Hello'
stdout: 'Hello'
timeout_s: 15
cell_timeout_s: 40
skip_modes:
  coalesce: one message per connection
"""


class CellModeTest(support.HarnessTestCase):
    port_range = RANGE

    def matrix(self, addr=""):
        servers = {"echo": "echo"}
        m = support.fake_matrix(self.tmp, servers, {"echo": "echo"}, scenario=SCENARIO)
        if addr:
            # A server bound to addr only: this file as a script.
            body = (self.tmp / "matrix.yaml").read_text()
            body = body.replace(f"{support.FAKE_SERVER} echo {{port}}",
                                f"{{python}} {__file__} --fake-server {addr} {{port}}")
            (self.tmp / "matrix.yaml").write_text(body)
            m = matrix.load(self.tmp / "matrix.yaml", self.tmp)
        return m

    def test_expansion_and_skip_modes(self):
        m = self.matrix()
        ids = [c.id for c in matrix.expand(m, modes=("plain", "segment", "coalesce"))]
        self.assertEqual(ids, ["echo/hello/s-echo/c-echo/plain",
                               "echo/hello/s-echo/c-echo/segment"])
        sc = m.protocols["echo"].scenarios["hello"]
        self.assertIn("one message per connection",
                      matrix.mode_absence(m.protocols["echo"], sc, "coalesce"))

    def test_cells_pass_in_every_delivery_mode(self):
        m = self.matrix()
        ms = ("segment=random:3", "latency=10", "slow-reader", "locale-c", "ipv6")
        results = support.run_cells(m, matrix.expand(m, modes=ms), port_range=RANGE)
        for r in results:
            self.assertVerdict(r, "pass")
        ipv6 = [r for r in results if r.cell.mode == "ipv6"][0]
        self.assertIn("::1", ipv6.client_argv)
        self.assertClean(results)


@unittest.skipIf(netns.unavailable(), netns.unavailable() or "")
class TwoHostsTest(support.HarnessTestCase):
    port_range = RANGE
    matrix = CellModeTest.matrix
    def assertNoNamespaces(self):
        self.assertEqual(netns.live(), set())
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        self.assertNotIn(f"slh-{os.getpid()}-", out)

    def test_server_bound_to_loopback_only_is_caught(self):
        m = self.matrix("127.0.0.1")
        results = support.run_cells(m, matrix.expand(m, modes=("plain", "two-hosts")),
                                    port_range=RANGE)
        by = {r.cell.mode: r for r in results}
        self.assertVerdict(by["plain"], "pass")
        self.assertVerdict(by["two-hosts"], "fail", "bound to 127.0.0.1")
        self.assertClean(results)
        self.assertNoNamespaces()

    def test_server_on_all_interfaces_passes(self):
        m = self.matrix("0.0.0.0")
        results = support.run_cells(m, matrix.expand(m, modes=("two-hosts",)),
                                    port_range=RANGE)
        self.assertVerdict(results[0], "pass")
        self.assertClean(results)
        self.assertNoNamespaces()


if __name__ == "__main__":
    unittest.main()
