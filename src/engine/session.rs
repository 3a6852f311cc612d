//! One conversation's state, and the checks that let a saved one resume.

use crate::domain::Provider;
use crate::error::{Error, ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// Version of the serialised [`Session`] format.
pub const STATE_VERSION: u32 = 1;

/// Phase of an open live chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Phase {
    /// Requested; the provider has not answered yet.
    Requested,
    /// Accepted by the provider, waiting for an agent.
    Queued,
    /// An agent is with the user.
    Active,
}

/// An open live chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveChat {
    /// Integration id.
    pub(crate) integration_id: String,
    /// Provider.
    pub(crate) provider: Provider,
    /// Phase.
    pub(crate) phase: Phase,
    /// Provider conversation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) remote_id: Option<String>,
    /// The provider accepted the request (the result variable is set).
    #[serde(default)]
    pub(crate) acknowledged: bool,
    /// Context variable for the action's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) result_variable: Option<String>,
    /// Agents in the chat (more than one in a conference).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) agents: Vec<String>,
    /// The agents among them that are bots (`representative_type: BOT`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) bots: Vec<String>,
    /// The agents' avatars, by name, when the provider gave them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub(crate) avatars: std::collections::BTreeMap<String, String>,
    /// When the wait for an agent times out (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) wait_deadline: Option<i64>,
    /// When the user's silence times out (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) inactivity_deadline: Option<i64>,
    /// When the chat was (re)queued (ms); queue messages count from here.
    pub(crate) queued_at: i64,
    /// Queue messages sent since then.
    #[serde(default)]
    pub(crate) queue_sent: u32,
    /// The wait notice was sent.
    #[serde(default)]
    pub(crate) notice_sent: bool,
}

/// A turn suspended on an action the host runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Suspended {
    /// Id the host answers with.
    pub(crate) id: String,
    /// Action name.
    pub(crate) name: String,
    /// Node id.
    pub(crate) node: String,
    /// Index of the action within the node.
    pub(crate) action: usize,
    /// Where the result goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) result_variable: Option<String>,
    /// The turn's `input`.
    pub(crate) input: Json,
    /// Nodes fired so far in the turn.
    pub(crate) fired: u32,
    /// The bot had left the scene (a hand-over earlier in the turn).
    #[serde(default)]
    pub(crate) muted: bool,
}

/// One conversation's state. Serialises to JSON (versioned) so a backend can store it between
/// webhooks and resume it in another process with [`super::Bot::restore`], which checks it
/// against the flow; outside the crate a session is only ever made by a [`super::Bot`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    /// Format version ([`STATE_VERSION`]).
    pub(crate) v: u32,
    /// Fingerprint of the flow the session runs.
    pub(crate) flow: String,
    /// The end user's stable id.
    pub(crate) id: String,
    /// A `start` was processed.
    #[serde(default)]
    pub(crate) started: bool,
    /// Channel key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) channel: Option<String>,
    /// `context` variables.
    #[serde(default = "empty_object")]
    pub(crate) context: Json,
    /// `contact` attributes.
    #[serde(default = "empty_object")]
    pub(crate) contact: Json,
    /// The node waiting for the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) focus: Option<String>,
    /// Invalid answers so far at the focus node.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) tries: u32,
    /// The open live chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) chat: Option<LiveChat>,
    /// A turn waiting for `action_result`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) suspended: Option<Suspended>,
    /// Messages since `start` (kept only when an integration sends history).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) history: Vec<Json>,
    /// Counter for action ids.
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub(crate) seq: u64,
    /// Last time seen (ms).
    #[serde(default)]
    pub(crate) clock: i64,
}

pub(crate) fn empty_object() -> Json {
    Json::Object(Map::new())
}
fn is_zero(n: &u32) -> bool {
    *n == 0
}
fn is_zero64(n: &u64) -> bool {
    *n == 0
}

/// The same fields, to read a saved session: deserialising is private to the crate, so a
/// session from outside always goes through [`super::Bot::restore`]'s checks.
#[derive(Deserialize)]
#[serde(remote = "Session")]
struct SessionDef {
    /// Format version ([`STATE_VERSION`]).
    v: u32,
    /// Fingerprint of the flow the session runs.
    flow: String,
    /// The end user's stable id.
    id: String,
    /// A `start` was processed.
    #[serde(default)]
    started: bool,
    /// Channel key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
    /// `context` variables.
    #[serde(default = "empty_object")]
    context: Json,
    /// `contact` attributes.
    #[serde(default = "empty_object")]
    contact: Json,
    /// The node waiting for the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    focus: Option<String>,
    /// Invalid answers so far at the focus node.
    #[serde(default, skip_serializing_if = "is_zero")]
    tries: u32,
    /// The open live chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chat: Option<LiveChat>,
    /// A turn waiting for `action_result`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suspended: Option<Suspended>,
    /// Messages since `start` (kept only when an integration sends history).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    history: Vec<Json>,
    /// Counter for action ids.
    #[serde(default, skip_serializing_if = "is_zero64")]
    seq: u64,
    /// Last time seen (ms).
    #[serde(default)]
    clock: i64,
}

impl Session {
    pub(crate) fn new(id: &str, flow: &str) -> Session {
        Session {
            v: STATE_VERSION,
            flow: flow.to_owned(),
            id: id.to_owned(),
            started: false,
            channel: None,
            context: empty_object(),
            contact: empty_object(),
            focus: None,
            tries: 0,
            chat: None,
            suspended: None,
            history: Vec::new(),
            seq: 0,
            clock: 0,
        }
    }

    /// Reads a saved session (no check against a flow).
    pub(crate) fn from_json(saved: &str) -> Result<Session, Error> {
        let mut de = serde_json::Deserializer::from_str(saved);
        let s = SessionDef::deserialize(&mut de)
            .and_then(|s| de.end().map(|()| s))
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidSession,
                    format!("the saved session is not valid: {e}"),
                )
            })?;
        if s.v != STATE_VERSION {
            return Err(Error::new(
                ErrorKind::SessionVersion,
                format!(
                    "the saved session has format version {}, this fluxo reads version {STATE_VERSION}",
                    s.v
                ),
            ));
        }
        Ok(s)
    }

    /// The end user's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The node waiting for the user, if any.
    pub fn focus(&self) -> Option<&str> {
        self.focus.as_deref()
    }

    /// The `context` variables.
    pub fn context(&self) -> &Json {
        &self.context
    }

    /// The `contact` attributes.
    pub fn contact(&self) -> &Json {
        &self.contact
    }

    /// The channel key of the conversation.
    pub fn channel(&self) -> Option<&str> {
        self.channel.as_deref()
    }

    /// The open live chat, if any.
    pub fn live_chat(&self) -> Option<&LiveChat> {
        self.chat.as_ref()
    }

    /// The fingerprint of the flow version the session runs on.
    pub fn flow_version(&self) -> &str {
        &self.flow
    }

    /// The action a suspended turn waits for, as `(id, name)`: the host answers with an
    /// `action_result` event carrying that id.
    pub fn awaiting_action(&self) -> Option<(&str, &str)> {
        self.suspended
            .as_ref()
            .map(|x| (x.id.as_str(), x.name.as_str()))
    }
}

impl LiveChat {
    /// The integration the chat runs on.
    pub fn integration_id(&self) -> &str {
        &self.integration_id
    }

    /// The provider.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// Where the chat stands.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The provider's id for the conversation, once it accepted the hand-over.
    pub fn remote_id(&self) -> Option<&str> {
        self.remote_id.as_deref()
    }

    /// The agents in the chat.
    pub fn agents(&self) -> &[String] {
        &self.agents
    }

    /// When the wait for an agent times out (ms since the Unix epoch).
    pub fn wait_deadline(&self) -> Option<i64> {
        self.wait_deadline
    }

    /// When the user's silence times out (ms since the Unix epoch).
    pub fn inactivity_deadline(&self) -> Option<i64> {
        self.inactivity_deadline
    }
}
