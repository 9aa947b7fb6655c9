//! The accounts, hosts and IP addresses an alert is about, read from the fields it matched and,
//! failing those, from its event.
//!
//! [`FIELDS`] is the table: each field name a log source uses for an account, a host or an IP,
//! in order of preference. This module decides what an entity is; it never counts them (that is
//! `summary`) and never reads a file.

use serde::Serialize;
use sigil_engine::event;
use sigil_engine::json::Json;
use std::net::IpAddr;

/// What kind of thing an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    /// A user, service account or role: who acted.
    Account,
    /// A computer or device: where it happened.
    Host,
    /// The IP address the activity came from.
    Ip,
}

impl EntityKind {
    pub const ALL: [EntityKind; 3] = [EntityKind::Account, EntityKind::Host, EntityKind::Ip];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Account => "account",
            EntityKind::Host => "host",
            EntityKind::Ip => "ip",
        }
    }
}

/// Field names → entity kind, in order of preference within a kind (the first present wins).
pub const FIELDS: &[(&str, EntityKind)] = &[
    // Accounts.
    ("userIdentity.arn", EntityKind::Account), // CloudTrail
    ("userIdentity.userName", EntityKind::Account),
    ("TargetUserName", EntityKind::Account), // Windows Security (the account logged on, changed…)
    ("SubjectUserName", EntityKind::Account), // Windows Security (the account that acted)
    ("User", EntityKind::Account),           // Sysmon
    ("UserPrincipalName", EntityKind::Account), // Azure sign-in, M365
    ("properties.userPrincipalName", EntityKind::Account),
    ("actor.alternateId", EntityKind::Account), // Okta
    ("protoPayload.authenticationInfo.principalEmail", EntityKind::Account), // GCP audit
    ("actor.email", EntityKind::Account),       // Google Workspace
    ("caller", EntityKind::Account),            // Azure Activity
    ("UserId", EntityKind::Account),            // M365 unified audit
    ("user.name", EntityKind::Account),         // ECS
    ("AccountName", EntityKind::Account),
    // Hosts.
    ("Computer", EntityKind::Host),  // Windows
    ("host.name", EntityKind::Host), // ECS
    ("Hostname", EntityKind::Host),
    ("hostname", EntityKind::Host),
    ("ComputerName", EntityKind::Host),
    ("DeviceName", EntityKind::Host),
    // Source IPs (values that do not parse as an address, such as CloudTrail's
    // `cloudtrail.amazonaws.com`, are not IPs and are skipped).
    ("sourceIPAddress", EntityKind::Ip), // CloudTrail
    ("IpAddress", EntityKind::Ip),       // Windows Security
    ("callerIpAddress", EntityKind::Ip), // Azure
    ("properties.ipAddress", EntityKind::Ip),
    ("client.ipAddress", EntityKind::Ip),                      // Okta
    ("protoPayload.requestMetadata.callerIp", EntityKind::Ip), // GCP audit
    ("ClientIP", EntityKind::Ip),                              // M365
    ("ClientIPAddress", EntityKind::Ip),
    ("SourceIp", EntityKind::Ip),  // Sysmon network
    ("source.ip", EntityKind::Ip), // ECS
];

/// Longer values are cut to this many characters, so one event cannot grow a summary's tables.
pub const MAX_ENTITY_CHARS: usize = 256;

/// One entity of an alert.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Entity {
    pub kind: EntityKind,
    pub value: String,
}

/// The kind a field name stands for, if the table has it (exact names; Sigma field names are
/// case-sensitive).
pub fn kind_of(field: &str) -> Option<EntityKind> {
    FIELDS.iter().find(|(name, _)| *name == field).map(|&(_, kind)| kind)
}

/// At most one entity per kind: from the fields the alert matched (`matched`, field → value)
/// when one of them is in the table, otherwise from the event (`None` when there is none, as for
/// a correlation, whose group takes the place of `matched`).
pub fn of_alert(matched: &serde_json::Map<String, serde_json::Value>, event: Option<&Json<'_>>) -> Vec<Entity> {
    let mut found: Vec<Entity> = Vec::new();
    for &(field, kind) in FIELDS {
        if found.iter().any(|e| e.kind == kind) {
            continue;
        }
        if let Some(value) = matched.get(field).and_then(|v| entity_value(kind, &Json::from_value(v))) {
            found.push(Entity { kind, value });
        }
    }
    if let Some(event) = event {
        for &(field, kind) in FIELDS {
            if found.iter().any(|e| e.kind == kind) {
                continue;
            }
            if let Some(value) = event::lookup(event, field).first().and_then(|v| entity_value(kind, v)) {
                found.push(Entity { kind, value });
            }
        }
    }
    found.sort_by_key(|e| e.kind);
    found
}

/// A value that names an entity: a non-empty string or number other than Windows' `-`
/// placeholder, an address for [`EntityKind::Ip`]; cut to [`MAX_ENTITY_CHARS`].
fn entity_value(kind: EntityKind, value: &Json<'_>) -> Option<String> {
    let text = match value {
        Json::String(s) => s.trim().to_string(),
        Json::Number(n) => n.to_string(),
        // A field holding a list: its first element that is a value.
        Json::Array(items) => return items.iter().find_map(|item| entity_value(kind, item)),
        _ => return None,
    };
    if text.is_empty() || text == "-" {
        return None;
    }
    if kind == EntityKind::Ip && text.parse::<IpAddr>().is_err() {
        return None;
    }
    Some(text.chars().take(MAX_ENTITY_CHARS).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entities(matched: serde_json::Value, event: serde_json::Value) -> Vec<(EntityKind, String)> {
        let matched = matched.as_object().cloned().unwrap_or_default();
        of_alert(&matched, Some(&Json::from_value(&event))).into_iter().map(|e| (e.kind, e.value)).collect()
    }

    #[test]
    fn cloudtrail_nested_fields_give_account_and_ip_but_not_a_service_name() {
        let event = json!({"userIdentity": {"arn": "arn:aws:iam::111122223333:user/dave", "userName": "dave"},
                           "sourceIPAddress": "203.0.113.77"});
        assert_eq!(
            entities(json!({}), event),
            vec![
                (EntityKind::Account, "arn:aws:iam::111122223333:user/dave".into()),
                (EntityKind::Ip, "203.0.113.77".into())
            ]
        );
        let internal = json!({"userIdentity": {"userName": "x"}, "sourceIPAddress": "cloudtrail.amazonaws.com"});
        assert_eq!(entities(json!({}), internal), vec![(EntityKind::Account, "x".into())]);
    }

    #[test]
    fn matched_fields_win_over_the_event() {
        let event =
            json!({"SubjectUserName": "WS01$", "TargetUserName": "admin", "Computer": "ws01", "IpAddress": "-"});
        assert_eq!(
            entities(json!({"SubjectUserName": "WS01$"}), event),
            vec![(EntityKind::Account, "WS01$".into()), (EntityKind::Host, "ws01".into())]
        );
    }

    #[test]
    fn okta_azure_and_gcp_shapes() {
        let okta = json!({"actor": {"alternateId": "helpdesk@example.com"}, "client": {"ipAddress": "198.51.100.7"}});
        assert_eq!(entities(json!({}), okta)[0], (EntityKind::Account, "helpdesk@example.com".into()));
        let azure = json!({"caller": "mallory@example.com", "callerIpAddress": "2001:db8::1"});
        assert_eq!(entities(json!({}), azure).len(), 2);
        let gcp = json!({"protoPayload": {"authenticationInfo": {"principalEmail": "u@example.com"},
                                          "requestMetadata": {"callerIp": "203.0.113.9"}}});
        assert_eq!(entities(json!({}), gcp)[1], (EntityKind::Ip, "203.0.113.9".into()));
    }

    #[test]
    fn long_values_are_cut() {
        let event = json!({"User": "u".repeat(10_000)});
        assert_eq!(entities(json!({}), event)[0].1.len(), MAX_ENTITY_CHARS);
    }
}
