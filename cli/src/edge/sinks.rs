//! Where `sigil edge` writes: the forwarded stream (standard output, zstd-compressed with
//! `--compress zstd`) and the alerts (`--alerts FILE`, else standard error), each sealed record
//! by record with `--seal` (`crate::seal`; sealing happens before compression, so `zstd -d`
//! gives a file `sigil verify` reads). This module writes what it is given; it never decides
//! what is forwarded.

use crate::seal::{self, LineSink};
use std::fs::File;
use std::io::{self, BufWriter, Stdout, Write};
use std::path::Path;

/// Standard output, counting the bytes that reach it (after compression).
pub struct Counted {
    inner: BufWriter<Stdout>,
    written: u64,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The forwarded stream, compressed or not.
pub enum Stream {
    Plain(Counted),
    Zstd(zstd::stream::write::Encoder<'static, Counted>),
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(w) => w.write(buf),
            Stream::Zstd(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(w) => w.flush(),
            Stream::Zstd(w) => w.flush(),
        }
    }
}

impl Stream {
    /// Ends the stream (the zstd frame's end) and returns the bytes written to standard output.
    fn finish(self) -> io::Result<u64> {
        let mut out = match self {
            Stream::Plain(w) => w,
            Stream::Zstd(w) => w.finish()?,
        };
        out.flush()?;
        Ok(out.written)
    }
}

/// The two outputs.
pub struct Sinks {
    forwarded: LineSink<Stream>,
    alerts: LineSink<Box<dyn Write + Send>>,
}

/// zstd's default level: fast enough for a stream, most of the gain of higher levels.
const ZSTD_LEVEL: i32 = 3;

impl Sinks {
    pub fn open(compress: bool, alerts: Option<&Path>, seal: Option<(&Path, u64)>) -> Result<Sinks, String> {
        let stdout = Counted { inner: BufWriter::with_capacity(1 << 16, io::stdout()), written: 0 };
        let stream = if compress {
            let encoder = zstd::stream::write::Encoder::new(stdout, ZSTD_LEVEL)
                .map_err(|e| format!("cannot start zstd compression: {e}"))?;
            Stream::Zstd(encoder)
        } else {
            Stream::Plain(stdout)
        };
        let alert_out: Box<dyn Write + Send> = match alerts {
            Some(path) => Box::new(BufWriter::new(
                File::create(path).map_err(|e| format!("cannot write the alerts to {}: {e}", path.display()))?,
            )),
            None => Box::new(io::stderr()),
        };
        // Each output is its own chain, sealed with the same key.
        let key = seal.map(|(path, every)| seal::load_key(path).map(|k| (k, every))).transpose()?;
        Ok(Sinks { forwarded: LineSink::new(stream, key.clone()), alerts: LineSink::new(alert_out, key) })
    }

    /// Writes a batch's forwarded lines and alerts, and flushes both (the stream reaches its
    /// reader without waiting for more input).
    pub fn write(&mut self, forwarded: &[u8], alerts: &[u8]) -> Result<(), String> {
        self.alerts
            .write_lines(alerts)
            .and_then(|_| self.alerts.flush())
            .map_err(|e| format!("cannot write the alerts: {e}"))?;
        self.forwarded
            .write_lines(forwarded)
            .and_then(|_| self.forwarded.flush())
            .map_err(|e| format!("cannot write the output: {e}"))
    }

    /// Ends both outputs (closing seal records, the zstd frame); returns the bytes written to
    /// standard output.
    pub fn finish(self) -> Result<u64, String> {
        self.alerts.finish().map_err(|e| format!("cannot write the alerts: {e}"))?;
        let stream = self.forwarded.finish().map_err(|e| format!("cannot write the output: {e}"))?;
        stream.finish().map_err(|e| format!("cannot write the output: {e}"))
    }
}
