//! The candidate index of one route: the rules a source admits, their literal needles grouped
//! per field into Aho-Corasick automata, and for each rule the "trigger" predicates of which at
//! least one must hold for the rule to fire.
//!
//! Per event, [`Route::scan`] runs each field's automaton once over the field's values, marks
//! the literal predicates that hold, and yields the rules worth evaluating. Non-ASCII text takes
//! an exact per-predicate path (Aho-Corasick folds ASCII only). This module knows the shape of
//! literal patterns; everything else is [`crate::matcher`]'s.

use crate::event::{self, Found};
use crate::matcher::{Literal, Matcher, Placement};
use crate::plan::{CmpOp, Node, Plan, Target, Test};
use crate::route::Source;
use aho_corasick::{AhoCorasick, AhoCorasickKind};
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

/// The indexed predicates of one field (or of the keyword haystack).
#[derive(Debug)]
struct Scan {
    target: Target,
    automaton: Automaton,
    /// The length of the shortest needle: shorter text cannot hold any.
    shortest: usize,
    /// Per automaton pattern: the predicates it concerns and where the needle must sit.
    pattern_preds: Vec<Vec<(u32, Placement, Verdict)>>,
    /// Numeric equality (`EventID: 4688`): value → predicates.
    numbers: HashMap<u64, Vec<u32>>,
    /// Whole-value equality, by the case-folded value: a hash lookup instead of needles that
    /// would hit anywhere in every value.
    exact: FxHashMap<String, Vec<u32>>,
}

#[derive(Debug)]
enum Automaton {
    None,
    Built(AhoCorasick),
    /// The automaton could not be built: these text predicates are tested one by one.
    Unavailable(Vec<u32>),
}

/// What a needle hit says about a predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The predicate holds.
    Holds,
    /// The predicate may hold for this value: its full test runs on the value now. A value
    /// without any of its needles cannot satisfy it.
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
    triggers: Vec<Vec<u32>>,
    /// Rules with no trigger set: evaluated on every event of this route.
    always: Vec<u32>,
}

impl Route {
    pub fn build(plan: &Plan, shared: &Shared, source: &Source) -> Route {
        let n = plan.predicates.len();
        let mut indexed: Vec<bool> = shared.kinds.iter().map(Option::is_some).collect();
        let mut triggers: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut always = Vec::new();
        let mut used = vec![false; n];
        let mut visited = vec![false; plan.nodes.len()];
        for (r, rule) in plan.rules.iter().enumerate() {
            if !source.admits(&rule.logsource) {
                continue;
            }
            // Every indexable predicate of an admitted rule is scanned: one more needle in an
            // automaton that runs anyway costs little, a lazy keyword search costs a lot.
            mark_used(&plan.nodes, rule.root, &mut used, &mut visited);
            match cover(&plan.nodes, rule.root, &indexed) {
                Some(preds) => {
                    for p in preds {
                        triggers[p as usize].push(r as u32);
                    }
                }
                None => always.push(r as u32),
            }
        }
        for (i, u) in used.iter().enumerate() {
            indexed[i] &= *u;
        }
        let mut by_target: HashMap<&Target, Vec<u32>> = HashMap::new();
        let mut order: Vec<&Target> = Vec::new();
        for (i, p) in plan.predicates.iter().enumerate() {
            if indexed[i] {
                let e = by_target.entry(&p.target).or_default();
                if e.is_empty() {
                    order.push(&p.target);
                }
                e.push(i as u32);
            }
        }
        let scans: Vec<Arc<Scan>> = order.into_iter().map(|t| shared.scan(t, &by_target[t])).collect();
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

    /// Marks the indexed predicates that hold in `event` through `mark`, and collects the rules
    /// to evaluate into `candidates` (unsorted, deduplicated by `seen`).
    pub fn scan(
        &self,
        event: &Value,
        matchers: &[Matcher],
        mut mark: impl FnMut(u32),
        candidates: &mut Vec<u32>,
        mut seen: impl FnMut(u32) -> bool,
    ) {
        candidates.extend(self.always.iter().copied().filter(|r| seen(*r)));
        let mut hit = |p: u32, candidates: &mut Vec<u32>| {
            mark(p);
            for &r in &self.triggers[p as usize] {
                if seen(r) {
                    candidates.push(r);
                }
            }
        };
        let hit = &mut |p: u32| hit(p, candidates);
        // Top-level fields: one pass over whichever side is shorter, the event's keys or the
        // route's field names.
        if let Value::Object(map) = event {
            if map.len() <= self.top_level.len() {
                for (key, value) in map {
                    if let Some(scans) = self.top_level.get(key.as_str()) {
                        scans.iter().for_each(|&i| self.scans[i].leaves(value, matchers, hit));
                    }
                }
            } else {
                for (key, scans) in &self.top_level {
                    if let Some(value) = map.get(key.as_str()) {
                        scans.iter().for_each(|&i| self.scans[i].leaves(value, matchers, hit));
                    }
                }
            }
        }
        for &i in &self.nested {
            let scan = &self.scans[i];
            match &scan.target {
                Target::Field(name) => {
                    let found: Found<'_> = event::lookup(event, name);
                    found.values().for_each(|v| scan.leaves(v, matchers, hit));
                }
                Target::Keywords => {
                    event::any_string(event, &mut |s| {
                        scan.text(s, matchers, hit);
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
    fn leaves(&self, value: &Value, matchers: &[Matcher], hit: &mut impl FnMut(u32)) {
        match value {
            Value::String(s) => {
                self.text(s, matchers, hit);
                if !self.numbers.is_empty() {
                    if let Some(k) = s.trim().parse::<f64>().ok().and_then(number_key) {
                        self.numbers.get(&k).into_iter().flatten().for_each(|p| hit(*p));
                    }
                }
            }
            Value::Number(num) => {
                if let Some(k) = num.as_f64().and_then(number_key) {
                    self.numbers.get(&k).into_iter().flatten().for_each(|p| hit(*p));
                }
                if !matches!(self.automaton, Automaton::None) || !self.exact.is_empty() {
                    // Numbers are tested as the text JSON writes for them, formatted on the stack.
                    let mut buf = [0u8; 64];
                    let mut cursor = std::io::Cursor::new(&mut buf[..]);
                    if write!(cursor, "{num}").is_ok() {
                        let len = cursor.position() as usize;
                        if let Ok(text) = std::str::from_utf8(&buf[..len]) {
                            self.text(text, matchers, hit);
                        }
                    }
                }
            }
            Value::Bool(b) => self.text(if *b { "true" } else { "false" }, matchers, hit),
            Value::Array(items) => items.iter().for_each(|v| self.leaves(v, matchers, hit)),
            Value::Null | Value::Object(_) => {}
        }
    }

    /// Reports every literal predicate of this scan that holds for one text value.
    fn text(&self, s: &str, matchers: &[Matcher], hit: &mut impl FnMut(u32)) {
        // Folded once, as the matchers fold: the hash of whole values needs it, and so does
        // non-ASCII text, which the automaton (it folds ASCII only) cannot compare by itself.
        let needs_fold = !s.is_ascii() || (!self.exact.is_empty() && s.bytes().any(|b| b.is_ascii_uppercase()));
        let hay: std::borrow::Cow<'_, str> =
            if needs_fold { std::borrow::Cow::Owned(s.to_lowercase()) } else { std::borrow::Cow::Borrowed(s) };
        let hay = hay.as_ref();
        if !self.exact.is_empty() {
            if let Some(preds) = self.exact.get(hay) {
                preds.iter().for_each(|p| hit(*p));
            }
        }
        let ac = match &self.automaton {
            Automaton::Built(ac) => ac,
            Automaton::None => return,
            Automaton::Unavailable(preds) => {
                for &p in preds {
                    if full_test(&matchers[p as usize], s) {
                        hit(p);
                    }
                }
                return;
            }
        };
        if hay.len() < self.shortest {
            return;
        }
        for m in ac.find_overlapping_iter(hay) {
            for &(p, placement, verdict) in &self.pattern_preds[m.pattern().as_usize()] {
                let ok = match placement {
                    Placement::Whole => m.start() == 0 && m.end() == hay.len(),
                    Placement::Start => m.start() == 0,
                    Placement::End => m.end() == hay.len(),
                    Placement::Anywhere => true,
                };
                // A necessary literal only says "maybe": the full test runs on the original.
                if ok && (verdict == Verdict::Holds || full_test(&matchers[p as usize], s)) {
                    hit(p);
                }
            }
        }
    }
}

fn full_test(matcher: &Matcher, s: &str) -> bool {
    match matcher {
        Matcher::Str(m) => m.is_match(s),
        Matcher::Regex(r) => r.is_match(s),
        _ => false,
    }
}

/// A float that is a whole number, as an index key.
fn number_key(f: f64) -> Option<u64> {
    (f.is_finite() && f.fract() == 0.0).then(|| f.to_bits())
}

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
            // exactly as the matcher does before searching it.
            Some(Literal { needle, placement }) if !needle.is_empty() => {
                Some(IndexKind::Literal(needle.to_string(), placement))
            }
            _ => matcher.necessary_needles().map(IndexKind::Necessary),
        },
        (Test::Num { op: CmpOp::Eq, value }, _) => number_key(*value).map(IndexKind::Number),
        (Test::Regex(_), m) => m.necessary_needles().map(IndexKind::Necessary),
        _ => None,
    }
}

/// What every route of one engine shares: how each predicate can be indexed, and the scans
/// already built (routes often scan the same predicates of the same field).
#[derive(Debug)]
pub struct Shared {
    kinds: Vec<Option<IndexKind>>,
    scans: Mutex<HashMap<ScanKey, Arc<Scan>>>,
}

/// A scan is identified by what it reads and which predicates it decides.
type ScanKey = (Target, Vec<u32>);

impl Shared {
    pub fn new(plan: &Plan, matchers: &[Matcher]) -> Shared {
        let kinds = plan.predicates.iter().zip(matchers).map(|(p, m)| index_kind(&p.test, m)).collect();
        Shared { kinds, scans: Mutex::new(HashMap::new()) }
    }

    fn scan(&self, target: &Target, preds: &[u32]) -> Arc<Scan> {
        let key = (target.clone(), preds.to_vec());
        if let Some(s) = self.scans.lock().expect("scan cache").get(&key) {
            return s.clone();
        }
        let built = Arc::new(build_scan(target, preds, &self.kinds));
        self.scans.lock().expect("scan cache").entry(key).or_insert(built).clone()
    }
}

fn build_scan(target: &Target, preds: &[u32], kinds: &[Option<IndexKind>]) -> Scan {
    let mut needles: Vec<String> = Vec::new();
    let mut needle_index: HashMap<String, usize> = HashMap::new();
    let mut pattern_preds: Vec<Vec<(u32, Placement, Verdict)>> = Vec::new();
    let mut numbers: HashMap<u64, Vec<u32>> = HashMap::new();
    let mut exact: FxHashMap<String, Vec<u32>> = FxHashMap::default();
    let mut add_needle = |needle: &str, entry: (u32, Placement, Verdict)| {
        let key = needle.to_ascii_lowercase();
        let i = *needle_index.entry(key.clone()).or_insert_with(|| {
            needles.push(key);
            pattern_preds.push(Vec::new());
            needles.len() - 1
        });
        if !pattern_preds[i].contains(&entry) {
            pattern_preds[i].push(entry);
        }
    };
    for &p in preds {
        match &kinds[p as usize] {
            Some(IndexKind::Literal(needle, Placement::Whole)) => {
                exact.entry(needle.to_lowercase()).or_default().push(p);
            }
            Some(IndexKind::Literal(needle, placement)) => {
                add_needle(needle, (p, *placement, Verdict::Holds));
            }
            Some(IndexKind::Necessary(list)) => {
                for needle in list {
                    add_needle(needle, (p, Placement::Anywhere, Verdict::Verify));
                }
            }
            Some(IndexKind::Number(k)) => numbers.entry(*k).or_default().push(p),
            None => unreachable!("only indexable predicates are scanned"),
        }
    }
    let automaton = if needles.is_empty() {
        Automaton::None
    } else {
        // A DFA searches fastest; past a few dozen needles its build time and size outgrow the
        // gain, so let the library choose there. Should even that fail (a limit on states), the
        // scan still decides its predicates, one full test at a time.
        let kind = (needles.len() <= DFA_NEEDLES).then_some(AhoCorasickKind::DFA);
        let build = |kind| AhoCorasick::builder().ascii_case_insensitive(true).kind(kind).build(&needles);
        match build(kind).or_else(|_| build(None)) {
            Ok(ac) => Automaton::Built(ac),
            Err(_) => {
                let mut preds: Vec<u32> = pattern_preds.iter().flatten().map(|(p, _, _)| *p).collect();
                preds.sort_unstable();
                preds.dedup();
                Automaton::Unavailable(preds)
            }
        }
    };
    let shortest = needles.iter().map(String::len).min().unwrap_or(0);
    Scan { target: target.clone(), automaton, shortest, pattern_preds, numbers, exact }
}

/// Marks the predicates under `node` (each shared node visited once per route).
fn mark_used(nodes: &[Node], node: u32, used: &mut [bool], visited: &mut [bool]) {
    if std::mem::replace(&mut visited[node as usize], true) {
        return;
    }
    match &nodes[node as usize] {
        Node::Const(_) => {}
        Node::Pred(p) => used[*p as usize] = true,
        Node::Not(inner) => mark_used(nodes, *inner, used, visited),
        Node::And(items) | Node::Or(items) => items.iter().for_each(|n| mark_used(nodes, *n, used, visited)),
    }
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

/// Up to this many needles a scan uses a DFA (measured with all SigmaHQ rules over the OTRF
/// Windows sample: 0, 20, 50, 100, 200, 300, 800, 1000, 5000 were tried; the differences from
/// 20 up were within the run-to-run noise, and memory grows with the threshold).
const DFA_NEEDLES: usize = 50;
