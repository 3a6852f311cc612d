//! What goes into a conversation ([`Event`]) and what comes out ([`Output`]) — SPEC §4.1.

use super::http::HttpRequest;
use super::CloseStatus;
use crate::error::{Error, ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// An event fed to a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "drivers", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Event {
    /// A new conversation (the builder's `new_dialog`).
    Start {
        /// Channel key (`Whatsapp`, `Widget`, …) that selects channel-specific messages.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        /// Initial context variables.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<Map<String, Json>>,
        /// Initial contact attributes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact: Option<Map<String, Json>>,
    },
    /// A new conversation that starts at node `node` instead of the `start` node (the studio's
    /// "start here", a test's `start.node`): for trying one branch of a flow without walking
    /// to it. Not accepted from a channel.
    StartAt {
        /// The node to start at.
        node: String,
        /// Channel key, as for `start`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        /// Initial context variables.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<Map<String, Json>>,
        /// Initial contact attributes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact: Option<Map<String, Json>>,
    },
    /// A user message, with an optional NLU result.
    User {
        /// The text typed.
        text: String,
        /// Top intent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        intent: Option<String>,
        /// Entities: `[{ "entity": "cidade", "value": "São Paulo" }]`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entities: Option<Vec<Json>>,
        /// Confidence of the top intent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confidence: Option<f64>,
    },
    /// The user ended the live chat (the widget's "end chat").
    UserClose {
        /// The provider's raw close reason, when the end came through a provider.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// An agent accepted the chat (a second join while active is a conference).
    AgentJoin {
        /// Agent's display name.
        name: String,
        /// Avatar URL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        avatar: Option<String>,
        /// `BOT` when the provider says the representative is a bot; a person otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        representative_type: Option<RepresentativeType>,
    },
    /// An agent wrote to the user.
    AgentMessage {
        /// The text (a fallback text, or empty, for structured content).
        text: String,
        /// Structured content the provider sent (LivePerson's rich content), passed to the
        /// channel as is in the output's `message`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Json>,
    },
    /// The agent moved the chat to another queue or agent.
    AgentTransfer {
        /// Where to.
        to: String,
    },
    /// The agent ended the chat.
    AgentClose {
        /// Wrap-up reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wrap_up: Option<String>,
    },
    /// The provider accepted the hand-over request.
    ProviderOpened {
        /// The provider's id for the conversation.
        remote_id: String,
        /// The provider's answer, when the host has it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<Json>,
    },
    /// The provider ended the chat with a status it decided (an extension for drivers:
    /// LivePerson's `SYSTEM` auto-close, a Webex system termination).
    ProviderClosed {
        /// The status.
        status: CloseStatus,
        /// The provider's raw close reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The provider failed (open refused, HTTP error, …).
    ProviderError {
        /// What happened.
        message: String,
    },
    /// The result of an action the engine asked the host to run.
    ActionResult {
        /// The id from `action_requested`.
        id: String,
        /// The result.
        result: Json,
    },
    /// Moves the virtual clock (tests and `fluxo run`).
    Advance {
        /// Seconds.
        seconds: u64,
    },
    /// Sets variables by hand, between two turns (the studio's Variables panel, a test's `set`
    /// step): each key of `context` and `contact` replaces the variable of that name. The bot
    /// says nothing; the next turn sees the new values.
    Set {
        /// Context variables to set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<Map<String, Json>>,
        /// Contact attributes to set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact: Option<Map<String, Json>>,
    },
    /// The user started (`true`) or stopped typing: relayed to the agent during a live chat,
    /// ignored otherwise.
    UserTyping {
        /// Typing or not.
        typing: bool,
    },
    /// The agent started or stopped typing: shown to the user.
    AgentTyping {
        /// Typing or not.
        typing: bool,
    },
    /// The user shared a file or image: relayed to the agent during a live chat; otherwise the
    /// bot receives it as a message whose text is the URL.
    UserFile {
        /// Where the file is.
        url: String,
        /// Its name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Its media type.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
    },
    /// The agent shared a file or image: shown to the user.
    AgentFile {
        /// Where the file is.
        url: String,
        /// Its name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Its media type.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
    },
}

impl Event {
    /// Whether a channel (the user's side) may send this event: `start`, `user`,
    /// `user_close`, `user_typing`, `user_file` and `action_result`. The others speak for the
    /// provider or the clock and reach a served conversation only through a verified webhook,
    /// a driver's answer or the timer.
    pub fn is_channel(&self) -> bool {
        match self {
            Event::Start { .. }
            | Event::User { .. }
            | Event::UserClose { .. }
            | Event::UserTyping { .. }
            | Event::UserFile { .. }
            | Event::ActionResult { .. } => true,
            Event::AgentJoin { .. }
            | Event::AgentMessage { .. }
            | Event::AgentTransfer { .. }
            | Event::AgentClose { .. }
            | Event::ProviderOpened { .. }
            | Event::ProviderClosed { .. }
            | Event::ProviderError { .. }
            | Event::Advance { .. }
            | Event::Set { .. }
            | Event::StartAt { .. }
            | Event::AgentTyping { .. }
            | Event::AgentFile { .. } => false,
        }
    }

    /// The virtual clock after this event: `now` moved by `seconds` for an `advance`
    /// (saturating: an absurd advance reaches the end of time, never wraps into the past),
    /// `now` for any other event.
    pub fn clock_after(&self, now: i64) -> i64 {
        match self {
            Event::Advance { seconds } => now.saturating_add(
                i64::try_from(*seconds)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1000),
            ),
            _ => now,
        }
    }
}

/// Who speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "drivers", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Speaker {
    /// The bot.
    Bot,
    /// A human agent.
    Agent,
    /// The platform (queue notices: neither the bot nor an agent).
    System,
}

/// `HUMAN` or `BOT`, as providers say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "drivers", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum RepresentativeType {
    /// A person.
    Human,
    /// A bot.
    Bot,
}

/// Something the engine says or asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "drivers", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Output {
    /// A message to the user.
    Message {
        /// Who speaks.
        from: Speaker,
        /// The text, for text messages.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// The whole rendered message, for other types (file, options, …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<Json>,
        /// The node that sent it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        /// The agent who sent it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
    /// A node fired.
    NodeEntered {
        /// Node id.
        id: String,
    },
    /// The bot waits for the user at this node.
    AwaitingInput {
        /// Node id.
        node: String,
        /// What a channel needs to draw the input (absent when the node has no widget for the
        /// session's channel, and for Watson dialogs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input: Option<Box<AwaitedInput>>,
    },
    /// The conversation is handed over to a live chat.
    HandoffRequested {
        /// Integration id.
        integration_id: String,
        /// Provider.
        provider: String,
        /// Rendered action parameters.
        parameters: Json,
        /// The exact wire request the provider's driver sends (credentials as placeholders):
        /// `{"method", "url", "headers", "body"}`.
        /// The simulator's is addressed to `simulator:handoff`: nothing is sent unless the host
        /// registers a driver of its own for the simulator.
        #[cfg_attr(feature = "drivers", schema(value_type = Object))]
        request: HttpRequest,
        /// The provider's conversation id, when the request addresses one that already exists.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remote_id: Option<String>,
        /// What `request` was built from, so a host that sends it later can build it again
        /// from the integration as it is then. Never serialised (it holds the unmasked
        /// parameters) and not part of the output's value (ignored by `==`).
        #[serde(skip)]
        inputs: Attached<HandoffInputs>,
    },
    /// A user message relayed to the agent (masked when the integration masks personal data).
    RelayToAgent {
        /// Text.
        text: String,
    },
    /// An agent joined.
    RepresentativeJoined {
        /// Agent name.
        name: String,
        /// `HUMAN` or `BOT`.
        representative_type: RepresentativeType,
        /// The agent's avatar, when the provider gives one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        avatar: Option<String>,
    },
    /// An agent left (transfer or close).
    RepresentativeLeft {
        /// Agent name.
        name: String,
        /// `HUMAN` or `BOT`.
        representative_type: RepresentativeType,
        /// The agent's avatar, when the provider gave one at the join.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        avatar: Option<String>,
    },
    /// The live chat ended.
    LiveChatClosed {
        /// How.
        status: CloseStatus,
        /// The raw reason (wrap-up, provider message, timer).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The host must close the provider's conversation (the end did not come from the provider).
    CloseProviderConversation {
        /// Integration id.
        integration_id: String,
        /// Provider conversation id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remote_id: Option<String>,
    },
    /// The host must run an action and answer with `action_result`.
    ActionRequested {
        /// Id to answer with.
        id: String,
        /// Action name.
        name: String,
        /// Rendered parameters.
        parameters: Json,
    },
    /// Someone is typing: `from: "user"` is for the agent (the host relays it), `from: "agent"`
    /// is for the user's channel.
    Typing {
        /// `user` or `agent`.
        from: String,
        /// Typing or not.
        typing: bool,
    },
    /// A shared file, relayed like a message: `from: "user"` is for the agent (the host relays
    /// it), `from: "agent"` for the user's channel.
    File {
        /// `user` or `agent`.
        from: String,
        /// Where the file is.
        url: String,
        /// Its name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Its media type.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
    },
    /// An analytics event.
    EventEmitted {
        /// Event name.
        event_name: String,
        /// Rendered details.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        details: Option<Json>,
        /// Rendered extra 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extra1: Option<Json>,
        /// Rendered extra 2.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extra2: Option<Json>,
    },
    /// Something went wrong; the state did not change in a way the event asked for.
    Error {
        /// Machine-readable code: the stable list of [`ErrorKind`].
        code: ErrorKind,
        /// What happened.
        message: String,
        /// Node, when one is concerned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
    },
}

/// The input the bot waits for, as a channel draws it: the widget, its options, what it
/// accepts and how many invalid answers it still takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "drivers", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct AwaitedInput {
    /// The widget: `text_input`, `select`, `option_list`, `quick_replies`, `autocomplete`,
    /// `date` or `file_upload`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether only a valid answer moves the flow on (lists are mandatory unless the flow
    /// says otherwise).
    pub mandatory: bool,
    /// How many more invalid answers are refused before the flow goes on with
    /// `input.valid == false`; absent when the input asks until the answer is valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<u64>,
    /// The choices, in order (lists and quick replies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<InputOption>,
    /// Whether several options may be picked in one answer (separated by commas).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multiple: bool,
    /// Whether a bare number (`2`) answers the option with that `number`: true for a list
    /// whose options' titles and values are not numbers themselves.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub numbered: bool,
    /// The builder's mask of a `text_input` (`cpf`, `cellphone`, `email`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
    /// What the mask accepts, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepts: Option<String>,
    /// The earliest date accepted (`YYYY-MM-DD`, inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<String>,
    /// The latest date accepted (`YYYY-MM-DD`, inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
    /// `false` when Saturdays and Sundays are refused (dates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekends: Option<bool>,
    /// The file types accepted (`PNG`, `PDF`, …), for a file upload.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_types: Vec<String>,
    /// The largest file accepted, as the flow writes it (`10M`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_size: Option<String>,
}

/// One choice of an awaited input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "drivers", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct InputOption {
    /// Its place in the list, from 1.
    pub number: u32,
    /// What the option shows.
    pub title: String,
    /// What picking it answers (`input.text`); sending the title or the value picks it.
    pub value: String,
}

impl InputOption {
    /// Option `number` showing `title` and answering `value`.
    pub fn new(number: u32, title: impl Into<String>, value: impl Into<String>) -> InputOption {
        InputOption {
            number,
            title: title.into(),
            value: value.into(),
        }
    }
}

impl AwaitedInput {
    /// An input of widget `kind` with nothing else said about it.
    pub fn new(kind: impl Into<String>, mandatory: bool) -> AwaitedInput {
        AwaitedInput {
            kind: kind.into(),
            mandatory,
            tries_left: None,
            options: Vec::new(),
            multiple: false,
            numbered: false,
            mask: None,
            accepts: None,
            min: None,
            max: None,
            weekends: None,
            file_types: Vec::new(),
            max_file_size: None,
        }
    }
}

impl Output {
    /// An `error` output.
    pub fn error(code: ErrorKind, message: impl Into<String>, node: Option<&str>) -> Output {
        Output::Error {
            code,
            message: message.into(),
            node: node.map(str::to_owned),
        }
    }
}

impl From<Error> for Output {
    fn from(e: Error) -> Output {
        Output::Error {
            code: e.kind(),
            message: e.detail().to_owned(),
            node: e.node().map(str::to_owned),
        }
    }
}

/// What a hand-over request is built from (besides the integration): the rendered
/// `start_live_chat` parameters, the conversation's contact and context, its identifier, the
/// messages since `start` and the time of the request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HandoffInputs {
    /// Rendered parameters (unmasked).
    pub parameters: Map<String, Json>,
    /// The conversation's contact.
    pub contact: Map<String, Json>,
    /// The conversation's context.
    pub context: Map<String, Json>,
    /// The session id.
    pub identifier: String,
    /// Messages since `start`, oldest first.
    pub history: Vec<Json>,
    /// When the hand-over was asked for, in milliseconds since the Unix epoch.
    pub now_ms: i64,
}

/// A value carried beside an output that is not part of it: never serialised, shown as `..`,
/// and equal to any other (two outputs that say the same are equal whatever they carry).
#[derive(Clone, Default)]
pub struct Attached<T>(pub Option<std::sync::Arc<T>>);

impl<T> Attached<T> {
    /// Carries `value`.
    pub fn new(value: T) -> Attached<T> {
        Attached(Some(std::sync::Arc::new(value)))
    }

    /// The value carried, if any.
    pub fn get(&self) -> Option<&T> {
        self.0.as_deref()
    }
}

impl<T> PartialEq for Attached<T> {
    fn eq(&self, _: &Attached<T>) -> bool {
        true
    }
}

impl<T> std::fmt::Debug for Attached<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
}
