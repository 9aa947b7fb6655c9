//! The compiled-rule cache: a compiled plan and its diagnostics, stored under a key that hashes
//! everything that changes compilation (each rule file's path and contents in order, placeholder
//! values, pipelines, the rule selection, the Sigil build and `PLAN_FORMAT_VERSION`), so a rerun of
//! `hunt --rules` over an unchanged tree skips the YAML compile.
//!
//! An entry is trusted only when its magic, format, key, length and SHA-256 of the body agree and
//! the decoded plan passes `Plan::check`; anything else is ignored and rebuilt. Writes go to a
//! temporary file in the cache directory, are synced and renamed over the entry, so a reader never
//! sees a partial one and several processes may write at once. The directory is pruned on write to
//! the newest [`MAX_ENTRIES`] entries within [`MAX_TOTAL_BYTES`].
//!
//! This module never compiles rules nor prints what it loaded: `hunt_rules` does both.

use crate::RuleArgs;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sigil_compiler::select::Selection;
use sigil_compiler::{Diagnostic, RuleFile};
use sigil_engine::Plan;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// `SIGIL_CACHE_DIR` overrides where entries live (tests use it).
pub const CACHE_DIR_ENV: &str = "SIGIL_CACHE_DIR";
/// Entries kept after a write; the oldest (least recently used) go first.
pub const MAX_ENTRIES: usize = 8;
/// Bytes kept after a write, over all entries; also the largest entry ever read.
pub const MAX_TOTAL_BYTES: u64 = 512 << 20;

const MAGIC: &[u8; 8] = b"SIGILRC\0";
/// The layout of an entry below; bump it when the layout or the metadata changes.
const ENTRY_FORMAT: u32 = 1;
const SUFFIX: &str = "sigilcache";
const TEMP_PREFIX: &str = ".tmp-";
/// A temporary file older than this was left by a process that died mid-write.
const STALE_TEMP: Duration = Duration::from_secs(600);
/// magic, format, key, body length, body checksum.
const HEADER_LEN: usize = 8 + 4 + 32 + 8 + 32;

/// What a compilation produced that a run needs again: the plan, the rejected rules (reported
/// on every run, a cache hit included) and the counts of the rules the selection left out.
pub struct Compiled {
    pub plan: Plan,
    pub diagnostics: Vec<Diagnostic>,
    pub left_out: usize,
    pub silenced: usize,
}

/// The hash of everything that changes compilation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl Key {
    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Where entries live: `$SIGIL_CACHE_DIR`, else `$XDG_CACHE_HOME/sigil`, else
/// `$HOME/.cache/sigil`; `None` when none is set (no cache then).
pub fn directory() -> Option<PathBuf> {
    let from_env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    from_env(CACHE_DIR_ENV)
        .or_else(|| from_env("XDG_CACHE_HOME").map(|d| d.join("sigil")))
        .or_else(|| from_env("HOME").map(|d| d.join(".cache").join("sigil")))
}

/// The key of compiling `files` (as `rules::read` read them) with `rule_args` and `selection`,
/// or `None` when a placeholder file or pipeline cannot be read (compiling then reports why).
pub fn key(files: &[RuleFile], rule_args: &RuleArgs, selection: &Selection) -> Option<Key> {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(b"sigil rule cache");
    field(env!("CARGO_PKG_VERSION").as_bytes());
    field(&sigil_engine::plan::PLAN_FORMAT_VERSION.to_le_bytes());
    // A rebuilt binary may compile differently under the same version number.
    field(build_identity().as_bytes());
    field(b"rules");
    for file in files {
        field(file.name.as_bytes());
        // A file that is not UTF-8 compiles to the same diagnostic whatever its bytes.
        match &file.text {
            Ok(text) => field(text.as_bytes()),
            Err(reason) => field(reason.as_bytes()),
        }
    }
    field(b"placeholders");
    for arg in &rule_args.placeholders {
        field(arg.as_bytes());
    }
    for file in &rule_args.placeholder_files {
        field(file.as_os_str().as_encoded_bytes());
        field(&std::fs::read(file).ok()?);
    }
    field(b"pipelines");
    for arg in &rule_args.pipelines {
        field(arg.as_bytes());
        match sigil_compiler::pipeline::BUILTIN.iter().find(|(name, _)| name == arg) {
            Some((_, text)) => field(text.as_bytes()),
            None => field(&std::fs::read(arg).ok()?),
        }
    }
    // Selection holds only vectors and numbers: its Debug text is deterministic.
    field(format!("{selection:?}").as_bytes());
    Some(Key(h.finalize().into()))
}

/// The running binary's size and modification time: cheap, and changes on every rebuild.
fn build_identity() -> String {
    let meta = std::env::current_exe().and_then(std::fs::metadata);
    match meta {
        Ok(m) => {
            let modified = m.modified().ok().and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok());
            format!("{} {:?}", m.len(), modified)
        }
        Err(_) => String::new(),
    }
}

fn entry_path(dir: &Path, key: &Key) -> PathBuf {
    dir.join(format!("{}.{SUFFIX}", key.hex()))
}

/// What an entry stores beside the plan.
#[derive(Serialize, Deserialize)]
struct Meta {
    diagnostics: Vec<Diagnostic>,
    left_out: usize,
    silenced: usize,
}

/// Why an existing entry was not used.
pub enum Miss {
    /// No entry for this key.
    Absent,
    /// An entry exists but is damaged or foreign: it is rebuilt.
    Damaged(String),
}

/// The entry for `key`, when one exists and is sound.
pub fn load(dir: &Path, key: &Key) -> Result<Compiled, Miss> {
    let path = entry_path(dir, key);
    let len = match std::fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(_) => return Err(Miss::Absent),
    };
    if len > MAX_TOTAL_BYTES {
        return Err(Miss::Damaged(format!("{len} bytes, over the cache's bound")));
    }
    let bytes = std::fs::read(&path).map_err(|_| Miss::Absent)?;
    let compiled = decode(&bytes, key).map_err(Miss::Damaged)?;
    // Recently used entries survive pruning: the modification time is the last use.
    if let Ok(file) = std::fs::File::options().append(true).open(&path) {
        let _ = file.set_modified(SystemTime::now());
    }
    Ok(compiled)
}

fn decode(bytes: &[u8], key: &Key) -> Result<Compiled, String> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err("not a Sigil cache entry".into());
    }
    let format = u32::from_le_bytes(bytes[8..12].try_into().expect("four bytes"));
    if format != ENTRY_FORMAT {
        return Err(format!("entry format {format}, this Sigil writes {ENTRY_FORMAT}"));
    }
    if bytes[12..44] != key.0 {
        return Err("the entry is for other rules".into());
    }
    let body_len = u64::from_le_bytes(bytes[44..52].try_into().expect("eight bytes"));
    let body = &bytes[HEADER_LEN..];
    if body.len() as u64 != body_len {
        return Err(format!("truncated: {} of {body_len} bytes", body.len()));
    }
    if Sha256::digest(body).as_slice() != &bytes[52..84] {
        return Err("checksum mismatch".into());
    }
    let meta_len = body.get(..4).map(|b| u32::from_le_bytes(b.try_into().expect("four bytes")) as usize);
    let (meta, pack) = match meta_len {
        Some(n) if n <= body.len() - 4 => (&body[4..4 + n], &body[4 + n..]),
        _ => return Err("bad metadata length".into()),
    };
    let meta: Meta = serde_json::from_slice(meta).map_err(|e| format!("bad metadata: {e}"))?;
    let plan = sigil_engine::pack::from_bytes(pack).map_err(|e| e.to_string())?;
    plan.check()?;
    Ok(Compiled { plan, diagnostics: meta.diagnostics, left_out: meta.left_out, silenced: meta.silenced })
}

fn encode(compiled: &Compiled, key: &Key) -> Vec<u8> {
    let meta =
        Meta { diagnostics: compiled.diagnostics.clone(), left_out: compiled.left_out, silenced: compiled.silenced };
    let meta = serde_json::to_vec(&meta).expect("the metadata always serializes");
    let pack = sigil_engine::pack::to_bytes(&compiled.plan);
    let mut body = Vec::with_capacity(4 + meta.len() + pack.len());
    body.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    body.extend_from_slice(&meta);
    body.extend_from_slice(&pack);
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&ENTRY_FORMAT.to_le_bytes());
    out.extend_from_slice(&key.0);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&body));
    out.extend_from_slice(&body);
    out
}

/// Writes the entry for `key` atomically, then prunes the directory.
pub fn store(dir: &Path, key: &Key, compiled: &Compiled) -> Result<(), String> {
    let bytes = encode(compiled, key);
    if bytes.len() as u64 > MAX_TOTAL_BYTES {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let temp = dir.join(format!("{TEMP_PREFIX}{}-{}", std::process::id(), unique_suffix()));
    let written = (|| {
        let mut file = std::fs::File::options().write(true).create_new(true).open(&temp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, entry_path(dir, key))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(format!("cannot write to {}: {e}", dir.display()));
    }
    // The rename is durable once the directory is synced; a failure here only risks a rebuild.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    prune(dir);
    Ok(())
}

/// A name part no other process or thread picks at the same time (the pid comes beside it).
fn unique_suffix() -> String {
    use std::hash::{BuildHasher, RandomState};
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{nanos:x}-{:x}", RandomState::new().hash_one(nanos))
}

/// Keeps the newest entries within the bounds; removes stale temporary files. Best effort:
/// another process may be pruning at the same time.
fn prune(dir: &Path) {
    let Ok(read) = std::fs::read_dir(dir) else { return };
    let now = SystemTime::now();
    let mut entries = Vec::new();
    for entry in read.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(meta) = entry.metadata() else { continue };
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if name.starts_with(TEMP_PREFIX) {
            if now.duration_since(modified).is_ok_and(|age| age > STALE_TEMP) {
                let _ = std::fs::remove_file(entry.path());
            }
        } else if name.ends_with(SUFFIX) && meta.is_file() {
            entries.push((modified, meta.len(), entry.path()));
        }
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut total = 0u64;
    for (kept, (_, len, path)) in entries.into_iter().enumerate() {
        total = total.saturating_add(len);
        if kept >= MAX_ENTRIES || total > MAX_TOTAL_BYTES {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled() -> Compiled {
        let rule = "title: t\nlogsource: {product: windows}\ndetection:\n  s: {Image|endswith: '\\\\cmd.exe'}\n  condition: s\n";
        let mut c = sigil_compiler::Compiler::new(sigil_compiler::Options::default());
        c.add_file("a.yml", rule);
        c.add_file("b.yml", "title: broken\n");
        let out = c.finish();
        Compiled { plan: out.plan, diagnostics: out.diagnostics, left_out: 0, silenced: 0 }
    }

    #[test]
    fn an_entry_round_trips_with_its_diagnostics() {
        let key = Key([7; 32]);
        let c = compiled();
        let back = decode(&encode(&c, &key), &key).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.plan.rules.len(), 1);
        assert_eq!(back.diagnostics, c.diagnostics);
        assert_eq!(back.diagnostics.len(), 1);
    }

    #[test]
    fn every_damage_is_refused() {
        let key = Key([7; 32]);
        let bytes = encode(&compiled(), &key);
        assert!(decode(&bytes, &Key([8; 32])).is_err(), "another key");
        for cut in [0, 7, HEADER_LEN - 1, HEADER_LEN, bytes.len() - 1] {
            assert!(decode(&bytes[..cut], &key).is_err(), "truncated at {cut}");
        }
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x20;
            assert!(decode(&flipped, &key).is_err(), "byte {i} flipped");
        }
    }

    #[test]
    fn pruning_keeps_the_newest_entries() {
        let dir = tempfile::tempdir().unwrap();
        let c = compiled();
        for i in 0..MAX_ENTRIES + 3 {
            store(dir.path(), &Key([i as u8; 32]), &c).unwrap();
            let path = entry_path(dir.path(), &Key([i as u8; 32]));
            let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + i as u64);
            std::fs::File::options().append(true).open(path).unwrap().set_modified(when).unwrap();
        }
        store(dir.path(), &Key([200; 32]), &c).unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.path()).collect();
        assert_eq!(left.len(), MAX_ENTRIES, "{left:?}");
        assert!(entry_path(dir.path(), &Key([200; 32])).exists());
        assert!(!entry_path(dir.path(), &Key([0; 32])).exists(), "the oldest goes first");
        assert!(load(dir.path(), &Key([MAX_ENTRIES as u8 + 2; 32])).is_ok());
    }
}
