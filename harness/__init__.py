"""The interop matrix driver: runs every server x client pairing declared in
matrix.yaml, records what crosses the wire through a relay, compares it with
the protocol's golden transcript and reports a verdict per cell.

Packages, bottom to top, each importing only from those below it (the
layers, one paragraph each: harness/README.md): errors; spec (matrix.yaml
and transcripts: load, validate, expand); judge (outcomes, verdicts,
comparisons); run (processes, cells, namespaces, ports, the relay, the
runner); output (terminal, results.json, junit, html, merging shards);
command (what every command shares); doctor and grading (students'
programs); cli (the command line). Run it with `python3 -m harness`.
"""

__version__ = "1.0"
