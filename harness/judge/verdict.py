"""Judging a cell from what was observed. Pure: no processes, no sockets.

Verdicts: pass; deviates (client exit, output and server effects are right
but the wire differs from the golden; a failure under --strict); fail (the
peers' fault: timeout, crash, exit code, output, missing effect); error (the
harness's or environment's fault: a program that is not built or cannot be
started, no free port); xfail / xpass (a known failure that failed / passed).
"""

from __future__ import annotations

import difflib
import signal
from dataclasses import dataclass, field

from harness.spec import transcript
from harness.spec.matrix import Cell, KnownFailure


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


@dataclass
class Exit:
    """How a process ended."""

    code: int | None  # exit status, None if killed by a signal or still running
    signal: int | None = None
    stopped_by_driver: bool = False

    def describe(self) -> str:
        if self.signal is not None:
            s = f"killed by {signal_name(self.signal)}"
        elif self.code is None:
            s = "still running"
        else:
            s = f"exit code {self.code}"
        if self.stopped_by_driver:
            s += " (stopped by the driver)"
        return s


PASS = "pass"
DEVIATES = "deviates"
FAIL = "fail"
ERROR = "error"
XFAIL = "xfail"
XPASS = "xpass"
VERDICTS = (PASS, DEVIATES, XFAIL, XPASS, FAIL, ERROR)
# Worst first decides what a grid cell shows.
SEVERITY = {PASS: 0, XFAIL: 1, DEVIATES: 2, XPASS: 3, FAIL: 4, ERROR: 5}


def ok_for_exit(verdict: str) -> bool:
    """True for the verdicts that let a run exit 0 (deviates only exists
    when not --strict; under --strict it is already a fail)."""
    return verdict in (PASS, XFAIL, DEVIATES)


@dataclass
class ClientOutcome:
    index: int  # 1-based
    argv: list[str]
    exit: Exit | None = None  # None: never started
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_truncated: bool = False
    timed_out: bool = False
    duration_s: float = 0.0
    cpu_s: float | None = None  # CPU the client's processes had, when it timed out


@dataclass
class Outcome:
    """Everything a cell run observed."""

    error: str | None = None  # harness / environment fault
    server_failure: str | None = None  # the server did not come up (its fault)
    server_exit: Exit | None = None
    server_exited_early: bool = False  # ended on its own before the driver stopped it
    clients: list[ClientOutcome] = field(default_factory=list)
    cell_timeout_s: float | None = None  # set when the cell timed out
    timeout_s: float = 0.0
    effects: list[str] = field(default_factory=list)  # missing/wrong effects
    comparison: transcript.Comparison | None = None
    run_interrupted: str | None = None
    # The cell was stuck (harness/run/hang.py): who waits for what, in words.
    hang: str | None = None
    # Processes left in the cell after the server and clients were stopped.
    leftovers: list[str] = field(default_factory=list)
    starved_s: float = 0.0  # time the cell was starved of CPU (not counted)


@dataclass
class Judgement:
    verdict: str
    reason: str
    diff: str = ""  # text for diff.txt (stdout and transcript diffs)
    known_failure: KnownFailure | None = None


def tail_line(data: bytes) -> str:
    lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    if not lines:
        return ""
    s = lines[-1].strip()
    return s if len(s) <= 160 else s[:157] + "..."


def _escaped_lines(data: bytes) -> list[str]:
    """The escaped text split after each newline, for line diffs."""
    parts = data.split(b"\n")
    lines = [transcript.escape(p) + "\\n" for p in parts[:-1]]
    if parts[-1] or not lines:
        lines.append(transcript.escape(parts[-1]))
    return lines


def stdout_diff(expected: bytes | None, pattern: transcript.Pattern | None, actual: bytes,
                label: str) -> str:
    exp = _escaped_lines(expected) if expected is not None else \
        [f"~{pattern.source}" if pattern else ""]
    return "\n".join(difflib.unified_diff(exp, _escaped_lines(actual),
                                          f"expected stdout ({label})",
                                          f"actual stdout ({label})", lineterm="")) + "\n"


def _stdout_ok(cell: Cell, data: bytes, truncated: bool) -> bool:
    sc = cell.scenario
    if truncated:
        return False
    if sc.stdout is not None:
        return data == sc.stdout
    if sc.stdout_pattern is not None:
        return sc.stdout_pattern.matches(data)
    return True


def client_problem(cell: Cell, c: ClientOutcome, timeout_s: float) -> tuple[str, str] | None:
    """Returns (reason, diff) for the first thing wrong with one client."""
    sc = cell.scenario
    if c.timed_out:
        had = f" (it had {c.cpu_s:.2f} s of CPU)" if c.cpu_s is not None else ""
        return f"timeout: client still running after {timeout_s:g} s{had}", ""
    if c.exit is None:
        return "client never ran", ""
    if c.exit.signal is not None:
        return f"client crashed with {signal_name(c.exit.signal)}", ""
    if c.exit.code != sc.exit:
        msg = f"client exit code {c.exit.code}, expected {sc.exit}"
        tail = tail_line(c.stderr)
        return (f"{msg}: {tail}" if tail else msg), ""
    if not _stdout_ok(cell, c.stdout, c.stdout_truncated):
        extra = " (more than the capture limit)" if c.stdout_truncated else ""
        return (f"output mismatch: stdout differs from expected{extra}",
                stdout_diff(sc.stdout, sc.stdout_pattern, c.stdout, f"client {c.index}"))
    return None


def judge(cell: Cell, o: Outcome, strict: bool = False,
          known: KnownFailure | None = None) -> Judgement:
    """Returns the verdict, its reason and the diff text for a cell."""
    j = _raw_judge(cell, o, strict)
    if j.verdict == ERROR or known is None:
        return j
    if j.verdict == PASS:
        return Judgement(XPASS, f"known failure passed (remove it from known_failures): "
                                f"{known.reason}", j.diff, known)
    return Judgement(XFAIL, f"known failure: {known.reason} [{j.verdict}: {j.reason}]",
                     j.diff, known)


def _raw_judge(cell: Cell, o: Outcome, strict: bool) -> Judgement:
    if o.error:
        return Judgement(ERROR, o.error)
    if o.server_failure:
        return Judgement(FAIL, o.server_failure)
    if o.cell_timeout_s is not None:
        return Judgement(FAIL, f"timeout: the cell exceeded {o.cell_timeout_s:g} s"
                         + _starved_note(o))
    if o.hang:
        return Judgement(FAIL, o.hang, _with_transcript("", o))
    sx = o.server_exit
    if sx is not None and o.server_exited_early and (sx.signal is not None or sx.code):
        how = f"crashed with {signal_name(sx.signal)}" if sx.signal is not None \
            else f"exited with code {sx.code}"
        return Judgement(FAIL, f"server {how} during the cell")
    n = len(o.clients)
    for c in o.clients:
        p = client_problem(cell, c, o.timeout_s)
        if p is not None:
            reason, diff = p
            if n > 1:
                others = sum(1 for x in o.clients
                             if x is not c and client_problem(cell, x, o.timeout_s))
                reason = f"client {c.index} of {n}: {reason}"
                if others:
                    reason += f" (and {others} more client{'s' if others > 1 else ''})"
            if o.server_exited_early and sx is not None:
                reason += f"; the server had already ended ({sx.describe()})"
            return Judgement(FAIL, reason, _with_transcript(diff, o))
    if o.effects:
        more = f" (and {len(o.effects) - 1} more)" if len(o.effects) > 1 else ""
        return Judgement(FAIL, f"missing effect: {o.effects[0]}{more}", _with_transcript("", o))
    if o.leftovers:
        n = len(o.leftovers)
        return Judgement(FAIL, f"{n} process{'es' if n > 1 else ''} outlived the server: "
                               f"{', '.join(o.leftovers[:3])} still ran after the driver "
                               f"stopped the server and its clients (a daemon that left "
                               f"their process group)", _with_transcript("", o))
    cmp = o.comparison
    if cmp is not None and not cmp.equal:
        where = f"turn {cmp.turn}"
        if cmp.connection is not None:
            where += f" of connection {cmp.connection}"
        if strict:
            return Judgement(FAIL, f"transcript mismatch at {where}", cmp.diff)
        return Judgement(DEVIATES, f"transcript differs from the golden at {where}", cmp.diff)
    return Judgement(PASS, "")


def _starved_note(o: Outcome) -> str:
    if o.starved_s < 0.05:
        return ""
    return f" of its own time ({o.starved_s:.1f} s more waiting for a busy CPU, not counted)"


def _with_transcript(diff: str, o: Outcome) -> str:
    if o.comparison is not None and not o.comparison.equal:
        return (diff + "\n" if diff else "") + o.comparison.diff
    return diff
