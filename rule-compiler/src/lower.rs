//! Lowering: a typed detection rule → one boolean expression over predicates.
//!
//! Search identifiers become trees (map = AND, list = OR, scalars = keywords), the condition
//! is resolved against them (`1 of`/`all of`, patterns, `them`), and each predicate is interned
//! into the plan's shared table so rules reuse identical tests. A rule is lowered completely
//! before anything is interned, so a rejected rule leaves nothing behind. The two halves are
//! separate ([`lower_detached`], [`Interner::add`]): the first needs nothing shared, so files
//! lower in parallel; the second runs in file order, so the table is the same either way.

use crate::ast::{DetectionRule, SearchIdentifier};
use crate::condition::{self, Cond, OfTarget};
use crate::diagnostics::{Error, Pos, Result};
use crate::modifiers::{self, Placeholders};
use crate::yaml::{Kind, Node};
use sigil_engine::plan::{Expr, Predicate, Target, Test};

/// A rule's expression before its predicates are interned. A predicate carries its interning
/// key, computed where the rule is lowered (in parallel) rather than where it is interned.
#[derive(Debug, Clone)]
enum Tree {
    Pred(Predicate, String),
    Not(Box<Tree>),
    And(Vec<Tree>),
    Or(Vec<Tree>),
}

fn and(mut items: Vec<Tree>) -> Tree {
    if items.len() == 1 {
        items.pop().unwrap()
    } else {
        Tree::And(items)
    }
}

fn or(mut items: Vec<Tree>) -> Tree {
    if items.len() == 1 {
        items.pop().unwrap()
    } else {
        Tree::Or(items)
    }
}

/// The shared predicate table of a plan being built.
#[derive(Debug, Default)]
pub struct Interner {
    pub predicates: Vec<Predicate>,
    index: foldhash::HashMap<String, u32>,
}

/// A rule's (or filter's) expression, lowered but not yet interned.
#[derive(Debug, Clone)]
pub struct Lowered(Tree);

/// The predicate's identity in the table: its serialized form, faithful for every predicate
/// (floats included).
fn key(p: &Predicate) -> String {
    serde_json::to_string(p).expect("predicates serialize")
}

impl Interner {
    /// Interns a lowered expression's predicates; the expression now points into the table.
    pub fn add(&mut self, lowered: Lowered) -> Expr {
        self.expr(lowered.0)
    }

    fn intern(&mut self, p: Predicate, key: String) -> u32 {
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.predicates.len() as u32;
        self.predicates.push(p);
        self.index.insert(key, i);
        i
    }

    fn expr(&mut self, tree: Tree) -> Expr {
        match tree {
            Tree::Pred(p, key) => Expr::Pred(self.intern(p, key)),
            Tree::Not(t) => Expr::Not(Box::new(self.expr(*t))),
            Tree::And(ts) => Expr::And(ts.into_iter().map(|t| self.expr(t)).collect()),
            Tree::Or(ts) => Expr::Or(ts.into_iter().map(|t| self.expr(t)).collect()),
        }
    }
}

/// Lowers a rule's detection into an expression whose predicates live in `interner`.
pub fn lower(rule: &DetectionRule, placeholders: &Placeholders, interner: &mut Interner) -> Result<Expr> {
    Ok(interner.add(lower_detached(rule, placeholders)?))
}

/// Lowers a rule's detection without touching any shared table: [`Interner::add`] finishes it.
pub fn lower_detached(rule: &DetectionRule, placeholders: &Placeholders) -> Result<Lowered> {
    // Conditions first: a v1 pipe aggregation is the most useful thing to report.
    let mut parsed = Vec::with_capacity(rule.detection.conditions.len());
    for c in &rule.detection.conditions {
        let cond = condition::parse(&c.text).map_err(|e| Error::new(c.pos.shifted(e.offset), e.message))?;
        parsed.push((cond, c.pos));
    }
    if let Some(pos) = rule.detection.timeframe {
        return Err(Error::new(
            pos,
            "'timeframe' in a detection is Sigma v1 aggregation syntax: write a correlation rule with a 'timespan' instead",
        ));
    }
    let mut defined: Vec<(&str, Tree)> = Vec::with_capacity(rule.detection.identifiers.len());
    for ident in &rule.detection.identifiers {
        defined.push((ident.name.as_str(), identifier(ident, placeholders)?));
    }
    let mut alternatives = Vec::new();
    for (cond, pos) in &parsed {
        alternatives.push(resolve(cond, &defined, &|offset| pos.shifted(offset))?);
    }
    Ok(Lowered(or(alternatives)))
}

fn identifier(ident: &SearchIdentifier, placeholders: &Placeholders) -> Result<Tree> {
    definition(&ident.definition, placeholders, &ident.name)
}

fn definition(node: &Node, placeholders: &Placeholders, name: &str) -> Result<Tree> {
    match &node.kind {
        Kind::Map(entries) => {
            if entries.is_empty() {
                return Err(Error::new(node.pos, format!("the search identifier '{name}' is empty")));
            }
            let mut items = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let text = k.scalar_text().unwrap_or_default();
                let key = modifiers::parse_key(&text, k.pos)?;
                items.push(entry_tree(modifiers::entry(&key, k.pos, v, placeholders)?));
            }
            Ok(and(items))
        }
        Kind::Seq(items) => {
            if items.is_empty() {
                return Err(Error::new(node.pos, format!("the search identifier '{name}' is an empty list")));
            }
            let mut alternatives = Vec::with_capacity(items.len());
            for item in items {
                alternatives.push(match &item.kind {
                    Kind::Map(_) => definition(item, placeholders, name)?,
                    Kind::Seq(_) => {
                        return Err(Error::new(item.pos, "a list inside a search identifier's list is not Sigma"))
                    }
                    _ => keyword(item, placeholders)?,
                });
            }
            Ok(or(alternatives))
        }
        Kind::Null => Err(Error::new(node.pos, format!("the search identifier '{name}' has no definition"))),
        _ => keyword(node, placeholders),
    }
}

fn keyword(node: &Node, placeholders: &Placeholders) -> Result<Tree> {
    let key = modifiers::Key { field: String::new(), modifiers: Vec::new() };
    Ok(entry_tree(modifiers::entry(&key, node.pos, node, placeholders)?))
}

fn entry_tree(e: modifiers::Entry) -> Tree {
    if let Target::Field(fields) = &e.target {
        if fields.contains(modifiers::ANY_OF) {
            let absence = e.values.iter().flatten().all(|t| matches!(t, Test::Null | Test::Exists(false)));
            let per_field: Vec<Tree> = fields
                .split(modifiers::ANY_OF)
                .map(|f| entry_tree(modifiers::Entry { target: Target::Field(f.to_string()), ..e.clone() }))
                .collect();
            return if absence { and(per_field) } else { or(per_field) };
        }
    }
    let per_value: Vec<Tree> = e
        .values
        .into_iter()
        .map(|variants| {
            or(variants
                .into_iter()
                .map(|test: Test| {
                    let predicate = Predicate { target: e.target.clone(), test };
                    let key = key(&predicate);
                    Tree::Pred(predicate, key)
                })
                .collect())
        })
        .collect();
    let combined = if e.all { and(per_value) } else { or(per_value) };
    if e.negate {
        Tree::Not(Box::new(combined))
    } else {
        combined
    }
}

fn resolve(cond: &Cond, defined: &[(&str, Tree)], at: &dyn Fn(usize) -> Pos) -> Result<Tree> {
    Ok(match cond {
        Cond::Ident { name, offset } => match defined.iter().find(|(n, _)| n == name) {
            Some((_, t)) => t.clone(),
            None => {
                let known: Vec<&str> = defined.iter().map(|(n, _)| *n).collect();
                return Err(Error::new(
                    at(*offset),
                    format!(
                        "the condition uses '{name}', which is not a search identifier of this rule (defined: {})",
                        known.join(", ")
                    ),
                ));
            }
        },
        Cond::Not(inner) => Tree::Not(Box::new(resolve(inner, defined, at)?)),
        Cond::And(items) => and(items.iter().map(|c| resolve(c, defined, at)).collect::<Result<_>>()?),
        Cond::Or(items) => or(items.iter().map(|c| resolve(c, defined, at)).collect::<Result<_>>()?),
        Cond::Of { all, target, offset } => {
            let chosen: Vec<Tree> =
                defined.iter().filter(|(n, _)| of_selects(target, n)).map(|(_, t)| t.clone()).collect();
            if chosen.is_empty() {
                let what = match target {
                    OfTarget::Them => "them".to_string(),
                    OfTarget::Pattern(p) => format!("'{p}'"),
                };
                return Err(Error::new(at(*offset), format!("{what} matches no search identifier of this rule")));
            }
            if *all {
                and(chosen)
            } else {
                or(chosen)
            }
        }
    })
}

/// Whether `1 of`/`all of` with this target takes the search identifier `name` (`them` and
/// patterns skip names starting with `_` unless the pattern does too).
pub(crate) fn of_selects(target: &OfTarget, name: &str) -> bool {
    match target {
        OfTarget::Them => !name.starts_with('_'),
        OfTarget::Pattern(p) => pattern_matches(p, name) && (p.starts_with('_') || !name.starts_with('_')),
    }
}

/// Full match of an identifier pattern where `*` is any sequence.
fn pattern_matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::pattern_matches;

    #[test]
    fn patterns() {
        assert!(pattern_matches("sel*", "selection"));
        assert!(!pattern_matches("selection", "selection_extra"));
        assert!(pattern_matches("*_main_*", "filter_main_x"));
        assert!(pattern_matches("a*b*c", "abc"));
        assert!(!pattern_matches("a*b*c", "acb"));
    }
}

#[cfg(test)]
mod position_tests {
    use crate::{compile_str, Options};

    fn first_error(detection: &str) -> (u32, u32, String) {
        let rule = format!("title: t\nlogsource:\n  product: p\ndetection:\n{detection}");
        let out = compile_str("r.yml", &rule, &Options::default());
        let d = &out.diagnostics[0];
        (d.line, d.col, d.message.clone())
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        let (line, col, msg) = first_error("  sel:\n    a: 1\n  condition: 'sel and nope'\n");
        assert_eq!((line, col), (7, 23), "{msg}");
        assert!(msg.contains("'nope'"));
        let (line, col, _) = first_error("  sel:\n    'a|contains|bogus': 1\n  condition: sel\n");
        assert_eq!((line, col), (6, 17));
        let (line, col, _) = first_error("  sel:\n    a|cidr: 10.0.0.1/8\n  condition: sel\n");
        assert_eq!((line, col), (6, 13));
    }
}
