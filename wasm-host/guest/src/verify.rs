//! The guest's `verify` (the WIT call, and `sigil_verify` of the C ABI): a sealed file's bytes
//! and the key's text in, what `sigil verify` finds out. The checking is `sigil_seal::verify`'s;
//! this module turns the key's text into a key and words the errors, which never hold the key.
//! It needs no pack and keeps nothing: the key is wiped when the call returns.

use sigil_seal::{KeyError, SealKey, MAX_KEY_BYTES, MIN_KEY_BYTES};

/// What a sealed file came to (the WIT `verify-report` record).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// Lines read, records and checkpoints in place.
    pub lines: u64,
    pub records: u64,
    pub checkpoints: u64,
    /// The key's public id (what `sigil verify` prints), never the key.
    pub key_id: String,
    /// In line order; none when the file verifies.
    pub findings: Vec<Finding>,
}

/// One finding, as `sigil verify --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub line: u64,
    pub expected: Option<u64>,
    pub found: Option<u64>,
    /// modified, inserted, duplicated, deleted, reordered, truncated, spliced or wrong_key.
    pub kind: String,
    pub message: String,
}

/// Checks `sealed` (a whole sealed file) with the key whose hex text (a key file's content,
/// surrounding whitespace allowed) is `key`. A key that is not one is an error naming what is
/// wrong with it, never its text; findings are not errors.
pub fn verify(sealed: &[u8], key: &[u8]) -> Result<Verified, String> {
    crate::guarded(|| {
        let key = SealKey::from_hex(key).map_err(key_error)?;
        let report = sigil_seal::verify(sealed, &key).map_err(|e| format!("cannot read the sealed file: {e}"))?;
        let findings = report
            .findings
            .into_iter()
            .map(|f| Finding {
                line: f.line,
                expected: f.expected,
                found: f.found,
                kind: f.kind.to_string(),
                message: f.message,
            })
            .collect();
        Ok(Verified {
            lines: report.lines,
            records: report.records,
            checkpoints: report.checkpoints,
            key_id: key.id(),
            findings,
        })
    })
}

/// What is wrong with a key's text, in the CLI's words less the key file's name.
fn key_error(e: KeyError) -> String {
    match e {
        KeyError::Empty => "the key is empty: make one with `sigil keygen -o FILE`".into(),
        KeyError::NotHex => "the key is not a key: it must hold hex digits only (as `sigil keygen` writes)".into(),
        KeyError::TooShort(n) => {
            format!(
                "the key is too short ({n} bytes; at least {MIN_KEY_BYTES} are needed): make one with `sigil keygen`"
            )
        }
        KeyError::TooLong(n) => format!("the key is {n} bytes long (at most {MAX_KEY_BYTES}): is it the right key?"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sigil_seal::SealedWriter;

    pub const KEY: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";

    /// Three records sealed with [`KEY`], as lines with their line ends.
    pub fn sealed() -> Vec<u8> {
        let key = SealKey::from_hex(KEY.as_bytes()).unwrap();
        let mut writer = SealedWriter::new(Vec::new(), key).stream_id([7; 16]);
        for n in 0..3 {
            writer.write_record(format!("{{\"n\":{n}}}").as_bytes()).unwrap();
        }
        writer.finish().unwrap()
    }

    #[test]
    fn a_sealed_file_verifies_and_a_modified_record_is_found() {
        let file = sealed();
        let ok = verify(&file, format!("  {KEY}\n").as_bytes()).unwrap();
        assert_eq!((ok.lines, ok.records, ok.checkpoints, ok.findings.len()), (5, 3, 0, 0));
        assert_eq!(ok.key_id, SealKey::from_hex(KEY.as_bytes()).unwrap().id());

        let tampered = String::from_utf8(file).unwrap().replacen(r#"{"n":1}"#, r#"{"n":9}"#, 1);
        let found = verify(tampered.as_bytes(), KEY.as_bytes()).unwrap().findings;
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].line, found[0].expected, found[0].found), (3, Some(2), Some(2)));
        assert_eq!(found[0].kind, "modified");

        let other = "ab".repeat(32);
        assert_eq!(verify(tampered.as_bytes(), other.as_bytes()).unwrap().findings[0].kind, "wrong_key");
    }

    #[test]
    fn a_bad_key_is_an_error_that_never_holds_its_text() {
        for key in ["", "  \n", "0123abcd", "zq-secret-value-zq", &"ab".repeat(1025)] {
            let err = verify(&sealed(), key.as_bytes()).unwrap_err();
            assert!(err.starts_with("the key "), "{err}");
            let key = key.trim();
            assert!(key.is_empty() || !err.contains(&key[..4]), "the key leaked: {err}");
        }
    }
}
