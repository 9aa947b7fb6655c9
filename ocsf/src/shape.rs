//! The shape every mapping shares: the attributes every OCSF object carries, the finishing
//! pass (empties dropped, required attributes checked, `unmapped` and `raw_data` added), and
//! small conversions (integers, times, severities, outcomes, endpoints). Reads no source format.

use crate::{Activity, Class, Field, Source, OCSF_VERSION};
use serde_json::{json, Map, Value};

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

/// Completes a mapped object already pruned (its verbatim values, placed by [`place`], stay as
/// they came, empty lists and objects included): checks that the class's required attributes
/// are there, and adds `unmapped` (what the mapping did not read or claim) and `raw_data`.
pub(crate) fn finish_pruned(class: &Class, mut obj: Map<String, Value>, src: &Source<'_>) -> Option<Value> {
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

/// The event time: the first of `fields` that holds a readable time, marked read.
pub(crate) fn event_time(src: &Source<'_>, fields: &[&str]) -> Option<i64> {
    fields.iter().find_map(|k| {
        let ms = time_ms(src.peek(k)?)?;
        src.mark(k);
        Some(ms)
    })
}

/// A mapped object pruned, then each field of `table` [`place`]d verbatim: ready for
/// [`finish_pruned`].
pub(crate) fn pruned_and_placed(obj: Map<String, Value>, src: &Source<'_>, table: &[Field]) -> Map<String, Value> {
    let Value::Object(mut obj) = prune(Value::Object(obj)) else { unreachable!("an object stays an object") };
    place(&mut obj, src, table);
    obj
}

/// Puts each field of `table` that the source holds at its OCSF attribute, verbatim, and
/// claims it (out of `unmapped`): when the mapping already wrote the same value at one of the
/// field's attributes, or when the first is still free. A field whose attributes hold another
/// value (the mapping had to write it otherwise) stays in `unmapped`. Call it on a pruned
/// object, then [`finish_pruned`].
pub(crate) fn place(obj: &mut Map<String, Value>, src: &Source<'_>, table: &[Field]) {
    for field in table {
        let Some(value) = src.peek(field.from) else { continue };
        if field.to.iter().any(|to| at(obj, to) == Some(value)) || set_if_free(obj, field.to[0], value) {
            src.claim(field.from);
        }
    }
}

/// Claims each field of `table` whose value the mapping wrote verbatim at one of its
/// attributes (out of `unmapped`); it never writes an attribute. For sources whose fields each
/// belong to one class only (Windows: a `TargetUserName` is the logon's user in 3002, the new
/// process's in 1007), where placing a value in a free attribute would put it in the wrong one.
pub(crate) fn claim_verbatim(obj: &Map<String, Value>, src: &Source<'_>, table: &[Field]) {
    for field in table {
        let Some(value) = src.peek(field.from) else { continue };
        if field.to.iter().any(|to| at(obj, to) == Some(value)) {
            src.claim(field.from);
        }
    }
}

/// The value at a dotted path of an object.
fn at<'v>(obj: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    let (head, rest) = path.split_once('.').map_or((path, None), |(h, r)| (h, Some(r)));
    let v = obj.get(head)?;
    match rest {
        None => Some(v),
        Some(rest) => at(v.as_object()?, rest),
    }
}

/// Sets a dotted path to `value` when nothing is there yet (objects made on the way); false
/// when something is, or a step is not an object.
fn set_if_free(obj: &mut Map<String, Value>, path: &str, value: &Value) -> bool {
    match path.split_once('.') {
        None if obj.get(path).is_none_or(Value::is_null) => {
            obj.insert(path.to_string(), value.clone());
            true
        }
        None => false,
        Some((head, rest)) => {
            let child = obj.entry(head).or_insert_with(|| Value::Object(Map::new()));
            if child.is_null() {
                *child = Value::Object(Map::new());
            }
            match child {
                Value::Object(m) => set_if_free(m, rest, value),
                _ => false,
            }
        }
    }
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
    let parse = |v: &Value| sigil_engine::time::parse_value(&sigil_engine::Json::from_value(v));
    parse(value).or_else(|| parse(&Value::String(zoned(value.as_str()?)?))).map(|dt| dt.timestamp_millis())
}

/// Whether `text` is an RFC 3339 date-time, the form of OCSF's `*_dt` attributes (whose
/// pattern also takes one without a zone).
pub(crate) fn is_rfc3339(text: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(text).is_ok()
        || chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
}

/// Milliseconds since the epoch as RFC 3339 in UTC.
pub(crate) fn rfc3339(ms: i64) -> Option<String> {
    let dt = chrono::DateTime::from_timestamp_millis(ms)?;
    Some(dt.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// `2021-01-08 21:28:34.875` (a space for the `T`, no zone: how log pipelines such as Panther
/// write times) as RFC 3339 in UTC, or `None` when the text is not of that shape.
fn zoned(text: &str) -> Option<String> {
    let (date, time) = text.split_once(' ')?;
    let has_zone = time.ends_with(['Z', 'z']) || time.get(8..).is_some_and(|t| t.contains(['+', '-']));
    Some(format!("{date}T{time}{}", if has_zone { "" } else { "Z" }))
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
    fn prune_drops_nulls_and_empties_at_every_depth() {
        let v = json!({"a": null, "b": {"c": null}, "d": [null, {}], "e": {"f": 1}, "g": 0});
        assert_eq!(prune(v), json!({"e": {"f": 1}, "g": 0}));
    }

    #[test]
    fn rfc3339_is_recognised_and_written() {
        assert!(is_rfc3339("2022-09-29T23:04:35Z") && is_rfc3339("2022-09-29T23:04:35.123+02:00"));
        assert!(is_rfc3339("2022-09-29T23:04:35"));
        assert!(
            !is_rfc3339("2022-09-29 23:04:35") && !is_rfc3339("2022-09-29") && !is_rfc3339("2022-09-29T23:04:35 UTC")
        );
        assert_eq!(rfc3339(1_664_492_675_000).as_deref(), Some("2022-09-29T23:04:35.000Z"));
    }

    #[test]
    fn times_without_a_t_or_a_zone_are_read_as_utc() {
        assert_eq!(time_ms(&json!("2021-01-08 21:28:34.875")), time_ms(&json!("2021-01-08T21:28:34.875Z")));
        assert_eq!(time_ms(&json!("2019-01-01 00:20:04.000Z")), time_ms(&json!("2019-01-01T00:20:04Z")));
        assert!(time_ms(&json!("2021-01-08T21:28:34Z")).is_some());
        assert_eq!(time_ms(&json!("yesterday at noon")), None);
    }

    #[test]
    fn integers_may_be_hexadecimal_strings() {
        assert_eq!(parse_int("0xbc8"), Some(0xbc8));
        assert_eq!(parse_int("1328"), Some(1328));
        assert_eq!(parse_int("-"), None);
    }
}
