//! The component face: the WIT world `sigil` (`wasm-host/wit/sigil.wit`) over the guest's
//! functions. `scripts/build-wasm.sh` wraps the core module into a component with
//! `wit-component` (`wasm-host/componentize`).

wit_bindgen::generate!({ path: "../wit", world: "sigil" });

use exports::sigil::engine::engine::{Batch, ClassCount, EdgeResult, Finding, Guest, Normalized, VerifyReport};
use zeroize::Zeroizing;

struct Engine;

impl Guest for Engine {
    fn load(pack: Vec<u8>) -> Result<u32, String> {
        crate::load(&pack)
    }

    fn eval_batch(source: String, first_line: u64, events: Vec<u8>, routing: String) -> Result<Batch, String> {
        crate::eval_batch(&source, first_line, &events, &routing).map(|b| Batch {
            alerts: b.alerts,
            events: b.events,
            rejected: b.rejected,
            alert_count: b.alert_count,
            notes: b.notes,
        })
    }

    fn flush() -> Result<u64, String> {
        crate::flush()
    }

    fn finish() -> Result<Vec<u8>, String> {
        crate::finish()
    }

    fn save_state() -> Result<String, String> {
        crate::save_state()
    }

    fn restore_state(state: String) -> Result<u64, String> {
        crate::restore_state(&state)
    }

    fn edge_batch(
        policy: String,
        source: String,
        first_line: u64,
        events: Vec<u8>,
        routing: String,
        end: bool,
    ) -> Result<EdgeResult, String> {
        crate::edge::edge_batch(&policy, &source, first_line, &events, &routing, end).map(|b| EdgeResult {
            forwarded: b.forwarded,
            alerts: b.alerts,
            notes: b.notes,
            counts: b.counts,
        })
    }

    fn normalize(source: String, first_line: u64, events: Vec<u8>) -> Result<Normalized, String> {
        crate::normalize::normalize(&source, first_line, &events).map(|n| Normalized {
            lines: n.lines,
            mapped: n.counts.mapped.iter().map(|(&class_uid, &events)| ClassCount { class_uid, events }).collect(),
            passed: n.counts.passed,
            rejected: n.counts.rejected,
            notes: n.notes,
        })
    }

    fn verify(sealed: Vec<u8>, key: String) -> Result<VerifyReport, String> {
        // The canonical ABI copied the key into this string: wipe it when the call returns.
        let key = Zeroizing::new(key);
        crate::verify::verify(&sealed, key.as_bytes()).map(|r| VerifyReport {
            lines: r.lines,
            records: r.records,
            checkpoints: r.checkpoints,
            key_id: r.key_id,
            findings: r
                .findings
                .into_iter()
                .map(|f| Finding {
                    line: f.line,
                    expected: f.expected,
                    found: f.found,
                    kind: f.kind,
                    message: f.message,
                })
                .collect(),
        })
    }

    fn version() -> String {
        crate::version()
    }
}

export!(Engine);
