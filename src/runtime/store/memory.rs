//! `memory:`: the same tables in process memory, for tests and `fluxo run --live`. Nothing
//! survives the process; everything else behaves as the durable stores do.

use super::{
    lane, with_seq, Backlog, Commit, Committed, Delivery, Done, Effect, Key, NewDelivery, Pruned,
    Saved, Store, TurnFn,
};
use crate::drivers::BoxFuture;
use crate::error::Error;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

#[derive(Debug)]
struct OutboxRow {
    key: Key,
    kind: String,
    payload: Json,
    idempotency_key: String,
    attempts: i64,
    next_at: i64,
    lease_until: i64,
    done_at: Option<i64>,
    created_at: i64,
    failed_at: Option<i64>,
}

#[derive(Debug)]
struct InboxRow {
    dedupe: String,
    integration_id: String,
    remote_id: String,
    event: Json,
    received_at: i64,
    next_at: i64,
    lease_until: i64,
    done_at: Option<i64>,
    attempts: i64,
    failed_at: Option<i64>,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<Key, Saved>,
    outputs: HashMap<Key, Vec<Json>>,
    deadlines: BTreeSet<(i64, Key)>,
    outbox: BTreeMap<i64, OutboxRow>,
    idempotency: HashMap<String, i64>,
    inbox: BTreeMap<i64, InboxRow>,
    dedupe: HashMap<String, i64>,
    chats: HashMap<(String, String), Key>,
    versions: HashMap<(String, String), Vec<u8>>,
    /// (conversation, Idempotency-Key) → (fingerprint, answer, at).
    answers: HashMap<(Key, String), (String, Vec<Json>, i64)>,
    /// Ended conversations, by when they ended, and the same by conversation.
    ended: BTreeSet<(i64, Key)>,
    ended_at: HashMap<Key, i64>,
    /// Archived conversations: their last `seq` and when they ended.
    archived: HashMap<Key, (i64, i64)>,
    next_id: i64,
}

/// Turns of conversations in different shards run their bodies in parallel.
const SHARDS: usize = 64;

/// Everything in process memory (tests; `fluxo run --live`).
///
/// A turn holds its conversation's shard lock while its body (the engine) runs, and the
/// tables' lock only to read the session and, after the body returned, to write what it
/// produced: turns of different conversations do not wait for each other's engine work, and
/// a reader (a long-poll, the timer worker) waits at most for one table update.
#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<State>,
    shards: Box<[Mutex<()>]>,
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore {
            state: Mutex::default(),
            shards: (0..SHARDS).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl MemoryStore {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written turn: writes happen
        // after the turn's body returns.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn shard(&self, key: &Key) -> &Mutex<()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let h = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        let i = usize::try_from(h % (SHARDS as u64)).unwrap_or(0);
        &self.shards[i]
    }
}

fn ready<'a, T: Send + 'a>(v: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(v))
}

impl State {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Writes a turn whose outputs are already `numbered`.
    fn apply(
        &mut self,
        key: &Key,
        saved: Option<&Saved>,
        c: Commit,
        numbered: Vec<Json>,
    ) -> Committed {
        let last = saved.map_or(0, |s| s.last_seq);
        // The deadline as stored now (a postponed timer moved it since the turn read it).
        if let Some(old) = self.sessions.get(key) {
            if let Some(d) = old.deadline {
                self.deadlines.remove(&(d, key.clone()));
            }
        }
        if let Some(at) = self.ended_at.remove(key) {
            self.ended.remove(&(at, key.clone()));
        }
        if saved.is_some_and(|s| s.archived) {
            self.archived.remove(key);
        }
        if super::ended(&c.session, c.deadline) {
            self.ended.insert((c.now, key.clone()));
            self.ended_at.insert(key.clone(), c.now);
        }
        self.outputs
            .entry(key.clone())
            .or_default()
            .extend(numbered.iter().cloned());
        let last_seq = last + i64::try_from(numbered.len()).unwrap_or(0);
        for e in c.effects {
            if self.idempotency.contains_key(&e.idempotency_key) {
                continue;
            }
            let id = self.id();
            self.idempotency.insert(e.idempotency_key.clone(), id);
            self.outbox.insert(
                id,
                OutboxRow {
                    key: key.clone(),
                    kind: e.kind,
                    payload: e.payload,
                    idempotency_key: e.idempotency_key,
                    attempts: 0,
                    next_at: e.not_before,
                    lease_until: 0,
                    done_at: None,
                    created_at: c.now,
                    failed_at: None,
                },
            );
        }
        if let Some((i, r)) = c.chat {
            // An entry is never re-pointed to another conversation.
            self.chats.entry((i, r)).or_insert_with(|| key.clone());
        }
        match c.done {
            Some(Done::Effect(id)) => {
                if let Some(r) = self.outbox.get_mut(&id) {
                    r.done_at = Some(c.now);
                }
            }
            Some(Done::Delivery(id)) => {
                if let Some(r) = self.inbox.get_mut(&id) {
                    r.done_at = Some(c.now);
                }
            }
            None => {}
        }
        if let Some(d) = c.deadline {
            self.deadlines.insert((d, key.clone()));
        }
        self.sessions.insert(
            key.clone(),
            Saved {
                session: c.session,
                version: c.version,
                last_seq,
                deadline: c.deadline,
                archived: false,
            },
        );
        Committed {
            first_seq: last + 1,
            outputs: numbered,
        }
    }
}

impl Store for MemoryStore {
    fn turn(&self, key: Key, f: TurnFn) -> BoxFuture<'_, Result<Option<Committed>, Error>> {
        // Turns of this conversation wait here; the tables stay free while the body runs.
        let _turn = self
            .shard(&key)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let saved = {
            let st = self.state();
            st.sessions
                .get(&key)
                .cloned()
                .or_else(|| st.archived.get(&key).map(|(seq, _)| Saved::archived(*seq)))
        };
        let r = match f(saved.clone()) {
            Ok(Some(mut c)) => {
                // Numbered before taking the tables' lock: no other turn of this
                // conversation can run, so `last_seq` cannot move.
                let last = saved.as_ref().map_or(0, |s| s.last_seq);
                let numbered: Vec<Json> = c
                    .outputs
                    .drain(..)
                    .zip(1..)
                    .map(|(o, i)| with_seq(last + i, &o))
                    .collect();
                let mut st = self.state();
                match c.idempotency.clone() {
                    Some((k, _)) if st.answers.contains_key(&(key.clone(), k.clone())) => {
                        Err(super::repeated_key())
                    }
                    Some((k, fingerprint)) => {
                        let now = c.now;
                        let done = st.apply(&key, saved.as_ref(), c, numbered);
                        st.answers
                            .insert((key.clone(), k), (fingerprint, done.outputs.clone(), now));
                        Ok(Some(done))
                    }
                    None => Ok(Some(st.apply(&key, saved.as_ref(), c, numbered))),
                }
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        ready(r)
    }

    fn load<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Saved>, Error>> {
        ready(Ok(self.state().sessions.get(key).cloned()))
    }

    fn answer<'a>(
        &'a self,
        key: &'a Key,
        idem: &'a str,
    ) -> BoxFuture<'a, Result<Option<super::Answer>, Error>> {
        let st = self.state();
        ready(Ok(st.answers.get(&(key.clone(), idem.to_owned())).map(
            |(fingerprint, outputs, _)| super::Answer {
                fingerprint: fingerprint.clone(),
                outputs: outputs.clone(),
            },
        )))
    }

    fn outputs<'a>(
        &'a self,
        key: &'a Key,
        after: i64,
        limit: i64,
    ) -> BoxFuture<'a, Result<Vec<Json>, Error>> {
        let st = self.state();
        let all = st.outputs.get(key).map_or(&[][..], Vec::as_slice);
        // By `seq`, not by position: an archived conversation that started again numbers on.
        let from =
            all.partition_point(|o| o.get("seq").and_then(Json::as_i64).unwrap_or(0) <= after);
        let take = usize::try_from(limit.max(0)).unwrap_or(0);
        ready(Ok(all[from..].iter().take(take).cloned().collect()))
    }

    fn route<'a>(
        &'a self,
        integration_id: &'a str,
        remote_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Key>, Error>> {
        let st = self.state();
        ready(Ok(st
            .chats
            .get(&(integration_id.to_owned(), remote_id.to_owned()))
            .cloned()))
    }

    fn due<'a>(
        &'a self,
        now: i64,
        limit: i64,
        served: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(Key, i64)>, Error>> {
        let st = self.state();
        let take = usize::try_from(limit.max(0)).unwrap_or(0);
        ready(Ok(st
            .deadlines
            .iter()
            .take_while(|(d, _)| *d <= now)
            .filter(|(_, k)| served.contains(&k.bot))
            .take(take)
            .map(|(d, k)| (k.clone(), *d))
            .collect()))
    }

    fn next_deadline<'a>(
        &'a self,
        served: &'a [String],
    ) -> BoxFuture<'a, Result<Option<i64>, Error>> {
        ready(Ok(self
            .state()
            .deadlines
            .iter()
            .find(|(_, k)| served.contains(&k.bot))
            .map(|(d, _)| *d)))
    }

    fn postpone_timer<'a>(
        &'a self,
        key: &'a Key,
        from: i64,
        to: i64,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let mut st = self.state();
        let st = &mut *st;
        if let Some(saved) = st.sessions.get_mut(key) {
            if saved.deadline == Some(from) {
                saved.deadline = Some(to);
                st.deadlines.remove(&(from, key.clone()));
                st.deadlines.insert((to, key.clone()));
            }
        }
        ready(Ok(()))
    }

    fn bots_in_store(&self) -> BoxFuture<'_, Result<Vec<super::BotSessions>, Error>> {
        let st = self.state();
        let mut m: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for (k, s) in &st.sessions {
            let e = m.entry(k.bot.clone()).or_default();
            e.0 += 1;
            e.1 += i64::from(s.deadline.is_some());
        }
        ready(Ok(m
            .into_iter()
            .map(|(bot, (sessions, timers))| super::BotSessions {
                bot,
                sessions,
                timers,
            })
            .collect()))
    }

    fn claim_effects<'a>(
        &'a self,
        now: i64,
        lease_ms: i64,
        only: Option<&'a Key>,
        limit: i64,
    ) -> BoxFuture<'a, Result<Vec<Effect>, Error>> {
        let mut st = self.state();
        let mut heads: HashMap<(Key, &'static str), i64> = HashMap::new();
        for (id, r) in &st.outbox {
            if r.done_at.is_none() {
                heads.entry((r.key.clone(), lane(&r.kind))).or_insert(*id);
            }
        }
        let mut ids: Vec<i64> = heads.into_values().collect();
        ids.sort_unstable();
        let mut claimed = Vec::new();
        for id in ids {
            if i64::try_from(claimed.len()).unwrap_or(i64::MAX) >= limit {
                break;
            }
            let Some(r) = st.outbox.get_mut(&id) else {
                continue;
            };
            let eligible = match only {
                Some(k) => &r.key == k && r.attempts == 0,
                None => r.next_at <= now,
            };
            if !eligible || r.lease_until > now {
                continue;
            }
            r.lease_until = now.saturating_add(lease_ms);
            r.attempts += 1;
            claimed.push(Effect {
                id,
                key: r.key.clone(),
                kind: r.kind.clone(),
                payload: r.payload.clone(),
                idempotency_key: r.idempotency_key.clone(),
                attempts: r.attempts,
            });
        }
        ready(Ok(claimed))
    }

    fn finish_effect(&self, id: i64, now: i64) -> BoxFuture<'_, Result<(), Error>> {
        if let Some(r) = self.state().outbox.get_mut(&id) {
            r.done_at = Some(now);
        }
        ready(Ok(()))
    }

    fn extend_effect(&self, id: i64, until: i64) -> BoxFuture<'_, Result<(), Error>> {
        if let Some(r) = self.state().outbox.get_mut(&id) {
            if r.done_at.is_none() {
                r.lease_until = r.lease_until.max(until);
            }
        }
        ready(Ok(()))
    }

    fn fail_effect<'a>(
        &'a self,
        id: i64,
        now: i64,
        _error: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        if let Some(r) = self.state().outbox.get_mut(&id) {
            r.done_at = Some(now);
            r.failed_at = Some(now);
        }
        ready(Ok(()))
    }

    fn retry_effect<'a>(
        &'a self,
        id: i64,
        at: i64,
        _error: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        if let Some(r) = self.state().outbox.get_mut(&id) {
            r.next_at = at;
            r.lease_until = 0;
        }
        ready(Ok(()))
    }

    fn receive(
        &self,
        deliveries: Vec<NewDelivery>,
        now: i64,
    ) -> BoxFuture<'_, Result<Vec<i64>, Error>> {
        let mut st = self.state();
        let mut fresh = Vec::new();
        for d in deliveries {
            if st.dedupe.contains_key(&d.dedupe) {
                continue;
            }
            let id = st.id();
            st.dedupe.insert(d.dedupe.clone(), id);
            st.inbox.insert(
                id,
                InboxRow {
                    dedupe: d.dedupe,
                    integration_id: d.integration_id,
                    remote_id: d.remote_id,
                    event: d.event,
                    received_at: now,
                    next_at: now,
                    lease_until: 0,
                    done_at: None,
                    attempts: 0,
                    failed_at: None,
                },
            );
            fresh.push(id);
        }
        ready(Ok(fresh))
    }

    fn claim_deliveries<'a>(
        &'a self,
        now: i64,
        lease_ms: i64,
        ids: Option<&'a [i64]>,
        limit: i64,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, Error>> {
        let mut st = self.state();
        let take = usize::try_from(limit.max(0)).unwrap_or(0);
        let mut claimed = Vec::new();
        for (id, r) in st.inbox.iter_mut() {
            if claimed.len() >= take {
                break;
            }
            let eligible = match ids {
                Some(ids) => ids.contains(id),
                None => r.next_at <= now,
            };
            if r.done_at.is_some() || r.failed_at.is_some() || !eligible || r.lease_until > now {
                continue;
            }
            r.lease_until = now.saturating_add(lease_ms);
            r.attempts += 1;
            claimed.push(Delivery {
                id: *id,
                integration_id: r.integration_id.clone(),
                remote_id: r.remote_id.clone(),
                event: r.event.clone(),
                received_at: r.received_at,
                attempts: r.attempts,
            });
        }
        ready(Ok(claimed))
    }

    fn finish_delivery(&self, id: i64, now: i64) -> BoxFuture<'_, Result<(), Error>> {
        if let Some(r) = self.state().inbox.get_mut(&id) {
            r.done_at = Some(now);
        }
        ready(Ok(()))
    }

    fn retry_delivery(&self, id: i64, at: i64) -> BoxFuture<'_, Result<(), Error>> {
        if let Some(r) = self.state().inbox.get_mut(&id) {
            r.next_at = at;
            r.lease_until = 0;
        }
        ready(Ok(()))
    }

    fn fail_delivery<'a>(
        &'a self,
        id: i64,
        now: i64,
        _error: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        if let Some(r) = self.state().inbox.get_mut(&id) {
            r.failed_at = Some(now);
            r.next_at = i64::MAX;
            r.lease_until = 0;
        }
        ready(Ok(()))
    }

    fn save_version<'a>(
        &'a self,
        bot: &'a str,
        version: &'a str,
        source: &'a [u8],
    ) -> BoxFuture<'a, Result<(), Error>> {
        self.state()
            .versions
            .insert((bot.to_owned(), version.to_owned()), source.to_vec());
        ready(Ok(()))
    }

    fn version_source<'a>(
        &'a self,
        bot: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, Error>> {
        let st = self.state();
        ready(Ok(st
            .versions
            .get(&(bot.to_owned(), version.to_owned()))
            .cloned()))
    }

    fn sessions_not_on<'a>(
        &'a self,
        bot: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, Saved)>, Error>> {
        let st = self.state();
        let mut v: Vec<(String, Saved)> = st
            .sessions
            .iter()
            .filter(|(k, s)| k.bot == bot && s.version != version)
            .map(|(k, s)| (k.conversation.clone(), s.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        ready(Ok(v))
    }

    fn backlog(&self, now: i64) -> BoxFuture<'_, Result<Backlog, Error>> {
        let st = self.state();
        let pending = st.outbox.values().filter(|r| r.done_at.is_none());
        let mut b = Backlog::default();
        for r in pending {
            b.outbox += 1;
            b.oldest_ms = b.oldest_ms.max(now.saturating_sub(r.created_at));
        }
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        b.inbox = count(
            st.inbox
                .values()
                .filter(|r| r.done_at.is_none() && r.failed_at.is_none())
                .count(),
        );
        b.dead_deliveries = count(st.inbox.values().filter(|r| r.failed_at.is_some()).count());
        b.dead_effects = count(st.outbox.values().filter(|r| r.failed_at.is_some()).count());
        ready(Ok(b))
    }

    fn purge(&self, before: i64) -> BoxFuture<'_, Result<(), Error>> {
        let mut st = self.state();
        st.answers.retain(|_, (_, _, at)| *at >= before);
        let old: Vec<i64> = st
            .inbox
            .iter()
            .filter(|(_, r)| r.done_at.is_some_and(|d| d < before))
            .map(|(id, _)| *id)
            .collect();
        for id in old {
            if let Some(r) = st.inbox.remove(&id) {
                st.dedupe.remove(&r.dedupe);
            }
        }
        let old: Vec<i64> = st
            .outbox
            .iter()
            .filter(|(_, r)| r.failed_at.is_none() && r.done_at.is_some_and(|d| d < before))
            .map(|(id, _)| *id)
            .collect();
        for id in old {
            if let Some(r) = st.outbox.remove(&id) {
                st.idempotency.remove(&r.idempotency_key);
            }
        }
        ready(Ok(()))
    }

    fn prune(
        &self,
        ended_before: i64,
        forget_before: i64,
        limit: i64,
    ) -> BoxFuture<'_, Result<Pruned, Error>> {
        let mut st = self.state();
        let st = &mut *st;
        let take = usize::try_from(limit.max(0)).unwrap_or(0);
        let busy: HashSet<&Key> = st
            .outbox
            .values()
            .filter(|r| r.done_at.is_none())
            .map(|r| &r.key)
            .collect();
        let mut pruned = Pruned::default();
        let mut gone = HashSet::new();
        let candidates: Vec<(i64, Key)> = st
            .ended
            .range(..(ended_before, Key::new("", "")))
            .filter(|(_, k)| !busy.contains(k))
            .take(take)
            .cloned()
            .collect();
        for (at, key) in candidates {
            // A turn of this conversation is running: it decides whether it is still ended.
            let Ok(_turn) = self.shard(&key).try_lock() else {
                continue;
            };
            let Some(saved) = st.sessions.remove(&key) else {
                continue;
            };
            st.ended.remove(&(at, key.clone()));
            st.ended_at.remove(&key);
            let outputs = st.outputs.remove(&key).map_or(0, |o| o.len());
            pruned.outputs += i64::try_from(outputs).unwrap_or(i64::MAX);
            pruned.conversations += 1;
            st.archived.insert(key.clone(), (saved.last_seq, at));
            gone.insert(key);
        }
        if !gone.is_empty() {
            st.answers.retain(|(k, _), _| !gone.contains(k));
            st.chats.retain(|_, k| !gone.contains(k));
        }
        let old: Vec<Key> = st
            .archived
            .iter()
            .filter(|(_, (_, at))| *at < forget_before)
            .take(take)
            .map(|(k, _)| k.clone())
            .collect();
        for k in old {
            st.archived.remove(&k);
            pruned.forgotten += 1;
        }
        ready(Ok(pruned))
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), Error>> {
        ready(Ok(()))
    }
}
