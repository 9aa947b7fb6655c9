//! Events/s of 1, 2 and 3 workers against `hunt --threads N` (ignored: run by hand, in
//! release; figures in README.md and docs/scale-out.md).

mod cluster_support;

use cluster_support::*;

/// Events/s of 1, 2 and 3 workers against `hunt --threads N` over the same events (the fault
/// test's 106,739). Run by hand, in release: `cargo test --release -p sigil-cli --test
/// cluster_throughput -- --ignored --nocapture` (SIGIL_BENCH_NODES=1 for one server with R1 streams; default 3
/// servers, R3). Figures in README.md and docs/scale-out.md.
#[test]
#[ignore]
fn throughput() {
    let Some(shared) = shared("throughput") else { return };
    let nodes: usize = std::env::var("SIGIL_BENCH_NODES").ok().and_then(|n| n.parse().ok()).unwrap_or(3);
    let Some(cluster) = NatsCluster::start(nodes) else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = cluster.url();
    let pack = compile_pack(dir.path());
    let events = real_events(&shared);
    let total = events.len() as u64;
    let file = dir.path().join("events.jsonl");
    write_lines(&file, &events);
    drop(events);
    let mut table = Vec::new();
    for threads in 1..=3 {
        let started = Instant::now();
        let out = sigil()
            .args(["hunt", "--format", "jsonl", "--threads", &threads.to_string(), "--pack"])
            .arg(&pack)
            .arg(&file)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success());
        let rate = total as f64 / started.elapsed().as_secs_f64();
        table.push(format!("hunt --threads {threads}: {rate:.0} events/s"));
    }
    let first = bench_topology(dir.path(), 1, nodes.min(3));
    run(sigil().args(["nats", "init", "--nats", &url, "--config"]).arg(&first));
    let started = Instant::now();
    let published = sigil().args(["publish", "--nats", &url, "--config"]).arg(&first).arg(&file).output().unwrap();
    assert!(published.status.success());
    table.push(format!("publish: {:.0} events/s", total as f64 / started.elapsed().as_secs_f64()));
    let rt = runtime();
    let js = rt.block_on(async {
        connect::jetstream(Endpoint::new(&url, "observer").connect().await.unwrap(), Duration::from_secs(10))
    });
    for n in 1..=3 {
        let config = bench_topology(dir.path(), n, nodes.min(3));
        run(sigil().args(["nats", "init", "--nats", &url, "--config"]).arg(&config));
        let topology = Topology::load(Some(&config)).unwrap();
        let mut workers = Workers::default();
        let started = Instant::now();
        for i in 0..n {
            workers.start(&format!("b{n}-{i}"), &url, &config, &pack, dir.path());
        }
        wait_for("every event acked", Duration::from_secs(900), || {
            rt.block_on(consumer_state(&js, &topology)).is_some_and(|s| s.0 == total)
        });
        let seconds = started.elapsed().as_secs_f64();
        wait_for("every partition caught up", Duration::from_secs(300), || {
            rt.block_on(partitions_caught_up(&js, &topology))
        });
        let with_correlations = started.elapsed().as_secs_f64();
        workers.drain_all();
        table.push(format!(
            "{n} worker(s): {:.0} events/s (correlations complete: {:.0} events/s)",
            total as f64 / seconds,
            total as f64 / with_correlations
        ));
    }
    println!(
        "throughput over {total} events, {nodes} NATS server(s), {} cores:",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for line in table {
        println!("  {line}");
    }
}
