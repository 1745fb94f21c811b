"""Outputs of a run: per-cell folders (logs, transcript, diff, cmd.sh that
reruns the cell), results.json, junit.xml and report.html agreeing on the
counts, and the terminal grid and lines."""

import contextlib
import io
import json
import os
import subprocess
import unittest
import xml.etree.ElementTree as ET

import support
from harness import cli
from harness.output import report

RANGE = support.PORT_RANGES["report"]
KF = "\n  - cell: 'echo/hello/s-echo/c-exit1/*'\n    reason: known to exit 1"


class ReportTest(support.HarnessTestCase):
    port_range = RANGE

    @classmethod
    def setUpClass(cls):
        import tempfile
        from pathlib import Path
        cls._dir = tempfile.TemporaryDirectory(prefix="harness-report-")
        root = Path(cls._dir.name)
        cls.m = support.fake_matrix(root / "m", {"echo": "echo"},
                                    {"echo": "echo", "garbage": "garbage", "exit1": "exit1"},
                                    known_failures=KF)
        cls.out = root / "out"
        buf = io.StringIO()
        env = dict(os.environ)
        os.environ["NO_COLOR"] = "1"
        try:
            with contextlib.redirect_stdout(buf):
                cls.code = cli.main(["run", "--matrix", str(cls.m.path), "--out", str(cls.out),
                                     "--ports", f"{RANGE[0]}-{RANGE[1]}", "--jobs", "3"])
        finally:
            os.environ.clear()
            os.environ.update(env)
        cls.stdout = buf.getvalue()
        cls.data = json.loads((cls.out / "results.json").read_text())

    @classmethod
    def tearDownClass(cls):
        cls._dir.cleanup()

    def cell(self, client):
        return next(c for c in self.data["cells"] if c["client"] == f"c-{client}")

    def test_exit_code_and_counts(self):
        self.assertEqual(self.code, 1, self.stdout)
        self.assertEqual(self.data["counts"], {"pass": 1, "deviates": 0, "xfail": 1,
                                               "xpass": 0, "fail": 1, "error": 0})
        self.assertEqual(self.data["exit_code"], 1)
        self.assertEqual(self.data["schema"], report.RESULTS_SCHEMA)
        self.assertEqual(self.data["version"], 1)

    def test_results_json_cells(self):
        for c in self.data["cells"]:
            for key in ("protocol", "scenario", "server", "client", "mode", "verdict", "reason",
                        "duration_s", "paths", "id"):
                self.assertIn(key, c)
            self.assertEqual(c["mode"], "plain")
            for p in c["paths"].values():
                self.assertTrue((self.out / p).is_file(), p)
        self.assertEqual(self.cell("garbage")["verdict"], "fail")
        self.assertEqual(self.cell("exit1")["known_failure"], "known to exit 1")

    def test_junit_agrees(self):
        root = ET.parse(self.out / "junit.xml").getroot()
        self.assertEqual(root.get("tests"), "3")
        self.assertEqual(root.get("failures"), "1")
        self.assertEqual(root.get("errors"), "0")
        self.assertIsNone(root.get("skipped"))  # junit-10.xsd: only on <testsuite>
        self.assertEqual(root.find("testsuite").get("skipped"), "1")
        skipped = root.find(".//skipped")
        self.assertEqual(skipped.get("type"), "xfail")
        self.assertIn("known to exit 1", skipped.get("message"))
        failure = root.find(".//failure")
        self.assertIn("output mismatch", failure.get("message"))
        self.assertIn("+\\x00garbage\\xff", failure.text)  # reason + diff

    def test_report_html_is_self_contained(self):
        html = (self.out / "report.html").read_text()
        self.assertIn("<table class=\"grid\">", html)
        self.assertNotIn("http://", html)
        self.assertNotIn("https://", html)
        self.assertNotIn("<script src", html)
        self.assertIn("1 pass", html)
        self.assertIn("cmd.sh", html)
        self.assertIn("output mismatch", html)

    def test_cell_folder(self):
        d = self.out / self.cell("garbage")["dir"]
        for name in ("server.log", "client.log", "transcript.txt", "diff.txt", "cmd.sh"):
            self.assertTrue((d / name).is_file(), name)
        self.assertTrue((d / "transcript.txt").read_text().startswith("# transcript v1 tcp"))
        self.assertIn("garbage", (d / "diff.txt").read_text())
        self.assertIn("=== client 1: $", (d / "client.log").read_text())

    def test_cmd_sh_reruns_the_cell_without_the_relay(self):
        d = self.out / self.cell("echo")["dir"]
        p = subprocess.run(["sh", str(d / "cmd.sh")], capture_output=True, timeout=60,
                           env={**os.environ, "PORT": str(RANGE[1] - 3)})
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(p.stdout, b"Hello")
        self.assertIn(b"[client exit code 0]", p.stderr)
        self.assertClean()

    def test_terminal_lines_and_grid(self):
        self.assertIn("FAIL     echo/hello/s-echo/c-garbage/plain", self.stdout)
        self.assertIn("reason: output mismatch", self.stdout)
        self.assertIn("rerun: sh ", self.stdout)
        self.assertIn("server \\ client", self.stdout)
        self.assertIn("3 cells: 1 pass, 1 xfail, 1 fail", self.stdout)
        self.assertNotIn("\033[", self.stdout)  # not a TTY: no colour

    def test_grid_worst_and_count(self):
        cell = dict(self.data["cells"][0])
        cs = [dict(cell, verdict=v) for v in ("pass", "fail", "fail")]
        g = report.grid_data(cs, self.data["peers"])["echo"]
        self.assertEqual(g["pairs"][(cell["server"], cell["client"])], ("fail", 2, 3))
        text = report.format_grids(cs, self.data["peers"], colour=True)
        self.assertIn("\033[31;1m✗2\033[0m", text)


if __name__ == "__main__":
    unittest.main()
