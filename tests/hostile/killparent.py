"""Hostile client: kills what started it. `killparent.py HOST PORT MODE`.

MODE parent: kill(getppid(), SIGKILL) (in a cell the parent is the cell's
holder, PID 1 of its PID namespace, which gets no signal it does not
handle from inside). MODE all: kill(-1, SIGKILL), every process this uid
may signal, then prints what it did and exits 1 saying so."""

import os
import signal
import sys

mode = sys.argv[3]
ppid = os.getppid()
print(f"ppid: {ppid}", flush=True)
if mode == "parent":
    try:
        os.kill(ppid, signal.SIGKILL)
        print("kill(ppid): ok", flush=True)
    except OSError as e:
        print(f"kill(ppid): {e.strerror}", flush=True)
    sys.exit(f"killed my parent (pid {ppid}) and I am still here")
try:
    os.kill(-1, signal.SIGKILL)
    print("kill(-1): ok", flush=True)
except OSError as e:
    print(f"kill(-1): {e.strerror}", flush=True)
sys.exit("sent SIGKILL to every process I may signal")
