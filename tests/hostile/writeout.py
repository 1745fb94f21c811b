"""Hostile client: writes where it must not. `writeout.py HOST PORT NAME DIR...`.

Creates NAME in each DIR (the repository, the build) and in /tmp and
/dev/shm, and prints "DIR: wrote" or "DIR: ERRNO_NAME" per folder. What it
wrote it leaves there. Exits 1 with a summary on stderr."""

import errno
import os
import sys

name = sys.argv[3]
wrote = []
for d in [*sys.argv[4:], "/tmp", "/dev/shm"]:
    path = os.path.join(d, name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, b"hostile\n")
        os.close(fd)
        print(f"{d}: wrote", flush=True)
        wrote.append(d)
    except OSError as e:
        print(f"{d}: {errno.errorcode.get(e.errno, e.errno)}", flush=True)
sys.exit(f"wrote {name} in {', '.join(wrote) or 'nothing'}")
