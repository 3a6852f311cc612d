//! Parsing conditions and `<? … ?>` templates into [`Expr`] trees.

use super::ast::{BinOp, Expr, ExprKind, RegexLit, Span, UnOp};
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser as _;
use std::sync::{Arc, LazyLock};

mod grammar {
    #![allow(missing_docs)]
    #[derive(pest_derive::Parser)]
    #[grammar = "grammar/expr.pest"]
    pub(super) struct Grammar;
}
use grammar::{Grammar, Rule};

/// Deepest bracket nesting accepted in one expression. Deeper input is refused before parsing,
/// so no recursive stage (parser, compiler, evaluator) can exhaust the stack.
pub const MAX_NESTING: usize = 64;

/// Longest expression accepted (bytes). Real conditions are far shorter; this bounds parse time.
pub const MAX_EXPRESSION_LEN: usize = 64 * 1024;

/// A syntax error in an expression, with its span relative to the source given to the parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// What is wrong.
    pub message: String,
    /// Where.
    pub span: Span,
    /// A suggestion.
    pub help: Option<String>,
}

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::nullish, Assoc::Left) | Op::infix(Rule::elvis, Assoc::Left))
        .op(Op::infix(Rule::or, Assoc::Left))
        .op(Op::infix(Rule::and, Assoc::Left))
        .op(Op::infix(Rule::eq, Assoc::Left)
            | Op::infix(Rule::ne, Assoc::Left)
            | Op::infix(Rule::strict_eq, Assoc::Left)
            | Op::infix(Rule::strict_ne, Assoc::Left))
        .op(Op::infix(Rule::lt, Assoc::Left)
            | Op::infix(Rule::le, Assoc::Left)
            | Op::infix(Rule::gt, Assoc::Left)
            | Op::infix(Rule::ge, Assoc::Left))
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left)
            | Op::infix(Rule::div, Assoc::Left)
            | Op::infix(Rule::rem, Assoc::Left))
});

/// Parses one expression (a condition, or the body of a template segment).
/// `offset` is added to every span so callers can keep positions relative to a larger string.
pub fn parse_expression(src: &str, offset: usize) -> Result<Expr, SyntaxError> {
    if src.len() > MAX_EXPRESSION_LEN {
        return Err(SyntaxError {
            message: format!(
                "expression is {} bytes long; the limit is {MAX_EXPRESSION_LEN}",
                src.len()
            ),
            span: offset..offset + src.len(),
            help: None,
        });
    }
    if let Some(at) = too_deep(src) {
        return Err(SyntaxError {
            message: format!("expression is nested more than {MAX_NESTING} levels deep"),
            span: offset + at..offset + at + 1,
            help: Some("split it with intermediate context variables".into()),
        });
    }
    let mut pairs = Grammar::parse(Rule::expression, src).map_err(|e| friendly(src, offset, e))?;
    let top = pairs.next().and_then(|p| p.into_inner().next());
    match top {
        Some(expr) => Ok(build_expr(expr, offset)),
        None => Err(SyntaxError {
            message: "empty expression".into(),
            span: offset..offset,
            help: None,
        }),
    }
}

/// Position of the first bracket that goes deeper than [`MAX_NESTING`] (outside string literals).
fn too_deep(src: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in src.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn friendly(src: &str, offset: usize, e: pest::error::Error<Rule>) -> SyntaxError {
    let at = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    }
    .min(src.len());
    let rest = &src[at..];
    let span = offset + at..offset + at + rest.chars().next().map_or(0, char::len_utf8);
    let (message, help) = if rest.is_empty() {
        let open = unclosed(src);
        match open {
            Some(c) => (format!("the expression ends before `{c}` is closed"), None),
            None => (
                "the expression ends too early: an operand is missing".into(),
                None,
            ),
        }
    } else if rest.starts_with('=') && !rest.starts_with("==") {
        (
            "single `=` is an assignment, not a comparison".into(),
            Some("use `==` to compare".into()),
        )
    } else if rest.starts_with("<?") || rest.starts_with("?>") {
        (
            "`<? ?>` delimiters cannot appear inside an expression".into(),
            Some("conditions are written bare, without `<? ?>`".into()),
        )
    } else if rest.starts_with('\'') || rest.starts_with('"') {
        ("unterminated string literal".into(), None)
    } else {
        let token: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace())
            .take(24)
            .collect();
        let expected = match &e.variant {
            pest::error::ErrorVariant::ParsingError { positives, .. } => {
                if positives.iter().any(|r| {
                    matches!(
                        r,
                        Rule::primary | Rule::number | Rule::ident | Rule::string | Rule::unary
                    )
                }) {
                    "a value"
                } else if positives.iter().any(|r| matches!(r, Rule::EOI)) {
                    "an operator or the end of the expression"
                } else {
                    "an operator"
                }
            }
            pest::error::ErrorVariant::CustomError { .. } => "something else",
        };
        (format!("unexpected `{token}`: expected {expected}"), None)
    };
    SyntaxError {
        message,
        span,
        help,
    }
}

fn unclosed(src: &str) -> Option<char> {
    let mut stack = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in src.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' => stack.push(')'),
            '[' => stack.push(']'),
            ')' | ']' => {
                stack.pop();
            }
            _ => {}
        }
    }
    quote.or_else(|| stack.pop().map(|c| if c == ')' { '(' } else { '[' }))
}

fn span_of(p: &Pair<'_, Rule>, offset: usize) -> Span {
    let s = p.as_span();
    offset + s.start()..offset + s.end()
}

fn build_expr(pair: Pair<'_, Rule>, offset: usize) -> Expr {
    // expr = sequence ~ (expr ~ expr)?
    let span = span_of(&pair, offset);
    let mut inner = pair.into_inner();
    let Some(first) = inner.next() else {
        return Expr {
            kind: ExprKind::Undefined,
            span,
        };
    };
    let cond = build_sequence(first, offset);
    match (inner.next(), inner.next()) {
        (Some(a), Some(b)) => Expr {
            kind: ExprKind::Cond(
                Box::new(cond),
                Box::new(build_expr(a, offset)),
                Box::new(build_expr(b, offset)),
            ),
            span,
        },
        _ => cond,
    }
}

fn build_sequence(pair: Pair<'_, Rule>, offset: usize) -> Expr {
    PRATT
        .map_primary(|p| build_unary(p, offset))
        .map_infix(|l, op, r| {
            let bin = match op.as_rule() {
                Rule::nullish => BinOp::Nullish,
                Rule::elvis => BinOp::Elvis,
                Rule::or => BinOp::Or,
                Rule::and => BinOp::And,
                Rule::eq => BinOp::Eq,
                Rule::ne => BinOp::Ne,
                Rule::strict_eq => BinOp::StrictEq,
                Rule::strict_ne => BinOp::StrictNe,
                Rule::lt => BinOp::Lt,
                Rule::le => BinOp::Le,
                Rule::gt => BinOp::Gt,
                Rule::ge => BinOp::Ge,
                Rule::add => BinOp::Add,
                Rule::sub => BinOp::Sub,
                Rule::mul => BinOp::Mul,
                Rule::div => BinOp::Div,
                _ => BinOp::Rem,
            };
            let span = l.span.start..r.span.end;
            Expr {
                kind: ExprKind::Binary(bin, Box::new(l), Box::new(r)),
                span,
            }
        })
        .parse(pair.into_inner())
}

fn build_unary(pair: Pair<'_, Rule>, offset: usize) -> Expr {
    let mut prefixes = Vec::new();
    let mut base: Option<Expr> = None;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::not => prefixes.push((UnOp::Not, span_of(&p, offset).start)),
            Rule::neg => prefixes.push((UnOp::Neg, span_of(&p, offset).start)),
            Rule::member | Rule::opt_member | Rule::index | Rule::opt_index | Rule::call => {
                let Some(obj) = base.take() else { continue };
                base = Some(apply_postfix(obj, p, offset));
            }
            _ => base = Some(build_primary(p, offset)),
        }
    }
    let mut e = base.unwrap_or(Expr {
        kind: ExprKind::Undefined,
        span: offset..offset,
    });
    for (op, start) in prefixes.into_iter().rev() {
        let span = start..e.span.end;
        e = Expr {
            kind: ExprKind::Unary(op, Box::new(e)),
            span,
        };
    }
    e
}

fn apply_postfix(obj: Expr, p: Pair<'_, Rule>, offset: usize) -> Expr {
    let span = obj.span.start..span_of(&p, offset).end;
    let rule = p.as_rule();
    let kind = match rule {
        Rule::member | Rule::opt_member => {
            let name = p
                .into_inner()
                .next()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default();
            ExprKind::Member {
                object: Box::new(obj),
                name,
                optional: rule == Rule::opt_member,
            }
        }
        Rule::index | Rule::opt_index => {
            let idx = p
                .into_inner()
                .next()
                .map(|e| build_expr(e, offset))
                .unwrap_or(Expr {
                    kind: ExprKind::Undefined,
                    span: span.clone(),
                });
            ExprKind::Index {
                object: Box::new(obj),
                index: Box::new(idx),
            }
        }
        _ => {
            let args: Vec<Expr> = p.into_inner().map(|e| build_expr(e, offset)).collect();
            match obj.kind {
                ExprKind::Member { object, name, .. } => {
                    let name_end = obj.span.end;
                    let name_span = name_end - name.len()..name_end;
                    ExprKind::Method {
                        object,
                        name,
                        name_span,
                        args,
                    }
                }
                ExprKind::Ident(name) => ExprKind::Call { name, args },
                // Calling anything else (`(a)(b)`) is not part of the language; keep the
                // receiver as a method call named "" so the linter can report it.
                other => ExprKind::Method {
                    object: Box::new(Expr {
                        kind: other,
                        span: obj.span.clone(),
                    }),
                    name: String::new(),
                    name_span: obj.span.clone(),
                    args,
                },
            }
        }
    };
    Expr { kind, span }
}

fn build_primary(p: Pair<'_, Rule>, offset: usize) -> Expr {
    let span = span_of(&p, offset);
    let kind = match p.as_rule() {
        Rule::number => {
            let t = p.as_str().trim_end_matches(['l', 'L']);
            ExprKind::Num(t.parse().unwrap_or(f64::NAN))
        }
        Rule::string => ExprKind::Str(unquote(p.as_str())),
        Rule::regex => {
            let mut it = p.into_inner();
            let pattern = it.next().map(|x| x.as_str().to_owned()).unwrap_or_default();
            let flags = it.next().map(|x| x.as_str().to_owned()).unwrap_or_default();
            let compiled = compile_regex(&pattern, &flags).ok();
            ExprKind::Regex(RegexLit {
                pattern,
                flags,
                compiled,
            })
        }
        Rule::keyword => match p.as_str() {
            "true" => ExprKind::Bool(true),
            "false" => ExprKind::Bool(false),
            "null" => ExprKind::Null,
            _ => ExprKind::Undefined,
        },
        Rule::array => ExprKind::Array(p.into_inner().map(|e| build_expr(e, offset)).collect()),
        Rule::paren => {
            return p
                .into_inner()
                .next()
                .map(|e| {
                    let mut e = build_expr(e, offset);
                    e.span = span.clone();
                    e
                })
                .unwrap_or(Expr {
                    kind: ExprKind::Undefined,
                    span,
                })
        }
        Rule::context_var => {
            let mut it = p.into_inner();
            let name = it
                .next()
                .map(|n| {
                    n.as_str()
                        .trim_start_matches('(')
                        .trim_end_matches(')')
                        .to_owned()
                })
                .unwrap_or_default();
            match it.next() {
                Some(v) => ExprKind::VarIs(name, sigil_value(v)),
                None => ExprKind::Var(name),
            }
        }
        Rule::intent => ExprKind::Intent(
            p.into_inner()
                .next()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
        ),
        Rule::entity => {
            let mut it = p.into_inner();
            let name = it.next().map(|n| n.as_str().to_owned()).unwrap_or_default();
            match it.next() {
                Some(v) => ExprKind::EntityIs(name, sigil_value(v)),
                None => ExprKind::Entity(name),
            }
        }
        _ => ExprKind::Ident(p.as_str().to_owned()),
    };
    Expr { kind, span }
}

fn sigil_value(v: Pair<'_, Rule>) -> String {
    let s = v.into_inner().next().map_or("", |x| x.as_str());
    s.strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(s)
        .to_owned()
}

/// Decodes a quoted literal. Known escapes are decoded (`\n \t \r \b \f \0 \\ \' \" \/ \uXXXX`);
/// an unknown escape such as `\d` keeps its backslash, so regex patterns written as strings
/// (Watson's `matches('^\d+$')`) mean what their authors meant. `''` inside single quotes is
/// SpEL's escaped apostrophe.
pub fn unquote(lit: &str) -> String {
    let quote = lit.chars().next().unwrap_or('\'');
    let body = lit.get(1..lit.len().saturating_sub(1)).unwrap_or("");
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('0') => out.push('\0'),
                Some(q @ ('\\' | '\'' | '"' | '/')) => out.push(q),
                Some('u') => {
                    let hex: String = chars.clone().take(4).collect();
                    match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        Some(ch) if hex.len() == 4 => {
                            out.push(ch);
                            for _ in 0..4 {
                                chars.next();
                            }
                        }
                        _ => out.push_str("\\u"),
                    }
                }
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            c if c == '\'' && quote == '\'' && chars.peek() == Some(&'\'') => {
                chars.next();
                out.push('\'');
            }
            c => out.push(c),
        }
    }
    out
}

type RegexResult = Result<Arc<regex::Regex>, String>;

/// Compiled patterns, shared by the compile stage and run time (flows repeat a few patterns
/// many times; compiling one costs far more than matching with it). Bounded: cleared when full.
static REGEX_CACHE: LazyLock<
    std::sync::Mutex<std::collections::HashMap<(String, String), RegexResult>>,
> = LazyLock::new(Default::default);
const REGEX_CACHE_MAX: usize = 4096;

/// Compiles a JavaScript-style regex (pattern and flags) on the linear-time `regex` engine.
/// Returns the engine's explanation when it cannot run the pattern (backreferences,
/// look-around) or a flag is unknown.
pub fn compile_regex(pattern: &str, flags: &str) -> RegexResult {
    let key = (pattern.to_owned(), flags.to_owned());
    if let Some(hit) = REGEX_CACHE.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return hit;
    }
    let result = compile_regex_uncached(pattern, flags);
    if let Ok(mut cache) = REGEX_CACHE.lock() {
        if cache.len() >= REGEX_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, result.clone());
    }
    result
}

fn compile_regex_uncached(pattern: &str, flags: &str) -> RegexResult {
    let mut b = regex::RegexBuilder::new(pattern);
    for f in flags.chars() {
        match f {
            'i' => {
                b.case_insensitive(true);
            }
            'm' => {
                b.multi_line(true);
            }
            's' => {
                b.dot_matches_new_line(true);
            }
            'g' | 'u' | 'y' | 'd' => {}
            other => return Err(format!("unknown regex flag `{other}`")),
        }
    }
    b.size_limit(1 << 20).dfa_size_limit(1 << 20);
    b.build().map(Arc::new).map_err(|e| match e {
        regex::Error::Syntax(s) => {
            let first = s
                .lines()
                .last()
                .unwrap_or("invalid pattern")
                .trim()
                .to_owned();
            first.trim_start_matches("error: ").to_owned()
        }
        regex::Error::CompiledTooBig(_) => "the pattern is too large to compile".into(),
        _ => "invalid pattern".into(),
    })
}

/// One piece of a template string.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Literal text.
    Text(String),
    /// A `<? … ?>` segment; the span covers the delimiters, relative to the string.
    Expr(Expr, Span),
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

    /// Every segment's expression.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e, _) => Some(e),
            Part::Text(_) => None,
        })
    }
}

/// Splits a string into text and `<? … ?>` segments and parses each segment.
/// A segment ends at the first `?>` outside a string literal. Errors are returned per segment;
/// the template keeps the segments that did parse.
pub fn parse_template(s: &str) -> (Template, Vec<SyntaxError>) {
    parse_template_with(s, &mut parse_expression)
}

/// Parses expressions, reusing the tree of a source text already seen. Flows repeat the same
/// conditions and segments many times (the 58 Watson workspaces hold 3,995 conditions but
/// only 789 distinct ones), and a clone is far cheaper than a parse.
#[derive(Debug, Default)]
pub struct ParseCache {
    map: std::collections::HashMap<String, Result<Expr, SyntaxError>>,
}

/// Longest source kept in a [`ParseCache`].
const CACHE_SOURCE_MAX: usize = 1024;

impl ParseCache {
    /// Like [`parse_expression`], through the cache.
    pub fn expression(&mut self, src: &str, offset: usize) -> Result<Expr, SyntaxError> {
        if src.len() > CACHE_SOURCE_MAX {
            return parse_expression(src, offset);
        }
        let parsed = match self.map.get(src) {
            Some(r) => r.clone(),
            None => {
                let r = parse_expression(src, 0);
                self.map.insert(src.to_owned(), r.clone());
                r
            }
        };
        match parsed {
            Ok(mut e) => {
                e.shift(offset);
                Ok(e)
            }
            Err(mut e) => {
                e.span = e.span.start + offset..e.span.end + offset;
                Err(e)
            }
        }
    }

    /// Like [`parse_template`], through the cache.
    pub fn template(&mut self, s: &str) -> (Template, Vec<SyntaxError>) {
        parse_template_with(s, &mut |b, o| self.expression(b, o))
    }
}

fn parse_template_with(
    s: &str,
    parse: &mut dyn FnMut(&str, usize) -> Result<Expr, SyntaxError>,
) -> (Template, Vec<SyntaxError>) {
    let mut parts = Vec::new();
    let mut errors = Vec::new();
    let mut rest = 0usize;
    while let Some(rel) = s[rest..].find("<?") {
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
                    match parse(body, body_start) {
                        Ok(e) => parts.push(Part::Expr(e, open..close)),
                        Err(err) => errors.push(err),
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
    (Template { parts }, errors)
}

/// Length of a segment body up to its closing `?>`, skipping quoted literals.
fn segment_end(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => {
                if b == b'?' && bytes.get(i + 1) == Some(&b'>') {
                    return Some(i);
                }
                if b == b'\'' || b == b'"' {
                    quote = Some(b);
                }
            }
        }
        i += 1;
    }
    // An unbalanced quote inside the segment: fall back to the first `?>`.
    body.find("?>")
}
