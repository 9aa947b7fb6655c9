//! Test support (feature `testing`): a JetStream cluster of real `nats-server` processes on
//! free loopback ports, with its store and configuration in a temporary directory, killed when
//! dropped. Tests that get `None` from [`NatsCluster::start`] print `SKIPPED` and return.
//!
//! It owns the processes it starts and nothing else: no test relies on a server already running.

use crate::connect::Endpoint;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
/// The client and runtime the harness uses, for tests that inspect streams themselves.
pub use {async_nats, tokio};

/// The server binary: `SIGIL_NATS_SERVER`, else `nats-server` on the PATH; `None` (after
/// printing `SKIPPED: nats-server not found`) when neither runs.
pub fn nats_server() -> Option<PathBuf> {
    let candidate = std::env::var_os("SIGIL_NATS_SERVER").map(PathBuf::from).unwrap_or_else(|| "nats-server".into());
    let works = Command::new(&candidate).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if works.is_ok_and(|s| s.success()) {
        Some(candidate)
    } else {
        println!("SKIPPED: nats-server not found (scripts/setup-nats.sh installs it)");
        None
    }
}

/// A port nothing listens on now (bound to port 0 and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

struct Node {
    port: u16,
    config: PathBuf,
    child: Option<Child>,
}

/// A running cluster. `nodes` servers, each with JetStream.
pub struct NatsCluster {
    binary: PathBuf,
    nodes: Vec<Node>,
    /// Kept for the life of the cluster: the stores and configurations.
    pub dir: tempfile::TempDir,
    /// User and password for readiness checks when the cluster has accounts.
    admin: Option<(String, String)>,
    /// The CA file of a TLS server.
    ca: Option<PathBuf>,
    env: Vec<(String, String)>,
}

impl NatsCluster {
    /// Starts `nodes` servers (1 = a single server, no cluster block) and waits until
    /// JetStream has a meta leader. `accounts` is included verbatim in every configuration
    /// (NATS config syntax); `env` is set for the server processes (the variables it names);
    /// `admin` is the user that readiness checks connect as.
    pub fn start_with(
        nodes: usize,
        accounts: Option<&str>,
        env: &[(&str, &str)],
        admin: Option<(&str, &str)>,
    ) -> Option<NatsCluster> {
        NatsCluster::launch(nodes, accounts, env, admin, None)
    }

    /// One server requiring TLS: `tls` is the configuration block to include (certificate and
    /// key files), `ca` the CA file clients trust. [`NatsCluster::url`] then gives `tls://`.
    pub fn start_tls(tls: &str, ca: &std::path::Path) -> Option<NatsCluster> {
        NatsCluster::launch(1, Some(tls), &[], None, Some(ca.to_path_buf()))
    }

    fn launch(
        nodes: usize,
        accounts: Option<&str>,
        env: &[(&str, &str)],
        admin: Option<(&str, &str)>,
        ca: Option<PathBuf>,
    ) -> Option<NatsCluster> {
        let binary = nats_server()?;
        let dir = tempfile::tempdir().expect("a temporary directory");
        if let Some(text) = accounts {
            std::fs::write(dir.path().join("accounts.conf"), text).expect("write accounts.conf");
        }
        let ports: Vec<(u16, u16)> = (0..nodes).map(|_| (free_port(), free_port())).collect();
        let mut list = Vec::new();
        for (i, (port, cluster_port)) in ports.iter().enumerate() {
            let store = dir.path().join(format!("n{i}"));
            let mut conf = format!(
                "server_name: n{i}\nlisten: 127.0.0.1:{port}\n\
                 jetstream {{ store_dir: {store:?}, max_memory_store: 64MB, max_file_store: 4GB }}\n"
            );
            if nodes > 1 {
                let routes: Vec<String> = ports
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, (_, c))| format!("nats-route://127.0.0.1:{c}"))
                    .collect();
                conf.push_str(&format!(
                    "cluster {{ name: sigil-test, listen: 127.0.0.1:{cluster_port}, routes: [{}] }}\n",
                    routes.join(", ")
                ));
            }
            if accounts.is_some() {
                conf.push_str("include \"accounts.conf\"\n");
            }
            let config = dir.path().join(format!("n{i}.conf"));
            std::fs::write(&config, conf).expect("write a server configuration");
            list.push(Node { port: *port, config, child: None });
        }
        let mut cluster = NatsCluster {
            binary,
            nodes: list,
            dir,
            admin: admin.map(|(u, p)| (u.to_string(), p.to_string())),
            ca,
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        for i in 0..nodes {
            cluster.start_node(i);
        }
        cluster.wait_ready(Duration::from_secs(60));
        Some(cluster)
    }

    /// A cluster of three servers without accounts.
    pub fn start(nodes: usize) -> Option<NatsCluster> {
        NatsCluster::start_with(nodes, None, &[], None)
    }

    /// Every server's client URL, comma-separated (what `--nats` takes).
    pub fn url(&self) -> String {
        let scheme = if self.ca.is_some() { "tls" } else { "nats" };
        self.nodes.iter().map(|n| format!("{scheme}://127.0.0.1:{}", n.port)).collect::<Vec<_>>().join(",")
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Starts (or restarts, keeping its store) server `i`.
    pub fn start_node(&mut self, i: usize) {
        let log = std::fs::File::create(self.dir.path().join(format!("n{i}.log"))).expect("a server log");
        let node = &mut self.nodes[i];
        assert!(node.child.is_none(), "server {i} is running already");
        let mut command = Command::new(&self.binary);
        command.arg("-c").arg(&node.config).stdout(Stdio::null()).stderr(log);
        for (k, v) in &self.env {
            command.env(k, v);
        }
        node.child = Some(command.spawn().expect("start nats-server"));
        wait_listening(node.port, Duration::from_secs(20));
    }

    /// Kills server `i` (SIGKILL: a crashed node, not a clean shutdown).
    pub fn stop_node(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until JetStream answers (it has a meta leader) through any server.
    pub fn wait_ready(&self, limit: Duration) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let started = Instant::now();
        runtime.block_on(async {
            let mut endpoint = Endpoint::new(&self.url(), "sigil-test-ready");
            endpoint.user = self.admin.clone();
            endpoint.ca_file = self.ca.clone();
            let client = endpoint.connect().await.expect("connect to the test cluster");
            loop {
                // `$JS.API.INFO` answers without an error once there is a meta leader.
                let answer =
                    tokio::time::timeout(Duration::from_secs(2), client.request("$JS.API.INFO", "".into())).await;
                if let Ok(Ok(message)) = answer {
                    let value: serde_json::Value = serde_json::from_slice(&message.payload).unwrap_or_default();
                    if value.get("error").is_none() && value.get("type").is_some() {
                        return;
                    }
                }
                assert!(started.elapsed() < limit, "the test cluster has no JetStream meta leader after {limit:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.stop_node(i);
        }
    }
}

fn wait_listening(port: u16, limit: Duration) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < limit, "nats-server did not listen on port {port} within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where each message of `stream` came from (`Sigil-Source`, `Sigil-Position`), in stream
/// order: to see whether a publish stored its events in the order it read them.
pub async fn stored_order(js: &async_nats::jetstream::Context, stream: &str) -> Result<Vec<(String, u64)>, String> {
    use crate::publish::{POSITION_HEADER, SOURCE_HEADER};
    use async_nats::jetstream::consumer::{DeliverPolicy, PullConsumer};
    use futures_util::StreamExt;
    let stream = js.get_stream(stream).await.map_err(|e| e.to_string())?;
    let total = stream.cached_info().state.messages;
    let reader: PullConsumer = stream
        .create_consumer(crate::connect::reader(String::new(), DeliverPolicy::All))
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = reader.messages().await.map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(total as usize);
    while (out.len() as u64) < total {
        let message = messages.next().await.ok_or("the stream ended early")?.map_err(|e| e.to_string())?;
        let header = |name: &str| message.headers.as_ref().and_then(|h| h.get(name)).map(|v| v.as_str().to_string());
        let position = header(POSITION_HEADER).and_then(|p| p.parse().ok()).unwrap_or(0);
        out.push((header(SOURCE_HEADER).unwrap_or_default(), position));
    }
    Ok(out)
}
