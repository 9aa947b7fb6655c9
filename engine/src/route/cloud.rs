//! Cloud and SaaS audit records: recognised by the shape each service gives its records, mapped
//! to SigmaHQ's logsources for them (`product: aws/azure/gcp/okta/m365`). The table with the
//! shapes is `docs/logsources.md`.
//!
//! Some exporters lower-case every key (`eventtype` for Okta's `eventType`); the shape is
//! recognised either way, though rules naming the original keys will not match such records.

use super::{Recognized, Source};
use crate::json::{Json, Object};

/// The first of the cloud recognisers that knows the record.
pub(super) fn recognize(map: &Object<'_>) -> Option<Source> {
    [cloudtrail, azure, gcp_audit, google_workspace, okta, m365].iter().find_map(|shape| shape(map))
}

fn source(product: &'static str, services: &'static [&'static str]) -> Source {
    Source::Recognized(Recognized { product: Some(product), categories: &[], services })
}

/// A member by its key, or by the key in any case when the exporter changed it.
fn get<'m, 'a>(map: &'m Object<'a>, key: &str) -> Option<&'m Json<'a>> {
    map.get(key).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

fn get_str<'m>(map: &'m Object<'_>, key: &str) -> Option<&'m str> {
    get(map, key).and_then(Json::as_str)
}

fn has(map: &Object<'_>, key: &str) -> bool {
    get(map, key).is_some()
}

/// AWS CloudTrail: an `eventName`, and an `eventSource` of an AWS service or an `eventType`
/// of CloudTrail's own (`AwsApiCall`, `AwsServiceEvent`, `AwsConsoleSignIn`, ...).
fn cloudtrail(map: &Object<'_>) -> Option<Source> {
    let aws_source = get_str(map, "eventSource").is_some_and(|s| s.ends_with(".amazonaws.com"));
    let aws_type = get_str(map, "eventType").is_some_and(|t| t.starts_with("Aws"));
    (has(map, "eventName") && (aws_source || aws_type)).then(|| source("aws", &["cloudtrail"]))
}

/// Azure Monitor: the diagnostic-settings export (`category`, `operationName`, `resourceId`)
/// and the Log Analytics tables (`Type`), both naming which log the record belongs to.
fn azure(map: &Object<'_>) -> Option<Source> {
    let table = || get_str(map, "Type").filter(|_| has(map, "TenantId") || has(map, "TimeGenerated"));
    let log = get_str(map, "category").or_else(table);
    let services = log.map_or(&[][..], azure_services);
    // Other records of the export (resource logs such as `StorageRead`) are Azure's, of no
    // Sigma service.
    let export = has(map, "operationName")
        && (log.is_some() || ["resourceId", "tenantId", "callerIpAddress"].iter().any(|k| has(map, k)));
    (!services.is_empty() || export).then(|| source("azure", services))
}

/// The Sigma service of an Azure log category or Log Analytics table, compared without case
/// (and without allocating: routing runs on every event).
fn azure_services(log: &str) -> &'static [&'static str] {
    const SERVICES: &[(&[&str], &[&str])] = &[
        (
            &[
                "signinlogs",
                "noninteractiveusersigninlogs",
                "serviceprincipalsigninlogs",
                "managedidentitysigninlogs",
                "adfssigninlogs",
            ],
            &["signinlogs"],
        ),
        (&["auditlogs"], &["auditlogs"]),
        (&["riskdetection", "userriskevents", "aadriskyusers", "aaduserriskevents"], &["riskdetection"]),
        (
            &[
                "administrative",
                "policy",
                "security",
                "servicehealth",
                "alert",
                "recommendation",
                "autoscale",
                "resourcehealth",
                "azureactivity",
            ],
            &["activitylogs"],
        ),
    ];
    SERVICES.iter().find(|(names, _)| names.iter().any(|n| n.eq_ignore_ascii_case(log))).map_or(&[], |(_, s)| s)
}

/// Google Cloud audit logs: a `protoPayload` that is an AuditLog (by its type, or by the
/// method it records), or a `logName` of Cloud Audit Logs.
fn gcp_audit(map: &Object<'_>) -> Option<Source> {
    let audit_log = get_str(map, "logName").is_some_and(|l| l.contains("cloudaudit.googleapis.com"));
    let audit_payload = match get(map, "protoPayload") {
        Some(Json::Object(payload)) => {
            // Some exporters rename `@type`, which not every store accepts as a key.
            let kind = get_str(payload, "@type").or_else(|| get_str(payload, "at_sign_type"));
            kind.is_some_and(|t| t.ends_with("google.cloud.audit.AuditLog"))
                || ["methodName", "serviceName", "authenticationInfo", "authorizationInfo"]
                    .iter()
                    .any(|k| has(payload, k))
        }
        _ => false,
    };
    (audit_log || audit_payload).then(|| source("gcp", &["gcp.audit"]))
}

/// Google Workspace reports (`admin#reports#activity`), by the application that wrote them.
fn google_workspace(map: &Object<'_>) -> Option<Source> {
    let application = match get(map, "id") {
        Some(Json::Object(id)) => get_str(id, "applicationName"),
        _ => None,
    };
    let is_report = get_str(map, "kind").is_some_and(|k| k.starts_with("admin#reports#"));
    if !is_report && application.is_none() {
        return None;
    }
    let services: &'static [&'static str] = match application.map(str::to_ascii_lowercase).as_deref() {
        Some("admin") => &["google_workspace.admin"],
        Some("login") => &["google_workspace.login"],
        _ => &[],
    };
    Some(source("gcp", services))
}

/// Okta System Log: an `eventType`, with Okta's `displayMessage` or `legacyEventType`, or with
/// an `actor` and the `published` time or `uuid`.
fn okta(map: &Object<'_>) -> Option<Source> {
    let messages = has(map, "displayMessage") || has(map, "legacyEventType");
    let envelope = has(map, "actor") && (has(map, "published") || has(map, "uuid"));
    (has(map, "eventType") && (messages || envelope)).then(|| source("okta", &["okta"]))
}

/// Microsoft 365 Management Activity API: `Operation`, `Workload` or `RecordType`, and the
/// `CreationTime`. Every record is audit; some workloads are also their own services.
fn m365(map: &Object<'_>) -> Option<Source> {
    let shape = has(map, "Operation") && has(map, "CreationTime") && (has(map, "Workload") || has(map, "RecordType"));
    if !shape {
        return None;
    }
    let services: &'static [&'static str] = match get_str(map, "Workload").map(str::to_ascii_lowercase).as_deref() {
        Some("exchange") => &["audit", "exchange"],
        Some("securitycompliancecenter") => &["audit", "threat_management", "threat_detection"],
        _ => &["audit"],
    };
    Some(source("m365", services))
}
