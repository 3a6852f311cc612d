//! The loading pipeline, shared by the linter and the engine: bytes → text → JSON with ranges →
//! schema → typed model → compiled flow. [`load_flow`] runs the stages only (no semantic rule)
//! and keeps the findings that make a file impossible to run.

use super::{compile, Builder, CompileOptions, CompiledFlow, ExpressionSyntax};
use crate::diagnostic::{Diagnostic, Located, Location, Rule, RuleMeta, Severity};
use crate::error::{Error, ErrorKind};
use crate::model::{FileKind, Flow, IntegrationsFile, Node};
use crate::schema::{self, Schema, SchemaKind};
use crate::source::json::{self, DuplicateKey, JsonSyntax};
use crate::source::SourceFile;
use serde_json::Value as Json;

/// The rules whose findings (at error level) make a file impossible to run. All are stage
/// rules: no semantic rule ever blocks running.
pub fn blocking() -> [&'static RuleMeta; 4] {
    [
        JsonSyntax::meta(),
        DuplicateKey::meta(),
        Schema::meta(),
        ExpressionSyntax::meta(),
    ]
}

fn is_blocking(d: &Diagnostic) -> bool {
    d.severity == Severity::Error && blocking().iter().any(|r| std::ptr::eq(*r, d.rule))
}

/// A file read through the first stages: its text, value and kind.
pub struct Read {
    /// The file as read (after BOM removal).
    pub source: SourceFile,
    /// The text the value was read from, when repairs were applied (in place; same length as
    /// the file); `None` when it is the file's text.
    pub parsed_text: Option<String>,
    /// The value, when the text is JSON.
    pub value: Option<Json>,
    /// What kind of file it is, when recognised.
    pub kind: Option<FileKind>,
    /// Findings of the syntax stage.
    pub diagnostics: Vec<Diagnostic>,
}

/// Decodes and parses `bytes`.
pub fn read(path: &str, bytes: &[u8]) -> Read {
    let decoded = json::decode(bytes);
    let mut diagnostics = decoded.diagnostics;
    if !decoded.usable {
        return Read {
            source: SourceFile::new(path, decoded.text),
            parsed_text: None,
            value: None,
            kind: None,
            diagnostics,
        };
    }
    let loaded = json::load(&decoded.text);
    diagnostics.extend(loaded.diagnostics);
    let kind = loaded.value.as_ref().and_then(FileKind::of);
    Read {
        source: SourceFile::new(path, decoded.text),
        parsed_text: loaded.text,
        value: loaded.value,
        kind,
        diagnostics,
    }
}

impl Read {
    /// Resolves findings to positions in this file.
    pub fn locate(&self, diags: Vec<Diagnostic>) -> Vec<Located> {
        let parsed = self.parsed_text.as_deref().unwrap_or(&self.source.text);
        self.source.locate(parsed, diags)
    }
}

/// The typed model of a flow value the schema stage has seen (`schema` holds its findings):
/// the value is consumed, so strings and subtrees move into the model rather than being
/// copied. Nodes with schema findings are salvaged field by field; a node the schema accepts
/// but the model refuses becomes a finding.
pub(crate) fn flow_model(
    value: Json,
    schema: &[Diagnostic],
) -> Option<(Flow, Vec<usize>, Vec<Diagnostic>)> {
    let suspect: std::collections::HashSet<usize> = schema
        .iter()
        .filter_map(|d| {
            let rest = d.primary.location.pointer().strip_prefix("/nodes/")?;
            rest.split('/').next()?.parse().ok()
        })
        .collect();
    let (flow, positions, refused) = Flow::from_value_owned(value, |i| suspect.contains(&i))?;
    let findings = refused
        .into_iter()
        .map(|(i, why)| {
            Diagnostic::new::<Schema>(
                Location::Value(format!("/nodes/{i}")),
                format!("this node cannot be read: {why}"),
            )
        })
        .collect();
    Some((flow, positions, findings))
}

/// The typed read, compiled as it is read: a flow deserialised straight from its text, node by
/// node, each node compiled as soon as it is read, without the `serde_json::Value` tree and
/// without the schema pass. The model accepts exactly what the JSON stage (strict JSON, no
/// duplicate key) and the schema accept (tests check both), so a flow this returns has no
/// finding from those stages; `None` sends the file down the full path, which explains what is
/// wrong. `each(i, node)` sees node `i` of the file before it is compiled.
pub(crate) fn typed_compile(
    text: &[u8],
    opts: CompileOptions,
    each: impl FnMut(usize, &Node),
) -> Option<CompiledFlow> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let mut b = Builder::new(opts);
    let head = serde::Deserializer::deserialize_map(
        &mut de,
        typed::Top {
            builder: &mut b,
            each,
        },
    )
    .ok()?;
    de.end().ok()?;
    Some(b.finish(head.name, head.start_context, head.custom_actions))
}

/// The top level of a flow for [`typed_compile`]: the fields of [`crate::model::Flow`], with
/// the same refusals (an unknown or repeated field, `nodes` missing), its nodes handed to the
/// compiler one by one.
mod typed {
    use super::{Builder, Node};
    use serde::de::{DeserializeSeed, Error, MapAccess, SeqAccess, Visitor};
    use serde::Deserialize;

    /// The fields beside `nodes`.
    #[derive(Default)]
    pub(super) struct Head {
        pub(super) name: Option<String>,
        pub(super) start_context: Vec<String>,
        pub(super) custom_actions: Vec<String>,
    }

    #[derive(Deserialize)]
    #[serde(field_identifier, rename_all = "snake_case")]
    enum Field {
        #[serde(rename = "$schema")]
        Schema,
        Name,
        Description,
        StartContext,
        CustomActions,
        Nodes,
    }

    pub(super) struct Top<'a, F> {
        pub(super) builder: &'a mut Builder,
        pub(super) each: F,
    }

    impl<'de, F: FnMut(usize, &Node)> Visitor<'de> for Top<'_, F> {
        type Value = Head;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a flow")
        }

        fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Head, A::Error> {
            let mut head = Head::default();
            let mut seen = [false; 6];
            while let Some(field) = map.next_key::<Field>()? {
                let (slot, name) = match field {
                    Field::Schema => (0, "$schema"),
                    Field::Name => (1, "name"),
                    Field::Description => (2, "description"),
                    Field::StartContext => (3, "start_context"),
                    Field::CustomActions => (4, "custom_actions"),
                    Field::Nodes => (5, "nodes"),
                };
                if std::mem::replace(&mut seen[slot], true) {
                    return Err(A::Error::duplicate_field(name));
                }
                match field {
                    Field::Schema | Field::Description => {
                        map.next_value::<Option<String>>()?;
                    }
                    Field::Name => head.name = map.next_value()?,
                    Field::StartContext => head.start_context = map.next_value()?,
                    Field::CustomActions => head.custom_actions = map.next_value()?,
                    Field::Nodes => map.next_value_seed(Nodes {
                        builder: &mut *self.builder,
                        each: &mut self.each,
                    })?,
                }
            }
            if !seen[5] {
                return Err(A::Error::missing_field("nodes"));
            }
            Ok(head)
        }
    }

    struct Nodes<'a, F> {
        builder: &'a mut Builder,
        each: &'a mut F,
    }

    impl<'de, F: FnMut(usize, &Node)> DeserializeSeed<'de> for Nodes<'_, F> {
        type Value = ();

        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de, F: FnMut(usize, &Node)> Visitor<'de> for Nodes<'_, F> {
        type Value = ();

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of nodes")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            while let Some(node) = seq.next_element::<Node>()? {
                (self.each)(i, &node);
                self.builder.push(node, i);
                i += 1;
            }
            Ok(())
        }
    }
}

/// Whether the typed read accepts `text` (the tests compare it with the full path).
#[cfg(test)]
pub(crate) fn typed_accepts(text: &[u8]) -> bool {
    typed_compile(text, CompileOptions::default(), |_, _| {}).is_some()
}

/// Reads a flow to run it: syntax, schema, model, compile — without the semantic rules, parsing
/// and compiling once. The findings that make the flow impossible to run come back located, in
/// an [`ErrorKind::InvalidFlow`] error.
pub fn load_flow(path: &str, bytes: &[u8]) -> Result<CompiledFlow, Error> {
    // The fast path: a file the typed read accepts has no finding from the JSON and schema
    // stages (a byte-order mark is not JSON, so such a file is not accepted), and only the
    // compiler can still block it. A blocked file takes the full path, which locates why.
    if let Some(c) = typed_compile(bytes, CompileOptions::default(), |_, _| {}) {
        if !c.diagnostics.iter().any(is_blocking) {
            return Ok(c);
        }
    }
    let mut r = read(path, bytes);
    let mut diags: Vec<Diagnostic> = r
        .diagnostics
        .iter()
        .filter(|d| is_blocking(d))
        .cloned()
        .collect();
    let mut compiled = None;
    match (r.value.take(), r.kind) {
        (Some(value), Some(FileKind::Flow)) => {
            let found = schema::validate(SchemaKind::Flow, &value);
            let model = flow_model(value, &found);
            diags.extend(found);
            if let Some((flow, positions, refused)) = model {
                diags.extend(refused);
                let c = compile(flow, &positions, CompileOptions::default());
                diags.extend(c.diagnostics.iter().filter(|d| is_blocking(d)).cloned());
                compiled = Some(c);
            }
        }
        (Some(_), kind) => diags.push(Diagnostic::new::<Schema>(
            Location::Raw(0..0),
            match kind {
                Some(FileKind::Watson) => "this is a Watson Assistant workspace, not a flow: run it with the Watson runtime".to_string(),
                Some(other) => format!("this is {}, not a flow: expected an object with `nodes`", other.describe()),
                None => "not a flow: expected an object with `nodes`".to_string(),
            },
        )),
        (None, _) => {}
    }
    diags.retain(is_blocking);
    match compiled {
        Some(c) if diags.is_empty() => Ok(c),
        _ => Err(Error::new(
            ErrorKind::InvalidFlow,
            format!("the flow {path} cannot run"),
        )
        .with_findings(r.locate(diags))),
    }
}

/// Reads an integrations file to run a flow with it: syntax and schema only (the linter's own
/// rules, such as `inline-secret`, never stop a flow from running).
pub fn load_integrations(path: &str, bytes: &[u8]) -> Result<IntegrationsFile, Error> {
    let r = read(path, bytes);
    let mut diags: Vec<Diagnostic> = r
        .diagnostics
        .iter()
        .filter(|d| is_blocking(d))
        .cloned()
        .collect();
    match (&r.value, r.kind) {
        (Some(value), Some(FileKind::Integrations)) => {
            diags.extend(schema::validate(SchemaKind::Integrations, value));
        }
        (Some(_), _) => diags.push(Diagnostic::new::<Schema>(
            Location::Raw(0..0),
            "not an integrations file: expected an object with `integrations`",
        )),
        (None, _) => {}
    }
    diags.retain(is_blocking);
    let parsed = r
        .value
        .as_ref()
        .filter(|_| diags.is_empty())
        .and_then(|v| serde_json::from_value::<IntegrationsFile>(v.clone()).ok());
    match parsed {
        Some(f) => Ok(f),
        None => Err(Error::new(
            ErrorKind::InvalidIntegrations,
            format!("the integrations file {path} cannot be used"),
        )
        .with_findings(r.locate(diags))),
    }
}
