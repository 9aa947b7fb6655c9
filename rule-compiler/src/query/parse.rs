//! The query line → search items and a condition over them.
//!
//! A hand-rolled scanner turns the line into tokens that remember their column (values need
//! context a nom combinator would have to thread anyway: a `field=` switches to value lists,
//! a `/` starts a regex), then a recursive-descent parser applies the precedence
//! `not` > `and` (or juxtaposition) > `or`. It never decides what a value means: bare values
//! are handed to the compiler as the plain YAML scalars they would be in a rule file.

use super::{Cond, Item, Query, QueryError, Value};

/// How deep parentheses and `not`s may nest: the parser and the compiler recurse on them.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Not,
    Item(Item),
}

/// The line as characters with their 1-based columns.
struct Scanner {
    chars: Vec<char>,
    at: usize,
}

fn err<T>(column: usize, message: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError { column, message: message.into() })
}

fn ends_bare(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

impl Scanner {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn column(&self) -> usize {
        self.at + 1
    }

    fn at_boundary(&self) -> bool {
        self.peek().is_none_or(|c| c.is_whitespace() || c == '(' || c == ')')
    }

    fn tokens(&mut self) -> Result<Vec<(Tok, usize)>, QueryError> {
        let mut out = Vec::new();
        loop {
            while self.peek().is_some_and(char::is_whitespace) {
                self.at += 1;
            }
            let Some(c) = self.peek() else { return Ok(out) };
            let col = self.column();
            let tok = match c {
                '(' => {
                    self.at += 1;
                    Tok::Open
                }
                ')' => {
                    self.at += 1;
                    Tok::Close
                }
                '"' => self.after_quoted()?,
                '/' => self.regex()?,
                '=' => {
                    return err(
                        col,
                        "a field expression needs a field name before '=' (to search for text holding '=', quote it: \"=text\")",
                    )
                }
                _ => self.after_bare()?,
            };
            out.push((tok, col));
        }
    }

    /// `"text"` is a keyword, `"field name"=...` or `"field name"|mod=...` a field expression.
    fn after_quoted(&mut self) -> Result<Tok, QueryError> {
        let value = self.quoted()?;
        if matches!(self.peek(), Some('=' | '|')) {
            let modifiers = self.run(|c| !ends_bare(c) && c != '=');
            let key_col = value.column;
            if self.peek() != Some('=') {
                return err(self.column(), "expected '=' after the field name and its modifiers");
            }
            return self.field(format!("{}{modifiers}", value.text), key_col + 1);
        }
        if !self.at_boundary() {
            return err(
                self.column(),
                "a quoted value ends at its closing quote: put a space after it (or '=' to make it a field name)",
            );
        }
        Ok(Tok::Item(Item::Keyword(value)))
    }

    /// A bare word: an operator, a keyword, or the field name of `field|mods=values`.
    fn after_bare(&mut self) -> Result<Tok, QueryError> {
        let col = self.column();
        let word = self.run(|c| !ends_bare(c) && c != '=');
        match self.peek() {
            Some('=') => return self.field(word, col),
            Some('"') => {
                return err(self.column(), "a quote inside a word: quote the whole value (\"like this\")");
            }
            _ => {}
        }
        Ok(match word.to_ascii_lowercase().as_str() {
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            _ => Tok::Item(Item::Keyword(Value { text: word, quoted: false, column: col })),
        })
    }

    fn run(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.at;
        while self.peek().is_some_and(&keep) {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    /// A double-quoted string: `\"` is a quote; any other backslash pair is kept as written, so
    /// Sigma's own escapes (`\*`, `\?`, `\\`) reach the compiler unchanged.
    fn quoted(&mut self) -> Result<Value, QueryError> {
        let column = self.column();
        self.at += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return err(column, "this quoted value is never closed (a '\"' is missing)"),
                Some('"') => {
                    self.at += 1;
                    return Ok(Value { text, quoted: true, column });
                }
                Some('\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some('"') => text.push('"'),
                        Some(next) => {
                            text.push('\\');
                            text.push(next);
                        }
                        None => text.push('\\'),
                    }
                    self.at += 1;
                }
                Some(c) => {
                    text.push(c);
                    self.at += 1;
                }
            }
        }
    }

    /// `key=v1,v2,...` from the '=' on.
    fn field(&mut self, key: String, key_column: usize) -> Result<Tok, QueryError> {
        self.at += 1; // '='
        let mut values = Vec::new();
        loop {
            let column = self.column();
            let value = match self.peek() {
                Some('"') => self.quoted()?,
                _ => {
                    let text = self.run(|c| !ends_bare(c) && c != ',');
                    if text.is_empty() && (!values.is_empty() || self.peek() == Some(',')) {
                        return err(column, "a value is missing here (write \"\" for an empty string)");
                    }
                    Value { text, quoted: false, column }
                }
            };
            values.push(value);
            match self.peek() {
                Some(',') => self.at += 1,
                Some('(') => return err(self.column(), "a value holding '(' must be quoted (\"like (this)\")"),
                Some('"') => return err(self.column(), "a quote inside a value: quote the whole value"),
                _ => break,
            }
        }
        Ok(Tok::Item(Item::Field { key, column: key_column, values }))
    }

    /// `/pattern/flags`: `\/` is a slash, other escapes are the regex's own.
    fn regex(&mut self) -> Result<Tok, QueryError> {
        let column = self.column();
        self.at += 1;
        let mut pattern = String::new();
        loop {
            match self.peek() {
                None => return err(column, "this /regex/ is never closed (a '/' is missing)"),
                Some('/') => {
                    self.at += 1;
                    break;
                }
                Some('\\') if self.chars.get(self.at + 1) == Some(&'/') => {
                    pattern.push('/');
                    self.at += 2;
                }
                Some('\\') if self.chars.get(self.at + 1).is_some() => {
                    pattern.push('\\');
                    pattern.push(self.chars[self.at + 1]);
                    self.at += 2;
                }
                Some(c) => {
                    pattern.push(c);
                    self.at += 1;
                }
            }
        }
        if pattern.is_empty() {
            return err(column, "an empty /regex/ matches everything: write a pattern between the slashes");
        }
        let mut flags = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_ascii_alphanumeric()) {
            if !matches!(c, 'i' | 'm' | 's') {
                return err(
                    self.column(),
                    format!(
                        "unknown regex flag '{c}': the flags are i (ignore case), m (multi-line), s (dot matches newline); to search for a path, quote it: \"/etc/passwd\""
                    ),
                );
            }
            if !flags.contains(c) {
                flags.push(c);
            }
            self.at += 1;
        }
        if !self.at_boundary() {
            return err(
                self.column(),
                "a /regex/ ends at its closing '/': put a space after it (to search for a path, quote it: \"/etc/passwd\")",
            );
        }
        Ok(Tok::Item(Item::Regex { pattern, flags, column }))
    }
}

/// Parses one query line.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    if let Some((i, c)) = text.chars().enumerate().find(|(_, c)| c.is_control() && *c != '\t') {
        return err(i + 1, format!("a query is one line: the control character U+{:04X} is not allowed", c as u32));
    }
    let tokens = Scanner { chars: text.chars().collect(), at: 0 }.tokens()?;
    let end = text.chars().count() + 1;
    if tokens.is_empty() {
        return err(1, "the query is empty: write field=value, a keyword or a /regex/");
    }
    let mut parser = Parser { tokens, at: 0, end, items: Vec::new() };
    let condition = parser.or_expr(0)?;
    if let Some((tok, col)) = parser.tokens.get(parser.at) {
        return err(
            *col,
            match tok {
                Tok::Close => "unbalanced ')': no '(' is open here",
                _ => "unexpected token",
            },
        );
    }
    Ok(Query { items: parser.items, condition })
}

struct Parser {
    tokens: Vec<(Tok, usize)>,
    at: usize,
    /// The column just past the line, where "the query ends" errors point.
    end: usize,
    items: Vec<Item>,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at).map(|(t, _)| t)
    }

    fn column(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(_, c)| *c)
    }

    fn too_deep(&self, depth: usize) -> Result<(), QueryError> {
        if depth > MAX_DEPTH {
            return err(self.column(), format!("the query nests deeper than {MAX_DEPTH} levels of '(' and 'not'"));
        }
        Ok(())
    }

    fn or_expr(&mut self, depth: usize) -> Result<Cond, QueryError> {
        let mut items = vec![self.and_expr(depth)?];
        while self.peek() == Some(&Tok::Or) {
            self.at += 1;
            items.push(self.and_expr(depth)?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Cond::Or(items) })
    }

    fn and_expr(&mut self, depth: usize) -> Result<Cond, QueryError> {
        let mut items = vec![self.not_expr(depth)?];
        loop {
            match self.peek() {
                Some(Tok::And) => self.at += 1,
                // Juxtaposition is AND.
                Some(Tok::Open | Tok::Not | Tok::Item(_)) => {}
                _ => break,
            }
            items.push(self.not_expr(depth)?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Cond::And(items) })
    }

    fn not_expr(&mut self, depth: usize) -> Result<Cond, QueryError> {
        if self.peek() == Some(&Tok::Not) {
            self.too_deep(depth + 1)?;
            self.at += 1;
            return Ok(Cond::Not(Box::new(self.not_expr(depth + 1)?)));
        }
        self.primary(depth)
    }

    fn primary(&mut self, depth: usize) -> Result<Cond, QueryError> {
        let column = self.column();
        let Some(tok) = self.peek().cloned() else {
            return err(
                column,
                "the query ends where a search term (field=value, a keyword, a /regex/ or '(') was expected",
            );
        };
        self.at += 1;
        match tok {
            Tok::Item(item) => {
                self.items.push(item);
                Ok(Cond::Item(self.items.len() - 1))
            }
            Tok::Open => {
                self.too_deep(depth + 1)?;
                let inner = self.or_expr(depth + 1)?;
                match self.peek() {
                    Some(Tok::Close) => {
                        self.at += 1;
                        Ok(inner)
                    }
                    Some(_) => err(self.column(), "expected ')' to close a '('"),
                    None => err(column, "this '(' is never closed"),
                }
            }
            Tok::Close => err(column, "unexpected ')': a search term was expected"),
            Tok::And | Tok::Or => err(
                column,
                "expected a search term (field=value, a keyword, a /regex/ or '('), found an operator (to search for the word, quote it)",
            ),
            Tok::Not => unreachable!("not_expr takes 'not'"),
        }
    }
}
