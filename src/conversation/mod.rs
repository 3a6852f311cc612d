//! One interface for everything fluxo converses with: builder flows ([`Bot`] with its
//! [`Session`]) and Watson workspaces ([`Workspace`] with its [`WatsonSession`]).
//!
//! A [`Dialog`] makes a new conversation state, handles one event at a time at a given time,
//! says when the next timer is due, and names what coverage counts. `fluxo run`, `fluxo chat`
//! (through [`crate::playground`]) and `fluxo test` (through [`crate::testing`]) are written
//! once on it. [`AnyDialog`] is the dialog a file holds, chosen when the file is loaded
//! ([`load`]), so a front end never asks which kind it has.
//!
//! ```
//! use fluxo::conversation::{AnyDialog, Dialog};
//! use fluxo::{Bot, Event};
//!
//! let bot = Bot::from_json(r#"{ "nodes": [ { "id": "oi", "condition": "start",
//!     "output": [ { "default": { "type": "text", "text": "Olá!" } } ] } ] }"#, None)?;
//! let dialog = AnyDialog::from(bot);
//! let mut state = dialog.new_state("user-42");
//! let start = Event::Start { channel: None, context: None, contact: None };
//! let outputs = dialog.handle(&mut state, start, 0);
//! assert!(!outputs.is_empty());
//! assert_eq!(dialog.next_deadline(&state), None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod flow;
mod watson;

use crate::domain::{CloseStatus, Event, Output};
use crate::engine::{Bot, LiveChat, Session};
use crate::error::{Error, ErrorKind};
use crate::watson::{WatsonSession, Workspace};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Something a conversation talks to: a builder flow or a Watson workspace.
///
/// The dialog itself is read-only and shared; everything a conversation changes lives in its
/// [`Dialog::State`]. Nothing here does I/O or reads a clock: time comes in with each event.
/// An embedder may implement it for a dialog of its own and use the playground and the test
/// runner on it; [`Trace::node`] and [`Trace::edge`] record what coverage counts.
pub trait Dialog {
    /// One conversation's state.
    type State: Clone + std::fmt::Debug;

    /// A new conversation with id `id` (what providers and Watson's `conversation_id` see).
    fn new_state(&self, id: &str) -> Self::State;

    /// Handles one event at `now` (milliseconds since the epoch).
    fn handle(&self, state: &mut Self::State, event: Event, now: i64) -> Vec<Output>;

    /// When the conversation's next timer fires (milliseconds since the epoch), if any.
    fn next_deadline(&self, state: &Self::State) -> Option<i64>;

    /// What coverage counts: every node, every edge, the close statuses of each hand-over.
    fn coverage_targets(&self) -> CoverageTargets;

    /// Records in `trace` what one call of [`Dialog::handle`] reached (its outputs, in order).
    fn trace(&self, trace: &mut Trace, outputs: &[Output]);

    /// What a test expectation or a front end reads of the state besides the outputs.
    fn view<'a>(&self, state: &'a Self::State) -> View<'a>;

    /// The payload of the input the conversation waits for (options, `mask`…), when the
    /// dialog describes one.
    fn awaited_input(&self, state: &Self::State, now: i64) -> Option<Map<String, Json>>;
}

/// What the state of a conversation shows, for expectations and front ends.
#[derive(Debug, Clone)]
pub struct View<'a> {
    /// The node the conversation waits at.
    pub focus: Option<&'a str>,
    /// The conversation's variables (for a workspace, its context without `system`).
    pub context: Cow<'a, Json>,
    /// The contact's attributes (an empty object when the dialog has none).
    pub contact: Cow<'a, Json>,
    /// The open live chat.
    pub live_chat: Option<&'a LiveChat>,
    /// The action the conversation waits for: its id (what an `action_result` names) and name.
    pub awaiting_action: Option<(&'a str, &'a str)>,
    /// What a workspace understood of the last message: its answer's `intents` and
    /// `entities` (with confidences) and `nodes_visited`. `None` for a flow.
    pub understood: Option<Json>,
}

impl View<'_> {
    /// A view of nothing: no focus, empty context and contact.
    pub fn empty() -> View<'static> {
        View {
            focus: None,
            context: Cow::Owned(Json::Object(Map::new())),
            contact: Cow::Owned(Json::Object(Map::new())),
            live_chat: None,
            awaiting_action: None,
            understood: None,
        }
    }
}

/// What coverage of a dialog is measured against.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CoverageTargets {
    /// Node ids that can be reached, in the dialog's order.
    pub nodes: Vec<String>,
    /// Edges, as `from -> to`, sorted.
    pub edges: Vec<String>,
    /// What an edge is: `next` (a flow's `next` branches) or `jump` (a Watson `jump_to`).
    pub edge_kind: &'static str,
    /// Hand-over nodes and the close statuses each can end with, in the dialog's order.
    pub handovers: Vec<(String, Vec<CloseStatus>)>,
}

/// What conversations exercised of a dialog.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coverage {
    /// Node ids that fired.
    pub nodes: BTreeSet<String>,
    /// Edges taken, as `from -> to`.
    pub edges: BTreeSet<String>,
    /// Hand-over node → close statuses reached and routed by a branch that tests
    /// `input.live_chat.status`.
    pub handovers: BTreeMap<String, BTreeSet<String>>,
    /// Hand-over node → close statuses reached but routed by a fallback (no status branch).
    pub unhandled: BTreeMap<String, BTreeSet<String>>,
}

impl Coverage {
    /// Adds another coverage of the same dialog.
    pub fn merge(&mut self, o: &Coverage) {
        self.nodes.extend(o.nodes.iter().cloned());
        self.edges.extend(o.edges.iter().cloned());
        for (k, v) in &o.handovers {
            self.handovers
                .entry(k.clone())
                .or_default()
                .extend(v.iter().cloned());
        }
        for (k, v) in &o.unhandled {
            self.unhandled
                .entry(k.clone())
                .or_default()
                .extend(v.iter().cloned());
        }
    }
}

/// What one conversation reached so far, fed by [`Dialog::trace`]; [`Trace::finish`] adds it
/// to a [`Coverage`].
#[derive(Debug, Clone, Default)]
pub struct Trace {
    nodes: BTreeSet<String>,
    edges: BTreeSet<String>,
    last_node: Option<String>,
    handover_node: Option<String>,
    /// A chat just closed: (hand-over node, status), until the next node fires.
    pending: Option<(String, String)>,
    /// (hand-over node, status, routed by a status branch).
    statuses: Vec<(String, String, bool)>,
}

impl Trace {
    /// Node `id` fired.
    pub fn node(&mut self, id: &str) {
        self.nodes.insert(id.to_owned());
    }

    /// The edge `from -> to` was taken.
    pub fn edge(&mut self, from: &str, to: &str) {
        self.edges.insert(format!("{from} -> {to}"));
    }

    /// Adds what the conversation reached to `cov`.
    pub fn finish(self, cov: &mut Coverage) {
        cov.nodes.extend(self.nodes);
        cov.edges.extend(self.edges);
        for (h, s, by_branch) in self.statuses {
            let into = if by_branch {
                &mut cov.handovers
            } else {
                &mut cov.unhandled
            };
            into.entry(h).or_default().insert(s);
        }
    }
}

/// The dialog a file holds: a builder flow or a Watson workspace.
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyDialog {
    /// A builder flow.
    Flow(Box<Bot>),
    /// A Watson Assistant workspace.
    Watson(Box<Workspace>),
}

impl From<Bot> for AnyDialog {
    fn from(b: Bot) -> AnyDialog {
        AnyDialog::Flow(Box::new(b))
    }
}

impl From<Workspace> for AnyDialog {
    fn from(w: Workspace) -> AnyDialog {
        AnyDialog::Watson(Box::new(w))
    }
}

/// The state of a conversation with an [`AnyDialog`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyState {
    /// With a builder flow.
    Flow(Box<Session>),
    /// With a Watson workspace.
    Watson(WatsonSession),
}

/// Loads the dialog in file `path`: a Watson workspace (plain or wrapped export) when the file
/// is one, else a builder flow with its integrations (by default `integrations.json` beside
/// the flow). A flow that cannot run is refused with every blocking finding, one per line,
/// with its position, in the error's detail.
pub fn load(path: &Path, integrations: Option<&Path>) -> Result<AnyDialog, Error> {
    // A flow the typed read accepts is read a window at a time (a workspace never is: the
    // flow's read refuses its fields). Anything else is read once, whole: the same bytes are
    // looked at as a workspace, then as a flow.
    if let Some(compiled) = crate::compile::load::load_flow_streamed(path)? {
        return Bot::with_integrations_of(compiled, path, integrations)
            .map_err(with_findings)
            .map(AnyDialog::from);
    }
    let bytes = crate::engine::read_file(path)?;
    match Workspace::of_file(path, &bytes) {
        Some(Ok(ws)) => Ok(AnyDialog::from(ws)),
        Some(Err(e)) => Err(Error::new(ErrorKind::InvalidFlow, e)),
        None => Bot::from_file_bytes(path, &bytes, integrations)
            .map_err(with_findings)
            .map(AnyDialog::from),
    }
}

/// Loads a flow and its integrations (default: `integrations.json` beside the flow). A flow
/// that cannot run is refused with every blocking finding, one per line, in the detail.
pub fn load_flow(flow: &Path, integrations: Option<&Path>) -> Result<Bot, Error> {
    Bot::from_files(flow, integrations).map_err(with_findings)
}

/// The error with its findings, one per line, in its detail.
fn with_findings(e: Error) -> Error {
    let mut msg = e.detail().to_owned();
    for f in e.findings() {
        msg.push_str(&format!(
            "\n  {}:{}:{}: {} [{}]",
            f.file, f.line, f.column, f.message, f.code
        ));
    }
    let findings = e.findings().to_vec();
    Error::new(e.kind(), msg).with_findings(findings)
}

/// The error output a state of the other kind gets (a flow's state given to a workspace).
fn mismatch() -> Vec<Output> {
    vec![Output::error(
        ErrorKind::InvalidSession,
        "this conversation state belongs to another kind of dialog (a flow's state given to a workspace, or the reverse)",
        None,
    )]
}

impl Dialog for AnyDialog {
    type State = AnyState;

    fn new_state(&self, id: &str) -> AnyState {
        match self {
            AnyDialog::Flow(b) => AnyState::Flow(Box::new(b.new_state(id))),
            AnyDialog::Watson(w) => AnyState::Watson(w.new_state(id)),
        }
    }

    fn handle(&self, state: &mut AnyState, event: Event, now: i64) -> Vec<Output> {
        match (self, state) {
            (AnyDialog::Flow(b), AnyState::Flow(s)) => b.handle(s, event, now),
            (AnyDialog::Watson(w), AnyState::Watson(s)) => Dialog::handle(&**w, s, event, now),
            _ => mismatch(),
        }
    }

    fn next_deadline(&self, state: &AnyState) -> Option<i64> {
        match (self, state) {
            (AnyDialog::Flow(b), AnyState::Flow(s)) => b.next_deadline(s),
            (AnyDialog::Watson(w), AnyState::Watson(s)) => w.next_deadline(s),
            _ => None,
        }
    }

    fn coverage_targets(&self) -> CoverageTargets {
        match self {
            AnyDialog::Flow(b) => b.coverage_targets(),
            AnyDialog::Watson(w) => w.coverage_targets(),
        }
    }

    fn trace(&self, trace: &mut Trace, outputs: &[Output]) {
        match self {
            AnyDialog::Flow(b) => b.trace(trace, outputs),
            AnyDialog::Watson(w) => w.trace(trace, outputs),
        }
    }

    fn view<'a>(&self, state: &'a AnyState) -> View<'a> {
        match (self, state) {
            (AnyDialog::Flow(b), AnyState::Flow(s)) => b.view(s),
            (AnyDialog::Watson(w), AnyState::Watson(s)) => w.view(s),
            _ => View::empty(),
        }
    }

    fn awaited_input(&self, state: &AnyState, now: i64) -> Option<Map<String, Json>> {
        match (self, state) {
            (AnyDialog::Flow(b), AnyState::Flow(s)) => Dialog::awaited_input(&**b, s, now),
            (AnyDialog::Watson(w), AnyState::Watson(s)) => w.awaited_input(s, now),
            _ => None,
        }
    }
}
