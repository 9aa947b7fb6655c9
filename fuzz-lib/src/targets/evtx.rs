//! EVTX bytes → events, as `sigil hunt` reads a `.evtx` log (`cli/src/input.rs`, `read_evtx`:
//! the `evtx` crate's parser with one thread, each record as evtx_dump's JSON), then laid flat
//! and evaluated against the fixture pack.

use sigil_engine::{layout, Json, Routing, Scratch};

pub fn run(data: &[u8]) {
    let settings = evtx::ParserSettings::default().num_threads(1);
    let Ok(parser) = evtx::EvtxParser::from_buffer(data.to_vec()) else { return };
    let mut parser = parser.with_configuration(settings);
    let engine = crate::fixtures::engine();
    let mut scratch = Scratch::default();
    let mut detections = Vec::new();
    for record in parser.records_json_value() {
        let Ok(record) = record else { continue };
        let doc = layout::flatten(Json::from_value(&record.data));
        detections.clear();
        engine.evaluate_with(&mut scratch, &doc, &Routing::Auto, &mut detections);
    }
}
