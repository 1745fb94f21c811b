"""The hostile class (tests/hostile/): one program per attack a student
might try, run through the driver as sandboxed peers of an isolated cell
(harness/run/cell.py + c/cell/cell.c, harness/run/sandbox.py). docs/security.md
names the claim each test makes.

Every attack must be contained (the program's own report says it failed),
reported in words (the cell's verdict is fail or error with a reason that
says what happened), leave nothing behind (no process, namespace, mount,
uid or folder of the run), and finish within its timeouts.

Runs as root (sandboxed programs get their own uid) and, through the ctest
entry harness_hostile_unprivileged, as an unprivileged user (cells get a
user namespace; programs keep the user's uid). An attack the present code
does not contain is marked expectedFailure with what leaks.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from pathlib import Path
from unittest import mock

import support
from harness.run import cell as isolation
from harness.run import procnet, runner, sandbox
from harness.spec import matrix

HOSTILE = support.ROOT / "tests" / "hostile"
ROOT_DRIVER = os.geteuid() == 0
PORTS = (17500, 17999)  # only used when cells cannot be isolated (then skipped)
SCENARIO = {"stdin": "Hello", "stdout": "Hello", "timeout_s": 5, "cell_timeout_s": 20}
HOSTILE_UID_BASE = sandbox.UID_BASE + sandbox.UID_COUNT // 2
WALL_SLACK_S = 15.0  # the run's own start and cleanup on top of the cell's limit


def _sl_cell() -> str:
    return str(Path(os.environ.get("SL_BUILD_DIR") or support.ROOT / "build")
               / "c" / "cell" / "sl-cell")


SUPPORT = isolation.support(_sl_cell())
needs_cells = unittest.skipUnless(SUPPORT.ok, f"cells cannot be made here: {SUPPORT.why}")


def expected_failure_if(cond: bool):
    """expectedFailure only when cond holds (an attack contained as root
    but not as a user, or the other way round)."""
    return unittest.expectedFailure if cond else (lambda f: f)


def _yaml_scalar(v) -> str:
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))  # JSON strings are YAML double-quoted scalars


def hostile_matrix(root: Path, server: str, client: str, server_sandbox: bool,
                   client_sandbox: bool, scenario: dict) -> matrix.Matrix:
    """One protocol `echo`, one scenario `attack`, one server and one client."""
    lines = []
    for k, v in scenario.items():
        if isinstance(v, dict):
            lines.append(f"{k}:")
            lines += [f"  {kk}: {_yaml_scalar(vv)}" for kk, vv in v.items()]
        elif isinstance(v, list):
            lines.append(f"{k}: [{', '.join(_yaml_scalar(x) for x in v)}]")
        else:
            lines.append(f"{k}: {_yaml_scalar(v)}")
    sc = "\n".join("        " + ln for ln in lines)
    body = (f"version: 1\npeers:\n"
            f"  s:\n    sandbox: {str(server_sandbox).lower()}\n    server: {_yaml_scalar(server)}\n"
            f"  c:\n    sandbox: {str(client_sandbox).lower()}\n    client: {_yaml_scalar(client)}\n"
            f"protocols:\n  echo:\n    transport: tcp\n    scenarios:\n      attack:\n{sc}\n")
    path = support.write_matrix(root, body, {"echo/attack": support.ECHO_GOLDEN})
    return matrix.load(path, root)


def _ns_ids(pid: int) -> set[str]:
    out = set()
    for kind in ("net", "mnt", "pid", "ipc", "uts", "user"):
        try:
            out.add(os.readlink(f"/proc/{pid}/ns/{kind}"))
        except OSError:
            pass
    return out


def _mountinfo() -> set[str]:
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        return set(f.read().splitlines())


def _uid_of(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _started_at(pid: int) -> float:
    """A process's start, in CLOCK_BOOTTIME seconds (inf if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return float("inf")
    return int(data[data.rfind(b")") + 2:].split()[19]) / os.sysconf("SC_CLK_TCK")


class Recorder:
    """What a run made that must be gone afterwards: the namespaces of its
    cells (read from each cell's holder while it runs), the uids it took
    and the folders it created."""

    def __init__(self):
        self.ns: set[str] = set()
        self.uids: list[int] = []
        self.dirs: list[str] = []
        self.holders: list[int] = []
        self.closed_at = 0.0  # CLOCK_BOOTTIME when the last cell was closed

    def patches(self):
        rec = self
        start, acquire, mkdtemp = isolation.Cell.start, sandbox.UidPool.acquire, tempfile.mkdtemp
        close = isolation.Cell.close

        async def cell_close(self_):
            await close(self_)
            rec.closed_at = time.clock_gettime(time.CLOCK_BOOTTIME)

        async def cell_start(*a, **kw):
            c = await start(*a, **kw)
            rec.holders.append(c.holder)
            ids = _ns_ids(c.holder)
            own = _ns_ids(os.getpid())
            rec.ns.update(i for i in ids - own if i.startswith("net:"))  # the cell's own
            return c

        def uid_acquire(self_, *a, **kw):
            # Upper half of the uid range: drivers with another TMPDIR lock
            # uids elsewhere and start at 64000 (docs/security.md), and
            # would kill this test's programs as theirs.
            self_.base, self_.count = HOSTILE_UID_BASE, sandbox.UID_COUNT // 2
            uid = acquire(self_, *a, **kw)
            rec.uids.append(uid)
            return uid

        def make_dir(*a, **kw):
            d = mkdtemp(*a, **kw)
            rec.dirs.append(d)
            return d

        return [mock.patch.object(isolation.Cell, "start", cell_start),
                mock.patch.object(sandbox.UidPool, "acquire", uid_acquire),
                mock.patch.object(runner.tempfile, "mkdtemp", make_dir),
                mock.patch.object(isolation.Cell, "close", cell_close)]


@needs_cells
class HostileTest(support.HarnessTestCase):
    port_range = PORTS

    @classmethod
    def setUpClass(cls):
        # Compiled programs and files other cells must not see live outside
        # the test's own folder (which the cells bind in, read-only).
        cls.bin = Path(tempfile.mkdtemp(prefix="hostile-bin-"))
        os.chmod(cls.bin, 0o755)
        cls.forkbomb = None
        if shutil.which("cc"):
            exe = cls.bin / "forkbomb"
            r = subprocess.run(["cc", "-O1", "-o", str(exe), str(HOSTILE / "forkbomb.c")],
                               capture_output=True, text=True)
            if r.returncode == 0:
                cls.forkbomb = exe

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.bin, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.token = f"hostile-{os.getpid()}-{uuid.uuid4().hex[:10]}"
        os.chmod(self.tmp, 0o755)  # the sandbox user reads the matrix's goldens below it

    # ------------------------------------------------------------------ running

    def py(self, name: str, *args: str) -> str:
        return " ".join(["{python}", str(HOSTILE / name), *args])

    # A fork bomb's children keep its stdout open: a hang naming them, or a
    # timeout (outside a cell, the hang report names the server waiting).
    FORK_BOMB_REASON = r"fork bomb stopped after \d+ forks|forkbomb|timeout|pause"

    def run_attack(self, server: str = f"{support.FAKE_SERVER} echo {{port}}",
                   client: str = f"{support.FAKE_CLIENT} echo {{host}} {{port}}",
                   server_sandbox: bool = False, client_sandbox: bool = True,
                   scenario: dict | None = None, around=None, mode: str = "plain",
                   **limits: int) -> runner.CellResult:
        """Runs the one cell and checks that nothing of it is left; around,
        if given, is an async context manager factory the run happens in."""
        sc = {**SCENARIO, **(scenario or {})}
        m = hostile_matrix(self.tmp / "m", server, client, server_sandbox, client_sandbox, sc)
        cells = matrix.expand(m, modes=(mode,))
        self.assertEqual(len(cells), 1)
        ctx = matrix.CommandContext.create(m.root, m.root / "build")
        opts = runner.RunOptions(port_range=PORTS, jobs=2, server_grace_s=0.5,
                                 sandbox_limits=sandbox.Limits().replace(**limits))
        rec = Recorder()
        before = _mountinfo()

        async def go():
            if around is None:
                return await runner.run_cells(m, cells, ctx, opts)
            async with around():
                return await runner.run_cells(m, cells, ctx, opts)

        t0 = time.monotonic()
        p = rec.patches()
        with p[0], p[1], p[2], p[3]:
            results = asyncio.run(go())
        wall = time.monotonic() - t0
        self.assertEqual(len(results), 1)
        r = results[0]
        self.assertNotEqual(r.outcome.error or "", "not run")
        if mode != "two-hosts":  # two-hosts runs outside bubblewrap's cells
            self.assertTrue(rec.holders, "the cell did not run in namespaces of its own:\n"
                            + support.explain(r))
        # Within its timeouts: the cell's own ceiling, plus the run's start and cleanup.
        self.assertLess(wall, sc["cell_timeout_s"] + WALL_SLACK_S, support.explain(r))
        self.assertClean(results)
        self.assertNothingLeft(rec, before)
        return r

    def assertNothingLeft(self, rec: Recorder, mounts_before: set[str]) -> None:
        problems = []
        # Processes: nothing with this test's token or compiled programs, and
        # no hostile program among this process's descendants (the other
        # hostile run, root or unprivileged, may run beside this one).
        marks = (str(self.bin), self.token)
        mine = set(procnet.descendants(os.getpid()))
        for pid in procnet.all_pids():
            cmd = support._cmdline(pid)
            ours = any(mk in cmd for mk in marks) or (pid in mine and str(HOSTILE) in cmd)
            if pid != os.getpid() and pid not in getattr(self, "own", ()) and ours and \
                    procnet.alive(pid):
                problems.append(f"process left: {pid} {cmd}")
        # Holders (and so bwrap's init) gone.
        problems += [f"cell holder {p} still alive" for p in rec.holders if procnet.alive(p)]
        # Namespaces: no process on the machine is in one of the cells'.
        if rec.ns:
            for pid in procnet.all_pids():
                held = _ns_ids(pid) & rec.ns
                # A namespace's inode number is reused once it is freed: a
                # process started after the cell closed is in someone else's.
                if held and procnet.alive(pid) and _started_at(pid) < rec.closed_at:
                    problems.append(f"namespace left: {pid} ({support._cmdline(pid)}) is in "
                                    f"{', '.join(sorted(held))}")
        # Mounts: none new in the driver's mount namespace naming the cell.
        for line in _mountinfo() - mounts_before:
            if any(mk in line for mk in (*rec.ns, "/tmp/cell", str(self.tmp), self.token)):
                problems.append(f"mount left: {line}")
        # Uids: the run's uid locks are free again (its processes are
        # covered above: another driver with another TMPDIR may use the same
        # uid at the same time, see docs/security.md).
        for uid in rec.uids:
            lock = os.path.join(sandbox.UID_LOCK_DIR, str(uid))
            try:
                fd = os.open(lock, os.O_RDWR)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
            finally:
                os.close(fd)  # drops the lock
        # Folders: the run's scratch is gone.
        problems += [f"folder left: {d}" for d in rec.dirs if os.path.exists(d)]
        if problems:
            self.fail("\n".join(problems))

    def assertClean(self, results=()) -> None:
        """support's check, but processes this test started on purpose
        (self.own: a victim cell, a marker) and theirs are not the run's."""
        own = set(getattr(self, "own", ()))
        for p in list(own):
            own.update(procnet.descendants(p))
        real = procnet.descendants
        with mock.patch.object(support.procnet, "descendants",
                               lambda pid: [p for p in real(pid) if p not in own]):
            super().assertClean(results)

    def report(self, r: runner.CellResult, k: int = 0) -> str:
        return r.outcome.clients[k].stdout.decode("utf-8", "replace")

    def assertFailsWith(self, r: runner.CellResult, pattern: str) -> None:
        """The verdict is fail or error and the reason matches pattern."""
        if r.verdict not in ("fail", "error") or not re.search(pattern, r.reason):
            self.fail(f"expected fail/error with a reason matching {pattern!r}\n"
                      + support.explain(r))

    # ------------------------------------------------------------------ 1. fork bomb

    def test_fork_bomb_stops_at_the_process_limit(self):
        # As root the cell's own uid carries RLIMIT_NPROC; as a user the
        # cell's user namespace does (Linux >= 5.14 counts it per user
        # namespace), so the bomb stops at the limit either way.
        if self.forkbomb is None:
            self.skipTest("no C compiler: the fork bomb is C")
        r = self.run_attack(client=f"{self.forkbomb} {{host}} {{port}} 600",
                            scenario={"timeout_s": 3}, nproc=40)
        out = self.report(r)
        m = re.search(r"forked (\d+), then: Resource temporarily unavailable", out)
        self.assertIsNotNone(m, support.explain(r))
        # 40 + PROCS_PER_CLIENT for the one client (the limit counts the uid).
        self.assertLess(int(m.group(1)), 40 + runner.PROCS_PER_CLIENT)
        # Its children keep its stdout open: a hang naming them, or a timeout.
        self.assertFailsWith(r, self.FORK_BOMB_REASON)

    # ------------------------------------------------------------------ 2. 2 GB write

    def test_a_2gb_write_is_stopped_by_the_file_size_limit(self):
        name = f"{self.token}.bin"
        r = self.run_attack(client=self.py("bigwrite.py", "{host}", "{port}", name), fsize_mb=8)
        self.assertFailsWith(r, r"client crashed with SIGXFSZ \(file size limit 8 MB reached\)")
        out = self.report(r)
        self.assertNotIn("wrote 2048 MB", out)
        where = re.search(r"path: (\S+)", out)
        self.assertIsNotNone(where, support.explain(r))
        # Nothing of it on the machine: not where the program saw it (the
        # cell's tmpfs), not in the driver's temp folder.
        self.assertFalse(os.path.exists(where.group(1)), where.group(1))
        self.assertEqual(self._find_on_host(name), [])

    def test_2gb_in_files_under_the_size_limit_stops_when_the_cells_tmpfs_is_full(self):
        # Files of 4 MB each pass the file-size limit; the cell's /tmp (RAM)
        # is capped (cell.TMPFS_MB), so the machine's memory is not the limit.
        if not SUPPORT.sized:
            self.skipTest("this bubblewrap cannot cap a tmpfs (--size)")
        name = f"{self.token}.bin"
        r = self.run_attack(client=self.py("bigwrite.py", "{host}", "{port}", name, "split"),
                            fsize_mb=8)
        out = self.report(r)
        self.assertNotIn("wrote 2048 MB", out)
        wrote = re.search(r"wrote (\d+) MB, then: No space left on device", out)
        self.assertIsNotNone(wrote, support.explain(r))
        self.assertLessEqual(int(wrote.group(1)), isolation.TMPFS_MB["/tmp"])
        self.assertFailsWith(r, r"client exit code 1, expected 0: 2 GB write stopped after "
                                r"\d+ MB: No space left on device")
        self.assertEqual(self._find_on_host(f"{name}.0"), [])

    @unittest.skipUnless(ROOT_DRIVER and shutil.which("ip"), "two-hosts needs root and ip")
    def test_2gb_in_files_in_two_hosts_mode_stops_when_the_scratch_tmpfs_is_full(self):
        # Outside a cell the sandboxed client's folder is on the host, in
        # the run's scratch folder: the driver gives it a capped tmpfs, so
        # the host's disk is not the limit either.
        name = f"{self.token}.bin"
        r = self.run_attack(client=self.py("bigwrite.py", "{host}", "{port}", name, "split"),
                            mode="two-hosts", fsize_mb=8)
        out = self.report(r)
        wrote = re.search(r"wrote (\d+) MB, then: No space left on device", out)
        self.assertIsNotNone(wrote, support.explain(r))
        self.assertLessEqual(int(wrote.group(1)), sandbox.TMPFS_MB)
        self.assertFailsWith(r, r"2 GB write stopped after \d+ MB: No space left on device")
        self.assertEqual(self._find_on_host(f"{name}.0", depth=6), [])

    def _find_on_host(self, name: str, depth: int = 3) -> list[str]:
        found = []
        for top in {tempfile.gettempdir(), "/tmp", "/dev/shm", "/var/tmp"}:
            base = top.rstrip("/").count("/")
            for d, dirs, files in os.walk(top, onerror=lambda e: None):
                if d.count("/") - base >= depth:
                    dirs[:] = []
                if name in files or name in dirs:
                    found.append(os.path.join(d, name))
        return found

    # ------------------------------------------------------------------ 3. reading

    def test_reading_etc_shadow_is_denied(self):
        # On stdin: the driver refuses a command line naming a file the
        # sandbox uid cannot read.
        r = self.run_attack(client=self.py("snoop.py", "{host}", "{port}"),
                            scenario={"stdin": "/etc/shadow\n"})
        self.assertIn("/etc/shadow: EACCES", self.report(r), support.explain(r))
        self.assertFailsWith(r, r"client exit code 1, expected 0: nothing readable: /etc/shadow")

    def test_another_cells_scratch_is_not_there(self):
        # A victim cell, open while the attacker's runs, with a file in its
        # scratch; and a victim folder in the host's /tmp.
        secret = f"victim-{self.token}"
        # Its own top folder of /tmp (not below TMPDIR, which the cell binds
        # in when the test's folders are under it).
        host_victim = Path(tempfile.mkdtemp(prefix="hostile-victim-", dir="/tmp"))
        self.addCleanup(shutil.rmtree, host_victim, True)
        os.chmod(host_victim, 0o755)
        (host_victim / "secret.txt").write_text("secret\n")
        os.chmod(host_victim / "secret.txt", 0o644)
        # The victim cell: the same namespaces (cell.bwrap_argv), a file in
        # its scratch, open until the attack is over.
        victim = subprocess.Popen(
            [*isolation.bwrap_argv(SUPPORT.bwrap, SUPPORT.user_ns, SUPPORT.sized), "--", "/bin/sh", "-c",
             f"echo secret > {isolation.SCRATCH}/{secret} && echo ok && exec cat"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.own = [victim.pid]
        try:
            self.assertEqual(victim.stdout.readline(), b"ok\n")
            self._victim_cell(secret, host_victim)
        finally:
            victim.stdin.close()
            victim.wait(10)
            victim.stdout.close()

    def _victim_cell(self, secret: str, host_victim: Path) -> None:
        # The paths come on stdin: the driver binds into the cell the /tmp
        # folders a command line names (the programs' own).
        r = self.run_attack(
            client=self.py("snoop.py", "{host}", "{port}"),
            scenario={"stdin": f"{isolation.SCRATCH}/{secret}\n{host_victim}/secret.txt\n"
                               f"/tmp/cell/../{secret}\n"},
        )
        out = self.report(r)
        self.assertIn(f"{isolation.SCRATCH}/{secret}: ENOENT", out, support.explain(r))
        self.assertIn(f"{host_victim}/secret.txt: ENOENT", out)
        self.assertNotIn(secret + "\n", "\n".join(ln for ln in out.splitlines()
                                                  if ln.startswith("tmp:")) + "\n")
        self.assertNotIn(str(host_victim), "\n".join(ln for ln in out.splitlines()
                                                     if ln.startswith("tmp:")))
        self.assertFailsWith(r, r"client exit code 1, expected 0: nothing readable")

    def test_another_students_folder_outside_tmp_is_not_readable(self):
        # A student's folder anywhere but the class being checked (another
        # course under /var, /srv or /home), world-readable as its
        # programs must be: a cell shows the folders of / that hold the
        # system (cell.SYSTEM_TOPS) and, of the rest, only what its
        # programs need. The path comes on stdin: a command line's words
        # are what the driver binds in.
        victims = []
        for parent in ("/var/tmp", "/srv", "/home"):  # the ones this user may write
            try:
                victim = Path(tempfile.mkdtemp(prefix="hostile-student-", dir=parent))
            except OSError:
                continue
            self.addCleanup(shutil.rmtree, victim, True)
            os.chmod(victim, 0o755)
            (victim / "server.py").write_text("# another student's work\n")
            os.chmod(victim / "server.py", 0o644)
            # And a file of the teacher's own (0600): an unprivileged
            # teacher's programs run as the teacher's uid.
            (victim / "key").write_text("the teacher's\n")
            os.chmod(victim / "key", 0o600)
            victims += [f"{victim}/server.py", f"{victim}/key"]
        self.assertTrue(victims)
        r = self.run_attack(client=self.py("snoop.py", "{host}", "{port}"),
                            scenario={"stdin": "".join(v + "\n" for v in victims)})
        out = self.report(r)
        for v in victims:
            self.assertRegex(out, rf"(?m)^{re.escape(v)}: (ENOENT|EACCES)$", support.explain(r))
        self.assertFailsWith(r, r"nothing readable")

    def test_no_process_of_the_cell_holds_the_drivers_environment(self):
        # The teacher's environment (tokens, settings) reaches no program,
        # and no process a program may read: the cell's init (its holder)
        # and bwrap get a minimal environment too.
        token = f"SL_TEACHER_TOKEN_{uuid.uuid4().hex[:10]}"
        with mock.patch.dict(os.environ, {token: "secret"}):
            r = self.run_attack(client=self.py("environ.py", "{host}", "{port}"))
        out = self.report(r)
        self.assertRegex(out, r"(?m)^\d+ PATH$", support.explain(r))  # it read its own
        self.assertNotIn(token, out)
        # The cell's init is not dumpable: not even its environment is
        # readable, whoever runs the program.
        self.assertRegex(out, r"(?m)^1: (Permission denied|Operation not permitted)$")
        self.assertFailsWith(r, r"read the environment of \d+ processes")

    # ------------------------------------------------------------------ 4. host loopback

    def test_a_service_on_the_host_loopback_is_out_of_reach(self):
        with socket.socket() as ls:
            ls.bind(("127.0.0.1", 0))
            ls.listen(8)
            ls.setblocking(False)
            port = ls.getsockname()[1]
            r = self.run_attack(client=self.py("loopback.py", "{host}", "{port}", str(port)))
            self.assertIn("refused: ECONNREFUSED", self.report(r), support.explain(r))
            with self.assertRaises(BlockingIOError):
                ls.accept()
        self.assertFailsWith(r, rf"client exit code 1, expected 0: 127.0.0.1:{port}: "
                                r"Connection refused")

    # ------------------------------------------------------------------ 5. killing the parent

    def test_killing_its_parent_kills_nothing(self):
        # Its parent is the cell's holder, PID 1 of the cell's PID
        # namespace: a SIGKILL from inside never reaches it (refused for
        # the sandbox's uid; as the holder's own user kill() says nothing),
        # and the cell goes on to judge the client's own words.
        r = self.run_attack(client=self.py("killparent.py", "{host}", "{port}", "parent"))
        self.assertRegex(self.report(r), r"ppid: 1\nkill\(ppid\): (ok|Operation not permitted)\n",
                         support.explain(r))
        self.assertFailsWith(r, r"killed my parent \(pid 1\) and I am still here")

    def test_tracing_the_reference_server_and_other_kernel_calls_are_refused(self):
        # The seccomp filter of sandboxed programs: as an unprivileged
        # teacher's, the client has the server's uid, and ptrace or
        # process_vm_readv would reach the reference server of its cell.
        r = self.run_attack(client=self.py("syscalls.py", "{host}", "{port}"))
        out = self.report(r)
        self.assertRegex(out, r"(?m)^target: (?!1$)\d+$", support.explain(r))
        for name in ("ptrace", "process_vm_readv", "unshare", "clone", "mount", "bpf",
                     "keyctl"):
            self.assertRegex(out, rf"(?m)^{name}: EPERM$", support.explain(r))
        self.assertIn("Seccomp:\t2", out)
        self.assertFailsWith(r, r"output mismatch")  # it never spoke the protocol

    def test_kill_minus_one_reaches_only_the_cell(self):
        r = self.run_attack(client=self.py("killparent.py", "{host}", "{port}", "all"),
                            server_sandbox=True)
        # kill(-1) reaches neither the caller nor the cell's holder (its
        # PID 1), so the client lives on to say what it did.
        self.assertRegex(self.report(r), r"ppid: 1\nkill\(-1\): ok\n$", support.explain(r))
        # The driver (this process) is alive to read the result; the cell
        # says the attack in words: the client's own words, the server it
        # killed, or the client itself (which of these the driver sees
        # first depends on the machine's load).
        self.assertFailsWith(r, r"sent SIGKILL to every process|server crashed with SIGKILL|"
                                r"server .*SIGKILL|client crashed with SIGKILL")

    # ------------------------------------------------------------------ 6. log file

    def _badlog(self, mode: str, target: str = "") -> runner.CellResult:
        return self.run_attack(
            server=self.py("badlog.py", mode, "{port}", target).strip(),
            client=f"{support.FAKE_CLIENT} echo {{host}} {{port}}",
            server_sandbox=True, client_sandbox=False,
            scenario={"files": {"log-acesso.txt": "Hello\n"}})

    def test_log_file_as_a_fifo(self):
        r = self._badlog("fifo")
        self.assertFailsWith(r, r"missing effect: log-acesso.txt: cannot read: it is a FIFO, "
                                r"not a regular file; not read")
        self.assertNotIn("log-acesso.txt", r.files)

    def test_log_file_as_a_symlink_to_etc_shadow(self):
        r = self._badlog("symlink", "etc/shadow")
        self.assertFailsWith(r, r"missing effect: log-acesso.txt: cannot read: it is a symbolic "
                                r"link, not a file the program wrote; not followed")
        self.assertNotIn("log-acesso.txt", r.files)
        self.assertNotIn(b"root:", r.server_stdout + r.server_stderr)

    def test_log_file_as_a_symlink_to_a_file_outside(self):
        outside = Path(tempfile.mkdtemp(prefix="hostile-outside-", dir="/var/tmp"))
        self.addCleanup(shutil.rmtree, outside, True)
        os.chmod(outside, 0o755)
        (outside / "private.txt").write_text(f"private {self.token}\n")
        r = self._badlog("symlink", str(outside / "private.txt").lstrip("/"))
        self.assertFailsWith(r, r"log-acesso.txt: cannot read: it is a symbolic link")
        self.assertNotIn("log-acesso.txt", r.files)
        for v in r.files.values():
            self.assertNotIn(self.token.encode(), v)

    def test_log_file_as_a_hard_link_to_etc_shadow(self):
        # The scratch is the cell's tmpfs: a hard link across file systems
        # cannot be made (EXDEV), so there is no log at all.
        r = self._badlog("hardlink", "etc/shadow")
        self.assertIn(b"hardlink log-acesso.txt -> /etc/shadow: Invalid cross-device link",
                      r.server_stderr, support.explain(r))
        self.assertFailsWith(r, r"missing effect: log-acesso.txt was not created")

    # ------------------------------------------------------------------ 7. daemon

    def test_a_setsid_daemon_keeping_the_port_fails_and_is_gone(self):
        # The daemon holds the listening socket outside the server's process
        # group: readiness counts the cell's orphans too, and after the
        # server is stopped (before the sandbox uid is released, which
        # would kill it unseen) the daemon is a process left in the cell.
        r = self.run_attack(server=self.py("daemon.py", "{port}", self.token),
                            client=f"{support.FAKE_CLIENT} echo {{host}} {{port}}",
                            server_sandbox=True, client_sandbox=False)
        self.assertFailsWith(r, r"outlived the server: .* still ran after the driver stopped "
                                r"the server and its clients")

    # ------------------------------------------------------------------ 8. writing

    def test_repository_and_build_are_read_only_and_tmp_writes_vanish(self):
        name = f"{self.token}.txt"
        build = Path(os.environ.get("SL_BUILD_DIR") or support.ROOT / "build")
        dirs = [str(support.ROOT), str(build), str(HOSTILE), str(self.tmp / "m"), "/var/tmp"]
        r = self.run_attack(client=self.py("writeout.py", "{host}", "{port}", name, *dirs))
        out = self.report(r)
        for d in dirs:
            self.assertIn(f"{d}: EROFS", out, support.explain(r))
        self.assertFailsWith(r, r"client exit code 1, expected 0: wrote .* in ")
        # Whatever it could write (its /tmp, /dev/shm) is not on the host.
        for d in [*dirs, "/tmp", "/dev/shm", tempfile.gettempdir()]:
            self.assertFalse(os.path.exists(os.path.join(d, name)), d)
        self.assertEqual(self._find_on_host(name), [])

    # ------------------------------------------------------------------ 9. processes

    def ps_attack(self) -> tuple[runner.CellResult, str, list[str]]:
        """ps.py as the client while a marker (this test's token in its
        command line) runs on the host: the cell's result, the client's
        report, its process lines; the marker not among them."""
        marker = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()",
                                   self.token], stdin=subprocess.PIPE)
        self.own = [marker.pid]
        try:
            r = self.run_attack(client=self.py("ps.py", "{host}", "{port}"))
        finally:
            marker.stdin.close()
            marker.wait(10)
        out = self.report(r)
        self.assertNotIn(self.token, out)
        procs = [ln for ln in out.splitlines() if re.match(r"\d+ ", ln)]
        self.assertTrue(procs, support.explain(r))
        return r, out, procs

    def test_only_the_cells_processes_are_visible(self):
        r, out, procs = self.ps_attack()
        self.assertNotIn("unittest", out)
        cell_words = ("sl-cell hold", "server.py echo", "ps.py", "ps -eo")
        for ln in procs:
            self.assertTrue(any(w in ln for w in cell_words), f"not the cell's: {ln}\n{out}")
        # PID 1 is the cell's init (its holder), not the machine's.
        self.assertRegex(out, r"(?m)^1 \S*sl-cell hold ")
        self.assertFailsWith(r, rf"client exit code 1, expected 0: saw {len(procs)} processes")


# ---------------------------------------------------------------------- check

STUDENTS = support.ROOT / "tests" / "harness" / "fixtures" / "students"
CHECK_FAST = ["--references", "c", "-k", "/hello/", "--jobs", "2", "--no-rerun"]
EVIL_PROCESSOR = """import java.util.Set;
import javax.annotation.processing.*;
import javax.lang.model.element.TypeElement;

@SupportedAnnotationTypes("*")
public class Evil extends AbstractProcessor {
    @Override
    public synchronized void init(ProcessingEnvironment env) {
        super.init(env);
        System.err.println("EVIL PROCESSOR RAN as " + System.getProperty("user.name"));
    }

    @Override
    public boolean process(Set<? extends TypeElement> annotations, RoundEnvironment round) {
        return false;
    }
}
"""
JAVA_SERVER = """public class Server {
    public static void main(String[] args) throws Exception {
        try (java.net.ServerSocket s = new java.net.ServerSocket(Integer.parseInt(args[0]))) {
            s.accept().close();
        }
    }
}
"""


def _shm_segment(test: unittest.TestCase) -> int:
    """Makes a System V shared memory segment (mode 0644) in this
    process's IPC namespace, removed when the test ends; returns its key."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    key = 0x51000000 | (os.getpid() & 0xFFFFFF)
    shmid = libc.shmget(key, 4096, 0o1644)  # IPC_CREAT | 0644
    if shmid < 0:
        test.skipTest(f"shmget: {os.strerror(ctypes.get_errno())}")
    test.addCleanup(libc.shmctl, shmid, 0, None)  # IPC_RMID
    return key


def _world_writable(test: unittest.TestCase) -> list[str]:
    """A folder anyone may write (mode 1777) on /, outside what a cell
    masks, removed when the test ends: [] where this user cannot make one."""
    for parent in ("/var/local", "/srv", "/opt"):
        try:
            d = tempfile.mkdtemp(prefix="hostile-ww-", dir=parent)
        except OSError:
            continue
        os.chmod(d, 0o1777)
        test.addCleanup(shutil.rmtree, d, True)
        return [d]
    return []


def _shadow_lines() -> list[str]:
    try:
        return [ln for ln in Path("/etc/shadow").read_text().splitlines() if ln.strip()]
    except OSError:
        return []  # not root: the driver itself cannot read it either


@needs_cells
@unittest.skipUnless(ROOT_DRIVER and shutil.which("ip"), "two-hosts needs root and ip")
class HostileTwoHostsTest(HostileTest):
    """The attacks that apply in two-hosts mode, where a sandboxed program
    runs outside bubblewrap's cells (the server in a namespace of `ip
    netns`): the sandbox wrapper's file view, mount and IPC namespaces,
    the seccomp filter and the sandbox uid contain them instead. Only
    these tests of HostileTest run here (the others are about a cell's
    holder and PID namespace, which two-hosts does not have)."""

    FORK_BOMB_REASON = HostileTest.FORK_BOMB_REASON + "|hung"

    def run_attack(self, *args, **kwargs) -> runner.CellResult:
        kwargs.setdefault("mode", "two-hosts")
        return super().run_attack(*args, **kwargs)

    def test_a_setsid_daemon_keeping_the_port_fails_and_is_gone(self):
        # No cell to look into: what still runs as the sandbox uid after
        # the driver stopped the server is the daemon.
        super().test_a_setsid_daemon_keeping_the_port_fails_and_is_gone()

    def test_killing_its_parent_kills_nothing(self):
        # Its parent is the driver (root): refused to the sandbox uid.
        r = self.run_attack(client=self.py("killparent.py", "{host}", "{port}", "parent"))
        self.assertRegex(self.report(r), r"kill\(ppid\): Operation not permitted\n",
                         support.explain(r))
        self.assertFailsWith(r, r"killed my parent \(pid \d+\) and I am still here")

    def test_only_its_own_processes_are_visible(self):
        # The machine's PID namespace, with a /proc mounted hidepid=invisible:
        # the sandbox uid sees its own processes only.
        _, _, procs = self.ps_attack()
        for ln in procs:
            self.assertTrue(any(w in ln for w in ("ps.py", "ps -eo")), f"not its own: {ln}")


for _name in [n for n in vars(HostileTest) if n.startswith("test_")]:
    if _name not in (
            "test_reading_etc_shadow_is_denied",
            "test_a_service_on_the_host_loopback_is_out_of_reach",
            "test_another_students_folder_outside_tmp_is_not_readable",
            "test_log_file_as_a_fifo", "test_log_file_as_a_symlink_to_etc_shadow",
            "test_log_file_as_a_symlink_to_a_file_outside",
            "test_a_2gb_write_is_stopped_by_the_file_size_limit",
            "test_fork_bomb_stops_at_the_process_limit", *vars(HostileTwoHostsTest)):
        setattr(HostileTwoHostsTest, _name, None)  # not run here (see the docstring)


class HostileCheckTest(unittest.TestCase):
    """Attacks through `harness check`, the way a teacher meets them: the
    student's folder is what is hostile, its build included."""

    def setUp(self):
        self.build = Path(os.environ.get("SL_BUILD_DIR") or support.ROOT / "build")
        if not (self.build / "c" / "upper" / "client").is_file():
            self.skipTest(f"the C references are not built in {self.build}")
        self._tmp = tempfile.TemporaryDirectory(prefix="hostile-check-")
        self.dir = Path(self._tmp.name)
        self.dir.chmod(0o755)  # the sandbox uid (as root) runs what is built here
        os.environ["NO_COLOR"] = "1"

    def tearDown(self):
        self._tmp.cleanup()

    def check(self, *argv: str) -> tuple[int, str]:
        """Runs check; returns its exit status and everything it wrote: its
        terminal output and every file of its results."""
        import contextlib
        import io

        from harness import cli
        out = self.dir / "out"
        text, err = io.StringIO(), io.StringIO()
        if "--mode" not in argv:
            argv = (*argv, "--mode", "plain")
        with contextlib.redirect_stdout(text), contextlib.redirect_stderr(err):
            code = cli.main(["check", "--build", str(self.build), "--out", str(out),
                             "-p", "upper", *CHECK_FAST, *argv])
        written = [text.getvalue(), err.getvalue()]
        for f in sorted(out.rglob("*")):
            if f.is_file() and not f.is_symlink() and b"\0" not in (data := f.read_bytes()):
                written.append(f"--- {f}\n" + data.decode("utf-8", "replace"))
        return code, "\n".join(written)

    def assertAbsent(self, what: str, written: str) -> None:
        at = written.find(what)
        if at >= 0:
            self.fail(f"{what!r} in check's output: ...{written[max(0, at - 800):at + 400]}...")

    def student(self, name: str, files: dict[str, str | bytes]) -> Path:
        d = self.dir / "class" / name
        for rel, content in files.items():
            f = d / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                f.write_bytes(content)
            else:
                f.write_text(content)
        for f in [d, *d.rglob("*")]:
            os.chmod(f, 0o755 if f.is_dir() else 0o644)
        os.chmod(d.parent, 0o755)
        return d

    def test_an_include_of_a_root_only_file_quotes_nothing_of_it(self):
        # cc runs in a cell as the sandbox uid (as root) or as the user:
        # /etc/shadow cannot be opened, so no line of it reaches the
        # compiler's error message, check.json, build.log or the terminal.
        st = self.student("inc", {"server.c": '#include "/etc/shadow"\nint main(void) '
                                               '{ return 0; }\n'})
        code, written = self.check(str(st))
        self.assertEqual(code, 1, written)
        self.assertRegex(written, r"cc failed on server\.c")
        self.assertRegex(written, r"/etc/shadow: Permission denied")
        for ln in _shadow_lines():
            self.assertAbsent(ln, written)

    def test_links_out_of_the_folder_and_fifos_are_not_read(self):
        # The driver reads a student's sources itself (to find the
        # programs, to check Python's syntax): a link to /etc/shadow would
        # be read as root and quoted in the SyntaxError, a FIFO would block
        # it forever. Neither is the student's program.
        st = self.student("links", {"check.yaml": "protocol: upper\n"})
        os.symlink("/etc/shadow", st / "server.py")
        os.mkfifo(st / "client.py")
        code, written = self.check(str(st))
        self.assertEqual(code, 2, written[-3000:])
        self.assertIn("no server or client found", written)
        self.assertIn("server.py leads out of the folder: not read", written)
        self.assertIn("client.py is not a regular file: not read", written)
        for ln in _shadow_lines():
            self.assertAbsent(ln, written)

    @unittest.skipUnless(shutil.which("javac"), "javac is not installed")
    def test_an_annotation_processor_in_the_folder_never_runs(self):
        # The folder ships a compiled processor and the services entry that
        # makes javac load it from a classpath holding the folder.
        evil_src = self.dir / "evil"
        evil_src.mkdir()
        (evil_src / "Evil.java").write_text(EVIL_PROCESSOR)
        subprocess.run(["javac", "-proc:none", "-d", str(evil_src), str(evil_src / "Evil.java")],
                       check=True, capture_output=True)
        st = self.student("proc", {
            "Server.java": JAVA_SERVER,
            "Evil.class": (evil_src / "Evil.class").read_bytes(),
            "META-INF/services/javax.annotation.processing.Processor": "Evil\n"})
        # The fixture works: javac with the folder on its classpath runs it.
        plain = subprocess.run(["javac", "-cp", str(st), "-d", str(self.dir / "plain"),
                                str(st / "Server.java")], capture_output=True, text=True)
        self.assertIn("EVIL PROCESSOR RAN", plain.stdout + plain.stderr)
        code, written = self.check(str(st))
        self.assertAbsent("EVIL PROCESSOR RAN", written)
        self.assertAbsent("javac failed", written)
        self.assertIn("--- ", written)  # it did write its results

    def test_another_students_folder_and_build_are_not_there(self):
        self._classmates(["--mode", "plain"])

    @unittest.skipUnless(ROOT_DRIVER and shutil.which("ip"), "two-hosts needs root and ip")
    def test_another_students_folder_is_not_there_in_two_hosts_mode_either(self):
        # two-hosts cells run outside bubblewrap's namespaces (the server in
        # a namespace of `ip netns`): the sandbox wrapper makes the same
        # view in a mount namespace of its own.
        self._classmates(["--mode", "two-hosts"])

    def _classmates(self, modes: list[str]) -> None:
        # alice's server, otherwise correct, answers with whatever of bob's
        # it can read: his source folder and what check built of it, by
        # their paths, through a link in her folder, and through a word of
        # her check.yaml command (which check makes absolute); and the
        # command line of the driver (this process). It also leaves a file
        # in /tmp, /var/tmp and a folder on / whose mode lets anyone
        # write, which must not outlive it. And the teacher's file beside
        # the class folder, in the same temporary folder.
        bob = self.student("bob", {"server.c": 'const char *tag = "bob-was-here";\n'
                                               'int main(void) { return tag[0] == 0; }\n',
                                   "secret.txt": "bob's answers\n"})
        alice = self.dir / "class" / "alice"
        (self.dir / "grades.txt").write_text("the teacher's grades\n")
        os.chmod(self.dir / "grades.txt", 0o644)
        token = f"hostile-{os.getpid()}-{uuid.uuid4().hex[:10]}"
        # A System V shared memory segment of the driver's IPC namespace.
        shm_key = _shm_segment(self)
        writable = ["/tmp", "/var/tmp", "/dev/shm", *_world_writable(self)]
        spy = f"""
SPY = b""
for p in [{str(bob / "secret.txt")!r}, {str(self.dir / "out" / "bob" / "build" / "bin" /
                                             "server")!r},
          {str(alice / "mates" / "secret.txt")!r}, "/proc/{os.getpid()}/cmdline",
          {str(self.dir / "grades.txt")!r},
          *sys.argv[2:]]:
    try:
        with open(p, "rb") as f:
            f.read(1)
        SPY += ("LEAKED " + p + "\\n").encode()
    except OSError:
        pass
for d in {writable!r}:
    try:
        open(d + "/{token}", "w").close()
    except OSError:
        pass
try:
    with open("/proc/sysvipc/shm") as f:
        if any(ln.split()[0] == "{shm_key}" for ln in f.read().splitlines()[1:]):
            SPY += b"LEAKED the driver's shared memory {shm_key}\\n"
except OSError:
    pass
"""
        good = (STUDENTS / "upper-good" / "server.py").read_text()
        for s in ("conn.sendall((line + nl).translate(UPPER))", "if len(sys.argv) != 2:"):
            self.assertIn(s, good)
        alice_src = good.replace("import threading\n", "import threading\n" + spy, 1).replace(
            "conn.sendall((line + nl).translate(UPPER))",
            "conn.sendall(SPY or (line + nl).translate(UPPER))").replace(
            "if len(sys.argv) != 2:", "if len(sys.argv) < 2:")
        self.student("alice", {
            "server.py": alice_src,
            "check.yaml": "server: '{python} -u server.py {port} ../bob/secret.txt'\n"})
        os.symlink("../bob", alice / "mates")
        code, written = self.check("--class", str(self.dir / "class"), *modes)
        # bob was built, and alice's command named his file.
        self.assertTrue((self.dir / "out" / "bob" / "build" / "bin" / "server").is_file(),
                        written)
        self.assertIn(f"server.py '{{port}}' {bob}/secret.txt", written)
        self.assertAbsent("LEAKED", written)
        rows = json.loads((self.dir / "out" / "alice" / "check.json").read_text())
        self.assertEqual(rows["verdict"], "pass", written[-3000:])
        self.assertEqual(rows["modes"], [modes[-1]])
        for d in (*writable, tempfile.gettempdir()):
            self.assertFalse(os.path.exists(os.path.join(d, token)), d)

if __name__ == "__main__":
    unittest.main()
