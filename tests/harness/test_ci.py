"""What a CI pipeline relies on (issue 13): distinct exit codes, --out
cleared before anything can fail, the open-file limit raised and resource
errors as `error` cells, junit.xml valid against junit-10.xsd, results.json
valid against docs/results.schema.json, shards balanced by cost and merged
back into one report, the ready-made GitHub workflow. Uses the fake peers
only: no build needed, a few seconds."""

import contextlib
import errno
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

import schemacheck
import support
from harness import cli
from harness.judge import verdict
from harness.output import merge
from harness.run import runner
from harness.spec import matrix

# A range no other test module uses, outside the kernel's ephemeral range.
RANGE = (32500, 32767)
PORTS = f"{RANGE[0]}-{RANGE[1]}"
XSD = support.FIXTURES / "junit-10.xsd"
SCHEMA = json.loads((support.ROOT / "docs" / "results.schema.json").read_text())
WORKFLOW = support.ROOT / ".github" / "workflows" / "matrix.yml"
KF = "\n  - cell: 'echo/hello/s-echo/c-exit1/*'\n    reason: known to exit 1"


def call(*argv):
    out, err = io.StringIO(), io.StringIO()
    env = dict(os.environ)
    os.environ["NO_COLOR"] = "1"
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(argv))
    finally:
        os.environ.clear()
        os.environ.update(env)
    return code, out.getvalue(), err.getvalue()


def xmllint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["xmllint", "--noout", "--schema", str(XSD), str(path)],
                          capture_output=True, text=True, timeout=60)


def load(out: Path) -> dict:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


class OutputsTest(support.HarnessTestCase):
    """One run with a pass, a fail, an xfail and an error cell."""

    port_range = RANGE

    @classmethod
    def setUpClass(cls):
        cls._dir = tempfile.TemporaryDirectory(prefix="harness-ci-")
        root = Path(cls._dir.name)
        cls.m = support.fake_matrix(root / "m", {"echo": "echo"},
                                    {"echo": "echo", "garbage": "garbage", "exit1": "exit1",
                                     "notfound": "notfound"}, known_failures=KF)
        cls.out = root / "out"
        cls.code, cls.stdout, cls.stderr = call(
            "run", "--matrix", str(cls.m.path), "--out", str(cls.out), "--ports", PORTS,
            "--jobs", "4")
        cls.data = load(cls.out)

    @classmethod
    def tearDownClass(cls):
        cls._dir.cleanup()

    def test_verdicts_and_exit_1(self):
        self.assertEqual(self.data["counts"], {"pass": 1, "deviates": 0, "xfail": 1, "xpass": 0,
                                               "fail": 1, "error": 1}, self.stdout)
        # A peer's failure outranks the harness's error.
        self.assertEqual(self.code, 1, self.stderr)
        self.assertEqual(self.data["exit_code"], 1)

    def test_junit_validates_against_junit_10_xsd(self):
        p = xmllint(self.out / "junit.xml")
        self.assertEqual(p.returncode, 0, p.stderr + (self.out / "junit.xml").read_text())

    def test_xsd_rejects_the_old_layout(self):
        # The schema is not a rubber stamp: properties inside a testcase and
        # `skipped` on <testsuites> (the old junit.xml) do not validate.
        bad = Path(self._dir.name) / "old.xml"
        bad.write_text('<testsuites tests="1" skipped="0"><testsuite name="a" tests="1" '
                       'failures="0" errors="0"><testcase name="x"><properties><property '
                       'name="verdict" value="pass"/></properties></testcase></testsuite>'
                       '</testsuites>')
        p = xmllint(bad)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("skipped", p.stderr)
        self.assertIn("properties", p.stderr)

    def test_junit_suite_fields(self):
        root = ET.parse(self.out / "junit.xml").getroot()
        suite = root.find("testsuite")
        self.assertTrue(suite.get("timestamp"))
        self.assertTrue(suite.get("hostname"))
        self.assertIsNone(root.find(".//testcase/properties"))
        self.assertEqual(suite.find("properties/property[@name='commit']").get("value"),
                         self.data["commit"] or "unknown")
        # Wall time: from the first cell's start to the last one's end, not
        # the sum of four cells that ran side by side.
        cells = self.data["cells"]
        wall = max(c["end_s"] for c in cells) - min(c["start_s"] for c in cells)
        self.assertAlmostEqual(float(suite.get("time")), wall, delta=0.002)
        self.assertLessEqual(float(suite.get("time")), self.data["duration_s"])
        kinds = {tc.get("name").split("/")[2]: [ch.tag for ch in tc]
                 for tc in suite.findall("testcase")}
        self.assertEqual(kinds["c-exit1"], ["skipped"])
        self.assertEqual(kinds["c-garbage"], ["failure"])
        self.assertEqual(kinds["c-notfound"], ["error"])
        self.assertEqual(kinds["c-echo"], [])
        skipped = suite.find(".//skipped")
        self.assertIn("known to exit 1", skipped.get("message"))

    def test_results_json_validates_against_schema(self):
        self.assertEqual(schemacheck.validate(self.data, SCHEMA), [])

    def test_schema_check_can_fail(self):
        broken = json.loads(json.dumps(self.data))
        broken["cells"][0]["verdict"] = "maybe"
        del broken["commit"]
        problems = schemacheck.validate(broken, SCHEMA)
        self.assertEqual(len(problems), 2, problems)

    def test_results_json_identity(self):
        from harness import __version__
        self.assertEqual(self.data["harness_version"], __version__)
        self.assertIsNone(self.data["shard"])
        self.assertEqual(self.data["selection"]["cells"], 4)
        self.assertEqual(self.data["matrix_hash"], merge.matrix_hash(self.m.path))
        self.assertEqual(self.data["modes"], ["plain"])
        self.assertEqual(self.data["modes_skipped"], [])
        git = subprocess.run(["git", "-C", str(support.ROOT), "rev-parse", "HEAD"],
                             capture_output=True, text=True)
        if git.returncode == 0:
            self.assertEqual(self.data["commit"], git.stdout.strip())

    def test_error_cell_has_a_reason(self):
        c = next(c for c in self.data["cells"] if c["verdict"] == "error")
        self.assertIn("not built", c["reason"])


class ExitCodeTest(support.HarnessTestCase):
    port_range = RANGE

    def test_errors_only_exit_3(self):
        m = support.fake_matrix(self.tmp / "m", {"echo": "echo"},
                                {"echo": "echo", "notfound": "notfound"})
        out = self.tmp / "out"
        code, stdout, err = call("run", "--matrix", str(m.path), "--out", str(out),
                                 "--ports", PORTS)
        self.assertEqual(code, 3, stdout + err)
        self.assertEqual(load(out)["exit_code"], 3)

    def test_out_cleared_before_a_usage_error(self):
        m = support.fake_matrix(self.tmp / "m", {"echo": "echo"}, {"echo": "echo"})
        out = self.tmp / "out"
        (out / "cells" / "old").mkdir(parents=True)
        for name in ("results.json", "junit.xml", "report.html", "notes.txt"):
            (out / name).write_text("stale")
        code, _, err = call("run", "--matrix", str(m.path), "--out", str(out), "--ports", PORTS,
                            "-k", "no-such-cell")
        self.assertEqual(code, 2, err)
        self.assertEqual(sorted(p.name for p in out.iterdir()), ["notes.txt"])

    def test_merge_exit_codes_from_verdicts(self):
        self.assertEqual(merge.exit_code(["pass", "xfail", "deviates"]), 0)
        self.assertEqual(merge.exit_code(["pass", "error", "fail"]), 1)
        self.assertEqual(merge.exit_code(["pass", "xpass"]), 1)
        self.assertEqual(merge.exit_code(["pass", "error"]), 3)
        self.assertEqual(merge.exit_code(["pass"], infra=True), 3)
        self.assertEqual(merge.exit_code(["fail"], interrupted=True), 130)


class ResourceTest(support.HarnessTestCase):
    """The open-file limit, in a child driver so the limits stay there."""

    port_range = RANGE

    def run_driver(self, soft: int, hard: int, m: matrix.Matrix):
        out = self.tmp / f"out-{soft}-{hard}"

        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

        p = subprocess.run([sys.executable, "-m", "harness", "run", "--matrix", str(m.path),
                            "--out", str(out), "--ports", PORTS, "--jobs", "2"],
                           cwd=support.ROOT, capture_output=True, text=True, timeout=120,
                           preexec_fn=limit, env={**os.environ, "NO_COLOR": "1"})
        return p, out

    def test_soft_limit_raised_to_hard(self):
        # A hard limit this process may set: a plain user's may be 1024.
        hard = min(4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        if hard <= 256:
            self.skipTest(f"the hard open-file limit is {hard}: nothing to raise to")
        m = support.fake_matrix(self.tmp / "m", {"echo": "echo"}, {"echo": "echo"})
        p, out = self.run_driver(256, hard, m)
        self.assertEqual(p.returncode, 0, p.stderr)
        limits = load(out)["limits"]
        self.assertEqual(limits, {"nofile": hard, "nofile_hard": hard,
                                  "nofile_raised_from": 256})
        self.assertNotIn("open-file limit", p.stderr)

    def test_cells_too_big_for_the_limit_are_not_run_and_say_why(self):
        m = support.fake_matrix(self.tmp / "m", {"echo": "echo"},
                                {"echo": "echo", "garbage": "garbage"},
                                scenario="stdin: 'Hello'\nstdout: 'Hello'\nclients: 30\n"
                                         "timeout_s: 5\ncell_timeout_s: 20")
        p, out = self.run_driver(64, 64, m)
        # 30 clients cannot run under 64 files even alone: not run, and
        # said so in every output (as a mode that needs root), not a
        # traceback and not an error of the peers.
        self.assertIn("2 cell(s) not run", p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        data = load(out)
        self.assertEqual(data["cells"], [])
        self.assertEqual(len(data["cells_skipped"]), 2)
        for c in data["cells_skipped"]:
            self.assertIn("30 clients at once", c["reason"])
            self.assertIn("the open-file limit is 64", c["reason"])
        self.assertIn("not run: 30 clients at once", p.stdout)
        self.assertEqual(xmllint(out / "junit.xml").returncode, 0)
        junit = (out / "junit.xml").read_text()
        self.assertEqual(junit.count('type="not-run"'), 2, junit)
        self.assertIn("not run", (out / "report.html").read_text())

    def test_a_run_that_stops_early_still_writes_every_output(self):
        # The runner dies with EMFILE after the first cell: the other cells
        # are `error` (not run), all three outputs are written, exit 3.
        m = support.fake_matrix(self.tmp / "m", {"echo": "echo"},
                                {"echo": "echo", "garbage": "garbage", "exit1": "exit1"})
        real = runner.run_cells

        async def dies(m, cells, ctx, opts, on_start=None, on_result=None):
            await real(m, cells[:1], ctx, opts, on_start, on_result)
            raise OSError(errno.EMFILE, "Too many open files")

        out = self.tmp / "out"
        runner.run_cells = dies
        try:
            code, stdout, err = call("run", "--matrix", str(m.path), "--out", str(out),
                                     "--ports", PORTS, "--jobs", "1")
        finally:
            runner.run_cells = real
        self.assertEqual(code, 3, stdout + err)
        self.assertNotIn("Traceback", err)
        data = load(out)
        self.assertEqual(data["total"], 3)
        self.assertEqual(data["counts"]["error"], 2, data["counts"])
        self.assertIn("Too many open files", data["infrastructure_errors"][0])
        for c in data["cells"]:
            if c["verdict"] == "error":
                self.assertIn("not run: the run stopped early: OSError", c["reason"])
        self.assertEqual(xmllint(out / "junit.xml").returncode, 0)
        self.assertIn("infrastructure error", (out / "report.html").read_text())

    def test_a_peer_out_of_files_is_not_blamed(self):
        m = support.fake_matrix(self.tmp / "m", {"echo": "echo"}, {"echo": "echo"})
        cell = matrix.expand(m)[0]
        o = verdict.Outcome(clients=[verdict.ClientOutcome(1, [], stderr=b"accept: Too many "
                                                           b"open files\n")])
        r = runner.CellResult(cell, 1, verdict.Judgement(verdict.FAIL, "client exit code 1"),
                              o, 1.0, server_stderr=b"")
        cli._blame_resources(r, {"soft": 1024, "hard": 1024})
        self.assertEqual(r.verdict, verdict.ERROR)
        self.assertIn("not the peers' fault", r.reason)
        self.assertIn("client 1", r.reason)
        # A plain failure stays a failure.
        r = runner.CellResult(cell, 1, verdict.Judgement(verdict.FAIL, "client exit code 1"),
                              verdict.Outcome(), 1.0, server_stderr=b"Traceback: KeyError\n")
        cli._blame_resources(r, {"soft": 1024, "hard": 1024})
        self.assertEqual(r.verdict, verdict.FAIL)


class ShardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = matrix.load(support.ROOT / "matrix.yaml", support.ROOT)
        cls.cells = matrix.expand(cls.m)

    def test_every_cell_exactly_once(self):
        got = []
        for i in (1, 2, 3):
            got += [c.id for c in merge.shard(self.cells, self.m, i, 3)]
        self.assertEqual(sorted(got), sorted(c.id for c in self.cells))

    def test_balanced_by_static_cost(self):
        costs = {c.id: merge.static_cost(c, self.m) for c in self.cells}
        loads = [sum(costs[c.id] for c in merge.shard(self.cells, self.m, i, 3))
                 for i in (1, 2, 3)]
        self.assertLessEqual(max(loads) - min(loads), max(costs.values()), loads)

        def jvm(c):
            return any("{java}" in t.text or "{jvm}" in t.text
                       for t in (c.server.server, c.client.client) if t is not None)
        per = [sum(map(jvm, merge.shard(self.cells, self.m, i, 3))) for i in (1, 2, 3)]
        # The JVM cells are spread, not piled up in one shard.
        self.assertLess(max(per) - min(per), 0.2 * max(per), per)
        self.assertGreater(min(per), 0, per)

    def test_durations_decide_when_given(self):
        slow = self.cells[5].id
        durations = {c.id: 1.0 for c in self.cells}
        durations[slow] = len(self.cells) / 3.0  # one cell as long as a third of the rest
        alone = [merge.shard(self.cells, self.m, i, 3, durations) for i in (1, 2, 3)]
        own = next(s for s in alone if slow in [c.id for c in s])
        self.assertLess(len(own), len(self.cells) / 3 * 0.7, len(own))

    def test_batches_fit_the_open_file_limit(self):
        self.assertEqual(cli.plan_batches(self.cells, 4, 1 << 20), [(self.cells, 4)])
        batches = cli.plan_batches(self.cells, 4, 1024)
        self.assertGreater(len(batches), 1)
        got = [c.id for cells, _ in batches for c in cells]
        self.assertEqual(sorted(got), sorted(c.id for c in self.cells))
        budget = cli.fds_budget(1024)
        light, jobs = batches[0]
        self.assertEqual(jobs, 4)
        slots = 4 * (1 + runner.WAITING_PER_JOB)
        self.assertTrue(all(cli.cell_fds(c) * slots <= budget for c in light))
        for cells, jobs in batches[1:]:
            # A cell too big for the limit even alone (smtp's 1000 clients
            # at 1024) runs in a batch of its own, with a warning.
            if len(cells) > 1:
                self.assertLessEqual(sum(map(cli.cell_fds, cells)), budget)
            self.assertLessEqual(jobs, 4)
        many = [c for c in self.cells if c.scenario.clients >= 20]
        self.assertTrue(many)
        self.assertFalse({c.id for c in many} & {c.id for c in light})

    def test_assign_is_deterministic_and_greedy(self):
        self.assertEqual(merge.assign([5, 1, 1, 1, 1, 1], 2), [0, 1, 1, 1, 1, 1])
        self.assertEqual(merge.assign([1, 1], 3), [0, 1])

    def test_bad_shard_is_a_usage_error(self):
        for bad in ("0/3", "4/3", "x", "1/0"):
            code, _, err = call("list", "--matrix", str(support.ROOT / "matrix.yaml"),
                                "--shard", bad)
            self.assertEqual(code, 2, (bad, err))


class MergeTest(support.HarnessTestCase):
    """Three shards of a six-cell matrix, merged, equal one unsharded run."""

    port_range = RANGE

    @classmethod
    def setUpClass(cls):
        cls._dir = tempfile.TemporaryDirectory(prefix="harness-merge-")
        cls.root = Path(cls._dir.name)
        cls.m = support.fake_matrix(cls.root / "m", {"echo": "echo", "crash": "crash"},
                                    {"echo": "echo", "garbage": "garbage", "exit1": "exit1"},
                                    known_failures=KF)
        cls.whole_code, cls.whole, cls.whole_log = cls.run_shard("whole")
        cls.shards = [cls.run_shard(f"shard{i}", "--shard", f"{i}/3") for i in (1, 2, 3)]

    @classmethod
    def tearDownClass(cls):
        cls._dir.cleanup()

    @classmethod
    def run_shard(cls, name, *extra):
        out = cls.root / name
        code, stdout, err = call("run", "--matrix", str(cls.m.path), "--out", str(out),
                                 "--ports", PORTS, "--jobs", "3", *extra)
        return code, out, stdout + err

    def test_shards_merge_into_the_unsharded_run(self):
        self.assertEqual(self.whole_code, 1, self.whole_log)
        outs = []
        for i, (_, out, log) in enumerate(self.shards, 1):
            self.assertEqual(load(out)["shard"]["index"], i, log)
            outs.append(str(out))
        merged = self.tmp / "merged"
        code, stdout, err = call("merge", *outs, "--out", str(merged))
        self.assertEqual(code, 1, stdout + err)
        a, b = load(self.whole), load(merged)

        def key(d):
            return [(c["id"], c["repeat"], c["verdict"]) for c in d["cells"]]
        self.assertEqual(key(b), key(a))
        self.assertEqual(b["counts"], a["counts"])
        self.assertEqual(b["exit_code"], 1)
        self.assertEqual([s["index"] for s in b["merged_from"]], [1, 2, 3])
        self.assertEqual(schemacheck.validate(b, SCHEMA), [])
        p = xmllint(merged / "junit.xml")
        self.assertEqual(p.returncode, 0, p.stderr)
        for c in b["cells"]:  # the cell folders came along
            self.assertTrue((merged / c["paths"]["transcript"]).is_file(), c["id"])
        html = (merged / "report.html").read_text()
        self.assertIn("merged from 3 shards", html)
        self.assertIn("output mismatch", html)
        self.assertIn("server \\ client", stdout)
        self.assertIn("6 cells:", stdout)

    def test_refuses_to_mix_runs(self):
        # Copies: the shards stay as they were for the other tests.
        outs = []
        for _, out, _ in self.shards:
            outs.append(self.tmp / out.name)
            shutil.copytree(out, outs[-1])
        data = load(outs[1])
        for field, value, words in (("commit", "0" * 40, "different commits"),
                                    ("matrix_hash", "sha256:" + "1" * 64, "different matrices")):
            changed = dict(data, **{field: value})
            (outs[1] / "results.json").write_text(json.dumps(changed))
            code, _, err = call("merge", *map(str, outs), "--out", str(self.tmp / "merged"))
            self.assertEqual(code, 2, err)
            self.assertIn(words, err)
        (outs[1] / "results.json").write_text(json.dumps(data))
        code, _, err = call("merge", str(outs[0]), str(outs[0]), "--out", str(self.tmp / "m2"))
        self.assertEqual(code, 2, err)
        self.assertIn("same shard", err)
        code, _, err = call("merge", str(outs[0]), str(outs[1]), "--out", str(self.tmp / "m3"))
        got = load(self.tmp / "m3")
        self.assertIn("shard(s) 3 of 3 not given", got["infrastructure_errors"])
        # A missing shard is the pipeline's fault (3), unless a cell failed (1).
        failed = any(c["verdict"] in ("fail", "xpass") for c in got["cells"])
        self.assertEqual(code, 1 if failed else 3, err)

    def test_empty_shard_is_a_success(self):
        m = support.fake_matrix(self.tmp / "m1", {"echo": "echo"}, {"echo": "echo"})
        out = self.tmp / "empty"
        code, stdout, err = call("run", "--matrix", str(m.path), "--out", str(out),
                                 "--ports", PORTS, "--shard", "2/2")
        self.assertEqual(code, 0, stdout + err)
        self.assertIn("shard 2/2 is empty", err)
        data = load(out)
        self.assertEqual((data["total"], data["shard"]["index"]), (0, 2))
        self.assertEqual(xmllint(out / "junit.xml").returncode, 0)


class PrereqsTest(unittest.TestCase):
    def test_a_venv_without_pyyaml_gets_the_pip_line(self):
        with tempfile.TemporaryDirectory(prefix="harness-venv-") as d:
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", d], check=True,
                           timeout=120)
            py = str(Path(d) / "bin" / "python")
            p = subprocess.run(["sh", str(support.ROOT / "tools" / "prereqs.sh"), "--check", py],
                               capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(f"{py} -m pip install pyyaml", p.stderr)
        self.assertNotIn("python3-yaml", p.stderr)


class WorkflowTest(unittest.TestCase):
    """.github/workflows/matrix.yml: N shard jobs, then a merge job."""

    @classmethod
    def setUpClass(cls):
        import yaml
        cls.wf = yaml.safe_load(WORKFLOW.read_text())
        cls.jobs = cls.wf["jobs"]

    def steps_text(self, job):
        return "\n".join(str(s.get("run", "")) + str(s.get("uses", ""))
                         + json.dumps(s.get("with", {})) for s in self.jobs[job]["steps"])

    def test_shard_job_matrix(self):
        job = self.jobs["shard"]
        shards = job["strategy"]["matrix"]["shard"]
        n = len(shards)
        self.assertGreater(n, 1)
        self.assertEqual(sorted(shards), list(range(1, n + 1)))
        self.assertFalse(job["strategy"].get("fail-fast", True))
        text = self.steps_text("shard")
        self.assertIn(f"--shard ${{{{ matrix.shard }}}}/{n}", text)
        self.assertIn("actions/upload-artifact", text)

    def test_merge_job(self):
        job = self.jobs["merge"]
        self.assertEqual(job["needs"], "shard")
        self.assertIn("always()", job["if"])
        text = self.steps_text("merge")
        self.assertIn("actions/download-artifact", text)
        self.assertIn("python3 -m harness merge", text)
        self.assertIn("actions/upload-artifact", text)

    def test_every_step_is_a_run_or_a_pinned_action(self):
        for name, job in self.jobs.items():
            self.assertIn("runs-on", job, name)
            for step in job["steps"]:
                self.assertTrue(("run" in step) != ("uses" in step), (name, step))
                if "uses" in step:
                    self.assertRegex(step["uses"], r"^[\w.-]+/[\w.-]+@v\d+$")


if __name__ == "__main__":
    unittest.main()
