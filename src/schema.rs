//! JSON Schema validation of flows and integrations files (JSON Schema 2020-12, `jsonschema`).
//!
//! The schemas in `schemas/` are compiled in, validated once per process, and their errors are
//! turned into `schema` diagnostics at the JSON Pointer of the offending value (or key).

use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::source::json::push_segment;
use crate::text::closest;
use crate::text::json_kind;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value as Json;
use std::sync::{LazyLock, OnceLock};

declare_rule! {
    /// ## What it does
    /// Checks the file against `schemas/flow.schema.json` or `schemas/integrations.schema.json`:
    /// required fields, value types, unknown fields (with a suggestion for typos), input types
    /// and providers.
    ///
    /// ## Why it matters
    /// A misspelt field (`"condtion"`) is ignored by the builder without a word, so the node
    /// silently loses its entry point.
    ///
    /// ## Example
    /// ```json
    /// { "id": "menu", "condtion": "#menu" }
    /// ```
    /// `unknown field "condtion"` — did you mean `condition`?
    pub struct Schema => "schema", Error;
}

/// The flow schema, as shipped in `schemas/flow.schema.json`.
pub const FLOW_SCHEMA: &str = include_str!("../schemas/flow.schema.json");
/// The integrations schema, as shipped in `schemas/integrations.schema.json`.
pub const INTEGRATIONS_SCHEMA: &str = include_str!("../schemas/integrations.schema.json");
/// The conversation-test schema, as shipped in `schemas/test.schema.json`.
pub const TEST_SCHEMA: &str = include_str!("../schemas/test.schema.json");

/// Which schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    /// `flow.schema.json`
    Flow,
    /// `integrations.schema.json`
    Integrations,
    /// `test.schema.json`
    #[cfg(test)]
    Test,
}

struct Compiled {
    schema: &'static Json,
    validator: Option<jsonschema::Validator>,
}

fn build(schema: &'static Json) -> Compiled {
    let validator = jsonschema::validator_for(schema).ok();
    Compiled { schema, validator }
}

fn parse(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or(Json::Null)
}

/// The flow schema as a tree: read once, for the validator and for the payload checks, which
/// do not need the whole validator.
static FLOW_TREE: LazyLock<Json> = LazyLock::new(|| parse(FLOW_SCHEMA));
static INTEGRATIONS_TREE: LazyLock<Json> = LazyLock::new(|| parse(INTEGRATIONS_SCHEMA));
#[cfg(test)]
static TEST_TREE: LazyLock<Json> = LazyLock::new(|| parse(TEST_SCHEMA));

static FLOW: LazyLock<Compiled> = LazyLock::new(|| build(&FLOW_TREE));
static INTEGRATIONS: LazyLock<Compiled> = LazyLock::new(|| build(&INTEGRATIONS_TREE));
#[cfg(test)]
static TEST: LazyLock<Compiled> = LazyLock::new(|| build(&TEST_TREE));

fn compiled(kind: SchemaKind) -> &'static Compiled {
    match kind {
        SchemaKind::Flow => &FLOW,
        SchemaKind::Integrations => &INTEGRATIONS,
        #[cfg(test)]
        SchemaKind::Test => &TEST,
    }
}

/// The payload schema of each input type, made from the flow schema's own
/// `$defs/input/allOf` branches (`if type is X then payload is $defs/payloadX`), so the typed
/// model reads payloads exactly as the schema stage does. Each validator is compiled the first
/// time a payload of its type is checked: compiling one (and the check of its schema that
/// `jsonschema` makes first) costs milliseconds, and most flows use one or two input types.
struct Payload {
    kind: String,
    schema: Json,
    validator: OnceLock<Option<jsonschema::Validator>>,
}

static PAYLOADS: LazyLock<Vec<Payload>> = LazyLock::new(|| {
    let schema = &*FLOW_TREE;
    schema
        .pointer("/$defs/input/allOf")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|branch| {
            let kind = branch.pointer("/if/properties/type/const")?.as_str()?;
            let target = branch.pointer("/then/properties/payload/$ref")?;
            Some(Payload {
                kind: kind.to_owned(),
                schema: serde_json::json!({ "$defs": defs_under(schema, target), "$ref": target }),
                validator: OnceLock::new(),
            })
        })
        .collect()
});

/// The `$defs` of `schema` that the reference `target` reaches, directly or through others:
/// a payload's schema carries only those, so compiling it (and the check of the schema against
/// its meta-schema that `jsonschema` makes first) does not go through every definition.
fn defs_under(schema: &Json, target: &Json) -> Json {
    fn refs<'a>(v: &'a Json, out: &mut Vec<&'a str>) {
        match v {
            Json::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("$ref", Json::String(r)) => out.extend(r.strip_prefix("#/$defs/")),
                        _ => refs(x, out),
                    }
                }
            }
            Json::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut todo: Vec<&str> = target
        .as_str()
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .into_iter()
        .collect();
    let mut defs = serde_json::Map::new();
    while let Some(name) = todo.pop() {
        if defs.contains_key(name) {
            continue;
        }
        if let Some(def) = schema.pointer(&format!("/$defs/{name}")) {
            refs(def, &mut todo);
            defs.insert(name.to_owned(), def.clone());
        }
    }
    Json::Object(defs)
}

/// True when `payload` fits what the flow schema says of an input of type `kind` (an input
/// type without a payload schema takes any object).
pub(crate) fn payload_fits(kind: &str, payload: &Json) -> bool {
    PAYLOADS.iter().find(|p| p.kind == kind).is_none_or(|p| {
        p.validator
            .get_or_init(|| {
                // Compiled as draft 7: `jsonschema` checks a schema against its draft's
                // meta-schema before compiling it, and building draft 7's meta-schema validator
                // costs half of 2020-12's (which was most of a one-file lint). The payload
                // definitions use only keywords both drafts read alike, and no `$ref` beside
                // other keywords (draft 7 ignores those); a test holds them to that and
                // compares the verdicts with the 2020-12 validator of the whole schema.
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft7)
                    .build(&p.schema)
                    .ok()
            })
            .as_ref()
            .is_none_or(|v| v.is_valid(payload))
    })
}

/// True when `value` is valid under the schema.
#[cfg(test)]
pub fn is_valid(kind: SchemaKind, value: &Json) -> bool {
    compiled(kind)
        .validator
        .as_ref()
        .is_some_and(|v| v.is_valid(value))
}

/// Validates `value`, one `schema` diagnostic per violation.
pub fn validate(kind: SchemaKind, value: &Json) -> Vec<Diagnostic> {
    let c = compiled(kind);
    let Some(validator) = &c.validator else {
        return vec![Diagnostic::new::<Schema>(
            Location::Value(String::new()),
            "internal error: the bundled schema did not compile",
        )];
    };
    if validator.is_valid(value) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for err in validator.iter_errors(value) {
        let pointer = err.instance_path().as_str().to_owned();
        match err.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let known = known_properties(c.schema, err.schema_path().as_str());
                for key in unexpected {
                    let mut p = pointer.clone();
                    push_segment(&mut p, key);
                    let mut d = Diagnostic::new::<Schema>(
                        Location::Key(p),
                        format!("unknown field `{key}`"),
                    );
                    if let Some(s) = closest(key, &known) {
                        d = d.help(format!("did you mean `{s}`?"));
                    } else if !known.is_empty() {
                        d = d.help(format!("known fields here: {}", known.join(", ")));
                    }
                    out.push(d);
                }
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                out.push(Diagnostic::new::<Schema>(
                    Location::Value(pointer),
                    format!("missing required field `{name}`"),
                ));
            }
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    TypeKind::Single(t) => t.to_string(),
                    TypeKind::Multiple(ts) => ts
                        .into_iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(" or "),
                };
                out.push(Diagnostic::new::<Schema>(
                    Location::Value(pointer),
                    format!("expected {expected}, found {}", json_kind(err.instance())),
                ));
            }
            ValidationErrorKind::Enum { options } => {
                let opts = options
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|o| o.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                let found = err.instance();
                let mut d = Diagnostic::new::<Schema>(
                    Location::Value(pointer),
                    format!("{} is not one of: {opts}", short(found)),
                );
                if let (Some(f), Some(a)) = (found.as_str(), options.as_array()) {
                    let names: Vec<&str> = a.iter().filter_map(Json::as_str).collect();
                    if let Some(s) = closest(f, &names) {
                        d = d.help(format!("did you mean `{s}`?"));
                    }
                }
                out.push(d);
            }
            ValidationErrorKind::AnyOf { .. } => {
                // A value or a `<? ?>` template: say what the value may be, in the schema's own
                // words (`errorMessage`), and suggest the nearest name of an `enum` branch.
                let at = err.schema_path().as_str();
                let node = c.schema.pointer(at.strip_suffix("/anyOf").unwrap_or(at));
                let names: Vec<&str> = node
                    .and_then(|n| n.get("anyOf"))
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|b| b.get("enum").and_then(Json::as_array))
                    .flatten()
                    .filter_map(Json::as_str)
                    .collect();
                let found = err.instance();
                let expected = node
                    .and_then(|n| n.get("errorMessage"))
                    .and_then(Json::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| {
                        if names.is_empty() {
                            "of the type this key takes".to_owned()
                        } else {
                            format!("one of: {}, or a `<? ?>` template", names.join(", "))
                        }
                    });
                let mut d = Diagnostic::new::<Schema>(
                    Location::Value(pointer),
                    format!("{} is not {expected}", short(found)),
                );
                if let Some(s) = found.as_str().and_then(|f| closest(f, &names)) {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                out.push(d);
            }
            _ => out.push(Diagnostic::new::<Schema>(
                Location::Value(pointer),
                err.to_string(),
            )),
        }
    }
    out
}

fn short(v: &Json) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

/// Names under `properties` next to the `additionalProperties` keyword that failed.
fn known_properties(schema: &'static Json, schema_path: &str) -> Vec<&'static str> {
    let parent = schema_path
        .strip_suffix("/additionalProperties")
        .unwrap_or(schema_path);
    schema
        .pointer(&format!("{parent}/properties"))
        .and_then(Json::as_object)
        .map(|m| {
            m.keys()
                .map(String::as_str)
                .filter(|k| !k.starts_with('$'))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod payloads {
    use super::{payload_fits, FLOW_TREE, PAYLOADS};
    use serde_json::json;

    /// Each input type's payload validator, built from the definitions its `$ref` reaches, judges
    /// payloads as one built from every definition of the flow schema does: well-formed ones,
    /// an unknown field, ill-typed fields, and fields of the other types.
    #[test]
    fn a_payload_schema_with_only_the_definitions_it_reaches_judges_as_the_whole_one() {
        assert!(PAYLOADS.len() >= 5);
        let defs = FLOW_TREE["$defs"].clone();
        let samples = [
            json!({}),
            json!({ "mandatory": true, "tries": 3, "error_message": ["inválido"] }),
            json!({ "mandatory": "yes" }),
            json!({ "mask": "cpf" }),
            json!({ "mask": 7 }),
            json!({ "tries": -1 }),
            json!({ "options": [{ "label": "Sim", "value": "sim" }] }),
            json!({ "options": [{ "label": 1 }] }),
            json!({ "options": "sim" }),
            json!({ "buttons": [{ "title": "Sim", "payload": "sim" }] }),
            json!({ "min_date": "2026-01-01", "max_date": "<? $hoje ?>" }),
            json!({ "extensions": ["pdf"], "max_size": 10 }),
            json!({ "condtion": true }),
        ];
        let mut refused = 0;
        for p in PAYLOADS.iter() {
            let target = &p.schema["$ref"];
            let whole = jsonschema::validator_for(&json!({ "$defs": defs, "$ref": target }))
                .expect("the whole schema compiles");
            for sample in &samples {
                let fits = payload_fits(&p.kind, sample);
                assert_eq!(fits, whole.is_valid(sample), "{} {sample}", p.kind);
                refused += usize::from(!fits);
            }
        }
        assert!(refused > 10, "the samples must include refused payloads");
    }

    /// What compiling the payload schemas as draft 7 relies on: every keyword of their
    /// definitions means the same in draft 7 and 2020-12, and no `$ref` has other keywords
    /// beside it below the root (draft 7 would ignore them).
    #[test]
    fn payload_schemas_read_alike_in_draft_7_and_2020_12() {
        fn check(v: &serde_json::Value, root: bool, names: bool) {
            match v {
                serde_json::Value::Object(m) => {
                    if !root && !names && m.contains_key("$ref") {
                        assert_eq!(m.len(), 1, "a $ref with siblings: {v}");
                    }
                    for (k, x) in m {
                        if !names {
                            assert!(
                                [
                                    "$ref",
                                    "$defs",
                                    "additionalProperties",
                                    "anyOf",
                                    "description",
                                    "enum",
                                    "errorMessage",
                                    "items",
                                    "markdownDescription",
                                    "markdownEnumDescriptions",
                                    "maxLength",
                                    "minimum",
                                    "pattern",
                                    "properties",
                                    "title",
                                    "type",
                                ]
                                .contains(&k.as_str()),
                                "keyword {k} is not known to read alike in both drafts"
                            );
                            if k == "items" {
                                assert!(x.is_object() || x.is_boolean(), "tuple items: {x}");
                            }
                        }
                        let holds_names = !names && (k == "properties" || k == "$defs");
                        check(x, false, holds_names);
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| check(x, false, false)),
                _ => {}
            }
        }
        for p in PAYLOADS.iter() {
            check(&p.schema, true, false);
            assert!(jsonschema::meta::is_valid(&p.schema), "{}", p.kind);
            assert!(
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft7)
                    .build(&p.schema)
                    .is_ok(),
                "{}",
                p.kind
            );
        }
    }
}
