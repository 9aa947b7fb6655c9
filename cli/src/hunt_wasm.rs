//! `sigil hunt --runtime wasm`: the same hunt, run by the engine compiled to WebAssembly inside a
//! wasmtime host with a deadline and a memory cap per batch.
//!
//! The compiled rules go to the guest as a pack; events go in batches of JSON Lines (records of
//! arrays and EVTX files as one line each, at their positions), never one call per event; the
//! guest answers with the alert lines `--runtime native` prints. A batch that overruns or traps
//! is reported with its range of lines and counted as rejected, and the hunt goes on.

use crate::batches::{self, Batch, Step};
use crate::{EngineArgs, HuntArgs};
use sigil_engine::Plan;
use sigil_wasm_host::{HostError, Limits, WasmHunt};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

pub fn run(args: &HuntArgs, inputs: &[String], plan: Plan) -> Result<ExitCode, String> {
    if args.format.is_some_and(|f| f != crate::HuntFormat::Jsonl) {
        return Err("--runtime wasm prints the JSON Lines alerts: use --format jsonl".into());
    }
    if !args.lookups.is_empty() {
        return Err("--runtime wasm does not take --lookup: use --runtime native".into());
    }
    let mut host = start_host(&args.engine)?;
    host.load_pack(&sigil_engine::pack::to_bytes(&plan)).map_err(|e| e.to_string())?;
    if let Some(path) = args.state.as_ref().filter(|p| p.exists()) {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read the state {}: {e}", path.display()))?;
        let dropped =
            host.restore_state(&text).map_err(|e| format!("{}: {e}: remove it to start afresh", path.display()))?;
        if dropped > 0 {
            eprintln!("sigil: {dropped} saved correlation groups belong to correlations no longer loaded: dropped");
        }
    }
    let routing = args.logsource.as_deref().unwrap_or("auto").to_string();
    let mut run = Run { host, routing, out: io::BufWriter::new(io::stdout().lock()), totals: Totals::default() };
    let unreadable = batches::read_inputs(inputs, &args.limits, &mut |path, step| match step {
        Step::Batch(batch) => run.evaluate(path, batch),
        Step::Rejected { position, reason } => {
            run.totals.read += 1;
            run.totals.rejected += 1;
            eprintln!("sigil: {path}:{position}: malformed event: {reason}");
            Ok(())
        }
    })
    .map_err(|e| format!("cannot write alerts: {e}"))?;
    run.totals.unreadable += unreadable;
    // Without `--state`, the input's end closes the suppression windows (as native `hunt` does).
    if args.state.is_none() {
        let summaries = run.host.finish().map_err(|e| format!("cannot close the suppression windows: {e}"))?;
        run.totals.alerts += summaries.iter().filter(|&&b| b == b'\n').count() as u64;
        run.out.write_all(&summaries).map_err(|e| format!("cannot write alerts: {e}"))?;
    }
    run.out.flush().map_err(|e| format!("cannot write alerts: {e}"))?;
    if let Some(path) = &args.state {
        let text = run.host.save_state().map_err(|e| format!("cannot save the correlation state: {e}"))?;
        std::fs::write(path, text).map_err(|e| format!("cannot write the state {}: {e}", path.display()))?;
    }
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

struct Run<W: Write> {
    host: WasmHunt,
    routing: String,
    out: W,
    totals: Totals,
}

impl<W: Write> Run<W> {
    fn evaluate(&mut self, path: &str, batch: Batch) -> io::Result<()> {
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

/// The engine component in a wasmtime host with the command line's limits: compiled, or taken
/// from the cache of compiled components.
pub(crate) fn start_host(args: &EngineArgs) -> Result<WasmHunt, String> {
    let component = component_path(args.wasm_component.as_deref())?;
    let limits =
        Limits { memory_bytes: args.wasm_memory_mb << 20, deadline: Duration::from_millis(args.wasm_deadline_ms) };
    WasmHunt::new(&component, limits, sigil_wasm_host::default_cache_dir().as_deref()).map_err(|e| e.to_string())
}

/// `--wasm-component` (`given`), else `SIGIL_WASM_COMPONENT`, else
/// `wasm/sigil_engine.component.wasm` beside the folder of the `sigil` binary (`target/wasm/`
/// for `target/release/sigil`). `hunt` and `edge` both find it through [`start_host`].
fn component_path(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) =
        given.map(Path::to_path_buf).or_else(|| std::env::var_os("SIGIL_WASM_COMPONENT").map(PathBuf::from))
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
