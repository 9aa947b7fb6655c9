//! AWS CloudTrail records (an `eventSource` ending `.amazonaws.com`, an `eventName`): sign-in
//! events → Authentication (3002), IAM user changes → Account Change (3001), every other call
//! → API Activity (6003), with the `cloud` and `datetime` profiles, as AWS's own CloudTrail
//! mappings (and so Security Lake) write them.
//!
//! Whatever the class, each field of [`FIELDS`] is held verbatim at its attribute (`api.*`,
//! `actor.user.*`, `cloud.*`, ...), and every other field of the record stays in `unmapped` at
//! its own path, even one a class reads to compute an attribute (an outcome, an MFA flag). The
//! `ocsf` pipeline maps CloudTrail field names by the same table, so a rule finds on the OCSF
//! object every value it would test on the raw record.

use super::{
    base, endpoint_of_address, event_time, finish_pruned, is_rfc3339, merge, pruned_and_placed, rfc3339, some_of,
    status, time_ms, Activity, Field, Source, ACCOUNT_CHANGE, ACTOR_KEYS, API_ACTIVITY, AUTHENTICATION, ENDPOINT_KEYS,
    USER_KEYS,
};
use serde_json::{json, Map, Value};

/// Where CloudTrail's fields go in every class (`rule-compiler/pipelines/ocsf.yml` maps the
/// same names the same way; a test holds the two together).
pub const FIELDS: &[Field] = &[
    Field { from: "eventName", to: &["api.operation"] },
    Field { from: "eventSource", to: &["api.service.name"] },
    Field { from: "apiVersion", to: &["api.version"] },
    Field { from: "requestID", to: &["api.request.uid"] },
    Field { from: "requestParameters", to: &["api.request.data"] },
    Field { from: "responseElements", to: &["api.response.data"] },
    Field { from: "errorCode", to: &["api.response.error"] },
    Field { from: "errorMessage", to: &["api.response.message"] },
    Field { from: "awsRegion", to: &["cloud.region"] },
    Field { from: "eventTime", to: &["time_dt"] },
    Field { from: "eventID", to: &["metadata.uid"] },
    Field { from: "eventVersion", to: &["metadata.product.version"] },
    Field { from: "eventCategory", to: &["metadata.product.feature.name"] },
    Field { from: "eventType", to: &["metadata.log_name"] },
    Field { from: "userAgent", to: &["http_request.user_agent"] },
    Field { from: "userIdentity.type", to: &["actor.user.type"] },
    Field { from: "userIdentity.arn", to: &["actor.user.uid"] },
    Field { from: "userIdentity.principalId", to: &["actor.user.uid_alt"] },
    Field { from: "userIdentity.userName", to: &["actor.user.name"] },
    Field { from: "userIdentity.accountId", to: &["actor.user.account.uid"] },
    Field { from: "userIdentity.accessKeyId", to: &["actor.user.credential_uid"] },
    Field { from: "userIdentity.invokedBy", to: &["actor.invoked_by"] },
    Field { from: "userIdentity.sessionContext.sessionIssuer.arn", to: &["actor.session.issuer"] },
    Field { from: "sourceIPAddress", to: &["src_endpoint.ip", "src_endpoint.domain"] },
    Field { from: "vpcEndpointId", to: &["src_endpoint.uid"] },
];

/// The attributes every class gets from [`FIELDS`], and what the `cloud` profile requires.
fn complete(mut obj: Map<String, Value>, src: &Source<'_>) -> Map<String, Value> {
    merge(&mut obj, json!({"cloud": {"provider": "AWS"}}));
    // `time_dt` is RFC 3339: an `eventTime` written otherwise (`2022-09-29 23:04:35`, as some
    // pipelines rewrite it) is not held verbatim there, and stays in `unmapped`.
    if let (Some(Value::String(text)), Some(Value::Number(ms))) = (src.peek("eventTime"), obj.get("time")) {
        if !is_rfc3339(text) {
            obj.insert("time_dt".into(), ms.as_i64().and_then(rfc3339).map_or(Value::Null, Value::String));
        }
    }
    let mut obj = pruned_and_placed(obj, src, FIELDS);
    // A request object needs a uid: AWS's mapping writes an empty one for calls without one
    // (console sign-ins).
    if let Some(Value::Object(request)) = obj.get_mut("api").and_then(|a| a.get_mut("request")) {
        request.entry("uid").or_insert_with(|| "".into());
    }
    obj
}

pub fn map(event: &Value) -> Option<Value> {
    let source = event.get("eventSource")?.as_str()?;
    let name = event.get("eventName")?.as_str()?;
    if !source.ends_with(".amazonaws.com") {
        return None;
    }
    if source == "signin.amazonaws.com" {
        return authentication(&Source::tabled(event), sign_in_activity(name));
    }
    if source == "iam.amazonaws.com" {
        if let Some(activity) = account_change_activity(name) {
            if let Some(mapped) = account_change(&Source::tabled(event), activity) {
                return Some(mapped);
            }
        }
    }
    api_activity(&Source::tabled(event), api_activity_id(name))
}

/// The Authentication activity of a sign-in event.
fn sign_in_activity(name: &str) -> Activity {
    match name {
        "ConsoleLogin" => (1, "Logon"),
        "SwitchRole" => (7, "Account Switch"),
        _ => (99, "Other"),
    }
}

/// The Account Change activity of an IAM call that changes a user, if it is one.
fn account_change_activity(name: &str) -> Option<Activity> {
    Some(match name {
        "CreateUser" => (1, "Create"),
        "DeleteUser" => (6, "Delete"),
        "CreateLoginProfile" => (2, "Enable"),
        "DeleteLoginProfile" => (5, "Disable"),
        "UpdateLoginProfile" => (4, "Password Reset"),
        "ChangePassword" => (3, "Password Change"),
        "AttachUserPolicy" | "PutUserPolicy" => (7, "Attach Policy"),
        "DetachUserPolicy" | "DeleteUserPolicy" => (8, "Detach Policy"),
        "EnableMFADevice" => (10, "MFA Factor Enable"),
        "DeactivateMFADevice" => (11, "MFA Factor Disable"),
        // Credential and group changes: OCSF has no activity of their own for these.
        "CreateAccessKey" | "DeleteAccessKey" | "UpdateAccessKey" | "AddUserToGroup" | "RemoveUserFromGroup" => {
            (99, "Other")
        }
        _ => return None,
    })
}

/// The API Activity of a call, from its verb.
fn api_activity_id(name: &str) -> Activity {
    let verb_end = name.char_indices().skip(1).find(|(_, c)| c.is_ascii_uppercase()).map_or(name.len(), |(i, _)| i);
    match &name[..verb_end] {
        "Create" | "Put" | "Run" => (1, "Create"),
        "Get" | "List" | "Describe" => (2, "Read"),
        "Update" | "Modify" | "Set" => (3, "Update"),
        "Delete" | "Remove" | "Terminate" => (4, "Delete"),
        _ => (99, "Other"),
    }
}

fn authentication(src: &Source<'_>, activity: Activity) -> Option<Value> {
    let time = time(src)?;
    let user = caller(src);
    // The outcome: `responseElements.ConsoleLogin: Success` (or of the event's own name),
    // `serviceEventDetails.CredentialChallenge: Success`, or else whether it has an error.
    let name = src.peek("eventName")?.as_str()?;
    let outcome =
        src.str(&format!("responseElements.{name}")).or_else(|| src.str(&format!("serviceEventDetails.{name}")));
    let success = Some(outcome.map_or_else(|| src.peek("errorCode").is_none(), |o| o == "Success"));
    let mut obj = base(&AUTHENTICATION, activity, time, metadata(src));
    merge(&mut obj, status(success));
    merge(
        &mut obj,
        json!({
            "user": user,
            "actor": actor(src, false),
            "status_detail": src.str("errorMessage"),
            "is_mfa": src.str("additionalEventData.MFAUsed").map(|used| used == "Yes"),
            "service": {"name": src.str("eventSource")},
            "dst_endpoint": some_of(json!({"svc_name": src.str("additionalEventData.LoginTo")}), ENDPOINT_KEYS),
            "src_endpoint": src_endpoint(src),
            "http_request": {"user_agent": src.str("userAgent"), "uid": src.str("requestID")},
        }),
    );
    finish_pruned(&AUTHENTICATION, complete(obj, src), src)
}

fn account_change(src: &Source<'_>, activity: Activity) -> Option<Value> {
    let time = time(src)?;
    // The user changed: the one named in the request, or the caller itself (ChangePassword,
    // an access key created for oneself).
    let user = match src.str("requestParameters.userName") {
        Some(name) => json!({
            "name": name,
            "uid": src.str("responseElements.user.arn"),
            "uid_alt": src.str("responseElements.user.userId"),
            "account": src.str("recipientAccountId").map(aws_account),
        }),
        None => caller(src),
    };
    let mut user = some_of(user, USER_KEYS);
    if let Value::Object(u) = &mut user {
        let key =
            src.str("responseElements.accessKey.accessKeyId").or_else(|| src.str("requestParameters.accessKeyId"));
        if let Some(key) = key {
            u.insert("programmatic_credentials".into(), json!([{"uid": key, "type": "AWS Access Key"}]));
        }
        if let Some(group) = src.str("requestParameters.groupName") {
            u.insert("groups".into(), json!([{"name": group}]));
        }
    }
    let policy = match src.str("requestParameters.policyArn") {
        Some(arn) => json!({"uid": arn, "name": arn.rsplit('/').next()}),
        None => {
            json!({"name": src.str("requestParameters.policyName"), "data": src.get("requestParameters.policyDocument")})
        }
    };
    let mut obj = base(&ACCOUNT_CHANGE, activity, time, metadata(src));
    merge(&mut obj, status(Some(src.peek("errorCode").is_none())));
    merge(
        &mut obj,
        json!({
            "user": user,
            "actor": actor(src, true),
            "policy": some_of(policy, &["name", "uid"]),
            "status_code": src.str("errorCode"),
            "status_detail": src.str("errorMessage"),
            "src_endpoint": src_endpoint(src),
            "http_request": {"user_agent": src.str("userAgent"), "uid": src.str("requestID")},
        }),
    );
    finish_pruned(&ACCOUNT_CHANGE, complete(obj, src), src)
}

fn api_activity(src: &Source<'_>, activity: Activity) -> Option<Value> {
    let time = time(src)?;
    // The request and response data are placed verbatim from `FIELDS`, not pruned here.
    let request = src.str("requestID").map(|uid| json!({"uid": uid}));
    let mut obj = base(&API_ACTIVITY, activity, time, metadata(src));
    merge(&mut obj, status(Some(src.peek("errorCode").is_none())));
    merge(
        &mut obj,
        json!({
            "actor": actor(src, true),
            "api": {
                "operation": src.str("eventName"),
                "service": {"name": src.str("eventSource")},
                "version": src.str("apiVersion"),
                "request": request,
                "response": {
                    "error": src.str("errorCode"),
                    "message": src.str("errorMessage"),
                },
            },
            "resources": resources(src),
            "status_code": src.peek("errorCode"),
            "status_detail": src.peek("errorMessage"),
            "src_endpoint": src_endpoint(src),
            "http_request": {"user_agent": src.str("userAgent")},
        }),
    );
    finish_pruned(&API_ACTIVITY, complete(obj, src), src)
}

/// `eventTime`, or the time a log pipeline put beside it instead (`@timestamp` from Logstash,
/// `p_event_time` from Panther).
fn time(src: &Source<'_>) -> Option<i64> {
    event_time(src, &["eventTime", "@timestamp", "p_event_time"])
}

fn metadata(src: &Source<'_>) -> Value {
    json!({
        "product": {
            "name": "CloudTrail",
            "vendor_name": "AWS",
            "version": src.text("eventVersion"),
            "feature": {"name": src.str("eventCategory")},
        },
        "uid": src.str("eventID"),
        "event_code": src.str("eventName"),
        "log_name": src.str("eventType"),
        "log_provider": "CloudTrail",
        "profiles": ["cloud", "datetime"],
    })
}

fn aws_account(uid: &str) -> Value {
    json!({"uid": uid, "type_id": 10, "type": "AWS Account"})
}

/// The caller (`userIdentity`) as an OCSF user, or null when it names no one.
fn caller(src: &Source<'_>) -> Value {
    let kind = src.str("userIdentity.type");
    let type_id = kind.map(|k| match k {
        "IAMUser" | "IdentityCenterUser" => 1,
        "Root" => 2,
        "AWSService" => 4,
        _ => 99,
    });
    let user = json!({
        "type": kind,
        "type_id": type_id,
        "uid": src.str("userIdentity.arn"),
        "uid_alt": src.str("userIdentity.principalId").or_else(|| src.str("userIdentity.onBehalfOf.userId")),
        // An AWS service calling is named by `invokedBy`, a caller known by its type alone by
        // that type: OCSF's user needs a name, uid or account.
        "name": src
            .str("userIdentity.userName")
            .or_else(|| src.str("additionalEventData.UserName"))
            .or_else(|| kind.filter(|k| *k == "AWSService").and(src.str("userIdentity.invokedBy")))
            .or_else(|| (src.peek("userIdentity.arn").is_none() && src.peek("userIdentity.accountId").is_none()).then_some(kind).flatten()),
        "credential_uid": src.str("userIdentity.accessKeyId").or_else(|| src.str("userIdentity.credentialId")),
        "account": src.str("userIdentity.accountId").map(aws_account),
    });
    some_of(user, USER_KEYS)
}

/// Who made the call: the caller (unless it is the event's `user`), the service that called
/// on its behalf, its session and identity provider.
fn actor(src: &Source<'_>, with_user: bool) -> Value {
    let created = src.get("userIdentity.sessionContext.attributes.creationDate").and_then(time_ms);
    let actor = json!({
        "user": if with_user { caller(src) } else { Value::Null },
        "invoked_by": src.str("userIdentity.invokedBy"),
        "session": {
            "created_time": created,
            "is_mfa": src.str("userIdentity.sessionContext.attributes.mfaAuthenticated").map(|m| m == "true"),
            "issuer": src.str("userIdentity.sessionContext.sessionIssuer.arn"),
        },
        "idp": {
            "uid": src.str("userIdentity.onBehalfOf.identityStoreArn"),
            "name": src
                .str("userIdentity.identityProvider")
                .or_else(|| src.str("userIdentity.webIdFederationData.federatedProvider")),
        },
    });
    some_of(actor, ACTOR_KEYS)
}

fn src_endpoint(src: &Source<'_>) -> Value {
    let mut endpoint = endpoint_of_address(src.str("sourceIPAddress"));
    if let Some(vpce) = src.str("vpcEndpointId") {
        match &mut endpoint {
            Value::Object(m) => {
                m.insert("uid".into(), vpce.into());
            }
            other => *other = json!({"uid": vpce}),
        }
    }
    some_of(endpoint, ENDPOINT_KEYS)
}

/// `resources` (`[{ARN, accountId, type}]`) as OCSF resource details, when every one has an ARN.
fn resources(src: &Source<'_>) -> Value {
    let Some(Value::Array(items)) = src.peek("resources") else { return Value::Null };
    let mapped: Option<Vec<Value>> = items
        .iter()
        .map(|r| {
            let arn = r.get("ARN")?.as_str()?;
            Some(json!({
                "uid": arn,
                "type": r.get("type"),
                "owner": r.get("accountId").and_then(Value::as_str).map(|a| json!({"account": aws_account(a)})),
            }))
        })
        .collect();
    match mapped {
        Some(list) if !list.is_empty() => {
            src.mark("resources");
            Value::Array(list)
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verb_decides_the_api_activity() {
        assert_eq!(api_activity_id("DescribeInstances").0, 2);
        assert_eq!(api_activity_id("PutObject").0, 1);
        assert_eq!(api_activity_id("RunInstances").0, 1);
        assert_eq!(api_activity_id("ModifyDBInstance").0, 3);
        assert_eq!(api_activity_id("TerminateInstances").0, 4);
        assert_eq!(api_activity_id("StopLogging").0, 99);
        // A verb is a whole word: `Setup…` is not `Set`.
        assert_eq!(api_activity_id("SetupThing").0, 99);
        assert_eq!(api_activity_id("Get").0, 2);
    }

    #[test]
    fn console_login_is_an_authentication_with_its_outcome() {
        let event = json!({
            "eventVersion": "1.08", "eventTime": "2026-11-20T09:00:00Z", "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin", "eventID": "e1", "sourceIPAddress": "203.0.113.77",
            "userIdentity": {"type": "IAMUser", "userName": "dave", "accountId": "111122223333"},
            "responseElements": {"ConsoleLogin": "Failure"}, "errorMessage": "Failed authentication",
            "additionalEventData": {"MFAUsed": "No"}, "awsRegion": "us-east-1"
        });
        let o = map(&event).unwrap();
        assert_eq!((o["class_uid"].as_u64(), o["activity_id"].as_u64()), (Some(3002), Some(1)));
        assert_eq!(o["type_uid"], 300201);
        assert_eq!(o["status_id"], 2);
        assert_eq!(o["is_mfa"], false);
        assert_eq!(o["user"]["name"], "dave");
        assert_eq!(o["src_endpoint"]["ip"], "203.0.113.77");
        assert_eq!(o["time"], 1_795_165_200_000i64);
        // MFAUsed is read into `is_mfa`, not held verbatim: it stays where rules find it.
        assert_eq!(o["unmapped"], json!({"additionalEventData": {"MFAUsed": "No"}}));
        assert_eq!(o["cloud"], json!({"provider": "AWS", "region": "us-east-1"}));
        assert_eq!(o["api"]["operation"], "ConsoleLogin");
        assert_eq!(o["api"]["response"]["data"], json!({"ConsoleLogin": "Failure"}));
        assert_eq!(o["actor"]["user"]["type"], "IAMUser");
        assert_eq!(o["time_dt"], "2026-11-20T09:00:00Z");
        assert_eq!(serde_json::from_str::<Value>(o["raw_data"].as_str().unwrap()).unwrap(), event);
    }

    #[test]
    fn every_field_is_at_its_table_attribute_or_under_unmapped_whatever_the_class() {
        let caller = json!({"type": "IAMUser", "arn": "arn:aws:iam::1:user/a", "accountId": "1", "userName": "a",
            "principalId": "AIDA", "accessKeyId": "AKIA", "sessionContext": {"attributes": {"mfaAuthenticated": "false"},
            "sessionIssuer": {"arn": "arn:aws:iam::1:role/r", "type": "Role"}}});
        for (source, name) in [
            ("signin.amazonaws.com", "ConsoleLogin"),
            ("iam.amazonaws.com", "CreateUser"),
            ("s3.amazonaws.com", "DeleteBucket"),
        ] {
            let event = json!({"eventVersion": "1.08", "eventTime": "2026-11-20T09:00:00Z", "eventSource": source,
                "eventName": name, "eventID": "e", "sourceIPAddress": "ec2.amazonaws.com", "userIdentity": caller,
                "requestParameters": {"userName": "b", "bucketName": "x"}, "errorCode": "AccessDenied",
                "awsRegion": "us-east-1", "recipientAccountId": "1", "eventType": "AwsApiCall", "readOnly": false,
                "tlsDetails": {"tlsVersion": "TLSv1.3"}});
            let o = map(&event).unwrap();
            for field in FIELDS {
                let want = field.from.split('.').try_fold(&event, |v, k| v.get(k));
                let Some(want) = want else { continue };
                let held = field.to.iter().any(|to| to.split('.').try_fold(&o, |v, k| v.get(k)) == Some(want));
                assert!(held, "{name}: {} is not at {:?}: {o:#}", field.from, field.to);
            }
            assert_eq!(o["api"]["request"]["uid"], "", "no request id: an empty one, as AWS's mapping writes");
            assert_eq!(o["unmapped"]["readOnly"], false, "{name}");
            assert_eq!(o["unmapped"]["tlsDetails"]["tlsVersion"], "TLSv1.3", "{name}");
            assert_eq!(o["unmapped"]["userIdentity"]["sessionContext"]["sessionIssuer"]["type"], "Role", "{name}");
            assert_eq!(o["unmapped"]["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"], "false");
            assert!(o["unmapped"].get("eventName").is_none() && o["unmapped"].get("requestParameters").is_none());
        }
    }

    #[test]
    fn iam_user_changes_are_account_changes_of_the_named_user() {
        let event = json!({
            "eventTime": "2026-11-20T09:10:00Z", "eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy",
            "sourceIPAddress": "203.0.113.77", "userIdentity": {"type": "IAMUser", "userName": "dave"},
            "requestParameters": {"userName": "svc-backup", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}
        });
        let o = map(&event).unwrap();
        assert_eq!((o["class_uid"].as_u64(), o["activity_id"].as_u64()), (Some(3001), Some(7)));
        assert_eq!(o["user"]["name"], "svc-backup");
        assert_eq!(o["actor"]["user"]["name"], "dave");
        assert_eq!(o["policy"]["name"], "AdministratorAccess");
    }

    #[test]
    fn other_calls_are_api_activity_and_errors_are_failures() {
        let event = json!({
            "eventTime": "2026-11-20T09:20:00Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "DeleteTrail",
            "sourceIPAddress": "203.0.113.77", "userIdentity": {"type": "IAMUser", "userName": "dave"},
            "requestID": "r1", "requestParameters": {"name": "org-trail"}, "errorCode": "AccessDenied"
        });
        let o = map(&event).unwrap();
        assert_eq!((o["class_uid"].as_u64(), o["activity_id"].as_u64()), (Some(6003), Some(4)));
        assert_eq!(o["status_id"], 2);
        assert_eq!(o["status_code"], "AccessDenied");
        assert_eq!(o["api"]["request"]["data"]["name"], "org-trail");
    }

    #[test]
    fn records_without_a_time_or_of_other_sources_are_not_mapped() {
        assert!(map(&json!({"eventSource": "iam.amazonaws.com", "eventName": "CreateUser"})).is_none());
        assert!(map(&json!({"eventSource": "example.com", "eventName": "X", "eventTime": "2026-11-20T09:20:00Z"}))
            .is_none());
    }
}
