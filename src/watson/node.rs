//! A dialog node as a workspace file writes it, read leniently: a field that is missing, `null`
//! or of another type reads as absent, and nothing is resolved (a `parent` is the id written,
//! not a node). The linter reads broken files through it and the runtime compiles from it, so
//! Watson's field names and the values each enumerated field takes are written here once.

use crate::source::json::field;
use serde_json::{Map, Value as Json};

/// `type`: what a node is.
pub(crate) const NODE_TYPES: &[&str] = &[
    "standard",
    "frame",
    "slot",
    "response_condition",
    "event_handler",
    "folder",
];

/// `event_name` of an event handler (with the SDK's three undocumented events, so that no real
/// export is refused).
pub(crate) const EVENT_NAMES: &[&str] = &[
    "focus",
    "input",
    "filled",
    "nomatch",
    "generic",
    "validate",
    "filled_multiple",
    "nomatch_responses_depleted",
];

/// `next_step.behavior`.
pub(crate) const BEHAVIORS: &[&str] = &[
    "get_user_input",
    "skip_user_input",
    "jump_to",
    "reprompt",
    "skip_slot",
    "skip_all_slots",
];

/// `next_step.selector` (with the SDK's undocumented `client`).
pub(crate) const SELECTORS: &[&str] = &["condition", "body", "user_input", "client"];

/// The legacy `go_to.selector`.
pub(crate) const GO_TO_SELECTORS: &[&str] = &["condition", "body", "user_input"];

/// The fields Watson's API takes from a list, each with its JSON Pointer under a node and the
/// values it accepts.
pub(crate) const ENUMERATED: &[(&str, &[&str])] = &[
    ("/type", NODE_TYPES),
    ("/event_name", EVENT_NAMES),
    ("/next_step/behavior", BEHAVIORS),
    ("/next_step/selector", SELECTORS),
    ("/go_to/selector", GO_TO_SELECTORS),
    (
        "/digress_in",
        &["not_available", "returns", "does_not_return"],
    ),
    (
        "/digress_out",
        &["allow_returning", "allow_all", "allow_all_never_return"],
    ),
    (
        "/digress_out_slots",
        &["not_allowed", "allow_returning", "allow_all"],
    ),
];

/// One entry of `dialog_nodes`, as written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawNode<'a> {
    object: Option<&'a Map<String, Json>>,
}

impl<'a> RawNode<'a> {
    /// The node `v` (an entry that is not an object has no field at all).
    pub(crate) fn of(v: &'a Json) -> RawNode<'a> {
        RawNode {
            object: v.as_object(),
        }
    }

    /// The node whose object is `object` (`None`: an entry that is not an object).
    pub(crate) fn from_object(object: Option<&'a Map<String, Json>>) -> RawNode<'a> {
        RawNode { object }
    }

    /// The node's object, when it is one.
    pub(crate) fn object(&self) -> Option<&'a Map<String, Json>> {
        self.object
    }

    /// A field of the node.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Json> {
        field(self.object?, key)
    }

    /// A string field of the node.
    pub(crate) fn text(&self, key: &str) -> Option<&'a str> {
        self.get(key).and_then(Json::as_str)
    }

    /// `dialog_node`: the id.
    pub(crate) fn id(&self) -> Option<&'a str> {
        self.text("dialog_node")
    }

    /// `type` as written, `standard` when absent.
    pub(crate) fn kind(&self) -> &'a str {
        self.text("type").unwrap_or("standard")
    }

    /// `parent`: the id written.
    pub(crate) fn parent(&self) -> Option<&'a str> {
        self.text("parent")
    }

    /// `previous_sibling`: the id written.
    pub(crate) fn previous_sibling(&self) -> Option<&'a str> {
        self.text("previous_sibling")
    }

    /// `conditions` as written.
    pub(crate) fn conditions(&self) -> Option<&'a str> {
        self.text("conditions")
    }

    /// `event_name` of an event handler.
    pub(crate) fn event_name(&self) -> Option<&'a str> {
        self.text("event_name")
    }

    /// `output`, when it is not `null`.
    pub(crate) fn output(&self) -> Option<&'a Json> {
        self.get("output").filter(|o| !o.is_null())
    }

    /// `context`, when it is an object.
    pub(crate) fn context(&self) -> Option<&'a Map<String, Json>> {
        self.get("context").and_then(Json::as_object)
    }

    /// `actions` (none when absent or not a list).
    pub(crate) fn actions(&self) -> &'a [Json] {
        self.get("actions")
            .and_then(Json::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// A slot's `variable` as written (with its `$`).
    pub(crate) fn variable(&self) -> Option<&'a str> {
        self.text("variable")
    }

    /// `disabled`, false when absent.
    pub(crate) fn disabled(&self) -> bool {
        self.get("disabled")
            .and_then(Json::as_bool)
            .unwrap_or(false)
    }

    /// `next_step`, or the legacy `go_to` (2016–2017 exports), when one is an object.
    pub(crate) fn step(&self) -> Option<Step<'a>> {
        let n = self.object?;
        if let Some(v) = n.get("next_step").and_then(Json::as_object) {
            return Some(Step {
                value: v,
                field: "next_step",
            });
        }
        n.get("go_to").and_then(Json::as_object).map(|v| Step {
            value: v,
            field: "go_to",
        })
    }
}

/// A node's `next_step`, or its legacy `go_to`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step<'a> {
    /// The object.
    pub value: &'a Map<String, Json>,
    /// `"next_step"` or `"go_to"`.
    pub field: &'static str,
}

impl<'a> Step<'a> {
    /// Whether this is the legacy `go_to`.
    pub fn legacy(&self) -> bool {
        self.field == "go_to"
    }

    /// `behavior` as written (`None` when absent or null).
    pub fn behavior(&self) -> Option<&'a str> {
        field(self.value, "behavior").and_then(Json::as_str)
    }

    /// Whether the step jumps: `behavior: jump_to`, or a legacy `go_to` without a behavior.
    pub fn jumps(&self) -> bool {
        match self.behavior() {
            Some(b) => b == "jump_to",
            None => self.legacy(),
        }
    }

    /// `selector` as written; `condition` when absent.
    pub fn selector(&self) -> &'a str {
        field(self.value, "selector")
            .and_then(Json::as_str)
            .unwrap_or("condition")
    }

    /// The jump target's id, when one is written.
    pub fn target(&self) -> Option<&'a str> {
        self.target_as_written().filter(|t| !t.is_empty())
    }

    /// `dialog_node` as written, the empty string included.
    pub fn target_as_written(&self) -> Option<&'a str> {
        field(self.value, "dialog_node").and_then(Json::as_str)
    }
}
