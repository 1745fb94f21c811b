"""Start cost of the peers: the CPU (user+sys) one start of each Java,
Python and Node peer program costs, under several command prefixes
("variants"), e.g. the java flags before and after the class-data archive,
or python3 with and without -S. A benchmark, not a test: it prints figures.

One start of a client: the protocol's C server runs (started once per
protocol, in a scratch folder); the client runs against it on loopback with
the protocol's representative request (tools/java_cds.py PROGRAMS) and is
reaped with wait4(): its CPU includes every thread and every child it
reaped. One start of a server: it starts in a scratch folder, the kernel's
socket tables are polled until its port is bound, the C client sends the
same request once, then the server's group gets SIGTERM and wait4() gives
its CPU (start, one request, shutdown).

Runs rotate: run i does every program, each under every variant, the
variant order reversed on odd runs, so drift and other load hit all
variants alike. The share of the machine other processes used meanwhile
(/proc/stat busy time minus ours) is printed: CPU time per start rises on a
loaded machine (caches, SMT siblings), so compare variants of one run, not
runs of different days.

Run:  python3 bench/starts.py [--runs 15] [--lang java,python,node]
        [--protocol echo,...] [--variant 'java:NAME=PREFIX' ...] [--json FILE]
A PREFIX is the command up to the program: {java}, {python}, {build} and
{root} are filled in; the program's class or script and its arguments
follow it. Without --variant a language gets its BEFORE/AFTER pair below.
(build first: cmake -B build -S . && cmake --build build -j2)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import java_cds  # noqa: E402  (the same representative requests)

HOST = java_cds.HOST
CLK_TCK = os.sysconf("SC_CLK_TCK")
JAVA_LOG = "-XX:-UsePerfData -Xlog:all=warning:stderr"
DEFAULT_VARIANTS = {
    "java": {
        "before": "{java} -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto "
                  f"{JAVA_LOG} -cp {{build}}/java",
        "after": "{java} -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto "
                 "-XX:SharedArchiveFile={build}/java-cds/peers.jsa "
                 "-XX:-UsePerfData -Xlog:disable -Xlog:all=warning:stderr "
                 "-cp {build}/java-cds/peers.jar",
    },
    "python": {"before": "{python}", "after": "{python} -S"},
    "node": {"before": "node"},
}


@dataclass(frozen=True)
class Peer:
    """One program: lang, protocol, role, what follows the prefix."""

    lang: str
    protocol: str
    role: str
    program: tuple[str, ...]  # class or script (+ flags), before the arguments
    name: str

    @property
    def spec(self) -> java_cds.Program:
        return next(p for p in java_cds.PROGRAMS if p.protocol == self.protocol)


def peers(langs: list[str], protocols: list[str]) -> list[Peer]:
    out = []
    for prog in java_cds.PROGRAMS:
        p = prog.protocol
        if protocols and p not in protocols:
            continue
        for role in ("client", "server"):
            cls = "Client" if role == "client" else "Server"
            if "java" in langs:
                out.append(Peer("java", p, role, (f"{prog.package}.{cls}",), f"java {p} {role}"))
            unbuffered = ("-u",) if role == "server" else ()
            if "python" in langs:
                script = ROOT / "peers/python" / p / f"{role}.py"
                out.append(Peer("python", p, role, (*unbuffered, str(script)),
                                f"python {p} {role}"))
            if "node" in langs:
                script = ROOT / "peers/node" / p / f"{role}.js"
                out.append(Peer("node", p, role, (str(script),), f"node {p} {role}"))
        if "python" in langs and p == "echo":
            out.append(Peer("python", p, "server",
                            ("-u", str(ROOT / "peers/python/echo/server_selectors.py")),
                            "python-selectors echo server"))
        if "python" in langs and p in ("echo", "smtp"):
            out.append(Peer("python", p, "client", (str(ROOT / "peers/raw/client.py"),),
                            f"raw {p} client"))
        if "python" in langs and p == "smtp":
            out.append(Peer("python", p, "client",
                            (str(ROOT / "peers/python/smtp/client_lab.py"),),
                            "python-lab smtp client"))
            for tool in ("msmtp", "swaks"):
                if shutil.which(tool):
                    out.append(Peer("python", p, "client",
                                    (str(ROOT / f"peers/{tool}/smtp/client.py"),),
                                    f"{tool} smtp client"))
    return out


def prefix(text: str, build: Path) -> list[str]:
    values = {"java": shutil.which("java") or "java", "python": sys.executable,
              "build": str(build), "root": str(ROOT)}
    return [w.format(**values) for w in shlex.split(text)]


def _cpu(ru: resource.struct_rusage) -> float:
    return ru.ru_utime + ru.ru_stime


def _wait(proc: subprocess.Popen, timeout_s: float) -> tuple[int, float]:
    """Reaps proc with wait4 (SIGKILL to its group after timeout_s);
    returns (status, CPU seconds of it and its reaped children)."""
    deadline = time.monotonic() + timeout_s
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, _cpu(ru)
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.002)


def run_client(argv: list[str], stdin: bytes, cwd: Path) -> tuple[int, float]:
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.stdin.write(stdin)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    return _wait(proc, 60.0)


def one_start(peer: Peer, pre: list[str], build: Path, c_ports: dict[str, int],
              work: Path) -> float:
    """One start of peer under prefix pre; returns its CPU seconds. Raises
    RuntimeError when it does not do its job."""
    spec = peer.spec
    if peer.role == "client":
        code, cpu = run_client(pre + list(peer.program) + [HOST, str(c_ports[peer.protocol])],
                               spec.stdin, work)
        if code != 0:
            raise RuntimeError(f"{peer.name}: exit {code}")
        return cpu
    port = java_cds.free_port(spec.transport)
    proc = subprocess.Popen(pre + list(peer.program) + [str(port)], cwd=work,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        java_cds.wait_bound(proc, port, spec.transport)
        code, _ = run_client([str(build / "c" / peer.protocol / "client"), HOST, str(port)],
                             spec.stdin, work)
        if code != 0:
            raise RuntimeError(f"{peer.name}: the C client against it exited {code}")
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGTERM)
    _, cpu = _wait(proc, 10.0)
    return cpu


def _busy_s() -> float:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / CLK_TCK


@dataclass
class Result:
    samples: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # (peer, variant)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, default=ROOT / "build")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--lang", default="java,python")
    ap.add_argument("--protocol", default="", help="comma-separated ids (default: all)")
    ap.add_argument("--variant", action="append", default=[],
                    help="LANG:NAME=PREFIX (repeatable; replaces that language's defaults)")
    ap.add_argument("--json", type=Path, help="write every sample here")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    langs = [x for x in a.lang.split(",") if x]
    protocols = [x for x in a.protocol.split(",") if x]
    variants: dict[str, dict[str, str]] = {}
    for v in a.variant:
        lang, _, rest = v.partition(":")
        name, _, text = rest.partition("=")
        if not (lang and name and text):
            print(f"starts.py: bad --variant {v!r} (LANG:NAME=PREFIX)", file=sys.stderr)
            return 2
        variants.setdefault(lang, {})[name] = text
    for lang in langs:
        variants.setdefault(lang, DEFAULT_VARIANTS[lang])
    build = a.build.resolve()
    todo = peers(langs, protocols)
    work = Path(tempfile.mkdtemp(prefix="starts-"))
    servers: list[subprocess.Popen] = []
    c_ports: dict[str, int] = {}
    res = Result()
    # SIGTERM unwinds like Ctrl-C, so the C servers are stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        for spec in java_cds.PROGRAMS:
            if protocols and spec.protocol not in protocols:
                continue
            port = java_cds.free_port(spec.transport)
            d = work / f"c-{spec.protocol}"
            d.mkdir()
            srv = subprocess.Popen([str(build / "c" / spec.protocol / "server"), str(port)], cwd=d,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
            servers.append(srv)
            java_cds.wait_bound(srv, port, spec.transport)
            c_ports[spec.protocol] = port
        print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, "
              f"Python {platform.python_version()}")
        for lang in langs:
            for name, text in variants[lang].items():
                print(f"{lang} {name}: {text}")
        busy0, t0 = _busy_s(), time.monotonic()
        ours0 = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN))
        for i in range(a.runs):
            for peer in todo:
                names = list(variants[peer.lang])
                if i % 2:
                    names.reverse()
                for name in names:
                    d = work / f"{i}-{peer.name.replace(' ', '-')}-{name}"
                    d.mkdir()
                    pre = prefix(variants[peer.lang][name], build)
                    cpu = one_start(peer, pre, build, c_ports, d)
                    res.samples.setdefault((peer.name, name), []).append(cpu)
            print(f"run {i + 1}/{a.runs} done", file=sys.stderr, flush=True)
            if a.json:  # after every run: an interrupted benchmark keeps its samples
                samples = {f"{p}|{v}": s for (p, v), s in res.samples.items()}
                a.json.write_text(json.dumps(samples, indent=1))
        wall = time.monotonic() - t0
        ours = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN)) - ours0
        other = max(0.0, _busy_s() - busy0 - ours) / (os.cpu_count() or 1) / wall
    finally:
        for srv in servers:
            os.killpg(srv.pid, signal.SIGTERM)
            srv.wait()
        shutil.rmtree(work, ignore_errors=True)
    report(todo, variants, res, a.runs, other)
    return 0


def report(todo: list[Peer], variants: dict[str, dict[str, str]], res: Result, runs: int,
           other: float) -> None:
    print(f"\nCPU ms per start (user+sys), medians of {runs} starts; other load {other:.0%};\n"
          "ratios: of the medians, and (paired) the median of each run's ratio")
    for lang in dict.fromkeys(p.lang for p in todo):
        names = list(variants[lang])
        head = f"{'program':32}" + "".join(f"{n:>13}" for n in names)
        if len(names) > 1:  # ratio of the medians; median of the per-run ratios
            head += "".join(f"  {n + '/' + names[0]:>14} {'paired':>7}" for n in names[1:])
        print("\n" + head)
        meds: dict[str, list[float]] = {n: [] for n in names}
        for peer in (p for p in todo if p.lang == lang):
            m = {n: statistics.median(res.samples[(peer.name, n)]) for n in names}
            for n in names:
                meds[n].append(m[n])
            line = f"{peer.name:32}" + "".join(f"{m[n] * 1000:13.1f}" for n in names)
            for n in names[1:]:
                pairs = zip(res.samples[(peer.name, n)], res.samples[(peer.name, names[0])])
                paired = statistics.median(x / y for x, y in pairs)
                line += f"  {m[n] / m[names[0]]:14.2f} {paired:7.2f}"
            print(line)
        line = f"{'mean of the medians':32}" + "".join(
            f"{statistics.mean(meds[n]) * 1000:13.1f}" for n in names)
        line += "".join(f"  {statistics.mean(meds[n]) / statistics.mean(meds[names[0]]):14.2f}"
                        for n in names[1:])
        print(line)


if __name__ == "__main__":
    sys.exit(main())
