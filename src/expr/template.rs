//! Templates: a string value split into text and `<? … ?>` segments, and the parse cache that
//! gives every repeat of a source text the same tree.

use super::ast::{Expr, Span};
use super::parse::{parse_expression, SyntaxError};
use super::scan::Scan;
use super::Dialect;
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::sync::Arc;

/// One piece of a template string.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Literal text.
    Text(String),
    /// A `<? … ?>` segment; the span covers the delimiters, relative to the string. The
    /// expression's own spans are relative to its body, which starts two bytes after the span
    /// (see [`Part::body_offset`]); the tree is shared with every other segment of the same text.
    Expr(Arc<Expr>, Span),
}

impl Part {
    /// Where the segment's expression starts in the string (after `<?`).
    pub fn body_offset(span: &Span) -> usize {
        span.start + 2
    }
}

/// A string value split into text and `<? … ?>` segments.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The pieces, in order.
    pub parts: Vec<Part>,
}

impl Template {
    /// True when the string is exactly one segment (its value keeps its type).
    pub fn is_single(&self) -> bool {
        matches!(self.parts.as_slice(), [Part::Expr(..)])
    }

    /// True when there is no segment at all.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// Every segment's expression, with the offset of its body in the string.
    pub fn exprs(&self) -> impl Iterator<Item = (&Arc<Expr>, usize)> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e, span) => Some((e, Part::body_offset(span))),
            Part::Text(_) => None,
        })
    }
}

/// Parses expressions, sharing the tree of a source text already seen. Flows repeat the same
/// conditions and segments many times (the 58 Watson workspaces hold 3,995 conditions but
/// only 789 distinct ones; a generated 10,000-node flow holds 90,000 expressions and under a
/// thousand distinct ones): a repeat costs a hash lookup and a reference count, not a parse
/// and a copy. Trees have spans relative to their own source, so one tree serves every place
/// the text appears.
///
/// The trees of short sources are also kept in a table of the thread, bounded in size, so that
/// linting many files of one project parses each common condition once per thread. One table
/// per thread, not one for the process: with a shared table behind a lock, the lint of 200
/// files on two cores spent a tenth more CPU (the lock and the trees' reference counts moved
/// between the cores at every lookup) than with one per thread, which parses each common
/// condition once more per extra thread. Running a flow or a workspace does not lean on it:
/// both parse every expression once, when they load.
///
/// A cache keeps its own copy only of what the thread's table does not hold: long sources,
/// and short ones that came when the table was full. The table is emptied only when a cache
/// is made, never while one is in use, so a text keeps one tree for a cache's whole life.
#[derive(Debug)]
pub struct ParseCache {
    dialect: Dialect,
    map: FxHashMap<Box<str>, Result<Arc<Expr>, SyntaxError>>,
}

/// Longest source kept in a [`ParseCache`] (longer ones are rare and parsed each time).
const CACHE_SOURCE_MAX: usize = 1024;

/// Longest source kept in the thread's table, and most trees kept there (per dialect; a full
/// table is emptied when the next cache is made): at most a few tens of MiB per thread
/// whatever the input.
const SHARED_SOURCE_MAX: usize = 256;
const SHARED_MAX: usize = 8192;

type Table = FxHashMap<Box<str>, Result<Arc<Expr>, SyntaxError>>;

thread_local! {
    static BUILDER: RefCell<Table> = RefCell::default();
    static WATSON: RefCell<Table> = RefCell::default();
}

/// Runs `f` on this thread's table of `dialect`.
fn with_shared<R>(dialect: Dialect, f: impl FnOnce(&mut Table) -> R) -> R {
    let key = match dialect {
        Dialect::Builder => &BUILDER,
        Dialect::Watson => &WATSON,
    };
    key.with(|t| f(&mut t.borrow_mut()))
}

impl ParseCache {
    /// A cache for expressions of `dialect`.
    pub fn new(dialect: Dialect) -> Self {
        with_shared(dialect, |t| {
            if t.len() >= SHARED_MAX {
                t.clear();
            }
        });
        ParseCache {
            dialect,
            map: FxHashMap::default(),
        }
    }

    /// Like [`parse_expression`] at offset 0, through the cache.
    pub fn expression(&mut self, src: &str) -> Result<Arc<Expr>, SyntaxError> {
        if src.len() > CACHE_SOURCE_MAX {
            return parse_expression(src, 0, self.dialect).map(Arc::new);
        }
        if !self.map.is_empty() {
            if let Some(r) = self.map.get(src) {
                return r.clone();
            }
        }
        if src.len() > SHARED_SOURCE_MAX {
            let r = parse_expression(src, 0, self.dialect).map(Arc::new);
            self.map.insert(src.into(), r.clone());
            return r;
        }
        if let Some(r) = with_shared(self.dialect, |t| t.get(src).cloned()) {
            return r;
        }
        let r = parse_expression(src, 0, self.dialect).map(Arc::new);
        let shared = with_shared(self.dialect, |t| {
            t.len() < SHARED_MAX && t.insert(src.into(), r.clone()).is_none()
        });
        if !shared {
            self.map.insert(src.into(), r.clone());
        }
        r
    }

    /// Splits a string into text and `<? … ?>` segments and parses each segment, through the
    /// cache. A segment ends at the first `?>` outside a string or regex literal. Errors are
    /// returned per segment (spans relative to the string); the template keeps the segments
    /// that did parse.
    pub fn template(&mut self, s: &str) -> (Template, Vec<SyntaxError>) {
        parse_template_with(s, &mut |b| self.expression(b))
    }
}

fn parse_template_with(
    s: &str,
    parse: &mut dyn FnMut(&str) -> Result<Arc<Expr>, SyntaxError>,
) -> (Template, Vec<SyntaxError>) {
    // Room for the parts the usual template has (text between segments, none before a
    // leading or after a trailing one), so that it is rarely grown or shrunk.
    let bytes = s.as_bytes();
    let opens = memchr::memchr_iter(b'<', bytes)
        .filter(|&i| bytes.get(i + 1) == Some(&b'?'))
        .count();
    let room = (2 * opens + 1)
        .saturating_sub(usize::from(s.starts_with("<?")))
        .saturating_sub(usize::from(s.ends_with("?>")));
    let mut parts = Vec::with_capacity(room);
    let mut errors = Vec::new();
    let mut rest = 0usize;
    while let Some(rel) = find_open(&s[rest..]) {
        let open = rest + rel;
        if open > rest {
            parts.push(Part::Text(s[rest..open].to_owned()));
        }
        let body_start = open + 2;
        match segment_end(&s[body_start..]) {
            Some(len) => {
                let body = &s[body_start..body_start + len];
                let close = body_start + len + 2;
                if body.trim().is_empty() {
                    errors.push(SyntaxError {
                        message: "empty `<? ?>` segment".into(),
                        span: open..close,
                        help: Some(
                            "write an expression between `<?` and `?>`, or remove the delimiters"
                                .into(),
                        ),
                    });
                } else {
                    match parse(body) {
                        Ok(e) => parts.push(Part::Expr(e, open..close)),
                        Err(mut err) => {
                            err.span = err.span.start + body_start..err.span.end + body_start;
                            errors.push(err);
                        }
                    }
                }
                rest = close;
            }
            None => {
                errors.push(SyntaxError {
                    message: "unterminated `<?` segment: no matching `?>`".into(),
                    span: open..body_start,
                    help: Some("close the segment with `?>`".into()),
                });
                parts.push(Part::Text(s[open..].to_owned()));
                rest = s.len();
            }
        }
    }
    if rest < s.len() {
        parts.push(Part::Text(s[rest..].to_owned()));
    }
    // Compiled flows keep every template: no room to spare.
    parts.shrink_to_fit();
    (Template { parts }, errors)
}

/// Where the first `<?` of `s` starts. A byte search for `<` then a look at the next byte:
/// `str::find` sets up a substring searcher at every call, which cost more than the search on
/// the many short strings of a flow.
pub(crate) fn find_open(s: &str) -> Option<usize> {
    find_pair(s.as_bytes(), b'<', b'?')
}

/// Where the first `?>` of `s` starts (see [`find_open`]).
fn find_close(s: &str) -> Option<usize> {
    find_pair(s.as_bytes(), b'?', b'>')
}

fn find_pair(b: &[u8], first: u8, second: u8) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = b.get(from..).and_then(|rest| memchr::memchr(first, rest)) {
        let at = from + i;
        if b.get(at + 1) == Some(&second) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Length of a segment body up to its closing `?>`, skipping string and regex literals.
fn segment_end(body: &str) -> Option<usize> {
    // Most bodies hold no quote and no `/` before their first `?>`: the scanner, whose state
    // changes only at those characters, would stop at that `?>` too.
    let first = find_close(body)?;
    if !body.as_bytes()[..first]
        .iter()
        .any(|b| matches!(b, b'\'' | b'"' | b'/'))
    {
        return Some(first);
    }
    let mut scan = Scan::new(body).peekable();
    while let Some((i, c)) = scan.next() {
        if c == '?' && scan.peek().is_some_and(|&(j, n)| n == '>' && j == i + 1) {
            return Some(i);
        }
    }
    // An unbalanced quote inside the segment: fall back to the first `?>`.
    Some(first)
}

#[cfg(test)]
mod search {
    use super::{find_close, find_open, segment_end, Scan};

    /// The byte searches find what `str::find` finds, and a segment's end is the scanner's
    /// wherever the shortcut applies or not.
    #[test]
    fn searches_agree_with_the_scanner() {
        for s in [
            "",
            "<",
            "?",
            "<?",
            "?>",
            "a<b<?c",
            "??>",
            "a ?? b ?>",
            "<<??>>",
            "é<?ü?>",
            "$a ?? 'x ?> y' ?>",
            "x.matches(/?>/) ?> z",
            "\"?>\" ?>",
            "1 / 2 ?>",
            "no end",
        ] {
            assert_eq!(find_open(s), s.find("<?"), "{s}");
            assert_eq!(find_close(s), s.find("?>"), "{s}");
            let mut scan = Scan::new(s).peekable();
            let mut scanned = None;
            while let Some((i, c)) = scan.next() {
                if c == '?' && scan.peek().is_some_and(|&(j, n)| n == '>' && j == i + 1) {
                    scanned = Some(i);
                    break;
                }
            }
            assert_eq!(segment_end(s), scanned.or(s.find("?>")), "{s}");
        }
    }
}

#[cfg(test)]
mod cache {
    use super::{Dialect, ParseCache, SHARED_MAX};
    use std::sync::Arc;

    /// While the thread's table is full, a cache keeps what it no longer takes: every text
    /// keeps the one tree it first got, for the cache's whole life; the next cache starts with
    /// the table emptied.
    #[test]
    fn a_text_keeps_one_tree_while_the_thread_table_is_full() {
        let mut c = ParseCache::new(Dialect::Builder);
        let texts: Vec<String> = (0..SHARED_MAX + 50).map(|i| format!("$v{i}")).collect();
        let first: Vec<_> = (texts.iter())
            .map(|t| c.expression(t).expect("parses"))
            .collect();
        assert_eq!(
            c.map.len(),
            50,
            "the cache keeps what the table did not take"
        );
        for (t, e) in texts.iter().zip(&first) {
            assert!(Arc::ptr_eq(e, &c.expression(t).expect("parses")), "{t}");
        }
        let mut next = ParseCache::new(Dialect::Builder);
        assert!(!Arc::ptr_eq(
            &first[0],
            &next.expression(&texts[0]).expect("parses")
        ));
        assert!(Arc::ptr_eq(
            &next.expression(&texts[0]).expect("parses"),
            &next.expression(&texts[0]).expect("parses")
        ));
    }
}
