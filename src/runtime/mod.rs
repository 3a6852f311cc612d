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
mod effects;
mod inbox;
pub mod observe;
mod pool;
pub mod server;
pub mod store;
mod turn;
mod watson_api;
mod wire;
mod workers;

pub use effect::EffectKind;

pub use store::{Key, MemoryStore, Store};

use crate::domain::{Event, Output, Provider};
use crate::drivers::http::Http;
use crate::drivers::{self, Driver, Secret};
use crate::engine::{Bot, Session};
use crate::error::{Error, ErrorKind};
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use store::{Committed, Saved};
use turn::Check;

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
    /// How long a conversation that ended keeps its outputs and session (ms); `None` keeps
    /// everything. The maintenance worker applies it ([`store::apply_retention`]).
    pub retention_ms: Option<i64>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            deliver_to: None,
            lease: Duration::from_secs(30),
            grace: Duration::from_secs(5),
            workers: true,
            retention_ms: None,
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
            // The request's span goes with its effects: their log lines carry its request id.
            tokio::spawn(tracing::Instrument::in_current_span(async move {
                rt.drain(&key).await;
            }));
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

    fn driver(&self, p: Provider) -> Option<Arc<dyn Driver>> {
        self.inner.drivers.read().ok()?.get(&p).cloned()
    }

    fn has_driver(&self, bot: &Bot, iid: &str) -> bool {
        bot.integrations()
            .find(iid)
            .is_some_and(|i| self.driver(i.provider).is_some())
    }

    /// Fires due timers, performs due effects and processes due deliveries once; returns
    /// whether anything was done. The workers do this in a loop; a host that runs without
    /// workers ([`Options::workers`] off) calls it itself.
    pub async fn work(&self) -> bool {
        let timers = self.fire_due().await;
        let queues = self.run_queues().await;
        timers || queues
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
