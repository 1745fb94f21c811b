"""Builds the class-data sharing (AppCDS) archive of the Java peers.

A JVM start costs ~160 ms of CPU here and the matrix starts ~355 of them;
much of that is loading, parsing and verifying classes. A static CDS
archive holds the classes already parsed and verified, mapped from one
file: the JDK classes the peers use and the peers' own, from
java-cds/peers.jar (CDS does not archive classes from a folder on the
class path).

Training: every protocol's Java server runs on a free loopback port, the
Java client of the same protocol talks to it once (a representative
request, PROGRAMS below), each JVM with -XX:DumpLoadedClassList; the lists
are merged and `java -Xshare:dump` writes the archive. The matrix's java
templates pass it with {cds} (harness/matrix.py), which is empty while
there is no archive or it is older than the jar.

A failure never fails the build and never leaves a stale archive behind:
the old archive is removed first, a problem is reported on stderr, and the
peers then start as before (the JDK's own archive). A JVM handed an
archive that does not match its class path or its JDK (a jar rebuilt, a
JDK upgraded) ignores it silently under -Xshare:auto: verdicts never
depend on it, only the CPU does.

Run by CMake (peers/java/CMakeLists.txt) after the jar is made:
    python3 tools/java_cds.py --java JAVA --jar JAR --out ARCHIVE [--work DIR]
Exit 0 always, except 2 for bad usage.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
READY_TIMEOUT_S = 30.0
RUN_TIMEOUT_S = 60.0
# The flags of the java templates in matrix.yaml that matter for the
# archive: it must be dumped with the collector and pointer sizes the
# peers run with, or the JVM refuses it.
RUNTIME_FLAGS = ["-Xint", "-XX:+UseSerialGC", "-XX:-UsePerfData"]

SMTP_MESSAGE = (b"From: alice@example.org\nTo: bob@example.org\nSubject: Aula 05\n\n"
                b"Ola, Bob.\nSMTP na porta 25.\n")


@dataclass(frozen=True)
class Program:
    """One protocol's representative exchange (matrix.yaml's first
    scenarios; calc and login also take their error paths)."""

    protocol: str
    transport: str
    stdin: bytes

    @property
    def package(self) -> str:
        return self.protocol.replace("-", "_")


PROGRAMS = (
    Program("echo", "tcp", b"Hello, world"),
    Program("echo-repr", "tcp", b"Hello world!\nAgain!\n"),
    Program("upper", "tcp", b"hello, world\n"),
    Program("calc", "tcp", b"SOMA 2 2\nDIV 1 3\nDIV 1 0\nPOT 2 3\nSOMA 1 x\n"),
    Program("ack", "tcp", b"Oi, sou o cliente!\n"),
    Program("daytime", "tcp", b""),
    Program("timeofday", "tcp", b""),
    Program("login", "tcp", b"alice\n\nalice\ns3cret\n"),
    Program("smtp", "tcp", SMTP_MESSAGE),
    Program("udp", "udp", b"Hello, World!"),
)


def free_port(transport: str) -> int:
    kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET6, kind) as s:
        s.bind(("::", 0))
        return s.getsockname()[1]


def _bound(port: int, transport: str) -> bool:
    """True once /proc/net lists a listening TCP socket or a bound UDP
    socket on port (any address)."""
    local = f":{port:04X}".encode()
    for path in (f"/proc/net/{transport}6", f"/proc/net/{transport}"):
        try:
            with open(path, "rb") as f:
                next(f)
                for line in f:
                    fields = line.split(None, 4)
                    if fields[1].endswith(local) and (transport == "udp" or fields[3] == b"0A"):
                        return True
        except OSError:
            continue
    return False


def wait_bound(proc: subprocess.Popen, port: int, transport: str,
               timeout_s: float = READY_TIMEOUT_S) -> None:
    """Polls the kernel's socket tables until proc's port is bound; raises
    RuntimeError if proc exits first or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while not _bound(port, transport):
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} "
                               f"before binding port {port}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not bind port {port} in {timeout_s:g} s")
        time.sleep(0.005)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to proc's process group, SIGKILL if it lingers; reaps it."""
    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def train(java: str, jar: Path, work: Path, prog: Program) -> list[Path]:
    """Runs prog's Java server and client once, each dumping the classes it
    loads; returns the class lists written."""
    d = work / prog.protocol
    d.mkdir(parents=True, exist_ok=True)
    port = free_port(prog.transport)
    lists = [d / "server.classlist", d / "client.classlist"]
    base = [java, *RUNTIME_FLAGS, "-Xshare:auto", "-Xlog:disable", "-Xlog:all=warning:stderr"]
    server = subprocess.Popen(
        base + [f"-XX:DumpLoadedClassList={lists[0]}", "-cp", str(jar),
                f"{prog.package}.Server", str(port)],
        cwd=d, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_bound(server, port, prog.transport)
        client = subprocess.run(
            base + [f"-XX:DumpLoadedClassList={lists[1]}", "-cp", str(jar),
                    f"{prog.package}.Client", HOST, str(port)],
            cwd=d, input=prog.stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            timeout=RUN_TIMEOUT_S, check=False)
        if client.returncode != 0:
            tail = client.stderr.decode(errors="replace").strip().splitlines()[-1:]
            print(f"java_cds: {prog.protocol} client exited {client.returncode}"
                  f"{': ' + tail[0] if tail else ''} (its classes are archived anyway)",
                  file=sys.stderr)
    finally:
        stop(server)
    return [p for p in lists if p.exists()]


def merge(lists: list[Path], out: Path) -> int:
    """Writes the union of the class lists (first occurrence order, no
    comments); returns the number of lines."""
    seen: dict[str, None] = {}
    for p in lists:
        for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
            if line and not line.startswith("#"):
                seen.setdefault(line, None)
    out.write_text("".join(line + "\n" for line in seen), encoding="utf-8")
    return len(seen)


def dump(java: str, jar: Path, classlist: Path, out: Path) -> None:
    """-Xshare:dump into a temporary file next to out, then renames it."""
    tmp = out.with_name(out.name + ".tmp")
    tmp.unlink(missing_ok=True)
    r = subprocess.run(
        [java, "-Xshare:dump", f"-XX:SharedClassListFile={classlist}",
         f"-XX:SharedArchiveFile={tmp}", *RUNTIME_FLAGS, "-cp", str(jar)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        timeout=300, check=False)
    if r.returncode != 0 or not tmp.exists():
        tmp.unlink(missing_ok=True)
        tail = r.stdout.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"java -Xshare:dump exited {r.returncode}: " + " | ".join(tail))
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)


def build(java: str, jar: Path, out: Path, work: Path) -> str:
    """Trains and dumps; returns a one-line summary. Raises on failure."""
    lists: list[Path] = []
    for prog in PROGRAMS:
        try:
            lists += train(java, jar, work, prog)
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
            print(f"java_cds: {prog.protocol}: {e} (left out of the archive)", file=sys.stderr)
    if not lists:
        raise RuntimeError("no Java peer ran")
    merged = work / "peers.classlist"
    n = merge(lists, merged)
    dump(java, jar, merged, out)
    return f"java_cds: {out} ({n} classes and lambda forms, {len(lists)} runs)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--java", required=True, help="the java launcher the peers run with")
    ap.add_argument("--jar", required=True, type=Path, help="the Java peers' jar")
    ap.add_argument("--out", required=True, type=Path, help="the archive to write")
    ap.add_argument("--stamp", type=Path, help="a file touched when done (made or not)")
    ap.add_argument("--work", type=Path, help="keep the class lists in this folder")
    a = ap.parse_args(argv)
    jar, out = a.jar.resolve(), a.out.resolve()
    out.unlink(missing_ok=True)  # never leave an archive of older classes
    work = a.work or Path(tempfile.mkdtemp(prefix="java-cds-"))
    try:
        print(build(a.java, jar, out, work))
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"java_cds: no class-data archive, the Java peers start without it: {e}",
              file=sys.stderr)
    finally:
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)
        if a.stamp is not None:
            a.stamp.touch()
    return 0


def in_own_network() -> None:
    """Re-runs this script in a network namespace of its own (bubblewrap:
    its own loopback, nothing else), so the training servers never listen
    on the machine's interfaces nor meet another job's ports. Returns
    (and trains on the machine's loopback) where bwrap is missing or
    cannot make the namespace."""
    bwrap = shutil.which("bwrap")
    if bwrap is None or os.environ.get("SL_JAVA_CDS_INNER"):
        return
    argv = [bwrap, "--unshare-net", "--die-with-parent", "--dev-bind", "/", "/", "--",
            sys.executable, os.path.abspath(__file__), *sys.argv[1:]]
    probe = subprocess.run([bwrap, "--unshare-net", "--dev-bind", "/", "/", "--", "true"],
                           capture_output=True)
    if probe.returncode == 0:
        env = dict(os.environ, SL_JAVA_CDS_INNER="1")
        sys.exit(subprocess.run(argv, env=env).returncode)


if __name__ == "__main__":
    in_own_network()
    sys.exit(main())
