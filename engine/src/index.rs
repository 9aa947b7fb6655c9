//! The candidate index of one route: the rules a source admits, their literal needles grouped
//! per field into Aho-Corasick automata, and for each rule the "trigger" predicates of which at
//! least one must hold for the rule to fire.
//!
//! Per event, [`Route::scan`] runs each field's automaton once over the field's values, marks
//! the literal predicates that hold, and yields the rules worth evaluating. Non-ASCII text takes
//! an exact per-predicate path (Aho-Corasick folds ASCII only). This module knows the shape of
//! literal patterns; everything else is [`crate::matcher`]'s.

mod anchored;
mod json_text;
pub mod memo;
mod searcher;
mod triggers;

use crate::event::{self, Found};
use crate::fold::with_folded;
use crate::json::Json;
use crate::matcher::{Literal, Matcher, Placement};
use crate::plan::{CmpOp, LogSource, Node, Plan, Target, Test};
use crate::route::Source;
use anchored::{AnchoredNeedles, Side};
use json_text::InJsonText;
use memo::ValueMemo;
use rustc_hash::FxHashMap;
use searcher::Searcher;
use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use triggers::Triggers;

/// The indexed predicates of one field (or of the keyword haystack).
#[derive(Debug)]
struct Scan {
    /// Unique among every scan of the process, for [`ValueMemo`]: a memo may outlive an engine.
    id: u64,
    target: Target,
    /// The needles that may sit anywhere in a value, case-folded.
    needles: Vec<String>,
    /// Built on first use: a route admits many fields that its events never carry, and an
    /// automaton of thousands of needles costs milliseconds to build.
    searcher: OnceLock<Searcher>,
    /// The same needles of every placement as they appear inside JSON strings (`\` and `"`
    /// escaped), to search a whole event's text at once; none when a needle has other escapes.
    in_json_text: OnceLock<Option<InJsonText>>,
    /// The needles that must start a value, and those that must end it: looked for there only.
    prefixes: AnchoredNeedles,
    suffixes: AnchoredNeedles,
    /// The length of the shortest needle of any placement: shorter text cannot hold any.
    shortest: usize,
    /// Per automaton pattern: the predicates it concerns, and what its presence says of each.
    pattern_preds: Vec<Vec<(u32, Verdict)>>,
    /// Every predicate of `pattern_preds` once, in order: tested one by one when no automaton
    /// can be built (a limit on states), so built then only.
    needle_preds: OnceLock<Vec<u32>>,
    /// Numeric equality (`EventID: 4688`): value → predicates.
    numbers: FxHashMap<u64, Vec<u32>>,
    /// Whole-value equality, by the case-folded value: a hash lookup instead of needles that
    /// would hit anywhere in every value.
    exact: FxHashMap<String, Vec<u32>>,
}

/// What a needle hit says about a predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The predicate holds.
    Holds,
    /// The predicate may hold: its full test decides. (Without any of its needles in the
    /// field, it cannot hold.)
    Verify,
}

/// One source's view of the plan.
#[derive(Debug)]
pub struct Route {
    scans: Vec<Arc<Scan>>,
    /// Scans of top-level field names (no dot), by name.
    top_level: FxHashMap<String, Vec<usize>>,
    /// Scans of dotted names and of keywords, which need a full lookup.
    nested: Vec<usize>,
    /// Whether each predicate is decided by the scans (then "not marked" means false).
    indexed: Vec<bool>,
    /// Predicate → rules that it triggers.
    triggers: Triggers,
    /// Rules with no trigger set: evaluated on every event of this route.
    always: Vec<u32>,
}

impl Route {
    pub fn build(plan: &Plan, shared: &Shared, source: &Source) -> Route {
        let n = plan.predicates.len();
        let mut indexed: Vec<bool> = shared.kinds.iter().map(Option::is_some).collect();
        let mut always = Vec::new();
        let mut used = vec![false; n];
        let admitted: Vec<bool> = shared.logsources.iter().map(|ls| source.admits(ls)).collect();
        let mut covered: Vec<(u32, &[u32])> = Vec::new();
        for (r, rule) in shared.rules.iter().enumerate() {
            if !admitted[rule.logsource as usize] {
                continue;
            }
            // Every indexable predicate of an admitted rule is scanned: one more needle in an
            // automaton that runs anyway costs little, a lazy keyword search costs a lot.
            rule.uses.iter().for_each(|&p| used[p as usize] = true);
            match &rule.cover {
                Some(preds) => covered.push((r as u32, preds)),
                None => always.push(r as u32),
            }
        }
        let triggers = Triggers::new(n, &covered);
        for (i, u) in used.iter().enumerate() {
            indexed[i] &= *u;
        }
        // Grouped by target, targets in order of their first indexed predicate.
        let mut by_target: Vec<Vec<u32>> = vec![Vec::new(); shared.targets.len()];
        let mut order: Vec<u32> = Vec::new();
        for (i, &t) in shared.target_of.iter().enumerate() {
            if indexed[i] {
                if by_target[t as usize].is_empty() {
                    order.push(t);
                }
                by_target[t as usize].push(i as u32);
            }
        }
        let scans: Vec<Arc<Scan>> = order.into_iter().map(|t| shared.scan(t, &by_target[t as usize])).collect();
        let mut top_level: FxHashMap<String, Vec<usize>> = FxHashMap::default();
        let mut nested = Vec::new();
        for (i, scan) in scans.iter().enumerate() {
            match &scan.target {
                Target::Field(name) if !name.contains('.') => top_level.entry(name.clone()).or_default().push(i),
                _ => nested.push(i),
            }
        }
        Route { scans, top_level, nested, indexed, triggers, always }
    }

    pub fn is_indexed(&self, pred: u32) -> bool {
        self.indexed[pred as usize]
    }

    /// Rules this route admits that no scan can rule out, for statistics.
    pub fn always_evaluated(&self) -> usize {
        self.always.len()
    }

    /// Marks the indexed predicates that hold in `event` through `mark`, and names the rules to
    /// evaluate through `candidate` (a rule may be named more than once).
    /// `text` is what `event` was parsed from, when the caller has it: a keyword scan can then
    /// rule itself out with one pass over the text instead of one per string.
    pub fn scan(
        &self,
        event: &Json<'_>,
        text: Option<&str>,
        matchers: &[Matcher],
        memo: &mut ValueMemo,
        mut mark: impl FnMut(u32, Verdict),
        mut candidate: impl FnMut(u32),
    ) {
        self.always.iter().for_each(|&r| candidate(r));
        let hit = &mut |p: u32, verdict: Verdict| {
            mark(p, verdict);
            self.triggers.of(p).iter().for_each(|&r| candidate(r));
        };
        // Top-level fields: one pass over whichever side is shorter, the event's keys or the
        // route's field names.
        if let Json::Object(map) = event {
            if map.len() <= self.top_level.len() {
                for (key, value) in map.iter() {
                    if let Some(scans) = self.top_level.get(key) {
                        scans.iter().for_each(|&i| self.scans[i].leaves(value, matchers, memo, hit));
                    }
                }
            } else {
                for (key, scans) in &self.top_level {
                    if let Some(value) = map.get(key.as_str()) {
                        scans.iter().for_each(|&i| self.scans[i].leaves(value, matchers, memo, hit));
                    }
                }
            }
        }
        for &i in &self.nested {
            let scan = &self.scans[i];
            match &scan.target {
                Target::Field(name) => {
                    let found: Found<'_, '_> = event::lookup(event, name);
                    found.values().for_each(|v| scan.leaves(v, matchers, memo, hit));
                }
                Target::Keywords => {
                    if text.is_some_and(|t| scan.absent_from_text(t)) {
                        continue;
                    }
                    event::any_string(event, &mut |s| {
                        scan.text(s, matchers, memo, hit);
                        false
                    });
                }
            }
        }
    }
}

impl Scan {
    /// Feeds every scalar inside `value` (arrays flattened) to the scan: strings, numbers and
    /// booleans as text, numbers and numeric strings to the numeric index.
    fn leaves(&self, value: &Json<'_>, matchers: &[Matcher], memo: &mut ValueMemo, hit: &mut impl FnMut(u32, Verdict)) {
        match value {
            Json::String(s) => {
                self.text(s, matchers, memo, hit);
                if !self.numbers.is_empty() {
                    if let Some(k) = text_number_key(s) {
                        self.numbers.get(&k).into_iter().flatten().for_each(|p| hit(*p, Verdict::Holds));
                    }
                }
            }
            Json::Number(num) => {
                if let Some(k) = num.as_f64().and_then(number_key) {
                    self.numbers.get(&k).into_iter().flatten().for_each(|p| hit(*p, Verdict::Holds));
                }
                if self.has_text_tests() {
                    // Numbers are tested as the text JSON writes for them, formatted on the stack.
                    let mut buf = [0u8; 64];
                    let mut cursor = std::io::Cursor::new(&mut buf[..]);
                    if write!(cursor, "{num}").is_ok() {
                        let len = cursor.position() as usize;
                        if let Ok(text) = std::str::from_utf8(&buf[..len]) {
                            self.text(text, matchers, memo, hit);
                        }
                    }
                }
            }
            Json::Bool(b) => self.text(if *b { "true" } else { "false" }, matchers, memo, hit),
            Json::Array(items) => items.iter().for_each(|v| self.leaves(v, matchers, memo, hit)),
            Json::Null | Json::Object(_) => {}
        }
    }

    /// Whether no needle of this scan can occur in any string of the JSON document `text`, so
    /// that none of its predicates holds (decided as [`json_text`] says).
    fn absent_from_text(&self, text: &str) -> bool {
        if !self.exact.is_empty() || !self.numbers.is_empty() || !self.has_needles() {
            return false;
        }
        let Some(in_text) = self.in_json_text.get_or_init(|| self.json_text_prefilter()) else { return false };
        in_text.absent_from(text)
    }

    fn has_needles(&self) -> bool {
        !self.needles.is_empty() || !self.prefixes.is_empty() || !self.suffixes.is_empty()
    }

    fn has_text_tests(&self) -> bool {
        self.has_needles() || !self.exact.is_empty()
    }

    /// A prefilter over every needle as it appears in JSON text (for [`Scan::absent_from_text`]),
    /// when all of them have one.
    fn json_text_prefilter(&self) -> Option<InJsonText> {
        let anywhere = self.needles.iter().map(|n| n.as_bytes().to_vec());
        let all: Vec<Vec<u8>> = anywhere.chain(self.prefixes.needles()).chain(self.suffixes.needles()).collect();
        InJsonText::new(&all)
    }

    /// Reports every literal predicate of this scan that holds for one text value; a long value
    /// seen again replays what it reported then.
    fn text(&self, s: &str, matchers: &[Matcher], memo: &mut ValueMemo, hit: &mut impl FnMut(u32, Verdict)) {
        if self.exact.is_empty() && (!self.has_needles() || (s.len() < self.shortest && s.is_ascii())) {
            // (ASCII folding keeps the length; Unicode folding may not.)
            return;
        }
        if !memo::fits(s.len()) {
            return self.search(s, matchers, hit);
        }
        let slot = memo::Slot::of(s);
        if let Some(hits) = memo.get(slot, self.id, s) {
            hits.iter().for_each(|&(p, verdict)| hit(p, verdict));
            return;
        }
        memo.put(slot, self.id, s, |remember| {
            self.search(s, matchers, &mut |p, verdict| {
                remember.note(p, verdict);
                hit(p, verdict);
            })
        });
    }

    /// Folds one text value and searches it for this scan's needles.
    fn search(&self, s: &str, matchers: &[Matcher], hit: &mut impl FnMut(u32, Verdict)) {
        // Folded once, as the matchers fold, so that the automaton can be case-sensitive: a
        // case-sensitive automaton gets the library's SIMD prefilters, which skip most text
        // without stepping through it.
        with_folded(s, |hay| {
            if !self.exact.is_empty() {
                if let Some(preds) = self.exact.get(hay) {
                    preds.iter().for_each(|p| hit(*p, Verdict::Holds));
                }
            }
            if hay.len() < self.shortest {
                return;
            }
            for ends in [&self.prefixes, &self.suffixes] {
                ends.each(hay.as_bytes(), |p| hit(p, Verdict::Holds));
            }
            if self.needles.is_empty() {
                return;
            }
            let searcher = self.searcher.get_or_init(|| Searcher::new(&self.needles));
            // A necessary literal only says "maybe": the full test runs if and when the rule's
            // evaluation needs the predicate (most never get that far).
            let found = searcher.each(&self.needles, hay.as_bytes(), |n| {
                self.pattern_preds[n].iter().for_each(|&(p, verdict)| hit(p, verdict));
            });
            if !found {
                let preds = self.needle_preds.get_or_init(|| {
                    let mut preds: Vec<u32> = self.pattern_preds.iter().flatten().map(|(p, _)| *p).collect();
                    preds.sort_unstable();
                    preds.dedup();
                    preds
                });
                preds.iter().filter(|&&p| full_test(&matchers[p as usize], s)).for_each(|&p| hit(p, Verdict::Holds));
            }
        });
    }
}

fn full_test(matcher: &Matcher, s: &str) -> bool {
    match matcher {
        Matcher::Str(m) => m.is_match(s),
        Matcher::Regex(r) => r.is_match(s),
        _ => false,
    }
}

/// The index key of a string value holding a whole number, read as the matchers read it
/// (`str::trim`, then `f64`). Most strings (paths, names, GUIDs) are ruled out by their first
/// byte, without trimming or parsing: only a digit, a sign, a point or white space can begin a
/// finite number (`inf` and `NaN` are not whole numbers).
fn text_number_key(s: &str) -> Option<u64> {
    match *s.as_bytes().first()? {
        b'0'..=b'9' | b'+' | b'-' | b'.' => {}
        b if b.is_ascii() && !char::from(b).is_whitespace() => return None,
        _ => {}
    }
    s.trim().parse::<f64>().ok().and_then(number_key)
}

/// A float that is a whole number, as an index key. Keys are bits, so -0.0 becomes 0.0 first:
/// the two compare equal and must find the same rules.
fn number_key(f: f64) -> Option<u64> {
    let f = if f == 0.0 { 0.0 } else { f };
    (f.is_finite() && f.fract() == 0.0).then(|| f.to_bits())
}

/// How a scan decides a predicate. Needles and values are stored folded as the scan searches
/// them, once per plan rather than once per scan that holds them.
#[derive(Debug, Clone)]
enum IndexKind {
    Literal(String, Placement),
    Number(u64),
    /// One of these literals occurs in every accepted value.
    Necessary(Vec<String>),
}

/// Whether (and how) a predicate can be decided by a scan.
fn index_kind(test: &Test, matcher: &Matcher) -> Option<IndexKind> {
    match (test, matcher) {
        (Test::Str(_), Matcher::Str(m)) => match m.literal() {
            // Non-ASCII needles too: they can only occur in non-ASCII text, which the scan folds
            // exactly as the matcher does before searching it. A whole value is looked up by
            // its full lower case, a needle searched for in ASCII-folded text.
            Some(Literal { needle, placement: Placement::Whole }) if !needle.is_empty() => {
                Some(IndexKind::Literal(needle.to_lowercase(), Placement::Whole))
            }
            Some(Literal { needle, placement }) if !needle.is_empty() => {
                Some(IndexKind::Literal(needle.to_ascii_lowercase(), placement))
            }
            _ => necessary(matcher),
        },
        (Test::Num { op: CmpOp::Eq, value }, _) => number_key(*value).map(IndexKind::Number),
        (Test::Regex(_), m) => necessary(m),
        _ => None,
    }
}

fn necessary(matcher: &Matcher) -> Option<IndexKind> {
    let needles = matcher.necessary_needles()?;
    Some(IndexKind::Necessary(needles.iter().map(|n| n.to_ascii_lowercase()).collect()))
}

/// What every route of one engine shares: how each predicate can be indexed, what each rule
/// needs of a route, and the scans already built (routes often scan the same predicates of the
/// same field). Computed once, so that building a route is a pass over its rules' lists.
#[derive(Debug)]
pub struct Shared {
    kinds: Vec<Option<IndexKind>>,
    /// The distinct targets of the plan's predicates, and each predicate's.
    targets: Vec<Target>,
    target_of: Vec<u32>,
    /// The distinct logsources of the plan's rules: a route asks each once whether it admits it.
    logsources: Vec<LogSource>,
    rules: Vec<RuleNeeds>,
    scans: Mutex<HashMap<ScanKey, Arc<Scan>>>,
}

/// What one rule contributes to a route that admits it.
#[derive(Debug)]
struct RuleNeeds {
    logsource: u32,
    /// Its predicates: those a route indexes are scanned.
    uses: Vec<u32>,
    /// Its trigger set ([`cover`]), or `None` when it must be evaluated on every event.
    cover: Option<Vec<u32>>,
}

/// A scan is identified by what it reads and which predicates it decides.
type ScanKey = (u32, Vec<u32>);

impl Shared {
    pub fn new(plan: &Plan, matchers: &[Matcher]) -> Shared {
        let kinds: Vec<Option<IndexKind>> =
            plan.predicates.iter().zip(matchers).map(|(p, m)| index_kind(&p.test, m)).collect();
        let indexable: Vec<bool> = kinds.iter().map(Option::is_some).collect();
        let mut targets = Vec::new();
        let mut target_ids: HashMap<&Target, u32> = HashMap::new();
        let target_of = plan
            .predicates
            .iter()
            .map(|p| {
                *target_ids.entry(&p.target).or_insert_with(|| {
                    targets.push(p.target.clone());
                    targets.len() as u32 - 1
                })
            })
            .collect();
        let mut logsources = Vec::new();
        let mut logsource_ids: HashMap<&LogSource, u32> = HashMap::new();
        let mut visited = vec![false; plan.nodes.len()];
        let rules = plan
            .rules
            .iter()
            .map(|rule| {
                let logsource = *logsource_ids.entry(&rule.logsource).or_insert_with(|| {
                    logsources.push(rule.logsource.clone());
                    logsources.len() as u32 - 1
                });
                let mut uses = Vec::new();
                predicates_under(&plan.nodes, rule.root, &mut uses, &mut visited);
                RuleNeeds { logsource, uses, cover: cover(&plan.nodes, rule.root, &indexable) }
            })
            .collect();
        Shared { kinds, targets, target_of, logsources, rules, scans: Mutex::new(HashMap::new()) }
    }

    fn scan(&self, target: u32, preds: &[u32]) -> Arc<Scan> {
        let key = (target, preds.to_vec());
        if let Some(s) = self.scans.lock().expect("scan cache").get(&key) {
            return s.clone();
        }
        let built = Arc::new(build_scan(&self.targets[target as usize], preds, &self.kinds));
        self.scans.lock().expect("scan cache").entry(key).or_insert(built).clone()
    }
}

/// Scan ids start at 1 (0 marks an empty memo slot).
static NEXT_SCAN_ID: AtomicU64 = AtomicU64::new(1);

fn build_scan<'k>(target: &Target, preds: &[u32], kinds: &'k [Option<IndexKind>]) -> Scan {
    let mut needles: Vec<String> = Vec::new();
    let mut needle_index: FxHashMap<&'k str, usize> = FxHashMap::default();
    let mut pattern_preds: Vec<Vec<(u32, Verdict)>> = Vec::new();
    let mut prefixes: Vec<(&str, u32)> = Vec::new();
    let mut suffixes: Vec<(&str, u32)> = Vec::new();
    let mut numbers: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
    let mut exact: FxHashMap<String, Vec<u32>> = FxHashMap::default();
    let mut add_needle = |needle: &'k str, entry: (u32, Verdict)| {
        let i = *needle_index.entry(needle).or_insert_with(|| {
            needles.push(needle.to_string());
            pattern_preds.push(Vec::new());
            needles.len() - 1
        });
        if !pattern_preds[i].contains(&entry) {
            pattern_preds[i].push(entry);
        }
    };
    for &p in preds {
        match &kinds[p as usize] {
            Some(IndexKind::Literal(value, Placement::Whole)) => exact.entry(value.clone()).or_default().push(p),
            Some(IndexKind::Literal(needle, Placement::Start)) => prefixes.push((needle, p)),
            Some(IndexKind::Literal(needle, Placement::End)) => suffixes.push((needle, p)),
            Some(IndexKind::Literal(needle, Placement::Anywhere)) => add_needle(needle, (p, Verdict::Holds)),
            Some(IndexKind::Necessary(list)) => {
                for needle in list {
                    add_needle(needle, (p, Verdict::Verify));
                }
            }
            Some(IndexKind::Number(k)) => numbers.entry(*k).or_default().push(p),
            None => unreachable!("only indexable predicates are scanned"),
        }
    }
    let anchored = prefixes.iter().chain(&suffixes).map(|(n, _)| n.len());
    let shortest = needles.iter().map(String::len).chain(anchored).min().unwrap_or(0);
    let (prefixes, suffixes) = (AnchoredNeedles::new(Side::Start, prefixes), AnchoredNeedles::new(Side::End, suffixes));
    Scan {
        id: NEXT_SCAN_ID.fetch_add(1, Ordering::Relaxed),
        target: target.clone(),
        needles,
        searcher: OnceLock::new(),
        in_json_text: OnceLock::new(),
        prefixes,
        suffixes,
        shortest,
        pattern_preds,
        needle_preds: OnceLock::new(),
        numbers,
        exact,
    }
}

/// Appends the predicates under `node` to `out`, each once. `visited` is all false on entry and
/// is left so: a node shared within the rule is walked once.
fn predicates_under(nodes: &[Node], root: u32, out: &mut Vec<u32>, visited: &mut [bool]) {
    let mut stack = vec![root];
    let mut seen_nodes = Vec::new();
    while let Some(node) = stack.pop() {
        if std::mem::replace(&mut visited[node as usize], true) {
            continue;
        }
        seen_nodes.push(node);
        match &nodes[node as usize] {
            Node::Const(_) => {}
            Node::Pred(p) => out.push(*p),
            Node::Not(inner) => stack.push(*inner),
            Node::And(items) | Node::Or(items) => stack.extend_from_slice(items),
        }
    }
    seen_nodes.into_iter().for_each(|n| visited[n as usize] = false);
}

/// A set of indexed predicates at least one of which holds whenever `node` holds, or `None`
/// when there is no such set (the rule must then be evaluated on every event).
fn cover(nodes: &[Node], node: u32, indexed: &[bool]) -> Option<Vec<u32>> {
    match &nodes[node as usize] {
        Node::Const(false) => Some(Vec::new()),
        Node::Const(true) | Node::Not(_) => None,
        Node::Pred(p) => indexed[*p as usize].then(|| vec![*p]),
        Node::And(items) => items.iter().filter_map(|n| cover(nodes, *n, indexed)).min_by_key(|c| c.len()),
        Node::Or(items) => {
            let mut all = Vec::new();
            for n in items {
                all.extend(cover(nodes, *n, indexed)?);
            }
            all.sort_unstable();
            all.dedup();
            Some(all)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{number_key, text_number_key};

    #[test]
    fn a_string_number_key_is_what_trimming_and_parsing_give() {
        let texts = [
            "4688",
            " 42",
            "\t7\n",
            "\u{b}7",
            "\u{3000}12",
            "\u{a0}3",
            "1e3",
            "+5",
            "-0",
            "0.0",
            ".5e1",
            "1.",
            "2.5",
            "inf",
            "-inf",
            "Infinity",
            "NaN",
            "nan",
            "C:\\Windows",
            "0x10",
            "{4a1f}",
            "",
            " ",
            "e5",
            "12abc",
            "é1",
        ];
        for text in texts {
            assert_eq!(text_number_key(text), text.trim().parse::<f64>().ok().and_then(number_key), "{text:?}");
        }
        // Every byte that can begin a string, before a number.
        for b in 0u8..=0x7f {
            let text = format!("{}15", char::from(b));
            assert_eq!(text_number_key(&text), text.trim().parse::<f64>().ok().and_then(number_key), "{text:?}");
        }
    }
}
