//! Timers on the conversation's clock: waiting for an agent, the user's silence, queue
//! messages. They fire in deadline order, each at its own deadline.

use super::session::{LiveChat, Phase, Session};
use super::{after_secs, Bot};
use crate::domain::{CloseStatus, Output, Speaker};

impl Bot {
    /// The next moment a timer of the session fires, for hosts that schedule wake-ups.
    pub fn next_deadline(&self, s: &Session) -> Option<i64> {
        let chat = s.chat.as_ref()?;
        let queue = self.next_queue_message(chat).map(|(at, _)| at);
        [chat.wait_deadline, chat.inactivity_deadline, queue]
            .into_iter()
            .flatten()
            .min()
    }

    pub(crate) fn next_queue_message<'a>(&'a self, chat: &LiveChat) -> Option<(i64, &'a str)> {
        if chat.phase == Phase::Active {
            return None;
        }
        let integ = self.integration(&chat.integration_id)?;
        let m = integ.queue_messages.get(chat.queue_sent as usize)?;
        Some((after_secs(chat.queued_at, m.after_s), m.text.as_str()))
    }

    /// Feeds one event at time `now` (milliseconds since the Unix epoch) and returns what the
    /// bot says and asks for. Timers due at or before `now` fire first, in order.
    pub(crate) fn fire_timers(&self, s: &mut Session, now: i64, out: &mut Vec<Output>) {
        // Each step fires the earliest due timer at its own deadline, so the order of what
        // happens does not depend on how far one event moved the clock.
        for _ in 0..10_000 {
            let Some(chat) = &s.chat else { return };
            let queue = self.next_queue_message(chat);
            let candidates = [
                chat.wait_deadline.map(|t| (t, 0u8)),
                chat.inactivity_deadline.map(|t| (t, 1u8)),
                queue.map(|(t, _)| (t, 2u8)),
            ];
            let Some((at, which)) = candidates
                .into_iter()
                .flatten()
                .filter(|(t, _)| *t <= now)
                .min()
            else {
                return;
            };
            s.clock = s.clock.max(at);
            match which {
                0 => {
                    let reason = self
                        .integration(&chat.integration_id)
                        .and_then(|i| i.wait_timeout_s)
                        .map(|w| format!("no agent joined within {w} s"));
                    self.close_chat(s, CloseStatus::Timeout, reason, false, at, out);
                }
                1 => {
                    let reason = self
                        .integration(&chat.integration_id)
                        .and_then(|i| i.user_inactivity_timeout_s)
                        .map(|w| format!("the user did not answer within {w} s"));
                    self.close_chat(
                        s,
                        CloseStatus::UserInactivityTimeout,
                        reason,
                        false,
                        at,
                        out,
                    );
                }
                _ => {
                    let text = queue.map(|(_, t)| t.to_owned()).unwrap_or_default();
                    if let Some(c) = s.chat.as_mut() {
                        c.queue_sent += 1;
                    }
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
    }
    pub(crate) fn inactivity_after(&self, s: &Session, now: i64) -> Option<i64> {
        let chat = s.chat.as_ref()?;
        let secs = self
            .integration(&chat.integration_id)?
            .user_inactivity_timeout_s?;
        (secs > 0).then(|| after_secs(now, secs))
    }
}
