//! Connecting to NATS: server URLs (`nats://` or `tls://`, several separated by commas), a CA
//! file for TLS, a credentials file (JWT + NKey seed) or user and password from the
//! environment, and the JetStream context Sigil uses.
//!
//! It owns how a connection is configured, never what is done with it.

use async_nats::jetstream;
use std::path::PathBuf;
use std::time::Duration;

/// How to reach the servers; `sigil publish`, `worker`, `alerts` and `nats init` take the same.
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    /// `nats://host:port` or `tls://host:port`, several separated by commas (the client also
    /// learns the rest of the cluster from the servers).
    pub url: String,
    /// PEM file of the CA that signed the servers' certificates (implies TLS).
    pub ca_file: Option<PathBuf>,
    /// A NATS credentials file (`.creds`: a user JWT and its NKey seed).
    pub creds_file: Option<PathBuf>,
    /// A file holding an NKey seed (`SU…`), for servers that know users by their NKey.
    pub nkey_file: Option<PathBuf>,
    /// User and password (from `SIGIL_NATS_USER` / `SIGIL_NATS_PASSWORD`, never a flag, so
    /// they stay out of process listings).
    pub user: Option<(String, String)>,
    /// A name the servers show for this connection.
    pub name: String,
}

impl Endpoint {
    pub fn new(url: &str, name: &str) -> Endpoint {
        Endpoint { url: url.to_string(), name: name.to_string(), ..Endpoint::default() }
    }

    /// User and password from `SIGIL_NATS_USER` and `SIGIL_NATS_PASSWORD`, when both are set.
    pub fn with_env_user(mut self) -> Endpoint {
        if let (Ok(u), Ok(p)) = (std::env::var("SIGIL_NATS_USER"), std::env::var("SIGIL_NATS_PASSWORD")) {
            self.user = Some((u, p));
        }
        self
    }

    pub async fn connect(&self) -> Result<async_nats::Client, String> {
        let mut options = async_nats::ConnectOptions::new()
            .name(&self.name)
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(Duration::from_secs(10)));
        if let Some(ca) = &self.ca_file {
            if !ca.exists() {
                return Err(format!("the CA file {} does not exist", ca.display()));
            }
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some(creds) = &self.creds_file {
            options = options
                .credentials_file(creds)
                .await
                .map_err(|e| format!("cannot read the credentials {}: {e}", creds.display()))?;
        }
        if let Some(path) = &self.nkey_file {
            let seed = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the NKey seed file {}: {e}", path.display()))?;
            let seed = seed.trim();
            if !seed.starts_with("SU") {
                return Err(format!("{} holds no user NKey seed (one starting SU…)", path.display()));
            }
            options = options.nkey(seed.to_string());
        }
        if let Some((user, password)) = &self.user {
            options = options.user_and_password(user.clone(), password.clone());
        }
        let urls: Vec<&str> = self.url.split(',').map(str::trim).filter(|u| !u.is_empty()).collect();
        if urls.is_empty() {
            return Err("--nats: no server URL given".into());
        }
        let connecting = options.connect(urls.clone());
        // retry_on_initial_connect returns at once; wait (bounded) for the first connection so
        // a wrong address is an error, not a silent wait.
        let client = connecting.await.map_err(|e| format!("cannot connect to {}: {e}", self.url))?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while client.connection_state() != async_nats::connection::State::Connected {
            if tokio::time::Instant::now() > deadline {
                return Err(format!("cannot connect to {}: no server answered within 15 s", self.url));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(client)
    }
}

/// The JetStream context Sigil uses: API requests and publish acknowledgements wait at most
/// `timeout` (a stream leader election after a server is lost takes a few seconds).
pub fn jetstream(client: async_nats::Client, timeout: Duration) -> jetstream::Context {
    jetstream::context::ContextBuilder::new().timeout(timeout).max_ack_inflight(20_000).build(client)
}

/// An ephemeral pull consumer that only reads (no acks, one in-memory replica, gone 30 s after
/// its reader stops): how `sigil alerts` reads alerts and an owner reads its feeds.
pub fn reader(
    filter_subject: String,
    deliver_policy: async_nats::jetstream::consumer::DeliverPolicy,
) -> async_nats::jetstream::consumer::pull::Config {
    use async_nats::jetstream::consumer;
    consumer::pull::Config {
        filter_subject,
        deliver_policy,
        ack_policy: consumer::AckPolicy::None,
        inactive_threshold: Duration::from_secs(30),
        num_replicas: 1,
        memory_storage: true,
        ..Default::default()
    }
}
