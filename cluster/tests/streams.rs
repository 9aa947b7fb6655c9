//! The streams as the logging guidance asks, on a real 3-node JetStream cluster with R3
//! streams: publishing twice stores once; the worker credential of examples/nats-accounts.conf
//! cannot delete or purge the raw logs (and even the administrator cannot: deny_delete,
//! deny_purge) yet can run a worker; retention removes what is older than max_age; a poison
//! message goes to the dead-letter subject with its reason while the stream keeps moving.
//! Each test starts its own servers on free loopback ports and prints SKIPPED without
//! nats-server.

use async_nats::jetstream;
use sigil_cluster::publish::{self, Outgoing};
use sigil_cluster::testing::NatsCluster;
use sigil_cluster::{connect, setup, worker, Endpoint, Topology};
use sigil_engine::{Plan, Routing};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn topology(text: &str) -> Topology {
    Topology::from_toml(text).expect("a test topology")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

async fn context(endpoint: &Endpoint) -> jetstream::Context {
    connect::jetstream(endpoint.connect().await.expect("connect"), Duration::from_secs(10))
}

fn events(source: &str, n: u64) -> Vec<Outgoing> {
    (1..=n)
        .map(|i| Outgoing {
            source: Arc::from(source),
            position: i,
            payload: format!(
                r#"{{"action": "{}", "user": "u{}", "n": {i}}}"#,
                if i % 2 == 0 { "login" } else { "read" },
                i % 3
            )
            .into(),
        })
        .collect()
}

async fn publish_all(endpoint: &Endpoint, subject: &str, events: Vec<Outgoing>) -> publish::Counts {
    let (tx, rx) = publish::channel(events.len() + 1);
    for e in events {
        tx.send(e).await.unwrap();
    }
    drop(tx);
    publish::run(endpoint, subject, rx, 256).await.expect("publish")
}

const RULE: &str = r#"
title: Test login
id: 6f1c0b9e-5a4c-4a57-9d0f-2b0e6a2d1c01
logsource: {product: test}
detection:
  sel: {action: login}
  condition: sel
level: low
"#;

fn plan() -> Plan {
    let out = sigil_compiler::compile_str("rule.yml", RULE, &sigil_compiler::Options::default());
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    out.plan
}

fn worker_options(endpoint: Endpoint, topology: Topology, id: &str) -> worker::Options {
    worker::Options {
        endpoint,
        topology,
        stream: None,
        plan: plan(),
        routing: Routing::All,
        timestamp_field: None,
        max_groups: 1000,
        max_distinct_values: sigil_engine::correlate::DEFAULT_MAX_DISTINCT_VALUES,
        max_event_bytes: 4096,
        batch: 100,
        metrics: None,
        id: id.into(),
        report_every: Duration::from_secs(5),
        checkpoint_every: Duration::from_millis(200),
        idle_exit: Some(Duration::from_millis(1500)),
    }
}

/// Prints every message of `stream` (payloads), in order.
async fn payloads(js: &jetstream::Context, stream: &str) -> Vec<(String, Option<async_nats::HeaderMap>)> {
    let mut s = js.get_stream(stream).await.unwrap();
    let last = s.info().await.unwrap().state.last_sequence;
    let first = s.info().await.unwrap().state.first_sequence;
    let mut out = Vec::new();
    for seq in first..=last {
        if let Ok(m) = s.get_raw_message(seq).await {
            out.push((String::from_utf8_lossy(&m.payload).into_owned(), Some(m.headers)));
        }
    }
    out
}

#[test]
fn publishing_the_same_events_twice_stores_them_once_in_an_r3_stream() {
    let Some(cluster) = NatsCluster::start(3) else { return };
    let endpoint = Endpoint::new(&cluster.url(), "test");
    let topology = Topology::default();
    runtime().block_on(async {
        let js = context(&endpoint).await;
        setup::init(&js, &topology).await.expect("init");
        let subject = topology.default_event_subject();
        let first = publish_all(&endpoint, &subject, events("auth.jsonl", 500)).await;
        let second = publish_all(&endpoint, &subject, events("auth.jsonl", 500)).await;
        assert_eq!((first.sent, first.stored, first.duplicates), (500, 500, 0));
        assert_eq!((second.sent, second.stored, second.duplicates), (500, 0, 500));
        // The same positions of another source are other events.
        let other = publish_all(&endpoint, &subject, events("other.jsonl", 10)).await;
        assert_eq!(other.stored, 10);
        let mut stream = js.get_stream(&topology.events.name).await.unwrap();
        let info = stream.info().await.unwrap().clone();
        assert_eq!(info.state.messages, 510);
        assert_eq!(info.config.num_replicas, 3);
        assert!(info.config.deny_delete && info.config.deny_purge);
        let replicas = info.cluster.as_ref().map_or(0, |c| c.replicas.len());
        assert_eq!(replicas, 2, "a leader and two replicas: {:?}", info.cluster);
    });
}

#[test]
fn retention_removes_messages_older_than_max_age() {
    let Some(cluster) = NatsCluster::start(3) else { return };
    let endpoint = Endpoint::new(&cluster.url(), "test");
    let topology = topology("[events]\nname = \"SIGIL_EVENTS\"\nsubject = \"sigil.events.>\"\nmax_age = \"2s\"\nduplicate_window = \"1s\"\ndeny_delete = true\ndeny_purge = true\n");
    runtime().block_on(async {
        let js = context(&endpoint).await;
        setup::init(&js, &topology).await.expect("init");
        let subject = topology.default_event_subject();
        publish_all(&endpoint, &subject, events("old.jsonl", 50)).await;
        let mut stream = js.get_stream(&topology.events.name).await.unwrap();
        assert_eq!(stream.info().await.unwrap().state.messages, 50);
        let started = Instant::now();
        loop {
            let left = stream.info().await.unwrap().state.messages;
            if left == 0 {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "{left} messages older than max_age remain");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(started.elapsed() >= Duration::from_millis(1500), "removed before max_age");
        publish_all(&endpoint, &subject, events("new.jsonl", 5)).await;
        assert_eq!(stream.info().await.unwrap().state.messages, 5);
    });
}

#[test]
fn a_poison_message_goes_to_the_dead_letter_subject_and_the_stream_keeps_moving() {
    let Some(cluster) = NatsCluster::start(3) else { return };
    let endpoint = Endpoint::new(&cluster.url(), "test");
    let topology = Topology::default();
    let rt = runtime();
    rt.block_on(async {
        let js = context(&endpoint).await;
        setup::init(&js, &topology).await.expect("init");
        let subject = topology.default_event_subject();
        let mut batch = events("a.jsonl", 10);
        batch.insert(3, Outgoing { source: Arc::from("a.jsonl"), position: 100, payload: "this is not JSON".into() });
        batch.insert(6, Outgoing { source: Arc::from("a.jsonl"), position: 101, payload: "[1, 2]".into() });
        let big = format!(r#"{{"action": "login", "pad": "{}"}}"#, "x".repeat(10_000));
        batch.insert(8, Outgoing { source: Arc::from("a.jsonl"), position: 102, payload: big.into() });
        publish_all(&endpoint, &subject, batch).await;
    });
    let summary = worker::run(worker_options(endpoint.clone(), topology.clone(), "w1")).expect("the worker runs");
    assert_eq!((summary.events, summary.dead_letters, summary.detection_alerts), (13, 3, 5));
    rt.block_on(async {
        let js = context(&endpoint).await;
        let dead = payloads(&js, &topology.deadletter.name).await;
        let reasons: Vec<String> = dead
            .iter()
            .map(|(_, h)| h.as_ref().and_then(|h| h.get("Sigil-Reason")).map(|v| v.to_string()).unwrap_or_default())
            .collect();
        assert_eq!(dead.len(), 3, "{reasons:?}");
        assert!(reasons[0].starts_with("invalid JSON"), "{reasons:?}");
        assert_eq!(reasons[1], "expected a JSON object, found an array");
        assert!(reasons[2].starts_with("too large: 10030 bytes"), "{reasons:?}");
        assert_eq!(dead[0].0, "this is not JSON");
        let alerts = payloads(&js, &topology.alerts.name).await;
        assert_eq!(alerts.len(), 5);
        for (line, _) in &alerts {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["source"]["file"], "a.jsonl");
            assert_eq!(v["rule"]["title"], "Test login");
        }
        // Everything was acknowledged: nothing pending, nothing waiting for an ack.
        let events = js.get_stream(&topology.events.name).await.unwrap();
        let mut consumer: jetstream::consumer::PullConsumer = events.get_consumer(&topology.consumer).await.unwrap();
        let info = consumer.info().await.unwrap();
        assert_eq!((info.num_pending, info.num_ack_pending), (0, 0));
        assert_eq!(info.ack_floor.stream_sequence, 13);
    });
}

const PASSWORDS: &[(&str, &str)] = &[
    ("SIGIL_ADMIN_PASSWORD", "admin-secret-for-tests"),
    ("SIGIL_PUBLISHER_PASSWORD", "publisher-secret-for-tests"),
    ("SIGIL_WORKER_PASSWORD", "worker-secret-for-tests"),
    ("SIGIL_SYS_PASSWORD", "sys-secret-for-tests"),
];

fn user(cluster: &NatsCluster, name: &str, password: &str) -> Endpoint {
    let mut e = Endpoint::new(&cluster.url(), name);
    e.user = Some((name.to_string(), password.to_string()));
    e
}

#[test]
fn the_worker_credential_cannot_delete_or_purge_the_logs_but_can_work() {
    let accounts = include_str!("../../examples/nats-accounts.conf");
    let Some(cluster) =
        NatsCluster::start_with(3, Some(accounts), PASSWORDS, Some(("sigil-admin", "admin-secret-for-tests")))
    else {
        return;
    };
    let admin = user(&cluster, "sigil-admin", "admin-secret-for-tests");
    let publisher = user(&cluster, "sigil-publisher", "publisher-secret-for-tests");
    let worker_user = user(&cluster, "sigil-worker", "worker-secret-for-tests");
    let topology = Topology::default();
    let rt = runtime();
    rt.block_on(async {
        let js = context(&admin).await;
        setup::init(&js, &topology).await.expect("the administrator initialises");
        let counts = publish_all(&publisher, &topology.default_event_subject(), events("evidence.jsonl", 20)).await;
        assert_eq!(counts.stored, 20);

        // The worker: every way of removing evidence is refused by the server's permissions.
        let violations = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let seen = Arc::clone(&violations);
        let client =
            async_nats::ConnectOptions::with_user_and_password("sigil-worker".into(), "worker-secret-for-tests".into())
                .event_callback(move |event| {
                    let seen = Arc::clone(&seen);
                    async move {
                        if let async_nats::Event::ServerError(e) = event {
                            seen.lock().unwrap().push(e.to_string());
                        }
                    }
                })
                .connect(cluster.url().split(',').collect::<Vec<_>>())
                .await
                .unwrap();
        let wjs = connect::jetstream(client.clone(), Duration::from_secs(2));
        let stream = wjs.get_stream(&topology.events.name).await.expect("the worker may read the stream's info");
        assert!(stream.purge().await.is_err(), "the worker purged the log stream");
        assert!(stream.delete_message(1).await.is_err(), "the worker deleted a log message");
        assert!(wjs.delete_stream(&topology.events.name).await.is_err(), "the worker deleted the log stream");
        let forged = wjs.publish(topology.default_event_subject(), "{\"forged\": true}".into()).await;
        assert!(forged.is_err() || forged.unwrap().await.is_err(), "the worker wrote to the log stream");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let violations = violations.lock().unwrap().clone();
        for api in ["STREAM.PURGE", "STREAM.MSG.DELETE", "STREAM.DELETE"] {
            assert!(
                violations.iter().any(|v| v.to_lowercase().contains("permissions violation") && v.contains(api)),
                "no permissions violation for {api}: {violations:?}"
            );
        }
        // Even the administrator cannot: the stream denies delete and purge.
        let astream = js.get_stream(&topology.events.name).await.unwrap();
        assert!(astream.purge().await.is_err(), "the raw-log stream allowed a purge");
        assert!(astream.delete_message(1).await.is_err(), "the raw-log stream allowed a delete");
        let mut astream = js.get_stream(&topology.events.name).await.unwrap();
        assert_eq!(astream.info().await.unwrap().state.messages, 20, "evidence was removed");
    });
    // With only its own permissions, the worker does its job.
    let summary =
        worker::run(worker_options(worker_user, topology.clone(), "w-least-privilege")).expect("the worker runs");
    assert_eq!((summary.events, summary.detection_alerts), (20, 10));
}

/// A CA and a server certificate for 127.0.0.1 made with the openssl command; `None` (SKIPPED)
/// without it.
fn certificates(dir: &std::path::Path) -> Option<()> {
    let openssl = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    let made = openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=sigil-test-ca",
    ]) && openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]) && openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
    ]);
    if !made {
        println!("SKIPPED: the openssl command is absent or failed: no test certificates");
    }
    made.then_some(())
}

#[test]
fn tls_connections_trust_the_ca_file_and_only_it() {
    let dir = tempfile::tempdir().unwrap();
    if certificates(dir.path()).is_none() {
        return;
    }
    let tls = format!(
        "tls {{ cert_file: {:?}, key_file: {:?} }}\n",
        dir.path().join("server.pem"),
        dir.path().join("server.key")
    );
    let Some(server) = NatsCluster::start_tls(&tls, &dir.path().join("ca.pem")) else { return };
    assert!(server.url().starts_with("tls://"));
    let mut endpoint = Endpoint::new(&server.url(), "test-tls");
    endpoint.ca_file = Some(dir.path().join("ca.pem"));
    let topology = topology("replicas = 1");
    runtime().block_on(async {
        let js = context(&endpoint).await;
        setup::init(&js, &topology).await.expect("init over TLS");
        let counts = publish_all(&endpoint, &topology.default_event_subject(), events("tls.jsonl", 5)).await;
        assert_eq!(counts.stored, 5);
        // Without the CA, the server's certificate is not trusted: no connection.
        let untrusted = Endpoint::new(&server.url(), "test-untrusted");
        let refused = tokio::time::timeout(Duration::from_secs(20), untrusted.connect()).await;
        assert!(matches!(refused, Ok(Err(_))), "connected without trusting the CA");
    });
}

/// Credentials from a file: a user known to the server by its NKey connects with the seed in
/// its file, and a seed the server does not know is refused.
#[test]
fn a_user_connects_with_the_nkey_seed_in_its_file_and_another_seed_is_refused() {
    let user = nkeys::KeyPair::new_user();
    let stranger = nkeys::KeyPair::new_user();
    let accounts = format!(
        "accounts {{ SIGIL {{ jetstream: enabled, users: [ {{ user: sigil-admin, password: admin-secret-for-tests }}, {{ nkey: {} }} ] }} }}\n",
        user.public_key()
    );
    let Some(cluster) =
        NatsCluster::start_with(1, Some(&accounts), &[], Some(("sigil-admin", "admin-secret-for-tests")))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (known, unknown) = (dir.path().join("worker.nk"), dir.path().join("stranger.nk"));
    std::fs::write(&known, format!("{}\n", user.seed().unwrap())).unwrap();
    std::fs::write(&unknown, stranger.seed().unwrap()).unwrap();
    let endpoint = |file: &std::path::Path| {
        let mut e = Endpoint::new(&cluster.url(), "nkey-test");
        e.nkey_file = Some(file.to_path_buf());
        e
    };
    let rt = runtime();
    rt.block_on(async {
        let client = endpoint(&known).connect().await.expect("the known seed connects");
        let js = connect::jetstream(client, Duration::from_secs(5));
        // (async-nats cannot read a 2.9 server's account info: a stream and a stored message show it.)
        let config = jetstream::stream::Config {
            name: "NKEY_TEST".into(),
            subjects: vec!["nkey.test".into()],
            ..Default::default()
        };
        js.create_stream(config).await.expect("and may use JetStream");
        js.publish("nkey.test", "{}".into()).await.unwrap().await.expect("a message is stored");
        let refused = tokio::time::timeout(Duration::from_secs(3), endpoint(&unknown).connect()).await;
        assert!(!matches!(refused, Ok(Ok(_))), "an unknown seed must not connect");
    });
    let not_a_seed = dir.path().join("public.nk");
    std::fs::write(&not_a_seed, user.public_key()).unwrap();
    let err = rt.block_on(endpoint(&not_a_seed).connect()).unwrap_err();
    assert!(err.contains("no user NKey seed") && !err.contains(&user.public_key()), "{err}");
}
