//! `sigil edge` policy files: read by the compiler's `edge_policy` parser, checked against the
//! fixture rules, and run over the fixture events to the end of the stream.

use sigil_engine::edge::{Edge, EdgeOutput};
use sigil_engine::Routing;

pub fn run(data: &[u8]) {
    let Some(text) = crate::text(data) else { return };
    let Ok(policy) = sigil_compiler::edge_policy::parse("fuzz-policy.yml", text) else { return };
    let mut session = crate::fixtures::session();
    let Ok(mut edge) = Edge::new(policy, &mut session) else { return };
    let mut out = EdgeOutput::default();
    let events = crate::fixtures::SAMPLE_EVENTS.join("\n");
    edge.eval_jsonl(&mut session, "events.jsonl", 1, &events, &Routing::Auto, &mut out);
    edge.finish(&mut session, &mut out);
}
