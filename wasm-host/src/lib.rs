//! The wasmtime host of the Sigil engine component (`wasm-host/wit/sigil.wit`).
//!
//! A [`WasmHunt`] owns one instance of the component and runs every call under [`Limits`]: a
//! deadline (epoch interruption, so a guest that loops is stopped) and a memory cap (a guest
//! that allocates without bound traps when it grows past it). A call that traps or overruns
//! returns a [`HostError`], and the next call gets a fresh instance with the pack loaded again,
//! so one bad batch never takes the host down. Compiling the component to native code is the
//! slow part of starting; [`WasmHunt::new`] keeps the result in a cache keyed by the component
//! and by wasmtime's compatibility hash.
//!
//! This crate knows the component's interface and the limits; what a batch means (events in,
//! alerts out) is the guest's, which runs `sigil_engine::session::Session`. The same holds for
//! [`WasmHunt::normalize`] (`sigil_ocsf` in the guest) and [`WasmHunt::verify`] (`sigil_seal`),
//! which need no pack.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};

wasmtime::component::bindgen!({ world: "sigil", path: "wit" });

use exports::sigil::engine::engine::Batch;

/// What one call may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The guest's linear memory may not grow past this many bytes.
    pub memory_bytes: usize,
    /// Wall-clock time one call may take.
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: 2 << 30, deadline: Duration::from_secs(60) }
    }
}

/// Why a call did not return a result. The host stays usable after every one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// The component could not be read, compiled or instantiated.
    Setup(String),
    /// The guest returned an error value (a malformed pack, no pack loaded, ...).
    Guest(String),
    /// The call ran past its deadline and was stopped.
    Deadline(Duration),
    /// The guest tried to grow its memory past the cap.
    Memory(usize),
    /// The guest trapped (out of memory inside the guest, a bug): the instance was replaced.
    Trap(String),
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::Setup(e) => write!(f, "cannot start the Wasm engine: {e}"),
            HostError::Guest(e) => write!(f, "{e}"),
            HostError::Deadline(d) => {
                write!(f, "the Wasm engine ran past its deadline of {} ms and was stopped", d.as_millis())
            }
            HostError::Memory(cap) => {
                write!(f, "the Wasm engine tried to use more than its {} MiB of memory and was stopped", cap >> 20)
            }
            HostError::Trap(e) => write!(f, "the Wasm engine trapped ({e}) and was restarted"),
        }
    }
}

impl std::error::Error for HostError {}

/// A batch's result, as the guest reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchResult {
    /// Alerts as JSON Lines, the bytes `sigil hunt --format jsonl` prints.
    pub alerts: Vec<u8>,
    pub events: u64,
    pub rejected: u64,
    pub alert_count: u64,
    pub notes: Vec<String>,
}

/// An edge batch's result, as the guest reports it (the WIT `edge-result`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeBatchResult {
    /// Forwarded lines (events, tagged events, summaries), JSON Lines.
    pub forwarded: Vec<u8>,
    /// Alerts as JSON Lines, as `sigil hunt --format jsonl` prints them.
    pub alerts: Vec<u8>,
    pub notes: Vec<String>,
    /// The stream's counts so far, a JSON object.
    pub counts: String,
}

/// A batch's normalisation, as the guest reports it (the WIT `normalized`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NormalizeResult {
    /// The lines `sigil normalize --to ocsf` prints for the batch (JSON Lines).
    pub lines: Vec<u8>,
    /// Mapped events per OCSF class uid.
    pub mapped: BTreeMap<u64, u64>,
    /// Events written unchanged (no mapping covers them).
    pub passed: u64,
    /// Malformed events, one note each.
    pub rejected: u64,
    /// `sigil: FILE:LINE: malformed event: REASON`.
    pub notes: Vec<String>,
}

/// One finding of [`WasmHunt::verify`]: an object of `sigil verify --json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFinding {
    pub line: u64,
    pub expected: Option<u64>,
    pub found: Option<u64>,
    pub kind: String,
    pub message: String,
}

/// What a sealed file came to (the WIT `verify-report`); it verified when `findings` is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyResult {
    pub lines: u64,
    pub records: u64,
    pub checkpoints: u64,
    /// The key's public id, never the key.
    pub key_id: String,
    pub findings: Vec<VerifyFinding>,
}

struct State {
    limits: StoreLimits,
}

/// One running instance of the engine component, with its limits.
pub struct WasmHunt {
    engine: Engine,
    component: Component,
    linker: Linker<State>,
    limits: Limits,
    instance: Option<(Store<State>, Sigil)>,
    /// The pack to load again into a fresh instance after a trap.
    pack: Option<Vec<u8>>,
    ticker: Arc<AtomicBool>,
}

/// Where compiled components are kept between runs (pass it to [`WasmHunt::new`]):
/// `SIGIL_WASM_CACHE`, else the user's cache folder (`XDG_CACHE_HOME` or `~/.cache`) + `sigil`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SIGIL_WASM_CACHE") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("sigil"))
}

/// The epoch advances this often; deadlines are counted in ticks.
const TICK: Duration = Duration::from_millis(10);

impl WasmHunt {
    /// Compiles (or takes from `cache_dir`) the component in `component_path`.
    pub fn new(component_path: &Path, limits: Limits, cache_dir: Option<&Path>) -> Result<WasmHunt, HostError> {
        let bytes = std::fs::read(component_path)
            .map_err(|e| HostError::Setup(format!("cannot read {}: {e}", component_path.display())))?;
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        // For profiling the guest with `perf record`: JIT symbols go to /tmp/perf-PID.map.
        if std::env::var_os("SIGIL_WASM_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| HostError::Setup(e.to_string()))?;
        let component = load_component(&engine, &bytes, cache_dir)?;
        let linker = Linker::new(&engine);
        let ticker = Arc::new(AtomicBool::new(true));
        {
            let (engine, running) = (engine.clone(), Arc::clone(&ticker));
            std::thread::Builder::new()
                .name("sigil-wasm-epoch".into())
                .spawn(move || {
                    while running.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| HostError::Setup(format!("cannot start the deadline clock: {e}")))?;
        }
        Ok(WasmHunt { engine, component, linker, limits, instance: None, pack: None, ticker })
    }

    /// Loads a compiled pack; returns its number of rules.
    pub fn load_pack(&mut self, pack: &[u8]) -> Result<u32, HostError> {
        self.pack = None;
        self.instance = None;
        let rules = self.call(|store, sigil| sigil.sigil_engine_engine().call_load(store, pack))?;
        self.pack = Some(pack.to_vec());
        Ok(rules)
    }

    /// Evaluates a batch of JSON Lines (see the WIT for the arguments).
    pub fn eval_batch(
        &mut self,
        source: &str,
        first_line: u64,
        events: &[u8],
        routing: &str,
    ) -> Result<BatchResult, HostError> {
        let batch: Batch = self.call(|store, sigil| {
            sigil.sigil_engine_engine().call_eval_batch(store, source, first_line, events, routing)
        })?;
        Ok(BatchResult {
            alerts: batch.alerts,
            events: batch.events,
            rejected: batch.rejected,
            alert_count: batch.alert_count,
            notes: batch.notes,
        })
    }

    /// Drops the open correlation windows (the pack stays); returns how many groups were open.
    pub fn flush(&mut self) -> Result<u64, HostError> {
        self.call(|store, sigil| sigil.sigil_engine_engine().call_flush(store))
    }

    /// The input ended: the summary alerts (JSON Lines) of the suppression windows it closes.
    pub fn finish(&mut self) -> Result<Vec<u8>, HostError> {
        self.call(|store, sigil| sigil.sigil_engine_engine().call_finish(store))
    }

    /// The open correlation windows, as the JSON text `sigil hunt --state FILE` holds.
    pub fn save_state(&mut self) -> Result<String, HostError> {
        self.call(|store, sigil| sigil.sigil_engine_engine().call_save_state(store))
    }

    /// Restores windows saved by [`WasmHunt::save_state`] or `sigil hunt --state`; returns how
    /// many saved groups belong to correlations the loaded pack does not have (dropped).
    /// A trap later loses them, as it loses all correlation state: the fresh instance starts
    /// with the pack only.
    pub fn restore_state(&mut self, state: &str) -> Result<u64, HostError> {
        self.call(|store, sigil| sigil.sigil_engine_engine().call_restore_state(store, state))
    }

    /// Runs a batch through the loaded rules and an edge policy (its compiled JSON); see the
    /// WIT's `edge-batch`. A trap loses the edge stream's windows with the instance.
    pub fn edge_batch(
        &mut self,
        policy: &str,
        source: &str,
        first_line: u64,
        events: &[u8],
        routing: &str,
        end: bool,
    ) -> Result<EdgeBatchResult, HostError> {
        let result = self.call(|store, sigil| {
            sigil.sigil_engine_engine().call_edge_batch(store, policy, source, first_line, events, routing, end)
        })?;
        Ok(EdgeBatchResult {
            forwarded: result.forwarded,
            alerts: result.alerts,
            notes: result.notes,
            counts: result.counts,
        })
    }

    /// Maps a batch of JSON Lines to OCSF, as `sigil normalize --to ocsf` (see the WIT's
    /// `normalize`). Needs no pack; `source` and `first_line` only number the notes.
    pub fn normalize(&mut self, source: &str, first_line: u64, events: &[u8]) -> Result<NormalizeResult, HostError> {
        let out =
            self.call(|store, sigil| sigil.sigil_engine_engine().call_normalize(store, source, first_line, events))?;
        Ok(NormalizeResult {
            lines: out.lines,
            mapped: out.mapped.iter().map(|c| (c.class_uid, c.events)).collect(),
            passed: out.passed,
            rejected: out.rejected,
            notes: out.notes,
        })
    }

    /// Checks a sealed file with the key's hex text (a key file's content), as `sigil verify`
    /// (see the WIT's `verify`). A key that is not one is a [`HostError::Guest`] whose message
    /// never holds the key. Needs no pack.
    pub fn verify(&mut self, sealed: &[u8], key: &str) -> Result<VerifyResult, HostError> {
        let out = self.call(|store, sigil| sigil.sigil_engine_engine().call_verify(store, sealed, key))?;
        Ok(VerifyResult {
            lines: out.lines,
            records: out.records,
            checkpoints: out.checkpoints,
            key_id: out.key_id,
            findings: out
                .findings
                .into_iter()
                .map(|f| VerifyFinding {
                    line: f.line,
                    expected: f.expected,
                    found: f.found,
                    kind: f.kind,
                    message: f.message,
                })
                .collect(),
        })
    }

    /// The guest's version line.
    pub fn version(&mut self) -> Result<String, HostError> {
        self.call(|store, sigil| sigil.sigil_engine_engine().call_version(store).map(Ok))
    }

    /// Runs one call under the limits. A trap or an overrun drops the instance; the next call
    /// starts a fresh one (with the pack loaded again).
    fn call<T>(
        &mut self,
        f: impl FnOnce(&mut Store<State>, &Sigil) -> wasmtime::Result<Result<T, String>>,
    ) -> Result<T, HostError> {
        if self.instance.is_none() {
            self.instance = Some(self.instantiate()?);
        }
        let (store, sigil) = self.instance.as_mut().expect("instantiated above");
        let ticks = (self.limits.deadline.as_millis() / TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        match f(store, sigil) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(guest)) => Err(HostError::Guest(guest)),
            Err(e) => {
                self.instance = None;
                Err(self.classify(e))
            }
        }
    }

    fn classify(&self, e: wasmtime::Error) -> HostError {
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => HostError::Deadline(self.limits.deadline),
            _ if format!("{e:?}").contains("forcing trap when growing memory") => {
                HostError::Memory(self.limits.memory_bytes)
            }
            _ => HostError::Trap(format!("{e:#}")),
        }
    }

    fn instantiate(&self) -> Result<(Store<State>, Sigil), HostError> {
        let limits = StoreLimitsBuilder::new().memory_size(self.limits.memory_bytes).trap_on_grow_failure(true).build();
        let mut store = Store::new(&self.engine, State { limits });
        store.limiter(|state| &mut state.limits);
        // Instantiating runs no guest code that could loop, but give it a deadline all the same.
        store.set_epoch_deadline((self.limits.deadline.as_millis() / TICK.as_millis()).max(1) as u64);
        let sigil = Sigil::instantiate(&mut store, &self.component, &self.linker)
            .map_err(|e| HostError::Setup(format!("cannot instantiate the component: {e:#}")))?;
        if let Some(pack) = &self.pack {
            match sigil.sigil_engine_engine().call_load(&mut store, pack) {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(HostError::Guest(e)),
                Err(e) => return Err(HostError::Trap(format!("reloading the pack: {e:#}"))),
            }
        }
        Ok((store, sigil))
    }
}

impl Drop for WasmHunt {
    fn drop(&mut self) {
        self.ticker.store(false, Ordering::Relaxed);
    }
}

/// The component compiled for this machine: from the cache when a compatible build of the same
/// component is there, else compiled now (and cached).
fn load_component(engine: &Engine, bytes: &[u8], cache_dir: Option<&Path>) -> Result<Component, HostError> {
    let cached = cache_dir.map(|dir| cache_file(engine, bytes, dir));
    if let Some(path) = &cached {
        if let Ok(native) = std::fs::read(path) {
            // SAFETY: the file was written by `precompile_component` of an engine with the same
            // compatibility hash (it is in the file name), into a cache directory only this
            // user writes; `deserialize` checks the header again and refuses a mismatch.
            if let Ok(component) = unsafe { Component::deserialize(engine, &native) } {
                return Ok(component);
            }
        }
    }
    let native = engine.precompile_component(bytes).map_err(|e| HostError::Setup(format!("{e:#}")))?;
    if let Some(path) = &cached {
        // A cache that cannot be written only costs the next start its compile time.
        let _ = write_atomically(path, &native);
    }
    // SAFETY: `native` was produced just now by this engine's `precompile_component`.
    unsafe { Component::deserialize(engine, &native) }.map_err(|e| HostError::Setup(format!("{e:#}")))
}

fn cache_file(engine: &Engine, bytes: &[u8], dir: &Path) -> PathBuf {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    bytes.hash(&mut h);
    dir.join(format!("sigil-engine-{:016x}.cwasm", h.finish()))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}
