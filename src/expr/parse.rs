//! Parsing conditions and `<? … ?>` templates into [`Expr`] trees.

use super::ast::{BinOp, Expr, ExprKind, Pick, RegexLit, Span, UnOp};
use super::regex::compile_regex;
use super::scan::Scan;
use super::Dialect;
use pest::iterators::Pair;
use pest::Parser as _;

mod grammar {
    #![allow(missing_docs)]
    #[derive(pest_derive::Parser)]
    #[grammar = "grammar/expr.pest"]
    pub(super) struct Grammar;
}
use grammar::{Grammar, Rule};

/// Deepest bracket nesting accepted in one expression. Deeper input is refused before parsing,
/// so the parser's own recursion is bounded.
pub const MAX_NESTING: usize = 64;

/// Deepest syntax tree accepted (operators, calls and member accesses inside one another).
/// Chains of one operator do not count: `a || b || … || z` is one level. Every recursive stage
/// (compiler, rules, evaluator) is bounded by this, and runs on a 2 MiB stack.
pub const MAX_DEPTH: u32 = 128;

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

/// Parses one expression (a condition, or the body of a template segment).
/// `offset` is added to every span so callers can keep positions relative to a larger string.
pub fn parse_expression(src: &str, offset: usize, dialect: Dialect) -> Result<Expr, SyntaxError> {
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
    let b = Builder { offset, dialect };
    match top {
        Some(expr) => b.expr(expr).map(|(e, _)| e),
        None => Err(SyntaxError {
            message: "empty expression".into(),
            span: offset..offset,
            help: None,
        }),
    }
}

/// Position of the first bracket that goes deeper than [`MAX_NESTING`] (outside string and
/// regex literals).
fn too_deep(src: &str) -> Option<usize> {
    let mut depth = 0usize;
    // The parser reads `c ? a : b ? …` by recursion: bound the count of `?` too.
    let mut questions = 0usize;
    for (i, c) in Scan::new(src) {
        match c {
            '(' | '[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            ')' | ']' => depth = depth.saturating_sub(1),
            '?' => {
                questions += 1;
                if questions > MAX_NESTING {
                    return Some(i);
                }
            }
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
    if let Some(e) = dollar_without_name(src, offset, at) {
        return e;
    }
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

/// A `$` followed by something that is no name (`$220.110.20.6`, an address pasted into a
/// template), when the parser stopped at `at` right after it: said as such, not as the
/// operator the parser expected after the `$`.
fn dollar_without_name(src: &str, offset: usize, at: usize) -> Option<SyntaxError> {
    let dollar = src.get(..at)?.trim_end().strip_suffix('$')?.len();
    let rest = src.get(at..)?;
    if !rest.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '-') {
        return None;
    }
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '?' || c == '}' || c == ')')
        .unwrap_or(rest.len());
    let word = rest.get(..end).unwrap_or(rest);
    Some(SyntaxError {
        message: format!("`$` must be followed by a variable name: `${word}` is not one"),
        span: offset + dollar..offset + at + end,
        help: Some(format!(
            "a variable name starts with a letter or `_` (`$ip`); to show the text itself, write it outside `<? ?>` or quote it: '{word}'"
        )),
    })
}

fn unclosed(src: &str) -> Option<char> {
    let mut stack = Vec::new();
    let mut scan = Scan::new(src);
    for (_, c) in scan.by_ref() {
        match c {
            '(' => stack.push('('),
            '[' => stack.push('['),
            ')' | ']' => {
                stack.pop();
            }
            _ => {}
        }
    }
    scan.open_quote().or_else(|| stack.pop())
}

fn span_of(p: &Pair<'_, Rule>, offset: usize) -> Span {
    let s = p.as_span();
    offset + s.start()..offset + s.end()
}

/// Builds trees from pest's pairs, tracking each subtree's depth so that no tree deeper than
/// [`MAX_DEPTH`] is ever completed.
struct Builder {
    offset: usize,
    dialect: Dialect,
}

type Built = Result<(Expr, u32), SyntaxError>;

impl Builder {
    fn deep(&self, span: &Span) -> SyntaxError {
        SyntaxError {
            message: format!(
                "expression is nested more than {MAX_DEPTH} levels deep (operators, calls or `!` inside one another)"
            ),
            span: span.clone(),
            help: Some("split it with intermediate context variables".into()),
        }
    }

    fn check(&self, depth: u32, span: &Span) -> Result<u32, SyntaxError> {
        if depth > MAX_DEPTH {
            Err(self.deep(span))
        } else {
            Ok(depth)
        }
    }

    fn expr(&self, pair: Pair<'_, Rule>) -> Built {
        // expr = sequence ~ (expr ~ expr)?
        let span = span_of(&pair, self.offset);
        let mut inner = pair.into_inner();
        let Some(first) = inner.next() else {
            return Ok((
                Expr {
                    kind: ExprKind::Undefined,
                    span,
                },
                1,
            ));
        };
        let (cond, dc) = self.sequence(first)?;
        match (inner.next(), inner.next()) {
            (Some(a), Some(b)) => {
                let (a, da) = self.expr(a)?;
                let (b, db) = self.expr(b)?;
                let depth = self.check(1 + dc.max(da).max(db), &span)?;
                Ok((
                    Expr {
                        kind: ExprKind::Cond(Box::new(cond), Box::new(a), Box::new(b)),
                        span,
                    },
                    depth,
                ))
            }
            _ => Ok((cond, dc)),
        }
    }

    /// A flat list of operands and infix operators, grouped by precedence into chains.
    fn sequence(&self, pair: Pair<'_, Rule>) -> Built {
        let mut operands = Vec::new();
        let mut ops = Vec::new();
        for p in pair.into_inner() {
            match binop(p.as_rule()) {
                Some(op) => ops.push(op),
                None => operands.push(self.unary(p)?),
            }
        }
        self.chain(operands, &ops, 1)
    }

    /// Splits `operands` (joined by `ops`) at the operators of `level`; each part is built at
    /// the next level. Recursion is bounded by the number of levels.
    fn chain(&self, mut operands: Vec<(Expr, u32)>, ops: &[BinOp], level: u8) -> Built {
        if ops.is_empty() || level > 7 {
            return match operands.pop() {
                Some(only) if operands.is_empty() => Ok(only),
                // Unreachable by construction (one more operand than operators).
                _ => Err(SyntaxError {
                    message: "malformed expression".into(),
                    span: self.offset..self.offset,
                    help: None,
                }),
            };
        }
        if !ops.iter().any(|o| o.level() == level) {
            return self.chain(operands, ops, level + 1);
        }
        let mut parts: Vec<(Expr, u32)> = Vec::new();
        let mut joins: Vec<BinOp> = Vec::new();
        let mut rest = operands.into_iter();
        let mut group_operands: Vec<(Expr, u32)> = rest.next().into_iter().collect();
        let mut group_ops: Vec<BinOp> = Vec::new();
        for (op, operand) in ops.iter().zip(rest) {
            if op.level() == level {
                parts.push(self.chain(
                    std::mem::take(&mut group_operands),
                    &group_ops,
                    level + 1,
                )?);
                group_ops.clear();
                joins.push(*op);
            } else {
                group_ops.push(*op);
            }
            group_operands.push(operand);
        }
        parts.push(self.chain(group_operands, &group_ops, level + 1)?);
        let mut parts = parts.into_iter();
        let Some((first, mut depth)) = parts.next() else {
            return Err(SyntaxError {
                message: "malformed expression".into(),
                span: self.offset..self.offset,
                help: None,
            });
        };
        let mut chain = Vec::with_capacity(joins.len());
        let mut end = first.span.end;
        for (op, (e, d)) in joins.into_iter().zip(parts) {
            depth = depth.max(d);
            end = e.span.end;
            chain.push((op, e));
        }
        let span = first.span.start..end;
        let depth = self.check(depth + 1, &span)?;
        Ok((
            Expr {
                kind: ExprKind::Chain {
                    first: Box::new(first),
                    rest: chain,
                },
                span,
            },
            depth,
        ))
    }

    fn unary(&self, pair: Pair<'_, Rule>) -> Built {
        let whole = span_of(&pair, self.offset);
        let mut prefixes = Vec::new();
        let mut base: Option<(Expr, u32)> = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::not => prefixes.push((UnOp::Not, span_of(&p, self.offset).start)),
                Rule::neg => prefixes.push((UnOp::Neg, span_of(&p, self.offset).start)),
                Rule::member
                | Rule::opt_member
                | Rule::index
                | Rule::opt_index
                | Rule::call
                | Rule::projection
                | Rule::selection
                | Rule::select_first
                | Rule::select_last => {
                    let Some((obj, d)) = base.take() else {
                        continue;
                    };
                    let (e, dp) = self.postfix(obj, p)?;
                    let depth = self.check(d.max(dp) + 1, &whole)?;
                    base = Some((e, depth));
                }
                _ => base = Some(self.primary(p)?),
            }
        }
        let (mut e, mut depth) = base.unwrap_or((
            Expr {
                kind: ExprKind::Undefined,
                span: self.offset..self.offset,
            },
            1,
        ));
        if prefixes.len() > usize::try_from(MAX_DEPTH).unwrap_or(usize::MAX) {
            return Err(self.deep(&whole));
        }
        for (op, start) in prefixes.into_iter().rev() {
            let span = start..e.span.end;
            depth = self.check(depth + 1, &span)?;
            // `-5` is a number, not a negation of one.
            e = match (op, e.kind) {
                (UnOp::Neg, ExprKind::Int(n)) if n != i64::MIN => Expr {
                    kind: ExprKind::Int(-n),
                    span,
                },
                (UnOp::Neg, ExprKind::Num(n)) => Expr {
                    kind: ExprKind::Num(-n),
                    span,
                },
                (op, kind) => Expr {
                    kind: ExprKind::Unary(op, Box::new(Expr { kind, span: e.span })),
                    span,
                },
            };
        }
        Ok((e, depth))
    }

    fn postfix(&self, obj: Expr, p: Pair<'_, Rule>) -> Built {
        let span = obj.span.start..span_of(&p, self.offset).end;
        let rule = p.as_rule();
        let mut depth = 0;
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
            Rule::index
            | Rule::opt_index
            | Rule::projection
            | Rule::selection
            | Rule::select_first
            | Rule::select_last => {
                let (inner, d) = match p.into_inner().next() {
                    Some(e) => self.expr(e)?,
                    None => (
                        Expr {
                            kind: ExprKind::Undefined,
                            span: span.clone(),
                        },
                        1,
                    ),
                };
                depth = d;
                match rule {
                    Rule::projection => ExprKind::Project {
                        object: Box::new(obj),
                        each: Box::new(inner),
                    },
                    Rule::selection | Rule::select_first | Rule::select_last => ExprKind::Select {
                        object: Box::new(obj),
                        keep: Box::new(inner),
                        pick: match rule {
                            Rule::select_first => Pick::First,
                            Rule::select_last => Pick::Last,
                            _ => Pick::All,
                        },
                    },
                    _ => ExprKind::Index {
                        object: Box::new(obj),
                        index: Box::new(inner),
                    },
                }
            }
            _ => {
                let (args, d) = self.list(p)?;
                depth = d;
                match obj.kind {
                    ExprKind::Member { object, name, .. } => {
                        let name_end = obj.span.end;
                        let name_span = name_end.saturating_sub(name.len())..name_end;
                        let methods = super::methods::by_name(&name);
                        ExprKind::Method {
                            object,
                            name,
                            name_span,
                            args,
                            methods,
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
                        methods: &[],
                    },
                }
            }
        };
        Ok((Expr { kind, span }, depth))
    }

    /// The expressions of a call's or an array's list, and their greatest depth.
    fn list(&self, p: Pair<'_, Rule>) -> Result<(Vec<Expr>, u32), SyntaxError> {
        let mut out = Vec::new();
        let mut depth = 0;
        for e in p.into_inner() {
            let (e, d) = self.expr(e)?;
            depth = depth.max(d);
            out.push(e);
        }
        Ok((out, depth))
    }

    fn primary(&self, p: Pair<'_, Rule>) -> Built {
        let span = span_of(&p, self.offset);
        let mut depth = 1;
        let kind = match p.as_rule() {
            Rule::number => number(p.as_str()),
            Rule::string => ExprKind::Str(unquote(p.as_str(), self.dialect)),
            Rule::regex => {
                let mut it = p.into_inner();
                let raw = it.next().map(|x| x.as_str().to_owned()).unwrap_or_default();
                // The builder reads `\$` as `$` (a bare `$` would start a variable).
                let pattern = match self.dialect {
                    Dialect::Builder => unescape_dollar(&raw),
                    Dialect::Watson => raw,
                };
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
            Rule::array => {
                let (items, d) = self.list(p)?;
                depth = d + 1;
                ExprKind::Array(items)
            }
            Rule::paren => {
                return match p.into_inner().next() {
                    Some(e) => {
                        let (mut e, d) = self.expr(e)?;
                        e.span = span;
                        Ok((e, d))
                    }
                    None => Ok((
                        Expr {
                            kind: ExprKind::Undefined,
                            span,
                        },
                        1,
                    )),
                }
            }
            Rule::type_ref => ExprKind::Type(
                p.into_inner()
                    .next()
                    .map(|n| n.as_str().to_owned())
                    .unwrap_or_default(),
            ),
            Rule::new_expr => {
                let mut it = p.into_inner().filter(|x| x.as_rule() != Rule::new_kw);
                let class = it.next().map(|n| n.as_str().to_owned()).unwrap_or_default();
                let (args, d) = match it.next() {
                    Some(call) => self.list(call)?,
                    None => (Vec::new(), 0),
                };
                depth = d + 1;
                ExprKind::New { class, args }
            }
            Rule::context_var => {
                let mut it = p.into_inner();
                let name = it
                    .next()
                    .map(|n| {
                        // `$(name)`: one pair of parentheses around the name, no more.
                        let s = n.as_str();
                        s.strip_prefix('(')
                            .and_then(|x| x.strip_suffix(')'))
                            .unwrap_or(s)
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
        Ok((Expr { kind, span }, depth))
    }
}

fn binop(r: Rule) -> Option<BinOp> {
    Some(match r {
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
        Rule::rem => BinOp::Rem,
        Rule::matches => BinOp::Matches,
        _ => return None,
    })
}

/// A number literal: whole numbers (`42`, `1000L`) stay whole; a fraction or exponent makes a
/// float. A whole number too large for 64 bits becomes a float.
fn number(text: &str) -> ExprKind {
    let t = text.trim_end_matches(['l', 'L']);
    if !t.contains(['.', 'e', 'E']) {
        if let Ok(i) = t.parse::<i64>() {
            return ExprKind::Int(i);
        }
    }
    ExprKind::Num(t.parse().unwrap_or(f64::NAN))
}

fn sigil_value(v: Pair<'_, Rule>) -> String {
    let s = v.into_inner().next().map_or("", |x| x.as_str());
    s.strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(s)
        .to_owned()
}

/// A builder regex body with each `\$` read as `$`; `\\` stays an escaped backslash, so
/// `\\$` is a backslash and the end of the line.
fn unescape_dollar(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some('$')) => {
                out.push('$');
                chars.next();
            }
            ('\\', Some(next)) => {
                out.push('\\');
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// Decodes a quoted literal.
///
/// Builder flows: known escapes are decoded (`\n \t \r \b \f \0 \\ \' \" \/ \uXXXX`), and
/// `\$` is `$` (the builder's escape for a dollar that would otherwise start a variable); an
/// unknown escape such as `\d` keeps its backslash, so regex patterns written as strings
/// (`matches('^\d+$')`) mean what their authors meant. `''` inside single quotes is an
/// apostrophe.
///
/// Watson workspaces (SpEL): no backslash escapes at all — `'\d'` is two characters, as Spring
/// reads it; only a doubled quote stands for the quote.
pub fn unquote(lit: &str, dialect: Dialect) -> String {
    let quote = lit.chars().next().unwrap_or('\'');
    let body = lit.get(1..lit.len().saturating_sub(1)).unwrap_or("");
    if dialect == Dialect::Watson {
        let doubled: String = [quote, quote].iter().collect();
        return body.replace(&doubled, &quote.to_string());
    }
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
                Some(q @ ('\\' | '\'' | '"' | '/' | '$')) => out.push(q),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dollar_without_a_name_is_explained_by_the_parser() {
        // The span starts at the `$` and covers what follows it, shifted by the offset.
        let e = parse_expression("$220.110.20.6", 10, Dialect::Builder).unwrap_err();
        assert_eq!(
            e.message,
            "`$` must be followed by a variable name: `$220.110.20.6` is not one"
        );
        assert_eq!(e.span, 10..23);
        assert!(e.help.is_some_and(|h| h.contains("'220.110.20.6'")));
        let e = parse_expression("$ip == $-1", 0, Dialect::Builder).unwrap_err();
        assert_eq!(
            e.message,
            "`$` must be followed by a variable name: `$-1` is not one"
        );
        assert_eq!(e.span, 7..10);
        // Other mistakes keep their own message.
        let e = parse_expression("$ip = 1", 0, Dialect::Builder).unwrap_err();
        assert!(e.message.contains("single `=`"), "{}", e.message);
    }
}
