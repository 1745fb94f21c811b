"""Option values shared by the commands that select cells (run, list,
check, doctor): repeatable, comma-separated lists and -k patterns."""

from __future__ import annotations

import fnmatch


def split(values: str | list[str] | None) -> list[str]:
    """The items of a repeatable option whose values may also be
    comma-separated lists: ['a,b', 'c'] -> ['a', 'b', 'c']."""
    if isinstance(values, str):
        values = [values]
    return [x.strip() for v in values or [] for x in v.split(",") if x.strip()]


def k_matches(cell_id: str, pattern: str) -> bool:
    """-k: a shell pattern matches the whole cell id; a pattern without
    * ? [ matches as a substring."""
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(cell_id, pattern)
    return pattern in cell_id
