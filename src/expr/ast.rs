//! The expression syntax tree.
//!
//! Chains of one precedence level (`a || b || c`, `a + b - c`) are one n-ary node rather than a
//! left-leaning tower of binary nodes, so a long but flat condition (2,000 alternatives joined by
//! `||`) stays shallow; the parser bounds the depth of every tree ([`super::parse::MAX_DEPTH`]),
//! so every recursive stage (the evaluator, the compiler, the rules) is bounded too.

use super::methods::Method;
use super::value::fmt_num;
use super::Dialect;
use std::ops::Range;
use std::sync::Arc;

/// Byte range inside the expression source.
pub type Span = Range<usize>;

/// An expression node with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is, relative to the start of the expression source.
    pub span: Span,
}

/// Which matches a SpEL selection keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// `.?[…]`: every match, as a list.
    All,
    /// `.^[…]`: the first match, or null.
    First,
    /// `.$[…]`: the last match, or null.
    Last,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `??`
    Nullish,
    /// `?:` (Elvis): the left side unless it is null or empty.
    Elvis,
    /// `||`, `or`
    Or,
    /// `&&`, `and`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `===`
    StrictEq,
    /// `!==`
    StrictNe,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// SpEL's `text matches 'regex'`: the whole text matches.
    Matches,
}

impl BinOp {
    /// Binding strength: operators of one level chain left to right.
    pub fn level(self) -> u8 {
        match self {
            BinOp::Nullish | BinOp::Elvis => 1,
            BinOp::Or => 2,
            BinOp::And => 3,
            BinOp::Eq | BinOp::Ne | BinOp::StrictEq | BinOp::StrictNe => 4,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Matches => 5,
            BinOp::Add | BinOp::Sub => 6,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 7,
        }
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Nullish => "??",
            BinOp::Elvis => "?:",
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::StrictEq => "===",
            BinOp::StrictNe => "!==",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Matches => "matches",
        }
    }
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `!`, `not`
    Not,
    /// unary `-`
    Neg,
}

/// A compiled regex literal.
#[derive(Debug, Clone)]
pub struct RegexLit {
    /// Pattern as written.
    pub pattern: String,
    /// Flags as written.
    pub flags: String,
    /// The compiled pattern; `None` when the linear-time engine cannot run it.
    pub compiled: Option<Arc<regex::Regex>>,
}

impl PartialEq for RegexLit {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern && self.flags == other.flags
    }
}

/// Expression kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `'s'`, `"s"`
    Str(String),
    /// A number written with a fraction or exponent (`2.5`, `1e3`).
    Num(f64),
    /// A whole number (`42`, `1000L`).
    Int(i64),
    /// `true`, `false`
    Bool(bool),
    /// `null`
    Null,
    /// `undefined`
    Undefined,
    /// `/re/flags`
    Regex(RegexLit),
    /// `[a, b]`
    Array(Vec<Expr>),
    /// A bare name: a root (`input`, `context`, …) or an unknown identifier.
    Ident(String),
    /// `$name` (= `context.name`).
    Var(String),
    /// Watson `$name:value` (= `context.name == 'value'`).
    VarIs(String, String),
    /// `#intent` (true when the top intent is `intent`).
    Intent(String),
    /// `@entity` (its first value, or undefined).
    Entity(String),
    /// `@entity:value` (true when any mention of the entity has that value).
    EntityIs(String, String),
    /// `a.b`, `a?.b`
    Member {
        /// Object.
        object: Box<Expr>,
        /// Property name.
        name: String,
        /// `?.`
        optional: bool,
    },
    /// `a[i]`, `a?.[i]`
    Index {
        /// Object.
        object: Box<Expr>,
        /// Index expression.
        index: Box<Expr>,
    },
    /// `a.m(args)`
    Method {
        /// Receiver.
        object: Box<Expr>,
        /// Method name.
        name: String,
        /// Span of the method name.
        name_span: Span,
        /// Arguments.
        args: Vec<Expr>,
        /// The table entries with that name (resolved once, when parsed); empty when unknown.
        methods: &'static [Method],
    },
    /// `f(args)` for the global functions (`now`, `today`).
    Call {
        /// Function name.
        name: String,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// SpEL `T(Math)`: a type whose static methods may be called.
    Type(String),
    /// SpEL `new JsonArray()`.
    New {
        /// Class name as written.
        class: String,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// SpEL projection `list.![expr]` (`#this` is each element).
    Project {
        /// The collection.
        object: Box<Expr>,
        /// What to compute per element.
        each: Box<Expr>,
    },
    /// SpEL selection `list.?[condition]` (every match), `list.^[condition]` (the first) or
    /// `list.$[condition]` (the last).
    Select {
        /// The collection.
        object: Box<Expr>,
        /// Which elements to keep.
        keep: Box<Expr>,
        /// Every match, the first or the last.
        pick: Pick,
    },
    /// `!a`, `-a`
    Unary(UnOp, Box<Expr>),
    /// `a op b op c …`: operators of one precedence level, applied left to right.
    Chain {
        /// The first operand.
        first: Box<Expr>,
        /// Each operator with its right operand.
        rest: Vec<(BinOp, Expr)>,
    },
    /// `c ? a : b`
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Moves every span of the tree `by` bytes to the right.
    pub fn shift(&mut self, by: usize) {
        if by == 0 {
            return;
        }
        self.walk_mut(&mut |e| {
            e.span = e.span.start + by..e.span.end + by;
            if let ExprKind::Method { name_span, .. } = &mut e.kind {
                *name_span = name_span.start + by..name_span.end + by;
            }
        });
    }

    /// Calls `f` on each direct child, in source order.
    pub fn for_each_child<'a>(&'a self, mut f: impl FnMut(&'a Expr)) {
        match &self.kind {
            ExprKind::Array(items) | ExprKind::Call { args: items, .. } => items.iter().for_each(f),
            ExprKind::New { args, .. } => args.iter().for_each(f),
            ExprKind::Member { object, .. } => f(object),
            ExprKind::Index { object, index } => {
                f(object);
                f(index);
            }
            ExprKind::Method { object, args, .. } => {
                f(object);
                args.iter().for_each(f);
            }
            ExprKind::Project { object, each: x }
            | ExprKind::Select {
                object, keep: x, ..
            } => {
                f(object);
                f(x);
            }
            ExprKind::Unary(_, e) => f(e),
            ExprKind::Chain { first, rest } => {
                f(first);
                rest.iter().for_each(|(_, e)| f(e));
            }
            ExprKind::Cond(c, a, b) => {
                f(c);
                f(a);
                f(b);
            }
            _ => {}
        }
    }

    fn for_each_child_mut(&mut self, mut f: impl FnMut(&mut Expr)) {
        match &mut self.kind {
            ExprKind::Array(items) | ExprKind::Call { args: items, .. } => {
                items.iter_mut().for_each(f)
            }
            ExprKind::New { args, .. } => args.iter_mut().for_each(f),
            ExprKind::Member { object, .. } => f(object),
            ExprKind::Index { object, index } => {
                f(object);
                f(index);
            }
            ExprKind::Method { object, args, .. } => {
                f(object);
                args.iter_mut().for_each(f);
            }
            ExprKind::Project { object, each: x }
            | ExprKind::Select {
                object, keep: x, ..
            } => {
                f(object);
                f(x);
            }
            ExprKind::Unary(_, e) => f(e),
            ExprKind::Chain { first, rest } => {
                f(first);
                rest.iter_mut().for_each(|(_, e)| f(e));
            }
            ExprKind::Cond(c, a, b) => {
                f(c);
                f(a);
                f(b);
            }
            _ => {}
        }
    }

    /// Calls `f` on this node and every node below it, parents first. The recursion is bounded
    /// by the parser's depth limit. Generic, so that each rule's walk is compiled with its own
    /// `f` inlined, not called through a pointer at every node.
    pub fn walk<'a, F: FnMut(&'a Expr) + ?Sized>(&'a self, f: &mut F) {
        f(self);
        self.for_each_child(|c| c.walk(f));
    }

    /// Like [`Expr::walk`], mutably.
    pub fn walk_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        f(self);
        self.for_each_child_mut(|c| c.walk_mut(f));
    }

    /// The dotted path this expression reads, when it is a plain path from a root
    /// (`input.live_chat.status` → `["input", "live_chat", "status"]`; `$x.y` → `["context", "x", "y"]`).
    pub fn path(&self) -> Option<Vec<&str>> {
        let mut segments = Vec::new();
        let mut cur = self;
        loop {
            match cur.path_step()? {
                PathStep::Segment(s, object) => {
                    segments.push(s);
                    cur = object;
                }
                PathStep::Root(prefix, name) => {
                    segments.push(name);
                    segments.extend(prefix);
                    break;
                }
            }
        }
        segments.reverse();
        Some(segments)
    }

    /// True when [`Expr::path`] is `want`, found without building the path (rules ask this of
    /// every node of every tree).
    pub fn is_path(&self, want: &[&str]) -> bool {
        let mut cur = self;
        let mut rest = want;
        loop {
            match cur.path_step() {
                Some(PathStep::Segment(s, object)) => match rest.split_last() {
                    Some((last, init)) if *last == s => {
                        rest = init;
                        cur = object;
                    }
                    _ => return false,
                },
                Some(PathStep::Root(None, name)) => return rest == [name],
                Some(PathStep::Root(Some(prefix), name)) => return rest == [prefix, name],
                None => return false,
            }
        }
    }

    /// The last step of the path this expression reads, or `None` when it reads no plain path.
    fn path_step(&self) -> Option<PathStep<'_>> {
        match &self.kind {
            ExprKind::Ident(n) => Some(PathStep::Root(None, n)),
            ExprKind::Var(n) => Some(PathStep::Root(Some("context"), n)),
            ExprKind::Member { object, name, .. } => Some(PathStep::Segment(name, object)),
            ExprKind::Index { object, index } => match &index.kind {
                ExprKind::Str(s) => Some(PathStep::Segment(s, object)),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The expression written back as source text (normalised spacing and parentheses).
pub fn display(e: &Expr, d: Dialect) -> String {
    let list = |items: &[Expr]| {
        items
            .iter()
            .map(|x| display(x, d))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &e.kind {
        ExprKind::Str(s) => quote(s, d),
        ExprKind::Num(n) => num_literal(*n),
        ExprKind::Int(n) => n.to_string(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Null => "null".into(),
        ExprKind::Undefined => "undefined".into(),
        ExprKind::Regex(r) => format!("/{}/{}", regex_body(&r.pattern), r.flags),
        ExprKind::Array(items) => format!("[{}]", list(items)),
        ExprKind::Ident(n) => n.clone(),
        ExprKind::Var(n) => var(n),
        ExprKind::VarIs(n, v) => format!("{}:({v})", var(n)),
        ExprKind::Intent(n) => format!("#{n}"),
        ExprKind::Entity(n) => format!("@{n}"),
        ExprKind::EntityIs(n, v) => format!("@{n}:({v})"),
        ExprKind::Member {
            object,
            name,
            optional,
        } => format!(
            "{}{}{name}",
            receiver(object, d),
            if *optional { "?." } else { "." }
        ),
        ExprKind::Index { object, index } => {
            format!("{}[{}]", receiver(object, d), display(index, d))
        }
        // A call on something that is not a method (`(a)(b)`, `$f(1)`) keeps its shape so
        // that the linter can point at it.
        ExprKind::Method {
            object, name, args, ..
        } if name.is_empty() => format!("{}({})", receiver(object, d), list(args)),
        ExprKind::Method {
            object, name, args, ..
        } => format!("{}.{name}({})", receiver(object, d), list(args)),
        ExprKind::Call { name, args } => format!("{name}({})", list(args)),
        ExprKind::Type(t) => format!("T({t})"),
        ExprKind::New { class, args } => format!("new {class}({})", list(args)),
        ExprKind::Project { object, each } => {
            format!("{}.![{}]", receiver(object, d), display(each, d))
        }
        ExprKind::Select { object, keep, pick } => {
            let op = match pick {
                Pick::All => "?",
                Pick::First => "^",
                Pick::Last => "$",
            };
            format!("{}.{op}[{}]", receiver(object, d), display(keep, d))
        }
        ExprKind::Unary(UnOp::Not, x) => format!("!{}", paren(x, d)),
        ExprKind::Unary(UnOp::Neg, x) => format!("-{}", paren(x, d)),
        ExprKind::Chain { first, rest } => {
            let mut s = paren(first, d);
            for (op, x) in rest {
                s.push(' ');
                s.push_str(op.as_str());
                s.push(' ');
                s.push_str(&paren(x, d));
            }
            s
        }
        ExprKind::Cond(c, a, b) => format!("{} ? {} : {}", paren(c, d), paren(a, d), paren(b, d)),
    }
}

/// A regex pattern as a literal's body. The grammar reads `[` as the start of a class only when
/// a `]` closes it; a lone `[` is written `\[` so that text after the literal (a string with a
/// `]`) cannot complete it when the expression is read back.
fn regex_body(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        let len = match c {
            '\\' => rest.chars().take(2).map(char::len_utf8).sum(),
            '[' => class_len(rest).unwrap_or(0),
            _ => c.len_utf8(),
        };
        if len == 0 {
            out.push_str("\\[");
            rest = &rest[1..];
        } else {
            out.push_str(&rest[..len]);
            rest = &rest[len..];
        }
    }
    out
}

/// The length of the class `[…]` at the start of `s`, as the grammar reads one.
fn class_len(s: &str) -> Option<usize> {
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            ']' => return Some(i + 1),
            '\\' => {
                chars.next();
            }
            '\n' | '\r' => return None,
            _ => {}
        }
    }
    None
}

/// A decimal literal that reads back as a decimal: `2.0`, not `2` (an integer, which divides
/// differently in Watson), and `-0.0`, not `-0` (which is the integer 0).
fn num_literal(n: f64) -> String {
    let s = fmt_num(n);
    if n.is_finite() && !s.contains(['.', 'e', 'E']) {
        format!("{s}.0")
    } else {
        s
    }
}

/// `$name`, or `$(name)` when the name is not a plain identifier (`$(first-name)`).
fn var(n: &str) -> String {
    let mut chars = n.chars();
    let plain = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_');
    if plain {
        format!("${n}")
    } else {
        format!("$({n})")
    }
}

/// A string literal the dialect reads back as `s`: Watson (SpEL) has no backslash escapes and
/// doubles the quote; builder flows escape the backslash and the quote.
fn quote(s: &str, d: Dialect) -> String {
    match d {
        Dialect::Watson => format!("'{}'", s.replace('\'', "''")),
        Dialect::Builder => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
    }
}

/// The object of a member, index or call: operators and negative numbers in parentheses, so
/// that `(-5).toFixed(1)` is not written back as `-5.toFixed(1)`.
fn receiver(e: &Expr, d: Dialect) -> String {
    match &e.kind {
        ExprKind::Unary(..) => format!("({})", display(e, d)),
        ExprKind::Int(n) if *n < 0 => format!("({n})"),
        ExprKind::Num(n) if n.is_sign_negative() => format!("({})", num_literal(*n)),
        _ => paren(e, d),
    }
}

fn paren(e: &Expr, d: Dialect) -> String {
    match &e.kind {
        ExprKind::Chain { .. } | ExprKind::Cond(..) => format!("({})", display(e, d)),
        _ => display(e, d),
    }
}

/// One step of a path read from its end ([`Expr::path`]).
enum PathStep<'a> {
    /// A member or a string index: its name, and what it is read from.
    Segment(&'a str, &'a Expr),
    /// The root: a name, after `context` for a `$variable`.
    Root(Option<&'static str>, &'a str),
}

#[cfg(test)]
mod tests {
    use crate::expr::parse::parse_expression;
    use crate::expr::Dialect;

    /// `is_path` answers what comparing `path` would, on paths from every kind of root, on
    /// what is not a path, and on prefixes and extensions of the path asked for.
    #[test]
    fn is_path_agrees_with_path() {
        let sources = [
            "input",
            "input.live_chat.status",
            "input['live_chat'].status",
            "input.live_chat['status']",
            "input.live_chat.status.x",
            "input.live_chat",
            "live_chat.status",
            "x.input.live_chat.status",
            "$status",
            "$x.y",
            "context.x.y",
            "context['x']",
            "input[0].text",
            "input.text.trim()",
            "'input'",
            "input?.live_chat?.status",
        ];
        let asked: [&[&str]; 7] = [
            &["input", "live_chat", "status"],
            &["input", "live_chat"],
            &["input", "text"],
            &["input"],
            &["context", "x", "y"],
            &["context", "status"],
            &[],
        ];
        for src in sources {
            let e = parse_expression(src, 0, Dialect::Builder).expect(src);
            let mut nodes = Vec::new();
            e.walk(&mut |x| nodes.push(x));
            for x in nodes {
                for want in asked {
                    assert_eq!(
                        x.is_path(want),
                        x.path().is_some_and(|p| p == want),
                        "{src}: {want:?}"
                    );
                }
            }
        }
    }
}
