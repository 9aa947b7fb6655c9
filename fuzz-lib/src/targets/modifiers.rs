//! Modifier chains and their values: the first line is a detection key (`field|mod|mod`), the
//! rest a YAML value (a scalar or a list). The key is parsed, the chain validated and applied to
//! the values, and every test it yields is prepared into the engine's matcher and tried on the
//! fixture events, as a field test and as a keyword search.

use sigil_compiler::modifiers::{entry, parse_key};
use sigil_compiler::{yaml, Placeholders, Pos};
use sigil_engine::event::lookup;
use sigil_engine::matcher::Matcher;
use sigil_engine::plan::Target;
use sigil_engine::Json;

pub fn run(data: &[u8]) {
    let Some(text) = crate::text(data) else { return };
    let (key_text, value_text) = text.split_once('\n').unwrap_or((text, "''"));
    let start = Pos { line: 1, col: 1 };
    let Ok(key) = parse_key(key_text, start) else { return };
    let Ok(docs) = yaml::parse_documents(value_text) else { return };
    let Some(value) = docs.first() else { return };
    let placeholders: Placeholders =
        [("ph".to_string(), vec!["a*b".to_string(), "c?d".to_string()])].into_iter().collect();
    let Ok(entry) = entry(&key, start, value, &placeholders) else { return };
    let events: Vec<Json<'_>> = crate::fixtures::SAMPLE_EVENTS.iter().filter_map(|e| Json::parse(e).ok()).collect();
    for test in entry.values.iter().flatten() {
        let Ok(matcher) = Matcher::prepare(test) else { continue };
        let _ = matcher.necessary_needles();
        for event in &events {
            match &entry.target {
                Target::Field(field) => {
                    let _ = matcher.test_field(event, &lookup(event, field));
                }
                _ => {
                    let _ = matcher.test_keywords(event);
                }
            }
        }
    }
}
