//! The component face: the WIT world `sigil` (`wasm-host/wit/sigil.wit`) over the guest's
//! functions. `scripts/build-wasm.sh` wraps the core module into a component with
//! `wit-component` (`wasm-host/componentize`).

wit_bindgen::generate!({ path: "../wit", world: "sigil" });

use exports::sigil::engine::engine::{Batch, Guest};

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

    fn version() -> String {
        crate::version()
    }
}

export!(Engine);
