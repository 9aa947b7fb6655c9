//! Who may do what: bearer tokens, kept as SHA-256 digests and compared in constant time, and
//! the roles each one holds (ingest: `POST /events`, `POST /shutdown`; read: `GET /stats`,
//! `/metrics`, `/alerts`).
//!
//! This module never sees a request body and never prints a token: it turns an
//! `Authorization` header into a verdict.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a request needs its token to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends events and stops the server.
    Ingest,
    /// Reads counts, metrics and the alerts as they are written.
    Read,
}

/// The tokens the server knows, each with its roles. With none at all every client is let in
/// (which [`crate::check_exposure`] allows on loopback only).
#[derive(Default, Clone)]
pub struct Tokens {
    known: Vec<([u8; 32], bool, bool)>,
}

/// What a request's token comes to for the role it needs.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// No token, or one the server does not know: 401.
    Unknown,
    /// A known token without the role: 403.
    WrongRole,
}

impl Tokens {
    /// Adds a token (its [`token_digest`]) holding the given roles.
    pub fn add(&mut self, digest: [u8; 32], ingest: bool, read: bool) {
        self.known.push((digest, ingest, read));
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// Whether some token holds `role` (a role without one is refused to everybody).
    pub fn has(&self, role: Role) -> bool {
        self.known.iter().any(|&(_, ingest, read)| holds(role, ingest, read))
    }

    /// The verdict for an `Authorization` header value (`None` when the header is absent).
    pub fn check(&self, authorization: Option<&[u8]>, role: Role) -> Verdict {
        if self.known.is_empty() {
            return Verdict::Allowed;
        }
        let presented = authorization.and_then(|v| std::str::from_utf8(v).ok()).and_then(bearer_token);
        let Some(presented) = presented else { return Verdict::Unknown };
        let digest: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        // Every known token is compared, so the time taken says nothing of which one matched.
        let mut roles = (false, false, false);
        for (known, ingest, read) in &self.known {
            let same: bool = digest.ct_eq(known).into();
            roles = (roles.0 | same, roles.1 | (same & ingest), roles.2 | (same & read));
        }
        match roles {
            (false, _, _) => Verdict::Unknown,
            (true, ingest, read) if holds(role, ingest, read) => Verdict::Allowed,
            _ => Verdict::WrongRole,
        }
    }
}

fn holds(role: Role, ingest: bool, read: bool) -> bool {
    match role {
        Role::Ingest => ingest,
        Role::Read => read,
    }
}

/// The digest of a bearer token read from `from` (a file name or variable, for messages);
/// tokens shorter than 16 characters are refused.
pub fn token_digest(text: &str, from: &str) -> Result<[u8; 32], String> {
    let token = text.trim();
    if token.chars().count() < 16 {
        return Err(format!(
            "the token in {from} is too short ({} characters; at least 16): `sigil keygen -o FILE` makes a good one",
            token.chars().count()
        ));
    }
    Ok(Sha256::digest(token.as_bytes()).into())
}

/// The token of an `Authorization: Bearer TOKEN` value; the scheme name is case-insensitive
/// (RFC 9110, 11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }

    #[test]
    fn a_token_holds_its_roles_only() {
        let ingest = token_digest("ingest-token-0123456789", "test").unwrap();
        let read = token_digest("read-token-0123456789ab", "test").unwrap();
        let mut tokens = Tokens::default();
        tokens.add(ingest, true, false);
        tokens.add(read, false, true);
        let check = |header: Option<&str>, role| tokens.check(header.map(str::as_bytes), role);
        assert_eq!(check(Some("Bearer ingest-token-0123456789"), Role::Ingest), Verdict::Allowed);
        assert_eq!(check(Some("Bearer ingest-token-0123456789"), Role::Read), Verdict::WrongRole);
        assert_eq!(check(Some("Bearer read-token-0123456789ab"), Role::Read), Verdict::Allowed);
        assert_eq!(check(Some("Bearer read-token-0123456789ab"), Role::Ingest), Verdict::WrongRole);
        assert_eq!(check(Some("Bearer someone-else-0123456789"), Role::Read), Verdict::Unknown);
        assert_eq!(check(None, Role::Read), Verdict::Unknown);
        assert_eq!(Tokens::default().check(None, Role::Ingest), Verdict::Allowed);
    }
}
