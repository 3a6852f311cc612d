//! The expression language: one grammar for conditions and `<? … ?>` template segments.
//!
//! Parsing ([`parse`]) gives an [`ast::Expr`] with spans; evaluation ([`eval`]) follows
//! JavaScript semantics (truthiness, `undefined`-safe member access) with a step budget.

pub mod ast;
pub mod eval;
pub mod parse;

pub use ast::{BinOp, Expr, ExprKind, Span, UnOp};
pub use eval::{EvalError, Scope};
pub use parse::{parse_expression, parse_template, Part, SyntaxError, Template};
