//! Sealing: JSON values in, sealed record lines out ([`SealedWriter`]), and [`LineSink`], the
//! alert output `hunt`, `edge` and `serve` write through, sealed or not. Writes to any
//! `io::Write` the caller gives (a file, a socket, a `Vec<u8>`); opens nothing itself. Never
//! decides what is sealed.

use crate::{Kind, SealKey, DEFAULT_CHECKPOINT_EVERY, FORMAT, GENESIS};
use serde::de::IgnoredAny;
use std::io::{self, Write};

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
    /// The stream id of the opening record; random when not given.
    stream: Option<[u8; 16]>,
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
            stream: None,
        }
    }

    /// The stream id the opening record names (by default 16 random bytes from the operating
    /// system): a host without a random source, or a test, gives its own.
    pub fn stream_id(mut self, stream: [u8; 16]) -> Self {
        self.stream = Some(stream);
        self
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
        let stream = match self.stream {
            Some(stream) => stream,
            None => random_stream()?,
        };
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

#[cfg(feature = "os-rng")]
fn random_stream() -> io::Result<[u8; 16]> {
    let mut stream = [0u8; 16];
    getrandom::fill(&mut stream).map_err(|e| io::Error::other(format!("no random stream id: {e}")))?;
    Ok(stream)
}

#[cfg(not(feature = "os-rng"))]
fn random_stream() -> io::Result<[u8; 16]> {
    Err(io::Error::other("no random source in this build: give the sealed writer a stream id"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;

    fn key(byte: u8) -> SealKey {
        SealKey::from_hex(hex::encode([byte; 32]).as_bytes()).unwrap()
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
        let report = crate::verify(&file[..], &key(1)).unwrap();
        let findings: Vec<_> = report.findings.iter().map(|f| &f.message).collect();
        assert!(findings.is_empty(), "{findings:?}\n{}", String::from_utf8_lossy(&file));
        assert_eq!(report.records, 1);
    }
}
