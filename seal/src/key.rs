//! [`SealKey`]: the secret that seals and verifies, and the MAC of one record. Its bytes are
//! wiped when dropped and never shown: a key appears only as its id, a hash of it. Reading a
//! key file is the caller's job; [`SealKey::from_hex`] takes the file's text.

use crate::{Kind, FORMAT};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::Zeroizing;

/// A key shorter than HMAC-SHA-256's output would weaken it.
pub const MIN_KEY_BYTES: usize = 32;
/// Longer than any sensible key: most likely the wrong file was given.
pub const MAX_KEY_BYTES: usize = 1024;

type HmacSha256 = Hmac<Sha256>;

/// Why a key's text is not a key. It never holds the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Nothing but whitespace.
    Empty,
    /// Something other than hex digits.
    NotHex,
    /// Fewer than [`MIN_KEY_BYTES`] bytes (the number found).
    TooShort(usize),
    /// More than [`MAX_KEY_BYTES`] bytes (the number found).
    TooLong(usize),
}

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
    /// A key from the hex text a key file holds (64 hex digits from `sigil keygen`;
    /// surrounding whitespace ignored).
    pub fn from_hex(text: &[u8]) -> Result<SealKey, KeyError> {
        let hex_text = text.trim_ascii();
        if hex_text.is_empty() {
            return Err(KeyError::Empty);
        }
        let bytes = Zeroizing::new(hex::decode(hex_text).map_err(|_| KeyError::NotHex)?);
        match bytes.len() {
            n if n < MIN_KEY_BYTES => Err(KeyError::TooShort(n)),
            n if n > MAX_KEY_BYTES => Err(KeyError::TooLong(n)),
            _ => Ok(SealKey { bytes }),
        }
    }

    /// A new key of 32 bytes from the operating system's random source.
    #[cfg(feature = "os-rng")]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_key_id_and_never_the_bytes() {
        let key = SealKey::from_hex("ab".repeat(32).as_bytes()).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.id()), "{shown}");
        assert!(!shown.contains("abab") && !shown.contains("171"), "{shown}");
    }

    #[test]
    fn key_text_that_is_empty_short_long_or_not_hex_is_refused() {
        assert_eq!(SealKey::from_hex(b" \n").unwrap_err(), KeyError::Empty);
        assert_eq!(SealKey::from_hex(b"00112233").unwrap_err(), KeyError::TooShort(4));
        assert_eq!(SealKey::from_hex("00".repeat(1025).as_bytes()).unwrap_err(), KeyError::TooLong(1025));
        assert_eq!(SealKey::from_hex(b"correct horse battery staple").unwrap_err(), KeyError::NotHex);
        let key = SealKey::from_hex(format!("  {}\n", "7f".repeat(32)).as_bytes()).unwrap();
        assert_eq!(key.id(), SealKey::from_hex("7f".repeat(32).as_bytes()).unwrap().id());
    }
}
