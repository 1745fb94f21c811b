"""Hostile client: reads the environment of every process of the cell it
can (/proc/PID/environ: its own, its parent's, the cell's init) and prints
the variable names it found, one `PID NAME` a line; exits 1 saying how
many processes it read. `environ.py HOST PORT`."""

import os
import sys

seen = 0
for name in sorted(os.listdir("/proc"), key=lambda n: (len(n), n)):
    if not name.isdigit():
        continue
    try:
        with open(f"/proc/{name}/environ", "rb") as f:
            data = f.read()
    except OSError as e:
        print(f"{name}: {e.strerror}", flush=True)
        continue
    seen += 1
    for var in data.split(b"\0"):
        if var:
            print(name, var.split(b"=", 1)[0].decode("utf-8", "replace"), flush=True)
sys.exit(f"read the environment of {seen} processes")
