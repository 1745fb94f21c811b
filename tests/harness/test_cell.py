"""The cell's holder starts every program of the cell (harness/run/cell.py):
the program's exit status, its output, its session and its working folder
come back as if the driver had started it; a program that cannot run says
why; and a closed cell leaves the driver nothing to reap (the holder, PID 1
of the cell, is re-parented to the driver, its subreaper, when bwrap ends
first, and must be reaped, or it stays a zombie until the driver exits)."""

import asyncio
import os
import signal
import socket
import sys
import tempfile
import time
import unittest
from pathlib import Path
from unittest import mock

import support
from harness.run import cell as isolation
from harness.run import clock, processes, procnet

SL_CELL = str(Path(os.environ.get("SL_BUILD_DIR") or support.ROOT / "build")
              / "c" / "cell" / "sl-cell")
SUPPORT = isolation.support(SL_CELL)
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def zombie_children(besides: set[int]) -> list[int]:
    """This process's zombie children, but the ones asyncio started."""
    out = []
    for pid in procnet.children(os.getpid()):
        st = procnet.stat(pid)
        if st is not None and st.state == "Z" and pid not in besides:
            out.append(pid)
    return out


async def in_cell(argv: list[str], cwd: str = "/", stdin: bytes | None = None,
                  limits: tuple[str, ...] = ()) -> processes.Child:
    """Runs argv in a cell of its own until it ends; returns it."""
    processes.adopt_orphans()
    c = await isolation.Cell.start(SL_CELL, [str(support.ROOT)])
    try:
        child = await processes.spawn(argv, cwd, ENV, stdin,
                                      inside=processes.Inside(c, limits))
        await child.wait(30.0)
        await child.finish_output()
        return child
    finally:
        await c.close()


@unittest.skipUnless(SUPPORT.ok, f"cells cannot be made here: {SUPPORT.why}")
class ProgramTest(unittest.TestCase):
    def test_exit_status_output_and_folder(self):
        child = asyncio.run(in_cell(
            ["sh", "-c", 'read x; echo "$x in $(pwd) pid $$"; echo err >&2; exit 3'],
            cwd="/tmp/cell", stdin=b"hello\n"))
        self.assertEqual(child.proc.returncode, 3)
        # PID 1 is the holder, so the program's pid inside is above it.
        self.assertRegex(child.stdout.data().decode(), r"^hello in /tmp/cell pid [2-9]\d*\n$")
        self.assertEqual(child.stderr.data(), b"err\n")

    def test_signal_and_session(self):
        async def go() -> tuple[processes.Child, bool]:
            processes.adopt_orphans()
            c = await isolation.Cell.start(SL_CELL, [str(support.ROOT)])
            try:
                child = await processes.spawn(["sleep", "60"], "/", ENV,
                                              inside=processes.Inside(c))
                st = procnet.stat(child.pid)
                leads = st is not None and os.getsid(child.pid) == child.pid \
                    and os.getpgid(child.pid) == child.pid
                await child.stop(1.0)  # SIGTERM to its group, from the driver
                return child, leads
            finally:
                await c.close()

        child, leads = asyncio.run(go())
        self.assertTrue(leads, "the program does not lead its own session and group")
        self.assertEqual(child.proc.returncode, -signal.SIGTERM)

    def test_a_program_that_cannot_run_says_why(self):
        child = asyncio.run(in_cell(["/nonexistent/prog"]))
        self.assertEqual(child.proc.returncode, 127)
        self.assertIn(b"cannot run /nonexistent/prog", child.stderr.data())
        child = asyncio.run(in_cell(["true"], cwd="/nonexistent"))
        self.assertEqual(child.proc.returncode, 125)
        self.assertIn(b"/nonexistent", child.stderr.data())

    def test_limits_apply_to_the_program(self):
        child = asyncio.run(in_cell(["sh", "-c", "ulimit -n; ulimit -t; "
                                                 "cat /proc/self/oom_score_adj"],
                                    limits=("--nofile", "64", "--cpu", "7")))
        self.assertEqual(child.proc.returncode, 0, child.stderr.data())
        # The OOM killer's first choice (the holder's, inherited): memory
        # is capped per process only.
        self.assertEqual(child.stdout.data(), b"64\n7\n1000\n")

    def test_a_sandboxed_program_gets_the_seccomp_filter(self):
        # Whatever its other limits: the filter comes with any of them.
        # Refused whatever the uid (a root driver's cell runs the program
        # as root here: no --uid), and threads and children still start.
        prog = [sys.executable, "-I", str(support.ROOT / "tests/hostile/syscalls.py")]
        child = asyncio.run(in_cell(prog, limits=("--nofile", "64")))
        out = child.stdout.data().decode()
        self.assertEqual(child.proc.returncode, 0, out + child.stderr.data().decode())
        for name in ("ptrace", "process_vm_readv", "unshare", "clone", "setns", "mount",
                     "bpf", "perf_event_open", "userfaultfd", "keyctl"):
            self.assertIn(f"{name}: EPERM\n", out)
        for name in ("clone3", "io_uring_setup"):  # libraries fall back
            self.assertIn(f"{name}: ENOSYS\n", out)
        self.assertIn("thread: ok\nchild: ok\nSeccomp:\t2\n", out)
        # A program without limits (a reference peer) has no filter, but
        # like every process of a cell it goes before the driver.
        child = asyncio.run(in_cell(["sh", "-c", "grep ^Seccomp: /proc/self/status; "
                                                 "cat /proc/self/oom_score_adj"]))
        self.assertEqual(child.stdout.data(), b"Seccomp:\t0\n1000\n")

    def test_many_programs_started_at_once(self):
        # More requests than the control socket holds (a 1,000-client
        # cell): the senders queue for it, none is lost or left waiting.
        async def go() -> list[int | None]:
            processes.adopt_orphans()
            c = await isolation.Cell.start(SL_CELL, [str(support.ROOT)])
            try:
                env = dict(ENV, PADDING="x" * 2000)
                kids = await asyncio.wait_for(asyncio.gather(*(
                    processes.spawn(["sh", "-c", f"exit {i % 7}"], "/", env,
                                    inside=processes.Inside(c)) for i in range(600))), 60)
                for k in kids:
                    await k.wait(30.0)
                    await k.finish_output()
                return [k.proc.returncode for k in kids]
            finally:
                await c.close()

        self.assertEqual(asyncio.run(go()), [i % 7 for i in range(600)])

    def test_the_holder_reaps_orphans(self):
        # The program's child outlives it, is re-parented to the holder
        # (PID 1 of the cell) and ends there: the holder reaps it, so no
        # zombie is left in the cell.
        async def go() -> list[str]:
            processes.adopt_orphans()
            c = await isolation.Cell.start(SL_CELL, [str(support.ROOT)])
            try:
                prog = await processes.spawn(["sh", "-c", "(sleep 0.3; exit 4) & exit 0"], "/",
                                             ENV, inside=processes.Inside(c))
                await prog.wait(10.0)
                await prog.finish_output()

                def states() -> list[str]:
                    return [st.state for p in procnet.descendants(c.holder)
                            if (st := procnet.stat(p)) is not None]

                await clock.poll_until(lambda: not states(), 10.0)
                return states()
            finally:
                await c.close()

        self.assertEqual(asyncio.run(go()), [], "the cell kept children of its holder")

    def test_stop_finds_the_group_among_the_cells_processes(self):
        # The leader exits at once and leaves a child in its group that
        # ignores SIGTERM: the driver finds it by looking at the cell's
        # processes only (no scan of the machine) and stop() kills it.
        async def go() -> tuple[int, list[int], list[int], list[int]]:
            processes.adopt_orphans()
            c = await isolation.Cell.start(SL_CELL, [str(support.ROOT)])
            try:
                prog = await processes.spawn(
                    ["sh", "-c", "(trap '' TERM; exec sleep 60) & echo $!"], "/", ENV,
                    inside=processes.Inside(c))
                await prog.wait(10.0)
                await clock.poll_until(lambda: bool(prog.members()), 10.0)
                found = [s.pgrp for s in prog.members()]
                await prog.stop(grace=0.3)
                await prog.finish_output()
                return (prog.pid, found, [s.pid for s in prog.members()],
                        [s.pid for s in c.leftovers()])
            finally:
                await c.close()

        leader, found, after, left = asyncio.run(go())
        self.assertEqual(found, [leader])
        self.assertEqual(after, [])
        self.assertEqual(left, [], "stop() left the leader's group member in the cell")

    def test_the_cell_ending_ends_the_program_with_sigkill(self):
        async def go() -> processes.Child:
            processes.adopt_orphans()
            c = await isolation.Cell.start(SL_CELL, [str(support.ROOT)])
            child = await processes.spawn(["sleep", "60"], "/", ENV,
                                          inside=processes.Inside(c))
            await c.close()
            await child.wait(10.0)
            return child

        child = asyncio.run(go())
        self.assertEqual(child.proc.returncode, -signal.SIGKILL)


@unittest.skipUnless(SUPPORT.ok, f"cells cannot be made here: {SUPPORT.why}")
class CellEndTest(unittest.TestCase):
    def test_closed_cells_leave_no_zombie(self):
        async def go() -> tuple[list[int], bool]:
            processes.adopt_orphans()
            cells = [await isolation.Cell.start(SL_CELL, [str(support.ROOT)]) for _ in range(3)]
            ours = {c.proc.pid for c in cells}
            prog = await processes.spawn(["sleep", "60"], "/", ENV,
                                         inside=processes.Inside(cells[0]))
            # bwrap killed alone re-parents the holder (alive, with the
            # program below it) to this process.
            os.kill(cells[0].proc.pid, signal.SIGKILL)
            await processes.ended(cells[0].proc)
            adopted = cells[0].holder in procnet.children(os.getpid())
            for c in cells:
                await c.close()  # the program dies with its cell
            await prog.wait(10.0)
            await prog.finish_output()
            return zombie_children(ours), adopted

        left, adopted = asyncio.run(go())
        self.assertTrue(adopted, "the holder was not re-parented to the test")
        self.assertEqual(left, [], "zombies left after the cells were closed: "
                         + ", ".join(support.cmd(p).decode("utf-8", "replace") or str(p)
                                     for p in left))


class ChannelTest(unittest.TestCase):
    """Requests to the holder wait as long as it shows a sign of life: the
    test plays the holder on the other end of the control socket."""

    TIMEOUT_S = 1.5

    def ask_all(self, n: int, pace_s: float | None) -> tuple[list, float]:
        """n requests at once to a holder that answers one every pace_s
        (None: never); returns each one's answer or error, and the wall."""
        async def holder(sock: socket.socket) -> None:
            loop = asyncio.get_running_loop()
            while True:
                req = await loop.sock_recv(sock, 4096)
                if not req:
                    return
                if pace_s is None:
                    continue
                await asyncio.sleep(pace_s)  # a starved holder's pace, the subject here
                rid = req[1:req.index(b"\0")]
                await loop.sock_sendall(sock, b"s" + rid + b" ok")

        async def go() -> tuple[list, float]:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            ours.setblocking(False)
            theirs.setblocking(False)
            chan = isolation.Channel(ours)
            fake = asyncio.ensure_future(holder(theirs))
            t0 = time.monotonic()
            try:
                got = await asyncio.gather(*(chan.ask(b"s", b"2 1") for _ in range(n)),
                                           return_exceptions=True)
                return got, time.monotonic() - t0
            finally:
                fake.cancel()
                chan.fail("closed")
                ours.close()
                theirs.close()

        with mock.patch.object(isolation, "ANSWER_TIMEOUT_S", self.TIMEOUT_S):
            return asyncio.run(go())

    def test_a_slow_holder_answers_every_request(self):
        # The last answer comes twice the timeout after the requests were
        # made, but the holder answered one every tenth of it.
        got, wall = self.ask_all(20, self.TIMEOUT_S / 10)
        self.assertEqual(got, [(b"sok", [])] * 20)
        self.assertGreater(wall, 2 * self.TIMEOUT_S * 0.9)

    def test_a_silent_holder_fails_the_request_in_words(self):
        got, wall = self.ask_all(3, None)
        for g in got:
            self.assertIsInstance(g, isolation.CellError)
            self.assertEqual(str(g), "the cell's holder gave no answer: nothing came from it "
                                     "in 1.5 s")
        self.assertGreaterEqual(wall, self.TIMEOUT_S)


_OUTSIDE_SYSTEM = isolation._outside_system  # BindsTest patches it


class BindsTest(unittest.TestCase):
    """bwrap's options for what a cell sees of the host's files."""

    def setUp(self):
        # The machine's own folders of / and where this repository is (a
        # clone under /tmp is bound in) are not this test's subject.
        for p in (mock.patch.object(isolation, "_outside_system", return_value=[]),
                  mock.patch.object(isolation, "_REPOSITORY", "")):
            p.start()
            self.addCleanup(p.stop)

    def test_a_hidden_folder_shows_only_what_the_programs_name(self):
        with tempfile.TemporaryDirectory(dir="/var/tmp") as d:
            cls = Path(d, "class")
            for name in ("alice", "bob"):
                (cls / name).mkdir(parents=True)
            (cls / "alice" / "server.py").write_text("")
            binds = isolation._binds([str(cls / "alice" / "server.py"), "/usr/bin/env"],
                                     [str(cls), "/", "/tmp", "/var"])
            self.assertEqual(binds, ["--tmpfs", str(cls),
                                     "--ro-bind", str(cls / "alice"), str(cls / "alice"),
                                     "--remount-ro", str(cls)])

    def test_under_tmp_only_what_the_programs_need(self):
        # The cell's /tmp is its own: of the host's, only the student's
        # folder, never what lies beside it (a classmate, a secret in the
        # same temporary folder); the class masked around it as before.
        with tempfile.TemporaryDirectory(dir="/tmp") as d:
            cls = Path(d, "class")
            for name in ("alice", "bob"):
                (cls / name).mkdir(parents=True)
            Path(d, "secret.txt").write_text("")
            alice = str(cls / "alice")
            binds = isolation._binds([alice], [str(cls)])
            self.assertEqual(binds, ["--perms", "0700", "--dir", d,
                                     "--perms", "0755", "--dir", str(cls),
                                     "--ro-bind", alice, alice,
                                     "--tmpfs", str(cls), "--ro-bind", alice, alice,
                                     "--remount-ro", str(cls)])

    def test_a_repository_under_tmp_is_there_whole(self):
        # A clone in /tmp: its peers import its libraries (peers/python)
        # though their command lines name only their own folders.
        with tempfile.TemporaryDirectory(dir="/tmp") as d:
            repo = Path(d, "clone")
            (repo / "peers/raw").mkdir(parents=True)
            (repo / "peers/raw/client.py").write_text("")
            with mock.patch.object(isolation, "_REPOSITORY", str(repo)):
                binds = isolation._binds([str(repo / "peers/raw/client.py")])
            self.assertEqual(binds, ["--perms", "0700", "--dir", d,
                                     "--ro-bind", str(repo), str(repo)])

    def test_folders_outside_the_system_show_only_what_the_programs_need(self):
        with tempfile.TemporaryDirectory(dir="/var/tmp") as d:
            home = Path(d, "home")
            for sub in ("t/.ssh", "t/course/alice", "t/jdk/bin", "t/jdk/lib", "t/bin"):
                (home / sub).mkdir(parents=True)
            (home / "t").chmod(0o711)
            (home / "t/course/alice/server.py").write_text("")
            (home / "t/jdk/bin/java").write_text("")
            (home / "t/peer.py").write_text("")
            with mock.patch.object(isolation, "_outside_system", return_value=[str(home)]), \
                    mock.patch.object(isolation, "_homes", return_value={f"{home}/t"}), \
                    mock.patch.dict(os.environ, {"PATH": f"{home}/t/jdk/bin:{home}/t/bin:/usr/bin"}):
                binds = isolation._binds([str(home / "t/course/alice/server.py"), "relative.py",
                                          str(home / "t/peer.py"), "/usr/bin/env"],
                                         writable=[f"{d}/w"])
            # The student's folder, the installation holding a program of
            # PATH (above its bin/), with the folders on the way made with
            # their modes; of the teacher's home folder t itself only a
            # file named in it and ~/bin, never the whole folder.
            self.assertEqual(binds, [
                "--tmpfs", str(home),
                "--perms", "0711", "--dir", f"{home}/t",
                "--ro-bind", f"{home}/t/bin", f"{home}/t/bin",
                "--perms", "0755", "--dir", f"{home}/t/course",
                "--ro-bind", f"{home}/t/course/alice", f"{home}/t/course/alice",
                "--ro-bind", f"{home}/t/jdk", f"{home}/t/jdk",
                "--ro-bind", f"{home}/t/peer.py", f"{home}/t/peer.py",
                "--bind", f"{d}/w", f"{d}/w",
                "--remount-ro", str(home)])

    def test_a_folder_outside_the_system_that_a_program_needs_whole_is_shown(self):
        with tempfile.TemporaryDirectory(dir="/var/tmp") as d:
            with mock.patch.object(isolation, "_outside_system", return_value=[d]):
                self.assertEqual(isolation._binds([d]), [])

    def test_the_folders_of_slash_outside_the_system(self):
        # /bin is a link (merged /usr), /.dockerenv a file, /srv empty,
        # /root closed to others (a root driver's sandbox uid cannot
        # enter it): none is hidden.
        names = ["usr", "etc", "home", "srv", "bin", "proc", "work", ".dockerenv", "root"]
        modes = {"/root": 0o40700}

        def listdir(p):
            return names if p == "/" else [] if p == "/srv" else ["x"]

        with mock.patch("os.listdir", side_effect=listdir), \
                mock.patch("os.path.islink", side_effect=lambda p: p == "/bin"), \
                mock.patch("os.path.isdir", side_effect=lambda p: p != "/.dockerenv"), \
                mock.patch("os.stat", side_effect=lambda p: mock.Mock(
                    st_mode=modes.get(p, 0o40755))), \
                mock.patch("os.geteuid", return_value=0):
            self.assertEqual(_OUTSIDE_SYSTEM(), ["/home", "/work"])


if __name__ == "__main__":
    unittest.main()
