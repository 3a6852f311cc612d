//! The expression language: one grammar for conditions and `<? … ?>` template segments, in two
//! dialects — the builder's JavaScript-like one and the Spring SpEL one of Watson workspaces.
//!
//! Parsing gives a tree with spans, bounded in size and depth; evaluation is bounded in steps and
//! in the size of what it builds. Every method an expression may call is declared once, in
//! [`methods`], which the evaluator, the linter and the docs all read.
//!
//! The public surface is small: [`evaluate`], [`condition`] and [`render`] over a [`Scope`],
//! and the method table.
//!
//! ```
//! use fluxo::expr::{condition, evaluate, Dialect, Scope};
//! use serde_json::json;
//!
//! let context = json!({ "n": 7 });
//! let scope = Scope { context: &context, ..Scope::empty() };
//! assert_eq!(evaluate("$n / 2", Dialect::Builder, &scope).unwrap(), json!(3.5));
//! assert_eq!(evaluate("$n / 2", Dialect::Watson, &scope).unwrap(), json!(3));
//! assert!(!condition("1 == '1'", Dialect::Watson, &scope).unwrap());
//! ```

mod ast;
mod dates;
mod eval;
mod methods;
mod parse;
mod regex;
mod scan;
mod shorthand;
mod template;
mod value;

pub(crate) use ast::{display, BinOp, Expr, ExprKind, Span, UnOp};
pub(crate) use eval::{Budget, Evaluator};
pub use methods::{arity_text, Availability, Method, Receiver};
pub(crate) use parse::{parse_expression, SyntaxError};
pub(crate) use regex::compile_regex;
pub(crate) use template::{find_open, ParseCache, Template};

use crate::error::{Error, ErrorKind};
use serde_json::Value as Json;

/// The dialect an expression is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Dialect {
    /// A builder flow: JavaScript semantics.
    #[default]
    Builder,
    /// A Watson Assistant workspace: Spring SpEL semantics, as Watson uses them.
    Watson,
}

/// What expressions can read.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// `context` (`$name`).
    pub context: &'a Json,
    /// `contact`.
    pub contact: &'a Json,
    /// `input` (`input.text`, `input.live_chat.status`, …).
    pub input: &'a Json,
    /// `intents`: `[{intent, confidence}]`, best first.
    pub intents: &'a Json,
    /// `entities`: `[{entity, value, confidence?, location?}]`.
    pub entities: &'a Json,
    /// `env`: environment variables the flow may read.
    pub env: &'a Json,
    /// Other roots: `score_level`, `base_has_answers`, Watson's dialog flags, and the clock
    /// `now()`/`today()` read (`__now`, an RFC 3339 string).
    pub system: &'a Json,
}

static NULL: Json = Json::Null;

impl Scope<'static> {
    /// A scope where every root is empty.
    pub fn empty() -> Scope<'static> {
        Scope {
            context: &NULL,
            contact: &NULL,
            input: &NULL,
            intents: &NULL,
            entities: &NULL,
            env: &NULL,
            system: &NULL,
        }
    }
}

/// The roots a builder flow's expression may name.
pub const ROOTS: &[&str] = &[
    "context",
    "contact",
    "input",
    "intent",
    "intents",
    "entities",
    "confidence",
    "score_level",
    "base_has_answers",
    "env",
];

/// The roots of Watson's expression language (its dialog flags included).
pub const WATSON_ROOTS: &[&str] = &[
    "context",
    "input",
    "intent",
    "intents",
    "entities",
    "output",
    "event",
    "metadata",
    "anything_else",
    "conversation_start",
    "welcome",
    "irrelevant",
    "all_slots_filled",
    "has_skipped_slots",
    "slot_in_focus",
    "returning_from_digression",
    "confidence",
];

impl Dialect {
    /// The roots of the dialect.
    pub fn roots(self) -> &'static [&'static str] {
        match self {
            Dialect::Builder => ROOTS,
            Dialect::Watson => WATSON_ROOTS,
        }
    }
}

/// Every method and function expressions may call, with the dialects that have it.
pub fn methods() -> &'static [Method] {
    methods::all()
}

/// An expression parsed once, to evaluate many times.
#[derive(Debug, Clone)]
pub struct Expression {
    expr: Expr,
    dialect: Dialect,
}

impl Expression {
    /// Parses a condition or the body of a `<? … ?>` segment.
    pub fn parse(src: &str, dialect: Dialect) -> Result<Expression, Error> {
        Ok(Expression {
            expr: parse_expression(src, 0, dialect).map_err(syntax)?,
            dialect,
        })
    }

    /// Evaluates it with the default limits.
    pub fn evaluate(&self, scope: &Scope<'_>) -> Result<Json, Error> {
        Ok(Evaluator::new(*scope, Budget::default(), self.dialect)
            .eval(&self.expr)?
            .into_json())
    }

    /// Evaluates it as a condition (truthiness decides).
    pub fn condition(&self, scope: &Scope<'_>) -> Result<bool, Error> {
        Evaluator::new(*scope, Budget::default(), self.dialect).condition(&self.expr)
    }

    /// The expression written back with normalised spacing and parentheses.
    pub fn display(&self) -> String {
        display(&self.expr, self.dialect)
    }
}

fn syntax(e: SyntaxError) -> Error {
    Error::new(ErrorKind::ExpressionSyntax, e.message).with_span(e.span)
}

/// Parses and evaluates one expression with the default limits.
pub fn evaluate(src: &str, dialect: Dialect, scope: &Scope<'_>) -> Result<Json, Error> {
    Expression::parse(src, dialect)?.evaluate(scope)
}

/// Parses and evaluates a condition (truthiness decides) with the default limits.
pub fn condition(src: &str, dialect: Dialect, scope: &Scope<'_>) -> Result<bool, Error> {
    Expression::parse(src, dialect)?.condition(scope)
}

/// Renders a string with `<? … ?>` segments: a string that is exactly one segment keeps the
/// value's type; otherwise segments are stringified and concatenated, in one pass.
pub fn render(template: &str, dialect: Dialect, scope: &Scope<'_>) -> Result<Json, Error> {
    let t = compile_template(&mut ParseCache::new(dialect), template)?;
    render_compiled(&t, dialect, scope)
}

/// A template parsed once through `cache`, or its first syntax error.
pub(crate) fn compile_template(cache: &mut ParseCache, template: &str) -> Result<Template, Error> {
    let (t, errors) = cache.template(template);
    match errors.into_iter().next() {
        Some(e) => Err(syntax(e)),
        None => Ok(t),
    }
}

/// Renders a template parsed once, as [`render`] does, with the default limits.
pub(crate) fn render_compiled(
    template: &Template,
    dialect: Dialect,
    scope: &Scope<'_>,
) -> Result<Json, Error> {
    Evaluator::new(*scope, Budget::default(), dialect).render(template)
}
