//! The commit of one turn: the session is loaded under the store's lock, the flow version
//! chosen, the engine run, and the new session, its numbered outputs, the effects it asks for
//! (the outbox), its deadline and the provider-conversation index written in one transaction.
//! The lowest of the runtime's layers: it knows nothing of how effects are performed.

use super::{ms, store, Delivery, EffectKind, Key, Runtime};
use crate::domain::{Event, Output};
use crate::engine::Bot;
use crate::error::{Error, ErrorKind};
use serde_json::{json, Value as Json};
use std::sync::{Arc, Mutex};
use store::{Committed, Done, NewEffect, Saved};

impl Runtime {
    /// One turn: load under the lock, pick the flow version, run the engine, commit.
    /// `Ok(None)`: the check refused the event (nothing changed).
    pub(super) async fn turn(
        &self,
        key: &Key,
        event: Event,
        done: Option<Done>,
        check: Check,
    ) -> Result<Option<(Committed, Vec<Output>, usize)>, Error> {
        self.turn_with(key, event, done, check, None).await
    }

    /// [`Runtime::turn`], recording the answer under the channel's `Idempotency-Key`.
    pub(super) async fn turn_with(
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
}

/// What a turn must find for its event to apply.
#[derive(Debug, Clone)]
pub(super) enum Check {
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
    pub(super) fn run(self, saved: Option<Saved>) -> Result<Option<store::Commit>, Error> {
        let (bot, mut s, before) = match &saved {
            // A conversation archived by the retention starts a new session; only its `seq`
            // goes on (`saved.last_seq`, used below).
            None | Some(Saved { archived: true, .. }) => (
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
                let session = session_text(&s)?;
                let deadline = bot.next_deadline(&s);
                report(
                    &self.slot,
                    TurnOut {
                        effects: 1,
                        new_deadline: deadline != saved.as_ref().and_then(|s| s.deadline),
                        ..TurnOut::default()
                    },
                );
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
                    inputs,
                    ..
                } if self.rt.has_driver(&bot, integration_id) => effect(
                    EffectKind::Handoff,
                    // The request as built now (for a row read by an older version) and what it
                    // was built from, so it is built again when it is sent.
                    json!({ "integration_id": integration_id, "request": request, "remote_id": remote_id,
                            "base_url": base_url(&bot, integration_id), "inputs": inputs.get() }),
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
        let session = session_text(&s)?;
        let deadline = bot.next_deadline(&s);
        report(
            &self.slot,
            TurnOut {
                outputs,
                effects: effects.len(),
                new_deadline: deadline != saved.as_ref().and_then(|s| s.deadline),
                needs: None,
            },
        );
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
/// What a turn tells its caller once it is written (outputs, effects, deadline).
fn report(slot: &Mutex<TurnOut>, out: TurnOut) {
    *slot
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = out;
}

/// The session as the store keeps it.
fn session_text(s: &crate::engine::Session) -> Result<String, Error> {
    serde_json::to_string(s).map_err(|e| {
        Error::new(
            ErrorKind::Store,
            format!("the session does not serialise: {e}"),
        )
    })
}

fn base_url(bot: &Bot, iid: &str) -> Option<String> {
    bot.integrations()
        .find(iid)
        .and_then(|i| i.settings.get("base_url"))
        .and_then(Json::as_str)
        .map(|s| s.trim_end_matches('/').to_owned())
}
