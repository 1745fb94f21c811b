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

from harness import transcript, verdict
from harness.matrix import Cell, Matrix
from harness.runner import CellResult
from harness.verdict import DEVIATES, ERROR, FAIL, PASS, SEVERITY, VERDICTS, XFAIL, XPASS

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
           f"{ln[:max_line]} [... {len(ln) - max_line} more characters]" for ln in lines[:max_lines]]
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
    parts.append(f"# port {r.server_port}, relay port {r.relay_port}, "
                 f"{o.server_exit.describe() if o.server_exit else 'not started'}")
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
# Grids


def grid_key(c: Cell) -> str:
    """One grid per protocol and mode: `calc`, `calc [segment]`."""
    return c.protocol.name if c.mode == "plain" else f"{c.protocol.name} [{c.mode}]"


def grid_data(results: list[CellResult], m: Matrix) -> dict[str, dict]:
    """Per protocol: servers, clients (matrix order) and per (server, client)
    the worst verdict with how many of its cells have it and how many in all."""
    out: dict[str, dict] = {}
    for r in results:
        c = r.cell
        g = out.setdefault(grid_key(c), {"servers": [], "clients": [], "pairs": {},
                                         "transport": c.protocol.transport})
        if c.server.name not in g["servers"]:
            g["servers"].append(c.server.name)
        if c.client.name not in g["clients"]:
            g["clients"].append(c.client.name)
        g["pairs"].setdefault((c.server.name, c.client.name), []).append(r.verdict)
    order = list(m.peers)
    for g in out.values():
        g["servers"].sort(key=order.index)
        g["clients"].sort(key=order.index)
        for key, vs in list(g["pairs"].items()):
            worst = max(vs, key=SEVERITY.__getitem__)
            g["pairs"][key] = (worst, vs.count(worst), len(vs))
    return out


def _pad(s: str, width: int) -> str:
    return s + " " * max(0, width - len(s))


def format_grids(results: list[CellResult], m: Matrix, colour: bool, unicode: bool = True) -> str:
    symbols = SYMBOLS if unicode else ASCII_SYMBOLS
    lines = []
    for proto, g in grid_data(results, m).items():
        multi = any(n > 1 for (_, _, n) in g["pairs"].values())
        cw = max([len(c) for c in g["clients"]] + [4 if multi else 1]) + 2
        sw = max([len(s) for s in g["servers"]] + [len("server \\ client")]) + 2
        lines.append(f"{proto} ({g['transport']})")
        lines.append(_pad("server \\ client", sw) + "".join(_pad(c, cw) for c in g["clients"]))
        for s in g["servers"]:
            row = _pad(s, sw)
            for c in g["clients"]:
                entry = g["pairs"].get((s, c))
                if entry is None:
                    row += _pad("·", cw)
                    continue
                worst, count, total = entry
                text = symbols[worst] + (str(count) if multi else "")
                cell = _pad(text, cw)
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


def summary_line(results: list[CellResult], elapsed: float, jobs: int,
                 interrupted: bool = False) -> str:
    counts = Counter(r.verdict for r in results)
    parts = [f"{counts[v]} {v}" for v in VERDICTS if counts[v]]
    s = f"{len(results)} cells: {', '.join(parts) or 'none'} in {elapsed:.1f} s (jobs {jobs})"
    if interrupted:
        s += " -- INTERRUPTED"
    return s


# --------------------------------------------------------------------------
# Terminal


class Terminal:
    """Live progress on a TTY, one line per finished cell otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None, colour: bool | None = None,
                 out: Path | None = None, verbose: bool = False):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        if colour is None:
            colour = self.tty and "NO_COLOR" not in os.environ
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
        parts = [(f"[{self.done}/{self.total}] {self.running} running", None)]
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

    def end(self, results: list[CellResult], m: Matrix, elapsed: float, jobs: int,
            interrupted: bool = False) -> None:
        if self.tty:
            self._write("\r\033[K")
        self._write("\n" + format_grids(results, m, self.colour, self.unicode) + "\n\n")
        self._write(summary_line(results, elapsed, jobs, interrupted) + "\n")
        xpassed = [r for r in results if r.verdict == XPASS]
        if xpassed:
            self._write(f"{len(xpassed)} known failure(s) now pass; remove or narrow their "
                        "known_failures entries:\n")
            for r in xpassed:
                kf = r.judgement.known_failure
                self._write(f"  XPASS {r.id}  (entry {kf.pattern!r}, matrix.yaml:{kf.line})\n"
                            if kf else f"  XPASS {r.id}\n")
        if self.out is not None:
            self._write(f"results: {_short(self.out)}/results.json, junit.xml, report.html\n")


def _short(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


# --------------------------------------------------------------------------
# results.json


def results_json(results: list[CellResult], out: Path, meta: dict) -> dict:
    counts = Counter(r.verdict for r in results)
    cells = []
    for r in results:
        c = r.cell
        d = r.dir.relative_to(out) if r.dir is not None else None
        o = r.outcome

        def p(name: str) -> str | None:
            return str(d / name) if d is not None else None

        cells.append({
            "id": c.id,
            "protocol": c.protocol.name,
            "scenario": c.scenario.name,
            "server": c.server.name,
            "client": c.client.name,
            "mode": c.mode,
            "repeat": r.repeat,
            "verdict": r.verdict,
            "reason": r.reason,
            "duration_s": round(r.duration_s, 4),
            "known_failure": r.judgement.known_failure.reason if r.judgement.known_failure
            else None,
            "transcript_turn": o.comparison.turn if o.comparison and not o.comparison.equal
            else None,
            "server_port": r.server_port,
            "relay_port": r.relay_port,
            "port_attempts": r.port_attempts,
            "server_command": r.server_argv,
            "client_command": r.client_argv,
            "server_exit": _exit_json(o.server_exit),
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


# --------------------------------------------------------------------------
# junit.xml


def junit_xml(results: list[CellResult], meta: dict) -> bytes:
    suites = ET.Element("testsuites", name="interop matrix")
    by_proto: dict[str, list[CellResult]] = {}
    for r in results:
        by_proto.setdefault(r.cell.protocol.name, []).append(r)
    tot = Counter()
    for proto, rs in by_proto.items():
        counts = Counter()
        suite = ET.SubElement(suites, "testsuite", name=proto)
        for r in rs:
            c = r.cell
            name = f"{c.scenario.name}/{c.server.name}/{c.client.name}/{c.mode}"
            if r.repeat > 1:
                name += f"#{r.repeat}"
            tc = ET.SubElement(suite, "testcase", classname=f"matrix.{proto}", name=name,
                               time=f"{r.duration_s:.3f}")
            props = ET.SubElement(tc, "properties")
            ET.SubElement(props, "property", name="verdict", value=r.verdict)
            text = r.reason + ("\n\n" + clip(r.judgement.diff) if r.judgement.diff else "")
            if r.verdict in (FAIL, XPASS):
                el = ET.SubElement(tc, "failure", message=r.reason, type=r.verdict)
                el.text = text
                counts["failures"] += 1
            elif r.verdict == ERROR:
                el = ET.SubElement(tc, "error", message=r.reason, type=r.verdict)
                el.text = text
                counts["errors"] += 1
            elif r.verdict == XFAIL:
                ET.SubElement(tc, "skipped", message=r.reason)
                counts["skipped"] += 1
            elif r.verdict == DEVIATES:
                so = ET.SubElement(tc, "system-out")
                so.text = "deviates: " + text
            counts["tests"] += 1
        for k in ("tests", "failures", "errors", "skipped"):
            suite.set(k, str(counts[k]))
        suite.set("time", f"{sum(r.duration_s for r in rs):.3f}")
        tot.update(counts)
    for k in ("tests", "failures", "errors", "skipped"):
        suites.set(k, str(tot[k]))
    suites.set("time", f"{meta.get('duration_s', 0):.3f}")
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


def report_html(results: list[CellResult], m: Matrix, meta: dict, out: Path) -> str:
    e = html.escape
    counts = Counter(r.verdict for r in results)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>interop matrix report</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>socket-lessons interop matrix</h1>",
             f"<p>{e(meta.get('started', ''))} &middot; {meta.get('duration_s', 0):.1f} s "
             f"&middot; jobs {meta.get('jobs')} &middot; "
             f"{'strict' if meta.get('strict') else 'not strict'} &middot; exit code "
             f"{meta.get('exit_code')}</p>",
             '<p class="counts">' + "".join(
                 f'<span class="{v}">{SYMBOLS[v]} {counts.get(v, 0)} {v}</span>'
                 for v in VERDICTS) + f" of {len(results)} cells</p>",
             '<p class="legend">' + "".join(f'<span class="{v}">{SYMBOLS[v]} {LABELS[v]}</span>'
                                             for v in VERDICTS)
             + " &middot; a grid cell shows the worst verdict among the pair's scenarios and "
               "how many scenarios have it (of the total)</p>"]
    for proto, g in grid_data(results, m).items():
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
    for r in sorted(results, key=lambda r: (-SEVERITY[r.verdict], r.cell.id, r.repeat)):
        c = r.cell
        key = (c.protocol.name, c.server.name, c.client.name)
        anchor = ""
        if key not in seen_pairs:
            seen_pairs.add(key)
            anchor = f' id="pair-{e(key[0])}-{e(key[1])}-{e(key[2])}"'
        is_open = " open" if r.verdict in (FAIL, ERROR, XPASS) else ""
        parts.append(f'<details class="{r.verdict}"{anchor}{is_open}><summary>'
                     f"{SYMBOLS[r.verdict]} {e(r.id)} &mdash; {e(r.verdict)}"
                     f"{(': ' + e(r.reason)) if r.reason else ''} "
                     f"<small>({r.duration_s:.2f} s)</small></summary>")
        d = r.dir
        parts.append("<p>Reproduce by hand: <code>sh "
                     + e(str(d / "cmd.sh") if d else "(no folder)") + "</code></p>")
        parts.append(f"<p>server: <code>{e(shlex.join(r.server_argv))}</code><br>"
                     f"client: <code>{e(shlex.join(r.client_argv))}</code></p>")
        if r.judgement.diff:
            parts.append(f"<h4>diff</h4><pre>{e(clip(r.judgement.diff))}</pre>")
        if r.recorded is not None:
            parts.append("<h4>transcript</h4><pre>"
                         + e(clip(transcript.format_transcript(r.recorded))) + "</pre>")
        if r.verdict != PASS:
            parts.append(f"<h4>server log (tail)</h4><pre>{e(clip(tail(_server_log(r))))}</pre>")
            parts.append(f"<h4>client log (tail)</h4><pre>{e(clip(tail(_client_log(r))))}</pre>")
        parts.append("</details>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_run(results: list[CellResult], m: Matrix, out: Path, meta: dict) -> None:
    """Writes results.json, junit.xml and report.html into out."""
    out.mkdir(parents=True, exist_ok=True)
    data = results_json(results, out, meta)
    (out / "results.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    (out / "junit.xml").write_bytes(junit_xml(results, meta))
    (out / "report.html").write_text(report_html(results, m, meta, out), encoding="utf-8")


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


