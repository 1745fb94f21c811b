"""Fanning a run out over CI jobs and back in: which cells a shard runs
(balanced by expected cost), what identifies a run (commit, matrix,
selection), and `merge`, which turns shard outputs into one results.json,
junit.xml, report.html and terminal grid (docs/ci.md)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

from harness import __version__
from harness.errors import EXIT_FAIL, EXIT_INFRA, EXIT_INTERRUPTED, EXIT_OK, InfraError, UsageError
from harness.judge.verdict import ERROR, VERDICTS, ok_for_exit
from harness.output import report
from harness.spec import matrix
from harness.spec.matrix import Cell, Matrix

# Expected seconds of a cell when no earlier durations are given: a JVM
# start costs about a second on a small runner, every client process its
# own start, and a known failure usually waits for a timeout.
COST_BASE_S = 0.4
COST_JVM_S = 1.2
COST_CLIENT_S = 0.15
COST_KNOWN_FAILURE_S = 2.0



# --------------------------------------------------------------------------
# What identifies a run


def git_commit(root: Path) -> str | None:
    """The commit of the checkout at root, else the CI's commit variable
    (a container built without .git), else None."""
    try:
        p = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                           text=True, timeout=10)
        if p.returncode == 0 and p.stdout.strip():
            return p.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    for var in ("GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT"):
        if os.environ.get(var):
            return os.environ[var]
    return None


def matrix_hash(path: Path) -> str:
    """sha256 of the matrix file's bytes, then of each protocols/<id>/scenarios.yaml
    beside it (path and bytes): shards of different matrices never merge."""
    h = hashlib.sha256(Path(path).read_bytes())
    for f in matrix.scenario_files(path):
        h.update(b"\0" + f.parent.name.encode() + b"\0" + f.read_bytes())
    return "sha256:" + h.hexdigest()


def selection_hash(ids: list[str]) -> str:
    """sha256 of the selected cell ids (before sharding), in order."""
    return "sha256:" + hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()


def identity(m: Matrix, root: Path) -> dict:
    return {"harness_version": __version__, "commit": git_commit(root),
            "hostname": socket.gethostname(), "matrix_hash": matrix_hash(m.path)}


# --------------------------------------------------------------------------
# Shards


def parse_shard(text: str) -> tuple[int, int]:
    """"I/N" -> (I, N), 1 <= I <= N. Raises ValueError."""
    try:
        i_s, n_s = text.split("/")
        i, n = int(i_s), int(n_s)
    except ValueError:
        raise ValueError(f"{text}: expected I/N with 1 <= I <= N") from None
    if not 1 <= i <= n:
        raise ValueError(f"{text}: expected I/N with 1 <= I <= N")
    return i, n


def static_cost(cell: Cell, m: Matrix) -> float:
    """Expected seconds of a cell from its shape alone."""
    cost = COST_BASE_S
    clients = cell.scenario.clients
    for peer, role in ((cell.server, "server"), (cell.client, "client")):
        tpl = peer.template(role)
        jvm = tpl is not None and ("{java}" in tpl.text or "{jvm}" in tpl.text)
        n = 1 if role == "server" else clients
        cost += n * ((COST_JVM_S if jvm else 0.0) + (COST_CLIENT_S if role == "client" else 0.0))
    if m.known_failure(cell.id) is not None:
        cost += COST_KNOWN_FAILURE_S
    return cost


def load_durations(path: Path) -> dict[str, float]:
    """Cell id -> seconds from an earlier results.json (a repeat's mean).
    Raises ValueError when the file is not a results.json."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        sums: dict[str, list[float]] = {}
        for c in data["cells"]:
            sums.setdefault(c["id"], []).append(float(c["duration_s"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a results.json ({e})") from None
    return {k: sum(v) / len(v) for k, v in sums.items()}


def assign(costs: list[float], n: int) -> list[int]:
    """Shard (0-based) of each item: the most expensive first, each to the
    shard with the least cost so far (ties: the lowest shard). The same
    costs always give the same assignment, on every job."""
    loads = [0.0] * n
    out = [0] * len(costs)
    for i in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        k = min(range(n), key=lambda k: (loads[k], k))
        out[i] = k
        loads[k] += costs[i]
    return out


def shard(cells: list[Cell], m: Matrix, index: int, count: int,
          durations: dict[str, float] | None = None) -> list[Cell]:
    """The cells of shard index (1-based) of count, in selection order.
    Costs: durations (an earlier run's) where they know the cell, the
    static estimate otherwise."""
    durations = durations or {}
    costs = [durations.get(c.id, static_cost(c, m)) for c in cells]
    which = assign(costs, count)
    return [c for c, k in zip(cells, which) if k == index - 1]


# --------------------------------------------------------------------------
# Exit status (docs/results.md)


def exit_code(verdicts: list[str], interrupted: bool = False, infra: bool = False) -> int:
    """130 interrupted; 1 any cell a peer got wrong (fail, xpass, or
    deviates under --strict, already a fail); 3 no such cell but an error
    cell or an infrastructure problem; 0 otherwise."""
    if interrupted:
        return EXIT_INTERRUPTED
    if any(not ok_for_exit(v) and v != ERROR for v in verdicts):
        return EXIT_FAIL
    if infra or ERROR in verdicts:
        return EXIT_INFRA
    return EXIT_OK


# --------------------------------------------------------------------------
# merge


class MergeError(UsageError):
    """The shard outputs cannot be merged (exit 2)."""


def _load(d: Path) -> dict:
    f = d / "results.json"
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MergeError(f"{f}: no such file (is {d} a shard's --out?)") from None
    except (OSError, ValueError) as e:
        raise MergeError(f"{f}: {e}") from None
    if data.get("schema") != report.RESULTS_SCHEMA or data.get("version") != \
            report.RESULTS_VERSION:
        raise MergeError(f"{f}: not a results.json of this driver "
                         f"(schema {data.get('schema')!r}, version {data.get('version')!r})")
    return data


def _same(datas: list[tuple[Path, dict]], key: str, what: str) -> None:
    seen: dict[object, list[str]] = {}
    for d, data in datas:
        seen.setdefault(data.get(key), []).append(str(d))
    if len(seen) > 1:
        detail = "; ".join(f"{v or 'unknown'}: {', '.join(ds)}" for v, ds in seen.items())
        raise MergeError(f"refusing to merge runs of different {what} ({detail})")


def merge(dirs: list[Path], out: Path) -> tuple[dict, list[str]]:
    """Merges shard outputs into out: copies their cell folders and writes
    results.json, junit.xml and report.html. Returns the merged data and
    notes (missing shards or cells). Raises MergeError when the shards are
    not parts of one run (different commit, matrix, selection or shard
    count, the same shard twice, a cell in two shards)."""
    datas = [(d, _load(d)) for d in dirs]
    _same(datas, "commit", "commits")
    _same(datas, "matrix_hash", "matrices")
    for d, data in datas:
        data["_selection"] = (data.get("selection") or {}).get("hash")
        data["_count"] = (data.get("shard") or {}).get("count")
    _same(datas, "_selection", "cell selections (filters, modes or --repeat)")
    _same(datas, "_count", "shard counts")
    notes: list[str] = []
    count = datas[0][1]["_count"]
    seen_shards: dict[int | None, Path] = {}
    for d, data in datas:
        k = (data.get("shard") or {}).get("index")
        if k in seen_shards:
            raise MergeError(f"{d} and {seen_shards[k]} are the same shard "
                             f"({k}/{count})" if k else f"{d} and {seen_shards[k]} are both "
                             "unsharded runs")
        seen_shards[k] = d
    if count:
        missing = sorted(set(range(1, count + 1)) - set(seen_shards))
        if missing:
            notes.append(f"shard(s) {', '.join(map(str, missing))} of {count} not given")
    real_out = out.resolve()
    if any(d.resolve() == real_out for d in dirs):
        raise MergeError(f"--out {out} is one of the shard outputs")
    report.clear_out(out)
    out.mkdir(parents=True, exist_ok=True)
    cells: list[dict] = []
    owner: dict[tuple[str, int], Path] = {}
    shards = []
    for d, data in datas:
        sh = data.get("shard") or {}
        for c in data["cells"]:
            key = (c["id"], c.get("repeat", 1))
            if key in owner:
                raise MergeError(f"cell {c['id']} is in both {owner[key]} and {d}")
            owner[key] = d
            c = dict(c, shard=sh.get("index"))
            cells.append(c)
        if (d / "cells").is_dir():
            shutil.copytree(d / "cells", out / "cells", dirs_exist_ok=True)
        shards.append({"index": sh.get("index"), "count": sh.get("count"), "dir": str(d),
                       "hostname": data.get("hostname"), "started": data.get("started"),
                       "duration_s": data.get("duration_s"), "cells": len(data["cells"]),
                       "exit_code": data.get("exit_code")})
    cells.sort(key=lambda c: (c["index"] if c.get("index") is not None else 1 << 30,
                              c["id"], c.get("repeat", 1)))
    first = datas[0][1]
    selected = (first.get("selection") or {}).get("cells")
    not_run = [c for _, data in datas for c in data.get("cells_skipped") or []]
    if selected is not None and len(cells) + len(not_run) < selected:
        notes.append(f"{selected - len(cells) - len(not_run)} of the {selected} selected cells "
                     "have no result (a shard missing, interrupted or failed)")
    interrupted = any(data.get("interrupted") for _, data in datas)
    infra = [f"shard {(data.get('shard') or {}).get('index')}: {e}"
             for _, data in datas for e in data.get("infrastructure_errors") or []]
    verdicts = [c["verdict"] for c in cells]
    code = exit_code(verdicts, interrupted, bool(infra or notes))
    skipped: dict[str, dict] = {}
    for _, data in datas:
        for s in data.get("modes_skipped") or []:
            skipped.setdefault(s["mode"], s)
    counts = Counter(verdicts)
    merged = {
        "schema": report.RESULTS_SCHEMA,
        "version": report.RESULTS_VERSION,
        "harness_version": first.get("harness_version"),
        "commit": first.get("commit"),
        "hostname": socket.gethostname(),
        "matrix_hash": first.get("matrix_hash"),
        "matrix": first.get("matrix"),
        "selection": first.get("selection"),
        "shard": None,
        "merged_from": shards,
        "shards": shards,
        "started": min((data.get("started") or "" for _, data in datas), default=""),
        # Shards run side by side: the run took as long as its longest shard.
        "duration_s": max((data.get("duration_s") or 0.0 for _, data in datas), default=0.0),
        "jobs": first.get("jobs"),
        "strict": first.get("strict"),
        "repeat": first.get("repeat"),
        "modes": first.get("modes"),
        "modes_skipped": list(skipped.values()),
        "cells_skipped": not_run,
        "interrupted": interrupted,
        "exit_code": code,
        "infrastructure_errors": infra + notes,
        "peers": first.get("peers"),
        "argv": sys.argv[1:],
        "selected": selected,
        "total": len(cells),
        "counts": {v: counts.get(v, 0) for v in VERDICTS},
        "cells": cells,
    }
    for _, data in datas:
        data.pop("_selection", None)
        data.pop("_count", None)
    report.write_outputs(merged, out)
    return merged, notes


def add_parser(sub) -> None:
    p = sub.add_parser("merge", help="merge shard outputs into one report",
                       description="Merge the --out folders of `run --shard I/N` jobs into one "
                                   "results.json, junit.xml, report.html and grid (docs/ci.md).")
    p.add_argument("dirs", nargs="+", metavar="OUT", help="a shard's --out folder")
    p.add_argument("--out", default="results/merged", metavar="DIR",
                   help="where the merged results go (default: results/merged)")


def cmd_merge(args: argparse.Namespace) -> int:
    dirs = [Path(d) for d in args.dirs]
    out = Path(args.out)
    try:
        data, notes = merge(dirs, out)  # MergeError: a usage error (exit 2)
    except OSError as e:
        raise InfraError(str(e)) from None
    term = report.Terminal(len(data["cells"]), out=out)
    term.end(data)
    print(f"merged {len(dirs)} shard output(s) into {out}: exit code {data['exit_code']}")
    return data["exit_code"]
