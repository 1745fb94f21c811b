"""Hostile client: writes 2 GB into its folder. `bigwrite.py HOST PORT NAME [split]`.

Into one file NAME, or with `split` into files NAME.0, NAME.1, ... of 4 MB
each, every one under the file-size limit (2 GB of a tmpfs is 2 GB of the
machine's memory). Like a C program started from a shell, it does not
ignore SIGXFSZ (Python does by default): the file-size limit kills it.
Before writing it prints where the files are (its folder, as it sees
it). If nothing stops it, it prints "wrote 2048 MB" and exits 0 (then
deletes nothing: the test must find it)."""

import os
import signal
import sys

signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
name = sys.argv[3]
split = sys.argv[4:] == ["split"]
print(f"path: {os.path.abspath(name)}", flush=True)
block = b"x" * (1 << 20)
fd = -1
for mb in range(2048):
    try:
        if fd < 0 or (split and mb % 4 == 0):
            if fd >= 0:
                os.close(fd)
            path = f"{name}.{mb // 4}" if split else name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, block)
    except OSError as e:  # EFBIG when SIGXFSZ is ignored after all, ENOSPC
        print(f"wrote {mb} MB, then: {e.strerror}", flush=True)
        sys.exit(f"2 GB write stopped after {mb} MB: {e.strerror}")
print("wrote 2048 MB", flush=True)
