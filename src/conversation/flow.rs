//! Builder flows as a [`Dialog`]: coverage counts nodes, `next` edges, and the close statuses
//! each hand-over node can end with.

use super::{CoverageTargets, Dialog, Trace, View};
use crate::domain::{BuiltinAction, CloseStatus, Event, Output};
use crate::engine::{Bot, Session};
use crate::model::normalise_id;
use serde_json::{Map, Value as Json};
use std::borrow::Cow;
use std::collections::BTreeSet;

impl Dialog for Bot {
    type State = Session;

    fn new_state(&self, id: &str) -> Session {
        self.new_session(id)
    }

    fn handle(&self, state: &mut Session, event: Event, now: i64) -> Vec<Output> {
        Bot::handle(self, state, event, now)
    }

    fn next_deadline(&self, state: &Session) -> Option<i64> {
        Bot::next_deadline(self, state)
    }

    fn coverage_targets(&self) -> CoverageTargets {
        let f = self.flow();
        let nodes = f.nodes.iter().map(|n| n.id.clone()).collect();
        let mut edges = BTreeSet::new();
        for n in &f.nodes {
            for x in n.next.iter().filter(|x| x.target.is_some()) {
                edges.insert(format!("{} -> {}", n.id, x.goto));
            }
        }
        let mut handovers = Vec::new();
        for n in &f.nodes {
            for a in n
                .actions
                .iter()
                .filter(|a| BuiltinAction::parse(&a.name) == Some(BuiltinAction::StartLiveChat))
            {
                let business_hours = a
                    .param("integration_id")
                    .and_then(|v| v.literal())
                    .and_then(|id| normalise_id(&id))
                    .and_then(|id| self.integrations().find(&id).cloned())
                    .is_some_and(|i| i.business_hours.is_some());
                handovers.push((n.id.clone(), CloseStatus::possible(business_hours).to_vec()));
            }
        }
        CoverageTargets {
            nodes,
            edges: edges.into_iter().collect(),
            edge_kind: "next",
            handovers,
        }
    }

    fn trace(&self, trace: &mut Trace, outputs: &[Output]) {
        for o in outputs {
            see(self, trace, o);
        }
    }

    fn view<'a>(&self, s: &'a Session) -> View<'a> {
        View {
            focus: s.focus.as_deref(),
            context: Cow::Borrowed(&s.context),
            contact: Cow::Borrowed(&s.contact),
            live_chat: s.live_chat(),
            awaiting_action: s.awaiting_action(),
            understood: None,
        }
    }

    fn awaited_input(&self, state: &Session, now: i64) -> Option<Map<String, Json>> {
        Bot::awaited_input(self, state, now)
    }
}

/// Follows one output: nodes, `next` edges, and close statuses per hand-over node.
fn see(bot: &Bot, t: &mut Trace, o: &Output) {
    let flow = bot.flow();
    let node = |id: &str| flow.by_id.get(id).and_then(|&i| flow.nodes.get(i));
    match o {
        Output::NodeEntered { id } => {
            if let Some((h, status)) = t.pending.take() {
                // Which `next` entry of the waiting node led here: a status branch or not.
                let by_branch = t.last_node.as_deref().and_then(node).is_some_and(|n| {
                    n.next.iter().any(|x| {
                        &x.goto == id
                            && x.condition.as_ref().is_some_and(|c| {
                                let mut tests = false;
                                c.walk(&mut |e| {
                                    tests |= e
                                        .path()
                                        .is_some_and(|p| p == ["input", "live_chat", "status"])
                                });
                                tests
                            })
                    })
                });
                t.statuses.push((h, status, by_branch));
            }
            if let Some(prev) = &t.last_node {
                let is_edge = node(prev).is_some_and(|n| n.next.iter().any(|x| &x.goto == id));
                if is_edge {
                    t.edges.insert(format!("{prev} -> {id}"));
                }
            }
            t.node(id);
            let hands_over = node(id).is_some_and(|n| {
                n.actions
                    .iter()
                    .any(|a| BuiltinAction::parse(&a.name) == Some(BuiltinAction::StartLiveChat))
            });
            if hands_over {
                t.handover_node = Some(id.clone());
            }
            t.last_node = Some(id.clone());
        }
        Output::AwaitingInput { node, .. } => t.last_node = Some(node.clone()),
        Output::LiveChatClosed { status, .. } => {
            if let Some(h) = &t.handover_node {
                t.pending = Some((h.clone(), status.as_str().to_owned()));
            }
        }
        _ => {}
    }
}
