//! OCSF events: recognised by `class_uid` and the schema `metadata`; the class (and activity)
//! gives the Sigma category, the log's source (the cloud provider or vendor, else the device's
//! OS) gives the product. Rules
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
    let provider = path(map, &["cloud", "provider"]).and_then(cloud_source);
    let vendor = path(map, &["metadata", "product", "vendor_name"]);
    let product_name = path(map, &["metadata", "product", "name"]).map(str::to_ascii_lowercase);
    let host: Option<&'static str> = match os.as_deref() {
        Some("windows") => Some("windows"),
        Some("linux") => Some("linux"),
        Some("macos") => Some("macos"),
        // A Windows event log record that names no device (a logon names endpoints instead).
        _ if matches!(product_name.as_deref(), Some("microsoft windows" | "sysmon")) => Some("windows"),
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
    // The log's source, not the device it mentions: a cloud API call or an identity provider's
    // sign-in names the client's device too, and rules for that source must still run on it.
    // `cloud.provider` and an unambiguous vendor (AWS, Okta, Google) decide first; then the
    // device's OS (a Windows logon is Microsoft's, as Azure's activity is); then the vendor.
    let decisive = provider.or_else(|| vendor.and_then(cloud_source).filter(|(product, _)| *product != "azure"));
    let (product, services): (Option<&'static str>, &'static [&'static str]) = match (decisive, host) {
        (Some((product, services)), _) => (Some(product), services),
        // The Windows service is the event log's channel, as for the raw record; a logon or an
        // account change from elsewhere is still the Security log's.
        (None, Some("windows")) => match path(map, &["metadata", "log_name"]).map(str::to_ascii_lowercase).as_deref() {
            Some("security") => (Some("windows"), &["security"]),
            Some("microsoft-windows-sysmon/operational") => (Some("windows"), &["sysmon"]),
            _ if matches!(class, 3001 | 3002) => (Some("windows"), &["security"]),
            _ => (Some("windows"), &[]),
        },
        (None, Some(host)) => (Some(host), &[]),
        (None, None) => match vendor.and_then(cloud_source) {
            Some((product, services)) => (Some(product), services),
            // An OCSF event of no known origin still has a class: its category routes it.
            None => (None, &[]),
        },
    };
    Some(Source::Recognized(Recognized { product, categories, services }))
}

/// The Sigma product (and services) of a cloud provider or vendor name.
fn cloud_source(name: &str) -> Option<(&'static str, &'static [&'static str])> {
    match name.to_ascii_lowercase().as_str() {
        "aws" | "amazon web services" => Some(("aws", &["cloudtrail"])),
        "azure" | "microsoft" => Some(("azure", &[])),
        "gcp" | "google" | "google cloud platform" => Some(("gcp", &["gcp.audit"])),
        "okta" => Some(("okta", &["okta"])),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn route(event: &str) -> Source {
        let doc = Json::parse(event).unwrap();
        let Json::Object(map) = &doc else { panic!("an object") };
        recognize(map).unwrap()
    }

    fn product(source: Source) -> (Option<&'static str>, &'static [&'static str], &'static [&'static str]) {
        match source {
            Source::Recognized(r) => (r.product, r.services, r.categories),
            _ => panic!("recognised"),
        }
    }

    #[test]
    fn a_cloud_or_identity_providers_events_route_to_it_whatever_device_they_name() {
        let aws = r#"{"class_uid": 3002, "activity_id": 1, "metadata": {"product": {"name": "CloudTrail", "vendor_name": "AWS"}},
            "cloud": {"provider": "AWS"}, "device": {"os": {"type": "macOS"}}}"#;
        assert_eq!(product(route(aws)), (Some("aws"), &["cloudtrail"][..], &[][..]));
        let okta = r#"{"class_uid": 3002, "metadata": {"product": {"vendor_name": "Okta"}}, "device": {"os": {"type": "macOS"}}}"#;
        assert_eq!(product(route(okta)).0, Some("okta"));
        let windows = r#"{"class_uid": 3002, "metadata": {"product": {"vendor_name": "Microsoft"}}, "device": {"os": {"type": "Windows"}}}"#;
        assert_eq!(product(route(windows)), (Some("windows"), &["security"][..], &[][..]));
        let sysmon = r#"{"class_uid": 1007, "activity_id": 1, "metadata": {"product": {"vendor_name": "Microsoft"}}, "device": {"os": {"type": "Windows"}}}"#;
        assert_eq!(product(route(sysmon)), (Some("windows"), &[][..], &["process_creation"][..]));
        let azure = r#"{"class_uid": 6003, "metadata": {"product": {"vendor_name": "Microsoft"}}}"#;
        assert_eq!(product(route(azure)).0, Some("azure"));
    }

    #[test]
    fn windows_event_log_records_route_by_their_channel_with_or_without_a_device() {
        let logon = r#"{"class_uid": 3002, "activity_id": 1, "metadata": {"log_name": "Security",
            "product": {"name": "Microsoft Windows", "vendor_name": "Microsoft"}}, "dst_endpoint": {"hostname": "WS01"}}"#;
        assert_eq!(product(route(logon)), (Some("windows"), &["security"][..], &[][..]));
        let audit = r#"{"class_uid": 1007, "activity_id": 1, "metadata": {"log_name": "Security",
            "product": {"name": "Microsoft Windows", "vendor_name": "Microsoft"}}, "device": {"os": {"type": "Windows"}}}"#;
        assert_eq!(product(route(audit)), (Some("windows"), &["security"][..], &["process_creation"][..]));
        let sysmon = r#"{"class_uid": 1007, "activity_id": 1, "metadata": {"log_name": "Microsoft-Windows-Sysmon/Operational",
            "product": {"name": "Sysmon", "vendor_name": "Microsoft"}}}"#;
        assert_eq!(product(route(sysmon)), (Some("windows"), &["sysmon"][..], &["process_creation"][..]));
    }
}
