//! The linter: every stage of the pipeline collects its findings and keeps going.
//!
//! Bytes → JSON with ranges (syntax, duplicate keys) → JSON Schema → typed model → compile
//! (expressions) → the semantic rules over the model and its graph ([`rules`]). Findings carry
//! a typed location and are resolved to line and column at the end; [`render`] prints them.
//!
//! ```
//! let report = fluxo::lint::lint_bytes(
//!     "fluxo.json",
//!     br#"{ "nodes": [ { "id": "a", "condition": "start", "next": [ { "goto": "b" } ] } ] }"#,
//!     &Default::default(),
//! );
//! assert_eq!(report.findings[0].code, "unknown-goto-target");
//! assert_eq!((report.findings[0].line, report.findings[0].column), (1, 69));
//! ```

pub mod render;
mod rules;

pub use crate::diagnostic::{Edit, Located, LocatedLabel, RuleMeta, Severity};
pub use crate::model::FileKind;
pub use crate::source::{LineCol, SourceFile};
pub use rules::{find as find_rule, registry as rules};

use crate::compile::load::{flow_model, read, typed_compile_text};
use crate::compile::{compile, CompileOptions, CompiledFlow};
use crate::diagnostic::{Diagnostic, Location};
use crate::model::{Flow, IntegrationsFile};
use crate::schema::{self, Schema, SchemaKind};
use serde_json::Value as Json;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Options for linting.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// The integrations the flows use (`--integrations`); `None` means all run on the simulator.
    pub integrations: Option<IntegrationsFile>,
    /// Rules whose findings are not reported for this file (`ignore` and the matching
    /// `per-file-ignores` of `fluxo.toml`).
    pub ignore: BTreeSet<String>,
    /// Severities that replace a rule's default for this file (`severity` of `fluxo.toml`).
    pub severity: BTreeMap<String, Severity>,
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
pub(crate) struct LintContext<'a> {
    /// The compiled flow.
    pub flow: &'a CompiledFlow,
    /// Integrations, when given.
    pub integrations: Option<&'a IntegrationsFile>,
    /// What the schema stage could not read of each node (by node index; a node past the end
    /// lost nothing): the graph rules do not report what only follows from that loss.
    pub unread: Vec<crate::compile::graph::Unread>,
}

/// Lints one file's bytes. Suppression comments (`fluxo: ignore[rule]` in a node's `comment`)
/// and then `opts.ignore` and `opts.severity` are applied to the findings.
pub fn lint_bytes(path: &str, bytes: &[u8], opts: &LintOptions) -> FileReport {
    lint_bytes_by(path, Cow::Borrowed(bytes), opts, true)
}

/// [`lint_bytes`] on bytes it may keep: the report's text is then the bytes themselves, not a
/// copy of them.
pub fn lint_owned(path: &str, bytes: Vec<u8>, opts: &LintOptions) -> FileReport {
    lint_bytes_by(path, Cow::Owned(bytes), opts, true)
}

/// The typed read's lint of a flow's text, or `None` when the typed read refuses it. The report
/// is finished once it is given the text to keep.
fn lint_typed<'o>(
    path: &'o str,
    text: &str,
    opts: &'o LintOptions,
) -> Option<impl FnOnce(String) -> FileReport + 'o> {
    let typed = lint_typed_by(opts, |each| {
        typed_compile_text(
            text,
            CompileOptions {
                keep_sites: true,
                lint_only: true,
            },
            each,
        )
    })?;
    Some(move |text: String| typed.report(path, text, opts))
}

/// The findings of the typed read, before the text they are placed in is given.
struct TypedLint {
    diags: Vec<Diagnostic>,
    suppressions: Vec<rules::unused_suppression::Suppression>,
    refs: NodeRefs,
    starts: Vec<usize>,
}

impl TypedLint {
    /// The report of the file at `path` whose text is `text`.
    fn report(self, path: &str, text: String, opts: &LintOptions) -> FileReport {
        self.report_in(SourceFile::new(path, text), opts)
    }

    /// The report, placed in `source` (the file's text or excerpts of it that hold
    /// [`TypedLint::shown`]).
    fn report_in(self, source: SourceFile, opts: &LintOptions) -> FileReport {
        finish(
            source,
            (None, &self.starts),
            Some(FileKind::Flow),
            self.diags,
            self.suppressions,
            &self.refs,
            opts,
        )
    }

    /// The byte ranges of the file of `len` bytes that its report places findings in and shows
    /// (sorted by start): the node of each position; for a finding with positions in several
    /// nodes, the nodes between them too, unless they are too far apart to be shown together
    /// (and only the lines of the positions are shown). `None` when a position is not in a
    /// node the typed read found.
    fn shown(&self, len: usize) -> Option<Vec<std::ops::Range<usize>>> {
        let node_end = |i: usize| self.starts.get(i + 1).copied().unwrap_or(len);
        let mut out = Vec::new();
        for d in &self.diags {
            let mut nodes = Vec::with_capacity(1 + d.secondary.len());
            for l in std::iter::once(&d.primary).chain(&d.secondary) {
                match &l.location {
                    Location::Raw(_) | Location::Exact(..) => return None,
                    loc => nodes.push(
                        crate::source::node_index(loc.pointer())
                            .filter(|&i| i < self.starts.len())?,
                    ),
                }
            }
            let (lo, hi) = (nodes.iter().min()?, nodes.iter().max()?);
            if self.starts[*hi].saturating_sub(node_end(*lo)) <= render::MAX_SPAN {
                out.push(self.starts[*lo]..node_end(*hi));
            } else {
                out.extend(nodes.iter().map(|&i| self.starts[i]..node_end(i)));
            }
        }
        out.sort_by_key(|r| r.start);
        Some(out)
    }
}

/// The lint of a typed read `compile`, which calls the function it is given with each node of
/// the file and its offset, and compiles the flow with its sites; `None` when it refuses.
fn lint_typed_by(
    opts: &LintOptions,
    compile: impl FnOnce(
        &mut dyn FnMut(usize, crate::compile::NodeHead<'_>, usize),
    ) -> Option<CompiledFlow>,
) -> Option<TypedLint> {
    let mut suppressions = Vec::new();
    let mut starts = Vec::new();
    let compiled = compile(&mut |i, n, at| {
        starts.push(at);
        rules::unused_suppression::collect_node(i, n, &mut suppressions);
    })?;
    let diags = lint_compiled(&compiled, Vec::new(), Vec::new(), opts, |_, _| Vec::new());
    // Only the nodes a finding can name: those of the findings, and those of the suppressions
    // (an unused one becomes a finding).
    let refs = NodeRefs::of(
        &compiled,
        diags
            .iter()
            .map(Diagnostic::pointer)
            .chain(suppressions.iter().map(|s| s.node())),
    );
    // The compiled flow is dropped here, before a caller reading a file reads its text.
    drop(compiled);
    Some(TypedLint {
        diags,
        suppressions,
        refs,
        starts,
    })
}

/// Files from this size are linted a window at a time by [`lint_file`].
const STREAM_FROM: u64 = 4 << 20;

/// Lints the file at `path`, shown as `shown` in the report: [`lint_owned`] of its bytes, with
/// the same findings, but a flow of 4 MiB or more is read a window at a time, so that its text
/// is not in memory beside its compiled flow. Its text is then read again for the report, from
/// the same open file: only the lines of the nodes its findings are in
/// ([`SourceFile::from_excerpts`]; the report's `source.text` is then empty); when those are
/// half the file or more and every finding is on a line too long to show (a minified file's
/// one line), only the nodes themselves, with where they are on their lines; else all of it.
/// When the file's length or modification time changed in between (it was written in place
/// meanwhile), the text read again is linted whole instead, so the report always places its
/// findings in the text it holds.
pub fn lint_file(
    path: &std::path::Path,
    shown: &str,
    opts: &LintOptions,
) -> std::io::Result<FileReport> {
    lint_file_from(path, shown, opts, STREAM_FROM, u64::MAX)
}

/// [`lint_file`], refusing a file longer than `max_len` bytes before reading any of it: the
/// error (of kind [`std::io::ErrorKind::FileTooLarge`]) says `N bytes is larger than the M MiB
/// limit` (`the M-byte limit` when the limit is not a whole number of MiB). The length is the open file's, so the file is looked at once, not once to check it
/// and once more to read it.
pub fn lint_file_at_most(
    path: &std::path::Path,
    shown: &str,
    opts: &LintOptions,
    max_len: u64,
) -> std::io::Result<FileReport> {
    lint_file_from(path, shown, opts, STREAM_FROM, max_len)
}

/// [`lint_file_at_most`], reading files of `stream_from` bytes or more a window at a time.
fn lint_file_from(
    path: &std::path::Path,
    shown: &str,
    opts: &LintOptions,
    stream_from: u64,
    max_len: u64,
) -> std::io::Result<FileReport> {
    use std::io::Seek as _;
    let mut file = std::fs::File::open(path)?;
    let before = file.metadata()?;
    if before.len() > max_len {
        let limit = if max_len >= 1 << 20 && max_len.is_multiple_of(1 << 20) {
            format!("{} MiB", max_len >> 20)
        } else {
            format!("{max_len}-byte")
        };
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("{} bytes is larger than the {limit} limit", before.len()),
        ));
    }
    let stamp = |m: &std::fs::Metadata| (m.len(), m.modified().ok());
    // Room for the whole file, as `std::fs::read` makes (a pipe reports no length); taken
    // only when the file is read, since room taken early moves where the allocator puts
    // everything else.
    let room = usize::try_from(before.len()).unwrap_or(0);
    if !before.is_file() || before.len() < stream_from {
        let mut bytes = Vec::with_capacity(room);
        read_rest(&mut file, &mut bytes)?;
        return Ok(lint_owned(shown, bytes, opts));
    }
    let typed = lint_typed_by(opts, |each| {
        crate::compile::load::typed_compile_file(
            &mut file,
            before.len(),
            CompileOptions {
                keep_sites: true,
                lint_only: true,
            },
            each,
        )
    });
    // The report holds only the lines around the findings when they are a small part of
    // the file: the compiled flow's memory is not followed by the whole text's.
    if let Some(wanted) = typed.as_ref().and_then(|t| t.shown(room)) {
        file.rewind()?;
        let mut source = crate::source::read_excerpts(&mut file, before.len(), &wanted)?
            .map(|excerpts| SourceFile::from_excerpts(shown, excerpts));
        if source.is_none() {
            // Lines too long to show (a minified file is one): only the nodes of the
            // findings are read, with what places them on their lines.
            file.rewind()?;
            source =
                crate::source::read_pieces(&mut file, before.len(), &wanted, render::MAX_SHOWN)?
                    .map(|pieces| SourceFile::from_pieces(shown, pieces));
        }
        let unchanged = stamp(&file.metadata()?) == stamp(&before);
        if let Some(source) = source.filter(|_| unchanged) {
            if let Some(typed) = typed {
                return Ok(typed.report_in(source, opts));
            }
        }
    }
    file.rewind()?;
    let mut bytes = Vec::with_capacity(room);
    read_rest(&mut file, &mut bytes)?;
    let unchanged = stamp(&file.metadata()?) == stamp(&before);
    match typed {
        Some(typed) if unchanged && bytes.len() as u64 == before.len() => {
            match String::from_utf8(bytes) {
                Ok(text) => Ok(typed.report(shown, text, opts)),
                Err(e) => Ok(lint_owned(shown, e.into_bytes(), opts)),
            }
        }
        _ => Ok(lint_owned(shown, bytes, opts)),
    }
}

/// Reads the rest of `file` into `bytes`, which has room for it. (`File::read_to_end` would
/// first ask the system for the file's length and position again, two calls per file that a
/// directory of small flows pays two hundred times.)
fn read_rest(file: &mut std::fs::File, bytes: &mut Vec<u8>) -> std::io::Result<usize> {
    std::io::Read::read_to_end(&mut std::io::Read::take(file, u64::MAX), bytes)
}

/// `bytes` as text when they are UTF-8 (owned bytes without a copy), else `bytes` back.
fn into_text(bytes: Cow<'_, [u8]>) -> Result<Cow<'_, str>, Cow<'_, [u8]>> {
    match bytes {
        Cow::Borrowed(b) => std::str::from_utf8(b)
            .map(Cow::Borrowed)
            .map_err(|_| Cow::Borrowed(b)),
        Cow::Owned(v) => String::from_utf8(v)
            .map(Cow::Owned)
            .map_err(|e| Cow::Owned(e.into_bytes())),
    }
}

/// The bytes of `text` (owned text without a copy).
fn into_bytes(text: Cow<'_, str>) -> Cow<'_, [u8]> {
    match text {
        Cow::Borrowed(t) => Cow::Borrowed(t.as_bytes()),
        Cow::Owned(t) => Cow::Owned(t.into_bytes()),
    }
}

/// [`lint_bytes`], with the typed read (`typed`) or only the full path: a flow the typed read
/// accepts skips the `Value` tree and the schema pass, whose findings it cannot have. Tests
/// compare the two on every file the project ships.
pub(crate) fn lint_bytes_by(
    path: &str,
    bytes: Cow<'_, [u8]>,
    opts: &LintOptions,
    typed: bool,
) -> FileReport {
    let bytes = if typed {
        // The text is checked to be UTF-8 once; owned bytes become it without a copy.
        match into_text(bytes) {
            Ok(text) => match lint_typed(path, &text, opts) {
                Some(report) => return report(text.into_owned()),
                None => into_bytes(text),
            },
            Err(bytes) => bytes,
        }
    } else {
        bytes
    };
    let mut r = read(path, &bytes);
    drop(bytes);
    let mut diags = std::mem::take(&mut r.diagnostics);
    let mut suppressions = Vec::new();
    let mut nodes = NodeRefs::default();
    if let Some(value) = r.value.take() {
        if r.kind == Some(FileKind::Flow) {
            suppressions = rules::unused_suppression::collect(&value);
            nodes = NodeRefs::of_value(&value);
        }
        match r.kind {
            Some(FileKind::Flow) => diags.extend(lint_flow_value(value, opts)),
            Some(FileKind::Watson) => diags.extend(rules::watson::lint(&value)),
            Some(FileKind::Integrations) => diags.extend(lint_integrations_value(&value)),
            Some(FileKind::Test) => diags.extend(crate::model::test_file::lint_test_value(&value)),
            None => diags.push(Diagnostic::new::<Schema>(
                Location::Raw(0..0),
                "not a fluxo file: expected an object with `nodes` (flow), `dialog_nodes` (Watson workspace), `integrations` or `conversations` (test)",
            )),
        }
    }
    finish(
        r.source,
        (r.parsed_text, &[]),
        r.kind,
        diags,
        suppressions,
        &nodes,
        opts,
    )
}

/// Applies suppressions and the file's options, and locates the findings: in `parsed_text`
/// when repairs were applied (else in the source's text), where each node starts at its offset
/// in `node_starts` when the typed read gave them (else found by a scan of the text).
fn finish(
    source: SourceFile,
    (parsed_text, node_starts): (Option<String>, &[usize]),
    kind: Option<FileKind>,
    mut diags: Vec<Diagnostic>,
    suppressions: Vec<rules::unused_suppression::Suppression>,
    nodes: &NodeRefs,
    opts: &LintOptions,
) -> FileReport {
    rules::unused_suppression::apply(suppressions, &mut diags);
    name_nodes(&mut diags, nodes);
    diags.retain(|d| !opts.ignore.contains(d.code()));
    for d in &mut diags {
        if let Some(&s) = opts.severity.get(d.code()) {
            d.severity = s;
        }
    }
    let findings = source.locate_at(
        parsed_text.as_deref().unwrap_or(&source.text),
        diags,
        node_starts,
    );
    FileReport {
        source,
        kind,
        findings,
    }
}

/// Runs schema, compile and every semantic rule over a flow value.
fn lint_flow_value(value: Json, opts: &LintOptions) -> Vec<Diagnostic> {
    let out = schema::validate(SchemaKind::Flow, &value);
    let gotos = crate::compile::graph::raw_gotos(&value, &out);
    let Some((flow, positions, refused)) = flow_model(value, &out) else {
        return out;
    };
    lint_flow_model(flow, &positions, out, refused, opts, |compiled, schema| {
        crate::compile::graph::unread(compiled, schema, &gotos)
    })
}

/// Compiles a flow model and runs every semantic rule over it. `schema` holds the findings of
/// the schema stage and `refused` the nodes the model could not read (both empty after the
/// typed read); `unread` says, from the compiled flow and `schema`, what each node lost.
fn lint_flow_model(
    flow: Flow,
    positions: &[usize],
    schema: Vec<Diagnostic>,
    refused: Vec<Diagnostic>,
    opts: &LintOptions,
    unread: impl FnOnce(&CompiledFlow, &[Diagnostic]) -> Vec<crate::compile::graph::Unread>,
) -> Vec<Diagnostic> {
    let compiled = compile(
        flow,
        positions,
        CompileOptions {
            keep_sites: true,
            lint_only: true,
        },
    );
    lint_compiled(&compiled, schema, refused, opts, unread)
}

/// Runs every semantic rule over a compiled flow, after the findings of the earlier stages
/// (`schema`, `refused`); `unread` says, from the compiled flow and `schema`, what each node
/// lost.
fn lint_compiled(
    compiled: &CompiledFlow,
    schema: Vec<Diagnostic>,
    refused: Vec<Diagnostic>,
    opts: &LintOptions,
    unread: impl FnOnce(&CompiledFlow, &[Diagnostic]) -> Vec<crate::compile::graph::Unread>,
) -> Vec<Diagnostic> {
    let unread = unread(compiled, &schema);
    let mut out = schema;
    out.extend(refused);
    out.extend(compiled.diagnostics.iter().cloned());
    let ctx = LintContext {
        flow: compiled,
        integrations: opts.integrations.as_ref(),
        unread,
    };
    rules::run_flow(&ctx, &mut out);
    out
}

/// The id and name of nodes of a flow, by their index in the file, sorted by it: of every node
/// with a string id on the full path, and on the typed read only of the nodes its findings and
/// suppressions are in (a large flow's lint then keeps a few, not one per node).
#[derive(Default)]
struct NodeRefs(Vec<(usize, crate::diagnostic::NodeRef)>);

impl NodeRefs {
    /// Every node of a flow value that has a string id.
    fn of_value(value: &Json) -> NodeRefs {
        let Some(nodes) = value.get("nodes").and_then(Json::as_array) else {
            return NodeRefs::default();
        };
        NodeRefs(
            nodes
                .iter()
                .enumerate()
                .filter_map(|(i, n)| {
                    let id = n.get("id")?.as_str()?;
                    Some((
                        i,
                        crate::diagnostic::NodeRef {
                            id: id.to_owned(),
                            name: n.get("name").and_then(Json::as_str).map(str::to_owned),
                        },
                    ))
                })
                .collect(),
        )
    }

    /// The nodes of a compiled flow that the JSON Pointers `pointers` are in.
    fn of<'p>(flow: &CompiledFlow, pointers: impl Iterator<Item = &'p str>) -> NodeRefs {
        let mut wanted: Vec<usize> = pointers.filter_map(crate::source::node_index).collect();
        wanted.sort_unstable();
        wanted.dedup();
        NodeRefs(
            wanted
                .into_iter()
                .filter_map(|i| {
                    // A compiled node is at its index in the file unless the model refused
                    // nodes before it; its pointer says.
                    let n = flow
                        .nodes
                        .get(i)
                        .filter(|n| crate::source::node_index(&n.pointer) == Some(i));
                    let n = n.or_else(|| {
                        flow.nodes
                            .iter()
                            .find(|n| crate::source::node_index(&n.pointer) == Some(i))
                    })?;
                    Some((i, n.reference()))
                })
                .collect(),
        )
    }

    /// The node at index `i` of the file.
    fn get(&self, i: usize) -> Option<&crate::diagnostic::NodeRef> {
        let at = self.0.binary_search_by_key(&i, |(j, _)| *j).ok()?;
        self.0.get(at).map(|(_, n)| n)
    }
}

/// Records in each finding under `/nodes/N` the node it is in, so that every output names it
/// and a baseline can key it by node id.
fn name_nodes(diags: &mut [Diagnostic], nodes: &NodeRefs) {
    for d in diags.iter_mut().filter(|d| d.node.is_none()) {
        if let Some(n) = crate::source::node_index(d.pointer()).and_then(|i| nodes.get(i)) {
            d.node = Some(n.clone());
        }
    }
}

/// Lints an integrations value: schema, then the integrations rules.
fn lint_integrations_value(value: &Json) -> Vec<Diagnostic> {
    let mut out = schema::validate(SchemaKind::Integrations, value);
    rules::run_integrations(value, &mut out);
    out
}

/// What `fluxo rule NAME` prints: the rule's documentation, and for `unknown-method` the
/// method table the evaluator runs.
pub fn rule_text(rule: &RuleMeta) -> String {
    let docs: Vec<&str> = rule
        .docs
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let mut out = format!(
        "# {} ({})\n\n{}\n",
        rule.code,
        rule.severity.as_str(),
        docs.join("\n").trim()
    );
    if rule.code == "unknown-method" {
        out.push_str("\n## Methods and functions\n");
        out.push_str(&rules::method_table());
    }
    out
}

/// The rule a mistyped name most likely means: the one it is a prefix of (`unknown-goto` →
/// `unknown-goto-target`), or a close spelling.
pub fn suggest_rule(name: &str) -> Option<&'static str> {
    let codes: Vec<&'static str> = rules().iter().map(|r| r.code).collect();
    let prefixed: Vec<&'static str> = codes
        .iter()
        .copied()
        .filter(|c| !name.is_empty() && c.starts_with(name))
        .collect();
    match prefixed.as_slice() {
        [one] => Some(one),
        _ => crate::text::closest(name, &codes),
    }
}

/// The candidate a mistyped name most likely means (a close spelling), for messages outside
/// the library (a `fluxo.toml` table or key).
pub fn suggest_name<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    crate::text::closest(name, candidates)
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

/// The `.json` files under `flows/` and `tests/fixtures/`: what the project ships and tests.
#[cfg(test)]
fn shipped_and_fixtures() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    ["flows", "tests/fixtures"]
        .iter()
        .flat_map(|d| crate::source::json_files_under(&root.join(d)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{lint_bytes_by, LintOptions};
    use std::path::PathBuf;

    /// A flow compiled for the linter only (messages, events and contact values dropped,
    /// context values kept as `null` or not) gets the findings of the flow compiled whole:
    /// every flow the project ships or uses as a fixture, with and without the integrations
    /// file beside the shipped flows. A rule that starts reading what the linter's compile
    /// drops fails here.
    #[test]
    fn the_linters_compile_gives_the_findings_of_the_whole_compile() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let files = super::shipped_and_fixtures();
        let integrations = std::fs::read_to_string(root.join("flows/integrations.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        assert!(integrations.is_some(), "flows/integrations.json is read");
        let mut linted = 0;
        for path in &files {
            let Some(flow) = std::fs::read(path)
                .ok()
                .and_then(|b| serde_json::from_slice::<super::Flow>(&b).ok())
            else {
                continue;
            };
            let positions: Vec<usize> = (0..flow.nodes.len()).collect();
            for integrations in [None, integrations.clone()] {
                let opts = LintOptions {
                    integrations,
                    ..LintOptions::default()
                };
                let findings = |lint_only: bool| {
                    let c = super::compile(
                        flow.clone(),
                        &positions,
                        super::CompileOptions {
                            keep_sites: true,
                            lint_only,
                        },
                    );
                    let d =
                        super::lint_compiled(&c, Vec::new(), Vec::new(), &opts, |_, _| Vec::new());
                    format!("{d:#?}")
                };
                assert_eq!(findings(true), findings(false), "{}", path.display());
            }
            linted += 1;
        }
        assert!(linted >= 20, "{linted} flows linted");
    }

    /// The `.json` files under `dir`, at any depth.
    /// The typed read changes no finding: every file the project ships or uses as a fixture,
    /// and hostile variants of one, get the same findings, at the same places, as through the
    /// full path (the `Value` tree and the schema pass). Files the typed read refuses are
    /// among them, and they take the full path.
    #[test]
    fn typed_read_gives_the_same_findings_as_the_full_path() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let files = super::shipped_and_fixtures();
        let mut inputs: Vec<(String, Vec<u8>)> = files
            .iter()
            .filter_map(|p| Some((p.display().to_string(), std::fs::read(p).ok()?)))
            .collect();
        let seed = std::fs::read(root.join("flows/liveperson.json")).unwrap_or_default();
        let text = String::from_utf8_lossy(&seed).into_owned();
        // Hostile variants the typed read must refuse: duplicate keys, a BOM, a trailing
        // comma, a key the schema does not know.
        for (name, bytes) in [
            (
                "dup-top-level",
                text.replacen("{", "{\"name\": \"a\", \"name\": \"b\", ", 1),
            ),
            ("bom", format!("\u{feff}{text}")),
            ("trailing-comma", text.replacen("]", ",]", 1)),
            (
                "unknown-key",
                text.replacen("\"id\"", "\"idd\": 1, \"id\"", 1),
            ),
        ] {
            inputs.push((name.to_owned(), bytes.into_bytes()));
        }
        let opts = LintOptions::default();
        let (mut fast, mut full) = (0, 0);
        for (path, bytes) in &inputs {
            let typed = lint_bytes_by(path, bytes.into(), &opts, true);
            let reference = lint_bytes_by(path, bytes.into(), &opts, false);
            assert_eq!(typed.kind, reference.kind, "{path}");
            assert_eq!(typed.findings, reference.findings, "{path}");
            assert_eq!(typed.source.text, reference.source.text, "{path}");
            if crate::compile::load::typed_accepts(bytes) {
                fast += 1;
            } else {
                full += 1;
            }
        }
        assert!(fast > 10 && full > 20, "typed {fast}, full path {full}");
    }
}

#[cfg(test)]
mod by_file {
    use super::{lint_bytes, lint_file_at_most, lint_file_from, LintOptions};

    /// A file linted from disk, read a window at a time when it is large, gets the report its
    /// bytes get linted whole: the same kind, findings (at the same lines and columns, with
    /// the same nodes and suppressions) and text. Every shipped flow and fixture is read both
    /// ways, then flows of several windows: with findings in every node, with nodes cut where
    /// the windows meet, one the typed read refuses only at its end, and one that stops being
    /// UTF-8 halfway.
    #[test]
    fn a_file_read_a_window_at_a_time_gets_the_report_of_its_bytes() {
        let files = super::shipped_and_fixtures();
        let mut inputs: Vec<(String, Vec<u8>)> = files
            .iter()
            .filter_map(|p| Some((p.display().to_string(), std::fs::read(p).ok()?)))
            .collect();
        let window = crate::compile::load::WINDOW;
        // Each node: a template reading a variable set nowhere, and a suppression of
        // `unknown-goto-target`, used where the `goto` names no node (every fifth node) and
        // reported unused elsewhere.
        let node = |i: usize| {
            format!(
                r#"{{"id": "n{i}", "name": "Passo {i}", "condition": "{}", "comment": "fluxo: ignore[unknown-goto-target]", "output": [{{"default": {{"type": "text", "text": "olá <? $nunca{} ?>"}}}}], "next": [{{"goto": "n{}"}}]}}"#,
                if i == 0 { "start" } else { "$x == 1" },
                i % 7,
                if i.is_multiple_of(5) {
                    i + 100_000
                } else {
                    i + 1
                }
            )
        };
        let many: Vec<String> = (0..3_000).map(node).collect();
        let many = format!(
            r#"{{"name": "big", "nodes": [{}, {{"id": "n3000"}}]}}"#,
            many.join(",\n  ")
        );
        assert!(many.len() > 8 * window);
        inputs.push(("many".into(), many.clone().into_bytes()));
        let spaced = format!(
            "{}{{\"nodes\": [{}{},{}]}}\n",
            " ".repeat(window - 1),
            node(0),
            " ".repeat(window),
            node(1)
        );
        inputs.push(("spaced".into(), spaced.into_bytes()));
        let refused = many.replacen(r#"{"id": "n3000"}"#, r#"{"id": "n3000", "id": "n"}"#, 1);
        inputs.push(("refused-at-the-end".into(), refused.into_bytes()));
        // Findings in a few nodes of many: the report holds only the lines around them. Two
        // loops without input: one between nodes far apart (its lines are not shown together),
        // one between close nodes; unknown targets in the first and last nodes; lines ending in
        // `\r\n` in one copy, all on one line in another, and characters of two UTF-16 units
        // on the lines shown.
        let sparse = |i: usize| {
            let input = r#""input": {"default": {"type": "text_input"}},"#;
            let (input, other) = match i {
                100 => ("", Some("n2900")),
                2900 => ("", Some("n100")),
                1000 => ("", Some("n1003")),
                1003 => ("", Some("n1000")),
                1 | 2999 => (input, Some("nada")),
                _ => (input, None),
            };
            let next = (i + 1) % 3_000;
            let next = match other {
                Some(o) => format!(
                    "{{\"condition\": \"input.text == 'x'\", \"goto\": \"{o}\"}},\n      {{\"goto\": \"n{next}\"}}"
                ),
                None => format!("{{\"goto\": \"n{next}\"}}"),
            };
            format!(
                "{{\n    \"id\": \"n{i}\",\n    \"condition\": \"{}\",\n    {input}\n    \"output\": [{{\"default\": {{\"type\": \"text\", \"text\": \"olá 😀 {i}\"}}}}],\n    \"next\": [\n      {next}\n    ]\n  }}",
                if i == 0 { "start" } else { "input.text == 'oi'" },
            )
        };
        let mut sparse: Vec<String> = (0..3_000).map(sparse).collect();
        // Ids used again: one far from its first use (its two lines are shown apart), one
        // close to it (shown together).
        for id in ["n200", "n2999"] {
            sparse.push(format!(
                "{{\n    \"id\": \"{id}\",\n    \"condition\": \"input.text == 'oi'\",\n    \"next\": [{{\"goto\": \"n0\"}}]\n  }}"
            ));
        }
        let sparse = format!(
            "{{\"name\": \"sparse\", \"nodes\": [\n  {}\n]}}\n",
            sparse.join(",\n  ")
        );
        inputs.push(("sparse".into(), sparse.clone().into_bytes()));
        inputs.push((
            "sparse-crlf".into(),
            sparse.replace('\n', "\r\n").into_bytes(),
        ));
        // The same on one line: the report reads only the nodes of the findings.
        inputs.push(("sparse-min".into(), sparse.replace('\n', "").into_bytes()));
        let mut broken = many.clone().into_bytes();
        let middle = broken.len() / 2;
        let at = middle + many[middle..].find("olá").unwrap_or_default();
        broken[at + 2] = 0xFF;
        inputs.push(("not-utf8-in-the-middle".into(), broken));
        let dir = std::env::temp_dir().join(format!("fluxo-lint-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("flow.json");
        let opts = LintOptions::default();
        for (name, bytes) in &inputs {
            std::fs::write(&path, bytes).unwrap();
            // The generated flows are read a window at a time, all but the refused one to the
            // end, so their reports come from that read.
            if !name.ends_with(".json") {
                let mut file = std::fs::File::open(&path).unwrap();
                let streamed = crate::compile::load::typed_compile_file(
                    &mut file,
                    bytes.len() as u64,
                    crate::compile::CompileOptions {
                        keep_sites: true,
                        lint_only: true,
                    },
                    |_, _, _| {},
                );
                assert_eq!(
                    streamed.is_some(),
                    matches!(
                        name.as_str(),
                        "many" | "spaced" | "sparse" | "sparse-crlf" | "sparse-min"
                    ),
                    "{name}"
                );
            }
            let whole = lint_bytes(name, bytes, &opts);
            let read = lint_file_from(&path, name, &opts, 0, u64::MAX).unwrap();
            // A limit below the file's length refuses it before it is read.
            let small = lint_file_at_most(&path, name, &opts, 10).map_err(|e| e.to_string());
            let said = format!("{} bytes is larger than the 10-byte limit", bytes.len());
            assert_eq!(small.err(), (bytes.len() > 10).then_some(said), "{name}");
            assert_eq!(read.kind, whole.kind, "{name}");
            assert_eq!(read.findings, whole.findings, "{name}");
            // Excerpts where the findings are in a few of many nodes (not where they are in
            // every node); shown alike.
            if name.starts_with("sparse") || name == "many" {
                assert_eq!(
                    read.source.is_whole(),
                    name == "many",
                    "{name}: {:?}",
                    (read.findings.iter())
                        .map(|f| (f.code, f.line))
                        .take(20)
                        .collect::<Vec<_>>()
                );
            }
            if read.source.is_whole() {
                assert_eq!(read.source.text, whole.source.text, "{name}");
            }
            let human = |r: &super::FileReport| -> Vec<String> {
                let h = super::render::Human::new(false);
                r.findings.iter().map(|f| h.finding(r, f)).collect()
            };
            assert_eq!(human(&read), human(&whole), "{name}");
            if name.starts_with("sparse") {
                let codes: Vec<&str> = read.findings.iter().map(|f| f.code).collect();
                let count = |c: &str| codes.iter().filter(|&&x| x == c).count();
                assert_eq!(count("loop-without-input"), 2, "{name}: {codes:?}");
                assert_eq!(count("unknown-goto-target"), 2, "{name}: {codes:?}");
                assert_eq!(count("duplicate-node-id"), 2, "{name}: {codes:?}");
            }
            let rules = super::rules();
            assert!(
                name.ends_with(".json") || !whole.findings.is_empty(),
                "{name}"
            );
            let sarif = |r: super::FileReport| super::render::sarif(&[r], &rules);
            assert_eq!(sarif(read), sarif(whole), "{name}");
        }
        let missing = lint_file_from(
            &dir.join("missing.json"),
            "missing.json",
            &opts,
            0,
            u64::MAX,
        );
        assert!(missing.is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod typed_read {
    /// A duplicate key anywhere, also inside the free-form maps of the model (context, output,
    /// parameters, payload, inputs by channel, analytics values), sends the file down the full
    /// path, which reports it.
    #[test]
    fn duplicate_keys_anywhere_refuse_the_typed_read() {
        let node =
            |body: &str| format!(r#"{{"nodes": [{{"id": "a", "condition": "start", {body}}}]}}"#);
        for body in [
            r#""context": {"k": 1, "k": 2}"#,
            r#""contact": {"k": {"x": 1, "x": 1}}"#,
            r#""output": [{"default": {"type": "text", "text": "a", "text": "b"}}]"#,
            r#""output": [{"default": {"type": "text"}, "default": {"type": "text"}}]"#,
            r#""actions": [{"name": "f", "parameters": {"p": 1, "p": 2}}]"#,
            r#""input": {"default": {"type": "text_input"}, "default": {"type": "date"}}"#,
            r#""input": {"default": {"type": "text_input", "payload": {"tries": 2, "tries": 3}}}"#,
            r#""events": [{"event_name": "e", "extra1": {"a": [{"b": 1, "b": 2}]}}]"#,
            r#""events": [{"event_name": "e", "details": {"field1": {"a": 1, "a": 1}}}]"#,
            r#""next": [{"goto": "a", "goto": "a"}]"#,
        ] {
            refused_with(&node(body), "duplicate-key");
        }
        let clean =
            node(r#""context": {"k": 1}, "output": [{"default": {"type": "text", "text": "oi"}}]"#);
        assert!(crate::compile::load::typed_accepts(clean.as_bytes()));
    }

    /// A flow, or a node, a `next` entry, an action or a response in it, written as an array
    /// of its fields (serde's sequence form of a struct) refuses the typed read, and the full
    /// path gives its schema finding.
    #[test]
    fn structs_written_as_arrays_refuse_the_typed_read() {
        for text in [
            r#"[null, null, null, [], [], [{"id": "a", "condition": "start"}]]"#,
            r#"{"nodes": [["a", null, null, "start"]]}"#,
            r#"{"nodes": [{"id": "a", "condition": "start", "next": [["b"]]}, {"id": "b"}]}"#,
            r#"{"nodes": [{"id": "a", "condition": "start", "actions": [["set"]]}]}"#,
            r#"{"nodes": [{"id": "a", "condition": "start", "responses": [["true", []]]}]}"#,
        ] {
            refused_with(text, "schema");
        }
    }

    /// `text` refuses the typed read, and the full path finds `code` in it.
    fn refused_with(text: &str, code: &str) {
        assert!(
            !crate::compile::load::typed_accepts(text.as_bytes()),
            "{text}"
        );
        let report = super::lint_bytes("f.json", text.as_bytes(), &Default::default());
        assert!(
            report.findings.iter().any(|f| f.code == code),
            "{text}: {:?}",
            report.findings
        );
    }
}
