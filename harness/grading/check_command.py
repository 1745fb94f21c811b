"""`python3 -m harness check`, the command line: its options, then a
student's (or, with --class, every student's) results on the terminal and
in files. The checking is harness/grading/check.py; the class summary
harness/grading/classroom.py (docs/teachers.md).
"""

from __future__ import annotations

import argparse
import sys

from harness.command import common
from harness.grading import check, classroom
from harness.output import report
from harness.run import janitor
from harness.run.state import RunOptions


def add_parser(sub) -> None:
    p = sub.add_parser(
        "check", help="check a student's programs (or a class) against the references",
        description="Run a student's server with every reference client and every reference "
                    "server with the student's client, in every mode, and name the bugs "
                    "(docs/teachers.md).")
    p.add_argument("folder", nargs="?", metavar="FOLDER",
                   help="the student's folder (server.py/client.py, Server.java/Client.java, "
                        "server.c/client.c, optional check.yaml)")
    p.add_argument("--class", dest="class_dir", metavar="DIR",
                   help="check every subfolder of DIR as one student, in one run")
    p.add_argument("--protocol", "-p", metavar="ID",
                   help="the assignment's protocol (a check.yaml's protocol: wins)")
    p.add_argument("--server-cmd", metavar="TEMPLATE",
                   help="the student's server as a command template ('{python} srv.py {port}')")
    p.add_argument("--client-cmd", metavar="TEMPLATE",
                   help="the student's client as a command template (with {host} {port})")
    p.add_argument("--name", help="the student's name in cell ids (default: the folder name)")
    p.add_argument("--references", "-r", metavar="LIST",
                   help="reference peers to play against (default: "
                        f"{','.join(check.DEFAULT_REFERENCES)}; with --quick: c)")
    p.add_argument("--mode", "-m", action="append", metavar="MODE",
                   help="modes to run (default: all; with --quick: "
                        f"{','.join(check.QUICK_MODES)}; see docs/modes.md)")
    p.add_argument("--quick", action="store_true",
                   help="fewer cells: the C reference only, one mode of each kind that names a "
                        "bug, robustness scenarios in plain mode only")
    p.add_argument("-k", action="append", metavar="PATTERN", dest="k",
                   help="only cells whose id matches (substring, or a shell pattern)")
    p.add_argument("--jobs", "-j", type=int, default=RunOptions().jobs,
                   help="cells at once (default: cores x 2 = %(default)s)")
    p.add_argument("--timeout", type=float, metavar="S",
                   help="per-client timeout for every scenario, replacing timeout_s")
    common.add_ports_option(p)
    p.add_argument("--out", metavar="DIR",
                   help="where results go (default: results/check/<student>, or "
                        "results/check/<class folder> with --class)")
    p.add_argument("--no-probe", action="store_true",
                   help="do not start the student's server alone to read the address it binds")
    p.add_argument("--no-rerun", action="store_true",
                   help="name bugs from the full run alone, without rerunning their cells one "
                        "at a time (faster; a loaded machine can then fake bugs)")
    common.add_matrix_option(p)
    common.add_build_option(p, "the CMake build directory of the references")


def cmd_check(args: argparse.Namespace) -> int:
    """Returns 0 when every student passes, 1 otherwise, 2 on usage errors."""
    with janitor.watching():
        cm, checked, elapsed, refs, notes, ms, base = check.run(args)  # UsageError: exit 2
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    stream = sys.stdout
    colour = report.use_colour(stream)
    uni = (getattr(stream, "encoding", "") or "").lower().replace("-", "") == "utf8"
    if args.class_dir:
        for ch in checked:
            check.write_student(ch, ch.out, cm, refs, ms, elapsed)
        classroom.write(checked, base, ms, refs)
        print(classroom.summary(checked, colour))
        print(f"{len(checked)} students, {sum(len(ch.results) for ch in checked)} cells in "
              f"{elapsed:.1f} s (jobs {args.jobs}); results: {base}/class.html, class.csv")
    else:
        ch = checked[0]
        check.write_student(ch, base, cm, refs, ms, elapsed)
        print(f"references: {', '.join(refs)}; modes: {', '.join(ms)}")
        print(check.format_student(ch, cm, ms, colour, uni))
        print(f"{len(ch.results)} cells in {elapsed:.1f} s (jobs {args.jobs}); results: "
              f"{base}/check.json, results.json, run/report.html")
    return 0 if all(ch.verdict == "pass" for ch in checked) else 1
