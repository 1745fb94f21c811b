"""`harness check`: finding a student's programs in a folder (Python, Java,
C, check.yaml, ambiguity), building them (a compile error is a result),
the student as a peer that inherits the C reference's known failures, and
real end-to-end checks of the fixture students (tests/harness/fixtures/
students): a correct one passes, a one-recv() server is named, and a class
run writes its summary."""

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
import unittest
from pathlib import Path

import support
from harness import cli
from harness.grading import check, students
from harness.grading.students import FolderError
from harness.spec import matrix

# This module's ports (H3's slice of the helpers' ranges, see the brief).
PORTS = "15500-15999"
STUDENTS = support.FIXTURES / "students"
# The references' build (ctest sets it; by hand: the repository's build/).
BUILD = Path(os.environ.get("SL_BUILD_DIR", support.ROOT / "build"))
M = matrix.load(support.ROOT / "matrix.yaml", support.ROOT)
JAVA_SERVER = """import java.net.*;
public class {name} {{
    public static void main(String[] args) throws Exception {{
        try (ServerSocket s = new ServerSocket(Integer.parseInt(args[0]))) {{ s.accept(); }}
    }}
}}
"""
JAVA_CLIENT = """public class {name} {{
    public static void main(String[] args) {{ System.out.println("hi"); }}
}}
"""


class FolderTestCase(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="harness-check-test-")
        self.dir = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def folder(self, name: str, files: dict[str, str]) -> Path:
        d = self.dir / name
        d.mkdir(parents=True)
        for f, text in files.items():
            (d / f).write_text(text, encoding="utf-8")
        return d


class DetectTest(FolderTestCase):
    def test_python_folder(self):
        st = students.detect(self.folder("Ana Lima", {"server.py": "", "client.py": ""}))
        self.assertEqual(st.name, "ana-lima")
        self.assertEqual({r: p.language for r, p in st.programs.items()},
                         {"server": "python", "client": "python"})
        self.assertIsNone(st.protocol)

    def test_java_by_class_name_and_by_content(self):
        st = students.detect(self.folder("j1", {"Server.java": "", "Client.java": ""}))
        self.assertEqual({r: p.java_class for r, p in st.programs.items()},
                         {"server": "Server", "client": "Client"})
        st = students.detect(self.folder("j2", {
            "EchoServer.java": JAVA_SERVER.format(name="EchoServer"),
            "Talk.java": JAVA_CLIENT.format(name="Talk"),
            "Util.java": "class Util {}"}))
        self.assertEqual({r: p.java_class for r, p in st.programs.items()},
                         {"server": "EchoServer", "client": "Talk"})

    def test_c_folder_with_only_a_server(self):
        st = students.detect(self.folder("c1", {"server.c": ""}))
        self.assertEqual(st.roles, ("server",))
        self.assertEqual(st.programs["server"].language, "c")

    def test_check_yaml_protocol_commands_and_file_names(self):
        d = self.folder("y", {"srv.py": "", "Talk.java": JAVA_CLIENT.format(name="Talk"),
                              "check.yaml": "protocol: upper\nserver: srv.py\n"
                                            "client: '{java} -cp {classes} Talk {host} {port}'\n"})
        st = students.detect(d)
        self.assertEqual(st.protocol, "upper")
        self.assertEqual(st.programs["server"].source, d / "srv.py")
        self.assertEqual(st.programs["client"].language, "command")

    def test_problems_are_folder_errors(self):
        cases = {
            "both": ({"server.py": "", "server.c": ""}, "more than one server"),
            "two-java-servers": ({"A.java": JAVA_SERVER.format(name="A"),
                                  "B.java": JAVA_SERVER.format(name="B")}, "A.java, B.java"),
            "empty": ({"notes.txt": "hi"}, "no server or client found"),
            "bad-key": ({"server.py": "", "check.yaml": "protocl: upper\n"}, "protocl"),
            "missing-file": ({"check.yaml": "server: nope.py\n"}, "nope.py does not exist"),
            "not-yaml": ({"server.py": "", "check.yaml": "protocol: [\n"}, "not valid YAML"),
        }
        for name, (files, words) in cases.items():
            with self.subTest(name):
                with self.assertRaisesRegex(FolderError, words):
                    students.detect(self.folder(name, files))

    def test_names_never_clash_with_peers(self):
        self.assertEqual(students.peer_name("python", {"python", "c"}), "student-python")
        self.assertEqual(students.peer_name("Zé Silva!"), "z-silva")


class BuildTest(FolderTestCase):
    def build(self, d: Path) -> students.Student:
        return students.build(students.detect(d), self.dir / "scratch" / d.name)

    def test_c_compiles_into_scratch(self):
        st = self.build(self.folder("c", {"server.c": "int main(void) { return 0; }\n"}))
        self.assertIsNone(st.build_error)
        exe = self.dir / "scratch" / "c" / "bin" / "server"
        self.assertTrue(exe.is_file())
        self.assertEqual(st.programs["server"].template, f"{exe} {{port}}")

    def test_compile_errors_are_results_with_the_first_lines(self):
        cases = {"server.c": "int main(void) { return 0 }\n",
                 "Server.java": "public class Server { void f() { int x = } }\n",
                 "server.py": "def f(:\n    pass\n"}
        for f, text in cases.items():
            with self.subTest(f):
                st = self.build(self.folder(f.replace(".", "-"), {f: text}))
                self.assertIsNotNone(st.build_error)
                self.assertRegex(st.build_error, r"(error|SyntaxError)")
                self.assertIn(f, st.build_error)

    def test_java_compiles_and_runs_its_class(self):
        st = self.build(self.folder("j", {"Server.java": JAVA_SERVER.format(name="Server")}))
        self.assertIsNone(st.build_error, st.build_log)
        self.assertTrue((self.dir / "scratch" / "j" / "classes" / "Server.class").is_file())
        self.assertIn(" Server {port}", st.programs["server"].template)


class WhereTeachersPutThemTest(FolderTestCase):
    """Issue 14: students found where teachers put them; when nothing is
    found, the files seen and a ready check.yaml; warnings and the whole
    build error kept."""

    def test_portuguese_names_and_a_src_tree(self):
        st = students.detect(self.folder("pt", {"servidor.py": "", "cliente.py": ""}))
        self.assertEqual({r: p.source.name for r, p in st.programs.items()},
                         {"server": "servidor.py", "client": "cliente.py"})
        d = self.folder("tree", {})
        (d / "src" / "br" / "edu").mkdir(parents=True)
        (d / "src" / "br" / "edu" / "Servidor.java").write_text(
            "package br.edu;\n" + JAVA_SERVER.format(name="Servidor"))
        (d / "src" / "br" / "edu" / "Cliente.java").write_text(
            "package br.edu;\n" + JAVA_CLIENT.format(name="Cliente"))
        st = students.build(students.detect(d), self.dir / "scratch-tree")
        self.assertIsNone(st.build_error, st.build_log)
        self.assertEqual({r: p.java_class for r, p in st.programs.items()},
                         {"server": "br.edu.Servidor", "client": "br.edu.Cliente"})
        self.assertTrue((self.dir / "scratch-tree" / "classes" / "br" / "edu" /
                         "Servidor.class").is_file())

    def test_nothing_found_lists_the_files_and_a_ready_check_yaml(self):
        d = self.folder("odd", {"a.py": "import socket\ns=socket.socket()\ns.bind(('', 1))\n",
                                "b.py": "import socket\nsocket.create_connection(('h', 1))\n",
                                "notes.txt": "hi"})
        with self.assertRaises(FolderError) as cm:
            students.detect(d)
        msg = str(cm.exception)
        self.assertIn("Files seen: a.py, b.py, notes.txt", msg)
        self.assertIn("    protocol: PROTOCOL\n    server: a.py\n    client: b.py", msg)

    def test_c_warnings_kept_bzero_declared_makefile_reported(self):
        d = self.folder("cw", {"server.c": "#include <strings.h>\n#include <string.h>\n"
                                           "int helper(void);\n"
                                           "int main(void) { char b[4]; int unused; "
                                           "bzero(b, 4); return helper(); }\n",
                               "util.c": "int helper(void) { return 0; }\n",
                               "Makefile": "all:\n\tcc -o server server.c util.c\n"})
        st = students.detect(d)
        self.assertIn("Makefile found and not run", st.notes[0])
        st = students.build(st, self.dir / "scratch-cw")
        self.assertIsNone(st.build_error, st.build_log)
        self.assertIn("unused", st.warnings)

    def test_the_whole_build_error_is_kept(self):
        body = "".join(f"int f{i}(void) {{ return x{i}; }}\n" for i in range(20))
        st = students.build(students.detect(self.folder("many", {"server.c": body})),
                            self.dir / "scratch-many")
        self.assertIn("x19", st.build_error)


class ScoreTest(unittest.TestCase):
    def test_the_teachers_scale_not_the_cell_count(self):
        st = students.from_commands("ana", "{python} s.py {port}", None, "upper")
        ch = check.Checked(st, "upper", error="cc failed (exit 1):\nserver.c:1: error: x")
        self.assertEqual(ch.points, 100)
        [t] = check.tests_for(ch)
        self.assertEqual((t["score"], t["max_score"], t["tags"]), (0, 100, ["build-error"]))
        st.points = 10
        g = check.gradescope_json(ch, 3.25)
        self.assertEqual((g["score"], g["max_score"], g["execution_time"]), (0, 10, 3.25))
        self.assertIn("server.c:1: error: x", g["tests"][0]["output"])


class CheckMatrixTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        st = students.from_commands("alice", "{python} s.py {port}",
                                    "{python} c.py {host} {port}", "echo-repr")
        cls.ch = check.Checked(st, "echo-repr")
        cls.cm = check.check_matrix(M, [cls.ch], ["c", "python", "java"])

    def test_known_failures_are_the_c_references_in_the_same_place(self):
        for cid in ("echo-repr/hello/alice/python/segment", "echo-repr/idle-client/python/c/plain",
                    "echo-repr/hello/python/alice/segment"):
            stand_in = cid.replace("alice", "c")
            self.assertIsNotNone(M.known_failure(stand_in), stand_in)
            self.assertIs(self.cm.known_failure(cid), M.known_failure(stand_in))
        self.assertIsNone(self.cm.known_failure("echo-repr/hello/alice/c/plain"))

    def test_cells_student_with_every_reference_never_with_itself(self):
        cells = check.student_cells(self.cm, self.ch, ("plain",), [])
        pairs = {(c.server.name, c.client.name) for c in cells}
        self.assertIn(("alice", "raw"), pairs)
        self.assertIn(("python", "alice"), pairs)
        self.assertNotIn(("alice", "alice"), pairs)
        self.assertTrue(all("alice" in p for p in pairs))
        # A scenario that names its servers ([c, java]) takes the student's too.
        self.assertIn("echo-repr/big-line/alice/raw/plain", {c.id for c in cells})
        # Robustness scenarios judge the server with the C client only.
        self.assertNotIn("echo-repr/idle-client/c/alice/plain", {c.id for c in cells})
        self.assertIn("echo-repr/idle-client/alice/c/plain", {c.id for c in cells})


def run_check(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["check", "--ports", PORTS, "--jobs", "2", "--build", str(BUILD)] + argv)
    return code, out.getvalue(), err.getvalue()


class EndToEndTest(unittest.TestCase):
    """Real runs: the fixture students against the C reference, plain and
    segment modes, two scenarios (a few seconds)."""

    FAST = ["--references", "c", "--mode", "plain,segment", "-k", "/hello/", "-k", "/accents/"]

    def setUp(self):
        if not (BUILD / "c" / "upper" / "server").is_file():
            self.skipTest(f"the C references are not built in {BUILD}")
        self._tmp = tempfile.TemporaryDirectory(prefix="harness-check-e2e-")
        self.dir = Path(self._tmp.name)
        self.dir.chmod(0o755)  # students run sandboxed, as another user (as root)
        os.environ["NO_COLOR"] = "1"

    def tearDown(self):
        self._tmp.cleanup()

    def test_a_correct_student_passes(self):
        out = self.dir / "good"
        code, text, err = run_check([str(STUDENTS / "upper-good"), "-p", "upper",
                                     "--out", str(out)] + self.FAST)
        self.assertEqual(code, 0, text + err)
        data = json.loads((out / "check.json").read_text())
        self.assertEqual((data["version"], data["student"], data["protocol"], data["verdict"]),
                         (1, "upper-good", "upper", "pass"))
        self.assertEqual(data["bugs"], [])
        self.assertEqual({c["role"] for c in data["cells"]}, {"server", "client"})
        for c in data["cells"]:
            self.assertEqual(set(c) >= {"id", "verdict", "reason", "mode", "scenario", "role"},
                             True)
        gs = json.loads((out / "results.json").read_text())
        self.assertEqual(gs["score"], sum(t["max_score"] for t in gs["tests"]))
        self.assertTrue(all(t["status"] == "passed" for t in gs["tests"]))
        self.assertTrue((out / "run" / "report.html").is_file())
        self.assertIn("upper-good: PASS", text)

    def test_a_class_names_the_one_recv_server_and_a_compile_error(self):
        cls = self.dir / "class"
        for name in ("upper-good", "upper-one-recv"):
            shutil.copytree(STUDENTS / name, cls / name)
        (cls / "broken").mkdir()
        (cls / "broken" / "server.c").write_text("int main(void) { return 0 }\n")
        out = self.dir / "out"
        code, text, err = run_check(["--class", str(cls), "-p", "upper", "--out", str(out)]
                                    + self.FAST)
        self.assertEqual(code, 1, text + err)
        rows = {r["student"]: r for r in
                csv.DictReader((out / "class.csv").read_text().splitlines())}
        self.assertEqual({k: v["verdict"] for k, v in rows.items()},
                         {"upper-good": "pass", "upper-one-recv": "fail", "broken": "error"})
        self.assertEqual(rows["upper-one-recv"]["bugs"], "one-recv-server")
        bad = json.loads((out / "upper-one-recv" / "check.json").read_text())
        [bug] = bad["bugs"]
        self.assertEqual((bug["id"], bug["role"]), ("one-recv-server", "server"))
        self.assertTrue(all(e.endswith("/segment") for e in bug["evidence"]))
        broken = json.loads((out / "broken" / "check.json").read_text())
        self.assertEqual(broken["verdict"], "error")
        self.assertIn("error", broken["error"])
        html = (out / "class.html").read_text()
        self.assertIn("one-recv-server", html)
        self.assertNotIn("<script", html)
        self.assertIn("1 pass, 1 fail, 1 error", text)

    def test_usage_errors_exit_2(self):
        for argv in ([str(STUDENTS / "upper-good")],  # no protocol
                     [str(STUDENTS / "upper-good"), "-p", "nope"],
                     [str(STUDENTS / "upper-good"), "-p", "upper", "--references", "cobol"],
                     []):
            with self.subTest(argv=argv):
                code, _, err = run_check(argv)
                self.assertEqual(code, 2, err)


if __name__ == "__main__":
    unittest.main()


class BuildDirTest(unittest.TestCase):
    """The driver and the CMake presets agree on the build folder: left at
    its default, --build falls back to a preset's configured folder and
    says so; with no build anywhere it names every folder it looked in."""

    def test_preset_fallback_and_where_it_looked(self):
        from harness.run import builddir
        with tempfile.TemporaryDirectory() as t:
            root = Path(t)
            (root / "CMakePresets.json").write_text(json.dumps({"configurePresets": [
                {"name": "default", "binaryDir": "${sourceDir}/build"},
                {"name": "dev", "binaryDir": "${sourceDir}/build-dev"}]}))
            none = builddir.resolve(None, root, cwd=root)
            self.assertEqual(none.path, root / "build")
            self.assertIn(f"looked in {root}/build, {root}/build-dev", none.note)
            (root / "build-dev").mkdir()
            (root / "build-dev" / "CMakeCache.txt").write_text("")
            dev = builddir.resolve("build", root, cwd=root)
            self.assertEqual(dev.path, root / "build-dev")
            self.assertIn("CMake preset 'dev'", dev.note)
            (root / "build").mkdir()
            (root / "build" / "CMakeCache.txt").write_text("")
            self.assertEqual(builddir.resolve(None, root, cwd=root),
                             builddir.Choice(root / "build", None))
            self.assertEqual(builddir.resolve("elsewhere", root, cwd=root),
                             builddir.Choice(root / "elsewhere", None))


class RerunTest(unittest.TestCase):
    """Issue 14: before a bug is named its deciding cells are rerun alone
    (one at a time); what passes alone is flaky, never the student's bug.
    runner.run_cells is replaced by a recorder returning prepared results,
    so what _confirm asks for and what it concludes are both checked."""

    def setUp(self):
        import test_diagnose as td
        self.td = td
        self.seg = td.result(f"upper/hello/{td.ME}/c/segment", reason="client exit code 1",
                             code=1, turns=[td.HELLO_REQ, td.d(td.SERVER, b"H"),
                                            td.Turn(td.CLIENT, td.RST)])
        st = students.from_commands(td.ME, "{python} s.py {port}", None, "upper")
        self.ch = check.Checked(st, "upper", results=[td.ok(f"upper/hello/{td.ME}/c/plain"),
                                                      self.seg])
        self.calls = []

    def confirm(self, alone):
        from unittest import mock

        from harness.run import runner

        async def fake_run_cells(cm, cells, ctx, opts, *rest):
            self.calls.append(([c.id for c in cells], opts.jobs, opts.timeout_s))
            return [alone(cells[0].id)]
        with mock.patch.object(check.runner, "run_cells", fake_run_cells):
            import asyncio
            asyncio.run(check._confirm(self.td.CM["upper"], [self.ch], None,
                                       runner.RunOptions(jobs=2)))

    def test_a_failure_that_passes_alone_is_flaky_not_a_bug(self):
        self.assertEqual([b.id for b in check._diagnose(self.ch).bugs], ["one-recv-server"])
        self.confirm(self.td.ok)
        # One cell, alone, with twice upper/hello's 10 s client timeout.
        self.assertEqual(self.calls, [([self.seg.cell.id], 1, 20)])
        self.assertEqual([(f.cell, f.first_verdict, f.alone_verdict) for f in self.ch.flaky],
                         [(self.seg.cell.id, "fail", "pass")])
        self.assertEqual(check._diagnose(self.ch).bugs, [])

    def test_a_failure_that_reproduces_alone_stays_named(self):
        self.confirm(lambda cell_id: self.seg)
        self.assertEqual(self.calls, [([self.seg.cell.id], 1, 20)])  # once: it failed again
        self.assertEqual(self.ch.flaky, [])
        self.assertEqual([b.id for b in check._diagnose(self.ch).bugs], ["one-recv-server"])
        self.assertIn(self.seg.cell.id, self.ch.rerun)
