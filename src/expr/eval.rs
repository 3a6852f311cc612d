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

use super::ast::{BinOp, Expr, ExprKind, UnOp};
use super::methods::{self, expr_error, too_large, Call};
use super::template::{Part, Template};
use super::value::{equals, float, index_val, member, order, strict_eq, Val};
use super::{Dialect, Scope, Span};
use crate::error::{Error, ErrorKind};
use serde_json::{Map, Value as Json};
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
    scope: Scope<'s>,
    dialect: Dialect,
    steps_left: u64,
    max_len: usize,
    /// Bytes that copies made during evaluation may still take (16 × `max_len`).
    alloc_left: usize,
    /// `#this` inside a SpEL projection or selection.
    this: Option<Val<'static>>,
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
                let items = o.array().cloned().unwrap_or_default();
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let v = self.with_this(item, each)?;
                    out.push(v);
                }
                Val::Own(Json::Array(out))
            }
            ExprKind::Select { object, keep } => {
                let o = self.eval(object)?;
                let items = o.array().cloned().unwrap_or_default();
                let mut out = Vec::new();
                for item in items {
                    if Val::from_json(&self.with_this(item.clone(), keep)?).truthy() {
                        out.push(item);
                    }
                }
                Val::Own(Json::Array(out))
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

    /// The top intent's name. In Watson, only when its confidence passes the threshold
    /// (`system.__intent_threshold`, 0.2 by default).
    fn top_intent(&self) -> Option<&'s str> {
        let top = self.scope.intents.get(0)?;
        if self.dialect == Dialect::Watson {
            let threshold = self
                .scope
                .system
                .get("__intent_threshold")
                .and_then(Json::as_f64)
                .unwrap_or(0.2);
            let confidence = top.get("confidence").and_then(Json::as_f64).unwrap_or(1.0);
            if confidence < threshold {
                return None;
            }
        }
        top.get("intent")?.as_str()
    }

    fn mentions<'a>(&self, name: &'a str) -> impl Iterator<Item = &'s Json> + 'a
    where
        's: 'a,
    {
        self.scope
            .entities
            .as_array()
            .into_iter()
            .flatten()
            .filter(move |e| e.get("entity").and_then(Json::as_str) == Some(name))
    }

    /// The value of a mention: numeric system entities give their number (Watson reads
    /// `@sys-number + 1` for "42" as 43).
    fn entity_value(&self, m: &'s Json) -> Val<'s> {
        numeric_value(m).unwrap_or_else(|| m.get("value").map_or(Val::Undefined, Val::from_json))
    }

    /// A mention's `literal`: the one sent with it, else the part of `input.text` at its
    /// `location`, else its value.
    fn literal_of<'m>(&self, m: &'m Json) -> Val<'m>
    where
        's: 'm,
    {
        if let Some(l) = m.get("literal") {
            return Val::from_json(l);
        }
        let text = self.scope.input.get("text").and_then(Json::as_str);
        let loc = m.get("location").and_then(Json::as_array);
        match (text, loc) {
            (Some(t), Some(l)) => {
                let at = |i: usize| {
                    l.get(i)
                        .and_then(Json::as_u64)
                        .and_then(|x| usize::try_from(x).ok())
                };
                match (at(0), at(1)) {
                    (Some(a), Some(b)) => {
                        utf16_slice(t, a, b).map_or(Val::Undefined, |s| Val::Str(Cow::Borrowed(s)))
                    }
                    _ => Val::Undefined,
                }
            }
            _ => m.get("value").map_or(Val::Undefined, Val::from_json),
        }
    }

    /// The mentions of `name`, each with its `literal` (derived when the event has none), as
    /// `entities['name']` and `entities.get('name')` give them; undefined when there is none.
    fn mentions_of(&self, name: &str) -> Val<'static> {
        let found: Vec<Json> = self
            .mentions(name)
            .map(|m| {
                let mut owned = m.clone();
                if m.get("literal").is_none() {
                    let literal = self.literal_of(m).into_json();
                    if let (Json::Object(o), false) = (&mut owned, literal.is_null()) {
                        o.insert("literal".into(), literal);
                    }
                }
                owned
            })
            .collect();
        if found.is_empty() {
            Val::Undefined
        } else {
            Val::Own(Json::Array(found))
        }
    }

    fn entity_property(&self, entity: &str, prop: &str) -> Option<Val<'s>> {
        let first = self.mentions(entity).next();
        Some(match prop {
            "value" => first.map_or(Val::Undefined, |m| self.entity_value(m)),
            "literal" => self.literal_of(first?),
            "confidence" | "location" | "groups" | "metadata" | "role" | "interpretation" => first
                .and_then(|m| m.get(prop))
                .map_or(Val::Undefined, Val::from_json),
            // No mention: missing, as every entity shorthand is (a condition on it is false).
            "values" => {
                let all: Vec<Json> = self
                    .mentions(entity)
                    .map(|m| self.entity_value(m).into_json())
                    .collect();
                if all.is_empty() {
                    Val::Undefined
                } else {
                    Val::Own(Json::Array(all))
                }
            }
            _ => return None,
        })
    }

    fn member_of<'e>(&self, o: Val<'e>, name: &str) -> Val<'e> {
        if self.dialect == Dialect::Watson {
            // Watson's entity collections read as their first mention (`entities['city'].value`).
            if let Some(first) = o.array().and_then(|a| a.first()).filter(|f| f.is_object()) {
                if name != "length" {
                    return self.mention_member(first, name).unwrap_or_else(|| {
                        first
                            .get(name)
                            .map_or(Val::Undefined, |v| Val::Own(v.clone()).normalize())
                    });
                }
            }
            if let Some(v) = o.json().and_then(|m| self.mention_member(m, name)) {
                return v;
            }
        }
        member(o, name)
    }

    /// `value` and `literal` of an entity mention read as the shorthand reads them: numeric
    /// system entities give numbers, and a missing `literal` comes from `input.text`.
    fn mention_member(&self, m: &Json, name: &str) -> Option<Val<'static>> {
        m.get("entity")?;
        match name {
            "value" => numeric_value(m),
            "literal" if m.get("literal").is_none() => {
                Some(Val::Own(self.literal_of(m).into_json()).normalize())
            }
            _ => None,
        }
    }

    /// `intent.confidence` (and `intent.intent`): Watson's `intent` is the top intent, which
    /// compares as its name and has the properties of `intents[0]`.
    fn intent_property(&self, object: &Expr, name: &str) -> Option<Val<'s>> {
        let is_root = matches!(&object.kind, ExprKind::Ident(n) if n == "intent");
        if self.dialect != Dialect::Watson || !is_root || self.this.is_some() {
            return None;
        }
        if !matches!(name, "confidence" | "intent") {
            return None;
        }
        self.top_intent()?;
        Some(
            self.scope
                .intents
                .get(0)
                .and_then(|i| i.get(name))
                .map_or(Val::Undefined, Val::from_json),
        )
    }

    /// `entities.get('food')`: the mentions of that entity, as `entities['food']` gives them.
    fn entities_get(&self, o: &Val<'_>, name: &str, args: &[Val<'_>]) -> Option<Val<'static>> {
        if self.dialect != Dialect::Watson || name != "get" {
            return None;
        }
        match (o, args) {
            (Val::Ref(j), [Val::Str(entity)]) if std::ptr::eq(*j, self.scope.entities) => {
                Some(self.mentions_of(entity))
            }
            _ => None,
        }
    }

    fn index_of<'e>(&self, o: Val<'e>, i: &Val<'_>) -> Val<'e> {
        // `entities['sys-date']`: the mentions of that entity.
        if let (Val::Ref(j), Val::Str(name)) = (&o, i) {
            if std::ptr::eq(*j, self.scope.entities) {
                return self.mentions_of(name);
            }
        }
        index_val(o, i)
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

/// The part of `text` between two UTF-16 offsets, as Watson's `location` counts (Java string
/// indexes); `None` when an offset is past the end, inside a character, or reversed.
fn utf16_slice(text: &str, start: usize, end: usize) -> Option<&str> {
    let byte_at = |target: usize| -> Option<usize> {
        let mut units = 0;
        for (i, c) in text.char_indices() {
            if units >= target {
                return (units == target).then_some(i);
            }
            units += c.len_utf16();
        }
        (units == target).then_some(text.len())
    };
    text.get(byte_at(start)?..byte_at(end)?)
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

/// The number of a numeric system entity's mention (`sys-number`, `sys-currency`,
/// `sys-percentage`): its `metadata.numeric_value`, else its value text read as a number.
fn numeric_value(m: &Json) -> Option<Val<'static>> {
    let name = m.get("entity").and_then(Json::as_str)?;
    if !matches!(name, "sys-number" | "sys-currency" | "sys-percentage") {
        return None;
    }
    if let Some(n) = m
        .pointer("/metadata/numeric_value")
        .filter(|n| n.is_number())
    {
        return Some(Val::Own(n.clone()).normalize());
    }
    match m.get("value")? {
        Json::Number(n) => Some(Val::Own(Json::Number(n.clone())).normalize()),
        Json::String(s) => {
            let t = s.trim();
            t.parse::<i64>().map(Val::Int).ok().or_else(|| {
                t.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Val::Num)
            })
        }
        _ => None,
    }
}

fn kind_name(v: &Val<'_>) -> &'static str {
    match v {
        Val::Undefined | Val::Null => "null",
        Val::Bool(_) => "a boolean",
        Val::Int(_) | Val::Num(_) => "a number",
        Val::Str(_) => "a string",
        Val::Ref(j) if j.is_array() => "an array",
        Val::Own(j) if j.is_array() => "an array",
        Val::Ref(_) | Val::Own(_) => "an object",
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
