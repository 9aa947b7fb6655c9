//! The core module's C ABI (wasm-host/ABI.md) driven as a host without the component model
//! drives it: wasmtime's core API, no imports, inputs put with `sigil_alloc`, results read at
//! `sigil_result_ptr/len`. `sigil_normalize` and `sigil_verify` give what `sigil_ocsf` and
//! `sigil_seal` give natively, and what the component gives. Needs the core module and the
//! component (scripts/build-wasm.sh, which scripts/test.sh runs first).

use serde_json::Value;
use sigil_seal::{SealKey, SealedWriter};
use sigil_wasm_host::{Limits, WasmHunt};
use std::path::{Path, PathBuf};
use wasmtime::{Engine, Instance, Memory, Module, Store};

fn built(test: &str) -> Option<(PathBuf, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm");
    let (core, component) = (dir.join("sigil_engine.core.wasm"), dir.join("sigil_engine.component.wasm"));
    if core.is_file() && component.is_file() {
        Some((core, component))
    } else {
        println!("SKIPPED {test}: {} is not built (scripts/build-wasm.sh)", core.display());
        None
    }
}

/// One instance of the core module, called as ABI.md's pseudo-code does.
struct Core {
    store: Store<()>,
    instance: Instance,
    memory: Memory,
}

impl Core {
    fn new(path: &Path) -> Core {
        let engine = Engine::default();
        let module = compiled(&engine, path);
        assert_eq!(module.imports().count(), 0, "the module imports nothing");
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let memory = instance.get_memory(&mut store, "memory").expect("memory is exported");
        let mut core = Core { store, instance, memory };
        assert_eq!(core.call0("sigil_abi_version"), 1);
        core
    }

    fn call0(&mut self, name: &str) -> u32 {
        let f = self.instance.get_typed_func::<(), u32>(&mut self.store, name).unwrap();
        f.call(&mut self.store, ()).unwrap()
    }

    fn put(&mut self, bytes: &[u8]) -> (u32, u32) {
        let alloc = self.instance.get_typed_func::<u32, u32>(&mut self.store, "sigil_alloc").unwrap();
        let ptr = alloc.call(&mut self.store, bytes.len() as u32).unwrap();
        assert_ne!(ptr, 0, "the guest allocates");
        self.memory.write(&mut self.store, ptr as usize, bytes).unwrap();
        (ptr, bytes.len() as u32)
    }

    fn free(&mut self, (ptr, len): (u32, u32)) {
        let free = self.instance.get_typed_func::<(u32, u32), ()>(&mut self.store, "sigil_free").unwrap();
        free.call(&mut self.store, (ptr, len)).unwrap();
    }

    fn read(&mut self, ptr_fn: &str, len_fn: &str) -> String {
        let (ptr, len) = (self.call0(ptr_fn) as usize, self.call0(len_fn) as usize);
        String::from_utf8(self.memory.data(&self.store)[ptr..ptr + len].to_vec()).unwrap()
    }

    /// The result's JSON object, or the error message.
    fn outcome(&mut self, status: i32) -> Result<Value, String> {
        if status == 0 {
            Ok(serde_json::from_str(&self.read("sigil_result_ptr", "sigil_result_len")).unwrap())
        } else {
            assert_eq!(status, -1);
            Err(self.read("sigil_last_error_ptr", "sigil_last_error_len"))
        }
    }

    fn normalize(&mut self, source: &str, first_line: u64, events: &[u8]) -> Result<Value, String> {
        let (src, ev) = (self.put(source.as_bytes()), self.put(events));
        let f =
            self.instance.get_typed_func::<(u32, u32, u64, u32, u32), i32>(&mut self.store, "sigil_normalize").unwrap();
        let status = f.call(&mut self.store, (src.0, src.1, first_line, ev.0, ev.1)).unwrap();
        self.free(src);
        self.free(ev);
        self.outcome(status)
    }

    fn verify(&mut self, sealed: &[u8], key: &[u8]) -> Result<Value, String> {
        let (file, k) = (self.put(sealed), self.put(key));
        let f = self.instance.get_typed_func::<(u32, u32, u32, u32), i32>(&mut self.store, "sigil_verify").unwrap();
        let status = f.call(&mut self.store, (file.0, file.1, k.0, k.1)).unwrap();
        self.free(file);
        self.free(k);
        self.outcome(status)
    }
}

fn cache() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm/cache")
}

/// The module compiled for this machine, from the cache when this build of wasmtime compiled
/// the same module before (compiling it unoptimised, as tests build wasmtime, takes a while).
fn compiled(engine: &Engine, path: &Path) -> Module {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let bytes = std::fs::read(path).unwrap();
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    bytes.hash(&mut h);
    let cached = cache().join(format!("sigil-engine-core-{:016x}.cwasm", h.finish()));
    if let Ok(native) = std::fs::read(&cached) {
        // SAFETY: written below by `precompile_module` of an engine with the same compatibility
        // hash (in the name); `deserialize` checks the header again.
        if let Ok(module) = unsafe { Module::deserialize(engine, &native) } {
            return module;
        }
    }
    let native = engine.precompile_module(&bytes).unwrap();
    let tmp = cached.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::create_dir_all(cache()).and_then(|_| std::fs::write(&tmp, &native)).is_ok() {
        let _ = std::fs::rename(&tmp, &cached);
    }
    // SAFETY: `native` was made just now by this engine's `precompile_module`.
    unsafe { Module::deserialize(engine, &native) }.unwrap()
}

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files
}

#[test]
fn sigil_normalize_gives_what_sigil_ocsf_and_the_component_give() {
    let Some((core_path, component)) = built("sigil_normalize_gives_what_sigil_ocsf_and_the_component_give") else {
        return;
    };
    let mut core = Core::new(&core_path);
    let mut host = WasmHunt::new(&component, Limits::default(), Some(&cache())).unwrap();
    let (mut compared, mut mapped) = (0, 0);
    for file in examples() {
        let text = std::fs::read_to_string(&file).unwrap() + "{oops\n";
        let source = file.display().to_string();
        let (mut lines, mut counts, mut notes) = (Vec::new(), sigil_ocsf::Counts::default(), Vec::new());
        sigil_ocsf::normalize_jsonl(&text, 1, &mut lines, &mut counts, &mut |line, reason| {
            notes.push(format!("sigil: {source}:{line}: malformed event: {reason}"))
        });
        let result = core.normalize(&source, 1, text.as_bytes()).unwrap();
        assert_eq!(result["lines"].as_str().unwrap().as_bytes(), lines, "{source}");
        let per_class: Value = counts.mapped.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect();
        assert_eq!(result["mapped"], per_class, "{source}");
        mapped += counts.mapped.values().sum::<u64>();
        assert_eq!((result["passed"].as_u64(), result["rejected"].as_u64()), (Some(counts.passed), Some(1)));
        assert_eq!(result["notes"], serde_json::json!(notes), "{source}");

        let component = host.normalize(&source, 1, text.as_bytes()).unwrap();
        assert_eq!(component.lines, lines, "{source}: both faces give the same bytes");
        assert_eq!((component.mapped, component.notes), (counts.mapped, notes));
        compared += text.lines().count();
    }
    assert!(mapped > 10, "the examples map: {mapped} events");
    assert!(core.normalize("x", u64::MAX, b"{}").unwrap_err().contains("too large"));
    println!("sigil_normalize: {compared} lines ({mapped} mapped) as sigil_ocsf and the component give them");
}

#[test]
fn sigil_verify_gives_what_sigil_seal_gives_and_never_shows_the_key() {
    let Some((core_path, _)) = built("sigil_verify_gives_what_sigil_seal_gives_and_never_shows_the_key") else {
        return;
    };
    let mut core = Core::new(&core_path);
    let key_text = format!("{}\n", "9a".repeat(32));
    let key = SealKey::from_hex(key_text.as_bytes()).unwrap();
    let mut writer = SealedWriter::new(Vec::new(), key.clone()).stream_id([1; 16]).checkpoint_every(5);
    let story = std::fs::read_to_string(examples()[0].as_path()).unwrap();
    for line in story.lines() {
        writer.write_record(line.as_bytes()).unwrap();
    }
    let sealed = String::from_utf8(writer.finish().unwrap()).unwrap();
    let native = |bytes: &[u8]| {
        let report = sigil_seal::verify(bytes, &key).unwrap();
        (report.records, serde_json::to_value(&report.findings).unwrap())
    };

    let report = core.verify(sealed.as_bytes(), key_text.as_bytes()).unwrap();
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(report["records"].as_u64(), Some(story.lines().count() as u64));
    assert!(report["checkpoints"].as_u64().unwrap() >= 2);
    assert_eq!(report["lines"].as_u64(), Some(sealed.lines().count() as u64));
    assert_eq!(report["key_id"].as_str(), Some(key.id().as_str()));

    // One record's content changed, another line removed, the tail cut in a line.
    let mut lines: Vec<&str> = sealed.lines().collect();
    let changed = lines[3].replacen("\":\"", "\":\"x", 1);
    lines[3] = &changed;
    lines.remove(8);
    let tampered = lines.join("\n");
    let tampered = &tampered[..tampered.len() - 10];
    let report = core.verify(tampered.as_bytes(), key_text.as_bytes()).unwrap();
    let (records, findings) = native(tampered.as_bytes());
    assert_eq!(report["findings"], findings);
    assert_eq!(report["records"].as_u64(), Some(records));
    let kinds: Vec<&str> = findings.as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    for kind in ["modified", "deleted", "truncated"] {
        assert!(kinds.contains(&kind), "{kinds:?}");
    }

    for bad in [&key_text[..40], "", "zq secret, not hex"] {
        let err = core.verify(sealed.as_bytes(), bad.as_bytes()).unwrap_err();
        assert!(err.starts_with("the key "), "{err}");
        assert!(bad.is_empty() || !err.contains(&bad[..8]), "the key leaked: {err}");
    }
    // A null pointer with a length is an error value too.
    let f = core.instance.get_typed_func::<(u32, u32, u32, u32), i32>(&mut core.store, "sigil_verify").unwrap();
    let status = f.call(&mut core.store, (0, 10, 0, 0)).unwrap();
    assert!(core.outcome(status).unwrap_err().contains("null pointer"));
}
