//! A Watson Assistant workspace, compiled for running: the dialog tree in Watson's order
//! (`parent` / `previous_sibling`), every condition parsed once, jump targets resolved.

use super::node::RawNode;
use super::templates::{compile_strings, Compiled};
use crate::error::{Error, ErrorKind};
use crate::expr::{Dialect, Expression, ParseCache};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::{Map, Value as Json};

/// What a dialog node is (`type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Standard,
    Frame,
    Slot,
    ResponseCondition,
    EventHandler,
    Folder,
}

/// `next_step.behavior` (or the legacy `go_to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behavior {
    GetUserInput,
    SkipUserInput,
    JumpTo,
    Reprompt,
    SkipSlot,
    SkipAllSlots,
}

/// `next_step.selector`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selector {
    Condition,
    Body,
    UserInput,
}

/// A node's `next_step`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Next {
    pub behavior: Behavior,
    pub selector: Selector,
    pub target: Option<usize>,
}

/// One dialog node.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub id: String,
    pub kind: Kind,
    pub event: Option<String>,
    pub parent: Option<usize>,
    /// `None`: no condition (always true for folders, slots and handlers); `Some(Err)`: a
    /// condition that does not parse (never true, logged).
    pub condition: Option<Result<Expression, String>>,
    /// The condition as written (`""` when there is none).
    pub condition_text: String,
    pub output: Option<Json>,
    pub context: Option<Map<String, Json>>,
    pub next: Option<Next>,
    /// A slot's variable, without its `$`.
    pub variable: Option<String>,
    pub digress_in: Option<String>,
    pub digress_out: Option<String>,
    pub digress_out_slots: Option<String>,
    pub actions: Vec<Json>,
    pub disabled: bool,
}

/// A workspace ready to run.
#[derive(Debug)]
pub struct Workspace {
    /// The workspace's name.
    pub name: String,
    /// Its language (`en`, `pt-br`, …).
    pub language: String,
    pub(crate) nodes: Vec<Node>,
    pub(crate) by_id: HashMap<String, usize>,
    /// Root-level nodes in sibling order.
    pub(crate) roots: Vec<usize>,
    /// Every node's children in sibling order.
    pub(crate) children: Vec<Vec<usize>>,
    /// Entities the workspace defines (and the system entities it enables).
    pub(crate) entities: HashSet<String>,
    /// The offline NLU, built from the workspace's intents and entities.
    pub(crate) nlu: super::nlu::Understanding,
    /// Every string of the nodes' outputs, contexts and actions, compiled once at load and
    /// looked up by its text when a turn renders it.
    pub(crate) templates: HashMap<String, Compiled>,
    /// The workspace object as read (unwrapped), for the v1 API's `GET /v1/workspaces/{id}`
    /// with `export=true` and the titles of `nodes_visited_details`.
    pub(crate) source: Json,
}

/// The workspace object of a file: top level, or inside the wrapped export `{"workspace": …}`.
pub fn unwrap(v: &Json) -> Option<&Json> {
    if v.get("dialog_nodes").is_some() {
        return Some(v);
    }
    v.get("workspace")
        .filter(|w| w.get("dialog_nodes").is_some())
}

impl Workspace {
    /// The workspace in file `path`: `None` when the file is not one (not readable, not JSON,
    /// or JSON of another kind), else the workspace or why it cannot run.
    pub fn load(path: &std::path::Path) -> Option<Result<Workspace, String>> {
        Workspace::of_file(path, &std::fs::read(path).ok()?)
    }

    /// [`Workspace::load`] of a file already read: `bytes` are the contents of `path`.
    pub fn of_file(path: &std::path::Path, bytes: &[u8]) -> Option<Result<Workspace, String>> {
        // Most files are not workspaces: no need to parse those that cannot be.
        memchr::memmem::find(bytes, b"\"dialog_nodes\"")?;
        let v: Json = serde_json::from_slice(bytes).ok()?;
        unwrap(&v)?;
        Some(Workspace::from_owned(v).map_err(|e| format!("{}: {e}", path.display())))
    }

    /// Reads a workspace file (plain or wrapped export).
    pub fn from_json(text: &str) -> Result<Workspace, Error> {
        let v: Json = serde_json::from_str(text)
            .map_err(|e| Error::new(ErrorKind::InvalidFlow, format!("not JSON: {e}")))?;
        Workspace::from_owned(v)
    }

    /// Compiles a workspace value (plain or wrapped export).
    pub fn from_value(v: &Json) -> Result<Workspace, Error> {
        let mut w = Workspace::compile(v)?;
        w.source = unwrap(v).cloned().unwrap_or_default();
        Ok(w)
    }

    /// Compiles a workspace value it takes: the same as [`Workspace::from_value`], keeping the
    /// value itself as the workspace's source instead of a copy of it (a workspace of half a
    /// megabyte is a tree of a few megabytes).
    pub fn from_owned(mut v: Json) -> Result<Workspace, Error> {
        let mut w = Workspace::compile(&v)?;
        w.source = if v.get("dialog_nodes").is_some() {
            v
        } else {
            v.get_mut("workspace").map(Json::take).unwrap_or_default()
        };
        Ok(w)
    }

    /// Everything but `source`, which the callers fill.
    fn compile(v: &Json) -> Result<Workspace, Error> {
        let ws = unwrap(v).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidFlow,
                "not a Watson workspace: expected an object with `dialog_nodes` (or `{\"workspace\": {…}}`)",
            )
        })?;
        let raw_nodes = ws
            .get("dialog_nodes")
            .and_then(Json::as_array)
            .ok_or_else(|| Error::new(ErrorKind::InvalidFlow, "`dialog_nodes` is not an array"))?;
        let raw: Vec<RawNode<'_>> = raw_nodes.iter().map(RawNode::of).collect();
        let mut by_id = HashMap::default();
        for (i, n) in raw.iter().enumerate() {
            if let Some(id) = n.id() {
                by_id.entry(id.to_owned()).or_insert(i);
            }
        }
        let owned = |s: Option<&str>| s.map(str::to_owned);
        let mut nodes = Vec::with_capacity(raw.len());
        for (i, n) in raw.iter().enumerate() {
            let id = owned(n.id()).unwrap_or_else(|| format!("#{i}"));
            let kind = match n.kind() {
                "frame" => Kind::Frame,
                "slot" => Kind::Slot,
                "response_condition" => Kind::ResponseCondition,
                "event_handler" => Kind::EventHandler,
                "folder" => Kind::Folder,
                _ => Kind::Standard,
            };
            let condition = n
                .conditions()
                .filter(|c| !c.trim().is_empty())
                .map(|c| Expression::parse(c, Dialect::Watson).map_err(|e| e.to_string()));
            nodes.push(Node {
                id,
                kind,
                event: owned(n.event_name()),
                parent: n.parent().and_then(|p| by_id.get(p).copied()),
                condition,
                condition_text: owned(n.conditions()).unwrap_or_default(),
                output: n.output().cloned(),
                context: n.context().cloned(),
                next: next_step(n, &by_id),
                variable: n.variable().map(|v| v.trim_start_matches('$').to_owned()),
                digress_in: owned(n.text("digress_in")),
                digress_out: owned(n.text("digress_out")),
                digress_out_slots: owned(n.text("digress_out_slots")),
                actions: n.actions().to_vec(),
                disabled: n.disabled(),
            });
        }
        let (roots, children) = order(&raw, &nodes, &by_id);
        let mut entities: HashSet<String> = ws
            .get("entities")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("entity").and_then(Json::as_str).map(str::to_owned))
            .collect();
        for sys in [
            "sys-number",
            "sys-date",
            "sys-time",
            "sys-currency",
            "sys-percentage",
            "sys-person",
            "sys-location",
        ] {
            entities.insert(sys.to_owned());
        }
        let mut templates = HashMap::default();
        let mut cache = ParseCache::new(Dialect::Watson);
        for n in &nodes {
            let values = n
                .output
                .iter()
                .chain(n.actions.iter())
                .chain(n.context.iter().flat_map(|c| c.values()));
            for v in values {
                compile_strings(v, &entities, &mut cache, &mut templates, 0);
            }
        }
        Ok(Workspace {
            name: owned(ws.get("name").and_then(Json::as_str)).unwrap_or_default(),
            language: owned(ws.get("language").and_then(Json::as_str))
                .unwrap_or_else(|| "en".into()),
            nodes,
            by_id,
            roots,
            children,
            entities,
            nlu: super::nlu::Understanding::from_workspace(ws),
            templates,
            source: Json::Null,
        })
    }

    /// The index of node `id`.
    pub(crate) fn find(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The nodes of `list` that can fire, in order: folders open in place (their condition
    /// gates their children when those are evaluated), disabled nodes and non-dialog children
    /// are left out.
    pub(crate) fn candidates(&self, list: &[usize], out: &mut Vec<usize>, depth: u8) {
        for &i in list {
            let Some(n) = self.nodes.get(i) else { continue };
            if n.disabled {
                continue;
            }
            match n.kind {
                Kind::Folder if depth < 32 => {
                    if let Some(c) = self.children.get(i) {
                        self.candidates(c, out, depth + 1);
                    }
                }
                Kind::Standard | Kind::Frame => out.push(i),
                _ => {}
            }
        }
    }

    /// The dialog children of node `i` (what waits for the next input).
    pub(crate) fn dialog_children(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        if let Some(c) = self.children.get(i) {
            self.candidates(c, &mut out, 0);
        }
        out
    }

    /// Node `i`'s children of `kind`, in sibling order.
    pub(crate) fn children_of(&self, i: usize, kind: Kind) -> Vec<usize> {
        self.children
            .get(i)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&c| {
                self.nodes
                    .get(c)
                    .is_some_and(|n| n.kind == kind && !n.disabled)
            })
            .collect()
    }

    /// The siblings after node `i`, in order (for `jump_to` with selector `condition`).
    pub(crate) fn siblings_from(&self, i: usize) -> Vec<usize> {
        let list = match self.nodes.get(i).and_then(|n| n.parent) {
            Some(p) => self.children.get(p).cloned().unwrap_or_default(),
            None => self.roots.clone(),
        };
        let from = list.iter().position(|&x| x == i).unwrap_or(0);
        let mut out = Vec::new();
        self.candidates(list.get(from..).unwrap_or_default(), &mut out, 0);
        out
    }
}

fn next_step(n: &RawNode<'_>, by_id: &HashMap<String, usize>) -> Option<Next> {
    // The legacy `go_to` (2016–2017 exports): a non-null one is a jump.
    let step = n.step()?;
    let behavior = match step.behavior() {
        Some("skip_user_input") => Behavior::SkipUserInput,
        Some("jump_to") => Behavior::JumpTo,
        Some("reprompt") => Behavior::Reprompt,
        Some("skip_slot") => Behavior::SkipSlot,
        Some("skip_all_slots") => Behavior::SkipAllSlots,
        Some("get_user_input") => Behavior::GetUserInput,
        _ if step.legacy() => Behavior::JumpTo,
        _ => Behavior::GetUserInput,
    };
    let selector = match step.selector() {
        "body" => Selector::Body,
        "user_input" => Selector::UserInput,
        _ => Selector::Condition,
    };
    let target = step.target_as_written().and_then(|t| by_id.get(t).copied());
    Some(Next {
        behavior,
        selector,
        target,
    })
}

/// The roots and every node's children in sibling order. A broken sibling list (a cycle, two
/// nodes naming the same previous sibling, an unknown one) keeps the file's order for what
/// the links cannot place, so every node still has one place.
fn order(
    raw: &[RawNode<'_>],
    nodes: &[Node],
    by_id: &HashMap<String, usize>,
) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut groups: HashMap<Option<usize>, Vec<usize>> = HashMap::default();
    for (i, n) in nodes.iter().enumerate() {
        groups.entry(n.parent).or_default().push(i);
    }
    let prev = |i: usize| -> Option<usize> {
        raw.get(i)
            .and_then(RawNode::previous_sibling)
            .and_then(|p| by_id.get(p).copied())
    };
    let sort = |members: &Vec<usize>| -> Vec<usize> {
        let set: HashSet<usize> = members.iter().copied().collect();
        let mut after: HashMap<usize, usize> = HashMap::default();
        let mut firsts = Vec::new();
        for &m in members {
            match prev(m).filter(|p| set.contains(p) && *p != m) {
                Some(p) => {
                    after.entry(p).or_insert(m);
                }
                None => firsts.push(m),
            }
        }
        let mut out = Vec::with_capacity(members.len());
        let mut placed = HashSet::default();
        for f in firsts {
            let mut cur = Some(f);
            while let Some(c) = cur {
                if !placed.insert(c) {
                    break;
                }
                out.push(c);
                cur = after.get(&c).copied();
            }
        }
        for &m in members {
            if placed.insert(m) {
                out.push(m);
            }
        }
        out
    };
    let mut children = vec![Vec::new(); nodes.len()];
    let mut roots = Vec::new();
    for (parent, members) in &groups {
        let sorted = sort(members);
        match parent {
            Some(p) => {
                if let Some(slot) = children.get_mut(*p) {
                    *slot = sorted;
                }
            }
            None => roots = sorted,
        }
    }
    (roots, children)
}

impl Workspace {
    /// The folders node `i` sits in, innermost first.
    pub(crate) fn folders_of(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut cur = self.nodes.get(i).and_then(|n| n.parent);
        while let Some(p) = cur {
            match self.nodes.get(p) {
                Some(n) if n.kind == Kind::Folder && out.len() < 32 => {
                    out.push(p);
                    cur = n.parent;
                }
                _ => break,
            }
        }
        out
    }
}
