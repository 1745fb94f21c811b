"""matrix.yaml: load with line numbers, validate, expand into cells.

The file is composed into a YAML node tree (yaml.SafeLoader) and walked by
hand, so every problem is reported as `matrix.yaml:LINE: what is wrong`
and never as a traceback. Format reference: docs/matrix.md.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from harness import mailbox, steps, transcript
from harness import modes as modelib
from harness.errors import ConfigError, Problem

MODES = ("plain",)
TRANSPORTS = ("tcp", "udp")
ROLES = ("server", "client")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*\Z")
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
COMMAND_PLACEHOLDERS = ("python", "java", "jvm", "cds", "build", "host", "port", "protocol",
                        "package")
JVM_FLAGS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto"
# The Java peers' class-data archive and the jar it was made from (the
# build's java_cds target, tools/java_cds.py), relative to the build.
CDS_ARCHIVE = "java-cds/peers.jsa"
CDS_JAR = "java-cds/peers.jar"
HOST = "127.0.0.1"

PEER_KEYS = {"server", "client", "protocols", "default", "env", "description", "sandbox"}
PROTOCOL_KEYS = {"transport", "contract", "description", "scenarios"}
SCENARIO_KEYS = {"description", "stdin", "args", "clients", "stdout", "stdout_pattern", "exit",
                 "files", "server_stdout", "golden", "timeout_s", "cell_timeout_s",
                 "only_clients", "only_servers",
                 "before", "restart", "compare", "robustness"}  # the last four: steps.py
DEFAULT_KEYS = {"timeout_s", "cell_timeout_s", "run_timeout_s", "env"}
SCENARIO_KEYS = SCENARIO_KEYS | {"modes", "skip_modes"}  # harness/modes.py
SCENARIO_KEYS = SCENARIO_KEYS | {"mailbox"}  # harness/mailbox.py
PROTOCOL_KEYS = PROTOCOL_KEYS | {"skip_modes"}  # for every scenario of the protocol
TOP_KEYS = {"version", "defaults", "peers", "protocols", "known_failures"}
KNOWN_FAILURE_KEYS = {"cell", "reason"}


@dataclass(frozen=True)
class Template:
    """A command template: shell-like words with {placeholders}."""

    text: str
    words: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Peer:
    name: str
    server: Template | None
    client: Template | None
    protocols: tuple[str, ...] | None
    default: bool
    env: dict[str, str]
    description: str
    line: int
    protocols_line: int = 0
    # Untrusted programs (students'): run under harness/sandbox.py, with
    # limits, their own uid and the cell in its own network namespace.
    sandbox: bool = False

    def template(self, role: str) -> Template | None:
        return self.server if role == "server" else self.client


@dataclass(frozen=True)
class Scenario:
    name: str
    protocol: str
    description: str
    stdin: bytes
    args: tuple[str, ...]
    clients: int
    stdout: bytes | None
    stdout_pattern: transcript.Pattern | None
    exit: int
    files: dict[str, bytes | None]
    server_stdout: bytes | None
    golden_path: Path
    golden: transcript.Transcript
    timeout_s: float
    cell_timeout_s: float
    only_clients: tuple[str, ...] | None
    only_servers: tuple[str, ...] | None
    line: int
    # Modes (harness/modes.py): None = every mode; skip: mode key -> reason.
    modes: tuple[str, ...] | None = None
    skip_modes: dict[str, str] = field(default_factory=dict)
    # Robustness scenarios (harness/steps.py)
    before: tuple[steps.Step, ...] = ()
    restart: str | None = None  # None, "SIGKILL" or "SIGTERM"
    compare: str = "turns"  # or "streams"
    robustness: bool = False
    # What an SMTP server delivered into mailbox/ (harness/mailbox.py)
    mailbox: "mailbox.Spec | None" = None


@dataclass(frozen=True)
class Protocol:
    name: str
    transport: str
    contract: Path
    description: str
    scenarios: dict[str, Scenario]
    line: int

    @property
    def package(self) -> str:
        return self.name.replace("-", "_")


@functools.lru_cache(maxsize=None)
def _glob(pattern: str) -> "re.Pattern[str]":
    """A compiled fnmatch pattern (matching is done per cell, per entry)."""
    return re.compile(fnmatch.translate(pattern))


@dataclass(frozen=True)
class KnownFailure:
    pattern: str
    reason: str
    line: int

    def matches(self, cell_id: str) -> bool:
        return _glob(self.pattern).match(cell_id) is not None


@dataclass(frozen=True)
class Defaults:
    timeout_s: float = 10.0
    cell_timeout_s: float = 30.0
    run_timeout_s: float | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Matrix:
    path: Path
    root: Path
    version: int
    defaults: Defaults
    peers: dict[str, Peer]
    protocols: dict[str, Protocol]
    known_failures: tuple[KnownFailure, ...]

    def known_failure(self, cell_id: str) -> KnownFailure | None:
        for kf in self.known_failures:
            if kf.matches(cell_id):
                return kf
        return None


@dataclass(frozen=True)
class Cell:
    protocol: Protocol
    scenario: Scenario
    server: Peer
    client: Peer
    mode: str = "plain"

    @property
    def id(self) -> str:
        return "/".join((self.protocol.name, self.scenario.name, self.server.name,
                         self.client.name, self.mode))


@dataclass(frozen=True)
class Absence:
    """Why a peer does not take part in a scenario in one role."""

    protocol: str
    scenario: str
    role: str
    peer: str
    reason: str


# --------------------------------------------------------------------------
# Loading


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    tag = node.tag.rsplit(":", 1)[-1]
    return {"str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean",
            "null": "null"}.get(tag, tag)


class _Walker:
    """Walks the composed node tree, collecting problems with line numbers."""

    def __init__(self, label: str, loader: yaml.SafeLoader):
        self.label = label
        self.loader = loader
        self.problems: list[Problem] = []

    def err(self, node: yaml.Node | int, message: str) -> None:
        line = node if isinstance(node, int) else node.start_mark.line + 1
        self.problems.append(Problem(self.label, line, message))

    def value(self, node: yaml.Node) -> Any:
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.Node, what: str, allowed: set[str] | None = None,
                required: Iterable[str] = ()) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        if not isinstance(node, yaml.MappingNode):
            self.err(node, f"{what} must be a mapping, not {_kind(node)}")
            return None
        self.loader.flatten_mapping(node)
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode) or knode.tag.endswith(":null"):
                self.err(knode, f"{what}: keys must be strings")
                continue
            key = str(knode.value)
            if key in out:
                self.err(knode, f"{what}: duplicate key {key!r}")
                continue
            if allowed is not None and key not in allowed:
                hint = _suggest(key, allowed)
                self.err(knode, f"{what}: unknown key {key!r}{hint}")
                continue
            out[key] = (knode, vnode)
        for key in required:
            if key not in out:
                self.err(node, f"{what}: missing required key {key!r}")
        return out

    def scalar(self, node: yaml.Node, what: str, types: tuple[type, ...], type_name: str) -> Any:
        if isinstance(node, yaml.ScalarNode):
            v = self.value(node)
            if isinstance(v, bool) and bool not in types:
                pass
            elif isinstance(v, types):
                return v
        self.err(node, f"{what} must be {type_name}, not {_kind(node)}")
        return None

    def string(self, node: yaml.Node, what: str) -> str | None:
        return self.scalar(node, what, (str,), "a string")

    def boolean(self, node: yaml.Node, what: str) -> bool | None:
        return self.scalar(node, what, (bool,), "true or false")

    def integer(self, node: yaml.Node, what: str, minimum: int | None = None,
                maximum: int | None = None) -> int | None:
        v = self.scalar(node, what, (int,), "an integer")
        if v is None:
            return None
        if minimum is not None and v < minimum or maximum is not None and v > maximum:
            lo = "" if minimum is None else f">= {minimum}"
            hi = "" if maximum is None else f"<= {maximum}"
            self.err(node, f"{what} must be {' and '.join(x for x in (lo, hi) if x)}, not {v}")
            return None
        return v

    def seconds(self, node: yaml.Node, what: str) -> float | None:
        v = self.scalar(node, what, (int, float), "a number of seconds")
        if v is None:
            return None
        if not v > 0:
            self.err(node, f"{what} must be > 0, not {v}")
            return None
        return float(v)

    def string_list(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]] | None:
        if not isinstance(node, yaml.SequenceNode):
            self.err(node, f"{what} must be a list of strings, not {_kind(node)}")
            return None
        out = []
        for item in node.value:
            s = self.scalar(item, f"{what} item", (str, int), "a string")
            if s is not None:
                out.append((str(s), item))
        return out

    def env(self, node: yaml.Node, what: str) -> dict[str, str]:
        m = self.mapping(node, what)
        out: dict[str, str] = {}
        for key, (knode, vnode) in (m or {}).items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                self.err(knode, f"{what}: {key!r} is not a valid environment variable name")
                continue
            v = self.scalar(vnode, f"{what}.{key}", (str, int, float), "a string")
            if v is not None:
                out[key] = str(v)
        return out

    def bytes_field(self, node: yaml.Node, what: str) -> bytes | None:
        """A byte-valued field: an escaped string, or a list of strings and
        {repeat: STR, times: N} parts, joined."""
        if isinstance(node, yaml.ScalarNode):
            s = self.string(node, what)
            if s is None:
                return None
            return self._unescape(node, what, s)
        if isinstance(node, yaml.SequenceNode):
            out = bytearray()
            ok = True
            for part in node.value:
                if isinstance(part, yaml.MappingNode):
                    m = self.mapping(part, f"{what} part", {"repeat", "times"}, ("repeat", "times"))
                    if m is None or "repeat" not in m or "times" not in m:
                        ok = False
                        continue
                    unit = self.bytes_field(m["repeat"][1], f"{what}: repeat")
                    times = self.integer(m["times"][1], f"{what}: times", 0, 10_000_000)
                    if unit is None or times is None:
                        ok = False
                        continue
                    out += unit * times
                else:
                    b = self.bytes_field(part, what) if isinstance(part, yaml.ScalarNode) else None
                    if not isinstance(part, yaml.ScalarNode):
                        self.err(part, f"{what}: a part must be a string or {{repeat, times}}, "
                                       f"not {_kind(part)}")
                    if b is None:
                        ok = False
                        continue
                    out += b
            return bytes(out) if ok else None
        self.err(node, f"{what} must be a string or a list of parts, not {_kind(node)}")
        return None

    def _unescape(self, node: yaml.Node, what: str, s: str) -> bytes | None:
        try:
            return transcript.unescape(s)
        except transcript.EscapeError as e:
            self.err(node, f"{what}: {e}")
            return None


def _suggest(key: str, allowed: Iterable[str]) -> str:
    import difflib
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (allowed: {', '.join(sorted(allowed))})"


def _label(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def load(path: str | os.PathLike, root: str | os.PathLike | None = None) -> Matrix:
    """Returns the validated matrix. Raises ConfigError listing every problem
    as file:line: message. root defaults to the matrix file's directory."""
    path = Path(path)
    root_path = Path(root) if root is not None else path.resolve().parent
    label = _label(path, root_path) if root is not None else path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([Problem(label, 1, f"cannot read: {e}")]) from None
    # libyaml's parser when present (much faster on a big matrix); both
    # keep line marks on every node.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        msg = " ".join(x for x in (e.context, e.problem) if x)
        raise ConfigError([Problem(label, line, f"YAML syntax error: {msg}")]) from None
    except yaml.YAMLError as e:
        raise ConfigError([Problem(label, 1, f"YAML error: {e}")]) from None
    if node is None:
        raise ConfigError([Problem(label, 1, "the file is empty")])
    w = _Walker(label, loader)
    try:
        m = _build(w, node, path, root_path)
    finally:
        loader.dispose()
    if w.problems:
        raise ConfigError(sorted(w.problems, key=lambda p: p.line))
    assert m is not None
    return m


def _build(w: _Walker, node: yaml.Node, path: Path, root: Path) -> Matrix | None:
    top = w.mapping(node, "the matrix", TOP_KEYS, ("version", "peers", "protocols"))
    if top is None:
        return None
    version = 1
    if "version" in top:
        v = w.integer(top["version"][1], "version")
        if v is not None and v != 1:
            w.err(top["version"][1], f"unsupported version {v} (this driver reads version 1)")
        version = v or 1
    defaults = _defaults(w, top["defaults"][1]) if "defaults" in top else Defaults()
    peers = _peers(w, top["peers"][1], root) if "peers" in top else {}
    protocols: dict[str, Protocol] = {}
    if "protocols" in top:
        protocols = _protocols(w, top["protocols"][1], root, defaults, peers)
    _check_peer_protocols(w, peers, protocols, root)
    kfs: tuple[KnownFailure, ...] = ()
    if "known_failures" in top:
        kfs = _known_failures(w, top["known_failures"][1])
    m = Matrix(path, root, version, defaults, peers, protocols, kfs)
    if not w.problems:
        ids = [c.id for c in expand(m, modes=modelib.ALL)]
        for kf in kfs:
            if not any(kf.matches(i) for i in ids):
                w.err(kf.line, f"known failure {kf.pattern!r} matches no cell")
        for proto in protocols.values():
            for sc in proto.scenarios.values():
                if not any(c.scenario is sc for c in _expand_scenario(m, proto, sc)):
                    w.err(sc.line, f"scenario {proto.name}/{sc.name} has no cells "
                                   "(no server or no client takes part)")
    return m


def _defaults(w: _Walker, node: yaml.Node) -> Defaults:
    m = w.mapping(node, "defaults", DEFAULT_KEYS)
    if m is None:
        return Defaults()
    d = Defaults()
    kw: dict[str, Any] = {}
    for key in ("timeout_s", "cell_timeout_s", "run_timeout_s"):
        if key in m:
            v = w.seconds(m[key][1], f"defaults.{key}")
            if v is not None:
                kw[key] = v
    if "env" in m:
        kw["env"] = w.env(m["env"][1], "defaults.env")
    return Defaults(**{**d.__dict__, **kw})


def _template(w: _Walker, node: yaml.Node, what: str) -> Template | None:
    s = w.string(node, what)
    if s is None:
        return None
    try:
        words = tuple(shlex.split(s))
    except ValueError as e:
        w.err(node, f"{what}: cannot split the command: {e}")
        return None
    if not words:
        w.err(node, f"{what}: empty command")
        return None
    ok = True
    for word in words:
        for name in PLACEHOLDER_RE.findall(word):
            if name not in COMMAND_PLACEHOLDERS:
                known = ", ".join("{%s}" % p for p in COMMAND_PLACEHOLDERS)
                w.err(node, f"{what}: unknown placeholder {{{name}}} (known: {known})")
                ok = False
        if word.count("{") != word.count("}"):
            w.err(node, f"{what}: unbalanced braces in {word!r}")
            ok = False
    return Template(s, words, node.start_mark.line + 1) if ok else None


def _peers(w: _Walker, node: yaml.Node, root: Path) -> dict[str, Peer]:
    m = w.mapping(node, "peers")
    out: dict[str, Peer] = {}
    for name, (knode, vnode) in (m or {}).items():
        if not NAME_RE.match(name):
            w.err(knode, f"peer name {name!r} must be lowercase letters, digits, '-', '_', '.'")
            continue
        pm = w.mapping(vnode, f"peer {name}", PEER_KEYS)
        if pm is None:
            continue
        server = _template(w, pm["server"][1], f"peer {name}: server") if "server" in pm else None
        client = _template(w, pm["client"][1], f"peer {name}: client") if "client" in pm else None
        if "server" not in pm and "client" not in pm:
            w.err(knode, f"peer {name}: needs a server or a client command (or both)")
        protos = None
        protos_line = knode.start_mark.line + 1
        if "protocols" in pm:
            lst = w.string_list(pm["protocols"][1], f"peer {name}: protocols")
            protos = tuple(s for s, _ in lst) if lst is not None else None
            protos_line = pm["protocols"][1].start_mark.line + 1
        default = True
        if "default" in pm:
            b = w.boolean(pm["default"][1], f"peer {name}: default")
            default = True if b is None else b
        sandboxed = False
        if "sandbox" in pm:
            sandboxed = bool(w.boolean(pm["sandbox"][1], f"peer {name}: sandbox"))
        env = w.env(pm["env"][1], f"peer {name}: env") if "env" in pm else {}
        desc = ""
        if "description" in pm:
            desc = w.string(pm["description"][1], f"peer {name}: description") or ""
        out[name] = Peer(name, server, client, protos, default, env, desc,
                         knode.start_mark.line + 1, protos_line, sandboxed)
    return out


def _protocols(w: _Walker, node: yaml.Node, root: Path, defaults: Defaults,
               peers: dict[str, Peer]) -> dict[str, Protocol]:
    m = w.mapping(node, "protocols")
    out: dict[str, Protocol] = {}
    for name, (knode, vnode) in (m or {}).items():
        if not NAME_RE.match(name):
            w.err(knode, f"protocol id {name!r} must be lowercase letters, digits, '-', '_', '.'")
            continue
        pm = w.mapping(vnode, f"protocol {name}", PROTOCOL_KEYS, ("transport", "scenarios"))
        if pm is None:
            continue
        transport = "tcp"
        if "transport" in pm:
            t = w.string(pm["transport"][1], f"protocol {name}: transport")
            if t is not None and t not in TRANSPORTS:
                w.err(pm["transport"][1], f"protocol {name}: transport must be tcp or udp, not {t!r}")
            elif t is not None:
                transport = t
        contract = root / "protocols" / name / "README.md"
        if "contract" in pm:
            c = w.string(pm["contract"][1], f"protocol {name}: contract")
            if c is not None:
                contract = root / c
                if not contract.is_file():
                    w.err(pm["contract"][1], f"protocol {name}: contract {c} does not exist")
        desc = w.string(pm["description"][1], f"protocol {name}: description") or "" \
            if "description" in pm else ""
        scenarios: dict[str, Scenario] = {}
        if "scenarios" in pm:
            sm = w.mapping(pm["scenarios"][1], f"protocol {name}: scenarios")
            if sm is not None and not sm:
                w.err(pm["scenarios"][1], f"protocol {name}: no scenarios")
            for sname, (sk, sv) in (sm or {}).items():
                if not NAME_RE.match(sname):
                    w.err(sk, f"scenario name {sname!r} must be lowercase letters, digits, "
                              "'-', '_', '.'")
                    continue
                sc = _scenario(w, name, transport, sname, sk, sv, root, defaults, peers)
                if sc is not None:
                    scenarios[sname] = sc
        if "skip_modes" in pm:
            skip = _scenario_modes(w, {"skip_modes": pm["skip_modes"]},
                                   f"protocol {name}").get("skip_modes", {})
            scenarios = {k: dataclasses.replace(v, skip_modes={**skip, **v.skip_modes})
                         for k, v in scenarios.items()}
        out[name] = Protocol(name, transport, contract, desc, scenarios, knode.start_mark.line + 1)
    return out


def _scenario(w: _Walker, proto: str, transport: str, name: str, knode: yaml.Node,
              node: yaml.Node, root: Path, defaults: Defaults,
              peers: dict[str, Peer]) -> Scenario | None:
    what = f"scenario {proto}/{name}"
    m = w.mapping(node, what, SCENARIO_KEYS)
    if m is None:
        return None
    before = len(w.problems)

    def opt(key: str, fn, *a):
        return fn(m[key][1], f"{what}: {key}", *a) if key in m else None

    desc = opt("description", w.string) or ""
    stdin = opt("stdin", w.bytes_field) or b""
    args: tuple[str, ...] = ()
    if "args" in m:
        lst = w.string_list(m["args"][1], f"{what}: args")
        args = tuple(s for s, _ in lst or [])
    clients = opt("clients", w.integer, 1, 1000) or 1
    stdout = opt("stdout", w.bytes_field)
    pattern = None
    if "stdout_pattern" in m:
        s = w.string(m["stdout_pattern"][1], f"{what}: stdout_pattern")
        if s is not None:
            try:
                pattern = transcript.Pattern(s)
            except transcript.EscapeError as e:
                w.err(m["stdout_pattern"][1], f"{what}: stdout_pattern: {e}")
    if "stdout" in m and "stdout_pattern" in m:
        w.err(m["stdout_pattern"][0], f"{what}: give stdout or stdout_pattern, not both")
    exit_code = 0
    if "exit" in m:
        e = w.integer(m["exit"][1], f"{what}: exit", 0, 255)
        exit_code = e if e is not None else 0
    files: dict[str, bytes | None] = {}
    if "files" in m:
        fm = w.mapping(m["files"][1], f"{what}: files")
        for fname, (fk, fv) in (fm or {}).items():
            if "/" in fname or fname in (".", "..") or not fname:
                w.err(fk, f"{what}: files: {fname!r} must be a plain file name")
                continue
            if isinstance(fv, yaml.ScalarNode) and fv.tag.endswith(":null"):
                files[fname] = None
            else:
                b = w.bytes_field(fv, f"{what}: files: {fname}")
                if b is not None:
                    files[fname] = b
    server_stdout = opt("server_stdout", w.bytes_field)
    golden_rel = f"protocols/{proto}/golden/{name}.txt"
    golden_line = knode.start_mark.line + 1
    if "golden" in m:
        g = w.string(m["golden"][1], f"{what}: golden")
        if g is not None:
            golden_rel = g
            golden_line = m["golden"][1].start_mark.line + 1
    golden_path = root / golden_rel
    golden = transcript.Transcript(transport, [[]])
    if not golden_path.is_file():
        w.err(golden_line, f"{what}: golden transcript {golden_rel} does not exist")
    else:
        try:
            golden = transcript.parse(golden_path.read_text(encoding="utf-8"))
        except transcript.ParseError as e:
            w.problems.append(Problem(golden_rel, e.line, e.message))
        except (OSError, UnicodeDecodeError) as e:
            w.err(golden_line, f"{what}: cannot read golden {golden_rel}: {e}")
        else:
            if golden.transport != transport:
                w.err(golden_line, f"{what}: golden {golden_rel} is a {golden.transport} "
                                   f"transcript but the protocol is {transport}")
            if len(golden.connections) != 1:
                w.err(golden_line, f"{what}: golden {golden_rel} must have exactly one "
                                   "connection section")
            if transport == "udp" and any(t.kind != transcript.DATA
                                          for t in golden.connections[0]):
                w.err(golden_line, f"{what}: golden {golden_rel}: UDP has no EOF/RST events")
    timeout = opt("timeout_s", w.seconds) or defaults.timeout_s
    cell_timeout = opt("cell_timeout_s", w.seconds) or defaults.cell_timeout_s
    only: dict[str, tuple[str, ...] | None] = {}
    for key, role in (("only_clients", "client"), ("only_servers", "server")):
        only[key] = None
        if key in m:
            lst = w.string_list(m[key][1], f"{what}: {key}")
            if lst is None:
                continue
            names = []
            for pname, pnode in lst:
                peer = peers.get(pname)
                if peer is None:
                    w.err(pnode, f"{what}: {key}: unknown peer {pname!r}")
                elif peer.template(role) is None:
                    w.err(pnode, f"{what}: {key}: peer {pname!r} has no {role} command")
                else:
                    names.append(pname)
            only[key] = tuple(names)
    extra = steps.parse_keys(w, m, what, transport, peers)
    mode_keys = _scenario_modes(w, m, what)
    extra.update(mailbox.parse_keys(w, m, what, root))
    if len(w.problems) != before:
        return None
    return Scenario(name, proto, desc, stdin, args, clients, stdout, pattern, exit_code, files,
                    server_stdout, golden_path, golden, timeout, cell_timeout,
                    only["only_clients"], only["only_servers"], knode.start_mark.line + 1,
                    **extra, **mode_keys)


def _scenario_modes(w: _Walker, m: dict, what: str) -> dict:
    """The scenario's `modes:` (a list: only these modes besides plain) and
    `skip_modes:` (mode -> reason); keys are modes, mode kinds or patterns."""
    out: dict = {}
    if "modes" in m:
        lst = w.string_list(m["modes"][1], f"{what}: modes")
        names = []
        for name, node in lst or []:
            try:
                modelib.parse(name)
            except ValueError as e:
                w.err(node, f"{what}: modes: {e}")
                continue
            names.append(name)
        out["modes"] = tuple(names)
    if "skip_modes" in m:
        sm = w.mapping(m["skip_modes"][1], f"{what}: skip_modes")
        skip = {}
        for key, (knode, vnode) in (sm or {}).items():
            if not any(modelib.matches(key, x) for x in modelib.ALL) and "=" not in key:
                w.err(knode, f"{what}: skip_modes: {key!r} names no mode "
                             f"(known: {', '.join(modelib.KINDS)})")
                continue
            reason = w.string(vnode, f"{what}: skip_modes: {key}")
            if reason is not None and not reason.strip():
                w.err(vnode, f"{what}: skip_modes: {key}: the reason must not be empty")
            elif reason is not None:
                skip[key] = reason.strip()
        out["skip_modes"] = skip
    return out


def mode_absence(proto: "Protocol", sc: "Scenario", mode: str) -> str | None:
    """Why a scenario's cells do not run in mode (transport or the
    scenario's modes/skip_modes), or None."""
    return modelib.not_applicable(mode, proto.transport) or \
        modelib.scenario_skip(mode, sc.modes, sc.skip_modes)


def _check_peer_protocols(w: _Walker, peers: dict[str, Peer], protocols: dict[str, Protocol],
                          root: Path) -> None:
    """Unknown protocol names in a peer's `protocols:`, and repo scripts its
    commands name that do not exist."""
    for peer in peers.values():
        names = peer.protocols if peer.protocols is not None else tuple(protocols)
        for pname in names:
            if pname not in protocols:
                w.err(peer.protocols_line or peer.line,
                      f"peer {peer.name}: protocols: unknown protocol {pname!r}")
        for role in ROLES:
            tpl = peer.template(role)
            if tpl is None:
                continue
            for pname in names:
                proto = protocols.get(pname)
                if proto is None:
                    continue
                for word in tpl.words:
                    if "{build}" in word:
                        continue  # build outputs are checked when a cell starts
                    rel = _substitute(word, {"protocol": proto.name, "package": proto.package})
                    if rel is None or rel.startswith(("/", "-")) or "/" not in rel \
                            or "{" in rel:
                        continue
                    first = rel.split("/", 1)[0]
                    if (root / first).exists() and not (root / rel).exists():
                        w.err(tpl.line, f"peer {peer.name}: {role} for {pname}: "
                                        f"{rel} does not exist")
                        break


def _known_failures(w: _Walker, node: yaml.Node) -> tuple[KnownFailure, ...]:
    if not isinstance(node, yaml.SequenceNode):
        w.err(node, f"known_failures must be a list, not {_kind(node)}")
        return ()
    out = []
    for item in node.value:
        m = w.mapping(item, "known failure", KNOWN_FAILURE_KEYS, ("cell", "reason"))
        if m is None or "cell" not in m or "reason" not in m:
            continue
        pat = w.string(m["cell"][1], "known failure: cell")
        reason = w.string(m["reason"][1], "known failure: reason")
        if pat is None or reason is None:
            continue
        if not reason.strip():
            w.err(m["reason"][1], "known failure: reason must not be empty")
            continue
        parts = pat.split("/")
        if len(parts) != 5 or not all(parts):
            w.err(m["cell"][1], f"known failure: cell pattern {pat!r} must have 5 parts: "
                                "protocol/scenario/server/client/mode")
            continue
        if pat.count("[") != pat.count("]"):
            w.err(m["cell"][1], f"known failure: cell pattern {pat!r} has unbalanced brackets")
            continue
        out.append(KnownFailure(pat, reason.strip(), m["cell"][1].start_mark.line + 1))
    return tuple(out)


# --------------------------------------------------------------------------
# Expansion


def _takes_part(m: Matrix, proto: Protocol, sc: Scenario, peer: Peer, role: str,
                named: frozenset[str] = frozenset()) -> str | None:
    """Returns None if peer plays role in the scenario, else why not. A peer
    with default: false plays wherever a scenario or the user (named) names it."""
    if peer.template(role) is None:
        return f"has no {role} command"
    if peer.protocols is not None and proto.name not in peer.protocols:
        return f"protocols: [{', '.join(peer.protocols)}] excludes {proto.name}"
    only = sc.only_clients if role == "client" else sc.only_servers
    key = "only_clients" if role == "client" else "only_servers"
    if only is not None:
        if peer.name not in only:
            return f"scenario {key}: [{', '.join(only)}]"
        return None
    if not peer.default and peer.name not in named:
        return f"default: false and neither the scenario ({key}) nor a filter names it"
    return None


def _expand_scenario(m: Matrix, proto: Protocol, sc: Scenario,
                     named: frozenset[str] = frozenset(),
                     modes: tuple[str, ...] = modelib.DEFAULT) -> list[Cell]:
    servers = [p for p in m.peers.values()
               if _takes_part(m, proto, sc, p, "server", named) is None]
    clients = [p for p in m.peers.values()
               if _takes_part(m, proto, sc, p, "client", named) is None]
    return [Cell(proto, sc, s, c, mode) for s in servers for c in clients for mode in modes
            if mode_absence(proto, sc, mode) is None]


def expand(m: Matrix, named: frozenset[str] = frozenset(),
           modes: tuple[str, ...] = modelib.DEFAULT) -> list[Cell]:
    """Returns every cell, in matrix order: protocol, scenario, server, client,
    mode. named: peers the user asked for by exact name (--server/--client),
    which then play even with default: false."""
    cells: list[Cell] = []
    for proto in m.protocols.values():
        for sc in proto.scenarios.values():
            cells.extend(_expand_scenario(m, proto, sc, named, modes=modes))
    return cells


def absences(m: Matrix) -> list[Absence]:
    """Returns, per scenario, each peer that does not play a role and why."""
    out = []
    for proto in m.protocols.values():
        for sc in proto.scenarios.values():
            for role in ROLES:
                for peer in m.peers.values():
                    why = _takes_part(m, proto, sc, peer, role)
                    if why is not None and peer.template(role) is not None:
                        out.append(Absence(proto.name, sc.name, role, peer.name, why))
    return out


# --------------------------------------------------------------------------
# Commands


def _substitute(word: str, values: dict[str, str]) -> str | None:
    """Returns word with the placeholders in values replaced; others kept."""
    return PLACEHOLDER_RE.sub(lambda mo: values.get(mo.group(1), mo.group(0)), word)


@dataclass(frozen=True)
class CommandContext:
    """What command templates are filled with (the port comes per cell)."""

    root: Path
    build: Path
    python: str = sys.executable
    java: str | None = None
    jvm: str = JVM_FLAGS
    host: str = HOST
    cds: str = ""

    @staticmethod
    def create(root: Path, build: Path) -> "CommandContext":
        build = build.resolve()
        return CommandContext(root.resolve(), build, sys.executable,
                              shutil.which("java"), JVM_FLAGS, HOST, cds_flags(build))


def cds_flags(build: Path) -> str:
    """{cds}: the flag that maps the Java peers' class-data archive, or ""
    when the build has none or it is older than the jar (a JVM would ignore
    a stale one silently, but also drop the JDK's own archive with it)."""
    try:
        if (build / CDS_ARCHIVE).stat().st_mtime >= (build / CDS_JAR).stat().st_mtime:
            return f"-XX:SharedArchiveFile={build / CDS_ARCHIVE}"
    except OSError:
        pass
    return ""


def render(tpl: Template, ctx: CommandContext, protocol: Protocol, port: int) -> list[str]:
    """Returns argv for the template. Words naming an existing repo path are
    made absolute (servers run in a scratch directory); a word that is just
    {jvm} expands to several arguments, {cds} to one or none."""
    values = {
        "python": ctx.python,
        "java": ctx.java or "java",
        "jvm": ctx.jvm,
        "cds": ctx.cds,
        "build": str(ctx.build),
        "host": ctx.host,
        "port": str(port),
        "protocol": protocol.name,
        "package": protocol.package,
    }
    argv: list[str] = []
    for word in tpl.words:
        if word == "{jvm}":
            argv.extend(ctx.jvm.split())
            continue
        if word == "{cds}":  # one argument (the build's path may hold spaces) or none
            argv.extend([ctx.cds] if ctx.cds else [])
            continue
        s = PLACEHOLDER_RE.sub(lambda mo: values[mo.group(1)], word)
        if "/" in s and not s.startswith(("/", "-")) and (ctx.root / s).exists():
            s = str(ctx.root / s)
        argv.append(s)
    return argv
