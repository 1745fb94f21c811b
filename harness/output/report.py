"""Reporting a run: the terminal (live line or CI lines, grids, summary),
results.json, junit.xml, report.html and one folder per cell."""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import shlex
import shutil
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import TextIO

from harness.errors import InfraError
from harness.judge import verdict
from harness.judge.verdict import DEVIATES, ERROR, FAIL, PASS, SEVERITY, VERDICTS, XFAIL, XPASS
from harness.run.runner import CellResult
from harness.spec import transcript
from harness.spec.matrix import Cell, Matrix

RESULTS_SCHEMA = "socket-lessons-matrix/results"
RESULTS_VERSION = 1
TAIL_LINES = 20

SYMBOLS = {PASS: "✓", DEVIATES: "~", FAIL: "✗", ERROR: "E", XFAIL: "x", XPASS: "X"}
ASCII_SYMBOLS = {PASS: "+", DEVIATES: "~", FAIL: "F", ERROR: "E", XFAIL: "x", XPASS: "X"}
COLOURS = {PASS: "32", DEVIATES: "33", FAIL: "31;1", ERROR: "35;1", XFAIL: "36", XPASS: "31"}
LABELS = {PASS: "pass", DEVIATES: "deviates", FAIL: "fail", ERROR: "error", XFAIL: "xfail",
          XPASS: "xpass"}


def cell_dir_name(result: CellResult) -> str:
    """The cell's folder under cells/: its id as a path, #N for repeats."""
    p = result.cell.id
    return p if result.repeat <= 1 else f"{p}#{result.repeat}"


def _decode(b: bytes) -> str:
    return b.decode("utf-8", "replace")


def clip(text: str, max_lines: int = 200, max_line: int = 2000) -> str:
    """Bounds text shown in report.html and junit.xml (a 1 MB transcript
    line stays in the cell's files); says what was left out."""
    lines = text.splitlines()
    out = [ln if len(ln) <= max_line else
           f"{ln[:max_line]} [... {len(ln) - max_line} more characters]"
           for ln in lines[:max_lines]]
    if len(lines) > max_lines:
        out.append(f"[... {len(lines) - max_lines} more lines]")
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def tail(data: bytes | str, n: int = TAIL_LINES) -> str:
    text = _decode(data) if isinstance(data, bytes) else data
    lines = text.splitlines()
    if len(lines) <= n:
        return text
    return f"[... {len(lines) - n} lines above ...]\n" + "\n".join(lines[-n:]) + "\n"


# --------------------------------------------------------------------------
# Per-cell folder


def cmd_script(result: CellResult, root: Path) -> str:
    """A shell script that reruns the cell by hand, without the relay: start
    the server in a scratch directory, wait until its port shows up in
    /proc/net, run the client(s) against it directly, stop the server."""
    cell = result.cell
    sc = cell.scenario
    port = result.server_port or 20000
    q = shlex.quote

    def words(argv: list[str], port_value: int | None) -> str:
        # The port argument becomes "$PORT"; the client talked to the relay,
        # by hand it talks to the server directly.
        return " ".join('"$PORT"' if port_value is not None and a == str(port_value) else q(a)
                        for a in argv)

    srv = words(result.server_argv, result.server_port) or "false"
    client_cmd = words(result.client_argv, result.relay_port) or "false"
    state = "0A" if cell.protocol.transport == "tcp" else "07"
    files = "/proc/net/tcp /proc/net/tcp6" if cell.protocol.transport == "tcp" \
        else "/proc/net/udp /proc/net/udp6"
    lines = [
        "#!/bin/sh",
        f"# Rerun cell {cell.id} by hand (no relay: the client talks to the server).",
        "# Usage: sh cmd.sh   (PORT=N sh cmd.sh to pick another port)",
        "set -u",
        'here=$(cd "$(dirname "$0")" && pwd)',
        f"cd {q(str(root))}",
        "export TZ=UTC LANG=C.UTF-8",
        "unset LC_ALL",
    ]
    for k, v in {**cell.server.env, **cell.client.env}.items():
        lines.append(f"export {k}={q(v)}")
    lines += [
        f"PORT=${{PORT:-{port}}}",
        'scratch=$(mktemp -d)',
        f'(cd "$scratch" && exec {srv}) >"$here/server.rerun.log" 2>&1 &',
        "server=$!  # exec: this is the server's own pid",
        "trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; "
        "echo \"server log: $here/server.rerun.log; scratch dir: $scratch\" >&2' EXIT",
        "hex=$(printf '%04X' \"$PORT\")",
        "n=0",
        f"until grep -q \":$hex [0-9A-F:]* {state} \" {files} 2>/dev/null; do",
        "    n=$((n + 1)); [ $n -gt 200 ] && { echo 'server did not bind' >&2; exit 1; }",
        "    kill -0 $server 2>/dev/null || { echo 'server exited' >&2; exit 1; }",
        "    sleep 0.05",
        "done",
    ]
    stdin = '"$here/stdin.bin"'
    if sc.clients > 1:
        lines.append(f"# {sc.clients} clients at once, as in the scenario")
        lines.append(f"for i in $(seq {sc.clients}); do {client_cmd} <{stdin} & done; wait")
    else:
        lines.append(f"{client_cmd} <{stdin}")
        lines.append('echo "[client exit code $?]" >&2')
    for name in sc.files:
        lines.append(f'[ -e "$scratch/{name}" ] && {{ echo "--- {name}:" >&2; '
                     f'cat "$scratch/{name}" >&2; }}')
    return "\n".join(lines) + "\n"


def _server_log(r: CellResult) -> str:
    o = r.outcome
    parts = [f"$ {shlex.join(r.server_argv)}" if r.server_argv else "$ (not started)"]
    state = (o.server_exit.describe() if o.server_exit else
             "left running for the next cell" if r.server_kept else "not started")
    parts.append(f"# port {r.server_port}, relay port {r.relay_port}, {state}")
    if r.server_reused:
        parts.append(f"# a shared server: it served {r.server_reused} earlier cell"
                     f"{'s' if r.server_reused > 1 else ''}; below is what it printed "
                     "during this one")
    if r.shared_attempt:
        parts.append(f"# run again on a server of its own: on the shared server, "
                     f"{r.shared_attempt}")
    parts.append("--- stdout ---")
    parts.append(_decode(r.server_stdout))
    parts.append("--- stderr ---")
    parts.append(_decode(r.server_stderr))
    if r.server_truncated:
        parts.append("[output truncated at the capture limit]")
    return "\n".join(parts) + "\n"


def _client_log(r: CellResult) -> str:
    out = []
    for c in r.outcome.clients:
        ex = c.exit.describe() if c.exit else "not started"
        if c.timed_out:
            ex += f" after the {r.outcome.timeout_s:g} s timeout"
        out.append(f"=== client {c.index}: $ {shlex.join(c.argv)}")
        out.append(f"# {ex}, {c.duration_s:.3f} s")
        out.append("--- stdout ---")
        out.append(_decode(c.stdout) + ("\n[truncated at the capture limit]"
                                        if c.stdout_truncated else ""))
        out.append("--- stderr ---")
        out.append(_decode(c.stderr))
    return "\n".join(out) + "\n"


def write_cell(r: CellResult, out: Path, root: Path) -> Path:
    """Writes server.log, client.log, transcript.txt, diff.txt, relay.log,
    stdin.bin and cmd.sh into the cell's folder and returns it."""
    d = out / "cells" / cell_dir_name(r)
    d.mkdir(parents=True, exist_ok=True)
    (d / "server.log").write_text(_server_log(r), encoding="utf-8")
    (d / "client.log").write_text(_client_log(r), encoding="utf-8")
    if r.recorded is not None:
        text = transcript.format_transcript(r.recorded, [r.cell.id])
    else:
        text = f"# transcript v1 {r.cell.protocol.transport}\n# {r.cell.id}: nothing recorded\n"
    (d / "transcript.txt").write_text(text, encoding="utf-8")
    (d / "diff.txt").write_text(r.judgement.diff, encoding="utf-8")
    (d / "relay.log").write_text("\n".join(r.relay_log) + "\n", encoding="utf-8")
    (d / "stdin.bin").write_bytes(r.cell.scenario.stdin)
    cmd = d / "cmd.sh"
    cmd.write_text(cmd_script(r, root), encoding="utf-8")
    cmd.chmod(0o755)
    for name, data in r.files.items():
        (d / "files").mkdir(exist_ok=True)
        (d / "files" / name).write_bytes(data)
    r.dir = d
    return d


def clear_out(out: Path) -> None:
    """Removes what an earlier run wrote into out (only our own files)."""
    shutil.rmtree(out / "cells", ignore_errors=True)
    for name in ("results.json", "junit.xml", "report.html"):
        try:
            (out / name).unlink()
        except FileNotFoundError:
            pass


# --------------------------------------------------------------------------
# Grids (drawn from results.json's cell records, so a merged run draws the
# same grids as an unsharded one)


def grid_key(cell: dict) -> str:
    """One grid per protocol and mode: `calc`, `calc [segment]`."""
    return cell["protocol"] if cell["mode"] == "plain" else f"{cell['protocol']} [{cell['mode']}]"


def grid_data(cells: list[dict], peer_order: list[str]) -> dict[str, dict]:
    """Per protocol: servers, clients (matrix order) and per (server, client)
    the worst verdict with how many of its cells have it and how many in all."""
    out: dict[str, dict] = {}
    for c in cells:
        g = out.setdefault(grid_key(c), {"servers": [], "clients": [], "pairs": {},
                                         "transport": c.get("transport", "")})
        if c["server"] not in g["servers"]:
            g["servers"].append(c["server"])
        if c["client"] not in g["clients"]:
            g["clients"].append(c["client"])
        g["pairs"].setdefault((c["server"], c["client"]), []).append(c["verdict"])

    def rank(name: str) -> tuple[int, str]:
        return (peer_order.index(name), "") if name in peer_order else (len(peer_order), name)

    for g in out.values():
        g["servers"].sort(key=rank)
        g["clients"].sort(key=rank)
        for key, vs in list(g["pairs"].items()):
            worst = max(vs, key=SEVERITY.__getitem__)
            g["pairs"][key] = (worst, vs.count(worst), len(vs))
    return out


def pad(s: str, width: int) -> str:
    return s + " " * max(0, width - len(s))


def format_grids(cells: list[dict], peer_order: list[str], colour: bool,
                 unicode: bool = True) -> str:
    symbols = SYMBOLS if unicode else ASCII_SYMBOLS
    lines = []
    for proto, g in grid_data(cells, peer_order).items():
        multi = any(n > 1 for (_, _, n) in g["pairs"].values())
        cw = max([len(c) for c in g["clients"]] + [4 if multi else 1]) + 2
        sw = max([len(s) for s in g["servers"]] + [len("server \\ client")]) + 2
        lines.append(f"{proto} ({g['transport']})")
        lines.append((pad("server \\ client", sw)
                      + "".join(pad(c, cw) for c in g["clients"])).rstrip())
        for s in g["servers"]:
            row = pad(s, sw)
            for c in g["clients"]:
                entry = g["pairs"].get((s, c))
                if entry is None:
                    row += pad("·", cw)
                    continue
                worst, count, total = entry
                text = symbols[worst] + (str(count) if multi else "")
                cell = pad(text, cw)
                if colour:
                    cell = f"\033[{COLOURS[worst]}m{text}\033[0m" + " " * (cw - len(text))
                row += cell
            lines.append(row.rstrip())
        lines.append("")
    legend = "  ".join(f"{symbols[v]} {LABELS[v]}" for v in VERDICTS)
    lines.append(f"legend: {legend}  · no cell")
    lines.append("a grid cell shows the worst verdict of the pair's scenarios and how many "
                 "scenarios have it")
    return "\n".join(lines)


def summary_line(verdicts: list[str], elapsed: float, jobs: int | str,
                 interrupted: bool = False) -> str:
    counts = Counter(verdicts)
    parts = [f"{counts[v]} {v}" for v in VERDICTS if counts[v]]
    s = f"{len(verdicts)} cells: {', '.join(parts) or 'none'} in {elapsed:.1f} s (jobs {jobs})"
    if interrupted:
        s += " -- INTERRUPTED"
    return s


# --------------------------------------------------------------------------
# Terminal


def use_colour(stream: TextIO) -> bool:
    """Colour on a terminal, unless NO_COLOR is set (no-color.org): every
    command's output decides it here."""
    return stream.isatty() and "NO_COLOR" not in os.environ


class Terminal:
    """Live progress on a TTY, one line per finished cell otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None, colour: bool | None = None,
                 out: Path | None = None, verbose: bool = False):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        if colour is None:
            colour = use_colour(self.stream)
        self.colour = colour
        self.unicode = (getattr(self.stream, "encoding", "") or "").lower().replace("-", "") \
            in ("utf8",)
        self.total = total
        self.done = 0
        self.running = 0
        self.counts: Counter[str] = Counter()
        self.out = out
        self.verbose = verbose
        self._width = shutil.get_terminal_size((100, 20)).columns

    def _sym(self, v: str) -> str:
        s = (SYMBOLS if self.unicode else ASCII_SYMBOLS)[v]
        return f"\033[{COLOURS[v]}m{s}\033[0m" if self.colour else s

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _progress(self, current: str = "") -> None:
        """Redraws the one live line: done/total, running, counts, a cell id.
        Cut to the terminal width before colouring, so no escape is cut."""
        if not self.tty:
            return
        symbols = SYMBOLS if self.unicode else ASCII_SYMBOLS
        parts: list[tuple[str, str | None]] = [
            (f"[{self.done}/{self.total}] {self.running} running", None)]
        parts += [(f"{symbols[v]}{self.counts[v]}", v) for v in VERDICTS if self.counts[v]]
        parts.append((current, None))
        room = self._width - 1
        out = []
        for text, v in parts:
            if room <= 0:
                break
            text = text[:room]
            room -= len(text) + 1
            out.append(f"\033[{COLOURS[v]}m{text}\033[0m" if v and self.colour else text)
        self._write("\r\033[K" + " ".join(out))

    def started(self, cell: Cell, repeat: int) -> None:
        self.running += 1
        self._progress(cell.id)

    def finished(self, r: CellResult) -> None:
        self.running -= 1
        self.done += 1
        self.counts[r.verdict] += 1
        bad = r.verdict in (FAIL, ERROR, XPASS) or (r.verdict == DEVIATES and self.verbose)
        if self.tty:
            if bad:
                self._write("\r\033[K" + self.describe(r) + "\n")
            self._progress(r.id)
        else:
            if bad or r.verdict == DEVIATES:
                self._write(self.describe(r) + "\n")
            else:
                self._write(f"{r.verdict.upper():8} {r.id}  {r.duration_s:.2f}s"
                            + (f"  {r.reason}" if r.reason else "") + "\n")

    def describe(self, r: CellResult, diff_lines: int = 12) -> str:
        head = f"{r.verdict.upper():8} {r.id}  {r.duration_s:.2f}s"
        if self.colour:
            head = f"\033[{COLOURS[r.verdict]}m{head}\033[0m"
        lines = [head]
        if r.reason:
            lines.append(f"    reason: {r.reason}")
        if r.judgement.diff:
            dl = r.judgement.diff.splitlines()
            for ln in dl[:diff_lines]:
                lines.append(f"    {ln[:200]}")
            if len(dl) > diff_lines:
                lines.append(f"    [... {len(dl) - diff_lines} more diff lines in diff.txt]")
        if r.dir is not None:
            lines.append(f"    rerun: sh {_short(r.dir / 'cmd.sh')}")
        return "\n".join(lines)

    def end(self, data: dict) -> None:
        """The grids, the summary line, stale known failures, skipped modes
        and infrastructure problems of a run (or a merge) from its
        results.json data."""
        cells = data["cells"]
        if self.tty:
            self._write("\r\033[K")
        self._write("\n" + format_grids(cells, data.get("peers") or [], self.colour,
                                        self.unicode) + "\n\n")
        self._write(summary_line([c["verdict"] for c in cells], data.get("duration_s") or 0.0,
                                 data.get("jobs", "?"), bool(data.get("interrupted"))) + "\n")
        xpassed = [c for c in cells if c["verdict"] == XPASS]
        if xpassed:
            self._write(f"{len(xpassed)} known failure(s) now pass; remove or narrow their "
                        "known_failures entries:\n")
            for c in xpassed:
                cid = c["id"] + (f"#{c['repeat']}" if c.get("repeat", 1) > 1 else "")
                pat = c.get("known_failure_pattern")
                self._write(f"  XPASS {cid}  (entry {pat!r}, matrix.yaml:"
                            f"{c.get('known_failure_line')})\n" if pat else f"  XPASS {cid}\n")
        for s in data.get("modes_skipped") or []:
            self._write(f"mode {s['mode']} not run: {s['reason']}\n")
        for s in data.get("cells_skipped") or []:
            self._write(f"cell {s['id']} not run: {s['reason']}\n")
        for e in data.get("infrastructure_errors") or []:
            self._write(f"infrastructure error (not the peers' fault): {e}\n")
        if self.out is not None:
            self._write(f"results: {_short(self.out)}/results.json, junit.xml, report.html\n")


def _short(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


# --------------------------------------------------------------------------
# results.json (docs/results.md, docs/results.schema.json)


def results_json(results: list[CellResult], out: Path, meta: dict,
                 extra: dict[str, dict] | None = None) -> dict:
    """The results.json data of a run: meta (run-level fields), then one
    record per result. extra, keyed by the result's id (with #repeat),
    adds fields to a cell's record (its index in the selection, start and
    end times); fields it does not give are null."""
    counts = Counter(r.verdict for r in results)
    cells = []
    for r in results:
        c = r.cell
        d = r.dir.relative_to(out) if r.dir is not None else None
        o = r.outcome
        kf = r.judgement.known_failure

        def p(name: str) -> str | None:
            return str(d / name) if d is not None else None

        more = (extra or {}).get(r.id, {})
        cells.append({
            "id": c.id,
            "protocol": c.protocol.name,
            "scenario": c.scenario.name,
            "server": c.server.name,
            "client": c.client.name,
            "mode": c.mode,
            "transport": c.protocol.transport,
            "repeat": r.repeat,
            "index": more.get("index"),
            "shard": more.get("shard"),
            "verdict": r.verdict,
            "reason": r.reason,
            "duration_s": round(r.duration_s, 4),
            "start_s": more.get("start_s"),
            "end_s": more.get("end_s"),
            "known_failure": kf.reason if kf else None,
            "known_failure_pattern": kf.pattern if kf else None,
            "known_failure_line": kf.line if kf else None,
            "transcript_turn": o.comparison.turn if o.comparison and not o.comparison.equal
            else None,
            "server_port": r.server_port,
            "relay_port": r.relay_port,
            "port_attempts": r.port_attempts,
            "server_command": r.server_argv,
            "client_command": r.client_argv,
            "server_exit": _exit_json(o.server_exit),
            "server_reused": r.server_reused,
            "server_kept": r.server_kept,
            "shared_attempt": r.shared_attempt,
            "clients": [{"exit": _exit_json(x.exit), "timed_out": x.timed_out,
                         "duration_s": round(x.duration_s, 4)} for x in o.clients],
            "dir": str(d) if d is not None else None,
            "paths": {"server_log": p("server.log"), "client_log": p("client.log"),
                      "transcript": p("transcript.txt"), "diff": p("diff.txt"),
                      "cmd": p("cmd.sh"), "relay_log": p("relay.log")},
        })
    return {
        "schema": RESULTS_SCHEMA,
        "version": RESULTS_VERSION,
        **meta,
        "total": len(results),
        "counts": {v: counts.get(v, 0) for v in VERDICTS},
        "cells": cells,
    }


def _exit_json(e) -> dict | None:
    if e is None:
        return None
    return {"code": e.code, "signal": verdict.signal_name(e.signal) if e.signal else None,
            "stopped_by_driver": e.stopped_by_driver}


def _cell_file(out: Path, cell: dict, name: str) -> str:
    """A file of the cell's folder as text ("" when it is missing)."""
    path = (cell.get("paths") or {}).get(name)
    if not path:
        return ""
    try:
        return (out / path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _cell_name(cell: dict) -> str:
    name = f"{cell['scenario']}/{cell['server']}/{cell['client']}/{cell['mode']}"
    return name + (f"#{cell['repeat']}" if cell.get("repeat", 1) > 1 else "")


# --------------------------------------------------------------------------
# junit.xml: valid against the Jenkins xunit plugin's junit-10.xsd (a copy
# written from its documented structure: tests/harness/fixtures/junit-10.xsd),
# which GitLab's and GitHub's test reporters also read.


def suite_wall_s(cells: list[dict]) -> float:
    """A suite's wall time: from its first cell's start to its last cell's
    end within each shard, the longest shard counting (shards run side by
    side); the sum of the cells' durations when start times are missing."""
    groups: dict[object, list[dict]] = {}
    for c in cells:
        if c.get("start_s") is None or c.get("end_s") is None:
            return sum(x["duration_s"] for x in cells)
        groups.setdefault(c.get("shard"), []).append(c)
    return max((max(c["end_s"] for c in g) - min(c["start_s"] for c in g)
                for g in groups.values()), default=0.0)


def _hostnames(data: dict, cells: list[dict]) -> str:
    shards = {s.get("index"): s.get("hostname") for s in data.get("shards") or []}
    names = {shards.get(c.get("shard")) or data.get("hostname") for c in cells}
    return ",".join(sorted(n for n in names if n)) or "unknown"


def _run_properties(data: dict) -> list[tuple[str, str]]:
    props = [("harness_version", str(data.get("harness_version", ""))),
             ("commit", str(data.get("commit") or "unknown")),
             ("matrix_hash", str(data.get("matrix_hash", ""))),
             ("exit_code", str(data.get("exit_code")))]
    sh = data.get("shard")
    if sh:
        props.append(("shard", f"{sh['index']}/{sh['count']}"))
    if data.get("merged_from"):
        props.append(("merged_shards", str(len(data["merged_from"]))))
    for m in data.get("modes_skipped") or []:
        props.append((f"mode_skipped.{m['mode']}", m["reason"]))
    for c in data.get("cells_skipped") or []:
        props.append((f"cell_skipped.{c['id']}", c["reason"]))
    return props


def junit_xml(data: dict, out: Path) -> bytes:
    """junit.xml from results.json data: one <testsuite> per protocol, one
    <testcase> per cell. The verdict rides on the element a reporter knows:
    <failure type="fail|xpass">, <error type="error">, <skipped
    type="xfail">, deviates as <system-out>; a cell not run here
    (cells_skipped) is <skipped type="not-run">."""
    suites = ET.Element("testsuites", name="interop matrix")
    by_proto: dict[str, list[dict]] = {}
    for c in data["cells"]:
        by_proto.setdefault(c["protocol"], []).append(c)
    not_run: dict[str, list[dict]] = {}
    for c in data.get("cells_skipped") or []:
        not_run.setdefault(c["id"].split("/")[0], []).append(c)
        by_proto.setdefault(c["id"].split("/")[0], [])
    tot: Counter[str] = Counter()
    stamp = str(data.get("started") or now_iso())[:19]  # xs:dateTime without the zone
    for proto, cs in by_proto.items():
        counts: Counter[str] = Counter()
        suite = ET.SubElement(suites, "testsuite", name=proto, tests="0", failures="0",
                              errors="0", skipped="0", time="0",
                              timestamp=stamp, hostname=_hostnames(data, cs))
        props = ET.SubElement(suite, "properties")
        for k, v in _run_properties(data):
            ET.SubElement(props, "property", name=k, value=v)
        for c in cs:
            tc = ET.SubElement(suite, "testcase", classname=f"matrix.{proto}",
                               name=_cell_name(c), time=f"{c['duration_s']:.3f}")
            v = c["verdict"]
            diff = _cell_file(out, c, "diff") if v in (FAIL, XPASS, ERROR, DEVIATES) else ""
            text = c["reason"] + ("\n\n" + clip(diff) if diff else "")
            if v in (FAIL, XPASS):
                ET.SubElement(tc, "failure", message=c["reason"], type=v).text = text
                counts["failures"] += 1
            elif v == ERROR:
                ET.SubElement(tc, "error", message=c["reason"], type=v).text = text
                counts["errors"] += 1
            elif v == XFAIL:
                ET.SubElement(tc, "skipped", message=c["reason"], type=v)
                counts["skipped"] += 1
            elif v == DEVIATES:
                ET.SubElement(tc, "system-out").text = "deviates: " + text
            counts["tests"] += 1
        for c in not_run.get(proto, []):
            # A cell this machine cannot run (the open-file limit): skipped.
            tc = ET.SubElement(suite, "testcase", classname=f"matrix.{proto}",
                               name=c["id"].split("/", 1)[1], time="0.000")
            ET.SubElement(tc, "skipped", message=c["reason"], type="not-run")
            counts["skipped"] += 1
            counts["tests"] += 1
        for k in ("tests", "failures", "errors", "skipped"):
            suite.set(k, str(counts[k]))
        suite.set("time", f"{suite_wall_s(cs):.3f}")
        tot.update(counts)
    # junit-10.xsd has no `skipped` on <testsuites>: the suites carry it.
    for k in ("tests", "failures", "errors"):
        suites.set(k, str(tot[k]))
    suites.set("time", f"{data.get('duration_s') or 0:.3f}")
    ET.indent(suites)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="utf-8")


# --------------------------------------------------------------------------
# report.html


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em}
table.grid{border-collapse:collapse;margin:.4em 0 1em}
table.grid td,table.grid th{border:1px solid #ccc;padding:.25em .6em;text-align:center;
 font-family:ui-monospace,monospace}
table.grid th{background:#f3f3f3}
.pass{background:#dff3df}.deviates{background:#fff3c4}.fail{background:#f8d0d0}
.error{background:#e8d0f0}.xfail{background:#d8eef3}.xpass{background:#f3c0c0}
.none{color:#aaa}
pre{background:#f7f7f7;border:1px solid #ddd;padding:.5em;overflow-x:auto;font-size:.85em;
 max-height:30em}
details{margin:.3em 0;border-left:4px solid #ddd;padding-left:.6em}
details.fail,details.error,details.xpass{border-color:#d33}details.deviates{border-color:#cb0}
details.pass{border-color:#5a5}details.xfail{border-color:#39b}
summary{cursor:pointer;font-family:ui-monospace,monospace}
.counts span{margin-right:1em}.legend span{margin-right:.8em;padding:0 .3em}
"""


def report_html(data: dict, out: Path) -> str:
    """One self-contained page from results.json data; transcripts, diffs
    and logs come from the cells' folders under out."""
    e = html.escape
    cells = data["cells"]
    counts = Counter(c["verdict"] for c in cells)
    run = [str(data.get("started", "")), f"{data.get('duration_s') or 0:.1f} s",
           f"jobs {data.get('jobs')}", "strict" if data.get("strict") else "not strict",
           f"exit code {data.get('exit_code')}"]
    if data.get("commit"):
        run.append(f"commit {str(data['commit'])[:12]}")
    if data.get("shard"):
        run.append(f"shard {data['shard']['index']}/{data['shard']['count']}")
    if data.get("merged_from"):
        run.append(f"merged from {len(data['merged_from'])} shards")
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>interop matrix report</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>socket-lessons interop matrix</h1>",
             "<p>" + " &middot; ".join(e(x) for x in run) + "</p>",
             '<p class="counts">' + "".join(
                 f'<span class="{v}">{SYMBOLS[v]} {counts.get(v, 0)} {v}</span>'
                 for v in VERDICTS) + f" of {len(cells)} cells</p>",
             '<p class="legend">'
             + "".join(f'<span class="{v}">{SYMBOLS[v]} {LABELS[v]}</span>' for v in VERDICTS)
             + " &middot; a grid cell shows the worst verdict among the pair's scenarios and "
               "how many scenarios have it (of the total)</p>"]
    for m in data.get("modes_skipped") or []:
        parts.append(f"<p>mode <code>{e(m['mode'])}</code> not run: {e(m['reason'])}</p>")
    for c in data.get("cells_skipped") or []:
        parts.append(f"<p>cell <code>{e(c['id'])}</code> not run: {e(c['reason'])}</p>")
    for err in data.get("infrastructure_errors") or []:
        parts.append(f'<p class="error">infrastructure error (not the peers\' fault): '
                     f"{e(err)}</p>")
    for proto, g in grid_data(cells, data.get("peers") or []).items():
        parts.append(f"<h2 id=\"grid-{e(proto)}\">{e(proto)} "
                     f"<small>({e(g['transport'])})</small></h2>")
        parts.append('<table class="grid"><tr><th>server \\ client</th>'
                     + "".join(f"<th>{e(c)}</th>" for c in g["clients"]) + "</tr>")
        for s in g["servers"]:
            row = f"<tr><th>{e(s)}</th>"
            for c in g["clients"]:
                entry = g["pairs"].get((s, c))
                if entry is None:
                    row += '<td class="none">·</td>'
                else:
                    worst, count, total = entry
                    row += (f'<td class="{worst}" title="{e(worst)}: {count} of {total}">'
                            f'<a href="#pair-{e(proto)}-{e(s)}-{e(c)}">{SYMBOLS[worst]} '
                            f"{count}/{total}</a></td>")
            parts.append(row + "</tr>")
        parts.append("</table>")
    parts.append("<h2>Cells</h2>")
    seen_pairs: set[tuple[str, str, str]] = set()
    for c in sorted(cells, key=lambda c: (-SEVERITY[c["verdict"]], c["id"], c.get("repeat", 1))):
        v = c["verdict"]
        key = (c["protocol"], c["server"], c["client"])
        anchor = ""
        if key not in seen_pairs:
            seen_pairs.add(key)
            anchor = f' id="pair-{e(key[0])}-{e(key[1])}-{e(key[2])}"'
        is_open = " open" if v in (FAIL, ERROR, XPASS) else ""
        cid = c["id"] + (f"#{c['repeat']}" if c.get("repeat", 1) > 1 else "")
        parts.append(f'<details class="{v}"{anchor}{is_open}><summary>'
                     f"{SYMBOLS[v]} {e(cid)} &mdash; {e(v)}"
                     f"{(': ' + e(c['reason'])) if c['reason'] else ''} "
                     f"<small>({c['duration_s']:.2f} s)</small></summary>")
        cmd = (c.get("paths") or {}).get("cmd")
        parts.append("<p>Reproduce by hand: <code>sh " + e(cmd or "(no folder)") + "</code></p>")
        parts.append(f"<p>server: <code>{e(shlex.join(c.get('server_command') or []))}</code><br>"
                     f"client: <code>{e(shlex.join(c.get('client_command') or []))}</code></p>")
        diff = _cell_file(out, c, "diff")
        if diff:
            parts.append(f"<h4>diff</h4><pre>{e(clip(diff))}</pre>")
        tr = _cell_file(out, c, "transcript")
        if tr:
            parts.append(f"<h4>transcript</h4><pre>{e(clip(tr))}</pre>")
        if v != PASS:
            for name, label in (("server_log", "server log"), ("client_log", "client log")):
                parts.append(f"<h4>{label} (tail)</h4>"
                             f"<pre>{e(clip(tail(_cell_file(out, c, name))))}</pre>")
        parts.append("</details>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_outputs(data: dict, out: Path) -> None:
    """Writes results.json, then junit.xml, then report.html into out; each
    is attempted even if an earlier one failed. Raises InfraError naming
    the ones that could not be written."""
    problems = []
    writers = (("results.json", lambda: (json.dumps(data, indent=1, ensure_ascii=False)
                                         + "\n").encode("utf-8")),
               ("junit.xml", lambda: junit_xml(data, out)),
               ("report.html", lambda: report_html(data, out).encode("utf-8")))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InfraError(f"cannot create {out}: {e}") from None
    for name, produce in writers:
        try:
            (out / name).write_bytes(produce())
        except OSError as e:
            problems.append(f"{name}: {e}")
    if problems:
        raise InfraError("could not write " + "; ".join(problems))


def write_run(results: list[CellResult], m: Matrix, out: Path, meta: dict,
              extra: dict[str, dict] | None = None) -> dict:
    """Writes results.json, junit.xml and report.html into out (the cells'
    folders must already be there); returns the results.json data."""
    data = results_json(results, out, {"peers": list(m.peers), **meta}, extra)
    write_outputs(data, out)
    return data


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
