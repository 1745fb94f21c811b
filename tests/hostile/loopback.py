"""Hostile client: reaches for a service on the host's own loopback.
`loopback.py HOST PORT TARGET_PORT`: connects to 127.0.0.1:TARGET_PORT
(never any other address) and prints "reached" or "refused: ERRNO_NAME".
Exits 1 either way, saying which on stderr."""

import errno
import socket
import sys

target = int(sys.argv[3])
try:
    with socket.create_connection(("127.0.0.1", target), timeout=2) as s:
        s.sendall(b"hostile was here\n")
    print("reached", flush=True)
    sys.exit(f"reached 127.0.0.1:{target} outside the cell")
except OSError as e:
    name = errno.errorcode.get(e.errno, str(e)) if e.errno else type(e).__name__
    print(f"refused: {name}", flush=True)
    sys.exit(f"127.0.0.1:{target}: {e.strerror or e}")
