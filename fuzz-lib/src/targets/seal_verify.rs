//! Sealed-file verification (`sigil verify`): any bytes as a sealed file, checked with a fixed
//! key. A file this key sealed must verify clean; anything else must come back as findings.

use sigil_seal::{verify, SealKey};

/// The fixture key (64 hex digits, as `sigil keygen` writes).
pub const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

pub fn run(data: &[u8]) {
    let key = SealKey::from_hex(KEY_HEX.as_bytes()).expect("the fixture key is valid");
    let _ = verify(data, &key);
}
