//! The compiled-rule cache, end to end: `sigil hunt --rules` with its own `SIGIL_CACHE_DIR`
//! per test. Edits recompile, unchanged trees hit, damage is rebuilt, racing writers are safe,
//! rejected rules are reported on a hit, and `--no-cache` writes nothing.

use sigil_tests::STOP_LOGGING_RULE;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Setup {
    dir: tempfile::TempDir,
}

const EVENTS: &str = "{\"eventSource\":\"cloudtrail.amazonaws.com\",\"eventName\":\"StopLogging\"}
{\"eventSource\":\"cloudtrail.amazonaws.com\",\"eventName\":\"DeleteTrail\"}
";

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        std::fs::create_dir(dir.path().join("cache")).unwrap();
        std::fs::write(dir.path().join("rules/trail.yml"), STOP_LOGGING_RULE).unwrap();
        std::fs::write(dir.path().join("events.jsonl"), EVENTS).unwrap();
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sigil"));
        cmd.env("SIGIL_CACHE_DIR", self.path("cache"))
            .args(["hunt", "--format", "jsonl", "--rules"])
            .arg(self.path("rules"))
            .args(extra)
            .arg(self.path("events.jsonl"));
        cmd
    }

    fn hunt(&self, extra: &[&str]) -> Output {
        let out = self.command(extra).output().expect("sigil runs");
        assert!(out.status.success(), "{}", stderr(&out));
        out
    }

    fn entries(&self) -> Vec<PathBuf> {
        files(&self.path("cache"))
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(read) => read.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The alerts' rule titles and event lines: what a cached plan must reproduce.
fn alerts(out: &Output) -> Vec<(String, u64)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"));
            (
                v["rule"]["title"].as_str().unwrap_or_default().to_string(),
                v["source"]["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

fn hit(out: &Output) -> bool {
    stderr(out).contains("(from the cache)")
}

#[test]
fn an_unchanged_tree_hits_the_cache_with_the_same_alerts() {
    let s = Setup::new();
    let cold = s.hunt(&[]);
    assert!(!hit(&cold), "{}", stderr(&cold));
    assert_eq!(s.entries().len(), 1, "one entry written");
    let warm = s.hunt(&[]);
    assert!(stderr(&warm).contains("rules: 1 loaded, 0 rejected (from the cache)"), "{}", stderr(&warm));
    assert_eq!(alerts(&warm), alerts(&cold));
    assert_eq!(alerts(&warm), vec![("Trail stopped".to_string(), 1)]);
}

#[test]
fn editing_one_rule_recompiles() {
    let s = Setup::new();
    s.hunt(&[]);
    std::fs::write(s.path("rules/trail.yml"), STOP_LOGGING_RULE.replace("StopLogging", "DeleteTrail")).unwrap();
    let edited = s.hunt(&[]);
    assert!(!hit(&edited), "an edit must recompile: {}", stderr(&edited));
    assert_eq!(alerts(&edited), vec![("Trail stopped".to_string(), 2)], "the edit is visible");
    assert!(hit(&s.hunt(&[])), "the edited tree hits next time");
}

#[test]
fn options_that_change_compilation_change_the_key() {
    let s = Setup::new();
    s.hunt(&[]);
    let filtered = s.command(&["--min-level", "critical"]).output().unwrap();
    assert!(!hit(&filtered), "a selection is part of the key: {}", stderr(&filtered));
    let piped = s.hunt(&["--pipeline", "ecs"]);
    assert!(!hit(&piped), "a pipeline is part of the key: {}", stderr(&piped));
    std::fs::write(s.path("rules/other.yml"), STOP_LOGGING_RULE.replace("Trail stopped", "Other")).unwrap();
    assert!(!hit(&s.hunt(&[])), "a new file is part of the key");
}

#[test]
fn a_corrupted_entry_is_rebuilt_with_the_same_alerts() {
    let s = Setup::new();
    let cold = s.hunt(&[]);
    let entry = s.entries().pop().unwrap();
    let sound = std::fs::read(&entry).unwrap();
    let flipped = {
        let mut b = sound.clone();
        let at = b.len() - 10;
        b[at] ^= 0xff;
        b
    };
    for damaged in [flipped, sound[..sound.len() / 2].to_vec(), b"not a cache entry".to_vec()] {
        std::fs::write(&entry, &damaged).unwrap();
        let rebuilt = s.hunt(&[]);
        assert!(!hit(&rebuilt), "{}", stderr(&rebuilt));
        assert!(stderr(&rebuilt).contains("ignoring a damaged entry"), "{}", stderr(&rebuilt));
        assert_eq!(alerts(&rebuilt), alerts(&cold));
        assert_eq!(std::fs::read(&entry).unwrap(), sound, "the entry is written again");
        assert!(hit(&s.hunt(&[])));
    }
}

#[test]
fn concurrent_hunts_on_a_cold_cache_both_succeed_and_leave_one_entry() {
    let s = Setup::new();
    // Enough rules that the compile and the write overlap.
    for i in 0..200 {
        let rule = STOP_LOGGING_RULE
            .replace("Trail stopped", &format!("Trail stopped {i}"))
            .replace("000000000001", &format!("{i:012}"));
        std::fs::write(s.path(&format!("rules/r{i}.yml")), rule).unwrap();
    }
    let children: Vec<_> = (0..4).map(|_| s.command(&[]).spawn_output()).collect();
    let outs: Vec<Output> = children.into_iter().map(|c| c.join().unwrap()).collect();
    for out in &outs {
        assert!(out.status.success(), "{}", stderr(out));
        assert_eq!(alerts(out), alerts(&outs[0]));
    }
    assert_eq!(alerts(&outs[0]).len(), 201);
    let entries = s.entries();
    assert_eq!(entries.len(), 1, "one entry, no temporary file left: {entries:?}");
    assert!(hit(&s.hunt(&[])), "the entry left is sound");
}

#[test]
fn a_rejected_rule_is_reported_on_a_cache_hit() {
    let s = Setup::new();
    std::fs::write(
        s.path("rules/broken.yml"),
        "title: Broken\nlogsource: {product: aws}\ndetection:\n  condition: nothing\n",
    )
    .unwrap();
    let cold = s.hunt(&[]);
    let warm = s.hunt(&[]);
    assert!(hit(&warm));
    for out in [&cold, &warm] {
        let err = stderr(out);
        assert!(err.contains("rule rejected: ") && err.contains("broken.yml:"), "{err}");
        assert!(err.contains("rules: 1 loaded, 1 rejected"), "{err}");
    }
    let rejected = |out: &Output| {
        stderr(out).lines().filter(|l| l.contains("rule rejected")).map(String::from).collect::<Vec<_>>()
    };
    assert_eq!(rejected(&warm), rejected(&cold), "the same file, line, column and message");
}

#[test]
fn no_cache_writes_nothing() {
    let s = Setup::new();
    let out = s.hunt(&["--no-cache"]);
    assert!(!hit(&out));
    assert!(s.entries().is_empty(), "{:?}", s.entries());
    s.hunt(&[]);
    assert!(!hit(&s.hunt(&["--no-cache"])), "--no-cache does not read the cache either");
}

/// Runs a command on a thread, so several race.
trait SpawnOutput {
    fn spawn_output(self) -> std::thread::JoinHandle<Output>;
}

impl SpawnOutput for Command {
    fn spawn_output(mut self) -> std::thread::JoinHandle<Output> {
        std::thread::spawn(move || self.output().expect("sigil runs"))
    }
}
