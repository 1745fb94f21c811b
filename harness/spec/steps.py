"""Robustness scenarios: what happens to the server before the judged clients.

matrix.yaml keys (format: docs/matrix.md, "Robustness scenarios"):

- `before:` a list of steps, run in order once the server is ready and
  before the judged clients. A step is one run of a client program (the raw
  client unless `client:` names another peer) through the relay, with its
  own `stdin` and `args`. A step is not judged, except that one that has not
  ended after the scenario's timeout means the server never closed its
  connection. `background: true` keeps the step running (e.g. the raw
  client's `--hold`: connected and silent) while the judged clients run; it
  is stopped after them.
- `restart: true | SIGKILL | SIGTERM`: after the steps, the server's group
  gets the signal (true: SIGKILL), and the same command is started again at
  once on the same port; the judged clients run once it listens.
- `compare: streams`: the judged connections are compared with the golden
  per direction (each direction's bytes concatenated, then the close
  events) instead of turn by turn, for data that interleaves (a 1 MB echo).
- `robustness: true`: a failing cell's reason starts with the scenario's
  name and description, so the report names the condition that broke the
  server.

The relay records the steps' connections too (transcript.txt shows them
first); only the judged clients' connections are compared with the golden.

This module holds the keys and their validation; running the steps is
harness/run/robustness.py, comparing the judged connections
harness/judge/compare.py.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any, Mapping, Protocol

import yaml

STEP_KEYS = {"client", "stdin", "args", "background"}
RESTART_SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM}
COMPARES = ("turns", "streams")
MAX_STEPS = 10


@dataclass(frozen=True)
class Step:
    """One `before:` step."""

    client: str  # peer name
    stdin: bytes
    args: tuple[str, ...]
    background: bool
    line: int

    def describe(self) -> str:
        return " ".join((self.client,) + self.args)


class HasClient(Protocol):
    """What a step needs of a peer (matrix.Peer): its client command."""

    @property
    def client(self) -> object | None: ...


# --------------------------------------------------------------------------
# matrix.yaml


def parse_keys(w: Any, m: dict, what: str, transport: str,
               peers: Mapping[str, HasClient]) -> dict[str, Any]:
    """Validates the robustness keys of one scenario mapping m (key ->
    (key node, value node)) with the matrix walker w. Returns the Scenario
    fields they set."""
    out: dict[str, Any] = {}
    if "before" in m:
        knode, node = m["before"]
        if transport != "tcp":
            w.err(knode, f"{what}: before: steps are for tcp protocols only")
        elif not isinstance(node, yaml.SequenceNode) or not node.value:
            kind = "an empty list" if isinstance(node, yaml.SequenceNode) else "not a list"
            w.err(node, f"{what}: before must be a non-empty list of steps ({kind})")
        elif len(node.value) > MAX_STEPS:
            w.err(node, f"{what}: before: at most {MAX_STEPS} steps, not {len(node.value)}")
        else:
            steps = []
            for k, item in enumerate(node.value, 1):
                step = _step(w, item, f"{what}: before step {k}", peers)
                if step is not None:
                    steps.append(step)
            out["before"] = tuple(steps)
    if "restart" in m:
        node = m["restart"][1]
        v = w.value(node) if isinstance(node, yaml.ScalarNode) else None
        if v is True:
            out["restart"] = "SIGKILL"
        elif v is False:
            out["restart"] = None
        elif isinstance(v, str) and v in RESTART_SIGNALS:
            out["restart"] = v
        else:
            w.err(node, f"{what}: restart must be true, false, SIGKILL or SIGTERM, "
                        f"not {v!r}" if v is not None else
                  f"{what}: restart must be true, false, SIGKILL or SIGTERM")
    if "compare" in m:
        s = w.string(m["compare"][1], f"{what}: compare")
        if s is not None and s not in COMPARES:
            w.err(m["compare"][1], f"{what}: compare must be turns or streams, not {s!r}")
        elif s is not None:
            out["compare"] = s
    if "robustness" in m:
        b = w.boolean(m["robustness"][1], f"{what}: robustness")
        if b is not None:
            out["robustness"] = b
    return out


def _step(w: Any, node: yaml.Node, what: str, peers: Mapping[str, HasClient]) -> Step | None:
    sm = w.mapping(node, what, STEP_KEYS)
    if sm is None:
        return None
    n = len(w.problems)
    client = "raw"
    if "client" in sm:
        client = w.string(sm["client"][1], f"{what}: client") or "raw"
    peer = peers.get(client)
    where = sm["client"][1] if "client" in sm else node
    if peer is None:
        w.err(where, f"{what}: unknown peer {client!r}")
    elif peer.client is None:
        w.err(where, f"{what}: peer {client!r} has no client command")
    stdin = w.bytes_field(sm["stdin"][1], f"{what}: stdin") if "stdin" in sm else b""
    args: tuple[str, ...] = ()
    if "args" in sm:
        lst = w.string_list(sm["args"][1], f"{what}: args")
        args = tuple(s for s, _ in lst or [])
    background = False
    if "background" in sm:
        background = bool(w.boolean(sm["background"][1], f"{what}: background"))
    if len(w.problems) != n:
        return None
    return Step(client, stdin or b"", args, background, node.start_mark.line + 1)
