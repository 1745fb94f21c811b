#!/usr/bin/env python3
"""Dumps every cell a matrix declares as canonical JSON, one cell a line.

For checking that a change to how matrix.yaml is written (not what it
says) leaves the cells exactly as they were: dump before, dump after, diff.

    python3 tools/matrix_dump.py [MATRIX] > cells.jsonl

Every mode and every peer (default: false ones too, as if named on the
command line): per cell its id and the known failure's reason (cells in
expansion order); then every protocol and scenario once (each Scenario
field, the golden as its parsed turns, bytes over 4 KiB as their SHA-256;
source lines left out: they move when text moves), the modes a scenario
does not run in and why, and the absences `list --absent` shows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.spec import matrix, transcript  # noqa: E402
from harness.spec import modes as modelib  # noqa: E402

# Where a thing is written, not what it is.
LOCATION_FIELDS = {"line", "file", "protocols_line"}


def plain(value, root: Path):
    """value as JSON-able data, deterministic."""
    if isinstance(value, bytes):
        if len(value) > 4096:  # 1 MB stdins: their digest, not 4 MB of escapes
            return {"sha256": hashlib.sha256(value).hexdigest(), "len": len(value)}
        return {"bytes": transcript.escape(value)}
    if isinstance(value, Path):
        try:
            return str(value.resolve().relative_to(root.resolve()))
        except ValueError:
            return str(value)
    if isinstance(value, transcript.Pattern):
        return {"pattern": value.source}
    if isinstance(value, transcript.Transcript):
        return {"transport": value.transport,
                "connections": [transcript.format_turns(c) for c in value.connections]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name), root)
                for f in dataclasses.fields(value) if f.name not in LOCATION_FIELDS}
    if isinstance(value, dict):
        return {str(k): plain(v, root) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [plain(v, root) for v in value]
    return value


def dump(path: Path) -> list[str]:
    m = matrix.load(path, path.resolve().parent)
    root = m.root
    out = []
    cells = matrix.expand(m, named=frozenset(m.peers), modes=modelib.ALL)
    for c in cells:
        kf = m.known_failure(c.id)
        out.append(json.dumps({"cell": c.id, "known_failure": kf.reason if kf else None},
                              sort_keys=True, ensure_ascii=True))
    for proto in m.protocols.values():
        out.append(json.dumps({"protocol": {k: plain(getattr(proto, k), root) for k in
                                            ("name", "transport", "contract", "description")}},
                              sort_keys=True, ensure_ascii=True))
        for sc in proto.scenarios.values():
            out.append(json.dumps({"scenario": plain(sc, root)}, sort_keys=True,
                                  ensure_ascii=True))
            skipped = {mode: matrix.mode_absence(proto, sc, mode) for mode in modelib.ALL}
            out.append(json.dumps({"scenario": f"{proto.name}/{sc.name}",
                                   "not_in_modes": {k: v for k, v in skipped.items() if v}},
                                  sort_keys=True, ensure_ascii=True))
    for a in matrix.absences(m):
        out.append(json.dumps({"absent": plain(a, root)}, sort_keys=True, ensure_ascii=True))
    out.append(json.dumps({"defaults": plain(m.defaults, root),
                           "peers": plain(m.peers, root)}, sort_keys=True, ensure_ascii=True))
    return out


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "matrix.yaml"
    for line in dump(path):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
