//! Watson workspaces as a [`Dialog`]: each `user` event is one `/message` turn; coverage counts
//! the nodes `nodes_visited` can name and the `jump_to` edges taken within a turn.

use super::{CoverageTargets, Dialog, Trace, View};
use crate::domain::{Event, Output};
use crate::watson::{WatsonSession, Workspace};
use serde_json::{Map, Value as Json};
use std::borrow::Cow;

impl Dialog for Workspace {
    type State = WatsonSession;

    fn new_state(&self, id: &str) -> WatsonSession {
        WatsonSession::new(id)
    }

    fn handle(&self, state: &mut WatsonSession, event: Event, now: i64) -> Vec<Output> {
        state.handle(self, event, now)
    }

    /// A workspace has no timers: the clock moves only what its date functions read.
    fn next_deadline(&self, _: &WatsonSession) -> Option<i64> {
        None
    }

    fn coverage_targets(&self) -> CoverageTargets {
        let (nodes, edges) = self.coverage_universe();
        CoverageTargets {
            nodes,
            edges,
            edge_kind: "jump",
            handovers: Vec::new(),
        }
    }

    fn trace(&self, trace: &mut Trace, outputs: &[Output]) {
        // A jump happens inside one turn: the first node a turn visits is not reached by a
        // jump from the node the previous turn ended at.
        let mut prev: Option<&str> = None;
        for o in outputs {
            if let Output::NodeEntered { id } = o {
                trace.node(id);
                if let Some(p) = prev.filter(|p| self.jumps_to(p, id)) {
                    trace.edge(p, id);
                }
                prev = Some(id);
            }
        }
    }

    fn view<'a>(&self, s: &'a WatsonSession) -> View<'a> {
        let mut context = s.context.clone();
        if let Some(c) = context.as_object_mut() {
            c.remove("system");
        }
        let focus = s
            .context
            .pointer("/system/dialog_stack")
            .and_then(Json::as_array)
            .and_then(|stack| stack.last())
            .and_then(|t| t.get("dialog_node"))
            .and_then(Json::as_str);
        // The client action the last answer asked for: its name is its id.
        let awaiting_action = s
            .last
            .as_ref()
            .and_then(|l| l.get("actions"))
            .and_then(Json::as_array)
            .and_then(|a| a.first())
            .and_then(|a| a.get("name"))
            .and_then(Json::as_str)
            .map(|name| (name, name));
        let understood = s.last.as_ref().map(|l| {
            serde_json::json!({
                "intents": l.get("intents").cloned().unwrap_or_else(|| Json::Array(Vec::new())),
                "entities": l.get("entities").cloned().unwrap_or_else(|| Json::Array(Vec::new())),
                "nodes_visited": l
                    .pointer("/output/nodes_visited")
                    .cloned()
                    .unwrap_or_else(|| Json::Array(Vec::new())),
            })
        });
        View {
            focus,
            context: Cow::Owned(context),
            contact: Cow::Owned(Json::Object(Map::new())),
            live_chat: None,
            awaiting_action,
            understood,
        }
    }

    /// A workspace's options come in its answers (`response_type: option`), not in an input
    /// description.
    fn awaited_input(&self, _: &WatsonSession, _: i64) -> Option<Map<String, Json>> {
        None
    }
}
