//! The files as typed data: flows (SPEC §2.1) and integrations (SPEC §2.2).
//!
//! The serde model and the JSON Schemas in `schemas/` describe the same shapes; a test checks
//! that they accept exactly the same documents.

mod convert;
mod flow;
mod integrations;
pub(crate) mod mocks;
pub(crate) mod test_file;

pub(crate) use flow::{objects_only, opt_inputs, Action, Input, Next, NODE_FIELDS};
pub use flow::{AnalyticsEvent, Flow, InputType, Node, OutputItem};
pub use integrations::{
    normalise_id, BusinessHours, Integration, IntegrationsFile, QueueMessage, WaitNotice,
    WebexMode, MAX_TIMEOUT_S,
};

use serde_json::Value as Json;

/// The kind of a file, recognised by its content (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// A flow (top-level `nodes`).
    Flow,
    /// A Watson Assistant workspace (top-level `dialog_nodes`, or the wrapped export
    /// `{"workspace": {"dialog_nodes": …}}`).
    Watson,
    /// An integrations file (top-level `integrations`).
    Integrations,
    /// A conversation test (top-level `conversations`).
    Test,
}

impl FileKind {
    /// Recognises a parsed document.
    pub fn of(v: &Json) -> Option<FileKind> {
        let o = v.as_object()?;
        if o.contains_key("nodes") {
            Some(FileKind::Flow)
        } else if o.contains_key("dialog_nodes")
            || o.get("workspace")
                .and_then(Json::as_object)
                .is_some_and(|w| w.contains_key("dialog_nodes"))
        {
            Some(FileKind::Watson)
        } else if o.contains_key("integrations") {
            Some(FileKind::Integrations)
        } else if o.contains_key("conversations") {
            Some(FileKind::Test)
        } else {
            None
        }
    }

    /// "a flow", "a Watson workspace", …
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Flow => "a flow",
            FileKind::Watson => "a Watson workspace",
            FileKind::Integrations => "an integrations file",
            FileKind::Test => "a conversation test",
        }
    }
}

#[cfg(test)]
mod tests;
