//! The built-in simulator: no network; the "request" records what was asked.

use super::Handoff;
use serde_json::{json, Value as Json};

/// The hand-over request.
pub fn open(h: &Handoff<'_>) -> Json {
    json!({ "simulator": true, "identifier": h.identifier, "parameters": h.parameters })
}
