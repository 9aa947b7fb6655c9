//! `sigil serve` under hostile or unusual clients: ten thousand idle connections do not keep a
//! legitimate client out, a slowloris client is cut off at the header timeout, a chunked body
//! is limited while it streams, and a chunked upload gives the alerts a `Content-Length` one
//! gives.

mod serve_support;

use serde_json::json;
use serve_support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn ten_thousand_idle_connections_do_not_keep_a_client_out() {
    const IDLE: usize = 10_000;
    let limit = raise_open_files_limit();
    if limit < IDLE as u64 + 200 {
        println!("SKIPPED: the open-files limit is {limit}, too low for {IDLE} connections");
        return;
    }
    let server = Server::start_with(&["--listen", "127.0.0.1:0"], &[]);
    let started = Instant::now();
    let idle: Vec<TcpStream> = (0..IDLE)
        .map(|n| TcpStream::connect(&server.address).unwrap_or_else(|e| panic!("idle connection {n}: {e}")))
        .collect();
    let opened = started.elapsed();
    // Every idle connection is accepted (the server counts them open) before the client comes.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = get(&server.address, "/metrics", None).text();
        let open =
            metrics.lines().find_map(|l| l.strip_prefix("sigil_connections_open ")).unwrap().parse::<u64>().unwrap();
        if open > IDLE as u64 {
            break;
        }
        assert!(Instant::now() < deadline, "only {open} connections accepted");
        std::thread::sleep(Duration::from_millis(100));
    }
    let asked = Instant::now();
    let reply = post(&server.address, "/events", b"{\"eventName\":\"StopLogging\"}\n", None);
    let took = asked.elapsed();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["read"], json!(1));
    assert!(took < Duration::from_secs(1), "the client waited {took:?} behind {IDLE} idle connections");
    println!("{IDLE} idle connections opened in {opened:?}; a POST /events answered in {took:?}");
    let (_, stderr) = server.shutdown(None);
    assert!(!stderr.contains("connection refused"), "{}", &stderr[..stderr.len().min(2000)]);
    drop(idle);
}

#[test]
fn a_slowloris_client_is_cut_off_at_the_header_timeout_and_others_are_served() {
    let server = Server::start_with(&["--listen", "127.0.0.1:0", "--header-timeout", "1"], &[]);
    let mut slow = TcpStream::connect(&server.address).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let started = Instant::now();
    let head = b"GET /stats HTTP/1.1\r\nHost: sigil\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut cut_off = None;
    for byte in head.iter().cycle().take(100) {
        // One byte every 200 ms: each renews a per-read timeout, never the header timeout.
        if slow.write_all(&[*byte]).is_err() {
            cut_off = Some(started.elapsed());
            break;
        }
        let mut answer = [0u8; 256];
        match slow.read(&mut answer) {
            Ok(0) => {
                cut_off = Some(started.elapsed());
                break;
            }
            Ok(n) => panic!("the slow client was answered: {}", text(&answer[..n])),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => {
                cut_off = Some(started.elapsed());
                break;
            }
        }
        assert_eq!(get(&server.address, "/healthz", None).status, 200, "others are served meanwhile");
        std::thread::sleep(Duration::from_millis(150));
    }
    let cut_off = cut_off.expect("the slowloris client was never cut off");
    assert!(cut_off >= Duration::from_millis(900), "cut off before the timeout: {cut_off:?}");
    assert!(cut_off < Duration::from_secs(3), "cut off {cut_off:?} after it started, the timeout is 1 s");
    let (_, stderr) = server.shutdown(None);
    assert!(stderr.contains("no complete request head within 1 s"), "{stderr}");
}

#[test]
fn a_chunked_upload_gives_the_alerts_of_a_content_length_one() {
    let events = examples();
    let mut outputs = Vec::new();
    for chunked in [false, true] {
        let server = Server::start_with(&["--listen", "127.0.0.1:0"], &[]);
        let reply = if chunked {
            post_chunked(&server.address, events.as_bytes(), 777, None)
        } else {
            post(&server.address, "/events", events.as_bytes(), None)
        };
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.json()["lines"], json!(events.lines().count()), "{}", reply.text());
        let (stdout, _) = server.shutdown(None);
        outputs.push((reply.json(), stdout));
    }
    assert!(!outputs[0].1.is_empty(), "the examples fire rules");
    assert_eq!(outputs[0], outputs[1], "chunked and Content-Length uploads give the same answer and alerts");
}

#[test]
fn a_chunked_body_over_the_limit_is_refused_while_it_streams_and_nothing_of_it_is_evaluated() {
    let server = Server::start_with(&["--listen", "127.0.0.1:0", "--max-body", "1000"], &[]);
    let line = "{\"eventName\":\"StopLogging\"}\n";
    // Chunks well past the limit, sent without waiting: the server answers once it has counted
    // 1000 bytes, and closes.
    let mut stream = TcpStream::connect(&server.address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"POST /events HTTP/1.1\r\nHost: sigil\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    let mut refused = None;
    for _ in 0..200 {
        let chunk = line.repeat(10);
        if stream.write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes()).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
        stream.set_nonblocking(true).unwrap();
        let mut answer = vec![0u8; 4096];
        if let Ok(n) = stream.read(&mut answer) {
            refused = Some(text(&answer[..n]));
            break;
        }
        stream.set_nonblocking(false).unwrap();
    }
    let refused = refused.expect("the server answered before the body ended");
    assert!(refused.starts_with("HTTP/1.1 413 "), "{refused}");
    assert!(refused.contains("Connection: close"), "{refused}");
    assert!(refused.contains("--max-body"), "{refused}");
    let small = post_chunked(&server.address, line.repeat(20).as_bytes(), 100, None);
    assert_eq!(small.status, 200, "a body under the limit is taken: {}", small.text());
    let stats = get(&server.address, "/stats", None).json();
    assert_eq!(stats["events"]["read"], json!(20), "nothing of the refused body was evaluated: {stats}");
    server.shutdown(None);
}
