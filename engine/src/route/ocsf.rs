//! OCSF events: recognised by `class_uid` and the schema `metadata`; the class (and activity)
//! gives the Sigma category, the device's OS or the cloud provider gives the product. Rules
//! meet OCSF field names through the `ocsf` pipeline.

use super::{Recognized, Source};
use crate::json::{Json, Object};

pub(super) fn recognize(map: &Object<'_>) -> Option<Source> {
    let class = number(map.get("class_uid")?)?;
    if !matches!(map.get("metadata"), Some(Json::Object(_))) {
        return None;
    }
    let activity = map.get("activity_id").and_then(number);
    let os = path(map, &["device", "os", "type"]).map(str::to_ascii_lowercase);
    let provider = path(map, &["cloud", "provider"]).map(str::to_ascii_lowercase);
    let vendor = path(map, &["metadata", "product", "vendor_name"]).map(str::to_ascii_lowercase);
    let cloud: Option<(&'static str, &'static [&'static str])> = match provider.as_deref().or(vendor.as_deref()) {
        Some("aws" | "amazon web services") => Some(("aws", &["cloudtrail"])),
        Some("azure" | "microsoft") => Some(("azure", &[])),
        Some("gcp" | "google" | "google cloud platform") => Some(("gcp", &["gcp.audit"])),
        Some("okta") => Some(("okta", &["okta"])),
        _ => None,
    };
    let host: Option<&'static str> = match os.as_deref() {
        Some("windows") => Some("windows"),
        Some("linux") => Some("linux"),
        Some("macos") => Some("macos"),
        _ => None,
    };
    let categories: &'static [&'static str] = match (class, activity) {
        (1007, Some(1)) => &["process_creation"],
        (1007, Some(2)) => &["process_termination"],
        (1001, Some(1)) => &["file_event"],
        (1001, Some(4)) => &["file_delete"],
        (1001, Some(5)) => &["file_rename"],
        (1001, _) => &["file_change"],
        (4001, _) => &["network_connection"],
        (4003, _) => &["dns_query", "dns"],
        _ => &[],
    };
    let (product, services): (Option<&'static str>, &'static [&'static str]) = match (host, cloud) {
        (Some("windows"), _) if matches!(class, 3001 | 3002) => (Some("windows"), &["security"]),
        (Some(host), _) => (Some(host), &[]),
        (None, Some((product, services))) => (Some(product), services),
        // An OCSF event of no known origin still has a class: its category routes it.
        (None, None) => (None, &[]),
    };
    Some(Source::Recognized(Recognized { product, categories, services }))
}

fn number(v: &Json<'_>) -> Option<u64> {
    match v {
        Json::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn path<'m>(map: &'m Object<'_>, keys: &[&str]) -> Option<&'m str> {
    let (last, parents) = keys.split_last()?;
    let mut at = map;
    for key in parents {
        at = at.get(key)?.as_object()?;
    }
    at.get(last)?.as_str()
}
