//! Writes the binary and derived hand seeds of `fuzz/seeds` from the project's own rule pack
//! (never from ../shared): small packs (`pack`), saved correlation and suppression state
//! (`state`), sealed alert files (`seal_verify`) and a minimal EVTX log (`evtx`).
//! Run it again when a format changes: `cargo run -p sigil-fuzz --example make_seeds`.

use serde_json::Value;
use sigil_compiler::yaml::{self, Kind};
use sigil_compiler::{Compiler, Options};
use sigil_engine::{pack, session::Session, Routing};
use sigil_fuzz::targets::seal_verify::KEY_HEX;
use sigil_seal::{SealKey, SealedWriter};
use std::path::Path;

fn main() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = seeds.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };

    // Packs: a few rule files each (one with a correlation), and an empty plan.
    let files = sigil_pack::RULE_FILES;
    for (i, chunk) in files.chunks(files.len().div_ceil(3)).enumerate() {
        let mut compiler = Compiler::new(Options::default());
        for (path, text) in chunk.iter().take(3) {
            compiler.add_file(path, text);
        }
        write("pack", &format!("rules-{i}.pack"), &pack::to_bytes(&compiler.finish().plan));
    }
    let correlated = files.iter().filter(|(_, t)| t.contains("correlation:") || t.contains("suppress:"));
    let mut compiler = Compiler::new(Options::default());
    for (path, text) in correlated.take(2) {
        compiler.add_file(path, text);
    }
    write("pack", "correlations.pack", &pack::to_bytes(&compiler.finish().plan));
    write("pack", "empty.pack", &pack::to_bytes(&Compiler::new(Options::default()).finish().plan));

    // State: the embedded pack's own match events through a session, saved mid-stream.
    let mut session = Session::new(sigil_fuzz::fixtures::embedded_plan().clone(), 10_000).unwrap();
    let mut events = Vec::new();
    let rules_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sigma-rules/rules");
    let sidecars = sigil_tests::files_under(&rules_dir, &["yml"]);
    for path in sidecars.iter().filter(|p| p.to_string_lossy().ends_with(".tests.yml")) {
        let text = std::fs::read_to_string(path).unwrap();
        let Ok(docs) = yaml::parse_documents(&text) else { continue };
        let Some(doc) = docs.first() else { continue };
        let Some(Kind::Seq(cases)) = doc.get("match").map(|n| &n.kind) else { continue };
        for case in cases {
            match &case.kind {
                Kind::Seq(seq) => events.extend(seq.iter().map(|e| e.to_json())),
                _ => events.push(case.to_json()),
            }
        }
    }
    let lines: Vec<String> = events.iter().filter(|e| matches!(e, Value::Object(_))).map(Value::to_string).collect();
    let mut out = Vec::new();
    for (i, chunk) in lines.chunks(lines.len().div_ceil(3).max(1)).enumerate() {
        session.eval_jsonl("events.jsonl", 1, &chunk.join("\n"), &Routing::Auto, &mut out);
        let state = serde_json::to_string(&session.save_state()).unwrap();
        write("state", &format!("saved-{i}.json"), state.as_bytes());
    }
    write("state", "empty.json", br#"{"correlations":[]}"#);

    // Sealed files: alerts sealed with the target's key, one closed, one cut short.
    let key = || SealKey::from_hex(KEY_HEX.as_bytes()).unwrap();
    let alerts: Vec<&[u8]> = out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).take(6).collect();
    let mut writer = SealedWriter::new(Vec::new(), key()).stream_id([7; 16]).checkpoint_every(2);
    for line in &alerts {
        writer.write_record(line).unwrap();
    }
    let sealed = writer.finish().unwrap();
    write("seal_verify", "closed.jsonl", &sealed);
    let mut writer = SealedWriter::new(Vec::new(), key()).stream_id([8; 16]);
    writer.write_record(br#"{"rule":"x"}"#).unwrap();
    writer.flush().unwrap();
    let cut = sealed.split(|&b| b == b'\n').take(3).collect::<Vec<_>>().join(&b'\n');
    write("seal_verify", "cut.jsonl", &cut);

    write("evtx", "empty-chunk.evtx", &minimal_evtx());
    println!("seeds written under {}", seeds.display());
}

/// An EVTX file header and one chunk without records: the smallest log the parser accepts,
/// for the fuzzer to grow records into (real logs come from scripts/fuzz-seed.py).
fn minimal_evtx() -> Vec<u8> {
    let mut file = vec![0u8; 4096 + 65536];
    let h = &mut file[..4096];
    h[..8].copy_from_slice(b"ElfFile\0");
    h[8..16].copy_from_slice(&0u64.to_le_bytes()); // first chunk
    h[16..24].copy_from_slice(&0u64.to_le_bytes()); // last chunk
    h[24..32].copy_from_slice(&1u64.to_le_bytes()); // next record id
    h[32..36].copy_from_slice(&128u32.to_le_bytes()); // header size
    h[36..38].copy_from_slice(&1u16.to_le_bytes()); // minor version
    h[38..40].copy_from_slice(&3u16.to_le_bytes()); // major version
    h[40..42].copy_from_slice(&4096u16.to_le_bytes()); // header block size
    h[42..44].copy_from_slice(&1u16.to_le_bytes()); // chunks
    let crc = crc32(&h[..120]);
    h[124..128].copy_from_slice(&crc.to_le_bytes());
    let c = &mut file[4096..];
    c[..8].copy_from_slice(b"ElfChnk\0");
    c[8..16].copy_from_slice(&1u64.to_le_bytes());
    c[16..24].copy_from_slice(&0u64.to_le_bytes());
    c[24..32].copy_from_slice(&1u64.to_le_bytes());
    c[32..40].copy_from_slice(&0u64.to_le_bytes());
    c[40..44].copy_from_slice(&128u32.to_le_bytes()); // header size
    c[44..48].copy_from_slice(&0u32.to_le_bytes()); // last record offset
    c[48..52].copy_from_slice(&512u32.to_le_bytes()); // free space offset
    c[52..56].copy_from_slice(&crc32(&[]).to_le_bytes()); // records checksum
    let mut covered = c[..120].to_vec();
    covered.extend_from_slice(&c[128..512]);
    let crc = crc32(&covered);
    c[124..128].copy_from_slice(&crc.to_le_bytes());
    file
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
