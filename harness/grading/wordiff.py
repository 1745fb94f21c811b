"""A byte difference in words, for a student: which bytes are extra,
missing or changed, where, shown as characters (docs/teachers.md, "Other
failures"). Pure: bytes in, sentences out.

    >>> describe(b"HELLO\\n", b"HELLO\\n\\n")
    ['your reply has one extra `\\\\n` at the end']
    >>> describe("é\\n".encode(), "É\\n".encode())
    ['`é` (c3 a9) came back as `É` (c3 89), at byte 0']

Characters are shown between backquotes, non-printable ones with the
transcript escapes (`\\n`, `\\r`, `\\t`, `\\xHH`); a changed character also
shows its UTF-8 bytes in hex. Bytes that are not UTF-8 stay one character
each.
"""

from __future__ import annotations

import difflib
from typing import Callable

MAX_SENTENCES = 3
CLIP = 40  # characters of a piece shown
# Below this similarity the two are told whole, not piece by piece.
WHOLE_RATIO = 0.5

Note = Callable[[str, str], "str | None"]


def _chars(b: bytes) -> list[str]:
    """UTF-8 characters; an invalid byte is one character of its own
    (a lone surrogate from surrogateescape)."""
    return list(b.decode("utf-8", "surrogateescape"))


def _one(c: str) -> str:
    o = ord(c)
    if 0xDC80 <= o <= 0xDCFF:  # a byte that is not UTF-8
        return f"\\x{o - 0xDC00:02x}"
    if c == "\n":
        return "\\n"
    if c == "\r":
        return "\\r"
    if c == "\t":
        return "\\t"
    if c == "\\":
        return "\\\\"
    if c == "`":
        return "\\x60"
    if o < 0x20 or o == 0x7F:
        return f"\\x{o:02x}"
    if not c.isprintable():
        return "".join(f"\\x{x:02x}" for x in c.encode("utf-8"))
    return c


def show(cs: "list[str] | str", clip: int = CLIP) -> str:
    """Characters as the student reads them, between backquotes."""
    text = "".join(_one(c) for c in cs[:clip])
    return f"`{text}`" + ("..." if len(cs) > clip else "")


def _hex(cs: list[str]) -> str:
    out = []
    for c in cs:
        o = ord(c)
        out += [f"{o - 0xDC00:02x}"] if 0xDC80 <= o <= 0xDCFF else \
            [f"{x:02x}" for x in c.encode("utf-8")]
    return " ".join(out)


def _nbytes(cs: list[str]) -> int:
    return len("".join(cs).encode("utf-8", "surrogateescape"))


def _count(cs: list[str]) -> str:
    n = _nbytes(cs)
    return "one" if n == 1 else f"{n}"


def describe(expected: bytes, got: bytes, what: str = "reply", who: str = "your",
             came: str = "came back as", note: Note | None = None) -> list[str]:
    """Sentences saying how got differs from expected ([] if equal).
    what/who name the bytes ("your reply", "your request"); came is the
    verb of a change ("came back as", "was sent as"); note(expected piece,
    got piece) may add a protocol's reason to a change (": only a-z may
    change")."""
    if expected == got:
        return []
    subject = f"{who} {what}".strip()
    e, g = _chars(expected), _chars(got)
    if not g:
        return [f"{subject} is empty where the contract has {show(e)}"]
    if not e:
        return [f"{subject} should be empty, but it is {show(g)}"]
    if got.startswith(expected):
        extra = g[len(e):] if _nbytes(e) == len(expected) else _chars(got[len(expected):])
        if len(extra) == 1:
            return [f"{subject} has one extra {show(extra)} at the end"]
        return [f"{subject} has {_count(extra)} extra bytes at the end: {show(extra)}"]
    if expected.startswith(got):
        missing = _chars(expected[len(got):])
        if missing == ["\n"]:
            return [f"{subject} lacks the final `\\n`"]
        return [f"{subject} stops after {len(got)} byte(s): {show(missing)} is missing "
                f"at the end"]
    if got.endswith(expected):
        extra = _chars(got[:len(got) - len(expected)])
        return [f"{subject} begins with {show(extra)}, which the contract does not have"]
    sm = difflib.SequenceMatcher(None, e, g, autojunk=False)
    if sm.ratio() < WHOLE_RATIO:
        return [f"{subject} is {show(g)} where the contract has {show(e)}"]
    out: list[str] = []
    ops = [op for op in sm.get_opcodes() if op[0] != "equal"]
    for tag, i1, i2, j1, j2 in ops[:MAX_SENTENCES]:
        at = f"at byte {_nbytes(e[:i1])}"
        a, b = e[i1:i2], g[j1:j2]
        if tag == "replace":
            s = f"{show(a)} ({_hex(a)}) {came} {show(b)} ({_hex(b)}), {at}"
            why = note(''.join(a), ''.join(b)) if note else None
            out.append(s + (f": {why}" if why else ""))
        elif tag == "insert":
            one = "one extra" if len(b) == 1 else f"{_count(b)} extra bytes"
            out.append(f"{subject} has {one} {show(b)} {at}")
        else:
            one = "" if len(a) == 1 else f"{_count(a)} bytes "
            out.append(f"{subject} lacks {one}{show(a)} {at}")
    if len(ops) > MAX_SENTENCES:
        out.append(f"(and {len(ops) - MAX_SENTENCES} more difference(s))")
    return out
