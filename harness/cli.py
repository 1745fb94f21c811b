"""Command line: python3 -m harness {run,list,show,validate,merge,doctor,check}.

The parser and the matrix commands (run, list, show, validate); merge,
doctor and check bring their own parsers and functions. What they all
share (the default matrix, option checks, Ctrl-C, exit codes) is
harness/command/common.py; the exit codes are harness/errors.py's
(docs/results.md).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import fnmatch
import json
import os
import resource
import shlex
import sys
import time
import traceback
from pathlib import Path

from harness import __version__, doctor
from harness.command import common, filters
from harness.errors import (EXIT_FAIL, EXIT_INFRA, EXIT_INTERRUPTED, EXIT_OK, InfraError,
                            UsageError, resource_line)
from harness.grading import check_command
from harness.judge import verdict
from harness.output import merge, report
from harness.run import runner, sandbox
from harness.spec import matrix, modes, transcript
from harness.spec.matrix import Cell, Matrix

# Open files the driver holds per running cell: the server's pipes and
# pidfd, the relay's listening socket; per client its pipes, pidfd and the
# relay's two sockets. A rough upper bound, for the warning below.
FDS_BASE, FDS_PER_CELL, FDS_PER_CLIENT = 64, 8, 6
NOFILE_CAP = 1 << 20  # where the hard limit is "unlimited"


def _add_filters(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cell filters (repeatable, or comma-separated lists; shell "
                             "patterns allowed)")
    g.add_argument("--protocol", "-p", action="append", metavar="ID")
    g.add_argument("--server", "-s", action="append", metavar="PEER")
    g.add_argument("--client", "-c", action="append", metavar="PEER")
    g.add_argument("--scenario", action="append", metavar="NAME")
    g.add_argument("-k", action="append", metavar="PATTERN", dest="k",
                   help="match the cell id protocol/scenario/server/client/mode; a pattern "
                        "without * ? [ matches as a substring")
    g.add_argument("--mode", "-m", action="append", metavar="MODE",
                   help="run in these modes (default plain): plain, segment[=delim|crlf|utf8|"
                        "random:SEED], coalesce, latency=MS, slow-reader, ipv6, locale-c, "
                        "two-hosts, or all (docs/modes.md)")
    g.add_argument("--shard", metavar="I/N",
                   help="run only the I-th (1-based) of N slices of about equal expected "
                        "time (docs/ci.md)")
    g.add_argument("--durations", metavar="RESULTS_JSON",
                   help="balance --shard by this earlier results.json's cell durations "
                        "(default: a static estimate)")


def _add_common(p: argparse.ArgumentParser) -> None:
    common.add_matrix_option(p)
    common.add_build_option(p)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python3 -m harness",
        description="The socket-lessons interop matrix: every server x client pairing, "
                    "recorded through a relay and judged against the golden transcripts.")
    ap.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run cells and report", description="Run the matrix.")
    _add_common(run)
    _add_filters(run)
    run.add_argument("--jobs", "-j", type=int, default=(os.cpu_count() or 1) * 2,
                     help="cells at once (default: cores x 2 = %(default)s)")
    run.add_argument("--repeat", type=int, default=1, metavar="N",
                     help="run every cell N times (flake hunting)")
    run.add_argument("--strict", action="store_true",
                     help="a transcript that differs from the golden is a failure")
    run.add_argument("--out", default="results/latest", metavar="DIR",
                     help="where results go (default: results/latest)")
    run.add_argument("--timeout", type=float, metavar="S",
                     help="per-client timeout for every scenario, replacing timeout_s")
    run.add_argument("--run-timeout", type=float, metavar="S",
                     help="limit for the whole run (default: defaults.run_timeout_s, or none)")
    common.add_ports_option(run)
    run.add_argument("--verbose", "-v", action="store_true",
                     help="also describe deviating cells in full")
    run.add_argument("--sandbox-limits", default="", metavar="NAME=N,...",
                     help="limits of sandboxed peers, e.g. cpu_s=5,data_mb=512 (docs/matrix.md)")
    run.add_argument("--no-cells", action="store_true",
                     help="run cells without namespaces of their own, as where bubblewrap "
                          "cannot make them (ports from --ports): to measure what cells cost")
    run.add_argument("--own-servers", action="store_true",
                     help="start a server for every cell, even where cells of one server peer "
                          "could share one (docs/matrix.md, \"Shared servers\")")

    ls = sub.add_parser("list", help="list cells, and why pairs are absent")
    _add_common(ls)
    _add_filters(ls)
    ls.add_argument("--absent", action="store_true", help="only list absent pairs and why")
    ls.add_argument("--names", choices=("protocols", "peers", "scenarios"),
                    help="print just the names, one per line (for scripts and CMake)")

    show = sub.add_parser("show", help="a cell's commands, last transcript and logs")
    _add_common(show)
    show.add_argument("cell", metavar="CELL",
                      help="protocol/scenario/server/client[/mode], or a pattern")
    show.add_argument("--out", default="results/latest", metavar="DIR",
                      help="results to read (default: results/latest)")

    val = sub.add_parser("validate", help="check matrix.yaml and the golden transcripts")
    _add_common(val)
    val.add_argument("--write-goldens", action="store_true",
                     help="write the golden transcripts that robustness templates imply "
                          "where they are missing or differ (docs/matrix.md)")
    merge.add_parser(sub)  # harness/output/merge.py: shard outputs into one report (docs/ci.md)
    doctor.register(sub)
    check_command.add_parser(sub)  # harness/grading: students' programs (docs/teachers.md)
    return ap


def load_matrix(args: argparse.Namespace) -> Matrix:
    return common.load_matrix(args.matrix)


def _modes(args: argparse.Namespace) -> tuple[str, ...]:
    """The --mode values, canonical; two-hosts is dropped (with a note on
    stderr, once; args.modes_skipped says why) where namespaces cannot be
    made."""
    if getattr(args, "modes_run", None) is not None:
        return args.modes_run
    ms, why = common.parse_modes(getattr(args, "mode", None) or [])
    ms = ms or list(modes.DEFAULT)
    args.modes_skipped = []
    if why:
        print(f"python3 -m harness: skipping mode two-hosts: {why}", file=sys.stderr)
        args.modes_skipped = [{"mode": "two-hosts", "reason": why}]
    args.modes_run = tuple(ms)
    return args.modes_run


def parse_shard_arg(args: argparse.Namespace) -> tuple[int, int]:
    try:
        return merge.parse_shard(args.shard)
    except ValueError as e:
        raise UsageError(f"--shard {e}") from None


def load_durations_arg(args: argparse.Namespace) -> dict[str, float] | None:
    path = getattr(args, "durations", None)
    if not path:
        return None
    try:
        return merge.load_durations(Path(path))
    except ValueError as e:
        raise UsageError(f"--durations {e}") from None


def select(m: Matrix, args: argparse.Namespace, shard: bool = True) -> list[Cell]:
    """Returns the cells the filters select (only --shard's share of them
    when shard is true). Raises UsageError on a filter that names nothing
    that exists."""
    named = frozenset(n for opt in ("server", "client")
                      for n in filters.split(getattr(args, opt, None)) if n in m.peers)
    cells = matrix.expand(m, named, modes=_modes(args))
    checks = (("protocol", "protocol", list(m.protocols)),
              ("server", "server", [p for p in m.peers if m.peers[p].server]),
              ("client", "client", [p for p in m.peers if m.peers[p].client]),
              ("scenario", "scenario",
               sorted({s for p in m.protocols.values() for s in p.scenarios})))
    for opt, attr, known in checks:
        pats = filters.split(getattr(args, opt, None))
        if not pats:
            continue
        for pat in pats:
            if not any(fnmatch.fnmatchcase(k, pat) for k in known):
                raise UsageError(f"--{opt} {pat}: no such {opt} (known: {', '.join(known)})")
        cells = [c for c in cells
                 if any(fnmatch.fnmatchcase(getattr(c, attr).name, p) for p in pats)]
    ks = filters.split(getattr(args, "k", None))
    if ks:
        cells = [c for c in cells if any(filters.k_matches(c.id, p) for p in ks)]
    if shard and getattr(args, "shard", None):
        i, n = parse_shard_arg(args)
        cells = merge.shard(cells, m, i, n, load_durations_arg(args))
    return cells


# --------------------------------------------------------------------------
# Commands


def cmd_validate(args: argparse.Namespace) -> int:
    if getattr(args, "write_goldens", False):
        path = common.matrix_file(args.matrix)
        written: list[str] = []
        m = matrix.load(path, path.resolve().parent, write_goldens=written)
        for rel in written:
            print(f"wrote {rel}")
    else:
        m = load_matrix(args)
    cells = matrix.expand(m)
    n_sc = sum(len(p.scenarios) for p in m.protocols.values())
    print(f"{_rel(m.path)}: OK: {len(m.protocols)} protocols, {n_sc} scenarios, "
          f"{len(m.peers)} peers, {len({kf.entry for kf in m.known_failures})} known failures, "
          f"{len(cells)} cells")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    m = load_matrix(args)
    if args.names:
        if args.names == "protocols":
            names = list(m.protocols)
        elif args.names == "peers":
            names = list(m.peers)
        else:
            names = [f"{p.name}/{s}" for p in m.protocols.values() for s in p.scenarios]
        print("\n".join(names))
        return EXIT_OK
    cells = select(m, args)
    if not args.absent:
        for c in cells:
            kf = m.known_failure(c.id)
            print(c.id + (f"    [known failure: {kf.reason}]" if kf else ""))
        print(f"# {len(cells)} cells")
        for mode in _modes(args):
            for proto in m.protocols.values():
                for sc in proto.scenarios.values():
                    why = matrix.mode_absence(proto, sc, mode)
                    if why and (not args.protocol or proto.name in filters.split(args.protocol)):
                        print(f"# not run: {proto.name}/{sc.name}/*/*/{mode}: {why}")
    if args.absent:
        pats = filters.split(args.protocol)
        protos = {p for p in m.protocols
                  if not pats or any(fnmatch.fnmatchcase(p, x) for x in pats)}
    else:
        protos = {c.protocol.name for c in cells}
    scen = {(c.protocol.name, c.scenario.name) for c in cells}
    absent = [a for a in matrix.absences(m)
              if a.protocol in protos and (args.absent or (a.protocol, a.scenario) in scen)]
    if absent:
        print("# absent (peer, role: why), per scenario:")
        # One line per peer/role/reason, listing the scenarios it applies to.
        grouped: dict[tuple[str, str, str, str], list[str]] = {}
        for a in absent:
            grouped.setdefault((a.protocol, a.peer, a.role, a.reason), []).append(a.scenario)
        for (pname, peer, role, reason), scs in grouped.items():
            all_sc = list(m.protocols[pname].scenarios)
            which = "all scenarios" if scs == all_sc else ", ".join(scs)
            print(f"{pname}: {peer} as {role}: {reason} ({which})")
    return EXIT_OK


def _show_cells(m: Matrix, want: str) -> list[Cell]:
    """Every cell of the matrix in every mode that runs it (modes.ALL, plus
    the mode named in want when it is another one, e.g. latency=50)."""
    names = list(modes.ALL)
    parts = want.split("/")
    if len(parts) == 5 and not any(ch in parts[4] for ch in "*?["):
        try:
            extra = modes.parse(parts[4]).text
        except ValueError:
            extra = None
        if extra and extra not in names:
            names.append(extra)
    out = []
    for c in matrix.expand(m):
        for mode in names:
            if mode == c.mode or matrix.mode_absence(c.protocol, c.scenario, mode) is None:
                out.append(c if mode == c.mode else dataclasses.replace(c, mode=mode))
    return out


def _show_recorded(args: argparse.Namespace, want: str) -> int | None:
    """A cell that is not in the matrix (a student's, from check) but whose
    folder is in --out: its recorded files. None if there is no folder."""
    d = Path(args.out) / "cells" / want
    if not (d / "cmd.sh").is_file():
        return None
    rec = _recorded(Path(args.out), want)
    print(f"cell {want} (recorded in {_rel(d)}; not a cell of the matrix)")
    if rec:
        print(f"last verdict: {rec['verdict']}" + (f": {rec['reason']}" if rec["reason"] else ""))
    _show_files(d)
    print(f"--- rerun by hand: sh {_rel(d / 'cmd.sh')}")
    return EXIT_OK


def _show_files(d: Path) -> None:
    for name, label in (("transcript.txt", "recorded transcript"), ("diff.txt", "diff"),
                        ("server.log", "server log"), ("client.log", "client log")):
        f = d / name
        if f.is_file():
            text = f.read_text(encoding="utf-8", errors="replace")
            if not text.strip():
                continue
            print(f"--- {label} ({_rel(f)}) ---")
            print(report.tail(text, 60), end="" if text.endswith("\n") else "\n")


def cmd_show(args: argparse.Namespace) -> int:
    m = load_matrix(args)
    want = args.cell.strip("/")
    if want.count("/") == 3:
        want += "/plain"
    cells = _show_cells(m, want)
    hits = [c for c in cells if c.id == want] or \
        [c for c in cells if fnmatch.fnmatchcase(c.id, want) or
         (not any(ch in want for ch in "*?[") and want in c.id)]
    if not hits:
        shown = _show_recorded(args, want)
        if shown is not None:
            return shown
        raise UsageError(f"no cell matches {args.cell!r} in any mode, and {args.out}/cells "
                         f"has no such folder (see: python3 -m harness list)")
    cell = hits[0]
    if modes.parse(cell.mode).kind == "ipv6":
        ctx_host = "::1"  # the mode's {host}
    else:
        ctx_host = None
    if len(hits) > 1:
        print(f"# {len(hits)} cells match; showing the first. Others: "
              + ", ".join(c.id for c in hits[1:6]) + (" ..." if len(hits) > 6 else ""))
    ctx = matrix.CommandContext.create(m.root, common.build_dir(args.build))
    if ctx_host:
        ctx = dataclasses.replace(ctx, host=ctx_host)
    out = Path(args.out)
    d = out / "cells" / cell.id
    rec = _recorded(out, cell.id)
    sp = rec.get("server_port") if rec else None
    rp = rec.get("relay_port") if rec else None
    print(f"cell {cell.id}")
    if cell.scenario.description:
        print(f"  {cell.scenario.description}")
    sc = cell.scenario
    print(f"  stdin: \"{transcript.escape(sc.stdin)[:300]}\"  clients: {sc.clients}"
          + (f"  args: {shlex.join(sc.args)}" if sc.args else ""))
    if sc.stdout is not None:
        print(f"  expected stdout: \"{transcript.escape(sc.stdout)[:300]}\"")
    elif sc.stdout_pattern is not None:
        print(f"  expected stdout pattern: ~\"{sc.stdout_pattern.source}\"")
    print(f"  expected exit: {sc.exit}   golden: {_rel(sc.golden_path)}")
    srv = matrix.render(cell.server.server, ctx, cell.protocol, sp or 20000)
    cli = matrix.render(cell.client.client, ctx, cell.protocol, rp or 20001) + list(sc.args)
    print("commands" + (" (as last run)" if rec else " (example ports)") + ":")
    print(f"  server (cwd: a scratch dir): {shlex.join(srv)}")
    print(f"  client (cwd: {m.root}):  {shlex.join(cli)}")
    if not d.is_dir():
        print(f"no recorded results in {d} (run: python3 -m harness run -k {cell.id})")
        return EXIT_OK
    if rec:
        print(f"last verdict: {rec['verdict']}" + (f": {rec['reason']}" if rec["reason"] else "")
              + f"  ({rec['duration_s']} s)")
    _show_files(d)
    print(f"--- rerun by hand: sh {_rel(d / 'cmd.sh')}")
    return EXIT_OK


def _recorded(out: Path, cell_id: str) -> dict | None:
    try:
        data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for c in data.get("cells", []):
        if c.get("id") == cell_id:
            return c
    return None


def _rel(p: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def raise_nofile() -> dict:
    """Raises the soft open-file limit to the hard one (children inherit
    it). Returns {"soft": now, "hard": ..., "raised_from": before or None}."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = NOFILE_CAP if hard == resource.RLIM_INFINITY else hard
    before = soft
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError):
            pass
    return {"soft": soft, "hard": hard, "raised_from": before if soft != before else None}


def cell_fds(cell: Cell) -> int:
    """An upper bound of the files the driver holds for one running cell."""
    return FDS_PER_CELL + FDS_PER_CLIENT * cell.scenario.clients


def fds_budget(nofile: int) -> int:
    """The files cells may hold at once under an open-file limit."""
    return max(nofile - FDS_BASE, nofile // 2)


def heavy_cells(cells: list[Cell], jobs: int, nofile: int) -> list[Cell]:
    """The cells too heavy to run --jobs at once (plus the idle cells that
    give up their slot, WAITING_PER_JOB per job) under the limit."""
    slots = jobs * (1 + runner.WAITING_PER_JOB)
    return [c for c in cells if cell_fds(c) * slots > fds_budget(nofile)]


def plan_batches(cells: list[Cell], jobs: int, nofile: int) -> list[tuple[list[Cell], int]]:
    """Splits cells into batches, run one after another, so that the files
    open at once stay under the open-file limit: first every cell light
    enough for --jobs cells at once (and the idle cells that give up their
    slot, WAITING_PER_JOB per job), then the heavy ones (many clients) in
    groups whose bounds add up to the limit, each group at once. At a
    usual limit that is one batch: the run as before. Returns [(cells,
    jobs)]."""
    budget = fds_budget(nofile)
    heavy = heavy_cells(cells, jobs, nofile)
    heavy_ids = {id(c) for c in heavy}
    light = [c for c in cells if id(c) not in heavy_ids]
    if not heavy:
        return [(cells, jobs)]
    batches = [(light, jobs)] if light else []
    group: list[Cell] = []
    used = 0
    for c in heavy:
        if group and used + cell_fds(c) > budget:
            batches.append((group, min(jobs, len(group))))
            group, used = [], 0
        group.append(c)
        used += cell_fds(c)
    batches.append((group, min(jobs, len(group))))
    return batches


def _blame_resources(r: runner.CellResult, nofile: dict) -> None:
    """A failing cell whose peer says it ran out of files, processes,
    memory or disk failed because of the runner: make it an error that
    says so (docs/results.md). A driver error of that kind gets the limit."""
    limit = f"open-file limit {nofile['soft']} (hard {nofile['hard']})"
    if r.verdict == verdict.ERROR:
        if resource_line(r.reason) and "limit" not in r.reason:
            r.judgement = verdict.Judgement(verdict.ERROR, f"{r.reason} [{limit}]",
                                            r.judgement.diff)
        return
    if r.verdict != verdict.FAIL:
        return
    texts = [r.server_stderr] + [c.stderr for c in r.outcome.clients]
    for who, data in zip(["server"] + [f"client {c.index}" for c in r.outcome.clients], texts):
        line = resource_line(data.decode("utf-8", "replace"))
        if line:
            r.judgement = verdict.Judgement(
                verdict.ERROR, f"the runner ran out of resources, not the peers' fault: {who} "
                f"said {line!r} [{limit}] (was: {r.reason})", r.judgement.diff)
            return


def _error_result(cell: Cell, rep: int, reason: str) -> runner.CellResult:
    return runner.CellResult(cell, rep, verdict.Judgement(verdict.ERROR, reason),
                             verdict.Outcome(error=reason), 0.0)


def cmd_run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    # First of all, so that a run that fails in any way never leaves the
    # previous run's results for a CI step to upload as if they were new.
    try:
        report.clear_out(out)
    except OSError as e:
        raise InfraError(f"--out {out}: cannot remove the previous run's outputs: {e}") from None
    m = load_matrix(args)
    common.check_jobs(args.jobs)
    if args.repeat < 1:
        raise UsageError("--repeat must be >= 1")
    common.check_timeout(args.timeout)
    port_range = common.port_range(args.ports)
    try:
        limits = sandbox.parse_limits(args.sandbox_limits)
    except ValueError as e:
        raise UsageError(f"--sandbox-limits: {e}") from None
    selection = select(m, args, shard=False)
    if not selection:
        raise UsageError("no cell matches the filters")
    shard_meta = None
    cells = selection
    if args.shard:
        i, n = parse_shard_arg(args)
        cells = merge.shard(selection, m, i, n, load_durations_arg(args))
        shard_meta = {"index": i, "count": n, "cells": len(cells) * args.repeat,
                      "balance": "durations" if args.durations else "static"}
    opts = runner.RunOptions(jobs=args.jobs, strict=args.strict, repeat=args.repeat,
                             timeout_s=args.timeout,
                             run_timeout_s=args.run_timeout or m.defaults.run_timeout_s,
                             port_range=port_range, sandbox_limits=limits,
                             isolate=False if args.no_cells else None,
                             share_servers=not args.own_servers)
    ctx = matrix.CommandContext.create(m.root, common.build_dir(args.build))
    nofile = args.nofile
    # A cell that needs more files than the limit allows even alone (1000
    # clients at once under a plain user's hard limit of 1024) cannot run
    # here: it is not run, and says so, as two-hosts without root.
    too_big = [c for c in cells if cell_fds(c) > fds_budget(nofile["soft"])]
    cells_skipped = [{"id": c.id, "reason": (
        f"{c.scenario.clients} clients at once need about {cell_fds(c)} open files in the "
        f"driver; the open-file limit is {nofile['soft']} (hard {nofile['hard']}): raise the "
        "hard limit (ulimit -Hn as root, LimitNOFILE=, docker --ulimit nofile=) to run it")}
        for c in too_big]
    if too_big:
        cells = [c for c in cells if c not in too_big]
        print(f"python3 -m harness: note: {len(too_big)} cell(s) not run: "
              f"{cells_skipped[0]['id']}: {cells_skipped[0]['reason']}", file=sys.stderr)
    batches = plan_batches(cells, opts.jobs, nofile["soft"])
    if len(batches) > 1:
        heavy = heavy_cells(cells, opts.jobs, nofile["soft"])
        groups = len(batches) - (len(heavy) < len(cells))
        print(f"python3 -m harness: note: the open-file limit is {nofile['soft']} (hard "
              f"{nofile['hard']}): {len(heavy)} cell(s) with many clients run after the "
              f"others, in {groups} group(s) that fit the limit; raise the hard limit for a "
              "faster run", file=sys.stderr)
    ids = [f"{c.id}#{r}" if r > 1 else c.id for c in selection for r in range(1, args.repeat + 1)]
    meta = {**merge.identity(m, common.ROOT), "matrix": _rel(m.path),
            "selection": {"cells": len(ids), "hash": merge.selection_hash(ids)},
            "shard": shard_meta, "modes": list(_modes(args)),
            "modes_skipped": getattr(args, "modes_skipped", []),
            "cells_skipped": cells_skipped,
            "limits": {"nofile": nofile["soft"], "nofile_hard": nofile["hard"],
                       "nofile_raised_from": nofile["raised_from"]},
            "merged_from": None}
    index = {c.id: k for k, c in enumerate(selection)}
    if not cells and args.shard:
        print(f"python3 -m harness: shard {args.shard} is empty: the selection has "
              f"{len(selection)} cell(s), fewer than the shards; nothing to run",
              file=sys.stderr)
    term = report.Terminal(len(cells) * args.repeat, out=out, verbose=args.verbose)
    started = report.now_iso()
    t0 = time.monotonic()
    done: list[runner.CellResult] = []
    starts: dict[tuple[str, int], float] = {}
    extra: dict[str, dict] = {}
    infra: list[str] = []

    def on_start(cell: Cell, rep: int) -> None:
        starts[(cell.id, rep)] = time.monotonic() - t0
        term.started(cell, rep)

    def on_result(r: runner.CellResult) -> None:
        # Runs inside the runner's task: whatever goes wrong here must not
        # take the run (and its results.json) down.
        # (A cell that left its server running is reported after the next
        # cell: its end is when it ended, not now.)
        end = (r.ended or time.monotonic()) - t0
        extra[r.id] = {"index": index.get(r.cell.id), "shard": shard_meta and shard_meta["index"],
                       "start_s": round(starts.get((r.cell.id, r.repeat), end - r.duration_s), 4),
                       "end_s": round(end, 4)}
        try:
            _blame_resources(r, nofile)
            report.write_cell(r, out, m.root)
        except Exception as e:  # noqa: BLE001 -- an unwritable folder is the runner's
            r.judgement = verdict.Judgement(
                verdict.ERROR, f"could not write the cell's folder: {type(e).__name__}: {e} "
                f"(the cell itself: {r.verdict}{': ' + r.reason if r.reason else ''})",
                r.judgement.diff)
        done.append(r)
        try:
            term.finished(r)
        except Exception:  # noqa: BLE001 -- a closed stdout must not stop the run
            pass

    interrupted = False
    if cells:
        try:
            interrupted = asyncio.run(_run_async(m, batches, ctx, opts, on_start, on_result))
        except Exception as e:  # noqa: BLE001 -- report what ran, whatever stopped the rest
            infra.append(f"the run stopped early: {type(e).__name__}: {e}")
            print(f"python3 -m harness: the run stopped early: {type(e).__name__}: {e}",
                  file=sys.stderr)
            if not isinstance(e, OSError):
                traceback.print_exc()
            have = {(r.cell.id, r.repeat) for r in done}
            for c in cells:
                for rep in range(1, opts.repeat + 1):
                    if (c.id, rep) not in have:
                        done.append(_error_result(c, rep, f"not run: {infra[-1]}"))
    elapsed = time.monotonic() - t0
    order = {c.id: i for i, c in enumerate(cells)}
    done.sort(key=lambda r: (order[r.cell.id], r.repeat))
    code = merge.exit_code([r.verdict for r in done], interrupted, bool(infra))
    meta.update({"started": started, "duration_s": round(elapsed, 3), "jobs": opts.jobs,
                 "strict": opts.strict, "repeat": opts.repeat, "interrupted": interrupted,
                 "exit_code": code, "infrastructure_errors": infra, "argv": sys.argv[1:],
                 "build": str(ctx.build), "python": ctx.python, "java": ctx.java,
                 "selected": len(cells) * opts.repeat})
    try:
        data = report.write_run(done, m, out, meta, extra)
    except InfraError as e:
        print(f"python3 -m harness: {e}", file=sys.stderr)
        code = code if code in (EXIT_FAIL, EXIT_INTERRUPTED) else EXIT_INFRA
        data = report.results_json(done, out, {"peers": list(m.peers), **meta}, extra)
    term.end(data)
    return code


async def _run_async(m, batches, ctx, opts, on_start, on_result) -> bool:
    """Runs the batches of cells one after another (plan_batches), within
    one --run-timeout; SIGINT/SIGTERM cancel the run (children are stopped
    by the cells' finally blocks). Returns True if interrupted."""
    loop = asyncio.get_running_loop()
    end = loop.time() + opts.run_timeout_s if opts.run_timeout_s else None

    async def all_batches() -> None:
        for cells, jobs in batches:
            # A deadline already passed still marks the cells "not run".
            left = max(1e-3, end - loop.time()) if end is not None else None
            o = dataclasses.replace(opts, jobs=jobs, run_timeout_s=left)
            await runner.run_cells(m, cells, ctx, o, on_start, on_result)

    interrupted, _ = await common.interruptible(all_batches())
    return interrupted


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    # Before anything opens a file: at the usual soft limit of 1024 a big
    # run runs out of descriptors (docs/results.md).
    args.nofile = raise_nofile()
    command = {"run": cmd_run, "list": cmd_list, "show": cmd_show, "validate": cmd_validate,
               "merge": merge.cmd_merge, "doctor": doctor.main,
               "check": check_command.cmd_check}[args.command]
    # merge, doctor and check name themselves in their messages.
    prog = common.PROG if command.__module__ == __name__ else f"{common.PROG} {args.command}"
    return common.run_command(command, args, prog)
