//! Values during evaluation: borrowed from the scope where possible, with the conversions and
//! comparisons of each dialect — JavaScript's for builder flows, Spring SpEL's (as Watson uses
//! it) for Watson workspaces.

use super::Dialect;
use serde_json::Value as Json;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

/// A value during evaluation.
#[derive(Debug, Clone)]
pub enum Val<'a> {
    /// JavaScript `undefined` (a missing variable or member). Watson has only `null`, and the
    /// Watson dialect treats the two alike.
    Undefined,
    /// `null`
    Null,
    /// A boolean.
    Bool(bool),
    /// A whole number (JSON integers and integer literals; SpEL keeps them apart from doubles).
    Int(i64),
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
    /// A SpEL type reference (`T(Math)`), whose static methods may be called.
    Type(&'static str),
}

/// `f` as an `i64` when it is a whole number in range.
pub(crate) fn whole(f: f64) -> Option<i64> {
    // 2^63 as f64 is exact; anything at or above it does not fit.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f) {
        #[allow(clippy::cast_possible_truncation)]
        Some(f as i64)
    } else {
        None
    }
}

/// `f` as an index (truncated toward zero), or `None` when negative, NaN or too large.
pub(crate) fn index_of(f: f64) -> Option<usize> {
    whole(f.trunc()).and_then(|i| usize::try_from(i).ok())
}

/// An `i64` as a float (large values round, as in JavaScript).
#[allow(clippy::cast_precision_loss)]
pub(crate) fn float(i: i64) -> f64 {
    i as f64
}

/// A count as a value.
pub(crate) fn count(n: usize) -> Val<'static> {
    Val::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

impl<'a> Val<'a> {
    /// Borrows a JSON value.
    pub fn from_json(j: &'a Json) -> Val<'a> {
        match j {
            Json::Null => Val::Null,
            Json::Bool(b) => Val::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => Val::Str(Cow::Borrowed(s)),
            _ => Val::Ref(j),
        }
    }

    /// The array or object, when the value is one.
    pub(crate) fn json(&self) -> Option<&Json> {
        match self {
            Val::Ref(j) => Some(j),
            Val::Own(j) => Some(j),
            _ => None,
        }
    }

    /// The array, when the value is one.
    pub(crate) fn array(&self) -> Option<&Vec<Json>> {
        self.json().and_then(Json::as_array)
    }

    /// JavaScript truthiness (also Watson's rule for conditions: null, `""`, 0 and false are
    /// false; everything else is true).
    pub fn truthy(&self) -> bool {
        match self {
            Val::Undefined | Val::Null => false,
            Val::Bool(b) => *b,
            Val::Int(n) => *n != 0,
            Val::Num(n) => *n != 0.0 && !n.is_nan(),
            Val::Str(s) => !s.is_empty(),
            Val::Ref(_) | Val::Own(_) | Val::Regex(..) | Val::Type(_) => true,
        }
    }

    /// `null` or `undefined`.
    pub(crate) fn is_nullish(&self) -> bool {
        matches!(self, Val::Undefined | Val::Null)
    }

    /// A number (either kind).
    pub(crate) fn is_number(&self) -> bool {
        matches!(self, Val::Int(_) | Val::Num(_))
    }

    /// Converts to an owned JSON value (`undefined` → `null`; NaN and infinities → `null`).
    pub fn into_json(self) -> Json {
        match self {
            Val::Undefined | Val::Null => Json::Null,
            Val::Bool(b) => Json::Bool(b),
            Val::Int(n) => Json::from(n),
            Val::Num(n) => num_json(n),
            Val::Str(s) => Json::String(s.into_owned()),
            Val::Ref(j) => j.clone(),
            Val::Own(j) => j,
            Val::Regex(r, _) => Json::String(format!("/{}/", r.as_str())),
            Val::Type(t) => Json::String(format!("T({t})")),
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
    pub(crate) fn js_string(&self) -> String {
        match self {
            Val::Undefined => "undefined".into(),
            Val::Null => "null".into(),
            Val::Bool(b) => b.to_string(),
            Val::Int(n) => n.to_string(),
            Val::Num(n) => fmt_num(*n),
            Val::Str(s) => s.to_string(),
            Val::Ref(j) => json_js_string(j),
            Val::Own(j) => json_js_string(j),
            Val::Regex(r, _) => format!("/{}/", r.as_str()),
            Val::Type(t) => format!("T({t})"),
        }
    }

    /// Java's `String.valueOf(v)` as SpEL concatenation uses it: `null` prints `null`, arrays
    /// print their items joined by commas, doubles keep their `.0`.
    pub(crate) fn java_string(&self) -> String {
        match self {
            Val::Undefined | Val::Null => "null".into(),
            Val::Num(n) if n.fract() == 0.0 && n.is_finite() && n.abs() < 1e7 => format!("{n:.1}"),
            Val::Ref(Json::String(s)) => s.clone(),
            Val::Ref(j) if j.is_object() => j.to_string(),
            Val::Own(j) if j.is_object() => j.to_string(),
            other => other.js_string(),
        }
    }

    /// JavaScript `Number(v)`.
    pub(crate) fn to_num(&self) -> f64 {
        match self {
            Val::Undefined => f64::NAN,
            Val::Null => 0.0,
            Val::Bool(b) => f64::from(u8::from(*b)),
            Val::Int(n) => float(*n),
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

    /// A JSON value taken out of an owned container keeps its scalar form.
    pub(crate) fn normalize(self) -> Self {
        match self {
            Val::Own(Json::Null) => Val::Null,
            Val::Own(Json::Bool(b)) => Val::Bool(b),
            Val::Own(Json::Number(n)) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
            },
            Val::Own(Json::String(s)) => Val::Str(Cow::Owned(s)),
            other => other,
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
        format!("{n:.0}")
    } else {
        format!("{n}")
    }
}

/// A float as JSON: whole numbers that fit exactly become integers.
pub(crate) fn num_json(n: f64) -> Json {
    match whole(n) {
        Some(i) if i.abs() < 9_007_199_254_740_992 => Json::from(i),
        _ => serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number),
    }
}

/// `o.name`, `undefined` when absent.
pub(crate) fn member<'a>(o: Val<'a>, name: &str) -> Val<'a> {
    match o {
        Val::Ref(j) => match j {
            Json::Object(m) => m.get(name).map_or(Val::Undefined, Val::from_json),
            Json::Array(a) if name == "length" => count(a.len()),
            _ => Val::Undefined,
        },
        Val::Own(j) => match j {
            Json::Object(mut m) => m
                .remove(name)
                .map_or(Val::Undefined, |v| Val::Own(v).normalize()),
            Json::Array(a) if name == "length" => count(a.len()),
            _ => Val::Undefined,
        },
        Val::Str(s) if name == "length" => count(s.chars().count()),
        Val::Str(s) if name == "literal" => Val::Str(s),
        _ => Val::Undefined,
    }
}

/// `o[i]`, `undefined` when absent.
pub(crate) fn index_val<'a>(o: Val<'a>, i: &Val<'_>) -> Val<'a> {
    let at = match i {
        Val::Int(n) => usize::try_from(*n).ok(),
        Val::Num(n) if n.fract() == 0.0 => index_of(*n),
        _ => None,
    };
    match (&o, at) {
        (Val::Ref(Json::Array(a)), Some(k)) => a.get(k).map_or(Val::Undefined, Val::from_json),
        (Val::Own(Json::Array(a)), Some(k)) => a
            .get(k)
            .map_or(Val::Undefined, |v| Val::Own(v.clone()).normalize()),
        (Val::Str(s), Some(k)) => s
            .chars()
            .nth(k)
            .map_or(Val::Undefined, |c| Val::Str(Cow::Owned(c.to_string()))),
        _ => member(o, &i.js_string()),
    }
}

/// Numbers compare by value whatever their kind.
fn num_eq(a: &Val<'_>, b: &Val<'_>) -> Option<bool> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => Some(x == y),
        (Val::Int(_) | Val::Num(_), Val::Int(_) | Val::Num(_)) => Some(a.to_num() == b.to_num()),
        _ => None,
    }
}

/// JavaScript `===` (objects and arrays compare by content: flows have no identity). Also
/// SpEL's `==`, with `undefined` as `null`.
pub fn strict_eq(a: &Val<'_>, b: &Val<'_>) -> bool {
    if let Some(r) = num_eq(a, b) {
        return r;
    }
    match (a, b) {
        (Val::Undefined, Val::Undefined) | (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
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
        (Val::Int(_) | Val::Num(_) | Val::Bool(_), _)
        | (_, Val::Int(_) | Val::Num(_) | Val::Bool(_))
            if !matches!(a, Val::Ref(_) | Val::Own(_))
                && !matches!(b, Val::Ref(_) | Val::Own(_)) =>
        {
            a.to_num() == b.to_num()
        }
        _ => strict_eq(a, b),
    }
}

/// Equality in `dialect`: JavaScript's loose `==`, or SpEL's typed `==` (`1 == '1'` is false).
pub(crate) fn equals(dialect: Dialect, a: &Val<'_>, b: &Val<'_>) -> bool {
    match dialect {
        Dialect::Builder => loose_eq(a, b),
        Dialect::Watson => {
            let nullish = |v: &Val<'_>| v.is_nullish();
            if nullish(a) || nullish(b) {
                return nullish(a) && nullish(b);
            }
            strict_eq(a, b)
        }
    }
}

/// Ordering in `dialect`. JavaScript: strings by code unit, everything else as numbers (NaN
/// compares false: `None`). SpEL: `null` sorts before everything, numbers by value, strings by
/// UTF-16 code unit, and anything else does not compare (`Err`).
pub(crate) fn order(dialect: Dialect, a: &Val<'_>, b: &Val<'_>) -> Result<Option<Ordering>, ()> {
    let strings = |x: &str, y: &str| x.encode_utf16().cmp(y.encode_utf16());
    match dialect {
        Dialect::Builder => Ok(match (a, b) {
            (Val::Str(x), Val::Str(y)) => Some(strings(x, y)),
            _ => a.to_num().partial_cmp(&b.to_num()),
        }),
        Dialect::Watson => match (a, b) {
            (x, y) if x.is_nullish() && y.is_nullish() => Ok(Some(Ordering::Equal)),
            (x, _) if x.is_nullish() => Ok(Some(Ordering::Less)),
            (_, y) if y.is_nullish() => Ok(Some(Ordering::Greater)),
            (Val::Int(x), Val::Int(y)) => Ok(Some(x.cmp(y))),
            (x, y) if x.is_number() && y.is_number() => Ok(x.to_num().partial_cmp(&y.to_num())),
            (Val::Str(x), Val::Str(y)) => Ok(Some(strings(x, y))),
            (Val::Bool(x), Val::Bool(y)) => Ok(Some(x.cmp(y))),
            _ => Err(()),
        },
    }
}
