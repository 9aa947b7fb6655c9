//! Structure-aware inputs for the differential targets: a VALID Sigma rule (selections of
//! field/modifier/value items, a condition over them) and a few events over the same fields and
//! values, drawn with `arbitrary` from the fuzzer's bytes, so that most runs compile and many
//! events match. The vocabulary is small on purpose: collisions between rule values and event
//! values are what exercise the matchers.

use arbitrary::{Arbitrary, Result, Unstructured};
use serde_json::{Map, Value};

const FIELDS: &[&str] = &["CommandLine", "Image", "User", "EventID", "Path.sub", "Count", "Tags"];

const STRINGS: &[&str] = &[
    "cmd.exe",
    "C:\\Windows\\System32\\cmd.exe",
    "whoami /all",
    "ADMIN",
    "admin",
    "10.0.0.1",
    "10.0.0.0/8",
    "192.168.1.0/24",
    "4688",
    "*cmd*",
    "?md.exe",
    "a*b",
    "\\*",
    "-enc",
    "/enc",
    "",
    " ",
    "Ä",
    "straße",
    "1.5",
    "2024-01-01T10:00:00Z",
    "%ph%",
    "Image",
];

const LITERALS: &[&str] = &["cmd.exe", "whoami /all", "ADMIN", "-enc", "/enc", "Ä", "4688", "IEX", "a b"];

const CIDRS: &[&str] = &["10.0.0.0/8", "192.168.1.0/24", "10.0.0.1/32", "::1/128", "0.0.0.0/0"];

const REGEXES: &[&str] = &[".*cmd.*", "^C:", "admin$", "a+b", "(?i)who", "[0-9]{2,}", "^$", "x|y"];

/// Modifier chains that Sigma allows together (a few invalid ones are drawn too, below).
const CHAINS: &[&[&str]] = &[
    &[],
    &["contains"],
    &["startswith"],
    &["endswith"],
    &["contains", "all"],
    &["cased"],
    &["contains", "cased"],
    &["windash"],
    &["contains", "windash"],
    &["base64"],
    &["base64offset", "contains"],
    &["wide", "base64offset", "contains"],
    &["utf16le", "base64"],
    &["neq"],
    &["exists"],
    &["re"],
    &["re", "i"],
    &["re", "s", "m"],
    &["cidr"],
    &["gt"],
    &["gte"],
    &["lt"],
    &["lte"],
    &["fieldref"],
    &["fieldref", "contains"],
    &["expand"],
    &["all"],
];

const ALL_MODIFIERS: &[&str] = &[
    "contains",
    "startswith",
    "endswith",
    "all",
    "exists",
    "cased",
    "neq",
    "windash",
    "re",
    "i",
    "m",
    "s",
    "base64",
    "base64offset",
    "wide",
    "utf16le",
    "utf16be",
    "utf16",
    "cidr",
    "gt",
    "gte",
    "lt",
    "lte",
    "hour",
    "fieldref",
    "expand",
];

/// A generated rule and events.
#[derive(Debug)]
pub struct Case {
    pub rule: String,
    pub events: Vec<String>,
}

impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let selections = u.int_in_range(1..=4)?;
        let names: Vec<String> = (0..selections)
            .map(|i| -> Result<String> { Ok(format!("{}{i}", u.choose(&["selection_", "filter_", "sel"])?)) })
            .collect::<Result<_>>()?;
        let mut detection = String::new();
        for name in &names {
            detection.push_str(&format!("  {name}:\n"));
            match u.int_in_range(0..=5)? {
                0 => {
                    // Keywords: a list of values searched in every string.
                    for _ in 0..u.int_in_range(1..=3)? {
                        detection.push_str(&format!("    - {}\n", yaml_string(u.choose(STRINGS)?)));
                    }
                }
                1 => {
                    // Alternatives: a list of maps, ORed.
                    for _ in 0..u.int_in_range(1..=2)? {
                        let items = items(u)?;
                        for (i, item) in items.iter().enumerate() {
                            let lead = if i == 0 { "    - " } else { "      " };
                            detection.push_str(&format!("{lead}{}\n", item.replace('\n', "\n      ")));
                        }
                    }
                }
                _ => {
                    for item in items(u)? {
                        detection.push_str(&format!("    {}\n", item.replace('\n', "\n    ")));
                    }
                }
            }
        }
        let prefixes: Vec<&str> =
            ["selection_", "filter_", "sel"].into_iter().filter(|p| names.iter().any(|n| n.starts_with(p))).collect();
        let condition = condition(u, &names, &prefixes, 3)?;
        let rule = format!(
            "title: Generated\nid: 5b7c3f0e-1111-4222-8333-944455556666\nlogsource:\n  product: windows\ndetection:\n{detection}  condition: {}\n",
            yaml_string(&condition)
        );
        let events = (0..u.int_in_range(1..=3)?).map(|_| event(u).map(|e| e.to_string())).collect::<Result<_>>()?;
        Ok(Case { rule, events })
    }
}

/// One to three `field|modifiers: value(s)` items, as YAML lines.
fn items(u: &mut Unstructured<'_>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut used = Vec::new();
    for _ in 0..u.int_in_range(1..=3)? {
        let field = *u.choose(FIELDS)?;
        let chain: Vec<&str> = if u.ratio(1, 8)? {
            (0..u.int_in_range(1..=3)?).map(|_| u.choose(ALL_MODIFIERS).copied()).collect::<Result<_>>()?
        } else {
            u.choose(CHAINS)?.to_vec()
        };
        let key = std::iter::once(field).chain(chain.iter().copied()).collect::<Vec<_>>().join("|");
        if used.contains(&key) {
            continue;
        }
        used.push(key.clone());
        let has = |m: &str| chain.contains(&m);
        let encoded = ["base64", "base64offset", "wide", "utf16le", "utf16be", "utf16"].iter().any(|m| has(m));
        let transformed = encoded || ["contains", "startswith", "endswith", "windash"].iter().any(|m| has(m));
        let value = |u: &mut Unstructured<'_>| -> Result<String> {
            Ok(match () {
                _ if has("exists") => u.choose(&["true", "false"])?.to_string(),
                _ if has("re") => yaml_string(u.choose(REGEXES)?),
                _ if has("fieldref") => yaml_string(u.choose(FIELDS)?),
                _ if has("cidr") => yaml_string(u.choose(CIDRS)?),
                _ if has("expand") => yaml_string("%ph%"),
                _ if ["gt", "gte", "lt", "lte"].iter().any(|m| has(m)) => u.int_in_range(-2..=5000)?.to_string(),
                // Encodings take literal text: wildcards cannot be encoded.
                _ if encoded => yaml_string(u.choose(LITERALS)?),
                _ if transformed => yaml_string(u.choose(STRINGS)?),
                _ => match u.int_in_range(0..=6)? {
                    0 => u.int_in_range(0..=4700)?.to_string(),
                    1 => "null".to_string(),
                    2 => u.choose(&["true", "false"])?.to_string(),
                    _ => yaml_string(u.choose(STRINGS)?),
                },
            })
        };
        if u.ratio(1, 3)? {
            let values: Vec<String> = (0..u.int_in_range(1..=3)?).map(|_| value(u)).collect::<Result<_>>()?;
            out.push(format!("{}:\n  - {}", yaml_string(&key), values.join("\n  - ")));
        } else {
            out.push(format!("{}: {}", yaml_string(&key), value(u)?));
        }
    }
    Ok(out)
}

/// A condition over the selection names, at most `depth` operators deep.
fn condition(u: &mut Unstructured<'_>, names: &[String], prefixes: &[&str], depth: u32) -> Result<String> {
    if depth == 0 || u.ratio(1, 3)? {
        return Ok(match u.int_in_range(0..=7)? {
            0 => "1 of them".to_string(),
            1 => "all of them".to_string(),
            2 => format!("1 of {}*", u.choose(prefixes)?),
            3 => format!("all of {}*", u.choose(prefixes)?),
            _ => u.choose(names)?.clone(),
        });
    }
    Ok(match u.int_in_range(0..=3)? {
        0 => format!("{} and {}", condition(u, names, prefixes, depth - 1)?, condition(u, names, prefixes, depth - 1)?),
        1 => format!("{} or {}", condition(u, names, prefixes, depth - 1)?, condition(u, names, prefixes, depth - 1)?),
        2 => format!("not {}", condition(u, names, prefixes, depth - 1)?),
        _ => format!("({})", condition(u, names, prefixes, depth - 1)?),
    })
}

/// An event over the rule fields, with values drawn from the same vocabulary (and a few more).
fn event(u: &mut Unstructured<'_>) -> Result<Value> {
    let mut map = Map::new();
    for _ in 0..u.int_in_range(0..=5)? {
        let field = *u.choose(FIELDS)?;
        let value = match u.int_in_range(0..=9)? {
            0 => Value::from(u.int_in_range(0..=4700)?),
            1 => Value::Null,
            2 => Value::Bool(u.arbitrary()?),
            3 => Value::Array(vec![Value::from(*u.choose(STRINGS)?), Value::from(*u.choose(STRINGS)?)]),
            4 => Value::from(format!("{}{}", u.choose(STRINGS)?, u.choose(STRINGS)?)),
            5 => Value::from(String::arbitrary(u)?),
            6 => Value::from(u.choose(&[1.5f64, -0.0, 1e21, 4688.0])?.to_owned()),
            _ => Value::from(*u.choose(STRINGS)?),
        };
        match field.split_once('.') {
            Some((outer, inner)) if u.arbitrary()? => {
                let mut nested = Map::new();
                nested.insert(inner.to_string(), value);
                map.insert(outer.to_string(), Value::Object(nested));
            }
            _ => {
                map.insert(field.to_string(), value);
            }
        }
    }
    Ok(Value::Object(map))
}

/// A YAML double-quoted scalar (JSON's string syntax is a subset of it).
fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random bytes (an LCG), so the test is the same on every run.
    fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (x >> 33) as u8
            })
            .collect()
    }

    #[test]
    fn most_generated_rules_compile_and_some_events_match() {
        let (mut compiled, mut matched, runs) = (0usize, 0usize, 300usize);
        for seed in 0..runs {
            let data = bytes(seed as u64, 512);
            let case = Case::arbitrary_take_rest(Unstructured::new(&data)).expect("512 bytes make a case");
            if let Some(verdicts) = crate::targets::verdicts::check(&case) {
                compiled += 1;
                matched += verdicts.iter().filter(|&&v| v).count();
            }
        }
        assert!(compiled * 2 > runs, "only {compiled} of {runs} generated rules compiled");
        assert!(matched * 10 > runs, "only {matched} events matched over {runs} generated cases");
    }
}
