//! Loading JSON with source positions.
//!
//! Bytes → [`jsonc_parser`] AST in strict mode (ranges on every value, duplicate keys kept) →
//! [`serde_json::Value`]. Strict JSON is required, but the two defects the builder's own docs
//! contain — a trailing comma and a missing comma — are reported in words at the right place,
//! repaired in a length-preserving way so that every later stage still runs, and offered as
//! fixes. A [`Document`] keeps the AST so a JSON Pointer can be turned back into a byte range
//! (the way taplo maps schema errors to positions).

use crate::diagnostic::{declare_rule, Diagnostic, Edit, Location};
use jsonc_parser::ast::{ObjectPropName, Value as Ast};
use jsonc_parser::errors::ParseErrorKind;
use jsonc_parser::{CollectOptions, ParseOptions};
use serde_json::{Map, Number, Value};
use std::ops::Range;

declare_rule! {
    /// ## What it does
    /// Reports text that is not strict JSON: missing or trailing commas, comments, single quotes,
    /// unterminated strings, objects or arrays, a byte-order mark, invalid UTF-8, an empty file,
    /// values nested deeper than about 256 levels.
    ///
    /// ## Why it matters
    /// The builder and its API read strict JSON; a file with a syntax error is rejected whole.
    /// The builder's own documentation has examples with a trailing comma after
    /// `"result_variable"` and a missing comma after `"skillId"`, so authors copy these defects.
    /// Missing and trailing commas are repaired in memory so every other rule still runs, and
    /// `fluxo lint --fix` writes the repair.
    ///
    /// ## Example
    /// ```json
    /// { "name": "start_live_chat", "result_variable": "response", }
    /// ```
    /// Remove the comma after `"response"`.
    pub struct JsonSyntax => "json-syntax", Error;
}

declare_rule! {
    /// ## What it does
    /// Reports an object that has the same key twice.
    ///
    /// ## Why it matters
    /// JSON readers keep only the last value, silently: the first one is lost, usually a
    /// copy-and-paste mistake (two `"condition"` keys, two `"output"` arrays).
    ///
    /// ## Example
    /// ```json
    /// { "id": "menu", "condition": "#menu", "condition": "start" }
    /// ```
    pub struct DuplicateKey => "duplicate-key", Error;
}

/// Most syntax defects repaired in one file before giving up on the rest.
const MAX_REPAIRS: usize = 64;

/// Strict JSON: every relaxation jsonc-parser offers is off.
fn strict() -> ParseOptions {
    ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

/// Result of loading: the repaired text (when repairs were made), the value, and the syntax
/// findings.
#[derive(Debug)]
pub struct Loaded {
    /// Text the value was read from, when it differs from the input: the input with repairs
    /// applied in place (same length). `None` when the input was read as it is.
    pub text: Option<String>,
    /// The value, when the text (after repairs) is JSON.
    pub value: Option<Value>,
    /// Syntax findings (`json-syntax`, `duplicate-key`).
    pub diagnostics: Vec<Diagnostic>,
}

/// Bytes decoded to text.
#[derive(Debug)]
pub struct Decoded {
    /// The text (BOM removed; invalid UTF-8 replaced by U+FFFD so positions can still be shown).
    pub text: String,
    /// False when the bytes were not UTF-8: nothing more can be read from them.
    pub usable: bool,
    /// `json-syntax` findings about the encoding.
    pub diagnostics: Vec<Diagnostic>,
}

/// Decodes bytes to text, reporting invalid UTF-8 and a BOM. Offsets in the result are relative
/// to the text after the BOM.
pub fn decode(bytes: &[u8]) -> Decoded {
    let mut diagnostics = Vec::new();
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => {
            diagnostics.push(
                Diagnostic::new::<JsonSyntax>(
                    Location::Raw(0..0),
                    "the file starts with a UTF-8 byte-order mark, which JSON does not allow",
                )
                .help("save the file as UTF-8 without BOM")
                // Offsets are relative to the text after the BOM, so the fix is a no-op edit:
                // writing the text back drops the BOM.
                .fix(Edit {
                    range: 0..0,
                    replacement: String::new(),
                }),
            );
            rest
        }
        None => bytes,
    };
    match std::str::from_utf8(bytes) {
        Ok(s) => Decoded {
            text: s.to_owned(),
            usable: true,
            diagnostics,
        },
        Err(e) => {
            let at = e.valid_up_to();
            diagnostics.push(Diagnostic::new::<JsonSyntax>(
                Location::Raw(at..at),
                format!("the file is not valid UTF-8 (invalid byte at offset {at})"),
            ));
            Decoded {
                text: String::from_utf8_lossy(bytes).into_owned(),
                usable: false,
                diagnostics,
            }
        }
    }
}

/// Parses `text` strictly, explaining and repairing commas, and reporting duplicate keys.
///
/// Valid files (the common case in CI) take a fast path through `serde_json`, which refuses
/// everything strict JSON refuses; only a file it rejects, or one with a duplicate key, goes
/// through jsonc-parser to be explained and repaired.
pub fn load(text: &str) -> Loaded {
    if let Ok(StrictValue(value)) = serde_json::from_str::<StrictValue>(text) {
        return Loaded {
            text: None,
            value: Some(value),
            diagnostics: Vec::new(),
        };
    }
    let mut work = text.to_owned();
    let mut diagnostics = Vec::new();
    if work.trim().is_empty() {
        diagnostics.push(Diagnostic::new::<JsonSyntax>(
            Location::Raw(0..0),
            "the file is empty; a JSON object was expected",
        ));
        return Loaded {
            text: Some(work),
            value: None,
            diagnostics,
        };
    }
    for _ in 0..=MAX_REPAIRS {
        let result = jsonc_parser::parse_to_ast(&work, &CollectOptions::default(), &strict());
        match result {
            Ok(parsed) => {
                let Some(ast) = parsed.value else {
                    diagnostics.push(Diagnostic::new::<JsonSyntax>(
                        Location::Raw(0..0),
                        "the file holds no JSON value",
                    ));
                    return Loaded {
                        text: Some(work),
                        value: None,
                        diagnostics,
                    };
                };
                control_characters(&work, &mut diagnostics);
                duplicate_keys(&ast, &mut String::new(), &mut diagnostics);
                let value = to_value(&ast);
                drop(ast);
                return Loaded {
                    text: Some(work),
                    value: Some(value),
                    diagnostics,
                };
            }
            Err(err) => {
                let range = err.range();
                let (diag, repair) = explain(&work, range.start..range.end, err.kind());
                diagnostics.push(diag);
                match repair {
                    Some(edit) if diagnostics.len() <= MAX_REPAIRS => {
                        work.replace_range(edit.range.clone(), &edit.replacement);
                    }
                    _ => break,
                }
            }
        }
    }
    Loaded {
        text: Some(work),
        value: None,
        diagnostics,
    }
}

/// A JSON value read by serde_json that refuses duplicate keys (so they can be reported).
pub(crate) struct StrictValue(pub(crate) Value);

/// A JSON object read by serde_json that refuses duplicate keys: what the typed read of a flow
/// uses for the free-form maps of the model, so that a file it accepts has no `duplicate-key`
/// finding either.
pub(crate) struct StrictMap(pub(crate) Map<String, Value>);

impl<'de> serde::Deserialize<'de> for StrictMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(StrictMapVisitor).map(StrictMap)
    }
}

struct StrictMapVisitor;

impl<'de> serde::de::Visitor<'de> for StrictMapVisitor {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        map: A,
    ) -> Result<Map<String, Value>, A::Error> {
        strict_entries(map)
    }
}

/// A field of a JSON object. Objects with a dozen fields or so are searched key by key, which
/// costs less than hashing the key once (`serde_json`'s map hashes with SipHash); the Watson
/// linter and runtime ask for the fields of every dialog node many times.
pub(crate) fn field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    const SCANNED: usize = 16;
    if object.len() <= SCANNED {
        object
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    } else {
        object.get(key)
    }
}

/// The entries of an object, refusing a key seen before.
fn strict_entries<'de, A: serde::de::MapAccess<'de>>(
    mut map: A,
) -> Result<Map<String, Value>, A::Error> {
    let mut m = Map::new();
    while let Some(k) = map.next_key::<String>()? {
        let StrictValue(v) = map.next_value()?;
        match m.entry(k) {
            serde_json::map::Entry::Occupied(_) => {
                return Err(serde::de::Error::custom("duplicate key"))
            }
            serde_json::map::Entry::Vacant(e) => {
                e.insert(v);
            }
        }
    }
    Ok(m)
}

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut v = Vec::new();
        while let Some(StrictValue(x)) = seq.next_element()? {
            v.push(x);
        }
        Ok(Value::Array(v))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        strict_entries(map).map(Value::Object)
    }
}

/// Turns a parser error into a worded diagnostic, and a same-length repair when one is safe.
fn explain(text: &str, range: Range<usize>, kind: &ParseErrorKind) -> (Diagnostic, Option<Edit>) {
    let at = range.start.min(text.len());
    // The parser may stop on the whitespace before the offending token; describe the token.
    let token_at = at + text[at..].len() - text[at..].trim_start().len();
    let found = describe_token(text, token_at);
    match kind {
        ParseErrorKind::TrailingCommasNotAllowed => {
            let comma = at..at + 1;
            let d = Diagnostic::new::<JsonSyntax>(Location::Raw(comma.clone()), "trailing comma: JSON does not allow a comma after the last item of an object or array")
            .label("remove this comma")
            .help("delete the comma")
            .fix(Edit { range: comma.clone(), replacement: String::new() });
            (
                d,
                Some(Edit {
                    range: comma,
                    replacement: " ".into(),
                }),
            )
        }
        ParseErrorKind::ExpectedComma => {
            // The parser stops at the token after the missing comma; point at the end of the
            // value before it, which is where the comma belongs.
            let prev_end = text[..at].trim_end().len();
            let gap = prev_end..token_at;
            let d = Diagnostic::new::<JsonSyntax>(
                Location::Raw(prev_end..prev_end),
                format!("missing comma: expected `,` between two items, found {found}"),
            )
            .label("a comma is missing here")
            .help("insert `,` after this value")
            .fix(Edit {
                range: prev_end..prev_end,
                replacement: ",".into(),
            });
            // Length-preserving repair: the first whitespace byte of the gap becomes the comma.
            let repair = (!gap.is_empty() && text[gap.clone()].starts_with(char::is_whitespace))
                .then(|| Edit {
                    range: prev_end..prev_end + 1,
                    replacement: ",".into(),
                });
            (d, repair)
        }
        _ => {
            let msg = match kind {
                ParseErrorKind::CommentsNotAllowed => {
                    "comments are not allowed in JSON".to_string()
                }
                ParseErrorKind::SingleQuotedStringsNotAllowed => {
                    "single-quoted strings are not allowed in JSON; use double quotes".to_string()
                }
                ParseErrorKind::ExpectedStringObjectProperty => {
                    format!("expected a property name in double quotes, found {found}")
                }
                ParseErrorKind::ExpectedColonAfterObjectKey => {
                    format!("expected `:` after the property name, found {found}")
                }
                ParseErrorKind::UnterminatedObject => {
                    "unterminated object: the file ends before its closing `}`".to_string()
                }
                ParseErrorKind::UnterminatedArray => {
                    "unterminated array: the file ends before its closing `]`".to_string()
                }
                ParseErrorKind::NestingDepthExceeded => {
                    "values are nested too deeply: fluxo reads objects and arrays at most about 256 levels deep".to_string()
                }
                ParseErrorKind::MultipleRootJsonValues => {
                    format!("unexpected {found} after the end of the JSON value")
                }
                ParseErrorKind::UnexpectedWord => {
                    format!("unexpected {found}: not a JSON value (strings need double quotes; literals are true, false and null)")
                }
                other => {
                    let s = other.to_string();
                    let mut c = s.chars();
                    match c.next() {
                        Some(f) => format!("{}{}", f.to_lowercase(), c.as_str()),
                        None => s,
                    }
                }
            };
            let end = range.end.clamp(at, text.len());
            (
                Diagnostic::new::<JsonSyntax>(Location::Raw(at..end), msg),
                None,
            )
        }
    }
}

/// "`\"x\"`", "end of file", or the character found at `at`.
fn describe_token(text: &str, at: usize) -> String {
    let rest = text.get(at..).unwrap_or("");
    match rest.chars().next() {
        None => "the end of the file".to_string(),
        Some('"') => {
            let end = rest[1..]
                .find('"')
                .map_or(rest.len().min(40), |e| (e + 2).min(40));
            format!("`{}`", rest.get(..end).unwrap_or("\""))
        }
        Some(c) if c.is_alphanumeric() => {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .take(30)
                .collect();
            format!("`{word}`")
        }
        Some('\0') => "a NUL byte".to_string(),
        Some(c) if c.is_control() => format!("control character U+{:04X}", c as u32),
        Some(c) => format!("`{c}`"),
    }
}

/// Reports raw control characters, which JSON allows nowhere (tab, CR and LF only as
/// whitespace between tokens), at most a few per file.
fn control_characters(text: &str, out: &mut Vec<Diagnostic>) {
    let (mut in_string, mut escaped, mut found) = (false, false, 0);
    for (i, b) in text.bytes().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
                continue;
            }
            match b {
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
            continue;
        }
        let allowed_ws = !in_string && matches!(b, b'\t' | b'\n' | b'\r');
        if b < 0x20 && !allowed_ws {
            let what = if b == 0 {
                "a NUL byte".to_string()
            } else {
                format!("control character U+{b:04X}")
            };
            let place = if in_string {
                "inside a string"
            } else {
                "in the file"
            };
            out.push(
                Diagnostic::new::<JsonSyntax>(
                    Location::Raw(i..i + 1),
                    format!("{what} {place}: JSON requires it to be escaped"),
                )
                .help(format!("write it as `\\u{b:04x}`, or remove it")),
            );
            found += 1;
            if found == 8 {
                return;
            }
        }
    }
}

fn duplicate_keys(ast: &Ast<'_>, pointer: &mut String, out: &mut Vec<Diagnostic>) {
    match ast {
        Ast::Object(obj) => {
            let mut seen: std::collections::HashMap<&str, Range<usize>> =
                std::collections::HashMap::new();
            for prop in &obj.properties {
                let name = prop_name(&prop.name);
                let len = pointer.len();
                push_segment(pointer, name);
                if let Some(first) = seen.insert(name, prop.name_range()) {
                    out.push(
                        Diagnostic::new::<DuplicateKey>(
                            Location::Exact(pointer.clone(), prop.name_range()),
                            format!("duplicate key `{name}`: the later value silently replaces the earlier one"),
                        )
                        .label("defined again here")
                        .also(Location::Raw(first), "first defined here")
                        .help("keep one of the two"),
                    );
                }
                duplicate_keys(&prop.value, pointer, out);
                pointer.truncate(len);
            }
        }
        Ast::Array(arr) => {
            for (i, el) in arr.elements.iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                duplicate_keys(el, pointer, out);
                pointer.truncate(len);
            }
        }
        Ast::NumberLit(n) if number(n.value).is_null() => out.push(Diagnostic::new::<JsonSyntax>(
            Location::Exact(pointer.clone(), n.range.start..n.range.end),
            format!(
                "the number {} is out of range: it cannot be represented without loss",
                short_text(n.value)
            ),
        )),
        _ => {}
    }
}

fn short_text(s: &str) -> String {
    if s.len() > 32 {
        format!("{}…", &s[..32])
    } else {
        s.to_owned()
    }
}

trait PropRange {
    fn name_range(&self) -> Range<usize>;
}
impl PropRange for jsonc_parser::ast::ObjectProp<'_> {
    fn name_range(&self) -> Range<usize> {
        match &self.name {
            ObjectPropName::String(s) => s.range.start..s.range.end,
            ObjectPropName::Word(w) => w.range.start..w.range.end,
        }
    }
}

fn prop_name<'a>(name: &'a ObjectPropName<'_>) -> &'a str {
    match name {
        ObjectPropName::String(s) => &s.value,
        ObjectPropName::Word(w) => w.value,
    }
}

/// Appends one escaped JSON Pointer segment.
pub fn push_segment(pointer: &mut String, segment: &str) {
    pointer.push('/');
    if !segment.bytes().any(|b| b == b'~' || b == b'/') {
        pointer.push_str(segment);
        return;
    }
    for c in segment.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Converts the AST to a plain value (the last of duplicate keys wins, as in serde_json).
fn to_value(ast: &Ast<'_>) -> Value {
    match ast {
        Ast::StringLit(s) => Value::String(s.value.to_string()),
        Ast::NumberLit(n) => number(n.value),
        Ast::BooleanLit(b) => Value::Bool(b.value),
        Ast::NullKeyword(_) => Value::Null,
        Ast::Array(a) => Value::Array(a.elements.iter().map(to_value).collect()),
        Ast::Object(o) => {
            let mut map = Map::with_capacity(o.properties.len());
            for p in &o.properties {
                map.insert(prop_name(&p.name).to_owned(), to_value(&p.value));
            }
            Value::Object(map)
        }
    }
}

fn number(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(u) = text.parse::<u64>() {
        return Value::Number(u.into());
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A field found key by key is the one the map's hash finds, in small and large objects,
    /// present or not.
    #[test]
    fn fields_are_found_as_the_map_finds_them() {
        for n in [0, 1, 5, 16, 17, 40] {
            let object: Map<String, Value> =
                (0..n).map(|i| (format!("k{i}"), Value::from(i))).collect();
            for key in (0..n + 2)
                .map(|i| format!("k{i}"))
                .chain(["".into(), "k".into()])
            {
                assert_eq!(field(&object, &key), object.get(&key), "{n} {key}");
            }
        }
    }

    #[test]
    fn trailing_and_missing_commas_are_worded_and_repaired() {
        let text = "{\n  \"a\": 1,\n  \"b\": \"x\"\n  \"c\": [1, 2,],\n}";
        let l = load(text);
        let msgs: Vec<_> = l.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(msgs[0].starts_with("missing comma"));
        assert!(msgs[1].starts_with("trailing comma"));
        assert!(msgs[2].starts_with("trailing comma"));
        assert_eq!(l.text.as_deref().unwrap_or(text).len(), text.len());
        assert_eq!(l.value.unwrap()["c"], serde_json::json!([1, 2]));
    }

    #[test]
    fn duplicate_keys_are_reported() {
        let l = load(r#"{"a": 1, "a": 2}"#);
        assert_eq!(l.diagnostics.len(), 1);
        assert_eq!(l.diagnostics[0].code(), "duplicate-key");
        assert_eq!(l.value.unwrap()["a"], 2);
    }
}
