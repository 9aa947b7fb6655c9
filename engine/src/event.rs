//! Field access: how a Sigma field name finds its value(s) in a JSON event.
//!
//! Decisions (SIGMA.md): a literal flat key with the dotted name wins; otherwise the name is a
//! path into nested objects (a key may itself contain dots, so every split is tried, left to
//! right); an array on the way, or at the end, contributes every element. This module never
//! interprets values: matching is [`crate::matcher`]'s job.

use serde_json::Value;

/// The values a field name reaches in one event. Empty when the field is absent.
#[derive(Debug, Clone, Default)]
pub struct Found<'a> {
    repr: Repr<'a>,
}

/// Almost every lookup reaches zero or one value: only those allocate nothing.
#[derive(Debug, Clone, Default)]
enum Repr<'a> {
    #[default]
    Absent,
    One(&'a Value),
    Many(Vec<&'a Value>),
}

impl<'a> Found<'a> {
    pub fn is_absent(&self) -> bool {
        matches!(self.repr, Repr::Absent)
    }

    /// The field is absent, or every value it reaches is JSON null.
    pub fn is_null(&self) -> bool {
        self.values().all(|v| v.is_null())
    }

    /// The values, arrays flattened (an array matches when any element matches).
    pub fn leaves(&self) -> impl Iterator<Item = &'a Value> + '_ {
        self.values().flat_map(Leaves::new)
    }

    /// The values reached, arrays not flattened.
    pub fn values(&self) -> impl Iterator<Item = &'a Value> + '_ {
        let (one, many): (Option<&'a Value>, &[&'a Value]) = match &self.repr {
            Repr::Absent => (None, &[]),
            Repr::One(v) => (Some(*v), &[]),
            Repr::Many(vs) => (None, vs.as_slice()),
        };
        one.into_iter().chain(many.iter().copied())
    }

    /// The value as it appears in the event, for alert output (the first one reached).
    pub fn first(&self) -> Option<&'a Value> {
        self.values().next()
    }
}

/// Resolves a Sigma field name against an event.
pub fn lookup<'a>(event: &'a Value, name: &str) -> Found<'a> {
    if let Value::Object(map) = event {
        if let Some(v) = map.get(name) {
            return Found { repr: Repr::One(v) };
        }
        if !name.contains('.') {
            return Found::default();
        }
    }
    let mut values = Vec::new();
    walk(event, name, &mut values);
    Found {
        repr: match values.len() {
            0 => Repr::Absent,
            1 => Repr::One(values[0]),
            _ => Repr::Many(values),
        },
    }
}

fn walk<'a>(value: &'a Value, path: &str, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            if let Some(v) = map.get(path) {
                out.push(v);
                return;
            }
            for (i, _) in path.match_indices('.') {
                if let Some(child) = map.get(&path[..i]) {
                    let before = out.len();
                    walk(child, &path[i + 1..], out);
                    if out.len() > before {
                        return;
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, path, out);
            }
        }
        _ => {}
    }
}

/// Depth-first iterator over the non-array values inside a value (the value itself if it is
/// not an array). Allocates only for arrays.
struct Leaves<'a> {
    next: Option<&'a Value>,
    stack: Vec<&'a Value>,
}

impl<'a> Leaves<'a> {
    fn new(v: &'a Value) -> Self {
        Leaves { next: Some(v), stack: Vec::new() }
    }
}

impl<'a> Iterator for Leaves<'a> {
    type Item = &'a Value;
    fn next(&mut self) -> Option<&'a Value> {
        loop {
            let v = self.next.take().or_else(|| self.stack.pop())?;
            match v {
                Value::Array(items) => self.stack.extend(items.iter().rev()),
                other => return Some(other),
            }
        }
    }
}

/// Calls `f` on every string value in the event, nested ones included, until it returns true.
/// This is the haystack of keyword (field-less) searches.
pub fn any_string(value: &Value, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().any(|v| any_string(v, f)),
        Value::Object(map) => map.values().any(|v| any_string(v, f)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flat_dotted_key_wins_over_nested_path() {
        let ev = json!({"a.b": 1, "a": {"b": 2}});
        assert_eq!(lookup(&ev, "a.b").first(), Some(&json!(1)));
    }

    #[test]
    fn nested_path_through_arrays_collects_every_element() {
        let ev = json!({"r": [{"n": "x"}, {"n": "y"}, {"m": 1}]});
        let found = lookup(&ev, "r.n");
        let got: Vec<_> = found.leaves().collect();
        assert_eq!(got, vec![&json!("x"), &json!("y")]);
    }

    #[test]
    fn key_containing_dots_inside_nested_object() {
        let ev = json!({"p": {"x.y": "z"}});
        assert_eq!(lookup(&ev, "p.x.y").first(), Some(&json!("z")));
        assert!(lookup(&ev, "p.x").is_absent());
    }
}
