//! Event JSON Lines → the engine, as `sigil hunt` reads them: each line's events (a
//! `{"Records": [...]}` line is many), laid flat, evaluated against the fixture pack (embedded
//! rules and, when present, SigmaHQ's cloud and process-creation rules) with recognised and with
//! universal routing, with and without the line's text; then the same lines through a session
//! (correlations, suppression) over the embedded pack, and through one `JsonLines`, which must
//! give each line's document (or error, with its position) exactly as the line parsed alone.

use sigil_engine::json_lines::JsonLines;
use sigil_engine::session::events_in_line;
use sigil_engine::{Json, Routing, Scratch};

pub fn run(data: &[u8]) {
    let Some(text) = crate::text(data) else { return };
    let engine = crate::fixtures::engine();
    let mut scratch = Scratch::default();
    let mut detections = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        events_in_line(line, &mut |_, event| {
            let Ok((doc, whole)) = event else { return };
            for routing in [Routing::Auto, Routing::All] {
                // Both calls append to `detections`.
                detections.clear();
                engine.evaluate_with(&mut scratch, &doc, &routing, &mut detections);
                let by_document = detections.len();
                if whole {
                    detections.clear();
                    engine.evaluate_text(&mut scratch, &doc, line, &routing, &mut detections);
                    assert_eq!(
                        by_document,
                        detections.len(),
                        "the engine's verdicts differ with the event's text given: {line}"
                    );
                }
            }
        });
    }
    let mut lines = JsonLines::new(text);
    let mut start = 0;
    for line in text.split('\n') {
        let end = start + line.len();
        if !line.trim().is_empty() {
            let position = |e: serde_json::Error| (e.to_string(), e.line(), e.column());
            let ours = lines.parse(start, end).map_err(position);
            let alone = Json::parse(line.trim()).map_err(position);
            assert_eq!(ours, alone, "one deserializer over the lines parses this line otherwise: {line:?}");
        }
        start = end + 1;
    }
    crate::fixtures::with_session(|session| {
        let mut out = Vec::new();
        let _ = session.eval_jsonl("events.jsonl", 1, text, &Routing::Auto, &mut out);
        let _ = session.finish(&mut out);
    });
}
