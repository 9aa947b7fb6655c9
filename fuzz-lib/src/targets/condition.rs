//! Condition strings (`selection and not 1 of filter_*`) through the compiler's nom lexer and
//! recursive-descent parser.

pub fn run(data: &[u8]) {
    let Some(text) = crate::text(data) else { return };
    let _ = sigil_compiler::condition::parse(text);
}
