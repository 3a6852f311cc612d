//! The flow graph as server-side SVG, with a simple layered layout: each node sits in the layer
//! of its shortest distance from the start node (breadth-first over the edges), nodes no edge
//! reaches in layers after the rest. Drawn in Rust so the page needs no layout library and the
//! picture is the same in every browser and in the tests.

use crate::compile::graph::reachable;
use crate::compile::{CompiledFlow, Entry};
use crate::conversation::{AnyDialog, Coverage, Dialog};
use crate::domain::BuiltinAction;
use serde_json::Value as Json;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;

/// What a node is, for its shape and colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Start,
    Handover,
    Input,
    Plain,
}

impl Kind {
    fn class(self) -> &'static str {
        match self {
            Kind::Start => "start",
            Kind::Handover => "handover",
            Kind::Input => "input",
            Kind::Plain => "plain",
        }
    }
}

/// A node to draw.
#[derive(Debug, Clone)]
pub(crate) struct GNode {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub unreachable: bool,
}

/// An edge to draw.
#[derive(Debug, Clone)]
pub(crate) struct GEdge {
    pub from: String,
    pub to: String,
    /// Routes a live chat's close status (`input.live_chat.status`).
    pub status: bool,
    /// A Watson `jump_to`.
    pub jump: bool,
}

/// A dialog's graph, before layout.
#[derive(Debug, Clone, Default)]
pub(crate) struct Model {
    pub nodes: Vec<GNode>,
    pub edges: Vec<GEdge>,
}

fn tests_status(e: &crate::expr::Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| {
        if x.path()
            .is_some_and(|p| p == ["input", "live_chat", "status"])
        {
            found = true;
        }
    });
    found
}

/// The graph of a flow: names from the file (`source`, the flow's JSON), kinds, close-status
/// edges, unreachable nodes.
fn flow_model(flow: &CompiledFlow, source: Option<&Json>) -> Model {
    let mut names: HashMap<&str, &str> = HashMap::new();
    if let Some(nodes) = source.and_then(|s| s.get("nodes")).and_then(Json::as_array) {
        for n in nodes {
            if let (Some(id), Some(name)) = (
                n.get("id").and_then(Json::as_str),
                n.get("name").and_then(Json::as_str),
            ) {
                names.entry(id).or_insert(name);
            }
        }
    }
    let seen = reachable(flow);
    let any_start = flow.start.is_some();
    let nodes =
        flow.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let kind =
                    if n.actions.iter().any(|a| {
                        BuiltinAction::parse(&a.name) == Some(BuiltinAction::StartLiveChat)
                    }) {
                        Kind::Handover
                    } else if matches!(n.entry, Entry::Start) {
                        Kind::Start
                    } else if n.input.is_some() {
                        Kind::Input
                    } else {
                        Kind::Plain
                    };
                GNode {
                    id: n.id.clone(),
                    name: names
                        .get(n.id.as_str())
                        .map_or(n.id.clone(), |s| (*s).to_owned()),
                    kind,
                    unreachable: any_start && !seen.get(i).copied().unwrap_or(true),
                }
            })
            .collect();
    let mut edges = Vec::new();
    for n in &flow.nodes {
        for x in n.next.iter().filter(|x| x.target.is_some()) {
            edges.push(GEdge {
                from: n.id.clone(),
                to: x.goto.clone(),
                status: x.condition.as_deref().is_some_and(tests_status),
                jump: false,
            });
        }
    }
    Model { nodes, edges }
}

/// The graph of any dialog: a flow's own, or (a Watson workspace) its nodes and jumps.
pub(crate) fn model(dialog: &AnyDialog, source: Option<&Json>) -> Model {
    match dialog {
        AnyDialog::Flow(b) => flow_model(b.flow(), source),
        other => {
            let t = other.coverage_targets();
            let mut titles: HashMap<&str, &str> = HashMap::new();
            let list = source.and_then(|s| {
                s.get("dialog_nodes")
                    .or_else(|| s.pointer("/workspace/dialog_nodes"))
                    .and_then(Json::as_array)
            });
            for n in list.into_iter().flatten() {
                if let (Some(id), Some(title)) = (
                    n.get("dialog_node").and_then(Json::as_str),
                    n.get("title").and_then(Json::as_str),
                ) {
                    titles.insert(id, title);
                }
            }
            let nodes = t
                .nodes
                .iter()
                .map(|id| GNode {
                    id: id.clone(),
                    name: titles
                        .get(id.as_str())
                        .map_or(id.clone(), |s| (*s).to_owned()),
                    kind: if t.handovers.iter().any(|(h, _)| h == id) {
                        Kind::Handover
                    } else {
                        Kind::Plain
                    },
                    unreachable: false,
                })
                .collect();
            let edges = t
                .edges
                .iter()
                .filter_map(|e| e.split_once(" -> "))
                .map(|(a, b)| GEdge {
                    from: a.to_owned(),
                    to: b.to_owned(),
                    status: false,
                    jump: t.edge_kind == "jump",
                })
                .collect();
            Model { nodes, edges }
        }
    }
}

/// Escapes text for XML.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const W: i64 = 170;
const H: i64 = 44;
const GAP_X: i64 = 30;
const GAP_Y: i64 = 60;
/// At most this many nodes side by side; a wider layer wraps onto more rows.
const MAX_ROW: usize = 12;

fn short(s: &str) -> String {
    if s.chars().count() > 22 {
        let t: String = s.chars().take(21).collect();
        format!("{t}…")
    } else {
        s.to_owned()
    }
}

/// Layered positions: node index → (x, y) of its top-left corner, and the picture's size.
fn layout(m: &Model) -> (Vec<(i64, i64)>, i64, i64) {
    let index: HashMap<&str, usize> = m
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); m.nodes.len()];
    for e in &m.edges {
        if let (Some(&a), Some(&b)) = (index.get(e.from.as_str()), index.get(e.to.as_str())) {
            out[a].push(b);
        }
    }
    let mut layer: Vec<Option<usize>> = vec![None; m.nodes.len()];
    let start = m
        .nodes
        .iter()
        .position(|n| n.kind == Kind::Start)
        .or(if m.nodes.is_empty() { None } else { Some(0) });
    let mut queue = VecDeque::new();
    if let Some(s) = start {
        layer[s] = Some(0);
        queue.push_back(s);
    }
    let mut deepest = 0;
    loop {
        while let Some(i) = queue.pop_front() {
            let d = layer[i].unwrap_or(0);
            deepest = deepest.max(d);
            for &j in &out[i] {
                if layer[j].is_none() {
                    layer[j] = Some(d + 1);
                    queue.push_back(j);
                }
            }
        }
        // Nodes no edge from the start reaches (entry conditions, other roots) start new
        // layers after the rest.
        match layer.iter().position(Option::is_none) {
            Some(i) => {
                layer[i] = Some(deepest + 1);
                queue.push_back(i);
            }
            None => break,
        }
    }
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut by_layer: Vec<Vec<usize>> = vec![Vec::new(); deepest + 2 + m.nodes.len().min(1)];
    for (i, l) in layer.iter().enumerate() {
        let l = l.unwrap_or(0);
        if by_layer.len() <= l {
            by_layer.resize(l + 1, Vec::new());
        }
        by_layer[l].push(i);
    }
    for l in by_layer.into_iter().filter(|l| !l.is_empty()) {
        for chunk in l.chunks(MAX_ROW) {
            rows.push(chunk.to_vec());
        }
    }
    let widest = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width = widest_px(widest);
    let mut pos = vec![(0, 0); m.nodes.len()];
    for (r, row) in rows.iter().enumerate() {
        let offset = (width - widest_px(row.len())) / 2;
        for (k, &i) in row.iter().enumerate() {
            pos[i] = (
                offset + GAP_X + count(k) * (W + GAP_X),
                GAP_Y / 2 + count(r) * (H + GAP_Y),
            );
        }
    }
    let height = GAP_Y / 2 + count(rows.len()) * (H + GAP_Y);
    (pos, width, height)
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX / 4)
}

fn widest_px(n: usize) -> i64 {
    GAP_X + count(n) * (W + GAP_X)
}

/// Draws the graph: `taken` marks the nodes and edges this conversation took, `current` the
/// node it is at; with `tests` (the coverage of the last test run), what they never reached is
/// marked `uncovered`.
pub(crate) fn svg(
    m: &Model,
    taken: &Coverage,
    current: Option<&str>,
    tests: Option<&Coverage>,
) -> String {
    let (pos, width, height) = layout(m);
    let index: HashMap<&str, usize> = m
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{width}" height="{height}" viewBox="0 0 {width} {height}">"#
    );
    s.push_str(r#"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead"/></marker></defs>"#);
    let mut drawn = BTreeSet::new();
    for e in &m.edges {
        let (Some(&a), Some(&b)) = (index.get(e.from.as_str()), index.get(e.to.as_str())) else {
            continue;
        };
        if !drawn.insert((a, b, e.status)) {
            continue;
        }
        let (ax, ay) = pos[a];
        let (bx, by) = pos[b];
        let (x1, y1) = (ax + W / 2, ay + H);
        let (x2, y2) = (bx + W / 2, by);
        let key = format!("{} -> {}", e.from, e.to);
        let mut class = String::from("edge");
        if e.status {
            class.push_str(" status");
        }
        if e.jump {
            class.push_str(" jump");
        }
        if taken.edges.contains(&key) {
            class.push_str(" taken");
        }
        if tests.is_some_and(|t| !t.edges.contains(&key)) {
            class.push_str(" uncovered");
        }
        let path = if by > ay {
            let mid = (y1 + y2) / 2;
            format!("M {x1} {y1} C {x1} {mid}, {x2} {mid}, {x2} {y2}")
        } else {
            // Back or sideways: around the right of both nodes.
            let (sx, sy) = (ax + W, ay + H / 2);
            let (tx, ty) = (bx + W, by + H / 2);
            let out = sx.max(tx) + GAP_X;
            format!("M {sx} {sy} C {out} {sy}, {out} {ty}, {tx} {ty}")
        };
        let _ = write!(
            s,
            r#"<path class="{class}" data-edge="{}" d="{path}" marker-end="url(#arrow)"><title>{}</title></path>"#,
            esc(&key),
            esc(&key)
        );
    }
    for (i, n) in m.nodes.iter().enumerate() {
        let (x, y) = pos[i];
        let mut class = format!("node {}", n.kind.class());
        if n.unreachable {
            class.push_str(" unreachable");
        }
        if taken.nodes.contains(&n.id) {
            class.push_str(" visited");
        }
        if tests.is_some_and(|t| !t.nodes.contains(&n.id)) {
            class.push_str(" uncovered");
        }
        let here = current == Some(n.id.as_str());
        if here {
            class.push_str(" current");
        }
        let mut hover = n.id.clone();
        if n.kind == Kind::Handover {
            hover.push_str(" (hand-over)");
        }
        if n.unreachable {
            hover.push_str(" (unreachable)");
        }
        let _ = write!(
            s,
            r#"<g class="{class}" data-node-id="{}" tabindex="0" role="button" aria-label="{}"{}><title>{}</title>"#,
            esc(&n.id),
            esc(&format!("{} ({})", n.name, n.id)),
            if here { r#" aria-current="step""# } else { "" },
            esc(&hover)
        );
        let _ = write!(
            s,
            r#"<rect x="{x}" y="{y}" width="{W}" height="{H}" rx="{}"/>"#,
            if n.kind == Kind::Handover { 2 } else { 10 }
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            x + W / 2,
            y + H / 2 + 5,
            esc(&short(&n.name))
        );
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, kind: Kind) -> GNode {
        GNode {
            id: id.into(),
            name: id.to_uppercase(),
            kind,
            unreachable: false,
        }
    }

    #[test]
    fn layers_follow_the_edges_and_the_current_node_is_marked() {
        let m = Model {
            nodes: vec![
                node("a", Kind::Start),
                node("b", Kind::Plain),
                node("c", Kind::Handover),
            ],
            edges: vec![
                GEdge {
                    from: "a".into(),
                    to: "b".into(),
                    status: false,
                    jump: false,
                },
                GEdge {
                    from: "b".into(),
                    to: "c".into(),
                    status: true,
                    jump: false,
                },
            ],
        };
        let (pos, _, _) = layout(&m);
        assert!(pos[0].1 < pos[1].1 && pos[1].1 < pos[2].1);
        let mut taken = Coverage::default();
        taken.nodes.insert("a".into());
        taken.edges.insert("a -> b".into());
        let s = svg(&m, &taken, Some("b"), Some(&taken));
        assert!(s.contains(
            r#"data-node-id="b" tabindex="0" role="button" aria-label="B (b)" aria-current="step""#
        ));
        assert!(s.contains(r#"class="edge taken" data-edge="a -&gt; b""#));
        assert!(s.contains(r#"class="edge status uncovered" data-edge="b -&gt; c""#));
        assert!(s.contains(r#"class="node handover uncovered""#));
        assert_eq!(s.matches("aria-current").count(), 1);
    }
}
