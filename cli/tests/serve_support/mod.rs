//! What the `sigil serve` tests share: a running server (the real binary on a free loopback
//! port), one-request HTTP/1.1 exchanges over plain sockets, and `sigil hunt` to compare with.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

pub const INGEST: &str = "ingest-token-0123456789abcdef";
pub const READ: &str = "read-token-0123456789abcdef00";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The example events, all files, as one JSON Lines stream.
pub fn examples() -> String {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(repo().join("examples")).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "jsonl"));
    files.sort();
    files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect()
}

/// A running `sigil serve`: its address, and its output gathered as it comes.
pub struct Server {
    pub child: Child,
    pub address: String,
    stderr: Arc<Mutex<String>>,
    stdout: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl Server {
    /// Starts `sigil serve ARGS` with `token` (both roles) in SIGIL_TOKEN, if given.
    pub fn start(args: &[&str], token: Option<&str>) -> Server {
        match token {
            Some(token) => Server::start_with(args, &[("SIGIL_TOKEN", token)]),
            None => Server::start_with(args, &[]),
        }
    }

    /// Starts `sigil serve ARGS` with only the token variables of `env` set.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sigil"));
        command.arg("serve").args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
        for variable in ["SIGIL_TOKEN", "SIGIL_INGEST_TOKEN", "SIGIL_READ_TOKEN"] {
            command.env_remove(variable);
        }
        command.envs(env.iter().copied());
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
                if let Some(rest) =
                    line.split("listening on http://").nth(1).or(line.split("listening on https://").nth(1))
                {
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

    pub fn client(&self) -> Client {
        Client { address: self.address.clone(), stream: None }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for the server to exit; returns its exit code and what it wrote.
    pub fn wait(mut self) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "serve did not stop: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        };
        let stdout = self.stdout.take().unwrap().join().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        (status.code(), text(&stdout), self.stderr())
    }

    /// `POST /shutdown`, then [`Server::wait`]; the exit must be clean.
    pub fn shutdown(self, token: Option<&str>) -> (String, String) {
        let reply = post(&self.address, "/shutdown", b"", token);
        assert_eq!(reply.status, 200, "{}", reply.text());
        let (code, stdout, stderr) = self.wait();
        assert_eq!(code, Some(0), "{stderr}");
        (stdout, stderr)
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
pub struct Client {
    address: String,
    stream: Option<TcpStream>,
}

pub struct JsonReply {
    pub status: u16,
    pub body: Value,
}

impl Client {
    pub fn post(&mut self, path: &str, body: &[u8], token: Option<&str>) -> JsonReply {
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let head = format!("POST {path} HTTP/1.1\r\nHost: sigil\r\n{auth}Content-Length: {}\r\n\r\n", body.len());
        self.send(head.as_bytes(), body)
    }

    pub fn get(&mut self, path: &str, token: Option<&str>) -> JsonReply {
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        self.send(format!("GET {path} HTTP/1.1\r\nHost: sigil\r\n{auth}\r\n").as_bytes(), b"")
    }

    /// Sends raw bytes and reads one response.
    pub fn send(&mut self, head: &[u8], body: &[u8]) -> JsonReply {
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
        JsonReply { status, body }
    }
}

/// Sends `request` on a new connection and reads until the server closes it (or 10 s pass);
/// returns everything the server wrote.
pub fn read_until_closed(address: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    text(&answer)
}

/// An HTTP answer.
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.status, self.text()))
    }

    pub fn text(&self) -> String {
        text(&self.body)
    }

    /// A header's value (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Reads one answer (a final one: `100 Continue` is skipped) from `reader`.
pub fn read_reply(reader: &mut impl BufRead) -> Reply {
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("an answer");
            assert!(n > 0 || !head.is_empty(), "the connection closed with no answer");
            if n == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let status: u16 =
            head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {head:?}"));
        if status == 100 {
            continue;
        }
        let mut reply = Reply { status, head, body: Vec::new() };
        if reply.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            reply.body = read_chunked(reader);
        } else if let Some(length) = reply.header("content-length") {
            reply.body = vec![0; length.parse().unwrap()];
            reader.read_exact(&mut reply.body).unwrap();
        } else {
            reader.read_to_end(&mut reply.body).unwrap();
        }
        return reply;
    }
}

/// A chunked body, read to its last chunk (or until the connection ends).
pub fn read_chunked(reader: &mut impl BufRead) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        if reader.read_line(&mut size).unwrap_or(0) == 0 {
            return body;
        }
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap(), 16).expect("a chunk size");
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

/// Sends raw `request` bytes on a new connection and reads one answer.
pub fn exchange(address: &str, request: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(address).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(request).unwrap();
    read_reply(&mut BufReader::new(stream))
}

fn authorization(token: Option<&str>) -> String {
    token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default()
}

pub fn get(address: &str, path: &str, token: Option<&str>) -> Reply {
    let auth = authorization(token);
    exchange(address, format!("GET {path} HTTP/1.1\r\nHost: sigil\r\n{auth}Connection: close\r\n\r\n").as_bytes())
}

pub fn post(address: &str, path: &str, body: &[u8], token: Option<&str>) -> Reply {
    let auth = authorization(token);
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: sigil\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    exchange(address, &[head.as_bytes(), body].concat())
}

/// `body` sent chunked, in chunks of `chunk` bytes.
pub fn post_chunked(address: &str, body: &[u8], chunk: usize, token: Option<&str>) -> Reply {
    let auth = authorization(token);
    let mut request = format!(
        "POST /events HTTP/1.1\r\nHost: sigil\r\n{auth}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for piece in body.chunks(chunk) {
        request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        request.extend_from_slice(piece);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    exchange(address, &request)
}

/// Runs `sigil hunt` over `events` (JSON Lines); returns its alerts.
pub fn hunt(events: &Path) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["hunt", "--format", "jsonl", events.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    parse_lines(&text(&out.stdout))
}

pub fn parse_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"))).collect()
}

/// Raises this test process's open-files limit to its hard limit; returns the new limit.
pub fn raise_open_files_limit() -> u64 {
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        // rlim_t is not u64 on every platform.
        #[allow(clippy::unnecessary_cast)]
        let limit = limit.rlim_cur as u64;
        limit
    }
}
