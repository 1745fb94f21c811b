"""What can go wrong, and the exit code each ends a command with
(docs/results.md): configuration errors that point at a file and a line,
usage errors, and the driver's own infrastructure failing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a configuration file, at a 1-based line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(Exception):
    """Raised with every problem found; str() gives one `file:line: msg` per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# Exit codes of every command: 0 every cell pass, xfail or (not --strict)
# deviates; 1 a cell a peer got wrong (fail, xpass); 2 usage or
# configuration errors; 3 infrastructure only (error cells, or the driver
# could not finish: nothing a peer did); 130 interrupted.
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INFRA, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(Exception):
    """A command line the command cannot run: a bad option value, a name
    that names nothing. Exit 2 with the message on stderr."""


class InfraError(Exception):
    """The driver or the machine it runs on could not do its job (a full
    disk, no file descriptors left, an unwritable --out): nothing a peer
    did. The run exits 3 (docs/results.md)."""


# What a process prints when the machine, not the program, ran out of
# something. A peer that dies with one of these is the runner's problem.
RESOURCE_MARKERS = (
    "Too many open files",
    "EMFILE",
    "ENFILE",
    "unable to create native thread",
    "Cannot allocate memory",
    "No space left on device",
    "fork: retry: Resource temporarily unavailable",
    "fork: Resource temporarily unavailable",
)


def resource_line(text: str) -> str | None:
    """Returns the first line of text that says a resource ran out (open
    files, processes, memory, disk), or None."""
    for line in text.splitlines():
        if any(m in line for m in RESOURCE_MARKERS):
            return line.strip()[:300]
    return None
