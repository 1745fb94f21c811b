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
from harness import cli
from harness.errors import ConfigError
from harness.spec import matrix

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


# A split matrix: robustness templates in matrix.yaml, protocol q's keys in
# protocols/q/scenarios.yaml (docs/matrix.md, "Robustness templates").
SPLIT_MATRIX = """\
version: 1
peers:
  one:
    server: 'srv {port}'
    client: 'cli {host} {port}'
  raw:
    default: false
    client: 'raw {host} {port}'
robustness:
  idle:
    description: an idle client stays
    robustness: true
    timeout_s: 5
    before: [{background: true, args: ['--hold'], stdin: '{hold}'}]
  cut:
    robustness: true
    before: [{args: ['--reset-after', '{reset_after}'], stdin: '{request}'}]
  big:
    robustness: true
    only_clients: [raw]
    skip_modes: {segment: 'too slow'}
    stdin: [{repeat: 'x', times: 3}]
    transcript: |
      > ~"{any}"
      < {reply}
      > EOF
      < EOF
  many:
    default: false
protocols: [q]
known_failures:
  - cell: 'q/*/one/one/*'
    scenario: [idle, many]
    reason: named quirk
  - cell: 'q/*/one/raw/*'
    tag: robustness
    reason: tagged quirk
"""
SPLIT_SCENARIOS = """\
transport: tcp
robustness: {request: 'hi\\n', reply: 'HI\\n', hold: 'h', reset_after: 1}
scenarios:
  first:
    stdin: 'a\\n'
    stdout: 'A\\n'
  many:
    clients: 3
  big:
    stdout: 'ERR\\n'
    skip_modes: {latency: 'too slow too'}
  last:
    stdin: 'b\\n'
    stdout: 'B\\n'
"""
SPLIT_GOLDENS = {
    "first": '# transcript v1 tcp\n> "a\\n"\n< "A\\n"\n> EOF\n< EOF\n',
    "last": '# transcript v1 tcp\n> "b\\n"\n< "B\\n"\n> EOF\n< EOF\n',
    "idle": '# transcript v1 tcp\n> "hi\\n"\n< "HI\\n"\n> EOF\n< EOF\n',
    "cut": '# transcript v1 tcp\n# a comment of its own\n> "hi\\n"\n< "HI\\n"\n> EOF\n< EOF\n',
    "many": '# transcript v1 tcp\n> "hi\\n"\n< "HI\\n"\n> EOF\n< EOF\n',
    "big": '# transcript v1 tcp\n> ~"{any}"\n< "ERR\\n"\n> EOF\n< EOF\n',
}


class SplitTest(unittest.TestCase):
    """Scenarios in protocols/<id>/scenarios.yaml, robustness templates."""

    def setUp(self):
        import tempfile
        self.root = Path(tempfile.mkdtemp())
        self.addCleanup(__import__("shutil").rmtree, self.root)

    def write(self, matrix_text=SPLIT_MATRIX, scenarios=SPLIT_SCENARIOS, goldens=None):
        (self.root / "matrix.yaml").write_text(matrix_text)
        q = self.root / "protocols" / "q"
        (q / "golden").mkdir(parents=True, exist_ok=True)
        if scenarios is not None:
            (q / "scenarios.yaml").write_text(scenarios)
        for name, text in (SPLIT_GOLDENS if goldens is None else goldens).items():
            (q / "golden" / f"{name}.txt").write_text(text)
        return self.root / "matrix.yaml"

    def problems(self, path, write=None):
        with self.assertRaises(ConfigError) as cm:
            matrix.load(path, self.root, write_goldens=write)
        return [str(p) for p in cm.exception.problems]

    def test_templates_applied_in_order_with_the_protocols_values(self):
        m = matrix.load(self.write(), self.root)
        q = m.protocols["q"]
        # own scenarios in file order; a named template there; the unnamed
        # ones (default: true) just before the first named one that follows
        # them in the templates' order (many)
        self.assertEqual(list(q.scenarios), ["first", "idle", "cut", "many", "big", "last"])
        idle, cut, big, many = (q.scenarios[n] for n in ("idle", "cut", "big", "many"))
        self.assertEqual((idle.stdin, idle.stdout, idle.timeout_s), (b"hi\n", b"HI\n", 5.0))
        self.assertEqual(idle.description, "an idle client stays")
        self.assertEqual(idle.before[0].stdin, b"h")  # {hold}
        self.assertTrue(idle.before[0].background)
        self.assertEqual(cut.before[0].args, ("--reset-after", "1"))  # {reset_after}
        self.assertEqual(cut.before[0].stdin, b"hi\n")  # {request}
        self.assertEqual(big.stdin, b"xxx")  # the template's, not the request
        self.assertEqual(big.stdout, b"ERR\n")  # the protocol's
        self.assertEqual(big.skip_modes, {"segment": "too slow", "latency": "too slow too"})
        self.assertEqual(many.clients, 3)
        self.assertEqual(idle.file, "protocols/q/scenarios.yaml")
        self.assertEqual(q.scenarios["first"].file, "protocols/q/scenarios.yaml")

    def test_known_failures_by_scenario_name_and_tag(self):
        m = matrix.load(self.write(), self.root)
        self.assertEqual(m.known_failure("q/idle/one/one/plain").reason, "named quirk")
        self.assertEqual(m.known_failure("q/many/one/one/plain").reason, "named quirk")
        self.assertIsNone(m.known_failure("q/cut/one/one/plain"))
        self.assertIsNone(m.known_failure("q/first/one/one/plain"))
        self.assertEqual(m.known_failure("q/big/one/raw/plain").reason, "tagged quirk")
        text = SPLIT_MATRIX.replace("    tag: robustness\n", "    tag: robust\n")
        self.assertIn("matrix.yaml:36: known failure: unknown tag 'robust' (known: robustness)",
                      self.problems(self.write(text)))
        text = SPLIT_MATRIX.replace("[idle, many]", "[idle, nope]")
        self.assertIn("matrix.yaml:32: known failure 'q/*/one/one/*': scenario 'nope' matches "
                      "no cell", self.problems(self.write(text)))
        # the raw client plays only big: without its tag, the entry matches nothing
        text = SPLIT_MATRIX.replace("  big:\n    robustness: true\n", "  big:\n")
        self.assertIn("matrix.yaml:34: known failure 'q/*/one/raw/*' with tag robustness "
                      "matches no cell", self.problems(self.write(text)))

    def test_transport_defaults_to_tcp(self):
        text = SPLIT_SCENARIOS.replace("transport: tcp\n", "")
        self.assertNotIn("transport", text)
        m = matrix.load(self.write(scenarios=text), self.root)
        self.assertEqual(m.protocols["q"].transport, "tcp")
        text = SPLIT_SCENARIOS.replace("transport: tcp\n", "transport: udp\n")
        self.assertIn("the protocol is udp", " ".join(self.problems(self.write(scenarios=text))))

    def test_a_known_failure_with_a_list_of_cells(self):
        # one cause in several places: one entry, one reason, every pattern its own
        text = SPLIT_MATRIX.replace("  - cell: 'q/*/one/one/*'\n    scenario: [idle, many]\n",
                                    "  - cell: ['q/idle/one/one/*',\n"
                                    "           'q/many/one/one/*']\n")
        m = matrix.load(self.write(text), self.root)
        kfs = [m.known_failure(f"q/{s}/one/one/plain") for s in ("idle", "many")]
        self.assertEqual([k.reason for k in kfs], ["named quirk"] * 2)
        self.assertEqual([(k.pattern, k.line) for k in kfs],
                         [("q/idle/one/one/*", 32), ("q/many/one/one/*", 33)])
        self.assertIsNone(m.known_failure("q/first/one/one/plain"))
        self.assertEqual(kfs[0].entry, kfs[1].entry)
        # each pattern must match a cell, and is named at its own line
        got = self.problems(self.write(text.replace("'q/many/one/one/*'", "'q/nope/one/one/*'")))
        self.assertIn("matrix.yaml:33: known failure 'q/nope/one/one/*' matches no cell", got)
        got = self.problems(self.write(text.replace("'q/many/one/one/*'", "'q/many/one'")))
        self.assertIn("matrix.yaml:33: known failure: cell pattern 'q/many/one' must have 5 "
                      "parts: protocol/scenario/server/client/mode", got)
        got = self.problems(self.write(SPLIT_MATRIX.replace("'q/*/one/one/*'", "[]")))
        self.assertIn("matrix.yaml:32: known failure: cell must not be an empty list", got)
        # scenario: each name must match through one of the entry's patterns
        text = SPLIT_MATRIX.replace("  - cell: 'q/*/one/one/*'\n",
                                    "  - cell: ['q/idle/one/one/*', 'q/many/one/one/*']\n")
        self.assertEqual(matrix.load(self.write(text), self.root)
                         .known_failure("q/many/one/one/plain").reason, "named quirk")

    def test_problems_in_scenarios_yaml_name_that_file_and_line(self):
        text = SPLIT_SCENARIOS.replace("    stdout: 'B\\n'", "    stdot: 'B\\n'") \
            .replace("hold: 'h'", "hold: '\\q'")
        got = self.problems(self.write(scenarios=text))
        self.assertIn("protocols/q/scenarios.yaml:2: protocol q: robustness: hold: unknown "
                      "escape \\q", " ".join(got))
        self.assertTrue(any(p.startswith("protocols/q/scenarios.yaml:14: scenario q/last: "
                                         "unknown key 'stdot'") for p in got), got)

    def test_problems_in_a_template_name_matrix_yaml_once(self):
        text = SPLIT_MATRIX.replace("    timeout_s: 5\n", "    timeout_s: -5\n") \
            .replace("  many:\n    default: false\n", "  many:\n    default: false\n    clint: 2\n")
        got = self.problems(self.write(text))
        self.assertEqual([p for p in got if ":13:" in p],
                         ["matrix.yaml:13: scenario q/idle: timeout_s must be > 0, not -5"])
        self.assertIn("matrix.yaml:30: robustness template many: unknown key 'clint' "
                      "(did you mean 'clients'?)", got)
        # a template's values that the protocol lacks
        text = SPLIT_SCENARIOS.replace(", reset_after: 1", "")
        self.assertIn("protocols/q/scenarios.yaml:2: protocol q: robustness: template cut "
                      "needs reset_after", self.problems(self.write(scenarios=text)))

    def test_goldens_are_checked_against_the_template_and_written(self):
        goldens = dict(SPLIT_GOLDENS, idle=SPLIT_GOLDENS["idle"].replace('"HI', '"HO'))
        del goldens["many"]
        path = self.write(goldens=goldens)
        (self.root / "protocols/q/golden/many.txt").unlink(missing_ok=True)
        got = self.problems(path)
        self.assertTrue(any(p.startswith("protocols/q/golden/idle.txt:1: scenario q/idle: not "
                                         "the transcript robustness template idle "
                                         "(matrix.yaml:10) gives: turn 2")
                            for p in got), got)
        self.assertTrue(any(p.startswith("protocols/q/scenarios.yaml:7: scenario q/many: golden "
                                         "transcript protocols/q/golden/many.txt does not "
                                         "exist: python3 -m harness validate --write-goldens")
                            for p in got), got)
        written: list[str] = []
        m = matrix.load(path, self.root, write_goldens=written)
        self.assertEqual(sorted(written), ["protocols/q/golden/idle.txt",
                                           "protocols/q/golden/many.txt"])
        self.assertEqual(m.protocols["q"].scenarios["idle"].golden.connections[0][1].data,
                         b"HI\n")
        text = (self.root / "protocols/q/golden/many.txt").read_text()
        self.assertTrue(text.startswith("# transcript v1 tcp\n# q/many\n"), text)
        written.clear()
        matrix.load(path, self.root, write_goldens=written)
        self.assertEqual(written, [])  # a comment of its own (cut.txt) is kept
        code, out, err = validate(path)
        self.assertEqual(code, 0, err)

    def test_the_matrix_hash_covers_scenarios_yaml(self):
        from harness.output import merge
        path = self.write()
        before = merge.matrix_hash(path)
        self.write(scenarios=SPLIT_SCENARIOS.replace("clients: 3", "clients: 4"))
        self.assertNotEqual(merge.matrix_hash(path), before)
        self.write()
        self.assertEqual(merge.matrix_hash(path), before)

    def test_inline_scenarios_win_and_a_key_is_said_once(self):
        inline = SPLIT_MATRIX.replace(
            "protocols: [q]",
            "protocols:\n  q:\n    transport: tcp\n    scenarios:\n"
            "      first: {stdin: 'a\\n', stdout: 'A\\n'}")
        inline = inline[:inline.index("known_failures:")] + "known_failures: []\n"
        m = matrix.load(self.write(inline), self.root)
        self.assertEqual(list(m.protocols["q"].scenarios), ["first"])
        self.assertEqual(m.protocols["q"].scenarios["first"].file, "")
        both = inline.replace("    scenarios:\n      first: {stdin: 'a\\n', stdout: 'A\\n'}\n", "")
        self.assertIn("protocols/q/scenarios.yaml:1: protocol q: transport is given in the matrix "
                      "too (line 32): say it once", self.problems(self.write(both)))
        (self.root / "protocols/q/scenarios.yaml").unlink()
        self.assertIn("matrix.yaml:31: protocol q: no scenarios: neither `scenarios:` here nor "
                      "protocols/q/scenarios.yaml", self.problems(self.write(both, scenarios=None)))


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
        self.assertEqual(set(s["$defs"]["template"]["properties"]), matrix.TEMPLATE_KEYS)
        self.assertEqual(set(s["$defs"]["values"]["properties"]), matrix.VALUE_KEYS)
        import json
        sc = json.loads((support.ROOT / "docs" / "scenarios.schema.json").read_text())
        self.assertEqual(sc["$ref"], "matrix.schema.json#/$defs/protocol")

    def test_matrices_validate_when_jsonschema_is_installed(self):
        try:
            import jsonschema
        except ImportError:
            self.skipTest("jsonschema is not installed (optional)")
        import yaml
        jsonschema.Draft202012Validator.check_schema(self.schema)
        for path in (support.ROOT / "matrix.yaml", FIX / "good.yaml"):
            jsonschema.validate(yaml.safe_load(path.read_text()), self.schema)
        import json
        sc = json.loads((support.ROOT / "docs" / "scenarios.schema.json").read_text())
        try:
            from referencing import Registry, Resource  # jsonschema >= 4.18
        except ImportError:  # Debian 12's 4.10
            resolver = jsonschema.RefResolver(sc["$id"], sc,
                                              store={self.schema["$id"]: self.schema})
            validator = jsonschema.Draft202012Validator(sc, resolver=resolver)
        else:
            registry = Registry().with_resources(
                [(x["$id"], Resource.from_contents(x)) for x in (self.schema, sc)])
            validator = jsonschema.Draft202012Validator(sc, registry=registry)
        files = sorted(support.ROOT.glob("protocols/*/scenarios.yaml"))
        self.assertGreaterEqual(len(files), 10)
        for path in files:
            validator.validate(yaml.safe_load(path.read_text()))
        bad = yaml.safe_load((support.ROOT / "protocols/calc/scenarios.yaml").read_text())
        bad["robustness"]["replay"] = bad["robustness"].pop("reply")
        with self.assertRaises(jsonschema.ValidationError):
            validator.validate(bad)
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

    def _copy(self) -> Path:
        """matrix.yaml, protocols/ and peers/ in a throw-away directory."""
        import shutil
        import tempfile
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, tmp)
        shutil.copy(support.ROOT / "matrix.yaml", tmp)
        shutil.copytree(support.ROOT / "protocols", tmp / "protocols")
        shutil.copytree(support.ROOT / "peers", tmp / "peers")
        return tmp

    def test_one_template_adds_a_scenario_to_every_protocol(self):
        """The diff docs/matrix.md shows ("Adding a robustness scenario to
        every protocol") is the whole edit."""
        tmp = self._copy()
        text = (tmp / "matrix.yaml").read_text()
        at = text.index("\n# Each protocol's transport")
        text = text[:at] + (
            "  reset-first:\n"
            "    description: after a client connected and reset at once, another is served\n"
            "    robustness: true\n"
            "    timeout_s: 5\n"
            "    before: [{args: ['--reset-after', '0']}]\n"
            "    only_clients: [c]\n") + text[at:]
        (tmp / "matrix.yaml").write_text(text)
        written: list[str] = []
        m = matrix.load(tmp / "matrix.yaml", tmp, write_goldens=written)
        protos = ["echo", "echo-repr", "upper", "calc", "ack", "daytime", "timeofday", "login"]
        self.assertEqual(written, [f"protocols/{p}/golden/reset-first.txt" for p in protos])
        for name, proto in m.protocols.items():
            if name not in protos:
                self.assertNotIn("reset-first", proto.scenarios)
                continue
            sc = proto.scenarios["reset-first"]
            self.assertEqual(list(proto.scenarios)[-1], "reset-first")
            model = proto.scenarios["idle-client"]  # the same exchange
            self.assertEqual((sc.stdin, sc.stdout, sc.stdout_pattern, sc.files),
                             (model.stdin, model.stdout, model.stdout_pattern, model.files))
            self.assertEqual(sc.golden, model.golden, name)
            self.assertEqual(sc.before[0].args, ("--reset-after", "0"))
            self.assertEqual(sc.only_clients, ("c",))
        before = {c.id for c in self.cells}
        added = {c.id for c in matrix.expand(m)} - before
        self.assertEqual({i.split("/")[1] for i in added}, {"reset-first"})
        self.assertEqual({i.split("/")[0] for i in added}, set(protos))

    def test_robustness_goldens_are_what_the_templates_imply(self):
        """Every golden of a templated scenario, deleted, is written back by
        validate --write-goldens with the same turns (the loader checks
        the files there are against the templates on every load)."""
        import yaml
        tmp = self._copy()
        names = set(yaml.safe_load((tmp / "matrix.yaml").read_text())["robustness"])
        deleted = []
        for f in sorted(tmp.glob("protocols/*/scenarios.yaml")):
            own = yaml.safe_load(f.read_text())
            if "robustness" not in own:
                continue
            for name in names:
                if "golden" in (own["scenarios"].get(name) or {}):
                    continue  # written by hand
                g = f.parent / "golden" / f"{name}.txt"
                if g.is_file():
                    g.unlink()
                    deleted.append(str(g.relative_to(tmp)))
        self.assertGreaterEqual(len(deleted), 30)
        written: list[str] = []
        m = matrix.load(tmp / "matrix.yaml", tmp, write_goldens=written)
        self.assertEqual(sorted(written), sorted(deleted))
        for rel in deleted:
            proto, _, name = Path(rel).parts[1:4]
            self.assertEqual(m.protocols[proto].scenarios[name[:-4]].golden,
                             self.m.protocols[proto].scenarios[name[:-4]].golden, rel)

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
        self.assertIn("-Xint", argv)  # {jvm} became several words
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
