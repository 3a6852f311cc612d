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
