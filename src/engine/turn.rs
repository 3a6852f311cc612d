//! One turn: fires nodes, renders, and moves the focus (SPEC §4.2).

use super::session::{Session, Suspended};
use super::{assign, system_roots, Bot, MAX_FIRINGS};
use crate::compile::{CValue, Entry};
use crate::domain::{BuiltinAction, Output, Speaker, BEFORE_ACTION_MESSAGES};
use crate::error::{Error, ErrorKind};
use crate::expr::{Dialect, Evaluator, Expr, Scope};
use serde_json::{json, Map, Value as Json};

/// One turn: fires nodes, renders, and moves the focus.
pub(crate) struct Turn<'a> {
    pub(crate) bot: &'a Bot,
    pub(crate) s: &'a mut Session,
    pub(crate) out: &'a mut Vec<Output>,
    pub(crate) now: i64,
    pub(crate) input: Json,
    pub(crate) intents: Json,
    pub(crate) entities: Json,
    pub(crate) system: Json,
    pub(crate) fired: u32,
    /// The bot has left the scene: a hand-over happened earlier in this turn.
    pub(crate) muted: bool,
    /// A hand-over found the team out of hours: the chat closes once the turn ends.
    pub(crate) pending_out_of_hours: bool,
    /// The nodes whose entry condition tests the intent were already tried, and none held:
    /// the entry scan of [`Turn::route`] passes them by.
    pub(crate) intent_tried: bool,
}

pub(crate) enum Step {
    Continue,
    Suspend,
}

impl<'a> Turn<'a> {
    pub(crate) fn new(
        bot: &'a Bot,
        s: &'a mut Session,
        out: &'a mut Vec<Output>,
        now: i64,
        input: Json,
        intents: Json,
        entities: Json,
    ) -> Self {
        let intents = if intents.is_null() {
            json!([])
        } else {
            intents
        };
        let entities = if entities.is_null() {
            json!([])
        } else {
            entities
        };
        let system = system_roots(&intents, now);
        Turn {
            bot,
            s,
            out,
            now,
            input,
            intents,
            entities,
            system,
            fired: 0,
            muted: false,
            pending_out_of_hours: false,
            intent_tried: false,
        }
    }

    fn scope(&self) -> Scope<'_> {
        Scope {
            context: &self.s.context,
            contact: &self.s.contact,
            input: &self.input,
            intents: &self.intents,
            entities: &self.entities,
            env: &self.bot.env,
            system: &self.system,
        }
    }

    fn cond(&mut self, e: &Expr, node: &str) -> bool {
        match Evaluator::new(self.scope(), self.bot.budget, Dialect::Builder).condition(e) {
            Ok(b) => b,
            Err(err) => {
                self.eval_error(err, node);
                false
            }
        }
    }

    fn render(&mut self, v: &CValue, node: &str) -> Option<Json> {
        match v.render(&mut Evaluator::new(
            self.scope(),
            self.bot.budget,
            Dialect::Builder,
        )) {
            Ok(j) => Some(j),
            Err(err) => {
                self.eval_error(err, node);
                None
            }
        }
    }

    fn eval_error(&mut self, err: Error, node: &str) {
        self.out.push(err.with_node(node).into());
    }

    /// The intent-first step of SPEC §4.2: the first node, in file order, whose entry
    /// condition tests the intent and holds fires. False when none does.
    pub(crate) fn route_by_intent(&mut self) -> bool {
        let flow = &self.bot.flow;
        for &i in &flow.intent_entries {
            let Some(node) = flow.nodes.get(i) else {
                continue;
            };
            if let Entry::Expr(e) = &node.entry {
                if self.cond(e, &node.id) {
                    self.fire(i, 0, false);
                    return true;
                }
            }
        }
        self.intent_tried = true;
        false
    }

    /// After the user (or a chat close) answered: the focus node's `next`, then entry
    /// conditions in file order, then `anything_else`, then the start node.
    pub(crate) fn route(&mut self) {
        let flow = &self.bot.flow;
        if let Some(focus) = self
            .s
            .focus
            .clone()
            .and_then(|f| flow.by_id.get(&f).copied())
        {
            if let Some(t) = self.first_next(focus) {
                return self.fire(t, 0, false);
            }
        }
        for (i, n) in flow.nodes.iter().enumerate() {
            if self.intent_tried && flow.intent_entries.binary_search(&i).is_ok() {
                continue;
            }
            if let Entry::Expr(e) = &n.entry {
                if self.cond(e, &n.id) {
                    return self.fire(i, 0, false);
                }
            }
        }
        if let Some(f) = flow.fallback.or(flow.start) {
            return self.fire(f, 0, false);
        }
        self.s.focus = None;
    }

    /// The target of node `i`'s first `next` whose condition holds. SPEC §4.2: the first true
    /// one decides; when it names no node, that is reported and nothing fires from this list.
    fn first_next(&mut self, i: usize) -> Option<usize> {
        let node = &self.bot.flow.nodes[i];
        for x in &node.next {
            let holds = match &x.condition {
                None => true,
                Some(c) => self.cond(c, &node.id),
            };
            if holds {
                if x.target.is_none() {
                    self.out.push(Output::error(
                        ErrorKind::UnknownNode,
                        format!("`goto` names no node: `{}`", x.goto),
                        Some(&node.id),
                    ));
                }
                return x.target;
            }
        }
        None
    }

    /// Fires node `i` from action `from_action` (0: the node is entered), then follows `next`.
    pub(crate) fn fire(&mut self, mut i: usize, mut from_action: usize, mut resuming: bool) {
        let flow = &self.bot.flow;
        loop {
            if !resuming {
                if self.fired >= MAX_FIRINGS {
                    self.out.push(Output::error(
                        ErrorKind::LoopLimit,
                        format!("{MAX_FIRINGS} nodes fired in one turn; the turn stops here and the bot waits"),
                        Some(&flow.nodes[i].id),
                    ));
                    return;
                }
                self.fired += 1;
            }
            let node = &flow.nodes[i];
            if !resuming {
                self.out.push(Output::NodeEntered {
                    id: node.id.clone(),
                });
                for (key, v) in &node.context {
                    if let Some(val) = self.render(v, &node.id) {
                        if let Err(e) = assign(&mut self.s.context, key, val) {
                            self.out.push(e.with_node(&node.id).into());
                        }
                    }
                }
                for (key, v) in &node.contact {
                    if let Some(val) = self.render(v, &node.id) {
                        if let Err(e) = assign(&mut self.s.contact, key, val) {
                            self.out.push(e.with_node(&node.id).into());
                        }
                    }
                }
            }
            for k in from_action..node.actions.len() {
                if let Step::Suspend = self.action(i, k) {
                    return;
                }
            }
            for e in &node.events {
                if let Some(Json::Object(mut ev)) = self.render(e, &node.id) {
                    self.out.push(Output::EventEmitted {
                        event_name: ev
                            .remove("event_name")
                            .and_then(|n| n.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                        details: ev.remove("details"),
                        extra1: ev.remove("extra1"),
                        extra2: ev.remove("extra2"),
                    });
                }
            }
            let mut output = &node.output;
            for r in &node.responses {
                let holds = match &r.condition {
                    None => true,
                    Some(c) => self.cond(c, &node.id),
                };
                if holds {
                    output = &r.output;
                    break;
                }
            }
            for item in output {
                self.say(item, &node.id);
            }
            if node.input.is_some() {
                self.s.focus = Some(node.id.clone());
                self.s.tries = 0;
                let input = self
                    .bot
                    .input_spec(self.s, i, &self.intents, &self.entities, &self.system)
                    .map(|(kind, payload)| Box::new(super::input::describe(kind, &payload, 0)));
                self.out.push(Output::AwaitingInput {
                    node: node.id.clone(),
                    input,
                });
                return;
            }
            let target = self.first_next(i);
            match target {
                Some(t) => {
                    i = t;
                    from_action = 0;
                    resuming = false;
                }
                None => {
                    self.s.focus = None;
                    return;
                }
            }
        }
    }

    fn say(&mut self, item: &CValue, node: &str) {
        let Some(Json::Object(mut by_channel)) = self.render(item, node) else {
            return;
        };
        let msg = self
            .s
            .channel
            .as_deref()
            .and_then(|c| by_channel.remove(c))
            .or_else(|| by_channel.remove("default"));
        let Some(msg) = msg else { return };
        if self.muted {
            return;
        }
        let text = (msg.get("type").and_then(Json::as_str) == Some("text")).then(|| {
            match msg.get("text") {
                Some(Json::String(s)) => s.clone(),
                Some(Json::Null) | None => String::new(),
                Some(other) => other.to_string(),
            }
        });
        if let Some(t) = &text {
            let t = t.clone();
            self.bot.remember(self.s, "bot", &t, self.now);
        }
        let message = if text.is_some() { None } else { Some(msg) };
        self.out.push(Output::Message {
            from: Speaker::Bot,
            text,
            message,
            node: Some(node.to_owned()),
            agent: None,
        });
    }

    fn action(&mut self, i: usize, k: usize) -> Step {
        let flow = &self.bot.flow;
        let node = &flow.nodes[i];
        let action = &node.actions[k];
        let mut params = Map::new();
        for (key, v) in &action.parameters {
            if let Some(val) = self.render(v, &node.id) {
                params.insert(key.clone(), val);
            }
        }
        if let Some(Json::Array(msgs)) = params.remove(BEFORE_ACTION_MESSAGES) {
            for m in msgs {
                let text = match m {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                if !self.muted {
                    self.bot.remember(self.s, "bot", &text, self.now);
                    self.out.push(Output::Message {
                        from: Speaker::Bot,
                        text: Some(text),
                        message: None,
                        node: Some(node.id.clone()),
                        agent: None,
                    });
                }
            }
        }
        match BuiltinAction::parse(&action.name) {
            Some(BuiltinAction::StartLiveChat) => {
                self.start_live_chat(i, action.result_variable.clone(), params);
                Step::Continue
            }
            _ => {
                let name = action.name.as_str();
                self.s.seq += 1;
                let id = format!("{}-{}", node.id, self.s.seq);
                self.out.push(Output::ActionRequested {
                    id: id.clone(),
                    name: name.to_owned(),
                    parameters: Json::Object(params),
                });
                self.s.suspended = Some(Suspended {
                    id,
                    name: name.to_owned(),
                    node: node.id.clone(),
                    action: k,
                    result_variable: action.result_variable.clone(),
                    input: self.input.clone(),
                    fired: self.fired,
                    muted: self.muted,
                });
                Step::Suspend
            }
        }
    }
}
