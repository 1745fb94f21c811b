"""`python3 -m harness check`: a student's programs against the references.

The student becomes one more peer of the loaded matrix (harness/grading/students.py
finds and builds it); its cells are the student's server with every
reference client and every reference server with the student's client, in
every scenario those peers play and every mode, run by the ordinary runner.
A known failure is judged as if the C reference stood in the student's
place: the student is never blamed for a reference peer's slide quirk.
harness/grading/diagnose.py names the bugs; this module reports them (terminal,
check.json, a Gradescope results.json) and, with --class, does it for a
whole class in one run (harness/grading/classroom.py writes the class summary).
The command line (options, what the terminal shows) is
harness/grading/check_command.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from harness.command import common, filters
from harness.errors import UsageError
from harness.grading import diagnose, students
from harness.grading.students import FolderError, Student
from harness.judge import verdict
from harness.output import report
from harness.run import cell as isolation, janitor, netns, processes, runner, sandbox
from harness.run.ports import PortPool
from harness.spec import matrix, modes
from harness.spec.matrix import Cell, Matrix, Peer

CHECK_VERSION = 1
DEFAULT_REFERENCES = ("c", "python", "java")
STAND_IN = "c"  # the reference judged in the student's place for known failures
PROBE_TIMEOUT_S = 10.0
# --quick: one mode of each kind that names a bug, robustness scenarios in
# plain mode only, the C reference only (docs/teachers.md has the costs).
QUICK_MODES = ("plain", "segment", "coalesce", "ipv6", "locale-c", "two-hosts")
# Reruns that confirm a named bug (docs/teachers.md, "Reruns"): cells of a
# bug or of a group of other failures rerun alone, first this many, then
# (when none failed again) the rest of the group, at most RERUN_MAX per
# student; RERUN_ROUNDS rounds of diagnosis and reruns.
DEFAULT_POINTS = 100  # the score's scale when check.yaml sets no `points`
ERROR_LINES = 12  # lines of a build error in the terminal (all in class.csv)
RERUN_FIRST = 3
RERUN_MAX = 30
RERUN_ROUNDS = 3
RERUN_SLACK = 2  # a rerun's client timeout, times the scenario's
PROG = f"{common.PROG} check"
MODE_LABELS = {"segment": "seg", "segment=delim": "delim", "segment=crlf": "crlf",
               "segment=utf8": "utf8", "coalesce": "coal", "slow-reader": "slow",
               "locale-c": "loc-c", "two-hosts": "2hosts"}


@dataclass(frozen=True)
class CheckMatrix(Matrix):
    """The matrix with students as peers. A student cell takes the known
    failure of the same cell with STAND_IN in the student's place."""

    students: frozenset[str] = frozenset()

    def stand_in_id(self, cell_id: str) -> str:
        parts = cell_id.split("/")
        if len(parts) == 5:
            parts[2:4] = [STAND_IN if p in self.students else p for p in parts[2:4]]
        return "/".join(parts)

    def known_failure(self, cell_id: str):
        return Matrix.known_failure(self, self.stand_in_id(cell_id))


@dataclass
class Flaky:
    """A cell that failed in the full run and passed when rerun alone."""

    cell: str
    first_verdict: str
    first_reason: str
    alone_verdict: str
    alone_reason: str

    def as_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class Checked:
    """One student's check: the programs, their cells and the diagnosis."""

    student: Student
    protocol: str | None
    error: str | None = None  # detection/build/usage problem: verdict error
    cells: list[Cell] = field(default_factory=list)
    results: list[runner.CellResult] = field(default_factory=list)
    probe: tuple[list[str], int] | None = None  # (bound addresses, port)
    diagnosis: diagnose.Diagnosis | None = None
    out: Path | None = None
    rerun: dict[str, runner.CellResult] = field(default_factory=dict)  # cell id -> alone
    flaky: list[Flaky] = field(default_factory=list)
    class_points: float | None = None  # the class folder's check.yaml `points`
    build_dir: Path | None = None  # the references' build (for cmd.sh)

    @property
    def points(self) -> float:
        """The score's scale: the student's check.yaml, the class's, or 100."""
        return self.student.points or self.class_points or DEFAULT_POINTS

    @property
    def name(self) -> str:
        return self.student.name

    @property
    def verdict(self) -> str:
        if self.error or any(r.verdict == verdict.ERROR for r in self.results):
            return "error"
        if any(r.verdict == verdict.FAIL for r in self.results) or \
                (self.diagnosis and self.diagnosis.bugs):
            return "fail"
        return "pass"

    def bug_ids(self) -> list[str]:
        return [b.id for b in self.diagnosis.bugs] if self.diagnosis else []


def partner(r: runner.CellResult, student: str) -> str:
    """The reference peer a student's cell pairs the student with."""
    return (r.cell.client if r.cell.server.name == student else r.cell.server).name


def student_verdict(v: str) -> str:
    """A cell's verdict for the student: passing where the C reference in
    the same place fails (xpass) is not the student's fault."""
    return verdict.PASS if v == verdict.XPASS else v


def _modes(args) -> tuple[tuple[str, ...], list[str]]:
    """The modes to run and notes for the user (two-hosts unavailable)."""
    ms, why = common.parse_modes(args.mode or (list(QUICK_MODES) if args.quick else ["all"]))
    notes = [f"two-hosts not run ({why}); a bind probe still checks loopback-only"] if why else []
    return tuple(ms), notes


def _students(args, m: Matrix) -> list[Checked]:
    """The students to check, detected (not built). A folder that cannot be
    checked is a usage error for one student, an error result in a class."""
    taken = set(m.peers)
    out: list[Checked] = []
    if args.class_dir:
        if args.folder or args.server_cmd or args.client_cmd or args.name:
            raise UsageError("--class takes no FOLDER, --server-cmd, --client-cmd or --name")
        root = Path(args.class_dir)
        if not root.is_dir():
            raise UsageError(f"--class {root}: not a folder")
        scale = students.class_points(root)
        for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                st = students.detect(d, taken=taken)
                ch = Checked(st, st.protocol or args.protocol, class_points=scale)
            except FolderError as e:
                st = Student(students.peer_name(d.name, taken), d.resolve(), None)
                ch = Checked(st, args.protocol, error=str(e), class_points=scale)
            taken.add(st.name)
            out.append(ch)
        if not out:
            raise UsageError(f"--class {root}: no student folders in it")
    elif args.server_cmd or args.client_cmd:
        folder = Path(args.folder) if args.folder else None
        name = students.peer_name(args.name or (folder.name if folder else "student"), taken)
        st = students.from_commands(name, args.server_cmd, args.client_cmd, args.protocol, folder)
        out.append(Checked(st, args.protocol))
    elif args.folder:
        try:
            st = students.detect(Path(args.folder), args.name, taken)
        except FolderError as e:
            raise UsageError(str(e)) from None
        out.append(Checked(st, st.protocol or args.protocol))
    else:
        raise UsageError("give a student FOLDER, --server-cmd/--client-cmd, or --class DIR")
    for ch in out:
        if ch.error:
            continue
        if ch.protocol is None:
            ch.error = "no protocol: give --protocol ID or put 'protocol: ID' in check.yaml"
        elif ch.protocol not in m.protocols:
            ch.error = (f"unknown protocol {ch.protocol!r} (known: {', '.join(m.protocols)})")
        if ch.error and not args.class_dir:
            raise UsageError(ch.error)
    return out


def check_matrix(m: Matrix, checked: list[Checked], refs: list[str]) -> CheckMatrix:
    """m with the references as the only default peers (other peers play
    only where a scenario names them, like the raw client) and every
    student as a peer of its protocol. A student takes STAND_IN's place in
    scenarios that name their players (only_servers: [c, java]); only the
    robustness scenarios' judged client stays the one they name."""
    peers: dict[str, Peer] = {}
    for name, p in m.peers.items():
        peers[name] = p if name in refs else dataclasses.replace(p, default=False)
    by_proto: dict[str, list[Student]] = {}
    for ch in checked:
        if ch.error is None:
            peers[ch.name] = dataclasses.replace(ch.student.peer(), protocols=(ch.protocol,))
            by_proto.setdefault(ch.protocol, []).append(ch.student)
    protocols = {}
    for pname, proto in m.protocols.items():
        sts = by_proto.get(pname, [])
        scen = {}
        for sname, sc in proto.scenarios.items():
            srv = tuple(s.name for s in sts if "server" in s.programs)
            cli = tuple(s.name for s in sts if "client" in s.programs)
            only_s, only_c = sc.only_servers, sc.only_clients
            if only_s is not None and STAND_IN in only_s:
                only_s = only_s + srv
            if only_c is not None and STAND_IN in only_c and not sc.robustness:
                only_c = only_c + cli
            scen[sname] = dataclasses.replace(sc, only_servers=only_s, only_clients=only_c)
        protocols[pname] = dataclasses.replace(proto, scenarios=scen)
    return CheckMatrix(m.path, m.root, m.version, m.defaults, peers, protocols,
                       m.known_failures, frozenset(ch.name for ch in checked))


def student_cells(cm: CheckMatrix, ch: Checked, ms: tuple[str, ...],
                  ks: list[str]) -> list[Cell]:
    """The student's server with every other client, and every other
    server with the student's client (never student with student)."""
    proto = cm.protocols[ch.protocol]
    cells = []
    for sc in proto.scenarios.values():
        for c in matrix.expand_scenario(cm, proto, sc, modes=ms):
            s, k = c.server.name, c.client.name
            if (s == ch.name) != (k == ch.name) and not (s in cm.students and k in cm.students):
                cells.append(c)
    if ks:
        cells = [c for c in cells if any(filters.k_matches(c.id, p) for p in ks)]
    return cells


def _validate_templates(ch: Checked) -> None:
    for role, prog in ch.student.programs.items():
        words = shlex.split(prog.template) if prog.template else []
        for w in words:
            for mo in matrix.PLACEHOLDER_RE.finditer(w):
                if mo.group(1) not in matrix.COMMAND_PLACEHOLDERS:
                    ch.error = (f"{role} command {prog.template!r}: unknown placeholder "
                                f"{{{mo.group(1)}}} (known: "
                                + ", ".join("{%s}" % p for p in matrix.COMMAND_PLACEHOLDERS
                                            + students.EXTRA_PLACEHOLDERS) + ")")
                    return
        if "{port}" not in prog.template:
            ch.error = f"{role} command {prog.template!r} has no {{port}}"
            return


# --------------------------------------------------------------------------
# Running


async def _probe(ch: Checked, cm: CheckMatrix, ctx: matrix.CommandContext,
                 pool: PortPool, scratch: Path, limits: sandbox.Limits,
                 hide: tuple[str, ...] = ()) -> None:
    """Starts the student's server alone once and reads the addresses its
    socket is bound to from the kernel's table (no namespaces needed). It
    runs sandboxed like in the cells: the limits and, as root, its own uid."""
    peer = cm.peers[ch.name]
    if peer.server is None or not any(c.server.name == ch.name for c in ch.cells):
        return
    proto = cm.protocols[ch.protocol]
    d = scratch / f"probe-{ch.name}"
    d.mkdir(parents=True, exist_ok=True)
    uids = sandbox.UidPool() if peer.sandbox and sandbox.can_switch_uid() else None
    if uids is not None:
        py = sandbox.python_for_sandbox(ctx.python)
        if py is None:
            return  # the cells say why
        ctx = dataclasses.replace(ctx, python=py)
    sl_cell = runner.find_sl_cell(ctx)
    if isolation.support(sl_cell).ok:
        await _probe_in_cell(ch, peer, proto, ctx, sl_cell, uids, limits, hide)
        return
    port = pool.acquire(1)[0]
    argv = matrix.render(peer.server, ctx, proto, port)
    uid, child = None, None
    try:
        if peer.sandbox:
            if uids is not None:
                uid = uids.acquire()
                os.chown(d, uid, uid)
            view = [] if uid is None else isolation.masked_view(
                [*runner.cell_paths(ctx, (peer, argv)), sl_cell], list(hide), [str(d)])
            argv = sandbox.wrapper_argv(ctx.python, limits, uid, None, view,
                                        runner.filter_with(sl_cell)) + argv
        child = await processes.spawn(argv, str(d), runner.base_env(cm.defaults.env))
        ready = await processes.wait_bound(child, port, proto.transport, PROBE_TIMEOUT_S)
        if ready.ready:
            pids = processes.tree(child, group=True)
            ch.probe = (netns.bound_in(child.pid, pids, port, proto.transport), port)
    except OSError:
        pass  # the cells say why the server does not start
    finally:
        if child is not None:
            await child.stop(0.5)
        if uid is not None:
            uids.release(uid)
        pool.release([port])


async def _probe_in_cell(ch: Checked, peer: Peer, proto, ctx: matrix.CommandContext,
                         sl_cell: str, uids, limits: sandbox.Limits,
                         hide: tuple[str, ...] = ()) -> None:
    """The probe in a cell of its own, like the student's cells: the
    server never meets the host's network, and its addresses come from
    its own sockets."""
    port = isolation.SERVER_PORT
    argv = matrix.render(peer.server, ctx, proto, port)
    uid, child, c = None, None, None
    try:
        c = await isolation.Cell.start(sl_cell, runner.cell_paths(ctx, (peer, argv)),
                                       list(hide))
        extra: list[str] = []
        if peer.sandbox:
            extra = [*limits.cell_options(), "--nproc", str(limits.nproc)]
            if uids is not None:
                uid = uids.acquire()
                extra += ["--uid", str(uid)]
        child = await processes.spawn(argv, isolation.SCRATCH,
                                      runner.base_env({"HOME": isolation.SCRATCH}),
                                      inside=processes.Inside(c, tuple(extra)))
        ok, addrs = await netns.wait_bound(child, port, proto.transport, PROBE_TIMEOUT_S)
        if ok:
            ch.probe = (addrs, port)
    except OSError:
        pass  # the cells say why the server does not start
    finally:
        if child is not None:
            await child.stop(0.5)
        if c is not None:
            await c.close()
        if uid is not None:
            uids.release(uid)


async def _run_all(cm: CheckMatrix, todo: list[Checked], ctx, opts, probe: bool,
                   scratch: Path, progress, rerun: bool = True) -> None:
    """Probes, then every student's cells in ONE run_cells call (so --jobs
    keeps the machine busy across students), then the reruns."""
    processes.adopt_orphans()
    if probe:
        pool = PortPool(*opts.port_range)
        sem = asyncio.Semaphore(max(1, opts.jobs))

        async def one(ch: Checked) -> None:
            async with sem:
                await _probe(ch, cm, ctx, pool, scratch, opts.sandbox_limits, opts.hide)

        await asyncio.gather(*(one(ch) for ch in todo))
    cells = [c for ch in todo for c in ch.cells]
    by_student: dict[str, list[runner.CellResult]] = {ch.name: ch.results for ch in todo}

    def on_result(r: runner.CellResult) -> None:
        s = r.cell.server.name if r.cell.server.name in by_student else r.cell.client.name
        by_student[s].append(r)
        progress.finished(r)

    await runner.run_cells(cm, cells, ctx, opts, progress.started, on_result)
    if rerun:
        await _confirm(cm, todo, ctx, opts)


def _diagnose(ch: Checked) -> diagnose.Diagnosis:
    addrs, port = ch.probe or (None, None)
    return diagnose.diagnose(ch.results, ch.name, addrs, port)


def _groups(diag: diagnose.Diagnosis) -> list[list[str]]:
    """The cells that decide each named bug, and each group of other
    failures (cells that fail the same way)."""
    out = [[e for e in b.evidence if e != "probe:bind"] for b in diag.bugs]
    out += [[u.cell] + list(u.same_as) for u in diag.unmatched]
    return [g for g in out if g]


def _rerun_plan(ch: Checked) -> list[str]:
    """Cells to rerun alone next: the first RERUN_FIRST of each group with
    none rerun yet; all the rest of a group whose rerun cells all passed."""
    plan: list[str] = []
    for g in _groups(_diagnose(ch)):
        done = [c for c in g if c in ch.rerun]
        if any(ch.rerun[c].verdict in diagnose.FAILING for c in done):
            continue  # confirmed: it failed again alone
        rest = [c for c in g if c not in ch.rerun and c not in plan]
        plan += rest if done else rest[:RERUN_FIRST]
    room = RERUN_MAX - len(ch.rerun)
    return plan[:max(0, room)]


async def _confirm(cm: CheckMatrix, todo: list[Checked], ctx, opts) -> None:
    """Reruns the cells that decide each named bug (and each group of
    other failures) alone: one at a time, nothing else of this run going
    on. A cell that passes alone takes its rerun's result and is listed as
    flaky with both outcomes; one that fails again takes the rerun's result
    too (the cleaner evidence). Then the diagnosis is made again."""
    alone = dataclasses.replace(opts, jobs=1)
    for _ in range(RERUN_ROUNDS):
        ran = False
        for ch in todo:
            plan = _rerun_plan(ch)
            if not plan:
                continue
            by_id = {r.cell.id: i for i, r in enumerate(ch.results)}
            print(f"{ch.name}: rerunning {len(plan)} cell(s) alone to confirm what they show",
                  file=sys.stderr, flush=True)
            for cell_id in plan:
                i = by_id[cell_id]
                first = ch.results[i]
                # Twice the client timeout: alone, a slow start is no excuse,
                # and a real hang still hangs.
                slack = dataclasses.replace(alone, timeout_s=RERUN_SLACK * (
                    opts.timeout_s or first.cell.scenario.timeout_s))
                [again] = await runner.run_cells(cm, [first.cell], ctx, slack)
                ch.rerun[cell_id] = again
                ch.results[i] = again
                if first.verdict in diagnose.FAILING and again.verdict not in diagnose.FAILING:
                    ch.flaky.append(Flaky(cell_id, first.verdict, first.reason,
                                          again.verdict, again.reason))
                ran = True
        if not ran:
            break


class Progress:
    """One live line on a terminal; silent otherwise (the grid says it all)."""

    def __init__(self, total: int, stream=None):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.total, self.done = total, 0
        self.bad = 0

    def started(self, cell: Cell, repeat: int) -> None:
        pass

    def finished(self, r: runner.CellResult) -> None:
        self.done += 1
        self.bad += r.verdict in (verdict.FAIL, verdict.ERROR)
        if self.tty:
            self.stream.write(f"\r\033[K[{self.done}/{self.total}] {self.bad} failing  "
                              f"{r.cell.id}"[:100])
            self.stream.flush()

    def clear(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()


def run(args) -> tuple[CheckMatrix, list[Checked], float, list[str], list[str], tuple[str, ...],
                      Path]:
    """Detects, builds and runs every student; returns what the outputs need."""
    m = common.load_matrix(args.matrix)
    common.check_jobs(args.jobs)
    common.check_timeout(args.timeout)
    port_range = common.port_range(args.ports)
    refs = filters.split(args.references or ("c" if args.quick else ",".join(DEFAULT_REFERENCES)))
    for r in refs:
        if r not in m.peers:
            raise UsageError(f"--references: no peer {r!r} (known: {', '.join(m.peers)})")
    ms, notes = _modes(args)
    checked = _students(args, m)
    build = common.build_dir(args.build, PROG)
    ctx = matrix.CommandContext.create(m.root, build)
    base = Path(args.out) if args.out else Path("results/check") / (
        Path(args.class_dir).resolve().name if args.class_dir else checked[0].name)
    scratch = Path(tempfile.mkdtemp(prefix="harness-check-"))
    janitor.folder(scratch)
    scratch.chmod(0o755)  # the sandbox user starts the probe's server in it
    t0 = time.monotonic()
    for ch in checked:
        ch.out = base / ch.name if args.class_dir else base
        ch.build_dir = build
    hide = hidden_folders(checked)
    try:
        for ch in checked:
            if ch.error:
                continue
            # Compiled programs go with the results, so each cell's cmd.sh
            # still runs after check has ended.
            shutil.rmtree(ch.out / "build", ignore_errors=True)
            _build(ch, ctx, hide)
            if ch.student.build_error:
                ch.error = ch.student.build_error
            else:
                _validate_templates(ch)
        cm = check_matrix(m, checked, refs)
        ks = filters.split(args.k or [])
        todo = []
        for ch in checked:
            if ch.error is None:
                ch.cells = student_cells(cm, ch, ms, ks)
                if args.quick:
                    ch.cells = [c for c in ch.cells
                                if not c.scenario.robustness or c.mode == modes.PLAIN]
                if not ch.cells:
                    ch.error = "no cell to run: the filters or references leave nothing"
                    if not args.class_dir:
                        raise UsageError(ch.error)
                else:
                    todo.append(ch)
        opts = runner.RunOptions(jobs=args.jobs, strict=True, timeout_s=args.timeout,
                                 port_range=port_range, hide=hide)
        progress = Progress(sum(len(ch.cells) for ch in todo))
        interrupted = False
        if todo:
            print(f"checking {len(todo)} student(s): {progress.total} cells, jobs {args.jobs}",
                  file=sys.stderr, flush=True)
            interrupted, _ = asyncio.run(common.interruptible(_run_all(
                cm, todo, ctx, opts, not args.no_probe, scratch, progress,
                rerun=not getattr(args, "no_rerun", False))))
        progress.clear()
        if interrupted:
            raise KeyboardInterrupt
        for ch in checked:
            order = {c.id: i for i, c in enumerate(ch.cells)}
            ch.results.sort(key=lambda r: order.get(r.cell.id, 0))
            if ch.error is None:
                ch.diagnosis = _diagnose(ch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return cm, checked, time.monotonic() - t0, refs, notes, ms, base


# --------------------------------------------------------------------------
# Outputs


def _mode_label(mode: str) -> str:
    return MODE_LABELS.get(mode, mode.replace("segment=", "").replace("latency=", "lat"))


def grid_rows(ch: Checked) -> list[tuple[str, dict[str, tuple[str, int]]]]:
    """Rows (role x partner) of (label, {mode: (worst verdict, how many)})."""
    rows: dict[str, dict[str, list[str]]] = {}
    for r in ch.results:
        label = f"{diagnose.role_of(r, ch.name)} vs {partner(r, ch.name)}"
        rows.setdefault(label, {}).setdefault(r.cell.mode, []).append(student_verdict(r.verdict))
    out = []
    for label in sorted(rows, key=lambda s: (not s.startswith("server"), s)):
        cols = {}
        for mode, vs in rows[label].items():
            worst = max(vs, key=verdict.SEVERITY.__getitem__)
            cols[mode] = (worst, vs.count(worst))
        out.append((label, cols))
    return out


def format_grid(ch: Checked, ms: tuple[str, ...], colour: bool, unicode: bool = True) -> str:
    symbols = report.SYMBOLS if unicode else report.ASCII_SYMBOLS
    rows = grid_rows(ch)
    used = [m for m in ms if any(m in cols for _, cols in rows)]
    labels = [_mode_label(m) for m in used]
    lw = max([len(r[0]) for r in rows] + [10]) + 2
    cw = [max(len(x), 4) + 2 for x in labels]
    lines = [" " * lw + "".join(report.pad(x, w) for x, w in zip(labels, cw))]
    for label, cols in rows:
        line = report.pad(label, lw)
        for m, w in zip(used, cw):
            e = cols.get(m)
            if e is None:
                line += report.pad("·", w)
                continue
            text = f"{symbols[e[0]]}{e[1]}"
            line += (f"\033[{report.COLOURS[e[0]]}m{text}\033[0m" + " " * (w - len(text))
                     if colour else report.pad(text, w))
        lines.append(line.rstrip())
    return "\n".join(lines)


def _rerun(ch: Checked, cell_id: str) -> str:
    who = shlex.quote(str(ch.student.folder)) if ch.student.folder else "FOLDER"
    return f"python3 -m harness check {who} -p {ch.protocol} -k {cell_id}"


def format_student(ch: Checked, cm: CheckMatrix, ms: tuple[str, ...], colour: bool,
                   unicode: bool = True) -> str:
    """The terminal report of one student: grid, named bugs, other failures."""
    st = ch.student
    roles = " and ".join(f"{r} ({p.language}{', ' + p.source.name if p.source else ''})"
                         for r, p in st.programs.items()) or "no programs"
    lines = [f"== {ch.name}: {ch.protocol or '?'} -- {roles}"]
    if ch.error:
        err = ch.error.splitlines()
        shown = err[:ERROR_LINES] + ([f"[... {len(err) - ERROR_LINES} more lines in check.json "
                                      f"and class.csv]"] if len(err) > ERROR_LINES else [])
        lines.append("ERROR: " + "\n    ".join(shown))
        return "\n".join(lines)
    for n in st.notes:
        lines.append(f"note: {n}")
    if st.warnings:
        warn = st.warnings.splitlines()
        lines.append("compiler warnings:")
        lines += [f"    {w}" for w in warn[:ERROR_LINES]]
        if len(warn) > ERROR_LINES:
            lines.append(f"    [... {len(warn) - ERROR_LINES} more lines in build.log]")
    lines.append(format_grid(ch, ms, colour, unicode))
    diag = ch.diagnosis
    assert diag is not None
    if diag.bugs:
        lines.append("named bugs:")
        for b in diag.bugs:
            lines.append(f"  {b.id} ({b.role}): {b.words}")
            for d in b.details:
                lines.append(f"      {d[:200]}")
            lines.append(f"      {len(b.evidence)} cell(s), e.g. {b.evidence[0]}"
                         if b.evidence[0] != "probe:bind" or len(b.evidence) == 1
                         else f"      {len(b.evidence)} cell(s)")
            again = [e for e in b.evidence if e in ch.rerun]
            if again:
                lines.append(f"      failed again when rerun alone: {len(again)} cell(s), "
                             f"e.g. {again[0]}")
            lines.append(f"      fix: {diagnose.CATALOGUE[b.id][2]}")
    if diag.unmatched:
        lines.append("other failures:")
        for u in diag.unmatched[:8]:
            lines.append(f"  {u.cell}: {u.reason[:200]}")
            if u.sent:
                lines.append(f'      sent:     "{u.sent[:100]}"' + (" ..." if len(u.sent) > 100
                                                                    else ""))
            if u.expected:
                lines.append(f"      expected: {u.expected[:200]}" + (
                    " ..." if len(u.expected) > 200 else ""))
            if u.got:
                lines.append(f"      got:      {u.got[:200]}" + (" ..." if len(u.got) > 200
                                                                   else ""))
            for w in u.words[:4]:
                lines.append(f"      in words: {w[:220]}")
            if u.same_as:
                lines.append(f"      (and {len(u.same_as)} more cell(s) the same way)")
            lines.append(f"      rerun: {_rerun(ch, u.cell)}")
        if len(diag.unmatched) > 8:
            lines.append(f"  ... {len(diag.unmatched) - 8} more in check.json")
    if ch.flaky:
        lines.append(f"flaky (not counted): {len(ch.flaky)} cell(s) failed in the full run "
                     f"and passed when rerun alone, one at a time:")
        for f in ch.flaky[:5]:
            lines.append(f"  {f.cell}: first {f.first_verdict}: {f.first_reason[:150]}; "
                         f"alone: {f.alone_verdict}")
        if len(ch.flaky) > 5:
            lines.append(f"  ... {len(ch.flaky) - 5} more in check.json")
    xf = [r for r in ch.results if r.verdict == verdict.XFAIL]
    if xf:
        kf = xf[0].judgement.known_failure
        lines.append(f"not counted: {len(xf)} failing cell(s) where a reference peer has a "
                     f"known slide quirk: judged as the same cell with the {STAND_IN} reference "
                     f"in your place, e.g. {xf[0].cell.id} as "
                     f"{cm.stand_in_id(xf[0].cell.id)}: "
                     f"{kf.reason[:150] if kf else ''}")
    counts = Counter(student_verdict(r.verdict) for r in ch.results)
    lines.append(f"{ch.name}: {ch.verdict.upper()} -- {len(ch.results)} cells: "
                 + ", ".join(f"{counts[v]} {v}" for v in verdict.VERDICTS if counts[v])
                 + f"; {len(diag.bugs)} named bug(s), {len(diag.unmatched)} other failure(s)")
    return "\n".join(lines)


def _weigh(tests: list[dict], points: float) -> list[dict]:
    """Every test an equal share of points (the teacher's scale, not the
    number of cells or tests): a passed test scores its share."""
    share = points / len(tests) if tests else 0.0
    for t in tests:
        passed = t.pop("passed")
        t["max_score"] = round(share, 4)
        t["score"] = round(share, 4) if passed else 0
    return tests


def tests_for(ch: Checked) -> list[dict]:
    """Gradescope tests: one per role x scenario, all partners and modes;
    scores on the scale of check.yaml's `points`."""
    if ch.error:
        return _weigh([{"name": "build and run the programs", "passed": False,
                        "status": "failed", "output": ch.error, "tags": ["build-error"]}],
                      ch.points)
    groups: dict[tuple[str, str], list[runner.CellResult]] = {}
    for r in ch.results:
        role = diagnose.role_of(r, ch.name)
        groups.setdefault((role, r.cell.scenario.name), []).append(r)
    bugs_of: dict[str, list[str]] = {}
    for b in ch.diagnosis.bugs:
        for e in b.evidence:
            bugs_of.setdefault(e, []).append(b.id)
    tests = []
    for (role, sc), rs in groups.items():
        bad = [r for r in rs if student_verdict(r.verdict) in (verdict.FAIL, verdict.ERROR)]
        partners = sorted({partner(r, ch.name) for r in rs})
        out = [f"{len(rs)} cells: your {role} with {', '.join(partners)}, "
               f"{len({r.cell.mode for r in rs})} mode(s); {len(bad)} failing"]
        named = sorted({b for r in bad for b in bugs_of.get(r.cell.id, [])})
        for bug_id in named:
            out.append(f"{bug_id}: {diagnose.CATALOGUE[bug_id][1]}")
            out.append(f"  fix: {diagnose.CATALOGUE[bug_id][2]}")
        words = {w for u in ch.diagnosis.unmatched
                 if u.cell in {r.cell.id for r in bad} or
                 any(x in {r.cell.id for r in bad} for x in u.same_as) for w in u.words}
        for w in sorted(words)[:4]:
            out.append(f"  {w}")
        for r in bad[:5]:
            out.append(f"  {r.cell.id}: {r.reason[:300]}")
        tests.append({"name": f"{role}: {sc}", "passed": not bad,
                      "status": "failed" if bad else "passed", "output": "\n".join(out),
                      "tags": named})
    bind = [b for b in ch.diagnosis.bugs if "probe:bind" in b.evidence]
    for b in bind:
        tests.append({"name": "server: bind address", "passed": False, "status": "failed",
                      "output": f"{b.id}: {b.words}\n" + "\n".join(b.details)
                      + f"\nfix: {diagnose.CATALOGUE[b.id][2]}", "tags": [b.id]})
    return _weigh(tests, ch.points)


def hidden_folders(checked: list[Checked]) -> tuple[str, ...]:
    """What a student's cells do not see: the folders holding the students'
    folders (the class) and their results (builds and transcripts), so a
    program reads neither another student's code nor what was built of it.
    A cell sees again what its own programs name (cell._binds)."""
    out = set()
    for ch in checked:
        for f in (ch.student.folder, ch.out):
            if f is not None:
                out.add(str(Path(f).resolve().parent))
    return tuple(sorted(out))


def _build(ch: Checked, ctx: matrix.CommandContext, hide: tuple[str, ...] = ()) -> None:
    """Compiles a student's programs in a cell of their own, as the sandbox
    user when the driver is root (students.BuildBox): the compiler runs
    code the student controls. Without cells, says once that it compiles
    as the driver's user."""
    sl_cell = runner.find_sl_cell(ctx)
    sup = isolation.support(sl_cell)
    if not sup.ok:
        sandbox.note_once(f"students' code is compiled as this user, outside any sandbox "
                          f"({sup.why})")
        students.build(ch.student, (ch.out / "build").resolve())
        return
    uids = sandbox.UidPool() if sandbox.can_switch_uid() else None
    uid = uids.acquire() if uids is not None else None
    try:
        students.build(ch.student, (ch.out / "build").resolve(),
                       students.BuildBox(sl_cell, uid, hide=hide))
    finally:
        if uids is not None and uid is not None:
            uids.release(uid)


def check_json(ch: Checked, refs: list[str], ms: tuple[str, ...], duration: float,
               cm: CheckMatrix) -> dict:
    tests = tests_for(ch)
    st = ch.student
    cells = []
    for r in ch.results:
        kf = r.judgement.known_failure
        cells.append({"id": r.cell.id, "verdict": r.verdict, "reason": r.reason,
                      "mode": r.cell.mode, "scenario": r.cell.scenario.name,
                      "role": diagnose.role_of(r, ch.name),
                      "partner": partner(r, ch.name),
                      "stand_in": cm.stand_in_id(r.cell.id) if kf else None,
                      "known_failure": kf.reason if kf else None})
    d = ch.diagnosis
    return {
        "version": CHECK_VERSION,
        "student": ch.name,
        "folder": str(st.folder) if st.folder else None,
        "protocol": ch.protocol,
        "verdict": ch.verdict,
        "error": ch.error,
        "programs": {r: {"language": p.language, "source": p.source.name if p.source else None,
                         "command": p.template} for r, p in st.programs.items()},
        "references": refs,
        "modes": list(ms),
        "score": round(sum(t["score"] for t in tests), 2),
        "max_score": ch.points,
        "notes": st.notes,
        "warnings": st.warnings,
        "bugs": [b.as_json() for b in d.bugs] if d else [],
        "unmatched": [dataclasses.asdict(u) for u in d.unmatched] if d else [],
        "probe": {"addresses": ch.probe[0], "port": ch.probe[1]} if ch.probe else None,
        "flaky": [f.as_json() for f in ch.flaky],
        "reruns": {cid: r.verdict for cid, r in ch.rerun.items()},
        "counts": dict(Counter(r.verdict for r in ch.results)),
        "cells": cells,
        "duration_s": round(duration, 3),
    }


def gradescope_json(ch: Checked, duration: float = 0.0) -> dict:
    """The Gradescope autograder's results.json: the score on the teacher's
    scale, the bugs as tags, each with its fix, and the run's duration."""
    tests = tests_for(ch)
    bugs = ch.diagnosis.bugs if ch.diagnosis else []
    summary = [f"{ch.name}: {ch.verdict}"]
    for b in bugs:
        summary.append(f"{b.id}: {b.words}")
        summary += [f"  {d}" for d in b.details]
        summary.append(f"  fix: {diagnose.CATALOGUE[b.id][2]}")
    if ch.flaky:
        summary.append(f"{len(ch.flaky)} cell(s) failed under load and passed when rerun "
                       f"alone: not counted")
    return {"score": round(sum(t["score"] for t in tests), 2),
            "max_score": ch.points,
            "execution_time": round(duration, 3),
            "output": "\n".join(summary),
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": tests}


def _rerun_script(ch: Checked, r: runner.CellResult, d: Path, cm: CheckMatrix) -> None:
    """cmd.sh reruns the cell as check ran it, through the driver (relay,
    mode, robustness steps, sandbox, the cell's own namespaces made anew),
    so it works after the run; the by-hand script (programs only, no relay,
    no steps) is kept as cmd-by-hand.sh."""
    by_hand = d / "cmd.sh"
    if by_hand.exists():
        by_hand.replace(d / "cmd-by-hand.sh")
    q = shlex.quote
    st = ch.student
    if st.folder is not None and (st.folder / students.CHECK_YAML).exists() or \
            st.folder is not None and all(p.source for p in st.programs.values()):
        who = [str(st.folder)]  # found there again, as this run found it
    else:
        who = [w for role, p in st.programs.items() for w in (f"--{role}-cmd", p.template)]
    part = partner(r, ch.name)
    refs = part if part in DEFAULT_REFERENCES or cm.peers.get(part, None) is not None and \
        cm.peers[part].default else "c"
    argv = [sys.executable, "-m", "harness", "check", *who, "--name", ch.name,
            "-p", ch.protocol or "", "--references", refs, "--mode", r.cell.mode,
            "-k", r.cell.id, "--no-probe", "--no-rerun", "--jobs", "1"]
    if ch.build_dir is not None:
        argv += ["--build", str(ch.build_dir)]
    text = "\n".join([
        "#!/bin/sh",
        f"# Rerun cell {r.cell.id} as check ran it: through the driver, with the",
        "# relay, the mode, the robustness steps and the sandbox (a two-hosts cell",
        "# gets new namespaces). Its folder lands in $OUT (default: rerun/ here).",
        "# The programs alone, by hand, without the relay: cmd-by-hand.sh.",
        "set -u",
        'here=$(cd "$(dirname "$0")" && pwd)',
        f"cd {q(str(cm.root))}",
        f'exec {" ".join(q(a) for a in argv)} --out "${{OUT:-$here/rerun}}" "$@"',
    ]) + "\n"
    by_hand = d / "cmd.sh"
    by_hand.write_text(text, encoding="utf-8")
    by_hand.chmod(0o755)


def write_student(ch: Checked, out: Path, cm: CheckMatrix, refs: list[str],
                  ms: tuple[str, ...], duration: float, write_cells: bool = True) -> None:
    """check.json, results.json (Gradescope) and run/ (the driver's report
    and one folder per cell, with cmd.sh to rerun it by hand)."""
    out.mkdir(parents=True, exist_ok=True)
    ch.out = out
    run_dir = out / "run"
    report.clear_out(run_dir)
    if write_cells and ch.results:
        for r in ch.results:
            d = report.write_cell(r, run_dir, cm.root)
            _rerun_script(ch, r, d, cm)
        meta = {"started": report.now_iso(), "duration_s": round(duration, 3), "strict": True,
                "student": ch.name, "exit_code": 0 if ch.verdict == "pass" else 1}
        report.write_run(ch.results, cm, run_dir, meta)
    for name, data in (("check.json", check_json(ch, refs, ms, duration, cm)),
                       ("results.json", gradescope_json(ch, duration))):
        (out / name).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n",
                                encoding="utf-8")
    if ch.student.build_log:
        (out / "build.log").write_text(ch.student.build_log, encoding="utf-8")
