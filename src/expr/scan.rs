//! The one lexical scanner the parser's pre-checks and the template splitter share: it walks an
//! expression's source and yields the characters that stand outside string and regex literals,
//! so a bracket, a `?` or a `?>` inside `'…'`, `"…"` or `/…/` is never taken for syntax.
//!
//! It is deliberately lexical (no grammar): a `/` opens a regex literal only where a value is
//! expected (at the start, or after an operator, an opening bracket or a comma), as in the
//! grammar; a backslash escapes the next character in a literal; a regex literal also ends at a
//! line break (the grammar allows none inside one).

use std::str::CharIndices;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum In {
    Code,
    Quote(char),
    Regex { class: bool },
}

/// The characters of `src` outside string and regex literals, with their byte offsets.
#[derive(Debug, Clone)]
pub(super) struct Scan<'a> {
    chars: std::iter::Peekable<CharIndices<'a>>,
    state: In,
    escaped: bool,
    /// The last character outside literals that is not white space.
    prev: Option<char>,
}

impl<'a> Scan<'a> {
    /// A scan of `src` from its start.
    pub(super) fn new(src: &'a str) -> Scan<'a> {
        Scan {
            chars: src.char_indices().peekable(),
            state: In::Code,
            escaped: false,
            prev: None,
        }
    }

    /// The quote of a string literal still open where the scan stopped.
    pub(super) fn open_quote(&self) -> Option<char> {
        match self.state {
            In::Quote(q) => Some(q),
            _ => None,
        }
    }

    /// Whether a `/` read now opens a regex literal: a value is expected here, and the next
    /// character does not make it a comment (`//`, `/*`).
    fn regex_starts(&mut self) -> bool {
        let value_expected = self.prev.is_none_or(|p| "([{,;=!&|?:+-*%<>~^".contains(p));
        value_expected && !matches!(self.chars.peek(), Some((_, '/' | '*')) | None)
    }

    /// Whether a `[` just read in a regex opens a class: as in the grammar, only when a `]`
    /// closes it on the same line (otherwise the `[` is a plain character, and a `/` after it
    /// ends the regex). Agreeing with the grammar here matters: a bracket the scanner hid
    /// would escape the nesting bound.
    fn class_closes(&self) -> bool {
        let mut rest = self.chars.clone().map(|(_, c)| c);
        while let Some(c) = rest.next() {
            match c {
                ']' => return true,
                '\\' => {
                    if matches!(rest.next(), None | Some('\n' | '\r')) {
                        return false;
                    }
                }
                '\n' | '\r' => return false,
                _ => {}
            }
        }
        false
    }
}

impl Iterator for Scan<'_> {
    type Item = (usize, char);

    fn next(&mut self) -> Option<(usize, char)> {
        loop {
            let (i, c) = self.chars.next()?;
            match self.state {
                In::Code => {
                    match c {
                        '\'' | '"' => self.state = In::Quote(c),
                        '/' if self.regex_starts() => self.state = In::Regex { class: false },
                        _ => {
                            if !c.is_whitespace() {
                                self.prev = Some(c);
                            }
                            return Some((i, c));
                        }
                    }
                    self.prev = Some(c);
                }
                In::Quote(q) => {
                    if self.escaped {
                        self.escaped = false;
                    } else if c == '\\' {
                        self.escaped = true;
                    } else if c == q {
                        self.state = In::Code;
                    }
                }
                In::Regex { class } => {
                    if self.escaped {
                        self.escaped = false;
                    } else if c == '\\' {
                        self.escaped = true;
                    } else if c == '\n' || c == '\r' || (c == '/' && !class) {
                        self.state = In::Code;
                    } else if c == '[' && !class && self.class_closes() {
                        self.state = In::Regex { class: true };
                    } else if c == ']' {
                        self.state = In::Regex { class: false };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(src: &str) -> String {
        Scan::new(src)
            .map(|(_, c)| c)
            .filter(|c| !c.is_whitespace())
            .collect()
    }

    #[test]
    fn literals_are_skipped() {
        assert_eq!(code("f('(', \"[\") + 1"), "f(,)+1");
        assert_eq!(code("'it''s' == x"), "==x");
        assert_eq!(code(r"'a\'b' + c"), "+c");
        assert_eq!(code("x.matches(/[/(]?>/i)"), "x.matches(i)");
        assert_eq!(code("a / 2 / b"), "a/2/b");
        assert_eq!(code("f(x) / 2"), "f(x)/2");
        // A `[` that no `]` closes is a plain character, as in the grammar: `/[/` is a regex.
        assert_eq!(code("x * /[/ + (1)"), "x*+(1)");
    }

    #[test]
    fn an_open_literal_is_reported() {
        let mut s = Scan::new("x == 'abc");
        s.by_ref().for_each(drop);
        assert_eq!(s.open_quote(), Some('\''));
        let mut s = Scan::new("x.test(/ab");
        s.by_ref().for_each(drop);
        assert_eq!(s.open_quote(), None);
    }
}
