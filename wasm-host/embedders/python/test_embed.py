#!/usr/bin/env python3
"""The Python embedder against the native CLI: the same pack over the same events must give the
same alerts, line for line, through either face of the Wasm engine and in batches of any size;
`normalize` must print what `sigil normalize --to ocsf` prints, and `verify` must find what
`sigil verify --json` finds in a file `sigil hunt --seal` wrote, untouched and tampered with.

Builds nothing. It needs, from the repository root:
  target/wasm/sigil_engine.core.wasm and .component.wasm   scripts/build-wasm.sh
  target/release/sigil                                      cargo build --release -p sigil-cli
  the wasmtime Python package                               scripts/setup-python-wasmtime.sh
Packs are compiled into a temporary directory with `target/release/sigil compile`. When
../shared (the SigmaHQ corpus and datasets) exists, a real CloudTrail dataset runs under
SigmaHQ's cloud rules too. Usage: python3 wasm-host/embedders/python/test_embed.py
The last line is `N passed, N failed`; the exit status is non-zero on any failure.
"""

import glob
import os
import random
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigil_embed  # noqa: E402

ROOT = sigil_embed.ROOT
# The sigil binary to compare with: SIGIL_BIN, else the one `cargo test` or `cargo build` left.
SIGIL = os.environ.get("SIGIL_BIN") or next(
    (p for p in (os.path.join(ROOT, "target", d, "sigil") for d in ("debug", "release")) if os.path.isfile(p)),
    os.path.join(ROOT, "target", "debug", "sigil"),
)
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
OTRF_CLOUDTRAIL = os.path.join(SHARED, "datasets", "cloud", "otrf", "aws_ec2_proxy_s3_exfiltration.cloudtrail.jsonl")
SHARED_CLOUD_RULES = os.path.join(SHARED, "sigma", "rules", "cloud")
FACES = ("core", "component")
# Small batches split files into many calls (correlation state carries over), large ones do not.
BATCH_SIZES = (700, sigil_embed.BATCH_BYTES)

CORRELATION_RULES = """\
title: failed logon
name: failed_logon
logsource:
  product: test
detection:
  sel:
    outcome: failure
  condition: sel
---
title: many failed logons
correlation:
  type: event_count
  rules:
    - failed_logon
  group-by:
    - user
  timespan: 5m
  condition:
    gte: 3
"""


def run(cmd):
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, check=False)


def cli_hunt(pack, *files):
    """`sigil hunt --pack PACK --format jsonl FILE...`: (alert lines, malformed-event notes)."""
    done = run([SIGIL, "hunt", "--pack", pack, "--format", "jsonl", *files])
    if done.returncode not in (0, 1):  # 1: alerts were found
        raise AssertionError(f"sigil hunt failed ({done.returncode}): {done.stderr.decode()}")
    notes = [line for line in done.stderr.decode().splitlines() if "malformed event" in line]
    return done.stdout.decode().splitlines(), notes


def compile_pack(rules, pack):
    done = run([SIGIL, "compile", rules, "-o", pack])
    if done.returncode != 0:
        raise AssertionError(f"sigil compile {rules} failed: {done.stderr.decode()}")
    return pack


def cli_normalize(path):
    """`sigil normalize --to ocsf FILE`: (output lines, malformed-event notes, closing line)."""
    done = run([SIGIL, "normalize", "--to", "ocsf", path])
    if done.returncode != 0:
        raise AssertionError(f"sigil normalize failed ({done.returncode}): {done.stderr.decode()}")
    stderr = done.stderr.decode().splitlines()
    return done.stdout.decode().splitlines(), [l for l in stderr if "malformed event" in l], stderr[-1]


def cli_verify(path, key):
    """`sigil verify FILE --key KEY --json`: (exit status, finding lines)."""
    done = run([SIGIL, "verify", path, "--key", key, "--json"])
    return done.returncode, done.stdout.decode().splitlines()


def embed(face, pack, path, batch_bytes):
    """The embedder over one file: (alert lines, notes, summed counts)."""
    engine = sigil_embed.open_engine(face)
    with open(pack, "rb") as f:
        engine.load(f.read())
    alerts, notes, counts = b"", [], [0, 0, 0]
    for result in engine.eval_file(path, batch_bytes=batch_bytes):
        alerts += result.alerts
        notes += result.notes
        counts = [counts[0] + result.events, counts[1] + result.rejected, counts[2] + result.alerts_count]
    return alerts.decode().splitlines(), notes, counts


class Embedder(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [p for p in (sigil_embed.CORE_WASM, sigil_embed.COMPONENT_WASM, SIGIL) if not os.path.isfile(p)]
        if missing:
            raise AssertionError(
                f"missing {', '.join(missing)}: run scripts/build-wasm.sh and cargo build -p sigil-cli")
        cls.tmp = tempfile.TemporaryDirectory(prefix="sigil-embed-test-")
        cls.pack = compile_pack("sigma-rules/rules", os.path.join(cls.tmp.name, "sigil.pack"))
        # Relative paths, as a user types them: the alerts' source.file must be this same string.
        cls.examples = sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "examples", "*.jsonl")))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def same_as_cli(self, pack, path, expect_alerts=True):
        want, want_notes = cli_hunt(pack, path)
        if expect_alerts:
            self.assertTrue(want, f"{path}: the CLI finds no alerts, so the comparison would prove nothing")
        for face in FACES:
            for batch_bytes in BATCH_SIZES:
                with self.subTest(path=path, face=face, batch_bytes=batch_bytes):
                    got, notes, (events, rejected, alerts) = embed(face, pack, path, batch_bytes)
                    self.assertEqual(got, want)
                    self.assertEqual(notes, want_notes)
                    self.assertEqual(alerts, len(want))
                    self.assertEqual(rejected, len(want_notes))
                    self.assertGreater(events, 0)
        return want

    def test_repository_examples_under_the_embedded_rules(self):
        self.assertTrue(self.examples, "no examples/*.jsonl")
        for path in self.examples:
            self.same_as_cli(self.pack, path)

    def test_the_example_script_prints_what_the_cli_prints(self):
        want, _ = cli_hunt(self.pack, *self.examples)
        for face in FACES:
            with self.subTest(face=face):
                done = run([sys.executable, os.path.join("wasm-host", "embedders", "python", "sigil_embed.py"),
                            "--pack", self.pack, "--face", face, "--batch-bytes", "4096", *self.examples])
                self.assertEqual(done.returncode, 0, done.stderr.decode())
                self.assertEqual(done.stdout.decode().splitlines(), want)

    def test_otrf_cloudtrail_dataset_under_sigmahq_cloud_rules(self):
        if not (os.path.isfile(OTRF_CLOUDTRAIL) and os.path.isdir(SHARED_CLOUD_RULES)):
            self.skipTest(f"{SHARED} is absent")
        pack = compile_pack(SHARED_CLOUD_RULES, os.path.join(self.tmp.name, "cloud.pack"))
        self.same_as_cli(pack, OTRF_CLOUDTRAIL)

    def test_correlations_carry_over_from_batch_to_batch(self):
        rules = os.path.join(self.tmp.name, "correlation.yml")
        with open(rules, "w") as f:
            f.write(CORRELATION_RULES)
        pack = compile_pack(rules, os.path.join(self.tmp.name, "correlation.pack"))
        events = os.path.join(self.tmp.name, "logons.jsonl")
        with open(events, "w") as f:
            for minute in range(12):
                user, outcome = ("ann", "bob")[minute % 2], ("failure", "success")[minute % 5 == 4]
                f.write(f'{{"@timestamp": "2024-01-01T00:{minute:02d}:00Z", "outcome": "{outcome}", '
                        f'"user": "{user}", "padding": "{"x" * 200}"}}\n')
        want = self.same_as_cli(pack, events)
        self.assertTrue(any('"kind":"correlation"' in line for line in want), want)

    def test_malformed_and_non_utf8_lines_are_rejected_events_as_in_the_cli(self):
        path = os.path.join(self.tmp.name, "mixed.jsonl")
        with open(os.path.join(ROOT, "examples", "cloudtrail.jsonl"), "rb") as f:
            lines = f.read().splitlines(keepends=True)
        with open(path, "wb") as f:
            f.write(b"".join(lines[:5]) + b"\xff\xfe not text\n[1]\n\n{oops\r\n" + lines[5].rstrip(b"\n") + b"\r\n"
                    + b"".join(lines[6:]))
        self.same_as_cli(self.pack, path)

    def test_mangled_events_never_trap_and_read_as_in_the_cli(self):
        lines = []
        for path in self.examples:
            with open(os.path.join(ROOT, path), "rb") as f:
                lines += f.read().splitlines()
        rng = random.Random(20240101)
        mangled = [lines[0]]  # a first line that is whole JSON: the CLI reads the rest as JSON Lines
        for _ in range(600):
            line = bytearray(rng.choice(lines))
            op = rng.randrange(6)
            if op == 0:
                line[rng.randrange(len(line))] = rng.randrange(256)
            elif op == 1:
                line = line[: rng.randrange(len(line) + 1)]
            elif op == 2:
                line = b"[" * rng.randrange(1, 3000) + line
            elif op == 3:
                line = b'{"Records": [' + line + b", 1, " + line + b"]}"
            elif op == 4:
                at = rng.randrange(len(line) + 1)
                line = line[:at] + bytes(rng.randrange(256) for _ in range(8)) + line[at:]
            mangled.append(bytes(line).replace(b"\n", b" "))
        path = os.path.join(self.tmp.name, "mangled.jsonl")
        with open(path, "wb") as f:
            f.write(b"\n".join(mangled) + b"\n")
        self.same_as_cli(self.pack, path)

    def test_normalize_prints_what_sigil_normalize_prints(self):
        mixed = os.path.join(self.tmp.name, "mixed-normalize.jsonl")
        with open(os.path.join(ROOT, "examples", "okta.jsonl"), "rb") as f:
            lines = f.read().splitlines(keepends=True)
        with open(mixed, "wb") as f:
            f.write(b"".join(lines[:3]) + b"\xff not text\n{oops\n\n  {\"message\": \"no mapping\"}  \r\n"
                    + b'{"Records": [' + lines[3].strip() + b", 7]}\n" + b"".join(lines[4:]))
        paths = self.examples + [mixed] + ([OTRF_CLOUDTRAIL] if os.path.isfile(OTRF_CLOUDTRAIL) else [])
        mapped = 0
        for path in paths:
            want, want_notes, want_summary = cli_normalize(path)
            for face in FACES:
                engine = sigil_embed.open_engine(face)  # no pack: normalize needs none
                for batch_bytes in BATCH_SIZES:
                    with self.subTest(path=path, face=face, batch_bytes=batch_bytes):
                        got, total = b"", sigil_embed.NormalizeResult()
                        for result in engine.normalize_file(path, batch_bytes=batch_bytes):
                            got += result.lines
                            total.add(result)
                        self.assertEqual(got.decode().splitlines(), want)
                        self.assertEqual(total.notes, want_notes)
                        self.assertEqual(total.summary(), want_summary)
            mapped += sum(total.mapped.values())
        self.assertGreater(mapped, 10, "the examples map events: the comparison proves something")
        self.assertEqual(len(cli_normalize(mixed)[1]), 3, "the mixed file's malformed events")

    def test_verify_finds_a_modified_record_in_a_file_sigil_hunt_sealed(self):
        key = os.path.join(self.tmp.name, "seal.key")
        done = run([SIGIL, "keygen", "-o", key])
        self.assertEqual(done.returncode, 0, done.stderr.decode())
        done = run([SIGIL, "hunt", "--pack", self.pack, "--seal", key, "--checkpoint-every", "5", "--format", "jsonl",
                    *self.examples])
        self.assertIn(done.returncode, (0, 1), done.stderr.decode())  # 1: alerts were found
        sealed = done.stdout
        alerts, _ = cli_hunt(self.pack, *self.examples)
        with open(key) as f:
            key_text = f.read()
        lines = sealed.splitlines(keepends=True)
        i = next(n for n, line in enumerate(lines) if n > 3 and line.startswith(b'{"seal":"record"'))
        self.assertIn(b'"level":"', lines[i])
        tampered = b"".join(lines[:i] + [lines[i].replace(b'"level":"', b'"level":"x', 1)] + lines[i + 1:])
        for name, data in (("sealed", sealed), ("tampered", tampered)):
            path = os.path.join(self.tmp.name, f"{name}.jsonl")
            with open(path, "wb") as f:
                f.write(data)
            status, want = cli_verify(path, key)
            for face in FACES:
                with self.subTest(file=name, face=face):
                    report = sigil_embed.open_engine(face).verify(data, key_text)
                    self.assertEqual([f.to_json() for f in report.findings], want)
                    self.assertEqual(report.lines, len(data.splitlines()))
                    self.assertEqual(report.verified, status == 0)
                    if name == "sealed":
                        self.assertTrue(report.verified, want)
                        self.assertEqual(report.records, len(alerts))
                        self.assertGreater(report.checkpoints, 0)
                    else:
                        self.assertEqual([(f.kind, f.line, f.expected, f.found) for f in report.findings],
                                         [("modified", i + 1, i, i)])
        for face in FACES:
            with self.subTest(face=face, key="bad"):
                engine = sigil_embed.open_engine(face)
                for bad in (key_text.strip()[:40], "", "zq-secret-not-hex", b"\xff\xfe" + key_text.encode()):
                    with self.assertRaises(sigil_embed.SigilError) as caught:
                        engine.verify(sealed, bad)
                    message = str(caught.exception)
                    self.assertTrue(message.startswith("the key "), message)
                    shown = bad if isinstance(bad, str) else key_text
                    self.assertTrue(not shown or shown.strip()[:8] not in message, f"the key leaked: {message}")

    def test_errors_are_values_and_leave_the_engine_usable(self):
        with open(self.pack, "rb") as f:
            pack = f.read()
        for face in FACES:
            with self.subTest(face=face):
                engine = sigil_embed.open_engine(face)
                self.assertRegex(engine.version(), r"^sigil \S+ \(plan format \d+\)$")
                with self.assertRaisesRegex(sigil_embed.SigilError, "no pack loaded"):
                    engine.eval_batch("x", 1, b"{}")
                with self.assertRaisesRegex(sigil_embed.SigilError, "not a Sigil compiled pack"):
                    engine.load(b'{"not": "a pack"}')
                with self.assertRaisesRegex(sigil_embed.SigilError, "damaged"):
                    engine.load(pack[: len(pack) // 2])
                self.assertGreater(engine.load(pack), 0)
                with self.assertRaisesRegex(sigil_embed.SigilError, "routing"):
                    engine.eval_batch("x", 1, b"{}", "colour=blue")
                result = engine.eval_batch("x", 1, b"", "all")
                self.assertEqual((result.events, result.alerts, result.notes), (0, b"", []))
                result = engine.eval_batch("x", 7, b'{"eventName": "StopLogging", "eventSource": '
                                           b'"cloudtrail.amazonaws.com"}\n', "product=aws,service=cloudtrail")
                self.assertEqual(result.events, 1)


def main():
    result = unittest.TextTestRunner(verbosity=2).run(unittest.defaultTestLoader.loadTestsFromTestCase(Embedder))
    # A test with failing subtests is one failed test.
    failed = {getattr(test, "test_case", test).id() for test, _ in result.failures + result.errors}
    failed |= {test.id() for test in result.unexpectedSuccesses}
    skipped = {test.id() for test, _ in result.skipped} - failed
    passed = result.testsRun - len(failed) - len(skipped)
    if skipped:
        print(f"skipped: {', '.join(sorted(skipped))}")
    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed or not result.wasSuccessful() else 0


if __name__ == "__main__":
    sys.exit(main())
