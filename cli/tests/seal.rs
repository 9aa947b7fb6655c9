//! Tamper tests of sealed output: real alerts sealed by `sigil hunt --seal`, then modified,
//! deleted, inserted, reordered and truncated; `sigil verify` must report each case at the
//! right line and sequence number, and pass the untouched file.

mod seal_support;

use seal_support::{examples, finding, hunt, keygen, record_at, repo, sigil, summary, tamper, text, Sealed};
use std::process::Command;

#[test]
fn an_untouched_file_verifies_and_its_records_are_the_plain_alerts_byte_for_byte() {
    let sealed = Sealed::of_examples("3");
    let (code, findings) = sealed.verify(&sealed.lines, false);
    assert_eq!((code, findings.len()), (0, 0), "{findings:?}");
    let plain = hunt(&examples(), None, "3");
    let contents: Vec<&str> = sealed
        .lines
        .iter()
        .filter(|l| l.starts_with(r#"{"seal":"record""#))
        .map(|l| &l[l.find(r#","content":"#).unwrap() + 11..l.len() - 1])
        .collect();
    assert_eq!(contents, text(&plain.stdout).lines().collect::<Vec<_>>());
    let kinds: Vec<&str> = sealed.lines.iter().map(|l| l.split('"').nth(3).unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"open"));
    assert_eq!(kinds.last(), Some(&"end"));
    assert!(kinds.contains(&"checkpoint"), "--checkpoint-every 3 writes checkpoints: {kinds:?}");
}

#[test]
fn a_modified_record_is_reported_at_its_line_and_sequence_number() {
    let sealed = Sealed::of_examples("1000");
    let (lines, i) = tamper::modified(&sealed.lines);
    let (code, findings) = sealed.verify(&lines, false);
    assert_eq!(code, 1);
    let seq = i as u64;
    assert_eq!(summary(&findings), vec![finding("modified", i as u64 + 1, Some(seq), Some(seq))]);
}

#[test]
fn a_deleted_record_is_reported_where_the_gap_is() {
    let sealed = Sealed::of_examples("1000");
    let (lines, i) = tamper::deleted(&sealed.lines);
    let (code, findings) = sealed.verify(&lines, false);
    assert_eq!(code, 1);
    // The line that now follows the gap holds seq i + 1 where seq i was expected.
    assert_eq!(summary(&findings), vec![finding("deleted", i as u64 + 1, Some(i as u64), Some(i as u64 + 1))]);
    assert!(findings[0]["message"].as_str().unwrap().contains(&format!("seq {i} is missing")), "{findings:?}");
}

#[test]
fn a_forged_record_and_a_duplicated_one_are_reported_as_insertions() {
    let sealed = Sealed::of_examples("1000");
    // A forged record: a copy of a real one with its content changed, placed after it.
    let (lines, i) = tamper::forged(&sealed.lines);
    let (code, findings) = sealed.verify(&lines, false);
    assert_eq!(code, 1);
    assert_eq!(summary(&findings), vec![finding("inserted", i as u64 + 2, Some(i as u64 + 1), Some(i as u64))]);

    // A valid record copied further down.
    let (lines, i) = tamper::duplicated(&sealed.lines);
    let (code, findings) = sealed.verify(&lines, false);
    assert_eq!(code, 1);
    assert_eq!(summary(&findings), vec![finding("duplicated", i as u64 + 5, Some(i as u64 + 4), Some(i as u64))]);
}

#[test]
fn two_swapped_records_are_reported_once_by_their_sequence_number() {
    let sealed = Sealed::of_examples("1000");
    let (lines, i) = tamper::swapped(&sealed.lines);
    let (code, findings) = sealed.verify(&lines, false);
    assert_eq!(code, 1);
    let found = summary(&findings);
    assert_eq!(found.len(), 1, "{found:?}");
    let (kind, line, _, seq) = &found[0];
    assert_eq!(kind, "reordered");
    // Either record of the pair is out of order relative to the other; the report names the
    // line it is on now and its own sequence number.
    let (line, seq) = (*line as usize, seq.unwrap() as usize);
    assert!([i + 1, i + 2].contains(&line), "{found:?}");
    assert_eq!(sealed.lines[seq], lines[line - 1], "the record reported is the one at that line");
    assert!(seq == i || seq == i + 1, "{found:?}");
}

#[test]
fn a_cut_tail_and_a_line_cut_short_are_reported() {
    let sealed = Sealed::of_examples("1000");
    let (lines, keep) = tamper::cut_tail(&sealed.lines);
    let (code, findings) = sealed.verify(&lines, false);
    assert_eq!(code, 1);
    assert_eq!(summary(&findings), vec![finding("truncated", keep as u64 + 1, Some(keep as u64), None)]);

    // Cut in the middle of the last kept line.
    let (lines, keep) = tamper::cut_short(&sealed.lines);
    let (code, findings) = sealed.verify(&lines, true);
    assert_eq!(code, 1);
    let found = summary(&findings);
    let cut = keep as u64;
    assert!(found.contains(&finding("modified", cut, Some(cut - 1), None)), "{found:?}");
    assert!(found.contains(&finding("truncated", cut, None, None)), "{found:?}");
    assert!(found.contains(&finding("truncated", cut + 1, Some(cut - 1), None)), "{found:?}");
}

#[test]
fn two_edits_in_one_file_are_both_reported() {
    let sealed = Sealed::of_examples("1000");
    let (lines, a, b) = tamper::two_edits(&sealed.lines);
    let (code, findings) = sealed.verify(&lines, false);
    assert_eq!(code, 1);
    assert_eq!(
        summary(&findings),
        vec![
            finding("modified", a as u64 + 1, Some(a as u64), Some(a as u64)),
            finding("deleted", b as u64 + 1, Some(b as u64), Some(b as u64 + 1)),
        ]
    );
}

#[test]
fn a_wrong_key_fails_and_no_key_is_ever_printed() {
    let sealed = Sealed::of_examples("1000");
    let other = keygen(sealed.dir.path(), "other.key");
    let file = sealed.dir.path().join("alerts.sealed.jsonl");
    std::fs::write(&file, sealed.lines.join("\n") + "\n").unwrap();
    let out = sigil(&["verify", file.to_str().unwrap(), "--key", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout) + &text(&out.stderr);
    assert!(report.contains("wrong_key") && report.contains("no record verifies with this key"), "{report}");
    let good = sigil(&["verify", file.to_str().unwrap(), "--key", sealed.key.to_str().unwrap()]);
    assert!(good.status.success(), "{}", text(&good.stderr));
    let other_hex = std::fs::read_to_string(&other).unwrap().trim().to_string();
    let everything = [report, text(&good.stdout), text(&good.stderr), sealed.lines.join("\n")].concat();
    for key in [sealed.key_hex(), other_hex] {
        assert_eq!(key.len(), 64);
        assert!(!everything.contains(&key) && !everything.contains(&key[..16]), "a key leaked");
    }
}

#[test]
fn keygen_writes_a_private_key_once_and_bad_keys_or_formats_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "k");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let again = sigil(&["keygen", "-o", key.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("never overwritten"), "{}", text(&again.stderr));
    let table = sigil(&["hunt", "--seal", key.to_str().unwrap(), "--format", "table", &examples()[0]]);
    assert_eq!(table.status.code(), Some(2));
    assert!(text(&table.stderr).contains("--format jsonl"), "{}", text(&table.stderr));
    let short = dir.path().join("short");
    std::fs::write(&short, "abcd").unwrap();
    let refused = sigil(&["hunt", "--seal", short.to_str().unwrap(), &examples()[0]]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("too short"), "{}", text(&refused.stderr));
}

#[test]
fn a_larger_run_with_checkpoints_detects_a_deleted_checkpoint() {
    let sealed = Sealed::of_examples("1000");
    // The examples 300 times over: thousands of alerts, so default checkpoints every 1000.
    let lines = sealed.big_run();
    let (code, findings) = sealed.verify(&lines, false);
    assert_eq!((code, findings.len()), (0, 0), "{findings:?}");
    let (cut, c) = tamper::deleted_checkpoint(&lines);
    let (code, findings) = sealed.verify(&cut, false);
    assert_eq!(code, 1);
    assert_eq!(summary(&findings), vec![finding("deleted", c as u64 + 1, Some(c as u64), Some(c as u64 + 1))]);
}

/// The Python verifier in docs/seal-format.md agrees with `sigil verify` on a sealed file and
/// on a tampered one (skipped without python3).
#[test]
fn the_documented_python_verifier_agrees() {
    if Command::new("python3").arg("--version").output().is_err() {
        println!("SKIPPED: python3 is not installed");
        return;
    }
    let doc = std::fs::read_to_string(repo().join("docs/seal-format.md")).unwrap();
    let script = doc.split("```python\n").nth(1).and_then(|s| s.split("```").next()).expect("a python block");
    let sealed = Sealed::of_examples("3");
    let dir = sealed.dir.path();
    std::fs::write(dir.join("verify.py"), script).unwrap();
    let run = |lines: &[String]| {
        let file = dir.join("py.jsonl");
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        let out = Command::new("python3")
            .arg(dir.join("verify.py"))
            .arg(&file)
            .arg(&sealed.key)
            .output()
            .expect("python3 runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(run(&sealed.lines).trim(), "verified");
    let mut lines = sealed.lines.clone();
    let i = record_at(&lines, 2);
    lines[i] = lines[i].replacen(r#""kind":""#, r#""kind":"x"#, 1);
    assert!(run(&lines).contains(&format!("line {}: modified or forged", i + 1)));
    let mut lines = sealed.lines.clone();
    lines[i] = lines[i].replacen(r#""seal":"#, r#""seal": "#, 1);
    assert!(run(&lines).contains(&format!("line {}: modified or forged", i + 1)), "a relaid line");
}

/// A line whose MAC holds but which is not written as the format lays it out is reported:
/// readers that take the format at its word (`"content"` last, as the documented verifier
/// does; lines picked by their `{"seal":"record"` start) would read it otherwise.
#[test]
fn an_authentic_record_rewritten_out_of_its_layout_is_reported_as_modified() {
    let sealed = Sealed::of_examples("1000");
    let (rewritten, i) = tamper::relaid(&sealed.lines);
    for (what, lines) in rewritten {
        let (code, findings) = sealed.verify(&lines, false);
        assert_eq!(code, 1, "{what}: {findings:?}");
        let seq = i as u64;
        assert_eq!(summary(&findings), vec![finding("modified", i as u64 + 1, Some(seq), Some(seq))], "{what}");
    }
}

#[test]
fn verify_reports_a_line_past_its_line_limit_by_length_and_verifies_the_rest() {
    let sealed = Sealed::of_examples("1000");
    let (longest, length) = sealed
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| (i, l.len()))
        .max_by_key(|&(i, n)| (n, std::cmp::Reverse(i)))
        .unwrap();
    let file = sealed.dir.path().join("sealed.jsonl");
    std::fs::write(&file, seal_support::body(&sealed.lines, false)).unwrap();
    let limit = (length - 1).to_string();
    let out =
        sigil(&["verify", file.to_str().unwrap(), "--key", sealed.key.to_str().unwrap(), "--max-line-bytes", &limit]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let findings: Vec<&str> = stdout.lines().collect();
    let line = longest + 1;
    let seq = longest;
    assert_eq!(
        findings,
        vec![format!(
            "{}:{line}: modified: expected seq {seq}, found none: line {line} is {length} bytes, longer than the line \
             limit of {limit} bytes (sigil verify --max-line-bytes): not read, so not verified",
            file.display()
        )]
    );
}
