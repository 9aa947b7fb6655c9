//! The host's limits hold against a guest that allocates without bound or runs too long, and
//! the host goes on with the next batch; a malformed pack is an error value, not a trap. Needs
//! the engine component (scripts/build-wasm.sh, which scripts/test.sh runs first).

use sigil_wasm_host::{HostError, Limits, WasmHunt};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn component(test: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm/sigil_engine.component.wasm");
    if path.is_file() {
        Some(path)
    } else {
        println!("SKIPPED {test}: {} is not built (scripts/build-wasm.sh)", path.display());
        None
    }
}

/// Sigil's embedded rule pack, compiled.
fn pack() -> Vec<u8> {
    let mut compiler = sigil_compiler::Compiler::new(sigil_compiler::Options::default());
    for (path, text) in sigil_pack::RULE_FILES {
        compiler.add_file(path, text);
    }
    sigil_engine::pack::to_bytes(&compiler.finish().plan)
}

fn cache() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm/cache")
}

const STOP_LOGGING: &str = r#"{"eventVersion":"1.08","eventTime":"2026-01-01T00:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","userIdentity":{"type":"IAMUser","userName":"mallory"},"requestParameters":{"name":"trail"}}"#;

/// A small batch that must raise the pack's trail-stopped alert.
fn check_still_works(host: &mut WasmHunt) {
    let result = host
        .eval_batch("after.jsonl", 1, format!("{STOP_LOGGING}\n").as_bytes(), "auto")
        .expect("a fresh instance evaluates");
    assert_eq!(result.events, 1);
    assert!(result.alert_count >= 1, "the trail-stopped rule fires: {:?}", String::from_utf8_lossy(&result.alerts));
}

#[test]
fn a_guest_that_allocates_past_the_cap_is_stopped_and_the_host_goes_on() {
    let Some(path) = component("a_guest_that_allocates_past_the_cap_is_stopped_and_the_host_goes_on") else { return };
    let limits = Limits { memory_bytes: 64 << 20, deadline: Duration::from_secs(60) };
    let mut host = WasmHunt::new(&path, limits, Some(&cache())).unwrap();
    host.load_pack(&pack()).unwrap();
    // One event of 100 MB: parsing it needs more memory than the cap allows.
    let huge = format!("{{\"eventName\": \"{}\"}}\n", "A".repeat(100 << 20));
    let err = host.eval_batch("huge.jsonl", 1, huge.as_bytes(), "auto").unwrap_err();
    assert!(matches!(err, HostError::Memory(_) | HostError::Trap(_)), "{err}");
    println!("stopped: {err}");
    check_still_works(&mut host);
}

#[test]
fn a_batch_past_its_deadline_is_stopped_and_the_host_goes_on() {
    let Some(path) = component("a_batch_past_its_deadline_is_stopped_and_the_host_goes_on") else { return };
    // Loading the pack must fit in the deadline even on a busy machine (it takes a few ms);
    // the batch takes seconds.
    let limits = Limits { memory_bytes: 1 << 30, deadline: Duration::from_millis(250) };
    let mut host = WasmHunt::new(&path, limits, Some(&cache())).unwrap();
    host.load_pack(&pack()).unwrap();
    let many = format!("{STOP_LOGGING}\n").repeat(300_000);
    let err = host.eval_batch("many.jsonl", 1, many.as_bytes(), "auto").unwrap_err();
    assert!(matches!(err, HostError::Deadline(_)), "{err}");
    println!("stopped: {err}");
    check_still_works(&mut host);
}

#[test]
fn a_malformed_pack_is_an_error_value_and_nothing_is_loaded() {
    let Some(path) = component("a_malformed_pack_is_an_error_value_and_nothing_is_loaded") else { return };
    let mut host = WasmHunt::new(&path, Limits::default(), Some(&cache())).unwrap();
    for bad in [&b""[..], b"SIGILPK\0garbage", &[0xffu8; 4096]] {
        let err = host.load_pack(bad).unwrap_err();
        assert!(matches!(err, HostError::Guest(_)), "{err}");
    }
    let err = host.eval_batch("x.jsonl", 1, STOP_LOGGING.as_bytes(), "auto").unwrap_err();
    assert!(matches!(err, HostError::Guest(_)), "evaluating without a pack is an error value: {err}");
    host.load_pack(&pack()).unwrap();
    check_still_works(&mut host);
    assert!(host.version().unwrap().contains("sigil"));
}

/// Correlation windows survive a move to a fresh host through `save_state`/`restore_state`,
/// and `flush` drops them.
#[test]
fn correlation_state_moves_between_instances_and_flush_drops_it() {
    let Some(path) = component("correlation_state_moves_between_instances_and_flush_drops_it") else { return };
    let story =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/cloudtrail.jsonl")).unwrap();
    let lines: Vec<&str> = story.lines().collect();
    // Line 11: a failed console sign-in; line 12: the success that completes the correlation.
    let (failure, success) = (format!("{}\n", lines[10]), format!("{}\n", lines[11]));
    let correlations = |r: &sigil_wasm_host::BatchResult| {
        String::from_utf8_lossy(&r.alerts).matches(r#""kind":"correlation""#).count()
    };
    let mut host = WasmHunt::new(&path, Limits::default(), Some(&cache())).unwrap();
    host.load_pack(&pack()).unwrap();
    host.eval_batch("story.jsonl", 11, failure.as_bytes(), "auto").unwrap();
    let state = host.save_state().unwrap();

    let mut moved = WasmHunt::new(&path, Limits::default(), Some(&cache())).unwrap();
    moved.load_pack(&pack()).unwrap();
    assert_eq!(moved.restore_state(&state).unwrap(), 0);
    let done = moved.eval_batch("story.jsonl", 12, success.as_bytes(), "auto").unwrap();
    assert_eq!(correlations(&done), 1, "{}", String::from_utf8_lossy(&done.alerts));

    assert!(host.flush().unwrap() >= 1, "the failure's window was open");
    let after_flush = host.eval_batch("story.jsonl", 12, success.as_bytes(), "auto").unwrap();
    assert_eq!(correlations(&after_flush), 0);
    assert!(matches!(host.restore_state("not json"), Err(HostError::Guest(_))));
}

/// `normalize` and `verify` run under the same limits as the batches: an oversized input is
/// stopped, a long one runs past its deadline, and the host goes on with the pack loaded.
#[test]
fn normalize_and_verify_are_held_to_the_same_limits() {
    let Some(path) = component("normalize_and_verify_are_held_to_the_same_limits") else { return };
    let limits = Limits { memory_bytes: 64 << 20, deadline: Duration::from_secs(60) };
    let mut host = WasmHunt::new(&path, limits, Some(&cache())).unwrap();
    host.load_pack(&pack()).unwrap();
    let huge = format!("{{\"eventName\": \"{}\"}}\n", "A".repeat(100 << 20));
    let err = host.normalize("huge.jsonl", 1, huge.as_bytes()).unwrap_err();
    assert!(matches!(err, HostError::Memory(_) | HostError::Trap(_)), "{err}");
    let err = host.verify(huge.as_bytes(), &"ab".repeat(32)).unwrap_err();
    assert!(matches!(err, HostError::Memory(_) | HostError::Trap(_)), "{err}");
    check_still_works(&mut host);

    // Loading the pack must fit in the deadline even on a busy machine (it takes a few ms);
    // the batch takes seconds.
    let limits = Limits { memory_bytes: 1 << 30, deadline: Duration::from_millis(250) };
    let mut host = WasmHunt::new(&path, limits, Some(&cache())).unwrap();
    host.load_pack(&pack()).unwrap();
    let many = format!("{STOP_LOGGING}\n").repeat(300_000);
    let err = host.normalize("many.jsonl", 1, many.as_bytes()).unwrap_err();
    assert!(matches!(err, HostError::Deadline(_)), "{err}");
    let out = host.normalize("one.jsonl", 1, format!("{STOP_LOGGING}\n").as_bytes()).unwrap();
    assert_eq!(out.mapped.values().sum::<u64>() + out.passed, 1, "{:?}", String::from_utf8_lossy(&out.lines));
    check_still_works(&mut host);
}
