//! Watson Assistant dialog skills, run offline with Watson's own semantics (SPEC §7).
//!
//! A turn is one Watson v1 `/message` call: a `MessageRequest` (`input`, `context`, optional
//! `intents` and `entities`) in, a `MessageResponse` out. Like Watson's API it is stateless:
//! the dialog's position travels in `context.system` (`dialog_stack`, `dialog_turn_counter`,
//! `_node_output_map`, …), so a conversation can be replayed from logs, or move between
//! Watson and fluxo.
//!
//! ```
//! use fluxo::watson::Workspace;
//! use serde_json::json;
//!
//! let ws = Workspace::from_value(&json!({ "dialog_nodes": [
//!     { "dialog_node": "hi", "conditions": "welcome", "output": { "text": "Hello!" } },
//!     { "dialog_node": "else", "conditions": "anything_else", "previous_sibling": "hi",
//!       "output": { "text": "Sorry?" } } ] })).unwrap();
//! let first = ws.message(&json!({ "input": { "text": "" } }), "2026-01-05T12:00:00Z");
//! assert_eq!(first["output"]["text"], json!(["Hello!"]));
//! let next = ws.message(&json!({ "input": { "text": "hm" }, "context": first["context"] }),
//!     "2026-01-05T12:00:05Z");
//! assert_eq!(next["output"]["nodes_visited"], json!(["else"]));
//! ```
//!
//! What Watson does not document and fluxo had to decide is written in `docs/watson.md`.

pub mod nlu;
pub(crate) mod node;
mod session;
mod templates;
mod turn;
pub mod v1;
mod workspace;

pub use session::{outputs_of, WatsonSession};
pub use workspace::{unwrap, Workspace};

use serde_json::Value as Json;

/// The most nodes one turn may process (Watson documents no limit; a jump loop that never
/// waits for input must end somewhere).
pub const MAX_NODES_PER_TURN: usize = 100;

impl Workspace {
    /// One Watson v1 `/message` turn. `request` is a `MessageRequest` (`input.text`, `context`,
    /// optional `intents`, `entities`, `alternate_intents`); `now` (RFC 3339) is the clock the
    /// date functions read. Never fails: what goes wrong is in `output.log_messages`, as in
    /// Watson.
    pub fn message(&self, request: &Json, now: &str) -> Json {
        turn::Turn::run(self, request, now)
    }
}

/// The offline NLU's intents and entities for `text` (Watson v1 shapes). Like Watson, an
/// empty message has none.
fn understand(ws: &Workspace, text: &str, now: &str) -> (Json, Json) {
    if text.trim().is_empty() {
        return (Json::Array(Vec::new()), Json::Array(Vec::new()));
    }
    ws.nlu.understand(text, now)
}

impl Workspace {
    /// The dialog tree as a picture: parent → child edges in sibling order, `jump_to` edges
    /// dashed and labelled with their selector, slots and conditional responses under their
    /// node. `dot` chooses Graphviz DOT over Mermaid.
    pub fn draw(&self, dot: bool) -> String {
        use std::fmt::Write as _;
        use workspace::{Kind, Selector};
        let label = |i: usize| -> String {
            let n = &self.nodes[i];
            let cond = if n.condition_text.is_empty() {
                String::new()
            } else {
                format!("\n{}", n.condition_text)
            };
            let kind = match n.kind {
                Kind::Frame => " (slots)",
                Kind::Slot => " (slot)",
                Kind::ResponseCondition => " (response)",
                Kind::EventHandler => " (handler)",
                Kind::Folder => " (folder)",
                Kind::Standard => "",
            };
            format!("{}{kind}{cond}", n.id)
                .replace('"', "'")
                .chars()
                .take(120)
                .collect()
        };
        let mut out = String::new();
        if dot {
            out.push_str("digraph workspace {\n  node [shape=box];\n");
        } else {
            out.push_str("flowchart TD\n");
        }
        for i in 0..self.nodes.len() {
            let l = label(i);
            if dot {
                let _ = writeln!(out, "  n{i} [label=\"{}\"];", l.replace('\n', "\\n"));
            } else {
                let _ = writeln!(out, "  n{i}[\"{}\"]", l.replace('\n', "<br/>"));
            }
        }
        for (p, kids) in self.children.iter().enumerate() {
            for &c in kids {
                if dot {
                    let _ = writeln!(out, "  n{p} -> n{c};");
                } else {
                    let _ = writeln!(out, "  n{p} --> n{c}");
                }
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let Some(next) = n.next else { continue };
            let Some(t) = next.target else { continue };
            let sel = match next.selector {
                Selector::Condition => "condition",
                Selector::Body => "body",
                Selector::UserInput => "user_input",
            };
            if dot {
                let _ = writeln!(
                    out,
                    "  n{i} -> n{t} [style=dashed, label=\"jump ({sel})\"];"
                );
            } else {
                let _ = writeln!(out, "  n{i} -. \"jump ({sel})\" .-> n{t}");
            }
        }
        if dot {
            out.push_str("}\n");
        }
        out
    }
}

impl Workspace {
    /// Whether node `from` jumps to node `to` (`next_step` / `go_to`, or one of its
    /// conditional responses'), for coverage.
    pub fn jumps_to(&self, from: &str, to: &str) -> bool {
        let (Some(f), Some(t)) = (self.find(from), self.find(to)) else {
            return false;
        };
        let direct = |i: usize| {
            self.nodes
                .get(i)
                .and_then(|n| n.next)
                .is_some_and(|n| n.target == Some(t))
        };
        direct(f)
            || self
                .children_of(f, workspace::Kind::ResponseCondition)
                .into_iter()
                .any(direct)
    }

    /// Every `jump_to` edge, as `from -> to`, and the nodes coverage counts (those
    /// `nodes_visited` can name: not folders, conditional responses or handlers).
    pub fn coverage_universe(&self) -> (Vec<String>, Vec<String>) {
        use workspace::Kind;
        let mut nodes = Vec::new();
        let mut edges = Vec::new();
        for n in &self.nodes {
            if matches!(n.kind, Kind::Standard | Kind::Frame | Kind::Slot) && !n.disabled {
                nodes.push(n.id.clone());
            }
            if let Some(t) = n
                .next
                .and_then(|x| x.target)
                .and_then(|t| self.nodes.get(t))
            {
                // A conditional response's jump leaves from its node.
                let from = match n.kind {
                    Kind::ResponseCondition => n
                        .parent
                        .and_then(|p| self.nodes.get(p))
                        .map_or(n.id.clone(), |p| p.id.clone()),
                    _ => n.id.clone(),
                };
                edges.push(format!("{from} -> {}", t.id));
            }
        }
        edges.sort();
        edges.dedup();
        (nodes, edges)
    }
}
