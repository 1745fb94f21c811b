"""Matrix benchmark: how well the driver (python3 -m harness) uses the
machine, and what it costs per cell. A benchmark, not a test: it reports
figures and whether the targets of issue 5 are met; it never fails on a miss.

Per run it measures:
  full matrix  `harness run --out TMP [--jobs N]`: wall time; CPU = the
               user+sys time of every waited-for descendant (rusage
               RUSAGE_CHILDREN delta), split into the driver's own CPU (read
               from /proc/PID/stat while the driver is a zombie) and the
               peers' (everything it waited for); cores; efficiency =
               (CPU / cores) / wall.
  overhead     wall of N repeated echo/hello C x C cells (--repeat N --jobs 1)
               minus the wall of one, over N-1: the driver's marginal wall per
               cell; minus the same work without the driver (start
               build/c/echo/server in its own process group on a free
               loopback port, poll /proc/net/tcp6+tcp until it listens, run
               build/c/echo/client with the same stdin, killpg, reap), N times.
Every measurement also records "other load": the CPU that processes outside
this benchmark used meanwhile (/proc/stat busy time minus ours), as a share
of the machine. A measurement with more than --max-other of it is redone (at
most --retries times) and, if still disturbed, kept but marked '*'. The
TIME_WAIT count is printed too: it makes every read of /proc/net/tcp slower.
Medians across runs come last. Targets: efficiency >= 0.85 on 2 cores,
overhead <= 5 ms per cell.

The floor (--floor, issue 16): the CPU the peers themselves need, measured
with the whole matrix run one cell at a time (--jobs 1, so nothing competes
with them), divided by the cores: no run can be faster than that. Printed
with each full run's wall / floor.

What cells cost (--compare-cells, issue 11): every full run is paired with
the same run without cells (`harness run --no-cells`: no namespaces, an
owned port range, as where bubblewrap cannot make them), odd runs with
cells first, even runs without cells first, so that a machine drifting
over the runs favours neither; the medians' ratio of wall times is printed
(target <= 1.10).

Run:  python3 bench/matrix.py [--runs 3] [--jobs 4,8] [--repeat 50] [--keep DIR]
      (build first: cmake -B build -S . && cmake --build build -j2)
Exit: 0 when every measurement ran (a missed target is reported, not an
error), 1 when a driver run failed or a baseline cell went wrong, 2 usage.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_EFFICIENCY = 0.85
TARGET_OVERHEAD_S = 0.005
ECHO_STDIN = b"Hello, world"  # matrix.yaml, echo/hello
READY_TIMEOUT_S = 10.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def time_wait() -> int:
    """Returns the machine's TCP sockets in TIME_WAIT (/proc/net/sockstat):
    they make every read of /proc/net/tcp slower, so they are reported."""
    try:
        with open("/proc/net/sockstat") as f:
            for line in f:
                if line.startswith("TCP:"):
                    fields = line.split()
                    return int(fields[fields.index("tw") + 1])
    except (OSError, ValueError):
        pass
    return -1


def revision() -> str:
    """Returns the commit measured, marked when harness/ has local changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "harness"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (harness/ modified)" if dirty else "")


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# --------------------------------------------------------------------------
# Measuring an interval: our children's CPU, the machine's, the wall


def _busy_s() -> float:
    """Returns the machine's non-idle CPU seconds since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / CLK_TCK  # minus idle and iowait


class Meter:
    """Wall time, our waited-for children's CPU (rusage) and everyone
    else's CPU (machine busy time minus ours) between start() and stop()."""

    def start(self) -> Meter:
        self.r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.b0 = _busy_s()
        self.t0 = time.monotonic()
        return self

    def stop(self, wall: float | None = None) -> tuple[float, float, float]:
        """Returns (wall, cpu, other); wall may be given when it ended earlier."""
        if wall is None:
            wall = time.monotonic() - self.t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - self.r0.ru_utime) + (r1.ru_stime - self.r0.ru_stime)
        return wall, cpu, max(0.0, _busy_s() - self.b0 - cpu)


def _zombie_cpu(pid: int) -> float:
    """Returns utime+stime of an exited, not yet reaped process."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    fields = data[data.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# --------------------------------------------------------------------------
# One measured driver run


@dataclass
class Measure:
    wall_s: float
    cpu_s: float  # every waited-for descendant, user + sys
    driver_cpu_s: float  # the driver process alone
    other_cpu_s: float  # processes outside this benchmark, same interval
    rc: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    time_wait: int = -1
    disturbed: bool = False

    @property
    def peers_cpu_s(self) -> float:
        return self.cpu_s - self.driver_cpu_s

    def efficiency(self, n_cores: int) -> float:
        return self.cpu_s / n_cores / self.wall_s

    def other_share(self, n_cores: int) -> float:
        return self.other_cpu_s / n_cores / self.wall_s


def _counts(out: str) -> dict[str, int]:
    try:
        with open(os.path.join(out, "results.json"), encoding="utf-8") as f:
            return json.load(f).get("counts", {})
    except (OSError, ValueError):
        return {}


def run_driver(args: list[str], out: str) -> Measure:
    """Runs `python -m harness run --out OUT ARGS` (log: OUT.log) and
    measures it. Interrupted, it interrupts the driver (which stops its
    children) and waits for it."""
    argv = [sys.executable, "-m", "harness", "run", "--out", out, *args]
    env = dict(os.environ, NO_COLOR="1")
    tw = time_wait()
    with open(out + ".log", "wb") as log:
        meter = Meter().start()
        p = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                             stdout=log, stderr=subprocess.STDOUT)
        try:
            # Wait without reaping, so the driver's own CPU can still be read.
            os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
        except BaseException:
            p.send_signal(signal.SIGINT)
            p.wait()
            raise
        wall = time.monotonic() - meter.t0
        driver_cpu = _zombie_cpu(p.pid)
        rc = p.wait()
        wall, cpu, other = meter.stop(wall)
    return Measure(wall, cpu, driver_cpu, other, rc, _counts(out), tw)


# --------------------------------------------------------------------------
# The bare baseline: one echo/hello C x C cell without the driver


def _free_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    """True if /proc/net/tcp6 or tcp lists a listener on port. Reads only
    the head of each table: the kernel lists listeners first and produces
    the file a page per read, so TIME_WAIT entries are never generated."""
    local = f":{port:04X}".encode()
    for path in ("/proc/net/tcp6", "/proc/net/tcp"):
        with open(path, "rb", buffering=0) as f:
            rest, header = b"", True
            while chunk := f.read(4096):
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                if header:
                    lines, header = lines[1:], False
                for line in lines:
                    fields = line.split(None, 4)
                    if fields[3] != b"0A":
                        break  # past the listeners
                    if fields[1].endswith(local):
                        return True
                else:
                    continue
                break
    return False


def bare_cell(build: str) -> None:
    """Starts the C echo server, waits until it listens, runs the C client
    once, stops the server's group. Raises RuntimeError if anything is off."""
    port = _free_port()
    server = subprocess.Popen([os.path.join(build, "c/echo/server"), str(port)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"echo server never listened on {port}")
            time.sleep(0.0005)
        client = subprocess.run([os.path.join(build, "c/echo/client"), "127.0.0.1",
                                 str(port)], input=ECHO_STDIN, capture_output=True,
                                timeout=READY_TIMEOUT_S)
        if client.returncode != 0 or client.stdout != ECHO_STDIN:
            raise RuntimeError(f"echo client: exit {client.returncode}, "
                               f"stdout {client.stdout!r}")
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        server.wait()


def baseline(build: str, n: int) -> Measure:
    """Runs n bare cells; wall and CPU are for all n."""
    bare_cell(build)  # warm the page cache
    meter = Meter().start()
    for _ in range(n):
        bare_cell(build)
    wall, cpu, other = meter.stop()
    return Measure(wall, cpu, 0.0, other)


@dataclass
class Overhead:
    one: Measure
    many: Measure
    bare: Measure
    n: int

    @property
    def marginal_s(self) -> float:
        """The driver's wall per additional cell."""
        return (self.many.wall_s - self.one.wall_s) / (self.n - 1)

    @property
    def driver_cpu_s(self) -> float:
        """The driver's own CPU per additional cell (robust to other load)."""
        return (self.many.driver_cpu_s - self.one.driver_cpu_s) / (self.n - 1)

    @property
    def bare_s(self) -> float:
        return self.bare.wall_s / self.n

    @property
    def overhead_s(self) -> float:
        return self.marginal_s - self.bare_s

    def other_share(self, n_cores: int) -> float:
        parts = (self.one, self.many, self.bare)
        return sum(m.other_cpu_s for m in parts) / n_cores / sum(m.wall_s for m in parts)


def measure_overhead(build_args: list[str], build: str, n: int, work: str) -> Overhead:
    cc = ["--protocol", "echo", "--scenario", "hello", "--server", "c", "--client", "c",
          "--jobs", "1", *build_args]
    one = run_driver([*cc, "--repeat", "1"], os.path.join(work, "cc-1"))
    many = run_driver([*cc, "--repeat", str(n)], os.path.join(work, f"cc-{n}"))
    return Overhead(one, many, baseline(build, n), n)


# --------------------------------------------------------------------------
# Reporting


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _ms(s: float) -> str:
    return f"{s * 1000:.1f}"


def _verdicts(counts: dict[str, int]) -> str:
    return " ".join(f"{k} {v}" for k, v in counts.items() if v) or "no results.json"


def _mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def undisturbed(measure, n_cores: int, max_other: float, retries: int, label: str):
    """Calls measure() until the other load stays within max_other (at most
    1 + retries times); returns the last result and whether it was disturbed."""
    for attempt in range(retries + 1):
        m = measure()
        share = m.other_share(n_cores)
        if share <= max_other:
            return m, False
        print(f"  ({label}: other processes used {share:.0%} of the machine"
              + ("; redoing it)" if attempt < retries else "; keeping it, marked *)"),
              flush=True)
    return m, True


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python3 bench/matrix.py",
        description="Benchmark the matrix driver: efficiency of a full run "
                    "(CPU / cores / wall) and the marginal overhead per cell.",
        epilog=f"Targets (issue 5): efficiency >= {TARGET_EFFICIENCY} on 2 cores, "
               f"overhead <= {TARGET_OVERHEAD_S * 1000:g} ms per cell.")
    ap.add_argument("--runs", type=int, default=3,
                    help="measure everything this many times (default %(default)s)")
    ap.add_argument("--jobs", default=None, metavar="N[,N...]",
                    help="--jobs for the full-matrix runs; a list measures each "
                         "(default: the driver's own default, cores x 2)")
    ap.add_argument("--repeat", type=int, default=50, metavar="N",
                    help="cells in the overhead measurement (default %(default)s)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), metavar="DIR",
                    help="the CMake build directory (default: build)")
    ap.add_argument("--max-other", type=float, default=0.10, metavar="SHARE",
                    help="redo a measurement when other processes used more than this "
                         "share of the machine meanwhile (default %(default)s)")
    ap.add_argument("--retries", type=int, default=2,
                    help="redos per disturbed measurement (default %(default)s)")
    ap.add_argument("--skip-full", action="store_true", help="only the overhead")
    ap.add_argument("--skip-overhead", action="store_true", help="only the full matrix")
    ap.add_argument("--floor", action="store_true",
                    help="also measure the floor: the peers' CPU one cell at a time / cores")
    ap.add_argument("--compare-cells", action="store_true",
                    help="follow each full run by the same without cells (--no-cells) and "
                         "print the ratio of the walls")
    ap.add_argument("--own-servers", action="store_true",
                    help="pass --own-servers to the driver: a server per cell, no shared "
                         "servers (docs/matrix.md), to measure what sharing saves")
    ap.add_argument("--keep", metavar="DIR",
                    help="keep the driver's results and logs in DIR (default: deleted)")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.repeat < 2 or args.retries < 0:
        ap.error("--runs must be >= 1, --repeat >= 2, --retries >= 0")
    try:
        args.jobs = [int(j) for j in args.jobs.split(",")] if args.jobs else [None]
    except ValueError:
        ap.error(f"--jobs {args.jobs}: expected N or N,N,...")
    if any(j is not None and j < 1 for j in args.jobs):
        ap.error("--jobs must be >= 1")
    args.build = os.path.abspath(args.build)
    for prog in ("c/echo/server", "c/echo/client"):
        if not os.access(os.path.join(args.build, prog), os.X_OK):
            ap.error(f"{os.path.join(args.build, prog)} is missing; build first: "
                     "cmake -B build -S . && cmake --build build -j2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    n_cores = cores()
    work = args.keep or tempfile.mkdtemp(prefix="bench-matrix-")
    os.makedirs(work, exist_ok=True)
    build_args = ["--build", args.build] + (["--own-servers"] if args.own_servers else [])
    print(f"# bench/matrix.py  {datetime.date.today()}  {platform.node()}  "
          f"{n_cores} cores  Python {platform.python_version()}  commit {revision()}  "
          f"runs {args.runs}", flush=True)
    full: dict[int | None, list[Measure]] = {j: [] for j in args.jobs}
    bare: dict[int | None, list[Measure]] = {j: [] for j in args.jobs}  # --no-cells
    over: list[Overhead] = []
    failed = False
    floor_s: float | None = None

    def full_run(more: list[str], out: str, label: str) -> Measure:
        """One full matrix (driver options more), redone while disturbed."""
        m, disturbed = undisturbed(lambda: run_driver([*build_args, *more], out),
                                   n_cores, args.max_other, args.retries, label)
        m.disturbed = disturbed
        return m

    try:
        if args.floor:
            m = run_driver([*build_args, "--jobs", "1"], os.path.join(work, "floor"))
            floor_s = m.peers_cpu_s / n_cores
            failed |= m.rc != 0
            print(f"floor: one cell at a time, wall {m.wall_s:.1f} s, peers' CPU "
                  f"{m.peers_cpu_s:.1f} s, driver CPU {m.driver_cpu_s:.1f} s: floor "
                  f"{floor_s:.1f} s on {n_cores} cores", flush=True)
        for run in range(1, args.runs + 1):
            for jobs in ([] if args.skip_full else args.jobs):
                name = f"jobs {jobs or 'default'}"
                out = os.path.join(work, f"full-r{run}-j{jobs or 'default'}")
                extra = ["--jobs", str(jobs)] if jobs else []
                def bare_run() -> Measure:
                    return full_run([*extra, "--no-cells"], out + "-nocells",
                                    f"run {run} {name} no cells")

                # Every other run measures without cells first: a machine
                # that drifts over the runs favours neither.
                first = bare_run() if args.compare_cells and run % 2 == 0 else None
                m = full_run(extra, out, f"run {run} {name}")
                full[jobs].append(m)
                failed |= m.rc != 0
                print(f"run {run} full matrix, {name}: wall {m.wall_s:.1f} s, CPU "
                      f"{m.cpu_s:.1f} s (driver {m.driver_cpu_s:.1f}, peers "
                      f"{m.peers_cpu_s:.1f}), efficiency {m.efficiency(n_cores):.2f}"
                      f"{'*' if m.disturbed else ''}, other load "
                      f"{m.other_share(n_cores):.0%}, TIME_WAIT {m.time_wait}, exit {m.rc}: "
                      f"{_verdicts(m.counts)}"
                      + (f", wall / floor {m.wall_s / floor_s:.2f}" if floor_s else ""),
                      flush=True)
                if args.compare_cells:
                    b = first or bare_run()
                    bare[jobs].append(b)
                    failed |= b.rc != 0
                    print(f"run {run} full matrix, {name}, no cells: wall {b.wall_s:.1f} s, "
                          f"CPU {b.cpu_s:.1f} s (driver {b.driver_cpu_s:.1f}), efficiency "
                          f"{b.efficiency(n_cores):.2f}{'*' if b.disturbed else ''}, exit "
                          f"{b.rc}: {_verdicts(b.counts)}; cells / none {m.wall_s / b.wall_s:.2f}",
                          flush=True)
            if args.skip_overhead:
                continue
            try:
                o, disturbed = undisturbed(
                    lambda: measure_overhead(build_args, args.build, args.repeat, work),
                    n_cores, args.max_other, args.retries, f"run {run} overhead")
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print(f"run {run} overhead: the bare baseline failed: {e}", file=sys.stderr)
                failed = True
                continue
            over.append(o)
            failed |= o.one.rc != 0 or o.many.rc != 0
            print(f"run {run} overhead: 1 cell {o.one.wall_s:.2f} s, {o.n} cells "
                  f"{o.many.wall_s:.2f} s; per cell: marginal {_ms(o.marginal_s)} ms, bare "
                  f"{_ms(o.bare_s)} ms, overhead {_ms(o.overhead_s)} ms"
                  f"{'*' if disturbed else ''} (driver CPU {_ms(o.driver_cpu_s)} ms), other load "
                  f"{o.other_share(n_cores):.0%}, TIME_WAIT {o.one.time_wait}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print(f"\n# medians of {args.runs} run(s), {n_cores} cores")
    if any(full.values()):
        print("| jobs | wall s | CPU s | driver CPU s | efficiency | other load |")
        print("|---|---|---|---|---|---|")
    for jobs, ms in full.items():
        if ms:
            print(f"| {jobs or 'default'} | {_median([m.wall_s for m in ms]):.1f} | "
                  f"{_median([m.cpu_s for m in ms]):.1f} | "
                  f"{_median([m.driver_cpu_s for m in ms]):.1f} | "
                  f"{_median([m.efficiency(n_cores) for m in ms]):.2f} | "
                  f"{_median([m.other_share(n_cores) for m in ms]):.0%} |")
    for jobs, bs in bare.items():
        if bs:
            w = _median([m.wall_s for m in full[jobs]])
            wb = _median([b.wall_s for b in bs])
            print(f"cells, jobs {jobs or 'default'}: median wall {w:.1f} s, without cells "
                  f"{wb:.1f} s: {w / wb:.2f}x (target <= 1.10: {_mark(w / wb <= 1.10)})")
    if floor_s:
        for jobs, ms in full.items():
            if ms:
                w = _median([m.wall_s for m in ms])
                print(f"floor {floor_s:.1f} s; jobs {jobs or 'default'}: median wall "
                      f"{w:.1f} s = {w / floor_s:.2f} x the floor")
    for jobs, ms in full.items():
        if ms:
            eff = _median([m.efficiency(n_cores) for m in ms])
            print(f"efficiency, jobs {jobs or 'default'}: {eff:.2f} "
                  f"(target >= {TARGET_EFFICIENCY}: {_mark(eff >= TARGET_EFFICIENCY)})")
    if over:
        ov = _median([o.overhead_s for o in over])
        print(f"per cell: marginal {_ms(_median([o.marginal_s for o in over]))} ms, bare "
              f"{_ms(_median([o.bare_s for o in over]))} ms, overhead {_ms(ov)} ms, driver CPU "
              f"{_ms(_median([o.driver_cpu_s for o in over]))} ms "
              f"(target <= {_ms(TARGET_OVERHEAD_S)} ms: {_mark(ov <= TARGET_OVERHEAD_S)})")
    if args.keep:
        print(f"results and driver logs: {work}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
