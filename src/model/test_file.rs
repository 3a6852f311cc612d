//! The conversation-test file format (`*.test.json`, `schemas/test.schema.json`): one format for
//! flow authors and for this project's own tests.

use crate::domain::{CloseStatus, Event};
use crate::text::closest;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

/// A test file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// Editor hint.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The flow, relative to the test file.
    pub flow: String,
    /// The integrations file, relative to the test file (default: `integrations.json` beside
    /// the flow, when there is one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrations: Option<String>,
    /// Start of the virtual clock (RFC 3339; default `2026-01-05T12:00:00Z`, a Monday).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    /// The golden transcript, relative to the test file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub golden: Option<String>,
    /// The conversations.
    pub conversations: Vec<Conversation>,
}

/// One conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conversation {
    /// What it shows (unique in the file).
    pub name: String,
    /// Channel, context and contact of the `start` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Start>,
    /// Results for host actions, by action name (`http_request`, custom actions): a plain
    /// result for every call, or mock entries keyed by request (`match`) with one `result` or
    /// a sequence of `results` (see `docs/testing.md`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub mocks: Map<String, Json>,
    /// Clock for this conversation (overrides the file's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    /// The steps.
    pub steps: Vec<Json>,
}

/// The `start` event's fields.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    /// Channel key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Initial context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Json>>,
    /// Initial contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Map<String, Json>>,
    /// The node the conversation starts at (default: the `start` node). Flows only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl Start {
    /// The event that starts the conversation: `start`, or `start_at` with [`Start::node`].
    pub fn event(&self) -> Event {
        let (channel, context, contact) = (
            self.channel.clone(),
            self.context.clone(),
            self.contact.clone(),
        );
        match &self.node {
            Some(node) => Event::StartAt {
                node: node.clone(),
                channel,
                context,
                contact,
            },
            None => Event::Start {
                channel,
                context,
                contact,
            },
        }
    }
}

/// What an `expect` step checks, against the outputs of the step before it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// A bot message with exactly this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<String>,
    /// A bot message containing this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_contains: Option<String>,
    /// No bot message contains this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_never: Option<String>,
    /// A bot message matching this regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_matches: Option<String>,
    /// The bot said nothing (`true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent: Option<bool>,
    /// An agent message with exactly this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// A message relayed to the agent with exactly this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relayed: Option<String>,
    /// A system notice containing this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_contains: Option<String>,
    /// This node fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The bot waits at this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<String>,
    /// The live chat closed with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<CloseStatus>,
    /// A hand-over was requested; each key is a dotted path into `handoff_requested`
    /// (`provider`, `parameters.skill_id`, `request.body.1.body.skillId`), each value what it must be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<Map<String, Json>>,
    /// Context variables after the step (a subset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Json>>,
    /// Contact attributes after the step (a subset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Map<String, Json>>,
    /// An `error` output with this code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TestFile {
    /// Reads a test file and checks every step (what the schema checks, and what `fluxo test`
    /// reads).
    pub fn from_value(v: &Json) -> Result<TestFile, String> {
        let f: TestFile = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        for (c, conv) in f.conversations.iter().enumerate() {
            super::mocks::check(&conv.mocks).map_err(|e| format!("conversation {}: {e}", c + 1))?;
            for (i, step) in conv.steps.iter().enumerate() {
                Step::parse(step)
                    .map_err(|e| format!("conversation {} step {}: {e}", c + 1, i + 1))?;
            }
        }
        Ok(f)
    }

    /// Every problem of a test file, each at its JSON Pointer, in the words `fluxo test` uses.
    pub(crate) fn check(v: &Json) -> Result<(), Vec<(String, String)>> {
        let mut problems = Vec::new();
        let conversations = v.get("conversations").and_then(Json::as_array);
        // Steps are checked one by one, so that one bad step is reported where it is and the
        // others are still read.
        for (c, conv) in conversations.into_iter().flatten().enumerate() {
            let steps = conv.get("steps").and_then(Json::as_array);
            for (i, step) in steps.into_iter().flatten().enumerate() {
                if let Err(e) = Step::parse(step) {
                    problems.push((format!("/conversations/{c}/steps/{i}"), e));
                }
            }
            if let Some(mocks) = conv.get("mocks").and_then(Json::as_object) {
                if let Err(e) = super::mocks::check(mocks) {
                    problems.push((format!("/conversations/{c}/mocks"), e));
                }
            }
        }
        // The rest of the file: the first thing serde cannot read, with the conversations'
        // steps taken out (they were read above).
        let mut rest = v.clone();
        if let Some(list) = rest.get_mut("conversations").and_then(Json::as_array_mut) {
            for conv in list.iter_mut().filter_map(Json::as_object_mut) {
                if conv.get("steps").is_some_and(Json::is_array) {
                    conv.insert("steps".into(), Json::Array(Vec::new()));
                }
            }
        }
        if let Err(e) = serde_json::from_value::<TestFile>(rest) {
            problems.insert(0, (String::new(), format!("not a conversation test: {e}")));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// A step, read from its JSON object.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Step {
    /// Feed an event.
    Event(Event),
    /// Check the outputs of the previous event.
    Expect(Box<Expect>),
}

/// The step kinds, for messages.
pub const STEP_KINDS: &[&str] = &[
    "user",
    "user_close",
    "agent_join",
    "agent",
    "agent_transfer",
    "agent_close",
    "provider_opened",
    "provider_closed",
    "provider_error",
    "action_result",
    "advance",
    "set",
    "expect",
];

impl Step {
    /// Reads a step: an object with one of [`STEP_KINDS`] (and, for `user`, optional `intent`,
    /// `entities`, `confidence`; for `provider_opened`, optional `result`; for `action_result`, `id`;
    /// `set` holds `context` and/or `contact` objects).
    pub fn parse(v: &Json) -> Result<Step, String> {
        let obj = v
            .as_object()
            .ok_or_else(|| format!("a step must be an object, found {v}"))?;
        let kind = STEP_KINDS
            .iter()
            .find(|k| obj.contains_key(**k))
            .ok_or_else(|| {
                let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
                let hint = keys
                    .first()
                    .and_then(|k| closest(k, STEP_KINDS))
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                format!(
                    "unknown step {{{}}}{hint}; a step is one of: {}",
                    keys.join(", "),
                    STEP_KINDS.join(", ")
                )
            })?;
        let allowed: &[&str] = match *kind {
            "user" => &["user", "intent", "entities", "confidence"],
            "provider_opened" => &["provider_opened", "result"],
            "provider_closed" => &["provider_closed", "reason"],
            "action_result" => &["action_result", "id"],
            k => std::slice::from_ref(STEP_KINDS.iter().find(|x| **x == k).unwrap_or(&"")),
        };
        if let Some(extra) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!("`{kind}` step: unknown field `{extra}`"));
        }
        let text = |k: &str| -> Result<String, String> {
            obj.get(k)
                .and_then(Json::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("`{k}` must be a string"))
        };
        // Optional fields: absent, or of the right type.
        let opt_text = |k: &str| -> Result<Option<String>, String> {
            match obj.get(k) {
                None | Some(Json::Null) if k == "agent_close" => Ok(None),
                None => Ok(None),
                Some(Json::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("`{k}` must be a string")),
            }
        };
        let event = match *kind {
            "expect" => {
                let e: Expect = serde_json::from_value(obj["expect"].clone())
                    .map_err(|e| format!("`expect`: {e}"))?;
                return Ok(Step::Expect(Box::new(e)));
            }
            "user" => Event::User {
                text: text("user")?,
                intent: opt_text("intent")?,
                entities: match obj.get("entities") {
                    None => None,
                    Some(Json::Array(a)) => Some(a.clone()),
                    Some(_) => return Err("`entities` must be an array".into()),
                },
                confidence: match obj.get("confidence") {
                    None => None,
                    Some(c) => Some(c.as_f64().ok_or("`confidence` must be a number")?),
                },
            },
            "user_close" => Event::UserClose { reason: None },
            "agent_join" => Event::AgentJoin {
                name: text("agent_join")?,
                avatar: None,
                representative_type: None,
            },
            "agent" => Event::AgentMessage {
                text: text("agent")?,
                content: None,
            },
            "agent_transfer" => Event::AgentTransfer {
                to: text("agent_transfer")?,
            },
            "agent_close" => Event::AgentClose {
                wrap_up: opt_text("agent_close")?,
            },
            "provider_opened" => Event::ProviderOpened {
                remote_id: text("provider_opened")?,
                result: obj.get("result").cloned(),
            },
            "provider_closed" => Event::ProviderClosed {
                status: serde_json::from_value(obj["provider_closed"].clone()).map_err(|_| {
                    format!(
                        "`provider_closed` is one of: {}",
                        crate::domain::CloseStatus::ALL
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?,
                reason: opt_text("reason")?,
            },
            "provider_error" => Event::ProviderError {
                message: text("provider_error")?,
            },
            "action_result" => Event::ActionResult {
                id: opt_text("id")?.unwrap_or_default(),
                result: obj["action_result"].clone(),
            },
            "set" => {
                let vars = obj["set"]
                    .as_object()
                    .filter(|m| !m.is_empty())
                    .ok_or("`set` holds `context` and/or `contact`, each an object of variables")?;
                if let Some(k) = vars.keys().find(|k| *k != "context" && *k != "contact") {
                    return Err(format!(
                        "`set` step: unknown field `{k}` (it sets `context` and `contact`)"
                    ));
                }
                let part = |k: &str| -> Result<Option<Map<String, Json>>, String> {
                    match vars.get(k) {
                        None => Ok(None),
                        Some(Json::Object(m)) => Ok(Some(m.clone())),
                        Some(_) => Err(format!("`set.{k}` must be an object of variables")),
                    }
                };
                Event::Set {
                    context: part("context")?,
                    contact: part("contact")?,
                }
            }
            _ => Event::Advance {
                seconds: parse_duration(&obj["advance"])?,
            },
        };
        Ok(Step::Event(event))
    }
}

/// Seconds in `300`, `"300s"`, `"5m"`, `"1h30m"`, `"2d"`.
pub fn parse_duration(v: &Json) -> Result<u64, String> {
    if let Some(n) = v.as_u64() {
        return Ok(n);
    }
    let s = v.as_str().ok_or_else(|| {
        format!("a duration is a number of seconds or a string like \"5m\", found {v}")
    })?;
    if s.trim().is_empty() {
        return Err("an empty duration".into());
    }
    let (mut total, mut num) = (0u64, String::new());
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a duration"))?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(format!("`{s}` is not a duration (units: s, m, h, d)")),
        };
        total = total.saturating_add(n.saturating_mul(unit));
    }
    if !num.is_empty() {
        total = total.saturating_add(
            num.parse::<u64>()
                .map_err(|_| format!("`{s}` is not a duration"))?,
        );
    }
    Ok(total)
}

/// Turns recorded events into a conversation test (what `fluxo chat`'s `/save` writes).
pub fn conversation_from_events(name: &str, start: Start, events: &[Event]) -> Conversation {
    let steps = events
        .iter()
        .filter_map(|e| {
            Some(match e {
                Event::User {
                    text,
                    intent,
                    entities,
                    confidence,
                } => {
                    let mut m = json!({ "user": text });
                    if let Some(i) = intent {
                        m["intent"] = json!(i);
                    }
                    if let Some(x) = entities {
                        m["entities"] = json!(x);
                    }
                    if let Some(c) = confidence {
                        m["confidence"] = json!(c);
                    }
                    m
                }
                Event::UserClose { .. } => json!({ "user_close": true }),
                Event::AgentJoin { name, .. } => json!({ "agent_join": name }),
                Event::AgentMessage { text, .. } => json!({ "agent": text }),
                Event::AgentTransfer { to } => json!({ "agent_transfer": to }),
                Event::AgentClose { wrap_up } => json!({ "agent_close": wrap_up }),
                Event::ProviderOpened { remote_id, result } => {
                    let mut m = json!({ "provider_opened": remote_id });
                    if let Some(r) = result {
                        m["result"] = r.clone();
                    }
                    m
                }
                Event::ProviderError { message } => json!({ "provider_error": message }),
                Event::ProviderClosed { status, reason } => {
                    let mut m = json!({ "provider_closed": status });
                    if let Some(r) = reason {
                        m["reason"] = json!(r);
                    }
                    m
                }
                Event::ActionResult { id, result } => json!({ "action_result": result, "id": id }),
                Event::Advance { seconds } => json!({ "advance": seconds }),
                Event::Set { context, contact } => {
                    let mut m = serde_json::Map::new();
                    if let Some(c) = context {
                        m.insert("context".into(), json!(c));
                    }
                    if let Some(c) = contact {
                        m.insert("contact".into(), json!(c));
                    }
                    json!({ "set": m })
                }
                // Typing changes nothing a test can assert on the bot's side.
                // The start is the conversation's `start`, not a step.
                Event::Start { .. }
                | Event::StartAt { .. }
                | Event::UserTyping { .. }
                | Event::AgentTyping { .. } => return None,
                // Not a step of the test format yet.
                Event::UserFile { .. } | Event::AgentFile { .. } => return None,
            })
        })
        .collect();
    Conversation {
        name: name.to_owned(),
        start: Some(start),
        mocks: Map::new(),
        clock: None,
        steps,
    }
}

/// The linter's findings for a test file: the same sentences `fluxo test` prints for it.
pub(crate) fn lint_test_value(value: &Json) -> Vec<crate::diagnostic::Diagnostic> {
    use crate::diagnostic::{Diagnostic, Location};
    match TestFile::check(value) {
        Ok(()) => Vec::new(),
        Err(problems) => problems
            .into_iter()
            .map(|(pointer, message)| {
                Diagnostic::new::<crate::schema::Schema>(Location::Value(pointer), message)
            })
            .collect(),
    }
}

#[cfg(test)]
mod schema_agrees {
    use super::{Step, STEP_KINDS};
    use serde_json::{json, Value as Json};

    /// The test schema and the runner know the same steps, and the same close statuses.
    #[test]
    fn one_list_of_steps() {
        let schema: Json = serde_json::from_str(crate::schema::TEST_SCHEMA).unwrap_or_default();
        let branches = schema
            .pointer("/$defs/step/oneOf")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        let mut in_schema: Vec<&str> = branches
            .iter()
            .filter_map(|b| b.pointer("/required/0").and_then(Json::as_str))
            .collect();
        let mut known = STEP_KINDS.to_vec();
        in_schema.sort_unstable();
        known.sort_unstable();
        assert_eq!(in_schema, known);
        let statuses: Vec<&str> = branches
            .iter()
            .find_map(|b| b.pointer("/properties/provider_closed/enum"))
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .collect();
        let all: Vec<&str> = crate::domain::CloseStatus::ALL
            .iter()
            .map(|s| s.as_str())
            .collect();
        assert_eq!(statuses, all);
        assert!(matches!(
            Step::parse(&json!({ "provider_closed": "timeout", "reason": "idle" })),
            Ok(Step::Event(_))
        ));
        let err = Step::parse(&json!({ "provider_closed": "closed" })).err();
        assert!(err.is_some_and(|e| e.contains("agent_closed")));
    }
}
