//! A Watson conversation driven by fluxo's events, for `fluxo run`, `chat` and `test`: each
//! `user` event is one `/message` turn whose context is the previous answer's, and the answer
//! comes back as fluxo's outputs (`node_entered`, `message`, `action_requested`,
//! `awaiting_input`).

use super::Workspace;
use crate::domain::{Event, Output, Speaker};
use crate::error::ErrorKind;
use serde_json::{json, Map, Value as Json};

/// A conversation with a workspace: its context is the whole state, as in Watson's v1 API.
#[derive(Debug, Clone, Default)]
pub struct WatsonSession {
    /// The context the next turn sends (`conversation_id`, `system`, variables).
    pub context: Json,
    /// The last `MessageResponse`.
    pub last: Option<Json>,
}

impl WatsonSession {
    /// A new conversation with id `id`.
    pub fn new(id: &str) -> WatsonSession {
        WatsonSession {
            context: json!({ "conversation_id": id }),
            last: None,
        }
    }

    /// Handles one event at `now` (milliseconds since the epoch).
    pub fn handle(&mut self, ws: &Workspace, event: Event, now: i64) -> Vec<Output> {
        let clock = jiff::Timestamp::from_millisecond(now)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into());
        let request = match event {
            Event::Start { context, .. } => {
                if let (Some(c), Some(own)) = (context, self.context.as_object_mut()) {
                    for (k, v) in c {
                        own.insert(k, v);
                    }
                }
                json!({ "input": { "text": "" }, "context": self.context })
            }
            Event::User {
                text,
                intent,
                entities,
                confidence,
            } => {
                let mut r = json!({ "input": { "text": text }, "context": self.context });
                if let Some(i) = intent {
                    r["intents"] =
                        json!([{ "intent": i, "confidence": confidence.unwrap_or(1.0) }]);
                    r["entities"] = json!(entities.unwrap_or_default());
                } else if let Some(e) = entities {
                    r["entities"] = json!(e);
                }
                r
            }
            Event::ActionResult { id, result } => {
                // The client ran the action: its result goes where the action said, and the
                // dialog goes on with an empty input, as Watson's clients do.
                let variable = self
                    .last
                    .as_ref()
                    .and_then(|l| l.get("actions"))
                    .and_then(Json::as_array)
                    .and_then(|a| {
                        a.iter()
                            .find(|x| x.get("name").and_then(Json::as_str) == Some(id.as_str()))
                            .or_else(|| a.first())
                    })
                    .and_then(|a| a.get("result_variable"))
                    .and_then(Json::as_str)
                    .map(|v| {
                        v.trim_start_matches('$')
                            .trim_start_matches("context.")
                            .to_owned()
                    });
                if let (Some(v), Some(c)) = (variable, self.context.as_object_mut()) {
                    c.insert(v, result);
                }
                json!({ "input": { "text": "" }, "context": self.context })
            }
            Event::Advance { .. } => return Vec::new(),
            Event::Set {
                contact: Some(_), ..
            } => {
                return vec![Output::error(
                    ErrorKind::UnexpectedEvent,
                    "`set`: a Watson workspace has context variables, no contact".to_owned(),
                    None,
                )]
            }
            Event::Set { context, .. } => {
                if let (Some(c), Some(own)) = (context, self.context.as_object_mut()) {
                    own.extend(c);
                }
                return Vec::new();
            }
            other => {
                let kind = serde_json::to_value(&other)
                    .ok()
                    .and_then(|v| v.get("type").and_then(Json::as_str).map(str::to_owned))
                    .unwrap_or_default();
                return vec![Output::error(
                    ErrorKind::UnexpectedEvent,
                    format!("`{kind}`: a Watson workspace takes `start`, `user`, `action_result` and `advance` events"),
                    None,
                )];
            }
        };
        let response = ws.message(&request, &clock);
        let outputs = outputs_of(&response);
        self.context = response
            .get("context")
            .cloned()
            .unwrap_or_else(|| json!({}));
        self.last = Some(response);
        outputs
    }
}

/// A `MessageResponse` as fluxo's outputs.
pub fn outputs_of(r: &Json) -> Vec<Output> {
    let mut out = Vec::new();
    let visited: Vec<String> = r
        .pointer("/output/nodes_visited")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    for id in &visited {
        out.push(Output::NodeEntered { id: id.clone() });
    }
    let node = visited.last().cloned();
    for g in r
        .pointer("/output/generic")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let text = g.get("text").and_then(Json::as_str);
        let plain = g.get("response_type").and_then(Json::as_str) == Some("text");
        out.push(Output::Message {
            from: Speaker::Bot,
            text: text.filter(|_| plain).map(str::to_owned),
            message: (!plain).then(|| g.clone()),
            node: node.clone(),
            agent: None,
        });
    }
    for log in r
        .pointer("/output/log_messages")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        out.push(Output::error(
            ErrorKind::ExpressionType,
            log.get("msg").and_then(Json::as_str).unwrap_or_default(),
            node.as_deref(),
        ));
    }
    for a in r
        .get("actions")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let name = a
            .get("name")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned();
        out.push(Output::ActionRequested {
            id: name.clone(),
            name,
            parameters: a
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| Json::Object(Map::new())),
        });
    }
    if let Some(at) = r
        .pointer("/context/system/dialog_stack")
        .and_then(Json::as_array)
        .and_then(|s| s.last())
        .and_then(|t| t.get("dialog_node"))
        .and_then(Json::as_str)
    {
        out.push(Output::AwaitingInput {
            node: at.to_owned(),
            input: None,
        });
    }
    out
}
