//! Request bodies read as they stream in, never past a limit: bytes are counted frame by
//! frame (chunked or not), a declared length over the limit is refused before a byte is read
//! (so `Expect: 100-continue` gets no 100), and the whole body must arrive within a deadline.
//! And the answers: JSON bodies, or a stream of alert lines.
//!
//! This module knows nothing of paths or tokens.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

/// Why a body was not read whole.
pub enum BodyError {
    /// Over the limit: declared (`Some`) or found while streaming (`None`).
    TooLarge(Option<u64>),
    /// It had not fully arrived by the deadline.
    TimedOut,
    /// The connection broke or the chunked framing was malformed.
    Broken(String),
}

/// Reads `body` whole, at most `max` bytes, within `deadline`.
pub async fn read_limited(mut body: Incoming, max: usize, deadline: Duration) -> Result<Vec<u8>, BodyError> {
    let hint = body.size_hint();
    if hint.lower() > max as u64 {
        return Err(BodyError::TooLarge(Some(hint.lower())));
    }
    let mut bytes = Vec::with_capacity(hint.lower() as usize);
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Broken(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > max {
                    return Err(BodyError::TooLarge(None));
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(())
    };
    match tokio::time::timeout(deadline, read).await {
        Ok(Ok(())) => Ok(bytes),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(BodyError::TimedOut),
    }
}

/// Reads and drops a small body a refused request came with, so its connection can carry the
/// next request; false when the connection must close instead (a large, unknown or slow body,
/// or one the client waits to send until told to: `Expect: 100-continue`).
pub async fn skip_small(mut body: Incoming, expects_continue: bool, deadline: Duration) -> bool {
    const SKIPPED_AT_MOST: u64 = 64 << 10;
    if body.is_end_stream() {
        return true;
    }
    if expects_continue || body.size_hint().upper().is_none_or(|n| n > SKIPPED_AT_MOST) {
        return false;
    }
    let drain = async {
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(deadline, drain).await.unwrap_or(false)
}

/// An answer's body: bytes known in full, or alert lines as they come.
pub enum Answer {
    Full(Option<Bytes>),
    Stream {
        lines: mpsc::Receiver<Bytes>,
        /// Holds the request as under way while the stream lasts.
        _in_flight: crate::io::InFlight,
    },
}

impl Body for Answer {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Answer::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Answer::Stream { lines, .. } => lines.poll_recv(cx).map(|line| line.map(|l| Ok(Frame::data(l)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Answer::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Answer::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Answer::Full(None) => SizeHint::with_exact(0),
            Answer::Stream { .. } => SizeHint::default(),
        }
    }
}
