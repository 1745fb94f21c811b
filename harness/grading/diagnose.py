"""Naming a student's bugs from the evidence of their failing cells. Pure:
reads CellResults, never runs anything.

Each failing cell is explained by at most one named bug of CATALOGUE (the
ids are an interface: tests/zoo's manifest and check.json use them). The
rules read, in order: the runner's reasons (bound to loopback only,
listening on another port), whether the student's client reached the relay
at all, how the server ended, the mode in which the cell failed while the
same pairing passed in plain mode, the bytes the student put on the wire
or printed compared with the contract, and the robustness scenario that
broke. A cell no rule explains is "unmatched" and gets plain feedback
instead: what was sent, what the contract expected, what came back.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass, field

from harness.grading import diagnose_smtp, wordiff
from harness.judge import verdict
from harness.run import netns
from harness.spec import modes, transcript
from harness.spec.transcript import CLIENT, DATA, EOF, RST, SERVER, Pattern

# id -> (role, plain words for the student, how to fix it)
CATALOGUE: dict[str, tuple[str, str, str]] = {
    "one-recv-server": (
        "server",
        "your server answered before the whole request arrived: it assumes one recv() "
        "returns one message",
        "keep reading (append to a buffer) until the delimiter (\\n) or EOF the contract "
        "names, then answer"),
    "utf8-split": (
        "either",
        "your program decodes each recv() chunk as UTF-8 on its own: a character whose bytes "
        "arrive in two reads cannot be decoded (UnicodeDecodeError, or U+FFFD in its place)",
        "collect the bytes until the delimiter (\\n) or EOF, then decode the whole message "
        "once (or use codecs.getincrementaldecoder('utf-8')); in Java read through one "
        "InputStreamReader, never new String() per chunk"),
    "one-recv-client": (
        "client",
        "your client stopped reading before the whole reply arrived: it assumes one recv() "
        "returns the whole reply",
        "read in a loop until the reply's delimiter or until recv() returns b'' (EOF)"),
    "no-newline": (
        "either",
        "the reply (or request) has no trailing newline",
        "end every line you send with \\n, as the contract says"),
    "crlf": (
        "either",
        "lines end with \\r\\n, but the contract ends them with \\n",
        "send \\n only (Java: print(...+\"\\n\") instead of println on Windows-style "
        "writers; no \\r in format strings)"),
    "loopback-only": (
        "server",
        "your server is bound to 127.0.0.1 only: a client on another host cannot reach it "
        "(bind to all interfaces)",
        "bind to '' / 0.0.0.0 (or :: for IPv6 too), not to 'localhost' or 127.0.0.1"),
    "charset": (
        "either",
        "the default charset turned 'é' into '?': name the encoding (UTF-8) explicitly",
        "Java: new InputStreamReader(in, StandardCharsets.UTF_8), "
        "getBytes(StandardCharsets.UTF_8); Python: .encode('utf-8')/.decode('utf-8')"),
    "single-client": (
        "server",
        "your server stopped after the first client: accept in a loop",
        "put accept() and the handling of one client in a loop that runs until the server "
        "is killed"),
    "one-at-a-time": (
        "server",
        "your server serves one client at a time: a client that stays connected blocks "
        "everyone else",
        "serve each connection in its own thread/process, or with select/poll"),
    "bytes-repr": (
        "either",
        "Python's b'...' notation leaked onto the wire: you sent str(bytes) instead of the "
        "bytes",
        "send the bytes themselves (sock.sendall(data)); print with "
        "sys.stdout.buffer.write(data) or data.decode()"),
    "extra-output": (
        "client",
        "your client printed more than the reply (labels/prompts belong on stderr)",
        "print exactly the reply on stdout; write prompts and labels to stderr"),
    "wrong-port": (
        "either",
        "your program ignores the port it was given",
        "take the port from argv (server PORT, client HOST PORT) instead of a fixed number"),
    "crash-on-bad-input": (
        "server",
        "your server crashed on a malformed request instead of answering with an error",
        "catch the parse/decode error (and connection resets), answer the contract's ERRO "
        "reply and keep serving"),
    "never-closes": (
        "server",
        "your server never closed the connection, so the client waits forever",
        "after the reply (or after the client's EOF), shutdown(SHUT_WR) and close() the "
        "connection; a fork() server must also close() the connected socket in the parent, "
        "or the client never sees EOF"),
    "unflushed-output": (
        "either",
        "your program's output was still in a buffer when it ended (or was stopped): it "
        "never reached stdout",
        "flush after writing (C: fflush(stdout) or setvbuf; Java: flush() or close() the "
        "BufferedWriter/PrintWriter; Python: print(..., flush=True))"),
    "ipv4-only": (
        "either",
        "your program speaks IPv4 only: it cannot use ::1",
        "use getaddrinfo (Python: socket.create_connection((host, port))) instead of a "
        "fixed AF_INET socket"),
}

CATALOGUE.update(diagnose_smtp.CATALOGUE)  # the SMTP lab's bugs

FAILING = (verdict.FAIL, verdict.ERROR)
OK = (verdict.PASS, verdict.XFAIL, verdict.XPASS, verdict.DEVIATES)
SEGMENTING = ("segment", "coalesce")
# What a crash leaves on stderr (Python, Java) when the process lives on.
CRASH_MARKERS = (b"Traceback (most recent call last)", b"Exception in thread")
# What a resource limit of the sandbox leaves on stderr, and the signals
# the kernel sends when one is reached.
LIMIT_MARKERS = (b"File too large", b"Resource temporarily unavailable", b"MemoryError",
                 b"Cannot allocate memory", b"Too many open files", b"can't start new thread",
                 b"OutOfMemoryError", b"unable to create native thread", b"Disk quota exceeded")
LIMIT_SIGNALS = {signal.SIGXFSZ: "the file size limit (File too large)",
                 signal.SIGXCPU: "the CPU time limit"}
# What a split UTF-8 character leaves on stderr (Python, Java).
DECODE_MARKERS = (b"UnicodeDecodeError", b"MalformedInputException")
# Lines a runtime prints about itself, never about the program: the JVM's
# "Picked up JDK_JAVA_OPTIONS: ..." (also JAVA_TOOL_OPTIONS, _JAVA_OPTIONS).
RUNTIME_NOISE = re.compile(rb"^(NOTE: )?Picked up [A-Z_]*JAVA[A-Z_]*OPTIONS:.*$\n?", re.M)
# Arguments of the raw client's steps that send what no good client sends.
BAD_INPUT_STEP_ARGS = ("--reset-after", "--half-close-first")


@dataclass
class Bug:
    id: str
    role: str  # server or client: the student's program at fault
    words: str
    evidence: list[str] = field(default_factory=list)  # cell ids
    details: list[str] = field(default_factory=list)  # 1-2 lines in plain words

    def as_json(self) -> dict:
        return {"id": self.id, "role": self.role, "words": self.words,
                "evidence": self.evidence, "details": self.details}


@dataclass
class Unmatched:
    """A failing cell no rule explains, with feedback for the student."""

    cell: str
    role: str
    reason: str
    sent: str = ""
    expected: str = ""
    got: str = ""
    same_as: list[str] = field(default_factory=list)  # more cells failing the same way
    words: list[str] = field(default_factory=list)  # the difference in words (wordiff)


@dataclass
class Diagnosis:
    bugs: list[Bug]
    unmatched: list[Unmatched]


# --------------------------------------------------------------------------
# Expected bytes: a literal or a pattern, with the transformations the
# rules try (a newline added, \r\n -> \n, non-ASCII -> '?').


class Expect:
    def __init__(self, data: bytes | None = None, pattern: Pattern | None = None):
        self.data = data
        self.pattern = pattern

    @staticmethod
    def of_turns(turns: list[transcript.Turn], direction: str) -> "Expect":
        """All data one direction carries in a golden, as one expectation."""
        ts = [t for t in turns if t.kind == DATA and t.direction == direction]
        if not ts:
            return Expect(b"")
        merged = ts[0]
        for t in ts[1:]:
            merged = transcript.merge_turns(merged, t)
        return Expect(merged.data if merged.pattern is None else None, merged.pattern)

    def matches(self, b: bytes) -> bool:
        if self.pattern is not None:
            return self.pattern.matches(b)
        return self.data == b

    def found_in(self, b: bytes) -> bool:
        if self.pattern is not None:
            return self.pattern.regex.search(transcript.escape(b)) is not None
        return bool(self.data) and self.data in b

    def count(self, needle: bytes) -> int:
        if self.pattern is not None:
            return self.pattern.source.count(transcript.escape(needle))
        return (self.data or b"").count(needle)

    def mapped(self, f) -> "Expect":
        """The expectation with f applied to its literal bytes."""
        if self.pattern is None:
            return Expect(f(self.data or b""))
        return Expect(pattern=Pattern(_map_pattern(self.pattern.source, f)))

    def text(self) -> str:
        if self.pattern is not None:
            return f'~"{self.pattern.source}"'
        return f'"{transcript.escape(self.data or b"")}"'


def _map_pattern(source: str, f) -> str:
    """A pattern source with f applied to each literal run (placeholders kept)."""
    return "".join("{%s}" % text if placeholder else
                   transcript.literal_as_pattern_source(f(transcript.unescape(text)))
                   for placeholder, text in transcript.pattern_pieces(source))


def _non_ascii(repl: bytes):
    def f(b: bytes) -> bytes:
        s = b.decode("utf-8", "surrogateescape")
        return "".join(c if ord(c) < 128 else "\x00" for c in s).encode().replace(b"\x00", repl)
    return f


def _latin1(b: bytes) -> bytes:
    return b.decode("utf-8", "replace").encode("latin-1", "replace")


def _mojibake(b: bytes) -> bytes:
    return b.decode("latin-1").encode("utf-8")


CHARSET_VARIANTS = (_non_ascii(b"?"), _non_ascii("\ufffd".encode()), _non_ascii(b"??"),
                    _latin1, _mojibake)


def _has_non_ascii(e: Expect) -> bool:
    if e.pattern is not None:
        return "\\x" in e.pattern.source and re.search(r"\\x[89a-f][0-9a-f]",
                                                      e.pattern.source) is not None
    return any(b >= 0x80 for b in e.data or b"")


def explain_bytes(exp: Expect, got: bytes, stdout: bool = False) -> str | None:
    """The bug id when got differs from exp in a named way, else None.
    stdout: got is what a client printed (extra-output applies)."""
    if exp.matches(got):
        return None
    if got.count(b"b'") + got.count(b'b"') > exp.count(b"b'") + exp.count(b'b"'):
        return "bytes-repr"
    if b"\r\n" in got and exp.count(b"\r\n") == 0 and exp.matches(got.replace(b"\r\n", b"\n")):
        return "crlf"
    if got and exp.matches(got + b"\n") or exp.pattern is None and exp.data and \
            got.count(b"\n") < exp.data.count(b"\n") and \
            got.replace(b"\n", b"") == exp.data.replace(b"\n", b""):
        return "no-newline"
    if _has_non_ascii(exp) and any(exp.mapped(f).matches(got) for f in CHARSET_VARIANTS):
        return "charset"
    if stdout and got and exp.found_in(got):
        return "extra-output"
    return None


# --------------------------------------------------------------------------
# One cell


def role_of(r, student: str) -> str:
    return "server" if r.cell.server.name == student else "client"


def _judged(r) -> list[list[transcript.Turn]]:
    """The recorded connections of the judged clients (steps' come first)."""
    if r.recorded is None:
        return []
    conns = r.recorded.connections
    return conns[len(r.cell.scenario.before):]


def _data(turns: list[transcript.Turn], direction: str) -> bytes:
    return b"".join(t.data for t in turns if t.kind == DATA and t.direction == direction)


def _closed(turns: list[transcript.Turn], direction: str) -> bool:
    return any(t.kind in (EOF, RST) and t.direction == direction for t in turns)


def bad_input(r) -> bool:
    """Does the cell send what no well-behaved client sends (the raw client,
    a reset or a half-close before the request)?"""
    sc = r.cell.scenario
    return r.cell.client.name == "raw" or any(
        a in BAD_INPUT_STEP_ARGS for s in sc.before for a in s.args)


def _golden_turns(r) -> list[transcript.Turn]:
    g = r.cell.scenario.golden
    return g.connections[0] if g.connections else []


def clean_stderr(stderr: bytes) -> bytes:
    """stderr without the lines a runtime prints about itself (never
    evidence of anything the program did)."""
    return RUNTIME_NOISE.sub(b"", stderr)


def crash_line(stderr: bytes) -> str:
    """The most informative line of a crash on stderr: the last one that is
    not a stack frame. Java prints the exception first and its frames
    (tab-indented "at ...") after it; Python's frames and source lines are
    space-indented and its exception comes last."""
    stderr = clean_stderr(stderr)
    lines = [ln for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    unindented = [ln for ln in lines if not ln[0].isspace()]
    return verdict.tail_line("\n".join(unindented or lines).encode())


def _died(r) -> bool:
    """Did the server's process end on its own with an error, or leave a
    crash on stderr (a thread or handler died while the process lived on)?"""
    sx = r.outcome.server_exit
    return (r.outcome.server_exited_early and sx is not None and
            (sx.signal is not None or bool(sx.code))) or \
        any(mk in r.server_stderr for mk in CRASH_MARKERS)


def unanswered_error(r) -> tuple[bytes, bytes] | None:
    """(request, error reply) when the golden answers a request with the
    contract's error reply (ERRO ...) and the server, having answered all
    before it, closed or reset the connection instead. A malformed request
    whatever the client: the raw client's or a reference client's."""
    golden = _golden_turns(r)
    if _gave_up(r) and not _died(r):
        return None  # a close after a timeout may be the driver's teardown
    for conn in _judged(r)[:3]:
        got = _data(conn, SERVER)
        if not _closed(conn, SERVER) or not (got or _died(r)):
            continue  # no close; or no reply yet and no crash: a server gone away
        at, request = 0, b""
        for t in golden:
            if t.kind != DATA or t.pattern is not None:
                continue
            if t.direction == CLIENT:
                request = t.data
                continue
            if at == len(got) and t.data.startswith(b"ERRO "):
                return request, t.data
            if t.data != got[at:at + len(t.data)]:
                break
            at += len(t.data)
    return None


def _wire_problem(r, role: str) -> tuple[str, str] | None:
    """A named difference in what the student put on the wire or printed."""
    sc = r.cell.scenario
    direction = SERVER if role == "server" else CLIENT
    exp = Expect.of_turns(_golden_turns(r), direction)
    for turns in _judged(r)[:3]:
        got = _data(turns, direction)
        if got or role == "server":
            bug = explain_bytes(exp, got)
            if bug:
                return bug, (f'your {role} sent "{transcript.escape(got[:120])}"; '
                             f"the contract has {exp.text()}")
    want = Expect(sc.stdout) if sc.stdout is not None else \
        Expect(pattern=sc.stdout_pattern) if sc.stdout_pattern is not None else None
    if role == "client" and want is not None:
        for c in r.outcome.clients[:3]:
            bug = explain_bytes(want, c.stdout, stdout=True)
            if bug:
                return bug, (f'your client printed "{transcript.escape(c.stdout[:120])}"; '
                             f"the contract has {want.text()}")
    return None


def _program_stderr(r, role: str) -> bytes:
    """The student's program's stderr, without runtime noise."""
    if role == "server":
        return clean_stderr(r.server_stderr)
    return clean_stderr(b"".join(c.stderr for c in r.outcome.clients))


def _marker_line(err: bytes, markers: tuple[bytes, ...]) -> str | None:
    for ln in err.splitlines():
        if any(mk in ln for mk in markers):
            return ln.decode("utf-8", "replace").strip()[:160]
    return None


def _split_char(r, role: str) -> str | None:
    """Evidence that a UTF-8 character cut between two reads broke the
    program: a decode error on its stderr, or U+FFFD in its bytes where the
    contract has none."""
    line = _marker_line(_program_stderr(r, role), DECODE_MARKERS)
    if line:
        return f"in {r.cell.mode} mode (a character's bytes in two pieces): {line}"
    fffd = "\ufffd".encode()
    direction = SERVER if role == "server" else CLIENT
    exp = Expect.of_turns(_golden_turns(r), direction)
    outs = [_data(t, direction) for t in _judged(r)[:3]]
    if role == "client":
        outs += [c.stdout for c in r.outcome.clients[:3]]
    for got in outs:
        if fffd in got and exp.count(fffd) == 0:
            return (f'in {r.cell.mode} mode your {role} turned a split character into '
                    f'U+FFFD: "{transcript.escape(got[:80])}"')
    return None


def _answered_part(r) -> str | None:
    """Evidence that the server acted on part of a request: a reply that is
    not the contract's and not a beginning of it, a close or reset before
    the whole reply, a crash, or (coalesce) some whole requests answered and
    the rest never. A reply that is only late (a timeout) is no evidence."""
    golden = Expect.of_turns(_golden_turns(r), SERVER)
    for conn in _judged(r)[:3]:
        got = _data(conn, SERVER)
        if golden.matches(got):
            continue
        prefix = golden.pattern is None and (golden.data or b"").startswith(got)
        # Ended, not given up on: every client ended by itself. After a
        # timeout, a close on record may be the driver's teardown.
        closed = not _gave_up(r)
        if got and (not prefix or closed):
            return (f'your server replied "{transcript.escape(got[:60])}" where the '
                    f"contract has {golden.text()[:80]}")
        if not got and closed:
            return "your server closed the connection without a reply"
        if got and prefix and modes.parse(r.cell.mode).kind == "coalesce" and \
                got.endswith(b"\n") and got.count(b"\n") < (golden.data or b"").count(b"\n"):
            return (f"with two requests in one read, your server answered "
                    f'"{transcript.escape(got[:60])}" and never the rest')
    if _died(r):
        return f"your server crashed: {crash_line(r.server_stderr)}"
    return None


def _gave_up(r) -> bool:
    """Did a client (or the cell) time out?"""
    return any(c.timed_out for c in r.outcome.clients) or bool(r.outcome.cell_timeout_s)


def _printed_part(r) -> str | None:
    """Evidence that the client stopped reading early: it ended (no
    timeout) having printed a proper beginning of the reply it was sent
    (or of the contract's stdout)."""
    want = r.cell.scenario.stdout
    conns = _judged(r)
    for k, c in enumerate(r.outcome.clients[:3]):
        if c.timed_out or not c.stdout:
            continue
        out = c.stdout.rstrip(b"\n")
        for whole in (want, _data(conns[k], SERVER) if k < len(conns) else None):
            if whole and out and whole.startswith(out) and len(out) < len(whole.rstrip(b"\n")):
                return (f'your client printed "{transcript.escape(c.stdout[:40])}" of '
                        f'"{transcript.escape(whole[:40])}"')
    return None


def _lost_output(r, role: str) -> str | None:
    """Evidence of output left in a buffer: the whole exchange is on the
    wire as the contract has it, yet the stdout the contract judges is
    empty; the client exited 0 by itself, or the receiver (udp) was stopped
    by the driver without a crash."""
    sc = r.cell.scenario
    golden = _golden_turns(r)
    conns = _judged(r)
    if not conns:
        return None
    if role == "client" and (sc.stdout or sc.stdout_pattern is not None):
        exp = Expect.of_turns(golden, SERVER)
        for k, c in enumerate(r.outcome.clients[:3]):
            if c.timed_out or c.exit is None or c.exit.code != 0 or c.stdout:
                continue
            got = _data(conns[k], SERVER) if k < len(conns) else b""
            if got and exp.matches(got):
                return ("your client received the whole reply and exited 0, but printed "
                        "nothing")
    if role == "server" and sc.server_stdout and not r.server_stdout:
        sx = r.outcome.server_exit
        sent = Expect.of_turns(golden, CLIENT)
        if sx is not None and sx.stopped_by_driver and \
                not any(mk in clean_stderr(r.server_stderr) for mk in CRASH_MARKERS) and \
                all(sent.matches(_data(c, CLIENT)) for c in conns[:1]):
            return ("the datagram arrived, but your receiver had printed nothing when it was "
                    "stopped (SIGTERM)")
    return None


def _no_connection(r) -> bool:
    return r.recorded is not None and not any(_judged(r)) and r.outcome.clients != []


def _charset_hit(r, role: str) -> tuple[str, str] | None:
    """A charset difference in the student's bytes (wire or stdout)."""
    hit = _wire_problem(r, role)
    return hit if hit and hit[0] == "charset" else None


def classify(r, student: str, plain_ok: bool | None,
             plain_connected: bool | None = None) -> tuple[str, str] | None:
    """(bug id, one line of evidence) for a failing cell, or None. Rules
    run specific before general, and each needs evidence that nothing in
    the cell contradicts (docs/teachers.md, "The named bugs"): a timeout
    alone names nothing. plain_ok / plain_connected: did the same pairing
    pass / did the student's client connect, in plain mode."""
    o = r.outcome
    role = role_of(r, student)
    mode = modes.parse(r.cell.mode)
    reason = r.reason
    if r.cell.protocol.name == "smtp":
        hit = diagnose_smtp.classify(r, role)
        if hit:
            return hit
    if "cannot reach it" in reason and "only" in reason:
        return "loopback-only", reason[reason.find("server bound"):] or reason
    if role == "server" and "server not" in reason and "instead)" in reason:
        return "wrong-port", reason
    if "the server never ended its connection" in reason and role == "server":
        return "never-closes", reason
    if role == "client" and _no_connection(r):
        c = o.clients[0]
        err = crash_line(c.stderr)
        if mode.kind == "ipv6" and (plain_connected or plain_ok):
            return "ipv4-only", ("with host ::1 your client never connected, with 127.0.0.1 "
                                 "it did" + (f": {err}" if err else ""))
        if mode.kind != "ipv6" and not c.timed_out and c.exit is not None and \
                c.exit.code not in (None, 0) and not plain_connected:
            return "wrong-port", ("your client never connected to the port it was given"
                                  + (f": {err}" if err else ""))
    if mode.kind in SEGMENTING and plain_ok:
        split = _split_char(r, role)
        if split:
            return "utf8-split", split
    sx = o.server_exit
    if role == "server" and o.server_exited_early and sx is not None and \
            "before binding" not in reason:
        if sx.signal is None and sx.code == 0:
            return "single-client", (f"your server exited (code 0) during {r.cell.scenario.name}"
                                     f" while clients still wanted it")
        if sx.signal is not None or sx.code:
            tail = crash_line(r.server_stderr)
            how = sx.describe()
            if mode.kind in SEGMENTING and plain_ok:
                return "one-recv-server", (f"in {r.cell.mode} mode (the request in pieces) "
                                           f"your server {how}" + (f": {tail}" if tail else ""))
            if bad_input(r) or unanswered_error(r):
                return "crash-on-bad-input", (f"{r.cell.scenario.name}: your server {how}"
                                              + (f": {tail}" if tail else ""))
    if plain_ok:
        if mode.kind in SEGMENTING and role == "server":
            part = _answered_part(r)
            if part:
                return "one-recv-server", (f"passes in plain mode; in {r.cell.mode} mode (the "
                                           f"request in pieces) {part}")
        if mode.kind in SEGMENTING and role == "client" and mode.kind != "coalesce":
            part = _printed_part(r)
            if part:
                return "one-recv-client", (f"passes in plain mode; in {r.cell.mode} mode (the "
                                           f"reply in pieces) {part}")
        if mode.kind == "locale-c":
            hit = _charset_hit(r, role)
            if hit:
                return "charset", "passes with LANG=C.UTF-8; with LC_ALL=C " + hit[1]
    if role == "server" and bad_input(r) and \
            any(mk in clean_stderr(r.server_stderr) for mk in CRASH_MARKERS):
        # A thread (or handler) died on the input while the process lived on.
        tail = crash_line(r.server_stderr)
        return "crash-on-bad-input", f"{r.cell.scenario.name}: your server failed: {tail}"
    bad = unanswered_error(r) if role == "server" else None
    if bad:
        tail = crash_line(r.server_stderr)
        return "crash-on-bad-input", (
            f'{r.cell.scenario.name}: your server closed the connection on '
            f'"{transcript.escape(bad[0][:60])}" instead of answering '
            f'"{transcript.escape(bad[1][:60])}"' + (f": {tail}" if tail else ""))
    lost = _lost_output(r, role)
    if lost:
        return "unflushed-output", lost
    hit = _wire_problem(r, role)
    if hit and (hit[0] != "charset" or mode.kind == "locale-c" or not plain_ok):
        return hit
    conns = _judged(r)
    timed_out = any(c.timed_out for c in o.clients) or o.cell_timeout_s is not None
    if role == "server" and timed_out and conns:
        golden = _golden_turns(r)
        exp = Expect.of_turns(golden, SERVER)
        got = _data(conns[0], SERVER)
        if _closed(golden, SERVER) and not _closed(conns[0], SERVER) and exp.matches(got):
            return "never-closes", (f'the client got the whole reply '
                                    f'"{transcript.escape(got[:80])}" but no EOF: {reason}')
    sc = r.cell.scenario
    if role == "server" and any(s.background for s in sc.before) and not sc.restart and \
            timed_out and not o.server_exited_early:
        # The judged client gave up waiting (its reply may come once the
        # silent client is stopped, too late; and a killed client's
        # buffered stdout is lost, so only the timeout says it).
        return "one-at-a-time", (f"{sc.name}: while another client stayed connected and "
                                 f"silent, your server did not answer: {reason}")
    return None


# --------------------------------------------------------------------------
# All cells of one student


def _pair_key(r) -> tuple[str, str, str]:
    c = r.cell
    return c.scenario.name, c.server.name, c.client.name


def feedback(r, role: str) -> Unmatched:
    """What was sent, what the contract expected, what came back."""
    sc = r.cell.scenario
    o = r.outcome
    sent = transcript.escape(sc.stdin[:200]) + (" ..." if len(sc.stdin) > 200 else "")
    exp = got = ""
    conns = _judged(r)
    golden = _golden_turns(r)
    if conns:
        cmp = transcript.compare_turns(golden, conns[0], r.cell.protocol.transport)
        if not cmp.equal and cmp.turn:
            g = transcript.canonical(golden, r.cell.protocol.transport)
            rec = transcript.canonical(conns[0], r.cell.protocol.transport)
            k = cmp.turn - 1
            exp = f"turn {cmp.turn}: " + (g[k].text() if k < len(g) else "(nothing more)")
            got = f"turn {cmp.turn}: " + (rec[k].text()[:300] if k < len(rec)
                                          else "(nothing: the connection ended)")
    if not exp and o.clients:
        c = o.clients[0]
        if sc.stdout is not None and c.stdout != sc.stdout:
            exp = f'stdout "{transcript.escape(sc.stdout[:200])}"'
            got = f'stdout "{transcript.escape(c.stdout[:200])}"'
        elif sc.stdout_pattern is not None and not sc.stdout_pattern.matches(c.stdout):
            exp = f'stdout ~"{sc.stdout_pattern.source}"'
            got = f'stdout "{transcript.escape(c.stdout[:200])}"'
    if not exp and r.server_stderr.strip() and role == "server":
        got = f"server stderr: {crash_line(r.server_stderr)}"
    crash = program_crash(r, role)
    words = ([crash] if crash else []) + in_words(r, role)
    return Unmatched(r.cell.id, role, r.reason, sent, exp, got, words=words)


def program_crash(r, role: str) -> str | None:
    """The program's own crash, quoted from its stderr (server.log or
    client.log), or the resource limit that stopped it; None if neither."""
    err = _program_stderr(r, role)
    where = "server.log" if role == "server" else "client.log"
    exits = [r.outcome.server_exit] if role == "server" else \
        [c.exit for c in r.outcome.clients]
    for x in exits:
        if x is not None and x.signal in LIMIT_SIGNALS and not x.stopped_by_driver:
            return f"your {role} was stopped by {LIMIT_SIGNALS[x.signal]}"
    line = _marker_line(err, LIMIT_MARKERS)
    if line:
        return f"your {role} hit a limit: {line} ({where})"
    if any(mk in err for mk in CRASH_MARKERS):
        return f"your {role} crashed: {crash_line(err)} ({where})"
    return None


def _upper_note(protocol: str):
    """The contract's reason for a changed character, where it has one."""
    if protocol != "upper":
        return None

    def note(exp: str, got: str) -> str | None:
        if any(ord(c) > 127 for c in exp + got):
            return "only a-z may change (ASCII-only uppercase)"
        return None
    return note


def _literal_words(exp: Expect, got: bytes, what: str, who: str, came: str,
                   note=None) -> list[str]:
    if exp.pattern is None:
        return wordiff.describe(exp.data or b"", got, what, who, came, note)
    # A pattern (a time): compare the literal text before its first
    # placeholder, then how the bytes end.
    src = exp.pattern.source
    first, last = src.find("{"), src.rfind("}")
    head = transcript.unescape(src[:first]) if first > 0 else b""
    tail = transcript.unescape(src[last + 1:]) if last >= 0 else b""
    subject = f"{who} {what}"
    words = []
    if head and not got.startswith(head):
        words += wordiff.describe(head, got[:len(head)], f"{what}'s beginning", who, came, note)
    if tail and got.endswith(tail + tail[-1:]):
        words.append(f"{subject} has one extra {wordiff.show(tail[-1:].decode())} at the end")
    elif tail == b"\n" and got.endswith(b"\r\n"):
        words.append(f"{subject} ends with `\\r\\n` where the contract has `\\n`")
    elif tail and not got.endswith(tail):
        words.append(f"{subject} does not end with "
                     f"{wordiff.show(tail.decode('utf-8', 'replace'))}")
    elif not tail and got.endswith(b"\n"):
        words.append(f"{subject} has one extra `\\n` at the end")
    return words


def in_words(r, role: str) -> list[str]:
    """The first difference from the contract in the student's bytes, in
    words (harness/grading/wordiff.py): on the wire, then on stdout (a client) or
    the server's judged stdout (udp)."""
    sc = r.cell.scenario
    note = _upper_note(r.cell.protocol.name)
    direction = SERVER if role == "server" else CLIENT
    exp = Expect.of_turns(_golden_turns(r), direction)
    what = "reply" if role == "server" else "request"
    came = "came back as" if role == "server" else "was sent as"
    for turns in _judged(r)[:1]:
        got = _data(turns, direction)
        if (got or role == "server") and not exp.matches(got):
            words = _literal_words(exp, got, what, "your", came, note)
            if words:
                return words
    if role == "client" and r.outcome.clients:
        out = r.outcome.clients[0].stdout
        want = Expect(sc.stdout) if sc.stdout is not None else \
            Expect(pattern=sc.stdout_pattern) if sc.stdout_pattern is not None else None
        if want is not None and not want.matches(out):
            words = _literal_words(want, out, "output", "your client's", "was printed as")
            if words:
                return words
    if role == "server" and sc.server_stdout is not None and \
            sc.server_stdout not in r.server_stdout:
        got = r.server_stdout
        exp_text = sc.server_stdout
        if exp_text.startswith(b"received message: b"):
            # udp: the contract's line is the datagram's repr
            line = got.split(b"\n")[0] if got else b""
            if not line.startswith(b"received message: "):
                printed = wordiff.show(line.decode("utf-8", "replace"))
                shown = wordiff.show(exp_text.decode("utf-8", "replace"))
                return [f"the receiver printed {printed} where the contract prints the "
                        f"datagram's repr ({shown})"]
        return wordiff.describe(exp_text, got[:len(exp_text) + 40], "output",
                                "your server's", "was printed as")
    return []


def diagnose(results: list, student: str, probe_addrs: list[str] | None = None,
             probe_port: int | None = None) -> Diagnosis:
    """Names the student's bugs. results: the student's CellResults;
    probe_addrs: the addresses the student's server bound in a probe run
    (harness/grading/check.py), to catch loopback-only without namespaces."""
    plain: dict[tuple[str, str, str], bool] = {}
    connected: dict[tuple[str, str, str], bool] = {}
    for r in results:
        if r.cell.mode == modes.PLAIN:
            plain[_pair_key(r)] = r.verdict in OK
            connected[_pair_key(r)] = any(_judged(r))
    bugs: dict[tuple[str, str], Bug] = {}
    unmatched: list[Unmatched] = []

    def add(bug_id: str, role: str, cell: str, detail: str) -> None:
        b = bugs.get((bug_id, role))
        if b is None:
            b = bugs[(bug_id, role)] = Bug(bug_id, role, CATALOGUE[bug_id][1])
        if cell not in b.evidence:
            b.evidence.append(cell)
        # Two details that differ only in numbers (times, ports) say one thing.
        seen = {re.sub(r"\d+", "N", x) for x in b.details}
        if detail and len(b.details) < 2 and re.sub(r"\d+", "N", detail) not in seen:
            b.details.append(detail)

    if probe_addrs:
        if netns.loopback_only(probe_addrs):
            add("loopback-only", "server", "probe:bind",
                f"started alone, your server listened on {', '.join(sorted(set(probe_addrs)))}"
                + (f" port {probe_port}" if probe_port else "") + " only")
    failing = [r for r in results if r.verdict in FAILING and "not built" not in r.reason]
    failing.sort(key=lambda r: r.cell.mode != modes.PLAIN)  # plain first: it explains others
    explained: dict[tuple[str, str, str, str], str] = {}  # pair+role -> bug id in plain
    later: list = []
    for r in failing:
        role = role_of(r, student)
        key = _pair_key(r)
        hit = classify(r, student, plain.get(key), connected.get(key))
        if hit:
            add(hit[0], role, r.cell.id, hit[1])
            if r.cell.mode == modes.PLAIN:
                explained[key + (role,)] = hit[0]
        else:
            later.append(r)
    groups: dict[tuple[str, ...], Unmatched] = {}
    for r in later:
        role = role_of(r, student)
        key = _pair_key(r)
        if role == "server" and ("single-client", "server") in bugs and _starved(r):
            # The server exits after its first client, as other cells show;
            # here it was still exiting when the driver stopped it, so only
            # the clients saw it go (refused, reset, closed).
            add("single-client", role, r.cell.id, "")
            continue
        if plain.get(key) is False and key + (role,) in explained:
            # Fails in plain mode already, for a named reason: the same bug.
            add(explained[key + (role,)], role, r.cell.id, "")
            continue
        g: tuple[str, ...] = (role, r.cell.scenario.name, _short_reason(r.reason))
        if plain.get(key) is False and (key + (role,)) in groups:
            g = key + (role,)  # fails in plain already: one failure, listed once
        fb = None
        if g not in groups:
            # The same difference in words (scenario aside) is one failure.
            fb = feedback(r, role)
            if fb.words:
                crashed = program_crash(r, role)
                key_words = [crashed] if crashed else fb.words  # one crash, one failure
                same = ("words", role) + tuple(re.sub(r"\d+", "N", w) for w in key_words)
                g = same if same in groups else g
                groups.setdefault(same, fb)
        if g in groups:
            groups[g].same_as.append(r.cell.id)
        else:
            groups[g] = fb or feedback(r, role)
            unmatched.append(groups[g])
            if r.cell.mode == modes.PLAIN:
                groups[key + (role,)] = groups[g]
    _suppress(bugs)
    order = list(CATALOGUE)
    out = sorted(bugs.values(), key=lambda b: (order.index(b.id), b.role))
    return Diagnosis(out, unmatched)


def _starved(r) -> bool:
    """Did every client but at most one get nothing from the server?"""
    fed = sum(1 for conn in _judged(r) if _data(conn, SERVER))
    return fed <= 1 and len(r.outcome.clients) > fed


def _short_reason(reason: str) -> str:
    """A failure reason without numbers (ports, seconds), to group cells."""
    return re.sub(r"\d+", "N", reason.split(":")[0])[:80]


def _suppress(bugs: dict[tuple[str, str], Bug]) -> None:
    """A server that exits after its first client also serves one at a time
    and dies in every robustness scenario: name the cause only."""
    single = bugs.get(("single-client", "server"))
    if single is None:
        return
    gone = [bugs.pop(("one-at-a-time", "server"), None)]
    crash = bugs.get(("crash-on-bad-input", "server"))
    if crash and all(any(s in e for s in ("/reset-mid-request/", "/half-close-first/"))
                     for e in crash.evidence):
        gone.append(bugs.pop(("crash-on-bad-input", "server")))
    for b in gone:
        if b:
            single.evidence.extend(x for x in b.evidence if x not in single.evidence)
