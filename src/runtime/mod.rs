//! The durable runtime around the engine, for a builder backend (embedded, or behind
//! `fluxo serve`): sessions, outputs, effects, timers and webhook deliveries in a [`Store`],
//! the engine's effects performed through [`crate::drivers`], provider webhooks turned back
//! into events.
//!
//! A turn is one store transaction: the session is read under a lock that serialises the
//! conversation across processes, the engine runs, and the new session, its numbered outputs
//! (`seq`), the effects it asked for (the outbox), its next deadline and the
//! provider-conversation index are committed together. Effects are then performed by the
//! process that committed them, at once, and, after a crash, by any process's outbox worker,
//! with the same idempotency key. Webhooks are verified, stored (their de-duplication key is
//! the inbox row's key) and processed from the store. Timers are deadlines in the store that
//! any process's timer worker fires; the engine decides, under the row lock, whether a timer
//! is still due, so a deadline fires once however many workers see it.
//!
//! Time is read from a [`Clock`]: by default tokio's, so tests that pause tokio's clock drive
//! every timeout deterministically.

pub mod effect;
mod pool;
pub mod server;
pub mod store;
mod watson_api;

pub use effect::EffectKind;

pub use store::{Key, MemoryStore, Store};

use crate::domain::{Event, Output, Provider};
use crate::drivers::http::Http;
use crate::drivers::{self, Conversation, Driver, Headers, Secret};
use crate::engine::{Bot, Session};
use crate::error::{Error, ErrorKind};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;
use store::{Committed, Done, NewDelivery, NewEffect, Saved};

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

    /// Starts now (the system clock).
    pub fn now() -> TokioClock {
        TokioClock::starting_at(jiff::Timestamp::now().as_millisecond())
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> i64 {
        self.base_ms
            .saturating_add(i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX))
    }
}

/// An output, as it was committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The bot.
    pub bot: String,
    /// The conversation.
    pub session: String,
    /// Its `seq` in the conversation.
    pub seq: i64,
    /// What the engine said.
    pub output: Output,
}

/// How a webhook was handled (the HTTP status to answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOutcome {
    /// 200 stored (or a duplicate, or about a conversation that is not live: acknowledged
    /// and logged), 400 unreadable, 401 bad signature, 404 unknown integration, 503 the store
    /// could not record it (the provider retries).
    pub status: u16,
    /// Why, in words.
    pub message: String,
}

/// Where outputs are pushed (`fluxo serve --deliver-to`): a signed HTTP POST per output,
/// retried until accepted, in `seq` order per conversation.
#[derive(Debug, Clone)]
pub struct DeliverTo {
    /// The channel's URL.
    pub url: String,
    /// Key of the `X-Fluxo-Signature: sha256=<hex HMAC of the body>` header.
    pub secret: Secret,
}

/// Settings of a [`Runtime`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Push outputs to the channel.
    pub deliver_to: Option<DeliverTo>,
    /// How long a claimed effect or delivery is reserved for the process that claimed it.
    pub lease: Duration,
    /// How long the workers leave a new effect to the process that committed it.
    pub grace: Duration,
    /// Run the timer, outbox and inbox workers (off: the host calls [`Runtime::work`]).
    pub workers: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            deliver_to: None,
            lease: Duration::from_secs(30),
            grace: Duration::from_secs(5),
            workers: true,
        }
    }
}

/// The most versions of one bot kept compiled at once (older ones are recompiled from the
/// store when a session needs them).
const VERSION_CACHE: usize = 16;
/// A webhook for a provider conversation not (yet) in the index is retried this long: the
/// provider may call before its answer to the hand-over has been applied.
const UNROUTED_RETRY_MS: i64 = 60_000;

struct Versions {
    current: Arc<Bot>,
    /// The flow file's bytes and name, recorded in the store so sessions on this version
    /// survive the next deploy.
    source: Option<(String, Arc<[u8]>)>,
    recorded: AtomicBool,
    older: Mutex<HashMap<String, Arc<Bot>>>,
}

struct Inner {
    bots: BTreeMap<String, Versions>,
    /// The names of the bots served, for the store's timer queries.
    served: Vec<String>,
    default_bot: String,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    http: Http,
    drivers: RwLock<HashMap<Provider, Arc<dyn Driver>>>,
    deliveries: tokio::sync::broadcast::Sender<Delivery>,
    options: Options,
    wake_timers: tokio::sync::Notify,
    wake_outbox: tokio::sync::Notify,
    wake_inbox: tokio::sync::Notify,
    stopping: AtomicBool,
    /// Turns true at shutdown: open long-polls answer at once.
    stop: tokio::sync::watch::Sender<bool>,
    pools: pool::Pools,
}

/// A bot the runtime serves: its name, its compiled flow and the flow file it came from.
#[derive(Debug, Clone)]
pub struct NamedBot {
    /// The bot's name (in routes and in the store).
    pub name: String,
    /// The compiled bot.
    pub bot: Bot,
    /// The flow file's name and bytes (kept in the store; `None`: sessions of this version
    /// cannot outlive a deploy of another one).
    pub source: Option<(String, Vec<u8>)>,
}

/// The runtime. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

/// The result of a turn taken through [`Runtime::send`].
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// The outputs, each with its `seq`.
    pub outputs: Vec<Json>,
}

impl Runtime {
    /// A runtime serving one bot (named `default`) with the built-in drivers; every committed
    /// output is also broadcast on the returned receiver (a slow receiver misses outputs and
    /// is told so; the store keeps them all).
    pub fn new(
        bot: Bot,
        store: Arc<dyn Store>,
        http: Http,
        clock: Arc<dyn Clock>,
    ) -> (Runtime, tokio::sync::broadcast::Receiver<Delivery>) {
        let named = NamedBot {
            name: "default".into(),
            bot,
            source: None,
        };
        Runtime::with_bots(vec![named], store, http, clock, Options::default())
    }

    /// A runtime serving several bots (the first is the default of [`Runtime::event`]).
    /// Starts its workers when called within a tokio runtime and `options.workers` is on.
    pub fn with_bots(
        bots: Vec<NamedBot>,
        store: Arc<dyn Store>,
        http: Http,
        clock: Arc<dyn Clock>,
        options: Options,
    ) -> (Runtime, tokio::sync::broadcast::Receiver<Delivery>) {
        let (tx, rx) = tokio::sync::broadcast::channel(4096);
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
        let default_bot = bots.first().map(|b| b.name.clone()).unwrap_or_default();
        let bots: BTreeMap<String, Versions> = bots
            .into_iter()
            .map(|b| {
                (
                    b.name,
                    Versions {
                        current: Arc::new(b.bot),
                        source: b.source.map(|(n, s)| (n, Arc::from(s))),
                        recorded: AtomicBool::new(false),
                        older: Mutex::default(),
                    },
                )
            })
            .collect();
        let workers = options.workers;
        let served: Vec<String> = bots.keys().cloned().collect();
        let rt = Runtime {
            inner: Arc::new(Inner {
                served,
                bots,
                default_bot,
                store,
                clock,
                http,
                drivers: RwLock::new(map),
                deliveries: tx,
                options,
                wake_timers: tokio::sync::Notify::new(),
                wake_outbox: tokio::sync::Notify::new(),
                wake_inbox: tokio::sync::Notify::new(),
                stopping: AtomicBool::new(false),
                stop: tokio::sync::watch::channel(false).0,
                pools: pool::Pools::default(),
            }),
        };
        if workers && tokio::runtime::Handle::try_current().is_ok() {
            rt.spawn_workers();
        }
        (rt, rx)
    }

    /// Uses `driver` for `provider` (a provider fluxo does not ship, or a replacement).
    pub fn register_driver(&self, provider: Provider, driver: Arc<dyn Driver>) {
        if let Ok(mut m) = self.inner.drivers.write() {
            m.insert(provider, driver);
        }
    }

    /// The default bot (`None` only for a runtime built with no bot).
    pub fn bot(&self) -> Option<&Bot> {
        self.bot_named(&self.inner.default_bot)
    }

    /// The names of the bots served.
    pub fn bots(&self) -> impl Iterator<Item = &str> {
        self.inner.bots.keys().map(String::as_str)
    }

    /// The current version of bot `name`.
    pub fn bot_named(&self, name: &str) -> Option<&Bot> {
        self.inner.bots.get(name).map(|v| &*v.current)
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// New outputs as they are committed (see [`Runtime::new`]).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Delivery> {
        self.inner.deliveries.subscribe()
    }

    /// Starts a graceful shutdown: the workers claim nothing more and stop after what they
    /// are doing, and open long-polls answer at once with what they have.
    pub fn stop(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.stop.send_replace(true);
        self.inner.wake_timers.notify_waiters();
        self.inner.wake_outbox.notify_waiters();
        self.inner.wake_inbox.notify_waiters();
    }

    /// Ends a graceful shutdown: [`Runtime::stop`], then waits up to `grace` for the effects
    /// being performed (provider calls in flight) to finish and apply their results. Those
    /// still running then are handed back to the store (their lease released), so another
    /// replica, or this one restarted, performs them at once. Returns how many were handed
    /// back.
    pub async fn finish(&self, grace: Duration) -> usize {
        self.stop();
        let deadline = tokio::time::Instant::now() + grace;
        if self.inner.pools.idle(deadline).await {
            return 0;
        }
        let running = self.inner.pools.running();
        for id in &running {
            if let Err(e) = self
                .inner
                .store
                .retry_effect(*id, self.now(), "handed back at shutdown")
                .await
            {
                tracing::warn!(target: "fluxo::runtime", effect = id, error = %e, "handing an effect back failed; it is retried when its lease ends");
            }
        }
        tracing::warn!(target: "fluxo::runtime", effects = running.len(), "effects still running at the end of the shutdown grace were handed back");
        running.len()
    }

    /// How many effects this process is performing now.
    pub fn effects_in_flight(&self) -> usize {
        self.inner.pools.count()
    }

    fn now(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// The saved session of conversation `id` of the default bot.
    pub async fn session(&self, id: &str) -> Option<Session> {
        let key = Key::new(self.inner.default_bot.clone(), id);
        self.session_of(&key).await.ok().flatten().map(|(s, _)| s)
    }

    /// The saved session of a conversation and what the store knows of it.
    pub async fn session_of(&self, key: &Key) -> Result<Option<(Session, Saved)>, Error> {
        let Some(saved) = self.inner.store.load(key).await? else {
            return Ok(None);
        };
        let bot = self.version_of(&key.bot, &saved.version).await?;
        Ok(Some((bot.restore(&saved.session)?, saved)))
    }

    fn versions(&self, bot: &str) -> Result<&Versions, Error> {
        self.inner
            .bots
            .get(bot)
            .ok_or_else(|| Error::new(ErrorKind::UnknownBot, format!("no bot named `{bot}`")))
    }

    /// Records the current version's source in the store (once per process).
    async fn record(&self, bot: &str) -> Result<(), Error> {
        let v = self.versions(bot)?;
        if v.recorded.load(Ordering::Relaxed) {
            return Ok(());
        }
        if let Some((_, source)) = &v.source {
            self.inner
                .store
                .save_version(bot, v.current.version(), source)
                .await?;
        }
        v.recorded.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// The bot for `version` of `bot`: the current one, or an older one recompiled from the
    /// source recorded in the store.
    async fn version_of(&self, bot: &str, version: &str) -> Result<Arc<Bot>, Error> {
        let v = self.versions(bot)?;
        if v.current.version() == version {
            return Ok(v.current.clone());
        }
        if let Some(b) = v
            .older
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(version)
        {
            return Ok(b.clone());
        }
        let Some(source) = self.inner.store.version_source(bot, version).await? else {
            return Err(Error::new(
                ErrorKind::FlowChanged,
                format!("the session runs on version {version} of bot `{bot}`, whose flow is not recorded in the store"),
            ));
        };
        let name = v.source.as_ref().map_or("flow.json", |(n, _)| n.as_str());
        let older = Arc::new(v.current.another_version(name, &source)?);
        let mut cache = v
            .older
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= VERSION_CACHE {
            cache.clear();
        }
        cache.insert(version.to_owned(), older.clone());
        Ok(older)
    }

    /// Feeds an event to conversation `id` of the default bot and performs what it asks for
    /// at once. Returns every output, including those of follow-up events (the provider's
    /// acceptance or failure); a failure of the store comes back as an `error` output.
    pub fn event<'a>(&'a self, id: &'a str, event: Event) -> drivers::BoxFuture<'a, Vec<Output>> {
        Box::pin(async move {
            let key = Key::new(self.inner.default_bot.clone(), id);
            let mut all = match self.turn(&key, event, None, Check::None).await {
                Ok(Some((_, outputs, _))) => outputs,
                Ok(None) => Vec::new(),
                Err(e) => return vec![Output::from(e)],
            };
            all.extend(self.drain(&key).await);
            all
        })
    }

    /// Takes a turn for conversation `key` and answers once it is committed: the outputs with
    /// their `seq`. Its effects are performed in the background.
    pub async fn send(&self, key: &Key, event: Event) -> Result<Turn, Error> {
        let committed = self.turn(key, event, None, Check::None).await?;
        Ok(self.answered(key, committed))
    }

    /// [`Runtime::send`] with the channel's `Idempotency-Key`: the first event sent with a key
    /// takes its turn, and its answer is recorded in the same transaction; the same event sent
    /// again with that key (a retry after a lost answer or a 503) gets the recorded answer and
    /// changes nothing. The same key with another event is refused (`Conflict`). Keys are
    /// per conversation and kept 7 days.
    pub async fn send_once(&self, key: &Key, event: Event, idem: &str) -> Result<Turn, Error> {
        let fingerprint = {
            use sha2::Digest as _;
            let body = serde_json::to_vec(&event).unwrap_or_default();
            sha2::Sha256::digest(&body)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let replay = |a: store::Answer| {
            if a.fingerprint == fingerprint {
                Ok(Turn { outputs: a.outputs })
            } else {
                Err(Error::new(
                    ErrorKind::Conflict,
                    "this Idempotency-Key was used for another event in this conversation",
                ))
            }
        };
        if let Some(a) = self.inner.store.answer(key, idem).await? {
            return replay(a);
        }
        let idempotency = Some((idem.to_owned(), fingerprint.clone()));
        match self
            .turn_with(key, event, None, Check::None, idempotency)
            .await
        {
            Ok(committed) => Ok(self.answered(key, committed)),
            // A concurrent request with the same key committed first.
            Err(e) if e.kind() == ErrorKind::Conflict => {
                match self.inner.store.answer(key, idem).await? {
                    Some(a) => replay(a),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The answer to a committed turn; its effects start in the background.
    fn answered(&self, key: &Key, committed: Option<(Committed, Vec<Output>, usize)>) -> Turn {
        let (outputs, effects) = committed.map_or((Vec::new(), 0), |(c, _, n)| (c.outputs, n));
        if effects > 0 {
            let rt = self.clone();
            let key = key.clone();
            tokio::spawn(async move {
                rt.drain(&key).await;
            });
        }
        Turn { outputs }
    }

    /// Outputs of `key` with `seq > after`; with `wait`, waits up to that long for the first.
    pub async fn outputs(&self, key: &Key, after: i64, wait: Duration) -> Result<Vec<Json>, Error> {
        self.versions(&key.bot)?;
        let deadline = tokio::time::Instant::now() + wait;
        let mut rx = self.inner.deliveries.subscribe();
        let mut stop = self.inner.stop.subscribe();
        loop {
            let got = self.inner.store.outputs(key, after, 1000).await?;
            if !got.is_empty() || tokio::time::Instant::now() >= deadline || *stop.borrow() {
                return Ok(got);
            }
            // Woken by a local commit for this conversation, or every 500 ms (another
            // replica may have committed).
            let step = tokio::time::Instant::now() + Duration::from_millis(500);
            let until = step.min(deadline);
            loop {
                let next = tokio::select! {
                    r = tokio::time::timeout_at(until, rx.recv()) => r,
                    // Shutting down: answer now (the channel polls again, elsewhere).
                    _ = stop.wait_for(|s| *s) => break,
                };
                match next {
                    Ok(Ok(d)) if d.bot == key.bot && d.session == key.conversation => break,
                    Ok(Ok(_)) => continue,
                    Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => break,
                    Ok(Err(_)) | Err(_) => break,
                }
            }
        }
    }

    /// One turn: load under the lock, pick the flow version, run the engine, commit.
    /// `Ok(None)`: the check refused the event (nothing changed).
    async fn turn(
        &self,
        key: &Key,
        event: Event,
        done: Option<Done>,
        check: Check,
    ) -> Result<Option<(Committed, Vec<Output>, usize)>, Error> {
        self.turn_with(key, event, done, check, None).await
    }

    /// [`Runtime::turn`], recording the answer under the channel's `Idempotency-Key`.
    async fn turn_with(
        &self,
        key: &Key,
        event: Event,
        done: Option<Done>,
        check: Check,
        idempotency: Option<(String, String)>,
    ) -> Result<Option<(Committed, Vec<Output>, usize)>, Error> {
        let versions = self.versions(&key.bot)?;
        self.record(&key.bot).await?;
        let current = versions.current.clone();
        // A session on an older version that the current one cannot take over needs that
        // version compiled, which the transaction cannot wait for: it says which, and the turn
        // is taken again with it.
        let mut older: Option<(String, Arc<Bot>)> = None;
        for _ in 0..3 {
            let slot: Arc<Mutex<TurnOut>> = Arc::default();
            let body = TurnBody {
                rt: self.clone(),
                key: key.clone(),
                current: current.clone(),
                older: older.clone(),
                event: event.clone(),
                done,
                check: check.clone(),
                idempotency: idempotency.clone(),
                slot: slot.clone(),
            };
            let started = std::time::Instant::now();
            let r = self
                .inner
                .store
                .turn(key.clone(), Box::new(move |saved| body.run(saved)))
                .await;
            metrics::histogram!("fluxo_store_seconds", "op" => "turn")
                .record(started.elapsed().as_secs_f64());
            let out = std::mem::take(
                &mut *slot
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            match r {
                Err(e) if e.kind() == ErrorKind::Conflict => match out.needs {
                    Some(v) => {
                        older = Some((v.clone(), self.version_of(&key.bot, &v).await?));
                    }
                    // Not a version to compile: a repeated Idempotency-Key.
                    None => return Err(e),
                },
                Err(e) => return Err(e),
                Ok(None) => return Ok(None),
                Ok(Some(c)) => {
                    metrics::counter!("fluxo_turns_total", "bot" => key.bot.clone()).increment(1);
                    if self.inner.deliveries.receiver_count() > 0 {
                        for (i, o) in out.outputs.iter().enumerate() {
                            let _ = self.inner.deliveries.send(Delivery {
                                bot: key.bot.clone(),
                                session: key.conversation.clone(),
                                seq: c.first_seq + i64::try_from(i).unwrap_or(0),
                                output: o.clone(),
                            });
                        }
                    }
                    if out.new_deadline {
                        self.inner.wake_timers.notify_waiters();
                    }
                    return Ok(Some((c, out.outputs, out.effects)));
                }
            }
        }
        Err(Error::new(
            ErrorKind::Store,
            "the session's flow version kept changing; try again",
        ))
    }

    fn driver(&self, p: Provider) -> Option<Arc<dyn Driver>> {
        self.inner.drivers.read().ok()?.get(&p).cloned()
    }

    fn has_driver(&self, bot: &Bot, iid: &str) -> bool {
        bot.integrations()
            .find(iid)
            .is_some_and(|i| self.driver(i.provider).is_some())
    }

    /// Performs this conversation's new effects now (the process that committed them);
    /// returns the outputs of the follow-up turns.
    async fn drain(&self, key: &Key) -> Vec<Output> {
        let mut all = Vec::new();
        for _ in 0..64 {
            let lease = ms(self.inner.options.lease);
            let claimed = match self
                .inner
                .store
                .claim_effects(self.now(), lease, Some(key), 8)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "claiming effects failed");
                    break;
                }
            };
            if claimed.is_empty() {
                break;
            }
            for effect in claimed {
                // A channel push never delays the provider lane (a hand-over, a relay): with
                // workers it runs beside it, in its own pool.
                if effect.kind == EffectKind::Deliver.as_str() && self.spawns() {
                    let rt = self.clone();
                    tokio::spawn(async move {
                        rt.perform(effect).await;
                    });
                    continue;
                }
                all.extend(self.perform(effect).await);
            }
        }
        all
    }

    /// Whether effects run in background tasks (the workers are on), rather than inline in
    /// [`Runtime::work`].
    fn spawns(&self) -> bool {
        self.inner.options.workers
    }

    /// Performs a conversation's new effects: in the background with workers, so the timer and
    /// webhook loops never wait for a provider; inline without.
    async fn drain_soon(&self, key: &Key) {
        if self.spawns() {
            let rt = self.clone();
            let key = key.clone();
            tokio::spawn(async move {
                rt.drain(&key).await;
            });
        } else {
            self.drain(key).await;
        }
    }

    /// Performs one outbox effect; returns the outputs of the follow-up turn, if any. While
    /// it runs, its lease is renewed every third of the lease (a heartbeat), so however long
    /// the provider takes, no other worker or replica claims the effect while this run is
    /// alive; after a crash the heartbeat stops and the lease runs out.
    async fn perform(&self, effect: store::Effect) -> Vec<Output> {
        let id = effect.id;
        let Some(_running) = self.inner.pools.start(id) else {
            return Vec::new();
        };
        let lease = ms(self.inner.options.lease);
        let beat = Duration::from_millis(u64::try_from((lease / 3).max(50)).unwrap_or(1000));
        let work = self.perform_now(effect);
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                () = tokio::time::sleep(beat) => {
                    let until = self.now().saturating_add(lease);
                    if let Err(e) = self.inner.store.extend_effect(id, until).await {
                        tracing::warn!(target: "fluxo::runtime", effect = id, error = %e, "renewing an effect's lease failed");
                    }
                }
            }
        }
    }

    async fn perform_now(&self, effect: store::Effect) -> Vec<Output> {
        let key = effect.key.clone();
        let id = effect.id;
        let follow = |event: Event, check: Check| {
            let key = key.clone();
            async move {
                match self.turn(&key, event, Some(Done::Effect(id)), check).await {
                    Ok(Some((_, o, _))) => o,
                    Ok(None) => Vec::new(),
                    Err(e) => {
                        tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "applying an effect's result failed; it will be retried");
                        Vec::new()
                    }
                }
            }
        };
        let Some(kind) = EffectKind::parse(&effect.kind) else {
            let message = format!("unknown effect kind `{}`", effect.kind);
            tracing::error!(target: "fluxo::runtime", conversation = %key, effect = id, error = %message, "effect cannot be performed; kept as a dead letter");
            metrics::counter!("fluxo_dead_letters_total", "queue" => "outbox").increment(1);
            let _ = self.inner.store.fail_effect(id, self.now(), &message).await;
            return Vec::new();
        };
        let p = &effect.payload;
        let text = |k: &str| p.get(k).and_then(Json::as_str).map(str::to_owned);
        if kind == EffectKind::Deliver {
            let Ok(_worker) = self.inner.pools.lane("channel").acquire_owned().await else {
                return Vec::new();
            };
            self.deliver(&effect).await;
            return Vec::new();
        }
        let iid = text("integration_id").unwrap_or_default();
        let conv = self.conversation(&key, &iid, text("remote_id"), &effect);
        let Some((driver, conv)) = conv else {
            let _ = self.inner.store.finish_effect(id, self.now()).await;
            return Vec::new();
        };
        // One pool per provider: a provider that hangs holds its own workers only.
        let lane = format!("provider:{}", conv.integration.provider.as_str());
        let Ok(_worker) = self.inner.pools.lane(&lane).acquire_owned().await else {
            return Vec::new();
        };
        metrics::counter!("fluxo_effects_total", "kind" => kind.as_str()).increment(1);
        match kind {
            EffectKind::Handoff => {
                let request = serde_json::from_value(p.get("request").cloned().unwrap_or_default());
                let request = match request {
                    Ok(r) => rebase(r, text("base_url").as_deref(), &conv.integration),
                    Err(e) => {
                        return follow(
                            Event::ProviderError {
                                message: format!("unreadable hand-over request: {e}"),
                            },
                            Check::None,
                        )
                        .await
                    }
                };
                // A rate limit is waited out for as long as the user waits for an agent.
                let patience = conv
                    .integration
                    .wait_timeout_s
                    .map_or(Duration::from_secs(10), Duration::from_secs);
                let opened =
                    drivers::http::with_retry_after_limit(patience, driver.open(&conv, &request))
                        .await;
                match opened {
                    Ok(opened) => {
                        let check = Check::Opening {
                            integration_id: iid.clone(),
                            remote_id: opened.remote_id.clone(),
                        };
                        follow(
                            Event::ProviderOpened {
                                remote_id: opened.remote_id,
                                result: Some(opened.result),
                            },
                            check,
                        )
                        .await
                    }
                    Err(e) => {
                        tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "hand-over failed");
                        follow(
                            Event::ProviderError {
                                message: e.to_string(),
                            },
                            Check::None,
                        )
                        .await
                    }
                }
            }
            EffectKind::Relay | EffectKind::File => {
                let sent = if kind == EffectKind::Relay {
                    driver.send(&conv, &text("text").unwrap_or_default()).await
                } else {
                    let file = drivers::SharedFile {
                        url: text("url").unwrap_or_default(),
                        name: text("name"),
                        mime_type: text("mime_type"),
                    };
                    driver.send_file(&conv, &file).await
                };
                match sent {
                    Ok(()) => {
                        let _ = self.inner.store.finish_effect(id, self.now()).await;
                        Vec::new()
                    }
                    // The agent cannot be reached: end the chat rather than leave the user
                    // talking to no one, and close the provider's side so the agent is not
                    // left writing into a conversation nobody reads.
                    Err(e) => {
                        tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "relay to the agent failed");
                        follow(
                            Event::ProviderError {
                                message: e.to_string(),
                            },
                            Check::RelayFailed,
                        )
                        .await
                    }
                }
            }
            EffectKind::Typing => {
                let typing = p.get("typing").and_then(Json::as_bool).unwrap_or(false);
                if let Err(e) = driver.typing(&conv, typing).await {
                    tracing::debug!(target: "fluxo::runtime", conversation = %key, error = %e, "typing indicator not delivered");
                }
                let _ = self.inner.store.finish_effect(id, self.now()).await;
                Vec::new()
            }
            EffectKind::Close => {
                if let Err(e) = driver.close(&conv).await {
                    tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "closing the provider's conversation failed");
                }
                let _ = self.inner.store.finish_effect(id, self.now()).await;
                Vec::new()
            }
            // Handled above; kept in the match so a new kind must be placed.
            EffectKind::Deliver => Vec::new(),
        }
    }

    /// Pushes an output to the channel; retried with backoff until accepted.
    async fn deliver(&self, effect: &store::Effect) {
        let Some(to) = &self.inner.options.deliver_to else {
            let _ = self.inner.store.finish_effect(effect.id, self.now()).await;
            return;
        };
        let body = json!({
            "bot": effect.key.bot,
            "conversation": effect.key.conversation,
            "output": effect.payload,
        })
        .to_string();
        let signature = drivers::signature::fluxo(to.secret.expose(), body.as_bytes());
        let req = drivers::http::Request {
            method: reqwest::Method::POST,
            url: to.url.clone(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-fluxo-signature".into(), signature),
                ("idempotency-key".into(), effect.idempotency_key.clone()),
            ],
            body: drivers::http::Body::Json(serde_json::from_str(&body).unwrap_or_default()),
            what: "deliver an output to the channel".into(),
        };
        match self.inner.http.send(req).await {
            Ok(_) => {
                let _ = self.inner.store.finish_effect(effect.id, self.now()).await;
            }
            Err(e) => {
                let wait = backoff(effect.attempts);
                tracing::warn!(target: "fluxo::runtime", conversation = %effect.key, error = %e, retry_in_ms = wait, "delivery to the channel failed");
                let _ = self
                    .inner
                    .store
                    .retry_effect(effect.id, self.now().saturating_add(wait), &e.to_string())
                    .await;
            }
        }
    }

    /// The driver and the provider conversation for integration `iid` (`None` for an unknown
    /// integration, or a provider with no driver, such as the simulator).
    fn conversation(
        &self,
        key: &Key,
        iid: &str,
        remote_id: Option<String>,
        effect: &store::Effect,
    ) -> Option<(Arc<dyn Driver>, Conversation)> {
        let bot = self.bot_named(&key.bot)?;
        let integration = bot.integrations().find(iid).cloned()?;
        let driver = self.driver(integration.provider)?;
        Some((
            driver,
            Conversation {
                identifier: key.conversation.clone(),
                remote_id,
                integration,
                idempotency_key: Some(effect.idempotency_key.clone()),
            },
        ))
    }

    /// Handles a provider webhook for integration `integration_id` (raw body, as received):
    /// verifies it, stores its events (dropping repeats), and processes them from the store.
    /// `inline`: process before answering (at most about a second; the workers finish what
    /// is left).
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
        let found = self
            .inner
            .bots
            .values()
            .find_map(|v| v.current.integrations().find(integration_id).cloned());
        let Some(integration) = found else {
            return reply(404, "unknown integration");
        };
        let provider = integration.provider.as_str();
        let count = |status: &'static str| {
            metrics::counter!("fluxo_webhooks_total", "provider" => provider, "status" => status)
                .increment(1);
        };
        let Some(driver) = self.driver(integration.provider) else {
            count("404");
            return reply(404, "no driver for this provider");
        };
        let inbound = match driver.webhook(&integration, headers, body) {
            Ok(i) => i,
            Err(e) if e.kind() == ErrorKind::Unauthorized => {
                count("401");
                tracing::warn!(target: "fluxo::runtime", integration = integration_id, reason = %e, "webhook refused");
                return reply(401, e.detail());
            }
            Err(e) => {
                count("400");
                return reply(400, e.detail());
            }
        };
        let mut deliveries = Vec::with_capacity(inbound.len());
        for i in inbound {
            let event = match serde_json::to_value(&i.event) {
                Ok(v) => v,
                Err(e) => return reply(400, &e.to_string()),
            };
            deliveries.push(NewDelivery {
                dedupe: format!("{integration_id}:{}", i.dedupe),
                integration_id: integration_id.to_owned(),
                remote_id: i.remote_id,
                event,
            });
        }
        let fresh = match self.inner.store.receive(deliveries, self.now()).await {
            Ok(f) => f,
            Err(e) => {
                count("503");
                tracing::error!(target: "fluxo::runtime", integration = integration_id, error = %e, "webhook not recorded");
                return reply(503, "the delivery could not be recorded; retry");
            }
        };
        count("200");
        if !fresh.is_empty() {
            let rt = self.clone();
            let work = async move { rt.process_deliveries(Some(&fresh)).await };
            if tokio::time::timeout(Duration::from_millis(1500), work)
                .await
                .is_err()
            {
                self.inner.wake_inbox.notify_one();
            }
        }
        reply(200, "ok")
    }

    /// Processes stored webhook deliveries (`ids`, or any due ones); returns how many.
    async fn process_deliveries(&self, ids: Option<&[i64]>) -> usize {
        let lease = ms(self.inner.options.lease);
        let claimed = match self
            .inner
            .store
            .claim_deliveries(self.now(), lease, ids, 32)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(target: "fluxo::runtime", error = %e, "claiming webhook deliveries failed");
                return 0;
            }
        };
        let n = claimed.len();
        for d in claimed {
            self.process_delivery(d).await;
        }
        n
    }

    async fn process_delivery(&self, d: store::Delivery) {
        let now = self.now();
        let store = &self.inner.store;
        let event: Event = match serde_json::from_value(d.event.clone()) {
            Ok(e) => e,
            Err(e) => {
                let e = Error::new(
                    ErrorKind::BadRequest,
                    format!("stored webhook event unreadable: {e}"),
                );
                self.delivery_failed(&d, None, &e).await;
                return;
            }
        };
        let key = match store.route(&d.integration_id, &d.remote_id).await {
            Ok(Some(k)) => k,
            Ok(None) if now.saturating_sub(d.received_at) < UNROUTED_RETRY_MS => {
                let _ = store.retry_delivery(d.id, now.saturating_add(1000)).await;
                return;
            }
            Ok(None) => {
                tracing::info!(target: "fluxo::runtime", integration = d.integration_id, remote_id = d.remote_id, "webhook for an unknown provider conversation; acknowledged, ignored");
                metrics::counter!("fluxo_webhooks_ignored_total", "reason" => "unknown")
                    .increment(1);
                let _ = store.finish_delivery(d.id, now).await;
                return;
            }
            Err(e) => {
                self.delivery_failed(&d, None, &e).await;
                return;
            }
        };
        let event = match self.prepare(&key, &d, event).await {
            Ok(e) => e,
            Err(e) if now.saturating_sub(d.received_at) < UNROUTED_RETRY_MS => {
                tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "completing a webhook event failed; will retry");
                let _ = store.retry_delivery(d.id, now.saturating_add(1000)).await;
                return;
            }
            Err(e) => {
                tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "completing a webhook event failed; delivered as it is");
                fallback(d.event.clone())
            }
        };
        let check = Check::Chat {
            integration_id: d.integration_id.clone(),
            remote_id: d.remote_id.clone(),
        };
        match self
            .turn(&key, event, Some(Done::Delivery(d.id)), check)
            .await
        {
            Ok(Some(_)) => {
                self.drain_soon(&key).await;
            }
            Ok(None) => {
                tracing::info!(target: "fluxo::runtime", conversation = %key, remote_id = d.remote_id, "stale webhook (not the conversation's live chat); acknowledged, ignored");
                metrics::counter!("fluxo_webhooks_ignored_total", "reason" => "stale").increment(1);
                let _ = store.finish_delivery(d.id, now).await;
            }
            Err(e) => self.delivery_failed(&d, Some(&key), &e).await,
        }
    }

    /// A delivery whose processing failed: a transient failure releases it for a retry with
    /// backoff; a permanent one (or too many attempts) makes it a dead letter, kept in the
    /// store, counted and logged. It is never marked done.
    async fn delivery_failed(&self, d: &store::Delivery, key: Option<&Key>, e: &Error) {
        let now = self.now();
        let store = &self.inner.store;
        let conversation = key.map(ToString::to_string).unwrap_or_default();
        if transient(e) && d.attempts < DELIVERY_ATTEMPTS {
            let wait = backoff(d.attempts);
            tracing::warn!(target: "fluxo::runtime", conversation, delivery = d.id, attempts = d.attempts, retry_in_ms = wait, error = %e, "webhook event failed; it will be retried");
            if let Err(e) = store.retry_delivery(d.id, now.saturating_add(wait)).await {
                // The lease runs out and a worker claims it again.
                tracing::warn!(target: "fluxo::runtime", delivery = d.id, error = %e, "releasing a webhook event failed; it is retried when its lease ends");
            }
            return;
        }
        tracing::error!(target: "fluxo::runtime", conversation, delivery = d.id, attempts = d.attempts, error = %e, "webhook event failed for good; kept as a dead letter");
        metrics::counter!("fluxo_dead_letters_total", "queue" => "inbox").increment(1);
        if let Err(e) = store.fail_delivery(d.id, now, &e.to_string()).await {
            tracing::warn!(target: "fluxo::runtime", delivery = d.id, error = %e, "recording a dead letter failed; it is retried when its lease ends");
        }
    }

    /// The driver's completion of a webhook event ([`Driver::prepare`]).
    async fn prepare(&self, key: &Key, d: &store::Delivery, event: Event) -> Result<Event, Error> {
        let integration = self
            .bot_named(&key.bot)
            .and_then(|b| b.integrations().find(&d.integration_id).cloned());
        let Some(integration) = integration else {
            return Ok(event);
        };
        let Some(driver) = self.driver(integration.provider) else {
            return Ok(event);
        };
        let conv = Conversation {
            identifier: key.conversation.clone(),
            remote_id: Some(d.remote_id.clone()),
            integration,
            idempotency_key: None,
        };
        driver.prepare(&conv, event).await
    }

    /// Fires due timers, performs due effects and processes due deliveries once; returns
    /// whether anything was done. The workers do this in a loop; a host that runs without
    /// workers ([`Options::workers`] off) calls it itself.
    pub async fn work(&self) -> bool {
        let timers = self.fire_due().await;
        let queues = self.run_queues().await;
        timers || queues
    }

    /// Fires the timers due now.
    async fn fire_due(&self) -> bool {
        let now = self.now();
        let due = match self.inner.store.due(now, 64, &self.inner.served).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(target: "fluxo::runtime", error = %e, "reading due timers failed");
                return false;
            }
        };
        let did = !due.is_empty();
        for (key, at) in due {
            metrics::histogram!("fluxo_timer_lag_seconds")
                .record(ms_to_secs(now.saturating_sub(at)));
            match self
                .turn(&key, Event::Advance { seconds: 0 }, None, Check::None)
                .await
            {
                Ok(_) => {
                    self.drain_soon(&key).await;
                }
                Err(e) => {
                    // Retried later, never at once: a timer that keeps failing must neither
                    // flood the log nor hold back the timers behind it.
                    let retry = now.saturating_add(if transient(&e) { 1000 } else { 60_000 });
                    tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, retry_in_ms = retry - now, "timer failed");
                    metrics::counter!("fluxo_timer_failures_total").increment(1);
                    if let Err(e) = self.inner.store.postpone_timer(&key, at, retry).await {
                        tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "postponing a failed timer failed");
                    }
                }
            }
        }
        did
    }

    /// Performs due effects and processes due webhook deliveries.
    async fn run_queues(&self) -> bool {
        let lease = ms(self.inner.options.lease);
        let mut did = false;
        // With workers, claimed effects run in their lanes' pools, as many at once as there is
        // room; the rest stay in the store for any replica.
        let room = if self.spawns() {
            pool::MAX_IN_FLIGHT.saturating_sub(self.inner.pools.count())
        } else {
            16
        };
        let claimed = if room == 0 {
            Ok(Vec::new())
        } else {
            self.inner
                .store
                .claim_effects(
                    self.now(),
                    lease,
                    None,
                    i64::try_from(room.min(16)).unwrap_or(16),
                )
                .await
        };
        match claimed {
            Ok(effects) => {
                for e in effects {
                    did = true;
                    if self.spawns() {
                        let rt = self.clone();
                        tokio::spawn(async move {
                            rt.perform(e).await;
                            rt.inner.wake_outbox.notify_one();
                        });
                    } else {
                        self.perform(e).await;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(target: "fluxo::runtime", error = %e, "claiming effects failed")
            }
        }
        if self.process_deliveries(None).await > 0 {
            did = true;
        }
        did
    }

    /// Pending timers of bots in the store that this runtime does not serve (a deploy removed
    /// them): `(bot, timers)`. They are parked, not fired, until a replica serves the bot.
    pub async fn parked_timers(&self) -> Result<Vec<(String, i64)>, Error> {
        Ok(self
            .inner
            .store
            .bots_in_store()
            .await?
            .into_iter()
            .filter(|b| b.timers > 0 && !self.inner.bots.contains_key(&b.bot))
            .map(|b| (b.bot, b.timers))
            .collect())
    }

    fn spawn_workers(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(timer_worker(weak.clone()));
        tokio::spawn(queue_worker(weak.clone()));
        tokio::spawn(maintenance(weak));
    }
}

/// What a turn must find for its event to apply.
#[derive(Debug, Clone)]
enum Check {
    None,
    /// A webhook: the session's current live chat must be this provider conversation.
    Chat {
        integration_id: String,
        remote_id: String,
    },
    /// The provider opened `remote_id` for a hand-over to `integration_id`: applied when the
    /// session still waits for it; otherwise (the chat ended while the call ran) the provider's
    /// conversation is closed at once.
    Opening {
        integration_id: String,
        remote_id: String,
    },
    /// A relay to the agent failed for good: if the turn ends the chat, the provider's side is
    /// closed too.
    RelayFailed,
}

/// What a turn's body hands back beside its commit.
#[derive(Default)]
struct TurnOut {
    outputs: Vec<Output>,
    /// Effects written to the outbox.
    effects: usize,
    /// The deadline changed (the timer worker should look again).
    new_deadline: bool,
    /// The flow version the stored session needs (with a `Conflict`).
    needs: Option<String>,
}

struct TurnBody {
    rt: Runtime,
    key: Key,
    current: Arc<Bot>,
    older: Option<(String, Arc<Bot>)>,
    event: Event,
    done: Option<Done>,
    check: Check,
    idempotency: Option<(String, String)>,
    slot: Arc<Mutex<TurnOut>>,
}

impl TurnBody {
    fn run(self, saved: Option<Saved>) -> Result<Option<store::Commit>, Error> {
        let (bot, mut s, before) = match &saved {
            None => (
                self.current.clone(),
                self.current.new_session(&self.key.conversation),
                None,
            ),
            Some(sv) => {
                let (bot, s) = if sv.version == self.current.version() {
                    (self.current.clone(), self.current.restore(&sv.session)?)
                } else if let Ok(s) = self.current.adopt(&sv.session) {
                    (self.current.clone(), s)
                } else {
                    match &self.older {
                        Some((v, old)) if *v == sv.version => {
                            (old.clone(), old.restore(&sv.session)?)
                        }
                        _ => {
                            self.slot
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .needs = Some(sv.version.clone());
                            return Err(Error::new(
                                ErrorKind::Conflict,
                                "the session runs on another version of the flow",
                            ));
                        }
                    }
                };
                let before = s.live_chat().map(|c| {
                    (
                        c.integration_id().to_owned(),
                        c.remote_id().map(str::to_owned),
                    )
                });
                (bot, s, before)
            }
        };
        let now = self.rt.now();
        let grace = ms(self.rt.inner.options.grace);
        let done_id = match self.done {
            Some(Done::Effect(id) | Done::Delivery(id)) => id,
            None => 0,
        };
        // An effect of this turn that no output numbers (its key names the row it follows).
        let follow_up = |kind: EffectKind, payload: Json| NewEffect {
            kind: kind.as_str().to_owned(),
            payload,
            idempotency_key: format!(
                "{}/{}/after-{done_id}/{}",
                self.key.bot,
                self.key.conversation,
                kind.as_str()
            ),
            not_before: now.saturating_add(grace),
        };
        if let Check::Opening {
            integration_id,
            remote_id,
        } = &self.check
        {
            let waiting = s.live_chat().is_some_and(|c| {
                c.integration_id() == integration_id && c.remote_id().is_none_or(|r| r == remote_id)
            });
            if !waiting {
                tracing::info!(target: "fluxo::runtime", conversation = %self.key, remote_id = %remote_id, "the provider opened a conversation for a chat that has ended; closing it");
                let close = follow_up(
                    EffectKind::Close,
                    json!({ "integration_id": integration_id, "remote_id": remote_id }),
                );
                let session = serde_json::to_string(&s).map_err(|e| {
                    Error::new(
                        ErrorKind::Store,
                        format!("the session does not serialise: {e}"),
                    )
                })?;
                let deadline = bot.next_deadline(&s);
                *self
                    .slot
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = TurnOut {
                    effects: 1,
                    new_deadline: deadline != saved.as_ref().and_then(|s| s.deadline),
                    ..TurnOut::default()
                };
                return Ok(Some(store::Commit {
                    session,
                    version: bot.version().to_owned(),
                    outputs: Vec::new(),
                    effects: vec![close],
                    deadline,
                    chat: None,
                    done: self.done,
                    idempotency: None,
                    now,
                }));
            }
        }
        if let Check::Chat {
            integration_id,
            remote_id,
        } = &self.check
        {
            let current = s.live_chat().is_some_and(|c| {
                c.integration_id() == integration_id && c.remote_id() == Some(remote_id.as_str())
            });
            if !current {
                return Ok(None);
            }
            // A join the session already has (a provider repeating itself in other words).
            if let Event::AgentJoin { name, .. } = &self.event {
                if s.live_chat().is_some_and(|c| c.agents().contains(name)) {
                    return Ok(None);
                }
            }
        }
        let outputs = bot.handle(&mut s, self.event, now);
        let after = s.live_chat().map(|c| {
            (
                c.integration_id().to_owned(),
                c.remote_id().map(str::to_owned),
            )
        });
        let last_seq = saved.as_ref().map_or(0, |s| s.last_seq);
        let mut effects = Vec::new();
        let mut json_outputs = Vec::with_capacity(outputs.len());
        for (i, o) in outputs.iter().enumerate() {
            let seq = last_seq + 1 + i64::try_from(i).unwrap_or(0);
            let v = serde_json::to_value(o).map_err(|e| {
                Error::new(
                    ErrorKind::Store,
                    format!("an output does not serialise: {e}"),
                )
            })?;
            let mut effect = |kind: EffectKind, payload: Json| {
                effects.push(NewEffect {
                    kind: kind.as_str().to_owned(),
                    payload,
                    idempotency_key: format!(
                        "{}/{}/{seq}/{}",
                        self.key.bot,
                        self.key.conversation,
                        kind.as_str()
                    ),
                    not_before: now.saturating_add(grace),
                });
            };
            match o {
                Output::HandoffRequested {
                    integration_id,
                    request,
                    remote_id,
                    ..
                } if self.rt.has_driver(&bot, integration_id) => effect(
                    EffectKind::Handoff,
                    json!({ "integration_id": integration_id, "request": request, "remote_id": remote_id,
                            "base_url": base_url(&bot, integration_id) }),
                ),
                Output::RelayToAgent { text } => {
                    if let Some((iid, rid)) = after.as_ref().or(before.as_ref()) {
                        if self.rt.has_driver(&bot, iid) {
                            effect(
                                EffectKind::Relay,
                                json!({ "integration_id": iid, "remote_id": rid, "text": text }),
                            );
                        }
                    }
                }
                Output::File {
                    from,
                    url,
                    name,
                    mime_type,
                } if from == "user" => {
                    if let Some((iid, rid)) = after.as_ref() {
                        if self.rt.has_driver(&bot, iid) {
                            effect(
                                EffectKind::File,
                                json!({ "integration_id": iid, "remote_id": rid, "url": url, "name": name, "mime_type": mime_type }),
                            );
                        }
                    }
                }
                Output::Typing { from, typing } if from == "user" => {
                    if let Some((iid, rid)) = after.as_ref() {
                        if self.rt.has_driver(&bot, iid) {
                            effect(
                                EffectKind::Typing,
                                json!({ "integration_id": iid, "remote_id": rid, "typing": typing }),
                            );
                        }
                    }
                }
                Output::CloseProviderConversation {
                    integration_id,
                    remote_id,
                } if self.rt.has_driver(&bot, integration_id) => effect(
                    EffectKind::Close,
                    json!({ "integration_id": integration_id, "remote_id": remote_id }),
                ),
                _ => {}
            }
            if self.rt.inner.options.deliver_to.is_some() {
                effect(EffectKind::Deliver, store::with_seq(seq, &v));
            }
            json_outputs.push(v);
        }
        if matches!(self.check, Check::RelayFailed) && after != before {
            if let Some((iid, Some(rid))) = &before {
                let closes = outputs
                    .iter()
                    .any(|o| matches!(o, Output::CloseProviderConversation { .. }));
                if !closes && self.rt.has_driver(&bot, iid) {
                    effects.push(follow_up(
                        EffectKind::Close,
                        json!({ "integration_id": iid, "remote_id": rid }),
                    ));
                }
            }
        }
        let chat = match &after {
            Some((iid, Some(rid))) if after != before => Some((iid.clone(), rid.clone())),
            _ => None,
        };
        let session = serde_json::to_string(&s).map_err(|e| {
            Error::new(
                ErrorKind::Store,
                format!("the session does not serialise: {e}"),
            )
        })?;
        let deadline = bot.next_deadline(&s);
        *self
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = TurnOut {
            outputs,
            effects: effects.len(),
            new_deadline: deadline != saved.as_ref().and_then(|s| s.deadline),
            needs: None,
        };
        Ok(Some(store::Commit {
            session,
            version: bot.version().to_owned(),
            outputs: json_outputs,
            effects,
            deadline,
            chat,
            done: self.done,
            idempotency: self.idempotency,
            now,
        }))
    }
}

/// The `base_url` setting of integration `iid` of `bot`.
fn base_url(bot: &Bot, iid: &str) -> Option<String> {
    bot.integrations()
        .find(iid)
        .and_then(|i| i.settings.get("base_url"))
        .and_then(Json::as_str)
        .map(|s| s.trim_end_matches('/').to_owned())
}

/// A hand-over request as the integration is configured *now*: built when the hand-over was
/// asked for, it is sent later (at once, or after a crash, a deploy, a retry), and the
/// provider's address may have changed since. A request whose URL starts with the `base_url`
/// of its time is moved onto the current one.
fn rebase(
    mut request: crate::domain::http::HttpRequest,
    then: Option<&str>,
    integration: &crate::model::Integration,
) -> crate::domain::http::HttpRequest {
    let now = integration
        .settings
        .get("base_url")
        .and_then(Json::as_str)
        .map(|s| s.trim_end_matches('/'));
    if let (Some(then), Some(now)) = (then, now) {
        if then != now {
            if let Some(rest) = request.url.strip_prefix(then) {
                tracing::info!(target: "fluxo::runtime", from = then, to = now, "hand-over request moved to the integration's current base_url");
                request.url = format!("{now}{rest}");
            }
        }
    }
    request
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn ms_to_secs(ms: i64) -> f64 {
    Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(0)).as_secs_f64()
}

/// Whether an error may go away by itself (the store did not answer, a concurrent change):
/// such failures are retried with backoff; the others are dead letters.
fn transient(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Store | ErrorKind::Conflict)
}

/// How many times a webhook delivery is tried before it becomes a dead letter (with the
/// backoff, about an hour of retries).
const DELIVERY_ATTEMPTS: i64 = 20;

/// Retry delay after `attempts` failures: 1 s doubling to at most 5 minutes.
fn backoff(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 10) - 1).unwrap_or(0);
    (1000_i64 << exp).min(300_000)
}

/// Fires due timers: sleeps until the earliest deadline in the store (at most a second, since
/// another replica may have set an earlier one), or until a local turn wakes it.
async fn timer_worker(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let rt = Runtime { inner };
        if rt.inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        rt.fire_due().await;
        let next = rt
            .inner
            .store
            .next_deadline(&rt.inner.served)
            .await
            .ok()
            .flatten();
        let now = rt.now();
        let wait = next.map_or(1000, |n| n.saturating_sub(now).clamp(0, 1000));
        // Never spin on a deadline that stays due (a session that cannot be restored).
        let wait = u64::try_from(wait.max(20)).unwrap_or(1000);
        let inner = rt.inner.clone();
        drop(rt);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(wait)) => {}
            () = inner.wake_timers.notified() => {}
        }
    }
}

/// Performs due effects and processes due webhook deliveries.
async fn queue_worker(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let rt = Runtime { inner };
        if rt.inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        let did = rt.run_queues().await;
        if did {
            continue;
        }
        let inner = rt.inner.clone();
        drop(rt);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            () = inner.wake_outbox.notified() => {}
            () = inner.wake_inbox.notified() => {}
        }
    }
}

/// Forgets processed deliveries and effects after [`store::DEDUPE_RETENTION_MS`]; publishes
/// the backlog figures.
async fn maintenance(weak: Weak<Inner>) {
    let mut last_purge = i64::MIN;
    let mut warned_parked = false;
    loop {
        {
            let Some(inner) = weak.upgrade() else { return };
            let rt = Runtime { inner };
            if rt.inner.stopping.load(Ordering::SeqCst) {
                return;
            }
            let now = rt.now();
            if now.saturating_sub(last_purge) > 600_000 {
                last_purge = now;
                if let Err(e) = rt
                    .inner
                    .store
                    .purge(now.saturating_sub(store::DEDUPE_RETENTION_MS))
                    .await
                {
                    tracing::warn!(target: "fluxo::runtime", error = %e, "purge failed");
                }
            }
            if let Ok(b) = rt.inner.store.backlog(now).await {
                #[allow(clippy::cast_precision_loss)]
                {
                    metrics::gauge!("fluxo_outbox_depth").set(b.outbox as f64);
                    metrics::gauge!("fluxo_inbox_depth").set(b.inbox as f64);
                    metrics::gauge!("fluxo_dead_letters", "queue" => "inbox")
                        .set(b.dead_deliveries as f64);
                    metrics::gauge!("fluxo_dead_letters", "queue" => "outbox")
                        .set(b.dead_effects as f64);
                }
                metrics::gauge!("fluxo_outbox_oldest_age_seconds").set(ms_to_secs(b.oldest_ms));
            }
            match rt.parked_timers().await {
                Ok(parked) => {
                    let total: i64 = parked.iter().map(|(_, n)| n).sum();
                    if total > 0 && !warned_parked {
                        warned_parked = true;
                        for (bot, n) in &parked {
                            tracing::warn!(target: "fluxo::runtime", bot = %bot, timers = n, "timers of a bot this service does not serve are parked until a replica serves it");
                        }
                    }
                    #[allow(clippy::cast_precision_loss)]
                    metrics::gauge!("fluxo_timers_parked").set(total as f64);
                }
                Err(e) => {
                    tracing::warn!(target: "fluxo::runtime", error = %e, "counting parked timers failed");
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// What the user sees of an event its driver could not complete: a file whose address could
/// not be had becomes the agent's message naming it, so the agent's turn is not lost.
fn fallback(stored: Json) -> Event {
    match serde_json::from_value::<Event>(stored) {
        Ok(Event::AgentFile { name, .. }) => Event::AgentMessage {
            text: format!("[{}]", name.as_deref().unwrap_or("file")),
            content: None,
        },
        Ok(other) => other,
        Err(e) => Event::ProviderError {
            message: format!("unreadable webhook event: {e}"),
        },
    }
}
