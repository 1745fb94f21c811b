"""SIGKILL (or --signal TERM/INT) the driver at a random moment of a full
run; check that nothing it made survives (issue 11).

Each round starts `python3 -m harness run` (the full matrix unless
--protocol narrows it), kills it with SIGKILL after a random delay, and
then looks for what is left:
- processes: this script is a child subreaper, so every orphan of the
  driver (a cell, a two-hosts server, the janitor) is re-parented here;
  after the janitor has had its moment (polled, at most --settle s), any
  process still below this one is a survivor;
- listening sockets on the machine's own network that were not there
  before the round (ss);
- network namespaces named by that driver (`ip netns list`: slh-PID-*,
  slhs-PID-*);
- anything in the driver's temporary folder (TMPDIR, one per round): its
  scratch folders.
Survivors are listed, then killed (they are ours) and removed.

A run that ends by itself before its kill does not count as a round: the
kills are drawn again, no later than 90% of that run's length.

Run:   python3 bench/kill_driver.py [--rounds 10] [--min 2] [--max 120]
                                    [--protocol P,...] [--seed N]
Exit:  0 when no round left anything, 1 otherwise.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PR_SET_CHILD_SUBREAPER = 36


def descendants(pid: int) -> list[int]:
    """Every live process below pid (from /proc/*/stat's ppid)."""
    parent: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2:].split()
            if fields[0] != b"Z":
                parent[int(d)] = int(fields[1])
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")[:120]
    except OSError:
        return "?"


def listening() -> set[str]:
    out = subprocess.run(["ss", "-Hltnu"], capture_output=True, text=True).stdout
    return {" ".join(line.split()[4:5]) + " " + line.split()[0] for line in out.splitlines()
            if line.strip()}


def reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def namespaces(pid: int) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return [n for n in names if n.startswith((f"slh-{pid}-", f"slhs-{pid}-"))]


def scratch(tmp: str) -> set[str]:
    return set(glob.glob(os.path.join(tmp, "*")))


class Ended(Exception):
    """The run ended by itself before its kill, after `wall` s."""

    def __init__(self, wall: float, code: int):
        super().__init__(wall, code)
        self.wall, self.code = wall, code


def one_round(n: int, delay: float, args: argparse.Namespace, out: str) -> list[str]:
    # The driver's own temporary folder: what is left there is its own,
    # whatever other programs on the machine make meanwhile.
    tmp = out + "-tmp"
    os.makedirs(tmp)
    before_listen = listening()
    cmd = [sys.executable, "-m", "harness", "run", "--out", out]
    if args.protocol:
        cmd += ["--protocol", args.protocol]
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={**os.environ, "TMPDIR": tmp})
    t0 = time.monotonic()
    while time.monotonic() - t0 < delay and p.poll() is None:
        time.sleep(0.05)
    if p.poll() is not None:
        raise Ended(time.monotonic() - t0, p.returncode)
    kids = len(descendants(p.pid))
    p.send_signal(args.signal)
    try:
        p.wait(timeout=args.settle)  # SIGTERM: the driver's own clean-up, bounded
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return [f"round {n}: the driver did not end within {args.settle:.0f} s of "
                f"{signal.Signals(args.signal).name} (sent at {delay:.1f} s, with {kids} "
                "processes below it)"]
    # The janitor and the kernel finish the clean-up: poll until nothing of
    # ours is left, at most args.settle seconds.
    end = time.monotonic() + args.settle
    while True:
        reap()
        left = descendants(os.getpid())
        ns = namespaces(p.pid)
        folders = scratch(tmp)
        if not (left or ns or folders) or time.monotonic() > end:
            break
        time.sleep(0.05)
    ports = sorted(listening() - before_listen) if left else []
    problems = [f"process {q}: {comm(q)}" for q in left]
    problems += [f"listening: {s}" for s in ports]
    problems += [f"namespace: {s}" for s in ns]
    problems += [f"folder: {s}" for s in sorted(folders)]
    print(f"round {n}: killed at {delay:5.1f} s with {kids} processes below the driver; "
          f"{'clean' if not problems else f'{len(problems)} left'} after "
          f"{time.monotonic() - t0 - delay:.2f} s", flush=True)
    for q in left:
        try:
            os.kill(q, signal.SIGKILL)
        except OSError:
            pass
    for s in ns:
        subprocess.run(["ip", "netns", "delete", s], capture_output=True)
    for f in folders:
        shutil.rmtree(f, ignore_errors=True)
    reap()
    return [f"round {n}: {x}" for x in problems]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--min", type=float, default=2.0, help="earliest kill, s (default 2)")
    ap.add_argument("--max", type=float, default=120.0, help="latest kill, s (default 120)")
    ap.add_argument("--settle", type=float, default=10.0,
                    help="how long the clean-up may take after the kill, s (default 10)")
    ap.add_argument("--protocol", help="a subset, as `run --protocol`")
    ap.add_argument("--seed", type=int, help="for the random delays")
    ap.add_argument("--signal", default="KILL", choices=["KILL", "TERM", "INT"],
                    help="what the driver is sent (default KILL; TERM and INT test its "
                         "own clean-up)")
    args = ap.parse_args()
    args.signal = getattr(signal, "SIG" + args.signal)
    rng = random.Random(args.seed)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("kill_driver: cannot become a child subreaper")
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kill-driver-") as tmp:
        latest, n, tries = args.max, 1, 0
        while n <= args.rounds:
            delay = rng.uniform(args.min, latest)
            tries += 1
            try:
                problems += one_round(n, delay, args, os.path.join(tmp, f"out{n}-{tries}"))
            except Ended as e:
                # A full run shorter than --max: kills are drawn again
                # within its length (a run that failed is a finding).
                print(f"round {n}: the run ended by itself (exit {e.code}) in {e.wall:.1f} s, "
                      f"before its kill at {delay:.1f} s: drawn again", flush=True)
                if e.code != 0:
                    problems.append(f"round {n}: the run failed (exit {e.code}) unkilled")
                latest = max(args.min, min(latest, 0.9 * e.wall))
                continue
            n += 1
    for line in problems:
        print(line)
    print(f"{args.rounds} rounds, {len(problems)} things left behind")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
