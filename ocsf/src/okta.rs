//! Okta System Log events (`eventType`, an `actor` object, `published`): sign-ins and sessions
//! → Authentication (3002), user lifecycle, password, lock and MFA factor changes → Account
//! Change (3001), every other event → API Activity (6003, its `eventType` the operation).
//! Field choices follow the OCSF examples' Okta mapping.
//!
//! Whatever the class, each field of [`FIELDS`] is held verbatim at its attribute, and every
//! other field (`target`, `debugContext`, `securityContext.isProxy`, `outcome.result`'s
//! meaning aside its text...) stays in `unmapped` at its own path; the `ocsf` pipeline maps
//! Okta field names by the same table.

use super::{
    base, event_time, finish_pruned, merge, pruned_and_placed, some_of, Activity, Field, Source, ACCOUNT_CHANGE,
    API_ACTIVITY, AUTHENTICATION, ENDPOINT_KEYS, USER_KEYS,
};
use serde_json::{json, Map, Value};

/// Where Okta's fields go in every class (`rule-compiler/pipelines/ocsf.yml` maps the same
/// names the same way).
pub const FIELDS: &[Field] = &[
    Field { from: "eventType", to: &["metadata.event_code"] },
    Field { from: "uuid", to: &["metadata.uid"] },
    Field { from: "transaction.id", to: &["metadata.correlation_uid"] },
    Field { from: "displayMessage", to: &["message"] },
    Field { from: "outcome.result", to: &["status_code"] },
    Field { from: "outcome.reason", to: &["status_detail"] },
    Field { from: "actor.id", to: &["actor.user.uid"] },
    Field { from: "actor.alternateId", to: &["actor.user.uid_alt", "actor.user.email_addr"] },
    Field { from: "actor.displayName", to: &["actor.user.name"] },
    Field { from: "actor.type", to: &["actor.user.type"] },
    Field { from: "client.ipAddress", to: &["src_endpoint.ip"] },
    Field { from: "securityContext.domain", to: &["src_endpoint.domain"] },
    Field { from: "client.geographicalContext.city", to: &["src_endpoint.location.city"] },
    Field { from: "client.geographicalContext.state", to: &["src_endpoint.location.region"] },
    Field { from: "client.geographicalContext.country", to: &["src_endpoint.location.country"] },
    Field { from: "securityContext.isp", to: &["src_endpoint.location.isp"] },
    Field { from: "securityContext.asOrg", to: &["src_endpoint.autonomous_system.name"] },
    Field { from: "client.userAgent.rawUserAgent", to: &["http_request.user_agent"] },
    Field { from: "debugContext.debugData.requestId", to: &["http_request.uid"] },
];

/// `published`, or the time a log pipeline put beside it when that is unreadable (`@timestamp`
/// from Logstash, `p_event_time` from Panther).
fn time(src: &Source<'_>) -> Option<i64> {
    event_time(src, &["published", "@timestamp", "p_event_time"])
}

pub fn map(event: &Value) -> Option<Value> {
    let event_type = event.get("eventType")?.as_str()?;
    if !event.get("actor").is_some_and(Value::is_object) || !event.get("published").is_some_and(Value::is_string) {
        return None;
    }
    let src = Source::tabled(event);
    if let Some(activity) = authentication_activity(event_type) {
        return authentication(&src, activity, event_type);
    }
    match account_change_activity(event_type) {
        Some(activity) => account_change(&src, activity),
        None => api_activity(&src, event_type),
    }
}

/// Any other event: an API call of Okta's, named by its event type.
fn api_activity(src: &Source<'_>, event_type: &str) -> Option<Value> {
    let time = time(src)?;
    let verb = event_type.rsplit('.').next().unwrap_or_default();
    let activity = match verb {
        "create" | "add" | "grant" => (1, "Create"),
        "read" | "show" | "view" => (2, "Read"),
        "update" | "activate" | "deactivate" | "change" | "reset" => (3, "Update"),
        "delete" | "remove" | "revoke" => (4, "Delete"),
        _ => (99, "Other"),
    };
    let mut obj = common(src, &API_ACTIVITY, activity, time);
    merge(
        &mut obj,
        json!({
            "actor": {"user": actor_user(src)},
            "api": {"operation": event_type, "service": {"name": "Okta"}},
        }),
    );
    finish_pruned(&API_ACTIVITY, pruned_and_placed(obj, src, FIELDS), src)
}

fn authentication_activity(event_type: &str) -> Option<Activity> {
    Some(match event_type {
        "user.session.start" | "user.authentication.sso" => (1, "Logon"),
        t if t.starts_with("user.authentication.auth_via_") => (1, "Logon"),
        "user.session.end" | "user.session.expire" => (2, "Logoff"),
        t if t.starts_with("user.authentication.") || t.starts_with("user.session.") => (99, "Other"),
        _ => return None,
    })
}

fn account_change_activity(event_type: &str) -> Option<Activity> {
    Some(match event_type {
        "user.lifecycle.create" => (1, "Create"),
        "user.lifecycle.activate" | "user.lifecycle.reactivate" | "user.lifecycle.unsuspend" => (2, "Enable"),
        "user.lifecycle.deactivate" | "user.lifecycle.suspend" => (5, "Disable"),
        "user.lifecycle.delete.initiated" | "user.lifecycle.delete.completed" => (6, "Delete"),
        "user.account.update_password" => (3, "Password Change"),
        "user.account.reset_password" => (4, "Password Reset"),
        "user.account.lock" | "user.account.lock.limit" => (9, "Lock"),
        "user.account.unlock" | "user.account.unlock_by_admin" => (12, "Unlock"),
        "user.mfa.factor.activate" => (10, "MFA Factor Enable"),
        "user.mfa.factor.deactivate" | "user.mfa.factor.reset_all" | "user.mfa.factor.suspend" => {
            (11, "MFA Factor Disable")
        }
        _ => return None,
    })
}

fn authentication(src: &Source<'_>, activity: Activity, event_type: &str) -> Option<Value> {
    let time = time(src)?;
    let user = actor_user(src);
    let app = targets(src, "AppInstance").next();
    let service = match app {
        Some(app) => json!({"name": app.get("displayName"), "uid": app.get("id")}),
        None => json!({"name": "Okta"}),
    };
    let session_id = src.str("authenticationContext.externalSessionId").filter(|s| *s != "unknown");
    let mut obj = common(src, &AUTHENTICATION, activity, time);
    merge(
        &mut obj,
        json!({
            "user": user,
            "actor": {"user": user, "session": {"uid": session_id}},
            "service": some_of(service, &["name", "uid"]),
            "is_mfa": event_type.ends_with("auth_via_mfa").then_some(true),
        }),
    );
    finish_pruned(&AUTHENTICATION, pruned_and_placed(obj, src, FIELDS), src)
}

fn account_change(src: &Source<'_>, activity: Activity) -> Option<Value> {
    let time = time(src)?;
    let actor = actor_user(src);
    // The user changed is the target user; an event without one changed its actor.
    let user = match targets(src, "User").next() {
        Some(target) => user_of(target),
        None => actor.clone(),
    };
    let mut obj = common(src, &ACCOUNT_CHANGE, activity, time);
    merge(&mut obj, json!({"user": user, "actor": {"user": actor}}));
    finish_pruned(&ACCOUNT_CHANGE, pruned_and_placed(obj, src, FIELDS), src)
}

/// What every Okta event carries: metadata, outcome, severity, client, message.
fn common(src: &Source<'_>, class: &super::Class, activity: Activity, time: i64) -> Map<String, Value> {
    let metadata = json!({
        "product": {"name": "Okta System Log", "vendor_name": "Okta", "version": src.text("version")},
        "uid": src.str("uuid"),
        "event_code": src.str("eventType"),
        "correlation_uid": src.str("transaction.id"),
    });
    let mut obj = base(class, activity, time, metadata);
    let (severity_id, severity) = match src.str("severity") {
        Some("WARN") => (2, "Low"),
        Some("ERROR") => (3, "Medium"),
        _ => (1, "Informational"),
    };
    let (status_id, status) = match src.str("outcome.result") {
        Some("SUCCESS" | "ALLOW") => (1, "Success"),
        Some("FAILURE" | "DENY") => (2, "Failure"),
        Some(other) => (99, other),
        None => (0, "Unknown"),
    };
    merge(
        &mut obj,
        json!({
            "severity_id": severity_id,
            "severity": severity,
            "status_id": status_id,
            "status": status,
            "status_detail": src.str("outcome.reason"),
            "message": src.str("displayMessage"),
            "src_endpoint": src_endpoint(src),
            "http_request": {
                "user_agent": src.str("client.userAgent.rawUserAgent"),
                "uid": src.str("debugContext.debugData.requestId"),
            },
        }),
    );
    obj
}

/// The actor as an OCSF user.
fn actor_user(src: &Source<'_>) -> Value {
    let user = user_of(src.peek("actor").unwrap_or(&Value::Null));
    for key in ["id", "displayName", "alternateId", "type"] {
        src.mark(&format!("actor.{key}"));
    }
    user
}

/// An Okta actor or target (`{id, type, alternateId, displayName}`) as an OCSF user.
fn user_of(entity: &Value) -> Value {
    let field = |k: &str| entity.get(k).and_then(Value::as_str).filter(|s| !s.is_empty() && *s != "unknown");
    let kind = field("type");
    let user = json!({
        "uid": field("id"),
        "name": field("displayName").or_else(|| field("alternateId")),
        "email_addr": field("alternateId").filter(|a| looks_like_email(a)),
        "uid_alt": field("alternateId").filter(|a| !looks_like_email(a)),
        "type": kind,
        "type_id": kind.map(|k| if k == "User" { 1 } else { 99 }),
    });
    some_of(user, USER_KEYS)
}

/// The event's targets of one type.
/// What OCSF's `email_t` takes (`local@domain.tld`); other alternate ids are `uid_alt`.
fn looks_like_email(text: &str) -> bool {
    text.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !text.contains(char::is_whitespace)
    })
}

fn targets<'a>(src: &Source<'a>, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    let list = src.peek("target").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    list.iter().filter(move |t| t.get("type").and_then(Value::as_str) == Some(kind))
}

fn src_endpoint(src: &Source<'_>) -> Value {
    let location = json!({
        "city": src.str("client.geographicalContext.city"),
        "region": src.str("client.geographicalContext.state"),
        "country": src.str("client.geographicalContext.country"),
        "postal_code": src.text("client.geographicalContext.postalCode"),
        "lat": src.get("client.geographicalContext.geolocation.lat").filter(|v| v.is_number()),
        "long": src.get("client.geographicalContext.geolocation.lon").filter(|v| v.is_number()),
        "isp": src.str("securityContext.isp"),
    });
    let autonomous_system = json!({
        "number": src.int("securityContext.asNumber"),
        "name": src.str("securityContext.asOrg"),
    });
    let endpoint = json!({
        "ip": src.str("client.ipAddress"),
        "domain": src.str("securityContext.domain"),
        "location": some_of(location, &["city", "country", "postal_code", "region"]),
        "autonomous_system": some_of(autonomous_system, &["number", "name"]),
    });
    some_of(endpoint, ENDPOINT_KEYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, result: &str) -> Value {
        json!({
            "uuid": "u1", "published": "2026-11-20T10:00:12.114Z", "eventType": event_type, "version": "0",
            "actor": {"id": "00u1", "type": "User", "alternateId": "carol@acme.example", "displayName": "Carol"},
            "client": {"ipAddress": "198.51.100.30", "geographicalContext": {"city": "Denver", "postalCode": 80202}},
            "outcome": {"result": result, "reason": null},
            "target": [{"id": "00u2", "type": "User", "alternateId": "dan@acme.example", "displayName": "Dan"}]
        })
    }

    #[test]
    fn sign_ins_are_authentications_with_their_outcome() {
        let o = map(&event("user.session.start", "FAILURE")).unwrap();
        assert_eq!((o["class_uid"].as_u64(), o["activity_id"].as_u64()), (Some(3002), Some(1)));
        assert_eq!(o["status_id"], 2);
        assert_eq!(o["user"]["name"], "Carol");
        assert_eq!(o["user"]["email_addr"], "carol@acme.example");
        assert_eq!(o["src_endpoint"]["location"]["postal_code"], "80202");
        assert_eq!(o["service"]["name"], "Okta");
        // The targets were not mapped: they stay in `unmapped`.
        assert_eq!(o["unmapped"]["target"][0]["id"], "00u2");
        let o = map(&event("user.session.end", "SUCCESS")).unwrap();
        assert_eq!((o["activity_id"].as_u64(), o["status_id"].as_u64()), (Some(2), Some(1)));
    }

    #[test]
    fn user_changes_are_account_changes_of_the_target() {
        let o = map(&event("user.mfa.factor.reset_all", "SUCCESS")).unwrap();
        assert_eq!((o["class_uid"].as_u64(), o["activity_id"].as_u64()), (Some(3001), Some(11)));
        assert_eq!(o["user"]["name"], "Dan");
        assert_eq!(o["actor"]["user"]["name"], "Carol");
    }

    #[test]
    fn other_event_types_are_api_activity_with_every_field_kept() {
        let mut raw = event("policy.lifecycle.deactivate", "SUCCESS");
        raw["securityContext"] = json!({"isProxy": false});
        raw["target"] = json!([{"type": "PolicyEntity", "displayName": "MFA policy"}]);
        let o = map(&raw).unwrap();
        assert_eq!((o["class_uid"].as_u64(), o["activity_id"].as_u64()), (Some(6003), Some(3)));
        assert_eq!(o["api"]["operation"], "policy.lifecycle.deactivate");
        assert_eq!(o["metadata"]["event_code"], "policy.lifecycle.deactivate");
        assert_eq!(o["actor"]["user"]["email_addr"], "carol@acme.example");
        assert_eq!(o["status_code"], "SUCCESS");
        assert_eq!(o["unmapped"]["securityContext"]["isProxy"], false);
        assert_eq!(o["unmapped"]["target"][0]["displayName"], "MFA policy");
        assert!(o["unmapped"].get("eventType").is_none());
        // An Okta event without the time every OCSF class requires is not mapped.
        raw.as_object_mut().unwrap().remove("published");
        assert!(map(&raw).is_none());
    }
}
