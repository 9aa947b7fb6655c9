//! Lines of a byte stream, each held in memory only up to a bound: an over-long line is
//! measured and skipped in chunks, never buffered whole, and reading goes on at the next line.
//!
//! This is how every face that reads JSON Lines from a stream (`sigil hunt`, `edge`,
//! `normalize`, `publish`) keeps one hostile line from taking the memory of the process. It
//! only splits bytes at `\n`; what a line means (an event, a rejected event) is the caller's.
//! Generic over [`std::io::BufRead`], it opens nothing itself.

use std::io::{self, BufRead};

/// The longest line kept by default: 16 MiB. An event line is rarely over 64 KiB, but a
/// CloudTrail file delivered as one `{"Records": [...]}` line can hold thousands of events.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 << 20;

/// What [`read_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRead {
    /// The stream had nothing more.
    End,
    /// A line, in the buffer without its `\n`; `ended` is false for a last line without one.
    Line { ended: bool },
    /// A line of `bytes` bytes (without its `\n`), more than the bound: skipped, and the buffer
    /// left empty.
    TooLong { bytes: u64, ended: bool },
}

/// Reads the next line of `input` into `buf` (cleared first), keeping at most `max` bytes of it.
/// A longer line is read on to its end in the reader's own chunks, so memory stays at `max`
/// plus the reader's buffer whatever the line's length.
pub fn read_line<R: BufRead + ?Sized>(input: &mut R, buf: &mut Vec<u8>, max: usize) -> io::Result<LineRead> {
    buf.clear();
    let mut total = 0u64;
    let mut too_long = false;
    loop {
        let chunk = match input.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(if too_long {
                LineRead::TooLong { bytes: total, ended: false }
            } else if total == 0 {
                LineRead::End
            } else {
                LineRead::Line { ended: false }
            });
        }
        let newline = memchr::memchr(b'\n', chunk);
        let take = newline.unwrap_or(chunk.len());
        if !too_long {
            if buf.len() + take > max {
                too_long = true;
                *buf = Vec::new();
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        total += take as u64;
        input.consume(take + usize::from(newline.is_some()));
        if newline.is_some() {
            return Ok(if too_long {
                LineRead::TooLong { bytes: total, ended: true }
            } else {
                LineRead::Line { ended: true }
            });
        }
    }
}

/// How a line over the bound is reported: which limit, how to change it.
pub fn too_long_reason(bytes: u64, max: usize, flag: &str) -> String {
    format!("the line is {bytes} bytes, more than the line limit of {max} bytes ({flag}): skipped to the next line")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &[u8], max: usize, chunk: usize) -> Vec<(LineRead, Vec<u8>)> {
        let mut input = io::BufReader::with_capacity(chunk, text);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            let got = read_line(&mut input, &mut buf, max).unwrap();
            if got == LineRead::End {
                return out;
            }
            out.push((got, buf.clone()));
        }
    }

    #[test]
    fn lines_within_the_bound_are_kept_and_longer_ones_measured_and_skipped() {
        let text = b"short\n0123456789abcdef\n\nlast";
        for chunk in [1, 3, 8, 64] {
            let got = all(text, 8, chunk);
            assert_eq!(
                got,
                vec![
                    (LineRead::Line { ended: true }, b"short".to_vec()),
                    (LineRead::TooLong { bytes: 16, ended: true }, Vec::new()),
                    (LineRead::Line { ended: true }, Vec::new()),
                    (LineRead::Line { ended: false }, b"last".to_vec()),
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn an_over_long_last_line_without_an_end_is_still_reported() {
        assert_eq!(all(b"ok\nxxxxxxxxxxxx", 4, 4)[1], (LineRead::TooLong { bytes: 12, ended: false }, Vec::new()));
        assert_eq!(all(b"abcd", 4, 2), vec![(LineRead::Line { ended: false }, b"abcd".to_vec())]);
    }

    #[test]
    fn a_huge_line_is_never_buffered() {
        // 64 MiB of one line, produced lazily: the buffer never grows past the bound.
        let huge = io::Read::chain(io::Read::take(io::repeat(b'x'), 64 << 20), &b"\n{}\n"[..]);
        let mut input = io::BufReader::with_capacity(1 << 16, huge);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut input, &mut buf, 1024).unwrap(), LineRead::TooLong { bytes: 64 << 20, ended: true });
        assert!(buf.capacity() <= 1024);
        assert_eq!(read_line(&mut input, &mut buf, 1024).unwrap(), LineRead::Line { ended: true });
        assert_eq!(buf, b"{}");
    }
}
