//! Field access: how a Sigma field name finds its value(s) in a JSON event.
//!
//! Decisions (SIGMA.md): a literal flat key with the dotted name wins; otherwise the name is a
//! path into nested objects (a key may itself contain dots, so every split is tried, left to
//! right); an array on the way, or at the end, contributes every element. This module never
//! interprets values: matching is [`crate::matcher`]'s job.

use crate::json::Json;

/// The values a field name reaches in one event. Empty when the field is absent.
#[derive(Debug, Clone, Default)]
pub struct Found<'a, 'e> {
    repr: Repr<'a, 'e>,
}

/// Almost every lookup reaches zero or one value: only those allocate nothing.
#[derive(Debug, Clone, Default)]
enum Repr<'a, 'e> {
    #[default]
    Absent,
    One(&'a Json<'e>),
    Many(Vec<&'a Json<'e>>),
}

impl<'a, 'e> Found<'a, 'e> {
    pub fn is_absent(&self) -> bool {
        matches!(self.repr, Repr::Absent)
    }

    /// The field is absent, or every value it reaches is JSON null.
    pub fn is_null(&self) -> bool {
        self.values().all(|v| v.is_null())
    }

    /// The values, arrays flattened (an array matches when any element matches).
    pub fn leaves(&self) -> impl Iterator<Item = &'a Json<'e>> + '_ {
        self.values().flat_map(Leaves::new)
    }

    /// The values reached, arrays not flattened.
    pub fn values(&self) -> impl Iterator<Item = &'a Json<'e>> + '_ {
        let (one, many): (Option<&'a Json<'e>>, &[&'a Json<'e>]) = match &self.repr {
            Repr::Absent => (None, &[]),
            Repr::One(v) => (Some(*v), &[]),
            Repr::Many(vs) => (None, vs.as_slice()),
        };
        one.into_iter().chain(many.iter().copied())
    }

    /// The value as it appears in the event, for alert output (the first one reached).
    pub fn first(&self) -> Option<&'a Json<'e>> {
        self.values().next()
    }
}

/// Resolves a Sigma field name against an event.
pub fn lookup<'a, 'e>(event: &'a Json<'e>, name: &str) -> Found<'a, 'e> {
    if let Json::Object(map) = event {
        if let Some(v) = map.get(name) {
            return Found { repr: Repr::One(v) };
        }
        if !name.contains('.') {
            return Found::default();
        }
    }
    let mut found = Found::default();
    walk(event, name, &mut found);
    found
}

impl<'a, 'e> Found<'a, 'e> {
    /// Adds a value; only a second one allocates.
    fn push(&mut self, value: &'a Json<'e>) {
        self.repr = match std::mem::take(&mut self.repr) {
            Repr::Absent => Repr::One(value),
            Repr::One(first) => Repr::Many(vec![first, value]),
            Repr::Many(mut values) => {
                values.push(value);
                Repr::Many(values)
            }
        };
    }

    fn count(&self) -> usize {
        match &self.repr {
            Repr::Absent => 0,
            Repr::One(_) => 1,
            Repr::Many(values) => values.len(),
        }
    }
}

fn walk<'a, 'e>(value: &'a Json<'e>, path: &str, out: &mut Found<'a, 'e>) {
    match value {
        Json::Object(map) => {
            if let Some(v) = map.get(path) {
                out.push(v);
                return;
            }
            for (i, _) in path.match_indices('.') {
                if let Some(child) = map.get(&path[..i]) {
                    let before = out.count();
                    walk(child, &path[i + 1..], out);
                    if out.count() > before {
                        return;
                    }
                }
            }
        }
        Json::Array(items) => {
            for item in items {
                walk(item, path, out);
            }
        }
        _ => {}
    }
}

/// Depth-first iterator over the non-array values inside a value (the value itself if it is
/// not an array). Allocates only for arrays.
struct Leaves<'a, 'e> {
    next: Option<&'a Json<'e>>,
    stack: Vec<&'a Json<'e>>,
}

impl<'a, 'e> Leaves<'a, 'e> {
    fn new(v: &'a Json<'e>) -> Self {
        Leaves { next: Some(v), stack: Vec::new() }
    }
}

impl<'a, 'e> Iterator for Leaves<'a, 'e> {
    type Item = &'a Json<'e>;
    fn next(&mut self) -> Option<&'a Json<'e>> {
        loop {
            let v = self.next.take().or_else(|| self.stack.pop())?;
            match v {
                Json::Array(items) => self.stack.extend(items.iter().rev()),
                other => return Some(other),
            }
        }
    }
}

/// Calls `f` on every string value in the event, nested ones included, until it returns true.
/// This is the haystack of keyword (field-less) searches.
pub fn any_string(value: &Json<'_>, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match value {
        Json::String(s) => f(s),
        Json::Array(items) => items.iter().any(|v| any_string(v, f)),
        Json::Object(map) => map.values().any(|v| any_string(v, f)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flat_dotted_key_wins_over_nested_path() {
        let value = json!({"a.b": 1, "a": {"b": 2}});
        let ev = Json::from_value(&value);
        assert_eq!(lookup(&ev, "a.b").first(), Some(&Json::Number(1.into())));
    }

    #[test]
    fn nested_path_through_arrays_collects_every_element() {
        let value = json!({"r": [{"n": "x"}, {"n": "y"}, {"m": 1}]});
        let ev = Json::from_value(&value);
        let found = lookup(&ev, "r.n");
        let got: Vec<_> = found.leaves().filter_map(Json::as_str).collect();
        assert_eq!(got, vec!["x", "y"]);
    }

    #[test]
    fn key_containing_dots_inside_nested_object() {
        let value = json!({"p": {"x.y": "z"}});
        let ev = Json::from_value(&value);
        assert_eq!(lookup(&ev, "p.x.y").first(), Some(&Json::String("z".into())));
        assert!(lookup(&ev, "p.x").is_absent());
    }
}
