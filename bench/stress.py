"""Stress benchmark: do verdicts depend on how busy the machine is?

Runs the full matrix (or a --protocol subset) once on the machine as it
is, then again while 2 x cores CPU-bound processes run, and, in a second
round, while a second full matrix runs at the same time. Every cell's
verdict under load must equal its quiet verdict; the differences are
printed (cell, quiet verdict, loaded verdict, reason) and counted.

Run:   python3 bench/stress.py [--quiet DIR/results.json] [--protocol P,...]
                               [--burners N] [--rounds burners,second-run]
                               [--zoo]   (also check --class tests/zoo)
                               [--repeat N] (N loaded runs in the burners round)
Exit:  0 when no verdict changed, 1 when some did, 2 on usage errors.
A benchmark, not a test: it takes minutes, and the machine it runs on is
the subject. Dated results belong in bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BURN = "while True:\n    pass\n"


def verdicts(path: str) -> dict[str, tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return {c["id"]: (c["verdict"], c.get("reason", "")) for c in data["cells"]}


def run_matrix(out: str, args: list[str]) -> tuple[float, int]:
    """Runs the driver into out; returns (wall seconds, exit status)."""
    t = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "harness", "run", "--out", out, *args],
                       cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if p.returncode not in (0, 1):
        sys.stderr.write(p.stderr.decode("utf-8", "replace")[-2000:])
    return time.monotonic() - t, p.returncode


def check_zoo(out: str) -> tuple[float, dict[str, tuple[str, str]]]:
    """check --class tests/zoo; returns wall and each student's verdict
    with its named bugs (results.json per student)."""
    t = time.monotonic()
    subprocess.run([sys.executable, "-m", "harness", "check", "--class",
                    os.path.join(ROOT, "tests", "zoo"), "--out", out, "--quick"],
                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - t
    found: dict[str, tuple[str, str]] = {}
    for root, _, files in os.walk(out):
        if "check.json" in files:
            with open(os.path.join(root, "check.json"), encoding="utf-8") as f:
                data = json.load(f)
            name = data.get("student") or os.path.basename(root)
            bugs = sorted(b.get("id", "") for b in data.get("bugs", []))
            found[name] = (data.get("verdict", "?"), ",".join(bugs))
    return wall, found


def compare(quiet: dict, loaded: dict, label: str) -> int:
    n = 0
    for cell in sorted(set(quiet) | set(loaded)):
        a, b = quiet.get(cell), loaded.get(cell)
        if (a or ("",))[0] != (b or ("",))[0] or (label == "zoo" and a != b):
            n += 1
            print(f"  {label}: {cell}: {a[0] if a else 'absent'} -> "
                  f"{b[0] if b else 'absent'}: {(b or ('', ''))[1][:200]}")
    print(f"{label}: {n} verdict difference(s) in {len(quiet)} cell(s)")
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quiet", help="results.json of a quiet run (else one is made)")
    ap.add_argument("--protocol", help="only these protocols (comma list)")
    ap.add_argument("--burners", type=int, default=2 * (os.cpu_count() or 1))
    ap.add_argument("--rounds", default="burners,second-run")
    ap.add_argument("--zoo", action="store_true", help="also check --class tests/zoo")
    ap.add_argument("--keep", help="keep the outputs in this folder")
    ap.add_argument("--repeat", type=int, default=1,
                    help="full runs in the burners round, one after another "
                         "(then: bench/stability.py KEEP)")
    a = ap.parse_args()
    # SIGTERM ends it like Ctrl-C: the finally below stops the burners,
    # which would otherwise spin on after it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rounds = [r for r in a.rounds.split(",") if r]
    if any(r not in ("burners", "second-run") for r in rounds):
        ap.error("--rounds: burners and/or second-run")
    if a.repeat < 1:
        ap.error("--repeat: at least 1")
    args = ["--protocol", a.protocol] if a.protocol else []
    base = a.keep or tempfile.mkdtemp(prefix="stress-")
    os.makedirs(base, exist_ok=True)
    print(f"cores {os.cpu_count()}, burners {a.burners}, outputs in {base}")
    if a.quiet:
        quiet = verdicts(a.quiet)
    else:
        wall, rc = run_matrix(os.path.join(base, "quiet"), args)
        print(f"quiet run: {wall:.1f} s, exit {rc}")
        quiet = verdicts(os.path.join(base, "quiet", "results.json"))
    quiet_zoo = None
    if a.zoo:
        wall, quiet_zoo = check_zoo(os.path.join(base, "zoo-quiet"))
        print(f"zoo, quiet: {wall:.1f} s, {len(quiet_zoo)} students")
    burners: list[subprocess.Popen] = []
    diffs = 0
    try:
        for k in range(a.burners):
            burners.append(subprocess.Popen([sys.executable, "-c", BURN],
                                            stdin=subprocess.DEVNULL))
        for k in range(1, a.repeat + 1 if "burners" in rounds else 1):
            name = "burners" if a.repeat == 1 else f"burners-{k:02d}"
            out = os.path.join(base, name)
            wall, rc = run_matrix(out, args)
            print(f"with {a.burners} CPU-bound processes: {wall:.1f} s, exit {rc}", flush=True)
            diffs += compare(quiet, verdicts(os.path.join(out, "results.json")), name)
        if "burners" in rounds and quiet_zoo is not None:
            wall, zoo = check_zoo(os.path.join(base, "zoo-burners"))
            print(f"zoo with {a.burners} CPU-bound processes: {wall:.1f} s")
            diffs += compare(quiet_zoo, zoo, "zoo")
        if "second-run" in rounds:
            other = subprocess.Popen([sys.executable, "-m", "harness", "run", "--out",
                                      os.path.join(base, "second-other"), *args],
                                     cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            try:
                out = os.path.join(base, "second")
                wall, rc = run_matrix(out, args)
            finally:
                other.wait()
            print(f"with the burners and a second full run at once: {wall:.1f} s, exit {rc}")
            diffs += compare(quiet, verdicts(os.path.join(out, "results.json")), "second-run")
            diffs += compare(quiet, verdicts(os.path.join(base, "second-other",
                                                          "results.json")), "second-run-other")
    finally:
        for b in burners:
            b.send_signal(signal.SIGKILL)
            b.wait()
    print(f"verdict differences: {diffs}")
    return 0 if diffs == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
