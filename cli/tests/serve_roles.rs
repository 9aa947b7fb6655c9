//! `sigil serve` roles and the read side: an ingest token sends events, a read token reads
//! `/stats`, `/metrics` and `/alerts`, neither does the other's work (403), no token is 401;
//! `Expect: 100-continue` gets its 100 only with a good token; `/metrics` is Prometheus text
//! whose counts are those of `/stats`; `/alerts` streams exactly the alerts written.

mod serve_support;

use serde_json::{json, Value};
use serve_support::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn with_roles(args: &[&str]) -> Server {
    Server::start_with(args, &[("SIGIL_INGEST_TOKEN", INGEST), ("SIGIL_READ_TOKEN", READ)])
}

#[test]
fn each_token_does_its_roles_work_only_and_refusals_are_logged_with_the_peer() {
    let server = with_roles(&["--listen", "127.0.0.1:0"]);
    let address = server.address.clone();
    let event = b"{\"eventName\":\"StopLogging\"}\n";
    assert_eq!(get(&address, "/stats", Some(INGEST)).status, 403, "the ingest token cannot read");
    assert_eq!(get(&address, "/metrics", Some(INGEST)).status, 403);
    assert_eq!(get(&address, "/alerts", Some(INGEST)).status, 403);
    assert_eq!(post(&address, "/events", event, Some(READ)).status, 403, "the read token cannot ingest");
    assert_eq!(post(&address, "/shutdown", b"", Some(READ)).status, 403, "nor stop the server");
    let none = get(&address, "/stats", None);
    assert_eq!(none.status, 401);
    assert_eq!(none.header("www-authenticate").as_deref(), Some("Bearer"), "{}", none.head);
    assert_eq!(post(&address, "/events", event, Some("unknown-token-0123456789")).status, 401);
    let healthz = get(&address, "/healthz", None);
    assert_eq!((healthz.status, healthz.json()), (200, json!({"status": "ok"})), "/healthz needs no token");

    let sent = post(&address, "/events", event, Some(INGEST));
    assert_eq!(sent.status, 200, "{}", sent.text());
    let stats = get(&address, "/stats", Some(READ));
    assert_eq!(stats.status, 200);
    assert_eq!(stats.json()["events"]["read"], json!(1));
    assert_eq!(stats.json()["requests"]["bad_by_status"], json!({"401": 2, "403": 5}), "{}", stats.text());

    let (stdout, stderr) = server.shutdown(Some(INGEST));
    for status in [401, 403] {
        let logged =
            stderr.lines().filter(|l| l.contains("127.0.0.1:") && l.contains(&format!(": {status}: "))).count();
        assert!(logged >= 2, "the {status} answers are logged with the peer's address: {stderr}");
    }
    let everything = stdout + &stderr;
    for token in [INGEST, READ, "unknown-token"] {
        assert!(!everything.contains(token), "a token leaked: {everything}");
    }
}

#[test]
fn the_token_file_holds_both_roles() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{INGEST}\n")).unwrap();
    let server = Server::start_with(&["--listen", "127.0.0.1:0", "--token-file", file.to_str().unwrap()], &[]);
    assert_eq!(post(&server.address, "/events", b"{}\n", Some(INGEST)).status, 200);
    assert_eq!(get(&server.address, "/stats", Some(INGEST)).status, 200);
    assert_eq!(get(&server.address, "/metrics", None).status, 401);
    server.shutdown(Some(INGEST));
}

/// Sends a head with `Expect: 100-continue` and waits: the server either says 100 (then the
/// body is sent) or answers at once. Returns whether a 100 came, and the final answer.
fn expect_continue(address: &str, token: &str, body: &[u8]) -> (bool, Reply) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /events HTTP/1.1\r\nHost: sigil\r\nAuthorization: Bearer {token}\r\nExpect: 100-continue\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    if first.starts_with("HTTP/1.1 100 ") {
        let mut blank = String::new();
        reader.read_line(&mut blank).unwrap();
        assert_eq!(blank, "\r\n", "a 100 has no headers");
        stream.write_all(body).unwrap();
        return (true, read_reply(&mut reader));
    }
    // The final answer came first: read the rest of it after its status line.
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    let whole = [first.as_bytes(), &rest].concat();
    (false, read_reply(&mut BufReader::new(&whole[..])))
}

#[test]
fn expect_100_continue_is_answered_only_once_the_token_is_good() {
    let server = with_roles(&["--listen", "127.0.0.1:0"]);
    let body = b"{\"eventName\":\"StopLogging\"}\n";
    let (continued, reply) = expect_continue(&server.address, INGEST, body);
    assert!(continued, "a good token gets 100 Continue");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["read"], json!(1));
    let (continued, reply) = expect_continue(&server.address, "not-a-token-0123456789", body);
    assert!(!continued, "a bad token gets no 100");
    assert_eq!(reply.status, 401, "{}", reply.text());
    let (continued, reply) = expect_continue(&server.address, READ, body);
    assert!(!continued, "a token without the role gets no 100");
    assert_eq!(reply.status, 403, "{}", reply.text());
    server.shutdown(Some(INGEST));
}

#[test]
fn metrics_are_prometheus_text_and_count_what_stats_counts() {
    let server = with_roles(&["--listen", "127.0.0.1:0"]);
    let events = examples();
    let half = events.len() / 2;
    let cut = events[half..].find('\n').map_or(events.len(), |n| half + n + 1);
    for body in [&events[..cut], &events[cut..], "not json\n"] {
        let reply = post(&server.address, "/events", body.as_bytes(), Some(INGEST));
        assert!(matches!(reply.status, 200 | 422), "{}", reply.text());
    }
    let stats = get(&server.address, "/stats", Some(READ)).json();
    let metrics = get(&server.address, "/metrics", Some(READ));
    assert_eq!(metrics.status, 200);
    assert!(metrics.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"), "{}", metrics.head);
    let text = metrics.text();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text");
    let value = |name: &str| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => panic!("{name} is not a number"),
            })
            .sum()
    };
    let count = |v: &Value| v.as_u64().unwrap() as f64;
    assert!(count(&stats["events"]["read"]) > 0.0);
    assert_eq!(value("sigil_events_read_total"), count(&stats["events"]["read"]), "{text}");
    assert_eq!(value("sigil_events_rejected_total"), count(&stats["events"]["rejected"]), "{text}");
    assert_eq!(value("sigil_detections_total"), count(&stats["alerts"]["detections"]), "{text}");
    assert_eq!(value("sigil_correlation_alerts_total"), count(&stats["alerts"]["correlations"]), "{text}");
    let alerts = count(&stats["alerts"]["detections"]) + count(&stats["alerts"]["correlations"]);
    assert!(alerts > 0.0);
    assert_eq!(value("sigil_alerts_total"), alerts, "alerts by level add up to /stats's: {text}");
    let high = scrape.samples.iter().any(|s| s.metric == "sigil_alerts_total" && s.labels.get("level").is_some());
    assert!(high, "alerts carry a level label");
    assert!(scrape.samples.iter().any(|s| s.metric == "sigil_correlation_groups_open"), "{text}");
    // This request's connection at least (the one before may not be closed yet).
    assert!(value("sigil_connections_open") >= 1.0, "{text}");
    assert!(value("sigil_connections_accepted_total") >= 5.0, "{text}");
    let events_latency = scrape
        .samples
        .iter()
        .find(|s| s.metric == "sigil_request_duration_seconds" && s.labels.get("path") == Some("/events"));
    match events_latency.map(|s| &s.value) {
        Some(prometheus_parse::Value::Histogram(buckets)) => {
            assert_eq!(buckets.last().unwrap().count, 3.0, "three posts to /events: {text}")
        }
        other => panic!("no latency histogram for /events: {other:?}\n{text}"),
    }
    server.shutdown(Some(INGEST));
}

#[test]
fn alerts_stream_to_a_reader_exactly_as_they_are_written() {
    let server = with_roles(&["--listen", "127.0.0.1:0"]);
    let subscribe = |accept: &str| {
        let mut stream = TcpStream::connect(&server.address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let head =
            format!("GET /alerts HTTP/1.1\r\nHost: sigil\r\nAuthorization: Bearer {READ}\r\nAccept: {accept}\r\n\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{head}");
        (head, reader)
    };
    let (ndjson_head, mut ndjson) = subscribe("application/x-ndjson");
    assert!(ndjson_head.contains("application/x-ndjson"), "{ndjson_head}");
    let (sse_head, mut sse) = subscribe("text/event-stream");
    assert!(sse_head.contains("text/event-stream"), "{sse_head}");
    // Subscribed: now the events, one request per example file's worth of lines.
    let events = examples();
    let mut alerts = 0;
    for body in events.lines().collect::<Vec<_>>().chunks(7) {
        let reply = post(&server.address, "/events", (body.join("\n") + "\n").as_bytes(), Some(INGEST));
        assert_eq!(reply.status, 200, "{}", reply.text());
        alerts += reply.json()["alerts"].as_u64().unwrap();
    }
    assert!(alerts > 0, "the examples fire rules");
    // The streams end when the server stops.
    let (stdout, stderr) = server.shutdown(Some(INGEST));
    let streamed = text(&read_chunked(&mut ndjson));
    let closing: usize = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("sigil: serve: ")?.strip_suffix(" suppression summaries written as the stream ended")
        })
        .map_or(0, |n| n.parse().unwrap());
    let written: Vec<&str> = stdout.lines().collect();
    let streamed: Vec<&str> = streamed.lines().collect();
    assert_eq!(streamed.len() as u64, alerts, "every alert a reply counted was streamed");
    assert_eq!(written.len(), streamed.len() + closing, "{stderr}");
    assert_eq!(streamed, written[..streamed.len()], "the stream is the output, line for line");
    let events_sse = text(&read_chunked(&mut sse));
    let data: Vec<&str> = events_sse.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    assert_eq!(data, streamed, "server-sent events carry the same lines");
}
