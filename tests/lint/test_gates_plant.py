"""The lint gates catch what they are there for. On a copy of the tree,
tools/lint.sh (the very command the lint_* ctest tests run) must pass;
then, in copies with one planted fault each, the gate for that fault must
fail and point at the planted line: an unused import in a harness module
(flake8), a type error in a harness module (mypy), an unquoted expansion
in a shell peer (shellcheck SC2086) and a mis-formatted C line
(clang-format). The plants go into files found by walking the folders, so
the test follows the tree when modules move."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = ROOT / "tools" / "lint.sh"
GATES = ("flake8", "mypy", "shellcheck", "clang-format")
# Not copied: what is not source (builds, results, caches, git).
SKIP_TOP = {".git", "results", ".mypy_cache"}


def _ignore(folder: str, names: list[str]) -> set[str]:
    out = {n for n in names if n in ("__pycache__", ".mypy_cache")}
    if Path(folder) == ROOT:
        out |= {n for n in names if n in SKIP_TOP or n == "build" or n.startswith("build-")}
    return out


def _modules(tree: Path) -> list[Path]:
    """The harness's modules, wherever they sit under harness/."""
    return sorted(p for p in (tree / "harness").rglob("*.py")
                  if p.name not in ("__init__.py", "__main__.py")
                  and "__pycache__" not in p.parts)


def _append(path: Path, line: str) -> int:
    """Appends one line; returns its line number."""
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    path.write_text(text + line + "\n", encoding="utf-8")
    return text.count("\n") + 1


class Gates(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="sl-lint-"))
        cls.clean = cls.tmp / "clean"
        shutil.copytree(ROOT, cls.clean, ignore=_ignore, symlinks=True)
        cls.clean_runs = {g: cls.lint(cls.clean, g) for g in GATES}

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def lint(cls, tree: Path, gate: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, SL_LINT_CACHE=str(cls.tmp / "cache"))
        return subprocess.run(["sh", str(LINT), "-C", str(tree), gate], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=600)

    def copy(self, name: str) -> Path:
        tree = self.tmp / name
        shutil.copytree(self.clean, tree, symlinks=True)
        return tree

    def assert_clean(self, gate: str) -> None:
        r = self.clean_runs[gate]
        self.assertEqual(r.returncode, 0,
                         f"tools/lint.sh {gate} fails on the unplanted copy:\n{r.stdout}")
        self.assertIn(f"lint: {gate}: clean", r.stdout)

    def assert_caught(self, gate: str, tree: Path, rel: Path, line: int,
                      marks: tuple[str, ...]) -> None:
        """The gate exits 1 and its output names the planted file and line."""
        r = self.lint(tree, gate)
        where = f"{gate} on a copy with a fault planted at {rel}:{line}"
        self.assertEqual(r.returncode, 1, f"{where}: exit {r.returncode}, want 1\n{r.stdout}")
        self.assertIn(f"lint: {gate}: FAILED", r.stdout)
        line_re = {"shellcheck": rf"In {re.escape(str(rel))} line {line}:"}.get(
            gate, rf"{re.escape(str(rel))}:{line}:")
        self.assertRegex(r.stdout, line_re, f"{where}: not named\n{r.stdout}")
        for mark in marks:
            self.assertIn(mark, r.stdout, f"{where}\n{r.stdout}")

    def test_clean_copy_passes_every_gate(self) -> None:
        for gate in GATES:
            with self.subTest(gate=gate):
                self.assert_clean(gate)

    def test_flake8_catches_an_unused_import(self) -> None:
        self.assert_clean("flake8")
        tree = self.copy("flake8")
        module = _modules(tree)[0]
        line = _append(module, "import colorsys")
        self.assert_caught("flake8", tree, module.relative_to(tree), line,
                           ("F401", "'colorsys' imported but unused"))

    def test_mypy_catches_a_type_error(self) -> None:
        self.assert_clean("mypy")
        tree = self.copy("mypy")
        module = _modules(tree)[-1]
        line = _append(module, '_sl_planted: int = "not a number"')
        self.assert_caught("mypy", tree, module.relative_to(tree), line,
                           ("[assignment]",))

    def test_shellcheck_catches_an_unquoted_expansion(self) -> None:
        self.assert_clean("shellcheck")
        tree = self.copy("shellcheck")
        for script in sorted((tree / "peers").rglob("*.sh")):
            lines = script.read_text(encoding="utf-8").split("\n")
            hits = [i for i, s in enumerate(lines)
                    if '"$port"' in s and not s.lstrip().startswith("#")]
            if hits:
                break
        else:
            self.fail('no shell peer passes "$port" to plant into')
        i = hits[0]
        lines[i] = lines[i].replace('"$port"', "$port", 1)
        script.write_text("\n".join(lines), encoding="utf-8")
        self.assert_caught("shellcheck", tree, script.relative_to(tree), i + 1,
                           ("SC2086",))

    def test_clang_format_catches_a_misformatted_line(self) -> None:
        self.assert_clean("clang-format")
        tree = self.copy("clang-format")
        source = sorted((tree / "c").rglob("*.c"))[0]
        line = _append(source, "static const int sl_planted=1;")
        self.assert_caught("clang-format", tree, source.relative_to(tree), line,
                           ("clang-format-violations",))


if __name__ == "__main__":
    unittest.main(verbosity=2)
