#!/usr/bin/env python3
"""Compares the per-cell verdicts of several runs (flake hunting across
whole runs; `harness run --repeat` does it within one run).

Usage: python3 bench/stability.py RESULTS.json|DIR ...
A DIR is searched for */results.json (bench/matrix.py --keep DIR leaves one
folder per run). Prints one line per cell whose verdict differs between
runs, with each run's verdict and reason, then a summary. Exit 0 when every
run gave every cell the same verdict, 1 otherwise, 2 on bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def result_files(args: list[str]) -> list[Path]:
    files: list[Path] = []
    for a in args:
        p = Path(a)
        if p.is_dir():
            files.extend(sorted(p.glob("*/results.json")))
        else:
            files.append(p)
    return files


def load(path: Path) -> dict[str, tuple[str, str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {c["id"]: (c["verdict"], c.get("reason", "")) for c in data["cells"]}


def main(argv: list[str]) -> int:
    files = result_files(argv)
    if len(files) < 2:
        print("stability.py: need at least two results.json (or a folder of runs)",
              file=sys.stderr)
        return 2
    try:
        runs = [load(f) for f in files]
    except (OSError, ValueError, KeyError) as e:
        print(f"stability.py: {e}", file=sys.stderr)
        return 2
    cells = sorted(set().union(*runs))
    unstable = 0
    for cid in cells:
        seen = [r.get(cid, ("absent", "")) for r in runs]
        if len({v for v, _ in seen}) > 1:
            unstable += 1
            print(cid)
            for f, (v, why) in zip(files, seen):
                print(f"    {f.parent.name or f}: {v}" + (f": {why[:160]}" if why else ""))
    same = len(cells) - unstable
    print(f"{len(files)} runs, {len(cells)} cells: {same} with one verdict in every run, "
          f"{unstable} that changed")
    return 0 if unstable == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
