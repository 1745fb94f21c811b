"""Sandboxing untrusted peers (matrix.yaml `sandbox: true`, e.g. students).

A sandboxed program is started through this file as an exec-wrapper:

    {python} -I -S harness/run/sandbox.py [--netns NS] [--uid UID] [--seccomp-with SL_CELL]
        [VIEW] LIMITS -- argv...

In the child, before exec: enter the cell's network namespace, make the
file view (VIEW: --tmpfs DIR, --ro-bind SRC DEST, --bind SRC DEST,
--perms MODE --dir DIR, --proc DIR and --remount-ro DIR, in order, in a
mount namespace of its own: the cell's masks where no cell can be made,
root only), set the resource limits, drop to an unprivileged uid (root
drivers only), forbid gaining privileges again, and exec argv (through
`sl-cell run` with --seccomp-with, for the seccomp filter cells give
sandboxed programs). Exec keeps the pid, so the runner still sees (and
stops) the process group it started. The wrapper runs as a
script with -I -S so it imports nothing but the standard library (a few ms
instead of the package's imports).

The driver's side (imported as harness.sandbox): the limits and their
command-line form, a pool of per-cell uids, killing whatever a uid left
behind, and a reason in words when a limit ended a program. What each
limit is for and how its default was measured: docs/matrix.md (sandbox).
"""

from __future__ import annotations

# Only what the wrapper needs at the top: its start-up is paid per program
# (dataclasses, tempfile and signal's enums would triple it). The driver's
# side imports the rest where it is used.
import os
import resource
import sys

CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT = 1, 2, 4, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MS_NOEXEC = 8
VIEW_OPS = {"tmpfs": 1, "ro_bind": 2, "bind": 2, "proc": 1, "remount_ro": 1,  # their operands
            "perms": 1, "dir": 1}
PR_SET_NO_NEW_PRIVS = 38
UID_BASE = 64000  # per-cell uids 64000..64999: no passwd entry is needed
UID_COUNT = 1000
MB = 1 << 20
TMPFS_MB = 64  # each tmpfs of a view, and a cell's /tmp (cell.TMPFS_MB)


class Limits:
    """Per-process resource limits of a sandboxed program (RLIMIT_*).

    cpu_s: CPU seconds (SIGXCPU, then SIGKILL a second later); a spinning
      program dies even when its cell gives it minutes of wall time.
    data_mb: writable private memory (RLIMIT_DATA, not AS: the JVM reserves
      GBs of address space it never touches, measured 7.6 GB of VSZ for a
      10-line client on a 24 GB machine, but commits ~60 MB).
    nproc: processes and threads of the cell's uid together (per uid, hence
      one uid per cell): a fork bomb stops there. The runner adds room for
      a scenario's many clients (the JVM alone runs ~20 threads).
    fsize_mb: largest file it may write (SIGXFSZ; Python and Java get
      EFBIG instead).
    nofile: open descriptors per process (the usual Linux soft default).
    Core dumps are always off: a crashing program must not fill the disk.
    """

    NAMES = ("cpu_s", "data_mb", "nproc", "fsize_mb", "nofile")

    def __init__(self, cpu_s: int = 10, data_mb: int = 1024, nproc: int = 256,
                 fsize_mb: int = 16, nofile: int = 1024):
        self.cpu_s = cpu_s
        self.data_mb = data_mb
        self.nproc = nproc
        self.fsize_mb = fsize_mb
        self.nofile = nofile

    def __repr__(self) -> str:
        return "Limits(" + ", ".join(f"{n}={getattr(self, n)}" for n in self.NAMES) + ")"

    def cell_options(self) -> list[str]:
        """sl-cell's limit options (cell.exec) for these limits but --nproc, which
        counts per uid: the caller adds it where the program has one of
        its own."""
        return ["--cpu", str(self.cpu_s), "--data", str(self.data_mb),
                "--fsize", str(self.fsize_mb), "--nofile", str(self.nofile)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Limits) and all(
            getattr(self, n) == getattr(other, n) for n in self.NAMES)

    def replace(self, **kw: int) -> "Limits":
        return Limits(**{**{n: getattr(self, n) for n in self.NAMES}, **kw})

    def args(self) -> list[str]:
        out = []
        for n in self.NAMES:
            out += [f"--{n.replace('_', '-')}", str(getattr(self, n))]
        return out

    def explain(self, sig: int) -> str | None:
        """Words for a signal the limits send, or None."""
        import signal
        if sig == signal.SIGXCPU:
            return f"CPU limit {self.cpu_s} s"
        if sig == signal.SIGXFSZ:
            return f"file size limit {self.fsize_mb} MB reached"
        return None


def parse_limits(text: str, base: Limits | None = None) -> Limits:
    """Returns base (default Limits()) with `name=value,...` applied, e.g.
    "cpu_s=5,data_mb=512". Raises ValueError with a message for the user."""
    base = base or Limits()
    names = set(Limits.NAMES)
    kw = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = part.partition("=")
        name = name.strip().replace("-", "_")
        if name not in names or not eq:
            raise ValueError(f"sandbox limit {part!r}: expected NAME=N with NAME one of "
                             f"{', '.join(sorted(names))}")
        try:
            kw[name] = int(value)
        except ValueError:
            raise ValueError(f"sandbox limit {part!r}: {value!r} is not an integer") from None
        if kw[name] <= 0:
            raise ValueError(f"sandbox limit {part!r}: must be positive")
    return base.replace(**kw)


# --------------------------------------------------------------------------
# Namespaces


def setns(path: str) -> None:
    """Moves the calling thread into the network namespace at path (a
    /run/netns/NAME file). Raises OSError. Python 3.11 has no os.setns."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"setns {path}: {os.strerror(e)}")
    finally:
        os.close(fd)


def netns_path(name: str) -> str:
    return f"/run/netns/{name}"


# --------------------------------------------------------------------------
# The exec-wrapper (runs in the child)


def _wrap(argv: list[str]) -> int:
    opts: dict[str, str] = {}
    view: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(argv) and argv[i] != "--":
        name = argv[i][2:].replace("-", "_")
        n = VIEW_OPS.get(name, 1)
        if not argv[i].startswith("--") or i + n >= len(argv):
            print(f"sandbox: bad argument {argv[i]!r}", file=sys.stderr)
            return 2
        if name in VIEW_OPS:
            view.append((name, argv[i + 1:i + 1 + n]))
        else:
            opts[name] = argv[i + 1]
        i += 1 + n
    prog = argv[i + 1:]
    if not prog:
        print("sandbox: usage: sandbox.py [--netns NS] [--uid UID] [--seccomp-with SL_CELL] "
              "[--tmpfs DIR] "
              "[--ro-bind SRC DEST] [--bind SRC DEST] [--perms MODE --dir DIR] [--proc DIR] "
              "[--remount-ro DIR] "
              "[--LIMIT N]... -- argv",
              file=sys.stderr)
        return 2
    try:
        if "netns" in opts:
            setns(netns_path(opts.pop("netns")))
        if view:
            _make_view(view)
        uid = int(opts.pop("uid")) if "uid" in opts else None
        filter_with = opts.pop("seccomp_with", None)
        lim = Limits(**{k: int(v) for k, v in opts.items()})
        import ctypes  # now: the driver's interpreter may be unreadable to uid
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # setuid programs stay unprivileged
        # Hard CPU limit one second above the soft one: SIGXCPU first (which
        # says why), SIGKILL for a program that catches or ignores it.
        resource.setrlimit(resource.RLIMIT_CPU, (lim.cpu_s, lim.cpu_s + 1))
        resource.setrlimit(resource.RLIMIT_DATA, (lim.data_mb * MB,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (lim.fsize_mb * MB,) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (lim.nofile,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if uid is not None:
            # RLIMIT_NPROC counts the real uid's processes and does not bind
            # root: only meaningful together with the uid switch.
            resource.setrlimit(resource.RLIMIT_NPROC, (lim.nproc,) * 2)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            # The program's home is its scratch directory (root's is closed).
            os.environ["HOME"] = os.getcwd()
        # The JVM commits 1/64 of the machine's RAM as its first heap (384 MB
        # on 24 GB): cap the heap so the data limit means the same anywhere.
        # An -Xmx in the program's own command line still wins.
        os.environ.setdefault("JDK_JAVA_OPTIONS", f"-Xmx{max(16, lim.data_mb // 4)}m")
    except (OSError, ValueError, TypeError) as e:
        print(f"sandbox: cannot set up: {e}", file=sys.stderr)
        return 126
    # Python ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored
    # across exec: give the program the defaults it would get from a shell.
    # (_signal: the signal module's enums cost more than the rest.)
    import _signal
    for sig in (_signal.SIGPIPE, _signal.SIGXFSZ):
        _signal.signal(sig, _signal.SIG_DFL)
    if filter_with is not None:
        # sl-cell run puts the cells' seccomp filter on (with any limit;
        # this one is already set) and execs the program.
        try:
            os.execv(filter_with, [filter_with, "run", "--nofile", str(lim.nofile), "--", *prog])
        except OSError as e:
            print(f"sandbox: cannot run {filter_with} for the seccomp filter: {e.strerror}",
                  file=sys.stderr)
            return 126
    try:
        os.execvp(prog[0], prog)
    except OSError as e:
        print(f"sandbox: cannot run {prog[0]}: {e.strerror}", file=sys.stderr)
        return 127


def wrapper_argv(python: str, limits: Limits, uid: int | None, ns: str | None,
                 view: list[str] = (),  # type: ignore[assignment]
                 sl_cell: str | None = None) -> list[str]:
    """The words to put before a sandboxed program's argv. view: the file
    view's options (bwrap's --tmpfs, --ro-bind, --bind), applied in a mount
    namespace of its own; root only. sl_cell: execs the program through
    `sl-cell run`, for the seccomp filter cells give sandboxed programs."""
    out = [python, "-I", "-S", os.path.abspath(__file__)]
    if ns is not None:
        out += ["--netns", ns]
    if uid is not None:
        out += ["--uid", str(uid)]
    if sl_cell is not None:
        out += ["--seccomp-with", sl_cell]
    return out + list(view) + limits.args() + ["--"]


def _make_view(ops: list[tuple[str, list[str]]]) -> None:
    """The file view of a cell without its namespaces (two-hosts, or no
    bubblewrap): mount and IPC namespaces of its own, where each --tmpfs
    folder is an empty tmpfs, each bind shows its source (read-only for
    --ro-bind), --dir makes a folder with the mode of the --perms before
    it, --proc mounts a /proc and --remount-ro makes a mount read-only.
    The sources are opened first, since a tmpfs may cover them."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    def call(rc: int, what: str) -> None:
        if rc != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"{what}: {os.strerror(e)}")

    here = os.getcwd()
    # An IPC namespace too, as a cell has: no System V or POSIX queue,
    # semaphore or shared memory of the machine's.
    call(libc.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare the mount and IPC namespaces")
    call(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    # Opened in the new namespace (a bind's source must be in the
    # caller's), before a tmpfs covers them.
    fds = {}
    for op, args in ops:
        if op in ("bind", "ro_bind") and args[0] not in fds and os.path.exists(args[0]):
            fds[args[0]] = os.open(args[0], os.O_PATH | os.O_CLOEXEC)
    mode = 0o755
    for op, args in ops:
        dest = args[-1]
        if op == "perms":
            mode = int(dest, 8)
            continue
        if op == "dir":
            os.makedirs(dest, exist_ok=True)
            os.chmod(dest, mode)
            mode = 0o755
            continue
        if op == "proc":
            # A /proc of its own that shows a process only to its own uid
            # (hidepid is per mount since Linux 5.8): the machine's other
            # processes are not there for the sandbox uid.
            call(libc.mount(b"proc", dest.encode(), b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                            b"hidepid=invisible"), f"proc on {dest}")
            continue
        if op == "remount_ro":
            # This mount only, not the ones on it: given last, the binds
            # and tmpfs made before (cloned while it was writable) stay
            # writable, and whatever else of it the modes would let the
            # uid write (a 1777 folder) is read-only.
            call(libc.mount(None, dest.encode(), None,
                            MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID, None),
                 f"read-only {dest}")
            continue
        if op == "tmpfs":
            if os.path.isdir(dest):  # under a folder masked before: already gone
                call(libc.mount(b"tmpfs", dest.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                                b"mode=1777,size=%dm" % TMPFS_MB), f"tmpfs on {dest}")
            continue
        fd = fds.get(args[0])
        if fd is None:
            continue
        src = f"/proc/self/fd/{fd}"
        if not os.path.lexists(dest):
            if os.path.isdir(src):
                os.makedirs(dest, mode=0o755)
            else:
                os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
                os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        call(libc.mount(src.encode(), dest.encode(), None, MS_BIND | MS_REC, None),
             f"bind {args[0]}")
        if op == "ro_bind":
            call(libc.mount(None, dest.encode(), None,
                            MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None),
                 f"read-only {dest}")
    for fd in fds.values():
        os.close(fd)
    os.chdir(here)  # the same path, now in this view


# --------------------------------------------------------------------------
# Driver side


def mount_tmpfs(path: str | os.PathLike, mb: int = TMPFS_MB) -> None:
    """Mounts a tmpfs of mb MB on the folder path (root only): the
    writable folder of a program sandboxed outside a cell, which would
    otherwise fill the host's disk with files each under the file-size
    limit. Raises OSError."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", MS_NOSUID | MS_NODEV,
                  b"mode=0755,size=%dm" % mb) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"tmpfs on {path}: {os.strerror(e)}")


def unmount(path: str | os.PathLike) -> None:
    """Detaches the mount on path (MNT_DETACH), if there is one."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).umount2(os.fsencode(path), 2)


def can_switch_uid() -> bool:
    return os.geteuid() == 0


_NOTED: set[str] = set()


def note_once(text: str) -> None:
    """Prints a note about the sandbox on stderr, once per driver run."""
    if text not in _NOTED:
        _NOTED.add(text)
        print(f"python3 -m harness: {text}", file=sys.stderr)


def unreachable(path: str) -> str | None:
    """Returns why another (unprivileged, groupless) user cannot use path,
    or None: every directory on the way needs o+x, the file itself o+r."""
    import stat
    real = os.path.realpath(path)
    parts = real.split(os.sep)
    for i in range(2, len(parts) + 1):
        p = os.sep.join(parts[:i]) or os.sep
        try:
            st = os.stat(p)
        except OSError:
            return None  # not there: starting it will say so
        last = i == len(parts)
        need = (stat.S_IROTH if last and not stat.S_ISDIR(st.st_mode) else stat.S_IXOTH)
        if not st.st_mode & need:
            what = "readable" if need == stat.S_IROTH else "searchable"
            return (f"{p} is not {what} by other users (mode {stat.S_IMODE(st.st_mode):04o}), "
                    f"so the sandbox user cannot use {path}")
    return None


def python_for_sandbox(python: str) -> str | None:
    """The interpreter sandboxed peers run as {python}: the driver's own if
    other users can read it, else the system's (e.g. a pyenv under /root is
    closed to them). None if neither is usable."""
    if unreachable(python) is None:
        return python
    for cand in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(cand) and unreachable(cand) is None:
            note_once(f"sandboxed peers run {cand} as {{python}}: {unreachable(python)}")
            return cand
    return None


# Where the uid locks live: one place for every driver on the machine,
# whatever TMPDIR each was started with (two drivers with different TMPDIRs
# once took the same uid, and one killed the other's server). /run/lock is
# a root-owned tmpfs on Debian; uids are only switched as root.
UID_LOCK_DIR = "/run/lock/socket-lessons-uids"


class UidPool:
    """Hands out uids UID_BASE.. with no passwd entry, one per live cell.
    Each is held with an flock on a file in UID_LOCK_DIR, so two drivers
    (or tests) running at once never share a uid: sharing one would share
    its process limit and its clean-up. The lock dies with its driver."""

    def __init__(self, base: int = UID_BASE, count: int = UID_COUNT,
                 lock_dir: str = UID_LOCK_DIR):
        self.base = base
        self.count = count
        self.dir = lock_dir
        self._held: dict[int, int] = {}  # uid -> lock fd

    def acquire(self) -> int:
        """Returns a uid nobody else holds, with nothing left running under
        it. Raises OSError when every uid is taken."""
        import errno
        import fcntl
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        for uid in range(self.base, self.base + self.count):
            if uid in self._held or _has_user(uid):
                continue
            fd = os.open(os.path.join(self.dir, str(uid)), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                         0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    continue
                raise
            self._held[uid] = fd
            kill_uid(uid)  # a driver that died may have left some behind
            return uid
        raise OSError(errno.EAGAIN, f"no free sandbox uid in {self.base}.."
                                    f"{self.base + self.count - 1}")

    def release(self, uid: int) -> None:
        """Kills everything still running under uid and frees it."""
        kill_uid(uid)
        fd = self._held.pop(uid, None)
        if fd is not None:
            os.close(fd)  # closing drops the flock


def _has_user(uid: int) -> bool:
    import pwd
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def kill_uid(uid: int) -> None:
    """SIGKILLs every process of uid, including ones that left their process
    group and session, then reaps those re-parented to this driver (its
    subreaper): zombies still count towards the uid's process limit."""
    import signal

    from harness.run import processes
    for _ in range(100):
        live, zombies = _scan(uid)
        for pid in zombies:
            if processes.started_here(pid):
                continue  # a program the driver started: asyncio reaps it
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        if not live:
            return
        # kill(-1) from a child that became uid reaches exactly uid's
        # processes, in one sweep a fork bomb cannot outrun pid by pid.
        child = os.fork()
        if child == 0:
            try:
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(child, 0)


def processes_of(uid: int) -> list[int]:
    """The live processes of uid (a sandbox uid: a cell's programs)."""
    return _scan(uid)[0]


def _scan(uid: int) -> tuple[list[int], list[int]]:
    """Returns uid's live processes and its zombies whose parent is us."""
    me = os.getpid()
    live, zombies = [], []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:
                continue
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rfind(b")") + 2:].split()
        if rest[0] in (b"Z", b"X"):
            if int(rest[1]) == me:
                zombies.append(int(name))
        else:
            live.append(int(name))
    return live, zombies


if __name__ == "__main__":
    sys.exit(_wrap(sys.argv[1:]))
