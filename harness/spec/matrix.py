"""matrix.yaml: load with line numbers, validate, expand into cells.

matrix.yaml, and the protocols/<id>/scenarios.yaml files it leaves a
protocol's keys to, are composed into YAML node trees (yaml.SafeLoader)
and walked by hand, so every problem is reported as `FILE:LINE: what is
wrong` in the file it is in, and never as a traceback. Robustness
templates are applied as node trees too (a value keeps the line it was
written on). Format reference: docs/matrix.md.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import io
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from harness.errors import ConfigError, Problem
from harness.spec import mailbox, steps, transcript
from harness.spec import modes as modelib

MODES = ("plain",)
TRANSPORTS = ("tcp", "udp")
ROLES = ("server", "client")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*\Z")
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
COMMAND_PLACEHOLDERS = ("python", "java", "jvm", "cds", "build", "host", "port", "protocol",
                        "package")
# -Xint: the peers are short programs that move a few bytes; the JIT's
# compiler threads cost more than they save (0.82x CPU per start over all
# 20 Java peer programs, bench/results/2026-12-02-afternoon.md).
JVM_FLAGS = "-Xint -XX:+UseSerialGC -Xshare:auto"
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
SCENARIO_KEYS = SCENARIO_KEYS | {"own_server"}  # a server of its own (Scenario.shares_server)
PROTOCOL_KEYS = PROTOCOL_KEYS | {"skip_modes"}  # for every scenario of the protocol
TOP_KEYS = {"version", "defaults", "peers", "protocols", "known_failures"}
KNOWN_FAILURE_KEYS = {"cell", "reason"}
# Scenarios beside their contracts: protocols/<id>/scenarios.yaml holds a
# protocol's keys when its matrix.yaml entry has no `scenarios:`.
SCENARIOS_FILE = "protocols/{protocol}/scenarios.yaml"
# Robustness templates (matrix.yaml `robustness:`), written once, applied
# by every protocol with a `robustness:` block of values.
TOP_KEYS = TOP_KEYS | {"robustness"}
PROTOCOL_KEYS = PROTOCOL_KEYS | {"robustness"}
TEMPLATE_KEYS = SCENARIO_KEYS | {"default", "transcript"}
VALUE_KEYS = {"request", "reply", "reply_pattern", "wire", "files", "hold", "reset_after", "skip"}
# {placeholders} a template's scenario keys may use, from the values
PLACEHOLDERS = ("request", "hold", "reset_after")
# ... and its transcript, from the scenario made
TRANSCRIPT_PLACEHOLDERS = ("protocol", "scenario", "request", "reply", "clients")
# ... when it gives none: the judged client's exchange (no request line
# when the client sends nothing)
DEFAULT_TRANSCRIPT = "> {request}\n< {reply}\n> EOF\n< EOF\n"
KNOWN_FAILURE_KEYS = KNOWN_FAILURE_KEYS | {"scenario", "tag"}
TAGS = ("robustness",)  # tag: robustness = the scenarios with robustness: true


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
    # A check student's own folder and build: what its cells show of a
    # hidden class folder (RunOptions.hide), never what its command line
    # names (a check.yaml command or a link may name a classmate's files).
    folders: tuple[str, ...] = ()

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
    # The file it is written in (protocols/<id>/scenarios.yaml), "" = the matrix
    file: str = ""
    own_server: bool = False  # its cells never run on a server an earlier cell used

    @property
    def shares_server(self) -> bool:
        """May its cells run on the server an earlier cell of the same
        protocol, server peer and mode left running (harness/run/runner.py,
        "Shared servers")? Not when it says own_server, acts on the server
        (steps before the clients, a restart) or is a robustness scenario.
        (The files and mailbox it judges are emptied before it runs.)"""
        return not (self.own_server or self.robustness or self.before or self.restart)


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
    # Also required, when given: the cell's scenario is one of these, has this tag.
    scenarios: tuple[str, ...] | None = None
    tag: str | None = None
    entry: int = 0  # its place in known_failures (a list of cells makes one per pattern)

    def matches(self, cell_id: str, tags: frozenset[str] = frozenset()) -> bool:
        parts = cell_id.split("/")
        if self.scenarios is not None and (len(parts) < 2 or parts[1] not in self.scenarios):
            return False
        if self.tag is not None and self.tag not in tags:
            return False
        return _glob(self.pattern).match(cell_id) is not None


def scenario_tags(sc: "Scenario") -> frozenset[str]:
    """The tags a known failure's `tag:` can name."""
    return frozenset(("robustness",) if sc.robustness else ())


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
        parts = cell_id.split("/")
        proto = self.protocols.get(parts[0])
        sc = proto.scenarios.get(parts[1]) if proto is not None and len(parts) > 1 else None
        tags = scenario_tags(sc) if sc is not None else frozenset()
        for kf in self.known_failures:
            if kf.matches(cell_id, tags):
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

    def __init__(self, label: str, loader: yaml.SafeLoader, write_goldens: bool = False):
        self.label = label
        self.loader = loader
        self.problems: list[Problem] = []
        self.write_goldens = write_goldens  # templated goldens: write, not complain
        self.written: list[str] = []

    def err(self, node: yaml.Node | int, message: str, file: str | None = None) -> None:
        """A problem at node (in the file it was composed from, see
        _compose) or at a line of file (default: the matrix)."""
        if isinstance(node, int):
            self.problems.append(Problem(file or self.label, node, message))
            return
        name = node.start_mark.name
        self.problems.append(Problem(name if not name.startswith("<") else self.label,
                                     node.start_mark.line + 1, message))

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


def scenario_files(path: str | os.PathLike) -> list[Path]:
    """The protocols/<id>/scenarios.yaml files beside a matrix file, sorted
    (what, with the matrix, decides the cells: merge's matrix_hash)."""
    return sorted(Path(path).resolve().parent.glob(SCENARIOS_FILE.format(protocol="*")))


class _Named(io.StringIO):
    """Text whose YAML marks carry the file's label (both parsers take a
    stream's name), so a node says which file it came from."""

    def __init__(self, text: str, name: str):
        super().__init__(text)
        self.name = name


def _compose(path: Path, label: str) -> tuple[yaml.Node, yaml.SafeLoader]:
    """The file's node tree and its loader (dispose it when done). Raises
    ConfigError for a file that cannot be read, is not YAML or is empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([Problem(label, 1, f"cannot read: {e}")]) from None
    # libyaml's parser when present (much faster on a big matrix); both
    # keep line marks on every node.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(_Named(text, label))
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        loader.dispose()
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        msg = " ".join(x for x in (e.context, e.problem) if x)
        raise ConfigError([Problem(label, line, f"YAML syntax error: {msg}")]) from None
    except yaml.YAMLError as e:
        loader.dispose()
        raise ConfigError([Problem(label, 1, f"YAML error: {e}")]) from None
    if node is None:
        loader.dispose()
        raise ConfigError([Problem(label, 1, "the file is empty")])
    return node, loader


def load(path: str | os.PathLike, root: str | os.PathLike | None = None,
         write_goldens: list[str] | None = None) -> Matrix:
    """Returns the validated matrix. Raises ConfigError listing every problem
    as file:line: message. root defaults to the matrix file's directory.
    write_goldens: a list to which the golden transcripts of templated
    scenarios that were missing or differed from their template are
    appended (repository-relative) after writing them, instead of
    reporting them (validate --write-goldens)."""
    path = Path(path)
    root_path = Path(root) if root is not None else path.resolve().parent
    label = _label(path, root_path) if root is not None else path.name
    node, loader = _compose(path, label)
    w = _Walker(label, loader, write_goldens is not None)
    try:
        m = _build(w, node, path, root_path)
    finally:
        loader.dispose()
    if write_goldens is not None:
        write_goldens.extend(w.written)
    if w.problems:
        raise ConfigError(_dedupe(w.problems, label))
    assert m is not None
    return m


def _dedupe(problems: list[Problem], label: str) -> list[Problem]:
    """Sorted by file (the matrix first) and line; a problem in a template
    is reported once, not once per protocol that applies it."""
    seen = set()
    out = []
    for p in problems:
        key = (p.file, p.line, re.sub(r"^scenario [^ :]+: ", "", p.message))
        if key not in seen:
            seen.add(key)
            out.append(p)
    return sorted(out, key=lambda p: (p.file != label, p.file, p.line))


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
    templates = _templates(w, top["robustness"][1]) if "robustness" in top else {}
    protocols: dict[str, Protocol] = {}
    if "protocols" in top:
        protocols = _protocols(w, top["protocols"][1], root, defaults, peers, templates)
    _check_peer_protocols(w, peers, protocols, root)
    kfs: tuple[KnownFailure, ...] = ()
    if "known_failures" in top:
        kfs = _known_failures(w, top["known_failures"][1])
    m = Matrix(path, root, version, defaults, peers, protocols, kfs)
    if not w.problems:
        ids = [(c.id, scenario_tags(c.scenario)) for c in expand(m, modes=modelib.ALL)]
        # The cells an entry can match, by protocol and scenario: checking
        # every entry against every cell of every mode cost ~0.3 s a load.
        by_scenario: dict[str, list[tuple[str, frozenset[str]]]] = {}
        by_protocol: dict[str, list[tuple[str, frozenset[str]]]] = {}
        for i, t in ids:
            first, second = i.split("/")[:2]
            by_scenario.setdefault(second, []).append((i, t))
            by_protocol.setdefault(first, []).append((i, t))
        for kf in kfs:
            first = kf.pattern.split("/")[0]
            among = ids if any(c in first for c in "*?[") else by_protocol.get(first, [])
            if not any(kf.matches(i, t) for i, t in among):
                also = "".join((f" with scenario {list(kf.scenarios)}" if kf.scenarios else "",
                                f" with tag {kf.tag}" if kf.tag else ""))
                w.err(kf.line, f"known failure {kf.pattern!r}{also} matches no cell")
            # a scenario it names must match through one of its entry's patterns
            entry = [k for k in kfs if k.entry == kf.entry]
            if kf is not entry[0]:
                continue
            for name in kf.scenarios or ():
                if not any(k.matches(i, t) for k in entry for i, t in by_scenario.get(name, ())):
                    w.err(kf.line, f"known failure {kf.pattern!r}: scenario {name!r} "
                                   "matches no cell")
        for proto in protocols.values():
            for sc in proto.scenarios.values():
                if not any(c.scenario is sc for c in expand_scenario(m, proto, sc)):
                    w.err(sc.line, f"scenario {proto.name}/{sc.name} has no cells "
                                   "(no server or no client takes part)", file=sc.file or None)
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
               peers: dict[str, Peer], templates: dict[str, "_Template"]) -> dict[str, Protocol]:
    """The `protocols:` mapping (id -> keys), or a list of ids whose keys
    are all in protocols/<id>/scenarios.yaml."""
    entries: list[tuple[str, yaml.Node, yaml.Node | None]] = []
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            name = w.string(item, "protocols item")
            if name is not None and any(name == e[0] for e in entries):
                w.err(item, f"protocols: {name!r} is listed twice")
            elif name is not None:
                entries.append((name, item, None))
    else:
        m = w.mapping(node, "protocols")
        entries = [(name, knode, vnode) for name, (knode, vnode) in (m or {}).items()]
    out: dict[str, Protocol] = {}
    loaders: list[yaml.SafeLoader] = []
    try:
        for name, knode, vnode in entries:
            if not NAME_RE.match(name):
                w.err(knode, f"protocol id {name!r} must be lowercase letters, digits, '-', "
                             "'_', '.'")
                continue
            pm = _protocol_keys(w, name, knode, vnode, root, loaders)
            if pm is not None:
                proto = _protocol(w, name, knode, pm, root, defaults, peers, templates)
                if proto is not None:
                    out[name] = proto
    finally:
        for loader in loaders:
            loader.dispose()
    return out


def _protocol_keys(w: _Walker, name: str, knode: yaml.Node, vnode: yaml.Node | None,
                   root: Path, loaders: list) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
    """A protocol's keys: its matrix.yaml entry, and unless that has
    `scenarios:`, protocols/<id>/scenarios.yaml (a key in both is an error)."""
    pm: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    if vnode is not None and not (isinstance(vnode, yaml.ScalarNode)
                                  and vnode.tag.endswith(":null")):
        got = w.mapping(vnode, f"protocol {name}", PROTOCOL_KEYS)
        if got is None:
            return None
        pm = got
    if "scenarios" in pm:
        return pm
    rel = SCENARIOS_FILE.format(protocol=name)
    if not (root / rel).is_file():
        w.err(knode, f"protocol {name}: no scenarios: neither `scenarios:` here nor {rel}")
        return None
    try:
        fnode, loader = _compose(root / rel, rel)
    except ConfigError as e:
        w.problems.extend(e.problems)
        return None
    loaders.append(loader)
    fm = w.mapping(fnode, rel, PROTOCOL_KEYS)
    if fm is None:
        return None
    for key, (fk, fv) in fm.items():
        if key in pm:
            w.err(fk, f"protocol {name}: {key} is given in the matrix too "
                      f"(line {pm[key][0].start_mark.line + 1}): say it once")
        else:
            pm[key] = (fk, fv)
    return pm


def _protocol(w: _Walker, name: str, knode: yaml.Node, pm: dict, root: Path,
              defaults: Defaults, peers: dict[str, Peer],
              templates: dict[str, "_Template"]) -> Protocol | None:
    if "scenarios" not in pm:
        w.err(knode, f"protocol {name}: missing required key 'scenarios'")
    transport = "tcp"  # unless it says udp
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
    values = _values(w, name, pm["robustness"], templates) if "robustness" in pm else None
    scenarios: dict[str, Scenario] = {}
    if "scenarios" in pm:
        sm = w.mapping(pm["scenarios"][1], f"protocol {name}: scenarios")
        if sm is not None and not sm and values is None:
            w.err(pm["scenarios"][1], f"protocol {name}: no scenarios")
        for sname, sk, sv, tpl in _scenario_order(sm or {}, values, templates):
            if not NAME_RE.match(sname):
                w.err(sk, f"scenario name {sname!r} must be lowercase letters, digits, "
                          "'-', '_', '.'")
                continue
            golden = None
            if tpl is not None:
                sv, golden = _apply(w, tpl, values, sk, sv)
            sc = _scenario(w, name, transport, sname, sk, sv, root, defaults, peers, golden)
            if sc is not None:
                scenarios[sname] = sc
    if "skip_modes" in pm:
        skip = _scenario_modes(w, {"skip_modes": pm["skip_modes"]},
                               f"protocol {name}").get("skip_modes", {})
        scenarios = {k: dataclasses.replace(v, skip_modes={**skip, **v.skip_modes})
                     for k, v in scenarios.items()}
    return Protocol(name, transport, contract, desc, scenarios, knode.start_mark.line + 1)


# --------------------------------------------------------------------------
# Robustness templates


@dataclass
class _Template:
    """A matrix.yaml `robustness:` entry: scenario keys with {placeholders},
    and the text of the golden transcripts it implies."""

    name: str
    knode: yaml.Node
    keys: dict[str, tuple[yaml.Node, yaml.Node]]  # scenario keys only
    default: bool  # applied by every protocol with values, unless it skips it
    transcript: str  # with {placeholders}, below the header lines
    transcript_node: yaml.Node | None  # None: DEFAULT_TRANSCRIPT


@dataclass
class _Values:
    """A protocol's `robustness:` block: what its templated scenarios send
    and expect."""

    protocol: str
    knode: yaml.Node
    nodes: dict[str, tuple[yaml.Node, yaml.Node]]  # request, reply, ...
    wire: str | None  # the reply as a golden turn, when it differs from reply
    skip: frozenset[str]


def _templates(w: _Walker, node: yaml.Node) -> dict[str, _Template]:
    m = w.mapping(node, "robustness")
    out: dict[str, _Template] = {}
    for name, (knode, vnode) in (m or {}).items():
        what = f"robustness template {name}"
        if not NAME_RE.match(name):
            w.err(knode, f"{what}: the name must be lowercase letters, digits, '-', '_', '.'")
            continue
        tm = w.mapping(vnode, what, TEMPLATE_KEYS)
        if tm is None:
            continue
        default = True
        if "default" in tm:
            b = w.boolean(tm["default"][1], f"{what}: default")
            default = True if b is None else b
        text = DEFAULT_TRANSCRIPT
        tnode = tm["transcript"][1] if "transcript" in tm else None
        if tnode is not None:
            text = w.string(tnode, f"{what}: transcript") or DEFAULT_TRANSCRIPT
            for ph in PLACEHOLDER_RE.findall(text):
                if ph not in TRANSCRIPT_PLACEHOLDERS and ph not in transcript.PLACEHOLDERS:
                    w.err(tnode, f"{what}: transcript: unknown placeholder {{{ph}}} (known: "
                                 f"{', '.join('{%s}' % p for p in TRANSCRIPT_PLACEHOLDERS)} "
                                 "and the pattern ones)")
        keys = {k: v for k, v in tm.items() if k in SCENARIO_KEYS}
        out[name] = _Template(name, knode, keys, default, text, tnode)
    return out


def _values(w: _Walker, proto: str, kv: tuple[yaml.Node, yaml.Node],
            templates: dict[str, _Template]) -> _Values | None:
    what = f"protocol {proto}: robustness"
    m = w.mapping(kv[1], what, VALUE_KEYS)
    if m is None:
        return None
    n = len(w.problems)
    for key in ("request", "reply", "hold"):
        if key in m:
            w.bytes_field(m[key][1], f"{what}: {key}")
    if "reply" not in m and "reply_pattern" not in m:
        w.err(kv[0], f"{what}: give reply or reply_pattern")
    if "reply" in m and "reply_pattern" in m:
        w.err(m["reply_pattern"][0], f"{what}: give reply or reply_pattern, not both")
    if "reply_pattern" in m:
        src = w.string(m["reply_pattern"][1], f"{what}: reply_pattern")
        if src is not None:
            try:
                transcript.Pattern(src)
            except transcript.EscapeError as e:
                w.err(m["reply_pattern"][1], f"{what}: reply_pattern: {e}")
    if "reset_after" in m:
        w.integer(m["reset_after"][1], f"{what}: reset_after", 0)
    wire = None
    if "wire" in m:
        wire = w.string(m["wire"][1], f"{what}: wire")
        if wire is not None:
            try:
                turns = transcript.parse(f"# transcript v1 tcp\n< {wire}\n").connections
            except transcript.ParseError as e:
                w.err(m["wire"][1], f"{what}: wire: {e.message}")
            else:
                if sum(len(c) for c in turns) != 1:
                    w.err(m["wire"][1], f"{what}: wire must be one turn")
    skip = set()
    if "skip" in m:
        for tname, tnode in w.string_list(m["skip"][1], f"{what}: skip") or []:
            if tname not in templates:
                w.err(tnode, f"{what}: skip: no robustness template {tname!r} "
                             f"(known: {', '.join(templates) or 'none'})")
            skip.add(tname)
    if len(w.problems) != n:
        return None
    return _Values(proto, kv[0], {k: v for k, v in m.items() if k not in ("wire", "skip")},
                   wire, frozenset(skip))


def _scenario_order(sm: dict, values: _Values | None, templates: dict[str, _Template]):
    """(name, key node, value node, template or None) in order: the
    protocol's scenarios as written, a template they name (to change some
    of its keys) in that place, and the templates they do not name (those
    with default: true that the protocol does not skip) just before the
    next named one that follows them in the templates' order, or last."""
    if values is None:
        return [(name, k, v, None) for name, (k, v) in sm.items()]
    applied = [t for t in templates.values()
               if t.name in sm or t.default and t.name not in values.skip]
    out = []
    pending = [t for t in applied if t.name not in sm]
    for name, (k, v) in sm.items():
        tpl = templates.get(name)
        if tpl is not None:
            before = list(templates).index(name)
            while pending and list(templates).index(pending[0].name) < before:
                t = pending.pop(0)
                out.append((t.name, values.knode, None, t))
        out.append((name, k, v, tpl))
    out.extend((t.name, values.knode, None, t) for t in pending)
    return out


def _substitute_node(w: _Walker, node: yaml.Node, values: _Values, tpl: _Template) -> yaml.Node:
    """node with {request}, {hold}, {reset_after} replaced by the protocol's
    values: a string that is just the placeholder becomes the value's node
    (a list of parts stays a list), one inside a longer string its text."""
    if isinstance(node, yaml.ScalarNode):
        if not node.tag.endswith(":str") or "{" not in node.value:
            return node
        whole = re.fullmatch(r"\{(\w+)\}", node.value)
        if whole and whole.group(1) in PLACEHOLDERS:
            key = whole.group(1)
            if key in values.nodes:
                return values.nodes[key][1]
            if key in ("request", "hold"):  # default: nothing
                return yaml.ScalarNode("tag:yaml.org,2002:str", "", node.start_mark,
                                       node.end_mark, style="'")
            w.err(values.knode, f"protocol {values.protocol}: robustness: template "
                                f"{tpl.name} needs {key}")
            return node

        def text(mo: re.Match) -> str:
            key = mo.group(1)
            v = values.nodes.get(key, (None, None))[1]
            if isinstance(v, yaml.ScalarNode):
                return str(v.value)
            w.err(values.knode, f"protocol {values.protocol}: robustness: template "
                                f"{tpl.name} needs {key} as a single string")
            return mo.group(0)
        names = "|".join(PLACEHOLDERS)
        value = re.sub(r"\{(%s)\}" % names, text, node.value)
        return yaml.ScalarNode(node.tag, value, node.start_mark, node.end_mark, style=node.style)
    if isinstance(node, yaml.SequenceNode):
        return yaml.SequenceNode(node.tag, [_substitute_node(w, x, values, tpl)
                                            for x in node.value],
                                 node.start_mark, node.end_mark, flow_style=node.flow_style)
    if isinstance(node, yaml.MappingNode):
        return yaml.MappingNode(node.tag, [(k, _substitute_node(w, v, values, tpl))
                                           for k, v in node.value],
                                node.start_mark, node.end_mark, flow_style=node.flow_style)
    return node


def _apply(w: _Walker, tpl: _Template, values: _Values, knode: yaml.Node,
           override: yaml.Node | None) -> tuple[yaml.Node, "_Golden | None"]:
    """The scenario mapping node a template makes for a protocol: the
    template's keys with the values put in, the protocol's exchange
    (stdin = request, stdout = reply or stdout_pattern = reply_pattern,
    files) where the template sets none, and the protocol's own keys for
    it (override) replacing the template's (skip_modes: adding to them)."""
    keys = {k: (kn, _substitute_node(w, vn, values, tpl)) for k, (kn, vn) in tpl.keys.items()}
    exchange = {"stdin": "request", "files": "files"}
    reply_from_values = "stdout" not in keys and "stdout_pattern" not in keys
    if reply_from_values:
        exchange.update(stdout="reply", stdout_pattern="reply_pattern")
    for key, value in exchange.items():
        if key not in keys and value in values.nodes:
            vk, vn = values.nodes[value]
            keys[key] = (yaml.ScalarNode("tag:yaml.org,2002:str", key, vk.start_mark,
                                         vk.end_mark), vn)
    own: set[str] = set()
    if override is not None and not (isinstance(override, yaml.ScalarNode)
                                     and override.tag.endswith(":null")):
        om = w.mapping(override, f"scenario {values.protocol}/{tpl.name}")
        for key, (kn, vn) in (om or {}).items():
            if key == "skip_modes" and key in keys and isinstance(vn, yaml.MappingNode) \
                    and isinstance(keys[key][1], yaml.MappingNode):
                # like a protocol's skip_modes: they add to the template's
                vn = yaml.MappingNode(vn.tag, keys[key][1].value + vn.value, vn.start_mark,
                                      vn.end_mark)
            keys[key] = (kn, vn)
            own.add(key)
            if key == "stdout":
                keys.pop("stdout_pattern", None)
            elif key == "stdout_pattern":
                keys.pop("stdout", None)
    mark = override if override is not None else knode
    node = yaml.MappingNode("tag:yaml.org,2002:map", list(keys.values()),
                            mark.start_mark, mark.end_mark)
    golden = None
    if "golden" not in own:
        # wire is the protocol's reply on the wire: for the reply it printed
        wire = values.wire if reply_from_values and not own & {"stdout", "stdout_pattern"} \
            else None
        golden = _Golden(tpl, wire)
    return node, golden


@dataclass
class _Golden:
    """The golden transcript a template implies for one scenario."""

    template: _Template
    wire: str | None  # the protocol's reply turn, if it gave one

    def text(self, proto: str, name: str, transport: str, stdin: bytes,
             stdout: bytes | None, pattern: "transcript.Pattern | None", clients: int) -> str:
        if self.wire is not None:
            reply = self.wire
        elif pattern is not None:
            reply = f'~"{pattern.source}"'
        else:
            reply = f'"{transcript.escape(stdout or b"")}"'
        values = {"protocol": proto, "scenario": name, "request": f'"{transcript.escape(stdin)}"',
                  "reply": reply, "clients": str(clients)}
        lines = [f"# transcript v1 {transport}", f"# {proto}/{name}"]
        if self.template.transcript_node is None:
            lines.append(f"# the judged client (robustness template {self.template.name}, "
                         "matrix.yaml; before steps are not compared)")
        for line in self.template.transcript.splitlines():
            if not stdin and line.strip() == "> {request}":
                continue  # the client sends nothing
            lines.append(PLACEHOLDER_RE.sub(
                lambda mo: values.get(mo.group(1), mo.group(0)), line))
        return "\n".join(lines) + "\n"


def _scenario(w: _Walker, proto: str, transport: str, name: str, knode: yaml.Node,
              node: yaml.Node, root: Path, defaults: Defaults,
              peers: dict[str, Peer], implied: _Golden | None = None) -> Scenario | None:
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
        code = w.integer(m["exit"][1], f"{what}: exit", 0, 255)
        exit_code = code if code is not None else 0
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
    own_server = bool(opt("own_server", w.boolean))
    golden_rel = f"protocols/{proto}/golden/{name}.txt"
    golden_line: yaml.Node = knode
    if "golden" in m:
        g = w.string(m["golden"][1], f"{what}: golden")
        if g is not None:
            golden_rel = g
            golden_line = m["golden"][1]
    golden_path = root / golden_rel
    golden = transcript.Transcript(transport, [[]])
    if implied is not None and len(w.problems) == before:
        text = implied.text(proto, name, transport, stdin, stdout, pattern, clients)
        if not _implied_golden(w, f"{proto}/{name}", implied, golden_line, golden_path,
                               golden_rel, text):
            return None
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
    name_in = knode.start_mark.name
    return Scenario(name, proto, desc, stdin, args, clients, stdout, pattern, exit_code, files,
                    server_stdout, golden_path, golden, timeout, cell_timeout,
                    only["only_clients"], only["only_servers"], knode.start_mark.line + 1,
                    **extra, **mode_keys,
                    file="" if name_in.startswith("<") or name_in == w.label else name_in,
                    own_server=own_server)


def _implied_golden(w: _Walker, what: str, implied: _Golden, where: yaml.Node, path: Path,
                    rel: str, text: str) -> bool:
    """Checks the golden file of a templated scenario against the
    transcript its template implies (turns, not comments), or writes it
    (validate --write-goldens) when missing or different. False when the
    template's transcript itself does not parse."""
    tpl = implied.template
    at = f"robustness template {tpl.name} ({w.label}:{tpl.knode.start_mark.line + 1})"
    try:
        want = transcript.parse(text)
    except transcript.ParseError as e:
        w.err(implied.template.transcript_node or tpl.knode,
              f"scenario {what}: robustness template {tpl.name}: its transcript gives "
              f"{rel} line {e.line}: "
              f"{e.message}")
        return False
    try:
        have = transcript.parse(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, UnicodeDecodeError, transcript.ParseError):
        have = None  # reported by the caller, or rewritten
    if have == want:
        return True
    if w.write_goldens:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        w.written.append(rel)
        return True
    if have is not None:
        got = [transcript.format_turns(c) for c in have.connections]
        exp = [transcript.format_turns(c) for c in want.connections]
        first = next((i for i, (a, b) in enumerate(zip(got[0] if got else [], exp[0]))
                      if a != b), min(len(got[0]) if got else 0, len(exp[0])))
        w.err(1, f"scenario {what}: not the transcript {at} gives: turn {first + 1} is "
                 f"{(got[0][first:first + 1] or ['missing'])[0]!r}, the template's "
                 f"{(exp[0][first:first + 1] or ['missing'])[0]!r} "
                 "(python3 -m harness validate --write-goldens rewrites it)", file=rel)
        return True
    if not path.is_file():
        w.err(where, f"scenario {what}: golden transcript {rel} does not exist: python3 -m "
                     f"harness validate --write-goldens writes it from {at}")
        return False
    return True


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
                    rel = substitute(word, {"protocol": proto.name, "package": proto.package})
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
    out: list[KnownFailure] = []
    for entry, item in enumerate(node.value):
        m = w.mapping(item, "known failure", KNOWN_FAILURE_KEYS, ("cell", "reason"))
        if m is None or "cell" not in m or "reason" not in m:
            continue
        # a pattern, or a list of them: one cause seen in several places
        cnode = m["cell"][1]
        pats: list[tuple[str, yaml.Node]] | None
        if isinstance(cnode, yaml.ScalarNode):
            one = w.string(cnode, "known failure: cell")
            pats = None if one is None else [(one, cnode)]
        else:
            pats = w.string_list(cnode, "known failure: cell")
            if pats == []:
                w.err(cnode, "known failure: cell must not be an empty list")
        reason = w.string(m["reason"][1], "known failure: reason")
        if not pats or reason is None:
            continue
        if not reason.strip():
            w.err(m["reason"][1], "known failure: reason must not be empty")
            continue
        bad = False
        for pat, pnode in pats:
            parts = pat.split("/")
            if len(parts) != 5 or not all(parts):
                w.err(pnode, f"known failure: cell pattern {pat!r} must have 5 parts: "
                             "protocol/scenario/server/client/mode")
                bad = True
            elif pat.count("[") != pat.count("]"):
                w.err(pnode, f"known failure: cell pattern {pat!r} has unbalanced brackets")
                bad = True
        if bad:
            continue
        names = None
        if "scenario" in m:
            node = m["scenario"][1]
            lst = [(w.string(node, "known failure: scenario"), node)] \
                if isinstance(node, yaml.ScalarNode) else \
                w.string_list(node, "known failure: scenario") or []
            names = tuple(n for n, _ in lst if n is not None)
            if not names:
                continue
        tag = None
        if "tag" in m:
            tag = w.string(m["tag"][1], "known failure: tag")
            if tag is not None and tag not in TAGS:
                w.err(m["tag"][1], f"known failure: unknown tag {tag!r} (known: "
                                   f"{', '.join(TAGS)})")
                continue
        # one KnownFailure per pattern, in the list's order: each must match
        # a cell, and a report names the one that matched
        out.extend(KnownFailure(pat, reason.strip(), pnode.start_mark.line + 1, names, tag,
                                entry) for pat, pnode in pats)
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


def expand_scenario(m: Matrix, proto: Protocol, sc: Scenario,
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
            cells.extend(expand_scenario(m, proto, sc, named, modes=modes))
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


def substitute(word: str, values: dict[str, str]) -> str | None:
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
