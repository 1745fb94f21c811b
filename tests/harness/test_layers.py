"""harness/ imports one way only (harness/README.md, "Layers").

Reads every harness/**/*.py with ast (nothing is imported or run) and
builds the graph of its imports between harness modules, imports inside
functions and under TYPE_CHECKING included. Fails on:
- an upward import: a module importing one of a higher layer, or of
  another layer of the same rank (doctor and grading know nothing of each
  other);
- a cycle between modules, within a layer too;
- a private name used across modules: `from m import _x`, `m._x` on an
  imported module, and reach-through (`runner.processes.kill_all`: a
  module used through another module that imported it).
The checks run on a copy with a planted violation too, so a checker that
finds nothing fails.
"""

from __future__ import annotations

import ast
import shutil
import tempfile
import unittest
from dataclasses import dataclass, field
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[2] / "harness"

# Bottom to top; a layer is a top-level module or package of harness/. A
# module may import from its own layer (without cycles) and from lower
# ranks. harness/README.md states the same order.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors"),
    ("spec",),
    ("judge",),
    ("run",),
    ("output",),
    ("command",),
    ("doctor", "grading"),
    ("cli",),
    ("__main__",),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


@dataclass
class Module:
    name: str  # dotted: harness.run.runner
    path: Path
    layer: str
    imports: dict[str, int] = field(default_factory=dict)  # module -> first line
    aliases: dict[str, str] = field(default_factory=dict)  # local name -> module
    private: list[tuple[int, str]] = field(default_factory=list)  # (line, what)
    tree: ast.Module | None = None


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["harness"] + parts)


def layer_of(root: Path, path: Path) -> str:
    rel = path.relative_to(root).parts
    return rel[0] if len(rel) > 1 else Path(rel[0]).stem


def load(root: Path) -> dict[str, Module]:
    """Every module under root (a copy of harness/), its imports of other
    harness modules and the local names bound to them."""
    mods = {}
    paths = sorted(root.rglob("*.py"))
    for p in paths:
        name = module_name(root, p)
        mods[name] = Module(name, p, layer_of(root, p))
    for m in mods.values():
        tree = m.tree = ast.parse(m.path.read_text(encoding="utf-8"), str(m.path))
        package = m.name if m.path.name == "__init__.py" else m.name.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == "harness" and a.name in mods:
                        m.imports.setdefault(a.name, node.lineno)
                        if a.asname:
                            m.aliases[a.asname] = a.name
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")
                    up = up[:len(up) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                if base.split(".")[0] != "harness":
                    continue
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    if sub in mods:  # a module: from harness.run import runner
                        m.imports.setdefault(sub, node.lineno)
                        m.aliases[a.asname or a.name] = sub
                        if a.name.startswith("_"):
                            m.private.append((node.lineno, f"imports private module {sub}"))
                    elif base in mods:  # a name: from harness.run.runner import CellResult
                        if base != m.name:
                            m.imports.setdefault(base, node.lineno)
                        if a.name.startswith("_") and a.name != "__version__" and base != m.name:
                            m.private.append((node.lineno, f"imports {base}.{a.name}"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute) or not isinstance(node.value, ast.Name):
                continue
            target = m.aliases.get(node.value.id)
            if target is None or target == m.name:
                continue
            if node.attr.startswith("_") and not node.attr.startswith("__"):
                m.private.append((node.lineno, f"uses {target}.{node.attr}"))
    return mods


def reach_through(mods: dict[str, Module]) -> list[str]:
    """Uses of a module through another module that imported it:
    `runner.processes.kill_all` in a module that imported runner."""
    out = []
    for m in mods.values():
        assert m.tree is not None
        for node in ast.walk(m.tree):
            if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                    and isinstance(node.value.value, ast.Name)):
                continue
            target = m.aliases.get(node.value.value.id)
            if target is None or target == m.name:
                continue
            inner = mods[target].aliases.get(node.value.attr)
            if inner is not None:
                out.append(f"{m.path}:{node.lineno}: reaches {inner} through {target} "
                           f"({node.value.value.id}.{node.value.attr}.{node.attr})")
    return out


def upward(mods: dict[str, Module]) -> list[str]:
    out = []
    for m in mods.values():
        if m.layer not in RANK:
            out.append(f"{m.path}: layer {m.layer!r} is not in LAYERS")
            continue
        for target, line in m.imports.items():
            t = mods[target]
            if t.layer == m.layer:
                continue
            if t.layer not in RANK or RANK[t.layer] >= RANK[m.layer]:
                out.append(f"{m.path}:{line}: {m.name} ({m.layer}) imports {target} "
                           f"({t.layer}), which is not below it")
    return out


def cycles(mods: dict[str, Module]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan),
    and modules importing themselves."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in mods[v].imports:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in mods[v].imports:
                out.append(sorted(comp))

    for v in sorted(mods):
        if v not in index:
            visit(v)
    return out


def problems(root: Path) -> list[str]:
    mods = load(root)
    out = upward(mods)
    out += [f"import cycle: {' <-> '.join(c)}" for c in cycles(mods)]
    out += [f"{m.path}:{line}: {what}" for m in mods.values() for line, what in m.private]
    out += reach_through(mods)
    return out


class LayersTest(unittest.TestCase):
    def test_harness_imports_one_way(self):
        self.assertEqual(problems(HARNESS), [])

    def test_every_layer_is_declared_and_exists(self):
        found = {layer_of(HARNESS, p) for p in HARNESS.rglob("*.py")}
        self.assertEqual(found, set(RANK))

    def test_readme_states_the_order(self):
        text = (HARNESS / "README.md").read_text(encoding="utf-8")
        line = next(ln for ln in text.splitlines() if ln.startswith("Layers, bottom to top:"))
        shown = [[x for x in names if x not in ("__init__", "__main__")] for names in LAYERS]
        self.assertEqual(line, "Layers, bottom to top: "
                         + " < ".join(" | ".join(names) for names in shown if names) + ".")


class PlantedViolationTest(unittest.TestCase):
    """Each kind of violation, planted in a copy of harness/, is found."""

    def setUp(self):
        tmp = Path(tempfile.mkdtemp(prefix="test_layers."))
        self.addCleanup(shutil.rmtree, tmp)
        self.root = tmp / "harness"
        shutil.copytree(HARNESS, self.root, ignore=shutil.ignore_patterns("__pycache__"))

    def plant(self, rel: str, text: str) -> list[str]:
        p = self.root / rel
        p.write_text(p.read_text(encoding="utf-8") + "\n" + text + "\n", encoding="utf-8")
        return problems(self.root)

    def test_the_copy_is_clean(self):
        self.assertEqual(problems(self.root), [])

    def test_upward_import(self):
        got = self.plant("spec/transcript.py", "from harness.run import runner  # noqa")
        self.assertTrue(any("harness.spec.transcript (spec) imports harness.run.runner" in p
                            for p in got), got)

    def test_upward_import_inside_a_function(self):
        got = self.plant("judge/verdict.py",
                         "def f():\n    from harness.output.report import tail\n    return tail")
        self.assertTrue(any("imports harness.output.report" in p for p in got), got)

    def test_sideways_import(self):
        got = self.plant("doctor.py", "from harness.grading import check  # noqa")
        self.assertTrue(any("harness.doctor (doctor) imports harness.grading.check" in p
                            for p in got), got)

    def test_cycle_within_a_layer(self):
        got = self.plant("run/clock.py", "from harness.run import runner  # noqa")
        self.assertTrue(any(p.startswith("import cycle:") and "harness.run.clock" in p
                            and "harness.run.runner" in p for p in got), got)

    def test_private_name_imported(self):
        (self.root / "spec" / "transcript.py").write_text(
            (self.root / "spec" / "transcript.py").read_text(encoding="utf-8")
            + "\n_hidden = 1\n", encoding="utf-8")
        got = self.plant("judge/verdict.py", "from harness.spec.transcript import _hidden  # noqa")
        self.assertIn("imports harness.spec.transcript._hidden", "\n".join(got))

    def test_private_attribute_of_a_module(self):
        got = self.plant("judge/verdict.py", "X = transcript._hidden")
        self.assertIn("uses harness.spec.transcript._hidden", "\n".join(got))

    def test_reach_through(self):
        got = self.plant("cli.py", "Y = runner.processes.kill_all")
        self.assertIn("reaches harness.run.processes through harness.run.runner", "\n".join(got))


if __name__ == "__main__":
    unittest.main()
