//! The event document: a JSON tree that borrows from the text it was parsed from.
//!
//! Parsing an event is the one cost every event pays, so the document is built for it: strings
//! without escapes are slices of the input, objects are vectors of members (events have a few
//! dozen keys; a linear search beats hashing each one at parse time). Parsing is serde_json's;
//! this module only chooses what the parse builds. It never interprets fields: lookups by Sigma
//! field name are [`crate::event`]'s job.
//!
//! Duplicate keys behave as in `serde_json::Value` (with `preserve_order`): the last value wins,
//! at the position of the first.
//!
//! Depth is bounded: a document nested deeper than [`MAX_EVENT_DEPTH`] is refused while it is
//! parsed, so nothing that walks a document recursively (layout, field lookup, serialization,
//! drop) can run out of stack on an event, and an alert or sealed record that wraps an event
//! stays within serde_json's own recursion limit (128) for whoever reads it back. Documents that
//! arrive parsed by something else (arrays, EVTX records) are measured with [`deeper_than`].

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Number;
use std::borrow::Cow;
use std::fmt;

/// The deepest nesting of arrays and objects an event may have (the event object is level 1).
/// Fixed: far below what a 2 MiB thread stack holds, and 28 levels under serde_json's
/// recursion limit, so the alert, sealed record or finding that wraps an event still parses.
pub const MAX_EVENT_DEPTH: usize = 100;

const TOO_DEEP: &str = "nested deeper than the event depth limit";

/// Why an event's text did not parse, in words that name the depth limit when that is the cause.
pub fn describe_parse_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if text.starts_with(TOO_DEEP) || text.starts_with("recursion limit exceeded") {
        format!("{TOO_DEEP} of {MAX_EVENT_DEPTH} arrays and objects, at column {}", e.column())
    } else {
        format!("invalid JSON: {text}")
    }
}

/// Whether `value` nests arrays and objects more than `max` deep (measured without recursion).
pub fn deeper_than(value: &serde_json::Value, max: usize) -> bool {
    use serde_json::Value;
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth + 1 > max {
            return true;
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    false
}

/// A JSON value borrowed (where it can be) from the event text.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Json<'a> {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

/// A JSON object: its members in document order, keys unique.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object<'a> {
    members: Vec<(Cow<'a, str>, Json<'a>)>,
}

impl<'a> Json<'a> {
    /// Parses one JSON document; the result borrows from `text`.
    pub fn parse(text: &'a str) -> Result<Json<'a>, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// A view of a `serde_json::Value` (its strings borrowed), for events that arrive parsed.
    pub fn from_value(value: &'a serde_json::Value) -> Json<'a> {
        use serde_json::Value;
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::String(Cow::Borrowed(s)),
            Value::Array(items) => Json::Array(items.iter().map(Json::from_value).collect()),
            Value::Object(map) => Json::Object(Object {
                members: map.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), Json::from_value(v))).collect(),
            }),
        }
    }

    /// An owned copy, for what outlives the event (correlation groups, alert fields).
    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.to_string()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(obj) => Value::Object(obj.iter().map(|(k, v)| (k.to_string(), v.to_value())).collect()),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Json::Object(obj) => Some(obj),
            _ => None,
        }
    }

    /// The member `key` of an object; `None` for other values.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.as_object().and_then(|obj| obj.get(key))
    }
}

impl<'a> Object<'a> {
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets a member: a new key goes last, an existing one keeps its place.
    pub fn insert(&mut self, key: Cow<'a, str>, value: Json<'a>) {
        match self.members.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.members.push((key, value)),
        }
    }

    /// The members, in order, by value.
    pub fn into_members(self) -> Vec<(Cow<'a, str>, Json<'a>)> {
        self.members
    }

    /// Takes a member out, keeping the others in order.
    pub fn remove(&mut self, key: &str) -> Option<Json<'a>> {
        let at = self.members.iter().position(|(k, _)| k == key)?;
        Some(self.members.remove(at).1)
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.members.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub fn values(&self) -> impl Iterator<Item = &Json<'a>> {
        self.members.iter().map(|(_, v)| v)
    }

    /// Adds a member as a parser sees it: a repeated key replaces the earlier value in place.
    /// Past [`LINEAR_KEYS`] members a possible repeat is not searched for but left to
    /// [`Object::dedup_keys`] (returns true then), so that an object of n keys costs
    /// O(n log n), not O(n²).
    fn push(&mut self, key: Cow<'a, str>, value: Json<'a>, seen: &mut KeyFilter) -> bool {
        let mut deferred = false;
        if seen.maybe_seen(&key) {
            if self.members.len() > LINEAR_KEYS {
                deferred = true;
            } else if let Some(slot) = self.members.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = value;
                return false;
            }
        }
        self.members.push((key, value));
        deferred
    }

    /// Adds a member without looking for its key; the caller calls [`Object::dedup_keys`]
    /// after the last one.
    pub(crate) fn push_unchecked(&mut self, key: Cow<'a, str>, value: Json<'a>) {
        self.members.push((key, value));
    }

    /// Makes the keys unique as [`Object::insert`] one by one would have: a repeated key keeps
    /// its first place and its last value. O(n log n).
    pub(crate) fn dedup_keys(&mut self) {
        let n = self.members.len();
        if n < 2 {
            return;
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| self.members[a].0.cmp(&self.members[b].0).then(a.cmp(&b)));
        let mut dropped = vec![false; n];
        let mut any = false;
        let mut start = 0;
        while start < n {
            let first = order[start];
            let mut end = start + 1;
            while end < n && self.members[order[end]].0 == self.members[first].0 {
                dropped[order[end]] = true;
                end += 1;
            }
            if end - start > 1 {
                let last = order[end - 1];
                self.members[first].1 = std::mem::replace(&mut self.members[last].1, Json::Null);
                any = true;
            }
            start = end;
        }
        if any {
            let mut i = 0;
            self.members.retain(|_| {
                i += 1;
                !dropped[i - 1]
            });
        }
    }
}

/// Up to this many members, a parsed object's possibly repeated key is looked for at once. A
/// Windows event has 30 to 60 fields: sorting them afterwards costs more than the comparisons
/// after a filter collision, and n × 128 comparisons at most keep the worst case linear.
const LINEAR_KEYS: usize = 128;

/// A 128-bit filter over the keys of one object: a repeated key is searched for only when its
/// bit was already set, so unique keys (nearly all of them) cost no comparison. (Two words, not
/// a `u128`: on wasm32 a 128-bit shift is a call.)
struct KeyFilter([u64; 2]);

impl KeyFilter {
    fn maybe_seen(&mut self, key: &str) -> bool {
        let bytes = key.as_bytes();
        let mix = bytes.len().wrapping_mul(31)
            ^ usize::from(bytes.first().copied().unwrap_or(0)).wrapping_mul(7)
            ^ usize::from(bytes.last().copied().unwrap_or(0)).wrapping_mul(131)
            ^ usize::from(bytes.get(bytes.len() / 2).copied().unwrap_or(0)).wrapping_mul(17);
        let (word, bit) = (mix / 64 % 2, 1u64 << (mix % 64));
        let seen = self.0[word] & bit != 0;
        self.0[word] |= bit;
        seen
    }
}

thread_local! {
    /// The members of the last event object this thread parsed: the room the next one starts
    /// with. A stream's events have much the same keys, and an event's members vector grown by
    /// doubling from 16 (Windows events have 30 to 60) was copied once or twice more per event.
    static EVENT_MEMBERS: std::cell::Cell<usize> = const { std::cell::Cell::new(16) };
}

/// The most room an event object starts with, whatever the last one had.
const MAX_MEMBERS_HINT: usize = 256;

/// A string as the parser hands it over: borrowed when it had no escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(s)))
            }
        }
        d.deserialize_str(StrVisitor)
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Nested(0).deserialize(d)
    }
}

/// A value read inside this many arrays and objects.
struct Nested(usize);

impl<'de> DeserializeSeed<'de> for Nested {
    type Value = Json<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        d.deserialize_any(JsonVisitor { depth: self.0 })
    }
}

struct JsonVisitor {
    depth: usize,
}

impl JsonVisitor {
    /// The level of the array or object being opened, refused past the limit.
    fn open<E: serde::de::Error>(&self) -> Result<Nested, E> {
        if self.depth >= MAX_EVENT_DEPTH {
            return Err(E::custom(TOO_DEEP));
        }
        Ok(Nested(self.depth + 1))
    }
}

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Json<'de>, E> {
        Ok(Number::from_f64(n).map_or(Json::Null, Json::Number))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let inside = self.open::<A::Error>()?.0;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(Nested(inside))? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let inside = self.open::<A::Error>()?.0;
        let capacity = match map.size_hint() {
            Some(n) => n,
            None if self.depth == 0 => EVENT_MEMBERS.get(),
            None => 16,
        };
        let mut obj = Object { members: Vec::with_capacity(capacity) };
        let mut seen = KeyFilter([0; 2]);
        let mut deferred = false;
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            let value = map.next_value_seed(Nested(inside))?;
            deferred |= obj.push(key, value, &mut seen);
        }
        if deferred {
            obj.dedup_keys();
        }
        if self.depth == 0 {
            EVENT_MEMBERS.set(obj.members.len().clamp(16, MAX_MEMBERS_HINT));
        }
        Ok(Json::Object(obj))
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(text) => s.serialize_str(text),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(obj) => {
                let mut map = s.serialize_map(Some(obj.len()))?;
                for (k, v) in obj.iter() {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_large_object_with_repeated_keys_parses_as_serde_json_does() {
        // Past the first keys, repeats are resolved in one pass (found by the evtx fuzz target:
        // objects of thousands of keys were quadratic).
        let mut text = String::from("{");
        for i in 0..300 {
            text.push_str(&format!("\"k{}\":{i},", i % 120));
        }
        text.push_str("\"k5\":\"last\"}");
        let ours = super::Json::parse(&text).unwrap().to_value();
        let theirs: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(ours.to_string(), theirs.to_string());
    }

    use super::*;

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let doc = Json::parse(r#"{"a": "plain", "b": "C:\\Windows"}"#).unwrap();
        assert!(matches!(doc.get("a"), Some(Json::String(Cow::Borrowed("plain")))));
        assert!(matches!(doc.get("b"), Some(Json::String(Cow::Owned(s))) if s == "C:\\Windows"));
    }

    #[test]
    fn round_trips_like_serde_json_value() {
        let text = r#"{"z":1,"a":[true,null,2.5,{"k":"v\n"}],"n":-7,"big":18446744073709551615}"#;
        let ours = serde_json::to_string(&Json::parse(text).unwrap()).unwrap();
        let theirs = serde_json::to_string(&serde_json::from_str::<serde_json::Value>(text).unwrap()).unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(Json::parse(text).unwrap().to_value(), serde_json::from_str::<serde_json::Value>(text).unwrap());
    }

    #[test]
    fn a_repeated_key_keeps_its_first_position_and_last_value() {
        let text = r#"{"a":1,"b":2,"a":3}"#;
        let ours = serde_json::to_string(&Json::parse(text).unwrap()).unwrap();
        let theirs = serde_json::to_string(&serde_json::from_str::<serde_json::Value>(text).unwrap()).unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(ours, r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn many_keys_with_colliding_filter_bits_stay_distinct() {
        let members: Vec<String> = (0..300).map(|i| format!("\"k{i}\":{i}")).collect();
        let text = format!("{{{}}}", members.join(","));
        let doc = Json::parse(&text).unwrap();
        assert_eq!(doc.as_object().unwrap().len(), 300);
        assert_eq!(doc.get("k299"), Some(&Json::Number(299.into())));
    }

    #[test]
    fn nesting_is_bounded_at_the_depth_limit_with_its_column() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(Json::parse(&nested(MAX_EVENT_DEPTH)).is_ok());
        // One level more: the object around them. Column 106 is just past the bracket that opens level 101.
        let err = Json::parse(&format!("{{\"a\":{}}}", nested(MAX_EVENT_DEPTH))).unwrap_err();
        assert_eq!(
            describe_parse_error(&err),
            format!("nested deeper than the event depth limit of {MAX_EVENT_DEPTH} arrays and objects, at column 106")
        );
        let value: serde_json::Value = serde_json::from_str(&nested(MAX_EVENT_DEPTH)).unwrap();
        assert!(!deeper_than(&value, MAX_EVENT_DEPTH));
        assert!(deeper_than(&value, MAX_EVENT_DEPTH - 1));
    }

    #[test]
    fn an_event_object_starts_with_the_room_the_last_one_needed() {
        let event = |keys: usize| {
            let members: Vec<String> = (0..keys).map(|i| format!("\"k{i}\":{{\"n\":{i}}}")).collect();
            format!("{{{}}}", members.join(","))
        };
        let capacity = |text: &str| Json::parse(text).unwrap().as_object().unwrap().members.capacity();
        // Run on a thread of its own: the room is remembered per thread.
        std::thread::spawn(move || {
            Json::parse(&event(40)).unwrap();
            assert_eq!(capacity(&event(40)), 40, "no room grown by doubling past what the last event had");
            assert_eq!(capacity(&event(3)), 40);
            // After a small event, the room is back to the floor of 16 (what every object had).
            assert_eq!(capacity(&event(3)), 16);
            Json::parse(&event(1000)).unwrap();
            assert_eq!(capacity(&event(1)), MAX_MEMBERS_HINT);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn malformed_text_is_an_error_with_a_position() {
        let err = Json::parse("{\"a\": }").unwrap_err();
        assert_eq!((err.line(), err.column()), (1, 7));
    }
}
