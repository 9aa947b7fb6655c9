//! `sigil serve` end to end: the real binary on 127.0.0.1, real events posted over HTTP by
//! concurrent clients with malformed requests among them. Nothing may be lost (the alerts equal
//! those of `sigil hunt` over the same events), the server must stay up, and its counts must
//! add up. (The server's other behaviours are tested in serve_basics.rs, serve_roles.rs,
//! serve_limits.rs and serve_tls.rs.)

mod serve_support;

use serde_json::{json, Value};
use serve_support::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const TOKEN: &str = "load-test-token-0123456789abcdef";

/// Detections and correlations, each a sorted list (a multiset) of alerts with the evidence
/// position (`source`, `events`) taken out: files and lines differ between `hunt` and `serve`.
fn multisets(alerts: &[Value]) -> (Vec<String>, Vec<String>) {
    let (mut detections, mut correlations) = (Vec::new(), Vec::new());
    for alert in alerts {
        let mut alert = alert.clone();
        let object = alert.as_object_mut().unwrap();
        object.remove("source");
        object.remove("events");
        let text = alert.to_string();
        // Which match of a suppressed rule opens a window, like a correlation's firing, depends
        // on the order events arrive in.
        let ordered = alert["kind"] != "detection" || !alert["suppression"].is_null();
        if ordered {
            correlations.push(text);
        } else {
            detections.push(text);
        }
    }
    detections.sort();
    correlations.sort();
    (detections, correlations)
}

/// Real events, as JSON objects: the cloud samples of ../shared when present (Panther's test
/// events and the OTRF cloud logs), else the examples.
fn real_events() -> Option<(Vec<Value>, &'static str)> {
    let cloud = repo().join("../shared/datasets/cloud");
    let add_file = |events: &mut Vec<Value>, path: &Path, nested: bool| {
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let Ok(value) = serde_json::from_str::<Value>(line) else { continue };
            let event = if nested { value.get("event").cloned().unwrap_or(Value::Null) } else { value };
            if event.is_object() {
                events.push(event);
            }
        }
    };
    let files = |dir: PathBuf, suffix: &str| -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> =
            std::fs::read_dir(dir).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
        found.retain(|p| p.to_string_lossy().ends_with(suffix));
        found.sort();
        found
    };
    let mut events = Vec::new();
    for path in files(cloud.join("panther-tests"), ".tests.jsonl") {
        add_file(&mut events, &path, true);
    }
    for path in files(cloud.join("otrf"), ".jsonl") {
        add_file(&mut events, &path, false);
    }
    if !events.is_empty() {
        return Some((events, "../shared/datasets/cloud"));
    }
    for path in files(repo().join("examples"), ".jsonl") {
        add_file(&mut events, &path, false);
    }
    (!events.is_empty()).then_some((events, "examples/*.jsonl"))
}

/// The malformed requests sent among the load, and the status each must get.
const MALFORMED: usize = 9;

/// The body of a malformed request that is still evaluated (its good lines are events).
fn half_bad_body(kind: usize, probe: usize) -> Option<String> {
    match kind {
        0 => Some("not json\n{\"a\":\n".to_string()),
        8 => Some(format!("garbage\n{{\"_load_probe\":{probe}}}\n")),
        _ => None,
    }
}

fn send_malformed(client: &mut Client, kind: usize, probe: usize) -> (u16, Value) {
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    let reply = match kind {
        0 | 8 => client.post("/events", half_bad_body(kind, probe).unwrap().as_bytes(), Some(TOKEN)),
        1 => client.get("/events", Some(TOKEN)),
        2 => client.post("/nowhere", b"{}\n", Some(TOKEN)),
        3 => client.post("/events", b"{}\n", None),
        4 => client.post("/events", b"{}\n", Some("not-the-token-at-all-0000")),
        5 => client
            .send(format!("POST /events HTTP/1.1\r\n{auth}Content-Length: 99999999999999999\r\n\r\n").as_bytes(), b"{"),
        6 => client.send(b"HELLO THERE\r\n\r\n", b""),
        7 => client.send(
            format!("POST /events HTTP/1.1\r\n{auth}Transfer-Encoding: chunked\r\n\r\n").as_bytes(),
            b"0\r\n\r\n",
        ),
        _ => panic!("no malformed request of kind {kind}"),
    };
    (reply.status, reply.body)
}

const EXPECTED_STATUS: [u16; MALFORMED] = [422, 405, 404, 401, 401, 413, 400, 411, 422];

#[test]
fn four_clients_post_100k_real_events_with_malformed_requests_and_nothing_is_lost() {
    let Some((pool, origin)) = real_events() else {
        println!("SKIPPED: no events in ../shared/datasets/cloud nor examples/");
        return;
    };
    const EVENTS: usize = 100_000;
    const BATCH: usize = 500;
    const CLIENTS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    // Every event distinct (`_load_seq`), so each detection alert names its event.
    let lines: Vec<String> = (0..EVENTS)
        .map(|n| {
            let mut event = pool[n % pool.len()].clone();
            event.as_object_mut().unwrap().insert("_load_seq".into(), json!(n));
            event.to_string()
        })
        .collect();
    let batches: Vec<String> = lines.chunks(BATCH).map(|c| c.join("\n") + "\n").collect();

    let server = Server::start(&["--listen", "127.0.0.1:0", "--max-body", "1048576"], Some(TOKEN));
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (next, batches, mut client) = (&next, &batches, server.client());
                scope.spawn(move || {
                    let mut tally = Tally::default();
                    loop {
                        let b = next.fetch_add(1, Ordering::SeqCst);
                        if b >= batches.len() {
                            return tally;
                        }
                        if b % 4 == 1 {
                            let kind = (b / 4) % MALFORMED;
                            let (status, body) = send_malformed(&mut client, kind, b);
                            assert_eq!(status, EXPECTED_STATUS[kind], "malformed request {kind}: {body}");
                            assert!(body.get("error").is_some() || body.get("rejected").is_some(), "{body}");
                            tally.record(status, &body, kind, b, half_bad_body(kind, b));
                        }
                        let reply = client.post("/events", batches[b].as_bytes(), Some(TOKEN));
                        assert_eq!(reply.status, 200, "{}", reply.body);
                        assert_eq!(reply.body["read"], json!(BATCH), "{}", reply.body);
                        tally.record(200, &reply.body, usize::MAX, b, Some(batches[b].clone()));
                        tally.lines += BATCH as u64;
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("a client thread")).collect()
    });
    let elapsed = started.elapsed();
    let stats = server.client().get("/stats", Some(TOKEN));
    assert_eq!(stats.status, 200);
    let shutdown = server.client().post("/shutdown", b"", Some(TOKEN));
    assert_eq!(shutdown.status, 200, "{}", shutdown.body);
    let (code, stdout, stderr) = server.wait();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("serve: stopped after"), "{stderr}");

    // The counts add up: every request answered once, every line sent read or rejected.
    let mut total = Tally::default();
    for t in &tallies {
        total.add(t);
    }
    let final_counts = &shutdown.body;
    let sent = total.requests() + 2; // and /stats, /shutdown
    let (ok, bad) =
        (final_counts["requests"]["ok"].as_u64().unwrap(), final_counts["requests"]["bad"].as_u64().unwrap());
    assert_eq!(ok + bad, sent, "{final_counts}");
    assert_eq!(ok, total.by_status[&200] + 2, "{final_counts}");
    let bad_by_status: BTreeMap<String, u64> =
        total.by_status.iter().filter(|(s, _)| **s != 200).map(|(s, n)| (s.to_string(), *n)).collect();
    assert_eq!(final_counts["requests"]["bad_by_status"], json!(bad_by_status));
    let (read, rejected) =
        (final_counts["events"]["read"].as_u64().unwrap(), final_counts["events"]["rejected"].as_u64().unwrap());
    assert_eq!(read + rejected, total.lines, "events in = read + rejected: {final_counts}");
    assert_eq!((read, rejected), (EVENTS as u64 + total.probes.len() as u64, total.rejected), "{final_counts}");
    assert_eq!(stats.body["events"]["read"], json!(read), "/stats after the load has every event");

    // Nothing lost: the bodies tile the server's stream of lines (each reply says where its
    // body began), and the alerts are exactly those of `hunt` over the bodies in that order,
    // correlations included, evidence lines included.
    total.bodies.sort();
    let mut stream = String::new();
    let mut next_line = 1u64;
    for (first, body) in &total.bodies {
        assert_eq!(*first, next_line, "the bodies tile the stream");
        next_line += body.lines().count() as u64;
        stream.push_str(body);
    }
    let stream_file = dir.path().join("stream.jsonl");
    std::fs::write(&stream_file, &stream).unwrap();
    let want = hunt(&stream_file);
    let name = json!(stream_file.display().to_string()).to_string();
    let served = parse_lines(&stdout.replace(r#""file":"http""#, &format!(r#""file":{name}"#)));
    // Suppression windows still open when the stream ends are summarised then, in no reply.
    let closing: u64 = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("sigil: serve: ")?.strip_suffix(" suppression summaries written as the stream ended")
        })
        .map_or(0, |n| n.parse().unwrap());
    assert_eq!(total.alerts + closing, served.len() as u64, "the replies' alert counts add up to the alerts written");
    let (got_detections, got_correlations) = multisets(&served);
    assert!(got_detections.len() > 100, "the events fire rules: {} detections", got_detections.len());
    assert!(!got_correlations.is_empty(), "the events fire correlations");
    assert_eq!(served.len(), want.len(), "alerts written by serve and by hunt over its stream");
    for (i, (got, want)) in served.iter().zip(&want).enumerate() {
        assert_eq!(got, want, "alert {i}");
    }

    // In the order the clients meant (batch by batch), detections are the same multiset;
    // correlations and suppression depend on the order events arrive in, which concurrent
    // clients do not fix.
    let mut events = lines.join("\n") + "\n";
    for probe in &total.probes {
        events.push_str(&format!("{{\"_load_probe\":{probe}}}\n"));
    }
    let events_file = dir.path().join("events.jsonl");
    std::fs::write(&events_file, events).unwrap();
    let (want_detections, want_correlations) = multisets(&hunt(&events_file));
    assert!(got_detections == want_detections, "the detection alerts differ from hunt's over the events in send order");
    println!(
        "serve load: {EVENTS} events from {origin} ({} distinct) in {} requests ({} malformed) from {CLIENTS} clients \
         in {:.2} s: {:.0} events/s; alerts equal to hunt over the server's stream: {}; detections {} (hunt in send \
         order {}), correlations {} (hunt in send order {}, equal: {})",
        pool.len(),
        sent,
        bad,
        elapsed.as_secs_f64(),
        EVENTS as f64 / elapsed.as_secs_f64(),
        served.len(),
        got_detections.len(),
        want_detections.len(),
        got_correlations.len(),
        want_correlations.len(),
        got_correlations == want_correlations,
    );
    assert!(elapsed < Duration::from_secs(600), "the load took {elapsed:?}");
}

/// What one client sent and was answered.
#[derive(Default)]
struct Tally {
    by_status: BTreeMap<u16, u64>,
    lines: u64,
    rejected: u64,
    alerts: u64,
    probes: Vec<usize>,
    /// The bodies evaluated, with the stream line each began at.
    bodies: Vec<(u64, String)>,
}

impl Tally {
    fn record(&mut self, status: u16, body: &Value, kind: usize, batch: usize, sent: Option<String>) {
        *self.by_status.entry(status).or_default() += 1;
        if let (Some(first), Some(sent)) = (body["first_line"].as_u64(), sent) {
            self.bodies.push((first, sent));
        }
        self.alerts += body["alerts"].as_u64().unwrap_or(0);
        match kind {
            0 => {
                self.lines += 2;
                self.rejected += 2;
            }
            8 => {
                self.lines += 2;
                self.rejected += 1;
                self.probes.push(batch);
                assert_eq!((body["read"].as_u64(), body["rejected"].as_u64()), (Some(1), Some(1)), "{body}");
                assert_eq!(body["rejected_lines"][0]["line"], json!(1), "{body}");
            }
            _ => {}
        }
    }

    fn requests(&self) -> u64 {
        self.by_status.values().sum()
    }

    fn add(&mut self, other: &Tally) {
        for (status, n) in &other.by_status {
            *self.by_status.entry(*status).or_default() += n;
        }
        self.lines += other.lines;
        self.rejected += other.rejected;
        self.alerts += other.alerts;
        self.probes.extend(&other.probes);
        self.bodies.extend(other.bodies.iter().cloned());
    }
}
