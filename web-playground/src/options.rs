//! The page's `options_json`: routing, built-in pipelines, the rule file's name, and which record
//! of a `{"Records": [...]}` event to explain. Every field is optional; an unknown value is an
//! error that names it and what is accepted. This module only reads options; it compiles nothing.

use serde::Deserialize;
use sigil_compiler::Pipeline;
use sigil_engine::Routing;

/// The name `sigil hunt` gives the events in alerts (`source.file`) when run in the directory
/// that holds them: `sigil hunt --rules rule.yml events.jsonl`.
pub const EVENTS_FILE: &str = "events.jsonl";

/// The rule file's name in diagnostics when the page gives none.
pub const DEFAULT_RULE_FILE: &str = "rule.yml";

/// `sigil hunt`'s default `--max-groups`.
pub const MAX_GROUPS: usize = 100_000;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Raw {
    routing: Option<String>,
    pipelines: Vec<String>,
    file: Option<String>,
    record: Option<u64>,
}

/// Options, read and checked.
#[derive(Debug)]
pub struct Options {
    pub routing: Routing,
    pub pipelines: Vec<Pipeline>,
    pub file: String,
    /// 1-based record of a `Records` event to explain (default: the first).
    pub record: u64,
}

/// Reads `options_json` (empty text means every default).
pub fn parse(options_json: &str) -> Result<Options, String> {
    let raw: Raw = if options_json.trim().is_empty() {
        Raw::default()
    } else {
        serde_json::from_str(options_json).map_err(|e| format!("options: not the expected JSON object ({e})"))?
    };
    let routing = match raw.routing.as_deref() {
        None => Routing::Auto,
        Some(text) => text.parse().map_err(|e| format!("options.routing: {e}"))?,
    };
    let pipelines = raw
        .pipelines
        .iter()
        .map(|name| {
            sigil_compiler::builtin_pipeline(name).ok_or_else(|| {
                let known: Vec<&str> = sigil_compiler::pipeline::BUILTIN.iter().map(|(n, _)| *n).collect();
                format!("options.pipelines: unknown pipeline '{name}' (built-in: {})", known.join(", "))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let file = raw.file.filter(|f| !f.trim().is_empty()).unwrap_or_else(|| DEFAULT_RULE_FILE.to_string());
    Ok(Options { routing, pipelines, file, record: raw.record.unwrap_or(1).max(1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let o = parse("").unwrap();
        assert_eq!((o.routing, o.file.as_str(), o.record), (Routing::Auto, "rule.yml", 1));
        let o = parse(r#"{"routing":"all","pipelines":["ecs"],"file":"x.yml"}"#).unwrap();
        assert_eq!((o.routing, o.pipelines.len(), o.file.as_str()), (Routing::All, 1, "x.yml"));
        assert!(parse(r#"{"pipelines":["nope"]}"#).unwrap_err().contains("built-in: "));
        assert!(parse(r#"{"routing":"weird"}"#).unwrap_err().starts_with("options.routing"));
        assert!(parse("[1]").unwrap_err().starts_with("options:"));
    }
}
