//! The method table: every method and function an expression may call, declared once — its
//! name, the kind of value it applies to, its arity, the dialect it belongs to, a one-line doc,
//! an example, and its implementation. The evaluator dispatches through this table, the
//! `unknown-method` rule checks names and arities against it, and `fluxo rule unknown-method`
//! and `docs/expressions.md` print it, so what lints clean is exactly what runs.

use super::dates;
use super::value::{count, float, index_of, strict_eq, whole, Val};
use super::{Dialect, Scope, Span};
use crate::error::{Error, ErrorKind};
use serde_json::{Map, Value as Json};
use std::borrow::Cow;
use std::sync::LazyLock;

/// The kind of value a method applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Receiver {
    /// A string.
    String,
    /// A number.
    Number,
    /// A boolean.
    Boolean,
    /// An array.
    Array,
    /// An object.
    Object,
    /// A regex literal.
    Regex,
    /// SpEL's `T(Math)`.
    Math,
    /// A global function (`now()`, `today()`).
    Function,
}

impl Receiver {
    /// How the docs name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Receiver::String => "string",
            Receiver::Number => "number",
            Receiver::Boolean => "boolean",
            Receiver::Array => "array",
            Receiver::Object => "object",
            Receiver::Regex => "regex",
            Receiver::Math => "T(Math)",
            Receiver::Function => "function",
        }
    }

    fn of(v: &Val<'_>) -> Option<Receiver> {
        Some(match v {
            Val::Str(_) => Receiver::String,
            Val::Int(_) | Val::Num(_) => Receiver::Number,
            Val::Bool(_) => Receiver::Boolean,
            Val::Regex(..) => Receiver::Regex,
            Val::Type(_) => Receiver::Math,
            Val::Ref(j) if j.is_array() => Receiver::Array,
            Val::Own(j) if j.is_array() => Receiver::Array,
            Val::Ref(j) if j.is_object() => Receiver::Object,
            Val::Own(j) if j.is_object() => Receiver::Object,
            Val::Ref(Json::String(_)) | Val::Own(Json::String(_)) => Receiver::String,
            _ => return None,
        })
    }
}

/// Which dialects have a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Availability {
    /// Builder flows only (JavaScript).
    Builder,
    /// Watson workspaces only (SpEL).
    Watson,
    /// Both.
    Both,
}

impl Availability {
    /// True when `dialect` has the method.
    pub fn includes(self, dialect: Dialect) -> bool {
        matches!(
            (self, dialect),
            (Availability::Both, _)
                | (Availability::Builder, Dialect::Builder)
                | (Availability::Watson, Dialect::Watson)
        )
    }

    /// How the docs name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Builder => "builder",
            Availability::Watson => "watson",
            Availability::Both => "both",
        }
    }
}

/// What a method call may use besides its receiver and arguments.
pub(crate) struct Call<'c> {
    pub dialect: Dialect,
    pub max_len: usize,
    pub span: &'c Span,
    pub scope: Scope<'c>,
}

type Run = for<'e> fn(&mut Call<'_>, Val<'e>, &[Val<'e>]) -> Result<Val<'e>, Error>;

/// One method or function.
pub struct Method {
    /// Its name.
    pub name: &'static str,
    /// What it applies to.
    pub receiver: Receiver,
    /// Fewest arguments.
    pub min_args: usize,
    /// Most arguments.
    pub max_args: usize,
    /// The dialects that have it.
    pub availability: Availability,
    /// What it does, in one line.
    pub doc: &'static str,
    /// An expression that calls it and evaluates with an empty scope.
    pub example: &'static str,
    run: Run,
}

impl std::fmt::Debug for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.receiver.as_str(), self.name)
    }
}

impl PartialEq for Method {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.receiver == other.receiver
    }
}

/// Every method and function, sorted by name.
pub fn all() -> &'static [Method] {
    &TABLE
}

/// The entries named `name` (empty when none).
pub fn by_name(name: &str) -> &'static [Method] {
    let t: &'static [Method] = &TABLE;
    let start = t.partition_point(|m| m.name < name);
    let rest = t.get(start..).unwrap_or_default();
    rest.get(..rest.partition_point(|m| m.name == name))
        .unwrap_or_default()
}

/// True when some entry named `name` exists in `dialect`.
#[cfg(test)]
pub fn known(name: &str, dialect: Dialect) -> bool {
    by_name(name)
        .iter()
        .any(|m| m.availability.includes(dialect))
}

/// Calls the entry of `methods` that fits the receiver and dialect.
pub(crate) fn call<'e>(
    methods: &'static [Method],
    name: &str,
    c: &mut Call<'_>,
    recv: Val<'e>,
    args: &[Val<'e>],
) -> Result<Val<'e>, Error> {
    if recv.is_nullish() {
        // A method on a missing value gives a missing value, never an error.
        return Ok(Val::Undefined);
    }
    let kind = Receiver::of(&recv);
    let found = methods
        .iter()
        .find(|m| Some(m.receiver) == kind && m.availability.includes(c.dialect));
    dispatch(found, kind, name, c, recv, args)
}

/// Calls the global function among `methods` (`now()`, `today()`).
pub(crate) fn call_function<'e>(
    methods: &'static [Method],
    name: &str,
    c: &mut Call<'_>,
    args: &[Val<'e>],
) -> Result<Val<'e>, Error> {
    let found = methods
        .iter()
        .find(|m| m.receiver == Receiver::Function && m.availability.includes(c.dialect));
    if found.is_none() {
        return Err(expr_error(
            ErrorKind::ExpressionUnknownMethod,
            c.span,
            format!("unknown function `{name}`"),
        ));
    }
    dispatch(found, Some(Receiver::Function), name, c, Val::Null, args)
}

fn dispatch<'e>(
    found: Option<&Method>,
    kind: Option<Receiver>,
    name: &str,
    c: &mut Call<'_>,
    recv: Val<'e>,
    args: &[Val<'e>],
) -> Result<Val<'e>, Error> {
    match found {
        Some(m) if args.len() < m.min_args || args.len() > m.max_args => Err(expr_error(
            ErrorKind::ExpressionUnknownMethod,
            c.span,
            format!(
                "`{name}` takes {} argument{}, not {}",
                arity_text(m),
                if m.max_args == 1 { "" } else { "s" },
                args.len()
            ),
        )),
        Some(m) => (m.run)(c, recv, args),
        None => Err(expr_error(
            ErrorKind::ExpressionUnknownMethod,
            c.span,
            format!(
                "`{name}` is not a method of {}",
                kind.map_or("this value", |k| match k {
                    Receiver::String => "a string",
                    Receiver::Number => "a number",
                    Receiver::Boolean => "a boolean",
                    Receiver::Array => "an array",
                    Receiver::Object => "an object",
                    Receiver::Regex => "a regex",
                    Receiver::Math => "T(Math)",
                    Receiver::Function => "a function",
                })
            ),
        )),
    }
}

/// "1", "1 or 2", "0 to 3".
pub fn arity_text(m: &Method) -> String {
    match m.max_args - m.min_args {
        0 => m.min_args.to_string(),
        1 => format!("{} or {}", m.min_args, m.max_args),
        _ => format!("{} to {}", m.min_args, m.max_args),
    }
}

/// An error of an expression at `span`.
pub(crate) fn expr_error(kind: ErrorKind, span: &Span, message: impl Into<String>) -> Error {
    Error::new(kind, message.into()).with_span(span.clone())
}

/// A value grew past the limit.
pub(crate) fn too_large(span: &Span, max: usize) -> Error {
    expr_error(
        ErrorKind::ExpressionTooLarge,
        span,
        format!("a value grew past the limit of {max} bytes"),
    )
}

fn owned(s: String) -> Val<'static> {
    Val::Str(Cow::Owned(s))
}

fn arg<'e>(args: &[Val<'e>], i: usize) -> Val<'e> {
    args.get(i).cloned().unwrap_or(Val::Undefined)
}

fn text(args: &[Val<'_>], i: usize) -> String {
    args.get(i)
        .map_or_else(|| "undefined".into(), Val::js_string)
}

fn string<'a, 'e>(v: &'a Val<'e>) -> &'a str {
    match v {
        Val::Str(s) => s,
        Val::Ref(Json::String(s)) => s,
        Val::Own(Json::String(s)) => s,
        _ => "",
    }
}

fn array<'a>(v: &'a Val<'_>) -> &'a [Json] {
    v.array().map_or(&[], Vec::as_slice)
}

fn object<'a>(v: &'a Val<'_>) -> Option<&'a Map<String, Json>> {
    v.json().and_then(Json::as_object)
}

fn checked<'e>(c: &Call<'_>, s: String) -> Result<Val<'e>, Error> {
    if s.len() > c.max_len {
        Err(too_large(c.span, c.max_len))
    } else {
        Ok(owned(s))
    }
}

fn checked_array<'e>(c: &Call<'_>, items: Vec<Json>) -> Result<Val<'e>, Error> {
    if items.len() > c.max_len {
        Err(too_large(c.span, c.max_len))
    } else {
        Ok(Val::Own(Json::Array(items)))
    }
}

fn regex(
    c: &Call<'_>,
    pattern: &str,
    whole_string: bool,
) -> Result<std::sync::Arc<regex::Regex>, Error> {
    let full = if whole_string {
        format!("^(?:{pattern})$")
    } else {
        pattern.to_owned()
    };
    super::regex::compile_regex(&full, "").map_err(|m| {
        expr_error(
            ErrorKind::ExpressionRegex,
            c.span,
            format!("invalid pattern `{pattern}`: {m}"),
        )
    })
}

/// A JavaScript index argument: negative counts from the end (`slice`), clamped to `len`.
fn js_index(args: &[Val<'_>], i: usize, len: usize, default: usize) -> usize {
    match args.get(i) {
        None | Some(Val::Undefined) => default,
        Some(v) => {
            let n = v.to_num();
            let n = if n.is_nan() { 0.0 } else { n.trunc() };
            if n < 0.0 {
                index_of((float(i64::try_from(len).unwrap_or(i64::MAX)) + n).max(0.0)).unwrap_or(0)
            } else {
                index_of(n).unwrap_or(usize::MAX).min(len)
            }
        }
    }
}

/// Replaces with a size check before building the result.
fn replace_checked<'e>(
    c: &Call<'_>,
    s: &str,
    pattern: &Val<'_>,
    with: &str,
    all: bool,
    regex_strings: bool,
) -> Result<Val<'e>, Error> {
    let grows = |n: usize| s.len().saturating_add(n.saturating_mul(with.len()));
    let re = match pattern {
        Val::Regex(re, global) => Some((re.clone(), all || *global)),
        p if regex_strings => Some((regex(c, &p.js_string(), false)?, all)),
        _ => None,
    };
    match re {
        Some((re, all)) => {
            let n = if all {
                re.find_iter(s).count()
            } else {
                usize::from(re.is_match(s))
            };
            if grows(n) > c.max_len {
                return Err(too_large(c.span, c.max_len));
            }
            // Java and JavaScript both read `$1` in the replacement; the regex crate reads
            // `${1}` too, so plain `$` references keep their meaning.
            let out = if all {
                re.replace_all(s, with)
            } else {
                re.replace(s, with)
            };
            checked(c, out.into_owned())
        }
        None => {
            let p = pattern.js_string();
            let n = if p.is_empty() {
                if all {
                    s.chars().count() + 1
                } else {
                    1
                }
            } else if all {
                s.matches(&*p).count()
            } else {
                usize::from(s.contains(&*p))
            };
            if grows(n) > c.max_len {
                return Err(too_large(c.span, c.max_len));
            }
            checked(
                c,
                if all {
                    s.replace(&*p, with)
                } else {
                    s.replacen(&*p, with, 1)
                },
            )
        }
    }
}

fn split<'e>(c: &Call<'_>, s: &str, sep: &Val<'_>) -> Result<Val<'e>, Error> {
    // The number of pieces is known before any is built.
    let pieces: Vec<Json> = match sep {
        Val::Undefined => vec![Json::String(s.to_owned())],
        Val::Regex(re, _) => {
            if re.find_iter(s).count() >= c.max_len {
                return Err(too_large(c.span, c.max_len));
            }
            re.split(s).map(|x| Json::String(x.to_owned())).collect()
        }
        sep if c.dialect == Dialect::Watson => {
            // Java's split takes a regex and drops trailing empty strings.
            let re = regex(c, &sep.js_string(), false)?;
            if re.find_iter(s).count() >= c.max_len {
                return Err(too_large(c.span, c.max_len));
            }
            let mut v: Vec<Json> = re.split(s).map(|x| Json::String(x.to_owned())).collect();
            while v.last().is_some_and(|x| x.as_str() == Some("")) {
                v.pop();
            }
            v
        }
        sep => {
            let sep = sep.js_string();
            let n = if sep.is_empty() {
                s.chars().count()
            } else {
                s.matches(&*sep).count() + 1
            };
            if n > c.max_len {
                return Err(too_large(c.span, c.max_len));
            }
            if sep.is_empty() {
                s.chars().map(|ch| Json::String(ch.to_string())).collect()
            } else {
                s.split(&*sep).map(|x| Json::String(x.to_owned())).collect()
            }
        }
    };
    checked_array(c, pieces)
}

fn join<'e>(c: &Call<'_>, items: &[Json], sep: &Val<'_>) -> Result<Val<'e>, Error> {
    let sep = match sep {
        Val::Undefined => ",".to_string(),
        v => v.js_string(),
    };
    // Separators alone may already exceed the limit; check before building.
    if items.len().saturating_sub(1).saturating_mul(sep.len()) > c.max_len {
        return Err(too_large(c.span, c.max_len));
    }
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(&sep);
        }
        match item {
            Json::Null => {}
            other => out.push_str(&Val::from_json(other).js_string()),
        }
        if out.len() > c.max_len {
            return Err(too_large(c.span, c.max_len));
        }
    }
    Ok(owned(out))
}

fn with_item<'e>(c: &Call<'_>, items: &[Json], extra: Json) -> Result<Val<'e>, Error> {
    if items.len() >= c.max_len {
        return Err(too_large(c.span, c.max_len));
    }
    let mut v = Vec::with_capacity(items.len() + 1);
    v.extend_from_slice(items);
    v.push(extra);
    Ok(Val::Own(Json::Array(v)))
}

/// Watson's numeric conversions: a number, or `null` when the text is not one.
fn to_number<'e>(v: &Val<'_>, integer: bool) -> Val<'e> {
    let parsed = match v {
        Val::Int(i) => Some(float(*i)),
        Val::Num(n) => Some(*n),
        other => {
            let t = string(other).trim().to_owned();
            if t.is_empty() {
                None
            } else {
                t.parse::<f64>().ok()
            }
        }
    };
    match parsed {
        Some(n) if integer => whole(n.trunc()).map_or(Val::Null, Val::Int),
        Some(n) => Val::Num(n),
        None => Val::Null,
    }
}

/// The index argument of `get`, `remove`, `set`.
fn position(v: &Val<'_>) -> Option<usize> {
    match v {
        Val::Int(i) => usize::try_from(*i).ok(),
        Val::Num(n) if n.fract() == 0.0 => index_of(*n),
        _ => None,
    }
}

fn date_error(c: &Call<'_>, message: String) -> Error {
    expr_error(ErrorKind::ExpressionType, c.span, message)
}

fn date_compare<'e>(
    c: &Call<'_>,
    recv: &Val<'_>,
    args: &[Val<'_>],
    test: fn(std::cmp::Ordering) -> bool,
) -> Result<Val<'e>, Error> {
    let a = string(recv);
    let b = args.first().map(Val::js_string).unwrap_or_default();
    dates::compare(a, &b)
        .map(|o| Val::Bool(test(o)))
        .map_err(|m| date_error(c, m))
}

fn date_shift<'e>(
    c: &Call<'_>,
    recv: &Val<'_>,
    args: &[Val<'_>],
    unit: dates::Unit,
    sign: i64,
) -> Result<Val<'e>, Error> {
    let n = match args.first() {
        Some(Val::Int(i)) => *i,
        Some(v) => whole(v.to_num().trunc()).unwrap_or(0),
        None => 0,
    };
    dates::shift(string(recv), unit, n.saturating_mul(sign))
        .map(owned)
        .map_err(|m| date_error(c, m))
}

/// The first two arguments as numbers (NaN when absent; the arity was checked).
fn math_args(args: &[Val<'_>]) -> [f64; 2] {
    let n = |i: usize| args.get(i).map_or(f64::NAN, Val::to_num);
    [n(0), n(1)]
}

fn math_result<'e>(args: &[Val<'_>], r: f64) -> Val<'e> {
    // Java returns an int for int arguments of abs/max/min.
    if args.iter().all(|a| matches!(a, Val::Int(_))) {
        whole(r).map_or(Val::Num(r), Val::Int)
    } else {
        Val::Num(r)
    }
}

macro_rules! m {
    ($name:literal, $recv:ident, $min:literal..$max:literal, $avail:ident, $doc:literal, $ex:literal, $run:expr) => {
        Method {
            name: $name,
            receiver: Receiver::$recv,
            min_args: $min,
            max_args: $max,
            availability: Availability::$avail,
            doc: $doc,
            example: $ex,
            run: $run,
        }
    };
}

mod table;

static TABLE: LazyLock<Vec<Method>> = LazyLock::new(|| {
    let mut t = table::table();
    t.sort_by(|a, b| (a.name, a.receiver).cmp(&(b.name, b.receiver)));
    t
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_has_no_duplicates() {
        let t = all();
        for w in t.windows(2) {
            assert!(
                (w[0].name, w[0].receiver) < (w[1].name, w[1].receiver),
                "{:?} / {:?}",
                w[0],
                w[1]
            );
        }
        assert_eq!(by_name("length").len(), 2);
        assert!(by_name("nope").is_empty());
        assert!(known("isEmpty", Dialect::Builder) && known("before", Dialect::Watson));
        assert!(!known("before", Dialect::Builder));
    }
}
