//! Runtime matchers: each [`Test`] of the plan, prepared once so that testing an event value is
//! cheap (regexes compiled, literals case-folded, the shape of a wildcard pattern recognised).
//!
//! This module decides how *one value* is tested. Which values a field name reaches is
//! [`crate::event`]'s job; how predicates combine into rules is [`crate::eval`]'s.
//!
//! Every regex (a rule's `|re`, a wildcard pattern) is built by [`build_regex`] under one set of
//! bounds: [`REGEX_SIZE_LIMIT`] on its compiled program, [`REGEX_DFA_SIZE_LIMIT`] on the lazy DFA's
//! cache and [`REGEX_NEST_LIMIT`] on its nesting. The compiler checks `|re` values with the same
//! function, so a rule it accepts is a regex that runs.

use crate::event::{self, Found};
use crate::fold::{folded, with_folded};
use crate::json::Json;
use crate::match_core;
use crate::plan::{CmpOp, RefMode, RegexSpec, StrPattern, Test, TimePart, Token};
use crate::time;
use std::borrow::Cow;
use std::net::IpAddr;

/// A [`Test`] ready to run.
#[derive(Debug, Clone)]
pub enum Matcher {
    Null,
    Exists(bool),
    Str(StrMatcher),
    Num { op: CmpOp, value: f64 },
    Bool(bool),
    Regex(RegexMatcher),
    Cidr(ipnet::IpNet),
    TimePart { part: TimePart, op: CmpOp, value: i64 },
    FieldRef { other: String, mode: RefMode, cased: bool },
}

/// The most memory one compiled regex program may take: 16 MiB (the regex crate's `size_limit`).
/// A pattern over it is refused, naming this limit; case-insensitive Unicode classes are what
/// make a short pattern large.
pub const REGEX_SIZE_LIMIT: usize = 16 << 20;
/// The most memory the lazy DFA of one regex may cache per search thread: 2 MiB (the regex
/// crate's `dfa_size_limit`, its default); past it the search falls back to a slower engine, it
/// does not fail.
pub const REGEX_DFA_SIZE_LIMIT: usize = 2 << 20;
/// How deeply groups, repetitions and alternations may nest in a regex: 250 (the regex crate's
/// `nest_limit`, its default), which keeps its parser's recursion far from the stack's end.
pub const REGEX_NEST_LIMIT: u32 = 250;

/// Compiles `pattern` under Sigil's regex bounds. The error says which bound a pattern passed,
/// or what is wrong with its syntax (first line of the regex crate's message).
pub fn build_regex(pattern: &str, ignore_case: bool, multi_line: bool, dot_all: bool) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(ignore_case)
        .multi_line(multi_line)
        .dot_matches_new_line(dot_all)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => format!(
                "the compiled regular expression is larger than the regex size limit of {limit} bytes \
                 (REGEX_SIZE_LIMIT): simplify it (case-insensitive classes and counted repetitions are large)"
            ),
            other => {
                let text = other.to_string();
                if text.contains("nest limit") || text.contains("maximum number of nested") {
                    format!("the regular expression nests deeper than the regex nest limit of {REGEX_NEST_LIMIT}")
                } else {
                    let last = text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or(&text);
                    format!("invalid regular expression: {}", last.trim())
                }
            }
        })
}

/// String patterns shorter than this (in bytes, a wildcard counting one) build far under
/// [`REGEX_SIZE_LIMIT`] whatever they hold, so only longer ones are built to be checked.
const WILDCARD_CHECK_BYTES: usize = 1024;

/// Whether a Sigma string pattern that needs a regex (wildcards inside it) fits the regex
/// bounds: the compiler's check, so that a value which would never match is rejected instead.
pub fn check_pattern(p: &StrPattern) -> Result<(), String> {
    let size: usize = p.tokens.iter().map(|t| if let Token::Lit(s) = t { s.len() } else { 1 }).sum();
    if size < WILDCARD_CHECK_BYTES {
        return Ok(());
    }
    match StrMatcher::new(p).map(|m| m.shape) {
        Ok(Shape::Wildcard(re)) => build_regex(&re.pattern, re.flags.0, re.flags.1, re.flags.2).map(|_| ()),
        _ => Ok(()),
    }
}

/// Why a plan could not be prepared (only a regex that the compiler did not check can fail).
#[derive(Debug, Clone, PartialEq)]
pub struct PrepareError(pub String);

impl Matcher {
    pub fn prepare(test: &Test) -> Result<Matcher, PrepareError> {
        Ok(match test {
            Test::Null => Matcher::Null,
            Test::Exists(b) => Matcher::Exists(*b),
            Test::Str(p) => Matcher::Str(StrMatcher::new(p)?),
            Test::Num { op, value } => Matcher::Num { op: *op, value: *value },
            Test::Bool(b) => Matcher::Bool(*b),
            Test::Regex(spec) => Matcher::Regex(RegexMatcher::new(spec)?),
            Test::Cidr(net) => Matcher::Cidr(*net),
            Test::TimePart { part, op, value } => Matcher::TimePart { part: *part, op: *op, value: *value },
            Test::FieldRef { other, mode, cased } => {
                Matcher::FieldRef { other: other.clone(), mode: *mode, cased: *cased }
            }
        })
    }

    /// Tests the values a field reached in `event`.
    pub fn test_field(&self, event: &Json<'_>, found: &Found<'_, '_>) -> bool {
        match self {
            Matcher::Null => found.is_null(),
            Matcher::Exists(want) => found.is_absent() != *want,
            Matcher::FieldRef { other, mode, cased } => {
                let theirs = event::lookup(event, other);
                found.leaves().any(|mine| {
                    theirs.leaves().any(|t| match (scalar_text(mine), scalar_text(t)) {
                        (Some(a), Some(b)) => compare_ref(&a, &b, *mode, *cased),
                        _ => false,
                    })
                })
            }
            _ => found.leaves().any(|v| self.test_value(v)),
        }
    }

    /// Tests every string of the event (a keyword search).
    pub fn test_keywords(&self, event: &Json<'_>) -> bool {
        match self {
            Matcher::Str(m) => event::any_string(event, &mut |s| m.is_match(s)),
            Matcher::Regex(re) => event::any_string(event, &mut |s| re.is_match(s)),
            _ => false,
        }
    }

    fn test_value(&self, v: &Json<'_>) -> bool {
        match self {
            Matcher::Str(m) => scalar_text(v).is_some_and(|s| m.is_match(&s)),
            Matcher::Regex(re) => scalar_text(v).is_some_and(|s| re.is_match(&s)),
            Matcher::Num { op, value } => as_number(v).is_some_and(|n| op.holds(n, *value)),
            Matcher::Bool(b) => match v {
                Json::Bool(x) => x == b,
                Json::String(s) => s.trim().eq_ignore_ascii_case(if *b { "true" } else { "false" }),
                _ => false,
            },
            Matcher::Cidr(net) => match v {
                Json::String(s) => s.trim().parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip)),
                _ => false,
            },
            Matcher::TimePart { part, op, value } => {
                time::parse_value(v).is_some_and(|dt| op.holds(time::part(&dt, *part), *value))
            }
            Matcher::Null | Matcher::Exists(_) | Matcher::FieldRef { .. } => false,
        }
    }
}

/// Evidence for explanations ([`crate::explain`]): which value made a test hold. Verdicts still
/// come from [`Matcher::test_field`] and [`Matcher::test_keywords`]; these only point at the value.
impl Matcher {
    /// The first value among `found` that passes this test, for tests decided value by value
    /// (`None` for `null` and `exists`, which look at the field as a whole).
    pub fn matching_leaf<'a, 'e>(&self, event: &Json<'_>, found: &Found<'a, 'e>) -> Option<&'a Json<'e>> {
        match self {
            Matcher::Null | Matcher::Exists(_) => None,
            Matcher::FieldRef { other, mode, cased } => {
                let theirs = event::lookup(event, other);
                found.leaves().find(|mine| {
                    theirs.leaves().any(|t| match (scalar_text(mine), scalar_text(t)) {
                        (Some(a), Some(b)) => compare_ref(&a, &b, *mode, *cased),
                        _ => false,
                    })
                })
            }
            _ => found.leaves().find(|v| self.test_value(v)),
        }
    }

    /// Whether one string of the event passes this test as a keyword (field-less) value.
    pub fn keyword_matches(&self, text: &str) -> bool {
        match self {
            Matcher::Str(m) => m.is_match(text),
            Matcher::Regex(re) => re.is_match(text),
            _ => false,
        }
    }
}

impl Matcher {
    /// Literals of which at least one occurs (ASCII case-insensitively) in every value this
    /// matcher accepts, when there are such literals: a scan for them rules the matcher out
    /// cheaply, though a hit still needs the full test.
    pub fn necessary_needles(&self) -> Option<Vec<String>> {
        match self {
            Matcher::Str(m) => m.required.clone().map(|r| vec![r]),
            Matcher::Regex(r) => regex_needles(&r.spec),
            _ => None,
        }
    }
}

/// A `|re` test: its syntax checked when the plan is prepared, compiled on first use.
#[derive(Debug, Clone)]
pub struct RegexMatcher {
    spec: RegexSpec,
    regex: LazyRegex,
}

impl RegexMatcher {
    fn new(spec: &RegexSpec) -> Result<RegexMatcher, PrepareError> {
        parser(spec).parse(&spec.pattern).map_err(|e| PrepareError(e.to_string()))?;
        let regex = LazyRegex::new(spec.pattern.clone(), spec.ignore_case, spec.multi_line, spec.dot_all);
        Ok(RegexMatcher { spec: spec.clone(), regex })
    }

    pub fn is_match(&self, s: &str) -> bool {
        self.regex.is_match(s)
    }
}

/// A regex compiled on first use: most regexes of a large pack never meet a candidate event,
/// and compiling them all up front would dominate the time to load a pack.
#[derive(Debug, Clone)]
pub struct LazyRegex {
    pattern: String,
    flags: (bool, bool, bool),
    compiled: std::sync::OnceLock<Option<regex::Regex>>,
}

impl LazyRegex {
    fn new(pattern: String, ignore_case: bool, multi_line: bool, dot_all: bool) -> LazyRegex {
        LazyRegex { pattern, flags: (ignore_case, multi_line, dot_all), compiled: std::sync::OnceLock::new() }
    }

    pub fn is_match(&self, s: &str) -> bool {
        // The syntax was checked when the plan was prepared; only the size limit could still
        // refuse a pattern, and a pattern that cannot be compiled matches nothing.
        self.compiled.get_or_init(|| self.build()).as_ref().is_some_and(|r| r.is_match(s))
    }

    /// Compiles what a yes/no search needs of the pattern ([`crate::match_core`]), or the pattern
    /// itself when that is all of it (or when the smaller one cannot be built).
    fn build(&self) -> Option<regex::Regex> {
        let (ignore_case, multi_line, dot_all) = self.flags;
        let parsed = regex_syntax::ParserBuilder::new()
            .case_insensitive(ignore_case)
            .multi_line(multi_line)
            .dot_matches_new_line(dot_all)
            .nest_limit(REGEX_NEST_LIMIT)
            .build()
            .parse(&self.pattern);
        // The core's text spells its flags out (`(?m:^)`, case-folded classes).
        let core = parsed.ok().as_ref().and_then(match_core::for_is_match);
        core.and_then(|core| build_regex(&core.to_string(), false, false, false).ok())
            .or_else(|| build_regex(&self.pattern, ignore_case, multi_line, dot_all).ok())
    }
}

fn parser(spec: &RegexSpec) -> regex_syntax::Parser {
    regex_syntax::ParserBuilder::new()
        .case_insensitive(spec.ignore_case)
        .multi_line(spec.multi_line)
        .dot_matches_new_line(spec.dot_all)
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
}

/// The prefix literals of a regex (one of which starts every match), if they are few, ASCII
/// and non-empty.
fn regex_needles(spec: &RegexSpec) -> Option<Vec<String>> {
    let hir = parser(spec).parse(&spec.pattern).ok()?;
    let seq = regex_syntax::hir::literal::Extractor::new().extract(&hir);
    let literals = seq.literals()?;
    let mut out: Vec<String> = Vec::with_capacity(literals.len());
    for lit in literals {
        let text = std::str::from_utf8(lit.as_bytes()).ok()?;
        if text.is_empty() || !text.is_ascii() {
            return None;
        }
        out.push(text.to_ascii_lowercase());
    }
    out.sort();
    out.dedup();
    (!out.is_empty() && out.len() <= 64).then_some(out)
}

/// The text a string test sees for a scalar: strings as they are, numbers and booleans as JSON
/// writes them. Objects and null never match a string test.
fn scalar_text<'a>(v: &'a Json<'_>) -> Option<Cow<'a, str>> {
    match v {
        Json::String(s) => Some(Cow::Borrowed(s)),
        Json::Number(n) => Some(Cow::Owned(n.to_string())),
        Json::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// Numbers and numeric strings as numbers; anything else is not a number.
fn as_number(v: &Json<'_>) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

fn compare_ref(mine: &str, theirs: &str, mode: RefMode, cased: bool) -> bool {
    // ASCII text compares without folding (so without allocating), but for `contains`; the rest
    // compares its folded text case for case.
    let in_place = cased || (mine.is_ascii() && theirs.is_ascii() && mode != RefMode::Contains);
    if !in_place {
        return compare_ref(&folded(mine), &folded(theirs), mode, true);
    }
    let same = |x: &[u8], y: &[u8]| if cased { x == y } else { x.eq_ignore_ascii_case(y) };
    let (a, b) = (mine.as_bytes(), theirs.as_bytes());
    match mode {
        RefMode::Equal => a.len() == b.len() && same(a, b),
        RefMode::StartsWith => a.len() >= b.len() && same(&a[..b.len()], b),
        RefMode::EndsWith => a.len() >= b.len() && same(&a[a.len() - b.len()..], b),
        RefMode::Contains => mine.contains(theirs),
    }
}

/// A Sigma string pattern, recognised by shape: the common shapes (exact, prefix, suffix,
/// substring) are plain string operations; anything else becomes an anchored regex, which
/// matches wildcards in linear time.
#[derive(Debug, Clone)]
pub struct StrMatcher {
    shape: Shape,
    cased: bool,
    /// For wildcard patterns: the longest literal run, which every match contains.
    required: Option<String>,
}

#[derive(Debug, Clone)]
enum Shape {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    /// `*`: any string, the empty one included.
    Anything,
    Wildcard(LazyRegex),
}

/// How a literal needle must sit in the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Whole,
    Start,
    End,
    Anywhere,
}

/// A case-insensitive pattern that is one literal at a fixed placement: what an Aho-Corasick
/// scan can decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Literal<'a> {
    pub needle: &'a str,
    pub placement: Placement,
}

impl StrMatcher {
    /// The pattern as one case-insensitive literal, if it is one.
    pub fn literal(&self) -> Option<Literal<'_>> {
        if self.cased {
            return None;
        }
        let (needle, placement) = match &self.shape {
            Shape::Exact(n) => (n, Placement::Whole),
            Shape::Prefix(n) => (n, Placement::Start),
            Shape::Suffix(n) => (n, Placement::End),
            Shape::Contains(n) => (n, Placement::Anywhere),
            Shape::Anything | Shape::Wildcard(_) => return None,
        };
        Some(Literal { needle, placement })
    }

    pub fn new(p: &StrPattern) -> Result<StrMatcher, PrepareError> {
        let lit = |s: &String| if p.cased { s.clone() } else { s.to_lowercase() };
        let shape = match p.tokens.as_slice() {
            [] => Shape::Exact(String::new()),
            [Token::Lit(s)] => Shape::Exact(lit(s)),
            [Token::Lit(s), Token::AnyString] => Shape::Prefix(lit(s)),
            [Token::AnyString, Token::Lit(s)] => Shape::Suffix(lit(s)),
            [Token::AnyString, Token::Lit(s), Token::AnyString] => Shape::Contains(lit(s)),
            tokens if tokens.iter().all(|t| *t == Token::AnyString) => Shape::Anything,
            tokens => Shape::Wildcard(wildcard_regex(tokens, p.cased)),
        };
        let required = match (&shape, p.cased) {
            (Shape::Wildcard(_), false) => p
                .tokens
                .iter()
                .filter_map(|t| match t {
                    Token::Lit(s) if s.is_ascii() => Some(s),
                    _ => None,
                })
                .max_by_key(|s| s.len())
                .map(|s| s.to_ascii_lowercase()),
            _ => None,
        };
        Ok(StrMatcher { shape, cased: p.cased, required })
    }

    pub fn is_match(&self, s: &str) -> bool {
        match &self.shape {
            Shape::Anything => return true,
            // The regex carries its own case-insensitivity; give it the original text.
            Shape::Wildcard(re) => return re.is_match(s),
            _ => {}
        }
        if self.cased {
            self.literal_match(s)
        } else {
            with_folded(s, |hay| self.literal_match(hay))
        }
    }

    fn literal_match(&self, hay: &str) -> bool {
        match &self.shape {
            Shape::Exact(n) => hay == n.as_str(),
            Shape::Prefix(n) => hay.starts_with(n.as_str()),
            Shape::Suffix(n) => hay.ends_with(n.as_str()),
            Shape::Contains(n) => hay.contains(n.as_str()),
            Shape::Anything | Shape::Wildcard(_) => unreachable!("decided above"),
        }
    }
}

fn wildcard_regex(tokens: &[Token], cased: bool) -> LazyRegex {
    let mut pattern = String::from("^");
    for t in tokens {
        match t {
            Token::Lit(s) => pattern.push_str(&regex::escape(s)),
            Token::AnyString => pattern.push_str(".*"),
            Token::AnyChar => pattern.push('.'),
        }
    }
    pattern.push('$');
    LazyRegex::new(pattern, !cased, false, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(tokens: Vec<Token>) -> StrMatcher {
        StrMatcher::new(&StrPattern { tokens, cased: false }).unwrap()
    }

    #[test]
    fn wildcard_backtracking_vectors() {
        use Token::*;
        let l = |s: &str| Lit(s.to_string());
        let m = pat(vec![AnyString, l("ab"), AnyChar, l("c")]);
        assert!(m.is_match("abxabyc"));
        let m = pat(vec![l("foo"), AnyString, l("bar"), AnyString, l("fizz")]);
        assert!(!m.is_match("foobarbarfizznope"));
        let m = pat(vec![l("a"), AnyChar, l("c")]);
        assert!(m.is_match("a🔥c"));
        assert!(m.is_match("A\nC"));
    }

    #[test]
    fn short_wildcard_patterns_fit_the_regex_bounds_and_huge_ones_are_refused() {
        // The most a pattern under the check's threshold can be: one-character wildcards only.
        let any = StrPattern { tokens: vec![Token::AnyChar; WILDCARD_CHECK_BYTES - 1], cased: false };
        let m = StrMatcher::new(&any).unwrap();
        let Shape::Wildcard(re) = &m.shape else { panic!("a wildcard pattern") };
        assert!(build_regex(&re.pattern, true, false, true).is_ok());
        let huge = StrPattern { tokens: vec![Token::AnyChar; 200_000], cased: false };
        let err = check_pattern(&huge).unwrap_err();
        assert!(err.contains("regex size limit of 16777216 bytes (REGEX_SIZE_LIMIT)"), "{err}");
    }

    #[test]
    fn case_folding_is_unicode_aware() {
        let m = pat(vec![Token::Lit("ÄÖÜ".into())]);
        assert!(m.is_match("äöü"));
    }
}
