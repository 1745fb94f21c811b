"""The `mailbox:` effect of a scenario: what an SMTP server must have
delivered into `mailbox/` in its scratch directory (protocols/smtp/README.md,
"Mailbox"). Stdlib only; `email` parses the messages.

```yaml
mailbox:
  count: 1                            # *.eml files in mailbox/ (0: none)
  from: 'alice@example.org'           # every message's X-Envelope-From
  to: ['bob@example.org']             # every message's X-Envelope-To lines, in order
  subject: 'Olá'                      # the Subject, RFC 2047 or raw UTF-8, decoded
  text: 'Hello\n'                     # the text/plain part, decoded, CRLF as \n (*)
  attachment: protocols/smtp/data/blob.bin   # the attachment's base64, decoded, equals this file
```

(*) Line ends at the very end of the text are not compared: clients
differ there and no reader sees them (swaks adds an empty line after the
body; in a multipart message the CRLF before a boundary belongs to the
boundary, RFC 2046 5.1.1, so a part written without an extra one loses its
last line end).

Two entry points, both called with the matrix walker's conventions:
`parse_keys()` from the matrix loader (validation, FILE:LINE problems) and
`check()` after a cell's server stopped, returning problems in the words of
the `effects` list ("mailbox/1.eml: ...").
"""

from __future__ import annotations

import base64
import binascii
import email
import email.header
import email.policy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


KEYS = {"count", "from", "to", "subject", "text", "attachment"}
FOLDER = "mailbox"
LINE_MAX = 76  # base64 characters per line (RFC 2045 6.8)
MAX_FILES = 2000
FILE_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True)
class Spec:
    count: int
    sender: str | None = None
    recipients: tuple[str, ...] | None = None
    subject: str | None = None
    text: str | None = None
    attachment: bytes | None = None
    attachment_name: str | None = None


def parse_keys(w: Any, m: dict, what: str, root: Path) -> dict[str, Any]:
    """Validates the `mailbox` key of one scenario mapping m with the
    matrix walker w; returns {"mailbox": Spec} or {} when absent."""
    if "mailbox" not in m:
        return {}
    where = f"{what}: mailbox"
    mm = w.mapping(m["mailbox"][1], where, KEYS)
    if mm is None:
        return {}
    if "count" not in mm:
        w.err(m["mailbox"][0], f"{where}: count is required")
        return {}
    count = w.integer(mm["count"][1], f"{where}: count", 0, MAX_FILES)
    fields: dict[str, Any] = {}
    for key, attr in (("from", "sender"), ("subject", "subject"), ("text", "text")):
        if key in mm:
            b = w.bytes_field(mm[key][1], f"{where}: {key}")
            if b is not None:
                fields[attr] = b.decode("utf-8", "surrogateescape")
    if "to" in mm:
        lst = w.string_list(mm["to"][1], f"{where}: to")
        if lst is not None:
            fields["recipients"] = tuple(s for s, _ in lst)
    if "attachment" in mm:
        rel = w.string(mm["attachment"][1], f"{where}: attachment")
        if rel is not None:
            path = root / rel
            try:
                fields["attachment"] = path.read_bytes()
                fields["attachment_name"] = path.name
            except OSError as e:
                w.err(mm["attachment"][1], f"{where}: attachment: cannot read {rel}: "
                                           f"{e.strerror}")
    if count is None:
        return {}
    return {"mailbox": Spec(count, **fields)}


def b64decode_strict(text: bytes) -> bytes | None:
    """The bytes text encodes, or None unless text is the one strict
    RFC 4648 encoding of them (protocols/base64/vectors.tsv)."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if base64.b64encode(data) == text else None


def _header_text(data: bytes, name: str) -> str | None:
    """A header's value, unfolded and decoded: RFC 2047 words or raw UTF-8
    (8-bit); read from the bytes because the parser mangles 8-bit headers."""
    head = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    m = re.search(rb"^" + name.encode() + rb":[ \t]?(.*(?:\n[ \t].*)*)", head,
                  re.MULTILINE | re.IGNORECASE)
    if m is None:
        return None
    text = re.sub(r"\n([ \t])", r"\1", m.group(1).decode("utf-8", "replace"))
    return str(email.header.make_header(email.header.decode_header(text)))


def _envelope(data: bytes) -> tuple[str | None, list[str]]:
    """The envelope: the contract's X-Envelope-From/To lines at the top of
    the file, or, from an MTA (Exim), its Return-path: and Envelope-to:
    headers."""
    sender = None
    recipients = []
    for line in data.replace(b"\r\n", b"\n").split(b"\n"):
        if line.startswith(b"X-Envelope-From: "):
            sender = line[17:].decode("utf-8", "replace").strip("<>")
        elif line.startswith(b"X-Envelope-To: "):
            recipients.append(line[15:].decode("utf-8", "replace").strip("<>"))
        else:
            break
    if sender is None:
        rp = _header_text(data, "Return-path")
        sender = rp.strip().strip("<>") if rp is not None else None
        to = _header_text(data, "Envelope-to")
        recipients = [x.strip().strip("<>") for x in (to or "").split(",") if x.strip()]
    return sender, recipients


def _attachment_problem(part: email.message.Message, want: bytes,
                        want_name: str | None) -> str | None:
    cte = (part.get("Content-Transfer-Encoding") or "").strip().lower()
    if cte != "base64":
        return f"attachment Content-Transfer-Encoding is {cte or 'missing'!r}, not base64"
    raw = part.get_payload(decode=False)
    if isinstance(raw, str):
        raw = raw.encode("ascii", "surrogateescape")
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    while lines and lines[-1] == b"":
        lines.pop()
    longest = max((len(x) for x in lines), default=0)
    if longest > LINE_MAX:
        return f"attachment base64 has a line of {longest} characters (at most {LINE_MAX})"
    got = b64decode_strict(b"".join(lines))
    if got is None:
        return "attachment is not valid base64 (bad characters, padding or length)"
    if got != want:
        diff = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                    min(len(got), len(want)))
        return (f"attachment decodes to {len(got)} bytes, expected {len(want)}; "
                f"first difference at byte {diff}")
    name = part.get_filename()
    if want_name is not None and name != want_name:
        return f"attachment file name is {name!r}, expected {want_name!r}"
    return None


def _message_problems(spec: Spec, data: bytes) -> list[str]:
    out = []
    sender, recipients = _envelope(data)
    if spec.sender is not None and sender != spec.sender:
        out.append(f"envelope sender {sender!r}, expected {spec.sender!r}")
    if spec.recipients is not None and tuple(recipients) != spec.recipients:
        out.append(f"envelope recipients {recipients}, expected {list(spec.recipients)}")
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    if msg.defects:
        out.append("malformed message: " + ", ".join(type(d).__name__ for d in msg.defects))
    if spec.subject is not None:
        subject = _header_text(data, "Subject")
        if subject != spec.subject:
            out.append(f"Subject {subject!r}, expected {spec.subject!r}")
    if spec.text is not None:
        part = next((p for p in msg.walk() if p.get_content_type() == "text/plain"
                     and p.get_content_disposition() != "attachment"), None)
        if part is None:
            out.append("no text/plain part")
        else:
            payload = part.get_payload(decode=True) or b""
            charset = part.get_content_charset() or "utf-8"
            try:
                text = payload.decode(charset)
            except (LookupError, UnicodeError):
                text = payload.decode("utf-8", "replace")
            text = text.replace("\r\n", "\n")
            if text.rstrip("\n") != spec.text.rstrip("\n"):
                out.append(f"text part {text[:80]!r}, expected {spec.text[:80]!r}")
    if spec.attachment is not None:
        part = next((p for p in msg.walk() if p.get_content_disposition() == "attachment"
                     or (not p.is_multipart()
                         and p.get_content_maintype() not in ("text", "multipart"))), None)
        if part is None:
            out.append("no attachment part")
        else:
            p = _attachment_problem(part, spec.attachment, spec.attachment_name)
            if p is not None:
                out.append(p)
    return out


def check(spec: Spec | None, scratch: Path,
          read: Callable[[str, int], bytes | None]) -> list[str]:
    """Returns what is wrong with scratch/mailbox/ against spec (empty
    when all is right or spec is None). Regular files only, never
    following links: read(path, limit) reads one (the runner's
    cell.read_regular, which never follows a link or blocks on a FIFO)."""
    if spec is None:
        return []
    folder = scratch / FOLDER
    try:
        names = sorted(p.name for p in folder.iterdir()
                       if p.name.endswith(".eml") and p.is_file() and not p.is_symlink())
    except FileNotFoundError:
        names = []
    except OSError as e:
        return [f"{FOLDER}/: cannot list: {e.strerror}"]
    if len(names) != spec.count:
        return [f"{FOLDER}/ holds {len(names)} message(s), expected {spec.count}"]
    problems = []
    for name in names:
        try:
            data = read(str(folder / name), FILE_LIMIT) or b""
        except OSError as e:
            problems.append(f"{FOLDER}/{name}: cannot read: {e.strerror}")
            continue
        problems += [f"{FOLDER}/{name}: {p}" for p in _message_problems(spec, data)]
        if len(problems) > 5:
            break
    return problems
