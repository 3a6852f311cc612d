//! `sqlite://FILE`: the default store, embedded (the SQLite library is bundled with fluxo),
//! nothing to install. One writer connection in WAL mode with `synchronous = FULL`, so a
//! committed turn survives a crash of the process and of the machine. SQLite serialises
//! writers, which is what "one turn at a time per conversation" needs within one process;
//! several processes on one file also work (SQLite's file lock, `busy_timeout`), but the
//! scale-out path is PostgreSQL.

use super::{
    lane, store_error, with_seq, Backlog, Commit, Committed, Delivery, Dialect, Done, Effect, Key,
    NewDelivery, Pruned, Saved, Store, TurnFn,
};
use crate::drivers::BoxFuture;
use crate::error::Error;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value as Json;
use std::sync::{Arc, Mutex};

/// A unit of work for the writer thread.
enum Job {
    /// A turn: batched with the turns queued behind it into one transaction.
    Turn(
        Key,
        TurnFn,
        tokio::sync::oneshot::Sender<Result<Option<Committed>, Error>>,
    ),
    /// Anything else that writes.
    Run(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// Most turns committed together.
const BATCH: usize = 64;

/// The SQLite store: one writer thread that owns the writing connection and commits the turns
/// queued at the same moment in one transaction (each in its own savepoint, so one failing
/// turn does not undo the others), and one connection for reads (WAL lets them run beside the
/// writer). Checkpoints run off the writer, from the reading side.
pub(super) struct Sqlite {
    writer: std::sync::mpsc::Sender<Job>,
    reader: Option<Arc<Mutex<Connection>>>,
    /// Dropped with the store: stops the checkpoint thread.
    _alive: Arc<()>,
}

fn e(what: &'static str) -> impl Fn(rusqlite::Error) -> Error {
    move |x| store_error(what, x)
}

fn parse(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or(Json::Null)
}

/// A list of names as the JSON array `json_each` reads.
fn json_list(names: &[String]) -> String {
    serde_json::to_string(names).unwrap_or_else(|_| "[]".into())
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn connect(path: &str) -> Result<Connection, Error> {
    let c = if path == ":memory:" {
        Connection::open_in_memory()
    } else {
        Connection::open(path)
    }
    .map_err(|x| store_error(&format!("sqlite://{path}"), x))?;
    c.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(e("sqlite busy_timeout"))?;
    c.pragma_update(None, "journal_mode", "WAL")
        .map_err(e("sqlite journal_mode"))?;
    c.pragma_update(None, "synchronous", "FULL")
        .map_err(e("sqlite synchronous"))?;
    Ok(c)
}

impl Sqlite {
    pub(super) async fn open(path: &str) -> Result<Sqlite, Error> {
        let path = path.to_owned();
        let path_for_checkpoints = path.clone();
        let (writer, reader) = tokio::task::spawn_blocking(move || -> Result<_, Error> {
            let mut w = connect(&path)?;
            migrate(&mut w)?;
            // The writer never stops for a checkpoint; the reading side runs them.
            w.pragma_update(None, "wal_autocheckpoint", 0)
                .map_err(e("sqlite wal_autocheckpoint"))?;
            let r = if path == ":memory:" {
                None
            } else {
                Some(connect(&path)?)
            };
            Ok((w, r))
        })
        .await
        .map_err(|x| store_error("sqlite open", x))??;
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("fluxo-sqlite-writer".into())
            .spawn(move || write_loop(writer, &rx))
            .map_err(|x| store_error("sqlite writer thread", x))?;
        let alive = Arc::new(());
        let reader = reader.map(|r| Arc::new(Mutex::new(r)));
        if reader.is_some() {
            // Checkpoints on a connection of their own: PASSIVE ones twice a second, and every
            // minute a TRUNCATE that gives the WAL's space back (it only succeeds in a quiet
            // moment; a short busy timeout keeps it from holding anything up).
            let checkpoints = connect(&path_for_checkpoints).and_then(|c| {
                c.busy_timeout(std::time::Duration::from_millis(100))
                    .map_err(e("sqlite busy_timeout"))?;
                Ok(c)
            });
            if let Ok(c) = checkpoints {
                let alive = Arc::downgrade(&alive);
                let _ = std::thread::Builder::new()
                    .name("fluxo-sqlite-checkpoint".into())
                    .spawn(move || {
                        let mut ticks = 0u32;
                        while alive.upgrade().is_some() {
                            std::thread::sleep(std::time::Duration::from_millis(500));
                            ticks = ticks.wrapping_add(1);
                            let mode = if ticks.is_multiple_of(120) {
                                "TRUNCATE"
                            } else {
                                "PASSIVE"
                            };
                            let _ =
                                c.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| {
                                    Ok(())
                                });
                        }
                    });
            }
        }
        Ok(Sqlite {
            writer: tx,
            reader,
            _alive: alive,
        })
    }

    /// Runs `f` on the writer thread.
    fn run<'a, T: Send + 'static>(
        &'a self,
        f: impl FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    ) -> BoxFuture<'a, Result<T, Error>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Job::Run(Box::new(move |c| {
            let _ = tx.send(f(c));
        }));
        let sent = self.writer.send(job);
        Box::pin(async move {
            sent.map_err(|_| store_error("sqlite", "the writer thread stopped"))?;
            rx.await
                .map_err(|_| store_error("sqlite", "the writer thread stopped"))?
        })
    }

    /// One statement on the writer, for the writes whose answer nobody reads.
    fn execute<P: rusqlite::Params + Send + 'static>(
        &self,
        sql: &'static str,
        params: P,
        what: &'static str,
    ) -> BoxFuture<'_, Result<(), Error>> {
        self.run(move |c| {
            c.prepare_cached(sql)
                .and_then(|mut s| s.execute(params))
                .map(|_| ())
                .map_err(e(what))
        })
    }

    /// Runs `f` on the reading connection (on the writer for a private in-memory database).
    fn read<'a, T: Send + 'static>(
        &'a self,
        f: impl FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    ) -> BoxFuture<'a, Result<T, Error>> {
        let Some(reader) = self.reader.clone() else {
            return self.run(move |c| f(c));
        };
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let c = reader
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                f(&c)
            })
            .await
            .map_err(|x| store_error("sqlite reader", x))?
        })
    }
}

fn write_loop(mut c: Connection, rx: &std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut turns = Vec::new();
        let mut after = None;
        match first {
            Job::Run(f) => {
                f(&mut c);
                continue;
            }
            Job::Turn(k, f, reply) => turns.push((k, f, reply)),
        }
        while turns.len() < BATCH {
            match rx.try_recv() {
                Ok(Job::Turn(k, f, reply)) => turns.push((k, f, reply)),
                Ok(Job::Run(f)) => {
                    after = Some(f);
                    break;
                }
                Err(_) => break,
            }
        }
        commit_turns(&mut c, turns);
        if let Some(f) = after {
            f(&mut c);
        }
    }
}

type Reply = tokio::sync::oneshot::Sender<Result<Option<Committed>, Error>>;

/// Commits `turns` in one transaction, each in a savepoint.
fn commit_turns(c: &mut Connection, turns: Vec<(Key, TurnFn, Reply)>) {
    let mut tx = match c.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(x) => {
            for (_, _, reply) in turns {
                let _ = reply.send(Err(store_error("sqlite begin", &x)));
            }
            return;
        }
    };
    let mut results = Vec::with_capacity(turns.len());
    for (key, f, reply) in turns {
        let r =
            (|| {
                let mut sp = tx.savepoint().map_err(e("sqlite savepoint"))?;
                let saved = match load(&sp, &key)? {
                    Some(s) => Some(s),
                    None => archived(&sp, &key)?,
                };
                let Some(commit) = f(saved.clone())? else {
                    return Ok(None);
                };
                let idem = commit.idempotency.clone();
                let now = commit.now;
                let done = write(&sp, &key, saved.as_ref(), commit).map_err(e("sqlite write"))?;
                if let Some((k, fingerprint)) = idem {
                    let answer = Json::Array(done.outputs.clone()).to_string();
                    let fresh = sp
                    .prepare_cached(
                        "INSERT INTO event_keys (bot, conversation, idem, fingerprint, answer, at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                    )
                    .and_then(|mut s| {
                        s.execute(params![key.bot, key.conversation, k, fingerprint, answer, now])
                    })
                    .map_err(e("sqlite event key"))?;
                    if fresh == 0 {
                        // Dropping the savepoint rolls the turn back.
                        return Err(super::repeated_key());
                    }
                }
                sp.set_drop_behavior(rusqlite::DropBehavior::Commit);
                sp.commit().map_err(e("sqlite release"))?;
                Ok(Some(done))
            })();
        results.push((r, reply));
    }
    match tx.commit() {
        Ok(()) => {
            for (r, reply) in results {
                let _ = reply.send(r);
            }
        }
        Err(x) => {
            for (_, reply) in results {
                let _ = reply.send(Err(store_error("sqlite commit", &x)));
            }
        }
    }
}

fn migrate(c: &mut Connection) -> Result<(), Error> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(e("sqlite migrate"))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, at INTEGER NOT NULL)",
    )
    .map_err(e("sqlite migrate"))?;
    let done: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(e("sqlite migrate"))?;
    for (i, sql) in Dialect::SQLITE.migrations().enumerate() {
        let v = i64::try_from(i).unwrap_or(i64::MAX) + 1;
        if v <= done {
            continue;
        }
        tx.execute_batch(&sql).map_err(e("sqlite migrate"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, at) VALUES (?1, ?2)",
            params![v, now_ms()],
        )
        .map_err(e("sqlite migrate"))?;
    }
    tx.commit().map_err(e("sqlite migrate"))
}

fn load(c: &Connection, key: &Key) -> Result<Option<Saved>, Error> {
    c.prepare_cached(
        "SELECT state, version, last_seq, deadline FROM sessions WHERE bot = ?1 AND conversation = ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![key.bot, key.conversation], |r| {
            Ok(Saved {
                session: r.get(0)?,
                version: r.get(1)?,
                last_seq: r.get(2)?,
                deadline: r.get(3)?,
                archived: false,
            })
        })
        .optional()
    })
    .map_err(e("sqlite load"))
}

/// What is kept of an archived conversation.
fn archived(c: &Connection, key: &Key) -> Result<Option<Saved>, Error> {
    c.prepare_cached("SELECT last_seq FROM archived WHERE bot = ?1 AND conversation = ?2")
        .and_then(|mut s| {
            s.query_row(params![key.bot, key.conversation], |r| r.get(0))
                .optional()
        })
        .map(|seq| seq.map(Saved::archived))
        .map_err(e("sqlite load"))
}

fn write(
    tx: &Connection,
    key: &Key,
    saved: Option<&Saved>,
    c: Commit,
) -> Result<Committed, rusqlite::Error> {
    let last = saved.map_or(0, |s| s.last_seq);
    let mut numbered = Vec::with_capacity(c.outputs.len());
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO outputs (bot, conversation, seq, body, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (i, o) in c.outputs.iter().enumerate() {
            let seq = last + 1 + i64::try_from(i).unwrap_or(i64::MAX);
            let o = with_seq(seq, o);
            ins.execute(params![
                key.bot,
                key.conversation,
                seq,
                o.to_string(),
                c.now
            ])?;
            numbered.push(o);
        }
    }
    let last_seq = last + i64::try_from(c.outputs.len()).unwrap_or(0);
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO outbox (bot, conversation, lane, kind, payload, idem, next_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (idem) DO NOTHING",
        )?;
        for x in &c.effects {
            ins.execute(params![
                key.bot,
                key.conversation,
                lane(&x.kind),
                x.kind,
                x.payload.to_string(),
                x.idempotency_key,
                x.not_before,
                c.now
            ])?;
        }
    }
    if let Some((i, r)) = &c.chat {
        tx.prepare_cached(
            "INSERT INTO chats (integration_id, remote_id, bot, conversation, at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (integration_id, remote_id) DO UPDATE SET at = excluded.at
             WHERE chats.bot = excluded.bot AND chats.conversation = excluded.conversation",
        )?
        .execute(params![i, r, key.bot, key.conversation, c.now])?;
    }
    match c.done {
        Some(Done::Effect(id)) => {
            tx.prepare_cached("UPDATE outbox SET done_at = ?2 WHERE id = ?1")?
                .execute(params![id, c.now])?;
        }
        Some(Done::Delivery(id)) => {
            tx.prepare_cached("UPDATE inbox SET done_at = ?2 WHERE id = ?1")?
                .execute(params![id, c.now])?;
        }
        None => {}
    }
    if saved.is_some_and(|s| s.archived) {
        tx.prepare_cached("DELETE FROM archived WHERE bot = ?1 AND conversation = ?2")?
            .execute(params![key.bot, key.conversation])?;
    }
    let ended_at = super::ended(&c.session, c.deadline).then_some(c.now);
    tx.prepare_cached(
        "INSERT INTO sessions (bot, conversation, version, state, last_seq, deadline, updated_at, ended_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (bot, conversation) DO UPDATE SET version = excluded.version, state = excluded.state,
           last_seq = excluded.last_seq, deadline = excluded.deadline, updated_at = excluded.updated_at,
           ended_at = excluded.ended_at",
    )?
    .execute(params![
        key.bot,
        key.conversation,
        c.version,
        c.session,
        last_seq,
        c.deadline,
        c.now,
        ended_at
    ])?;
    Ok(Committed {
        first_seq: last + 1,
        outputs: numbered,
    })
}

impl Store for Sqlite {
    fn turn(&self, key: Key, f: TurnFn) -> BoxFuture<'_, Result<Option<Committed>, Error>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sent = self.writer.send(Job::Turn(key, f, tx));
        Box::pin(async move {
            sent.map_err(|_| store_error("sqlite", "the writer thread stopped"))?;
            rx.await
                .map_err(|_| store_error("sqlite", "the writer thread stopped"))?
        })
    }

    fn load<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Saved>, Error>> {
        let key = key.clone();
        self.read(move |c| load(c, &key))
    }

    fn answer<'a>(
        &'a self,
        key: &'a Key,
        idem: &'a str,
    ) -> BoxFuture<'a, Result<Option<super::Answer>, Error>> {
        let (key, idem) = (key.clone(), idem.to_owned());
        self.read(move |c| {
            c.prepare_cached(
                "SELECT fingerprint, answer FROM event_keys WHERE bot = ?1 AND conversation = ?2 AND idem = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![key.bot, key.conversation, idem], |r| {
                    let answer: String = r.get(1)?;
                    Ok(super::Answer {
                        fingerprint: r.get(0)?,
                        outputs: match parse(&answer) {
                            Json::Array(a) => a,
                            _ => Vec::new(),
                        },
                    })
                })
                .optional()
            })
            .map_err(e("sqlite answer"))
        })
    }

    fn outputs<'a>(
        &'a self,
        key: &'a Key,
        after: i64,
        limit: i64,
    ) -> BoxFuture<'a, Result<Vec<Json>, Error>> {
        let key = key.clone();
        self.read(move |c| {
            let mut s = c
                .prepare_cached(
                    "SELECT body FROM outputs WHERE bot = ?1 AND conversation = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
                )
                .map_err(e("sqlite outputs"))?;
            let rows = s
                .query_map(params![key.bot, key.conversation, after, limit], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(e("sqlite outputs"))?;
            rows.map(|r| r.map(|t| parse(&t)).map_err(e("sqlite outputs")))
                .collect()
        })
    }

    fn route<'a>(
        &'a self,
        integration_id: &'a str,
        remote_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Key>, Error>> {
        let (i, r) = (integration_id.to_owned(), remote_id.to_owned());
        self.read(move |c| {
            c.prepare_cached(
                "SELECT bot, conversation FROM chats WHERE integration_id = ?1 AND remote_id = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![i, r], |row| {
                    Ok(Key::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .optional()
            })
            .map_err(e("sqlite route"))
        })
    }

    fn due<'a>(
        &'a self,
        now: i64,
        limit: i64,
        served: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(Key, i64)>, Error>> {
        let served = json_list(served);
        self.read(move |c| {
            let mut s = c
                .prepare_cached(
                    "SELECT bot, conversation, deadline FROM sessions WHERE deadline IS NOT NULL AND deadline <= ?1
                       AND bot IN (SELECT value FROM json_each(?3)) ORDER BY deadline LIMIT ?2",
                )
                .map_err(e("sqlite due"))?;
            let rows = s
                .query_map(params![now, limit, served], |r| {
                    Ok((Key::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?), r.get(2)?))
                })
                .map_err(e("sqlite due"))?;
            rows.collect::<Result<_, _>>().map_err(e("sqlite due"))
        })
    }

    fn next_deadline<'a>(
        &'a self,
        served: &'a [String],
    ) -> BoxFuture<'a, Result<Option<i64>, Error>> {
        let served = json_list(served);
        self.read(move |c| {
            c.query_row(
                "SELECT MIN(deadline) FROM sessions WHERE deadline IS NOT NULL
                   AND bot IN (SELECT value FROM json_each(?1))",
                params![served],
                |r| r.get(0),
            )
            .map_err(e("sqlite next deadline"))
        })
    }

    fn postpone_timer<'a>(
        &'a self,
        key: &'a Key,
        from: i64,
        to: i64,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let key = key.clone();
        self.execute("UPDATE sessions SET deadline = ?4 WHERE bot = ?1 AND conversation = ?2 AND deadline = ?3", (key.bot, key.conversation, from, to), "sqlite postpone timer")
    }

    fn bots_in_store(&self) -> BoxFuture<'_, Result<Vec<super::BotSessions>, Error>> {
        self.read(|c| {
            let mut s = c
                .prepare_cached(
                    "SELECT bot, COUNT(*), COUNT(deadline) FROM sessions GROUP BY bot ORDER BY bot",
                )
                .map_err(e("sqlite bots"))?;
            let rows = s
                .query_map([], |r| {
                    Ok(super::BotSessions {
                        bot: r.get(0)?,
                        sessions: r.get(1)?,
                        timers: r.get(2)?,
                    })
                })
                .map_err(e("sqlite bots"))?;
            rows.collect::<Result<_, _>>().map_err(e("sqlite bots"))
        })
    }

    fn claim_effects<'a>(
        &'a self,
        now: i64,
        lease_ms: i64,
        only: Option<&'a Key>,
        limit: i64,
    ) -> BoxFuture<'a, Result<Vec<Effect>, Error>> {
        let only = only.cloned();
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(e("sqlite claim"))?;
            let (bot, conv) = only
                .as_ref()
                .map_or((None, None), |k| (Some(k.bot.clone()), Some(k.conversation.clone())));
            let claimed = {
                let mut s = tx
                    .prepare_cached(
                        "UPDATE outbox SET lease_until = ?1 + ?2, attempts = attempts + 1
                         WHERE id IN (
                           SELECT o.id FROM outbox o
                           WHERE o.done_at IS NULL AND o.lease_until <= ?1
                             AND ((?4 IS NULL AND o.next_at <= ?1) OR (o.bot = ?4 AND o.conversation = ?5 AND o.attempts = 0))
                             AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.done_at IS NULL AND p.bot = o.bot
                                   AND p.conversation = o.conversation AND p.lane = o.lane AND p.id < o.id)
                           ORDER BY o.id LIMIT ?3)
                         RETURNING id, bot, conversation, kind, payload, idem, attempts",
                    )
                    .map_err(e("sqlite claim"))?;
                let rows = s
                    .query_map(params![now, lease_ms, limit, bot, conv], |r| {
                        Ok(Effect {
                            id: r.get(0)?,
                            key: Key::new(r.get::<_, String>(1)?, r.get::<_, String>(2)?),
                            kind: r.get(3)?,
                            payload: parse(&r.get::<_, String>(4)?),
                            idempotency_key: r.get(5)?,
                            attempts: r.get(6)?,
                        })
                    })
                    .map_err(e("sqlite claim"))?;
                let mut v: Vec<Effect> = rows.collect::<Result<_, _>>().map_err(e("sqlite claim"))?;
                v.sort_by_key(|x| x.id);
                v
            };
            tx.commit().map_err(e("sqlite claim"))?;
            Ok(claimed)
        })
    }

    fn finish_effect(&self, id: i64, now: i64) -> BoxFuture<'_, Result<(), Error>> {
        self.execute(
            "UPDATE outbox SET done_at = ?2 WHERE id = ?1",
            (id, now),
            "sqlite finish effect",
        )
    }

    fn extend_effect(&self, id: i64, until: i64) -> BoxFuture<'_, Result<(), Error>> {
        self.execute("UPDATE outbox SET lease_until = MAX(lease_until, ?2) WHERE id = ?1 AND done_at IS NULL", (id, until), "sqlite extend lease")
    }

    fn fail_effect<'a>(
        &'a self,
        id: i64,
        now: i64,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let error = error.to_owned();
        self.execute("UPDATE outbox SET done_at = ?2, failed_at = ?2, lease_until = 0, last_error = ?3 WHERE id = ?1", (id, now, error), "sqlite fail effect")
    }

    fn retry_effect<'a>(
        &'a self,
        id: i64,
        at: i64,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let error = error.to_owned();
        self.execute(
            "UPDATE outbox SET next_at = ?2, lease_until = 0, last_error = ?3 WHERE id = ?1",
            (id, at, error),
            "sqlite retry effect",
        )
    }

    fn receive(
        &self,
        deliveries: Vec<NewDelivery>,
        now: i64,
    ) -> BoxFuture<'_, Result<Vec<i64>, Error>> {
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(e("sqlite receive"))?;
            let mut fresh = Vec::new();
            {
                let mut s = tx
                    .prepare_cached(
                        "INSERT INTO inbox (dedupe, integration_id, remote_id, event, received_at, next_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (dedupe) DO NOTHING RETURNING id",
                    )
                    .map_err(e("sqlite receive"))?;
                for d in &deliveries {
                    let id: Option<i64> = s
                        .query_row(
                            params![d.dedupe, d.integration_id, d.remote_id, d.event.to_string(), now],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(e("sqlite receive"))?;
                    fresh.extend(id);
                }
            }
            tx.commit().map_err(e("sqlite receive"))?;
            Ok(fresh)
        })
    }

    fn claim_deliveries<'a>(
        &'a self,
        now: i64,
        lease_ms: i64,
        ids: Option<&'a [i64]>,
        limit: i64,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, Error>> {
        let ids = ids.map(|i| serde_json::to_string(i).unwrap_or_else(|_| "[]".into()));
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(e("sqlite claim deliveries"))?;
            let v = {
                let mut s = tx
                    .prepare_cached(
                        "UPDATE inbox SET lease_until = ?1 + ?2, attempts = attempts + 1 WHERE id IN (
                           SELECT id FROM inbox WHERE done_at IS NULL AND failed_at IS NULL AND lease_until <= ?1
                             AND ((?4 IS NULL AND next_at <= ?1) OR id IN (SELECT value FROM json_each(?4)))
                           ORDER BY id LIMIT ?3)
                         RETURNING id, integration_id, remote_id, event, received_at, attempts",
                    )
                    .map_err(e("sqlite claim deliveries"))?;
                let rows = s
                    .query_map(params![now, lease_ms, limit, ids], |r| {
                        Ok(Delivery {
                            id: r.get(0)?,
                            integration_id: r.get(1)?,
                            remote_id: r.get(2)?,
                            event: parse(&r.get::<_, String>(3)?),
                            received_at: r.get(4)?,
                            attempts: r.get(5)?,
                        })
                    })
                    .map_err(e("sqlite claim deliveries"))?;
                let mut v: Vec<Delivery> = rows
                    .collect::<Result<_, _>>()
                    .map_err(e("sqlite claim deliveries"))?;
                v.sort_by_key(|x| x.id);
                v
            };
            tx.commit().map_err(e("sqlite claim deliveries"))?;
            Ok(v)
        })
    }

    fn finish_delivery(&self, id: i64, now: i64) -> BoxFuture<'_, Result<(), Error>> {
        self.execute(
            "UPDATE inbox SET done_at = ?2 WHERE id = ?1",
            (id, now),
            "sqlite finish delivery",
        )
    }

    fn fail_delivery<'a>(
        &'a self,
        id: i64,
        now: i64,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let error = error.to_owned();
        self.execute("UPDATE inbox SET failed_at = ?2, next_at = ?4, lease_until = 0, last_error = ?3 WHERE id = ?1", (id, now, error, i64::MAX), "sqlite fail delivery")
    }

    fn retry_delivery(&self, id: i64, at: i64) -> BoxFuture<'_, Result<(), Error>> {
        self.execute(
            "UPDATE inbox SET next_at = ?2, lease_until = 0 WHERE id = ?1",
            (id, at),
            "sqlite retry delivery",
        )
    }

    fn save_version<'a>(
        &'a self,
        bot: &'a str,
        version: &'a str,
        source: &'a [u8],
    ) -> BoxFuture<'a, Result<(), Error>> {
        self.execute(
            "INSERT INTO flow_versions (bot, version, source, at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (bot, version) DO UPDATE SET source = excluded.source, at = excluded.at",
            (
                bot.to_owned(),
                version.to_owned(),
                source.to_vec(),
                now_ms(),
            ),
            "sqlite save version",
        )
    }

    fn version_source<'a>(
        &'a self,
        bot: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, Error>> {
        let (b, v) = (bot.to_owned(), version.to_owned());
        self.read(move |c| {
            c.query_row(
                "SELECT source FROM flow_versions WHERE bot = ?1 AND version = ?2",
                params![b, v],
                |r| r.get(0),
            )
            .optional()
            .map_err(e("sqlite version"))
        })
    }

    fn sessions_not_on<'a>(
        &'a self,
        bot: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, Saved)>, Error>> {
        let (b, v) = (bot.to_owned(), version.to_owned());
        self.read(move |c| {
            let mut s = c
                .prepare(
                    "SELECT conversation, state, version, last_seq, deadline FROM sessions
                     WHERE bot = ?1 AND version <> ?2 ORDER BY conversation",
                )
                .map_err(e("sqlite sessions"))?;
            let rows = s
                .query_map(params![b, v], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        Saved {
                            session: r.get(1)?,
                            version: r.get(2)?,
                            last_seq: r.get(3)?,
                            deadline: r.get(4)?,
                            archived: false,
                        },
                    ))
                })
                .map_err(e("sqlite sessions"))?;
            rows.collect::<Result<_, _>>().map_err(e("sqlite sessions"))
        })
    }

    fn backlog(&self, now: i64) -> BoxFuture<'_, Result<Backlog, Error>> {
        self.read(move |c| {
            let (outbox, oldest): (i64, Option<i64>) = c
                .query_row(
                    "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE done_at IS NULL",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(e("sqlite backlog"))?;
            let (inbox, dead_deliveries): (i64, i64) = c
                .query_row(
                    "SELECT COUNT(*) FILTER (WHERE failed_at IS NULL), COUNT(failed_at) FROM inbox WHERE done_at IS NULL",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(e("sqlite backlog"))?;
            let dead_effects: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM outbox WHERE failed_at IS NOT NULL",
                    [],
                    |r| r.get(0),
                )
                .map_err(e("sqlite backlog"))?;
            Ok(Backlog {
                outbox,
                oldest_ms: oldest.map_or(0, |o| now.saturating_sub(o).max(0)),
                inbox,
                dead_deliveries,
                dead_effects,
            })
        })
    }

    fn purge(&self, before: i64) -> BoxFuture<'_, Result<(), Error>> {
        self.run(move |c| {
            c.execute(
                "DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < ?1",
                params![before],
            )
            .and_then(|_| {
                c.execute(
                    "DELETE FROM outbox WHERE done_at IS NOT NULL AND done_at < ?1 AND failed_at IS NULL",
                    params![before],
                )
            })
            .and_then(|_| {
                c.execute("DELETE FROM event_keys WHERE at < ?1", params![before])
            })
            .map(|_| ())
            .map_err(e("sqlite purge"))
        })
    }

    fn prune(
        &self,
        ended_before: i64,
        forget_before: i64,
        limit: i64,
    ) -> BoxFuture<'_, Result<Pruned, Error>> {
        // On the writer: a turn of the same conversation is either committed before (and then
        // the conversation is live again, or ended later) or comes after (and finds the
        // archive record).
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(e("sqlite prune"))?;
            let mut pruned = Pruned::default();
            {
                let mut pick = tx
                    .prepare_cached(
                        "SELECT bot, conversation, last_seq, ended_at FROM sessions s
                         WHERE ended_at IS NOT NULL AND ended_at < ?1 AND deadline IS NULL
                           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.done_at IS NULL
                                 AND o.bot = s.bot AND o.conversation = s.conversation)
                         ORDER BY ended_at LIMIT ?2",
                    )
                    .map_err(e("sqlite prune"))?;
                let ended: Vec<(String, String, i64, i64)> = pick
                    .query_map(params![ended_before, limit], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .and_then(Iterator::collect)
                    .map_err(e("sqlite prune"))?;
                for (bot, conversation, last_seq, ended_at) in ended {
                    for sql in [
                        "DELETE FROM outputs WHERE bot = ?1 AND conversation = ?2",
                        "DELETE FROM event_keys WHERE bot = ?1 AND conversation = ?2",
                        "DELETE FROM chats WHERE bot = ?1 AND conversation = ?2",
                        "DELETE FROM sessions WHERE bot = ?1 AND conversation = ?2",
                    ] {
                        let n = tx
                            .prepare_cached(sql)
                            .and_then(|mut s| s.execute(params![bot, conversation]))
                            .map_err(e("sqlite prune"))?;
                        if sql.contains("outputs") {
                            pruned.outputs += i64::try_from(n).unwrap_or(i64::MAX);
                        }
                    }
                    tx.prepare_cached(
                        "INSERT INTO archived (bot, conversation, last_seq, ended_at) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (bot, conversation) DO UPDATE SET last_seq = excluded.last_seq,
                           ended_at = excluded.ended_at",
                    )
                    .and_then(|mut s| s.execute(params![bot, conversation, last_seq, ended_at]))
                    .map_err(e("sqlite prune"))?;
                    pruned.conversations += 1;
                }
            }
            let forgotten = tx
                .prepare_cached(
                    "DELETE FROM archived WHERE (bot, conversation) IN (
                       SELECT bot, conversation FROM archived WHERE ended_at < ?1 ORDER BY ended_at LIMIT ?2)",
                )
                .and_then(|mut s| s.execute(params![forget_before, limit]))
                .map_err(e("sqlite prune"))?;
            pruned.forgotten = i64::try_from(forgotten).unwrap_or(i64::MAX);
            tx.commit().map_err(e("sqlite prune"))?;
            Ok(pruned)
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), Error>> {
        self.execute("INSERT INTO liveness (id, at) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET at = excluded.at", (now_ms(),), "sqlite ping (a write)")
    }
}
