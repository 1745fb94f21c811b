"""matrix.yaml: loading, validation (file:line, exit 2, no traceback),
expansion into cells, absences, command rendering."""

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import support
from harness import cli, matrix
from harness.errors import ConfigError

FIX = support.FIXTURES / "matrix"

# fixture -> (file the problem is reported in, line, part of the message)
MALFORMED = {
    "bad-escape": (None, 17, "stdin: unknown escape \\q"),
    "bad-hex-escape": (None, 18, "\\x needs two hex digits"),
    "bad-transport": (None, 14, "transport must be tcp or udp"),
    "clients-bool": (None, 17, "clients must be an integer, not a boolean"),
    "clients-zero": (None, 17, "clients must be >= 1"),
    "command-unknown-placeholder": (None, 8, "unknown placeholder {pyton}"),
    "default-not-bool": (None, 10, "default must be true or false"),
    "duplicate-key": (None, 19, "duplicate key 'stdout'"),
    "env-wrong-type": (None, 7, "env must be a mapping, not a list"),
    "exit-out-of-range": (None, 17, "exit must be >= 0 and <= 255, not 300"),
    "files-bad-name": (None, 17, "'../x' must be a plain file name"),
    "golden-syntax": ("goldens/broken.txt", 3, "unterminated string"),
    "golden-wrong-transport": (None, 17, "is a udp transcript but the protocol is tcp"),
    "known-failure-empty-reason": (None, 21, "reason must not be empty"),
    "known-failure-matches-nothing": (None, 20, "'p/s/one/java/*' matches no cell"),
    "known-failure-no-reason": (None, 20, "missing required key 'reason'"),
    "known-failure-short-pattern": (None, 20, "must have 5 parts"),
    "missing-golden": (None, 17, "goldens/nothere.txt does not exist"),
    "missing-script": (None, 7, "scripts/missing.py does not exist"),
    "only-peer-without-role": (None, 17, "peer 'raw' has no server command"),
    "pattern-unknown-placeholder": (None, 18, "unknown placeholder {date}"),
    "pattern-unterminated": (None, 18, "unterminated placeholder"),
    "peer-unknown-protocol": (None, 7, "unknown protocol 'q'"),
    "peer-without-commands": (None, 9, "needs a server or a client command"),
    "repeat-negative": (None, 17, "times must be >= 0"),
    "scenarios-not-mapping": (None, 15, "scenarios must be a mapping, not a list"),
    "stdout-and-pattern": (None, 19, "stdout or stdout_pattern, not both"),
    "timeout-negative": (None, 4, "defaults.timeout_s must be > 0"),
    "timeout-wrong-type": (None, 4, "must be a number of seconds, not a string"),
    "unknown-peer-in-only": (None, 17, "unknown peer 'nobody'"),
    "unknown-scenario-key": (None, 18, "unknown key 'stdot' (did you mean 'stdout'?)"),
    "unknown-top-key": (None, 5, "unknown key 'peerz'"),
    "wrong-version": (None, 2, "unsupported version 2"),
    "yaml-syntax": (None, 18, "YAML syntax error"),
}


def validate(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["validate", "--matrix", str(path)])
    return code, out.getvalue(), err.getvalue()


class MalformedTest(unittest.TestCase):
    def test_good_fixture_is_valid(self):
        code, out, err = validate(FIX / "good.yaml")
        self.assertEqual(code, 0, err)
        self.assertIn("OK", out)

    def test_every_malformed_file_gives_file_line_and_exit_2(self):
        files = sorted(FIX.glob("bad-*.yaml"))
        self.assertGreaterEqual(len(files), 15)
        self.assertEqual({f.stem[4:] for f in files}, set(MALFORMED),
                         "every fixture needs an expectation here, and vice versa")
        for f in files:
            where, line, fragment = MALFORMED[f.stem[4:]]
            with self.subTest(fixture=f.name):
                code, out, err = validate(f)
                prefix = f"{where or f.name}:{line}: "
                self.assertEqual(code, 2, f"exit code for {f.name}; stderr:\n{err}")
                self.assertNotIn("Traceback", err)
                hits = [ln for ln in err.splitlines() if ln.startswith(prefix)]
                self.assertTrue(hits, f"no line starting {prefix!r} in:\n{err}")
                self.assertTrue(any(fragment in ln for ln in hits),
                                f"{fragment!r} not in {hits!r}")

    def test_as_a_subprocess_no_traceback(self):
        p = subprocess.run([sys.executable, "-m", "harness", "validate", "--matrix",
                            str(FIX / "bad-yaml-syntax.yaml")], cwd=support.ROOT,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertRegex(p.stderr, r"^bad-yaml-syntax\.yaml:\d+: YAML syntax error")
        self.assertNotIn("Traceback", p.stderr)

    def test_missing_file_and_empty_file(self):
        code, _, err = validate(FIX / "does-not-exist.yaml")
        self.assertEqual(code, 2)
        self.assertIn("does-not-exist.yaml:1: cannot read", err)
        with self.assertRaises(ConfigError) as cm:
            matrix.load(self._write(FIX, ""), FIX)
        self.assertIn(":1: the file is empty", str(cm.exception))

    def test_several_problems_are_all_reported(self):
        text = (FIX / "good.yaml").read_text().replace("timeout_s: 5", "timeout_s: x") \
            .replace("stdout: 'HI\\n'", "stdot: 'HI\\n'")
        with self.assertRaises(ConfigError) as cm:
            matrix.load(self._write(FIX, text), FIX)
        lines = [p.line for p in cm.exception.problems]
        self.assertEqual(lines, sorted(lines))
        self.assertEqual(len(lines), 2)

    def _write(self, root: Path, text: str) -> Path:
        import tempfile
        f = tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=root, delete=False)
        f.write(text)
        f.close()
        self.addCleanup(Path(f.name).unlink)
        return Path(f.name)


class ModelTest(unittest.TestCase):
    def setUp(self):
        self.m = matrix.load(FIX / "good.yaml", FIX)

    def test_typed_model(self):
        sc = self.m.protocols["p"].scenarios["s"]
        self.assertEqual(sc.stdin, b"hi\n")
        self.assertEqual(sc.stdout, b"HI\n")
        self.assertEqual(sc.timeout_s, 5.0)
        self.assertEqual(sc.cell_timeout_s, 30.0)
        self.assertEqual(sc.clients, 1)
        self.assertEqual(sc.golden.connections[0][0].data, b"hi\n")
        self.assertFalse(self.m.peers["raw"].default)

    def test_default_false_peer_is_absent_with_a_reason(self):
        self.assertEqual([c.id for c in matrix.expand(self.m)], ["p/s/one/one/plain"])
        ab = matrix.absences(self.m)
        self.assertEqual(len(ab), 1)
        self.assertEqual((ab[0].peer, ab[0].role), ("raw", "client"))
        self.assertIn("default: false", ab[0].reason)

    def test_known_failure_matching(self):
        kf = self.m.known_failure("p/s/one/one/plain")
        self.assertIsNotNone(kf)
        self.assertEqual(kf.reason, "documented quirk")
        self.assertIsNone(self.m.known_failure("p/s/one/raw/plain"))


class SchemaTest(unittest.TestCase):
    """docs/matrix.schema.json stays in step with what the loader accepts."""

    @classmethod
    def setUpClass(cls):
        import json
        cls.schema = json.loads((support.ROOT / "docs" / "matrix.schema.json").read_text())

    def test_keys_match_the_loader(self):
        s = self.schema
        self.assertEqual(s["$schema"], "https://json-schema.org/draft/2020-12/schema")
        self.assertEqual(set(s["properties"]), matrix.TOP_KEYS)
        self.assertEqual(set(s["properties"]["defaults"]["properties"]), matrix.DEFAULT_KEYS)
        self.assertEqual(set(s["$defs"]["peer"]["properties"]), matrix.PEER_KEYS)
        self.assertEqual(set(s["$defs"]["protocol"]["properties"]), matrix.PROTOCOL_KEYS)
        self.assertEqual(set(s["$defs"]["scenario"]["properties"]), matrix.SCENARIO_KEYS,
                         "a scenario key was added or removed: update docs/matrix.schema.json "
                         "and docs/matrix.md")
        kf = s["properties"]["known_failures"]["items"]["properties"]
        self.assertEqual(set(kf), matrix.KNOWN_FAILURE_KEYS)

    def test_matrices_validate_when_jsonschema_is_installed(self):
        try:
            import jsonschema
        except ImportError:
            self.skipTest("jsonschema is not installed (optional)")
        import yaml
        jsonschema.Draft202012Validator.check_schema(self.schema)
        for path in (support.ROOT / "matrix.yaml", FIX / "good.yaml"):
            jsonschema.validate(yaml.safe_load(path.read_text()), self.schema)
        bad = yaml.safe_load((FIX / "bad-unknown-scenario-key.yaml").read_text())
        with self.assertRaises(jsonschema.ValidationError):
            jsonschema.validate(bad, self.schema)


class RepoMatrixTest(unittest.TestCase):
    """The real matrix.yaml: valid, and expanded the way the contract says."""

    @classmethod
    def setUpClass(cls):
        cls.m = matrix.load(support.ROOT / "matrix.yaml", support.ROOT)
        cls.cells = matrix.expand(cls.m)

    def test_only_clients_and_protocol_restrictions(self):
        ids = {c.id for c in self.cells}
        # raw is default: false: only where a scenario names it
        self.assertNotIn("echo/hello/c/raw/plain", ids)
        self.assertIn("upper/long-line/c/raw/plain", ids)
        self.assertNotIn("upper/long-line/c/c/plain", ids)
        # python-selectors is an echo server only
        self.assertIn("echo/hello/python-selectors/c/plain", ids)
        self.assertFalse(any(c.server.name == "python-selectors" and c.protocol.name != "echo"
                             for c in self.cells))
        for c in self.cells:
            self.assertIsNotNone(c.server.server)
            self.assertIsNotNone(c.client.client)

    def test_byte_fields(self):
        sc = self.m.protocols["echo-repr"].scenarios["long-line"]
        self.assertEqual(sc.stdin, b"a" * 1500 + b"\n")
        self.assertTrue(sc.stdout.startswith(b"Echo ==>b'aaa"))
        login = self.m.protocols["login"].scenarios["concurrent"]
        self.assertEqual(login.files["log-acesso.txt"], b"bob:pw\n" * login.clients)
        self.assertIsNone(self.m.protocols["login"].scenarios["invalid"].files["log-acesso.txt"])

    def test_render_commands(self):
        ctx = matrix.CommandContext(root=support.ROOT, build=Path("/b"), python="/py",
                                    java="/usr/bin/java")
        proto = self.m.protocols["echo-repr"]
        argv = matrix.render(self.m.peers["java"].server, ctx, proto, 20001)
        self.assertEqual(argv[0], "/usr/bin/java")
        self.assertIn("-XX:TieredStopAtLevel=1", argv)  # {jvm} became several words
        self.assertIn("echo_repr.Server", argv)  # {package}
        self.assertEqual(argv[-1], "20001")
        argv = matrix.render(self.m.peers["python"].client, ctx, proto, 20002)
        self.assertEqual(argv[0], "/py")
        self.assertEqual(argv[1], "-S")  # the peers need only the standard library
        # a repo path becomes absolute, since servers run in a scratch dir
        self.assertEqual(argv[2], str(support.ROOT / "peers/python/echo-repr/client.py"))
        self.assertEqual(argv[3:], ["127.0.0.1", "20002"])
        argv = matrix.render(self.m.peers["c"].server, ctx, proto, 5)
        self.assertEqual(argv, ["/b/c/echo-repr/server", "5"])

    def test_render_cds(self):
        """{cds} is no word at all without an archive, the archive flag with
        one, and nothing again when the jar is newer than the archive."""
        proto = self.m.protocols["echo"]
        with tempfile.TemporaryDirectory(prefix="a build ") as d:
            build = Path(d)
            ctx = matrix.CommandContext.create(support.ROOT, build)
            argv = matrix.render(self.m.peers["java"].client, ctx, proto, 7)
            self.assertNotIn("", argv)
            self.assertFalse(any("SharedArchiveFile" in w for w in argv))
            self.assertIn(str(build.resolve() / matrix.CDS_JAR), argv)
            (build / "java-cds").mkdir()
            jar, jsa = build / matrix.CDS_JAR, build / matrix.CDS_ARCHIVE
            jar.write_bytes(b"jar")
            jsa.write_bytes(b"jsa")
            os.utime(jar, (1000, 1000))
            os.utime(jsa, (2000, 2000))
            ctx = matrix.CommandContext.create(support.ROOT, build)
            argv = matrix.render(self.m.peers["java"].client, ctx, proto, 7)
            self.assertIn(f"-XX:SharedArchiveFile={jsa.resolve()}", argv)
            self.assertLess(argv.index(f"-XX:SharedArchiveFile={jsa.resolve()}"), argv.index("-cp"))
            os.utime(jar, (3000, 3000))  # rebuilt, the archive not (yet)
            self.assertEqual(matrix.CommandContext.create(support.ROOT, build).cds, "")


if __name__ == "__main__":
    unittest.main()
