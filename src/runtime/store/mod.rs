//! Where the runtime keeps everything it must not forget, and the one interface it uses.
//!
//! A turn is one transaction: the session is read under a row lock (or the store's single
//! writer), the engine runs, and the new session, its numbered outputs, the effects it asked
//! for (the outbox), its next deadline and the provider-conversation index are written
//! together, or not at all. Webhook deliveries are stored before they are answered (the inbox,
//! whose keys are also the de-duplication keys) and processed from there. Workers claim due
//! outbox and inbox rows with a lease, so each is handled by one process at a time across
//! replicas, and retried after a crash.
//!
//! Three implementations: [`MemoryStore`] (tests, `fluxo run --live`), SQLite (the default of
//! `fluxo serve`, embedded) and PostgreSQL (several replicas on one database). [`open`] picks
//! one from a URL.

mod memory;
mod postgres;
mod sqlite;

pub use memory::MemoryStore;

use crate::drivers::BoxFuture;
use crate::error::{Error, ErrorKind};
use serde_json::Value as Json;
use std::sync::Arc;

/// How long webhook de-duplication keys (and processed inbox rows) are kept: seven days, by
/// age, never by count.
pub const DEDUPE_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

/// One conversation of one bot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// The bot (a flow file's stem in `fluxo serve`).
    pub bot: String,
    /// The conversation id the channel chose.
    pub conversation: String,
}

impl Key {
    /// A key.
    pub fn new(bot: impl Into<String>, conversation: impl Into<String>) -> Key {
        Key {
            bot: bot.into(),
            conversation: conversation.into(),
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.bot, self.conversation)
    }
}

/// A stored session.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    /// The session, as [`crate::engine::Session`] serialises it.
    pub session: String,
    /// The flow version it runs on ([`crate::engine::Bot::version`]).
    pub version: String,
    /// The last output's `seq` (0: none yet).
    pub last_seq: i64,
    /// The next deadline (ms since the epoch), if a timer is pending.
    pub deadline: Option<i64>,
    /// The conversation ended and was archived by [`Store::prune`]: `session` and `version`
    /// are empty, only `last_seq` is kept. A turn starts a new session and numbers its outputs
    /// from `last_seq + 1`, so `seq` never goes backwards for a client polling `after=`.
    /// Only [`Store::turn`] passes such a value; [`Store::load`] answers `None`.
    pub archived: bool,
}

impl Saved {
    /// What a turn on an archived conversation gets.
    pub(crate) fn archived(last_seq: i64) -> Saved {
        Saved {
            session: String::new(),
            version: String::new(),
            last_seq,
            deadline: None,
            archived: true,
        }
    }
}

/// An effect the turn asks for, to be performed after the commit (at least once).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEffect {
    /// What to do: `handoff`, `relay`, `close` or `deliver`.
    pub kind: String,
    /// What the worker needs to do it.
    pub payload: Json,
    /// Unique per effect; sent to the provider as its idempotency key where it has one.
    pub idempotency_key: String,
    /// Not before this instant (ms): the process that committed it performs it at once, so
    /// the workers wait a grace period before taking it over.
    pub not_before: i64,
}

/// Rows a turn finishes in its own transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// An outbox row whose result this turn applies.
    Effect(i64),
    /// An inbox row (a webhook delivery) this turn applies.
    Delivery(i64),
}

/// What a turn writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// The new session.
    pub session: String,
    /// Its flow version.
    pub version: String,
    /// The turn's outputs, oldest first; the store numbers them from `last_seq + 1`.
    pub outputs: Vec<Json>,
    /// Effects, in order.
    pub effects: Vec<NewEffect>,
    /// The next deadline.
    pub deadline: Option<i64>,
    /// The current live chat's provider conversation, `(integration id, remote id)`, for the
    /// webhook index. An entry is written once and never re-pointed: a provider conversation
    /// that already belongs to another conversation keeps its owner.
    pub chat: Option<(String, String)>,
    /// Rows finished by this turn.
    pub done: Option<Done>,
    /// The channel's `Idempotency-Key` of the event and a fingerprint of its body: recorded
    /// with the turn's outputs in the same transaction. A key already recorded for the
    /// conversation makes the turn fail with `Conflict` and write nothing.
    pub idempotency: Option<(String, String)>,
    /// Now (ms).
    pub now: i64,
}

/// The recorded answer to an event sent with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Fingerprint of the event's body.
    pub fingerprint: String,
    /// The outputs the turn answered, with their `seq`.
    pub outputs: Vec<Json>,
}

/// The error of a turn whose `Idempotency-Key` is already recorded.
pub(crate) fn repeated_key() -> Error {
    Error::new(
        ErrorKind::Conflict,
        "this Idempotency-Key was already used in this conversation",
    )
}

/// What a committed turn got.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    /// The seq of the first output (the last is `first_seq + outputs - 1`).
    pub first_seq: i64,
    /// The outputs with their `seq`.
    pub outputs: Vec<Json>,
}

/// A claimed outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    /// Row id.
    pub id: i64,
    /// The conversation.
    pub key: Key,
    /// `handoff`, `relay`, `close` or `deliver`.
    pub kind: String,
    /// What to do.
    pub payload: Json,
    /// The effect's idempotency key.
    pub idempotency_key: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// A verified webhook event, to store before answering.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    /// De-duplication key (provider-scoped): a second delivery with the same key is dropped.
    pub dedupe: String,
    /// The integration it came for.
    pub integration_id: String,
    /// The provider conversation.
    pub remote_id: String,
    /// The engine event, as JSON.
    pub event: Json,
}

/// A claimed inbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Row id.
    pub id: i64,
    /// The integration.
    pub integration_id: String,
    /// The provider conversation.
    pub remote_id: String,
    /// The engine event, as JSON.
    pub event: Json,
    /// When it was received (ms).
    pub received_at: i64,
    /// Claims so far, this one included.
    pub attempts: i64,
}

/// The sessions of one bot in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotSessions {
    /// The bot.
    pub bot: String,
    /// Its sessions.
    pub sessions: i64,
    /// Those with a pending deadline (a timer).
    pub timers: i64,
}

/// Outbox figures for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    /// Effects not yet done.
    pub outbox: i64,
    /// Age of the oldest (ms), 0 when none.
    pub oldest_ms: i64,
    /// Inbox rows not yet processed (dead letters excluded).
    pub inbox: i64,
    /// Webhook deliveries that failed for good (dead letters), kept for a person to look at.
    pub dead_deliveries: i64,
    /// Effects that failed for good (dead letters).
    pub dead_effects: i64,
}

/// What one [`Store::prune`] batch removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pruned {
    /// Conversations archived: session, outputs, recorded answers and provider-conversation
    /// index entries deleted, the last `seq` kept.
    pub conversations: i64,
    /// Output rows deleted with them.
    pub outputs: i64,
    /// Archive records forgotten (those conversations start again from `seq` 1).
    pub forgotten: i64,
}

impl Pruned {
    /// The batch was full: there may be more to do.
    pub fn more(&self, limit: i64) -> bool {
        self.conversations >= limit || self.forgotten >= limit
    }
}

/// How long the outputs and the session of a conversation that ended are kept by default.
pub const DEFAULT_RETENTION: &str = "7d";

/// Conversations archived per maintenance transaction.
pub const PRUNE_BATCH: i64 = 500;

/// Reads a retention (`--retention`): a whole number with a unit, `s`, `m`, `h` or `d`
/// (`90s`, `30m`, `12h`, `7d`), or `off` to keep everything. The answer is in milliseconds.
pub fn parse_retention(text: &str) -> Result<Option<i64>, Error> {
    let bad = || {
        Error::new(
            ErrorKind::Config,
            format!(
                "--retention {text:?}: expected a whole number with a unit (90s, 30m, 12h, 7d) or `off`"
            ),
        )
    };
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let unit_ms: i64 = match t.chars().last() {
        Some('s') => 1_000,
        Some('m') => 60_000,
        Some('h') => 3_600_000,
        Some('d') => 86_400_000,
        _ => return Err(bad()),
    };
    let digits = &t[..t.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(unit_ms).map(Some).ok_or_else(bad)
}

/// One maintenance pass of the retention policy at `now`: archives the conversations that
/// ended more than `retention_ms` ago and forgets the archive records of those that ended
/// more than twice that, in batches of [`PRUNE_BATCH`] (each its own transaction) until none
/// is left. Answers what it removed.
pub async fn apply_retention(
    store: &dyn Store,
    now: i64,
    retention_ms: i64,
) -> Result<Pruned, Error> {
    let ended_before = now.saturating_sub(retention_ms);
    let forget_before = ended_before.saturating_sub(retention_ms);
    let mut total = Pruned::default();
    loop {
        let p = store
            .prune(ended_before, forget_before, PRUNE_BATCH)
            .await?;
        total.conversations += p.conversations;
        total.outputs += p.outputs;
        total.forgotten += p.forgotten;
        if !p.more(PRUNE_BATCH) {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// Whether a stored session has ended (SPEC §4.2: the last turn stopped at a node with
/// neither input nor `next`): it was started and has no focus, no live chat, no action it
/// waits for, and no timer. Anything else, a state this does not recognise included, is live.
pub(crate) fn ended(state: &str, deadline: Option<i64>) -> bool {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(default)]
        started: bool,
        focus: Option<serde::de::IgnoredAny>,
        chat: Option<serde::de::IgnoredAny>,
        suspended: Option<serde::de::IgnoredAny>,
    }
    deadline.is_none()
        && serde_json::from_str::<Head>(state).is_ok_and(|h| {
            h.started && h.focus.is_none() && h.chat.is_none() && h.suspended.is_none()
        })
}

/// The body of a turn: given the stored session (if any), what to write (`None`: nothing).
pub type TurnFn = Box<dyn FnOnce(Option<Saved>) -> Result<Option<Commit>, Error> + Send>;

/// Where the runtime keeps its state. Errors are errors: a store that cannot answer never
/// looks like "no session".
pub trait Store: Send + Sync {
    /// Runs `f` on the conversation's stored session under a lock that serialises turns of
    /// that conversation across processes, and writes what it returns in the same
    /// transaction.
    fn turn(&self, key: Key, f: TurnFn) -> BoxFuture<'_, Result<Option<Committed>, Error>>;
    /// The stored session.
    fn load<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Saved>, Error>>;
    /// The recorded answer to the event sent to `key` with `Idempotency-Key: idem`.
    fn answer<'a>(
        &'a self,
        key: &'a Key,
        idem: &'a str,
    ) -> BoxFuture<'a, Result<Option<Answer>, Error>>;
    /// Outputs with `seq > after`, oldest first, at most `limit`.
    fn outputs<'a>(
        &'a self,
        key: &'a Key,
        after: i64,
        limit: i64,
    ) -> BoxFuture<'a, Result<Vec<Json>, Error>>;
    /// The conversation whose live chat is provider conversation `remote_id` of integration
    /// `integration_id`.
    fn route<'a>(
        &'a self,
        integration_id: &'a str,
        remote_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Key>, Error>>;
    /// Conversations of the bots in `served` whose deadline is at or before `now`, earliest
    /// first. Timers of other bots (a bot a deploy removed) are parked: never returned, so
    /// they can neither block nor be retried in a loop.
    fn due<'a>(
        &'a self,
        now: i64,
        limit: i64,
        served: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(Key, i64)>, Error>>;
    /// The earliest pending deadline of the bots in `served`.
    fn next_deadline<'a>(
        &'a self,
        served: &'a [String],
    ) -> BoxFuture<'a, Result<Option<i64>, Error>>;
    /// Moves conversation `key`'s deadline from `from` to `to`, unless a turn changed it in
    /// between: a timer whose turn keeps failing is retried later instead of at once.
    fn postpone_timer<'a>(
        &'a self,
        key: &'a Key,
        from: i64,
        to: i64,
    ) -> BoxFuture<'a, Result<(), Error>>;
    /// What the store holds per bot, by name.
    fn bots_in_store(&self) -> BoxFuture<'_, Result<Vec<BotSessions>, Error>>;
    /// Claims up to `limit` due effects (the oldest undone one of each conversation and lane,
    /// not leased by another process) for `lease_ms`; with `only`, that conversation's first
    /// attempts, due or not (retries are the workers').
    fn claim_effects<'a>(
        &'a self,
        now: i64,
        lease_ms: i64,
        only: Option<&'a Key>,
        limit: i64,
    ) -> BoxFuture<'a, Result<Vec<Effect>, Error>>;
    /// Marks an effect done (when no turn applies its result).
    fn finish_effect(&self, id: i64, now: i64) -> BoxFuture<'_, Result<(), Error>>;
    /// Extends the lease of an effect being performed to `until` (the heartbeat of a call
    /// still running), so no other process takes it over while its first run is alive.
    fn extend_effect(&self, id: i64, until: i64) -> BoxFuture<'_, Result<(), Error>>;
    /// Moves an effect that cannot succeed to the dead letters (kept, with its error; its
    /// conversation's later effects go on).
    fn fail_effect<'a>(
        &'a self,
        id: i64,
        now: i64,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>>;
    /// Releases an effect to be retried at `at`.
    fn retry_effect<'a>(
        &'a self,
        id: i64,
        at: i64,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>>;
    /// Stores webhook deliveries; returns the ids of those not seen before (by `dedupe`).
    fn receive(
        &self,
        deliveries: Vec<NewDelivery>,
        now: i64,
    ) -> BoxFuture<'_, Result<Vec<i64>, Error>>;
    /// Claims up to `limit` due deliveries for `lease_ms`; with `ids`, those.
    fn claim_deliveries<'a>(
        &'a self,
        now: i64,
        lease_ms: i64,
        ids: Option<&'a [i64]>,
        limit: i64,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, Error>>;
    /// Marks a delivery processed (it changed nothing, or its turn failed for good).
    fn finish_delivery(&self, id: i64, now: i64) -> BoxFuture<'_, Result<(), Error>>;
    /// Releases a delivery to be retried at `at`.
    fn retry_delivery(&self, id: i64, at: i64) -> BoxFuture<'_, Result<(), Error>>;
    /// Moves a delivery that cannot be applied to the dead letters: not done, never claimed
    /// again, kept with its error for a person to look at.
    fn fail_delivery<'a>(
        &'a self,
        id: i64,
        now: i64,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>>;
    /// Records a flow version's source, so sessions still on it survive a restart.
    fn save_version<'a>(
        &'a self,
        bot: &'a str,
        version: &'a str,
        source: &'a [u8],
    ) -> BoxFuture<'a, Result<(), Error>>;
    /// A recorded flow version's source.
    fn version_source<'a>(
        &'a self,
        bot: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, Error>>;
    /// Every session of `bot` not on `version`: `(conversation, saved)`.
    fn sessions_not_on<'a>(
        &'a self,
        bot: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, Saved)>, Error>>;
    /// Outbox and inbox figures.
    fn backlog(&self, now: i64) -> BoxFuture<'_, Result<Backlog, Error>>;
    /// Forgets processed deliveries (and their de-duplication keys) and finished effects
    /// older than `before`.
    fn purge(&self, before: i64) -> BoxFuture<'_, Result<(), Error>>;
    /// One bounded maintenance batch of the retention policy: archives up to `limit`
    /// conversations that ended before `ended_before` and have no effect left to perform
    /// (their outputs, recorded answers and provider-conversation index entries are deleted;
    /// the last `seq` is kept in an archive record), and forgets up to `limit` archive records
    /// of conversations that ended before `forget_before`. A live conversation is never
    /// touched, nor one whose turn is running; a turn that comes later starts a new session.
    fn prune(
        &self,
        ended_before: i64,
        forget_before: i64,
        limit: i64,
    ) -> BoxFuture<'_, Result<Pruned, Error>>;
    /// Answers when the store is reachable and takes a write (a full disk or a read-only
    /// database is not ready).
    fn ping(&self) -> BoxFuture<'_, Result<(), Error>>;
}

/// Opens the store a URL names: `memory:`, `sqlite://FILE` (`sqlite::memory:` for a private
/// in-memory database) or `postgres://…` / `postgresql://…`. Migrations are applied.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, Error> {
    if url == "memory:" {
        return Ok(Arc::new(MemoryStore::default()));
    }
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        return Ok(Arc::new(sqlite::Sqlite::open(path).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(postgres::Postgres::open(url).await?));
    }
    Err(Error::new(
        ErrorKind::Config,
        format!(
            "--store {}: expected memory:, sqlite://FILE or postgres://…",
            redact(url)
        ),
    ))
}

/// A store URL without its password: neither `user:password@` nor a `password=` query
/// parameter (which libpq-style URLs accept) is printed.
pub fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let auth = &base[s + 3..at];
            match auth.find(':') {
                Some(c) => format!("{}{}:***{}", &base[..s + 3], &auth[..c], &base[at..]),
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    if let Some(q) = query {
        let params: Vec<String> = q
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// The schema, written once for both SQL stores: each entry is one migration, applied in
/// order at start, each once (`schema_migrations` records them). `{int}`, `{id}` and `{blob}`
/// stand for the dialect's type names ([`Dialect`]); everything else is the same text.
/// Migrations already applied are never edited: a change is a new entry.
const SCHEMA: &[&str] = &[
    r"
CREATE TABLE sessions (
    bot TEXT NOT NULL, conversation TEXT NOT NULL, version TEXT NOT NULL, state TEXT NOT NULL,
    last_seq {int} NOT NULL DEFAULT 0, deadline {int}, updated_at {int} NOT NULL,
    PRIMARY KEY (bot, conversation));
CREATE INDEX sessions_deadline ON sessions (deadline) WHERE deadline IS NOT NULL;
CREATE TABLE outputs (
    bot TEXT NOT NULL, conversation TEXT NOT NULL, seq {int} NOT NULL, body TEXT NOT NULL,
    at {int} NOT NULL, PRIMARY KEY (bot, conversation, seq));
CREATE TABLE outbox (
    id {id}, bot TEXT NOT NULL, conversation TEXT NOT NULL,
    lane TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL, idem TEXT NOT NULL UNIQUE,
    attempts {int} NOT NULL DEFAULT 0, next_at {int} NOT NULL, lease_until {int} NOT NULL DEFAULT 0,
    done_at {int}, created_at {int} NOT NULL, last_error TEXT);
CREATE INDEX outbox_pending ON outbox (bot, conversation, lane, id) WHERE done_at IS NULL;
CREATE TABLE inbox (
    id {id}, dedupe TEXT NOT NULL UNIQUE, integration_id TEXT NOT NULL,
    remote_id TEXT NOT NULL, event TEXT NOT NULL, received_at {int} NOT NULL,
    next_at {int} NOT NULL, lease_until {int} NOT NULL DEFAULT 0, done_at {int});
CREATE INDEX inbox_pending ON inbox (next_at) WHERE done_at IS NULL;
CREATE TABLE chats (
    integration_id TEXT NOT NULL, remote_id TEXT NOT NULL, bot TEXT NOT NULL,
    conversation TEXT NOT NULL, at {int} NOT NULL, PRIMARY KEY (integration_id, remote_id));
CREATE TABLE flow_versions (
    bot TEXT NOT NULL, version TEXT NOT NULL, source {blob} NOT NULL, at {int} NOT NULL,
    PRIMARY KEY (bot, version));
",
    // Attempts and dead letters on the inbox, dead letters on the outbox, the row `ping`
    // writes.
    r"
ALTER TABLE inbox ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE inbox ADD COLUMN failed_at BIGINT;
ALTER TABLE inbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN failed_at BIGINT;
CREATE TABLE liveness (id BIGINT PRIMARY KEY, at BIGINT NOT NULL);
",
    // Answers to events sent with an `Idempotency-Key`.
    r"
CREATE TABLE event_keys (
    bot TEXT NOT NULL, conversation TEXT NOT NULL, idem TEXT NOT NULL, fingerprint TEXT NOT NULL,
    answer TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (bot, conversation, idem));
CREATE INDEX event_keys_at ON event_keys (at);
",
    // Retention: when a conversation ended, and what is kept of an archived one.
    r"
ALTER TABLE sessions ADD COLUMN ended_at {int};
CREATE INDEX sessions_ended ON sessions (ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX chats_conversation ON chats (bot, conversation);
CREATE TABLE archived (
    bot TEXT NOT NULL, conversation TEXT NOT NULL, last_seq {int} NOT NULL, ended_at {int} NOT NULL,
    PRIMARY KEY (bot, conversation));
CREATE INDEX archived_ended ON archived (ended_at);
",
];

/// The SQL type names that differ between SQLite and PostgreSQL.
pub(crate) struct Dialect {
    /// A 64-bit integer column.
    int: &'static str,
    /// A generated 64-bit row id, the primary key.
    id: &'static str,
    /// Bytes.
    blob: &'static str,
}

impl Dialect {
    /// SQLite: `INTEGER` (an `INTEGER PRIMARY KEY` is the row id).
    pub(crate) const SQLITE: Dialect = Dialect {
        int: "INTEGER",
        id: "INTEGER PRIMARY KEY AUTOINCREMENT",
        blob: "BLOB",
    };
    /// PostgreSQL.
    pub(crate) const POSTGRES: Dialect = Dialect {
        int: "BIGINT",
        id: "BIGSERIAL PRIMARY KEY",
        blob: "BYTEA",
    };

    /// The schema's migrations in this dialect, oldest first.
    pub(crate) fn migrations(&self) -> impl Iterator<Item = String> + '_ {
        SCHEMA.iter().map(|sql| {
            sql.replace("{int}", self.int)
                .replace("{id}", self.id)
                .replace("{blob}", self.blob)
        })
    }
}

pub(crate) fn store_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Store, format!("{what}: {e}"))
}

/// The JSON of an output with its `seq` as the first field.
pub(crate) fn with_seq(seq: i64, output: &Json) -> Json {
    let mut m = serde_json::Map::new();
    m.insert("seq".into(), Json::from(seq));
    if let Json::Object(o) = output {
        for (k, v) in o {
            m.insert(k.clone(), v.clone());
        }
    }
    Json::Object(m)
}

fn lane(kind: &str) -> &'static str {
    if kind == "deliver" {
        "channel"
    } else {
        "provider"
    }
}

#[cfg(test)]
mod tests {
    use super::{ended, parse_retention, redact};
    use crate::engine::{Bot, Event};

    #[test]
    fn retention_reads_units_and_refuses_the_rest() {
        assert_eq!(parse_retention("7d").ok(), Some(Some(7 * 86_400_000)));
        assert_eq!(parse_retention("12h").ok(), Some(Some(12 * 3_600_000)));
        assert_eq!(parse_retention("30m").ok(), Some(Some(1_800_000)));
        assert_eq!(parse_retention("0s").ok(), Some(Some(0)));
        assert_eq!(parse_retention("off").ok(), Some(None));
        for bad in [
            "",
            "7",
            "d",
            "-1d",
            "1.5d",
            "7 d",
            "7w",
            "99999999999999999d",
            "7dd",
            "١d",
        ] {
            let e = parse_retention(bad).expect_err(bad);
            assert!(e.to_string().contains("--retention"), "{bad}: {e}");
        }
    }

    /// The store's reading of "ended" agrees with the engine's sessions.
    #[test]
    fn ended_is_what_the_engine_ends() {
        let flow = r#"{ "nodes": [
          { "id": "inicio", "condition": "start", "output": [ { "default": { "type": "text", "text": "oi" } } ],
            "next": [ { "condition": "$fim", "goto": "tchau" }, { "goto": "pergunta" } ] },
          { "id": "pergunta", "input": { "default": { "type": "text_input" } }, "next": [ { "goto": "tchau" } ] },
          { "id": "tchau", "output": [ { "default": { "type": "text", "text": "tchau" } } ] }
        ] }"#;
        let bot = Bot::from_json(flow, None).expect("flow");
        let mut s = bot.new_session("c");
        let json = |s: &crate::engine::Session| serde_json::to_string(s).expect("json");
        assert!(!ended(&json(&s), None), "not started");
        let event = |v: serde_json::Value| serde_json::from_value::<Event>(v).expect("event");
        bot.handle(&mut s, event(serde_json::json!({ "type": "start" })), 0);
        assert!(s.focus().is_some());
        assert!(!ended(&json(&s), None), "waits at an input");
        bot.handle(
            &mut s,
            event(serde_json::json!({ "type": "user", "text": "x" })),
            1,
        );
        assert!(s.focus().is_none());
        assert!(
            ended(&json(&s), None),
            "stopped at a node with neither input nor next"
        );
        assert!(!ended(&json(&s), Some(5)), "a timer is pending");
        assert!(!ended("not json", None));
        assert!(!ended(r#"{"started":true,"suspended":{"id":"a"}}"#, None));
        assert!(!ended(r#"{"started":true,"chat":{}}"#, None));
    }

    #[test]
    fn passwords_are_never_printed() {
        assert_eq!(
            redact("postgres://fluxo:s3cret@db:5432/fluxo"),
            "postgres://fluxo:***@db:5432/fluxo"
        );
        assert_eq!(
            redact("postgres://fluxo@db/fluxo?sslmode=require&password=s3cret"),
            "postgres://fluxo@db/fluxo?sslmode=require&password=***"
        );
        assert_eq!(
            redact("postgresql://db/fluxo?PASSWORD=x&user=u"),
            "postgresql://db/fluxo?PASSWORD=***&user=u"
        );
        assert_eq!(redact("sqlite://fluxo.db"), "sqlite://fluxo.db");
    }
}
