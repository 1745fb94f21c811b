"""What a cell's bubblewrap costs: CPU per start of `bwrap <the cell's
arguments> -- /bin/true`, with and without the file view a matrix cell
gets (cell._binds), against `/bin/true` alone (issue 11 hoped for
no more than ~10 ms a cell).

Run:   python3 bench/cell_cost.py [--starts N] [--rounds R]
Each round starts each command N times one after another (the commands
alternate by round) and takes the CPU of the waited-for children
(RUSAGE_CHILDREN: bwrap, its init and /bin/true) per start; printed are
every round and the medians. The machine's other work is measured too
(/proc/stat busy time beyond ours, as bench/matrix.py does): CPU per start
is not the wall, and does not depend much on it, but a cache-thrashing
neighbour inflates it. A benchmark, not a test; dated results belong in
bench/results/.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from harness.run import cell  # noqa: E402  (after the path)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def busy_s() -> float:
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def per_start(argv: list[str], n: int) -> tuple[float, float]:
    """CPU per start (ours) and the CPU others used meanwhile, per start."""
    cpu0, busy0 = children_cpu(), busy_s()
    for _ in range(n):
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
    ours = children_cpu() - cpu0
    return ours / n, max(0.0, busy_s() - busy0 - ours) / n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--starts", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    sup = cell.support(os.path.join(ROOT, "build", "c", "cell", "sl-cell"))
    if not sup.ok:
        print(f"no cells here: {sup.why}", file=sys.stderr)
        return 2
    true = "/bin/true"
    base = cell.bwrap_argv(sup.bwrap, sup.user_ns, sup.sized)
    # A matrix cell's file view: the repository, the build and the
    # interpreter bound back, every folder of / outside the system hidden.
    view = cell._binds([ROOT, os.path.join(ROOT, "build"), sys.executable])
    commands = {
        "bwrap, the cell's arguments": [*base, "--", true],
        f"bwrap, with the cell's view ({len(view)} words)": [*base, *view, "--", true],
        "/bin/true alone": [true],
    }
    plain = "/bin/true alone"
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"{'root' if os.geteuid() == 0 else 'user namespace'}, "
          f"{args_note(sup)}; {a.starts} starts a round")
    got: dict[str, list[float]] = {k: [] for k in commands}
    for r in range(a.rounds):
        order = list(commands) if r % 2 == 0 else list(reversed(commands))
        for name in order:
            cpu, other = per_start(commands[name], a.starts)
            got[name].append(cpu)
            print(f"  round {r + 1}: {name}: {cpu * 1000:.2f} ms a start "
                  f"(others meanwhile {other * 1000:.1f} ms a start)")
    for name, vals in got.items():
        print(f"{name}: median {statistics.median(vals) * 1000:.2f} ms CPU a start")
    alone = statistics.median(got[plain])
    for name in list(got)[:2]:
        extra = statistics.median(got[name]) - alone
        print(f"{name}: {extra * 1000:.2f} ms of CPU more than the program alone")
    return 0


def args_note(sup: cell.Support) -> str:
    return "tmpfs capped (--size)" if sup.sized else "tmpfs not capped"


if __name__ == "__main__":
    sys.exit(main())
