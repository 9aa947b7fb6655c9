//! `--state` files (the correlation and suppression windows `sigil hunt --state` saves) read
//! back and restored into a session over the embedded pack, which then runs the fixture events,
//! saves its state again (which must read back) and finishes; the shared session is flushed
//! after each run.

use sigil_engine::session::State;
use sigil_engine::Routing;

pub fn run(data: &[u8]) {
    let Some(text) = crate::text(data) else { return };
    let Ok(state) = serde_json::from_str::<State>(text) else { return };
    crate::fixtures::with_session(|session| {
        if session.restore_state(state).is_err() {
            return;
        }
        let mut out = Vec::new();
        let events = crate::fixtures::SAMPLE_EVENTS.join("\n");
        let _ = session.eval_jsonl("events.jsonl", 1, &events, &Routing::Auto, &mut out);
        let saved = serde_json::to_string(&session.save_state()).expect("a state serializes");
        let _: State = serde_json::from_str(&saved).expect("a saved state reads back");
        let _ = session.finish(&mut out);
    });
}
