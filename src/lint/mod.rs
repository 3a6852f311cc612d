//! The linter: every stage of the pipeline collects its findings and keeps going.
//!
//! Bytes → [`crate::json`] (syntax, duplicate keys) → JSON Schema ([`crate::schema`]) → typed
//! model → [`crate::compile`] (expressions) → semantic rules over the model and its graph
//! ([`rules`]). Findings carry a JSON Pointer and are resolved to line and column at the end.

pub mod graph;
pub mod rules;

use crate::compile::{compile, CompileOptions, CompiledFlow};
use crate::diagnostic::{Diagnostic, Located, Severity};
use crate::integrations::IntegrationsFile;
use crate::json::{self, Document};
use crate::model::Flow;
use crate::source::SourceFile;
use serde_json::Value as Json;

/// What a rule is: its stable name, default severity, and documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMeta {
    /// Stable kebab-case name.
    pub code: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// Documentation: *What it does / Why it matters / Example*.
    pub docs: &'static str,
}

/// Declares a rule type whose rustdoc is also what `fluxo rule NAME` prints.
macro_rules! declare_rule {
    ($(#[doc = $doc:literal])+ pub struct $name:ident => $code:literal, $sev:ident;) => {
        $(#[doc = $doc])+
        pub struct $name;
        impl $name {
            /// Name, severity and documentation of this rule.
            pub const META: $crate::lint::RuleMeta = $crate::lint::RuleMeta {
                code: $code,
                severity: $crate::diagnostic::Severity::$sev,
                docs: concat!($($doc, "\n"),+),
            };
        }
    };
}
pub(crate) use declare_rule;

/// The kind of file, recognised by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A flow (top-level `nodes`).
    Flow,
    /// A Watson Assistant workspace (top-level `dialog_nodes`).
    Watson,
    /// An integrations file (top-level `integrations`).
    Integrations,
    /// A conversation test (top-level `conversations`).
    Test,
}

impl FileKind {
    /// Recognises a parsed document.
    pub fn of(v: &Json) -> Option<FileKind> {
        let o = v.as_object()?;
        if o.contains_key("nodes") {
            Some(FileKind::Flow)
        } else if o.contains_key("dialog_nodes") {
            Some(FileKind::Watson)
        } else if o.contains_key("integrations") {
            Some(FileKind::Integrations)
        } else if o.contains_key("conversations") {
            Some(FileKind::Test)
        } else {
            None
        }
    }
}

/// Options for linting.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// The integrations the flows use (`--integrations`); `None` means all run on the simulator.
    pub integrations: Option<IntegrationsFile>,
}

/// Findings for one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The file as read (after BOM removal).
    pub source: SourceFile,
    /// Its kind, when recognised.
    pub kind: Option<FileKind>,
    /// Findings, in file order.
    pub findings: Vec<Located>,
}

/// Everything a semantic rule may look at.
pub struct LintContext<'a> {
    /// The compiled flow.
    pub flow: &'a CompiledFlow,
    /// Integrations, when given.
    pub integrations: Option<&'a IntegrationsFile>,
}

/// Lints one file's bytes.
pub fn lint_bytes(path: &str, bytes: &[u8], opts: &LintOptions) -> FileReport {
    let decoded = json::decode(bytes);
    let mut diags = decoded.diagnostics;
    if !decoded.usable {
        let source = SourceFile::new(path, decoded.text);
        let findings = resolve(&source, None, diags);
        return FileReport {
            source,
            kind: None,
            findings,
        };
    }
    let loaded = json::load(&decoded.text);
    diags.extend(loaded.diagnostics);
    let mut kind = None;
    if let Some(value) = &loaded.value {
        kind = FileKind::of(value);
        match kind {
            Some(FileKind::Flow) => diags.extend(lint_flow_value(value, opts)),
            Some(FileKind::Watson) => diags.extend(crate::watson::lint(value)),
            Some(FileKind::Integrations) => diags.extend(lint_integrations_value(value)),
            Some(FileKind::Test) => diags.extend(crate::schema::validate(crate::schema::SchemaKind::Test, value)),
            None => diags.push(
                Diagnostic::new(
                    "schema",
                    Severity::Error,
                    "",
                    "not a fluxo file: expected an object with `nodes` (flow), `dialog_nodes` (Watson workspace), `integrations` or `conversations` (test)",
                )
                .raw(0..0),
            ),
        }
    }
    // Positions come from the repaired text, which has the same length as the original. The
    // ranged tree is only needed when some finding is located by pointer.
    let needs_doc = diags.iter().any(|d| d.raw.is_none());
    let doc = needs_doc.then(|| Document::parse(&loaded.text));
    let source = SourceFile::new(path, decoded.text);
    let findings = resolve(&source, doc.as_ref(), diags);
    FileReport {
        source,
        kind,
        findings,
    }
}

/// Codes of findings that make a flow impossible to run (all come from the pipeline's stages,
/// none from the semantic rules).
pub const BLOCKING: &[&str] = &[
    "json-syntax",
    "duplicate-key",
    "schema",
    "expression-syntax",
];

/// Reads a flow to run it: the pipeline's stages — syntax, schema, model, compile — without the
/// semantic rules, parsing and compiling once. The findings that make the flow impossible to
/// run come back located.
pub fn load_flow(path: &str, bytes: &[u8]) -> Result<CompiledFlow, Vec<Located>> {
    let decoded = json::decode(bytes);
    let mut diags = decoded.diagnostics;
    let loaded = decoded.usable.then(|| json::load(&decoded.text));
    let mut compiled = None;
    if let Some(l) = &loaded {
        diags.extend(l.diagnostics.iter().cloned());
        match &l.value {
            Some(value) if FileKind::of(value) == Some(FileKind::Flow) => {
                diags.extend(crate::schema::validate(
                    crate::schema::SchemaKind::Flow,
                    value,
                ));
                if let Some((flow, positions)) = Flow::from_value_lenient(value) {
                    let c = compile(flow, &positions, CompileOptions::default());
                    diags.extend(c.diagnostics.iter().cloned());
                    compiled = Some(c);
                }
            }
            Some(_) => diags.push(
                Diagnostic::new(
                    "schema",
                    Severity::Error,
                    "",
                    "not a flow: expected an object with `nodes`",
                )
                .raw(0..0),
            ),
            None => {}
        }
    }
    diags.retain(|d| d.severity == Severity::Error && BLOCKING.contains(&d.code));
    match compiled {
        Some(c) if diags.is_empty() => Ok(c),
        _ => {
            let doc = loaded.as_ref().map(|l| Document::parse(&l.text));
            let source = SourceFile::new(path, decoded.text);
            Err(resolve(&source, doc.as_ref(), diags))
        }
    }
}

/// Runs schema, compile and every semantic rule over a flow value.
pub fn lint_flow_value(value: &Json, opts: &LintOptions) -> Vec<Diagnostic> {
    let mut out = crate::schema::validate(crate::schema::SchemaKind::Flow, value);
    let Some((flow, positions)) = Flow::from_value_lenient(value) else {
        return out;
    };
    let compiled = compile(flow, &positions, CompileOptions { keep_sites: true });
    out.extend(compiled.diagnostics.iter().cloned());
    let ctx = LintContext {
        flow: &compiled,
        integrations: opts.integrations.as_ref(),
    };
    rules::run_all(&ctx, &mut out);
    out
}

/// Lints an integrations value: schema, duplicate ids, inline secrets.
pub fn lint_integrations_value(value: &Json) -> Vec<Diagnostic> {
    let mut out = crate::schema::validate(crate::schema::SchemaKind::Integrations, value);
    rules::integrations::check(value, &mut out);
    out
}

/// Resolves pointers and inner ranges to file positions, sorted by position.
fn resolve(
    source: &SourceFile,
    doc: Option<&Document<'_>>,
    diags: Vec<Diagnostic>,
) -> Vec<Located> {
    let mut out: Vec<Located> = diags
        .into_iter()
        .map(|d| {
            let range = d
                .raw
                .clone()
                .or_else(|| {
                    let doc = doc?;
                    match &d.inner {
                        Some(inner) => doc.string_range(&d.pointer, inner.clone()),
                        None if d.label.as_deref() == Some(rules::KEY_LABEL) => {
                            doc.key_range(&d.pointer)
                        }
                        None => doc.range(&d.pointer),
                    }
                })
                .unwrap_or(0..0);
            let start = source.line_col(range.start);
            let end = source.line_col(range.end);
            Located {
                code: d.code,
                severity: d.severity,
                message: d.message,
                file: source.path.clone(),
                line: start.line,
                column: start.column,
                end_line: end.line,
                end_column: end.column,
                pointer: d.pointer,
                help: d.help,
                range,
                label: d.label.filter(|l| l != rules::KEY_LABEL),
                fix: d.fix,
            }
        })
        .collect();
    out.sort_by(|a, b| (a.range.start, a.code).cmp(&(b.range.start, b.code)));
    out
}

/// Applies the machine-applicable fixes of `findings` to `text` (non-overlapping, last first).
pub fn apply_fixes(text: &str, findings: &[Located]) -> Option<String> {
    let mut edits: Vec<_> = findings.iter().filter_map(|f| f.fix.clone()).collect();
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.range.start));
    let mut out = text.to_owned();
    let mut floor = usize::MAX;
    for e in edits {
        if e.range.end <= floor && e.range.end <= out.len() {
            out.replace_range(e.range.clone(), &e.replacement);
            floor = e.range.start;
        }
    }
    Some(out)
}
