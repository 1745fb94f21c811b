"""What every command shares (run, list, show, validate, merge, doctor,
check), so that they load the same matrix, check options with the same
words, stop the same way on Ctrl-C and exit with the same codes.

- the default matrix (matrix.yaml at the repository root) and loading it;
- the options every command takes (--matrix, --build, --jobs, --timeout,
  --ports, --mode) and their checks, raising UsageError;
- exit codes: the EXIT_* of harness/errors.py; run_command() turns what a
  command raises into its code and one line on stderr;
- interrupts: interruptible() runs a command's work so that SIGINT or
  SIGTERM kill every program it started and cancel it (the cells'
  finally blocks close the cells and remove what is left);
Below this layer because the library needs them too: the subreaper
set-up, processes.adopt_orphans (the runner calls it), and colour,
report.use_colour (the run's live grid decides it).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Awaitable, Callable, TypeVar

from harness.errors import (EXIT_FAIL, EXIT_INFRA, EXIT_INTERRUPTED, EXIT_USAGE, ConfigError,
                            InfraError, UsageError)
from harness.run import builddir, netns, processes
from harness.run.ports import DEFAULT_RANGE, PortPool, parse_range
from harness.spec import matrix, modes
from harness.spec.matrix import Matrix

PROG = "python3 -m harness"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MATRIX = ROOT / "matrix.yaml"

T = TypeVar("T")


# --------------------------------------------------------------------------
# Options


def add_matrix_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--matrix", default=None, metavar="FILE",
                   help="the matrix file (default: matrix.yaml at the repository root)")


def add_build_option(p: argparse.ArgumentParser,
                     what: str = "the CMake build directory used for {build}") -> None:
    p.add_argument("--build", default=builddir.DEFAULT, metavar="DIR",
                   help=f"{what} (default: {builddir.DEFAULT})")


def add_ports_option(p: argparse.ArgumentParser, who: str = "the driver") -> None:
    p.add_argument("--ports", default=f"{DEFAULT_RANGE[0]}-{DEFAULT_RANGE[1]}", metavar="LO-HI",
                   help=f"the port range {who} owns (default %(default)s)")


def matrix_file(arg: str | None) -> Path:
    """The --matrix file: the given one, or matrix.yaml at the root."""
    return Path(arg) if arg else DEFAULT_MATRIX


def load_matrix(arg: str | None) -> Matrix:
    """Loads the --matrix file; paths in it are relative to its folder.
    Raises ConfigError (exit 2) with every problem found."""
    path = matrix_file(arg)
    return matrix.load(path, path.resolve().parent)


def check_jobs(jobs: int) -> int:
    if jobs < 1:
        raise UsageError("--jobs must be >= 1")
    return jobs


def check_timeout(timeout: float | None) -> float | None:
    if timeout is not None and timeout <= 0:
        raise UsageError("--timeout must be > 0")
    return timeout


def port_range(text: str) -> tuple[int, int]:
    """The --ports LO-HI range, checked as the port pool would."""
    try:
        lo_hi = parse_range(text)
        PortPool(*lo_hi)
    except ValueError as e:
        raise UsageError(f"--ports: {e}") from None
    return lo_hi


def parse_modes(values: list[str]) -> tuple[list[str], str | None]:
    """The --mode values, canonical, and why two-hosts was dropped (None
    when it was not asked for or can run: namespaces can be made here)."""
    try:
        ms = modes.parse_list(values)
    except ValueError as e:
        raise UsageError(f"--mode: {e}") from None
    why = netns.unavailable() if "two-hosts" in ms else None
    if why:
        ms.remove("two-hosts")
        if not ms:
            raise UsageError("no mode left to run")
    return ms, why


def build_dir(arg: str | None, prog: str = PROG) -> Path:
    """The --build folder (a CMake preset's when build/ holds none); says
    on stderr which one when it is not the one named."""
    choice = builddir.resolve(arg)
    if choice.note:
        print(f"{prog}: {choice.note}", file=sys.stderr)
    return choice.path


# --------------------------------------------------------------------------
# Running a command


async def interruptible(work: Awaitable[T]) -> tuple[bool, T | None]:
    """Runs work; SIGINT or SIGTERM kill every program it started (no
    grace: an interrupted run keeps no verdict, and a thousand clients
    each given a grace period kept a driver busy for seconds) and cancel
    it (the cells' finally blocks then find them gone, close the cells and
    remove what is left). Returns (interrupted, work's result or None)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)

    def on_signal() -> None:
        processes.kill_all()
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        return False, await task
    except asyncio.CancelledError:
        return True, None
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run_command(command: Callable[[argparse.Namespace], int], args: argparse.Namespace,
                prog: str = PROG) -> int:
    """Runs a command; what it raises becomes its exit code (docs/results.md)
    with one line on stderr: ConfigError and UsageError 2, InfraError 3,
    Ctrl-C outside the cells 130 (every program started is killed)."""
    try:
        return command(args)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        n = len(e.problems)
        print(f"{n} problem{'s' if n != 1 else ''} found", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except InfraError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return EXIT_INFRA
    except KeyboardInterrupt:
        processes.kill_all()
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAIL
