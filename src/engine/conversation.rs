//! The conversation's own events: `start`, a user message (with input validation), and the
//! result of an action the host ran.

use super::input;
use super::session::{Phase, Session};
use super::turn::Turn;
use super::{assign, http_aliases, system_roots, unexpected, Bot, MAX_HISTORY, MAX_HISTORY_BYTES};
use crate::domain::pii;
use crate::domain::{Output, Speaker};
use crate::error::ErrorKind;
use crate::expr::{Dialect, Evaluator, Scope};
use serde_json::{json, Map, Value as Json};

impl Bot {
    pub(crate) fn start(
        &self,
        s: &mut Session,
        channel: Option<String>,
        context: Option<Map<String, Json>>,
        contact: Option<Map<String, Json>>,
        now: i64,
        out: &mut Vec<Output>,
    ) {
        match self.flow.start {
            Some(start) => self.start_at(s, start, channel, context, contact, now, out),
            None => {
                self.fresh(s, channel, context, contact, now, out);
                out.push(Output::error(
                    ErrorKind::NoStartNode,
                    "no node has the condition `start`",
                    None,
                ));
            }
        }
    }

    /// A new conversation whose first turn fires node `start` (the `start` node, or any node
    /// for `start_at`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start_at(
        &self,
        s: &mut Session,
        start: usize,
        channel: Option<String>,
        context: Option<Map<String, Json>>,
        contact: Option<Map<String, Json>>,
        now: i64,
        out: &mut Vec<Output>,
    ) {
        self.fresh(s, channel, context, contact, now, out);
        let mut t = Turn::new(
            self,
            s,
            out,
            now,
            json!({ "text": "" }),
            Json::Null,
            Json::Null,
        );
        t.fire(start, 0, false);
        let pending = t.pending_out_of_hours;
        self.finish_turn(s, pending, now, out, 0);
    }

    /// A fresh session with the start's channel, context and contact (an old live chat ended).
    fn fresh(
        &self,
        s: &mut Session,
        channel: Option<String>,
        context: Option<Map<String, Json>>,
        contact: Option<Map<String, Json>>,
        now: i64,
        out: &mut Vec<Output>,
    ) {
        if let Some(chat) = s.chat.take() {
            // A new conversation ends the old chat on the provider's side.
            out.push(Output::CloseProviderConversation {
                integration_id: chat.integration_id,
                remote_id: chat.remote_id,
            });
        }
        let fresh = self.new_session(&s.id);
        *s = Session {
            clock: now,
            seq: s.seq,
            ..fresh
        };
        s.started = true;
        s.channel = channel;
        for (target, given) in [(&mut s.context, context), (&mut s.contact, contact)] {
            for (k, v) in given.into_iter().flatten() {
                if let Err(e) = assign(target, &k, v) {
                    out.push(e.into());
                }
            }
        }
    }

    // --- the user ------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn user(
        &self,
        s: &mut Session,
        text: String,
        intent: Option<String>,
        entities: Option<Vec<Json>>,
        confidence: Option<f64>,
        now: i64,
        out: &mut Vec<Output>,
    ) {
        if let Some(chat) = &mut s.chat {
            // The bot is silent while the chat is open: the message goes to the agent.
            if chat.phase == Phase::Active {
                chat.inactivity_deadline = None;
            }
            let masked = self
                .integration(&chat.integration_id)
                .is_some_and(|i| i.mask_pii);
            out.push(Output::RelayToAgent {
                text: if masked { pii::mask(&text) } else { text },
            });
            return;
        }
        if let Some(sus) = &s.suspended {
            out.push(Output::error(
                ErrorKind::AwaitingActionResult,
                format!("the turn waits for the result of action `{}` (id `{}`); the message was not processed", sus.name, sus.id),
                Some(&sus.node),
            ));
            return;
        }
        self.remember(s, "user", &text, now);
        let intents = match intent {
            Some(i) => json!([{ "intent": i, "confidence": confidence.unwrap_or(1.0) }]),
            None => json!([]),
        };
        let entities = Json::Array(entities.unwrap_or_default());
        let mut input = json!({ "text": text });
        let focus = s
            .focus
            .as_deref()
            .and_then(|f| self.flow.by_id.get(f).copied());
        let spec = focus
            .and_then(|f| self.input_spec(s, f, &intents, &entities, &system_roots(&intents, now)));
        // The builder's rule: an intent moves the conversation to the node whose entry
        // condition tests it, unless the focus input is a mandatory one collecting its answer.
        let intent_first = intents.as_array().is_some_and(|a| !a.is_empty())
            && !self.flow.intent_entries.is_empty()
            && !spec
                .as_ref()
                .is_some_and(|(kind, payload)| kind.mandatory(payload));
        if intent_first {
            let mut t = Turn::new(
                self,
                s,
                out,
                now,
                input.clone(),
                intents.clone(),
                entities.clone(),
            );
            if t.route_by_intent() {
                let pending = t.pending_out_of_hours;
                self.finish_turn(s, pending, now, out, 0);
                return;
            }
        }
        // Validation of the focus node's open input.
        if let Some(focus) = focus {
            if let Some((kind, payload)) = spec {
                match input::validate(kind, &payload, &text) {
                    input::Verdict::Valid(v) => {
                        input = v;
                        s.tries = 0;
                    }
                    input::Verdict::Invalid => {
                        s.tries += 1;
                        let messages: Vec<String> = match payload.get("error_message") {
                            Some(Json::Array(a)) => a
                                .iter()
                                .filter_map(Json::as_str)
                                .map(str::to_owned)
                                .collect(),
                            Some(Json::String(m)) => vec![m.clone()],
                            _ => Vec::new(),
                        };
                        let msg = messages
                            .get(s.tries as usize - 1)
                            .or(messages.last())
                            .cloned()
                            .unwrap_or_else(|| "Resposta inválida. Tente novamente.".into());
                        let node = self.flow.nodes[focus].id.clone();
                        out.push(Output::Message {
                            from: Speaker::Bot,
                            text: Some(msg.clone()),
                            message: None,
                            node: Some(node.clone()),
                            agent: None,
                        });
                        self.remember(s, "bot", &msg, now);
                        let limit = payload.get("tries").and_then(Json::as_u64);
                        if limit.is_none_or(|l| u64::from(s.tries) < l) {
                            let input = Some(Box::new(input::describe(kind, &payload, s.tries)));
                            out.push(Output::AwaitingInput { node, input });
                            return;
                        }
                        // Out of tries: the flow continues and can test `input.valid`.
                        s.tries = 0;
                        input = json!({ "text": text, "valid": false });
                    }
                }
            }
        }
        let mut t = Turn::new(self, s, out, now, input, intents, entities);
        t.intent_tried = intent_first;
        t.route();
        let pending = t.pending_out_of_hours;
        self.finish_turn(s, pending, now, out, 0);
    }

    /// The payload of the input widget the session waits at (options, `mask`, `mandatory`…),
    /// rendered for its channel; `None` when the bot waits nowhere or the node has no widget.
    /// For front ends that show the choices (`fluxo chat`).
    pub fn awaited_input(&self, s: &Session, now: i64) -> Option<Map<String, Json>> {
        let i = *self.flow.by_id.get(s.focus.as_deref()?)?;
        let none = json!([]);
        self.input_spec(s, i, &none, &none, &system_roots(&none, now))
            .map(|(_, payload)| payload)
    }

    /// The input widget of node `i` for the session's channel, with its payload rendered
    /// against the turn's intents, entities and system variables ([`system_roots`]).
    pub(crate) fn input_spec(
        &self,
        s: &Session,
        i: usize,
        intents: &Json,
        entities: &Json,
        system: &Json,
    ) -> Option<(crate::model::InputType, Map<String, Json>)> {
        let inp = self.flow.nodes.get(i)?.input.as_ref()?;
        let pick = |k: &str| inp.channels.iter().find(|(c, _, _)| c == k);
        let (_, kind, payload) = s
            .channel
            .as_deref()
            .and_then(pick)
            .or_else(|| pick("default"))
            .or_else(|| inp.channels.first())?;
        let scope = Scope {
            context: &s.context,
            contact: &s.contact,
            input: &Json::Null,
            intents,
            entities,
            env: &self.env,
            system,
        };
        let rendered = payload
            .render(&mut Evaluator::new(scope, self.budget, Dialect::Builder))
            .ok()?;
        Some((*kind, rendered.as_object().cloned().unwrap_or_default()))
    }

    /// Records a message for the history a hand-over sends: only when some integration the
    /// flow hands over to sends history, only until the hand-over (the builder's "between
    /// new_dialog and OPEN_CONVERSATION"), and at most [`MAX_HISTORY`] messages and
    /// [`MAX_HISTORY_BYTES`] of text, the oldest dropped first.
    pub(crate) fn remember(&self, s: &mut Session, from: &str, text: &str, now: i64) {
        if !self.record_history || s.chat.is_some() {
            return;
        }
        let text: String = if text.len() > MAX_HISTORY_BYTES {
            let mut end = MAX_HISTORY_BYTES;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text[..end].to_owned()
        } else {
            text.to_owned()
        };
        s.history
            .push(json!({ "from": from, "text": text, "at": now }));
        let size = |h: &[Json]| -> usize {
            h.iter()
                .map(|m| m.get("text").and_then(Json::as_str).map_or(0, str::len))
                .sum()
        };
        let mut drop = 0;
        while s.history.len() - drop > MAX_HISTORY
            || (drop + 1 < s.history.len() && size(&s.history[drop..]) > MAX_HISTORY_BYTES)
        {
            drop += 1;
        }
        s.history.drain(..drop);
    }

    pub(crate) fn action_result(
        &self,
        s: &mut Session,
        id: String,
        result: Json,
        now: i64,
        out: &mut Vec<Output>,
    ) {
        let Some(sus) = s.suspended.take_if(|x| x.id == id) else {
            let msg = match &s.suspended {
                Some(x) => format!(
                    "`action_result` for `{id}`, but the turn waits for `{}`",
                    x.id
                ),
                None => {
                    format!("`action_result` for `{id}`, but no action is waiting for a result")
                }
            };
            unexpected(out, msg);
            return;
        };
        let result = if sus.name == "http_request" {
            http_aliases(result)
        } else {
            result
        };
        if let Some(var) = &sus.result_variable {
            if let Err(e) = assign(&mut s.context, var, result) {
                out.push(e.with_node(&sus.node).into());
            }
        }
        let Some(&node) = self.flow.by_id.get(&sus.node) else {
            return;
        };
        let mut t = Turn::new(self, s, out, now, sus.input, json!([]), json!([]));
        t.fired = sus.fired;
        t.muted = sus.muted;
        t.fire(node, sus.action + 1, true);
        let pending = t.pending_out_of_hours;
        self.finish_turn(s, pending, now, out, 0);
    }
}
