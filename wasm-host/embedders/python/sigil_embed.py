#!/usr/bin/env python3
"""Runs Sigil's detection engine, compiled to WebAssembly, from Python: a third-party embedder.

It uses the PyPI `wasmtime` package (scripts/setup-python-wasmtime.sh installs it) and either
face of the engine that scripts/build-wasm.sh writes:

* `core` (the default): target/wasm/sigil_engine.core.wasm through the C ABI of
  wasm-host/ABI.md — what a host without the component model (wazero, Chicory, V8, WAMR) does,
  written from that document alone;
* `component`: target/wasm/sigil_engine.component.wasm through wasmtime-py's component API and
  the WIT world wasm-host/wit/sigil.wit.

Events are evaluated in batches of whole lines (never one call per event); the engine keeps
correlation state from batch to batch. Alerts are printed exactly as
`sigil hunt --pack PACK --format jsonl FILE` prints them; malformed events are reported on
standard error as `sigil: FILE:LINE: malformed event: REASON`.

The engine also normalises events to OCSF (`normalize`: the lines `sigil normalize --to ocsf`
prints) and verifies sealed files (`verify`: the findings `sigil verify --json` prints); neither
needs a pack.

Usage:
    sigil_embed.py --pack PACK [--face core|component] [--wasm MODULE] [--routing ROUTING]
                   [--batch-bytes N] FILE...
As a library:
    engine = SigilCore("target/wasm/sigil_engine.core.wasm")
    engine.load(open("rules.pack", "rb").read())
    for result in engine.eval_file("events.jsonl"):
        sys.stdout.buffer.write(result.alerts)
    for result in engine.normalize_file("events.jsonl"):
        sys.stdout.buffer.write(result.lines)
    report = engine.verify(open("alerts.sealed.jsonl", "rb").read(), open("seal.key").read())
    for finding in report.findings:
        print(finding.to_json())
"""

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from typing import BinaryIO, Dict, Iterator, List, Optional, Tuple, Union

import wasmtime

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
CORE_WASM = os.path.join(ROOT, "target", "wasm", "sigil_engine.core.wasm")
COMPONENT_WASM = os.path.join(ROOT, "target", "wasm", "sigil_engine.component.wasm")
ABI_VERSION = 1
# A batch is at most this much text (plus one line): big enough that the call overhead vanishes,
# small enough that alerts stream.
BATCH_BYTES = 1 << 20


class SigilError(Exception):
    """An error the engine returned as a value (a bad pack, no pack loaded, a bad routing)."""


class SigilTrap(SigilError):
    """The guest trapped (out of memory, a bug). The instance is unusable: make a new one and
    load the pack again."""


@dataclass
class BatchResult:
    alerts: bytes = b""
    """JSON Lines text, one alert per line, exactly as `sigil hunt --format jsonl` prints."""
    events: int = 0
    rejected: int = 0
    alerts_count: int = 0
    notes: List[str] = field(default_factory=list)


@dataclass
class NormalizeResult:
    lines: bytes = b""
    """JSON Lines, one line per event, exactly as `sigil normalize --to ocsf` prints: the OCSF
    object when a mapping applies, else the event unchanged."""
    mapped: Dict[int, int] = field(default_factory=dict)
    """Mapped events per OCSF class_uid."""
    passed: int = 0
    rejected: int = 0
    notes: List[str] = field(default_factory=list)

    def add(self, other: "NormalizeResult") -> None:
        """Adds another batch's counts and notes (not its lines) to these."""
        for class_uid, events in other.mapped.items():
            self.mapped[class_uid] = self.mapped.get(class_uid, 0) + events
        self.passed += other.passed
        self.rejected += other.rejected
        self.notes += other.notes

    def summary(self) -> str:
        """The closing line `sigil normalize` prints for these counts."""
        per_class = ", ".join(f"{c}: {n}" for c, n in sorted(self.mapped.items()))
        return (f"normalized: {sum(self.mapped.values())} events mapped{f' ({per_class})' if per_class else ''}, "
                f"{self.passed} passed through unmapped, {self.rejected} rejected")


@dataclass
class Finding:
    line: int
    expected: Optional[int]
    found: Optional[int]
    kind: str
    """modified, inserted, duplicated, deleted, reordered, truncated, spliced or wrong_key."""
    message: str

    def to_json(self) -> str:
        """The finding as `sigil verify --json` prints it."""
        return json.dumps({"line": self.line, "expected": self.expected, "found": self.found, "kind": self.kind,
                           "message": self.message}, separators=(",", ":"), ensure_ascii=False)


@dataclass
class VerifyReport:
    lines: int
    records: int
    checkpoints: int
    key_id: str
    """The key's public id, as `sigil verify` prints it (never the key)."""
    findings: List[Finding]

    @property
    def verified(self) -> bool:
        return not self.findings


def batches(stream: BinaryIO, batch_bytes: int = BATCH_BYTES) -> Iterator[Tuple[int, bytes]]:
    """Splits JSON Lines into batches of whole lines: (number of the batch's first line, bytes)."""
    first, line, buf = 1, 1, bytearray()
    for raw in stream:  # a binary file yields lines split at b"\n", as the engine counts them
        if buf and len(buf) + len(raw) > batch_bytes:
            yield first, bytes(buf)
            first, buf = line, bytearray()
        buf += raw
        line += 1
    if buf:
        yield first, bytes(buf)


_ENGINE = None
_COMPILED = {}


def _compiled(wasm_path: str, face: str):
    """The shared wasmtime engine and the module (or component) compiled from `wasm_path`.
    Compiling is the slow part of starting; each instance (one pack, one correlation state)
    is cheap, so a file is compiled once per process and instantiated as often as needed."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = wasmtime.Engine()
    stat = os.stat(wasm_path)
    key = (os.path.abspath(wasm_path), face, stat.st_mtime_ns, stat.st_size)
    if key not in _COMPILED:
        if face == "core":
            _COMPILED[key] = wasmtime.Module.from_file(_ENGINE, wasm_path)
        else:
            from wasmtime import component

            _COMPILED[key] = component.Component.from_file(_ENGINE, wasm_path)
    return _ENGINE, _COMPILED[key]


class _Engine:
    def eval_batch(self, source: str, first_line: int, events: bytes, routing: str = "auto") -> BatchResult:
        raise NotImplementedError

    def normalize(self, source: str, first_line: int, events: bytes) -> NormalizeResult:
        """Maps a batch of JSON Lines (whole lines) to OCSF, as `sigil normalize --to ocsf`;
        `source` and `first_line` number the notes. Needs no pack."""
        raise NotImplementedError

    def verify(self, sealed: bytes, key: Union[str, bytes]) -> VerifyReport:
        """Checks a whole sealed file with the key's hex text (a key file's content). Tampering
        gives findings; a key that is not one raises SigilError (whose message never holds it)."""
        raise NotImplementedError

    def normalize_file(self, path: str, source: str = None,
                       batch_bytes: int = BATCH_BYTES) -> Iterator[NormalizeResult]:
        """Normalises a JSON Lines file batch by batch; `source` (default: `path`) is the notes' file."""
        with open(path, "rb") as stream:
            for first_line, chunk in batches(stream, batch_bytes):
                yield self.normalize(source if source is not None else path, first_line, chunk)

    def eval_file(self, path: str, routing: str = "auto", source: str = None,
                  batch_bytes: int = BATCH_BYTES) -> Iterator[BatchResult]:
        """Evaluates a JSON Lines file batch by batch; `source` (default: `path` as given) is the
        alerts' `source.file`."""
        with open(path, "rb") as stream:
            for first_line, chunk in batches(stream, batch_bytes):
                yield self.eval_batch(source if source is not None else path, first_line, chunk, routing)


class SigilCore(_Engine):
    """The core module through the C ABI of wasm-host/ABI.md."""

    def __init__(self, wasm_path: str = CORE_WASM):
        self.engine, module = _compiled(wasm_path, "core")
        self.store = wasmtime.Store(self.engine)
        # The module imports nothing: the engine does no I/O.
        instance = wasmtime.Instance(self.store, module, [])
        exports = instance.exports(self.store)
        self.memory = exports["memory"]
        self._fn = {name: exports[name] for name in (
            "sigil_abi_version", "sigil_alloc", "sigil_free", "sigil_load", "sigil_eval_batch",
            "sigil_result_ptr", "sigil_result_len", "sigil_last_error_ptr", "sigil_last_error_len",
            "sigil_version_ptr", "sigil_version_len", "sigil_normalize", "sigil_verify")}
        abi = self._call("sigil_abi_version")
        if abi != ABI_VERSION:
            raise SigilError(f"{wasm_path}: C ABI version {abi}, this embedder speaks {ABI_VERSION}")

    def _call(self, name: str, *args) -> int:
        try:
            return self._fn[name](self.store, *args)
        except wasmtime.Trap as trap:
            raise SigilTrap(f"the engine trapped in {name}: {trap}") from trap

    def _read(self, ptr_fn: str, len_fn: str) -> bytes:
        # Pointers and lengths are i32 values holding unsigned 32-bit numbers.
        ptr = self._call(ptr_fn) & 0xFFFFFFFF
        length = self._call(len_fn) & 0xFFFFFFFF
        return bytes(self.memory.read(self.store, ptr, ptr + length)) if length else b""

    def _put(self, data: bytes) -> Tuple[int, int]:
        ptr = self._call("sigil_alloc", len(data)) & 0xFFFFFFFF
        if ptr == 0:
            raise SigilError(f"the engine cannot allocate {len(data)} bytes")
        if data:
            self.memory.write(self.store, data, ptr)
        return ptr, len(data)

    def _error(self) -> SigilError:
        return SigilError(self._read("sigil_last_error_ptr", "sigil_last_error_len").decode("utf-8", "replace"))

    def version(self) -> str:
        return self._read("sigil_version_ptr", "sigil_version_len").decode()

    def load(self, pack: bytes) -> int:
        """Loads a compiled pack, replacing the loaded one; returns the number of rules."""
        ptr, length = self._put(pack)
        try:
            rules = self._call("sigil_load", ptr, length)
        finally:
            self._call("sigil_free", ptr, length)
        if rules < 0:
            raise self._error()
        return rules

    def eval_batch(self, source: str, first_line: int, events: bytes, routing: str = "auto") -> BatchResult:
        inputs = [self._put(source.encode()), self._put(events), self._put(routing.encode())]
        try:
            (sp, sl), (ep, el), (rp, rl) = inputs
            status = self._call("sigil_eval_batch", sp, sl, first_line, ep, el, rp, rl)
        finally:
            for ptr, length in inputs:
                self._call("sigil_free", ptr, length)
        if status != 0:
            raise self._error()
        # The result belongs to the guest until the next sigil_load/sigil_eval_batch: copy it now.
        report = json.loads(self._read("sigil_result_ptr", "sigil_result_len"))
        return BatchResult(report["alerts"].encode(), report["events"], report["rejected"],
                           report["alerts_count"], report["notes"])

    def normalize(self, source: str, first_line: int, events: bytes) -> NormalizeResult:
        inputs = [self._put(source.encode()), self._put(events)]
        try:
            (sp, sl), (ep, el) = inputs
            status = self._call("sigil_normalize", sp, sl, first_line, ep, el)
        finally:
            for ptr, length in inputs:
                self._call("sigil_free", ptr, length)
        if status != 0:
            raise self._error()
        report = json.loads(self._read("sigil_result_ptr", "sigil_result_len"))
        return NormalizeResult(report["lines"].encode(), {int(c): n for c, n in report["mapped"].items()},
                               report["passed"], report["rejected"], report["notes"])

    def verify(self, sealed: bytes, key: Union[str, bytes]) -> VerifyReport:
        key = key.encode() if isinstance(key, str) else key
        inputs = [self._put(sealed), self._put(key)]
        try:
            (fp, fl), (kp, kl) = inputs
            status = self._call("sigil_verify", fp, fl, kp, kl)
        finally:
            # The key's buffer is ours: wipe it before giving it back.
            self.memory.write(self.store, bytes(len(key)), inputs[1][0])
            for ptr, length in inputs:
                self._call("sigil_free", ptr, length)
        if status != 0:
            raise self._error()
        report = json.loads(self._read("sigil_result_ptr", "sigil_result_len"))
        findings = [Finding(f["line"], f["expected"], f["found"], f["kind"], f["message"]) for f in report["findings"]]
        return VerifyReport(report["lines"], report["records"], report["checkpoints"], report["key_id"], findings)


class SigilComponent(_Engine):
    """The component through wasmtime-py's component API (`sigil:engine/engine@0.4.0`)."""

    INTERFACE = "sigil:engine/engine@0.4.0"

    def __init__(self, wasm_path: str = COMPONENT_WASM):
        from wasmtime import component

        self.engine, comp = _compiled(wasm_path, "component")
        self.store = wasmtime.Store(self.engine)
        instance = component.Linker(self.engine).instantiate(self.store, comp)
        interface = instance.get_export_index(self.store, self.INTERFACE)
        if interface is None:
            raise SigilError(f"{wasm_path}: no export {self.INTERFACE}")

        def func(name):
            index = instance.get_export_index(self.store, name, interface)
            if index is None:
                raise SigilError(f"{wasm_path}: {self.INTERFACE} has no function {name}")
            return instance.get_func(self.store, index)

        self._version, self._load, self._eval = func("version"), func("load"), func("eval-batch")
        self._normalize, self._verify = func("normalize"), func("verify")

    def _call(self, fn, *args):
        try:
            return fn(self.store, *args)
        except wasmtime.Trap as trap:
            raise SigilTrap(f"the engine trapped: {trap}") from trap

    def version(self) -> str:
        return self._call(self._version)

    # wasmtime-py returns a `result<T, string>` untagged when T is not a string: the Ok value,
    # or the error's text.
    def load(self, pack: bytes) -> int:
        rules = self._call(self._load, pack)
        if isinstance(rules, str):
            raise SigilError(rules)
        return rules

    def eval_batch(self, source: str, first_line: int, events: bytes, routing: str = "auto") -> BatchResult:
        batch = self._call(self._eval, source, first_line, events, routing)
        if isinstance(batch, str):
            raise SigilError(batch)
        return BatchResult(bytes(batch.alerts), batch.events, batch.rejected, getattr(batch, "alert-count"),
                           list(batch.notes))

    def normalize(self, source: str, first_line: int, events: bytes) -> NormalizeResult:
        out = self._call(self._normalize, source, first_line, events)
        if isinstance(out, str):
            raise SigilError(out)
        mapped = {getattr(c, "class-uid"): c.events for c in out.mapped}
        return NormalizeResult(bytes(out.lines), mapped, out.passed, out.rejected, list(out.notes))

    def verify(self, sealed: bytes, key: Union[str, bytes]) -> VerifyReport:
        if isinstance(key, bytes):
            try:
                key = key.decode()
            except UnicodeDecodeError:
                # As the engine says it, and without the decoder's message (it quotes a byte).
                raise SigilError("the key is not a key: it must hold hex digits only (as `sigil keygen` writes)") from None
        report = self._call(self._verify, sealed, key)
        if isinstance(report, str):
            raise SigilError(report)
        findings = [Finding(f.line, f.expected, f.found, f.kind, f.message) for f in report.findings]
        return VerifyReport(report.lines, report.records, report.checkpoints, getattr(report, "key-id"), findings)


def open_engine(face: str = "core", wasm_path: str = None) -> _Engine:
    if face == "core":
        return SigilCore(wasm_path or CORE_WASM)
    if face == "component":
        return SigilComponent(wasm_path or COMPONENT_WASM)
    raise ValueError(f"face is core or component, not {face!r}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Sigil's engine in WebAssembly, over JSON Lines files.")
    parser.add_argument("--pack", required=True, help="a compiled pack (`sigil compile RULES -o PACK`)")
    parser.add_argument("--face", choices=("core", "component"), default="core",
                        help="the C-ABI core module (default) or the component")
    parser.add_argument("--wasm", help="the module or component (default: target/wasm/sigil_engine.FACE.wasm)")
    parser.add_argument("--routing", default="auto", help="auto, all, or product=..,category=..,service=..")
    parser.add_argument("--batch-bytes", type=int, default=BATCH_BYTES, help="text per call (whole lines)")
    parser.add_argument("files", nargs="+", metavar="FILE", help="JSON Lines files")
    args = parser.parse_args(argv)
    try:
        engine = open_engine(args.face, args.wasm)
        with open(args.pack, "rb") as f:
            rules = engine.load(f.read())
        print(f"sigil-embed: {engine.version()} ({args.face}): {rules} rules from {args.pack}", file=sys.stderr)
        totals = BatchResult()
        out = sys.stdout.buffer
        for path in args.files:
            for result in engine.eval_file(path, args.routing, batch_bytes=args.batch_bytes):
                out.write(result.alerts)
                out.flush()
                for note in result.notes:
                    print(note, file=sys.stderr)
                totals.events += result.events
                totals.rejected += result.rejected
                totals.alerts_count += result.alerts_count
        print(f"sigil-embed: {totals.events} events, {totals.rejected} rejected, {totals.alerts_count} alerts",
              file=sys.stderr)
        return 0
    except (SigilError, OSError, wasmtime.WasmtimeError) as e:
        print(f"sigil-embed: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
