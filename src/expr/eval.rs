//! Evaluating expressions and rendering templates.
//!
//! Semantics are JavaScript's where the builder is JavaScript (truthiness, `+`, `==`, `&&`
//! returning operands), with `undefined`-safe member access and method calls (a missing value
//! gives `undefined`, never an error). Evaluation is bounded: every node visited costs one step
//! of [`Budget::steps`], and no string or array may grow past [`Budget::max_len`].

use super::ast::{BinOp, Expr, ExprKind, UnOp};
use super::parse::{compile_regex, Part, Template};
use serde_json::{Map, Value as Json};
use std::borrow::Cow;
use std::sync::Arc;

/// A value during evaluation: borrowed from the scope where possible.
#[derive(Debug, Clone)]
pub enum Val<'a> {
    /// JavaScript `undefined` (a missing variable or member).
    Undefined,
    /// `null`
    Null,
    /// A boolean.
    Bool(bool),
    /// A number (may be NaN or infinite, as in JavaScript).
    Num(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// An array or object from the scope.
    Ref(&'a Json),
    /// An array or object built during evaluation.
    Own(Json),
    /// A regex literal, and whether it has the `g` (global) flag.
    Regex(Arc<regex::Regex>, bool),
}

/// Why an evaluation stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    /// Machine-readable kind: `fuel`, `too_large`, `unknown_method`, `regex`, `type`.
    pub code: &'static str,
    /// What happened.
    pub message: String,
    /// Span in the expression source.
    pub span: super::ast::Span,
}

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
    /// `entities`: `[{entity, value, confidence?}]`.
    pub entities: &'a Json,
    /// `env`: environment variables the flow may read.
    pub env: &'a Json,
    /// Other roots: `score_level`, `base_has_answers`, and Watson's `now`/`today` base time
    /// (`__now`, an RFC 3339 string) when the host supplies a clock.
    pub system: &'a Json,
}

static NULL: Json = Json::Null;

impl<'a> Scope<'a> {
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

/// The roots a flow expression may name.
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

impl<'a> Val<'a> {
    /// Borrows a JSON value.
    pub fn from_json(j: &'a Json) -> Val<'a> {
        match j {
            Json::Null => Val::Null,
            Json::Bool(b) => Val::Bool(*b),
            Json::Number(n) => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
            Json::String(s) => Val::Str(Cow::Borrowed(s)),
            _ => Val::Ref(j),
        }
    }

    fn json(&self) -> Option<&Json> {
        match self {
            Val::Ref(j) => Some(j),
            Val::Own(j) => Some(j),
            _ => None,
        }
    }

    /// JavaScript truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Val::Undefined | Val::Null => false,
            Val::Bool(b) => *b,
            Val::Num(n) => *n != 0.0 && !n.is_nan(),
            Val::Str(s) => !s.is_empty(),
            Val::Ref(_) | Val::Own(_) | Val::Regex(..) => true,
        }
    }

    fn is_nullish(&self) -> bool {
        matches!(self, Val::Undefined | Val::Null)
    }

    /// Converts to an owned JSON value (`undefined` → `null`; NaN and infinities → `null`).
    pub fn into_json(self) -> Json {
        match self {
            Val::Undefined | Val::Null => Json::Null,
            Val::Bool(b) => Json::Bool(b),
            Val::Num(n) => num_json(n),
            Val::Str(s) => Json::String(s.into_owned()),
            Val::Ref(j) => j.clone(),
            Val::Own(j) => j,
            Val::Regex(r, _) => Json::String(format!("/{}/", r.as_str())),
        }
    }

    /// Template stringification: `undefined`/`null` → "", objects and arrays → JSON.
    pub fn to_text(&self) -> Cow<'_, str> {
        match self {
            Val::Undefined | Val::Null => Cow::Borrowed(""),
            Val::Str(s) => Cow::Borrowed(s),
            Val::Ref(j) => Cow::Owned(j.to_string()),
            Val::Own(j) => Cow::Owned(j.to_string()),
            other => Cow::Owned(other.js_string()),
        }
    }

    /// JavaScript `String(v)`.
    fn js_string(&self) -> String {
        match self {
            Val::Undefined => "undefined".into(),
            Val::Null => "null".into(),
            Val::Bool(b) => b.to_string(),
            Val::Num(n) => fmt_num(*n),
            Val::Str(s) => s.to_string(),
            Val::Ref(j) => json_js_string(j),
            Val::Own(j) => json_js_string(j),
            Val::Regex(r, _) => format!("/{}/", r.as_str()),
        }
    }

    fn to_num(&self) -> f64 {
        match self {
            Val::Undefined => f64::NAN,
            Val::Null => 0.0,
            Val::Bool(b) => f64::from(u8::from(*b)),
            Val::Num(n) => *n,
            Val::Str(s) => {
                let t = s.trim();
                if t.is_empty() {
                    0.0
                } else {
                    t.parse().unwrap_or(f64::NAN)
                }
            }
            Val::Ref(Json::Array(a)) if a.is_empty() => 0.0,
            _ => f64::NAN,
        }
    }
}

fn json_js_string(j: &Json) -> String {
    match j {
        Json::Array(a) => a
            .iter()
            .map(|x| match x {
                Json::Null => String::new(),
                other => Val::from_json(other).js_string(),
            })
            .collect::<Vec<_>>()
            .join(","),
        Json::Object(_) => "[object Object]".into(),
        other => Val::from_json(other).js_string(),
    }
}

/// JavaScript number formatting for the common cases (integers print without `.0`).
pub fn fmt_num(n: f64) -> String {
    if n.is_nan() {
        "NaN".into()
    } else if n.is_infinite() {
        if n > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if n == n.trunc() && n.abs() < 1e21 {
        format!("{}", n as i128)
    } else {
        format!("{n}")
    }
}

fn num_json(n: f64) -> Json {
    if n == n.trunc() && n.abs() < 9.007_199_254_740_992e15 {
        Json::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
    }
}

/// An evaluator with a budget; reusable across expressions of one turn.
pub struct Evaluator<'s> {
    scope: Scope<'s>,
    steps_left: u64,
    max_len: usize,
    /// Bytes that copies made during evaluation may still take (16 × `max_len`).
    alloc_left: usize,
}

type R<'a> = Result<Val<'a>, EvalError>;

impl<'s> Evaluator<'s> {
    /// An evaluator over `scope` with `budget`.
    pub fn new(scope: Scope<'s>, budget: Budget) -> Self {
        Evaluator {
            scope,
            steps_left: budget.steps,
            max_len: budget.max_len,
            alloc_left: budget.max_len.saturating_mul(16),
        }
    }

    /// Evaluates a condition to a boolean (JavaScript truthiness).
    pub fn condition(&mut self, e: &Expr) -> Result<bool, EvalError> {
        Ok(self.eval(e)?.truthy())
    }

    /// Renders a template: one segment keeps its type; otherwise segments are stringified and
    /// concatenated. Text that comes from a value is never scanned for `<? ?>` again.
    pub fn render(&mut self, t: &Template) -> Result<Json, EvalError> {
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
                        return Err(too_large(span.clone(), self.max_len));
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
            return Err(EvalError {
                code: "fuel",
                message: "evaluation took too many steps".into(),
                span: e.span.clone(),
            });
        }
        self.steps_left -= 1;
        let scope = self.scope;
        Ok(match &e.kind {
            ExprKind::Str(s) => Val::Str(Cow::Borrowed(s)),
            ExprKind::Num(n) => Val::Num(*n),
            ExprKind::Bool(b) => Val::Bool(*b),
            ExprKind::Null => Val::Null,
            ExprKind::Undefined => Val::Undefined,
            ExprKind::Regex(r) => match &r.compiled {
                Some(re) => Val::Regex(re.clone(), r.flags.contains('g')),
                None => {
                    return Err(EvalError {
                        code: "regex",
                        message: format!(
                            "the pattern /{}/ cannot run on a linear-time engine",
                            r.pattern
                        ),
                        span: e.span.clone(),
                    })
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
            ExprKind::Intent(name) => Val::Bool(top_intent(scope.intents) == Some(name.as_str())),
            ExprKind::Entity(name) => entity_values(scope.entities, name)
                .next()
                .map_or(Val::Undefined, Val::from_json),
            ExprKind::EntityIs(name, v) => Val::Bool(
                entity_values(scope.entities, name).any(|x| Val::from_json(x).js_string() == *v),
            ),
            ExprKind::Member { object, name, .. } => {
                let o = self.eval(object)?;
                member(o, name)
            }
            ExprKind::Index { object, index } => {
                let o = self.eval(object)?;
                let i = self.eval(index)?;
                index_val(o, &i)
            }
            ExprKind::Method {
                object,
                name,
                name_span,
                args,
            } => {
                let o = self.eval(object)?;
                let mut a = Vec::with_capacity(args.len());
                for x in args {
                    a.push(self.eval(x)?);
                }
                self.method(o, name, a, name_span)?
            }
            ExprKind::Call { name, args } => {
                for x in args {
                    self.eval(x)?;
                }
                match name.as_str() {
                    "now" | "today" => {
                        let now = member(Val::Ref(scope.system), "__now");
                        match now {
                            Val::Str(s) if name == "today" => {
                                Val::Str(Cow::Owned(s.get(..10).unwrap_or(&s).to_owned()))
                            }
                            Val::Str(s) => Val::Str(Cow::Owned(
                                s.replacen('T', " ", 1).chars().take(19).collect(),
                            )),
                            _ => Val::Undefined,
                        }
                    }
                    _ => {
                        return Err(EvalError {
                            code: "unknown_method",
                            message: format!("unknown function `{name}`"),
                            span: e.span.clone(),
                        })
                    }
                }
            }
            ExprKind::Unary(op, x) => {
                let v = self.eval(x)?;
                match op {
                    UnOp::Not => Val::Bool(!v.truthy()),
                    UnOp::Neg => Val::Num(-v.to_num()),
                }
            }
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r)?,
            ExprKind::Cond(c, a, b) => {
                if self.eval(c)?.truthy() {
                    self.eval(a)?
                } else {
                    self.eval(b)?
                }
            }
        })
    }

    /// Accounts for a copy of `v`; fails once copies would pass the allocation budget.
    fn charge(&mut self, v: &Val<'_>, span: &super::ast::Span) -> Result<(), EvalError> {
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
            None => Err(too_large(span.clone(), self.max_len)),
        }
    }

    fn root(&self, name: &str) -> Val<'s> {
        let s = self.scope;
        match name {
            "context" => Val::from_json(s.context),
            "contact" => Val::from_json(s.contact),
            "input" => Val::from_json(s.input),
            "intents" => Val::from_json(s.intents),
            "entities" => Val::from_json(s.entities),
            "env" => Val::from_json(s.env),
            "intent" => {
                top_intent(s.intents).map_or(Val::Undefined, |i| Val::Str(Cow::Borrowed(i)))
            }
            "confidence" => s
                .intents
                .get(0)
                .and_then(|i| i.get("confidence"))
                .map_or(Val::Undefined, Val::from_json),
            other => s.system.get(other).map_or(Val::Undefined, Val::from_json),
        }
    }

    fn binary<'e>(&mut self, op: BinOp, l: &'e Expr, r: &'e Expr) -> R<'e>
    where
        's: 'e,
    {
        // Short-circuit operators evaluate the right side only when needed.
        match op {
            BinOp::And => {
                let a = self.eval(l)?;
                return if a.truthy() { self.eval(r) } else { Ok(a) };
            }
            BinOp::Or => {
                let a = self.eval(l)?;
                return if a.truthy() { Ok(a) } else { self.eval(r) };
            }
            BinOp::Nullish => {
                let a = self.eval(l)?;
                return if a.is_nullish() { self.eval(r) } else { Ok(a) };
            }
            BinOp::Elvis => {
                // SpEL's Elvis: the left side unless it is null or an empty string.
                let a = self.eval(l)?;
                let empty = a.is_nullish() || matches!(&a, Val::Str(s) if s.is_empty());
                return if empty { self.eval(r) } else { Ok(a) };
            }
            _ => {}
        }
        let a = self.eval(l)?;
        let b = self.eval(r)?;
        Ok(match op {
            BinOp::Eq => Val::Bool(loose_eq(&a, &b)),
            BinOp::Ne => Val::Bool(!loose_eq(&a, &b)),
            BinOp::StrictEq => Val::Bool(strict_eq(&a, &b)),
            BinOp::StrictNe => Val::Bool(!strict_eq(&a, &b)),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => Val::Bool(compare(op, &a, &b)),
            BinOp::Add => {
                let stringy = |v: &Val<'_>| matches!(v, Val::Str(_) | Val::Ref(_) | Val::Own(_));
                if stringy(&a) || stringy(&b) {
                    let mut s = a.js_string();
                    s.push_str(&b.js_string());
                    if s.len() > self.max_len {
                        return Err(too_large(l.span.start..r.span.end, self.max_len));
                    }
                    Val::Str(Cow::Owned(s))
                } else {
                    Val::Num(a.to_num() + b.to_num())
                }
            }
            BinOp::Sub => Val::Num(a.to_num() - b.to_num()),
            BinOp::Mul => Val::Num(a.to_num() * b.to_num()),
            BinOp::Div => Val::Num(a.to_num() / b.to_num()),
            _ => Val::Num(a.to_num() % b.to_num()),
        })
    }

    fn method<'e>(
        &mut self,
        o: Val<'e>,
        name: &str,
        args: Vec<Val<'e>>,
        span: &super::ast::Span,
    ) -> R<'e> {
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Val::Undefined);
        let idx = |i: usize, len: usize, default: usize| -> usize {
            match args.get(i) {
                None | Some(Val::Undefined) => default,
                Some(v) => {
                    let n = v.to_num();
                    let n = if n.is_nan() { 0.0 } else { n.trunc() };
                    if n < 0.0 {
                        (len as f64 + n).max(0.0) as usize
                    } else {
                        (n as usize).min(len)
                    }
                }
            }
        };
        let max = self.max_len;
        let check = |s: String| -> R<'e> {
            if s.len() > max {
                Err(too_large(span.clone(), max))
            } else {
                Ok(Val::Str(Cow::Owned(s)))
            }
        };
        if o.is_nullish() {
            // `undefined`-safe: a method on a missing value gives undefined.
            return Ok(Val::Undefined);
        }
        Ok(match (&o, name) {
            (Val::Regex(re, _), "test") => Val::Bool(re.is_match(&arg(0).js_string())),
            (Val::Str(s), _) => {
                let s: &str = s;
                match name {
                    "length" | "size" => Val::Num(s.chars().count() as f64),
                    "toLowerCase" => Val::Str(Cow::Owned(s.to_lowercase())),
                    "toUpperCase" => Val::Str(Cow::Owned(s.to_uppercase())),
                    "trim" => Val::Str(Cow::Owned(s.trim().to_owned())),
                    "includes" | "contains" => Val::Bool(s.contains(&*arg(0).js_string())),
                    "startsWith" => Val::Bool(s.starts_with(&*arg(0).js_string())),
                    "endsWith" => Val::Bool(s.ends_with(&*arg(0).js_string())),
                    "equalsIgnoreCase" => {
                        Val::Bool(s.to_lowercase() == arg(0).js_string().to_lowercase())
                    }
                    "isEmpty" => Val::Bool(s.is_empty()),
                    "toString" => Val::Str(Cow::Owned(s.to_owned())),
                    "toInt" | "toDouble" | "toLong" => {
                        Val::Num(Val::Str(Cow::Borrowed(s)).to_num())
                    }
                    "indexOf" => {
                        let needle = arg(0).js_string();
                        let chars: Vec<char> = s.chars().collect();
                        Val::Num(
                            s.find(&*needle)
                                .map_or(-1.0, |b| s[..b].chars().count() as f64)
                                .min(chars.len() as f64),
                        )
                    }
                    "substring" | "slice" => {
                        let chars: Vec<char> = s.chars().collect();
                        let len = chars.len();
                        let (mut a, mut b) = (idx(0, len, 0), idx(1, len, len));
                        if name == "substring" {
                            // substring swaps and clamps negatives to 0.
                            let clamp = |i: usize, v: Option<&Val<'_>>| match v {
                                Some(v) if v.to_num() < 0.0 => 0,
                                _ => i,
                            };
                            a = clamp(a, args.first());
                            b = clamp(b, args.get(1));
                            if a > b {
                                std::mem::swap(&mut a, &mut b);
                            }
                        }
                        Val::Str(Cow::Owned(if a < b {
                            chars[a..b].iter().collect()
                        } else {
                            String::new()
                        }))
                    }
                    "replace" | "replaceAll" => {
                        let with = arg(1).js_string();
                        // The result's size is known before it is built: refuse it up front.
                        let grows =
                            |count: usize| s.len().saturating_add(count.saturating_mul(with.len()));
                        match arg(0) {
                            Val::Regex(re, global) => {
                                let all = global || name == "replaceAll";
                                let count = if all {
                                    re.find_iter(s).count()
                                } else {
                                    usize::from(re.is_match(s))
                                };
                                if grows(count) > max {
                                    return Err(too_large(span.clone(), max));
                                }
                                let out = if all {
                                    re.replace_all(s, with.as_str())
                                } else {
                                    re.replace(s, with.as_str())
                                };
                                check(out.into_owned())?
                            }
                            pat => {
                                let p = pat.js_string();
                                let all = name == "replaceAll";
                                let count = if p.is_empty() {
                                    s.chars().count() + 1
                                } else if all {
                                    s.matches(&*p).count()
                                } else {
                                    usize::from(s.contains(&*p))
                                };
                                if grows(count) > max {
                                    return Err(too_large(span.clone(), max));
                                }
                                let out = if all {
                                    s.replace(&*p, &with)
                                } else {
                                    s.replacen(&*p, &with, 1)
                                };
                                check(out)?
                            }
                        }
                    }
                    "split" => {
                        let parts: Vec<Json> = match arg(0) {
                            Val::Undefined => vec![Json::String(s.to_owned())],
                            Val::Regex(re, _) => {
                                re.split(s).map(|x| Json::String(x.to_owned())).collect()
                            }
                            sep => {
                                let sep = sep.js_string();
                                if sep.is_empty() {
                                    s.chars().map(|c| Json::String(c.to_string())).collect()
                                } else {
                                    s.split(&*sep).map(|x| Json::String(x.to_owned())).collect()
                                }
                            }
                        };
                        Val::Own(Json::Array(parts))
                    }
                    "matches" | "find" => {
                        let pat = arg(0).js_string();
                        // Watson's `matches` is Java's: the whole string must match.
                        let full = if name == "matches" {
                            format!("^(?:{pat})$")
                        } else {
                            pat.to_string()
                        };
                        let re = compile_regex(&full, "").map_err(|m| EvalError {
                            code: "regex",
                            message: format!("invalid pattern `{pat}`: {m}"),
                            span: span.clone(),
                        })?;
                        Val::Bool(re.is_match(s))
                    }
                    _ => return Err(unknown_method(name, "a string", span)),
                }
            }
            (Val::Num(n), "toFixed") => {
                let digits = arg(0).to_num().clamp(0.0, 100.0) as usize;
                Val::Str(Cow::Owned(format!("{:.*}", digits, n)))
            }
            (Val::Num(n), "toString") => Val::Str(Cow::Owned(fmt_num(*n))),
            (Val::Bool(b), "toString") => Val::Str(Cow::Owned(b.to_string())),
            _ => match o.json() {
                Some(Json::Array(items)) => match name {
                    "length" | "size" => Val::Num(items.len() as f64),
                    "includes" | "contains" => {
                        let x = arg(0);
                        Val::Bool(items.iter().any(|i| strict_eq(&Val::from_json(i), &x)))
                    }
                    "indexOf" => {
                        let x = arg(0);
                        Val::Num(
                            items
                                .iter()
                                .position(|i| strict_eq(&Val::from_json(i), &x))
                                .map_or(-1.0, |p| p as f64),
                        )
                    }
                    "join" => {
                        let sep = match arg(0) {
                            Val::Undefined => ",".to_string(),
                            v => v.js_string(),
                        };
                        // Separators alone may already exceed the limit; check before building.
                        if items.len().saturating_sub(1).saturating_mul(sep.len()) > max {
                            return Err(too_large(span.clone(), max));
                        }
                        let s = items
                            .iter()
                            .map(|i| match i {
                                Json::Null => String::new(),
                                other => Val::from_json(other).js_string(),
                            })
                            .collect::<Vec<_>>()
                            .join(&sep);
                        check(s)?
                    }
                    "get" => {
                        let i = arg(0).to_num();
                        if i >= 0.0 && i.fract() == 0.0 {
                            items
                                .get(i as usize)
                                .map_or(Val::Undefined, |v| Val::Own(v.clone()).normalize())
                        } else {
                            Val::Undefined
                        }
                    }
                    "append" => {
                        if items.len() >= max {
                            return Err(too_large(span.clone(), max));
                        }
                        self.charge(&o, span)?;
                        let mut v = items.clone();
                        v.push(arg(0).into_json());
                        Val::Own(Json::Array(v))
                    }
                    "isEmpty" => Val::Bool(items.is_empty()),
                    _ => return Err(unknown_method(name, "an array", span)),
                },
                Some(Json::Object(map)) => match name {
                    "get" => map
                        .get(&*arg(0).js_string())
                        .map_or(Val::Undefined, |v| Val::Own(v.clone()).normalize()),
                    "has" | "containsKey" => Val::Bool(map.contains_key(&*arg(0).js_string())),
                    "size" => Val::Num(map.len() as f64),
                    "isEmpty" => Val::Bool(map.is_empty()),
                    _ => return Err(unknown_method(name, "an object", span)),
                },
                _ => return Err(unknown_method(name, "this value", span)),
            },
        })
    }
}

impl Val<'_> {
    fn normalize(self) -> Self {
        match self {
            Val::Own(Json::Null) => Val::Null,
            Val::Own(Json::Bool(b)) => Val::Bool(b),
            Val::Own(Json::Number(n)) => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
            Val::Own(Json::String(s)) => Val::Str(Cow::Owned(s)),
            other => other,
        }
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

fn too_large(span: super::ast::Span, max: usize) -> EvalError {
    EvalError {
        code: "too_large",
        message: format!("a value grew past the limit of {max} bytes"),
        span,
    }
}

fn unknown_method(name: &str, on: &str, span: &super::ast::Span) -> EvalError {
    EvalError {
        code: "unknown_method",
        message: format!("`{name}` is not a method of {on}"),
        span: span.clone(),
    }
}

fn top_intent(intents: &Json) -> Option<&str> {
    intents.get(0)?.get("intent")?.as_str()
}

fn entity_values<'a>(entities: &'a Json, name: &'a str) -> impl Iterator<Item = &'a Json> + 'a {
    entities
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |e| e.get("entity").and_then(Json::as_str) == Some(name))
        .filter_map(|e| e.get("value"))
}

/// `o.name`, `undefined` when absent.
fn member<'a>(o: Val<'a>, name: &str) -> Val<'a> {
    match o {
        Val::Ref(j) => match j {
            Json::Object(m) => m.get(name).map_or(Val::Undefined, Val::from_json),
            Json::Array(a) if name == "length" => Val::Num(a.len() as f64),
            _ => Val::Undefined,
        },
        Val::Own(j) => match j {
            Json::Object(mut m) => m
                .remove(name)
                .map_or(Val::Undefined, |v| Val::Own(v).normalize()),
            Json::Array(a) if name == "length" => Val::Num(a.len() as f64),
            _ => Val::Undefined,
        },
        Val::Str(s) if name == "length" => Val::Num(s.chars().count() as f64),
        Val::Str(s) if name == "literal" => Val::Str(s),
        _ => Val::Undefined,
    }
}

fn index_val<'a>(o: Val<'a>, i: &Val<'_>) -> Val<'a> {
    match (&o, i) {
        (Val::Ref(Json::Array(a)), Val::Num(n)) if *n >= 0.0 && n.fract() == 0.0 => {
            a.get(*n as usize).map_or(Val::Undefined, Val::from_json)
        }
        (Val::Own(Json::Array(a)), Val::Num(n)) if *n >= 0.0 && n.fract() == 0.0 => a
            .get(*n as usize)
            .map_or(Val::Undefined, |v| Val::Own(v.clone()).normalize()),
        (Val::Str(s), Val::Num(n)) if *n >= 0.0 && n.fract() == 0.0 => s
            .chars()
            .nth(*n as usize)
            .map_or(Val::Undefined, |c| Val::Str(Cow::Owned(c.to_string()))),
        _ => member(o, &i.js_string()),
    }
}

/// JavaScript `===` (objects and arrays compare by content: flows have no identity).
pub fn strict_eq(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Undefined, Val::Undefined) | (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Num(x), Val::Num(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => x == y,
        (x, y) => match (x.json(), y.json()) {
            (Some(p), Some(q)) => p == q,
            _ => false,
        },
    }
}

/// JavaScript `==`.
pub fn loose_eq(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Undefined | Val::Null, Val::Undefined | Val::Null) => true,
        (Val::Undefined | Val::Null, _) | (_, Val::Undefined | Val::Null) => false,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::Num(_) | Val::Bool(_), _) | (_, Val::Num(_) | Val::Bool(_))
            if !matches!(a, Val::Ref(_) | Val::Own(_))
                && !matches!(b, Val::Ref(_) | Val::Own(_)) =>
        {
            a.to_num() == b.to_num()
        }
        _ => strict_eq(a, b),
    }
}

fn compare(op: BinOp, a: &Val<'_>, b: &Val<'_>) -> bool {
    if let (Val::Str(x), Val::Str(y)) = (a, b) {
        return match op {
            BinOp::Lt => x < y,
            BinOp::Le => x <= y,
            BinOp::Gt => x > y,
            _ => x >= y,
        };
    }
    let (x, y) = (a.to_num(), b.to_num());
    match op {
        BinOp::Lt => x < y,
        BinOp::Le => x <= y,
        BinOp::Gt => x > y,
        _ => x >= y,
    }
}

/// Evaluates a condition against a scope with the default budget.
pub fn eval_condition(e: &Expr, scope: Scope<'_>) -> Result<bool, EvalError> {
    Evaluator::new(scope, Budget::default()).condition(e)
}

/// Renders a template against a scope with the default budget.
pub fn render(t: &Template, scope: Scope<'_>) -> Result<Json, EvalError> {
    Evaluator::new(scope, Budget::default()).render(t)
}

/// An empty JSON object, for scopes that need one.
pub fn empty_object() -> Json {
    Json::Object(Map::new())
}
