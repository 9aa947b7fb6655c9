//! OCSF normalisation (`sigil normalize --to ocsf`): JSON Lines of raw events mapped (CloudTrail,
//! Okta, Windows) or passed through, each output line valid JSON.

use sigil_ocsf::{normalize_jsonl, Counts};

pub fn run(data: &[u8]) {
    let Some(text) = crate::text(data) else { return };
    let mut out = Vec::new();
    let mut counts = Counts::default();
    normalize_jsonl(text, 1, &mut out, &mut counts, &mut |_, _| {});
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(line) {
            panic!("normalize wrote a line that is not JSON ({e}): {}", String::from_utf8_lossy(line));
        }
    }
}
