//! OCSF 1.8.0: raw events mapped to OCSF classes (`sigil normalize --to ocsf`), and alerts as
//! Detection Findings (`sigil hunt --format ocsf`).
//!
//! Every function here is pure: JSON in, JSON out. A mapping returns `None` when it does not
//! apply, or when the event lacks what its class requires (a readable time, a user…): such an
//! event is passed through by the caller, never dropped. Each OCSF object holds the raw event
//! in `raw_data`, and the source fields no mapping read in `unmapped`.
//!
//! Mapped: CloudTrail (`cloudtrail`: Authentication 3002, Account Change 3001, API Activity
//! 6003), Okta System Log (`okta`: Authentication 3002, Account Change 3001), flat Windows
//! events (`windows`: Security 4624/4625 → Authentication 3002, Sysmon 1 and Security 4688 →
//! Process Activity 1007). Alerts: `finding` (Detection Finding 2004).

mod cloudtrail;
mod finding;
mod okta;
mod windows;

pub use finding::{correlation_finding, detection_finding, silence_finding};

use serde_json::{json, Map, Value};
use std::cell::RefCell;

/// The OCSF schema version the objects follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.8.0";

/// Maps one raw event to its OCSF object, or `None` when no mapping applies.
pub fn normalize(event: &Value) -> Option<Value> {
    if !event.is_object() {
        return None;
    }
    cloudtrail::map(event).or_else(|| okta::map(event)).or_else(|| windows::map(event))
}

/// An OCSF event class: its ids, names, and the attributes a valid object must hold.
pub(crate) struct Class {
    pub uid: u64,
    pub name: &'static str,
    pub category_uid: u64,
    pub category_name: &'static str,
    pub required: &'static [&'static str],
    /// Attributes of which the class needs at least one (none when empty).
    pub any_of: &'static [&'static str],
}

pub(crate) const PROCESS_ACTIVITY: Class = Class {
    uid: 1007,
    name: "Process Activity",
    category_uid: 1,
    category_name: "System Activity",
    required: &["actor", "device", "process"],
    any_of: &[],
};
pub(crate) const DETECTION_FINDING: Class = Class {
    uid: 2004,
    name: "Detection Finding",
    category_uid: 2,
    category_name: "Findings",
    required: &["finding_info"],
    any_of: &[],
};
pub(crate) const ACCOUNT_CHANGE: Class = Class {
    uid: 3001,
    name: "Account Change",
    category_uid: 3,
    category_name: "Identity & Access Management",
    required: &["user"],
    any_of: &[],
};
pub(crate) const AUTHENTICATION: Class = Class {
    uid: 3002,
    name: "Authentication",
    category_uid: 3,
    category_name: "Identity & Access Management",
    required: &["user"],
    // What the user authenticated to.
    any_of: &["service", "dst_endpoint"],
};
pub(crate) const API_ACTIVITY: Class = Class {
    uid: 6003,
    name: "API Activity",
    category_uid: 6,
    category_name: "Application Activity",
    required: &["actor", "api", "src_endpoint"],
    any_of: &[],
};

/// An activity of a class: its `activity_id` and `activity_name`.
pub(crate) type Activity = (u64, &'static str);

/// The attributes every OCSF event carries: class, activity, type, severity, time, metadata.
/// `metadata` is completed with the OCSF version.
pub(crate) fn base(class: &Class, activity: (u64, &str), time: i64, mut metadata: Value) -> Map<String, Value> {
    let (activity_id, activity_name) = activity;
    if let Value::Object(m) = &mut metadata {
        m.insert("version".into(), OCSF_VERSION.into());
    }
    let mut obj = Map::new();
    obj.insert("activity_id".into(), activity_id.into());
    obj.insert("activity_name".into(), activity_name.into());
    obj.insert("category_uid".into(), class.category_uid.into());
    obj.insert("category_name".into(), class.category_name.into());
    obj.insert("class_uid".into(), class.uid.into());
    obj.insert("class_name".into(), class.name.into());
    obj.insert("type_uid".into(), (class.uid * 100 + activity_id).into());
    obj.insert("type_name".into(), format!("{}: {activity_name}", class.name).into());
    obj.insert("severity_id".into(), 1.into());
    obj.insert("severity".into(), "Informational".into());
    obj.insert("time".into(), time.into());
    obj.insert("metadata".into(), metadata);
    obj
}

/// Completes a mapped object: drops empty attributes, checks that the class's required ones
/// are there, and adds `unmapped` (what the mapping did not read) and `raw_data`.
pub(crate) fn finish(class: &Class, obj: Map<String, Value>, src: &Source<'_>) -> Option<Value> {
    let Value::Object(mut obj) = prune(Value::Object(obj)) else { unreachable!("an object stays an object") };
    let missing = class.required.iter().any(|k| !obj.contains_key(*k));
    if missing || (!class.any_of.is_empty() && !class.any_of.iter().any(|k| obj.contains_key(*k))) {
        return None;
    }
    if let Some(unmapped) = src.unmapped() {
        obj.insert("unmapped".into(), unmapped);
    }
    obj.insert("raw_data".into(), serde_json::to_string(src.event).expect("a Value serializes").into());
    Some(Value::Object(obj))
}

/// Removes nulls, and objects and arrays left empty, at every depth.
pub(crate) fn prune(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter().map(|(k, v)| (k, prune(v))).filter(|(_, v)| !is_empty(v)).collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(prune).filter(|v| !is_empty(v)).collect()),
        other => other,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A raw event being mapped: reads fields by dotted path and remembers which were read, so
/// that the rest can go to `unmapped`.
pub(crate) struct Source<'a> {
    pub event: &'a Value,
    used: RefCell<Vec<String>>,
}

impl<'a> Source<'a> {
    pub fn new(event: &'a Value) -> Self {
        Source { event, used: RefCell::new(Vec::new()) }
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
            self.used.borrow_mut().push(path.to_string());
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
        self.used.borrow_mut().push(path.to_string());
    }

    /// The event without the fields read (nor nulls), or `None` when nothing is left.
    pub fn unmapped(&self) -> Option<Value> {
        let mut rest = self.event.clone();
        for path in self.used.borrow().iter() {
            remove_path(&mut rest, &path.split('.').collect::<Vec<_>>());
        }
        match prune(rest) {
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

/// A decimal or `0x` hexadecimal integer.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A timestamp (RFC 3339 and the other forms alerts accept, or epoch seconds or milliseconds)
/// in milliseconds since the epoch.
pub(crate) fn time_ms(value: &Value) -> Option<i64> {
    sigil_engine::time::parse_value(&sigil_engine::Json::from_value(value)).map(|dt| dt.timestamp_millis())
}

/// The OCSF severity of a Sigma level.
pub(crate) fn severity(level: Option<&str>) -> Activity {
    match level.map(str::to_ascii_lowercase).as_deref() {
        Some("informational") => (1, "Informational"),
        Some("low") => (2, "Low"),
        Some("medium") => (3, "Medium"),
        Some("high") => (4, "High"),
        Some("critical") => (5, "Critical"),
        _ => (0, "Unknown"),
    }
}

/// `status_id` and `status` of an outcome.
pub(crate) fn status(success: Option<bool>) -> Value {
    match success {
        Some(true) => json!({"status_id": 1, "status": "Success"}),
        Some(false) => json!({"status_id": 2, "status": "Failure"}),
        None => json!({"status_id": 0, "status": "Unknown"}),
    }
}

/// Copies the members of `from` (an object) into `obj`.
pub(crate) fn merge(obj: &mut Map<String, Value>, from: Value) {
    if let Value::Object(m) = from {
        obj.extend(m);
    }
}

/// The attributes of which each OCSF object needs at least one (the schema's `anyOf`).
pub(crate) const USER_KEYS: &[&str] = &["account", "name", "uid"];
pub(crate) const ACTOR_KEYS: &[&str] = &["process", "user", "invoked_by", "session", "app_name", "app_uid"];
pub(crate) const ENDPOINT_KEYS: &[&str] =
    &["ip", "uid", "name", "hostname", "svc_name", "instance_uid", "interface_uid", "interface_name", "domain"];
pub(crate) const PROCESS_KEYS: &[&str] = &["pid", "uid", "cpid"];

/// `value` without its empty parts, when it still holds one of `keys` (the attributes of which
/// an OCSF object needs at least one); otherwise null, which [`prune`] removes.
pub(crate) fn some_of(value: Value, keys: &[&str]) -> Value {
    match prune(value) {
        Value::Object(m) if keys.iter().any(|k| m.contains_key(*k)) => Value::Object(m),
        _ => Value::Null,
    }
}

/// A network endpoint from an address that may be an IP or a host name (CloudTrail's
/// `sourceIPAddress` holds `ecs.amazonaws.com` for calls made by AWS services).
pub(crate) fn endpoint_of_address(address: Option<&str>) -> Value {
    match address {
        Some(a) if a.parse::<std::net::IpAddr>().is_ok() => json!({"ip": a}),
        Some(a) => json!({"domain": a}),
        None => Value::Null,
    }
}

/// The last component of a Windows or POSIX path.
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmapped_holds_what_was_not_read() {
        let event = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": {"f": 4}});
        let src = Source::new(&event);
        assert_eq!(src.int("a"), Some(1));
        assert_eq!(src.int("b.c"), Some(2));
        src.mark("e.f");
        assert_eq!(src.unmapped(), Some(json!({"b": {"d": 3}})));
    }

    #[test]
    fn prune_drops_nulls_and_empties_at_every_depth() {
        let v = json!({"a": null, "b": {"c": null}, "d": [null, {}], "e": {"f": 1}, "g": 0});
        assert_eq!(prune(v), json!({"e": {"f": 1}, "g": 0}));
    }

    #[test]
    fn integers_may_be_hexadecimal_strings() {
        assert_eq!(parse_int("0xbc8"), Some(0xbc8));
        assert_eq!(parse_int("1328"), Some(1328));
        assert_eq!(parse_int("-"), None);
    }

    #[test]
    fn events_of_no_known_source_are_not_mapped() {
        assert_eq!(normalize(&json!({"message": "hello"})), None);
        assert_eq!(normalize(&json!([1, 2])), None);
    }
}
