"""Command line: python3 -m harness {run,list,show,validate,doctor}.

Exit codes: 0 every cell pass, xfail or (not --strict) deviates; 1 any
other verdict; 2 usage or configuration errors; 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import fnmatch
import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path

from harness import (__version__, builddir, check, doctor, filters, matrix, modes, netns, report,
                     runner, sandbox, verdict)
from harness.errors import ConfigError
from harness.matrix import Cell, Matrix
from harness.ports import DEFAULT_RANGE, parse_range

ROOT = Path(__file__).resolve().parent.parent
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    pass


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
    g.add_argument("--shard", metavar="I/N", help="run only the I-th of N equal slices (1-based)")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--matrix", default=None, metavar="FILE",
                   help="the matrix file (default: matrix.yaml at the repository root)")
    p.add_argument("--build", default="build", metavar="DIR",
                   help="the CMake build directory used for {build} (default: build)")


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
    run.add_argument("--ports", default=f"{DEFAULT_RANGE[0]}-{DEFAULT_RANGE[1]}",
                     metavar="LO-HI", help="the port range the driver owns (default %(default)s)")
    run.add_argument("--verbose", "-v", action="store_true",
                     help="also describe deviating cells in full")
    run.add_argument("--sandbox-limits", default="", metavar="NAME=N,...",
                     help="limits of sandboxed peers, e.g. cpu_s=5,data_mb=512 (docs/matrix.md)")

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
    doctor.register(sub)
    check.add_parser(sub)  # harness/check.py: students' programs (docs/teachers.md)
    return ap


def load_matrix(args: argparse.Namespace) -> Matrix:
    path = Path(args.matrix) if args.matrix else ROOT / "matrix.yaml"
    root = path.resolve().parent
    return matrix.load(path, root)


def _modes(args: argparse.Namespace) -> tuple[str, ...]:
    """The --mode values, canonical; two-hosts is dropped (with a note on
    stderr) where namespaces cannot be made."""
    try:
        ms = modes.parse_list(getattr(args, "mode", None) or []) or list(modes.DEFAULT)
    except ValueError as e:
        raise UsageError(f"--mode: {e}") from None
    if "two-hosts" in ms:
        why = netns.unavailable()
        if why:
            print(f"python3 -m harness: skipping mode two-hosts: {why}", file=sys.stderr)
            ms.remove("two-hosts")
            if not ms:
                raise UsageError("no mode left to run")
    return tuple(ms)


def select(m: Matrix, args: argparse.Namespace) -> list[Cell]:
    """Returns the cells the filters select. Raises UsageError on a filter
    that names nothing that exists."""
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
    shard = getattr(args, "shard", None)
    if shard:
        try:
            i_s, n_s = shard.split("/")
            i, n = int(i_s), int(n_s)
            if not 1 <= i <= n:
                raise ValueError
        except ValueError:
            raise UsageError(f"--shard {shard}: expected I/N with 1 <= I <= N") from None
        cells = cells[i - 1::n]
    return cells


# --------------------------------------------------------------------------
# Commands


def cmd_validate(args: argparse.Namespace) -> int:
    m = load_matrix(args)
    cells = matrix.expand(m)
    n_sc = sum(len(p.scenarios) for p in m.protocols.values())
    print(f"{_rel(m.path)}: OK: {len(m.protocols)} protocols, {n_sc} scenarios, "
          f"{len(m.peers)} peers, {len(m.known_failures)} known failures, {len(cells)} cells")
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
        for (proto, peer, role, reason), scs in grouped.items():
            all_sc = list(m.protocols[proto].scenarios)
            which = "all scenarios" if scs == all_sc else ", ".join(scs)
            print(f"{proto}: {peer} as {role}: {reason} ({which})")
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
    ctx = matrix.CommandContext.create(m.root, _build_dir(args.build))
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
    print(f"  stdin: \"{report.transcript.escape(sc.stdin)[:300]}\"  clients: {sc.clients}"
          + (f"  args: {shlex.join(sc.args)}" if sc.args else ""))
    if sc.stdout is not None:
        print(f"  expected stdout: \"{report.transcript.escape(sc.stdout)[:300]}\"")
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


def _build_dir(b: str) -> Path:
    choice = builddir.resolve(b)
    if choice.note:
        print(f"python3 -m harness: {choice.note}", file=sys.stderr)
    return choice.path


def cmd_run(args: argparse.Namespace) -> int:
    m = load_matrix(args)
    if args.jobs < 1:
        raise UsageError("--jobs must be >= 1")
    if args.repeat < 1:
        raise UsageError("--repeat must be >= 1")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be > 0")
    try:
        port_range = parse_range(args.ports)
        runner.PortPool(*port_range)
    except ValueError as e:
        raise UsageError(f"--ports: {e}") from None
    try:
        limits = sandbox.parse_limits(args.sandbox_limits)
    except ValueError as e:
        raise UsageError(f"--sandbox-limits: {e}") from None
    cells = select(m, args)
    if not cells:
        raise UsageError("no cell matches the filters")
    opts = runner.RunOptions(jobs=args.jobs, strict=args.strict, repeat=args.repeat,
                             timeout_s=args.timeout,
                             run_timeout_s=args.run_timeout or m.defaults.run_timeout_s,
                             port_range=port_range, sandbox_limits=limits)
    ctx = matrix.CommandContext.create(m.root, _build_dir(args.build))
    out = Path(args.out)
    report.clear_out(out)
    term = report.Terminal(len(cells) * args.repeat, out=out, verbose=args.verbose)
    started = report.now_iso()
    t0 = time.monotonic()
    done: list[runner.CellResult] = []

    def on_result(r: runner.CellResult) -> None:
        report.write_cell(r, out, m.root)
        done.append(r)
        term.finished(r)

    interrupted = asyncio.run(_run_async(m, cells, ctx, opts, term, on_result))
    elapsed = time.monotonic() - t0
    order = {c.id: i for i, c in enumerate(cells)}
    done.sort(key=lambda r: (order[r.cell.id], r.repeat))
    bad = [r for r in done if not verdict.ok_for_exit(r.verdict)]
    code = EXIT_INTERRUPTED if interrupted else (EXIT_FAIL if bad else EXIT_OK)
    meta = {"started": started, "duration_s": round(elapsed, 3), "jobs": opts.jobs,
            "strict": opts.strict, "repeat": opts.repeat, "interrupted": interrupted,
            "exit_code": code, "argv": sys.argv[1:], "matrix": _rel(m.path),
            "build": str(ctx.build), "python": ctx.python, "java": ctx.java,
            "selected": len(cells) * opts.repeat}
    report.write_run(done, m, out, meta)
    term.end(done, m, elapsed, opts.jobs, interrupted)
    return code


async def _run_async(m, cells, ctx, opts, term, on_result) -> bool:
    """Runs the cells; SIGINT/SIGTERM cancel the run (children are stopped
    by the cells' finally blocks). Returns True if interrupted."""
    loop = asyncio.get_running_loop()
    main = asyncio.ensure_future(runner.run_cells(m, cells, ctx, opts, term.started, on_result))
    hits = {"n": 0}

    def on_signal(signum: int) -> None:
        hits["n"] += 1
        if hits["n"] > 1:
            # A second Ctrl-C: no more grace.
            runner.processes.kill_all()
        main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await main
        return False
    except asyncio.CancelledError:
        return True
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        return {"run": cmd_run, "list": cmd_list, "show": cmd_show,
                "validate": cmd_validate, "doctor": doctor.main,
                "check": check.cmd_check}[args.command](args)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        n = len(e.problems)
        print(f"{n} problem{'s' if n != 1 else ''} found",
              file=sys.stderr)
        return EXIT_USAGE
    except UsageError as e:
        print(f"python3 -m harness: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        runner.processes.kill_all()
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAIL
