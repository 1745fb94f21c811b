"""Modes: the conditions a cell runs under (the 5th part of a cell id).

`plain` is the happy path. The others change how the relay delivers bytes
(segment, coalesce, latency, slow-reader), where the peers meet (ipv6,
two-hosts) or the peers' environment (locale-c). Semantics, figures and
what each mode exposes: docs/modes.md.

This module is pure (parsing, cut points, environments); the relay
(harness/run/relay.py) applies the delivery modes and harness/run/netns.py makes
the two hosts.
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass

PLAIN = "plain"
KINDS = ("plain", "segment", "coalesce", "latency", "slow-reader", "ipv6", "locale-c",
         "two-hosts")
SEGMENT_VARIANTS = ("delim", "crlf", "utf8")  # plus random:SEED
# `--mode all`: every mode, with one representative of the parameterised ones.
ALL = ("plain", "segment", "segment=delim", "segment=crlf", "segment=utf8",
       "segment=random:1", "coalesce", "latency=50", "slow-reader", "ipv6", "locale-c",
       "two-hosts")
DEFAULT = ("plain",)  # what runs without --mode
# Modes that only make sense for a byte stream.
STREAM_ONLY = ("segment", "coalesce", "slow-reader")

SEGMENT_GAP_S = 0.005  # pause after each piece, so the peer reads it alone
SEGMENT_FULL_BYTES = 512  # per direction and connection cut as the mode says;
SEGMENT_TAIL_PIECE = 1024  # after that: 1024-byte writes without a gap
RANDOM_CUT_P = 0.3  # segment=random: chance of a cut at each inner position
COALESCE_IDLE_S = 0.1  # coalesce: flush after the client was quiet this long
SLOW_RCVBUF = 4096  # slow-reader: SO_RCVBUF of the relay's server socket
SLOW_READ = 256  # slow-reader: bytes per read
SLOW_GAP_S = 0.002  # slow-reader: pause after each read


@dataclass(frozen=True)
class Mode:
    text: str  # canonical form, as in cell ids
    kind: str
    variant: str = ""  # segment: "", delim, crlf, utf8, random
    seed: int = 0  # segment=random:SEED
    ms: int = 0  # latency=MS

    @property
    def stream_only(self) -> bool:
        return self.kind in STREAM_ONLY

    @property
    def shapes_relay(self) -> bool:
        return self.kind in ("segment", "coalesce", "latency", "slow-reader")


def parse(text: str) -> Mode:
    """Returns the mode; raises ValueError with a message for the user."""
    t = text.strip()
    kind, eq, arg = t.partition("=")
    if kind not in KINDS:
        raise ValueError(f"unknown mode {t!r} (known: {', '.join(KINDS)}, or all)")
    if kind == "segment":
        if not eq:
            return Mode("segment", kind)
        if arg in SEGMENT_VARIANTS:
            return Mode(t, kind, arg)
        if arg.startswith("random:"):
            try:
                seed = int(arg[7:])
            except ValueError:
                raise ValueError(f"mode {t!r}: segment=random:SEED needs an integer seed") \
                    from None
            return Mode(f"segment=random:{seed}", kind, "random", seed=seed)
        raise ValueError(f"mode {t!r}: segment takes delim, crlf, utf8 or random:SEED")
    if kind == "latency":
        try:
            ms = int(arg)
            if not eq or ms < 0 or ms > 10000:
                raise ValueError
        except ValueError:
            raise ValueError(f"mode {t!r}: latency=MS needs milliseconds 0..10000") from None
        return Mode(f"latency={ms}", kind, ms=ms)
    if eq:
        raise ValueError(f"mode {t!r}: {kind} takes no parameter")
    return Mode(kind, kind)


def parse_list(values: list[str]) -> list[str]:
    """Returns canonical mode names for --mode values (comma lists, `all`),
    in the order given, without duplicates. Raises ValueError."""
    out: list[str] = []
    for v in values:
        for part in v.split(","):
            part = part.strip()
            if not part:
                continue
            names = ALL if part == "all" else (parse(part).text,)
            for n in names:
                if n not in out:
                    out.append(n)
    return out


def matches(key: str, mode: str) -> bool:
    """True if a scenario's modes/skip_modes key names mode: the exact
    mode, its kind (`segment` names every segment variant) or a pattern."""
    return key == mode or key == mode.partition("=")[0] or fnmatch.fnmatchcase(mode, key)


def not_applicable(mode: str, transport: str) -> str | None:
    """Why a mode does not apply to a transport, or None."""
    m = parse(mode)
    if transport == "udp" and m.stream_only:
        return f"{m.kind} shapes a byte stream; udp datagrams are delivered whole"
    return None


def scenario_skip(mode: str, modes: tuple[str, ...] | None,
                  skip: dict[str, str]) -> str | None:
    """Why a scenario (its `modes:` / `skip_modes:`) does not run in mode."""
    for key, reason in skip.items():
        if matches(key, mode):
            return f"skip_modes: {reason}"
    if modes is not None and mode != PLAIN and not any(matches(k, mode) for k in modes):
        return f"modes: [{', '.join(modes)}] excludes {mode}"
    return None


# --------------------------------------------------------------------------
# segment: where writes are cut


def _utf8_len(b: int) -> int:
    if 0xC2 <= b <= 0xDF:
        return 2
    if 0xE0 <= b <= 0xEF:
        return 3
    if 0xF0 <= b <= 0xF4:
        return 4
    return 1


def cut_points(data: bytes, variant: str, rng: random.Random | None = None) -> list[int]:
    """Returns the sorted offsets (0 < k < len) where a write of data is cut.
    "": after every byte; delim: just before and just after each "\\n";
    crlf: between the bytes of each "\\r\\n"; utf8: inside each complete
    multi-byte UTF-8 character; random: each inner offset with chance
    RANDOM_CUT_P, drawn from rng (reproducible for a seed)."""
    n = len(data)
    cuts: set[int] = set()
    if variant == "":
        return list(range(1, n))
    if variant == "delim":
        for i, b in enumerate(data):
            if b == 0x0A:
                cuts.update((i, i + 1))
    elif variant == "crlf":
        i = data.find(b"\r\n")
        while i >= 0:
            cuts.add(i + 1)
            i = data.find(b"\r\n", i + 1)
    elif variant == "utf8":
        i = 0
        while i < n:
            k = _utf8_len(data[i])
            if k > 1 and i + k <= n and all(0x80 <= c <= 0xBF for c in data[i + 1:i + k]):
                cuts.update(range(i + 1, i + k))
                i += k
            else:
                i += 1
    elif variant == "random":
        assert rng is not None
        cuts.update(k for k in range(1, n) if rng.random() < RANDOM_CUT_P)
    else:
        raise ValueError(f"unknown segment variant {variant!r}")
    return sorted(k for k in cuts if 0 < k < n)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """Returns data cut at the offsets."""
    out, prev = [], 0
    for k in cuts:
        out.append(data[prev:k])
        prev = k
    out.append(data[prev:])
    return [p for p in out if p]


class Segmenter:
    """Cuts one direction of one connection. The first SEGMENT_FULL_BYTES
    are cut as the mode says (with a gap after each piece); later bytes go
    in SEGMENT_TAIL_PIECE writes without a gap, so a 1 MB line still ends."""

    def __init__(self, mode: Mode, connection: int, direction: str):
        self.variant = mode.variant
        self.sent = 0
        self.rng = random.Random(f"{mode.seed}/{connection}/{direction}") \
            if mode.variant == "random" else None

    def pieces(self, data: bytes) -> list[tuple[bytes, bool]]:
        """Returns (piece, pause after it) for one write."""
        head_n = max(0, min(len(data), SEGMENT_FULL_BYTES - self.sent))
        head, tail = data[:head_n], data[head_n:]
        out = [(p, True) for p in split(head, cut_points(head, self.variant, self.rng))]
        out += [(tail[i:i + SEGMENT_TAIL_PIECE], False)
                for i in range(0, len(tail), SEGMENT_TAIL_PIECE)]
        self.sent += len(data)
        return out


# --------------------------------------------------------------------------
# locale-c


def env(mode: str, base: dict[str, str]) -> dict[str, str]:
    """Returns the environment a peer gets in mode (locale-c: LC_ALL=C and
    no LANG or other LC_* variable; other modes: base unchanged)."""
    if parse(mode).kind != "locale-c":
        return base
    out = {k: v for k, v in base.items() if k != "LANG" and not k.startswith("LC_")}
    out["LC_ALL"] = "C"
    return out
