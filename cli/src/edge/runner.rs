//! What runs `sigil edge`'s batches: the engine in this process (`--runtime native`), or the
//! engine component in wasmtime (`--runtime wasm`, through `edge-batch`). Both run
//! `sigil_engine::edge::Edge` over the same batches, so they write the same bytes; this module
//! only moves batches and results between the command and the engine.

use sigil_engine::edge::{Counts, Edge, EdgeOutput, Policy};
use sigil_engine::session::Session;
use sigil_engine::{Plan, Routing};
use sigil_wasm_host::WasmHunt;

/// What a batch came to, whatever ran it.
#[derive(Debug, Default)]
pub struct Batch {
    pub forwarded: Vec<u8>,
    pub alerts: Vec<u8>,
    pub notes: Vec<String>,
    /// The stream's counts so far.
    pub counts: Counts,
}

pub trait Runner {
    /// Runs JSON Lines whose first line is line `first_line` of `source`.
    fn batch(&mut self, source: &str, first_line: u64, text: &str) -> Result<Batch, String>;
    /// Ends the stream: open windows are summarised.
    fn finish(&mut self) -> Result<Batch, String>;
}

/// The engine in this process.
pub struct Native {
    session: Session,
    edge: Edge,
    routing: Routing,
}

/// Correlation groups kept at most: the Wasm guest's limit, so both runtimes agree.
const MAX_CORRELATION_GROUPS: usize = 100_000;

impl Native {
    pub fn new(plan: Plan, policy: Policy, routing: Routing) -> Result<Native, String> {
        let mut session = Session::new(plan, MAX_CORRELATION_GROUPS).map_err(|e| e.to_string())?;
        let edge = Edge::new(policy, &mut session).map_err(|e| format!("policy {e}"))?;
        Ok(Native { session, edge, routing })
    }

    fn done(&self, out: EdgeOutput) -> Batch {
        Batch { forwarded: out.forwarded, alerts: out.alerts, notes: out.notes, counts: self.edge.counts().clone() }
    }
}

impl Runner for Native {
    fn batch(&mut self, source: &str, first_line: u64, text: &str) -> Result<Batch, String> {
        let mut out = EdgeOutput::default();
        self.edge.eval_jsonl(&mut self.session, source, first_line, text, &self.routing, &mut out);
        Ok(self.done(out))
    }

    fn finish(&mut self) -> Result<Batch, String> {
        let mut out = EdgeOutput::default();
        self.edge.finish(&mut self.session, &mut out);
        Ok(self.done(out))
    }
}

/// The engine component in wasmtime, under a deadline and a memory cap per batch.
pub struct Wasm {
    host: WasmHunt,
    policy: String,
    routing: String,
    /// Counts of guest streams lost to a trap or an overrun (a fresh instance starts afresh).
    lost_streams: Counts,
    last: Counts,
}

impl Wasm {
    /// Loads the rules into a started host (`hunt_wasm::start_host`).
    pub fn new(mut host: WasmHunt, plan: &Plan, policy: &Policy, routing: &str) -> Result<Wasm, String> {
        host.load_pack(&sigil_engine::pack::to_bytes(plan)).map_err(|e| e.to_string())?;
        let policy = serde_json::to_string(policy).map_err(|e| format!("cannot write the compiled policy: {e}"))?;
        // Checks the policy against the rules now, in the guest, rather than at the first batch.
        let mut wasm = Wasm {
            host,
            policy,
            routing: routing.to_string(),
            lost_streams: Counts::default(),
            last: Counts::default(),
        };
        wasm.call("-", 1, b"", false).map_err(|e| format!("policy {e}"))?;
        Ok(wasm)
    }

    fn call(&mut self, source: &str, first_line: u64, events: &[u8], end: bool) -> Result<Batch, String> {
        let result = self
            .host
            .edge_batch(&self.policy, source, first_line, events, &self.routing, end)
            .map_err(|e| e.to_string())?;
        let counts: Counts =
            serde_json::from_str(&result.counts).map_err(|e| format!("the engine's counts do not read: {e}"))?;
        self.last = counts;
        let mut total = self.lost_streams.clone();
        total.add(&self.last);
        Ok(Batch { forwarded: result.forwarded, alerts: result.alerts, notes: result.notes, counts: total })
    }
}

impl Runner for Wasm {
    fn batch(&mut self, source: &str, first_line: u64, text: &str) -> Result<Batch, String> {
        match self.call(source, first_line, text.as_bytes(), false) {
            Ok(batch) => Ok(batch),
            Err(e) => {
                // The instance was replaced (or the guest refused the batch): its stream is gone
                // with its windows. Its counts stay in the totals, the batch counts as rejected,
                // and a new stream starts with the next batch.
                let lines = text.lines().filter(|l| !l.trim().is_empty()).count() as u64;
                let last_line = first_line + text.lines().count().max(1) as u64 - 1;
                self.lost_streams.add(&std::mem::take(&mut self.last));
                self.lost_streams.events += lines;
                self.lost_streams.rejected += lines;
                let note = format!("sigil: {source}:{first_line}-{last_line}: batch not evaluated: {e}");
                Ok(Batch { notes: vec![note], counts: self.lost_streams.clone(), ..Batch::default() })
            }
        }
    }

    fn finish(&mut self) -> Result<Batch, String> {
        self.call("-", 1, b"", true)
    }
}
