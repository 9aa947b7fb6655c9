//! Rule YAML → plan: the whole compiler (YAML, templates, shape checks, conditions, modifiers,
//! lowering, correlations, filters, the graph). Whatever it accepts must be a plan that passes
//! `Plan::check`, survives the pack round trip, and loads into an engine that evaluates an event.

use sigil_compiler::{compile_str, Options};
use sigil_engine::{pack, Engine, Json, Routing};

pub fn run(data: &[u8]) {
    let Some(text) = crate::text(data) else { return };
    let out = compile_str("fuzz.yml", text, &Options::default());
    let plan = out.plan;
    if let Err(e) = plan.check() {
        panic!("the compiler made a plan that Plan::check refuses: {e}");
    }
    let bytes = pack::to_bytes(&plan);
    let back = pack::from_bytes(&bytes).expect("a compiled plan reads back from its pack");
    let engine = Engine::new(back).expect("a compiled plan loads into an engine");
    for event in crate::fixtures::SAMPLE_EVENTS {
        let doc = Json::parse(event).expect("the sample events are JSON");
        let _ = engine.evaluate(&doc, &Routing::All);
    }
}
