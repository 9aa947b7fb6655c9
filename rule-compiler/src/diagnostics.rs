//! Positions and diagnostics: how the compiler says where and why a rule was rejected.
//!
//! Every stage reports an [`Error`] at a [`Pos`]; the driver ([`crate::compile`]) adds the file
//! name and turns it into a [`Diagnostic`], the one shape the CLI and the playground print.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A 1-based line and column in a rule file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    /// The position `offset` characters to the right (within a single-line value).
    pub fn shifted(self, offset: usize) -> Pos {
        Pos { line: self.line, col: self.col + offset as u32 }
    }
}

/// A compile error inside one file, before the file name is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub pos: Pos,
    pub message: String,
}

impl Error {
    pub fn new(pos: Pos, message: impl Into<String>) -> Error {
        Error { pos, message: message.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A rejected rule: file, line, column and a reason a detection engineer understands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
    /// The rule's title, when the document got far enough to have one.
    pub rule: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.message)
    }
}
