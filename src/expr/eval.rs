//! Evaluating expressions and rendering templates, in either dialect.
//!
//! Builder flows follow JavaScript (truthiness, `+`, loose `==`, `&&` returning operands), with
//! `undefined`-safe member access and method calls. Watson workspaces follow Spring SpEL as
//! Watson uses it: typed `==` (`1 == '1'` is false), integer division, `null` ordered below
//! everything, `+` concatenating with Java's `String.valueOf`, and conditions made true or false
//! by the same rule as JavaScript's truthiness (Watson never throws on a missing value).
//!
//! Evaluation is bounded: every node visited costs one step of [`Budget::steps`], no string or
//! array may grow past [`Budget::max_len`], and copies may take at most 16 × that in all. The
//! recursion is bounded by the parser's depth limit.

use super::ast::{BinOp, Expr, ExprKind, Pick, UnOp};
use super::methods::{self, expr_error, too_large, Call};
use super::template::{Part, Template};
use super::value::{equals, float, member, order, strict_eq, Val};
use super::{Dialect, Scope, Span};
use crate::error::{Error, ErrorKind};
use serde_json::{json, Map, Value as Json};
use std::borrow::Cow;
use std::cmp::Ordering;

/// Limits for one evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Expression nodes that may be visited.
    pub steps: u64,
    /// Longest string (bytes) or array (items) that may be produced.
    pub max_len: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            steps: 100_000,
            max_len: 1 << 20,
        }
    }
}

/// An evaluator with a budget; reusable across expressions of one turn.
pub struct Evaluator<'s> {
    pub(super) scope: Scope<'s>,
    pub(super) dialect: Dialect,
    steps_left: u64,
    max_len: usize,
    /// Bytes that copies made during evaluation may still take (16 × `max_len`).
    alloc_left: usize,
    /// `#this` inside a SpEL projection or selection.
    pub(super) this: Option<Val<'static>>,
}

type R<'a> = Result<Val<'a>, Error>;

impl<'s> Evaluator<'s> {
    /// An evaluator over `scope` with `budget`, in `dialect`.
    pub fn new(scope: Scope<'s>, budget: Budget, dialect: Dialect) -> Self {
        Evaluator {
            scope,
            dialect,
            steps_left: budget.steps,
            max_len: budget.max_len,
            alloc_left: budget.max_len.saturating_mul(16),
            this: None,
        }
    }

    /// Evaluates a condition to a boolean (JavaScript truthiness; Watson's rule is the same).
    pub fn condition(&mut self, e: &Expr) -> Result<bool, Error> {
        Ok(self.eval(e)?.truthy())
    }

    /// Renders a template: one segment keeps its type; otherwise segments are stringified and
    /// concatenated. Text that comes from a value is never scanned for `<? ?>` again.
    pub fn render(&mut self, t: &Template) -> Result<Json, Error> {
        if let [Part::Expr(e, _)] = t.parts.as_slice() {
            return Ok(self.eval(e)?.into_json());
        }
        let mut out = String::new();
        for p in &t.parts {
            match p {
                Part::Text(s) => out.push_str(s),
                Part::Expr(e, span) => {
                    let v = self.eval(e)?;
                    out.push_str(&v.to_text());
                    if out.len() > self.max_len {
                        return Err(too_large(span, self.max_len));
                    }
                }
            }
        }
        Ok(Json::String(out))
    }

    /// Evaluates an expression.
    pub fn eval<'e>(&mut self, e: &'e Expr) -> R<'e>
    where
        's: 'e,
    {
        if self.steps_left == 0 {
            return Err(expr_error(
                ErrorKind::ExpressionFuel,
                &e.span,
                "evaluation took too many steps",
            ));
        }
        self.steps_left -= 1;
        let scope = self.scope;
        Ok(match &e.kind {
            ExprKind::Str(s) => Val::Str(Cow::Borrowed(s)),
            ExprKind::Num(n) => Val::Num(*n),
            ExprKind::Int(n) => Val::Int(*n),
            ExprKind::Bool(b) => Val::Bool(*b),
            ExprKind::Null => Val::Null,
            ExprKind::Undefined => Val::Undefined,
            ExprKind::Regex(r) => match &r.compiled {
                Some(re) => Val::Regex(re.clone(), r.flags.contains('g')),
                None => {
                    return Err(expr_error(
                        ErrorKind::ExpressionRegex,
                        &e.span,
                        format!(
                            "the pattern /{}/ cannot run on a linear-time engine",
                            r.pattern
                        ),
                    ))
                }
            },
            ExprKind::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    let v = self.eval(it)?;
                    self.charge(&v, &e.span)?;
                    out.push(v.into_json());
                }
                Val::Own(Json::Array(out))
            }
            ExprKind::Ident(name) => self.root(name),
            ExprKind::Var(name) => member(Val::Ref(scope.context), name),
            ExprKind::VarIs(name, v) => {
                let cur = member(Val::Ref(scope.context), name);
                Val::Bool(!cur.is_nullish() && cur.js_string() == *v)
            }
            ExprKind::Intent(name) => {
                if name == "this" {
                    if let Some(t) = &self.this {
                        return Ok(t.clone());
                    }
                }
                Val::Bool(self.top_intent() == Some(name.as_str()))
            }
            ExprKind::Entity(name) => match self.mentions(name).next() {
                Some(m) => self.entity_value(m),
                None => Val::Undefined,
            },
            ExprKind::EntityIs(name, v) => Val::Bool(
                self.mentions(name)
                    .filter_map(|m| m.get("value"))
                    .any(|x| Val::from_json(x).js_string() == *v),
            ),
            ExprKind::Member { object, name, .. } => {
                if let Some(v) = self.intent_property(object, name) {
                    return Ok(v);
                }
                if let ExprKind::Entity(entity) = &object.kind {
                    // `@e.literal`, `@e.confidence`, `@e.location`, `@e.values`: properties of
                    // the mention, not of its value.
                    if let Some(v) = self.entity_property(entity, name) {
                        return Ok(v);
                    }
                }
                let o = self.eval(object)?;
                self.member_of(o, name)
            }
            ExprKind::Index { object, index } => {
                let o = self.eval(object)?;
                let i = self.eval(index)?;
                self.index_of(o, &i)
            }
            ExprKind::Method {
                object,
                name,
                name_span,
                args,
                methods,
            } => {
                let o = self.eval(object)?;
                let mut a = Vec::with_capacity(args.len());
                for x in args {
                    a.push(self.eval(x)?);
                }
                if o.is_nullish() {
                    // `undefined`-safe: a method on a missing value gives undefined.
                    Val::Undefined
                } else if let Some(v) = self.entities_get(&o, name, &a) {
                    v
                } else if !methods
                    .iter()
                    .any(|m| m.availability.includes(self.dialect))
                {
                    return Err(expr_error(
                        ErrorKind::ExpressionUnknownMethod,
                        name_span,
                        if name.is_empty() {
                            "only methods can be called".to_string()
                        } else {
                            format!("`{name}` is not a known method")
                        },
                    ));
                } else {
                    let mut call = self.call(name_span);
                    methods::call(methods, name, &mut call, o, &a)?
                }
            }
            ExprKind::Call { name, args } => {
                let mut a = Vec::with_capacity(args.len());
                for x in args {
                    a.push(self.eval(x)?);
                }
                let mut call = self.call(&e.span);
                methods::call_function(methods::by_name(name), name, &mut call, &a)?
            }
            ExprKind::Type(t) => match t.as_str() {
                "Math" | "java.lang.Math" => Val::Type("Math"),
                other => {
                    return Err(expr_error(
                        ErrorKind::ExpressionType,
                        &e.span,
                        format!("the type `{other}` is not available; only T(Math) is"),
                    ))
                }
            },
            ExprKind::New { class, args } => {
                for x in args {
                    self.eval(x)?;
                }
                match class.rsplit('.').next().unwrap_or_default() {
                    "JsonArray" | "JSONArray" | "ArrayList" => Val::Own(Json::Array(Vec::new())),
                    "JsonObject" | "JSONObject" | "HashMap" => Val::Own(Json::Object(Map::new())),
                    _ => {
                        return Err(expr_error(
                            ErrorKind::ExpressionType,
                            &e.span,
                            format!("`new {class}` is not available; only new JsonArray() and new JsonObject() are"),
                        ))
                    }
                }
            }
            ExprKind::Project { object, each } => {
                let o = self.eval(object)?;
                // A map projects its entries (`#this.key`, `#this.value`), as Spring's does.
                let items = match o.json() {
                    Some(Json::Object(m)) => entries(m),
                    _ => o.array().cloned().unwrap_or_default(),
                };
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let v = self.with_this(item, each)?;
                    out.push(v);
                }
                Val::Own(Json::Array(out))
            }
            ExprKind::Select { object, keep, pick } => {
                let o = self.eval(object)?;
                if let Some(Json::Object(m)) = o.json() {
                    // A map keeps the entries whose `#this.key` / `#this.value` match: a map.
                    let m = m.clone();
                    let mut out = Map::new();
                    for (k, v) in m {
                        let entry = json!({ "key": k, "value": v });
                        if Val::from_json(&self.with_this(entry, keep)?).truthy() {
                            if *pick == Pick::First {
                                return Ok(Val::Own(json!({ k: v })));
                            }
                            if *pick == Pick::Last {
                                out.clear();
                            }
                            out.insert(k, v);
                        }
                    }
                    return Ok(match pick {
                        Pick::All => Val::Own(Json::Object(out)),
                        _ if out.is_empty() => Val::Null,
                        _ => Val::Own(Json::Object(out)),
                    });
                }
                let items = o.array().cloned().unwrap_or_default();
                let mut out = Vec::new();
                for item in items {
                    if Val::from_json(&self.with_this(item.clone(), keep)?).truthy() {
                        if *pick == Pick::First {
                            return Ok(Val::Own(item).normalize());
                        }
                        out.push(item);
                    }
                }
                match pick {
                    Pick::All => Val::Own(Json::Array(out)),
                    _ => out.pop().map_or(Val::Null, |x| Val::Own(x).normalize()),
                }
            }
            ExprKind::Unary(op, x) => {
                let v = self.eval(x)?;
                match op {
                    UnOp::Not => Val::Bool(!v.truthy()),
                    UnOp::Neg => match (self.dialect, v) {
                        (_, Val::Int(n)) => n.checked_neg().map_or(Val::Num(-float(n)), Val::Int),
                        (Dialect::Watson, Val::Num(n)) => Val::Num(-n),
                        (Dialect::Watson, other) => {
                            return Err(expr_error(
                                ErrorKind::ExpressionType,
                                &e.span,
                                format!("`-` does not apply to {}", kind_name(&other)),
                            ))
                        }
                        (Dialect::Builder, v) => Val::Num(-v.to_num()),
                    },
                }
            }
            ExprKind::Chain { first, rest } => self.chain(first, rest)?,
            ExprKind::Cond(c, a, b) => {
                if self.eval(c)?.truthy() {
                    self.eval(a)?
                } else {
                    self.eval(b)?
                }
            }
        })
    }

    fn call<'c>(&self, span: &'c Span) -> Call<'c>
    where
        's: 'c,
    {
        Call {
            dialect: self.dialect,
            max_len: self.max_len,
            span,
            scope: self.scope,
        }
    }

    /// Evaluates `e` with `#this` bound to `item`; returns an owned result.
    fn with_this(&mut self, item: Json, e: &Expr) -> Result<Json, Error> {
        let saved = self.this.replace(Val::Own(item).normalize());
        let r = self.eval(e).map(Val::into_json);
        self.this = saved;
        r
    }

    /// Accounts for a copy of `v`; fails once copies would pass the allocation budget.
    fn charge(&mut self, v: &Val<'_>, span: &Span) -> Result<(), Error> {
        let limit = self.alloc_left;
        let w = match v {
            Val::Str(s) => s.len(),
            Val::Ref(j) => weight(j, limit),
            Val::Own(j) => weight(j, limit),
            _ => 8,
        };
        match self.alloc_left.checked_sub(w) {
            Some(left) => {
                self.alloc_left = left;
                Ok(())
            }
            None => Err(too_large(span, self.max_len)),
        }
    }

    fn root(&self, name: &str) -> Val<'s> {
        let s = self.scope;
        if let Some(Val::Own(Json::Object(m))) = &self.this {
            // Inside a projection, bare names are members of `#this`.
            if let Some(v) = m.get(name) {
                return Val::Own(v.clone()).normalize();
            }
        }
        match name {
            "context" => Val::from_json(s.context),
            "contact" => Val::from_json(s.contact),
            "input" => Val::from_json(s.input),
            "intents" => Val::from_json(s.intents),
            "entities" => Val::from_json(s.entities),
            "env" => Val::from_json(s.env),
            "intent" => self
                .top_intent()
                .map_or(Val::Undefined, |i| Val::Str(Cow::Borrowed(i))),
            "confidence" => s
                .intents
                .get(0)
                .and_then(|i| i.get("confidence"))
                .map_or(Val::Undefined, Val::from_json),
            // SpEL reads `True`, `FALSE`, `Null` as literals.
            other if self.dialect == Dialect::Watson && other.eq_ignore_ascii_case("true") => {
                Val::Bool(true)
            }
            other if self.dialect == Dialect::Watson && other.eq_ignore_ascii_case("false") => {
                Val::Bool(false)
            }
            other if self.dialect == Dialect::Watson && other.eq_ignore_ascii_case("null") => {
                Val::Null
            }
            other => s.system.get(other).map_or(Val::Undefined, Val::from_json),
        }
    }

    fn chain<'e>(&mut self, first: &'e Expr, rest: &'e [(BinOp, Expr)]) -> R<'e>
    where
        's: 'e,
    {
        let mut acc = self.eval(first)?;
        let mut start = first.span.start;
        for (op, r) in rest {
            let span = start..r.span.end;
            acc = match op {
                // Short-circuit operators evaluate the right side only when needed.
                BinOp::And => {
                    if acc.truthy() {
                        let b = self.eval(r)?;
                        self.logical(b)
                    } else {
                        self.logical(acc)
                    }
                }
                BinOp::Or => {
                    if acc.truthy() {
                        self.logical(acc)
                    } else {
                        let b = self.eval(r)?;
                        self.logical(b)
                    }
                }
                BinOp::Nullish => {
                    if acc.is_nullish() {
                        self.eval(r)?
                    } else {
                        acc
                    }
                }
                BinOp::Elvis => {
                    // SpEL's Elvis: the left side unless it is null or an empty string.
                    let empty = acc.is_nullish() || matches!(&acc, Val::Str(s) if s.is_empty());
                    if empty {
                        self.eval(r)?
                    } else {
                        acc
                    }
                }
                op => {
                    let b = self.eval(r)?;
                    self.binary(*op, acc, b, &span)?
                }
            };
            start = span.start;
        }
        Ok(acc)
    }

    /// `&&` and `||` return an operand in JavaScript and a boolean in SpEL.
    fn logical<'e>(&self, v: Val<'e>) -> Val<'e> {
        match self.dialect {
            Dialect::Builder => v,
            Dialect::Watson => Val::Bool(v.truthy()),
        }
    }

    fn binary<'e>(&mut self, op: BinOp, a: Val<'e>, b: Val<'e>, span: &Span) -> R<'e> {
        let dialect = self.dialect;
        Ok(match op {
            BinOp::Eq => Val::Bool(equals(dialect, &a, &b)),
            BinOp::Ne => Val::Bool(!equals(dialect, &a, &b)),
            BinOp::StrictEq => Val::Bool(strict_eq(&a, &b)),
            BinOp::StrictNe => Val::Bool(!strict_eq(&a, &b)),
            BinOp::Matches => {
                let (Val::Str(text), Val::Str(pattern)) = (&a, &b) else {
                    return Err(self.unsupported(op, &a, &b, span));
                };
                let re =
                    super::regex::compile_regex(&format!("^(?:{pattern})$"), "").map_err(|m| {
                        expr_error(
                            ErrorKind::ExpressionRegex,
                            span,
                            format!("invalid pattern `{pattern}`: {m}"),
                        )
                    })?;
                Val::Bool(re.is_match(text))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ord = order(dialect, &a, &b).map_err(|()| {
                    expr_error(
                        ErrorKind::ExpressionType,
                        span,
                        format!("cannot compare {} with {}", kind_name(&a), kind_name(&b)),
                    )
                })?;
                Val::Bool(ord.is_some_and(|o| match op {
                    BinOp::Lt => o == Ordering::Less,
                    BinOp::Le => o != Ordering::Greater,
                    BinOp::Gt => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                }))
            }
            BinOp::Add => match dialect {
                Dialect::Builder => {
                    let stringy =
                        |v: &Val<'_>| matches!(v, Val::Str(_) | Val::Ref(_) | Val::Own(_));
                    if stringy(&a) || stringy(&b) {
                        self.concat(&a.js_string(), &b.js_string(), span)?
                    } else {
                        arith(op, &a, &b)
                    }
                }
                Dialect::Watson => {
                    let stringy = |v: &Val<'_>| matches!(v, Val::Str(_));
                    if stringy(&a) || stringy(&b) {
                        self.concat(&a.java_string(), &b.java_string(), span)?
                    } else if a.is_number() && b.is_number() {
                        arith(op, &a, &b)
                    } else {
                        return Err(self.unsupported(op, &a, &b, span));
                    }
                }
            },
            BinOp::Mul if dialect == Dialect::Watson => match (&a, &b) {
                // Spring repeats a string multiplied by a whole number ('5' * 2 is '55').
                (Val::Str(s), Val::Int(n)) => {
                    let n = usize::try_from(*n).unwrap_or(0);
                    if s.len().saturating_mul(n) > self.max_len {
                        return Err(too_large(span, self.max_len));
                    }
                    Val::Str(Cow::Owned(s.repeat(n)))
                }
                (x, y) if x.is_number() && y.is_number() => arith(op, x, y),
                _ => return Err(self.unsupported(op, &a, &b, span)),
            },
            BinOp::Div | BinOp::Rem if dialect == Dialect::Watson => match (&a, &b) {
                (Val::Int(_), Val::Int(0)) => {
                    return Err(expr_error(
                        ErrorKind::ExpressionType,
                        span,
                        "division by zero",
                    ))
                }
                // SpEL divides whole numbers as integers (7 / 2 is 3, -7 / 2 is -3).
                (Val::Int(x), Val::Int(y)) if op == BinOp::Div => Val::Int(x.wrapping_div(*y)),
                (x, y) if x.is_number() && y.is_number() => arith(op, x, y),
                _ => return Err(self.unsupported(op, &a, &b, span)),
            },
            // Spring subtracts a whole number from the code of a one-character text
            // ('5' - 2 is '3').
            BinOp::Sub if dialect == Dialect::Watson && matches!(a, Val::Str(_)) => {
                match (&a, &b) {
                    (Val::Str(s), Val::Int(n)) => match one_code_unit(s, *n) {
                        Some(c) => Val::Str(Cow::Owned(c.to_string())),
                        None => return Err(self.unsupported(op, &a, &b, span)),
                    },
                    _ => return Err(self.unsupported(op, &a, &b, span)),
                }
            }
            _ if dialect == Dialect::Watson && !(a.is_number() && b.is_number()) => {
                return Err(self.unsupported(op, &a, &b, span))
            }
            _ => arith(op, &a, &b),
        })
    }

    fn unsupported(&self, op: BinOp, a: &Val<'_>, b: &Val<'_>, span: &Span) -> Error {
        expr_error(
            ErrorKind::ExpressionType,
            span,
            format!(
                "`{}` does not apply to {} and {}",
                op.as_str(),
                kind_name(a),
                kind_name(b)
            ),
        )
    }

    fn concat<'e>(&self, a: &str, b: &str, span: &Span) -> R<'e> {
        if a.len().saturating_add(b.len()) > self.max_len {
            return Err(too_large(span, self.max_len));
        }
        let mut s = String::with_capacity(a.len() + b.len());
        s.push_str(a);
        s.push_str(b);
        Ok(Val::Str(Cow::Owned(s)))
    }
}

/// Arithmetic on two values read as numbers. Whole numbers stay whole where the result is
/// (JavaScript's `/` always divides exactly; SpEL's divides whole numbers as integers).
fn arith<'e>(op: BinOp, a: &Val<'_>, b: &Val<'_>) -> Val<'e> {
    if let (Val::Int(x), Val::Int(y)) = (a, b) {
        let r = match op {
            BinOp::Add => x.checked_add(*y),
            BinOp::Sub => x.checked_sub(*y),
            BinOp::Mul => x.checked_mul(*y),
            // Reached only in Watson (SpEL integer division); JavaScript divides as floats.
            BinOp::Div => None,
            BinOp::Rem => x.checked_rem(*y),
            _ => None,
        };
        if let Some(r) = r {
            return Val::Int(r);
        }
    }
    let (x, y) = (a.to_num(), b.to_num());
    Val::Num(match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => x / y,
        _ => x % y,
    })
}

/// Java's `(char) (s.charAt(0) - n)` for a text of one UTF-16 code unit; `None` otherwise, or
/// when the result is not a character.
fn one_code_unit(s: &str, n: i64) -> Option<char> {
    let mut units = s.encode_utf16();
    let (Some(c), None) = (units.next(), units.next()) else {
        return None;
    };
    // Java's char arithmetic wraps at 16 bits.
    let code = (i64::from(c) - n).rem_euclid(1 << 16);
    char::from_u32(u32::try_from(code).ok()?)
}

fn kind_name(v: &Val<'_>) -> &'static str {
    match v {
        Val::Undefined | Val::Null => "null",
        Val::Bool(_) => "a boolean",
        Val::Int(_) | Val::Num(_) => "a number",
        Val::Str(_) => "a string",
        Val::Ref(j) => crate::text::json_kind(j),
        Val::Own(j) => crate::text::json_kind(j),
        Val::Regex(..) => "a regex",
        Val::Type(_) => "a type",
    }
}

/// Approximate size in bytes of a JSON value; stops counting past `limit`.
fn weight(j: &Json, limit: usize) -> usize {
    let mut total = 0usize;
    let mut stack = vec![j];
    while let Some(v) = stack.pop() {
        total += match v {
            Json::String(s) => s.len() + 8,
            Json::Array(a) => {
                stack.extend(a);
                8
            }
            Json::Object(m) => {
                for (k, x) in m {
                    total += k.len();
                    stack.push(x);
                }
                8
            }
            _ => 8,
        };
        if total > limit {
            return total;
        }
    }
    total
}

/// A map's entries as SpEL's projection and selection see them: `{key, value}` each.
fn entries(m: &Map<String, Json>) -> Vec<Json> {
    m.iter()
        .map(|(k, v)| json!({ "key": k, "value": v }))
        .collect()
}
