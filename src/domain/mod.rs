//! The domain's vocabulary, declared once: how a live chat can end, the providers and what each
//! one reads, the built-in actions, and the events and outputs of a conversation.
//!
//! Every other module — the engine, the linter, the drivers, the test runner, the docs printed
//! by `fluxo rule` — reads these tables instead of restating them.

mod event;
pub mod http;
pub mod pii;

pub use event::{
    Attached, AwaitedInput, Event, HandoffInputs, InputOption, Output, RepresentativeType, Speaker,
};

use serde::{Deserialize, Serialize};

/// How a live chat ended (`input.live_chat.status` when the conversation returns to the bot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "drivers", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CloseStatus {
    /// The agent closed it.
    AgentClosed,
    /// The user closed it.
    UserClosed,
    /// No agent joined in time.
    Timeout,
    /// The user did not answer the agent in time.
    UserInactivityTimeout,
    /// The provider failed.
    Error,
    /// Outside business hours (or on a holiday): no hand-over happened.
    OutOfHours,
}

impl CloseStatus {
    /// Every status, in the order the docs list them.
    pub const ALL: [CloseStatus; 6] = [
        CloseStatus::AgentClosed,
        CloseStatus::UserClosed,
        CloseStatus::Timeout,
        CloseStatus::UserInactivityTimeout,
        CloseStatus::Error,
        CloseStatus::OutOfHours,
    ];

    /// The name flows test against (`input.live_chat.status`).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseStatus::AgentClosed => "agent_closed",
            CloseStatus::UserClosed => "user_closed",
            CloseStatus::Timeout => "timeout",
            CloseStatus::UserInactivityTimeout => "user_inactivity_timeout",
            CloseStatus::Error => "error",
            CloseStatus::OutOfHours => "out_of_hours",
        }
    }

    /// The status named `name`.
    pub fn parse(name: &str) -> Option<CloseStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The statuses a hand-over can end with: `out_of_hours` only when the integration has
    /// business hours.
    pub fn possible(has_business_hours: bool) -> &'static [CloseStatus] {
        if has_business_hours {
            &Self::ALL
        } else {
            &Self::ALL[..5]
        }
    }
}

impl std::fmt::Display for CloseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Live-chat providers fluxo knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Provider {
    /// LivePerson Conversational Cloud (Connector API).
    Liveperson,
    /// Zendesk (tickets or Sunshine Conversations messaging).
    Zendesk,
    /// ALTU Connector (Agent Connector API), e.g. Tech4Humans.
    AltuConnector,
    /// Omni.
    Omni,
    /// Webex Contact Center.
    WebexCc,
    /// The built-in simulator.
    Simulator,
}

/// Most characters of `extra_info` JSON LivePerson keeps (the builder sends a longer one empty).
pub const LIVEPERSON_EXTRA_INFO_MAX: usize = 256;
/// Most characters of `extra_info` / `contact_info` JSON ALTU Connector keeps.
pub const ALTU_INFO_MAX: usize = 1024;

impl Provider {
    /// Every provider.
    pub const ALL: [Provider; 6] = [
        Provider::Liveperson,
        Provider::Zendesk,
        Provider::AltuConnector,
        Provider::Omni,
        Provider::WebexCc,
        Provider::Simulator,
    ];

    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Liveperson => "liveperson",
            Provider::Zendesk => "zendesk",
            Provider::AltuConnector => "altu_connector",
            Provider::Omni => "omni",
            Provider::WebexCc => "webex_cc",
            Provider::Simulator => "simulator",
        }
    }

    /// The `start_live_chat` parameters this provider reads, besides `integration_id` and
    /// `before_action_messages`; `None` when its docs list none (any parameter passes through).
    pub fn parameters(self) -> Option<&'static [&'static str]> {
        match self {
            Provider::Liveperson => Some(&[
                "start_message",
                "skill_id",
                "agent",
                "campaign_info",
                "extra_info",
                "lang",
            ]),
            Provider::AltuConnector => Some(&["extra_info", "contact_info", "skillId"]),
            Provider::Zendesk => Some(&[
                "tags",
                "visitorInfo",
                "historyExtraInfo",
                "custom_fields",
                "subject",
                "priority",
                "type",
                "group_id",
                "brand_id",
                "ticket_form_id",
                "assignee_id",
                "requester_id",
                "user_fields",
            ]),
            Provider::Omni | Provider::WebexCc | Provider::Simulator => None,
        }
    }

    /// The longest JSON text of a free-form info parameter (`extra_info`, `contact_info`) the
    /// provider keeps, and whether a longer one is sent empty (LivePerson) rather than refused.
    /// `None`: the provider does not receive that parameter at all, or has no documented limit.
    pub fn info_limit(self, parameter: &str) -> Option<usize> {
        match (self, parameter) {
            (Provider::Liveperson, "extra_info") => Some(LIVEPERSON_EXTRA_INFO_MAX),
            (Provider::AltuConnector, "extra_info" | "contact_info") => Some(ALTU_INFO_MAX),
            _ => None,
        }
    }

    /// Whether the provider receives `parameter` at all (the builder drops `contact_info` for
    /// every provider but ALTU Connector, and sends Zendesk neither info parameter).
    pub fn receives(self, parameter: &str) -> bool {
        match (self, parameter) {
            (Provider::AltuConnector, "contact_info") => true,
            (_, "contact_info") => false,
            (Provider::Zendesk, "extra_info") => false,
            _ => true,
        }
    }

    /// The parameter a provider reads under a different spelling: LivePerson reads `skill_id`,
    /// ALTU Connector `skillId`.
    pub fn spelling_of(self, parameter: &str) -> Option<&'static str> {
        match (self, parameter) {
            (Provider::Liveperson, "skillId") => Some("skill_id"),
            (Provider::AltuConnector, "skill_id") => Some("skillId"),
            _ => None,
        }
    }

    /// Whether the integration's documents must be sent history (Zendesk's first comment always
    /// carries the conversation so far).
    pub fn always_sends_history(self) -> bool {
        self == Provider::Zendesk
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The actions every flow may use without declaring them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BuiltinAction {
    /// `start_live_chat`: the hand-over to a live-chat provider.
    StartLiveChat,
    /// `http_request`: an HTTP call the host performs (or a test mocks).
    HttpRequest,
    /// `transfer_to_agent_liveperson`: the builder's older LivePerson transfer; the host runs it.
    TransferToAgentLiveperson,
}

impl BuiltinAction {
    /// Every built-in action.
    pub const ALL: [BuiltinAction; 3] = [
        BuiltinAction::StartLiveChat,
        BuiltinAction::HttpRequest,
        BuiltinAction::TransferToAgentLiveperson,
    ];

    /// The name written in flows.
    pub fn as_str(self) -> &'static str {
        match self {
            BuiltinAction::StartLiveChat => "start_live_chat",
            BuiltinAction::HttpRequest => "http_request",
            BuiltinAction::TransferToAgentLiveperson => "transfer_to_agent_liveperson",
        }
    }

    /// The built-in action named `name`.
    pub fn parse(name: &str) -> Option<BuiltinAction> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Every built-in name.
    pub fn names() -> [&'static str; 3] {
        Self::ALL.map(BuiltinAction::as_str)
    }
}

/// The parameter of any action whose messages go to the user before it runs.
pub const BEFORE_ACTION_MESSAGES: &str = "before_action_messages";
/// The `start_live_chat` parameter naming the integration.
pub const INTEGRATION_ID: &str = "integration_id";

/// The fields of `input` the engine sets, each with what it means. Flows read them as
/// `input.<field>`; the linter reports any other field with a did-you-mean.
pub const INPUT_FIELDS: &[(&str, &str)] = &[
    (
        "text",
        "what the user typed (empty on the return from a live chat)",
    ),
    (
        "valid",
        "false when the user ran out of tries on a validated input",
    ),
    (
        "value",
        "the value of the chosen option, or the normalised date",
    ),
    ("values", "the values of the chosen options"),
    ("live_chat", "set on the turn that returns from a live chat"),
];

/// The fields of `input.live_chat`.
pub const LIVE_CHAT_FIELDS: &[(&str, &str)] = &[(
    "status",
    "how the live chat ended: agent_closed, user_closed, timeout, user_inactivity_timeout, error, out_of_hours",
)];
