//! The three stores keep the same promises, checked through the public `Store` interface:
//! `seq` numbering from 1 without gaps, webhook de-duplication keys kept by age (at least 7
//! days after processing, never by count), leases that give a claimed row to one process until
//! they run out (what lets a restarted process take over), and effects performed one at a time
//! per conversation, in order. PostgreSQL runs when `FLUXO_TEST_POSTGRES` is set.
#![cfg(feature = "drivers")]

mod common;
#[path = "common/postgres.rs"]
mod postgres;

use fluxo::runtime::store::{
    self, Commit, Done, Key, NewDelivery, NewEffect, Store, DEDUPE_RETENTION_MS,
};
use serde_json::json;
use std::sync::Arc;

const T0: i64 = 1_795_453_200_000;

fn commit(outputs: usize, effects: Vec<NewEffect>, done: Option<Done>, now: i64) -> Commit {
    Commit {
        session: json!({ "turn": now }).to_string(),
        version: "v1".into(),
        outputs: (0..outputs)
            .map(|i| json!({ "type": "node_entered", "id": format!("n{i}") }))
            .collect(),
        effects,
        deadline: None,
        chat: None,
        done,
        idempotency: None,
        now,
    }
}

fn effect(kind: &str, key: &str) -> NewEffect {
    NewEffect {
        kind: kind.into(),
        payload: json!({ "k": key }),
        idempotency_key: key.into(),
        not_before: T0,
    }
}

async fn turn(s: &Arc<dyn Store>, key: &Key, c: Commit) -> i64 {
    s.turn(key.clone(), Box::new(move |_| Ok(Some(c))))
        .await
        .expect("turn")
        .expect("committed")
        .first_seq
}

async fn promises(s: Arc<dyn Store>) {
    // seq: per conversation, from 1, no gaps.
    let k = Key::new("bot", "c1");
    assert_eq!(turn(&s, &k, commit(3, vec![], None, T0)).await, 1);
    assert_eq!(turn(&s, &k, commit(2, vec![], None, T0)).await, 4);
    assert_eq!(
        turn(&s, &Key::new("bot", "c2"), commit(1, vec![], None, T0)).await,
        1
    );
    let seqs: Vec<i64> = s
        .outputs(&k, 0, 100)
        .await
        .expect("outputs")
        .iter()
        .map(|o| o["seq"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let later: Vec<i64> = s
        .outputs(&k, 3, 100)
        .await
        .expect("outputs")
        .iter()
        .map(|o| o["seq"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(later, [4, 5]);

    // De-duplication by key, kept 7 days after processing, then forgotten.
    let d = || NewDelivery {
        dedupe: "zd:ev-1".into(),
        integration_id: "1".into(),
        remote_id: "r".into(),
        event: json!({ "type": "agent_close" }),
    };
    let ids = s.receive(vec![d()], T0).await.expect("receive");
    assert_eq!(ids.len(), 1);
    assert!(
        s.receive(vec![d()], T0 + 1000)
            .await
            .expect("receive")
            .is_empty(),
        "a repeat is dropped"
    );
    s.finish_delivery(ids[0], T0).await.expect("finish");
    s.purge(T0 + DEDUPE_RETENTION_MS - 1 - DEDUPE_RETENTION_MS)
        .await
        .expect("purge");
    assert!(
        s.receive(vec![d()], T0 + DEDUPE_RETENTION_MS - 1)
            .await
            .expect("receive")
            .is_empty(),
        "still known just under 7 days"
    );
    for i in 0..50 {
        let other = NewDelivery {
            dedupe: format!("zd:other-{i}"),
            ..d()
        };
        s.receive(vec![other], T0).await.expect("receive");
    }
    assert!(
        s.receive(vec![d()], T0 + 2000)
            .await
            .expect("receive")
            .is_empty(),
        "not forgotten by count"
    );
    s.purge(T0 + 1).await.expect("purge");
    assert_eq!(
        s.receive(vec![d()], T0 + DEDUPE_RETENTION_MS + 1)
            .await
            .expect("receive")
            .len(),
        1,
        "forgotten after 7 days"
    );

    // Leases: a claimed delivery is nobody else's until its lease runs out.
    let fresh = s
        .receive(
            vec![NewDelivery {
                dedupe: "zd:ev-2".into(),
                ..d()
            }],
            T0,
        )
        .await
        .expect("receive");
    let first = s
        .claim_deliveries(T0, 30_000, Some(&fresh), 10)
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    assert!(
        s.claim_deliveries(T0 + 1, 30_000, Some(&fresh), 10)
            .await
            .expect("claim")
            .is_empty(),
        "leased"
    );
    assert_eq!(
        s.claim_deliveries(T0 + 30_000, 30_000, Some(&fresh), 10)
            .await
            .expect("claim")
            .len(),
        1,
        "taken over after the lease"
    );

    // Effects: one at a time per conversation and lane, in order; the turn that applies one's
    // result marks it done in its own transaction.
    let k3 = Key::new("bot", "c3");
    turn(
        &s,
        &k3,
        commit(
            1,
            vec![
                effect("handoff", "c3/1/handoff"),
                effect("relay", "c3/2/relay"),
                effect("deliver", "c3/1/deliver"),
            ],
            None,
            T0,
        ),
    )
    .await;
    let got = s.claim_effects(T0, 30_000, None, 10).await.expect("claim");
    let kinds: Vec<&str> = got.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["handoff", "deliver"],
        "the relay waits for the hand-over; the channel lane is separate"
    );
    assert!(
        s.claim_effects(T0 + 1, 30_000, None, 10)
            .await
            .expect("claim")
            .is_empty(),
        "leased"
    );
    let handoff = got[0].id;
    turn(
        &s,
        &k3,
        commit(1, vec![], Some(Done::Effect(handoff)), T0 + 2),
    )
    .await;
    s.finish_effect(got[1].id, T0 + 2).await.expect("finish");
    let next = s
        .claim_effects(T0 + 3, 30_000, None, 10)
        .await
        .expect("claim");
    assert_eq!(
        next.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["relay"]
    );
    // The same effect committed again (a retried turn) is not a second row.
    turn(
        &s,
        &k3,
        commit(0, vec![effect("relay", "c3/2/relay")], None, T0 + 4),
    )
    .await;
    let b = s.backlog(T0 + 4).await.expect("backlog");
    assert_eq!(b.outbox, 1, "only the claimed relay is pending");

    // The provider-conversation index: written once, never re-pointed to another session.
    let owner = Key::new("bot", "owner");
    let intruder = Key::new("bot", "intruder");
    let with_chat = |now| Commit {
        chat: Some(("1".into(), "ticket-4242".into())),
        ..commit(0, vec![], None, now)
    };
    turn(&s, &owner, with_chat(T0)).await;
    turn(&s, &intruder, with_chat(T0 + 1)).await;
    assert_eq!(
        s.route("1", "ticket-4242").await.expect("route"),
        Some(owner.clone()),
        "another session cannot take over a provider conversation"
    );
    turn(&s, &owner, with_chat(T0 + 2)).await;
    assert_eq!(
        s.route("1", "ticket-4242").await.expect("route"),
        Some(owner),
        "its owner keeps it"
    );

    // An event's Idempotency-Key is recorded with its answer; a second turn with the key
    // writes nothing.
    let k5 = Key::new("bot", "c5");
    let keyed = |now| Commit {
        idempotency: Some(("retry-1".into(), "fp".into())),
        ..commit(2, vec![], None, now)
    };
    turn(&s, &k5, keyed(T0)).await;
    let again = s
        .turn(k5.clone(), Box::new(move |_| Ok(Some(keyed(T0 + 1)))))
        .await;
    assert!(again.is_err(), "a repeated key is refused: {again:?}");
    let answer = s
        .answer(&k5, "retry-1")
        .await
        .expect("answer")
        .expect("recorded");
    assert_eq!(answer.fingerprint, "fp");
    assert_eq!(answer.outputs.len(), 2);
    assert_eq!(
        s.outputs(&k5, 0, 100).await.expect("outputs").len(),
        2,
        "written once"
    );
}

#[tokio::test]
async fn memory_keeps_the_promises() {
    promises(store::open("memory:").await.expect("open")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_the_promises() {
    let dir = common::Scratch::new("store-sqlite");
    let url = format!("sqlite://{}", dir.join("fluxo.db").display());
    promises(store::open(&url).await.expect("open")).await;
    // Reopening applies no migration twice and finds what was written.
    let again = store::open(&url).await.expect("reopen");
    assert_eq!(
        again
            .outputs(&Key::new("bot", "c1"), 0, 100)
            .await
            .expect("outputs")
            .len(),
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_the_promises() {
    let Some(db) = postgres::Database::create("store").await else {
        return;
    };
    promises(store::open(&db.url).await.expect("open")).await;
    let again = store::open(&db.url).await.expect("reopen");
    assert_eq!(
        again
            .outputs(&Key::new("bot", "c1"), 0, 100)
            .await
            .expect("outputs")
            .len(),
        5
    );
}

/// A turn that writes `session` with `outputs` outputs at `now`; returns its first `seq` and
/// what the store handed the turn.
async fn turn_with(
    s: &Arc<dyn Store>,
    key: &Key,
    session: serde_json::Value,
    outputs: usize,
    now: i64,
) -> (i64, Option<store::Saved>) {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let put = seen.clone();
    let first = s
        .turn(
            key.clone(),
            Box::new(move |saved| {
                *put.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = saved;
                Ok(Some(Commit {
                    session: session.to_string(),
                    ..commit(outputs, vec![], None, now)
                }))
            }),
        )
        .await
        .expect("turn")
        .expect("committed")
        .first_seq;
    let saved = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    (first, saved)
}

fn seqs(outputs: &[serde_json::Value]) -> Vec<i64> {
    outputs
        .iter()
        .map(|o| o["seq"].as_i64().unwrap_or(0))
        .collect()
}

/// Retention: an ended conversation's outputs, answers and index entries go after the
/// retention, in bounded batches; a live one, one with an effect still to perform and one that
/// ended recently stay; a conversation that starts again after pruning starts from no session
/// and numbers on from its last `seq`.
async fn retention(s: Arc<dyn Store>) {
    let ended = json!({ "v": 3, "started": true, "context": {} });
    let live = json!({ "v": 3, "started": true, "focus": "espera" });
    let chatting = json!({ "v": 3, "started": true, "chat": { "phase": "open" } });
    let a = Key::new("bot", "a");
    let b = Key::new("bot", "b");
    let c = Key::new("bot", "c");
    let d = Key::new("bot", "d");
    let e = Key::new("bot", "e");
    let f = Key::new("bot", "f");
    // a: ended at T0 with 3 outputs, a provider-index entry and a recorded answer.
    turn_with(&s, &a, live.clone(), 1, T0 - 10).await;
    s.turn(
        a.clone(),
        Box::new(move |_| {
            Ok(Some(Commit {
                session: ended.to_string(),
                chat: Some(("zd".into(), "remote-a".into())),
                idempotency: Some(("idem-a".into(), "fp".into())),
                ..commit(2, vec![], None, T0)
            }))
        }),
    )
    .await
    .expect("turn")
    .expect("committed");
    let ended = json!({ "v": 3, "started": true, "context": {} });
    // b: live for ever (waits at a node); c: in a live chat; d: ended but an effect is
    // pending; e: ended recently; f: ended, with a timer (not ended).
    turn_with(&s, &b, live.clone(), 2, T0).await;
    turn_with(&s, &c, chatting, 2, T0).await;
    s.turn(
        d.clone(),
        Box::new({
            let ended = ended.clone();
            move |_| {
                Ok(Some(Commit {
                    session: ended.to_string(),
                    ..commit(1, vec![effect("deliver", "d-1")], None, T0)
                }))
            }
        }),
    )
    .await
    .expect("turn");
    turn_with(&s, &e, ended.clone(), 1, T0 + 10_000).await;
    s.turn(
        f.clone(),
        Box::new({
            let ended = ended.clone();
            move |_| {
                Ok(Some(Commit {
                    session: ended.to_string(),
                    deadline: Some(T0 + 5),
                    ..commit(1, vec![], None, T0)
                }))
            }
        }),
    )
    .await
    .expect("turn");
    // A second ended conversation, so the batch bound shows.
    let g = Key::new("bot", "g");
    turn_with(&s, &g, ended.clone(), 4, T0 + 1).await;

    let cut = T0 + 5_000;
    let first = s.prune(cut, i64::MIN, 1).await.expect("prune");
    assert_eq!(first.conversations, 1, "bounded batch: {first:?}");
    assert!(first.more(1));
    let second = s.prune(cut, i64::MIN, 1).await.expect("prune");
    assert_eq!(second.conversations, 1, "{second:?}");
    assert_eq!(
        first.outputs + second.outputs,
        3 + 4,
        "{first:?} {second:?}"
    );
    let third = s.prune(cut, i64::MIN, 100).await.expect("prune");
    assert_eq!(third, store::Pruned::default(), "nothing else is due");
    assert!(!third.more(100));

    for k in [&a, &g] {
        assert!(s.load(k).await.expect("load").is_none(), "{k} archived");
        assert!(s.outputs(k, 0, 100).await.expect("outputs").is_empty());
    }
    assert_eq!(s.route("zd", "remote-a").await.expect("route"), None);
    assert_eq!(s.answer(&a, "idem-a").await.expect("answer"), None);
    for (k, n) in [(&b, 2), (&c, 2), (&d, 1), (&e, 1), (&f, 1)] {
        assert!(s.load(k).await.expect("load").is_some(), "{k} kept");
        assert_eq!(s.outputs(k, 0, 100).await.expect("outputs").len(), n, "{k}");
    }

    // a starts again: the turn gets no session to restore, only where `seq` stands; a client
    // polling after its last seq (3) sees the new outputs.
    let (first_seq, saved) = turn_with(&s, &a, live.clone(), 2, T0 + 20_000).await;
    let saved = saved.expect("the archive record");
    assert!(saved.archived && saved.session.is_empty(), "{saved:?}");
    assert_eq!(saved.last_seq, 3);
    assert_eq!(first_seq, 4, "seq does not go backwards");
    assert_eq!(seqs(&s.outputs(&a, 3, 100).await.expect("outputs")), [4, 5]);
    assert_eq!(seqs(&s.outputs(&a, 0, 100).await.expect("outputs")), [4, 5]);
    let now = s.load(&a).await.expect("load").expect("live again");
    assert!(!now.archived);
    assert_eq!(now.last_seq, 5);
    // It is live now: pruning leaves it.
    assert_eq!(
        s.prune(T0 + 1_000_000, i64::MIN, 100)
            .await
            .expect("prune")
            .conversations,
        1,
        "e, and nothing live"
    );
    assert!(s.load(&a).await.expect("load").is_some());

    // Archive records are forgotten after their own horizon (g's and e's): those
    // conversations then start from nothing.
    let forgot = s.prune(i64::MIN, T0 + 1_000_000, 100).await.expect("prune");
    assert_eq!(forgot.forgotten, 2, "{forgot:?}");
    let (first_seq, saved) = turn_with(&s, &g, live, 1, T0 + 2_000_000).await;
    assert_eq!((first_seq, saved), (1, None));
}

#[tokio::test]
async fn memory_prunes_ended_conversations() {
    retention(store::open("memory:").await.expect("open")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_prunes_ended_conversations() {
    let dir = common::Scratch::new("store-sqlite-retention");
    let url = format!("sqlite://{}", dir.join("fluxo.db").display());
    retention(store::open(&url).await.expect("open")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_prunes_ended_conversations() {
    let Some(db) = postgres::Database::create("retention").await else {
        return;
    };
    retention(store::open(&db.url).await.expect("open")).await;
}

/// The first schema exactly as the stores created it before it was written once for both
/// dialects (SQLite's spelling), with the second and third migrations.
const OLD_SQLITE_SCHEMA: &str = r"
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE sessions (
    bot TEXT NOT NULL, conversation TEXT NOT NULL, version TEXT NOT NULL, state TEXT NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0, deadline INTEGER, updated_at INTEGER NOT NULL,
    PRIMARY KEY (bot, conversation));
CREATE INDEX sessions_deadline ON sessions (deadline) WHERE deadline IS NOT NULL;
CREATE TABLE outputs (
    bot TEXT NOT NULL, conversation TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
    at INTEGER NOT NULL, PRIMARY KEY (bot, conversation, seq));
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, bot TEXT NOT NULL, conversation TEXT NOT NULL,
    lane TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL, idem TEXT NOT NULL UNIQUE,
    attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, lease_until INTEGER NOT NULL DEFAULT 0,
    done_at INTEGER, created_at INTEGER NOT NULL, last_error TEXT);
CREATE INDEX outbox_pending ON outbox (bot, conversation, lane, id) WHERE done_at IS NULL;
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, dedupe TEXT NOT NULL UNIQUE, integration_id TEXT NOT NULL,
    remote_id TEXT NOT NULL, event TEXT NOT NULL, received_at INTEGER NOT NULL,
    next_at INTEGER NOT NULL, lease_until INTEGER NOT NULL DEFAULT 0, done_at INTEGER);
CREATE INDEX inbox_pending ON inbox (next_at) WHERE done_at IS NULL;
CREATE TABLE chats (
    integration_id TEXT NOT NULL, remote_id TEXT NOT NULL, bot TEXT NOT NULL,
    conversation TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (integration_id, remote_id));
CREATE TABLE flow_versions (
    bot TEXT NOT NULL, version TEXT NOT NULL, source BLOB NOT NULL, at INTEGER NOT NULL,
    PRIMARY KEY (bot, version));
ALTER TABLE inbox ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE inbox ADD COLUMN failed_at BIGINT;
ALTER TABLE inbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN failed_at BIGINT;
CREATE TABLE liveness (id BIGINT PRIMARY KEY, at BIGINT NOT NULL);
CREATE TABLE event_keys (
    bot TEXT NOT NULL, conversation TEXT NOT NULL, idem TEXT NOT NULL, fingerprint TEXT NOT NULL,
    answer TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (bot, conversation, idem));
CREATE INDEX event_keys_at ON event_keys (at);
INSERT INTO schema_migrations VALUES (1, 0), (2, 0), (3, 0);
";

/// Rows as the previous code wrote them (the same statements in both dialects).
const OLD_ROWS: &str = r#"
INSERT INTO sessions VALUES ('bot', 'old', 'v0', '{"v":3,"started":true,"focus":"n"}', 2, 99, 1);
INSERT INTO outputs VALUES ('bot', 'old', 1, '{"seq":1,"type":"message"}', 1), ('bot', 'old', 2, '{"seq":2,"type":"awaiting_input"}', 1);
INSERT INTO outbox (bot, conversation, lane, kind, payload, idem, next_at, created_at) VALUES ('bot', 'old', 'provider', 'handoff', '{"k":1}', 'old/1/handoff', 0, 0);
INSERT INTO chats VALUES ('zd', 'remote-old', 'bot', 'old', 1);
INSERT INTO event_keys VALUES ('bot', 'old', 'idem-old', 'fp', '[]', 1);
"#;

/// What a database written by the previous code must still answer, and that it takes turns
/// and retention afterwards.
async fn reads_old_rows(s: Arc<dyn Store>) {
    let k = Key::new("bot", "old");
    let saved = s.load(&k).await.expect("load").expect("the old session");
    assert_eq!(
        (saved.version.as_str(), saved.last_seq, saved.deadline),
        ("v0", 2, Some(99))
    );
    assert_eq!(seqs(&s.outputs(&k, 0, 10).await.expect("outputs")), [1, 2]);
    assert_eq!(
        s.route("zd", "remote-old").await.expect("route"),
        Some(k.clone())
    );
    assert!(s.answer(&k, "idem-old").await.expect("answer").is_some());
    let claimed = s.claim_effects(T0, 1000, None, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].kind, "handoff");
    s.finish_effect(claimed[0].id, T0).await.expect("finish");
    // The next turn numbers on; once it ends, the new retention applies.
    let (first, _) = turn_with(&s, &k, json!({ "v": 3, "started": true }), 1, T0).await;
    assert_eq!(first, 3);
    let pruned = s.prune(T0 + 1, i64::MIN, 10).await.expect("prune");
    assert_eq!((pruned.conversations, pruned.outputs), (1, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_opens_a_database_the_previous_schema_wrote() {
    let dir = common::Scratch::new("store-sqlite-old");
    let path = dir.join("fluxo.db");
    {
        let c = rusqlite::Connection::open(&path).expect("sqlite");
        c.execute_batch(OLD_SQLITE_SCHEMA).expect("old schema");
        c.execute_batch(OLD_ROWS).expect("old rows");
    }
    let url = format!("sqlite://{}", path.display());
    reads_old_rows(store::open(&url).await.expect("open")).await;
    // A fresh database gets the same tables and columns as one migrated from the old
    // schema (the schema text is shared; only type names differ by dialect).
    let fresh = dir.join("fresh.db");
    drop(
        store::open(&format!("sqlite://{}", fresh.display()))
            .await
            .expect("open"),
    );
    let columns = |p: &std::path::Path| -> Vec<(String, String, String)> {
        let c = rusqlite::Connection::open(p).expect("sqlite");
        let mut s = c
            .prepare(
                "SELECT m.name, p.name, p.type FROM sqlite_master m, pragma_table_info(m.name) p
                 WHERE m.type = 'table' ORDER BY 1, 2",
            )
            .expect("prepare");
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    assert_eq!(columns(&path), columns(&fresh));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_opens_a_database_the_previous_schema_wrote() {
    let Some(db) = postgres::Database::create("oldschema").await else {
        return;
    };
    let old = OLD_SQLITE_SCHEMA
        .replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
        .replace("INTEGER", "BIGINT")
        .replace("BLOB", "BYTEA");
    let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client.batch_execute(&old).await.expect("old schema");
    client.batch_execute(OLD_ROWS).await.expect("old rows");
    reads_old_rows(store::open(&db.url).await.expect("open")).await;
}

/// A TCP relay to the PostgreSQL server that can be cut (every connection dropped, new ones
/// refused) and restored on the same port.
struct Relay {
    port: u16,
    upstream: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn start(upstream: &str, port: u16) -> Relay {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the relay");
        let port = listener.local_addr().expect("addr").port();
        let to = upstream.to_owned();
        let task = tokio::spawn(async move {
            let mut links = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let to = to.clone();
                links.spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(&to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        });
        Relay {
            port,
            upstream: upstream.to_owned(),
            task: Some(task),
        }
    }

    /// Drops every connection and refuses new ones (the JoinSet of links goes with the task).
    async fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    async fn restore(&mut self) {
        let again = Relay::start(&self.upstream, self.port).await;
        self.task = Some(again.task.expect("task"));
    }
}

/// The PostgreSQL server refusing connections mid-run: every store call answers an error
/// (no panic, no hang), and the store works again once the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refusing_connections_mid_run_is_an_error_not_a_panic() {
    let Some(db) = postgres::Database::create("refused").await else {
        return;
    };
    let at = db.url.find('@').map_or(0, |i| i + 1);
    let end = db.url[at..].find('/').map_or(db.url.len(), |i| at + i);
    let upstream = db.url[at..end].to_owned();
    let mut relay = Relay::start(&upstream, 0).await;
    let url = format!(
        "{}127.0.0.1:{}{}",
        &db.url[..at],
        relay.port,
        &db.url[end..]
    );
    let s = store::open(&url).await.expect("open through the relay");
    let k = Key::new("bot", "cut");
    assert_eq!(turn(&s, &k, commit(2, vec![], None, T0)).await, 1);

    relay.cut().await;
    let within = |what: &'static str| {
        move |r: Result<bool, tokio::time::error::Elapsed>| {
            assert_eq!(r.ok(), Some(true), "{what}: an error, in time");
        }
    };
    let bound = std::time::Duration::from_secs(30);
    for _ in 0..3 {
        within("turn")(
            tokio::time::timeout(
                bound,
                s.turn(
                    k.clone(),
                    Box::new(|_| Ok(Some(commit(1, vec![], None, T0)))),
                ),
            )
            .await
            .map(|r| r.is_err()),
        );
        within("load")(
            tokio::time::timeout(bound, s.load(&k))
                .await
                .map(|r| r.is_err()),
        );
        within("outputs")(
            tokio::time::timeout(bound, s.outputs(&k, 0, 10))
                .await
                .map(|r| r.is_err()),
        );
        within("claim")(
            tokio::time::timeout(bound, s.claim_effects(T0, 1000, None, 10))
                .await
                .map(|r| r.is_err()),
        );
        within("prune")(
            tokio::time::timeout(bound, s.prune(T0, T0, 10))
                .await
                .map(|r| r.is_err()),
        );
        within("ping")(
            tokio::time::timeout(bound, s.ping())
                .await
                .map(|r| r.is_err()),
        );
        within("backlog")(
            tokio::time::timeout(bound, s.backlog(T0))
                .await
                .map(|r| r.is_err()),
        );
    }

    relay.restore().await;
    let mut back = None;
    for _ in 0..50 {
        if let Ok(Some(c)) = s
            .turn(
                k.clone(),
                Box::new(|_| Ok(Some(commit(1, vec![], None, T0)))),
            )
            .await
        {
            back = Some(c.first_seq);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        back,
        Some(3),
        "the store works again, and nothing was half-written"
    );
}

/// Through the runtime: a conversation that ended is archived by the retention, and when it
/// starts again it gets a clean session while its `seq` goes on.
async fn restarts_clean(s: Arc<dyn Store>) {
    use fluxo::drivers::http::{Http, RetryPolicy};
    use fluxo::engine::{Bot, Event};
    use fluxo::runtime::{NamedBot, Options, Runtime, TokioClock};
    let flow = r#"{ "nodes": [
      { "id": "inicio", "condition": "start", "output": [ { "default": { "type": "text", "text": "oi" } } ],
        "input": { "default": { "type": "text_input" } }, "next": [ { "goto": "tchau" } ] },
      { "id": "tchau", "context": { "saiu": true }, "output": [ { "default": { "type": "text", "text": "tchau" } } ] }
    ] }"#;
    let bot = Bot::from_json(flow, None).expect("flow");
    let (rt, _rx) = Runtime::with_bots(
        vec![NamedBot {
            name: "b".into(),
            bot,
            source: None,
        }],
        s.clone(),
        Http::new(RetryPolicy::default()),
        Arc::new(TokioClock::now()),
        Options {
            workers: false,
            ..Options::default()
        },
    );
    let key = Key::new("b", "c");
    let event = |v: serde_json::Value| serde_json::from_value::<Event>(v).expect("event");
    rt.send(&key, event(json!({ "type": "start" })))
        .await
        .expect("start");
    let end = rt
        .send(&key, event(json!({ "type": "user", "text": "bye" })))
        .await
        .expect("user");
    let last = seqs(&end.outputs).into_iter().max().expect("outputs");
    let (session, _) = rt.session_of(&key).await.expect("read").expect("session");
    assert!(session.focus().is_none(), "the conversation ended");
    assert_eq!(session.context()["saiu"], json!(true));

    // A retention of a minute, applied a minute and a half later (the archive record is
    // kept for a second minute).
    let later = jiff::Timestamp::now().as_millisecond() + 90_000;
    let pruned = store::apply_retention(&*s, later, 60_000)
        .await
        .expect("retention");
    assert_eq!(pruned.conversations, 1, "{pruned:?}");
    assert!(rt.session_of(&key).await.expect("read").is_none());

    let again = rt
        .send(&key, event(json!({ "type": "start" })))
        .await
        .expect("start again");
    assert!(!again.outputs.is_empty());
    assert!(
        seqs(&again.outputs).iter().all(|q| *q > last),
        "seq goes on: {:?} after {last}",
        seqs(&again.outputs)
    );
    let polled = rt
        .outputs(&key, last, std::time::Duration::ZERO)
        .await
        .expect("poll");
    assert_eq!(seqs(&polled), seqs(&again.outputs));
    let (session, _) = rt.session_of(&key).await.expect("read").expect("session");
    assert!(session.context().get("saiu").is_none(), "a clean session");
    assert!(session.focus().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pruned_conversation_restarts_clean_memory_and_sqlite() {
    restarts_clean(store::open("memory:").await.expect("open")).await;
    let dir = common::Scratch::new("store-restart");
    let url = format!("sqlite://{}", dir.join("fluxo.db").display());
    restarts_clean(store::open(&url).await.expect("open")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pruned_conversation_restarts_clean_postgres() {
    let Some(db) = postgres::Database::create("restart").await else {
        return;
    };
    restarts_clean(store::open(&db.url).await.expect("open")).await;
}
