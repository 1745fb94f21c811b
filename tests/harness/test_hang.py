"""harness/run/hang.py against real processes: deadlocks over a socketpair and
over loopback, a server in accept() beside a connection nobody accepted, a
one-at-a-time server busy with another client, a spinning process, a
sleeping one, JVMs blocked in a socket read. Every wait is a bounded poll
of /proc; ports are the kernel's (port 0) or socketpairs."""

from __future__ import annotations

import copy
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harness.run import hang  # noqa: E402

# A loaded 2-core machine can take seconds to start a Python and far longer
# to start a JVM: bounds, not expectations.
BOUND_S = 60.0
JAVA_BOUND_S = 180.0
POLL_S = 0.02

# Programs the tests run (python -S: no site hooks, a faster start).
SERVER = r"""
import socket, sys
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(8)
print(ls.getsockname()[1], flush=True)
c, _ = ls.accept()
line = b""
while not line.endswith(b"\n"):  # a line server: a request ends at \n or EOF
    data = c.recv(100)
    if not data:
        break
    line += data
c.sendall(line.upper())
"""
CLIENT = """
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(sys.argv[2].encode())
c.recv(100)
"""
RECV_FD = """
import socket, sys
socket.socket(fileno=int(sys.argv[1])).recv(100)
"""
# Listens on two ports, tells the second, accepts on the first.
TWO_LISTENERS = """
import socket
a = socket.socket(); a.bind(("127.0.0.1", 0)); a.listen(8)
b = socket.socket(); b.bind(("127.0.0.1", 0)); b.listen(8)
print(b.getsockname()[1], flush=True)
a.accept()
"""
# Serves one client at a time, reading until the client ends.
ONE_AT_A_TIME = """
import socket
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(8)
print(ls.getsockname()[1], flush=True)
while True:
    c, _ = ls.accept()
    while c.recv(100):
        pass
    c.close()
"""
JAVA = """
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;

public class Blocked {
    public static void main(String[] args) throws Exception {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), Integer.parseInt(args[0]));
        if (args.length > 1) {
            s.setSoTimeout(600000);
        }
        InputStream in = s.getInputStream();
        in.read();
    }
}
"""


def start(code: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-S", "-c", textwrap.dedent(code), *args],
                            stdout=subprocess.PIPE, **kw)


def wait_until(cond, bound: float = BOUND_S):
    """Polls cond() until it returns something true; fails after bound s."""
    deadline = time.monotonic() + bound
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {bound:g} s")
        time.sleep(POLL_S)


def settled(roles: dict[str, list[int]], calls: dict[str, str]):
    """An Observation once every role's Wait has the given call (and no
    thread is runnable), else None: for wait_until."""
    obs = hang.observe_until_runnable(roles)
    if obs is None:
        return None
    ws = {w.role: w for w in hang.waits(obs)}
    if all(r in ws and ws[r].call == c for r, c in calls.items()):
        return obs
    return None


class ProcessTest(unittest.TestCase):
    def spawn(self, code: str, *args: str, **kw) -> subprocess.Popen:
        p = start(code, *args, **kw)
        self.addCleanup(self._end, p)
        return p

    @staticmethod
    def _end(p: subprocess.Popen) -> None:
        try:
            if p.poll() is None:
                p.kill()
        finally:
            p.wait()
            if p.stdout:
                p.stdout.close()

    def port_of(self, p: subprocess.Popen) -> int:
        line = p.stdout.readline()
        self.assertTrue(line, "the program ended before telling its port")
        return int(line)


class Deadlocks(ProcessTest):
    def test_socketpair_both_in_recv(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        cli = self.spawn(RECV_FD, str(a.fileno()), pass_fds=[a.fileno()])
        srv = self.spawn(RECV_FD, str(b.fileno()), pass_fds=[b.fileno()])
        roles = {"client": [cli.pid], "server": [srv.pid]}
        obs = wait_until(lambda: settled(roles, {"client": "recv()", "server": "recv()"}))
        ws = hang.waits(obs)
        self.assertEqual([w.role for w in ws], ["client", "server"])
        for w, end in zip(ws, (a, b)):
            self.assertEqual(w.kind, "read")
            self.assertEqual(w.fd, end.fileno())
            self.assertTrue(w.target.startswith("socket:["), w.target)
            self.assertEqual(w.inode, int(w.target[8:-1]))
        self.assertNotEqual(ws[0].inode, ws[1].inode)
        self.assertTrue(hang.is_hung(ws))
        text = hang.explain(ws, lambda w: None, 1, None)
        self.assertEqual(text, "deadlock after 1 exchange: the client is blocked in recv() "
                               "on its socket and the server in recv() on its socket: "
                               "each waits for the other to send")
        # Two observations of a deadlock are still; the second is taken
        # once the first shows it, so nothing but the kernel stands between.
        later = wait_until(lambda: hang.observe_until_runnable(roles, previous=obs))
        self.assertTrue(hang.still(obs, later), (obs, later))

    def test_loopback_client_and_server_in_recv_with_labels(self):
        srv = self.spawn(SERVER)
        port = self.port_of(srv)
        cli = self.spawn(CLIENT, str(port), "hello")
        roles = {"server": [srv.pid], "client": [cli.pid]}
        obs = wait_until(lambda: settled(roles, {"client": "recv()", "server": "recv()"}))
        ws = hang.waits(obs)
        by = {w.role: w for w in ws}
        # The kernel's table of the client's namespace says which socket is
        # which: the client's connects to the server's port, and both ends
        # were accepted / connected.
        cports = hang.socket_ports(cli.pid)
        self.assertEqual(cports[by["client"].inode][1], port)
        self.assertEqual(cports[by["client"].inode][2], "ESTABLISHED")
        self.assertEqual(hang.socket_ports(srv.pid)[by["server"].inode][0], port)
        self.assertIs(by["client"].accepted, True)
        names = {by["client"].inode: "its connection to the server",
                 by["server"].inode: "the connection"}
        hint = hang.request_hint(b"hello", client_closed=False)
        text = hang.explain([by["client"], by["server"]], lambda w: names.get(w.inode),
                            0, hint)
        self.assertEqual(
            text,
            "deadlock before any exchange: the client is blocked in recv() on its "
            "connection to the server and the server in recv() on the connection: each "
            "waits for the other to send (no newline was sent and the client did not close "
            "its side; the contract ends a request at \\n or EOF)")

    def test_server_in_accept_and_client_on_a_connection_nobody_accepted(self):
        srv = self.spawn(TWO_LISTENERS)
        port = self.port_of(srv)
        cli = self.spawn(CLIENT, str(port), "hi\n")
        roles = {"server": [srv.pid], "client": [cli.pid]}
        obs = wait_until(lambda: settled(roles, {"client": "recv()", "server": "accept()"}))
        by = {w.role: w for w in hang.waits(obs)}
        self.assertEqual(by["server"].kind, "accept")
        self.assertIsNotNone(by["server"].inode)
        self.assertEqual(hang.socket_ports(srv.pid)[by["server"].inode][2], "LISTEN")
        self.assertIs(by["client"].accepted, False)
        text = hang.explain(list(by.values()), lambda w: None, 0, None)
        self.assertEqual(
            text,
            "deadlock before any exchange: the server is blocked in accept() on its "
            "listening socket and the client in recv() on its socket: the client's "
            "connection still sits in a listen queue: nobody accepted it")

    def test_server_busy_with_an_idle_client(self):
        srv = self.spawn(ONE_AT_A_TIME)
        port = self.port_of(srv)
        idle = socket.create_connection(("127.0.0.1", port))  # connects, sends nothing
        self.addCleanup(idle.close)
        # The idle connection accepted first: the server then reads from it.
        wait_until(lambda: settled({"server": [srv.pid]}, {"server": "recv()"}))
        cli = self.spawn(CLIENT, str(port), "hello\n")
        roles = {"server": [srv.pid], "client 2": [cli.pid]}
        obs = wait_until(lambda: settled(roles, {"client 2": "recv()", "server": "recv()"}))
        ws = hang.waits(obs)
        by = {w.role: w for w in ws}
        self.assertIs(by["server"].accepted, True)
        self.assertIs(by["client 2"].accepted, False)
        # What a relaying driver asks about its upstream sockets.
        cport = hang.socket_ports(cli.pid)[by["client 2"].inode][0]
        self.assertIs(hang.connection_accepted(srv.pid, port, cport), False)
        self.assertIs(hang.connection_accepted(srv.pid, port, idle.getsockname()[1]), True)
        self.assertIsNone(hang.connection_accepted(srv.pid, port, 1))
        names = {by["server"].inode: "connection 1 (the idle client's)",
                 by["client 2"].inode: "connection 2"}
        text = hang.explain(ws, lambda w: names.get(w.inode), 1, None)
        self.assertEqual(
            text,
            "deadlock after 1 exchange: the server is blocked in recv() on connection 1 "
            "(the idle client's) and client 2 in recv() on connection 2: the server has "
            "not accepted client 2's connection: it serves one client at a time and is "
            "busy with another connection")

    def test_client_blocked_in_connect_to_a_full_listen_queue(self):
        ls = socket.socket()
        self.addCleanup(ls.close)
        ls.bind(("127.0.0.1", 0))
        ls.listen(0)  # room for one connection, never accepted
        first = socket.create_connection(ls.getsockname())
        self.addCleanup(first.close)
        cli = self.spawn(CLIENT, str(ls.getsockname()[1]), "hi\n")
        roles = {"client": [cli.pid]}
        obs = wait_until(lambda: settled(roles, {"client": "connect()"}))
        [w] = hang.waits(obs)
        port = ls.getsockname()[1]
        self.assertEqual(hang.socket_ports(cli.pid)[w.inode][1:], (port, "SYN_SENT"))
        self.assertEqual(hang.explain([w], lambda w: None, 0, None),
                         "hung before any exchange: the client is blocked in connect() on "
                         "its socket: the client cannot connect: nobody accepts on the "
                         "server's port (its listen queue is full)")

    def test_a_launcher_waiting_for_its_child_is_left_out(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        code = ("import subprocess, sys; subprocess.run([sys.executable, '-S', '-c', "
                f"{textwrap.dedent(RECV_FD)!r}, sys.argv[1]], pass_fds=[int(sys.argv[1])])")
        srv = self.spawn(code, str(b.fileno()), pass_fds=[b.fileno()])
        cli = self.spawn(RECV_FD, str(a.fileno()), pass_fds=[a.fileno()])
        roles = {"server": [srv.pid], "client": [cli.pid]}

        def both():
            obs = hang.observe_until_runnable(roles)
            if obs is None or len(obs.procs) != 3:
                return None
            calls = sorted(w.call for w in hang.waits(obs))
            return obs if calls == ["recv()", "recv()", "wait for a child"] else None

        obs = wait_until(both)
        ws = hang.waits(obs)
        self.assertEqual([w.role for w in ws], ["server", "server", "client"])
        self.assertEqual(ws[0].pid, srv.pid)
        self.assertEqual(ws[0].kind, "child")
        text = hang.explain(ws, lambda w: None, 0, None)
        self.assertEqual(text, "deadlock before any exchange: the server is blocked in recv() "
                               "on its socket and the client in recv() on its socket: each "
                               "waits for the other to send")


class NotHung(ProcessTest):
    def test_spinning_process_is_runnable(self):
        p = self.spawn("while True:\n    pass\n")
        roles = {"client": [p.pid]}
        # Started, and past the interpreter's start (it spins in user space).
        wait_until(lambda: hang.observe(roles).cpu_ns() > 0)
        obs = hang.observe(roles)
        self.assertTrue(obs.runnable())
        self.assertIsNone(hang.observe_until_runnable(roles))
        # Runnable before and now: not a housekeeping blip either.
        self.assertIsNone(hang.observe_until_runnable(roles, previous=obs))
        self.assertFalse(hang.still(obs, hang.observe(roles)))
        ws = hang.waits(obs)
        self.assertEqual(ws[0].call, "running")
        self.assertFalse(hang.is_hung(ws))
        self.assertTrue(hang.explain(ws, lambda w: None, 0, None).startswith("not hung:"))

    def test_sleeping_process_sleeps(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        srv = self.spawn(RECV_FD, str(b.fileno()), pass_fds=[b.fileno()])
        cli = self.spawn("import time\ntime.sleep(600)\n")
        roles = {"server": [srv.pid], "client": [cli.pid]}
        obs = wait_until(lambda: settled(roles, {"client": "sleep", "server": "recv()"}))
        ws = hang.waits(obs)
        self.assertFalse(hang.is_hung(ws))
        self.assertEqual(hang.explain(ws, lambda w: None, 2, None),
                         "not a deadlock: the server is blocked in recv() on its socket and "
                         "the client sleeps: the client goes on when its sleep ends")

    def test_a_process_that_ran_between_observations_is_not_still(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        code = "import socket, sys\ns = socket.socket(fileno=int(sys.argv[1]))\n" \
               "while s.recv(1):\n    pass\n"
        p = self.spawn(code, str(b.fileno()), pass_fds=[b.fileno()])
        roles = {"server": [p.pid]}
        first = wait_until(lambda: settled(roles, {"server": "recv()"}))
        a.sendall(b"x")
        runs = first.procs[0].tasks[0].runs

        def ran_and_blocked_again():
            obs = settled(roles, {"server": "recv()"})
            return obs if obs and obs.procs[0].tasks[0].runs > runs else None

        second = wait_until(ran_and_blocked_again)
        # Same call, same fd, a few microseconds of CPU: only the count of
        # times it was scheduled in tells it woke up.
        self.assertFalse(hang.still(first, second))
        third = wait_until(lambda: settled(roles, {"server": "recv()"}))
        self.assertTrue(hang.still(second, third))

    def test_cpu_growth_beyond_the_slack_is_not_still(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        p = self.spawn(RECV_FD, str(b.fileno()), pass_fds=[b.fileno()])
        roles = {"server": [p.pid]}
        obs = wait_until(lambda: settled(roles, {"server": "recv()"}))
        later = copy.deepcopy(obs)
        later.procs[0].cpu_ns += hang.CPU_SLACK_NS
        self.assertTrue(hang.still(obs, later))
        later.procs[0].cpu_ns += 1
        self.assertFalse(hang.still(obs, later))
        self.assertTrue(hang.still(obs, later, cpu_slack_ns=hang.CPU_SLACK_NS + 1))

    def test_vanished_processes_are_skipped(self):
        p = self.spawn("pass")
        p.wait()
        self.assertEqual(hang.observe({"client": [p.pid]}).procs, [])


@unittest.skipUnless(shutil.which("javac") and shutil.which("java"), "needs javac and java")
class Java(ProcessTest):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        src = Path(cls.tmp.name) / "Blocked.java"
        src.write_text(JAVA, encoding="utf-8")
        subprocess.run(["javac", "-d", cls.tmp.name, str(src)], check=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_jvm_threads_blocked_in_a_socket_read(self):
        ls = socket.socket()
        self.addCleanup(ls.close)
        ls.bind(("127.0.0.1", 0))
        ls.listen(8)
        port = str(ls.getsockname()[1])
        java = ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", self.tmp.name,
                "Blocked"]
        plain = subprocess.Popen(java + [port])
        self.addCleanup(self._end, plain)
        timed = subprocess.Popen(java + [port, "timed"])
        self.addCleanup(self._end, timed)
        held = [ls.accept()[0], ls.accept()[0]]  # accepted: they wait for data
        for c in held:
            self.addCleanup(c.close)
        roles = {"client": [plain.pid], "timed client": [timed.pid]}
        obs = wait_until(lambda: settled(roles, {"client": "read()", "timed client": "poll()"}),
                         JAVA_BOUND_S)
        for p in obs.procs:
            self.assertGreater(len(p.tasks), 5, "a JVM has many threads")
        by = {w.role: w for w in hang.waits(obs)}
        for role, w in by.items():
            # Not the main thread (it waits on a futex for the Java main thread).
            self.assertNotEqual(w.tid, w.pid)
            self.assertEqual(w.kind, "read")
            self.assertIs(w.accepted, True)
            self.assertEqual(hang.socket_ports(w.pid)[w.inode][1], int(port), role)
        self.assertEqual(by["timed client"].fds, (by["timed client"].fd,))
        text = hang.explain(list(by.values()), lambda w: "its connection to the server", 0,
                            None)
        self.assertEqual(text, "deadlock before any exchange: the client is blocked in read() "
                               "on its connection to the server and the timed client in poll() "
                               "on its connection to the server: each waits for the other to "
                               "send")


def obs_of(*tasks: tuple[int, str, str | None, int], cpu: int = 0) -> hang.Observation:
    """One process (pid 10) of (tid, state, call name or None, runs)."""
    ts = [hang.Task(tid, st, hang.SYSCALLS[c] if c else None, (3, 0, 0), "", 0, runs)
          for tid, st, c, runs in tasks]
    return hang.Observation([hang.Proc("client", 10, "java", ts, cpu)])


class Stillness(unittest.TestCase):
    """still()'s allowance for a JVM's housekeeping threads."""

    def test_housekeeping_thread_caught_running(self):
        a = obs_of((10, "S", "futex", 1), (11, "S", "read", 5), (12, "S", "futex", 7))
        b = obs_of((10, "S", "futex", 1), (11, "S", "read", 5), (12, "R", None, 8), cpu=10**5)
        self.assertTrue(b.runnable())
        self.assertTrue(hang.still(a, b))
        self.assertTrue(hang.still(b, a))
        # ... and a new thread that started running in between.
        c = obs_of((10, "S", "futex", 1), (11, "S", "read", 5), (12, "S", "futex", 9),
                   (13, "R", None, 1))
        self.assertTrue(hang.still(a, c))

    def test_what_is_busy(self):
        a = obs_of((10, "S", "futex", 1), (11, "S", "read", 5), (12, "S", "futex", 7))
        running_twice = obs_of((10, "S", "futex", 1), (11, "S", "read", 5), (12, "R", None, 8))
        self.assertFalse(hang.still(running_twice, running_twice))
        io_thread_ran = obs_of((10, "S", "futex", 1), (11, "R", None, 6), (12, "S", "futex", 7))
        self.assertFalse(hang.still(a, io_thread_ran))
        io_thread_woke = obs_of((10, "S", "futex", 1), (11, "S", "read", 6), (12, "S", "futex", 7))
        self.assertFalse(hang.still(a, io_thread_woke))
        over_slack = obs_of((10, "S", "futex", 1), (11, "S", "read", 5), (12, "R", None, 8),
                            cpu=hang.CPU_SLACK_NS + 1)
        self.assertFalse(hang.still(a, over_slack))
        # Without a quiet thread in I/O, a runnable thread is work.
        x = obs_of((10, "S", "futex", 1), (12, "S", "futex", 7))
        y = obs_of((10, "S", "futex", 1), (12, "R", None, 8))
        self.assertFalse(hang.still(x, y))
        self.assertTrue(hang.still(x, x))
        other_call = obs_of((10, "S", "futex", 1), (11, "S", "accept", 5), (12, "S", "futex", 7))
        self.assertFalse(hang.still(a, other_call))
        fewer = obs_of((10, "S", "futex", 1))
        self.assertTrue(hang.still(fewer, fewer))
        self.assertFalse(hang.still(a, hang.Observation([])))


class Words(unittest.TestCase):
    """explain() and its helpers on hand-made waits and relay events."""

    def w(self, role, call, kind, inode=None, **kw):
        return hang.Wait(role, 100, call, 3, f"socket:[{inode}]" if inode else "", inode,
                         kind=kind, **kw)

    def test_send_buffer_full(self):
        ws = [self.w("client", "send() (buffer full)", "write", 7),
              self.w("server", "send() (buffer full)", "write", 8)]
        self.assertEqual(hang.explain(ws, lambda w: None, 3, None),
                         "deadlock after 3 exchanges: the client is blocked in send() (buffer "
                         "full) on its socket and the server in send() (buffer full) on its "
                         "socket: each is sending and neither reads: both buffers are full")

    def test_connect_and_stdin(self):
        self.assertEqual(
            hang.explain([self.w("client", "connect()", "connect", 7)], None, 0, None),
            "hung before any exchange: the client is blocked in connect() on its socket: "
            "the client cannot connect: nobody accepts on the server's port (its listen "
            "queue is full)")
        w = hang.Wait("client", 5, "read() on stdin", 0, "pipe:[9]", None, kind="read")
        self.assertEqual(hang.explain([w], None, 0, None),
                         "hung before any exchange: the client is blocked in read() on stdin: "
                         "the client waits for input on stdin that never comes (nobody "
                         "closed it)")

    def test_roles_read_as_subjects(self):
        self.assertEqual(hang._who("server"), "the server")
        self.assertEqual(hang._who("client 2"), "client 2")
        self.assertEqual(hang._who("before step 1"), "the program before step 1")

    def test_wchan_names_the_call_when_syscall_is_unreadable(self):
        for wchan, call in (("inet_csk_accept", "accept"), ("futex_do_wait", "futex"),
                            ("poll_schedule_timeout.constprop.0", "poll"),
                            ("hrtimer_nanosleep", "nanosleep"), ("wait_woken", "")):
            t = hang.Task(1, "S", None, (), wchan)
            self.assertEqual(t.call, call, wchan)

    def test_hint_and_exchanges_from_relay_events(self):
        from harness.run.relay import Connection, Event
        from harness.spec.transcript import CLIENT, DATA, EOF, SERVER
        c = Connection(1, "127.0.0.1:1")
        c.events = [Event(0, CLIENT, DATA, b"abc\n"), Event(0, SERVER, DATA, b"ABC\n"),
                    Event(0, CLIENT, DATA, b"de"), Event(0, CLIENT, DATA, b"f")]
        self.assertEqual(hang.count_exchanges([c]), 1)
        sent, closed = hang.last_request(c)
        self.assertEqual((sent, closed), (b"def", False))
        self.assertEqual(hang.request_hint(sent, closed),
                         "no newline was sent and the client did not close its side; the "
                         "contract ends a request at \\n or EOF")
        c.events.append(Event(0, CLIENT, EOF))
        self.assertIsNone(hang.request_hint(*hang.last_request(c)))
        self.assertIsNone(hang.request_hint(b"abc\n", False))
        self.assertEqual(hang.request_hint(b"", False),
                         "the client sent nothing and did not close its side")


if __name__ == "__main__":
    unittest.main()
