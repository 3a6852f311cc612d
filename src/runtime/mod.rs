//! The async runtime around the engine, for a builder backend: sessions in a [`Store`], the
//! engine's effects performed through [`crate::drivers`], provider webhooks turned back into
//! events, and timers on tokio.
//!
//! Every event of a session runs under that session's lock: load, `Bot::handle`, save. Effects
//! run after the lock is released; their results (the provider accepted or failed) come back as
//! events. Time is read from a [`Clock`] — by default tokio's, so tests that pause tokio's clock
//! drive every timeout deterministically. Webhooks are idempotent: a delivery whose dedupe key
//! was seen is acknowledged and ignored.

pub mod server;

use crate::domain::{Event, Output, Provider};
use crate::drivers::http::Http;
use crate::drivers::{self, Conversation, Driver, Headers};
use crate::engine::Bot;
use crate::error::{Error, ErrorKind};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

/// Where sessions live between events. The in-memory [`MemoryStore`] is the default; a
/// durable store implements the same two calls.
pub trait Store: Send + Sync {
    /// The saved session, as JSON.
    fn load(&self, id: &str) -> Option<String>;
    /// Saves a session.
    fn save(&self, id: &str, state: String);
}

/// Sessions in memory.
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<HashMap<String, String>>);

impl Store for MemoryStore {
    fn load(&self, id: &str) -> Option<String> {
        self.0.lock().ok()?.get(id).cloned()
    }
    fn save(&self, id: &str, state: String) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(id.to_owned(), state);
        }
    }
}

/// Milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// Now.
    fn now_ms(&self) -> i64;
}

/// Wall-clock time measured with tokio's clock from a start instant: real time in production,
/// virtual time when tokio's clock is paused (tests).
#[derive(Debug)]
pub struct TokioClock {
    base_ms: i64,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// Starts at `base_ms`.
    pub fn starting_at(base_ms: i64) -> TokioClock {
        TokioClock {
            base_ms,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> i64 {
        self.base_ms
            .saturating_add(i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX))
    }
}

/// An output for the host (messages to deliver to the user, actions to run).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The session.
    pub session: String,
    /// What the engine said.
    pub output: Output,
}

/// How a webhook was handled (the HTTP status to answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOutcome {
    /// 200 handled (or a duplicate), 400 unreadable, 401 bad signature, 404 unknown
    /// integration or conversation.
    pub status: u16,
    /// Why, in words.
    pub message: String,
}

const SEEN_MAX: usize = 10_000;

struct Inner {
    bot: Bot,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    drivers: RwLock<HashMap<Provider, Arc<dyn Driver>>>,
    out: tokio::sync::mpsc::UnboundedSender<Delivery>,
    remote: Mutex<HashMap<(String, String), String>>,
    seen: Mutex<(HashSet<String>, VecDeque<String>)>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    timers: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
}

/// The runtime. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl Runtime {
    /// A runtime for `bot` with the built-in drivers; deliveries for the host arrive on the
    /// returned receiver.
    pub fn new(
        bot: Bot,
        store: Arc<dyn Store>,
        http: Http,
        clock: Arc<dyn Clock>,
    ) -> (Runtime, tokio::sync::mpsc::UnboundedReceiver<Delivery>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut map: HashMap<Provider, Arc<dyn Driver>> = HashMap::new();
        for p in [
            Provider::Liveperson,
            Provider::Zendesk,
            Provider::AltuConnector,
            Provider::Omni,
            Provider::WebexCc,
        ] {
            if let Some(d) = drivers::builtin(p, http.clone()) {
                map.insert(p, d);
            }
        }
        let inner = Inner {
            bot,
            store,
            clock,
            drivers: RwLock::new(map),
            out: tx,
            remote: Mutex::default(),
            seen: Mutex::default(),
            locks: Mutex::default(),
            timers: Mutex::default(),
        };
        (
            Runtime {
                inner: Arc::new(inner),
            },
            rx,
        )
    }

    /// Uses `driver` for `provider` (a provider fluxo does not ship, or a replacement).
    pub fn register_driver(&self, provider: Provider, driver: Arc<dyn Driver>) {
        if let Ok(mut m) = self.inner.drivers.write() {
            m.insert(provider, driver);
        }
    }

    /// The bot.
    pub fn bot(&self) -> &Bot {
        &self.inner.bot
    }

    /// The saved state of a session.
    pub fn session(&self, id: &str) -> Option<crate::engine::Session> {
        self.inner.bot.restore(&self.inner.store.load(id)?).ok()
    }

    fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self.inner.locks.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(id.to_owned()).or_default().clone()
    }

    /// Feeds an event to a session and performs what it asks for. Returns every output,
    /// including those of follow-up events (the provider's acceptance or failure).
    pub fn event<'a>(&'a self, id: &'a str, event: Event) -> drivers::BoxFuture<'a, Vec<Output>> {
        Box::pin(async move {
            let lock = self.lock_for(id);
            let guard = lock.lock().await;
            let bot = &self.inner.bot;
            let mut s = match self.inner.store.load(id).map(|t| bot.restore(&t)) {
                Some(Ok(s)) => s,
                Some(Err(e)) => {
                    tracing::warn!(target: "fluxo::runtime", session = id, error = %e, "saved session unusable; starting anew");
                    bot.new_session(id)
                }
                None => bot.new_session(id),
            };
            let outputs = bot.handle(&mut s, event, self.inner.clock.now_ms());
            if let Ok(text) = serde_json::to_string(&s) {
                self.inner.store.save(id, text);
            }
            let chat = s.chat.clone();
            if let Some(c) = &chat {
                if let Some(r) = &c.remote_id {
                    if let Ok(mut m) = self.inner.remote.lock() {
                        m.insert((c.integration_id.clone(), r.clone()), id.to_owned());
                    }
                }
            }
            let deadline = bot.next_deadline(&s);
            drop(guard);
            self.schedule(id, deadline);
            for o in &outputs {
                let _ = self.inner.out.send(Delivery {
                    session: id.to_owned(),
                    output: o.clone(),
                });
            }
            let mut all = outputs.clone();
            for o in &outputs {
                all.extend(self.effect(id, o, chat.as_ref()).await);
            }
            all
        })
    }

    fn driver(&self, p: Provider) -> Option<Arc<dyn Driver>> {
        self.inner.drivers.read().ok()?.get(&p).cloned()
    }

    /// The driver and the provider conversation for integration `iid` (`None` for an unknown
    /// integration, or a provider with no driver, such as the simulator).
    fn conversation(
        &self,
        id: &str,
        iid: &str,
        remote_id: Option<String>,
    ) -> Option<(Arc<dyn Driver>, Conversation)> {
        let integration = self.inner.bot.integrations().find(iid).cloned()?;
        let driver = self.driver(integration.provider)?;
        Some((
            driver,
            Conversation {
                identifier: id.to_owned(),
                remote_id,
                integration,
            },
        ))
    }

    /// Performs one output's effect; returns the outputs of the follow-up event, if any.
    async fn effect(
        &self,
        id: &str,
        o: &Output,
        chat: Option<&crate::engine::LiveChat>,
    ) -> Vec<Output> {
        let failed = |e: &Error, what: &str| {
            tracing::warn!(target: "fluxo::runtime", session = id, error = %e, "{what}");
            Event::ProviderError {
                message: e.to_string(),
            }
        };
        match o {
            Output::HandoffRequested {
                integration_id,
                request,
                remote_id,
                ..
            } => {
                let Some((driver, conv)) = self.conversation(id, integration_id, remote_id.clone())
                else {
                    return vec![];
                };
                match driver.open(&conv, request).await {
                    Ok(opened) => {
                        if let Ok(mut m) = self.inner.remote.lock() {
                            m.insert(
                                (integration_id.clone(), opened.remote_id.clone()),
                                id.to_owned(),
                            );
                        }
                        self.event(
                            id,
                            Event::ProviderOpened {
                                remote_id: opened.remote_id,
                                result: Some(opened.result),
                            },
                        )
                        .await
                    }
                    Err(e) => self.event(id, failed(&e, "hand-over failed")).await,
                }
            }
            Output::RelayToAgent { text } => {
                let Some(chat) = chat else { return vec![] };
                let Some((driver, conv)) =
                    self.conversation(id, &chat.integration_id, chat.remote_id.clone())
                else {
                    return vec![];
                };
                match driver.send(&conv, text).await {
                    Ok(()) => vec![],
                    // The agent cannot be reached: end the chat rather than leave the user talking to no one.
                    Err(e) => {
                        self.event(id, failed(&e, "relay to the agent failed"))
                            .await
                    }
                }
            }
            Output::CloseProviderConversation {
                integration_id,
                remote_id,
            } => {
                let Some((driver, conv)) = self.conversation(id, integration_id, remote_id.clone())
                else {
                    return vec![];
                };
                if let Err(e) = driver.close(&conv).await {
                    tracing::warn!(target: "fluxo::runtime", session = id, error = %e, "closing the provider's conversation failed");
                }
                vec![]
            }
            _ => vec![],
        }
    }

    /// Replaces the session's timer with one for `deadline`.
    fn schedule(&self, id: &str, deadline: Option<i64>) {
        let mut timers = self.inner.timers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = timers.remove(id) {
            old.abort();
        }
        let Some(at) = deadline else { return };
        let wait = u64::try_from(at.saturating_sub(self.inner.clock.now_ms())).unwrap_or(0);
        let rt = self.clone();
        let sid = id.to_owned();
        let handle = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            // This task is about to be replaced by the event's own scheduling: forget it first.
            if let Ok(mut t) = rt.inner.timers.lock() {
                t.remove(&sid);
            }
            rt.event(&sid, Event::Advance { seconds: 0 }).await;
        });
        timers.insert(id.to_owned(), handle);
    }

    fn first_time(&self, key: &str) -> bool {
        let mut seen = self.inner.seen.lock().unwrap_or_else(|p| p.into_inner());
        if !seen.0.insert(key.to_owned()) {
            return false;
        }
        seen.1.push_back(key.to_owned());
        if seen.1.len() > SEEN_MAX {
            if let Some(old) = seen.1.pop_front() {
                seen.0.remove(&old);
            }
        }
        true
    }

    fn forget(&self, key: &str) {
        if let Ok(mut seen) = self.inner.seen.lock() {
            seen.0.remove(key);
        }
    }

    /// Handles a provider webhook for integration `integration_id` (raw body, as received).
    pub async fn webhook(
        &self,
        integration_id: &str,
        headers: &Headers,
        body: &[u8],
    ) -> WebhookOutcome {
        let reply = |status: u16, m: &str| WebhookOutcome {
            status,
            message: m.to_owned(),
        };
        let Some(integration) = self.inner.bot.integrations().find(integration_id).cloned() else {
            return reply(404, "unknown integration");
        };
        let Some(driver) = self.driver(integration.provider) else {
            return reply(404, "no driver for this provider");
        };
        let inbound = match driver.webhook(&integration, headers, body) {
            Ok(i) => i,
            Err(e) if e.kind() == ErrorKind::Unauthorized => {
                tracing::warn!(target: "fluxo::runtime", integration = integration_id, reason = %e, "webhook refused");
                return reply(401, e.detail());
            }
            Err(e) => return reply(400, e.detail()),
        };
        for i in inbound {
            if !self.first_time(&i.dedupe) {
                continue;
            }
            let session = self.inner.remote.lock().ok().and_then(|m| {
                m.get(&(integration_id.to_owned(), i.remote_id.clone()))
                    .cloned()
            });
            let Some(session) = session else {
                self.forget(&i.dedupe);
                return reply(404, "unknown conversation");
            };
            // A join the session already has (a provider repeating itself in other words) is dropped.
            if let (Event::AgentJoin { name, .. }, Some(s)) = (&i.event, self.session(&session)) {
                if s.chat.as_ref().is_some_and(|c| c.agents.contains(name)) {
                    continue;
                }
            }
            self.event(&session, i.event).await;
        }
        reply(200, "ok")
    }
}
