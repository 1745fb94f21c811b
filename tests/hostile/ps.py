"""Hostile client: looks at every process. `ps.py HOST PORT`.

Lists /proc and prints "PID CMDLINE" for each process it sees, and the
output of `ps -eo pid,args` if ps is there ("ps: ..." lines). Exits 1 with
the count on stderr."""

import os
import subprocess
import sys

seen = []
for name in sorted(os.listdir("/proc"), key=lambda n: (len(n), n)):
    if not name.isdigit():
        continue
    try:
        with open(f"/proc/{name}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        continue
    seen.append(name)
    print(f"{name} {cmd}")
try:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True,
                         timeout=10).stdout
    for line in out.splitlines()[1:]:
        print(f"ps: {line.strip()}")
except (OSError, subprocess.TimeoutExpired) as e:
    print(f"ps: cannot run: {e}")
sys.stdout.flush()
sys.exit(f"saw {len(seen)} processes: {', '.join(seen[:20])}")
