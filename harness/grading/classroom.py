"""The class summary of `check --class`: a terminal table, class.csv (one
row per student) and a self-contained class.html (no scripts, no network)
with each student's bugs and grid."""

from __future__ import annotations

import csv
import html
from collections import Counter
from pathlib import Path

from harness.grading import check, diagnose
from harness.judge import verdict
from harness.output import report

COLUMNS = ("student", "protocol", "verdict", "score", "max_score", "bugs", "failing_cells",
           "error")


def rows(checked: list["check.Checked"]) -> list[dict]:
    out = []
    for ch in checked:
        tests = check.tests_for(ch)
        failing = sum(1 for r in ch.results
                      if check.student_verdict(r.verdict) in (verdict.FAIL, verdict.ERROR))
        out.append({"student": ch.name, "protocol": ch.protocol or "", "verdict": ch.verdict,
                    "score": round(sum(t["score"] for t in tests), 2),
                    "max_score": ch.points,
                    "bugs": " ".join(ch.bug_ids()), "failing_cells": failing,
                    # The whole build error: a teacher reads it in the CSV.
                    "error": ch.error or ""})
    return out


def summary(checked: list["check.Checked"], colour: bool) -> str:
    """The terminal table: one line per student."""
    rs = rows(checked)
    widths = {k: max(len(k), *(len(str(r[k])) for r in rs)) for k in
              ("student", "protocol", "verdict")}
    lines = ["  ".join(report.pad(k, widths[k]) for k in ("student", "protocol", "verdict"))
             + "  score   bugs / error"]
    for r in rs:
        v = report.pad(r["verdict"], widths["verdict"])
        if colour:  # a student's verdict is one of a cell's: pass, fail or error
            v = f"\033[{report.COLOURS[r['verdict']]}m{r['verdict']}\033[0m" + \
                " " * (widths["verdict"] - len(r["verdict"]))
        score = f"{r['score']}/{r['max_score']}"
        lines.append(f"{report.pad(r['student'], widths['student'])}  "
                     f"{report.pad(r['protocol'], widths['protocol'])}  {v}  "
                     f"{report.pad(score, 6)}  "
                     f"{r['bugs'] or r['error'].split(chr(10))[0][:60] or '-'}")
    n = Counter(r["verdict"] for r in rs)
    lines.append(f"{n.get('pass', 0)} pass, {n.get('fail', 0)} fail, {n.get('error', 0)} error")
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.4em 0 1em}
td,th{border:1px solid #ccc;padding:.25em .6em;font-family:ui-monospace,monospace}
th{background:#f3f3f3}.pass{background:#dff3df}.fail{background:#f8d0d0}
.error{background:#e8d0f0}.xfail{background:#d8eef3}.deviates{background:#fff3c4}
.xpass{background:#dff3df}.none{color:#aaa}
section{border-top:2px solid #ddd;margin-top:1.5em}
pre{background:#f7f7f7;border:1px solid #ddd;padding:.5em;overflow-x:auto}
"""


def class_html(checked: list["check.Checked"], ms, refs: list[str]) -> str:
    e = html.escape
    rs = rows(checked)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>class check</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>Class check</h1>",
             f"<p>references: {e(', '.join(refs))} &middot; modes: {e(', '.join(ms))}</p>",
             "<table><tr><th>student</th><th>protocol</th><th>verdict</th><th>score</th>"
             "<th>named bugs</th></tr>"]
    for r in rs:
        bugs = r["bugs"] or e(r["error"].split("\n")[0]) or "&ndash;"
        parts.append(f'<tr><td><a href="#s-{e(r["student"])}">{e(r["student"])}</a></td>'
                     f'<td>{e(r["protocol"])}</td><td class="{e(r["verdict"])}">'
                     f'{e(r["verdict"])}</td><td>{r["score"]}/{r["max_score"]}</td>'
                     f"<td>{bugs}</td></tr>")
    parts.append("</table>")
    for ch in checked:
        parts.append(f'<section id="s-{e(ch.name)}"><h2>{e(ch.name)} '
                     f"<small>({e(ch.protocol or '?')}, {e(ch.verdict)})</small></h2>")
        if ch.error:
            parts.append(f"<pre>{e(ch.error)}</pre></section>")
            continue
        grid = check.grid_rows(ch)
        used = [m for m in ms if any(m in cols for _, cols in grid)]
        parts.append("<table><tr><th></th>" + "".join(f"<th>{e(m)}</th>" for m in used)
                     + "</tr>")
        for label, cols in grid:
            row = f"<tr><th>{e(label)}</th>"
            for m in used:
                x = cols.get(m)
                row += ('<td class="none">·</td>' if x is None else
                        f'<td class="{x[0]}">{report.SYMBOLS[x[0]]}{x[1]}</td>')
            parts.append(row + "</tr>")
        parts.append("</table>")
        d = ch.diagnosis
        if d and d.bugs:
            parts.append("<ul>")
            for b in d.bugs:
                parts.append(f"<li><b>{e(b.id)}</b> ({e(b.role)}): {e(b.words)}<br><small>"
                             + "<br>".join(e(x[:300]) for x in b.details)
                             + f"<br>fix: {e(diagnose.CATALOGUE[b.id][2])}</small></li>")
            parts.append("</ul>")
        if d and d.unmatched:
            parts.append("<p>other failures:</p><ul>")
            for u in d.unmatched[:10]:
                parts.append(f"<li><code>{e(u.cell)}</code>: {e(u.reason[:300])}"
                             + "".join(f"<br><b>{e(w[:300])}</b>" for w in u.words[:4])
                             + (f"<br><small>expected {e(u.expected[:200])}; got "
                                f"{e(u.got[:200])}</small>" if u.expected else "") + "</li>")
            parts.append("</ul>")
        if ch.flaky:
            parts.append(f"<p>flaky (not counted): {len(ch.flaky)} cell(s) failed in the full "
                         f"run and passed when rerun alone:</p><ul>")
            for f in ch.flaky[:10]:
                parts.append(f"<li><code>{e(f.cell)}</code>: first {e(f.first_verdict)}: "
                             f"{e(f.first_reason[:200])}; alone: {e(f.alone_verdict)}</li>")
            parts.append("</ul>")
        for n in ch.student.notes:
            parts.append(f"<p><small>note: {e(n)}</small></p>")
        if ch.student.warnings:
            parts.append(f"<p>compiler warnings:</p><pre>{e(ch.student.warnings)}</pre>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write(checked: list["check.Checked"], out: Path, ms, refs: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "class.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows(checked):
            w.writerow(r)
    (out / "class.html").write_text(class_html(checked, ms, refs), encoding="utf-8")
