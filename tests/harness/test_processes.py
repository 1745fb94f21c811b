"""Processes: own session, capture limits, readiness from the kernel's
socket table (no probe connection), stopping whole groups."""

import asyncio
import os
import signal
import socket
import sys
import unittest
from unittest import mock

import support
from harness.judge import verdict
from harness.run import procnet, processes
from harness.run.ports import PortPool

POOL = PortPool(*support.PORT_RANGES["processes"])
FAKE = str(support.FAKES / "server.py")


class ProcessesTest(support.HarnessTestCase):
    port_range = support.PORT_RANGES["processes"]

    def run_async(self, coro):
        async def main():
            processes.use_pidfd_watcher()
            return await coro
        return asyncio.run(main())

    def test_own_session_and_stop(self):
        async def go():
            c = await processes.spawn([sys.executable, "-c", "import time; time.sleep(60)"],
                                      str(self.tmp), dict(os.environ))
            st = procnet.stat(c.pid)
            await c.stop(grace=1)
            return c, st

        c, st = self.run_async(go())
        self.assertEqual(st.session, c.pid)  # start_new_session
        self.assertEqual(st.pgrp, c.pid)
        self.assertEqual(c.exit().signal, signal.SIGTERM)
        self.assertTrue(c.exit().stopped_by_driver)
        self.assertIn("SIGTERM", c.exit().describe())
        self.assertClean()

    def test_stdin_fed_then_closed_and_output_captured(self):
        async def go():
            c = await processes.spawn(
                [sys.executable, "-c",
                 "import sys; d=sys.stdin.buffer.read(); sys.stdout.buffer.write(d[::-1]);"
                 "print('err', file=sys.stderr)"], str(self.tmp), dict(os.environ), b"abc")
            self.assertTrue(await c.wait(10))
            await c.stop()
            return c

        c = self.run_async(go())
        self.assertEqual(c.stdout.data(), b"cba")
        self.assertEqual(c.stderr.data(), b"err\n")
        self.assertEqual(c.exit().code, 0)
        self.assertFalse(c.exit().stopped_by_driver)

    def test_capture_is_capped_and_drained(self):
        async def go():
            c = await processes.spawn(
                [sys.executable, "-c",
                 "import sys\nfor i in range(300): sys.stdout.buffer.write(b'x' * 65536)"],
                str(self.tmp), dict(os.environ), capture_limit=100_000)
            done = await c.wait(30)
            await c.stop()
            return c, done

        c, done = self.run_async(go())
        self.assertTrue(done, "a flooding child must not block on a full pipe")
        self.assertEqual(len(c.stdout.data()), 100_000)
        self.assertEqual(c.stdout.total, 300 * 65536)
        self.assertTrue(c.stdout.truncated)

    def test_wait_contains_is_event_driven(self):
        async def go():
            c = await processes.spawn(
                [sys.executable, "-u", "-c",
                 "import sys; sys.stdin.readline(); print('ready now')"],
                str(self.tmp), dict(os.environ), b"go\n")
            ok = await c.stdout.wait_contains(b"ready now", 10)
            missing = await c.stdout.wait_contains(b"never", 0.2)
            await c.stop()
            return ok, missing

        self.assertEqual(self.run_async(go()), (True, False))

    def test_readiness_for_tcp_without_connecting(self):
        port = POOL.acquire(1)[0]
        self.addCleanup(POOL.release, [port])

        async def go():
            c = await processes.spawn([sys.executable, FAKE, "hang", str(port)], str(self.tmp),
                                      dict(os.environ))
            r = await processes.wait_bound(c, port, "tcp", 10)
            # 'hang' keeps every accepted connection: a probe connect would
            # show up as an ESTABLISHED socket on the port
            socks = procnet.sockets("tcp", port)
            await c.stop(grace=1)
            return r, socks

        r, socks = self.run_async(go())
        self.assertTrue(r.ready)
        self.assertEqual([s.state for s in socks], [procnet.TCP_LISTEN])
        self.assertClean()

    def test_readiness_for_udp(self):
        port = POOL.acquire(1)[0]
        self.addCleanup(POOL.release, [port])

        async def go():
            c = await processes.spawn([sys.executable, FAKE, "udp", str(port)], str(self.tmp),
                                      dict(os.environ))
            r = await processes.wait_bound(c, port, "udp", 10)
            await c.stop(grace=1)
            return r

        self.assertTrue(self.run_async(go()).ready)
        self.assertClean()

    def test_foreign_socket_on_the_port_is_not_the_servers(self):
        holder = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        holder.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        holder.bind(("::", 0))
        holder.listen()
        port = holder.getsockname()[1]

        async def go():
            # nobind never binds: the listener on the port belongs to us, not it
            c = await processes.spawn([sys.executable, FAKE, "nobind", str(port)],
                                      str(self.tmp), dict(os.environ))
            r1 = await processes.wait_bound(c, port, "tcp", 0.3)
            await c.stop(grace=1)
            # echo fails to bind (EADDRINUSE) and exits: foreign, not its fault
            c2 = await processes.spawn([sys.executable, FAKE, "echo", str(port)],
                                       str(self.tmp), dict(os.environ))
            r2 = await processes.wait_bound(c2, port, "tcp", 10)
            await c2.stop(grace=1)
            return r1, r2

        try:
            r1, r2 = self.run_async(go())
        finally:
            holder.close()
        self.assertFalse(r1.ready)
        self.assertTrue(r1.timed_out and r1.foreign)
        self.assertFalse(r2.ready)
        self.assertTrue(r2.exited and r2.foreign)
        self.assertClean()

    def test_stop_kills_the_whole_group_even_if_term_is_ignored(self):
        port = POOL.acquire(1)[0]
        self.addCleanup(POOL.release, [port])

        async def go():
            c = await processes.spawn([sys.executable, FAKE, "grandchild", str(port)],
                                      str(self.tmp), dict(os.environ))
            r = await processes.wait_bound(c, port, "tcp", 10)
            members = procnet.live_group_members(c.pid)
            await c.stop(grace=0.5)
            return r, members

        processes.become_subreaper()
        r, members = self.run_async(go())
        self.assertTrue(r.ready)
        self.assertGreaterEqual(len(members), 2)
        self.assertClean()

    def test_kill_all_and_sweep(self):
        # What a Ctrl-C, the atexit hook and the end of a run do: every
        # program killed at once, a SIGTERM-ignoring one included.
        async def go():
            c = await processes.spawn([sys.executable, "-c",
                                       "import signal,time; signal.signal(signal.SIGTERM, "
                                       "signal.SIG_IGN); time.sleep(60)"],
                                      str(self.tmp), dict(os.environ))
            alive = procnet.alive(c.pid)
            processes.kill_all()
            processes.sweep()
            await c.wait(10)
            await c.finish_output()
            return c, alive

        c, alive = self.run_async(go())
        self.assertTrue(alive)
        self.assertEqual(c.exit().signal, signal.SIGKILL)
        self.assertClean()


    def test_sweep_never_signals_a_group_by_its_number(self):
        # A group left in the registry (its leader reaped, a member not
        # confirmed gone) whose number now belongs to a stranger: sweep()
        # signals what descends from this process, never the number.
        stranger = 424242
        sent = []
        with mock.patch.object(processes, "_LIVE_GROUPS", {stranger}), \
                mock.patch.object(processes, "_ALL_SESSIONS", {stranger}), \
                mock.patch.object(procnet, "live_group_members", return_value=[]), \
                mock.patch.object(os, "killpg", lambda *a: sent.append(a)), \
                mock.patch.object(os, "kill", lambda *a: sent.append(a)):
            processes.sweep()
        self.assertEqual(sent, [])


class ProcnetTest(unittest.TestCase):
    def test_sockets_sees_a_listener_and_its_inode(self):
        s = socket.create_server(("127.0.0.1", 0))
        try:
            port = s.getsockname()[1]
            found = [x for x in procnet.sockets("tcp", port, listeners_only=True) if x.bound]
            self.assertEqual(len(found), 1)
            self.assertIn(found[0].inode, procnet.socket_inodes([os.getpid()]))
        finally:
            s.close()

    def test_stat_and_children(self):
        st = procnet.stat(os.getpid())
        self.assertEqual(st.pid, os.getpid())
        self.assertEqual(st.ppid, os.getppid())
        self.assertIsNone(procnet.stat(2 ** 22 + 12345))

    def test_signal_names(self):
        self.assertEqual(verdict.signal_name(11), "SIGSEGV")
        self.assertEqual(verdict.signal_name(99), "signal 99")


if __name__ == "__main__":
    unittest.main()
