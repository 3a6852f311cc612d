//! What navigation, completion and hover need of one document: its node ids and where they are
//! used, its integrations, its variables and every string with the keys leading to it.
//!
//! Read with jsonc-parser in its tolerant mode (comments, trailing and missing commas allowed),
//! so a file with a syntax slip still has an index; a text even that mode cannot read leaves
//! the previous index in place (the server keeps the last good one).

use jsonc_parser::ast::{ObjectPropName, Value as Ast};
use jsonc_parser::{CollectOptions, ParseOptions};
use std::collections::BTreeSet;
use std::ops::Range;

/// Deepest nesting indexed: deeper text is left to the linter, which reports it.
const MAX_DEPTH: usize = 512;

/// The kind of a document, from its top-level keys (as the linter tells them apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A builder flow (`nodes`).
    Flow,
    /// A Watson workspace (`dialog_nodes`).
    Watson,
    /// An integrations file (`integrations`).
    Integrations,
    /// A conversation-test file (`conversations`).
    Test,
    /// Anything else.
    Other,
}

/// One step of the path to a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// A string in the document: a value, or an object key.
#[derive(Debug, Clone)]
pub(crate) struct Str {
    /// The keys and indexes leading to it (for a key: to the object holding it, then the key).
    pub path: Vec<Seg>,
    /// Its byte range, quotes included.
    pub range: Range<usize>,
    /// True for an object key.
    pub is_key: bool,
}

/// A node: a flow node (`id`) or a Watson dialog node (`dialog_node`).
#[derive(Debug, Clone)]
pub(crate) struct NodeDef {
    /// Its id.
    pub id: String,
    /// The id's byte range, without the quotes.
    pub range: Range<usize>,
    /// The node object's byte range.
    pub object: Range<usize>,
    /// Its name (`name`, or `title` in Watson).
    pub name: Option<String>,
    /// Its entry condition (`condition`, or `conditions` in Watson).
    pub condition: Option<String>,
    /// Its `comment` string's byte range without the quotes, and its text.
    pub comment: Option<(Range<usize>, String)>,
    /// Byte offset just after the object's `{`.
    pub open: usize,
}

/// A use of a node id.
#[derive(Debug, Clone)]
pub(crate) struct NodeRef {
    /// The id used.
    pub id: String,
    /// Its byte range, without the quotes.
    pub range: Range<usize>,
    /// The index (in [`Index::nodes`]) of the node it is written in, when any.
    pub from: Option<usize>,
}

/// An integration of an integrations file.
#[derive(Debug, Clone)]
pub(crate) struct IntegrationDef {
    /// Its id as written (a number or a string).
    pub id: String,
    /// The id value's byte range.
    pub range: Range<usize>,
    /// Its name.
    pub name: Option<String>,
    /// Its provider.
    pub provider: Option<String>,
}

/// A flow's `integration_id` value.
#[derive(Debug, Clone)]
pub(crate) struct IntegrationRef {
    /// The id as written, without quotes.
    pub id: String,
    /// The value's byte range.
    pub range: Range<usize>,
}

/// The index of one document.
#[derive(Debug, Clone)]
pub(crate) struct Index {
    /// What the document is.
    pub kind: Kind,
    /// Its nodes, in order.
    pub nodes: Vec<NodeDef>,
    /// Uses of node ids (gotos, Watson jumps, a test's expectations).
    pub refs: Vec<NodeRef>,
    /// The integrations of an integrations file.
    pub integrations: Vec<IntegrationDef>,
    /// The `integration_id` values of a flow.
    pub integration_refs: Vec<IntegrationRef>,
    /// Every string, in order.
    pub strings: Vec<Str>,
    /// Variables assigned somewhere (`context` keys, `result_variable`s).
    pub variables: BTreeSet<String>,
    /// A test file's `flow`.
    pub flow: Option<String>,
}

impl Index {
    /// Indexes `text`, or `None` when it cannot be read even tolerantly.
    pub(crate) fn build(text: &str) -> Option<Index> {
        if nesting(text) > MAX_DEPTH {
            return None;
        }
        let parsed =
            jsonc_parser::parse_to_ast(text, &CollectOptions::default(), &ParseOptions::default())
                .ok()?;
        let root = parsed.value?;
        let mut index = Index {
            kind: Kind::Other,
            nodes: Vec::new(),
            refs: Vec::new(),
            integrations: Vec::new(),
            integration_refs: Vec::new(),
            strings: Vec::new(),
            variables: BTreeSet::new(),
            flow: None,
        };
        let mut path = Vec::new();
        strings(&root, &mut path, &mut index.strings, 0);
        let Ast::Object(top) = &root else {
            return Some(index);
        };
        index.kind = if top.get("nodes").is_some() {
            Kind::Flow
        } else if top.get("dialog_nodes").is_some() {
            Kind::Watson
        } else if top.get("integrations").is_some() {
            Kind::Integrations
        } else if top.get("conversations").is_some() {
            Kind::Test
        } else {
            Kind::Other
        };
        match index.kind {
            Kind::Flow => flow(top, &mut index),
            Kind::Watson => watson(top, &mut index),
            Kind::Integrations => integrations(top, &mut index),
            Kind::Test => test(top, &mut index),
            Kind::Other => {}
        }
        Some(index)
    }

    /// The node whose id is `id`.
    pub(crate) fn node(&self, id: &str) -> Option<&NodeDef> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The node id (definition or use) at `offset`, with its range.
    pub(crate) fn node_id_at(&self, offset: usize) -> Option<(&str, Range<usize>)> {
        let inside = |r: &Range<usize>| r.start <= offset && offset <= r.end;
        self.nodes
            .iter()
            .find(|n| inside(&n.range))
            .map(|n| (n.id.as_str(), n.range.clone()))
            .or_else(|| {
                self.refs
                    .iter()
                    .find(|r| inside(&r.range))
                    .map(|r| (r.id.as_str(), r.range.clone()))
            })
    }

    /// The string (key or value) that holds `offset` strictly inside its quotes.
    pub(crate) fn string_at(&self, offset: usize) -> Option<&Str> {
        let i = self.strings.partition_point(|s| s.range.start < offset);
        let s = self.strings.get(i.checked_sub(1)?)?;
        (offset < s.range.end || (offset == s.range.end && !closed(s))).then_some(s)
    }
}

/// A string literal's range always ends with its closing quote in a tolerant parse.
fn closed(s: &Str) -> bool {
    s.range.end > s.range.start + 1
}

/// Deepest nesting of `[` and `{` outside strings.
fn nesting(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in text.as_bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn range(r: jsonc_parser::common::Range) -> Range<usize> {
    r.start..r.end
}

/// The range of a string literal without its quotes.
fn inner(r: jsonc_parser::common::Range) -> Range<usize> {
    (r.start + 1).min(r.end)..r.end.saturating_sub(1).max(r.start)
}

fn strings(v: &Ast<'_>, path: &mut Vec<Seg>, out: &mut Vec<Str>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Ast::StringLit(s) => out.push(Str {
            path: path.clone(),
            range: range(s.range),
            is_key: false,
        }),
        Ast::Object(o) => {
            for p in &o.properties {
                let name = prop_name(&p.name);
                path.push(Seg::Key(name.to_owned()));
                if let ObjectPropName::String(s) = &p.name {
                    out.push(Str {
                        path: path.clone(),
                        range: range(s.range),
                        is_key: true,
                    });
                }
                strings(&p.value, path, out, depth + 1);
                path.pop();
            }
        }
        Ast::Array(a) => {
            for (i, e) in a.elements.iter().enumerate() {
                path.push(Seg::Index(i));
                strings(e, path, out, depth + 1);
                path.pop();
            }
        }
        _ => {}
    }
}

fn prop_name<'a>(n: &'a ObjectPropName<'_>) -> &'a str {
    match n {
        ObjectPropName::String(s) => &s.value,
        ObjectPropName::Word(w) => w.value,
    }
}

fn string_of(v: Option<&Ast<'_>>) -> Option<String> {
    match v {
        Some(Ast::StringLit(s)) => Some(s.value.to_string()),
        _ => None,
    }
}

fn array<'a, 'b>(v: Option<&'b Ast<'a>>) -> &'b [Ast<'a>] {
    match v {
        Some(Ast::Array(a)) => &a.elements,
        _ => &[],
    }
}

fn object<'a, 'b>(v: Option<&'b Ast<'a>>) -> Option<&'b jsonc_parser::ast::Object<'a>> {
    match v {
        Some(Ast::Object(o)) => Some(o),
        _ => None,
    }
}

/// A node object's definition from its id key (`id` or `dialog_node`).
fn node_def(o: &jsonc_parser::ast::Object<'_>, id_key: &str, name_key: &str) -> Option<NodeDef> {
    let Some(Ast::StringLit(id)) = o.get(id_key).map(|p| &p.value) else {
        return None;
    };
    let comment = match o.get("comment").map(|p| &p.value) {
        Some(Ast::StringLit(c)) => Some((inner(c.range), c.value.to_string())),
        _ => None,
    };
    let condition_key = if id_key == "dialog_node" {
        "conditions"
    } else {
        "condition"
    };
    Some(NodeDef {
        id: id.value.to_string(),
        range: inner(id.range),
        object: range(o.range),
        name: string_of(o.get(name_key).map(|p| &p.value)),
        condition: string_of(o.get(condition_key).map(|p| &p.value)),
        comment,
        open: o.range.start + 1,
    })
}

fn push_ref(index: &mut Index, v: Option<&Ast<'_>>, from: Option<usize>) {
    if let Some(Ast::StringLit(s)) = v {
        index.refs.push(NodeRef {
            id: s.value.to_string(),
            range: inner(s.range),
            from,
        });
    }
}

fn context_keys(index: &mut Index, v: Option<&Ast<'_>>) {
    if let Some(o) = object(v) {
        for p in &o.properties {
            index.variables.insert(prop_name(&p.name).to_owned());
        }
    }
}

fn flow(top: &jsonc_parser::ast::Object<'_>, index: &mut Index) {
    for n in array(top.get("nodes").map(|p| &p.value)) {
        let Ast::Object(o) = n else { continue };
        let at = index.nodes.len();
        let from = match node_def(o, "id", "name") {
            Some(d) => {
                index.nodes.push(d);
                Some(at)
            }
            None => None,
        };
        for next in array(o.get("next").map(|p| &p.value)) {
            if let Ast::Object(next) = next {
                push_ref(index, next.get("goto").map(|p| &p.value), from);
            }
        }
        context_keys(index, o.get("context").map(|p| &p.value));
        for action in array(o.get("actions").map(|p| &p.value)) {
            let Ast::Object(action) = action else {
                continue;
            };
            if let Some(v) = string_of(action.get("result_variable").map(|p| &p.value)) {
                index.variables.insert(v);
            }
            let params = object(action.get("parameters").map(|p| &p.value));
            let id = params.and_then(|p| p.get(crate::domain::INTEGRATION_ID));
            match id.map(|p| &p.value) {
                Some(Ast::NumberLit(n)) => index.integration_refs.push(IntegrationRef {
                    id: n.value.to_owned(),
                    range: range(n.range),
                }),
                Some(Ast::StringLit(s)) => index.integration_refs.push(IntegrationRef {
                    id: s.value.to_string(),
                    range: range(s.range),
                }),
                _ => {}
            }
        }
    }
}

fn watson(top: &jsonc_parser::ast::Object<'_>, index: &mut Index) {
    for n in array(top.get("dialog_nodes").map(|p| &p.value)) {
        let Ast::Object(o) = n else { continue };
        let at = index.nodes.len();
        let from = match node_def(o, "dialog_node", "title") {
            Some(d) => {
                index.nodes.push(d);
                Some(at)
            }
            None => None,
        };
        push_ref(index, o.get("parent").map(|p| &p.value), from);
        push_ref(index, o.get("previous_sibling").map(|p| &p.value), from);
        if let Some(next) = object(o.get("next_step").map(|p| &p.value)) {
            push_ref(index, next.get("dialog_node").map(|p| &p.value), from);
        }
        context_keys(index, o.get("context").map(|p| &p.value));
    }
}

fn integrations(top: &jsonc_parser::ast::Object<'_>, index: &mut Index) {
    for i in array(top.get("integrations").map(|p| &p.value)) {
        let Ast::Object(o) = i else { continue };
        let (id, at) = match o.get("id").map(|p| &p.value) {
            Some(Ast::NumberLit(n)) => (n.value.to_owned(), range(n.range)),
            Some(Ast::StringLit(s)) => (s.value.to_string(), range(s.range)),
            _ => continue,
        };
        index.integrations.push(IntegrationDef {
            id,
            range: at,
            name: string_of(o.get("name").map(|p| &p.value)),
            provider: string_of(o.get("provider").map(|p| &p.value)),
        });
    }
}

fn test(top: &jsonc_parser::ast::Object<'_>, index: &mut Index) {
    index.flow = string_of(top.get("flow").map(|p| &p.value));
    for c in array(top.get("conversations").map(|p| &p.value)) {
        let Ast::Object(c) = c else { continue };
        for step in array(c.get("steps").map(|p| &p.value)) {
            let Some(expect) =
                object(Some(step)).and_then(|s| object(s.get("expect").map(|p| &p.value)))
            else {
                continue;
            };
            push_ref(index, expect.get("node").map(|p| &p.value), None);
            push_ref(index, expect.get("awaiting").map(|p| &p.value), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_with_a_trailing_comma_is_still_indexed() {
        let text = r#"{ "nodes": [
  { "id": "a", "name": "Início", "context": { "x": 1 }, "next": [ { "goto": "b" } ] },
  { "id": "b", "actions": [ { "name": "start_live_chat", "parameters": { "integration_id": 7 }, "result_variable": "r" } ], },
] }"#;
        let i = Index::build(text).expect("tolerant parse");
        assert_eq!(i.kind, Kind::Flow);
        let ids: Vec<&str> = i.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(i.refs.len(), 1);
        assert_eq!(text.get(i.refs[0].range.clone()), Some("b"));
        assert_eq!(i.refs[0].from, Some(0));
        assert_eq!(i.integration_refs[0].id, "7");
        assert_eq!(
            i.variables.iter().map(String::as_str).collect::<Vec<_>>(),
            ["r", "x"]
        );
        let at = text.find("\"goto\": \"b").unwrap_or_default() + 10;
        assert_eq!(i.node_id_at(at).map(|(id, _)| id), Some("b"));
    }

    #[test]
    fn unreadable_or_too_deep_text_has_no_index() {
        assert!(Index::build("{ \"nodes\": [ { \"id\": ").is_none());
        assert!(Index::build(&"[".repeat(100_000)).is_none());
    }
}
