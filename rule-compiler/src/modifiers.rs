//! Detection keys and value modifiers: `field|mod|mod: value(s)` → tests on one field.
//!
//! The key is parsed with nom; the modifier chain is validated (which modifier may follow
//! which, what type of value each takes) and then applied to each value, in order, as the
//! specification says. The result is an [`Entry`]: per value, the OR of its variants (windash,
//! base64offset and placeholders give several), combined with OR (or AND under `all`), and
//! negated under `neq`. This module never builds the rule's boolean tree ([`crate::lower`]).

use crate::diagnostics::{Error, Pos, Result};
use crate::value::{self, Piece, Utf16 as Encoding};
use crate::yaml::{Kind, Node};
use nom::bytes::complete::{take_till, take_while1};
use nom::character::complete::char;
use nom::multi::many0;
use nom::sequence::preceded;
use nom::{IResult, Parser};
use sigil_engine::matcher;
use sigil_engine::plan::{CmpOp, RefMode, RegexSpec, StrPattern, Target, Test, TimePart, Token};
use std::collections::HashMap;

/// Values for `%name%` placeholders of `|expand`.
pub type Placeholders = HashMap<String, Vec<String>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Exists,
    Cased,
    Neq,
    Windash,
    Re,
    IgnoreCase,
    Multiline,
    DotAll,
    Base64,
    Base64Offset,
    Wide,
    Utf16Be,
    Utf16,
    Cidr,
    Cmp(CmpOp),
    Time(TimePart),
    FieldRef,
    Expand,
}

impl Modifier {
    fn from_name(name: &str) -> Option<Modifier> {
        use Modifier::*;
        Some(match name {
            "contains" => Contains,
            "startswith" => StartsWith,
            "endswith" => EndsWith,
            "all" => All,
            "exists" => Exists,
            "cased" => Cased,
            "neq" => Neq,
            "windash" => Windash,
            "re" => Re,
            "i" | "ignorecase" => IgnoreCase,
            "m" | "multiline" => Multiline,
            "s" | "dotall" => DotAll,
            "base64" => Base64,
            "base64offset" => Base64Offset,
            "wide" | "utf16le" => Wide,
            "utf16be" => Utf16Be,
            "utf16" => Utf16,
            "cidr" => Cidr,
            "gt" => Cmp(CmpOp::Gt),
            "gte" => Cmp(CmpOp::Gte),
            "lt" => Cmp(CmpOp::Lt),
            "lte" => Cmp(CmpOp::Lte),
            "minute" => Time(TimePart::Minute),
            "hour" => Time(TimePart::Hour),
            "day" => Time(TimePart::Day),
            "week" => Time(TimePart::Week),
            "month" => Time(TimePart::Month),
            "year" => Time(TimePart::Year),
            "fieldref" => FieldRef,
            "expand" => Expand,
            _ => return None,
        })
    }
}

/// The separator of the fields of one detection item a pipeline mapped to several fields.
pub use sigil_engine::plan::ANY_OF;

/// A parsed detection key.
#[derive(Debug, Clone)]
pub struct Key {
    /// Empty for field-less (keyword) entries such as `'|all'`.
    pub field: String,
    pub modifiers: Vec<(Modifier, String, Pos)>,
}

fn key_parts(input: &str) -> IResult<&str, (&str, Vec<&str>)> {
    (take_till(|c| c == '|'), many0(preceded(char('|'), take_while1(|c: char| c != '|')))).parse(input)
}

/// Parses `field|mod|mod`. `pos` is where the key starts.
pub fn parse_key(text: &str, pos: Pos) -> Result<Key> {
    let (rest, (field, names)) =
        key_parts(text).map_err(|_| Error::new(pos, format!("cannot read the key '{text}'")))?;
    if !rest.is_empty() {
        let at = text.len() - rest.len();
        return Err(Error::new(
            pos.shifted(at),
            format!("empty modifier in '{text}' (two '|' in a row or a trailing '|')"),
        ));
    }
    let mut modifiers = Vec::new();
    let mut offset = field.chars().count() + 1;
    for name in names {
        let here = pos.shifted(offset);
        let m = Modifier::from_name(name).ok_or_else(|| {
            Error::new(
                here,
                format!("unknown modifier '{name}' in '{text}' (Sigma v2.1 modifiers: contains, startswith, endswith, all, exists, cased, neq, windash, re, i, m, s, base64, base64offset, wide, utf16le, utf16be, utf16, cidr, gt, gte, lt, lte, minute, hour, day, week, month, year, fieldref, expand)"),
            )
        })?;
        modifiers.push((m, name.to_string(), here));
        offset += name.chars().count() + 1;
    }
    Ok(Key { field: field.trim().to_string(), modifiers })
}

/// The tests one detection entry stands for.
#[derive(Debug, Clone)]
pub struct Entry {
    pub target: Target,
    /// Per value: its variants, ORed.
    pub values: Vec<Vec<Test>>,
    /// `|all`: values ANDed instead of ORed.
    pub all: bool,
    /// `|neq`: the whole entry negated.
    pub negate: bool,
}

/// The family a modifier chain belongs to, decided by its first modifier.
enum Family {
    Exists,
    Regex { ignore_case: bool, multi_line: bool, dot_all: bool },
    Cidr,
    FieldRef { mode: RefMode, cased: bool },
    Time { part: TimePart, op: CmpOp },
    Compare(CmpOp),
    Strings,
}

/// Compiles one `key: value` entry of a search identifier.
pub fn entry(key: &Key, key_pos: Pos, value: &Node, placeholders: &Placeholders) -> Result<Entry> {
    let mods: Vec<Modifier> = key.modifiers.iter().map(|m| m.0).collect();
    let name = |i: usize| key.modifiers[i].1.as_str();
    let has = |m: Modifier| mods.contains(&m);
    let target = if key.field.is_empty() { Target::Keywords } else { Target::Field(key.field.clone()) };
    let all = has(Modifier::All);
    let negate = has(Modifier::Neq);

    let family = family(key, &mods, key_pos)?;
    if matches!(target, Target::Keywords) && !matches!(family, Family::Regex { .. } | Family::Strings) {
        return Err(Error::new(key_pos, format!("the modifier '{}' needs a field name before it", name(0))));
    }
    // Expand must be resolved before the other string modifiers see the value.
    let expand = has(Modifier::Expand);

    let items: Vec<&Node> = match &value.kind {
        Kind::Seq(items) => items.iter().collect(),
        _ => vec![value],
    };
    if let Kind::Seq(items) = &value.kind {
        if items.is_empty() {
            if matches!(family, Family::Strings) && matches!(target, Target::Field(_)) {
                return Ok(Entry { target, values: vec![vec![Test::Null]], all: false, negate });
            }
            return Err(Error::new(value.pos, "an empty list of values"));
        }
    }
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        if let Kind::Seq(_) | Kind::Map(_) = item.kind {
            return Err(Error::new(
                item.pos,
                format!(
                    "a value must be a string, number, boolean or null, found {} (nested values are not Sigma)",
                    item.type_name()
                ),
            ));
        }
        let tests = match &family {
            Family::Exists => match item.kind {
                Kind::Bool(b) => vec![Test::Exists(b)],
                _ => {
                    return Err(Error::new(
                        item.pos,
                        format!("'exists' takes true or false, found {}", item.type_name()),
                    ))
                }
            },
            Family::Regex { ignore_case, multi_line, dot_all } => {
                let pattern = string_value(item, "re")?;
                // The engine's own builder and bounds, with the rule's flags: a regex accepted here
                // is one the engine can run.
                let built = matcher::build_regex(&pattern, *ignore_case, *multi_line, *dot_all);
                if let Err(reason) = built {
                    return Err(Error::new(item.pos, reason));
                }
                vec![Test::Regex(RegexSpec {
                    pattern,
                    ignore_case: *ignore_case,
                    multi_line: *multi_line,
                    dot_all: *dot_all,
                })]
            }
            Family::Cidr => {
                let text = string_value(item, "cidr")?;
                let net: ipnet::IpNet = text.trim().parse().map_err(|_| {
                    Error::new(
                        item.pos,
                        format!("'{text}' is not a network in CIDR notation (like 10.0.0.0/8 or 2001:db8::/32)"),
                    )
                })?;
                if net.trunc() != net {
                    return Err(Error::new(
                        item.pos,
                        format!("'{text}' has host bits set: write the network address ({})", net.trunc()),
                    ));
                }
                vec![Test::Cidr(net)]
            }
            Family::FieldRef { mode, cased } => {
                let other = string_value(item, "fieldref")?;
                vec![Test::FieldRef { other, mode: *mode, cased: *cased }]
            }
            Family::Time { part, op } => match item.kind {
                Kind::Int(v) => vec![Test::TimePart { part: *part, op: *op, value: v }],
                _ => {
                    return Err(Error::new(
                        item.pos,
                        format!("the time modifier '{}' takes a whole number, found {}", name(0), item.type_name()),
                    ))
                }
            },
            Family::Compare(op) => match item.kind {
                Kind::Int(v) => vec![Test::Num { op: *op, value: v as f64 }],
                Kind::Float(v) => vec![Test::Num { op: *op, value: v }],
                _ => {
                    return Err(Error::new(
                        item.pos,
                        format!(
                            "numeric comparison needs a number, found {} (write it without quotes)",
                            item.type_name()
                        ),
                    ))
                }
            },
            Family::Strings => string_tests(key, &mods, item, &target, expand, placeholders)?,
        };
        values.push(tests);
    }
    Ok(Entry { target, values, all, negate })
}

fn string_value(item: &Node, modifier: &str) -> Result<String> {
    match &item.kind {
        Kind::Str(s) => Ok(s.clone()),
        _ => Err(Error::new(item.pos, format!("'{modifier}' takes a string, found {}", item.type_name()))),
    }
}

fn family(key: &Key, mods: &[Modifier], key_pos: Pos) -> Result<Family> {
    use Modifier::*;
    let at = |i: usize| key.modifiers.get(i).map(|m| m.2).unwrap_or(key_pos);
    let name = |i: usize| key.modifiers[i].1.as_str();
    let reject_others = |allowed: &[Modifier], what: &str| -> Result<()> {
        for (i, m) in mods.iter().enumerate().skip(1) {
            if !allowed.contains(m) {
                return Err(Error::new(at(i), format!("the modifier '{}' cannot be combined with {what}", name(i))));
            }
        }
        Ok(())
    };
    // Modifiers that must come first, anywhere else, are an ordering error.
    for (i, m) in mods.iter().enumerate().skip(1) {
        let must_be_first = match m {
            Re => Some("'re' must be the first modifier (it applies to the unmodified value)"),
            Cidr => Some("'cidr' must be the first modifier"),
            Exists => Some("'exists' must be the only modifier"),
            FieldRef => Some("'fieldref' must be the first modifier"),
            Time(_) => Some("time modifiers (minute, hour, day, week, month, year) must come first"),
            _ => None,
        };
        if let Some(msg) = must_be_first {
            return Err(Error::new(at(i), msg));
        }
    }
    for (i, m) in mods.iter().enumerate() {
        if matches!(m, IgnoreCase | Multiline | DotAll) && mods.first() != Some(&Re) {
            return Err(Error::new(at(i), format!("the regex flag '{}' is only allowed after 're'", name(i))));
        }
    }
    Ok(match mods.first() {
        Some(Exists) => {
            reject_others(&[], "'exists'")?;
            Family::Exists
        }
        Some(Re) => {
            reject_others(&[IgnoreCase, Multiline, DotAll, Contains, StartsWith, EndsWith, All, Neq], "'re'")?;
            Family::Regex {
                ignore_case: mods.contains(&IgnoreCase),
                multi_line: mods.contains(&Multiline),
                dot_all: mods.contains(&DotAll),
            }
        }
        Some(Cidr) => {
            reject_others(&[All, Neq], "'cidr'")?;
            Family::Cidr
        }
        Some(FieldRef) => {
            reject_others(&[Contains, StartsWith, EndsWith, Cased, Neq, All], "'fieldref'")?;
            let mode = match mods.iter().rev().find(|m| matches!(m, Contains | StartsWith | EndsWith)) {
                Some(Contains) => RefMode::Contains,
                Some(StartsWith) => RefMode::StartsWith,
                Some(EndsWith) => RefMode::EndsWith,
                _ => RefMode::Equal,
            };
            Family::FieldRef { mode, cased: mods.contains(&Cased) }
        }
        Some(Time(part)) => {
            reject_others(
                &[Cmp(CmpOp::Gt), Cmp(CmpOp::Gte), Cmp(CmpOp::Lt), Cmp(CmpOp::Lte), Neq, All],
                "a time modifier",
            )?;
            let op = mods.iter().find_map(|m| if let Cmp(op) = m { Some(*op) } else { None }).unwrap_or(CmpOp::Eq);
            Family::Time { part: *part, op }
        }
        _ => {
            if let Some(i) = mods.iter().position(|m| matches!(m, Cmp(_))) {
                for (j, m) in mods.iter().enumerate() {
                    if !matches!(m, Cmp(_) | Neq | All) {
                        return Err(Error::new(
                            at(j),
                            format!("the modifier '{}' cannot be combined with '{}'", name(j), name(i)),
                        ));
                    }
                }
                if mods.iter().filter(|m| matches!(m, Cmp(_))).count() > 1 {
                    return Err(Error::new(
                        at(i),
                        "only one of gt, gte, lt, lte per field entry (write a second entry for a range)",
                    ));
                }
                let Cmp(op) = mods[i] else { unreachable!() };
                Family::Compare(op)
            } else {
                Family::Strings
            }
        }
    })
}

/// Upper bound on the variants one value may expand to (placeholders).
const VARIANT_LIMIT: usize = 4096;

/// Upper bound on the variants `windash` may make of one value: three dashes (5^3), the most any
/// SigmaHQ rule has. Each variant is a test of its own, and one with wildcards is a regex: four
/// dashes and a `*` made 625 regexes of one short value, seconds of work for one event.
const WINDASH_LIMIT: usize = 125;

/// Where a value is in the string pipeline.
enum Stage {
    Text(Vec<Vec<Token>>),
    Bytes(Vec<Vec<u8>>),
}

/// The string family: plain values, contains/startswith/endswith, windash, encodings, expand.
fn string_tests(
    key: &Key,
    mods: &[Modifier],
    item: &Node,
    target: &Target,
    expand: bool,
    placeholders: &Placeholders,
) -> Result<Vec<Test>> {
    use Modifier::*;
    let keyword = matches!(target, Target::Keywords);
    let transforming = mods.iter().any(|m| !matches!(m, All | Neq | Cased | Expand));
    let text = match &item.kind {
        Kind::Str(s) => s.clone(),
        Kind::Int(_) | Kind::Float(_) if keyword => item.scalar_text().unwrap_or_default(),
        Kind::Bool(_) if keyword => item.scalar_text().unwrap_or_default(),
        Kind::Null if keyword => return Err(Error::new(item.pos, "a keyword cannot be null")),
        _ if transforming => {
            let m = key.modifiers.iter().find(|m| !matches!(m.0, All | Neq | Cased | Expand)).unwrap();
            return Err(Error::new(
                item.pos,
                format!("the modifier '{}' applies to strings, found {}", m.1, item.type_name()),
            ));
        }
        Kind::Int(v) => return Ok(vec![Test::Num { op: CmpOp::Eq, value: *v as f64 }]),
        Kind::Float(v) => return Ok(vec![Test::Num { op: CmpOp::Eq, value: *v }]),
        Kind::Bool(b) => return Ok(vec![Test::Bool(*b)]),
        Kind::Null => return Ok(vec![Test::Null]),
        Kind::Seq(_) | Kind::Map(_) => unreachable!("checked by the caller"),
    };
    let mut cased = mods.contains(&Cased);
    let mut stage = Stage::Text(resolve_placeholders(&text, expand, placeholders, item.pos)?);
    for (m, name, pos) in &key.modifiers {
        stage = match (*m, stage) {
            (Contains | StartsWith | EndsWith, Stage::Text(vs)) => {
                let (lead, trail) = match m {
                    Contains => (true, true),
                    StartsWith => (false, true),
                    _ => (true, false),
                };
                Stage::Text(vs.into_iter().map(|t| value::wrap(t, lead, trail)).collect())
            }
            (Windash, Stage::Text(vs)) => {
                let mut out = Vec::new();
                for v in vs {
                    let expanded = value::windash(&v, WINDASH_LIMIT).ok_or_else(|| {
                        Error::new(
                            *pos,
                            format!("windash would make more than {WINDASH_LIMIT} variants of this value (at most three dashes that start a word): split the value, or use '|re' with a class such as [-/]"),
                        )
                    })?;
                    out.extend(expanded);
                }
                Stage::Text(out)
            }
            (Wide | Utf16Be | Utf16, Stage::Text(vs)) => {
                let kind = match m {
                    Wide => Encoding::Le,
                    Utf16Be => Encoding::Be,
                    _ => Encoding::LeBom,
                };
                let mut out = Vec::new();
                for v in vs {
                    if value::has_wildcards(&v) {
                        return Err(Error::new(*pos, format!("'{name}' cannot encode wildcards: escape them or apply contains/startswith/endswith after the encoding")));
                    }
                    out.push(value::utf16(&value::literal_text(&v), kind));
                }
                Stage::Bytes(out)
            }
            (Base64 | Base64Offset, stage) => {
                let inputs: Vec<Vec<u8>> = match stage {
                    Stage::Bytes(b) => b,
                    Stage::Text(vs) => {
                        let mut out = Vec::new();
                        for v in vs {
                            if value::has_wildcards(&v) {
                                return Err(Error::new(*pos, format!("'{name}' cannot encode wildcards: put contains/startswith/endswith after '{name}', not before it")));
                            }
                            out.push(value::literal_text(&v).into_bytes());
                        }
                        out
                    }
                };
                // Base64 output is case-significant.
                cased = true;
                let encoded: Vec<String> = if *m == Base64 {
                    inputs.iter().map(|b| value::base64(b)).collect()
                } else {
                    inputs.iter().flat_map(|b| value::base64_offsets(b)).collect()
                };
                Stage::Text(encoded.into_iter().map(|s| vec![Token::Lit(s)]).collect())
            }
            (Contains | StartsWith | EndsWith | Windash | Wide | Utf16Be | Utf16, Stage::Bytes(_)) => {
                return Err(Error::new(
                    *pos,
                    format!(
                        "'{name}' cannot follow a UTF-16 encoding: follow the encoding with base64 or base64offset"
                    ),
                ));
            }
            (_, stage) => stage,
        };
    }
    let variants = match stage {
        Stage::Text(vs) => vs,
        Stage::Bytes(bs) => bs
            .into_iter()
            .map(|b| {
                String::from_utf8(b).map(|s| vec![Token::Lit(s)]).map_err(|_| {
                    Error::new(item.pos, "a UTF-16 encoded value must be followed by base64 or base64offset")
                })
            })
            .collect::<Result<_>>()?,
    };
    variants
        .into_iter()
        .map(|t| {
            // A keyword is a substring of some value of the event.
            let t = if keyword { value::wrap(t, true, true) } else { t };
            let pattern = StrPattern { tokens: value::normalize(t), cased };
            // A wildcard value becomes a regex in the engine: one over its bounds is refused here.
            matcher::check_pattern(&pattern).map_err(|reason| Error::new(item.pos, reason))?;
            Ok(Test::Str(pattern))
        })
        .collect()
}

/// The value's token variants, with `%placeholders%` replaced by their values under `expand`.
fn resolve_placeholders(text: &str, expand: bool, placeholders: &Placeholders, pos: Pos) -> Result<Vec<Vec<Token>>> {
    let pieces = value::parse_sigma_string(text, expand);
    let mut variants: Vec<Vec<Token>> = vec![Vec::new()];
    for piece in pieces {
        match piece {
            Piece::Tok(t) => variants.iter_mut().for_each(|v| v.push(t.clone())),
            Piece::Placeholder(name) => {
                let values = placeholders.get(&name).filter(|v| !v.is_empty()).ok_or_else(|| {
                    Error::new(
                        pos,
                        format!("the placeholder '%{name}%' has no value: supply it with --placeholder {name}=VALUE[,VALUE...] or a placeholder file"),
                    )
                })?;
                if variants.len() * values.len() > VARIANT_LIMIT {
                    return Err(Error::new(pos, "placeholders expand this value to too many variants"));
                }
                variants = variants
                    .iter()
                    .flat_map(|v| {
                        values.iter().map(move |val| {
                            let mut v = v.clone();
                            v.extend(value::tokens(val));
                            v
                        })
                    })
                    .collect();
            }
        }
    }
    Ok(variants)
}
