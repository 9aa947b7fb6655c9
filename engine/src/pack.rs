//! The compiled pack: a [`Plan`] as versioned bytes, so that a gateway, a Wasm host or a browser
//! loads rules without parsing any YAML.
//!
//! Layout: the 8-byte magic `SIGILPK\0`, the plan format version (u32, little endian), then the
//! plan in postcard. A pack of another version is refused with a message that says what to do.
//! This module only converts bytes; reading and writing files is the caller's business.

use crate::plan::{Plan, PLAN_FORMAT_VERSION};

const MAGIC: &[u8; 8] = b"SIGILPK\0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackError {
    NotAPack,
    Version { found: u32, expected: u32 },
    Corrupt(String),
}

impl std::fmt::Display for PackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PackError::NotAPack => write!(f, "not a Sigil compiled pack (make one with `sigil compile RULES -o PACK`)"),
            PackError::Version { found, expected } => write!(
                f,
                "this pack was compiled with plan format {found}, but this Sigil reads format {expected}: compile the rules again with this version (`sigil compile RULES -o PACK`)"
            ),
            PackError::Corrupt(why) => write!(f, "the pack is damaged ({why}): compile it again"),
        }
    }
}

impl std::error::Error for PackError {}

/// Serializes a plan into pack bytes.
pub fn to_bytes(plan: &Plan) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&plan.format_version.to_le_bytes());
    postcard::to_extend(plan, out).expect("a plan always serializes")
}

/// Reads pack bytes back into a plan, refusing other versions.
pub fn from_bytes(bytes: &[u8]) -> Result<Plan, PackError> {
    let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or(PackError::NotAPack)?;
    if rest.len() < 4 {
        return Err(PackError::Corrupt("truncated header".into()));
    }
    let found = u32::from_le_bytes(rest[..4].try_into().expect("four bytes"));
    if found != PLAN_FORMAT_VERSION {
        return Err(PackError::Version { found, expected: PLAN_FORMAT_VERSION });
    }
    postcard::from_bytes(&rest[4..]).map_err(|e| PackError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{CompiledRule, LogSource, Node, Predicate, RuleInfo, StrPattern, Target, Test, Token};

    fn plan() -> Plan {
        Plan {
            format_version: PLAN_FORMAT_VERSION,
            predicates: vec![Predicate {
                target: Target::Field("eventName".into()),
                test: Test::Str(StrPattern { tokens: vec![Token::Lit("stoplogging".into())], cased: false }),
            }],
            nodes: vec![Node::Pred(0)],
            rules: vec![CompiledRule {
                info: RuleInfo { id: "x".into(), title: "t".into(), ..RuleInfo::default() },
                logsource: LogSource::default(),
                root: 0,
                alert: true,
            }],
            correlations: Vec::new(),
            silences: Vec::new(),
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let bytes = to_bytes(&plan());
        assert_eq!(from_bytes(&bytes).unwrap(), plan());
        assert_eq!(from_bytes(b"{\"json\": true}"), Err(PackError::NotAPack));
        let mut other = bytes.clone();
        other[8..12].copy_from_slice(&(PLAN_FORMAT_VERSION + 1).to_le_bytes());
        assert_eq!(
            from_bytes(&other),
            Err(PackError::Version { found: PLAN_FORMAT_VERSION + 1, expected: PLAN_FORMAT_VERSION })
        );
        assert!(matches!(from_bytes(&bytes[..bytes.len() - 3]), Err(PackError::Corrupt(_))));
    }
}
