//! [`Source`]: a raw event being mapped. It reads fields by dotted path and remembers which
//! were read, so that the rest can go to `unmapped`. It never builds OCSF attributes.

use crate::{parse_int, prune};
use serde_json::{Map, Value};
use std::cell::RefCell;

/// A raw event being mapped: reads fields by dotted path and remembers which were read, so
/// that the rest can go to `unmapped`.
pub(crate) struct Source<'a> {
    pub event: &'a Value,
    used: RefCell<Vec<String>>,
    /// Only [`Source::claim`] removes a field from `unmapped` (a mapping with a [`Field`]
    /// table): reading one does not.
    tabled: bool,
}

/// Where one source field goes, verbatim: the first of `to` (OCSF attribute paths) that the
/// mapping filled with the same value, or else the first, filled by [`crate::place`]. A
/// source field that ends up verbatim at none of them stays in `unmapped`.
pub struct Field {
    pub from: &'static str,
    pub to: &'static [&'static str],
}

impl<'a> Source<'a> {
    pub fn new(event: &'a Value) -> Self {
        Source { event, used: RefCell::new(Vec::new()), tabled: false }
    }

    /// A source whose `unmapped` keeps every field but those a [`Field`] table claims: what
    /// a mapping reads to compute an attribute (an outcome, a flag) stays there too, so that
    /// the `ocsf` pipeline finds every source field either at its table attribute or under
    /// `unmapped.<its path>`.
    pub fn tabled(event: &'a Value) -> Self {
        Source { tabled: true, ..Source::new(event) }
    }

    /// Removes `path` from `unmapped`: its value is held verbatim elsewhere.
    pub fn claim(&self, path: &str) {
        self.used.borrow_mut().push(path.to_string());
    }

    /// The value at `path` (dotted, through objects), without marking it read. Null is absent.
    pub fn peek(&self, path: &str) -> Option<&'a Value> {
        let mut v = self.event;
        for key in path.split('.') {
            v = v.as_object()?.get(key)?;
        }
        (!v.is_null()).then_some(v)
    }

    /// The value at `path`, marked read.
    pub fn get(&self, path: &str) -> Option<&'a Value> {
        let v = self.peek(path);
        if v.is_some() {
            self.mark(path);
        }
        v
    }

    /// A non-empty string at `path`, marked read.
    pub fn str(&self, path: &str) -> Option<&'a str> {
        self.peek(path).and_then(Value::as_str).filter(|s| !s.is_empty()).inspect(|_| self.mark(path))
    }

    /// A string, number or boolean at `path` as text (non-empty), marked read.
    pub fn text(&self, path: &str) -> Option<String> {
        let text = match self.peek(path)? {
            Value::String(s) if !s.is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        self.mark(path);
        Some(text)
    }

    /// An integer at `path` (a JSON number, or a decimal or `0x` hexadecimal string), marked read.
    pub fn int(&self, path: &str) -> Option<i64> {
        let n = match self.peek(path)? {
            Value::Number(n) => n.as_i64()?,
            Value::String(s) => parse_int(s)?,
            _ => return None,
        };
        self.mark(path);
        Some(n)
    }

    /// Marks `path` read without looking at it.
    pub fn mark(&self, path: &str) {
        if !self.tabled {
            self.used.borrow_mut().push(path.to_string());
        }
    }

    /// The event without the fields read (nor nulls; a tabled source: without the fields
    /// claimed), or `None` when nothing is left.
    pub fn unmapped(&self) -> Option<Value> {
        let mut rest = self.event.clone();
        for path in self.used.borrow().iter() {
            remove_path(&mut rest, &path.split('.').collect::<Vec<_>>());
        }
        // A tabled source keeps what is left verbatim: `[]` and `{}` are values a rule can test
        // (`|exists`), as on the raw record.
        let rest = if self.tabled { rest } else { prune(rest) };
        match rest {
            Value::Object(m) if !m.is_empty() => Some(Value::Object(m)),
            _ => None,
        }
    }
}

/// Removes the member at `path`, and the objects that this leaves empty.
fn remove_path(value: &mut Value, path: &[&str]) {
    let Some(map) = value.as_object_mut() else { return };
    match path {
        [] => {}
        [key] => {
            map.remove(*key);
        }
        [key, rest @ ..] => {
            if let Some(child) = map.get_mut(*key) {
                remove_path(child, rest);
                if child.as_object().is_some_and(Map::is_empty) {
                    map.remove(*key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unmapped_holds_what_was_not_read() {
        let event = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": {"f": 4}});
        let src = Source::new(&event);
        assert_eq!(src.int("a"), Some(1));
        assert_eq!(src.int("b.c"), Some(2));
        src.mark("e.f");
        assert_eq!(src.unmapped(), Some(json!({"b": {"d": 3}})));
    }
}
