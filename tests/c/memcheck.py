"""Every C x C scenario, and every raw-client scenario against the C
servers, with the C programs under valgrind memcheck (the c-memcheck peer
in matrix.yaml). Passes when every cell passes and every server, stopped by
the driver with SIGTERM, exited 0: valgrind turns any memory error or leak
(definite, indirect, possible) into exit status 99.

Usage: memcheck.py BUILD_DIR OUT_DIR   (run from the repository root)
"""
import json
import subprocess
import sys


def main() -> int:
    build, out = sys.argv[1], sys.argv[2]
    cmd = [sys.executable, "-m", "harness", "run", "--build", build,
           "--out", out, "--server", "c-memcheck",
           "-k", "c-memcheck/plain,raw/plain",
           "--ports", "29000-29999",  # the matrix_* tests use 20000-28999
           "--timeout", "60",  # valgrind makes start-up ~20x slower
           # A server per cell, so that each server's exit status (and its
           # valgrind report) belongs to one scenario, not to the cells a
           # shared server served (docs/matrix.md, "Shared servers").
           "--own-servers"]
    print("+", " ".join(cmd), flush=True)
    rc = subprocess.run(cmd).returncode
    with open(f"{out}/results.json", encoding="utf-8") as f:
        cells = json.load(f)["cells"]
    bad = [(c["id"], c["server_exit"]) for c in cells
           if (c["server_exit"] or {}).get("code") != 0]
    for cell_id, status in bad:
        print(f"memcheck: {cell_id}: server exit {status} "
              f"(99 = valgrind found errors; see its server.log)")
    if not cells:
        print("memcheck: no cells ran")
        return 1
    print(f"memcheck: {len(cells)} cells, harness exit {rc}, "
          f"{len(bad)} servers with memcheck errors")
    return 1 if rc != 0 or bad else 0


if __name__ == "__main__":
    sys.exit(main())
