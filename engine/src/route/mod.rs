//! Logsource routing: which rules an event may be evaluated against.
//!
//! An event's source is either declared by the caller (`--logsource`) or recognised from the
//! event itself for formats whose source is unambiguous: Windows events by channel and event id
//! ([`windows`]), cloud and SaaS audit records by their shape ([`cloud`]), OCSF events by class
//! ([`ocsf`]). `docs/logsources.md` is the table. An event of unknown source is checked against
//! every rule. This module only decides sources and admission; it never evaluates predicates.

mod cloud;
mod ocsf;
mod windows;

use crate::json::Json;
use crate::plan::LogSource;
use windows::windows;

/// The source of an event, as far as routing is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// Nothing is known: every rule runs.
    Unknown,
    /// Declared by the caller: a rule runs when every logsource field it sets is declared equal.
    Declared(LogSource),
    /// Recognised from the event: one product, and the categories and services it belongs to.
    Recognized(Recognized),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Recognized {
    /// `None` for an event whose kind is known but not its origin (an OCSF event of no stated
    /// OS or provider): only rules that name no product run on it.
    pub product: Option<&'static str>,
    pub categories: &'static [&'static str],
    pub services: &'static [&'static str],
}

impl Source {
    /// Whether a rule written for `rule` runs on events of this source.
    pub fn admits(&self, rule: &LogSource) -> bool {
        match self {
            Source::Unknown => true,
            Source::Declared(declared) => declared.admits(rule),
            Source::Recognized(r) => {
                let product_ok = rule.product.as_deref().is_none_or(|p| r.product == Some(p));
                let category_ok = rule.category.as_deref().is_none_or(|c| r.categories.contains(&c));
                let service_ok = rule.service.as_deref().is_none_or(|s| r.services.contains(&s));
                product_ok && category_ok && service_ok
            }
        }
    }
}

/// Recognises the source of an event, or `Unknown`.
pub fn recognize(event: &Json<'_>) -> Source {
    let Json::Object(map) = event else { return Source::Unknown };
    let event_id = |v: Option<&Json<'_>>| {
        v.and_then(|v| match v {
            Json::Number(n) => n.as_u64(),
            Json::String(s) => s.trim().parse().ok(),
            _ => None,
        })
    };
    if let Some(Json::String(channel)) = map.get("Channel") {
        return windows(channel, event_id(map.get("EventID")));
    }
    // Winlogbeat: 7.x and later nest the record under `winlog`; 6.x wrote it flat, lower-case.
    if let Some(Json::Object(winlog)) = map.get("winlog") {
        if let Some(Json::String(channel)) = winlog.get("channel") {
            return windows(channel, event_id(winlog.get("event_id")));
        }
    }
    if let (Some(Json::String(channel)), Some(id)) = (map.get("log_name"), map.get("event_id")) {
        return windows(channel, event_id(Some(id)));
    }
    cloud::recognize(map).or_else(|| ocsf::recognize(map)).unwrap_or(Source::Unknown)
}

impl std::fmt::Display for Source {
    /// `product=aws service=cloudtrail`, `product=windows category=process_creation service=sysmon`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Unknown => f.write_str("unknown"),
            Source::Declared(ls) => {
                let parts = [("product", &ls.product), ("category", &ls.category), ("service", &ls.service)];
                let set: Vec<String> =
                    parts.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect();
                write!(f, "declared {}", set.join(" "))
            }
            Source::Recognized(r) => {
                let mut parts = Vec::new();
                if let Some(p) = r.product {
                    parts.push(format!("product={p}"));
                }
                if !r.categories.is_empty() {
                    parts.push(format!("category={}", r.categories.join("|")));
                }
                if !r.services.is_empty() {
                    parts.push(format!("service={}", r.services.join("|")));
                }
                f.write_str(&parts.join(" "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ls(product: Option<&str>, category: Option<&str>, service: Option<&str>) -> LogSource {
        LogSource::new(product, category, service)
    }

    #[test]
    fn sysmon_registry_events_feed_several_categories() {
        let src =
            recognize(&Json::from_value(&json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 13})));
        assert!(src.admits(&ls(Some("windows"), Some("registry_set"), None)));
        assert!(src.admits(&ls(Some("windows"), Some("registry_event"), None)));
        assert!(!src.admits(&ls(Some("windows"), Some("process_creation"), None)));
        assert!(!src.admits(&ls(Some("linux"), None, None)));
        assert!(src.admits(&ls(None, None, None)));
    }

    #[test]
    fn winlogbeat_records_are_windows_events() {
        let flat = json!({"log_name": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "event_data": {}});
        let nested = json!({"winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": "1"}});
        for event in [flat, nested] {
            let src = recognize(&Json::from_value(&event));
            assert!(src.admits(&ls(Some("windows"), Some("process_creation"), None)), "{event}");
            assert!(!src.admits(&ls(Some("windows"), Some("registry_set"), None)), "{event}");
        }
    }

    #[test]
    fn cloudtrail_and_unknown() {
        let ct = recognize(&Json::from_value(
            &json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "eventTime": "x"}),
        ));
        let exported = recognize(&Json::from_value(
            &json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "eu-west-1"}),
        ));
        assert_eq!(ct, exported);
        // A test fixture without the envelope still names an AWS service; a look-alike does not.
        assert_eq!(
            recognize(&Json::from_value(&json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"}))),
            ct
        );
        assert_eq!(
            recognize(&Json::from_value(&json!({"eventSource": "s3.example.com", "eventName": "GetObject"}))),
            Source::Unknown
        );
        assert!(ct.admits(&ls(Some("aws"), None, Some("cloudtrail"))));
        assert!(!ct.admits(&ls(None, Some("webserver"), None)));
        assert_eq!(recognize(&Json::from_value(&json!({"a": 1}))), Source::Unknown);
    }
}
