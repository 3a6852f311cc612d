//! The loading pipeline, shared by the linter and the engine: bytes → text → JSON with ranges →
//! schema → typed model → compiled flow. [`load_flow`] runs the stages only (no semantic rule)
//! and keeps the findings that make a file impossible to run.

use super::{compile, CompileOptions, CompiledFlow, ExpressionSyntax};
use crate::diagnostic::{Diagnostic, Located, Location, Rule, RuleMeta, Severity};
use crate::error::{Error, ErrorKind};
use crate::model::{FileKind, Flow, IntegrationsFile};
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
    /// The text the value was read from (repairs applied in place; same length as the file).
    pub parsed_text: String,
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
        let parsed_text = decoded.text.clone();
        return Read {
            source: SourceFile::new(path, decoded.text),
            parsed_text,
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
        self.source.locate(&self.parsed_text, diags)
    }
}

/// Reads a flow to run it: syntax, schema, model, compile — without the semantic rules, parsing
/// and compiling once. The findings that make the flow impossible to run come back located, in
/// an [`ErrorKind::InvalidFlow`] error.
pub fn load_flow(path: &str, bytes: &[u8]) -> Result<CompiledFlow, Error> {
    let r = read(path, bytes);
    let mut diags: Vec<Diagnostic> = r
        .diagnostics
        .iter()
        .filter(|d| is_blocking(d))
        .cloned()
        .collect();
    let mut compiled = None;
    match (&r.value, r.kind) {
        (Some(value), Some(FileKind::Flow)) => {
            diags.extend(schema::validate(SchemaKind::Flow, value));
            if let Some((flow, positions)) = Flow::from_value_lenient(value) {
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
