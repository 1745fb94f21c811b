"""Student folders: find a student's server and client, build them, and turn
them into a matrix peer (docs/teachers.md, "Student folders").

A folder holds one student's programs for one protocol: `server.py` /
`client.py` (or `servidor.py` / `cliente.py`), `Server.java` / `Client.java`
(`Servidor.java` / `Cliente.java`, or any class with a main, classified by
whether it opens a ServerSocket/DatagramSocket; in a package too) or
`server.c` / `client.c`, at the top or in a subfolder such as `src/`, and
an optional `check.yaml` with `protocol`, `server`, `client` (command
templates, or just a file name) and `points` (the score's scale). Java and
C are compiled into a scratch directory; a compile error is a result, not a
crash, and warnings are kept. When nothing is found, the error lists the
files seen and a ready check.yaml.

The driver reads a student's files itself (to find the programs, to check
Python's syntax), as root when it is root and outside any sandbox: only
regular files that lie in the folder are read (_refusal); a link out of
it, a FIFO or a device is named, never opened.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.run import cell as isolation
from harness.spec.matrix import NAME_RE, Peer, Template, substitute

ROLES = ("server", "client")
CHECK_YAML = "check.yaml"
CHECK_KEYS = {"protocol", "server", "client", "points"}
# The names teachers give the two programs (file stems, any case).
ROLE_NAMES = {"server": ("server", "servidor"), "client": ("client", "cliente")}
# Folders never searched for programs.
SKIP_DIRS = {"build", "bin", "out", "target", "classes", "__pycache__", "node_modules"}
MAX_DEPTH = 6
READ_LIMIT = 1 << 20  # bytes: the largest source file the driver reads
# Placeholders a check.yaml template may use besides the matrix's own.
EXTRA_PLACEHOLDERS = ("dir", "classes", "bin")
# gnu11: the POSIX and BSD calls students use (bzero, strdup, getaddrinfo)
# are declared, as with a plain `cc`; -Wall: the warnings are shown.
CC = ["cc", "-std=gnu11", "-Wall", "-O1"]
JAVA_FLAGS = "{java} {jvm} -XX:-UsePerfData -Xlog:all=warning:stderr"
COMPILE_TIMEOUT_S = 120
ERROR_LINES = 8  # compiler output lines kept in the report


class FolderError(Exception):
    """The folder cannot be checked as it is (nothing found, ambiguous,
    a bad check.yaml): a usage problem the teacher or student must fix."""


@dataclass
class Program:
    """One role's program as found in the folder."""

    role: str
    language: str  # python, java, c or command
    source: Path | None  # the file, when auto-detected or named
    template: str = ""  # command template (after build)
    java_class: str = ""


@dataclass
class Student:
    """A student's programs, ready to become a peer."""

    name: str  # the peer name: part of every cell id
    folder: Path | None
    protocol: str | None  # from check.yaml (or None: the caller decides)
    programs: dict[str, Program] = field(default_factory=dict)
    build_error: str | None = None  # set: the check's verdict is "error" (the whole output)
    build_log: str = ""
    warnings: str = ""  # the compilers' warnings (a successful build)
    notes: list[str] = field(default_factory=list)  # what the teacher should know
    points: float | None = None  # check.yaml's score scale
    built_in: Path | None = None  # where build() compiled it

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(r for r in ROLES if r in self.programs)

    def peer(self) -> Peer:
        """The student as a matrix peer (only call after a successful build)."""
        tpl = {r: Template(p.template, tuple(shlex.split(p.template)), 0)
               for r, p in self.programs.items()}
        # Students' programs are untrusted: the runner sandboxes them
        # (harness/run/sandbox.py: limits, their own uid and network namespace).
        return Peer(self.name, tpl.get("server"), tpl.get("client"),
                    (self.protocol,) if self.protocol else None, True, {},
                    f"student programs in {self.folder}" if self.folder else "student", 0,
                    sandbox=True,
                    folders=tuple(str(f) for f in (self.folder, self.built_in) if f))


def peer_name(text: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A valid, unused peer name from a folder name: lowercase, other
    characters as '-'; a name that is already a peer gets 'student-'."""
    name = re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-.") or "student"
    if not NAME_RE.match(name):
        name = "s-" + name
    base, n = name, 1
    if name in taken:
        base = name = f"student-{name}"
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


# --------------------------------------------------------------------------
# Detection


def _java_main_class(path: Path, text: str) -> str:
    pkg = re.search(r"^\s*package\s+([\w.]+)\s*;", text, re.M)
    return (pkg.group(1) + "." if pkg else "") + path.stem


def _java_role(text: str) -> str | None:
    """server / client for a Java source with a main, None without main."""
    if not re.search(r"static\s+(public\s+)?void\s+main\s*\(", text) and \
            not re.search(r"void\s+main\s*\(\s*String", text):
        return None
    if "ServerSocket" in text or re.search(r"new\s+DatagramSocket\s*\(\s*[^)\s]", text):
        return "server"
    return "client"


def _read(path: Path) -> str:
    """A file _refusal has let through (at most READ_LIMIT bytes)."""
    with open(path, "rb") as f:
        return f.read(READ_LIMIT).decode("utf-8", "replace")


def _refusal(p: Path, folder: Path) -> str | None:
    """Why the driver does not read p, a path in the student's folder: it
    leads out of the folder (a link to /etc/shadow or to a classmate's
    work, which the driver could read and quote), it is a FIFO or a device
    (a read would block or never end), or it is too large. None: a regular
    file of the folder."""
    real = os.path.realpath(p)
    if not real.startswith(os.path.realpath(folder) + os.sep):
        return "leads out of the folder"
    try:
        st = os.stat(real)
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if st.st_size > READ_LIMIT:
        return f"is larger than {READ_LIMIT >> 20} MB"
    return None


def _refused(folder: Path) -> list[str]:
    """The sources the search skipped, and why, for the teacher."""
    out = []
    for suffix in (".py", ".java", ".c"):
        for p in _candidates(folder, suffix):
            why = _refusal(p, folder)
            if why and not (p.is_dir() and not p.is_symlink()):
                out.append(f"{p.relative_to(folder)} {why}: not read")
    return out


def _by_file(folder: Path, role: str, name: str) -> Program:
    """The program for a file named in check.yaml (server: MyServer.java)."""
    path = folder / name
    if not path.is_file() and not path.is_symlink():
        raise FolderError(f"{CHECK_YAML}: {role}: {name} does not exist in {folder}")
    why = _refusal(path, folder)
    if why:
        raise FolderError(f"{CHECK_YAML}: {role}: {name} {why}: not read")
    lang = {".py": "python", ".java": "java", ".c": "c"}.get(path.suffix)
    if lang is None:
        raise FolderError(f"{CHECK_YAML}: {role}: {name}: expected a .py, .java or .c file, "
                          "or a command template with {port}")
    p = Program(role, lang, path)
    if lang == "java":
        p.java_class = _java_main_class(path, _read(path))
    return p


def _candidates(folder: Path, suffix: str) -> list[Path]:
    """Paths with suffix under folder, hidden and build folders skipped."""
    out = []
    for p in folder.rglob(f"*{suffix}"):
        rel = p.relative_to(folder).parts
        if len(rel) > MAX_DEPTH or any(x.startswith(".") or x in SKIP_DIRS for x in rel[:-1]):
            continue
        if not rel[-1].startswith("."):
            out.append(p)
    return out


def _files(folder: Path, suffix: str) -> list[Path]:
    """The regular files with suffix in folder (_candidates that _refusal
    lets through), shallowest first."""
    out = [p for p in _candidates(folder, suffix) if _refusal(p, folder) is None]
    return sorted(out, key=lambda p: (len(p.relative_to(folder).parts), str(p)))


def _shallowest(paths: list[Path], folder: Path) -> list[Path]:
    if not paths:
        return []
    depth = min(len(p.relative_to(folder).parts) for p in paths)
    return [p for p in paths if len(p.relative_to(folder).parts) == depth]


def _detect(folder: Path) -> dict[str, list[Program]]:
    """Candidates per role from the file names (and Java sources' content)."""
    found: dict[str, list[Program]] = {r: [] for r in ROLES}
    for role in ROLES:
        for suffix, lang in ((".py", "python"), (".c", "c")):
            named = [p for p in _files(folder, suffix) if p.stem.lower() in ROLE_NAMES[role]]
            found[role] += [Program(role, lang, p) for p in _shallowest(named, folder)]
    javas = _files(folder, ".java")
    for role in ROLES:
        named = [p for p in javas if p.stem.lower() in ROLE_NAMES[role]]
        for p in _shallowest(named, folder):
            found[role].append(Program(role, "java", p, java_class=_java_main_class(p, _read(p))))
    if javas and not any(pr.language == "java" for r in ROLES for pr in found[r]):
        # No Server.java/Client.java: classify every class with a main.
        for p in javas:
            text = _read(p)
            role = _java_role(text)
            if role is not None:
                found[role].append(Program(role, "java", p, java_class=_java_main_class(p, text)))
    return found


def _guess_role(path: Path) -> str | None:
    """server / client from what a source does (for the check.yaml the
    error suggests), None when it does neither."""
    text = _read(path)
    if path.suffix == ".java":
        return _java_role(text)
    if re.search(r"\.listen\s*\(|\blisten\s*\(|\.bind\s*\(|\bbind\s*\(|recvfrom", text):
        return "server"
    if re.search(r"connect\s*\(|create_connection|sendto", text):
        return "client"
    return None


def _nothing_found(folder: Path, protocol: str | None) -> str:
    """The error when no program is found: the files seen, and a check.yaml
    ready to copy with the best guess for each role."""
    seen = [str(p.relative_to(folder)) for p in _files(folder, "")
            if p.name != CHECK_YAML][:20]
    guess: dict[str, str] = {}
    for suffix in (".py", ".java", ".c"):
        for p in _files(folder, suffix):
            role = _guess_role(p)
            if role and role not in guess:
                guess[role] = str(p.relative_to(folder))
    lines = [f"{folder}: no server or client found. Expected server.py/client.py "
             f"(or servidor.py/cliente.py), Server.java/Client.java (or Servidor/Cliente, or "
             f"any class with a main), server.c/client.c, at the top or in a subfolder, or a "
             f"{CHECK_YAML} naming them.",
             "Files seen: " + (", ".join(seen) if seen else "none")]
    if guess:
        lines.append(f"A {CHECK_YAML} for this folder (check the guesses):")
        lines.append(f"    protocol: {protocol or 'PROTOCOL'}")
        for role in ROLES:
            if role in guess:
                lines.append(f"    {role}: {guess[role]}")
    return "\n".join(lines)


def _load_check_yaml(folder: Path) -> dict[str, Any]:
    path = folder / CHECK_YAML
    if not path.is_file() and not path.is_symlink():
        return {}
    why = _refusal(path, folder)
    if why:
        raise FolderError(f"{path} {why}: not read")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise FolderError(f"{path}: not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FolderError(f"{path}: must be a mapping (protocol:, server:, client:)")
    bad = sorted(str(k) for k in data if k not in CHECK_KEYS)
    if bad:
        raise FolderError(f"{path}: unknown key(s) {', '.join(bad)} "
                          f"(allowed: {', '.join(sorted(CHECK_KEYS))})")
    out: dict[str, Any] = {}
    for k, v in data.items():
        if k == "points":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise FolderError(f"{path}: points must be a number > 0 (the score's scale)")
            out[k] = v
            continue
        if not isinstance(v, str) or not v.strip():
            raise FolderError(f"{path}: {k} must be a non-empty string")
        out[k] = v.strip()
    return out


def class_points(class_dir: Path) -> float | None:
    """The score's scale a teacher set in the class folder's check.yaml."""
    try:
        return _load_check_yaml(class_dir).get("points")
    except FolderError:
        return None


def detect(folder: Path, name: str | None = None,
           taken: set[str] | frozenset[str] = frozenset()) -> Student:
    """Returns the student's programs (not built yet). Raises FolderError
    when nothing is found, a role is ambiguous or check.yaml is wrong."""
    folder = folder.resolve()
    if not folder.is_dir():
        raise FolderError(f"{folder} is not a folder")
    conf = _load_check_yaml(folder)
    st = Student(peer_name(name or folder.name, taken), folder, conf.get("protocol"))
    st.points = conf.get("points")
    found = _detect(folder)
    for role in ROLES:
        given = conf.get(role)
        if given is not None:
            if "{" in given or " " in given:
                st.programs[role] = Program(role, "command", None, template=given)
            else:
                st.programs[role] = _by_file(folder, role, given)
            continue
        cands = found[role]
        if len(cands) > 1:
            names = ", ".join(str(p.source.relative_to(folder)) for p in cands if p.source)
            raise FolderError(f"{folder}: more than one {role}: {names}; keep one, or name it "
                              f"in {CHECK_YAML} ({role}: FILE)")
        if cands:
            st.programs[role] = cands[0]
    refused = _refused(folder)
    if not st.programs:
        raise FolderError("\n".join([_nothing_found(folder, st.protocol), *refused]))
    st.notes += refused
    for mk in ("Makefile", "makefile", "GNUmakefile"):
        if (folder / mk).is_file() and any(p.language == "c" for p in st.programs.values()):
            st.notes.append(f"{mk} found and not run: check compiles the C programs itself "
                            f"({' '.join(CC)}, with the .c files without a main() of the same "
                            f"folder); to run other commands, name them in {CHECK_YAML} "
                            f"(server: '{{dir}}/server {{port}}') and build them first")
    return st


def from_commands(name: str, server: str | None, client: str | None,
                  protocol: str | None, folder: Path | None = None) -> Student:
    """A student given by explicit command templates (--server-cmd/--client-cmd)."""
    st = Student(name, folder.resolve() if folder else None, protocol)
    for role, text in (("server", server), ("client", client)):
        if text:
            st.programs[role] = Program(role, "command", None, template=text)
    return st


# --------------------------------------------------------------------------
# Building


def _first_lines(text: str, n: int = ERROR_LINES) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    more = f"\n[... {len(lines) - n} more lines]" if len(lines) > n else ""
    return "\n".join(lines[:n]) + more


def _all_lines(text: str) -> str:
    """The compiler's whole output (blank lines dropped): the report clips
    it, class.csv and check.json keep it."""
    return "\n".join(ln for ln in text.splitlines() if ln.strip())


def _c_helpers(source: Path) -> list[str]:
    """The other .c files of the program's folder that have no main(): the
    student's own modules, linked in as a Makefile would."""
    out = []
    for p in sorted(source.parent.glob("*.c")):
        if p != source and _refusal(p, source.parent) is None and \
                not re.search(r"\bmain\s*\(", _read(p)):
            out.append(str(p))
    return out


@dataclass
class BuildBox:
    """Where a student's code is compiled: a cell of its own (harness/run/cell.py,
    run_once), as the sandbox's unprivileged uid when the driver is root,
    with limits, the student's folder read-only and only the build folder
    writable. A compiler runs code the student controls (an annotation
    processor in javac, #include of any file, a Makefile), so it gets no
    more than the student's programs do."""

    sl_cell: str
    uid: int | None = None
    limits: tuple[str, ...] = ("--cpu", "120", "--fsize", "256", "--nproc", "512",
                               "--nofile", "1024")
    hide: tuple[str, ...] = ()  # as cell.Cell.start's: other students' folders


def _run(argv: list[str], cwd: Path, box: BuildBox | None = None,
         writable: Path | None = None, readable: list[Path] = ()) -> tuple[int, str]:  # type: ignore[assignment]
    if box is not None:
        limits = list(box.limits)
        if box.uid is not None:
            limits += ["--uid", str(box.uid)]
        try:
            rc, out = isolation.run_once(box.sl_cell, argv, str(cwd),
                                    [str(writable)] if writable else [],
                                    [str(r) for r in readable], limits, COMPILE_TIMEOUT_S,
                                    list(box.hide))
        except subprocess.TimeoutExpired:
            return 124, f"{shlex.join(argv)}: still compiling after {COMPILE_TIMEOUT_S} s"
        except isolation.CellError as e:
            return 125, f"cannot compile in a sandbox: {e}"
        if rc == 127 and "sl-cell: cannot run" in out:
            return 127, f"{argv[0]}: not found (install it to check this language)"
        return rc, out
    try:
        p = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=COMPILE_TIMEOUT_S, check=False)
    except FileNotFoundError:
        return 127, f"{argv[0]}: not found (install it to check this language)"
    except subprocess.TimeoutExpired:
        return 124, f"{shlex.join(argv)}: still compiling after {COMPILE_TIMEOUT_S} s"
    return p.returncode, p.stdout.decode("utf-8", "replace")


def _resolve_words(text: str, folder: Path | None, values: dict[str, str]) -> str:
    """A check.yaml template with {dir}/{classes}/{bin} filled in and words
    naming a file in the student's folder made absolute (servers run in a
    scratch directory). Other placeholders are the matrix's, kept."""
    out = []
    for word in shlex.split(text):
        w = substitute(word, values)
        if folder is not None and "{" not in w and not w.startswith(("/", "-")) and \
                (folder / w).exists():
            w = str((folder / w).resolve())
        out.append(w)
    return shlex.join(out)


def build(st: Student, scratch: Path, box: BuildBox | None = None) -> Student:
    """Compiles what needs compiling into scratch and fills in each
    program's command template; in box (a sandbox) when given. A compile
    error sets st.build_error (with the compiler's first lines); it never
    raises for the student's code."""
    # World-readable: the sandbox's unprivileged user runs what is built.
    scratch.mkdir(mode=0o755, parents=True, exist_ok=True)
    st.built_in = scratch
    if box is not None and box.uid is not None:
        import os
        os.chown(scratch, box.uid, box.uid)  # the compiler writes as the sandbox's uid
    readable = [st.folder] if st.folder else []
    classes, binaries = scratch / "classes", scratch / "bin"
    logs: list[str] = []
    warns: list[str] = []
    progs = st.programs.values()
    if any(p.language == "java" for p in progs) or any(
            p.language == "command" and "{classes}" in p.template for p in progs):
        sources = [str(p) for p in _files(st.folder or scratch, ".java")]
        classes.mkdir(mode=0o755, exist_ok=True)
        if box is not None and box.uid is not None:
            import os
            os.chown(classes, box.uid, box.uid)
        # No annotation processors (a META-INF/services entry in the
        # student's folder would run as a javac plug-in) and an explicit
        # classpath: the output folder only, not the student's folder.
        argv = ["javac", "-J-XX:-UsePerfData", "-proc:none", "-encoding", "UTF-8",
                "-cp", str(classes), "-d", str(classes)] + sources
        rc, out = _run(argv, st.folder or scratch, box, scratch, readable)
        logs.append(f"$ {shlex.join(argv)}\n{out}")
        if rc != 0:
            st.build_error = f"javac failed (exit {rc}):\n{_all_lines(out)}"
        elif out.strip():
            warns.append(_all_lines(out))
    for p in progs:
        if p.language == "c" and p.source is not None:
            binaries.mkdir(mode=0o755, exist_ok=True)
            if box is not None and box.uid is not None:
                import os
                os.chown(binaries, box.uid, box.uid)
            exe = binaries / p.role
            argv = CC + ["-o", str(exe), str(p.source)] + _c_helpers(p.source)
            rc, out = _run(argv, p.source.parent, box, scratch, readable)
            logs.append(f"$ {shlex.join(argv)}\n{out}")
            if rc != 0 and st.build_error is None:
                st.build_error = f"cc failed on {p.source.name} (exit {rc}):\n{_all_lines(out)}"
            elif rc == 0 and out.strip():
                warns.append(_all_lines(out))
            p.template = f"{shlex.quote(str(exe))} " + ("{port}" if p.role == "server"
                                                         else "{host} {port}")
        elif p.language == "python" and p.source is not None:
            try:
                compile(p.source.read_bytes(), str(p.source), "exec")
            except SyntaxError as e:
                if st.build_error is None:
                    st.build_error = (f"{p.source.name}:{e.lineno}: SyntaxError: {e.msg}\n"
                                      f"    {(e.text or '').rstrip()}")
            except (OSError, ValueError) as e:
                st.build_error = st.build_error or f"{p.source.name}: {e}"
            # -u: the server's stdout is judged in some protocols (udp) and
            # must not sit in a buffer until the driver stops it.
            unbuffered = "-u " if p.role == "server" else ""
            p.template = f"{{python}} {unbuffered}{shlex.quote(str(p.source))} " + \
                ("{port}" if p.role == "server" else "{host} {port}")
        elif p.language == "java":
            p.template = f"{JAVA_FLAGS} -cp {shlex.quote(str(classes))} {p.java_class} " + \
                ("{port}" if p.role == "server" else "{host} {port}")
        elif p.language == "command":
            p.template = _resolve_words(p.template, st.folder, {
                "dir": str(st.folder or ""), "classes": str(classes), "bin": str(binaries)})
    st.build_log = "\n".join(logs)
    st.warnings = "\n".join(warns)
    if shutil.which("javac") is None and st.build_error and "javac" in st.build_error:
        st.build_error += "\n(javac is in the Debian package openjdk-17-jdk-headless)"
    return st
