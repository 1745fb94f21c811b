"""Hostile client: reads what is not its own. `snoop.py HOST PORT PATH...`,
and more paths from stdin, one a line (so that the driver, which binds
into the cell the /tmp folders its command line names, does not see them).

For each PATH prints one line "PATH: read N bytes" or "PATH: ERRNO_NAME"
(ENOENT when it is not there), and lists the cell's /tmp tree as
"tmp: NAME" lines. Exits 1 with a summary on stderr if anything was read,
or with "nothing readable: PATH..."."""

import errno
import os
import sys

got = []
paths = sys.argv[3:] + [ln for ln in sys.stdin.read().splitlines() if ln]
for path in paths:
    try:
        with open(path, "rb") as f:
            n = len(f.read())
        print(f"{path}: read {n} bytes")
        got.append(path)
    except OSError as e:
        print(f"{path}: {errno.errorcode.get(e.errno, e.errno)}")
for top, dirs, files in os.walk("/tmp"):
    for name in dirs + files:
        print(f"tmp: {os.path.join(top, name)}")
sys.stdout.flush()
if got:
    sys.exit(f"read {', '.join(got)}")
sys.exit("nothing readable: " + ", ".join(paths))
