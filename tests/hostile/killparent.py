"""Hostile client: kills what started it. `killparent.py HOST PORT MODE`.

MODE parent: kill(getppid(), SIGKILL) (sl-cell's forwarder; seen from a
PID namespace the parent outside it is pid 0, so this is kill(0): the
whole process group). MODE all: kill(-1, SIGKILL), every process this uid
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
