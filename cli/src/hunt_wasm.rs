//! `sigil hunt --runtime wasm`: the same hunt, run by the engine compiled to WebAssembly inside a
//! wasmtime host with a deadline and a memory cap per batch.
//!
//! The compiled rules go to the guest as a pack; events go in batches of JSON Lines (records of
//! arrays and EVTX files as one line each, at their positions), never one call per event; the
//! guest answers with the alert lines `--runtime native` prints. A batch that overruns or traps
//! is reported with its range of lines and counted as rejected, and the hunt goes on.

use crate::input::{self, Raw};
use crate::HuntArgs;
use sigil_engine::Plan;
use sigil_wasm_host::{HostError, Limits, WasmHunt};
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Lines per batch, and the text size at which a batch goes out early.
const BATCH_LINES: usize = 2048;
const BATCH_BYTES: usize = 4 << 20;

pub fn run(args: &HuntArgs, plan: Plan) -> Result<ExitCode, String> {
    if args.format.is_some_and(|f| f != crate::HuntFormat::Jsonl) {
        return Err("--runtime wasm prints the JSON Lines alerts: use --format jsonl".into());
    }
    if args.state.is_some() || !args.lookups.is_empty() {
        return Err("--runtime wasm does not take --state or --lookup: use --runtime native".into());
    }
    let component = component_path(args)?;
    let limits =
        Limits { memory_bytes: args.wasm_memory_mb << 20, deadline: Duration::from_millis(args.wasm_deadline_ms) };
    let mut host = WasmHunt::new(&component, limits, cache_dir().as_deref()).map_err(|e| e.to_string())?;
    host.load_pack(&sigil_engine::pack::to_bytes(&plan)).map_err(|e| e.to_string())?;
    let routing = args.logsource.as_deref().unwrap_or("auto").to_string();
    let mut run = Run { host, routing, out: io::BufWriter::new(io::stdout().lock()), totals: Totals::default() };
    let inputs = if args.events.is_empty() { vec!["-".to_string()] } else { args.events.clone() };
    for path in &inputs {
        let reader = match input::open(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("sigil: cannot read {path}: {e}");
                run.totals.unreadable += 1;
                continue;
            }
        };
        let mut batch = Chunk::default();
        let mut failed = None;
        let result = input::read_raw(reader, &mut |raw| {
            if failed.is_some() {
                return;
            }
            if let Err(e) = run.take(path, &mut batch, raw) {
                failed = Some(e);
            }
        });
        if let Some(e) = failed {
            return Err(format!("cannot write alerts: {e}"));
        }
        run.flush(path, &mut batch).map_err(|e| format!("cannot write alerts: {e}"))?;
        if let Err(e) = result {
            eprintln!("sigil: error while reading {path}: {e}");
            run.totals.unreadable += 1;
        }
    }
    run.out.flush().map_err(|e| format!("cannot write alerts: {e}"))?;
    let t = &run.totals;
    eprintln!("events: {} read, {} rejected; alerts: {}", t.read, t.rejected, t.alerts);
    Ok(if t.unreadable > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

#[derive(Default)]
struct Totals {
    read: u64,
    rejected: u64,
    alerts: u64,
    unreadable: u64,
}

/// Consecutive lines of one input, numbered from `first`.
#[derive(Default)]
struct Chunk {
    first: u64,
    next: u64,
    lines: usize,
    text: String,
}

struct Run<W: Write> {
    host: WasmHunt,
    routing: String,
    out: W,
    totals: Totals,
}

impl<W: Write> Run<W> {
    fn take(&mut self, path: &str, chunk: &mut Chunk, raw: Raw) -> io::Result<()> {
        let (number, line) = match raw {
            Raw::Idle => return self.flush(path, chunk),
            Raw::Line { number, text } => (number, text),
            Raw::Parsed { position, record: Ok(value) } => (position, value.to_string()),
            Raw::Parsed { position, record: Err(reason) } => {
                self.flush(path, chunk)?;
                self.totals.read += 1;
                self.totals.rejected += 1;
                eprintln!("sigil: {path}:{position}: malformed event: {reason}");
                return Ok(());
            }
        };
        if chunk.lines > 0 && number < chunk.next {
            self.flush(path, chunk)?;
        }
        if chunk.lines == 0 {
            chunk.first = number;
            chunk.next = number;
        }
        // Blank lines keep the numbering: the guest counts lines from `first`.
        while chunk.next < number {
            chunk.text.push('\n');
            chunk.next += 1;
        }
        chunk.text.push_str(line.trim_end_matches(['\n', '\r']));
        chunk.text.push('\n');
        chunk.next += 1;
        chunk.lines += 1;
        if chunk.lines >= BATCH_LINES || chunk.text.len() >= BATCH_BYTES {
            self.flush(path, chunk)?;
        }
        Ok(())
    }

    fn flush(&mut self, path: &str, chunk: &mut Chunk) -> io::Result<()> {
        if chunk.lines == 0 {
            return Ok(());
        }
        let batch = std::mem::take(chunk);
        match self.host.eval_batch(path, batch.first, batch.text.as_bytes(), &self.routing) {
            Ok(result) => {
                for note in &result.notes {
                    eprintln!("{note}");
                }
                self.totals.read += result.events;
                self.totals.rejected += result.rejected;
                self.totals.alerts += result.alert_count;
                self.out.write_all(&result.alerts)?;
                self.out.flush()
            }
            Err(e @ (HostError::Deadline(_) | HostError::Memory(_) | HostError::Trap(_) | HostError::Guest(_))) => {
                eprintln!("sigil: {path}:{}-{}: batch not evaluated: {e}", batch.first, batch.next - 1);
                self.totals.read += batch.lines as u64;
                self.totals.rejected += batch.lines as u64;
                Ok(())
            }
            Err(e @ HostError::Setup(_)) => Err(io::Error::other(e.to_string())),
        }
    }
}

/// `--wasm-component`, else `SIGIL_WASM_COMPONENT`, else `wasm/sigil_engine.component.wasm`
/// beside the folder of the `sigil` binary (`target/wasm/` for `target/release/sigil`).
fn component_path(args: &HuntArgs) -> Result<PathBuf, String> {
    if let Some(path) =
        args.wasm_component.clone().or_else(|| std::env::var_os("SIGIL_WASM_COMPONENT").map(PathBuf::from))
    {
        return Ok(path);
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the sigil binary: {e}"))?;
    let beside = exe.parent().and_then(|d| d.parent()).map(|d| d.join("wasm/sigil_engine.component.wasm"));
    match beside {
        Some(path) if path.is_file() => Ok(path),
        _ => Err("the engine component is not built: run scripts/build-wasm.sh, or give --wasm-component PATH".into()),
    }
}

/// Where compiled components are kept: `SIGIL_WASM_CACHE`, else the user's cache folder.
fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SIGIL_WASM_CACHE") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("sigil"))
}
