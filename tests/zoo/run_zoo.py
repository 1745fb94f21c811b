"""The bug zoo test: `check` must pass every correct student of tests/zoo
and name exactly the right bug of every mutant (tests/zoo/expected.yaml).

Runs ONE command, `python3 -m harness check --class tests/zoo ...`, then
reads each <out>/<student>/check.json, prints one table row per student
and, for every mismatch, the evidence check gave. It also checks that the
class summary (class.csv, class.html) lists every student.

A student's entry in expected.yaml is `pass`, a list of bug ids (exactly
these are named, no other), or a mapping `{bugs: [...], words: [...]}`:
the student fails, exactly `bugs` are named (often none: a difference no
rule names), and each `words` fragment is in the words check gives for its
other failures (harness/grading/wordiff.py).

--load N keeps N CPU-bound processes running during the check (issue 14:
a loaded machine must not fake a bug); they are ended by their PIDs.

Usage: python3 tests/zoo/run_zoo.py --build BUILD [--out DIR] [--load N]
Exit status: 0 all as expected, 1 a mismatch, 2 check did not run.
"""

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import yaml

ZOO = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(ZOO))

# The top 1000 ports of H4's range: no other test drives ports there.
PORTS = '17000-17999'

# Which cells check runs, and why: --quick (the C reference only; modes
# plain, segment, coalesce, ipv6, locale-c, two-hosts; the robustness
# scenarios in plain mode only). Every zoo bug shows in one of those modes
# against the C peers: segment (one-recv-server, one-recv-client), ipv6
# (ipv4-only), locale-c (charset), two-hosts and the bind probe
# (loopback-only), plain (the rest). The other references and modes would
# multiply the cells (and the never-closes and one-at-a-time timeouts)
# without naming anything new. The correct students were run by hand in
# every mode against every reference (README.md).
CHECK_OPTIONS = ['--quick', '--jobs', '2']
CHECK_TIMEOUT_S = 900


class Want:
    """What check must say about one student."""

    def __init__(self, bugs, fail, words=()):
        self.bugs = sorted(bugs)
        self.fail = fail
        self.words = list(words)

    def __bool__(self):
        return self.fail


def load_expected():
    with open(os.path.join(ZOO, 'expected.yaml'), encoding='utf-8') as f:
        raw = yaml.safe_load(f)
    expected = {}
    for student, value in raw.items():
        if value == 'pass':
            expected[student] = Want([], False)
        elif isinstance(value, list) and value:
            expected[student] = Want(value, True)
        elif isinstance(value, dict) and set(value) <= {'bugs', 'words'} \
                and value.get('words'):
            expected[student] = Want(value.get('bugs') or [], True, value['words'])
        else:
            raise SystemExit(f'expected.yaml: {student}: want `pass`, a list '
                             f'of bug ids or {{bugs, words}}, got {value!r}')
    return expected


def students():
    return sorted(d for d in os.listdir(ZOO)
                  if os.path.isdir(os.path.join(ZOO, d))
                  and not d.startswith(('.', '_')))


def run_check(build, out, ports=PORTS, timeout=CHECK_TIMEOUT_S):
    cmd = [sys.executable, '-m', 'harness', 'check', '--class', ZOO,
           '--out', out, '--build', build, '--ports', ports] + CHECK_OPTIONS
    print('$', ' '.join(cmd), flush=True)
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        print((err.output or b'').decode('utf-8', 'replace'))
        print(f'check still running after {timeout} s: stopped')
        return None
    took = time.monotonic() - start
    text = proc.stdout.decode('utf-8', 'replace')
    print(text)
    print(f'check exited {proc.returncode} after {took:.1f} s', flush=True)
    return proc.returncode


def bug_ids(report):
    return sorted({bug['id'] for bug in report.get('bugs', [])})


def describe(report):
    """The evidence check gave: its bugs, the failures it could not name,
    then the cells that did not pass."""
    lines = []
    for bug in report.get('bugs', []):
        lines.append(f"    bug {bug.get('id')} ({bug.get('role')}): "
                     f"{bug.get('words')}")
        lines.extend(f'      {d}' for d in bug.get('details') or [])
        lines.extend(f'      cell {c}' for c in (bug.get('evidence') or [])[:6])
    for u in report.get('unmatched', []):
        lines.append(f"    unnamed failure {u.get('cell')} ({u.get('role')}): "
                     f"{u.get('reason')}")
        for key in ('sent', 'expected', 'got'):
            if u.get(key):
                lines.append(f'      {key}: {u[key]}')
    bad = [c for c in report.get('cells', [])
           if c.get('verdict') not in ('pass', 'xfail', 'xpass')]
    for cell in bad[:12]:
        lines.append(f"    cell {cell.get('id')}: {cell.get('verdict')}: "
                     f"{cell.get('reason', '')}".rstrip())
    if len(bad) > 12:
        lines.append(f'    ... and {len(bad) - 12} more cells not passing')
    if report.get('error'):
        lines.append(f"    error: {report['error']}")
    return lines


def check_student(name, want, out):
    """Returns (row, problems) for one student (want: a Want)."""
    path = os.path.join(out, name, 'check.json')
    try:
        with open(path, encoding='utf-8') as f:
            report = json.load(f)
    except (OSError, ValueError) as err:
        return (name, '?', '?', fmt(want.bugs), f'no report: {err}'), \
            [f'{name}: {path}: {err}']
    got = bug_ids(report)
    verdict = report.get('verdict')
    row = (name, report.get('protocol', '?'), verdict,
           fmt(want.bugs) if want.bugs or not want.fail else 'fail, no bug',
           fmt(got) if got or verdict != 'pass' else 'pass')
    problems = []
    if report.get('student') not in (None, name):
        problems.append(f"{name}: check.json names student "
                        f"{report.get('student')!r}")
    if not want and (verdict != 'pass' or got):
        problems.append(f'{name}: a correct program, but check says '
                        f'{verdict} {fmt(got)}')
    elif want and verdict == 'pass':
        problems.append(f'{name}: has {fmt(want.bugs)}, but check passes it')
    elif want and got != want.bugs:
        problems.append(f'{name}: has {fmt(want.bugs)}, check names '
                        f'{fmt(got)} (nothing else may be named)')
    said = [w for u in report.get('unmatched', []) for w in u.get('words') or []]
    for fragment in want.words:
        if not any(fragment in w for w in said):
            problems.append(f'{name}: no other failure says "{fragment}" in '
                            f'words; it says: {said[:6]}')
    if problems:
        problems.extend(describe(report))
    return row, problems


def fmt(ids):
    return ', '.join(ids) if ids else 'pass'


def check_summary(out, names):
    problems = []
    csv_path = os.path.join(out, 'class.csv')
    html_path = os.path.join(out, 'class.html')
    try:
        with open(csv_path, newline='', encoding='utf-8') as f:
            cells = {c.strip() for row in csv.reader(f) for c in row}
        missing = [n for n in names if n not in cells]
        if missing:
            problems.append(f'class.csv does not list: {", ".join(missing)}')
    except OSError as err:
        problems.append(f'class.csv: {err}')
    try:
        with open(html_path, encoding='utf-8') as f:
            html = f.read()
        missing = [n for n in names if n not in html]
        if missing:
            problems.append(f'class.html does not list: {", ".join(missing)}')
    except OSError as err:
        problems.append(f'class.html: {err}')
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--build', required=True, help='the CMake build dir')
    parser.add_argument('--ports', default=PORTS, metavar='LO-HI',
                        help=f'the port range check owns (default {PORTS})')
    parser.add_argument('--timeout', type=float, default=CHECK_TIMEOUT_S, metavar='S',
                        help=f'how long check may run (default {CHECK_TIMEOUT_S} s)')
    parser.add_argument('--load', type=int, default=0, metavar='N',
                        help='keep N CPU-bound processes running during the check')
    parser.add_argument('--out', help='where check writes (default: '
                        'BUILD/results/zoo)')
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    out = os.path.abspath(args.out or os.path.join(build, 'results', 'zoo'))

    expected = load_expected()
    names = students()
    problems = []
    if sorted(expected) != names:
        problems.append('expected.yaml and the student folders differ: '
                        f'only in expected.yaml {sorted(set(expected) - set(names))}, '
                        f'only as folders {sorted(set(names) - set(expected))}')
    if os.path.isdir(out):
        shutil.rmtree(out)  # no report may survive from an earlier run
    # SIGTERM (ctest's timeout, a CI cancel) ends it through the finally
    # below, so the CPU-bound processes and check are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    hogs = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
            for _ in range(args.load)]
    try:
        rc = run_check(build, out, args.ports, args.timeout)
    finally:
        for h in hogs:  # ours, by PID
            h.kill()
            h.wait()
    if rc is None or not os.path.isdir(out):
        print(f'FAIL: check (exit {rc}) wrote nothing to {out}')
        return 2

    rows = [('student', 'protocol', 'verdict', 'expected', 'check says')]
    for name in names:
        row, found = check_student(name, expected.get(name, Want([], False)), out)
        rows.append(row + ('ok' if not found else 'MISMATCH',))
        problems.extend(found)
    rows[0] += ('',)
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print('  '.join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    problems.extend(check_summary(out, names))

    if problems:
        print('\nFAIL:')
        print('\n'.join(problems))
        return 1
    print(f'\nOK: {len(names)} students as expected '
          f'({sum(1 for n in names if not expected.get(n))} pass, '
          f'{sum(1 for n in names if expected.get(n))} mutants as expected'
          + (f', under {args.load} CPU-bound processes' if args.load else '') + ')')
    return 0


if __name__ == '__main__':
    sys.exit(main())
