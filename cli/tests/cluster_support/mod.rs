//! What the NATS cluster tests share (`cluster.rs`, `cluster_throughput.rs`): `sigil` and the
//! repository, the real events, worker processes, the streams' and buckets' state as an observer
//! sees it, and the rule pack the fault test compiles.

// Each test binary uses a part of it.
#![allow(dead_code, unused_imports)]

pub use sigil_cluster::testing::async_nats::jetstream;
pub use sigil_cluster::testing::{tokio, NatsCluster};
pub use sigil_cluster::{connect, owner, Endpoint, Topology};
use sigil_engine::{alert::event_time_ms, layout, Json};
pub use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
pub use std::path::{Path, PathBuf};
pub use std::process::{Child, Command, Stdio};
pub use std::time::{Duration, Instant};

pub fn sigil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn shared(test: &str) -> Option<PathBuf> {
    let dir = repo().join("../shared");
    let ok = dir.join("datasets/windows/otrf-windows-sample.jsonl.gz").exists() && dir.join("sigma/rules").exists();
    if !ok {
        println!("SKIPPED {test}: ../shared (datasets and SigmaHQ rules) is absent");
    }
    ok.then_some(dir)
}

pub fn run(command: &mut Command) -> String {
    let out = command.output().expect("run sigil");
    assert!(out.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Every event of the OTRF Windows sample and the cloud datasets (Panther's test events'
/// `event` objects, OTRF's cloud logs), sorted by event time (events without one first, in
/// input order), as JSON Lines.
pub fn real_events(shared: &Path) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let gz = std::fs::File::open(shared.join("datasets/windows/otrf-windows-sample.jsonl.gz")).unwrap();
    for line in std::io::BufReader::new(flate2::read::MultiGzDecoder::new(gz)).lines() {
        lines.push(line.unwrap());
    }
    let cloud = shared.join("datasets/cloud");
    let mut files: Vec<PathBuf> = ["panther-tests", "otrf"]
        .iter()
        .flat_map(|d| std::fs::read_dir(cloud.join(d)).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    for file in files {
        let panther = file.to_string_lossy().contains("panther-tests");
        for line in std::fs::read_to_string(&file).unwrap().lines().filter(|l| !l.trim().is_empty()) {
            if panther {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                if v["event"].is_object() {
                    lines.push(v["event"].to_string());
                }
            } else {
                lines.push(line.to_string());
            }
        }
    }
    let mut keyed: Vec<(i64, usize, String)> = lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let time =
                Json::parse(&line).ok().and_then(|doc| event_time_ms(&layout::flatten(doc), None)).unwrap_or(i64::MIN);
            (time, i, line)
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, _, line)| line).collect()
}

pub fn write_lines(path: &Path, lines: &[String]) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// Worker processes, killed when the test ends however it ends.
#[derive(Default)]
pub struct Workers(BTreeMap<String, Child>, Option<PathBuf>);

impl Workers {
    pub fn start(&mut self, id: &str, url: &str, config: &Path, pack: &Path, logs: &Path) {
        let log = std::fs::File::create(logs.join(format!("{id}.log"))).unwrap();
        let child = sigil()
            .args(["worker", "--nats", url, "--config"])
            .arg(config)
            .arg("--pack")
            .arg(pack)
            .args(["--id", id, "--report-every", "2", "--checkpoint-every", "300", "--batch", "256"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start a worker");
        self.0.insert(id.to_string(), child);
        self.1 = Some(logs.to_path_buf());
    }

    /// SIGKILL: no drain, no checkpoint, leases left to expire.
    pub fn kill(&mut self, id: &str) {
        let mut child = self.0.remove(id).expect("a running worker");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn drain_all(&mut self) {
        for child in self.0.values() {
            Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        }
        let started = Instant::now();
        for (id, child) in std::mem::take(&mut self.0) {
            let mut child = child;
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    let log =
                        self.1.as_ref().and_then(|dir| std::fs::read_to_string(dir.join(format!("{id}.log"))).ok());
                    let tail: Vec<&str> = log.as_deref().unwrap_or("").lines().rev().take(30).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    assert!(status.success(), "worker {id} exited with {status}; its log ends:\n{}", tail.join("\n"));
                    break;
                }
                if started.elapsed() > Duration::from_secs(60) {
                    let _ = child.kill();
                    panic!("worker {id} did not drain within 60 s");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in self.0.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The shared consumer's state: (delivered and acked floor, pending, awaiting ack, redelivered).
pub async fn consumer_state(js: &jetstream::Context, topology: &Topology) -> Option<(u64, u64, u64, u64)> {
    let stream = js.get_stream(&topology.events.name).await.ok()?;
    let mut consumer: jetstream::consumer::PullConsumer = stream.get_consumer(&topology.consumer).await.ok()?;
    let info = consumer.info().await.ok()?;
    Some((info.ack_floor.stream_sequence, info.num_pending, info.num_ack_pending as u64, info.num_redelivered as u64))
}

/// Lease holders, by partition.
pub async fn leases(js: &jetstream::Context, topology: &Topology) -> BTreeMap<u32, String> {
    let kv = js.get_key_value(&topology.leases.bucket).await.unwrap();
    let mut out = BTreeMap::new();
    for p in 0..topology.partitions {
        if let Ok(Some(v)) = kv.get(format!("p.{p}")).await {
            if !v.is_empty() {
                out.insert(p, String::from_utf8_lossy(&v).into_owned());
            }
        }
    }
    out
}

/// Whether every partition's checkpoint covers the last feed published to it.
pub async fn partitions_caught_up(js: &jetstream::Context, topology: &Topology) -> bool {
    let feeds = js.get_stream(&topology.feeds.name).await.unwrap();
    let checkpoints = js.get_key_value(&topology.checkpoints.bucket).await.unwrap();
    for p in 0..topology.partitions {
        let last = match feeds.get_last_raw_message_by_subject(&topology.feed_subject(p)).await {
            Ok(m) => m.sequence,
            Err(_) => 0,
        };
        if last == 0 {
            continue;
        }
        let applied = match checkpoints.get(owner::checkpoint_key(p)).await {
            Ok(Some(v)) => serde_json::from_slice::<owner::Checkpoint>(&v).map_or(0, |c| c.replay_from),
            _ => 0,
        };
        // Nothing left to apply: the next feed to read is past the last one.
        if applied <= last {
            return false;
        }
    }
    true
}

pub fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

pub fn lines_of_kind(text: &str, kind: &str) -> Vec<String> {
    text.lines().filter(|l| l.contains(&format!("\"kind\":\"{kind}\""))).map(str::to_string).collect()
}

pub fn rule_and_group(line: &str) -> (String, String) {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    (v["rule"]["id"].as_str().unwrap().to_string(), v["group"].to_string())
}

pub fn compile_pack(dir: &Path) -> PathBuf {
    let pack = dir.join("rules.pack");
    let repo = repo();
    run(sigil()
        .arg("compile")
        .arg(repo.join("../shared/sigma/rules"))
        .arg(repo.join("sigma-rules/rules"))
        .arg(repo.join("cli/tests/cluster/correlations.yml"))
        .arg("--placeholder-file")
        .arg(repo.join("tests/data/sigmahq-placeholders.yml"))
        .arg("-o")
        .arg(&pack));
    pack
}

pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(name) && !l.starts_with('#'))?.rsplit(' ').next()?.parse().ok()
}

pub fn bench_topology(dir: &Path, n: usize, replicas: usize) -> PathBuf {
    let path = dir.join(format!("bench-{n}.toml"));
    let stream = |section: &str, name: &str, subject: &str| {
        format!("[{section}]\nname = \"{name}_{n}\"\nsubject = \"b{n}.{subject}.>\"\nduplicate_window = \"10m\"\n")
    };
    let text = format!(
        "replicas = {replicas}\npartitions = 8\nconsumer = \"bench-{n}\"\n{}{}{}\
         [leases]\nbucket = \"leases-{n}\"\nmax_age = \"5s\"\n[checkpoints]\nbucket = \"ckpt-{n}\"\n",
        stream("alerts", "ALERTS", "alerts"),
        stream("feeds", "FEEDS", "feeds"),
        stream("deadletter", "DEAD", "deadletter"),
    );
    std::fs::write(&path, text).unwrap();
    path
}
