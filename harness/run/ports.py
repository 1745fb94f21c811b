"""Ports the driver owns: a range outside the kernel's ephemeral range, never
handed to two live cells, skipping ports the kernel shows in use."""

from __future__ import annotations

import random
from dataclasses import dataclass

import socket

DEFAULT_RANGE = (20000, 29999)


def ephemeral_range() -> tuple[int, int]:
    """Returns the kernel's ephemeral (local) port range."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = f.read().split()
            return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


def parse_range(text: str) -> tuple[int, int]:
    """Returns (lo, hi) from 'LO-HI'. Raises ValueError."""
    lo_s, sep, hi_s = text.partition("-")
    if not sep:
        raise ValueError(f"port range must be LO-HI, not {text!r}")
    lo, hi = int(lo_s), int(hi_s)
    if not 1024 <= lo <= hi <= 65535:
        raise ValueError(f"port range {text!r} must be within 1024-65535, LO <= HI")
    return lo, hi


def port_free(port: int) -> bool:
    """True if nothing holds port: a TCP bind on every interface without
    SO_REUSEADDR fails for a listener and for TIME_WAIT leftovers alike (so a
    server without SO_REUSEADDR can bind it), and a UDP bind for UDP users.
    Much cheaper than reading /proc/net with thousands of TIME_WAITs."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        for family, addr in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
            try:
                s = socket.socket(family, kind)
            except OSError:
                continue  # no IPv6 here
            try:
                if family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                s.bind((addr, port))
            except OSError:
                return False
            finally:
                s.close()
            break  # the dual-stack bind covered IPv4 too
    return True


@dataclass
class PortPool:
    """Hands out ports round-robin from [lo, hi] minus the ephemeral range."""

    lo: int = DEFAULT_RANGE[0]
    hi: int = DEFAULT_RANGE[1]

    def __post_init__(self) -> None:
        elo, ehi = ephemeral_range()
        self.ports = [p for p in range(self.lo, self.hi + 1) if not elo <= p <= ehi]
        if len(self.ports) < 4:
            raise ValueError(f"port range {self.lo}-{self.hi} has fewer than 4 ports outside "
                             f"the kernel's ephemeral range {elo}-{ehi}")
        # A random start makes two drivers on one machine unlikely to collide;
        # when they do, a cell detects the foreign socket and moves on.
        self._next = random.randrange(len(self.ports))
        self.live: set[int] = set()

    def acquire(self, count: int = 1) -> list[int]:
        """Returns count ports not held by a live cell and with no socket in
        the kernel's tables (any state, including TIME_WAIT)."""
        out: list[int] = []
        for _ in range(len(self.ports)):
            p = self.ports[self._next]
            self._next = (self._next + 1) % len(self.ports)
            if p in self.live or not port_free(p):
                continue
            self.live.add(p)
            out.append(p)
            if len(out) == count:
                return out
        self.release(out)
        raise RuntimeError(f"no free port in {self.lo}-{self.hi}")

    def release(self, ports: list[int] | tuple[int, ...]) -> None:
        for p in ports:
            self.live.discard(p)

    def __contains__(self, port: int) -> bool:
        return self.lo <= port <= self.hi
