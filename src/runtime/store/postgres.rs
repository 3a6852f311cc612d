//! `postgres://…`: the scale-out store. Several `fluxo serve` replicas share one database;
//! PostgreSQL does the distributed part. A turn locks its session row (`SELECT … FOR UPDATE`;
//! a transaction-scoped advisory lock on the conversation when the row does not exist yet),
//! so turns of one conversation are serialised across replicas; workers claim outbox and inbox
//! rows with `FOR UPDATE SKIP LOCKED` and a lease, so each is handled by one replica at a time.

use super::{
    lane, store_error, with_seq, Backlog, Commit, Committed, Delivery, Dialect, Done, Effect, Key,
    NewDelivery, Pruned, Saved, Store, TurnFn,
};
use crate::drivers::BoxFuture;
use crate::error::Error;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde_json::Value as Json;
use tokio_postgres::Row;

/// The PostgreSQL store.
pub(super) struct Postgres {
    pool: Pool,
}

fn e<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> Error {
    move |x| store_error(what, x)
}

fn parse(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or(Json::Null)
}

fn saved(r: &Row) -> Result<Saved, tokio_postgres::Error> {
    Ok(Saved {
        session: r.try_get(0)?,
        version: r.try_get(1)?,
        last_seq: r.try_get(2)?,
        deadline: r.try_get(3)?,
        archived: false,
    })
}

fn effect(r: &Row) -> Result<Effect, tokio_postgres::Error> {
    Ok(Effect {
        id: r.try_get(0)?,
        key: Key::new(r.try_get::<_, String>(1)?, r.try_get::<_, String>(2)?),
        kind: r.try_get(3)?,
        payload: parse(r.try_get(4)?),
        idempotency_key: r.try_get(5)?,
        attempts: r.try_get(6)?,
    })
}

impl Postgres {
    pub(super) async fn open(url: &str) -> Result<Postgres, Error> {
        let what = super::redact(url);
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|x| store_error(&format!("--store {what}"), x))?;
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|x| store_error(&format!("--store {what}"), x))?;
        let pg = Postgres { pool };
        pg.migrate()
            .await
            .map_err(|x| store_error(&format!("--store {what}"), x))?;
        Ok(pg)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, Error> {
        self.pool.get().await.map_err(e("postgres connection"))
    }

    /// One statement on a pooled connection, for the writes whose answer nobody reads.
    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        what: &'static str,
    ) -> Result<(), Error> {
        let c = self.client().await?;
        let st = c.prepare_cached(sql).await.map_err(e(what))?;
        c.execute(&st, params).await.map(|_| ()).map_err(e(what))
    }

    async fn migrate(&self) -> Result<(), Error> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(e("postgres migrate"))?;
        tx.execute("SELECT pg_advisory_xact_lock(7426001)", &[])
            .await
            .map_err(e("postgres migrate"))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, at BIGINT NOT NULL)",
        )
        .await
        .map_err(e("postgres migrate"))?;
        let done: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
                &[],
            )
            .await
            .map_err(e("postgres migrate"))?
            .try_get(0)
            .map_err(e("postgres migrate"))?;
        for (i, sql) in Dialect::POSTGRES.migrations().enumerate() {
            let v = i64::try_from(i).unwrap_or(i64::MAX) + 1;
            if v <= done {
                continue;
            }
            tx.batch_execute(&sql)
                .await
                .map_err(e("postgres migrate"))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, at) VALUES ($1, $2)",
                &[&v, &jiff::Timestamp::now().as_millisecond()],
            )
            .await
            .map_err(e("postgres migrate"))?;
        }
        tx.commit().await.map_err(e("postgres migrate"))
    }
}

const LOAD: &str =
    "SELECT state, version, last_seq, deadline FROM sessions WHERE bot = $1 AND conversation = $2";

async fn write(
    tx: &deadpool_postgres::Transaction<'_>,
    key: &Key,
    saved: Option<&Saved>,
    c: Commit,
) -> Result<Committed, tokio_postgres::Error> {
    let last = saved.map_or(0, |s| s.last_seq);
    let mut numbered = Vec::with_capacity(c.outputs.len());
    if !c.outputs.is_empty() {
        // One statement for all outputs: arrays of seqs and bodies.
        let mut seqs = Vec::with_capacity(c.outputs.len());
        let mut bodies = Vec::with_capacity(c.outputs.len());
        for (i, o) in c.outputs.iter().enumerate() {
            let seq = last + 1 + i64::try_from(i).unwrap_or(i64::MAX);
            let o = with_seq(seq, o);
            seqs.push(seq);
            bodies.push(o.to_string());
            numbered.push(o);
        }
        let st = tx
            .prepare_cached(
                "INSERT INTO outputs (bot, conversation, seq, body, at)
                 SELECT $1, $2, s, b, $5 FROM UNNEST($3::BIGINT[], $4::TEXT[]) AS t(s, b)",
            )
            .await?;
        tx.execute(&st, &[&key.bot, &key.conversation, &seqs, &bodies, &c.now])
            .await?;
    }
    let last_seq = last + i64::try_from(c.outputs.len()).unwrap_or(0);
    if !c.effects.is_empty() {
        let st = tx
            .prepare_cached(
                "INSERT INTO outbox (bot, conversation, lane, kind, payload, idem, next_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (idem) DO NOTHING",
            )
            .await?;
        for x in &c.effects {
            tx.execute(
                &st,
                &[
                    &key.bot,
                    &key.conversation,
                    &lane(&x.kind),
                    &x.kind,
                    &x.payload.to_string(),
                    &x.idempotency_key,
                    &x.not_before,
                    &c.now,
                ],
            )
            .await?;
        }
    }
    if let Some((i, r)) = &c.chat {
        let st = tx
            .prepare_cached(
                "INSERT INTO chats (integration_id, remote_id, bot, conversation, at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (integration_id, remote_id) DO UPDATE SET at = EXCLUDED.at
                 WHERE chats.bot = EXCLUDED.bot AND chats.conversation = EXCLUDED.conversation",
            )
            .await?;
        tx.execute(&st, &[i, r, &key.bot, &key.conversation, &c.now])
            .await?;
    }
    match c.done {
        Some(Done::Effect(id)) => {
            let st = tx
                .prepare_cached("UPDATE outbox SET done_at = $2 WHERE id = $1")
                .await?;
            tx.execute(&st, &[&id, &c.now]).await?;
        }
        Some(Done::Delivery(id)) => {
            let st = tx
                .prepare_cached("UPDATE inbox SET done_at = $2 WHERE id = $1")
                .await?;
            tx.execute(&st, &[&id, &c.now]).await?;
        }
        None => {}
    }
    if saved.is_some_and(|s| s.archived) {
        tx.execute(
            "DELETE FROM archived WHERE bot = $1 AND conversation = $2",
            &[&key.bot, &key.conversation],
        )
        .await?;
    }
    let ended_at = super::ended(&c.session, c.deadline).then_some(c.now);
    let st = tx
        .prepare_cached(
            "INSERT INTO sessions (bot, conversation, version, state, last_seq, deadline, updated_at, ended_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (bot, conversation) DO UPDATE SET version = EXCLUDED.version, state = EXCLUDED.state,
               last_seq = EXCLUDED.last_seq, deadline = EXCLUDED.deadline, updated_at = EXCLUDED.updated_at,
               ended_at = EXCLUDED.ended_at",
        )
        .await?;
    tx.execute(
        &st,
        &[
            &key.bot,
            &key.conversation,
            &c.version,
            &c.session,
            &last_seq,
            &c.deadline,
            &c.now,
            &ended_at,
        ],
    )
    .await?;
    Ok(Committed {
        first_seq: last + 1,
        outputs: numbered,
    })
}

impl Store for Postgres {
    fn turn(&self, key: Key, f: TurnFn) -> BoxFuture<'_, Result<Option<Committed>, Error>> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await.map_err(e("postgres begin"))?;
            // Prepared once per connection: an unprepared statement costs a second round trip
            // (parse, then bind and execute) on every turn.
            let lock = tx
                .prepare_cached(&format!("{LOAD} FOR UPDATE"))
                .await
                .map_err(e("postgres load"))?;
            let mut row = tx
                .query_opt(&lock, &[&key.bot, &key.conversation])
                .await
                .map_err(e("postgres load"))?;
            if row.is_none() {
                // No row to lock yet: serialise the first turns of this conversation.
                tx.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 0))",
                    &[&key.bot, &key.conversation],
                )
                .await
                .map_err(e("postgres lock"))?;
                row = tx
                    .query_opt(&lock, &[&key.bot, &key.conversation])
                    .await
                    .map_err(e("postgres load"))?;
            }
            let saved = match row
                .as_ref()
                .map(saved)
                .transpose()
                .map_err(e("postgres load"))?
            {
                Some(s) => Some(s),
                None => tx
                    .query_opt(
                        "SELECT last_seq FROM archived WHERE bot = $1 AND conversation = $2",
                        &[&key.bot, &key.conversation],
                    )
                    .await
                    .and_then(|r| r.map(|r| r.try_get(0)).transpose())
                    .map_err(e("postgres load"))?
                    .map(Saved::archived),
            };
            let Some(commit) = f(saved.clone())? else {
                return Ok(None);
            };
            let idem = commit.idempotency.clone();
            let now = commit.now;
            let done = write(&tx, &key, saved.as_ref(), commit)
                .await
                .map_err(e("postgres write"))?;
            if let Some((k, fingerprint)) = idem {
                let answer = Json::Array(done.outputs.clone()).to_string();
                let fresh = tx
                    .execute(
                        "INSERT INTO event_keys (bot, conversation, idem, fingerprint, answer, at)
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                        &[&key.bot, &key.conversation, &k, &fingerprint, &answer, &now],
                    )
                    .await
                    .map_err(e("postgres event key"))?;
                if fresh == 0 {
                    // The transaction is dropped: the turn is rolled back.
                    return Err(super::repeated_key());
                }
            }
            tx.commit().await.map_err(e("postgres commit"))?;
            Ok(Some(done))
        })
    }

    fn answer<'a>(
        &'a self,
        key: &'a Key,
        idem: &'a str,
    ) -> BoxFuture<'a, Result<Option<super::Answer>, Error>> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c.prepare_cached("SELECT fingerprint, answer FROM event_keys WHERE bot = $1 AND conversation = $2 AND idem = $3").await.map_err(e("postgres answer"))?;
            let r = c
                .query_opt(&st, &[&key.bot, &key.conversation, &idem])
                .await
                .map_err(e("postgres answer"))?;
            r.map(|r| {
                Ok::<_, tokio_postgres::Error>(super::Answer {
                    fingerprint: r.try_get(0)?,
                    outputs: match parse(r.try_get(1)?) {
                        Json::Array(a) => a,
                        _ => Vec::new(),
                    },
                })
            })
            .transpose()
            .map_err(e("postgres answer"))
        })
    }

    fn load<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Saved>, Error>> {
        Box::pin(async move {
            let c = self.client().await?;
            let r = c
                .query_opt(LOAD, &[&key.bot, &key.conversation])
                .await
                .map_err(e("postgres load"))?;
            r.as_ref()
                .map(saved)
                .transpose()
                .map_err(e("postgres load"))
        })
    }

    fn outputs<'a>(
        &'a self,
        key: &'a Key,
        after: i64,
        limit: i64,
    ) -> BoxFuture<'a, Result<Vec<Json>, Error>> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c.prepare_cached("SELECT body FROM outputs WHERE bot = $1 AND conversation = $2 AND seq > $3 ORDER BY seq LIMIT $4").await.map_err(e("postgres outputs"))?;
            let rows = c
                .query(&st, &[&key.bot, &key.conversation, &after, &limit])
                .await
                .map_err(e("postgres outputs"))?;
            rows.iter()
                .map(|r| r.try_get(0).map(parse))
                .collect::<Result<_, _>>()
                .map_err(e("postgres outputs"))
        })
    }

    fn route<'a>(
        &'a self,
        integration_id: &'a str,
        remote_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Key>, Error>> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c.prepare_cached("SELECT bot, conversation FROM chats WHERE integration_id = $1 AND remote_id = $2").await.map_err(e("postgres route"))?;
            let r = c
                .query_opt(&st, &[&integration_id, &remote_id])
                .await
                .map_err(e("postgres route"))?;
            r.map(|r| {
                Ok::<_, tokio_postgres::Error>(Key::new(
                    r.try_get::<_, String>(0)?,
                    r.try_get::<_, String>(1)?,
                ))
            })
            .transpose()
            .map_err(e("postgres route"))
        })
    }

    fn due<'a>(
        &'a self,
        now: i64,
        limit: i64,
        served: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(Key, i64)>, Error>> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c.prepare_cached("SELECT bot, conversation, deadline FROM sessions WHERE deadline IS NOT NULL AND deadline <= $1
                       AND bot = ANY($3::TEXT[]) ORDER BY deadline LIMIT $2").await.map_err(e("postgres due"))?;
            let rows = c
                .query(&st, &[&now, &limit, &served])
                .await
                .map_err(e("postgres due"))?;
            rows.iter()
                .map(|r| {
                    Ok((
                        Key::new(r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?),
                        r.try_get(2)?,
                    ))
                })
                .collect::<Result<_, tokio_postgres::Error>>()
                .map_err(e("postgres due"))
        })
    }

    fn next_deadline<'a>(
        &'a self,
        served: &'a [String],
    ) -> BoxFuture<'a, Result<Option<i64>, Error>> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c.prepare_cached("SELECT MIN(deadline) FROM sessions WHERE deadline IS NOT NULL AND bot = ANY($1::TEXT[])").await.map_err(e("postgres next deadline"))?;
            let r = c
                .query_one(&st, &[&served])
                .await
                .map_err(e("postgres next deadline"))?;
            r.try_get(0).map_err(e("postgres next deadline"))
        })
    }

    fn postpone_timer<'a>(
        &'a self,
        key: &'a Key,
        from: i64,
        to: i64,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.execute(
                "UPDATE sessions SET deadline = $4 WHERE bot = $1 AND conversation = $2 AND deadline = $3",
                &[&key.bot, &key.conversation, &from, &to],
                "postgres postpone timer",
            )
            .await
        })
    }

    fn bots_in_store(&self) -> BoxFuture<'_, Result<Vec<super::BotSessions>, Error>> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c
                .prepare_cached(
                    "SELECT bot, COUNT(*), COUNT(deadline) FROM sessions GROUP BY bot ORDER BY bot",
                )
                .await
                .map_err(e("postgres bots"))?;
            let rows = c.query(&st, &[]).await.map_err(e("postgres bots"))?;
            rows.iter()
                .map(|r| {
                    Ok(super::BotSessions {
                        bot: r.try_get(0)?,
                        sessions: r.try_get(1)?,
                        timers: r.try_get(2)?,
                    })
                })
                .collect::<Result<_, tokio_postgres::Error>>()
                .map_err(e("postgres bots"))
        })
    }

    fn claim_effects<'a>(
        &'a self,
        now: i64,
        lease_ms: i64,
        only: Option<&'a Key>,
        limit: i64,
    ) -> BoxFuture<'a, Result<Vec<Effect>, Error>> {
        Box::pin(async move {
            let c = self.client().await?;
            let bot = only.map(|k| k.bot.as_str());
            let conv = only.map(|k| k.conversation.as_str());
            let st = c.prepare_cached("UPDATE outbox SET lease_until = $1 + $2, attempts = attempts + 1
                     WHERE id IN (
                       SELECT o.id FROM outbox o
                       WHERE o.done_at IS NULL AND o.lease_until <= $1
                         AND (($4::TEXT IS NULL AND o.next_at <= $1) OR (o.bot = $4 AND o.conversation = $5::TEXT AND o.attempts = 0))
                         AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.done_at IS NULL AND p.bot = o.bot
                               AND p.conversation = o.conversation AND p.lane = o.lane AND p.id < o.id)
                       ORDER BY o.id LIMIT $3 FOR UPDATE SKIP LOCKED)
                     RETURNING id, bot, conversation, kind, payload, idem, attempts").await.map_err(e("postgres claim"))?;
            let rows = c
                .query(&st, &[&now, &lease_ms, &limit, &bot, &conv])
                .await
                .map_err(e("postgres claim"))?;
            let mut v: Vec<Effect> = rows
                .iter()
                .map(effect)
                .collect::<Result<_, _>>()
                .map_err(e("postgres claim"))?;
            v.sort_by_key(|x| x.id);
            Ok(v)
        })
    }

    fn finish_effect(&self, id: i64, now: i64) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            self.execute(
                "UPDATE outbox SET done_at = $2 WHERE id = $1",
                &[&id, &now],
                "postgres finish effect",
            )
            .await
        })
    }

    fn extend_effect(&self, id: i64, until: i64) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            self.execute(
                "UPDATE outbox SET lease_until = GREATEST(lease_until, $2) WHERE id = $1 AND done_at IS NULL",
                &[&id, &until],
                "postgres extend lease",
            )
            .await
        })
    }

    fn fail_effect<'a>(
        &'a self,
        id: i64,
        now: i64,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.execute(
                "UPDATE outbox SET done_at = $2, failed_at = $2, lease_until = 0, last_error = $3 WHERE id = $1",
                &[&id, &now, &error],
                "postgres fail effect",
            )
            .await
        })
    }

    fn retry_effect<'a>(
        &'a self,
        id: i64,
        at: i64,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.execute(
                "UPDATE outbox SET next_at = $2, lease_until = 0, last_error = $3 WHERE id = $1",
                &[&id, &at, &error],
                "postgres retry effect",
            )
            .await
        })
    }

    fn receive(
        &self,
        deliveries: Vec<NewDelivery>,
        now: i64,
    ) -> BoxFuture<'_, Result<Vec<i64>, Error>> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c
                .prepare_cached(
                    "INSERT INTO inbox (dedupe, integration_id, remote_id, event, received_at, next_at)
                     VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (dedupe) DO NOTHING RETURNING id",
                )
                .await
                .map_err(e("postgres receive"))?;
            let mut fresh = Vec::new();
            for d in &deliveries {
                let r = c
                    .query_opt(
                        &st,
                        &[
                            &d.dedupe,
                            &d.integration_id,
                            &d.remote_id,
                            &d.event.to_string(),
                            &now,
                        ],
                    )
                    .await
                    .map_err(e("postgres receive"))?;
                if let Some(r) = r {
                    fresh.push(r.try_get::<_, i64>(0).map_err(e("postgres receive"))?);
                }
            }
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
        Box::pin(async move {
            let c = self.client().await?;
            let ids: Option<Vec<i64>> = ids.map(<[i64]>::to_vec);
            let st = c.prepare_cached("UPDATE inbox SET lease_until = $1 + $2, attempts = attempts + 1 WHERE id IN (
                       SELECT id FROM inbox WHERE done_at IS NULL AND failed_at IS NULL AND lease_until <= $1
                         AND (($4::BIGINT[] IS NULL AND next_at <= $1) OR id = ANY($4::BIGINT[]))
                       ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
                     RETURNING id, integration_id, remote_id, event, received_at, attempts").await.map_err(e("postgres claim deliveries"))?;
            let rows = c
                .query(&st, &[&now, &lease_ms, &limit, &ids])
                .await
                .map_err(e("postgres claim deliveries"))?;
            let mut v: Vec<Delivery> = rows
                .iter()
                .map(|r| {
                    Ok(Delivery {
                        id: r.try_get(0)?,
                        integration_id: r.try_get(1)?,
                        remote_id: r.try_get(2)?,
                        event: parse(r.try_get(3)?),
                        received_at: r.try_get(4)?,
                        attempts: r.try_get(5)?,
                    })
                })
                .collect::<Result<_, tokio_postgres::Error>>()
                .map_err(e("postgres claim deliveries"))?;
            v.sort_by_key(|x| x.id);
            Ok(v)
        })
    }

    fn finish_delivery(&self, id: i64, now: i64) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            self.execute(
                "UPDATE inbox SET done_at = $2 WHERE id = $1",
                &[&id, &now],
                "postgres finish delivery",
            )
            .await
        })
    }

    fn fail_delivery<'a>(
        &'a self,
        id: i64,
        now: i64,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.execute(
                "UPDATE inbox SET failed_at = $2, next_at = $4, lease_until = 0, last_error = $3 WHERE id = $1",
                &[&id, &now, &error, &i64::MAX],
                "postgres fail delivery",
            )
            .await
        })
    }

    fn retry_delivery(&self, id: i64, at: i64) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            self.execute(
                "UPDATE inbox SET next_at = $2, lease_until = 0 WHERE id = $1",
                &[&id, &at],
                "postgres retry delivery",
            )
            .await
        })
    }

    fn save_version<'a>(
        &'a self,
        bot: &'a str,
        version: &'a str,
        source: &'a [u8],
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.execute(
                "INSERT INTO flow_versions (bot, version, source, at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (bot, version) DO UPDATE SET source = EXCLUDED.source, at = EXCLUDED.at",
                &[&bot, &version, &source, &jiff::Timestamp::now().as_millisecond()],
                "postgres save version",
            )
            .await
        })
    }

    fn version_source<'a>(
        &'a self,
        bot: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, Error>> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c
                .prepare_cached("SELECT source FROM flow_versions WHERE bot = $1 AND version = $2")
                .await
                .map_err(e("postgres version"))?;
            let r = c
                .query_opt(&st, &[&bot, &version])
                .await
                .map_err(e("postgres version"))?;
            r.map(|r| r.try_get(0))
                .transpose()
                .map_err(e("postgres version"))
        })
    }

    fn sessions_not_on<'a>(
        &'a self,
        bot: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, Saved)>, Error>> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c
                .prepare_cached(
                    "SELECT conversation, state, version, last_seq, deadline FROM sessions
                     WHERE bot = $1 AND version <> $2 ORDER BY conversation",
                )
                .await
                .map_err(e("postgres sessions"))?;
            let rows = c
                .query(&st, &[&bot, &version])
                .await
                .map_err(e("postgres sessions"))?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get::<_, String>(0)?,
                        Saved {
                            session: r.try_get(1)?,
                            version: r.try_get(2)?,
                            last_seq: r.try_get(3)?,
                            deadline: r.try_get(4)?,
                            archived: false,
                        },
                    ))
                })
                .collect::<Result<_, tokio_postgres::Error>>()
                .map_err(e("postgres sessions"))
        })
    }

    fn backlog(&self, now: i64) -> BoxFuture<'_, Result<Backlog, Error>> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c.prepare_cached("SELECT (SELECT COUNT(*) FROM outbox WHERE done_at IS NULL),
                            (SELECT MIN(created_at) FROM outbox WHERE done_at IS NULL),
                            (SELECT COUNT(*) FROM inbox WHERE done_at IS NULL AND failed_at IS NULL),
                            (SELECT COUNT(*) FROM inbox WHERE done_at IS NULL AND failed_at IS NOT NULL),
                            (SELECT COUNT(*) FROM outbox WHERE failed_at IS NOT NULL)").await.map_err(e("postgres backlog"))?;
            let r = c.query_one(&st, &[]).await.map_err(e("postgres backlog"))?;
            let b = || -> Result<Backlog, tokio_postgres::Error> {
                let oldest: Option<i64> = r.try_get(1)?;
                Ok(Backlog {
                    outbox: r.try_get(0)?,
                    oldest_ms: oldest.map_or(0, |o| now.saturating_sub(o).max(0)),
                    inbox: r.try_get(2)?,
                    dead_deliveries: r.try_get(3)?,
                    dead_effects: r.try_get(4)?,
                })
            };
            b().map_err(e("postgres backlog"))
        })
    }

    fn purge(&self, before: i64) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            let c = self.client().await?;
            c.execute(
                "DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < $1",
                &[&before],
            )
            .await
            .map_err(e("postgres purge"))?;
            c.execute("DELETE FROM event_keys WHERE at < $1", &[&before])
                .await
                .map_err(e("postgres purge"))?;
            c.execute(
                "DELETE FROM outbox WHERE done_at IS NOT NULL AND done_at < $1 AND failed_at IS NULL",
                &[&before],
            )
            .await
            .map(|_| ())
            .map_err(e("postgres purge"))
        })
    }

    fn prune(
        &self,
        ended_before: i64,
        forget_before: i64,
        limit: i64,
    ) -> BoxFuture<'_, Result<Pruned, Error>> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await.map_err(e("postgres prune"))?;
            // The session rows stay locked until the commit; a row a turn holds is skipped
            // (and its turn decides whether it is still ended). A turn that comes after finds
            // no row, then the archive record.
            let rows = tx
                .query(
                    "SELECT bot, conversation, last_seq, ended_at FROM sessions s
                     WHERE ended_at IS NOT NULL AND ended_at < $1 AND deadline IS NULL
                       AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.done_at IS NULL
                             AND o.bot = s.bot AND o.conversation = s.conversation)
                     ORDER BY ended_at LIMIT $2 FOR UPDATE SKIP LOCKED",
                    &[&ended_before, &limit],
                )
                .await
                .map_err(e("postgres prune"))?;
            let mut bots = Vec::with_capacity(rows.len());
            let mut conversations = Vec::with_capacity(rows.len());
            let mut seqs = Vec::with_capacity(rows.len());
            let mut ends = Vec::with_capacity(rows.len());
            for r in &rows {
                bots.push(r.try_get::<_, String>(0).map_err(e("postgres prune"))?);
                conversations.push(r.try_get::<_, String>(1).map_err(e("postgres prune"))?);
                seqs.push(r.try_get::<_, i64>(2).map_err(e("postgres prune"))?);
                ends.push(r.try_get::<_, i64>(3).map_err(e("postgres prune"))?);
            }
            let mut pruned = Pruned::default();
            if !rows.is_empty() {
                for table in ["outputs", "event_keys", "chats", "sessions"] {
                    let n = tx
                        .execute(
                            &format!(
                                "DELETE FROM {table} x USING UNNEST($1::TEXT[], $2::TEXT[]) AS t(b, c)
                                 WHERE x.bot = t.b AND x.conversation = t.c"
                            ),
                            &[&bots, &conversations],
                        )
                        .await
                        .map_err(e("postgres prune"))?;
                    if table == "outputs" {
                        pruned.outputs = i64::try_from(n).unwrap_or(i64::MAX);
                    }
                }
                tx.execute(
                    "INSERT INTO archived (bot, conversation, last_seq, ended_at)
                     SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[])
                     ON CONFLICT (bot, conversation) DO UPDATE SET last_seq = EXCLUDED.last_seq,
                       ended_at = EXCLUDED.ended_at",
                    &[&bots, &conversations, &seqs, &ends],
                )
                .await
                .map_err(e("postgres prune"))?;
                pruned.conversations = i64::try_from(rows.len()).unwrap_or(i64::MAX);
            }
            let forgotten = tx
                .execute(
                    "DELETE FROM archived WHERE (bot, conversation) IN (
                       SELECT bot, conversation FROM archived WHERE ended_at < $1
                       ORDER BY ended_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
                    &[&forget_before, &limit],
                )
                .await
                .map_err(e("postgres prune"))?;
            pruned.forgotten = i64::try_from(forgotten).unwrap_or(i64::MAX);
            tx.commit().await.map_err(e("postgres prune"))?;
            Ok(pruned)
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            self.execute(
                "INSERT INTO liveness (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = EXCLUDED.at",
                &[&jiff::Timestamp::now().as_millisecond()],
                "postgres ping (a write)",
            )
            .await
        })
    }
}
