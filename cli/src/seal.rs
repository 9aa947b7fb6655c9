//! Sealed output: JSON Lines whose records form an HMAC-SHA-256 chain, so that a record
//! modified, deleted, inserted or moved, or a tail cut off, is detected by `sigil verify`.
//! The layout is specified in docs/seal-format.md (a third party can verify without Sigil).
//!
//! This module owns the key, the record layout and the writer. It never decides what is
//! sealed (alerts or events come from the caller), and never prints or formats key bytes:
//! a key shows only as its id, a hash of it.

use hmac::{Hmac, Mac};
use serde::de::IgnoredAny;
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use zeroize::Zeroizing;

/// The format name in every file's opening record.
pub const FORMAT: &str = "sigil-seal/1";
/// Content records between two checkpoints, unless the writer is told otherwise.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 1000;
/// A key shorter than HMAC-SHA-256's output would weaken it.
const MIN_KEY_BYTES: usize = 32;
/// Longer than any sensible key: most likely the wrong file was given.
const MAX_KEY_BYTES: usize = 1024;
/// What the first record's `prev` holds: there is no record before it.
pub const GENESIS: [u8; 32] = [0; 32];

type HmacSha256 = Hmac<Sha256>;

/// A secret key for sealing and verifying. Its bytes are wiped when it is dropped and never
/// shown: `Debug` prints only the key id.
#[derive(Clone)]
pub struct SealKey {
    bytes: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealKey {{ id: {}, bytes: <redacted> }}", self.id())
    }
}

impl SealKey {
    /// A new key of 32 bytes from the operating system's random source.
    pub fn generate() -> Result<SealKey, String> {
        let mut bytes = Zeroizing::new(vec![0u8; MIN_KEY_BYTES]);
        getrandom::fill(&mut bytes).map_err(|e| format!("cannot get random bytes for a key: {e}"))?;
        Ok(SealKey { bytes })
    }

    /// The key as the hex text a key file holds. Only `sigil keygen` writes it out.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(&*self.bytes))
    }

    /// A short public name for the key (16 hex digits of a hash of it), so that a file sealed
    /// with another key is recognised as such. It reveals nothing usable about the key.
    pub fn id(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(b"sigil-seal key id\n");
        hash.update(&*self.bytes);
        hex::encode(&hash.finalize()[..8])
    }

    fn hmac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.bytes).expect("HMAC takes a key of any length")
    }

    /// The MAC of one record: over the format name, its kind, sequence number, the previous
    /// record's MAC and its content bytes (docs/seal-format.md, "MAC").
    pub fn mac(&self, kind: Kind, seq: u64, prev: &[u8; 32], content: &[u8]) -> [u8; 32] {
        let mut mac = self.hmac();
        mac_input(&mut mac, kind, seq, prev, content);
        mac.finalize().into_bytes().into()
    }

    /// Whether `claimed` is the MAC of this record, compared in constant time.
    pub fn verify(&self, kind: Kind, seq: u64, prev: &[u8; 32], content: &[u8], claimed: &[u8]) -> bool {
        let mut mac = self.hmac();
        mac_input(&mut mac, kind, seq, prev, content);
        mac.verify_slice(claimed).is_ok()
    }
}

fn mac_input(mac: &mut HmacSha256, kind: Kind, seq: u64, prev: &[u8; 32], content: &[u8]) {
    // Newline-separated: none of the fields before the content can hold a newline, so the
    // input reads back one way only.
    mac.update(format!("{FORMAT}\n{}\n{seq}\n{}\n", kind.as_str(), hex::encode(prev)).as_bytes());
    mac.update(content);
}

/// Reads a key file: hex text (64 hex digits from `sigil keygen`, surrounding whitespace
/// ignored). Errors name the file and what is wrong, never its content.
pub fn load_key(path: &Path) -> Result<SealKey, String> {
    let shown = path.display();
    let text = Zeroizing::new(std::fs::read(path).map_err(|e| format!("cannot read the key file {shown}: {e}"))?);
    let hex_text = text.trim_ascii();
    if hex_text.is_empty() {
        return Err(format!("the key file {shown} is empty: make a key with `sigil keygen -o {shown}`"));
    }
    let bytes = Zeroizing::new(hex::decode(hex_text).map_err(|_| {
        format!("the key file {shown} is not a key: it must hold hex digits only (as `sigil keygen` writes)")
    })?);
    if bytes.len() < MIN_KEY_BYTES {
        return Err(format!(
            "the key in {shown} is too short ({} bytes; at least {MIN_KEY_BYTES} are needed): make one with `sigil keygen`",
            bytes.len()
        ));
    }
    if bytes.len() > MAX_KEY_BYTES {
        return Err(format!(
            "the key in {shown} is {} bytes long (at most {MAX_KEY_BYTES}): is it the right file?",
            bytes.len()
        ));
    }
    warn_if_readable_by_others(path);
    Ok(SealKey { bytes })
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "sigil: warning: the key file {} can be read by other users (mode {mode:04o}): chmod 600 it",
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The first record (seq 0): the format, key id and stream id.
    Open,
    /// One sealed JSON value.
    Record,
    /// Every N records: the count so far and the chain head, for anchoring elsewhere.
    Checkpoint,
    /// The last record of a file closed cleanly: without it the tail was cut.
    End,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Open => "open",
            Kind::Record => "record",
            Kind::Checkpoint => "checkpoint",
            Kind::End => "end",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        [Kind::Open, Kind::Record, Kind::Checkpoint, Kind::End].into_iter().find(|k| k.as_str() == text)
    }
}

/// Writes JSON values as sealed records: an opening record first, a checkpoint every N
/// records, and a closing record on [`SealedWriter::finish`]. A writer dropped without
/// `finish` leaves a file that verifies as truncated, which is what it is.
pub struct SealedWriter<W: Write> {
    inner: W,
    key: SealKey,
    checkpoint_every: u64,
    next_seq: u64,
    prev: [u8; 32],
    /// Content records written (checkpoints and the open record excluded).
    records: u64,
    /// A write failed part-way: the chain on disk no longer matches ours.
    broken: bool,
    line: Vec<u8>,
}

impl<W: Write> SealedWriter<W> {
    pub fn new(inner: W, key: SealKey) -> Self {
        SealedWriter {
            inner,
            key,
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
            next_seq: 0,
            prev: GENESIS,
            records: 0,
            broken: false,
            line: Vec::with_capacity(1024),
        }
    }

    /// Content records between checkpoints (at least 1).
    pub fn checkpoint_every(mut self, n: u64) -> Self {
        self.checkpoint_every = n.max(1);
        self
    }

    /// Seals one JSON value (`json_line`, without its newline; whitespace around it is
    /// ignored, as a reader of the line would not see it as part of `content`). Anything but a
    /// single JSON value on one line is refused, as it would break the line layout.
    pub fn write_record(&mut self, json_line: &[u8]) -> io::Result<()> {
        let content = json_line.trim_ascii();
        if content.contains(&b'\n') || content.contains(&b'\r') {
            return Err(invalid_input("a sealed record must be one line: this one holds a line break"));
        }
        if let Err(e) = serde_json::from_slice::<IgnoredAny>(content) {
            return Err(invalid_input(&format!("a sealed record must be one JSON value: {e}")));
        }
        self.open_if_needed()?;
        self.append(Kind::Record, content)?;
        self.records += 1;
        if self.records.is_multiple_of(self.checkpoint_every) {
            let content = self.tally();
            self.append(Kind::Checkpoint, content.as_bytes())?;
        }
        Ok(())
    }

    /// Flushes what has been sealed to the inner writer's destination.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    /// Writes the closing record (marking a clean end), flushes, and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.open_if_needed()?;
        let content = self.tally();
        self.append(Kind::End, content.as_bytes())?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn open_if_needed(&mut self) -> io::Result<()> {
        if self.next_seq > 0 {
            return Ok(());
        }
        let mut stream = [0u8; 16];
        getrandom::fill(&mut stream).map_err(|e| io::Error::other(format!("no random stream id: {e}")))?;
        let content = serde_json::json!({
            "format": FORMAT,
            "key_id": self.key.id(),
            "stream": hex::encode(stream),
            "checkpoint_every": self.checkpoint_every,
        });
        self.append(Kind::Open, content.to_string().as_bytes())
    }

    /// The content of checkpoint and closing records.
    fn tally(&self) -> String {
        format!(r#"{{"records":{},"chain":"{}"}}"#, self.records, hex::encode(self.prev))
    }

    fn append(&mut self, kind: Kind, content: &[u8]) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other("an earlier write of this sealed output failed: it cannot go on"));
        }
        let seq = self.next_seq;
        let mac = self.key.mac(kind, seq, &self.prev, content);
        self.line.clear();
        self.line.extend_from_slice(
            format!(
                r#"{{"seal":"{}","seq":{seq},"prev":"{}","mac":"{}","content":"#,
                kind.as_str(),
                hex::encode(self.prev),
                hex::encode(mac)
            )
            .as_bytes(),
        );
        self.line.extend_from_slice(content);
        self.line.extend_from_slice(b"}\n");
        if let Err(e) = self.inner.write_all(&self.line) {
            self.broken = true;
            return Err(e);
        }
        self.next_seq += 1;
        self.prev = mac;
        Ok(())
    }
}

fn invalid_input(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.to_string())
}

/// Alert output as `hunt` and `serve` write it: passed through, or sealed line by line.
pub enum LineSink<W: Write> {
    Plain(W),
    Sealed(SealedWriter<W>),
}

impl<W: Write> LineSink<W> {
    pub fn new(inner: W, seal: Option<(SealKey, u64)>) -> Self {
        match seal {
            Some((key, every)) => LineSink::Sealed(SealedWriter::new(inner, key).checkpoint_every(every)),
            None => LineSink::Plain(inner),
        }
    }

    /// Writes complete JSON Lines (each ending in a newline); sealed, each line is a record.
    pub fn write_lines(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            LineSink::Plain(out) => out.write_all(bytes),
            LineSink::Sealed(sealed) => {
                bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).try_for_each(|l| sealed.write_record(l))
            }
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            LineSink::Plain(out) => out.flush(),
            LineSink::Sealed(sealed) => sealed.flush(),
        }
    }

    /// Ends the output (the closing record, when sealed) and flushes it.
    pub fn finish(self) -> io::Result<W> {
        match self {
            LineSink::Plain(mut out) => out.flush().map(|_| out),
            LineSink::Sealed(sealed) => sealed.finish(),
        }
    }
}

/// `sigil keygen -o FILE`: a new key, written readable by its owner only; an existing file is
/// never overwritten.
pub fn keygen(path: &Path) -> Result<std::process::ExitCode, String> {
    let key = SealKey::generate()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => {
            format!("{} exists already: a key is never overwritten; choose another file name", path.display())
        }
        _ => format!("cannot create the key file {}: {e}", path.display()),
    })?;
    let mut text = key.to_hex();
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| format!("cannot write the key file {}: {e}", path.display()))?;
    eprintln!(
        "sigil: wrote a new key to {} (key id {}): keep it secret, whoever holds it can forge sealed records",
        path.display(),
        key.id()
    );
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SealKey {
        SealKey { bytes: Zeroizing::new(vec![byte; 32]) }
    }

    #[test]
    fn debug_shows_the_key_id_and_never_the_bytes() {
        let shown = format!("{:?}", key(0xab));
        assert!(shown.contains(&key(0xab).id()), "{shown}");
        assert!(!shown.contains("abab") && !shown.contains("171"), "{shown}");
    }

    #[test]
    fn records_chain_and_end_with_a_closing_record() {
        let mut writer = SealedWriter::new(Vec::new(), key(1)).checkpoint_every(2);
        for n in 0..3 {
            writer.write_record(format!(r#"{{"n":{n}}}"#).as_bytes()).unwrap();
        }
        let text = String::from_utf8(writer.finish().unwrap()).unwrap();
        let kinds: Vec<&str> =
            text.lines().map(|l| l.split('"').nth(3).expect("the kind is the first field's value")).collect();
        assert_eq!(kinds, ["open", "record", "record", "checkpoint", "record", "end"]);
        let mut prev = GENESIS;
        for (seq, line) in text.lines().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["seq"], seq as u64);
            assert_eq!(v["prev"], hex::encode(prev));
            let content = &line[line.find(r#","content":"#).unwrap() + 11..line.len() - 1];
            let kind = Kind::parse(v["seal"].as_str().unwrap()).unwrap();
            prev = key(1).mac(kind, seq as u64, &prev, content.as_bytes());
            assert_eq!(v["mac"], hex::encode(prev));
        }
        assert!(text.contains(r#","content":{"n":2}}"#), "content is kept byte for byte");
    }

    #[test]
    fn refuses_what_is_not_one_json_value_on_one_line() {
        let mut writer = SealedWriter::new(Vec::new(), key(1));
        assert!(writer.write_record(b"{\"a\":\n1}").is_err());
        assert!(writer.write_record(b"{\"a\":").is_err());
        assert!(writer.write_record(b"").is_err());
        assert!(writer.write_record(b"{\"a\":1}\n").is_ok(), "a trailing newline is tolerated");
    }

    #[test]
    fn a_value_with_whitespace_around_it_is_sealed_so_that_it_verifies() {
        let mut writer = SealedWriter::new(Vec::new(), key(1));
        writer.write_record(b"  {\"a\":1}\t\r\n").unwrap();
        let file = writer.finish().unwrap();
        let report = crate::verify::verify(&file[..], &key(1)).unwrap();
        let findings: Vec<_> = report.findings.iter().map(|f| &f.message).collect();
        assert!(findings.is_empty(), "{findings:?}\n{}", String::from_utf8_lossy(&file));
        assert_eq!(report.records, 1);
    }

    #[test]
    fn a_key_file_that_is_short_or_not_hex_is_refused_without_showing_it() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short.key");
        std::fs::write(&short, "00112233").unwrap();
        let err = load_key(&short).unwrap_err();
        assert!(err.contains("short.key") && err.contains("too short") && !err.contains("00112233"), "{err}");
        let words = dir.path().join("words.key");
        std::fs::write(&words, "correct horse battery staple").unwrap();
        let err = load_key(&words).unwrap_err();
        assert!(err.contains("hex") && !err.contains("horse"), "{err}");
        let good = dir.path().join("good.key");
        std::fs::write(&good, format!("{}\n", "7f".repeat(32))).unwrap();
        assert_eq!(load_key(&good).unwrap().id(), key(0x7f).id());
    }
}
