"""Hostile client: writes 2 GB into NAME in its folder. `bigwrite.py HOST PORT NAME`.

Like a C program started from a shell, it does not ignore SIGXFSZ (Python
does by default): the file-size limit kills it. Before writing it prints
where the file is (its folder, as it sees it). If nothing stops it, it
prints "wrote 2048 MB" and exits 0 (then deletes nothing: the test must
find it)."""

import os
import signal
import sys

signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
name = sys.argv[3]
print(f"path: {os.path.abspath(name)}", flush=True)
block = b"x" * (1 << 20)
fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for mb in range(2048):
    try:
        os.write(fd, block)
    except OSError as e:  # EFBIG when SIGXFSZ is ignored after all
        print(f"wrote {mb} MB, then: {e.strerror}", flush=True)
        sys.exit(f"2 GB write stopped after {mb} MB: {e.strerror}")
print("wrote 2048 MB", flush=True)
