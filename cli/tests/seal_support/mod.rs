//! The tamper suite's files, shared by `seal.rs` (`sigil verify` reports each case) and
//! `wasm_seal.rs` (the engine component's `verify` reports the same findings): real alerts of
//! the examples sealed by `sigil hunt --seal`, then modified, deleted, inserted, reordered,
//! truncated or checked with the wrong key. Each `tamper` function makes one case's lines from
//! an untouched file and says where the damage is.

// Each test crate that includes this module uses part of it.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn sigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil")).args(args).output().expect("sigil runs")
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn examples() -> Vec<String> {
    sigil_tests::files_under(&repo().join("examples"), &["jsonl"]).iter().map(|p| p.display().to_string()).collect()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn keygen(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let out = sigil(&["keygen", "-o", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    path
}

/// Runs `hunt` over `events`, sealed with `key` when given; returns its output.
pub fn hunt(events: &[String], key: Option<&Path>, checkpoint_every: &str) -> Output {
    let mut args = vec!["hunt", "--format", "jsonl", "--checkpoint-every", checkpoint_every];
    if let Some(key) = key {
        args.extend(["--seal", key.to_str().unwrap()]);
    }
    args.extend(events.iter().map(String::as_str));
    let out = sigil(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

/// A sealed file of the examples' alerts, as lines (without their newlines).
pub struct Sealed {
    pub dir: tempfile::TempDir,
    pub key: PathBuf,
    pub lines: Vec<String>,
}

impl Sealed {
    pub fn of_examples(checkpoint_every: &str) -> Sealed {
        let dir = tempfile::tempdir().unwrap();
        let key = keygen(dir.path(), "seal.key");
        let out = hunt(&examples(), Some(&key), checkpoint_every);
        let lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
        assert!(lines.len() >= 10, "the examples give a few alerts: {} lines", lines.len());
        Sealed { dir, key, lines }
    }

    /// Verifies `lines` (joined with newlines, plus a final one unless `cut`); returns the
    /// exit code and the findings.
    pub fn verify(&self, lines: &[String], cut: bool) -> (i32, Vec<Value>) {
        self.verify_bytes(&body(lines, cut), &self.key)
    }

    pub fn verify_bytes(&self, bytes: &[u8], key: &Path) -> (i32, Vec<Value>) {
        let file = self.dir.path().join("check.jsonl");
        std::fs::write(&file, bytes).unwrap();
        let out = sigil(&["verify", file.to_str().unwrap(), "--key", key.to_str().unwrap(), "--json"]);
        let findings = text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect();
        (out.status.code().unwrap_or(-1), findings)
    }

    pub fn key_hex(&self) -> String {
        std::fs::read_to_string(&self.key).unwrap().trim().to_string()
    }

    /// The examples 300 times over, sealed with this file's key: thousands of alerts, so
    /// default checkpoints every 1000.
    pub fn big_run(&self) -> Vec<String> {
        let big = self.dir.path().join("big.jsonl");
        let mut events = String::new();
        for file in examples() {
            events.push_str(&std::fs::read_to_string(file).unwrap());
        }
        std::fs::write(&big, events.repeat(300)).unwrap();
        let out = hunt(&[big.display().to_string()], Some(&self.key), "1000");
        text(&out.stdout).lines().map(str::to_string).collect()
    }
}

/// A file's bytes: `lines` joined with newlines, plus a final one unless `cut`.
pub fn body(lines: &[String], cut: bool) -> Vec<u8> {
    let mut body = lines.join("\n");
    if !cut {
        body.push('\n');
    }
    body.into_bytes()
}

pub type Summary = (String, u64, Option<u64>, Option<u64>);

/// (kind, line, expected, found) of each finding.
pub fn summary(findings: &[Value]) -> Vec<Summary> {
    findings
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["expected"].as_u64(),
                f["found"].as_u64(),
            )
        })
        .collect()
}

pub fn finding(kind: &str, line: u64, expected: Option<u64>, found: Option<u64>) -> Summary {
    (kind.to_string(), line, expected, found)
}

/// The index of the first `record` line at or after `from` (line `i + 1` holds seq `i`).
pub fn record_at(lines: &[String], from: usize) -> usize {
    (from..lines.len()).find(|&i| lines[i].starts_with(r#"{"seal":"record""#)).expect("a record line")
}

/// Each case of the suite made from an untouched file's lines: the tampered lines, and the
/// index of the line changed (what the findings are about).
pub mod tamper {
    use super::record_at;

    /// A record's level changed.
    pub fn modified(untouched: &[String]) -> (Vec<String>, usize) {
        let mut lines = untouched.to_vec();
        let i = record_at(&lines, 4);
        assert!(lines[i].contains(r#""level":"#), "{}", lines[i]);
        lines[i] = lines[i].replacen(r#""level":""#, r#""level":"x"#, 1);
        (lines, i)
    }

    /// A record removed.
    pub fn deleted(untouched: &[String]) -> (Vec<String>, usize) {
        let mut lines = untouched.to_vec();
        let i = record_at(&lines, 3);
        lines.remove(i);
        (lines, i)
    }

    /// A forged record: a copy of a real one with its content changed, placed after it.
    pub fn forged(untouched: &[String]) -> (Vec<String>, usize) {
        let mut lines = untouched.to_vec();
        let i = record_at(&lines, 2);
        let forged = lines[i].replacen(r#""kind":"detection""#, r#""kind":"detection","forged":true"#, 1);
        assert_ne!(forged, lines[i]);
        lines.insert(i + 1, forged);
        (lines, i)
    }

    /// A valid record copied further down.
    pub fn duplicated(untouched: &[String]) -> (Vec<String>, usize) {
        let mut lines = untouched.to_vec();
        let i = record_at(&lines, 2);
        let copy = lines[i].clone();
        lines.insert(i + 4, copy);
        (lines, i)
    }

    /// Two records swapped.
    pub fn swapped(untouched: &[String]) -> (Vec<String>, usize) {
        let mut lines = untouched.to_vec();
        let i = record_at(&lines, 3);
        lines.swap(i, i + 1);
        (lines, i)
    }

    /// The last three lines cut off; the index is the number of lines kept.
    pub fn cut_tail(untouched: &[String]) -> (Vec<String>, usize) {
        let keep = untouched.len() - 3;
        (untouched[..keep].to_vec(), keep)
    }

    /// The tail cut in the middle of the last kept line (write it without its line end).
    pub fn cut_short(untouched: &[String]) -> (Vec<String>, usize) {
        let (mut lines, keep) = cut_tail(untouched);
        let last = lines.pop().unwrap();
        lines.push(last[..last.len() / 2].to_string());
        (lines, keep)
    }

    /// One record's title changed and a later one removed: (lines, the first, the second).
    pub fn two_edits(untouched: &[String]) -> (Vec<String>, usize, usize) {
        let mut lines = untouched.to_vec();
        let a = record_at(&lines, 2);
        let b = record_at(&lines, a + 4);
        lines[a] = lines[a].replacen(r#""title":""#, r#""title":"Not "#, 1);
        lines.remove(b);
        (lines, a, b)
    }

    /// The second checkpoint of a big run removed; the index is where it was.
    pub fn deleted_checkpoint(big_run: &[String]) -> (Vec<String>, usize) {
        let checkpoints: Vec<usize> =
            (0..big_run.len()).filter(|&i| big_run[i].starts_with(r#"{"seal":"checkpoint""#)).collect();
        assert!(checkpoints.len() >= 2, "{} lines, {} checkpoints", big_run.len(), checkpoints.len());
        assert_eq!(checkpoints[0], 1001, "the first checkpoint follows the first 1000 records");
        let mut cut = big_run.to_vec();
        let c = checkpoints[1];
        cut.remove(c);
        (cut, c)
    }

    /// An authentic record rewritten out of the format's layout, four ways, each with its name.
    pub fn relaid(untouched: &[String]) -> (Vec<(&'static str, Vec<String>)>, usize) {
        let i = record_at(untouched, 3);
        let line = &untouched[i];
        let content_at = line.find(r#","content":"#).unwrap();
        let (members, content) = (&line[1..content_at], &line[content_at + 1..line.len() - 1]);
        let (seal, rest) = members.split_once(',').unwrap();
        let rewritten = [
            ("members in another order", format!("{{{rest},{content},{seal}}}")),
            ("a space after a colon", line.replacen(r#""seal":"#, r#""seal": "#, 1)),
            ("the MAC in capitals", {
                let mac = &line[line.find(r#""mac":""#).unwrap() + 7..][..64];
                line.replacen(mac, &mac.to_uppercase(), 1)
            }),
            ("a carriage return before the line end", format!("{line}\r")),
        ];
        let cases = rewritten
            .into_iter()
            .map(|(what, changed)| {
                assert_ne!(&changed, line, "{what}");
                let mut lines = untouched.to_vec();
                lines[i] = changed;
                (what, lines)
            })
            .collect();
        (cases, i)
    }
}

/// One file of the suite, and the key file to check it with.
pub struct Case {
    pub name: String,
    pub bytes: Vec<u8>,
    pub key: PathBuf,
}

/// Every case of the suite (the 12 of `seal.rs`, an untouched file without checkpoints too,
/// the relaid record four ways: 16 files), over fresh sealed files that live as long as the
/// returned [`Sealed`]s.
pub fn all_cases() -> (Vec<Sealed>, Vec<Case>) {
    let with_checkpoints = Sealed::of_examples("3");
    let sealed = Sealed::of_examples("1000");
    let other_key = keygen(sealed.dir.path(), "other.key");
    let (key, lines) = (&sealed.key, &sealed.lines);
    let case = |name: &str, lines: &[String], cut: bool, key: &Path| Case {
        name: name.to_string(),
        bytes: body(lines, cut),
        key: key.to_path_buf(),
    };
    let mut cases = vec![
        case("untouched, checkpoints every 3", &with_checkpoints.lines, false, &with_checkpoints.key),
        case("untouched", lines, false, key),
        case("modified", &tamper::modified(lines).0, false, key),
        case("deleted", &tamper::deleted(lines).0, false, key),
        case("forged", &tamper::forged(lines).0, false, key),
        case("duplicated", &tamper::duplicated(lines).0, false, key),
        case("swapped", &tamper::swapped(lines).0, false, key),
        case("cut tail", &tamper::cut_tail(lines).0, false, key),
        case("cut short", &tamper::cut_short(lines).0, true, key),
        case("two edits", &tamper::two_edits(lines).0, false, key),
        case("wrong key", lines, false, &other_key),
        case("deleted checkpoint", &tamper::deleted_checkpoint(&sealed.big_run()).0, false, key),
    ];
    for (what, relaid) in tamper::relaid(lines).0 {
        cases.push(case(&format!("relaid: {what}"), &relaid, false, key));
    }
    (vec![with_checkpoints, sealed], cases)
}
