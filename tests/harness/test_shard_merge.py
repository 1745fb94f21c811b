"""The real matrix (a slice of the ack protocol, C, Python and Java peers)
run as 3 balanced shards and merged: the merged results.json has exactly
the cells of one unsharded run, with the same verdicts, and the merged
junit.xml validates against junit-10.xsd. Needs the build (SL_BUILD_DIR)."""

import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import schemacheck
import support

# Outside the kernel's ephemeral range and every other test's ports.
PORTS = "61000-61999"
# Generous client timeouts: the two runs must agree, and on a heavily
# loaded machine a tight timeout would make one of them time out alone.
FILTERS = ["--protocol", "ack", "--server", "c,python", "--client", "c,java,raw",
           "--timeout", "60"]
BUILD = os.environ.get("SL_BUILD_DIR", str(support.ROOT / "build"))


def harness(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *argv], cwd=support.ROOT,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NO_COLOR": "1"})


def load(out: Path) -> dict:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


@unittest.skipUnless((Path(BUILD) / "c" / "ack" / "server").exists(),
                     f"needs the build in {BUILD} (SL_BUILD_DIR)")
class ShardMergeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._dir = tempfile.TemporaryDirectory(prefix="harness-shards-")
        cls.tmp = Path(cls._dir.name)
        cls.whole = cls.tmp / "whole"
        cls.p_whole = harness("run", *FILTERS, "--ports", PORTS, "--jobs", "2", "--build", BUILD,
                              "--out", str(cls.whole))
        cls.shards = []
        for i in (1, 2, 3):
            out = cls.tmp / f"shard-{i}"
            p = harness("run", *FILTERS, "--shard", f"{i}/3", "--ports", PORTS, "--jobs", "2",
                        "--build", BUILD, "--out", str(out))
            cls.shards.append((out, p))
        cls.merged = cls.tmp / "merged"
        cls.p_merge = harness("merge", *(str(o) for o, _ in cls.shards), "--out", str(cls.merged))

    @classmethod
    def tearDownClass(cls):
        cls._dir.cleanup()

    def test_merged_cells_and_verdicts_equal_the_unsharded_run(self):
        self.assertIn(self.p_whole.returncode, (0, 1), self.p_whole.stderr)
        a, b = load(self.whole), load(self.merged)
        self.assertGreater(a["total"], 10)

        def cells(d):
            return sorted((c["id"], c["repeat"], c["verdict"]) for c in d["cells"])
        why = {(c["id"], c["verdict"]): c["reason"] for c in a["cells"] + b["cells"]}
        differ = sorted(set(cells(a)) ^ set(cells(b)))
        self.assertEqual(cells(b), cells(a), "\n".join(
            f"{cid} {v}: {why[(cid, v)]}" for cid, _, v in differ))
        self.assertEqual([c["id"] for c in b["cells"]], [c["id"] for c in a["cells"]])
        self.assertEqual(b["counts"], a["counts"])
        self.assertEqual(self.p_merge.returncode, self.p_whole.returncode, self.p_merge.stderr)
        self.assertEqual(b["infrastructure_errors"], [])

    def test_shards_are_disjoint_and_balanced(self):
        sizes = []
        for out, p in self.shards:
            self.assertIn(p.returncode, (0, 1), p.stderr)
            d = load(out)
            self.assertEqual(d["shard"]["count"], 3)
            sizes.append(d["total"])
        self.assertEqual(sum(sizes), load(self.whole)["total"])
        self.assertLessEqual(max(sizes) - min(sizes), 4, sizes)

    def test_merged_outputs_validate(self):
        p = subprocess.run(["xmllint", "--noout", "--schema",
                            str(support.FIXTURES / "junit-10.xsd"), str(self.merged / "junit.xml")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        schema = json.loads((support.ROOT / "docs" / "results.schema.json").read_text())
        self.assertEqual(schemacheck.validate(load(self.merged), schema), [])
        self.assertEqual(schemacheck.validate(load(self.whole), schema), [])
        html = (self.merged / "report.html").read_text(encoding="utf-8")
        self.assertIn('<table class="grid">', html)
        self.assertIn("merged from 3 shards", html)
        self.assertIn("ack (tcp)", self.p_merge.stdout)


if __name__ == "__main__":
    unittest.main()
