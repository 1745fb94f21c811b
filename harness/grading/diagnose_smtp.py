"""Named bugs of the SMTP lab (protocols/smtp/README.md, "Interop
pitfalls"): the classic mistakes of a mail client written on raw sockets,
recognised from a failing cell's recorded wire and its mailbox check.
Pure, like harness/grading/diagnose.py, which calls classify() for smtp cells
before its generic rules (the one-recv bug needs no rule of its own here:
diagnose.py's one-recv-client already names a client that passes in plain
mode and fails when replies arrive in pieces).
"""

from __future__ import annotations

import re

from harness.spec import transcript
from harness.spec.transcript import CLIENT, DATA, SERVER

# id -> (role, plain words for the student, how to fix it); merged into
# diagnose.CATALOGUE.
CATALOGUE: dict[str, tuple[str, str, str]] = {
    "smtp-bare-lf": (
        "client",
        "your client ends SMTP lines with \\n alone: SMTP lines end with \\r\\n (CRLF), "
        "commands and message lines alike",
        "send \"\\r\\n\" after every command and every line of the message (Java: no "
        "println; Python: '\\r\\n', not '\\n')"),
    "smtp-no-dot-stuffing": (
        "client",
        "your client does not dot-stuff the message: a body line that starts with '.' "
        "must be sent with one more '.', or a line '.' ends the message early",
        "before sending each line of the message, add a '.' in front of it if it starts "
        "with '.' (RFC 5321 4.5.2); then end with \"\\r\\n.\\r\\n\""),
    "smtp-no-354-wait": (
        "client",
        "your client sent the message right after DATA without waiting for the "
        "server's 354: a server that refuses DATA reads your message as commands",
        "after DATA, read the reply and send the message only if it starts with 354"),
    "smtp-base64-lines": (
        "client",
        "your attachment's base64 is not what MIME asks for: lines of at most 76 "
        "characters, each ending in \\r\\n, and '=' padding at the end",
        "encode the whole file (base64.b64encode), then cut the text into 76-character "
        "lines; do not strip the '=' padding"),
    "smtp-no-blank-line": (
        "client",
        "your message has no empty line between the header and the body, so the body's "
        "first line is read as a header",
        "after the last header line send one empty line (\"\\r\\n\"), then the body"),
}

_BARE_LF = re.compile(rb"(?<!\r)\n")


def _client_bytes(r) -> bytes:
    if r.recorded is None:
        return b""
    conns = r.recorded.connections[len(r.cell.scenario.before):]
    return b"".join(t.data for turns in conns[:1] for t in turns
                    if t.kind == DATA and t.direction == CLIENT)


def _client_turns(r) -> list[bytes]:
    if r.recorded is None:
        return []
    conns = r.recorded.connections[len(r.cell.scenario.before):]
    return [t.data for turns in conns[:1] for t in turns
            if t.kind == DATA and t.direction == CLIENT]


def _server_bytes(r) -> bytes:
    if r.recorded is None:
        return b""
    conns = r.recorded.connections[len(r.cell.scenario.before):]
    return b"".join(t.data for turns in conns[:1] for t in turns
                    if t.kind == DATA and t.direction == SERVER)


def _line_with(data: bytes, at: int) -> str:
    start = data.rfind(b"\n", 0, at) + 1
    return transcript.escape(data[start:at + 1][:80])


def classify(r, role: str) -> tuple[str, str] | None:
    """(bug id, one line of evidence) for a failing smtp cell of a
    student's client, or None to let diagnose.py's generic rules try."""
    if role != "client" or r.cell.client.name == "raw":
        return None
    sent = _client_bytes(r)
    m = _BARE_LF.search(sent)
    if m is not None:
        return "smtp-bare-lf", (f'your client sent "{_line_with(sent, m.start())}": '
                                "the line ends with \\n, not \\r\\n")
    for turn in _client_turns(r):
        # A turn is everything sent before the server spoke again: "DATA"
        # and more in one turn means the message did not wait for the 354.
        head = turn[:6].upper()
        if head == b"DATA\r\n" and len(turn) > 6:
            return "smtp-no-354-wait", (
                f'your client sent "DATA\\r\\n{transcript.escape(turn[6:46])}..." '
                "before the server answered DATA")
    reason = r.reason
    if r.cell.scenario.name == "dot-line":
        m = re.search(rb"\r\n\.[^.\r\n]", sent)
        if m is not None or b"500 Command unrecognized" in _server_bytes(r):
            where = _line_with(sent, m.start() + 2) if m else "a line '.'"
            return "smtp-no-dot-stuffing", (
                f'the body line "{where}" went out without its extra dot; the '
                "server took the rest of the message as commands")
    if "attachment base64" in reason or "attachment is not valid base64" in reason:
        return "smtp-base64-lines", reason[reason.find("attachment"):][:160]
    if r.cell.scenario.name == "attachment" and b"500 Line too long" in _server_bytes(r):
        longest = max((len(x.rstrip(b"\r")) for x in sent.split(b"\n")), default=0)
        return "smtp-base64-lines", (f"a line of your message had {longest} bytes: the "
                                     "server refused it (500 Line too long)")
    if "MissingHeaderBodySeparatorDefect" in reason:
        return "smtp-no-blank-line", reason[reason.find("malformed"):][:160]
    return None
