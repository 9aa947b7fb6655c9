//! Differential: a generated valid rule ([`crate::gen::Case`]) and events; for every event, the
//! engine's verdict (from the parsed document and from the event's text) must equal the verdict
//! of `explain` over the rule's outline.

use crate::gen::Case;
use arbitrary::{Arbitrary, Unstructured};
use sigil_compiler::{compile_str, outline, Options};
use sigil_engine::explain::explain;
use sigil_engine::{layout, Engine, Json, Routing, Scratch};

/// The options generated rules compile with (`%ph%` is a placeholder for `|expand`).
pub fn options() -> Options {
    let placeholders = [("ph".to_string(), vec!["cmd*".to_string(), "admin".to_string()])].into_iter().collect();
    Options { placeholders, ..Options::default() }
}

pub fn run(data: &[u8]) {
    let Ok(case) = Case::arbitrary_take_rest(Unstructured::new(data)) else { return };
    check(&case);
}

/// The engine's verdict per event (did the rule fire), after checking it against `explain`.
/// `None` when the rule does not compile.
pub fn check(case: &Case) -> Option<Vec<bool>> {
    let options = options();
    let out = compile_str("generated.yml", &case.rule, &options);
    if out.plan.rules.len() != 1 {
        return None;
    }
    let outlines = outline::file("generated.yml", &case.rule, &options);
    assert_eq!(outlines.len(), 1, "the compiler accepted the rule but outline did not:\n{}", case.rule);
    let engine = Engine::new(out.plan).expect("a compiled plan loads");
    let mut scratch = Scratch::default();
    let mut verdicts = Vec::new();
    for text in &case.events {
        let doc = layout::flatten(Json::parse(text).expect("generated events are JSON"));
        let mut fired = Vec::new();
        engine.evaluate_with(&mut scratch, &doc, &Routing::All, &mut fired);
        let by_document = !fired.is_empty();
        engine.evaluate_text(&mut scratch, &doc, text, &Routing::All, &mut fired);
        let by_text = !fired.is_empty();
        let explained = match explain(&outlines[0].outline, &doc) {
            Ok(e) => e.matched,
            Err(e) => panic!("explain could not prepare a test the engine prepared ({}):\n{}", e.0, case.rule),
        };
        assert!(
            by_document == explained && by_text == explained,
            "verdicts differ on {text}: engine {by_document}, engine with the text {by_text}, explain {explained}\n{}",
            case.rule
        );
        verdicts.push(by_document);
    }
    Some(verdicts)
}
