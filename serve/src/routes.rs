//! One request, answered: its path and method, its token's role (checked from the headers,
//! before the body is touched, so `Expect: 100-continue` gets its 100 only when the token is
//! good), its body read within the limits, and the JSON answer. Every refusal is a JSON error
//! `{"error", "status"}`, counted and logged on standard error with the peer's address.
//!
//! Evaluation itself runs on the server's worker threads ([`crate::pool`]); this module only
//! awaits it, so no reactor thread ever evaluates an event or waits for its turn.

use crate::auth::{Role, Verdict};
use crate::body::{self, Answer, BodyError};
use crate::io::{Activity, InFlight};
use crate::{alerts, Shared};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// A request's endpoint, and what it needs.
struct Route {
    path: &'static str,
    method: Method,
    /// `None`: no token needed.
    role: Option<Role>,
}

fn route(path: &str) -> Option<Route> {
    let (path, method, role) = match path {
        "/events" => ("/events", Method::POST, Some(Role::Ingest)),
        "/shutdown" => ("/shutdown", Method::POST, Some(Role::Ingest)),
        "/stats" => ("/stats", Method::GET, Some(Role::Read)),
        "/metrics" => ("/metrics", Method::GET, Some(Role::Read)),
        "/alerts" => ("/alerts", Method::GET, Some(Role::Read)),
        "/healthz" => ("/healthz", Method::GET, None),
        _ => return None,
    };
    Some(Route { path, method, role })
}

/// Answers one request.
pub async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    activity: Arc<Activity>,
    request: Request<Incoming>,
) -> Result<Response<Answer>, Infallible> {
    let started = Instant::now();
    let in_flight = InFlight::new(&activity);
    let path = request.uri().path().to_string();
    let answer = answer(&shared, peer, &activity, request, in_flight).await;
    let known = route(&path).map_or("other", |r| r.path);
    shared.counts.observe_latency(known, started.elapsed());
    Ok(answer)
}

async fn answer(
    shared: &Arc<Shared>,
    peer: SocketAddr,
    activity: &Activity,
    request: Request<Incoming>,
    in_flight: InFlight,
) -> Response<Answer> {
    let (head, body) = request.into_parts();
    let what = format!("{} {}", head.method, head.uri.path());
    let refusal = Refusal { shared, peer, what: &what };
    let expects_continue =
        head.headers.get(header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let Some(route) = route(head.uri.path()) else {
        let message = "no such path: POST /events, GET /stats, /metrics, /alerts, /healthz, POST /shutdown";
        return refusal.refuse_unread(body, expects_continue, StatusCode::NOT_FOUND, message).await;
    };
    if head.method != route.method {
        let message = format!("{} takes {}", route.path, route.method);
        let mut answer = refusal.refuse_unread(body, expects_continue, StatusCode::METHOD_NOT_ALLOWED, &message).await;
        let allow = if route.method == Method::GET { "GET" } else { "POST" };
        answer.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
        return answer;
    }
    if let Some(role) = route.role {
        let authorization = head.headers.get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
        match shared.tokens.check(authorization, role) {
            Verdict::Allowed => {}
            Verdict::Unknown => {
                let message = "missing or wrong bearer token: send Authorization: Bearer TOKEN";
                let mut answer = refusal.refuse_unread(body, expects_continue, StatusCode::UNAUTHORIZED, message).await;
                answer.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return answer;
            }
            Verdict::WrongRole => {
                let message = match role {
                    Role::Ingest => "this token may not send events nor stop the server: use an ingest token",
                    Role::Read => "this token may not read counts, metrics nor alerts: use a read token",
                };
                return refusal.refuse_unread(body, expects_continue, StatusCode::FORBIDDEN, message).await;
            }
        }
    }
    match route.path {
        "/events" => {
            let ambiguous = activity.ambiguous_framing.load(std::sync::atomic::Ordering::Relaxed);
            post_events(&refusal, &head, body, ambiguous).await
        }
        "/alerts" => {
            let keep = shared.skip(body, expects_continue).await;
            alerts::subscribe(shared, &head, in_flight, !keep)
        }
        other => {
            let keep = shared.skip(body, expects_continue).await;
            match other {
                "/shutdown" => {
                    shared.stop.store(true, Ordering::SeqCst);
                    shared.counts.requests_ok.fetch_add(1, Ordering::Relaxed);
                    shared.counted();
                    json_answer(StatusCode::OK, &shared.counts.to_json(), true)
                }
                "/metrics" => {
                    shared.counted_ok();
                    let mut answer = full(StatusCode::OK, Bytes::from(shared.counts.to_prometheus()), !keep);
                    let kind = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
                    answer.headers_mut().insert(header::CONTENT_TYPE, kind);
                    answer
                }
                "/healthz" => {
                    shared.counted_ok();
                    json_answer(StatusCode::OK, &json!({"status": "ok"}), !keep)
                }
                _ => {
                    shared.counted_ok();
                    json_answer(StatusCode::OK, &shared.counts.to_json(), !keep)
                }
            }
        }
    }
}

async fn post_events(
    refusal: &Refusal<'_>,
    head: &hyper::http::request::Parts,
    body: Incoming,
    ambiguous_framing: bool,
) -> Response<Answer> {
    let shared = refusal.shared;
    let chunked = head.headers.contains_key(header::TRANSFER_ENCODING);
    // hyper drops the Content-Length of such a head: the connection's reader saw it.
    if chunked && (ambiguous_framing || head.headers.contains_key(header::CONTENT_LENGTH)) {
        // A proxy in front could read this framing otherwise, and smuggle a request in.
        let message = "both Content-Length and Transfer-Encoding: send one of them";
        return refusal.refuse(StatusCode::LENGTH_REQUIRED, message, true);
    }
    let body = match body::read_limited(body, shared.max_body, shared.timeouts.body).await {
        Ok(body) => body,
        Err(BodyError::TooLarge(declared)) => {
            let max = shared.max_body;
            let message = match declared {
                Some(n) => format!("the body is {n} bytes; at most {max} are taken (--max-body)"),
                None => format!("the body is over {max} bytes, the most taken (--max-body)"),
            };
            return refusal.refuse(StatusCode::PAYLOAD_TOO_LARGE, &message, true);
        }
        Err(BodyError::TimedOut) => {
            let message = format!("the body did not arrive within {} s", shared.timeouts.body.as_secs_f64());
            return refusal.refuse(StatusCode::REQUEST_TIMEOUT, &message, true);
        }
        Err(BodyError::Broken(reason)) => {
            return refusal.refuse(StatusCode::BAD_REQUEST, &format!("the body could not be read: {reason}"), true);
        }
    };
    if chunked && body.is_empty() {
        // An upload that says nothing must say so plainly: a lost body and an empty one look alike.
        let message = "a chunked body with no chunk: send events, or Content-Length: 0 for none";
        return refusal.refuse(StatusCode::LENGTH_REQUIRED, message, false);
    }
    let Some(done) = shared.evaluate(body).await else {
        let message = "the server is stopping (or failed on this body): it was not evaluated";
        return refusal.refuse(StatusCode::SERVICE_UNAVAILABLE, message, true);
    };
    let rejected = &done.evaluated.rejected;
    let answer = json!({
        "first_line": done.first_line + 1,
        "lines": done.lines,
        "read": done.evaluated.read,
        "rejected": rejected.len(),
        "rejected_lines": rejected.iter().take(100).collect::<Vec<_>>(),
        "alerts": done.evaluated.detections + done.correlations,
    });
    if let Some(first) = rejected.first() {
        let message = format!(
            "{} of {} events rejected (first: line {}, column {}: {}); the others were evaluated",
            rejected.len(),
            done.evaluated.read + rejected.len() as u64,
            first.line,
            first.column,
            first.reason
        );
        shared.count_bad(refusal.peer, refusal.what, 422, &message);
        return json_answer(StatusCode::UNPROCESSABLE_ENTITY, &answer, false);
    }
    shared.counted_ok();
    json_answer(StatusCode::OK, &answer, false)
}

/// What a refusal is logged with.
struct Refusal<'a> {
    shared: &'a Arc<Shared>,
    peer: SocketAddr,
    what: &'a str,
}

impl Refusal<'_> {
    /// A JSON error, counted and logged; `close` ends the connection after it.
    fn refuse(&self, status: StatusCode, message: &str, close: bool) -> Response<Answer> {
        self.shared.count_bad(self.peer, self.what, status.as_u16(), message);
        json_answer(status, &json!({"error": message, "status": status.as_u16()}), close)
    }

    /// Refuses a request whose body has not been read: a small body is skipped so that the
    /// connection goes on; a large or unknown one closes it.
    async fn refuse_unread(
        &self,
        body: Incoming,
        expects_continue: bool,
        status: StatusCode,
        message: &str,
    ) -> Response<Answer> {
        let keep = self.shared.skip(body, expects_continue).await;
        self.refuse(status, message, !keep)
    }
}

pub fn json_answer(status: StatusCode, value: &Value, close: bool) -> Response<Answer> {
    let mut answer = full(status, Bytes::from(value.to_string()), close);
    answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    answer
}

fn full(status: StatusCode, bytes: Bytes, close: bool) -> Response<Answer> {
    let mut answer = Response::new(Answer::Full(Some(bytes)));
    *answer.status_mut() = status;
    if close {
        answer.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    answer
}
