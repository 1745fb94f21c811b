"""The interop matrix driver: runs every server x client pairing declared in
matrix.yaml, records what crosses the wire through a relay, compares it with
the protocol's golden transcript and reports a verdict per cell.

Modules, one concern each: matrix (load, validate, expand), transcript
(format, parse, match, compare), relay (recording TCP/UDP relay), processes
(spawn, readiness, stop), ports (allocation), runner (one cell, a run),
verdict (judging a cell), report (terminal, results.json, junit, html),
cli (argparse front end). Run it with `python3 -m harness`.
"""

__version__ = "1.0"
