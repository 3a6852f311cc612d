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

mod conversation;
mod handover;
mod hours;
mod input;
mod session;
mod timers;
mod turn;

pub use crate::domain::{CloseStatus, Event, Output, RepresentativeType, Speaker};
pub use hours::out_of_hours;
#[cfg_attr(not(feature = "lsp"), allow(unused_imports))]
pub(crate) use input::MASKS;
pub use session::{LiveChat, Phase, Session, STATE_VERSION};

use crate::compile::load::{load_flow, load_integrations};
use crate::compile::CompiledFlow;
use crate::domain::Provider;
use crate::error::{Error, ErrorKind};
use crate::expr::Budget;
use crate::model::{Integration, IntegrationsFile};
use serde_json::{json, Map, Value as Json};
use session::empty_object;

/// Most nodes that may fire in one turn.
pub const MAX_FIRINGS: u32 = 64;
/// Most history entries kept for a hand-over that sends the conversation so far.
pub const MAX_HISTORY: usize = 100;
/// Most bytes of history text kept (the oldest messages are dropped first).
pub const MAX_HISTORY_BYTES: usize = 4096;

/// A loaded flow and its integrations: compile once, serve many sessions.
#[derive(Debug, Clone)]
pub struct Bot {
    flow: CompiledFlow,
    integrations: IntegrationsFile,
    fingerprint: String,
    record_history: bool,
    env: Json,
    budget: Budget,
    /// Integrations a hand-over of this flow can use (`None`: any, an id is a template).
    reachable: Option<Vec<String>>,
}

impl Bot {
    /// A bot for a compiled flow.
    pub fn new(flow: CompiledFlow, integrations: Option<IntegrationsFile>) -> Bot {
        let integrations = integrations.unwrap_or(IntegrationsFile {
            schema: None,
            integrations: Vec::new(),
        });
        // History is recorded only when a hand-over of this flow may use an integration that
        // sends it; an id written as a template could name any integration.
        let sends_history =
            |i: &Integration| i.include_history || i.provider.always_sends_history();
        let mut used: Vec<&Integration> = Vec::new();
        let mut any_id = false;
        for a in flow.nodes.iter().flat_map(|n| &n.actions) {
            if crate::domain::BuiltinAction::parse(&a.name)
                != Some(crate::domain::BuiltinAction::StartLiveChat)
            {
                continue;
            }
            match a
                .param(crate::domain::INTEGRATION_ID)
                .and_then(|v| v.literal())
                .and_then(|id| crate::model::normalise_id(&id))
            {
                Some(id) => used.extend(integrations.find(&id)),
                None => any_id = true,
            }
        }
        let record_history = if any_id {
            integrations.integrations.iter().any(sends_history)
        } else {
            used.iter().any(|i| sends_history(i))
        };
        let reachable = (!any_id).then(|| used.iter().map(|i| i.id.clone()).collect());
        let fingerprint = fingerprint(&flow);
        Bot {
            flow,
            integrations,
            fingerprint,
            record_history,
            env: empty_object(),
            budget: Budget::default(),
            reachable,
        }
    }

    /// Whether a hand-over of this flow can use integration `id` (always true when the flow
    /// names an integration with a template).
    pub fn may_use(&self, id: &str) -> bool {
        self.reachable
            .as_ref()
            .is_none_or(|r| r.iter().any(|x| x == id))
    }

    /// Loads a flow (and an integrations file) from JSON text. Findings of error level that
    /// make the flow impossible to run (syntax, schema, expression syntax) come back in the
    /// error ([`Error::findings`]); the linter's other rules never stop a flow from running.
    pub fn from_json(flow: &str, integrations: Option<&str>) -> Result<Bot, Error> {
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
    ) -> Result<Bot, Error> {
        let integrations = integrations
            .map(|(ipath, bytes)| load_integrations(ipath, bytes))
            .transpose()?;
        Ok(Bot::new(load_flow(path, flow)?, integrations))
    }

    /// Loads a flow file and its integrations file (by default `integrations.json` beside the
    /// flow, when there is one).
    pub fn from_files(
        flow: &std::path::Path,
        integrations: Option<&std::path::Path>,
    ) -> Result<Bot, Error> {
        match crate::compile::load::load_flow_streamed(flow)? {
            Some(compiled) => Bot::with_integrations_of(compiled, flow, integrations),
            None => Bot::from_file_bytes(flow, &read_file(flow)?, integrations),
        }
    }

    /// A bot of a flow compiled from the file `flow`, with `integrations` (by default
    /// `integrations.json` beside the flow, when there is one).
    pub(crate) fn with_integrations_of(
        compiled: CompiledFlow,
        flow: &std::path::Path,
        integrations: Option<&std::path::Path>,
    ) -> Result<Bot, Error> {
        Ok(Bot::new(
            compiled,
            Bot::integrations_of(flow, integrations)?,
        ))
    }

    /// [`Bot::from_files`] with the flow file already read: `bytes` are the contents of `flow`.
    pub fn from_file_bytes(
        flow: &std::path::Path,
        bytes: &[u8],
        integrations: Option<&std::path::Path>,
    ) -> Result<Bot, Error> {
        let integrations = Bot::integrations_of(flow, integrations)?;
        Ok(Bot::new(
            load_flow(&flow.display().to_string(), bytes)?,
            integrations,
        ))
    }

    /// The integrations of the flow file `flow`: the file `integrations`, or else
    /// `integrations.json` beside the flow when there is one.
    fn integrations_of(
        flow: &std::path::Path,
        integrations: Option<&std::path::Path>,
    ) -> Result<Option<IntegrationsFile>, Error> {
        let beside = flow.with_file_name("integrations.json");
        integrations
            .map(std::path::Path::to_path_buf)
            .or_else(|| beside.exists().then_some(beside))
            .map(|p| load_integrations(&p.display().to_string(), &read_file(&p)?))
            .transpose()
    }

    /// Sets the `env` root expressions can read.
    pub fn with_env(mut self, env: Map<String, Json>) -> Bot {
        self.env = Json::Object(env);
        self
    }

    /// The compiled flow (for the crate's own readers: pictures and coverage).
    pub(crate) fn flow(&self) -> &CompiledFlow {
        &self.flow
    }

    /// The integrations.
    pub fn integrations(&self) -> &IntegrationsFile {
        &self.integrations
    }

    /// A new, empty session for the end user `id`.
    pub fn new_session(&self, id: &str) -> Session {
        Session::new(id, &self.fingerprint)
    }

    /// Resumes a session saved as JSON. Refuses, with a clear reason, a session of another
    /// format version or one saved against a flow whose nodes changed.
    pub fn restore(&self, saved: &str) -> Result<Session, Error> {
        let s = Session::from_json(saved)?;
        if s.flow != self.fingerprint {
            return Err(Error::new(
                ErrorKind::FlowChanged,
                "the session was saved with a different version of the flow (its nodes changed)",
            ));
        }
        for id in s.focus.iter().chain(s.suspended.as_ref().map(|x| &x.node)) {
            if !self.flow.by_id.contains_key(id) {
                return Err(Error::new(
                    ErrorKind::FlowChanged,
                    format!(
                        "the saved session points at node `{id}`, which the flow does not have"
                    ),
                ));
            }
        }
        if let Some(chat) = &s.chat {
            if self.integration(&chat.integration_id).is_none()
                && chat.provider != Provider::Simulator
            {
                return Err(Error::new(
                    ErrorKind::FlowChanged,
                    format!(
                        "the saved live chat uses integration `{}`, which is not configured",
                        chat.integration_id
                    ),
                ));
            }
        }
        Ok(s)
    }

    /// The fingerprint of this flow's structure (node ids, links, waits): sessions record it,
    /// and a session saved under another fingerprint ran on another version of the flow.
    pub fn version(&self) -> &str {
        &self.fingerprint
    }

    /// Another version of this bot's flow (file `path`, contents `flow`), with the same
    /// integrations and `env`: how a service keeps serving sessions that started on an older
    /// version after a deploy.
    pub fn another_version(&self, path: &str, flow: &[u8]) -> Result<Bot, Error> {
        let mut bot = Bot::new(load_flow(path, flow)?, Some(self.integrations.clone()));
        bot.env = self.env.clone();
        Ok(bot)
    }

    /// Resumes a session saved under *another* version of the flow, when this version can
    /// take it over where it stands: the node it waits at still exists and waits the same
    /// way (an open input, or the same action at the same place), and its live chat's
    /// integration is still configured. Otherwise the error says why, and the session should
    /// keep running on the version it started on. A session of this same version is simply
    /// restored.
    pub fn adopt(&self, saved: &str) -> Result<Session, Error> {
        let mut s = Session::from_json(saved)?;
        if s.flow == self.fingerprint {
            return self.restore(saved);
        }
        let changed = |m: String| Error::new(ErrorKind::FlowChanged, m);
        if let Some(id) = &s.focus {
            match self.flow.by_id.get(id).and_then(|&i| self.flow.nodes.get(i)) {
                None => return Err(changed(format!("it waits at node `{id}`, which the new version does not have"))),
                Some(n) if n.input.is_none() => {
                    return Err(changed(format!("it waits for the user at node `{id}`, which has no open input in the new version")))
                }
                Some(_) => {}
            }
        }
        if let Some(x) = &s.suspended {
            let same = self
                .flow
                .by_id
                .get(&x.node)
                .and_then(|&i| self.flow.nodes.get(i))
                .and_then(|n| n.actions.get(x.action))
                .is_some_and(|a| a.name == x.name);
            if !same {
                return Err(changed(format!(
                    "it waits for the result of action `{}` at node `{}`, which the new version does not run there",
                    x.name, x.node
                )));
            }
        }
        if let Some(chat) = &s.chat {
            if self.integration(&chat.integration_id).is_none()
                && chat.provider != Provider::Simulator
            {
                return Err(changed(format!(
                    "its live chat uses integration `{}`, which is not configured",
                    chat.integration_id
                )));
            }
        }
        s.flow.clone_from(&self.fingerprint);
        Ok(s)
    }

    fn integration(&self, id: &str) -> Option<&Integration> {
        self.integrations.find(id)
    }

    /// Feeds one event at time `now` (milliseconds since the Unix epoch) and returns what the
    /// bot says and asks for. Timers due at or before `now` fire first, in order.
    pub fn handle(&self, s: &mut Session, event: Event, now: i64) -> Vec<Output> {
        let mut out = Vec::new();
        let now = now.max(s.clock);
        self.fire_timers(s, now, &mut out);
        s.clock = now;
        if !s.started && !matches!(event, Event::Start { .. } | Event::StartAt { .. }) {
            self.start(s, None, None, None, now, &mut out);
        }
        match event {
            Event::Start {
                channel,
                context,
                contact,
            } => self.start(s, channel, context, contact, now, &mut out),
            Event::StartAt {
                node,
                channel,
                context,
                contact,
            } => match self.flow.by_id.get(&node) {
                Some(&i) => self.start_at(s, i, channel, context, contact, now, &mut out),
                None => out.push(Output::error(
                    ErrorKind::UnexpectedEvent,
                    format!("`start_at`: the flow has no node `{node}`"),
                    None,
                )),
            },
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
            Event::AgentJoin {
                name,
                avatar,
                representative_type,
            } => self.agent_join(
                s,
                name,
                avatar,
                representative_type == Some(RepresentativeType::Bot),
                now,
                &mut out,
            ),
            Event::AgentMessage { text, content } => {
                self.agent_message(s, text, content, now, &mut out)
            }
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
            Event::Set { context, contact } => {
                for (into, from) in [(&mut s.context, context), (&mut s.contact, contact)] {
                    if let (Some(m), Some(vars)) = (into.as_object_mut(), from) {
                        m.extend(vars);
                    }
                }
            }
            // Only a live chat with an agent has someone to tell; otherwise nothing happens.
            Event::UserTyping { typing } => {
                if s.chat
                    .as_ref()
                    .is_some_and(|c| c.phase == session::Phase::Active)
                {
                    out.push(Output::Typing {
                        from: "user".into(),
                        typing,
                    });
                }
            }
            Event::UserFile {
                url,
                name,
                mime_type,
            } => match &mut s.chat {
                Some(chat) => {
                    if chat.phase == session::Phase::Active {
                        chat.inactivity_deadline = None;
                    }
                    out.push(Output::File {
                        from: "user".into(),
                        url,
                        name,
                        mime_type,
                    });
                }
                // The bot reads text: it gets the file's address.
                None => self.user(s, url, None, None, None, now, &mut out),
            },
            Event::AgentFile {
                url,
                name,
                mime_type,
            } => match &s.chat {
                Some(chat) => {
                    if chat.phase != session::Phase::Active {
                        // As for a message: the file says an agent is there.
                        self.agent_join(s, "agent".into(), None, false, now, &mut out);
                    }
                    let inactivity = self.inactivity_after(s, now);
                    if let Some(chat) = &mut s.chat {
                        chat.inactivity_deadline = inactivity;
                    }
                    out.push(Output::File {
                        from: "agent".into(),
                        url,
                        name,
                        mime_type,
                    });
                }
                None => unexpected(&mut out, "`agent_file`: no live chat is open"),
            },
            Event::AgentTyping { typing } => match s.chat.is_some() {
                true => out.push(Output::Typing {
                    from: "agent".into(),
                    typing,
                }),
                false => unexpected(&mut out, "`agent_typing`: no live chat is open"),
            },
        }
        out
    }
}

/// `secs` seconds after `ms` (milliseconds), saturating: an absurd timeout is "never", not a
/// deadline that wrapped into the past.
pub(crate) fn after_secs(ms: i64, secs: u64) -> i64 {
    ms.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000))
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

/// The contents of file `p`, or an [`ErrorKind::Io`] error that names it.
pub(crate) fn read_file(p: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(p)
        .map_err(|e| Error::new(ErrorKind::Io, format!("{}: {e}", p.display())).with_source(e))
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

fn mask_json(v: Json) -> Json {
    match v {
        Json::String(s) => Json::String(crate::domain::pii::mask(&s)),
        Json::Array(a) => Json::Array(a.into_iter().map(mask_json).collect()),
        Json::Object(m) => Json::Object(m.into_iter().map(|(k, v)| (k, mask_json(v))).collect()),
        other => other,
    }
}

/// An event that makes no sense in the session's state: an `error`, and nothing changes.
fn unexpected(out: &mut Vec<Output>, message: impl Into<String>) {
    out.push(Output::error(ErrorKind::UnexpectedEvent, message, None));
}

/// Deepest nesting of a value written into `context` or `contact`. A saved session nests it two
/// levels deeper, and JSON readers (serde_json among them) refuse 128 levels: capping here
/// keeps every session restorable.
pub const MAX_VALUE_DEPTH: usize = 64;

/// Nesting depth of a JSON value (a scalar is 0), counted without recursion.
fn depth(v: &Json) -> usize {
    let mut max = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            Json::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            Json::Object(m) => stack.extend(m.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    max
}

/// `context` / `contact` assignment: `null` deletes; an object replaces (documented choice). A
/// value nested deeper than [`MAX_VALUE_DEPTH`] is refused with `context_too_deep`, and the
/// variable keeps its value.
pub(crate) fn assign(target: &mut Json, key: &str, val: Json) -> Result<(), Error> {
    let d = depth(&val);
    if d > MAX_VALUE_DEPTH {
        return Err(Error::new(
            ErrorKind::ContextTooDeep,
            format!(
                "`{key}` would be nested {d} levels deep; a conversation keeps values at most {MAX_VALUE_DEPTH} levels deep, so it keeps its value"
            ),
        ));
    }
    if let Json::Object(m) = target {
        if val.is_null() {
            m.remove(key);
        } else {
            m.insert(key.to_owned(), val);
        }
    }
    Ok(())
}
