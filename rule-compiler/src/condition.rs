//! Condition strings (`selection and not 1 of filter_*`) → a condition tree.
//!
//! Two steps: a nom lexer turns the text into tokens that remember their offset, then a
//! recursive-descent parser applies Sigma's precedence (`or` < `and` < `not` < `x of` <
//! parentheses). Keeping the grammar over tokens lets every error name the exact token and
//! column. This module knows nothing about what identifiers mean; [`crate::lower`] resolves them.

use nom::branch::alt;
use nom::bytes::complete::take_while1;
use nom::character::complete::{char, multispace0};
use nom::combinator::{map, value};
use nom::sequence::preceded;
use nom::{IResult, Parser};

/// A parsed condition. Offsets are in characters from the start of the condition string.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Ident { name: String, offset: usize },
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Of { all: bool, target: OfTarget, offset: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub enum OfTarget {
    Them,
    /// A name or a pattern with `*` wildcards.
    Pattern(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CondError {
    /// Character offset of the offending token.
    pub offset: usize,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Open,
    Close,
    Pipe,
}

const KEYWORDS: &[&str] = &["and", "or", "not", "of", "them", "all", "any"];

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '*'
}

fn token(input: &str) -> IResult<&str, Tok<'_>> {
    preceded(
        multispace0,
        alt((
            value(Tok::Open, char('(')),
            value(Tok::Close, char(')')),
            value(Tok::Pipe, char('|')),
            map(take_while1(is_word_char), Tok::Word),
        )),
    )
    .parse(input)
}

fn char_offset(full: &str, rest: &str) -> usize {
    full[..full.len() - rest.len()].chars().count()
}

fn lex(text: &str) -> Result<Vec<(Tok<'_>, usize)>, CondError> {
    // The v1 pipe gets its own message wherever it stands, whatever else the line holds.
    if let Some(i) = text.find('|') {
        return Err(pipe_error(text[..i].chars().count()));
    }
    let mut rest = text;
    let mut out = Vec::new();
    loop {
        let trimmed = rest.trim_start();
        if trimmed.is_empty() {
            return Ok(out);
        }
        let offset = char_offset(text, trimmed);
        match token(rest) {
            Ok((next, tok)) => {
                if tok == Tok::Pipe {
                    return Err(pipe_error(offset));
                }
                out.push((tok, offset));
                rest = next;
            }
            Err(_) => {
                let c = trimmed.chars().next().unwrap_or(' ');
                return Err(CondError { offset, message: format!("unexpected character '{c}' in the condition") });
            }
        }
    }
}

fn pipe_error(offset: usize) -> CondError {
    CondError {
        offset,
        message: "the pipe syntax of Sigma v1 ('| count() by ...', '| near ...') was removed in Sigma v2: write a correlation rule (event_count, value_count or temporal) instead".into(),
    }
}

/// Parses one condition string.
pub fn parse(text: &str) -> Result<Cond, CondError> {
    let tokens = lex(text)?;
    let mut p = Parser_ { tokens, at: 0, end: text.chars().count() };
    if p.tokens.is_empty() {
        return Err(CondError { offset: 0, message: "the condition is empty".into() });
    }
    let cond = p.or_expr()?;
    if let Some((tok, offset)) = p.peek() {
        return Err(CondError {
            offset,
            message: match tok {
                Tok::Close => "unbalanced ')' in the condition".into(),
                Tok::Word(w) if ["AND", "OR", "NOT", "And", "Or", "Not"].contains(&w) => {
                    format!("'{w}' is not a condition keyword: Sigma keywords are lower case ('{}')", w.to_lowercase())
                }
                Tok::Word(w) => format!("expected 'and', 'or' or the end of the condition, found '{w}'"),
                _ => "unexpected token in the condition".into(),
            },
        });
    }
    Ok(cond)
}

// The trailing underscore keeps the name apart from nom's `Parser` trait.
struct Parser_<'a> {
    tokens: Vec<(Tok<'a>, usize)>,
    at: usize,
    end: usize,
}

impl<'a> Parser_<'a> {
    fn peek(&self) -> Option<(Tok<'a>, usize)> {
        self.tokens.get(self.at).copied()
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Some((Tok::Word(x), _)) if x == w) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn or_expr(&mut self) -> Result<Cond, CondError> {
        let mut items = vec![self.and_expr()?];
        while self.eat_word("or") {
            items.push(self.and_expr()?);
        }
        Ok(if items.len() == 1 { items.pop().unwrap() } else { Cond::Or(items) })
    }

    fn and_expr(&mut self) -> Result<Cond, CondError> {
        let mut items = vec![self.not_expr()?];
        while self.eat_word("and") {
            items.push(self.not_expr()?);
        }
        Ok(if items.len() == 1 { items.pop().unwrap() } else { Cond::And(items) })
    }

    fn not_expr(&mut self) -> Result<Cond, CondError> {
        if self.eat_word("not") {
            return Ok(Cond::Not(Box::new(self.not_expr()?)));
        }
        self.primary()
    }

    fn missing(&self, what: &str) -> CondError {
        CondError { offset: self.end, message: format!("the condition ends where {what} was expected") }
    }

    fn primary(&mut self) -> Result<Cond, CondError> {
        let Some((tok, offset)) = self.peek() else {
            return Err(self.missing("an identifier, 'not', '(' or 'x of'"));
        };
        self.at += 1;
        match tok {
            Tok::Open => {
                let inner = self.or_expr()?;
                match self.peek() {
                    Some((Tok::Close, _)) => {
                        self.at += 1;
                        Ok(inner)
                    }
                    Some((_, o)) => Err(CondError { offset: o, message: "expected ')' to close the '(' here".into() }),
                    None => Err(CondError { offset, message: "this '(' is never closed".into() }),
                }
            }
            Tok::Close => Err(CondError { offset, message: "unexpected ')'".into() }),
            Tok::Pipe => unreachable!("the lexer rejects pipes"),
            Tok::Word(w) => {
                let quantifier = match w {
                    "1" | "any" => Some(false),
                    "all" => Some(true),
                    _ => None,
                };
                let next_is_of = matches!(self.peek(), Some((Tok::Word("of"), _)));
                if let Some(all) = quantifier.filter(|_| next_is_of) {
                    self.at += 1;
                    return self.of_target(all, offset);
                }
                if next_is_of && w.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(CondError {
                        offset,
                        message: format!("'{w} of' is not Sigma: only '1 of' and 'all of' exist (use a correlation rule to count events)"),
                    });
                }
                if KEYWORDS.contains(&w) {
                    return Err(CondError {
                        offset,
                        message: format!("expected an identifier, found the keyword '{w}'"),
                    });
                }
                if w.contains('*') {
                    return Err(CondError {
                        offset,
                        message: format!("'{w}' has a wildcard: patterns are only allowed after '1 of' or 'all of'"),
                    });
                }
                Ok(Cond::Ident { name: w.to_string(), offset })
            }
        }
    }

    fn of_target(&mut self, all: bool, offset: usize) -> Result<Cond, CondError> {
        match self.peek() {
            Some((Tok::Word("them"), _)) => {
                self.at += 1;
                Ok(Cond::Of { all, target: OfTarget::Them, offset })
            }
            Some((Tok::Word(w), o)) if !KEYWORDS.contains(&w) => {
                self.at += 1;
                if w.contains('*') && w.contains('-') {
                    return Err(CondError {
                        offset: o,
                        message: format!("the pattern '{w}' contains '-', which patterns may not use"),
                    });
                }
                Ok(Cond::Of { all, target: OfTarget::Pattern(w.to_string()), offset })
            }
            Some((_, o)) => {
                Err(CondError { offset: o, message: "expected 'them' or an identifier pattern after 'of'".into() })
            }
            None => Err(self.missing("'them' or a pattern")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: &str, offset: usize) -> Cond {
        Cond::Ident { name: n.into(), offset }
    }

    #[test]
    fn precedence() {
        let c = parse("a or b and not c").unwrap();
        assert_eq!(c, Cond::Or(vec![id("a", 0), Cond::And(vec![id("b", 5), Cond::Not(Box::new(id("c", 15)))])]));
    }

    #[test]
    fn keywords_need_word_boundaries() {
        assert_eq!(parse("and_filter").unwrap(), id("and_filter", 0));
        assert_eq!(parse("not-this").unwrap(), id("not-this", 0));
    }

    #[test]
    fn errors_point_at_tokens() {
        let e = parse("sel | count() by x > 5").unwrap_err();
        assert_eq!(e.offset, 4);
        assert!(e.message.contains("correlation rule"));
        assert_eq!(parse("a OR b").unwrap_err().offset, 2);
        assert_eq!(parse("(a and b").unwrap_err().offset, 0);
        assert!(parse("a and").is_err());
        assert!(parse("3 of sel*").is_err());
    }
}
