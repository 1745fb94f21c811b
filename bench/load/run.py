"""Load benchmark: the C echo server against seed 004's selectors echo server
(Python) and redis-server (inline PING), all on loopback, in one run.

Builds nothing: it expects loadgen and the C echo server in the build
directory (cmake -B build -S . && cmake --build build -j2). Starts each
server on a free loopback port, waits until the kernel lists its listening
socket (/proc/net/tcp), runs loadgen at --connections connections
--reps times per server, interleaving the servers so that drift in the
machine's load hits all of them alike, then checks that the C server holds
--hold connections with zero errors. Every server it started is stopped by
process group at the end, whatever happens. Prints the medians, the ratios
C/redis and C/Python, and the hold result.

Besides loadgen's figures, each run records the CPU time the server and
loadgen spent per request (server: /proc/PID/task/*/schedstat; loadgen:
rusage). On a 2-core machine loadgen needs about as much CPU per request
as the server, so requests/s says how fast the pair goes, not how fast
the server could go. Each measured run is therefore followed by one with
the server and loadgen pinned to the same core: there the server never
idles waiting for loadgen, and its CPU time per request is its cost. The
share of the machine other processes took during a run is measured too
(/proc/stat); a run disturbed by more than --max-other is thrown away and
done again, at most --redo times.

Run:  python3 bench/load/run.py [--build build] [--reps 5]
Exit: 0 when every run completed with zero errors, 1 otherwise (a target
missed is reported, not an error), 2 usage.
"""

from __future__ import annotations

import argparse
import functools
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

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TCP_LISTEN = "0A"
READY_TIMEOUT = 10.0


@dataclass
class Server:
    name: str
    argv: list[str]
    loadgen_args: list[str]
    cwd: str | None = None
    proc: subprocess.Popen | None = None
    port: int = 0
    runs: list[dict] = field(default_factory=list)


def free_port() -> int:
    """Returns a loopback port the kernel just handed out and that no socket
    uses now (a later bind can still race, the wait then reports it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def socket_inodes(pid: int) -> set[int]:
    """Returns the inodes of the sockets process pid holds open."""
    out = set()
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return out
    for name in names:
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(int(target[8:-1]))
    return out


def listening_inodes(port: int) -> set[int]:
    """Returns the inodes of TCP sockets listening on port (v4 and v6)."""
    out = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if (len(f) > 9 and f[3] == TCP_LISTEN
                    and int(f[1].rsplit(":", 1)[1], 16) == port):
                out.add(int(f[9]))
    return out


def wait_listening(srv: Server) -> None:
    """Returns once the kernel shows srv's own process listening on its
    port; raises RuntimeError if it exits first or takes too long. The
    growing pause between looks is a polling interval: the condition, not
    the pause, is what is waited for."""
    deadline = time.monotonic() + READY_TIMEOUT
    pause = 0.001
    while True:
        if listening_inodes(srv.port) & socket_inodes(srv.proc.pid):
            return
        if srv.proc.poll() is not None:
            raise RuntimeError(f"{srv.name} exited with {srv.proc.returncode} "
                               f"before listening on {srv.port}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{srv.name} not listening on {srv.port} "
                               f"after {READY_TIMEOUT:.0f} s")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def start(srv: Server, log_dir: str) -> None:
    srv.port = free_port()
    argv = [a.replace("{port}", str(srv.port)) for a in srv.argv]
    with open(os.path.join(log_dir, srv.name + ".log"), "wb") as log:
        srv.proc = subprocess.Popen(
            argv, cwd=srv.cwd, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_listening(srv)
    except RuntimeError as e:
        with open(log.name, "rb") as f:
            tail = f.read()[-2000:].decode(errors="replace").strip()
        raise RuntimeError(f"{e}; its output:\n{tail}") from None


def stop(srv: Server) -> None:
    """Stops srv's whole process group: SIGTERM, then SIGKILL after 5 s."""
    if srv.proc is None or srv.proc.poll() is not None:
        return
    try:
        os.killpg(srv.proc.pid, signal.SIGTERM)
        srv.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait()
    except ProcessLookupError:
        pass


def cpu_ns(pid: int) -> int:
    """Returns the CPU time every thread of pid has run, in nanoseconds."""
    total = 0
    task_dir = f"/proc/{pid}/task"
    for tid in os.listdir(task_dir):
        try:
            with open(os.path.join(task_dir, tid, "schedstat")) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that just ended
    return total


def machine_busy_s() -> float:
    """Returns the CPU time all CPUs have spent busy since boot, seconds."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    # user nice system idle iowait irq softirq steal
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def parse_loadgen(text: str) -> dict:
    """Returns loadgen's figures: done, total, rps, p50, p99, errors."""
    fields = {}
    for line in text.splitlines():
        key, _, rest = line.partition(" ")
        fields[key] = rest.split()
    done, total = fields["requests"][0], fields["requests"][2]
    return {"done": int(done), "total": int(total),
            "rps": float(fields["requests/s"][0]),
            "p50": float(fields["p50_us"][0]),
            "p99": float(fields["p99_us"][0]),
            "errors": int(fields["errors"][0]),
            "error_text": " ".join(fields["errors"])}


def set_affinity(pid: int, cpus: set[int]) -> None:
    """Moves every thread of pid onto cpus."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:
            pass  # a thread that just ended


def loadgen(args, srv: Server, conns: int, requests: int,
            cpu: int | None = None) -> dict:
    """Runs loadgen once against srv, both on the one CPU cpu if given;
    returns loadgen's figures plus CPU use."""
    argv = [args.loadgen, "127.0.0.1", str(srv.port), "-c", str(conns),
            "-n", str(requests), "-t", str(args.timeout)] + srv.loadgen_args
    pin = None
    if cpu is not None:
        set_affinity(srv.proc.pid, {cpu})
        pin = functools.partial(os.sched_setaffinity, 0, {cpu})
    srv_before = cpu_ns(srv.proc.pid)
    lg_before = children_cpu_s()
    busy_before = machine_busy_s()
    wall_before = time.monotonic()
    try:
        res = subprocess.run(argv, capture_output=True, text=True,
                             timeout=args.timeout + 30, preexec_fn=pin)
    except subprocess.TimeoutExpired:
        return {"failed": f"loadgen did not finish: {' '.join(argv)}"}
    finally:
        if cpu is not None:
            set_affinity(srv.proc.pid, os.sched_getaffinity(0))
    wall = time.monotonic() - wall_before
    busy = machine_busy_s() - busy_before
    lg_cpu = children_cpu_s() - lg_before
    srv_cpu = (cpu_ns(srv.proc.pid) - srv_before) / 1e9
    if res.returncode not in (0, 1) or "errors" not in res.stdout:
        return {"failed": f"loadgen exit {res.returncode}: "
                          f"{res.stderr.strip() or res.stdout.strip()}"}
    fig = parse_loadgen(res.stdout)
    fig["stderr"] = res.stderr.strip()
    n = max(fig["done"], 1)
    fig["srv_us"] = srv_cpu * 1e6 / n
    fig["lg_us"] = lg_cpu * 1e6 / n
    # What else ran meanwhile, as a share of the machine: the figures of a
    # run that shared the cores with other work are not comparable.
    fig["other"] = max(0.0, busy - srv_cpu - lg_cpu) / (wall * os.cpu_count())
    return fig


def measure(args, srv: Server, cpu: int | None = None) -> dict:
    """Runs one measured loadgen run against srv. A run during which other
    processes took more than --max-other of the machine is thrown away and
    done again, at most --redo times; the last one is kept either way."""
    for attempt in range(args.redo + 1):
        fig = loadgen(args, srv, args.connections, args.requests, cpu)
        if "failed" in fig or fig["other"] <= args.max_other:
            break
    fig["redone"] = attempt
    return fig


def machine() -> str:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def redis_version(path: str) -> str:
    out = subprocess.run([path, "--version"], capture_output=True, text=True)
    words = out.stdout.split()
    return next((w[2:] for w in words if w.startswith("v=")), "?")


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def print_table(servers: list[Server], conns: int, requests: int) -> None:
    print(f"\nmedians of {len(servers[0].runs)} runs, {conns} connections, "
          f"{requests} requests each; CPU columns in microseconds per\n"
          f"request (srv, lg: server and loadgen on 2 cores; 1-core srv: the "
          f"server sharing one core\nwith loadgen); other: the share of the "
          f"machine other processes used meanwhile")
    cols = ("server", "requests/s", "p50 us", "p99 us", "srv CPU", "lg CPU",
            "1-core srv", "other", "errors")
    row = "{:<20} {:>10} {:>7} {:>7} {:>7} {:>6} {:>10} {:>5} {:>6}"
    print(row.format(*cols))
    print(row.format(*("-" * len(c) for c in cols)))
    for s in servers:
        print(row.format(
            s.name, f"{median(s.runs, 'rps'):.0f}",
            f"{median(s.runs, 'p50'):.1f}", f"{median(s.runs, 'p99'):.1f}",
            f"{median(s.runs, 'srv_us'):.2f}",
            f"{median(s.runs, 'lg_us'):.2f}",
            f"{median(s.runs, 'core_us'):.2f}",
            f"{median(s.runs, 'other'):.0%}",
            sum(r["errors"] for r in s.runs)))
    redone = sum(r["redone"] for s in servers for r in s.runs)
    print(f"runs thrown away and redone because other processes were busy: "
          f"{redone}")


def ratio_line(c: Server, other: Server | None, label: str,
               target: float) -> None:
    if other is None or not other.runs:
        print(f"C/{label}: n/a ({label} not run)")
        return
    rps = median(c.runs, "rps") / median(other.runs, "rps")
    cpu = median(other.runs, "core_us") / median(c.runs, "core_us")
    verdict = "met" if rps >= target else "MISSED"
    print(f"C/{label}: requests/s {rps:.2f}x (target >= {target:g}x: "
          f"{verdict}); requests per CPU second on one core {cpu:.2f}x")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="CMake build directory (default: build/)")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--requests", type=int, default=100000,
                    help="requests per run (fixed count)")
    ap.add_argument("--reps", type=int, default=5, help="runs per server")
    ap.add_argument("--hold", type=int, default=1000,
                    help="connections the C server must hold, 0 to skip")
    ap.add_argument("--max-other", type=float, default=0.10,
                    help="share of the machine other processes may use "
                    "during a run before it is redone (default 0.10)")
    ap.add_argument("--redo", type=int, default=3,
                    help="times a disturbed run is redone (default 3)")
    ap.add_argument("--timeout", type=int, default=60,
                    help="seconds one loadgen run may take")
    args = ap.parse_args(argv)
    if not (1 <= args.reps <= 50 and 1 <= args.connections <= 10000
            and args.connections <= args.requests <= 10_000_000
            and 0 <= args.hold <= 20000 and 1 <= args.timeout <= 600
            and 0 <= args.redo <= 10 and 0 < args.max_other <= 1):
        ap.error("out of bounds: reps 1..50, connections 1..10000 <= "
                 "requests <= 1e7, hold 0..20000, timeout 1..600, "
                 "redo 0..10, max-other 0..1")

    build = os.path.abspath(args.build)
    args.loadgen = os.path.join(build, "bench", "load", "loadgen")
    c_server = os.path.join(build, "c", "echo", "server")
    for path in (args.loadgen, c_server):
        if not os.access(path, os.X_OK):
            print(f"missing {path}: build first with "
                  f"cmake -B build -S . && cmake --build build -j2",
                  file=sys.stderr)
            return 1

    tmp = tempfile.mkdtemp(prefix="bench-load-")
    servers = [
        Server("C echo", [c_server, "{port}"], []),
        Server("Python selectors", [
            sys.executable,
            os.path.join(ROOT, "peers", "python", "echo",
                         "server_selectors.py"), "{port}"], []),
    ]
    redis = shutil.which("redis-server")
    if redis is None:
        print("redis-server not found, its row is skipped; install it with:\n"
              "  apt-get install redis-server")
    else:
        servers.append(Server(
            "redis-server " + redis_version(redis),
            [redis, "--port", "{port}", "--save", "", "--appendonly", "no",
             "--bind", "127.0.0.1"], ["--redis-ping"], cwd=tmp))

    print("command: python3 " + " ".join(
        [os.path.relpath(os.path.abspath(__file__), ROOT)] + argv))
    print("machine: " + machine())
    failures = []
    hold = None
    one_cpu = max(os.sched_getaffinity(0))
    try:
        for s in servers:
            start(s, tmp)
            print(f"started {s.name} (pid {s.proc.pid}) on 127.0.0.1:{s.port}")
        # One short warm-up each (caches, redis's lazy setup), discarded.
        for s in servers:
            loadgen(args, s, args.connections, max(args.requests // 10,
                                                   args.connections))
        for rep in range(args.reps):
            # Interleave, rotating who goes first, so drift hits all alike.
            k = rep % len(servers)
            for s in servers[k:] + servers[:k]:
                # Both cores, then server and loadgen sharing one: there
                # the server never waits for loadgen, so its CPU time per
                # request is its cost, not the pace loadgen set.
                fig = measure(args, s)
                one = measure(args, s, one_cpu)
                bad = [f for f in (fig, one) if "failed" in f]
                if bad:
                    failures.append(f"{s.name}: {bad[0]['failed']}")
                    continue
                for f in (fig, one):
                    if f["errors"] or f["done"] != f["total"]:
                        failures.append(f"{s.name}: {f['error_text']}")
                fig["errors"] += one["errors"]
                fig["core_us"] = one["srv_us"]
                fig["other"] = max(fig["other"], one["other"])
                fig["redone"] += one["redone"]
                s.runs.append(fig)
                redone = f", redone {fig['redone']}x" if fig["redone"] else ""
                print(f"  run {rep + 1} {s.name:<20} {fig['rps']:>7.0f} req/s"
                      f"  p50 {fig['p50']:.1f} us  p99 {fig['p99']:.1f} us"
                      f"  one core {fig['core_us']:.2f} us CPU/req"
                      f"  errors {fig['errors']}"
                      f"  other {fig['other']:.0%}{redone}")
        if args.hold:
            hold = loadgen(args, servers[0], args.hold, args.hold * 10)
    finally:
        for s in servers:
            stop(s)
        shutil.rmtree(tmp, ignore_errors=True)

    ran = [s for s in servers if s.runs]
    if ran:
        print_table(ran, args.connections, args.requests)
    by_name = {s.name.split()[0]: s for s in ran}
    c = by_name.get("C")
    if c is not None:
        print()
        ratio_line(c, by_name.get("redis-server"), "redis", 1.0)
        ratio_line(c, by_name.get("Python"), "Python-selectors", 5.0)
    if hold is not None:
        if "failed" in hold:
            failures.append(f"hold: {hold['failed']}")
            print(f"hold {args.hold} connections (C echo): FAILED, "
                  f"{hold['failed']}")
        else:
            ok = hold["errors"] == 0 and hold["done"] == hold["total"]
            if not ok:
                failures.append(f"hold: {hold['error_text']}")
            print(f"hold {args.hold} connections (C echo), "
                  f"{hold['total']} requests: {hold['done']} done, errors "
                  f"{hold['error_text']}, {hold['rps']:.0f} req/s, "
                  f"p99 {hold['p99']:.1f} us: {'met' if ok else 'MISSED'}")
    for f in failures:
        print("FAILED " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except RuntimeError as e:
        print(f"run.py: {e}", file=sys.stderr)
        sys.exit(1)
