//! The hand-over and the live chat: the request to the provider, the agent's events, and the
//! one close that returns the conversation to the bot with `input.live_chat.status`.

use super::hours::out_of_hours;
use super::session::{LiveChat, Phase, Session};
use super::turn::Turn;
use super::{after_secs, assign, mask_json, unexpected, Bot};
use crate::domain::{
    Attached, CloseStatus, HandoffInputs, Output, Provider, RepresentativeType, Speaker,
};
use crate::error::ErrorKind;
use crate::model::{normalise_id, Integration, WaitNotice};
use crate::provider::{self, Handoff};
use serde_json::{json, Map, Value as Json};

impl Bot {
    pub(crate) fn agent_join(
        &self,
        s: &mut Session,
        name: String,
        avatar: Option<String>,
        bot: bool,
        now: i64,
        out: &mut Vec<Output>,
    ) {
        let Some(chat) = &s.chat else {
            unexpected(out, "`agent_join`: no live chat is open");
            return;
        };
        if chat.agents.contains(&name) {
            // Providers repeat joins (LivePerson sends the whole roster on every change):
            // the agent is already there, nothing happened.
            return;
        }
        if !chat.acknowledged {
            // The first join acknowledges the request implicitly.
            let (provider, remote) = (chat.provider, chat.remote_id.clone());
            self.acknowledge(s, provider, remote.as_deref(), None);
        }
        let inactivity = self.inactivity_after(s, now);
        if let Some(chat) = &mut s.chat {
            chat.phase = Phase::Active;
            chat.wait_deadline = None;
            chat.inactivity_deadline = inactivity;
            chat.agents.push(name.clone());
            if bot {
                chat.bots.push(name.clone());
            }
            if let Some(a) = &avatar {
                chat.avatars.insert(name.clone(), a.clone());
            }
        }
        out.push(Output::RepresentativeJoined {
            name,
            representative_type: kind(bot),
            avatar,
        });
    }

    pub(crate) fn agent_message(
        &self,
        s: &mut Session,
        text: String,
        content: Option<Json>,
        now: i64,
        out: &mut Vec<Output>,
    ) {
        let Some(chat) = &s.chat else {
            unexpected(out, "`agent_message`: no live chat is open");
            return;
        };
        if chat.phase != Phase::Active {
            // Providers deliver out of order (a message before the join webhook): the message
            // itself says an agent is there, so it joins first rather than being lost.
            self.agent_join(s, "agent".into(), None, false, now, out);
        }
        let Some(chat) = &s.chat else {
            return;
        };
        if chat.phase != Phase::Active {
            unexpected(out, "`agent_message`: no agent has joined the chat yet");
            return;
        }
        if let Some(integ) = self
            .integration(&chat.integration_id)
            .filter(|i| i.provider == Provider::WebexCc)
        {
            if let Some(max) = integ
                .max_agent_message_chars
                .filter(|m| text.chars().count() as u64 > *m)
            {
                out.push(Output::error(
                    ErrorKind::AgentMessageRejected,
                    format!(
                        "the agent's message has {} characters; Webex accepts at most {max}",
                        text.chars().count()
                    ),
                    None,
                ));
                return;
            }
            if text.contains(['<', '>']) {
                out.push(Output::error(
                    ErrorKind::AgentMessageRejected,
                    "the agent's message contains `<` or `>`, which Webex rejects",
                    None,
                ));
                return;
            }
        }
        let agent = chat.agents.last().cloned();
        let inactivity = self.inactivity_after(s, now);
        if let Some(chat) = &mut s.chat {
            chat.inactivity_deadline = inactivity;
        }
        self.remember(s, "agent", &text, now);
        // Structured content goes to the channel as the provider sent it; its text, if any,
        // is the fallback.
        let text = (content.is_none() || !text.is_empty()).then_some(text);
        out.push(Output::Message {
            from: Speaker::Agent,
            text,
            message: content,
            node: None,
            agent,
        });
    }

    pub(crate) fn agent_transfer(
        &self,
        s: &mut Session,
        to: String,
        now: i64,
        out: &mut Vec<Output>,
    ) {
        let wait = s
            .chat
            .as_ref()
            .and_then(|c| self.integration(&c.integration_id))
            .and_then(|i| i.wait_timeout_s)
            .filter(|w| *w > 0);
        let Some(chat) = &mut s.chat else {
            unexpected(out, "`agent_transfer`: no live chat is open");
            return;
        };
        if chat.phase != Phase::Active {
            unexpected(
                out,
                format!("`agent_transfer` to {to}: no agent has joined the chat"),
            );
            return;
        }
        let bots = std::mem::take(&mut chat.bots);
        let mut avatars = std::mem::take(&mut chat.avatars);
        for name in chat.agents.drain(..) {
            let bot = bots.contains(&name);
            let avatar = avatars.remove(&name);
            out.push(Output::RepresentativeLeft {
                name,
                representative_type: kind(bot),
                avatar,
            });
        }
        // Back in the queue: the wait timer starts again.
        chat.phase = Phase::Queued;
        chat.inactivity_deadline = None;
        chat.wait_deadline = wait.map(|w| after_secs(now, w));
        chat.queued_at = now;
        chat.queue_sent = 0;
    }

    pub(crate) fn provider_opened(
        &self,
        s: &mut Session,
        remote_id: String,
        result: Option<Json>,
        out: &mut Vec<Output>,
    ) {
        let Some(chat) = &s.chat else {
            unexpected(out, "`provider_opened`: no live chat was requested");
            return;
        };
        if chat.acknowledged && chat.remote_id.is_some() {
            unexpected(
                out,
                "`provider_opened`: the provider already accepted this chat",
            );
            return;
        }
        let provider = chat.provider;
        let estimate = result
            .as_ref()
            .and_then(|r| r.get("estimated_wait_s"))
            .and_then(Json::as_u64);
        let notice = self
            .integration(&chat.integration_id)
            .and_then(|i| i.wait_notice)
            == Some(WaitNotice::Once)
            && !chat.notice_sent;
        self.acknowledge(s, provider, Some(&remote_id), result.as_ref());
        if let Some(chat) = &mut s.chat {
            chat.remote_id = Some(remote_id);
            if chat.phase == Phase::Requested {
                chat.phase = Phase::Queued;
            }
            if notice {
                chat.notice_sent = true;
                let text = match estimate {
                    Some(secs) => format!(
                        "Você está na fila de atendimento. Tempo estimado de espera: {} min.",
                        secs.div_ceil(60).max(1)
                    ),
                    None => "Você está na fila de atendimento. Já já alguém te atende.".to_owned(),
                };
                out.push(Output::Message {
                    from: Speaker::System,
                    text: Some(text),
                    message: None,
                    node: None,
                    agent: None,
                });
            }
        }
    }

    pub(crate) fn acknowledge(
        &self,
        s: &mut Session,
        provider: Provider,
        remote: Option<&str>,
        result: Option<&Json>,
    ) {
        let var = s.chat.as_ref().and_then(|c| c.result_variable.clone());
        if let Some(chat) = &mut s.chat {
            chat.acknowledged = true;
        }
        if let Some(var) = var {
            // A provider's answer nested absurdly deep is not kept; the chat goes on.
            let _ = assign(
                &mut s.context,
                &var,
                provider::accepted_result(provider, remote, result),
            );
        }
    }

    pub(crate) fn set_error_result(&self, s: &mut Session, message: &str) {
        let Some(chat) = &s.chat else { return };
        if chat.acknowledged {
            return;
        }
        if let (Some(var), Json::Object(ctx)) = (chat.result_variable.clone(), &mut s.context) {
            ctx.insert(var, provider::error_result(message));
        }
    }

    /// Ends the chat with exactly one status, then feeds the focus node the synthetic turn
    /// with `input.live_chat.status`.
    pub(crate) fn close_chat(
        &self,
        s: &mut Session,
        status: CloseStatus,
        reason: Option<String>,
        from_provider: bool,
        now: i64,
        out: &mut Vec<Output>,
    ) {
        self.close_chat_at(s, status, reason, from_provider, now, out, 0);
    }

    /// Runs the out-of-hours close a turn left pending. `depth` bounds a flow whose
    /// `out_of_hours` branch asks for the hand-over again.
    pub(crate) fn finish_turn(
        &self,
        s: &mut Session,
        pending: bool,
        now: i64,
        out: &mut Vec<Output>,
        depth: u8,
    ) {
        if !pending {
            return;
        }
        if depth >= 4 {
            s.chat = None;
            out.push(Output::error(ErrorKind::LoopLimit, "the hand-over was requested again and again outside business hours; the turn stops here", None));
            return;
        }
        self.close_chat_at(
            s,
            CloseStatus::OutOfHours,
            Some("outside business hours".into()),
            false,
            now,
            out,
            depth + 1,
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn close_chat_at(
        &self,
        s: &mut Session,
        status: CloseStatus,
        reason: Option<String>,
        from_provider: bool,
        now: i64,
        out: &mut Vec<Output>,
        depth: u8,
    ) {
        let Some(chat) = s.chat.take() else { return };
        for name in &chat.agents {
            out.push(Output::RepresentativeLeft {
                name: name.clone(),
                representative_type: kind(chat.bots.contains(name)),
                avatar: chat.avatars.get(name).cloned(),
            });
        }
        out.push(Output::LiveChatClosed { status, reason });
        if !from_provider && status != CloseStatus::OutOfHours {
            out.push(Output::CloseProviderConversation {
                integration_id: chat.integration_id,
                remote_id: chat.remote_id,
            });
        }
        let input = json!({ "text": "", "live_chat": { "status": status.as_str() } });
        let mut t = Turn::new(self, s, out, now, input, json!([]), json!([]));
        t.route();
        let pending = t.pending_out_of_hours;
        self.finish_turn(s, pending, now, out, depth);
    }
}

impl Turn<'_> {
    pub(crate) fn start_live_chat(
        &mut self,
        i: usize,
        result_variable: Option<String>,
        params: Map<String, Json>,
    ) {
        let node_id = self.bot.flow.nodes[i].id.clone();
        if self.s.chat.is_some() {
            self.out.push(Output::error(
                ErrorKind::LiveChatOpen,
                "`start_live_chat`: a live chat is already open",
                Some(&node_id),
            ));
            return;
        }
        let Some(id) = params.get("integration_id").and_then(normalise_id) else {
            self.out.push(Output::error(
                ErrorKind::MissingIntegrationId,
                "`start_live_chat` has no `integration_id`",
                Some(&node_id),
            ));
            return;
        };
        // With no integrations file every id runs on the simulator.
        let simulated;
        let integ = match self.bot.integration(&id) {
            Some(x) => x,
            None if self.bot.integrations.integrations.is_empty() => {
                simulated = Integration {
                    id: id.clone(),
                    name: None,
                    provider: Provider::Simulator,
                    wait_timeout_s: None,
                    user_inactivity_timeout_s: None,
                    include_history: false,
                    wait_notice: None,
                    business_hours: None,
                    queue_messages: Vec::new(),
                    mask_pii: false,
                    max_agent_message_chars: None,
                    settings: Map::new(),
                };
                &simulated
            }
            None => {
                self.out.push(Output::error(
                    ErrorKind::UnknownIntegration,
                    format!("no integration has the id `{id}`"),
                    Some(&node_id),
                ));
                return;
            }
        };
        let mut chat = LiveChat {
            integration_id: id.clone(),
            provider: integ.provider,
            phase: Phase::Requested,
            remote_id: None,
            acknowledged: false,
            result_variable,
            agents: Vec::new(),
            bots: Vec::new(),
            avatars: Default::default(),
            wait_deadline: integ
                .wait_timeout_s
                .filter(|w| *w > 0)
                .map(|w| after_secs(self.now, w)),
            inactivity_deadline: None,
            queued_at: self.now,
            queue_sent: 0,
            notice_sent: false,
        };
        match out_of_hours(integ, self.now) {
            Ok(true) => {
                // No hand-over: the chat "closes" at once. The rest of the turn runs as usual,
                // then the focus node gets the `out_of_hours` status.
                if let (Some(var), Json::Object(ctx)) = (&chat.result_variable, &mut self.s.context)
                {
                    ctx.insert(var.clone(), json!({ "status": "out_of_hours" }));
                }
                chat.wait_deadline = None;
                self.s.chat = Some(chat);
                self.pending_out_of_hours = true;
                return;
            }
            Ok(false) => {}
            Err(e) => self
                .out
                .push(Output::error(e.kind(), e.detail(), Some(&node_id))),
        }
        let inputs = HandoffInputs {
            parameters: params,
            contact: self.s.contact.as_object().cloned().unwrap_or_default(),
            context: self.s.context.as_object().cloned().unwrap_or_default(),
            identifier: self.s.id.clone(),
            history: self.s.history.clone(),
            now_ms: self.now,
        };
        let handoff = provider::handoff_request(&Handoff::from_inputs(integ, &inputs));
        let params = inputs.parameters.clone();
        let params = if integ.mask_pii {
            mask_json(Json::Object(params))
        } else {
            Json::Object(params)
        };
        // A request that addresses an existing provider conversation names it at once, so the
        // provider's events route to this session even before the open call returns.
        chat.remote_id.clone_from(&handoff.remote_id);
        // The history went with the request: the session does not carry it through the chat.
        self.s.history.clear();
        self.out.push(Output::HandoffRequested {
            integration_id: id,
            provider: integ.provider.as_str().to_owned(),
            parameters: params,
            request: handoff.request,
            remote_id: handoff.remote_id,
            inputs: Attached::new(inputs),
        });
        self.s.chat = Some(chat);
        self.muted = true;
    }
}

/// `BOT` or `HUMAN`.
fn kind(bot: bool) -> RepresentativeType {
    if bot {
        RepresentativeType::Bot
    } else {
        RepresentativeType::Human
    }
}
