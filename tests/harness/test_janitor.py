"""The janitor: what a driver killed with SIGKILL leaves is removed (its
processes by PID and start time, its named namespaces, its scratch
folders), and nothing is touched when the driver said goodbye."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import support
from harness.run import janitor, netns, processes, procnet

RANGE = support.PORT_RANGES["cli"]


def start_janitor() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-S", "-E", janitor.__file__],
                            stdin=subprocess.PIPE, start_new_session=True)


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while procnet.alive(pid):
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


class JanitorTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="test-janitor-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def sleeper(self) -> subprocess.Popen:
        p = subprocess.Popen(["sleep", "60"], start_new_session=True)
        self.addCleanup(lambda: (p.kill(), p.wait()))
        return p

    def test_eof_without_bye_removes_what_was_registered(self):
        victim = self.sleeper()
        folder = self.tmp / "scratch"
        (folder / "deep").mkdir(parents=True)
        outside = self.tmp / "outside"
        outside.write_text("keep")
        (folder / "link").symlink_to(outside)
        j = start_janitor()
        j.stdin.write(f"pid {victim.pid} {janitor.start_time(victim.pid)}\n"
                      f"dir {folder}\n".encode())
        j.stdin.close()  # the driver died
        self.assertEqual(j.wait(timeout=30), 0)
        self.assertEqual(victim.wait(timeout=10), -signal.SIGKILL)
        self.assertFalse(folder.exists())
        self.assertEqual(outside.read_text(), "keep")  # a link is removed, not followed

    @unittest.skipUnless(os.geteuid() == 0, "mounting a tmpfs needs root")
    def test_a_registered_mount_is_detached_before_its_folder_is_removed(self):
        # The tmpfs on the scratch folder of a program sandboxed outside a
        # cell (runner._scratch_on_tmpfs): a folder with a mount on it
        # cannot be removed, and the mount would outlive the run.
        from harness.run import sandbox
        folder = self.tmp / "scratch"
        folder.mkdir()
        sandbox.mount_tmpfs(folder, 1)
        self.addCleanup(sandbox.unmount, folder)
        (folder / "written").write_text("x")
        j = start_janitor()
        j.stdin.write(f"mount {folder}\ndir {folder}\n".encode())
        j.stdin.close()  # the driver died
        self.assertEqual(j.wait(timeout=30), 0)
        with open("/proc/self/mountinfo") as f:
            self.assertNotIn(f" {folder} ", f.read())
        self.assertFalse(folder.exists())

    def test_a_recycled_pid_is_left_alone(self):
        victim = self.sleeper()
        j = start_janitor()
        start = int(janitor.start_time(victim.pid))
        j.stdin.write(f"pid {victim.pid} {start + 1}\n".encode())
        j.stdin.close()
        self.assertEqual(j.wait(timeout=30), 0)
        self.assertIsNone(victim.poll())

    def test_bye_leaves_everything(self):
        victim = self.sleeper()
        folder = self.tmp / "kept"
        folder.mkdir()
        j = start_janitor()
        j.stdin.write(f"pid {victim.pid} {janitor.start_time(victim.pid)}\ndir {folder}\n"
                      "bye\n".encode())
        j.stdin.close()
        self.assertEqual(j.wait(timeout=30), 0)
        self.assertIsNone(victim.poll())
        self.assertTrue(folder.exists())

    @unittest.skipIf(netns.unavailable() is not None, "named namespaces need root and ip")
    def test_named_namespace_and_its_processes(self):
        name = f"slj-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.addCleanup(subprocess.run, ["ip", "netns", "delete", name], capture_output=True)
        inside = subprocess.Popen(["ip", "netns", "exec", name, "sleep", "60"],
                                  start_new_session=True)
        self.addCleanup(lambda: (inside.kill(), inside.wait()))
        j = start_janitor()
        j.stdin.write(f"ns {name}\n".encode())
        j.stdin.close()
        self.assertEqual(j.wait(timeout=30), 0)
        self.assertEqual(inside.wait(timeout=10), -signal.SIGKILL)
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        self.assertNotIn(name, names.split())

    def test_watching_dismisses_at_the_end(self):
        folder = self.tmp / "run"
        folder.mkdir()
        with janitor.watching():
            with janitor.watching():
                janitor.folder(folder)
                proc = janitor._proc
                self.assertIsNotNone(proc)
            self.assertIs(janitor._proc, proc)  # the outer extent keeps it
        self.assertIsNone(janitor._proc)
        self.assertEqual(proc.returncode, 0)
        self.assertTrue(folder.exists())  # goodbye: the owner removes it


class DriverKilledTest(support.HarnessTestCase):
    port_range = RANGE

    def test_sigkill_of_the_driver_leaves_nothing(self):
        # Cells whose servers and clients hang: the run is mid-flight when
        # the driver is killed, with processes in cells and (as root) on
        # the shared network in two-hosts namespaces.
        m = support.fake_matrix(self.tmp / "m", {"hang": "hang"}, {"echo": "echo"},
                                "stdin: 'Hello'\nstdout: 'Hello'\nclients: 2\ntimeout_s: 60\n"
                                "cell_timeout_s: 120")
        two_hosts = netns.unavailable() is None
        tmpdir = self.tmp / "tmpdir"
        tmpdir.mkdir()
        processes.become_subreaper()  # the driver's orphans come here
        env = dict(os.environ, TMPDIR=str(tmpdir))
        argv = [sys.executable, "-m", "harness", "run", "--matrix", str(m.path),
                "--out", str(self.tmp / "out"), "--ports", f"{RANGE[0]}-{RANGE[1]}",
                "--jobs", "4", "--mode", "plain,two-hosts" if two_hosts else "plain"]
        p = subprocess.Popen(argv, cwd=support.ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            want = 2 * (2 if two_hosts else 1)
            while time.monotonic() < deadline and p.poll() is None:
                kids = procnet.descendants(p.pid)
                clients = [k for k in kids if b"client.py" in support.cmd(k)]
                if len(clients) >= want:
                    break
                time.sleep(0.01)
            self.assertIsNone(p.poll(), "the run ended before it could be killed")
            names = _namespaces(p.pid)
            if two_hosts:
                self.assertTrue(names, "no two-hosts namespace while its cell runs")
            self.assertTrue(list(tmpdir.glob("harness-*")), "no scratch folder while running")
            p.kill()
            p.wait()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            except ChildProcessError:
                pass
            left = [k for k in procnet.descendants(os.getpid()) if procnet.alive(k)]
            if not left and not _namespaces(p.pid) and not list(tmpdir.iterdir()):
                break
            time.sleep(0.02)
        self.assertEqual([(k, support.cmd(k)) for k in left], [])
        self.assertEqual(_namespaces(p.pid), [])
        self.assertEqual(list(tmpdir.iterdir()), [])
        # Sockets of ours only: another clone's make test may use the range.
        mine = procnet.socket_inodes([os.getpid(), *left])
        listening = [s for t in ("tcp", "udp") for s in procnet.sockets(t)
                     if s.bound and s.inode in mine and RANGE[0] <= s.port <= RANGE[1]]
        self.assertEqual(listening, [])


def _namespaces(pid: int) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [ln.split()[0] for ln in out.splitlines()
            if ln.startswith((f"slh-{pid}-", f"slhs-{pid}-"))]


if __name__ == "__main__":
    unittest.main()
