"""Comparing a cell's recorded connections with the golden, as its
scenario asks (matrix.yaml `compare:`, harness/spec/steps.py): turn by
turn, or per direction (`compare: streams`) for data that interleaves;
connections of `before:` steps are skipped. And a robustness scenario's
reason, which starts with the condition that broke the server.
"""

from __future__ import annotations

import dataclasses

from harness.judge.verdict import Judgement
from harness.spec import transcript
from harness.spec.matrix import Cell, Scenario
from harness.spec.transcript import CLIENT, DATA, SERVER


def streams(turns: list[transcript.Turn], transport: str = "tcp") -> list[transcript.Turn]:
    """The turns as compared with `compare: streams`: all client data, then
    all server data (each merged into one turn), then the close events."""
    data = [t for d in (CLIENT, SERVER) for t in turns if t.kind == DATA and t.direction == d]
    closes = [t for t in turns if t.kind != DATA]
    return transcript.canonical(data + closes, transport)


def compare(sc: Scenario, recorded: transcript.Transcript, golden_name: str,
            skip: int = 0) -> transcript.Comparison:
    """Compares the judged connections (those after the first skip, which
    belong to before steps) with the golden, turn by turn or as streams."""
    golden = sc.golden
    conns = recorded.connections[skip:]
    if sc.compare == "streams":
        golden = transcript.Transcript(golden.transport,
                                       [streams(c, golden.transport)
                                        for c in golden.connections[:1]])
        conns = [streams(c, recorded.transport) for c in conns]
    c = transcript.compare(golden, transcript.Transcript(recorded.transport, conns or [[]]),
                           golden_name)
    if not c.equal and skip:
        # Name the connection as transcript.txt numbers it (steps first).
        c = dataclasses.replace(c, connection=(c.connection or 1) + skip)
    return c


def name_condition(cell: Cell, j: Judgement) -> Judgement:
    """For a robustness scenario, a reason that starts with the condition."""
    sc = cell.scenario
    if not getattr(sc, "robustness", False) or not j.reason:
        return j
    cond = sc.name + (f" ({sc.description})" if sc.description else "")
    return dataclasses.replace(j, reason=f"{cond}: {j.reason}")
