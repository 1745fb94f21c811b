"""Every Python test module in the tree runs under ctest: each test_*.py in
the folders below is named by the command of some test this build
registered (asked from ctest itself). The CMakeLists glob these folders;
a hand-kept list would silently leave a new module out, and this test
would then fail naming it. SL_BUILD_DIR is the build folder (ctest sets
it; default build/)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("SL_BUILD_DIR") or ROOT / "build")
FOLDERS = ("tests/harness", "tests/peers/python", "tests/lint")


def registered() -> list[tuple[str, str, str]]:
    """(name, command line, working directory) of every ctest test."""
    r = subprocess.run(["ctest", "--test-dir", str(BUILD), "--show-only=json-v1"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"ctest --show-only failed ({r.returncode}): {r.stderr}")
    out = []
    for t in json.loads(r.stdout).get("tests", []):
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        out.append((t["name"], " ".join(t.get("command") or []),
                    str(props.get("WORKING_DIRECTORY", ""))))
    return out


def runs(module: Path, tests: list[tuple[str, str, str]]) -> list[str]:
    """The tests whose command runs module: its path, or its name with the
    module's folder as the working directory."""
    name = re.escape(module.stem)
    hits = []
    for test, cmd, wd in tests:
        if str(module) in cmd or (
                Path(wd or "/") == module.parent
                and re.search(rf"(^|[\s/]){name}(\.py)?($|\s)", cmd)):
            hits.append(test)
    return hits


class Discovered(unittest.TestCase):
    def test_every_test_module_is_registered(self) -> None:
        tests = registered()
        self.assertTrue(tests, f"no tests registered in {BUILD}")
        for folder in FOLDERS:
            modules = sorted((ROOT / folder).glob("test_*.py"))
            self.assertTrue(modules, f"{folder}: no test_*.py found")
            for module in modules:
                with self.subTest(module=str(module.relative_to(ROOT))):
                    self.assertTrue(
                        runs(module, tests),
                        f"{module.relative_to(ROOT)} is not run by any ctest test of "
                        f"{BUILD} (re-run cmake, or register the folder's test_*.py)")


if __name__ == "__main__":
    unittest.main(verbosity=2)
