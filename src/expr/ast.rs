//! The expression syntax tree.

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

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `??`
    Nullish,
    /// `?:` (Elvis): the left side unless it is falsy.
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
    /// A number.
    Num(f64),
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
    },
    /// `f(args)` for the few global functions (`now`, `today`).
    Call {
        /// Function name.
        name: String,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// `!a`, `-a`
    Unary(UnOp, Box<Expr>),
    /// `a op b`
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `c ? a : b`
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Moves every span of the tree `by` bytes to the right.
    pub fn shift(&mut self, by: usize) {
        if by == 0 {
            return;
        }
        self.span = self.span.start + by..self.span.end + by;
        match &mut self.kind {
            ExprKind::Array(items) | ExprKind::Call { args: items, .. } => {
                items.iter_mut().for_each(|e| e.shift(by))
            }
            ExprKind::Member { object, .. } => object.shift(by),
            ExprKind::Index { object, index } => {
                object.shift(by);
                index.shift(by);
            }
            ExprKind::Method {
                object,
                args,
                name_span,
                ..
            } => {
                *name_span = name_span.start + by..name_span.end + by;
                object.shift(by);
                args.iter_mut().for_each(|e| e.shift(by));
            }
            ExprKind::Unary(_, e) => e.shift(by),
            ExprKind::Binary(_, a, b) => {
                a.shift(by);
                b.shift(by);
            }
            ExprKind::Cond(c, a, b) => {
                c.shift(by);
                a.shift(by);
                b.shift(by);
            }
            _ => {}
        }
    }

    /// Calls `f` on this node and every node below it, parents first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Array(items) | ExprKind::Call { args: items, .. } => {
                items.iter().for_each(|e| e.walk(f))
            }
            ExprKind::Member { object, .. } => object.walk(f),
            ExprKind::Index { object, index } => {
                object.walk(f);
                index.walk(f);
            }
            ExprKind::Method { object, args, .. } => {
                object.walk(f);
                args.iter().for_each(|e| e.walk(f));
            }
            ExprKind::Unary(_, e) => e.walk(f),
            ExprKind::Binary(_, a, b) => {
                a.walk(f);
                b.walk(f);
            }
            ExprKind::Cond(c, a, b) => {
                c.walk(f);
                a.walk(f);
                b.walk(f);
            }
            _ => {}
        }
    }

    /// The dotted path this expression reads, when it is a plain path from a root
    /// (`input.live_chat.status` → `["input", "live_chat", "status"]`; `$x.y` → `["context", "x", "y"]`).
    pub fn path(&self) -> Option<Vec<&str>> {
        match &self.kind {
            ExprKind::Ident(n) => Some(vec![n.as_str()]),
            ExprKind::Var(n) => Some(vec!["context", n.as_str()]),
            ExprKind::Member { object, name, .. } => {
                let mut p = object.path()?;
                p.push(name);
                Some(p)
            }
            ExprKind::Index { object, index } => match &index.kind {
                ExprKind::Str(s) => {
                    let mut p = object.path()?;
                    p.push(s);
                    Some(p)
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// The expression written back as source text (normalised spacing and parentheses).
pub fn display(e: &Expr) -> String {
    let op = |o: BinOp| match o {
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
    };
    let list = |items: &[Expr]| items.iter().map(display).collect::<Vec<_>>().join(", ");
    match &e.kind {
        ExprKind::Str(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        ExprKind::Num(n) => crate::expr::eval::fmt_num(*n),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Null => "null".into(),
        ExprKind::Undefined => "undefined".into(),
        ExprKind::Regex(r) => format!("/{}/{}", r.pattern, r.flags),
        ExprKind::Array(items) => format!("[{}]", list(items)),
        ExprKind::Ident(n) => n.clone(),
        ExprKind::Var(n) => format!("${n}"),
        ExprKind::VarIs(n, v) => format!("${n}:({v})"),
        ExprKind::Intent(n) => format!("#{n}"),
        ExprKind::Entity(n) => format!("@{n}"),
        ExprKind::EntityIs(n, v) => format!("@{n}:({v})"),
        ExprKind::Member {
            object,
            name,
            optional,
        } => format!(
            "{}{}{name}",
            display(object),
            if *optional { "?." } else { "." }
        ),
        ExprKind::Index { object, index } => format!("{}[{}]", display(object), display(index)),
        ExprKind::Method {
            object, name, args, ..
        } => format!("{}.{name}({})", display(object), list(args)),
        ExprKind::Call { name, args } => format!("{name}({})", list(args)),
        ExprKind::Unary(UnOp::Not, x) => format!("!{}", paren(x)),
        ExprKind::Unary(UnOp::Neg, x) => format!("-{}", paren(x)),
        ExprKind::Binary(o, a, b) => format!("{} {} {}", paren(a), op(*o), paren(b)),
        ExprKind::Cond(c, a, b) => format!("{} ? {} : {}", paren(c), paren(a), paren(b)),
    }
}

fn paren(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Binary(..) | ExprKind::Cond(..) => format!("({})", display(e)),
        _ => display(e),
    }
}
