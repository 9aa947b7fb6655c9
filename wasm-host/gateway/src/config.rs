//! The plugin configuration: the JSON a proxy-wasm host hands the filter (Envoy's
//! `configuration` of the Wasm filter), checked key by key.
//!
//! ```json
//! {"mode": "block", "rules": "title: ...\n---\ntitle: ...", "categories": ["webserver", "proxy"]}
//! ```
//!
//! Exactly one of `rules` (Sigma YAML, any number of documents) and `pack_base64` (a pack from
//! `sigil compile`, base64) is required; `categories` defaults to `["webserver", "proxy"]`.

use serde::Deserialize;

/// What the filter does with a request that a rule matched. Every mode logs the match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Answer 403 (naming the rules) and do not forward the request.
    Block,
    /// Forward the request and add `x-sigil-rule: <title>` to the response, one per rule.
    Tag,
    /// Forward the request unchanged.
    Log,
}

/// Where the rules come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    /// Sigma YAML, several documents allowed.
    Yaml(String),
    /// A compiled pack (`sigil compile`).
    Pack(Vec<u8>),
}

/// A checked plugin configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub mode: Mode,
    pub rules: RuleSource,
    /// The Sigma `category` values each request is evaluated as (lowercase, non-empty).
    pub categories: Vec<String>,
}

/// The categories of SigmaHQ's HTTP rules: access logs of web servers, and proxy logs.
pub const DEFAULT_CATEGORIES: [&str; 2] = ["webserver", "proxy"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    mode: Mode,
    rules: Option<String>,
    pack_base64: Option<String>,
    categories: Option<Vec<String>>,
}

impl Config {
    /// Reads the plugin configuration. The error is a sentence for the proxy's log.
    pub fn parse(bytes: &[u8]) -> Result<Config, String> {
        let raw: Raw = serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "the plugin configuration is not valid ({e}); expected JSON like \
                 {{\"mode\": \"block\" | \"tag\" | \"log\", \"rules\": \"<Sigma YAML>\"}} \
                 (or \"pack_base64\" instead of \"rules\", and optionally \"categories\": [\"webserver\", \"proxy\"])"
            )
        })?;
        let rules = match (raw.rules, raw.pack_base64) {
            (Some(yaml), None) => RuleSource::Yaml(yaml),
            (None, Some(text)) => RuleSource::Pack(decode_base64(&text)?),
            (Some(_), Some(_)) => {
                return Err("the plugin configuration has both \"rules\" and \"pack_base64\": give one of them".into())
            }
            (None, None) => {
                return Err("the plugin configuration has no rules: add \"rules\" (Sigma YAML) or \"pack_base64\" \
                            (a pack from `sigil compile`, base64)"
                    .into())
            }
        };
        let categories = match raw.categories {
            None => DEFAULT_CATEGORIES.iter().map(|c| c.to_string()).collect(),
            Some(list) => {
                let mut out: Vec<String> = Vec::with_capacity(list.len());
                for c in list {
                    let c = c.trim().to_ascii_lowercase();
                    if c.is_empty() {
                        return Err("\"categories\" holds an empty name: list Sigma logsource categories such as \
                                    \"webserver\" and \"proxy\""
                            .into());
                    }
                    if !out.contains(&c) {
                        out.push(c);
                    }
                }
                if out.is_empty() {
                    return Err("\"categories\" is empty: list at least one Sigma logsource category (the default \
                                is [\"webserver\", \"proxy\"])"
                        .into());
                }
                out
            }
        };
        Ok(Config { mode: raw.mode, rules, categories })
    }
}

fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    // Line breaks and spaces are allowed (`base64` wraps its output at 76 columns).
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| format!("\"pack_base64\" is not base64 ({e}): encode the pack with `base64 -w0 PACK`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_shape() {
        let c = Config::parse(br#"{"mode": "tag", "rules": "title: x"}"#).unwrap();
        assert_eq!(c.mode, Mode::Tag);
        assert_eq!(c.rules, RuleSource::Yaml("title: x".into()));
        assert_eq!(c.categories, ["webserver", "proxy"]);
        let c = Config::parse(br#"{"mode": "log", "pack_base64": "U0lH\nSUw=", "categories": ["Proxy", "proxy"]}"#)
            .unwrap();
        assert_eq!(c.rules, RuleSource::Pack(b"SIGIL".to_vec()));
        assert_eq!(c.categories, ["proxy"]);
    }

    #[test]
    fn refuses_what_it_cannot_run() {
        for (text, needle) in [
            ("", "not valid"),
            ("[]", "not valid"),
            (r#"{"mode": "deny", "rules": ""}"#, "unknown variant"),
            (r#"{"rules": "x"}"#, "missing field `mode`"),
            (r#"{"mode": "block", "rules": "x", "rule": "y"}"#, "unknown field `rule`"),
            (r#"{"mode": "block"}"#, "no rules"),
            (r#"{"mode": "block", "rules": "x", "pack_base64": "eA=="}"#, "both"),
            (r#"{"mode": "block", "pack_base64": "*"}"#, "not base64"),
            (r#"{"mode": "block", "rules": "x", "categories": []}"#, "empty"),
            (r#"{"mode": "block", "rules": "x", "categories": [" "]}"#, "empty name"),
        ] {
            let e = Config::parse(text.as_bytes()).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
