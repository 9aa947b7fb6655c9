//! Key files for sealed output: reading one (`--seal`, `sigil verify`) and making one (`sigil
//! keygen`). Sealing and verifying themselves are `sigil_seal`'s; this module only does the
//! file I/O, and never prints key bytes.

pub use sigil_seal::{LineSink, SealKey, DEFAULT_CHECKPOINT_EVERY};

use sigil_seal::{KeyError, MAX_KEY_BYTES, MIN_KEY_BYTES};
use std::io::{self, Write};
use std::path::Path;
use zeroize::Zeroizing;

/// Reads a key file: hex text (64 hex digits from `sigil keygen`, surrounding whitespace
/// ignored). Errors name the file and what is wrong, never its content.
pub fn load_key(path: &Path) -> Result<SealKey, String> {
    let shown = path.display();
    let text = Zeroizing::new(std::fs::read(path).map_err(|e| format!("cannot read the key file {shown}: {e}"))?);
    let key = SealKey::from_hex(&text).map_err(|e| match e {
        KeyError::Empty => format!("the key file {shown} is empty: make a key with `sigil keygen -o {shown}`"),
        KeyError::NotHex => {
            format!("the key file {shown} is not a key: it must hold hex digits only (as `sigil keygen` writes)")
        }
        KeyError::TooShort(n) => format!(
            "the key in {shown} is too short ({n} bytes; at least {MIN_KEY_BYTES} are needed): make one with `sigil keygen`"
        ),
        KeyError::TooLong(n) => {
            format!("the key in {shown} is {n} bytes long (at most {MAX_KEY_BYTES}): is it the right file?")
        }
    })?;
    warn_if_readable_by_others(path);
    Ok(key)
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
        let expected = SealKey::from_hex("7f".repeat(32).as_bytes()).unwrap();
        assert_eq!(load_key(&good).unwrap().id(), expected.id());
    }
}
