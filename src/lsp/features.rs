//! The requests: each a function of one document's snapshot (and, for what crosses files, of a
//! way to read the files beside it).

use super::document::{Document, Encoding};
use super::files::path_to_uri;
use super::index::{Index, Kind, Seg, Str};
use crate::domain::{BuiltinAction, CloseStatus, Provider, INPUT_FIELDS, LIVE_CHAT_FIELDS};
use crate::expr::{arity_text, Dialect, Receiver};
use crate::lint::Located;
use lsp_server::ErrorCode;
use lsp_types as lt;
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A handler's failure, answered as a JSON-RPC error.
pub(crate) struct Failure {
    pub code: ErrorCode,
    pub message: String,
}

impl Failure {
    /// A request that is well-formed but cannot be done (a rename onto a taken id).
    pub(crate) fn refused(message: impl Into<String>) -> Failure {
        Failure {
            code: ErrorCode::RequestFailed,
            message: message.into(),
        }
    }
}

/// One document as a request sees it.
pub(crate) struct Snapshot<'a> {
    /// Its URI.
    pub uri: &'a lt::Uri,
    /// Its path, for a `file:` URI.
    pub path: Option<&'a Path>,
    /// Its text.
    pub doc: &'a Document,
    /// Its last good index.
    pub index: Option<&'a Index>,
    /// Its findings.
    pub findings: &'a [Located],
    /// Byte shift of the findings' offsets (a BOM the linter did not count).
    pub shift: usize,
    /// The client's position encoding.
    pub encoding: Encoding,
}

impl Snapshot<'_> {
    fn offset(&self, p: lt::Position) -> usize {
        self.doc.offset(p, self.encoding)
    }

    fn range(&self, r: &Range<usize>) -> lt::Range {
        self.doc.range(r, self.encoding)
    }
}

/// Reads the text of a file.
pub(crate) type Reader<'a> = Box<dyn Fn(&Path) -> Option<String> + 'a>;

/// Reading the files around a document (open documents first, then the disk).
pub(crate) struct Workspace<'a> {
    /// The text of a file.
    pub read: Reader<'a>,
}

/// Another file, indexed, with its URI and text.
struct Other {
    uri: lt::Uri,
    doc: Document,
    index: Index,
    path: PathBuf,
}

impl Workspace<'_> {
    fn load(&self, path: &Path) -> Option<Other> {
        let text = (self.read)(path)?;
        let index = Index::build(&text)?;
        Some(Other {
            uri: path_to_uri(path)?,
            doc: Document::new(text, 0),
            index,
            path: path.to_path_buf(),
        })
    }
}

fn json<T: serde::Serialize>(v: T) -> Result<Json, Failure> {
    serde_json::to_value(v).map_err(|e| Failure {
        code: lsp_server::ErrorCode::InternalError,
        message: e.to_string(),
    })
}

/// The flow a test file names, resolved beside the test.
fn flow_of_test(snap: &Snapshot<'_>, index: &Index) -> Option<PathBuf> {
    let dir = snap.path?.parent()?;
    Some(dir.join(index.flow.as_deref()?))
}

/// The node id under the cursor and where its definitions and uses are: this document for a
/// flow or a workspace, the flow it names for a test.
struct Target {
    id: String,
    range: Range<usize>,
    /// The file that defines the nodes (`None`: this document).
    flow: Option<Other>,
}

fn target(snap: &Snapshot<'_>, ws: &Workspace<'_>, pos: lt::Position) -> Option<Target> {
    let index = snap.index?;
    let (id, range) = index.node_id_at(snap.offset(pos))?;
    let flow = match index.kind {
        Kind::Test => Some(ws.load(&flow_of_test(snap, index)?)?),
        _ => None,
    };
    Some(Target {
        id: id.to_owned(),
        range,
        flow,
    })
}

/// `textDocument/definition`: a node id's node, an `integration_id`'s integration.
pub(crate) fn definition(
    snap: &Snapshot<'_>,
    ws: &Workspace<'_>,
    pos: lt::Position,
) -> Result<Json, Failure> {
    let Some(index) = snap.index else {
        return Ok(Json::Null);
    };
    let offset = snap.offset(pos);
    if let Some(t) = target(snap, ws, pos) {
        let found = match &t.flow {
            Some(f) => f
                .index
                .node(&t.id)
                .map(|n| lt::Location::new(f.uri.clone(), f.doc.range(&n.range, snap.encoding))),
            None => index
                .node(&t.id)
                .map(|n| lt::Location::new(snap.uri.clone(), snap.range(&n.range))),
        };
        return json(found);
    }
    if let Some(r) = index
        .integration_refs
        .iter()
        .find(|r| r.range.start <= offset && offset <= r.range.end)
    {
        let found = integrations_beside(snap, ws).and_then(|f| {
            let i = f.index.integrations.iter().find(|i| i.id == r.id)?;
            Some(lt::Location::new(
                f.uri.clone(),
                f.doc.range(&i.range, snap.encoding),
            ))
        });
        return json(found);
    }
    Ok(Json::Null)
}

fn integrations_beside(snap: &Snapshot<'_>, ws: &Workspace<'_>) -> Option<Other> {
    let dir = snap.path?.parent()?;
    ws.load(&dir.join("integrations.json"))
}

/// Every place of the node id `id`: the flow's definition (when `declaration`) and uses, and
/// the uses in the conversation tests beside a builder flow.
fn places(
    snap: &Snapshot<'_>,
    ws: &Workspace<'_>,
    t: &Target,
    declaration: bool,
) -> Vec<(lt::Uri, Vec<Range<usize>>, Document)> {
    let mut out = Vec::new();
    let (flow_uri, flow_doc, flow_index, flow_path) = match &t.flow {
        Some(f) => (f.uri.clone(), f.doc.clone(), &f.index, Some(f.path.clone())),
        None => match snap.index {
            Some(i) => (
                snap.uri.clone(),
                snap.doc.clone(),
                i,
                snap.path.map(Path::to_path_buf),
            ),
            None => return out,
        },
    };
    let mut ranges: Vec<Range<usize>> = Vec::new();
    if declaration {
        ranges.extend(
            flow_index
                .nodes
                .iter()
                .filter(|n| n.id == t.id)
                .map(|n| n.range.clone()),
        );
    }
    ranges.extend(
        flow_index
            .refs
            .iter()
            .filter(|r| r.id == t.id)
            .map(|r| r.range.clone()),
    );
    out.push((flow_uri, ranges, flow_doc));
    if !matches!(flow_index.kind, Kind::Flow | Kind::Watson) {
        return out;
    }
    let Some(flow_path) = flow_path else {
        return out;
    };
    for test in tests_beside(&flow_path, ws) {
        let ranges: Vec<Range<usize>> = test
            .index
            .refs
            .iter()
            .filter(|r| r.id == t.id)
            .map(|r| r.range.clone())
            .collect();
        if !ranges.is_empty() {
            out.push((test.uri, ranges, test.doc));
        }
    }
    out
}

/// The conversation-test files in a flow's directory that name it.
fn tests_beside(flow: &Path, ws: &Workspace<'_>) -> Vec<Other> {
    let Some(dir) = flow.parent() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let flow_abs = flow.canonicalize().unwrap_or_else(|_| flow.to_path_buf());
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".test.json"))
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| ws.load(p))
        .filter(|o| {
            o.index.kind == Kind::Test
                && o.index.flow.as_deref().is_some_and(|f| {
                    let named = dir.join(f);
                    named.canonicalize().unwrap_or(named) == flow_abs
                })
        })
        .collect()
}

/// `textDocument/references`.
pub(crate) fn references(
    snap: &Snapshot<'_>,
    ws: &Workspace<'_>,
    pos: lt::Position,
    declaration: bool,
) -> Result<Json, Failure> {
    let Some(t) = target(snap, ws, pos) else {
        return Ok(Json::Null);
    };
    let locations: Vec<lt::Location> = places(snap, ws, &t, declaration)
        .into_iter()
        .flat_map(|(uri, ranges, doc)| {
            ranges
                .into_iter()
                .map(move |r| lt::Location::new(uri.clone(), doc.range(&r, snap.encoding)))
                .collect::<Vec<_>>()
        })
        .collect();
    json(locations)
}

/// `textDocument/prepareRename`: the node id under the cursor.
pub(crate) fn prepare_rename(
    snap: &Snapshot<'_>,
    ws: &Workspace<'_>,
    pos: lt::Position,
) -> Result<Json, Failure> {
    match target(snap, ws, pos) {
        Some(t) => json(snap.range(&t.range)),
        None => Ok(Json::Null),
    }
}

#[allow(clippy::mutable_key_type)] // lsp-types keys edits by URI
/// `textDocument/rename` of a node id, in the flow and the tests beside it; refused when the
/// new id is taken or cannot be written without escaping.
pub(crate) fn rename(
    snap: &Snapshot<'_>,
    ws: &Workspace<'_>,
    pos: lt::Position,
    new: &str,
) -> Result<Json, Failure> {
    let Some(t) = target(snap, ws, pos) else {
        return Err(Failure::refused("there is no node id here to rename"));
    };
    if new.trim().is_empty() || new.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return Err(Failure::refused(format!(
            "`{new}` cannot be a node id: use letters, digits, `_` or `-`"
        )));
    }
    let taken = match &t.flow {
        Some(f) => f.index.node(new).is_some(),
        None => snap.index.is_some_and(|i| i.node(new).is_some()),
    };
    if taken && new != t.id {
        return Err(Failure::refused(format!(
            "a node with the id `{new}` already exists"
        )));
    }
    let mut changes: HashMap<lt::Uri, Vec<lt::TextEdit>> = HashMap::new();
    for (uri, ranges, doc) in places(snap, ws, &t, true) {
        let edits = ranges
            .into_iter()
            .map(|r| lt::TextEdit::new(doc.range(&r, snap.encoding), new.to_owned()))
            .collect();
        changes.insert(uri, edits);
    }
    json(lt::WorkspaceEdit::new(changes))
}

/// The input types, from the flow schema's `input.type` enumeration.
fn input_types() -> Vec<String> {
    let schema: Json = serde_json::from_str(crate::schema::FLOW_SCHEMA).unwrap_or_default();
    schema
        .pointer("/$defs/input/properties/type/enum")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn item(label: &str, detail: Option<String>, kind: lt::CompletionItemKind) -> lt::CompletionItem {
    lt::CompletionItem {
        label: label.to_owned(),
        kind: Some(kind),
        detail,
        ..Default::default()
    }
}

/// The last key of a path.
fn last_key(path: &[Seg]) -> Option<&str> {
    path.iter().rev().find_map(|s| match s {
        Seg::Key(k) => Some(k.as_str()),
        Seg::Index(_) => None,
    })
}

fn has_key(path: &[Seg], key: &str) -> bool {
    path.iter().any(|s| matches!(s, Seg::Key(k) if k == key))
}

/// `textDocument/completion`.
pub(crate) fn completion(
    snap: &Snapshot<'_>,
    ws: &Workspace<'_>,
    pos: lt::Position,
) -> Result<Json, Failure> {
    let Some(index) = snap.index else {
        return Ok(Json::Null);
    };
    let offset = snap.offset(pos);
    let text = &snap.doc.text;
    let (items, from) = match index.string_at(offset) {
        Some(s) => in_string(snap, ws, index, s, offset),
        None => {
            // `"integration_id": 3|`: the integrations beside the flow.
            let line_start = text
                .get(..offset)
                .and_then(|t| t.rfind('\n'))
                .map_or(0, |i| i + 1);
            let before = text.get(line_start..offset).unwrap_or_default();
            let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            let head = before[..before.len() - digits].trim_end();
            if index.kind == Kind::Flow && head.ends_with("\"integration_id\":") {
                let items = integrations_beside(snap, ws)
                    .map(|f| {
                        f.index
                            .integrations
                            .iter()
                            .map(|i| {
                                item(
                                    &i.id,
                                    Some(integration_text(
                                        i.name.as_deref(),
                                        i.provider.as_deref(),
                                    )),
                                    lt::CompletionItemKind::VALUE,
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                (items, offset - digits)
            } else {
                (Vec::new(), offset)
            }
        }
    };
    let edit_range = snap.range(&(from..offset));
    let items: Vec<lt::CompletionItem> = items
        .into_iter()
        .map(|mut i| {
            i.text_edit = Some(lt::CompletionTextEdit::Edit(lt::TextEdit::new(
                edit_range,
                i.label.clone(),
            )));
            i
        })
        .collect();
    json(lt::CompletionResponse::Array(items))
}

fn integration_text(name: Option<&str>, provider: Option<&str>) -> String {
    match (name, provider) {
        (Some(n), Some(p)) => format!("{n} ({p})"),
        (Some(n), None) => n.to_owned(),
        (None, Some(p)) => p.to_owned(),
        (None, None) => "integration".into(),
    }
}

/// Every key an input's `payload` may have, read from the flow schema's `payload…` definitions
/// (the schema the linter checks payloads with), each with its description.
fn payload_keys() -> Vec<lt::CompletionItem> {
    let schema: serde_json::Value =
        serde_json::from_str(crate::schema::FLOW_SCHEMA).unwrap_or_default();
    let mut seen = std::collections::BTreeMap::new();
    if let Some(defs) = schema.get("$defs").and_then(serde_json::Value::as_object) {
        for (name, def) in defs {
            if !name.starts_with("payload") {
                continue;
            }
            let props = def.get("properties").and_then(serde_json::Value::as_object);
            for (key, p) in props.into_iter().flatten() {
                let doc = p
                    .get("description")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned);
                seen.entry(key.clone()).or_insert(doc);
            }
        }
    }
    seen.into_iter()
        .map(|(key, doc)| {
            let mut it = item(
                &key,
                Some("payload".into()),
                lt::CompletionItemKind::PROPERTY,
            );
            it.documentation = doc.map(lt::Documentation::String);
            it
        })
        .collect()
}

/// Completion inside a string; returns the items and the offset the typed word starts at.
fn in_string(
    snap: &Snapshot<'_>,
    ws: &Workspace<'_>,
    index: &Index,
    s: &Str,
    offset: usize,
) -> (Vec<lt::CompletionItem>, usize) {
    let text = &snap.doc.text;
    let start = s.range.start + 1;
    let before = text.get(start..offset.max(start)).unwrap_or_default();
    let key = last_key(&s.path).unwrap_or_default();
    let node_ids = |idx: &Index| -> Vec<lt::CompletionItem> {
        idx.nodes
            .iter()
            .map(|n| item(&n.id, n.name.clone(), lt::CompletionItemKind::REFERENCE))
            .collect()
    };
    if s.is_key {
        // A key of a `start_live_chat`'s `parameters`.
        let parent = s
            .path
            .get(..s.path.len().saturating_sub(1))
            .unwrap_or_default();
        if index.kind == Kind::Flow && last_key(parent) == Some("parameters") {
            return (parameters(snap, ws, index, offset), start);
        }
        // A key of an input's `payload`: the keys the flow schema gives the input types.
        if index.kind == Kind::Flow
            && last_key(parent) == Some("payload")
            && has_key(&s.path, "input")
        {
            return (payload_keys(), start);
        }
        return (Vec::new(), start);
    }
    match (index.kind, key) {
        (Kind::Flow, "goto") => return (node_ids(index), start),
        (Kind::Watson, "dialog_node") if has_key(&s.path, "next_step") => {
            return (node_ids(index), start)
        }
        (Kind::Watson, "parent" | "previous_sibling") => return (node_ids(index), start),
        (Kind::Test, "node" | "awaiting") => {
            let items = flow_of_test(snap, index)
                .and_then(|p| ws.load(&p))
                .map(|f| node_ids(&f.index))
                .unwrap_or_default();
            return (items, start);
        }
        (Kind::Flow, "name") if has_key(&s.path, "actions") => {
            let items = BuiltinAction::names()
                .iter()
                .map(|n| item(n, Some("action".into()), lt::CompletionItemKind::FUNCTION))
                .collect();
            return (items, start);
        }
        (Kind::Flow, "type") if has_key(&s.path, "input") => {
            let items = input_types()
                .iter()
                .map(|t| {
                    item(
                        t,
                        Some("input type".into()),
                        lt::CompletionItemKind::ENUM_MEMBER,
                    )
                })
                .collect();
            return (items, start);
        }
        (Kind::Flow, "mask") if has_key(&s.path, "input") => {
            let items = crate::engine::MASKS
                .iter()
                .map(|m| item(m, Some("mask".into()), lt::CompletionItemKind::ENUM_MEMBER))
                .collect();
            return (items, start);
        }
        _ => {}
    }
    // Expressions: a whole condition, or inside `<? … ?>`.
    let is_condition = matches!(key, "condition" | "conditions");
    let expr = if is_condition {
        Some(before)
    } else {
        before
            .rfind("<?")
            .filter(|&i| !before.get(i..).unwrap_or_default().contains("?>"))
            .and_then(|i| before.get(i + 2..))
    };
    let Some(expr) = expr else {
        return (Vec::new(), offset);
    };
    let word_len = expr.len()
        - expr
            .trim_end_matches(|c: char| c.is_alphanumeric() || c == '_')
            .len();
    let head = &expr[..expr.len() - word_len];
    let word_start = offset - word_len;
    // `input.live_chat.status == '…`: the close statuses.
    let status_head = head.trim_end_matches(['\'', '"']);
    if status_head.len() < head.len() {
        let lhs = status_head
            .trim_end()
            .trim_end_matches(['=', '!'])
            .trim_end();
        if lhs.ends_with("input.live_chat.status") {
            let items = CloseStatus::ALL
                .iter()
                .map(|c| {
                    item(
                        c.as_str(),
                        Some("close status".into()),
                        lt::CompletionItemKind::ENUM_MEMBER,
                    )
                })
                .collect();
            return (items, word_start);
        }
    }
    if let Some(receiver) = head.strip_suffix('.') {
        // The path written before the dot: `input`, `input.live_chat`, `$x.y`.
        let path = receiver
            .rsplit(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '$')))
            .next()
            .unwrap_or_default();
        let fields: Option<&[(&str, &str)]> = match path {
            "input.live_chat" => Some(LIVE_CHAT_FIELDS),
            "input" => Some(INPUT_FIELDS),
            _ => None,
        };
        if let Some(fields) = fields {
            let items = fields
                .iter()
                .map(|(f, doc)| item(f, Some((*doc).to_owned()), lt::CompletionItemKind::FIELD))
                .collect();
            return (items, word_start);
        }
        return (methods(dialect(index)), word_start);
    }
    if head.ends_with('$') {
        let items = index
            .variables
            .iter()
            .map(|v| item(v, Some("variable".into()), lt::CompletionItemKind::VARIABLE))
            .collect();
        return (items, word_start);
    }
    (Vec::new(), offset)
}

fn dialect(index: &Index) -> Dialect {
    if index.kind == Kind::Watson {
        Dialect::Watson
    } else {
        Dialect::Builder
    }
}

/// The methods of a dialect, one item per name.
fn methods(d: Dialect) -> Vec<lt::CompletionItem> {
    let mut by_name: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for m in crate::expr::methods() {
        if m.receiver == Receiver::Function || !m.availability.includes(d) {
            continue;
        }
        by_name.entry(m.name).or_default().push(method_line(m));
    }
    by_name
        .into_iter()
        .map(|(name, lines)| lt::CompletionItem {
            label: name.to_owned(),
            kind: Some(lt::CompletionItemKind::METHOD),
            detail: lines.first().cloned(),
            documentation: Some(lt::Documentation::String(lines.join("\n"))),
            ..Default::default()
        })
        .collect()
}

fn method_line(m: &crate::expr::Method) -> String {
    let on = match m.receiver {
        Receiver::Function => format!("{}(…)", m.name),
        r => format!("{}.{}(…)", r.as_str(), m.name),
    };
    format!("{on} — {} argument(s); {}", arity_text(m), m.doc)
}

/// The parameters a `start_live_chat` may take: those of its integration's provider when its
/// `integration_id` names one beside the flow, else every provider's.
fn parameters(
    snap: &Snapshot<'_>,
    ws: &Workspace<'_>,
    index: &Index,
    offset: usize,
) -> Vec<lt::CompletionItem> {
    // The integration: the first `integration_id` written in the node the cursor is in (a
    // node hands over once).
    let node = index
        .nodes
        .iter()
        .find(|n| n.object.start <= offset && offset <= n.object.end);
    let provider = node.and_then(|n| {
        let r = index
            .integration_refs
            .iter()
            .find(|r| n.object.start <= r.range.start && r.range.end <= n.object.end)?;
        let f = integrations_beside(snap, ws)?;
        let i = f.index.integrations.iter().find(|i| i.id == r.id)?;
        Provider::ALL
            .into_iter()
            .find(|p| Some(p.as_str()) == i.provider.as_deref())
    });
    let mut items = vec![
        item(
            crate::domain::INTEGRATION_ID,
            Some("the integration to hand over to".into()),
            lt::CompletionItemKind::PROPERTY,
        ),
        item(
            crate::domain::BEFORE_ACTION_MESSAGES,
            Some("messages sent before the hand-over".into()),
            lt::CompletionItemKind::PROPERTY,
        ),
    ];
    let providers: Vec<Provider> = match provider {
        Some(p) => vec![p],
        None => Provider::ALL.to_vec(),
    };
    let mut seen = std::collections::BTreeSet::new();
    for p in providers {
        for name in p.parameters().unwrap_or_default() {
            if seen.insert(*name) {
                items.push(item(
                    name,
                    Some(format!("{} parameter", p.as_str())),
                    lt::CompletionItemKind::PROPERTY,
                ));
            }
        }
    }
    items
}

fn markdown(text: String) -> Result<Json, Failure> {
    json(lt::Hover {
        contents: lt::HoverContents::Markup(lt::MarkupContent {
            kind: lt::MarkupKind::Markdown,
            value: text,
        }),
        range: None,
    })
}

/// `textDocument/hover`: a finding's rule, a node, an integration, a method.
pub(crate) fn hover(
    snap: &Snapshot<'_>,
    ws: &Workspace<'_>,
    pos: lt::Position,
) -> Result<Json, Failure> {
    let offset = snap.offset(pos);
    let shift = snap.shift;
    if let Some(f) = snap.findings.iter().find(|f| {
        f.range.start + shift <= offset && offset <= f.range.end + shift && f.code != "json-syntax"
    }) {
        if let Some(rule) = crate::lint::find_rule(f.code) {
            return markdown(crate::lint::rule_text(rule));
        }
    }
    let Some(index) = snap.index else {
        return Ok(Json::Null);
    };
    if let Some(t) = target(snap, ws, pos) {
        let flow = t.flow.as_ref().map_or(index, |f| &f.index);
        let mut text = format!("node `{}`", t.id);
        match flow.node(&t.id) {
            Some(n) => {
                if let Some(name) = &n.name {
                    text.push_str(&format!(" — {name}"));
                }
                if let Some(c) = &n.condition {
                    text.push_str(&format!("\n\nentered on `{c}`"));
                }
                let mut from: Vec<&str> = flow
                    .refs
                    .iter()
                    .filter(|r| r.id == t.id)
                    .filter_map(|r| flow.nodes.get(r.from?))
                    .map(|n| n.id.as_str())
                    .collect();
                from.dedup();
                if !from.is_empty() {
                    let list: Vec<String> = from.iter().map(|f| format!("`{f}`")).collect();
                    text.push_str(&format!("\n\nreached from {}", list.join(", ")));
                }
            }
            None => text.push_str(" — no node has this id"),
        }
        return markdown(text);
    }
    if let Some(r) = index
        .integration_refs
        .iter()
        .find(|r| r.range.start <= offset && offset <= r.range.end)
    {
        let text = match integrations_beside(snap, ws)
            .and_then(|f| f.index.integrations.iter().find(|i| i.id == r.id).cloned())
        {
            Some(i) => format!(
                "integration {}: {}",
                i.id,
                integration_text(i.name.as_deref(), i.provider.as_deref())
            ),
            None => format!(
                "integration {}: not in an `integrations.json` beside the flow",
                r.id
            ),
        };
        return markdown(text);
    }
    if let Some(i) = index
        .integrations
        .iter()
        .find(|i| i.range.start <= offset && offset <= i.range.end)
    {
        return markdown(format!(
            "integration {}: {}",
            i.id,
            integration_text(i.name.as_deref(), i.provider.as_deref())
        ));
    }
    // A method or function name in an expression.
    if index.string_at(offset).is_some() {
        let text = &snap.doc.text;
        let is_word = |c: char| c.is_alphanumeric() || c == '_';
        let start = text
            .get(..offset)
            .and_then(|t| t.rfind(|c: char| !is_word(c)).map(|i| i + 1))
            .unwrap_or(0);
        let end = text
            .get(offset..)
            .and_then(|t| t.find(|c: char| !is_word(c)))
            .map_or(text.len(), |i| offset + i);
        let word = text.get(start..end).unwrap_or_default();
        let dotted = text.get(..start).is_some_and(|t| t.ends_with('.'));
        let called = text.get(end..).is_some_and(|t| t.starts_with('('));
        if !word.is_empty() && (dotted || called) {
            let d = dialect(index);
            let lines: Vec<String> = crate::expr::methods()
                .iter()
                .filter(|m| m.name == word && m.availability.includes(d))
                .filter(|m| dotted != (m.receiver == Receiver::Function))
                .map(|m| format!("- `{}`", method_line(m)))
                .collect();
            if !lines.is_empty() {
                return markdown(lines.join("\n"));
            }
        }
    }
    Ok(Json::Null)
}

/// `textDocument/codeAction`: each finding's repair as a quick fix, and a suppression comment.
pub(crate) fn code_actions(snap: &Snapshot<'_>, range: lt::Range) -> Result<Json, Failure> {
    let wanted = snap.doc.byte_range(range, snap.encoding);
    let shift = snap.shift;
    let mut actions = Vec::new();
    for f in snap.findings {
        let at = f.range.start + shift..f.range.end + shift;
        if at.start > wanted.end || at.end < wanted.start {
            continue;
        }
        let diagnostic = lt::Diagnostic {
            range: snap.range(&at),
            code: Some(lt::NumberOrString::String(f.code.into())),
            source: Some("fluxo".into()),
            message: f.message.clone(),
            ..Default::default()
        };
        if let Some(fix) = &f.fix {
            let title = match &f.help {
                Some(h) => format!("Fix: {h}"),
                None => format!("Fix: {}", f.message),
            };
            let edit = lt::TextEdit::new(
                snap.range(&(fix.range.start + shift..fix.range.end + shift)),
                fix.replacement.clone(),
            );
            actions.push(action(snap, title, edit, &diagnostic, true));
        }
        if let Some((edit, to)) = did_you_mean(snap, f) {
            let title = format!("Replace with `{to}`");
            actions.push(action(snap, title, edit, &diagnostic, true));
        }
        if let Some(edit) = suppression(snap, f) {
            let title = format!("Suppress `{}` on this node", f.code);
            actions.push(action(snap, title, edit, &diagnostic, false));
        }
    }
    json(actions)
}

#[allow(clippy::mutable_key_type)] // lsp-types keys edits by URI
fn action(
    snap: &Snapshot<'_>,
    title: String,
    edit: lt::TextEdit,
    diagnostic: &lt::Diagnostic,
    preferred: bool,
) -> lt::CodeActionOrCommand {
    let changes = HashMap::from([(snap.uri.clone(), vec![edit])]);
    lt::CodeActionOrCommand::CodeAction(lt::CodeAction {
        title,
        kind: Some(lt::CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostic.clone()]),
        edit: Some(lt::WorkspaceEdit::new(changes)),
        is_preferred: Some(preferred),
        ..Default::default()
    })
}

/// The replacement a finding's "did you mean `X`?" suggests, when the finding's range (without
/// quotes) is the misspelt word itself: close to `X`, so an edit cannot swallow more.
fn did_you_mean(snap: &Snapshot<'_>, f: &Located) -> Option<(lt::TextEdit, String)> {
    if f.fix.is_some() {
        return None;
    }
    let help = f.help.as_deref()?;
    let to = help.split("did you mean `").nth(1)?.split("`?").next()?;
    let mut at = f.range.start + snap.shift..f.range.end + snap.shift;
    let mut written = snap.doc.text.get(at.clone())?;
    if let Some(inner) = written.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        written = inner;
        at = at.start + 1..at.end - 1;
    }
    let close = crate::text::levenshtein(written, to) <= (to.chars().count() / 3).max(2);
    if written.is_empty() || written == to || !close || written.contains(['"', '\\']) {
        return None;
    }
    Some((
        lt::TextEdit::new(snap.range(&at), to.to_owned()),
        to.to_owned(),
    ))
}

/// The edit that adds `fluxo: ignore[code]` to the `comment` of the flow node a finding is in.
fn suppression(snap: &Snapshot<'_>, f: &Located) -> Option<lt::TextEdit> {
    let index = snap.index?;
    if index.kind != Kind::Flow
        || matches!(
            f.code,
            "json-syntax" | "duplicate-key" | "unused-suppression"
        )
    {
        return None;
    }
    let position: usize = f
        .pointer
        .strip_prefix("/nodes/")?
        .split('/')
        .next()?
        .parse()
        .ok()?;
    // The pointer counts every element of `nodes`; the index only those with an id, so the
    // node is found by the finding's place instead.
    let at = f.range.start + snap.shift;
    let node = index
        .nodes
        .iter()
        .find(|n| n.object.start <= at && at <= n.object.end)
        .or_else(|| index.nodes.get(position))?;
    let directive = format!("fluxo: ignore[{}]", f.code);
    Some(match &node.comment {
        Some((r, text)) if text.contains(&directive) => return None,
        Some((r, text)) => {
            let sep = if text.trim().is_empty() { "" } else { " " };
            lt::TextEdit::new(snap.range(&(r.end..r.end)), format!("{sep}{directive}"))
        }
        None => lt::TextEdit::new(
            snap.range(&(node.open..node.open)),
            format!(" \"comment\": \"{directive}\","),
        ),
    })
}

/// `textDocument/documentSymbol`: the nodes by name (and an integrations file's integrations).
pub(crate) fn symbols(snap: &Snapshot<'_>) -> Result<Json, Failure> {
    let Some(index) = snap.index else {
        return Ok(Json::Null);
    };
    #[allow(deprecated)]
    let mut out: Vec<lt::DocumentSymbol> = index
        .nodes
        .iter()
        .map(|n| lt::DocumentSymbol {
            name: n
                .name
                .clone()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| n.id.clone()),
            detail: Some(n.id.clone()),
            kind: lt::SymbolKind::OBJECT,
            tags: None,
            deprecated: None,
            range: snap.range(&n.object),
            selection_range: snap.range(&n.range),
            children: None,
        })
        .collect();
    #[allow(deprecated)]
    out.extend(index.integrations.iter().map(|i| lt::DocumentSymbol {
        name: i.name.clone().unwrap_or_else(|| i.id.clone()),
        detail: Some(integration_text(None, i.provider.as_deref())),
        kind: lt::SymbolKind::MODULE,
        tags: None,
        deprecated: None,
        range: snap.range(&i.range),
        selection_range: snap.range(&i.range),
        children: None,
    }));
    json(out)
}
