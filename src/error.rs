//! The one error type of the library: a small boxed value with a [`ErrorKind`], a detail in
//! words, and where it applies (a node, a span of an expression, the findings of a file).
//!
//! The kind's [`ErrorKind::code`] is the stable machine-readable name: it is the `code` of the
//! engine's `error` output, the `error.code` of the service's JSON errors, and the list in
//! `docs/architecture.md`. Codes are never renamed; new ones may be added.

use crate::diagnostic::Located;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::ops::Range;

/// What went wrong, as a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "drivers", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    // --- in a conversation (the engine's `error` output) ---
    /// No node has the condition `start`.
    NoStartNode,
    /// More nodes fired in one turn than the limit allows.
    LoopLimit,
    /// A `goto` names no node.
    UnknownNode,
    /// An event that makes no sense in the conversation's state; nothing changed.
    UnexpectedEvent,
    /// A user message arrived while the turn waits for an action's result.
    AwaitingActionResult,
    /// `start_live_chat` while a live chat is already open.
    LiveChatOpen,
    /// `start_live_chat` without `integration_id`.
    MissingIntegrationId,
    /// `start_live_chat` names an integration that is not configured.
    UnknownIntegration,
    /// The integration's business hours cannot be read (unknown time zone).
    BusinessHours,
    /// The provider refuses the agent's message (Webex: too long, or `<` `>`).
    AgentMessageRejected,
    /// An expression ran out of steps.
    ExpressionFuel,
    /// An expression built a value larger than the limit.
    ExpressionTooLarge,
    /// An expression called a method its value does not have.
    ExpressionUnknownMethod,
    /// A regex in an expression cannot run.
    ExpressionRegex,
    /// An expression is nested deeper than the limit.
    ExpressionTooDeep,
    /// An expression does not parse.
    ExpressionSyntax,
    /// An operation does not apply to its operands (Watson: `1 < 'a'`, division by zero).
    ExpressionType,
    /// An assignment would nest the context deeper than a saved session can hold.
    ContextTooDeep,
    /// A provider failed (after retries): HTTP status, timeout, connection, unreadable answer.
    Provider,

    // --- for the host ---
    /// The flow has errors that prevent running it (see [`Error::findings`]).
    InvalidFlow,
    /// The integrations file has errors that prevent running the flow.
    InvalidIntegrations,
    /// A saved session cannot be read.
    InvalidSession,
    /// A saved session was written by another format version.
    SessionVersion,
    /// A saved session cannot continue on this version of the flow.
    FlowChanged,
    /// A setting or secret is missing or malformed.
    Config,
    /// A webhook's signature or credentials are missing or wrong.
    Unauthorized,
    /// A request or webhook body cannot be read.
    BadRequest,
    /// Reading or writing a file failed.
    Io,
    /// The session store failed.
    Store,
    /// A request names a bot the service does not serve.
    UnknownBot,
    /// The session changed while the turn was being prepared; try again.
    Conflict,
}

impl ErrorKind {
    /// The stable code (`snake_case`).
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::NoStartNode => "no_start_node",
            ErrorKind::LoopLimit => "loop_limit",
            ErrorKind::UnknownNode => "unknown_node",
            ErrorKind::UnexpectedEvent => "unexpected_event",
            ErrorKind::AwaitingActionResult => "awaiting_action_result",
            ErrorKind::LiveChatOpen => "live_chat_open",
            ErrorKind::MissingIntegrationId => "missing_integration_id",
            ErrorKind::UnknownIntegration => "unknown_integration",
            ErrorKind::BusinessHours => "business_hours",
            ErrorKind::AgentMessageRejected => "agent_message_rejected",
            ErrorKind::ExpressionFuel => "expression_fuel",
            ErrorKind::ExpressionTooLarge => "expression_too_large",
            ErrorKind::ExpressionUnknownMethod => "expression_unknown_method",
            ErrorKind::ExpressionRegex => "expression_regex",
            ErrorKind::ExpressionTooDeep => "expression_too_deep",
            ErrorKind::ExpressionSyntax => "expression_syntax",
            ErrorKind::ExpressionType => "expression_type",
            ErrorKind::ContextTooDeep => "context_too_deep",
            ErrorKind::Provider => "provider",
            ErrorKind::InvalidFlow => "invalid_flow",
            ErrorKind::InvalidIntegrations => "invalid_integrations",
            ErrorKind::InvalidSession => "invalid_session",
            ErrorKind::SessionVersion => "session_version",
            ErrorKind::FlowChanged => "flow_changed",
            ErrorKind::Config => "config",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Io => "io",
            ErrorKind::Store => "store",
            ErrorKind::UnknownBot => "unknown_bot",
            ErrorKind::Conflict => "conflict",
        }
    }

    /// Every kind, in declaration order (the documented list).
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::NoStartNode,
        ErrorKind::LoopLimit,
        ErrorKind::UnknownNode,
        ErrorKind::UnexpectedEvent,
        ErrorKind::AwaitingActionResult,
        ErrorKind::LiveChatOpen,
        ErrorKind::MissingIntegrationId,
        ErrorKind::UnknownIntegration,
        ErrorKind::BusinessHours,
        ErrorKind::AgentMessageRejected,
        ErrorKind::ExpressionFuel,
        ErrorKind::ExpressionTooLarge,
        ErrorKind::ExpressionUnknownMethod,
        ErrorKind::ExpressionRegex,
        ErrorKind::ExpressionTooDeep,
        ErrorKind::ExpressionSyntax,
        ErrorKind::ExpressionType,
        ErrorKind::ContextTooDeep,
        ErrorKind::Provider,
        ErrorKind::InvalidFlow,
        ErrorKind::InvalidIntegrations,
        ErrorKind::InvalidSession,
        ErrorKind::SessionVersion,
        ErrorKind::FlowChanged,
        ErrorKind::Config,
        ErrorKind::Unauthorized,
        ErrorKind::BadRequest,
        ErrorKind::Io,
        ErrorKind::Store,
        ErrorKind::UnknownBot,
        ErrorKind::Conflict,
    ];

    /// What the kind means, in one sentence (the documented list).
    pub fn description(self) -> &'static str {
        match self {
            ErrorKind::NoStartNode => "no node has the condition `start`",
            ErrorKind::LoopLimit => "too many nodes fired in one turn; the bot waits",
            ErrorKind::UnknownNode => "a `goto` names no node",
            ErrorKind::UnexpectedEvent => {
                "an event that makes no sense in the conversation's state; nothing changed"
            }
            ErrorKind::AwaitingActionResult => {
                "a user message arrived while the turn waits for an action's result"
            }
            ErrorKind::LiveChatOpen => "`start_live_chat` while a live chat is already open",
            ErrorKind::MissingIntegrationId => "`start_live_chat` has no `integration_id`",
            ErrorKind::UnknownIntegration => {
                "`start_live_chat` names an integration that is not configured"
            }
            ErrorKind::BusinessHours => "the integration's business hours cannot be read",
            ErrorKind::AgentMessageRejected => "the provider refuses the agent's message",
            ErrorKind::ExpressionFuel => "an expression ran out of evaluation steps",
            ErrorKind::ExpressionTooLarge => "an expression built a value larger than the limit",
            ErrorKind::ExpressionUnknownMethod => {
                "an expression called a method its value does not have"
            }
            ErrorKind::ExpressionRegex => "a regex in an expression cannot run",
            ErrorKind::ExpressionTooDeep => "an expression is nested deeper than the limit",
            ErrorKind::ExpressionSyntax => "an expression does not parse",
            ErrorKind::ExpressionType => "an operation does not apply to its operands",
            ErrorKind::ContextTooDeep => {
                "an assignment would nest the context deeper than a saved session can hold"
            }
            ErrorKind::Provider => "a live-chat provider failed after retries",
            ErrorKind::InvalidFlow => "the flow has errors that prevent running it",
            ErrorKind::InvalidIntegrations => {
                "the integrations file has errors that prevent running the flow"
            }
            ErrorKind::InvalidSession => "a saved session cannot be read",
            ErrorKind::SessionVersion => "a saved session was written by another format version",
            ErrorKind::FlowChanged => "a saved session cannot continue on this version of the flow",
            ErrorKind::Config => "a setting or secret is missing or malformed",
            ErrorKind::Unauthorized => "a webhook's signature or credentials are missing or wrong",
            ErrorKind::BadRequest => "a request or webhook body cannot be read",
            ErrorKind::Io => "reading or writing a file failed",
            ErrorKind::Store => "the session store failed",
            ErrorKind::UnknownBot => "a request names a bot the service does not serve",
            ErrorKind::Conflict => {
                "the session changed while the turn was being prepared; try again"
            }
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// An error: a kind, a detail, and where it applies.
pub struct Error {
    repr: Box<Repr>,
}

struct Repr {
    kind: ErrorKind,
    detail: Cow<'static, str>,
    node: Option<String>,
    span: Option<Range<usize>>,
    status: Option<u16>,
    findings: Vec<Located>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error of `kind` with a detail in words.
    pub fn new(kind: ErrorKind, detail: impl Into<Cow<'static, str>>) -> Error {
        Error {
            repr: Box::new(Repr {
                kind,
                detail: detail.into(),
                node: None,
                span: None,
                status: None,
                findings: Vec::new(),
                source: None,
            }),
        }
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.repr.kind
    }

    /// The detail, in words (never a secret).
    pub fn detail(&self) -> &str {
        &self.repr.detail
    }

    /// The node concerned, when one is.
    pub fn node(&self) -> Option<&str> {
        self.repr.node.as_deref()
    }

    /// The byte range in the expression source, for expression errors.
    pub fn span(&self) -> Option<Range<usize>> {
        self.repr.span.clone()
    }

    /// The provider's HTTP status, for provider errors that had one.
    pub fn status(&self) -> Option<u16> {
        self.repr.status
    }

    /// The located findings that make a file unusable ([`ErrorKind::InvalidFlow`],
    /// [`ErrorKind::InvalidIntegrations`]).
    pub fn findings(&self) -> &[Located] {
        &self.repr.findings
    }

    /// Names the node concerned.
    pub fn with_node(mut self, node: impl Into<String>) -> Error {
        self.repr.node = Some(node.into());
        self
    }

    /// Sets the span in the expression source.
    pub fn with_span(mut self, span: Range<usize>) -> Error {
        self.repr.span = Some(span);
        self
    }

    /// Sets the provider's HTTP status.
    pub fn with_status(mut self, status: u16) -> Error {
        self.repr.status = Some(status);
        self
    }

    /// Attaches the findings that explain the error.
    pub fn with_findings(mut self, findings: Vec<Located>) -> Error {
        self.repr.findings = findings;
        self
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.repr.source = Some(Box::new(source));
        self
    }

    /// Adds context in front of the detail (`"LivePerson: open conversation: …"`).
    pub fn context(mut self, what: impl std::fmt::Display) -> Error {
        self.repr.detail = Cow::Owned(format!("{what}: {}", self.repr.detail));
        self
    }
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.repr.kind)
            .field("detail", &self.repr.detail);
        if let Some(n) = &self.repr.node {
            d.field("node", n);
        }
        if let Some(s) = &self.repr.span {
            d.field("span", s);
        }
        if let Some(s) = &self.repr.status {
            d.field("status", s);
        }
        if !self.repr.findings.is_empty() {
            d.field("findings", &self.repr.findings.len());
        }
        d.finish()
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.repr.detail)?;
        if let Some(n) = &self.repr.node {
            write!(f, " (node `{n}`)")?;
        }
        let findings = &self.repr.findings;
        if let Some(x) = findings.first() {
            write!(
                f,
                ": {}:{}:{}: {} [{}]",
                x.file, x.line, x.column, x.message, x.code
            )?;
            if findings.len() > 1 {
                write!(f, " (and {} more)", findings.len() - 1)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.repr
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(ErrorKind::Io, e.to_string()).with_source(e)
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
