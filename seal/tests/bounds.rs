//! Verification of forged and oversized sealed files stays bounded: a record claiming a huge
//! sequence number costs what its line costs (the gap is reported as a range, never
//! allocated), and a line past the line limit is reported with its length and the limit, never
//! held, while every other record is still verified.

use sigil_seal::{verify_lines, Kind, SealKey, SealedWriter};

fn key() -> SealKey {
    SealKey::from_hex(b"4242424242424242424242424242424242424242424242424242424242424242").unwrap()
}

fn sealed(records: &[String]) -> Vec<String> {
    let mut writer = SealedWriter::new(Vec::new(), key()).checkpoint_every(1000);
    for r in records {
        writer.write_record(r.as_bytes()).unwrap();
    }
    String::from_utf8(writer.finish().unwrap()).unwrap().lines().map(str::to_string).collect()
}

/// A record as the writer lays it out, MAC'd with the key: what someone holding the key forges.
fn forge(kind: Kind, seq: u64, prev: &[u8; 32], content: &str) -> (String, [u8; 32]) {
    let mac = key().mac(kind, seq, prev, content.as_bytes());
    let line = format!(
        r#"{{"seal":"{}","seq":{seq},"prev":"{}","mac":"{}","content":{content}}}"#,
        kind.as_str(),
        hex(prev),
        hex(&mac)
    );
    (line, mac)
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn mac_of(line: &str) -> [u8; 32] {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let text = v["mac"].as_str().unwrap();
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn a_forged_record_with_a_huge_sequence_number_is_one_gap_reported_as_a_range() {
    let lines = sealed(&[r#"{"n":1}"#.to_string(), r#"{"n":2}"#.to_string()]);
    // Keep the opening record and the two records; then a record claiming seq 2^60 chained onto
    // them, and a closing record after it.
    let mut forged: Vec<String> = lines[..3].to_vec();
    let huge = 1u64 << 60;
    let (line, mac) = forge(Kind::Record, huge, &mac_of(&lines[2]), r#"{"n":3}"#);
    forged.push(line);
    let tally = format!(r#"{{"records":3,"chain":"{}"}}"#, hex(&mac));
    forged.push(forge(Kind::End, huge + 1, &mac, &tally).0);
    let text = forged.join("\n") + "\n";
    let started = std::time::Instant::now();
    let report = verify_lines(text.as_bytes(), &key(), 1 << 20).unwrap();
    assert!(started.elapsed().as_secs() < 5, "bounded by the lines, not by the gap");
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    let f = &report.findings[0];
    assert_eq!((f.line, f.kind, f.expected, f.found), (4, "deleted", Some(3), Some(huge)));
    assert_eq!(f.message, format!("{} records (seq 3 to {}) are missing before this line", huge - 3, huge - 1));
    // Records still counted: the two before the gap and the forged one after it.
    assert_eq!(report.records, 3);

    // At the very end of the numbers: no overflow either.
    let mut forged: Vec<String> = lines[..3].to_vec();
    forged.push(forge(Kind::Record, u64::MAX, &mac_of(&lines[2]), r#"{"n":3}"#).0);
    let report = verify_lines((forged.join("\n") + "\n").as_bytes(), &key(), 1 << 20).unwrap();
    let kinds: Vec<&str> = report.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec!["deleted", "truncated"], "{:?}", report.findings);
}

#[test]
fn a_line_past_the_line_limit_is_reported_with_its_length_and_the_others_still_verify() {
    let long = format!(r#"{{"text":"{}"}}"#, "x".repeat(1000));
    let lines = sealed(&[r#"{"n":1}"#.to_string(), long, r#"{"n":3}"#.to_string()]);
    let length = lines[2].len();
    let text = lines.join("\n") + "\n";
    let report = verify_lines(text.as_bytes(), &key(), 512).unwrap();
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    let f = &report.findings[0];
    assert_eq!((f.line, f.kind, f.expected, f.found), (3, "modified", Some(2), None));
    assert_eq!(
        f.message,
        format!(
            "line 3 is {length} bytes, longer than the line limit of 512 bytes (sigil verify --max-line-bytes): \
             not read, so not verified"
        )
    );
    assert_eq!((report.records, report.lines), (2, 5));
    // Within the limit, the same file verifies.
    assert!(verify_lines(text.as_bytes(), &key(), 1 << 20).unwrap().findings.is_empty());
}
