"""Transcripts: what crossed the wire, as text (docs/transcripts.md, v1).

The escape syntax here is shared with matrix.yaml's byte-valued fields, so a
byte written in a scenario and a byte in a golden file read the same way.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

CLIENT = ">"
SERVER = "<"
DATA = "data"
EOF = "EOF"
RST = "RST"

HEADER_RE = re.compile(r"#\s*transcript\s+v(\d+)\s+(\S+)\s*$")
CONNECTION_RE = re.compile(r"#\s*connection\s+(\d+)\s*$")

_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_HMS = r"[0-2][0-9]:[0-5][0-9]:[0-6][0-9]"

# Each placeholder as a regex over the *escaped* form of a turn. Patterns
# are only asked whether they match (fullmatch, search), never what a
# placeholder took, so {any} is greedy: sre runs `.*` over a 1 MB turn at
# once, where `.*?` tries the rest of the pattern after every character
# (36 ms a MB).
PLACEHOLDERS: dict[str, str] = {
    "ctime": rf"(?:{_DAYS}) (?:{_MONTHS}) (?: [1-9]|[12][0-9]|3[01]) {_HMS} [0-9]{{4}}",
    "javadate": rf"(?:{_DAYS}) (?:{_MONTHS}) (?:0[1-9]|[12][0-9]|3[01]) {_HMS} "
                r"[A-Za-z][A-Za-z0-9:+\-]* [0-9]{4}",
    "int": r"[+-]?[0-9]+",
    "any": r".*",
}

_SIMPLE_ESCAPES = {"n": 0x0A, "r": 0x0D, "t": 0x09, "\\": 0x5C, '"': 0x22}
_HEX = "0123456789abcdefABCDEF"


def _build_escape_table() -> list[str]:
    table = []
    for b in range(256):
        if b == 0x0A:
            table.append("\\n")
        elif b == 0x0D:
            table.append("\\r")
        elif b == 0x09:
            table.append("\\t")
        elif b == 0x22:
            table.append('\\"')
        elif b == 0x5C:
            table.append("\\\\")
        elif 0x20 <= b <= 0x7E:
            table.append(chr(b))
        else:
            table.append(f"\\x{b:02x}")
    return table


_ESCAPE_TABLE = _build_escape_table()
_PLAIN_BYTES = bytes(b for b in range(256) if _ESCAPE_TABLE[b] == chr(b))


def escape(data: bytes) -> str:
    """Returns the canonical escaped text of data (no surrounding quotes).
    A long run of plain bytes is decoded whole and only the few bytes that
    need an escape go through the table: a recorded 1 MB line with one
    newline costs a few ms, not the ~0.1 s of a lookup per byte (or of a
    regex over it: sre's byte classes are as slow)."""
    special = data.translate(None, _PLAIN_BYTES)
    if not special:
        return data.decode("ascii")
    table = _ESCAPE_TABLE
    if len(special) * 8 > len(data):
        return "".join([table[b] for b in data])
    at = []
    for b in set(special):
        i = data.find(b)
        while i >= 0:
            at.append(i)
            i = data.find(b, i + 1)
    at.sort()
    out = []
    pos = 0
    for i in at:
        out.append(data[pos:i].decode("ascii"))
        out.append(table[data[i]])
        pos = i + 1
    out.append(data[pos:].decode("ascii"))
    return "".join(out)


class EscapeError(ValueError):
    """A malformed escape; .column is 1-based within the text."""

    def __init__(self, message: str, column: int):
        super().__init__(message)
        self.column = column


def unescape(text: str) -> bytes:
    """Returns the bytes text stands for: escapes \\n \\r \\t \\\\ \\" \\xHH,
    every other character its UTF-8. Raises EscapeError on a bad escape."""
    if "\\" not in text:
        return text.encode("utf-8")
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c != "\\":
            j = text.find("\\", i)
            if j < 0:
                j = n
            out += text[i:j].encode("utf-8")
            i = j
            continue
        if i + 1 >= n:
            raise EscapeError("backslash at the end of the text", i + 1)
        e = text[i + 1]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e == "x":
            h = text[i + 2:i + 4]
            if len(h) != 2 or h[0] not in _HEX or h[1] not in _HEX:
                raise EscapeError(f"\\x needs two hex digits, got {text[i:i + 4]!r}", i + 1)
            out.append(int(h, 16))
            i += 4
        else:
            raise EscapeError(f"unknown escape \\{e}", i + 1)
    return bytes(out)


class Pattern:
    """A `~"..."` matcher: literal text plus {placeholders}, matched against
    the escaped form of a recorded turn (or of a client's stdout)."""

    __slots__ = ("source", "regex")

    def __init__(self, source: str):
        self.source = source
        self.regex = re.compile(_pattern_regex(source), re.DOTALL)

    def matches(self, data: bytes) -> bool:
        return self.regex.fullmatch(escape(data)) is not None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pattern) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)

    def __repr__(self) -> str:
        return f"Pattern({self.source!r})"


def pattern_pieces(source: str) -> list[tuple[bool, str]]:
    """Splits a pattern's source into pieces in order: (True, a
    placeholder's name) or (False, a literal run, still escaped for
    unescape()). Raises EscapeError for a backslash at the end or an
    unknown/unterminated placeholder."""
    pieces: list[tuple[bool, str]] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            pieces.append((False, "".join(literal)))
            literal.clear()

    i = 0
    n = len(source)
    while i < n:
        c = source[i]
        if c == "\\" and i + 1 < n and source[i + 1] == "{":
            literal.append("{")
            i += 2
        elif c == "\\":
            # Keep the escape for unescape(); \xHH takes two more characters.
            width = 4 if i + 1 < n and source[i + 1] == "x" else 2
            literal.append(source[i:i + width])
            if i + 1 >= n:
                raise EscapeError("backslash at the end of the pattern", i + 1)
            i += width
        elif c == "{":
            end = source.find("}", i)
            if end < 0:
                raise EscapeError("unterminated placeholder (write a literal { as \\{)", i + 1)
            name = source[i + 1:end]
            if name not in PLACEHOLDERS:
                known = ", ".join("{%s}" % k for k in PLACEHOLDERS)
                raise EscapeError(f"unknown placeholder {{{name}}} (known: {known})", i + 1)
            flush()
            pieces.append((True, name))
            i = end + 1
        else:
            literal.append(c)
            i += 1
    flush()
    return pieces


def _pattern_regex(source: str) -> str:
    """Returns the regex for a pattern's source. Raises EscapeError for a bad
    escape or an unknown/unterminated placeholder."""
    pieces = pattern_pieces(source)
    parts: list[str] = []
    for k, (placeholder, text) in enumerate(pieces):
        if placeholder:
            parts.append(PLACEHOLDERS[text])
            continue
        try:
            parts.append(re.escape(escape(unescape(text))))
        except EscapeError as e:
            if k < len(pieces) - 1:
                raise
            raise EscapeError(str(e), 1) from None
    return "".join(parts)


def literal_as_pattern_source(data: bytes) -> str:
    """Returns pattern source that matches exactly data."""
    return escape(data).replace("{", "\\{")


@dataclass(frozen=True)
class Turn:
    """One data turn or close event. A golden data turn may be a pattern."""

    direction: str  # CLIENT or SERVER
    kind: str  # DATA, EOF or RST
    data: bytes = b""
    pattern: Pattern | None = None

    def matches(self, other: "Turn") -> bool:
        """True if the recorded turn `other` satisfies this (golden) turn."""
        if self.direction != other.direction or self.kind != other.kind:
            return False
        if self.kind != DATA:
            return True
        if self.pattern is not None:
            return self.pattern.matches(other.data)
        return self.data == other.data

    def text(self) -> str:
        if self.kind != DATA:
            return f"{self.direction} {self.kind}"
        if self.pattern is not None:
            return f'{self.direction} ~"{self.pattern.source}"'
        return f'{self.direction} "{escape(self.data)}"'


@dataclass
class Transcript:
    """A recording or a golden: one list of turns per connection."""

    transport: str = "tcp"
    connections: list[list[Turn]] = field(default_factory=list)


def merge_turns(a: Turn, b: Turn) -> Turn:
    if a.pattern is None and b.pattern is None:
        return Turn(a.direction, DATA, a.data + b.data)
    sa = a.pattern.source if a.pattern is not None else literal_as_pattern_source(a.data)
    sb = b.pattern.source if b.pattern is not None else literal_as_pattern_source(b.data)
    return Turn(a.direction, DATA, pattern=Pattern(sa + sb))


_CLOSE_ORDER = {(CLIENT, EOF): 0, (CLIENT, RST): 1, (SERVER, EOF): 2, (SERVER, RST): 3}


def canonical(turns: list[Turn], transport: str) -> list[Turn]:
    """Returns the turns as compared: for TCP consecutive data in one
    direction merged (chunking never matters); close events last, in the
    order > EOF, > RST, < EOF, < RST, each at most once."""
    data: list[Turn] = []
    closes: set[tuple[str, str]] = set()
    for t in turns:
        if t.kind == DATA:
            if (transport == "tcp" and data and data[-1].direction == t.direction):
                data[-1] = merge_turns(data[-1], t)
            else:
                data.append(t)
        else:
            closes.add((t.direction, t.kind))
    data.extend(Turn(d, k) for d, k in sorted(closes, key=_CLOSE_ORDER.__getitem__))
    return data


def format_turns(turns: list[Turn]) -> list[str]:
    return [t.text() for t in turns]


def format_transcript(t: Transcript, comments: list[str] | None = None) -> str:
    """Returns the text form: header, optional comments, then the turns; with
    several connections, one `# connection K` section each."""
    lines = [f"# transcript v1 {t.transport}"]
    for c in comments or []:
        lines.append(f"# {c}")
    if len(t.connections) == 1:
        lines.extend(format_turns(t.connections[0]))
    else:
        for k, turns in enumerate(t.connections, 1):
            lines.append(f"# connection {k}")
            lines.extend(format_turns(turns))
    return "\n".join(lines) + "\n"


class ParseError(ValueError):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def _parse_quoted(s: str, lineno: int) -> tuple[str, str]:
    """Returns (text between the quotes, rest) for s starting with a quote."""
    i = 1
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return s[1:i], s[i + 1:]
        i += 1
    raise ParseError(lineno, "unterminated string (missing closing \")")


def parse(text: str, allow_patterns: bool = True) -> Transcript:
    """Returns the transcript in text (turns as written, not canonicalised).
    Raises ParseError with a 1-based line number."""
    tr = Transcript()
    current: list[Turn] | None = None
    seen_header = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.startswith("#"):
            m = HEADER_RE.match(line)
            if m:
                if m.group(1) != "1":
                    raise ParseError(lineno, f"unsupported transcript version v{m.group(1)}")
                if m.group(2) not in ("tcp", "udp"):
                    raise ParseError(lineno, f"unknown transport {m.group(2)!r} (tcp or udp)")
                if seen_header:
                    raise ParseError(lineno, "second transcript header")
                tr.transport = m.group(2)
                seen_header = True
                continue
            if CONNECTION_RE.match(line):
                current = []
                tr.connections.append(current)
            continue
        if line[0] not in (CLIENT, SERVER) or len(line) < 3 or line[1] != " ":
            raise ParseError(lineno, "a turn starts with '> ' or '< '")
        direction = line[0]
        rest = line[2:]
        if current is None:
            current = []
            tr.connections.append(current)
        if rest in (EOF, RST):
            current.append(Turn(direction, rest))
            continue
        is_pattern = rest.startswith('~"')
        if is_pattern:
            if not allow_patterns:
                raise ParseError(lineno, "patterns are allowed in golden files only")
            rest = rest[1:]
        if not rest.startswith('"'):
            raise ParseError(lineno, 'expected a quoted string, ~"pattern", EOF or RST')
        body, tail = _parse_quoted(rest, lineno)
        if tail.strip():
            raise ParseError(lineno, f"unexpected text after the string: {tail.strip()!r}")
        try:
            if is_pattern:
                current.append(Turn(direction, DATA, pattern=Pattern(body)))
            else:
                current.append(Turn(direction, DATA, unescape(body)))
        except EscapeError as e:
            raise ParseError(lineno, f"column {e.column + 3 + is_pattern}: {e}") from None
    if not tr.connections:
        tr.connections.append([])
    return tr


@dataclass(frozen=True)
class Comparison:
    """Outcome of comparing a recording with a golden."""

    equal: bool
    turn: int | None = None  # first differing turn, 1-based
    connection: int | None = None  # 1-based connection that differs
    diff: str = ""

    @property
    def summary(self) -> str:
        if self.equal:
            return "transcript matches the golden"
        where = f"turn {self.turn}"
        if self.connection is not None:
            where += f" (connection {self.connection})"
        return f"transcript differs from the golden at {where}"


def compare_turns(golden: list[Turn], recorded: list[Turn], transport: str,
                  golden_name: str = "golden", recorded_name: str = "recorded") -> Comparison:
    """Compares canonical forms turn by turn; returns the first differing turn
    and a unified diff in which matched patterns show as the recorded text."""
    g = canonical(golden, transport)
    r = canonical(recorded, transport)
    first: int | None = None
    shown: list[str] = []
    for i in range(max(len(g), len(r))):
        gt = g[i] if i < len(g) else None
        rt = r[i] if i < len(r) else None
        if gt is not None and rt is not None and gt.matches(rt):
            shown.append(rt.text())
            continue
        if first is None:
            first = i + 1
        if gt is not None:
            shown.append(gt.text())
    if first is None:
        return Comparison(True)
    diff = "\n".join(difflib.unified_diff(shown, format_turns(r), golden_name,
                                          recorded_name, lineterm=""))
    return Comparison(False, first, None, diff + "\n")


def compare(golden: Transcript, recorded: Transcript, golden_name: str = "golden") -> Comparison:
    """Compares every recorded connection with the golden's single section;
    reports the first connection that differs."""
    gturns = golden.connections[0] if golden.connections else []
    conns = recorded.connections or [[]]
    for k, turns in enumerate(conns, 1):
        name = "recorded" if len(conns) == 1 else f"recorded connection {k}"
        c = compare_turns(gturns, turns, recorded.transport, golden_name, name)
        if not c.equal:
            return Comparison(False, c.turn, k if len(conns) > 1 else None, c.diff)
    return Comparison(True)
