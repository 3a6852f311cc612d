//! The conversation engine: a deterministic state machine
//! **(session, event, now) → (session, outputs)** (SPEC §4).
//!
//! It does no I/O, reads no clock and draws no random numbers: time comes in with each event,
//! and everything the outside world must do (send a hand-over request, run an HTTP request,
//! close a provider conversation) comes out as an [`Output`]. The same engine serves
//! `fluxo run`, the tests and a builder backend that keeps [`Session`]s between webhooks.
//!
//! ```
//! use fluxo::engine::{Bot, Event, Output};
//!
//! let flow = r#"{ "nodes": [
//!   { "id": "oi", "condition": "start", "output": [ { "default": { "type": "text", "text": "Olá! Seu nome?" } } ],
//!     "input": { "default": { "type": "text_input" } }, "next": [ { "goto": "tchau" } ] },
//!   { "id": "tchau", "context": { "nome": "<? input.text ?>" },
//!     "output": [ { "default": { "type": "text", "text": "Até logo, <? $nome ?>!" } } ] } ] }"#;
//! let bot = Bot::from_json(flow, None).expect("a valid flow");
//! let mut session = bot.new_session("user-42");
//! let now = 1_767_225_600_000; // milliseconds since the Unix epoch
//! bot.handle(&mut session, Event::Start { channel: None, context: None, contact: None }, now);
//! let out = bot.handle(&mut session, Event::User { text: "Ana".into(), intent: None, entities: None, confidence: None }, now);
//! assert!(out.contains(&Output::Message {
//!     from: fluxo::engine::Speaker::Bot, text: Some("Até logo, Ana!".into()), message: None,
//!     node: Some("tchau".into()), agent: None }));
//!
//! // Between webhooks a backend stores the session as JSON and resumes it anywhere.
//! let saved = serde_json::to_string(&session).expect("serialises");
//! let restored = bot.restore(&saved).expect("same flow");
//! assert_eq!(restored, session);
//! ```

pub mod event;
pub mod input;
pub mod pii;

pub use event::{CloseStatus, Event, Output, RepresentativeType, Speaker};

use crate::compile::{CValue, CompiledFlow, Entry};
use crate::diagnostic::{Located, Severity};
use crate::expr::eval::{Budget, Evaluator};
use crate::expr::{EvalError, Expr, Scope};
use crate::integrations::{normalise_id, Integration, IntegrationsFile, Provider, WaitNotice};
use crate::provider::{self, Handoff};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

/// Version of the serialised [`Session`] format.
pub const STATE_VERSION: u32 = 1;
/// Most nodes that may fire in one turn.
pub const MAX_FIRINGS: u32 = 64;
/// Most history entries kept for `include_history`.
pub const MAX_HISTORY: usize = 100;

/// A loaded flow and its integrations: compile once, serve many sessions.
#[derive(Debug, Clone)]
pub struct Bot {
    flow: CompiledFlow,
    integrations: IntegrationsFile,
    fingerprint: String,
    record_history: bool,
    env: Json,
    budget: Budget,
}

/// Why a flow could not be loaded.
#[derive(Debug, Clone)]
pub struct LoadError {
    /// The findings of error level that prevent running the flow.
    pub findings: Vec<Located>,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let first = self.findings.first();
        match first {
            Some(x) => write!(
                f,
                "{}:{}:{}: {} [{}]",
                x.file, x.line, x.column, x.message, x.code
            )?,
            None => write!(f, "the flow cannot be loaded")?,
        }
        if self.findings.len() > 1 {
            write!(f, " (and {} more)", self.findings.len() - 1)?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// Why a saved session cannot be resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreError(pub String);

impl std::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RestoreError {}

/// Phase of an open live chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    pub integration_id: String,
    /// Provider.
    pub provider: Provider,
    /// Phase.
    pub phase: Phase,
    /// Provider conversation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    /// The provider accepted the request (the result variable is set).
    #[serde(default)]
    pub acknowledged: bool,
    /// Context variable for the action's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_variable: Option<String>,
    /// Agents in the chat (more than one in a conference).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
    /// When the wait for an agent times out (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_deadline: Option<i64>,
    /// When the user's silence times out (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactivity_deadline: Option<i64>,
    /// When the chat was (re)queued (ms); queue messages count from here.
    pub queued_at: i64,
    /// Queue messages sent since then.
    #[serde(default)]
    pub queue_sent: u32,
    /// The wait notice was sent.
    #[serde(default)]
    pub notice_sent: bool,
}

/// A turn suspended on an action the host runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspended {
    /// Id the host answers with.
    pub id: String,
    /// Action name.
    pub name: String,
    /// Node id.
    pub node: String,
    /// Index of the action within the node.
    pub action: usize,
    /// Where the result goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_variable: Option<String>,
    /// The turn's `input`.
    pub input: Json,
    /// Nodes fired so far in the turn.
    pub fired: u32,
    /// The bot had left the scene (a hand-over earlier in the turn).
    #[serde(default)]
    pub muted: bool,
}

/// One conversation's state. Serialises to JSON (versioned) so a backend can store it between
/// webhooks and resume it in another process with [`Bot::restore`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Format version ([`STATE_VERSION`]).
    pub v: u32,
    /// Fingerprint of the flow the session runs.
    pub flow: String,
    /// The end user's stable id.
    pub id: String,
    /// A `start` was processed.
    #[serde(default)]
    pub started: bool,
    /// Channel key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// `context` variables.
    #[serde(default = "empty_object")]
    pub context: Json,
    /// `contact` attributes.
    #[serde(default = "empty_object")]
    pub contact: Json,
    /// The node waiting for the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<String>,
    /// Invalid answers so far at the focus node.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tries: u32,
    /// The open live chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<LiveChat>,
    /// A turn waiting for `action_result`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<Suspended>,
    /// Messages since `start` (kept only when an integration sends history).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Json>,
    /// Counter for action ids.
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub seq: u64,
    /// Last time seen (ms).
    #[serde(default)]
    pub clock: i64,
}

fn empty_object() -> Json {
    Json::Object(Map::new())
}
fn is_zero(n: &u32) -> bool {
    *n == 0
}
fn is_zero64(n: &u64) -> bool {
    *n == 0
}

impl Bot {
    /// A bot for a compiled flow.
    pub fn new(flow: CompiledFlow, integrations: Option<IntegrationsFile>) -> Bot {
        let integrations = integrations.unwrap_or(IntegrationsFile {
            schema: None,
            integrations: Vec::new(),
        });
        let record_history = integrations.integrations.iter().any(|i| i.include_history)
            || integrations
                .integrations
                .iter()
                .any(|i| i.provider == Provider::Zendesk);
        let fingerprint = fingerprint(&flow);
        Bot {
            flow,
            integrations,
            fingerprint,
            record_history,
            env: empty_object(),
            budget: Budget::default(),
        }
    }

    /// Loads a flow (and an integrations file) from JSON text. Findings of error level that
    /// make the flow impossible to run (syntax, schema, expression syntax) are returned.
    pub fn from_json(flow: &str, integrations: Option<&str>) -> Result<Bot, LoadError> {
        Self::from_bytes(
            "flow.json",
            flow.as_bytes(),
            integrations.map(|i| ("integrations.json", i.as_bytes())),
        )
    }

    /// Like [`Bot::from_json`], with file names for the findings.
    pub fn from_bytes(
        path: &str,
        flow: &[u8],
        integrations: Option<(&str, &[u8])>,
    ) -> Result<Bot, LoadError> {
        let mut findings = Vec::new();
        let mut integ = None;
        if let Some((ipath, bytes)) = integrations {
            let r = crate::lint::lint_bytes(ipath, bytes, &Default::default());
            findings.extend(
                r.findings
                    .into_iter()
                    .filter(|f| f.severity == Severity::Error),
            );
            integ = serde_json::from_str::<IntegrationsFile>(&r.source.text).ok();
            if integ.is_none() && findings.is_empty() {
                return Err(LoadError { findings: vec![] });
            }
        }
        let compiled = match crate::lint::load_flow(path, flow) {
            Ok(c) if findings.is_empty() => c,
            Ok(_) => return Err(LoadError { findings }),
            Err(f) => {
                findings.extend(f);
                return Err(LoadError { findings });
            }
        };
        Ok(Bot::new(compiled, integ))
    }

    /// Sets the `env` root expressions can read.
    pub fn with_env(mut self, env: Map<String, Json>) -> Bot {
        self.env = Json::Object(env);
        self
    }

    /// The compiled flow.
    pub fn flow(&self) -> &CompiledFlow {
        &self.flow
    }

    /// The integrations.
    pub fn integrations(&self) -> &IntegrationsFile {
        &self.integrations
    }

    /// A new, empty session for the end user `id`.
    pub fn new_session(&self, id: &str) -> Session {
        Session {
            v: STATE_VERSION,
            flow: self.fingerprint.clone(),
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

    /// Resumes a session saved as JSON. Refuses, with a clear reason, a session of another
    /// format version or one saved against a flow whose nodes changed.
    pub fn restore(&self, saved: &str) -> Result<Session, RestoreError> {
        let s: Session = serde_json::from_str(saved)
            .map_err(|e| RestoreError(format!("the saved session is not valid: {e}")))?;
        if s.v != STATE_VERSION {
            return Err(RestoreError(format!(
                "the saved session has format version {}, this fluxo reads version {STATE_VERSION}",
                s.v
            )));
        }
        if s.flow != self.fingerprint {
            return Err(RestoreError(
                "the session was saved with a different version of the flow (its nodes changed); start a new conversation".into(),
            ));
        }
        for id in s.focus.iter().chain(s.suspended.as_ref().map(|x| &x.node)) {
            if !self.flow.by_id.contains_key(id) {
                return Err(RestoreError(format!(
                    "the saved session points at node `{id}`, which the flow does not have"
                )));
            }
        }
        if let Some(chat) = &s.chat {
            if self.integration(&chat.integration_id).is_none()
                && chat.provider != Provider::Simulator
            {
                return Err(RestoreError(format!(
                    "the saved live chat uses integration `{}`, which is not configured",
                    chat.integration_id
                )));
            }
        }
        Ok(s)
    }

    /// The next moment a timer of the session fires, for hosts that schedule wake-ups.
    pub fn next_deadline(&self, s: &Session) -> Option<i64> {
        let chat = s.chat.as_ref()?;
        let queue = self.next_queue_message(chat).map(|(at, _)| at);
        [chat.wait_deadline, chat.inactivity_deadline, queue]
            .into_iter()
            .flatten()
            .min()
    }

    fn integration(&self, id: &str) -> Option<&Integration> {
        self.integrations.find(id)
    }

    fn next_queue_message<'a>(&'a self, chat: &LiveChat) -> Option<(i64, &'a str)> {
        if chat.phase == Phase::Active {
            return None;
        }
        let integ = self.integration(&chat.integration_id)?;
        let m = integ.queue_messages.get(chat.queue_sent as usize)?;
        Some((
            chat.queued_at
                .saturating_add((m.after_s as i64).saturating_mul(1000)),
            m.text.as_str(),
        ))
    }

    /// Feeds one event at time `now` (milliseconds since the Unix epoch) and returns what the
    /// bot says and asks for. Timers due at or before `now` fire first, in order.
    pub fn handle(&self, s: &mut Session, event: Event, now: i64) -> Vec<Output> {
        let mut out = Vec::new();
        let now = now.max(s.clock);
        self.fire_timers(s, now, &mut out);
        s.clock = now;
        if !s.started && !matches!(event, Event::Start { .. }) {
            self.start(s, None, None, None, now, &mut out);
        }
        match event {
            Event::Start {
                channel,
                context,
                contact,
            } => self.start(s, channel, context, contact, now, &mut out),
            Event::User {
                text,
                intent,
                entities,
                confidence,
            } => self.user(s, text, intent, entities, confidence, now, &mut out),
            Event::UserClose { reason } => match s.chat.is_some() {
                // Through a provider (a raw reason) the provider already knows; from the user's
                // widget the engine must close the provider's side.
                true => {
                    let from_provider = reason.is_some();
                    let reason = reason.or_else(|| Some("user ended the chat".into()));
                    self.close_chat(
                        s,
                        CloseStatus::UserClosed,
                        reason,
                        from_provider,
                        now,
                        &mut out,
                    )
                }
                false => unexpected(&mut out, "`user_close`: no live chat is open"),
            },
            Event::ProviderClosed { status, reason } => match s.chat.is_some() {
                true => self.close_chat(s, status, reason, true, now, &mut out),
                false => unexpected(&mut out, "`provider_closed`: no live chat is open"),
            },
            Event::AgentJoin { name, .. } => self.agent_join(s, name, now, &mut out),
            Event::AgentMessage { text } => self.agent_message(s, text, now, &mut out),
            Event::AgentTransfer { to } => self.agent_transfer(s, to, now, &mut out),
            Event::AgentClose { wrap_up } => match s.chat.is_some() {
                true => self.close_chat(s, CloseStatus::AgentClosed, wrap_up, true, now, &mut out),
                false => unexpected(&mut out, "`agent_close`: no live chat is open"),
            },
            Event::ProviderOpened { remote_id, result } => {
                self.provider_opened(s, remote_id, result, &mut out)
            }
            Event::ProviderError { message } => match &s.chat {
                Some(_) => {
                    self.set_error_result(s, &message);
                    self.close_chat(s, CloseStatus::Error, Some(message), true, now, &mut out)
                }
                None => unexpected(&mut out, "`provider_error`: no live chat is open"),
            },
            Event::ActionResult { id, result } => self.action_result(s, id, result, now, &mut out),
            Event::Advance { .. } => {}
        }
        out
    }

    // --- timers -------------------------------------------------------------------------

    fn fire_timers(&self, s: &mut Session, now: i64, out: &mut Vec<Output>) {
        // Each step fires the earliest due timer at its own deadline, so the order of what
        // happens does not depend on how far one event moved the clock.
        for _ in 0..10_000 {
            let Some(chat) = &s.chat else { return };
            let queue = self.next_queue_message(chat);
            let candidates = [
                chat.wait_deadline.map(|t| (t, 0u8)),
                chat.inactivity_deadline.map(|t| (t, 1u8)),
                queue.map(|(t, _)| (t, 2u8)),
            ];
            let Some((at, which)) = candidates
                .into_iter()
                .flatten()
                .filter(|(t, _)| *t <= now)
                .min()
            else {
                return;
            };
            s.clock = s.clock.max(at);
            match which {
                0 => {
                    let reason = self
                        .integration(&chat.integration_id)
                        .and_then(|i| i.wait_timeout_s)
                        .map(|w| format!("no agent joined within {w} s"));
                    self.close_chat(s, CloseStatus::Timeout, reason, false, at, out);
                }
                1 => {
                    let reason = self
                        .integration(&chat.integration_id)
                        .and_then(|i| i.user_inactivity_timeout_s)
                        .map(|w| format!("the user did not answer within {w} s"));
                    self.close_chat(
                        s,
                        CloseStatus::UserInactivityTimeout,
                        reason,
                        false,
                        at,
                        out,
                    );
                }
                _ => {
                    let text = queue.map(|(_, t)| t.to_owned()).unwrap_or_default();
                    if let Some(c) = s.chat.as_mut() {
                        c.queue_sent += 1;
                    }
                    out.push(Output::Message {
                        from: Speaker::System,
                        text: Some(text),
                        message: None,
                        node: None,
                        agent: None,
                    });
                }
            }
        }
    }

    // --- conversation start --------------------------------------------------------------

    fn start(
        &self,
        s: &mut Session,
        channel: Option<String>,
        context: Option<Map<String, Json>>,
        contact: Option<Map<String, Json>>,
        now: i64,
        out: &mut Vec<Output>,
    ) {
        if let Some(chat) = s.chat.take() {
            // A new conversation ends the old chat on the provider's side.
            out.push(Output::CloseProviderConversation {
                integration_id: chat.integration_id,
                remote_id: chat.remote_id,
            });
        }
        let fresh = self.new_session(&s.id);
        *s = Session {
            clock: now,
            seq: s.seq,
            ..fresh
        };
        s.started = true;
        s.channel = channel;
        if let Some(c) = context {
            s.context = Json::Object(c);
        }
        if let Some(c) = contact {
            s.contact = Json::Object(c);
        }
        match self.flow.start {
            Some(start) => {
                let mut t = Turn::new(
                    self,
                    s,
                    out,
                    now,
                    json!({ "text": "" }),
                    Json::Null,
                    Json::Null,
                );
                t.fire(start, 0, false);
                let pending = t.pending_out_of_hours;
                self.finish_turn(s, pending, now, out, 0);
            }
            None => out.push(Output::error(
                "no_start_node",
                "no node has the condition `start`",
                None,
            )),
        }
    }

    // --- the user ------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn user(
        &self,
        s: &mut Session,
        text: String,
        intent: Option<String>,
        entities: Option<Vec<Json>>,
        confidence: Option<f64>,
        now: i64,
        out: &mut Vec<Output>,
    ) {
        if let Some(chat) = &mut s.chat {
            // The bot is silent while the chat is open: the message goes to the agent.
            if chat.phase == Phase::Active {
                chat.inactivity_deadline = None;
            }
            let masked = self
                .integration(&chat.integration_id)
                .is_some_and(|i| i.mask_pii);
            out.push(Output::RelayToAgent {
                text: if masked { pii::mask(&text) } else { text },
            });
            return;
        }
        if let Some(sus) = &s.suspended {
            out.push(Output::error(
                "awaiting_action_result",
                format!("the turn waits for the result of action `{}` (id `{}`); the message was not processed", sus.name, sus.id),
                Some(&sus.node),
            ));
            return;
        }
        self.remember(s, "user", &text, now);
        let intents = match intent {
            Some(i) => json!([{ "intent": i, "confidence": confidence.unwrap_or(1.0) }]),
            None => json!([]),
        };
        let entities = Json::Array(entities.unwrap_or_default());
        let mut input = json!({ "text": text });
        // Validation of the focus node's open input.
        if let Some(focus) = s
            .focus
            .clone()
            .and_then(|f| self.flow.by_id.get(&f).copied())
        {
            if let Some((kind, payload)) = self.input_spec(s, focus, &intents, &entities, now) {
                match input::validate(kind, &payload, &text) {
                    input::Verdict::Valid(v) => {
                        input = v;
                        s.tries = 0;
                    }
                    input::Verdict::Invalid => {
                        s.tries += 1;
                        let messages: Vec<String> = match payload.get("error_message") {
                            Some(Json::Array(a)) => a
                                .iter()
                                .filter_map(Json::as_str)
                                .map(str::to_owned)
                                .collect(),
                            Some(Json::String(m)) => vec![m.clone()],
                            _ => Vec::new(),
                        };
                        let msg = messages
                            .get(s.tries as usize - 1)
                            .or(messages.last())
                            .cloned()
                            .unwrap_or_else(|| "Resposta inválida. Tente novamente.".into());
                        let node = self.flow.nodes[focus].id.clone();
                        out.push(Output::Message {
                            from: Speaker::Bot,
                            text: Some(msg.clone()),
                            message: None,
                            node: Some(node.clone()),
                            agent: None,
                        });
                        self.remember(s, "bot", &msg, now);
                        let limit = payload.get("tries").and_then(Json::as_u64);
                        if limit.is_none_or(|l| u64::from(s.tries) < l) {
                            out.push(Output::AwaitingInput { node });
                            return;
                        }
                        // Out of tries: the flow continues and can test `input.valid`.
                        s.tries = 0;
                        input = json!({ "text": text, "valid": false });
                    }
                }
            }
        }
        let mut t = Turn::new(self, s, out, now, input, intents, entities);
        t.route();
        let pending = t.pending_out_of_hours;
        self.finish_turn(s, pending, now, out, 0);
    }

    /// The input widget of node `i` for the session's channel, with its payload rendered.
    fn input_spec(
        &self,
        s: &Session,
        i: usize,
        intents: &Json,
        entities: &Json,
        now: i64,
    ) -> Option<(crate::model::InputType, Map<String, Json>)> {
        let inp = self.flow.nodes.get(i)?.input.as_ref()?;
        let pick = |k: &str| inp.channels.iter().find(|(c, _, _)| c == k);
        let (_, kind, payload) = s
            .channel
            .as_deref()
            .and_then(pick)
            .or_else(|| pick("default"))
            .or_else(|| inp.channels.first())?;
        let system = system_roots(intents, now);
        let scope = Scope {
            context: &s.context,
            contact: &s.contact,
            input: &Json::Null,
            intents,
            entities,
            env: &self.env,
            system: &system,
        };
        let rendered = payload
            .render(&mut Evaluator::new(scope, self.budget))
            .ok()?;
        Some((*kind, rendered.as_object().cloned().unwrap_or_default()))
    }

    fn remember(&self, s: &mut Session, from: &str, text: &str, now: i64) {
        if self.record_history {
            if s.history.len() >= MAX_HISTORY {
                s.history.remove(0);
            }
            s.history
                .push(json!({ "from": from, "text": text, "at": now }));
        }
    }

    // --- the agent -----------------------------------------------------------------------

    fn agent_join(&self, s: &mut Session, name: String, now: i64, out: &mut Vec<Output>) {
        let Some(chat) = &s.chat else {
            unexpected(out, "`agent_join`: no live chat is open");
            return;
        };
        if chat.agents.contains(&name) {
            unexpected(out, format!("`agent_join`: {name} is already in the chat"));
            return;
        }
        if !chat.acknowledged {
            // The first join acknowledges the request implicitly.
            let (provider, remote) = (chat.provider, chat.remote_id.clone());
            self.acknowledge(s, provider, remote.as_deref(), None);
        }
        let inactivity = self.inactivity_after(s, now);
        if let Some(chat) = &mut s.chat {
            chat.phase = Phase::Active;
            chat.wait_deadline = None;
            chat.inactivity_deadline = inactivity;
            chat.agents.push(name.clone());
        }
        out.push(Output::RepresentativeJoined {
            name,
            representative_type: RepresentativeType::Human,
        });
    }

    fn inactivity_after(&self, s: &Session, now: i64) -> Option<i64> {
        let chat = s.chat.as_ref()?;
        let secs = self
            .integration(&chat.integration_id)?
            .user_inactivity_timeout_s?;
        (secs > 0).then(|| now.saturating_add((secs as i64).saturating_mul(1000)))
    }

    fn agent_message(&self, s: &mut Session, text: String, now: i64, out: &mut Vec<Output>) {
        let Some(chat) = &s.chat else {
            unexpected(out, "`agent_message`: no live chat is open");
            return;
        };
        if chat.phase != Phase::Active {
            unexpected(out, "`agent_message`: no agent has joined the chat yet");
            return;
        }
        if let Some(integ) = self
            .integration(&chat.integration_id)
            .filter(|i| i.provider == Provider::WebexCc)
        {
            if let Some(max) = integ
                .max_agent_message_chars
                .filter(|m| text.chars().count() as u64 > *m)
            {
                out.push(Output::error(
                    "agent_message_rejected",
                    format!(
                        "the agent's message has {} characters; Webex accepts at most {max}",
                        text.chars().count()
                    ),
                    None,
                ));
                return;
            }
            if text.contains(['<', '>']) {
                out.push(Output::error(
                    "agent_message_rejected",
                    "the agent's message contains `<` or `>`, which Webex rejects",
                    None,
                ));
                return;
            }
        }
        let agent = chat.agents.last().cloned();
        let inactivity = self.inactivity_after(s, now);
        if let Some(chat) = &mut s.chat {
            chat.inactivity_deadline = inactivity;
        }
        self.remember(s, "agent", &text, now);
        out.push(Output::Message {
            from: Speaker::Agent,
            text: Some(text),
            message: None,
            node: None,
            agent,
        });
    }

    fn agent_transfer(&self, s: &mut Session, to: String, now: i64, out: &mut Vec<Output>) {
        let wait = s
            .chat
            .as_ref()
            .and_then(|c| self.integration(&c.integration_id))
            .and_then(|i| i.wait_timeout_s)
            .filter(|w| *w > 0);
        let Some(chat) = &mut s.chat else {
            unexpected(out, "`agent_transfer`: no live chat is open");
            return;
        };
        if chat.phase != Phase::Active {
            unexpected(
                out,
                format!("`agent_transfer` to {to}: no agent has joined the chat"),
            );
            return;
        }
        for name in chat.agents.drain(..) {
            out.push(Output::RepresentativeLeft {
                name,
                representative_type: RepresentativeType::Human,
            });
        }
        // Back in the queue: the wait timer starts again.
        chat.phase = Phase::Queued;
        chat.inactivity_deadline = None;
        chat.wait_deadline = wait.map(|w| now.saturating_add((w as i64).saturating_mul(1000)));
        chat.queued_at = now;
        chat.queue_sent = 0;
    }

    fn provider_opened(
        &self,
        s: &mut Session,
        remote_id: String,
        result: Option<Json>,
        out: &mut Vec<Output>,
    ) {
        let Some(chat) = &s.chat else {
            unexpected(out, "`provider_opened`: no live chat was requested");
            return;
        };
        if chat.acknowledged && chat.remote_id.is_some() {
            unexpected(
                out,
                "`provider_opened`: the provider already accepted this chat",
            );
            return;
        }
        let provider = chat.provider;
        let estimate = result
            .as_ref()
            .and_then(|r| r.get("estimated_wait_s"))
            .and_then(Json::as_u64);
        let notice = self
            .integration(&chat.integration_id)
            .and_then(|i| i.wait_notice)
            == Some(WaitNotice::Once)
            && !chat.notice_sent;
        self.acknowledge(s, provider, Some(&remote_id), result.as_ref());
        if let Some(chat) = &mut s.chat {
            chat.remote_id = Some(remote_id);
            if chat.phase == Phase::Requested {
                chat.phase = Phase::Queued;
            }
            if notice {
                chat.notice_sent = true;
                let text = match estimate {
                    Some(secs) => format!(
                        "Você está na fila de atendimento. Tempo estimado de espera: {} min.",
                        secs.div_ceil(60).max(1)
                    ),
                    None => "Você está na fila de atendimento. Já já alguém te atende.".to_owned(),
                };
                out.push(Output::Message {
                    from: Speaker::System,
                    text: Some(text),
                    message: None,
                    node: None,
                    agent: None,
                });
            }
        }
    }

    fn acknowledge(
        &self,
        s: &mut Session,
        provider: Provider,
        remote: Option<&str>,
        result: Option<&Json>,
    ) {
        let var = s.chat.as_ref().and_then(|c| c.result_variable.clone());
        if let Some(chat) = &mut s.chat {
            chat.acknowledged = true;
        }
        if let (Some(var), Json::Object(ctx)) = (var, &mut s.context) {
            ctx.insert(var, provider::accepted_result(provider, remote, result));
        }
    }

    fn set_error_result(&self, s: &mut Session, message: &str) {
        let Some(chat) = &s.chat else { return };
        if chat.acknowledged {
            return;
        }
        if let (Some(var), Json::Object(ctx)) = (chat.result_variable.clone(), &mut s.context) {
            ctx.insert(var, provider::error_result(message));
        }
    }

    /// Ends the chat with exactly one status, then feeds the focus node the synthetic turn
    /// with `input.live_chat.status`.
    fn close_chat(
        &self,
        s: &mut Session,
        status: CloseStatus,
        reason: Option<String>,
        from_provider: bool,
        now: i64,
        out: &mut Vec<Output>,
    ) {
        self.close_chat_at(s, status, reason, from_provider, now, out, 0);
    }

    /// Runs the out-of-hours close a turn left pending. `depth` bounds a flow whose
    /// `out_of_hours` branch asks for the hand-over again.
    fn finish_turn(
        &self,
        s: &mut Session,
        pending: bool,
        now: i64,
        out: &mut Vec<Output>,
        depth: u8,
    ) {
        if !pending {
            return;
        }
        if depth >= 4 {
            s.chat = None;
            out.push(Output::error("loop_limit", "the hand-over was requested again and again outside business hours; the turn stops here", None));
            return;
        }
        self.close_chat_at(
            s,
            CloseStatus::OutOfHours,
            Some("outside business hours".into()),
            false,
            now,
            out,
            depth + 1,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn close_chat_at(
        &self,
        s: &mut Session,
        status: CloseStatus,
        reason: Option<String>,
        from_provider: bool,
        now: i64,
        out: &mut Vec<Output>,
        depth: u8,
    ) {
        let Some(chat) = s.chat.take() else { return };
        for name in &chat.agents {
            out.push(Output::RepresentativeLeft {
                name: name.clone(),
                representative_type: RepresentativeType::Human,
            });
        }
        out.push(Output::LiveChatClosed { status, reason });
        if !from_provider && status != CloseStatus::OutOfHours {
            out.push(Output::CloseProviderConversation {
                integration_id: chat.integration_id,
                remote_id: chat.remote_id,
            });
        }
        let input = json!({ "text": "", "live_chat": { "status": status.as_str() } });
        let mut t = Turn::new(self, s, out, now, input, json!([]), json!([]));
        t.route();
        let pending = t.pending_out_of_hours;
        self.finish_turn(s, pending, now, out, depth);
    }

    // --- host actions --------------------------------------------------------------------

    fn action_result(
        &self,
        s: &mut Session,
        id: String,
        result: Json,
        now: i64,
        out: &mut Vec<Output>,
    ) {
        let Some(sus) = s.suspended.take_if(|x| x.id == id) else {
            let msg = match &s.suspended {
                Some(x) => format!(
                    "`action_result` for `{id}`, but the turn waits for `{}`",
                    x.id
                ),
                None => {
                    format!("`action_result` for `{id}`, but no action is waiting for a result")
                }
            };
            unexpected(out, msg);
            return;
        };
        let result = if sus.name == "http_request" {
            http_aliases(result)
        } else {
            result
        };
        if let (Some(var), Json::Object(ctx)) = (&sus.result_variable, &mut s.context) {
            ctx.insert(var.clone(), result);
        }
        let Some(&node) = self.flow.by_id.get(&sus.node) else {
            return;
        };
        let mut t = Turn::new(self, s, out, now, sus.input, json!([]), json!([]));
        t.fired = sus.fired;
        t.muted = sus.muted;
        t.fire(node, sus.action + 1, true);
        let pending = t.pending_out_of_hours;
        self.finish_turn(s, pending, now, out, 0);
    }
}

/// `statusCode`, `code` and `status_code` all present on an `http_request` result (the
/// builder's docs use all three spellings).
fn http_aliases(mut r: Json) -> Json {
    if let Json::Object(m) = &mut r {
        let status = ["statusCode", "status_code", "code", "status"]
            .iter()
            .find_map(|k| m.get(*k).filter(|v| v.is_number()).cloned());
        if let Some(st) = status {
            for k in ["statusCode", "status_code", "code"] {
                m.entry(k).or_insert(st.clone());
            }
        }
    }
    r
}

fn system_roots(intents: &Json, now: i64) -> Json {
    let confidence = intents
        .get(0)
        .and_then(|i| i.get("confidence"))
        .and_then(Json::as_f64);
    let level = confidence.map(|c| {
        if c >= 0.8 {
            "high"
        } else if c >= 0.5 {
            "medium"
        } else {
            "low"
        }
    });
    let now_text = jiff::Timestamp::from_millisecond(now)
        .map(|t| t.to_string())
        .unwrap_or_default();
    json!({ "score_level": level, "base_has_answers": false, "__now": now_text })
}

/// A stable fingerprint of the flow's nodes (FNV-1a over ids and destinations).
fn fingerprint(flow: &CompiledFlow) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    for n in &flow.nodes {
        feed(n.id.as_bytes());
        for x in &n.next {
            feed(x.goto.as_bytes());
        }
        feed(if n.input.is_some() { b"i" } else { b"-" });
    }
    format!("{h:016x}")
}

/// True when `now` is outside the integration's business hours (or on a holiday).
pub fn out_of_hours(integ: &Integration, now: i64) -> Result<bool, String> {
    let Some(bh) = &integ.business_hours else {
        return Ok(false);
    };
    let tz = jiff::tz::TimeZone::get(&bh.timezone)
        .map_err(|_| format!("unknown time zone `{}`", bh.timezone))?;
    let ts = jiff::Timestamp::from_millisecond(now).map_err(|e| e.to_string())?;
    let local = ts.to_zoned(tz);
    let date = local.date().to_string();
    if bh.holidays.contains(&date) {
        return Ok(true);
    }
    let day = match local.weekday() {
        jiff::civil::Weekday::Monday => "mon",
        jiff::civil::Weekday::Tuesday => "tue",
        jiff::civil::Weekday::Wednesday => "wed",
        jiff::civil::Weekday::Thursday => "thu",
        jiff::civil::Weekday::Friday => "fri",
        jiff::civil::Weekday::Saturday => "sat",
        jiff::civil::Weekday::Sunday => "sun",
    };
    let hhmm = format!("{:02}:{:02}", local.hour(), local.minute());
    let open = bh.weekly.get(day).is_some_and(|ranges| {
        ranges
            .iter()
            .any(|[a, b]| a.as_str() <= hhmm.as_str() && hhmm.as_str() < b.as_str())
    });
    Ok(!open)
}

/// One turn: fires nodes, renders, and moves the focus.
struct Turn<'a> {
    bot: &'a Bot,
    s: &'a mut Session,
    out: &'a mut Vec<Output>,
    now: i64,
    input: Json,
    intents: Json,
    entities: Json,
    system: Json,
    fired: u32,
    /// The bot has left the scene: a hand-over happened earlier in this turn.
    muted: bool,
    /// A hand-over found the team out of hours: the chat closes once the turn ends.
    pending_out_of_hours: bool,
}

enum Step {
    Continue,
    Suspend,
}

impl<'a> Turn<'a> {
    fn new(
        bot: &'a Bot,
        s: &'a mut Session,
        out: &'a mut Vec<Output>,
        now: i64,
        input: Json,
        intents: Json,
        entities: Json,
    ) -> Self {
        let intents = if intents.is_null() {
            json!([])
        } else {
            intents
        };
        let entities = if entities.is_null() {
            json!([])
        } else {
            entities
        };
        let system = system_roots(&intents, now);
        Turn {
            bot,
            s,
            out,
            now,
            input,
            intents,
            entities,
            system,
            fired: 0,
            muted: false,
            pending_out_of_hours: false,
        }
    }

    fn scope(&self) -> Scope<'_> {
        Scope {
            context: &self.s.context,
            contact: &self.s.contact,
            input: &self.input,
            intents: &self.intents,
            entities: &self.entities,
            env: &self.bot.env,
            system: &self.system,
        }
    }

    fn cond(&mut self, e: &Expr, node: &str) -> bool {
        match Evaluator::new(self.scope(), self.bot.budget).condition(e) {
            Ok(b) => b,
            Err(err) => {
                self.eval_error(&err, node);
                false
            }
        }
    }

    fn render(&mut self, v: &CValue, node: &str) -> Option<Json> {
        match v.render(&mut Evaluator::new(self.scope(), self.bot.budget)) {
            Ok(j) => Some(j),
            Err(err) => {
                self.eval_error(&err, node);
                None
            }
        }
    }

    fn eval_error(&mut self, err: &EvalError, node: &str) {
        self.out.push(Output::error(
            &format!("expression_{}", err.code),
            err.message.clone(),
            Some(node),
        ));
    }

    /// After the user (or a chat close) answered: the focus node's `next`, then entry
    /// conditions in file order, then `anything_else`, then the start node.
    fn route(&mut self) {
        let flow = &self.bot.flow;
        if let Some(focus) = self
            .s
            .focus
            .clone()
            .and_then(|f| flow.by_id.get(&f).copied())
        {
            if let Some(t) = self.first_next(focus) {
                return self.fire(t, 0, false);
            }
        }
        for (i, n) in flow.nodes.iter().enumerate() {
            if let Entry::Expr(e) = &n.entry {
                if self.cond(e, &n.id) {
                    return self.fire(i, 0, false);
                }
            }
        }
        if let Some(f) = flow.fallback.or(flow.start) {
            return self.fire(f, 0, false);
        }
        self.s.focus = None;
    }

    /// The target of node `i`'s first `next` whose condition holds. SPEC §4.2: the first true
    /// one decides; when it names no node, that is reported and nothing fires from this list.
    fn first_next(&mut self, i: usize) -> Option<usize> {
        let node = &self.bot.flow.nodes[i];
        for x in &node.next {
            let holds = match &x.condition {
                None => true,
                Some(c) => self.cond(c, &node.id),
            };
            if holds {
                if x.target.is_none() {
                    self.out.push(Output::error(
                        "unknown_node",
                        format!("`goto` names no node: `{}`", x.goto),
                        Some(&node.id),
                    ));
                }
                return x.target;
            }
        }
        None
    }

    /// Fires node `i` from action `from_action` (0: the node is entered), then follows `next`.
    fn fire(&mut self, mut i: usize, mut from_action: usize, mut resuming: bool) {
        let flow = &self.bot.flow;
        loop {
            if !resuming {
                if self.fired >= MAX_FIRINGS {
                    self.out.push(Output::error(
                        "loop_limit",
                        format!("{MAX_FIRINGS} nodes fired in one turn; the turn stops here and the bot waits"),
                        Some(&flow.nodes[i].id),
                    ));
                    return;
                }
                self.fired += 1;
            }
            let node = &flow.nodes[i];
            if !resuming {
                self.out.push(Output::NodeEntered {
                    id: node.id.clone(),
                });
                for (key, v) in &node.context {
                    if let Some(val) = self.render(v, &node.id) {
                        assign(&mut self.s.context, key, val);
                    }
                }
                for (key, v) in &node.contact {
                    if let Some(val) = self.render(v, &node.id) {
                        assign(&mut self.s.contact, key, val);
                    }
                }
            }
            for k in from_action..node.actions.len() {
                if let Step::Suspend = self.action(i, k) {
                    return;
                }
            }
            for e in &node.events {
                if let Some(Json::Object(mut ev)) = self.render(e, &node.id) {
                    self.out.push(Output::EventEmitted {
                        event_name: ev
                            .remove("event_name")
                            .and_then(|n| n.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                        details: ev.remove("details"),
                        extra1: ev.remove("extra1"),
                        extra2: ev.remove("extra2"),
                    });
                }
            }
            let mut output = &node.output;
            for r in &node.responses {
                let holds = match &r.condition {
                    None => true,
                    Some(c) => self.cond(c, &node.id),
                };
                if holds {
                    output = &r.output;
                    break;
                }
            }
            for item in output {
                self.say(item, &node.id);
            }
            if node.input.is_some() {
                self.s.focus = Some(node.id.clone());
                self.s.tries = 0;
                self.out.push(Output::AwaitingInput {
                    node: node.id.clone(),
                });
                return;
            }
            let target = self.first_next(i);
            match target {
                Some(t) => {
                    i = t;
                    from_action = 0;
                    resuming = false;
                }
                None => {
                    self.s.focus = None;
                    return;
                }
            }
        }
    }

    fn say(&mut self, item: &CValue, node: &str) {
        let Some(Json::Object(mut by_channel)) = self.render(item, node) else {
            return;
        };
        let msg = self
            .s
            .channel
            .as_deref()
            .and_then(|c| by_channel.remove(c))
            .or_else(|| by_channel.remove("default"));
        let Some(msg) = msg else { return };
        if self.muted {
            return;
        }
        let text = (msg.get("type").and_then(Json::as_str) == Some("text")).then(|| {
            match msg.get("text") {
                Some(Json::String(s)) => s.clone(),
                Some(Json::Null) | None => String::new(),
                Some(other) => other.to_string(),
            }
        });
        if let Some(t) = &text {
            let t = t.clone();
            self.bot.remember(self.s, "bot", &t, self.now);
        }
        let message = if text.is_some() { None } else { Some(msg) };
        self.out.push(Output::Message {
            from: Speaker::Bot,
            text,
            message,
            node: Some(node.to_owned()),
            agent: None,
        });
    }

    fn action(&mut self, i: usize, k: usize) -> Step {
        let flow = &self.bot.flow;
        let node = &flow.nodes[i];
        let action = &node.actions[k];
        let mut params = Map::new();
        for (key, v) in &action.parameters {
            if let Some(val) = self.render(v, &node.id) {
                params.insert(key.clone(), val);
            }
        }
        if let Some(Json::Array(msgs)) = params.remove("before_action_messages") {
            for m in msgs {
                let text = match m {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                if !self.muted {
                    self.bot.remember(self.s, "bot", &text, self.now);
                    self.out.push(Output::Message {
                        from: Speaker::Bot,
                        text: Some(text),
                        message: None,
                        node: Some(node.id.clone()),
                        agent: None,
                    });
                }
            }
        }
        match action.name.as_str() {
            "start_live_chat" => {
                self.start_live_chat(i, action.result_variable.clone(), params);
                Step::Continue
            }
            name => {
                self.s.seq += 1;
                let id = format!("{}-{}", node.id, self.s.seq);
                self.out.push(Output::ActionRequested {
                    id: id.clone(),
                    name: name.to_owned(),
                    parameters: Json::Object(params),
                });
                self.s.suspended = Some(Suspended {
                    id,
                    name: name.to_owned(),
                    node: node.id.clone(),
                    action: k,
                    result_variable: action.result_variable.clone(),
                    input: self.input.clone(),
                    fired: self.fired,
                    muted: self.muted,
                });
                Step::Suspend
            }
        }
    }

    fn start_live_chat(
        &mut self,
        i: usize,
        result_variable: Option<String>,
        params: Map<String, Json>,
    ) {
        let node_id = self.bot.flow.nodes[i].id.clone();
        if self.s.chat.is_some() {
            self.out.push(Output::error(
                "live_chat_open",
                "`start_live_chat`: a live chat is already open",
                Some(&node_id),
            ));
            return;
        }
        let Some(id) = params.get("integration_id").and_then(normalise_id) else {
            self.out.push(Output::error(
                "missing_integration_id",
                "`start_live_chat` has no `integration_id`",
                Some(&node_id),
            ));
            return;
        };
        // With no integrations file every id runs on the simulator.
        let simulated;
        let integ = match self.bot.integration(&id) {
            Some(x) => x,
            None if self.bot.integrations.integrations.is_empty() => {
                simulated = Integration {
                    id: id.clone(),
                    name: None,
                    provider: Provider::Simulator,
                    wait_timeout_s: None,
                    user_inactivity_timeout_s: None,
                    include_history: false,
                    wait_notice: None,
                    business_hours: None,
                    queue_messages: Vec::new(),
                    mask_pii: false,
                    max_agent_message_chars: None,
                    settings: Map::new(),
                };
                &simulated
            }
            None => {
                self.out.push(Output::error(
                    "unknown_integration",
                    format!("no integration has the id `{id}`"),
                    Some(&node_id),
                ));
                return;
            }
        };
        let mut chat = LiveChat {
            integration_id: id.clone(),
            provider: integ.provider,
            phase: Phase::Requested,
            remote_id: None,
            acknowledged: false,
            result_variable,
            agents: Vec::new(),
            wait_deadline: integ
                .wait_timeout_s
                .filter(|w| *w > 0)
                .map(|w| self.now.saturating_add((w as i64).saturating_mul(1000))),
            inactivity_deadline: None,
            queued_at: self.now,
            queue_sent: 0,
            notice_sent: false,
        };
        match out_of_hours(integ, self.now) {
            Ok(true) => {
                // No hand-over: the chat "closes" at once. The rest of the turn runs as usual,
                // then the focus node gets the `out_of_hours` status.
                if let (Some(var), Json::Object(ctx)) = (&chat.result_variable, &mut self.s.context)
                {
                    ctx.insert(var.clone(), json!({ "status": "out_of_hours" }));
                }
                chat.wait_deadline = None;
                self.s.chat = Some(chat);
                self.pending_out_of_hours = true;
                return;
            }
            Ok(false) => {}
            Err(e) => self
                .out
                .push(Output::error("business_hours", e, Some(&node_id))),
        }
        let request = provider::handoff_request(&Handoff {
            integration: integ,
            parameters: &params,
            contact: self.s.contact.as_object().unwrap_or(&Map::new()),
            context: self.s.context.as_object().unwrap_or(&Map::new()),
            identifier: &self.s.id,
            history: &self.s.history,
            now_ms: self.now,
        });
        let params = if integ.mask_pii {
            mask_json(Json::Object(params))
        } else {
            Json::Object(params)
        };
        self.out.push(Output::HandoffRequested {
            integration_id: id,
            provider: integ.provider.as_str().to_owned(),
            parameters: params,
            request,
        });
        self.s.chat = Some(chat);
        self.muted = true;
    }
}

fn mask_json(v: Json) -> Json {
    match v {
        Json::String(s) => Json::String(pii::mask(&s)),
        Json::Array(a) => Json::Array(a.into_iter().map(mask_json).collect()),
        Json::Object(m) => Json::Object(m.into_iter().map(|(k, v)| (k, mask_json(v))).collect()),
        other => other,
    }
}

/// An event that makes no sense in the session's state: an `error`, and nothing changes.
fn unexpected(out: &mut Vec<Output>, message: impl Into<String>) {
    out.push(Output::error("unexpected_event", message, None));
}

/// `context` assignment: `null` deletes; an object replaces (documented choice).
fn assign(target: &mut Json, key: &str, val: Json) {
    if let Json::Object(m) = target {
        if val.is_null() {
            m.remove(key);
        } else {
            m.insert(key.to_owned(), val);
        }
    }
}
