//! `sigil serve` end to end: the real binary on 127.0.0.1, real events posted over HTTP by
//! concurrent clients with malformed requests among them. Nothing may be lost (the alerts equal
//! those of `sigil hunt` over the same events), the server must stay up, and its counts must
//! add up.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "load-test-token-0123456789abcdef";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A running `sigil serve`: its address, and its output gathered as it comes.
struct Server {
    child: Child,
    address: String,
    stderr: Arc<Mutex<String>>,
    stdout: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl Server {
    fn start(args: &[&str], token: Option<&str>) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sigil"));
        command.arg("serve").args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
        match token {
            Some(t) => command.env("SIGIL_TOKEN", t),
            None => command.env_remove("SIGIL_TOKEN"),
        };
        let mut child = command.spawn().expect("sigil serve starts");
        let mut stdout_pipe = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            stdout_pipe.read_to_end(&mut bytes).unwrap();
            bytes
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let (address_tx, address_rx) = mpsc::channel();
        let log = Arc::clone(&stderr);
        let stderr_pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = address_tx.send(rest.split_whitespace().next().unwrap().to_string());
                }
                log.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let address = address_rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("serve did not start: {}", stderr.lock().unwrap()));
        Server { child, address, stderr, stdout: Some(stdout) }
    }

    fn client(&self) -> Client {
        Client { address: self.address.clone(), stream: None }
    }

    /// Waits for the server to exit; returns its exit code and what it wrote.
    fn wait(mut self) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "serve did not stop: {}", self.stderr.lock().unwrap());
            std::thread::sleep(Duration::from_millis(50));
        };
        let stdout = self.stdout.take().unwrap().join().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let stderr = self.stderr.lock().unwrap().clone();
        (status.code(), text(&stdout), stderr)
    }
}

/// A test that fails leaves no server behind.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A keep-alive HTTP/1.1 client that reconnects when the server closes the connection.
struct Client {
    address: String,
    stream: Option<TcpStream>,
}

struct Reply {
    status: u16,
    body: Value,
}

impl Client {
    fn post(&mut self, path: &str, body: &[u8], token: Option<&str>) -> Reply {
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let head = format!("POST {path} HTTP/1.1\r\nHost: sigil\r\n{auth}Content-Length: {}\r\n\r\n", body.len());
        self.send(head.as_bytes(), body)
    }

    fn get(&mut self, path: &str, token: Option<&str>) -> Reply {
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        self.send(format!("GET {path} HTTP/1.1\r\nHost: sigil\r\n{auth}\r\n").as_bytes(), b"")
    }

    /// Sends raw bytes and reads one response.
    fn send(&mut self, head: &[u8], body: &[u8]) -> Reply {
        let stream = match self.stream.take() {
            Some(s) => s,
            None => {
                let s = TcpStream::connect(&self.address).expect("connects");
                s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
                s
            }
        };
        let mut stream = stream;
        stream.write_all(head).unwrap();
        stream.write_all(body).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut status_line = String::new();
        reader.read_line(&mut status_line).expect("a status line");
        let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            panic!("no HTTP status in {status_line:?}");
        });
        let (mut length, mut close) = (0usize, false);
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap(),
                "connection" => close = value.trim().eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        assert!(reader.buffer().is_empty(), "one response per request");
        if !close {
            self.stream = Some(stream);
        }
        let body =
            serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {}", text(&body)));
        Reply { status, body }
    }
}

/// Runs `sigil hunt` over `events` (JSON Lines); returns its alerts.
fn hunt(events: &Path) -> Vec<Value> {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["hunt", "--format", "jsonl", events.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    parse_lines(&text(&out.stdout))
}

fn parse_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"))).collect()
}

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

#[test]
fn one_event_per_request_keeps_correlations_across_requests_and_numbers_lines_as_one_stream() {
    let examples = repo().join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&examples).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "jsonl"));
    files.sort();
    let stream: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.jsonl");
    std::fs::write(&all, &stream).unwrap();
    let want = hunt(&all);
    assert!(want.iter().any(|a| a["kind"] == "correlation"), "the examples hold a correlation");

    let server = Server::start(&["--listen", "127.0.0.1:0"], None);
    let mut client = server.client();
    for line in stream.lines() {
        let reply = client.post("/events", format!("{line}\n").as_bytes(), None);
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    client.post("/shutdown", b"", None);
    let (code, stdout, stderr) = server.wait();
    assert_eq!(code, Some(0), "{stderr}");
    // The same alerts in the same order; the evidence points at the same lines of the stream.
    let name = all.display().to_string();
    let got: Vec<String> = parse_lines(&stdout.replace("\"file\":\"http\"", &format!("\"file\":{}", json!(name))))
        .iter()
        .map(Value::to_string)
        .collect();
    let want: Vec<String> = want.iter().map(Value::to_string).collect();
    assert_eq!(got, want);
}

#[test]
fn sealed_output_verifies_after_sigterm_and_a_public_address_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    let made =
        Command::new(env!("CARGO_BIN_EXE_sigil")).args(["keygen", "-o", key.to_str().unwrap()]).output().unwrap();
    assert!(made.status.success());
    let sealed = dir.path().join("alerts.sealed.jsonl");
    let server = Server::start(
        &["--listen", "127.0.0.1:0", "--seal", key.to_str().unwrap(), "-o", sealed.to_str().unwrap()],
        None,
    );
    let events = std::fs::read_to_string(repo().join("examples/cloudtrail.jsonl")).unwrap();
    let reply = server.client().post("/events", events.as_bytes(), None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body["alerts"].as_u64().unwrap() > 0, "{}", reply.body);
    let pid = server.child.id().to_string();
    match Command::new("kill").args(["-TERM", &pid]).status() {
        Ok(status) => assert!(status.success()),
        Err(_) => {
            println!("SKIPPED the SIGTERM part: no kill command; stopping with POST /shutdown");
            server.client().post("/shutdown", b"", None);
        }
    }
    let (code, _, stderr) = server.wait();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("serve: stopped after"), "{stderr}");
    let verified = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["verify", sealed.to_str().unwrap(), "--key", key.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(verified.status.success(), "{}{}", text(&verified.stdout), text(&verified.stderr));
    let records =
        std::fs::read_to_string(&sealed).unwrap().lines().filter(|l| l.contains(r#""seal":"record""#)).count();
    assert_eq!(records as u64, reply.body["alerts"].as_u64().unwrap());

    let refused = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env_remove("SIGIL_TOKEN")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("--token-file"), "{}", text(&refused.stderr));
}

#[test]
fn max_requests_stops_the_server_and_a_wrong_token_never_shows() {
    let server = Server::start(&["--listen", "127.0.0.1:0", "--max-requests", "3"], Some(TOKEN));
    let mut client = server.client();
    assert_eq!(client.get("/stats", Some(TOKEN)).status, 200);
    assert_eq!(client.get("/stats", Some("wrong-token-that-must-not-be-logged")).status, 401);
    assert_eq!(client.post("/events", b"{\"eventName\":\"StopLogging\"}\n", Some(TOKEN)).status, 200);
    let (code, stdout, stderr) = server.wait();
    assert_eq!(code, Some(0), "{stderr}");
    let everything = stdout + &stderr;
    assert!(!everything.contains(TOKEN) && !everything.contains("wrong-token"), "a token leaked: {everything}");
    assert!(everything.contains(r#""ok":2,"bad":1"#), "{everything}");
}

/// Sends `request` on a new connection and reads until the server closes it (or 10 s pass);
/// returns everything the server wrote.
fn exchange(address: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    text(&answer)
}

#[test]
fn ambiguous_body_framing_is_refused_and_what_follows_is_never_run_as_a_request() {
    let server = Server::start(&["--listen", "127.0.0.1:0"], None);
    // Each hides a second request (`GET /stats`) in what one reading of the head calls the
    // body: only one answer may come back, a refusal, and the connection must close.
    let smuggled = "GET /stats HTTP/1.1\r\nHost: sigil\r\n\r\n";
    let cases = [
        ("two Content-Lengths", format!("Content-Length: 3\r\nContent-Length: {}\r\n", 3 + smuggled.len()), 400),
        ("a signed Content-Length", "Content-Length: +3\r\n".to_string(), 400),
        (
            "a chunked encoding after an identity one",
            "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n".to_string(),
            411,
        ),
    ];
    for (what, headers, status) in cases {
        let request = format!("POST /events HTTP/1.1\r\nHost: sigil\r\n{headers}\r\n{{}}\n{smuggled}");
        let answer = exchange(&server.address, request.as_bytes());
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{what}: one answer only: {answer}");
        assert!(answer.starts_with(&format!("HTTP/1.1 {status} ")), "{what}: {answer}");
        assert!(answer.contains("Connection: close"), "{what}: {answer}");
    }
    let stats = server.client().get("/stats", None);
    assert_eq!(stats.body["events"]["read"], json!(0), "no smuggled body was evaluated: {}", stats.body);
    server.client().post("/shutdown", b"", None);
    let (code, _, stderr) = server.wait();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn idle_connections_and_clients_that_never_read_cannot_hold_the_server() {
    let server = Server::start(&["--listen", "127.0.0.1:0", "--max-connections", "2"], None);
    // One connection that never sends a byte, one that sends requests but never reads the
    // answers: together they take every connection the server allows.
    let idle = TcpStream::connect(&server.address).unwrap();
    let mut deaf = TcpStream::connect(&server.address).unwrap();
    deaf.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let requests = "GET /stats HTTP/1.1\r\nHost: sigil\r\n\r\n".repeat(1000);
    while deaf.write_all(requests.as_bytes()).is_ok() {}
    // (Sending nothing: a request left unread when the server closes would reset the
    // connection, and the answer with it.)
    let refused = exchange(&server.address, b"");
    assert!(refused.starts_with("HTTP/1.1 503 "), "both connections are taken: {refused}");
    // Both are dropped after the server's timeouts (30 s), and two others are served at once.
    let deadline = Instant::now() + Duration::from_secs(50);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let mut first = TcpStream::connect(&server.address).unwrap();
        first.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = first.write_all(b"GET /stats HTTP/1.1\r\nHost: sigil\r\n\r\n");
        let mut answer = [0u8; 64];
        let got = first.read(&mut answer).unwrap_or(0);
        let one = text(&answer[..got]);
        let two = exchange(&server.address, b"GET /stats HTTP/1.1\r\nHost: sigil\r\nConnection: close\r\n\r\n");
        if one.starts_with("HTTP/1.1 200 ") && two.starts_with("HTTP/1.1 200 ") {
            break;
        }
        assert!(Instant::now() < deadline, "the held connections were never dropped: {one} and {two}");
    }
    server.client().post("/shutdown", b"", None);
    let (code, _, stderr) = server.wait();
    assert_eq!(code, Some(0), "{stderr}");
    drop((idle, deaf));
}

#[test]
fn a_server_that_cannot_start_leaves_no_sealed_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    let made =
        Command::new(env!("CARGO_BIN_EXE_sigil")).args(["keygen", "-o", key.to_str().unwrap()]).output().unwrap();
    assert!(made.status.success());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let sealed = dir.path().join("alerts.sealed.jsonl");
    let failed = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["serve", "--listen", &address, "--seal", key.to_str().unwrap(), "-o", sealed.to_str().unwrap()])
        .env_remove("SIGIL_TOKEN")
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(2), "{}", text(&failed.stderr));
    assert!(text(&failed.stderr).contains("cannot listen"), "{}", text(&failed.stderr));
    // Else the operator's second try, on a free port, is refused: a sealed file is never overwritten.
    assert!(!sealed.exists(), "an empty sealed file was left at {}", sealed.display());
}
