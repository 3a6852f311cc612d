//! One `/message` turn: the dialog stack read from the context, nodes evaluated in Watson's
//! order, outputs gathered, the new position written back into `context.system`.

mod responses;
mod slots;

use super::workspace::{Behavior, Kind, Next, Selector, Workspace};
use super::MAX_NODES_PER_TURN;
use crate::expr::{Dialect, Scope};
use serde_json::{json, Map, Value as Json};
use std::hash::{Hash, Hasher};

static NULL: Json = Json::Null;

/// What a step leaves to do.
enum Flow {
    /// The turn is over: the dialog waits for the next input.
    Wait,
}

pub(super) struct Turn<'w> {
    ws: &'w Workspace,
    input: Json,
    intents: Json,
    entities: Json,
    /// The user's context (without `system`).
    context: Json,
    /// `context.system` as it will be written back.
    system: Map<String, Json>,
    /// Watson's dialog flags and clock, as expressions read them.
    flags: Map<String, Json>,
    text: Vec<Json>,
    generic: Vec<Json>,
    custom: Map<String, Json>,
    visited: Vec<String>,
    log: Vec<Json>,
    actions: Vec<Json>,
    /// Where the dialog waits after this turn (the top of `dialog_stack`).
    top: Json,
    /// Where to return after a digression (dialog stack entries: a node, or a frame filling
    /// its slots), innermost last.
    returns: Vec<Json>,
    processed: usize,
    conversation_id: String,
    paused: bool,
}

impl<'w> Turn<'w> {
    pub(super) fn run(ws: &'w Workspace, request: &Json, now: &str) -> Json {
        let input = match request.get("input") {
            Some(Json::Object(o)) => Json::Object(o.clone()),
            _ => json!({ "text": "" }),
        };
        let text = input
            .get("text")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut context = match request.get("context") {
            Some(Json::Object(o)) => o.clone(),
            _ => Map::new(),
        };
        let system = match context.remove("system") {
            Some(Json::Object(o)) => o,
            _ => Map::new(),
        };
        let conversation_id = context
            .get("conversation_id")
            .and_then(Json::as_str)
            .map_or_else(|| new_conversation_id(now, &text), str::to_owned);
        context.insert("conversation_id".into(), json!(conversation_id));
        // Intents and entities as the request gives them (Watson's v1 API allows it), else
        // the offline matcher's.
        let given = |k: &str| request.get(k).filter(|v| v.is_array()).cloned();
        let (intents, entities) = match (given("intents"), given("entities")) {
            (Some(i), Some(e)) => (i, e),
            (i, e) => {
                let (ni, ne) = super::understand(ws, &text, now);
                (i.unwrap_or(ni), e.unwrap_or(ne))
            }
        };
        let first = is_first_turn(&system);
        let mut flags = Map::new();
        flags.insert("conversation_start".into(), json!(first));
        flags.insert("welcome".into(), json!(first && text.trim().is_empty()));
        flags.insert("anything_else".into(), json!(true));
        flags.insert("irrelevant".into(), json!(false));
        flags.insert("returning_from_digression".into(), json!(false));
        flags.insert("slot_in_focus".into(), json!(false));
        flags.insert("__now".into(), json!(now));
        let mut turn = Turn {
            ws,
            input,
            intents,
            entities,
            context: Json::Object(context),
            system,
            flags,
            text: Vec::new(),
            generic: Vec::new(),
            custom: Map::new(),
            visited: Vec::new(),
            log: Vec::new(),
            actions: Vec::new(),
            top: json!({ "dialog_node": "root" }),
            returns: Vec::new(),
            processed: 0,
            conversation_id,
            paused: false,
        };
        turn.go();
        turn.response(request)
    }

    /// The turn itself: continue where the dialog stack says it waits.
    fn go(&mut self) {
        for counter in ["dialog_turn_counter", "dialog_request_counter"] {
            let n = self.system.get(counter).and_then(Json::as_u64).unwrap_or(0);
            self.system
                .insert(counter.into(), json!(n.saturating_add(1)));
        }
        self.system.insert("branch_exited".into(), json!(false));
        self.system.remove("branch_exited_reason");
        // The pause signal of the last turn's client action has been read by the client.
        if let Some(c) = self.context.as_object_mut() {
            c.remove("skip_user_input");
        }
        let stack = read_stack(self.system.get("dialog_stack"));
        let Some((top, below)) = stack.split_last() else {
            self.root();
            return;
        };
        self.returns = below
            .iter()
            .filter(|e| e.get("dialog_node").and_then(Json::as_str) != Some("root"))
            .cloned()
            .collect();
        let at = top
            .get("dialog_node")
            .and_then(Json::as_str)
            .unwrap_or("root");
        let Some(node) = self.ws.find(at) else {
            self.root();
            return;
        };
        match top.get("state").and_then(Json::as_str) {
            Some("in_progress") => self.slot_turn(node, top),
            _ => match top.get("selector").and_then(Json::as_str) {
                Some("user_input") | Some("condition") => {
                    let list = self.ws.siblings_from(node);
                    self.first_of(&list, true);
                }
                Some("body") => {
                    self.process(node);
                }
                _ => self.children_or_root(node),
            },
        }
    }

    /// Waiting at `w`: its children first; none true leaves the branch for the root level,
    /// as a digression when the node reached there returns.
    fn children_or_root(&mut self, w: usize) {
        let children = self.ws.dialog_children(w);
        for c in children {
            if self.cond(c) {
                self.process(c);
                return;
            }
        }
        let mut roots = Vec::new();
        self.ws.candidates(&self.ws.roots, &mut roots, 0);
        let digress_out = self.ws.nodes.get(w).and_then(|n| n.digress_out.as_deref());
        let never_return = digress_out == Some("allow_all_never_return");
        // `allow_returning`: only to nodes that come back.
        let only_returning = digress_out == Some("allow_returning");
        for r in roots {
            let digress_in = self.ws.nodes.get(r).and_then(|n| n.digress_in.as_deref());
            // A node with `digress_in: not_available` cannot be reached from inside a branch.
            let closed = digress_in == Some("not_available")
                || (only_returning && digress_in != Some("returns"));
            if !closed && self.cond(r) {
                let returns = !never_return && digress_in == Some("returns");
                if returns {
                    if let Some(n) = self.ws.nodes.get(w) {
                        self.returns.push(json!({ "dialog_node": n.id }));
                    }
                } else {
                    self.exit_branch("fallback");
                }
                self.process(r);
                return;
            }
        }
        if only_returning {
            // Nothing the node may digress to takes the input: the dialog stays, and asks
            // again.
            if let Some(n) = self.ws.nodes.get(w) {
                self.visited.push(n.id.clone());
                if let Some(o) = n.output.clone() {
                    self.emit(w, &o);
                }
                self.top = json!({ "dialog_node": n.id });
            }
            return;
        }
        self.exit_branch("fallback");
        self.top = json!({ "dialog_node": "root" });
    }

    /// The root level, first true node in tree order.
    fn root(&mut self) {
        let mut roots = Vec::new();
        self.ws.candidates(&self.ws.roots, &mut roots, 0);
        self.first_of(&roots, false);
    }

    /// The first node of `list` whose condition holds; none: the root level (`fallback`), or
    /// nothing when `list` was the root level.
    fn first_of(&mut self, list: &[usize], then_root: bool) {
        for &c in list {
            if self.cond(c) {
                self.process(c);
                return;
            }
        }
        if then_root {
            self.exit_branch("fallback");
            self.root();
        } else {
            self.top = json!({ "dialog_node": "root" });
        }
    }

    /// The branch was left: `fallback` (nothing in it matched), `completed` (it ended),
    /// `digression`. The first exit of the turn is the one reported.
    fn exit_branch(&mut self, reason: &str) {
        self.system.insert("branch_exited".into(), json!(true));
        self.system
            .entry("branch_exited_reason")
            .or_insert_with(|| json!(reason));
    }

    /// Fires node `i`: its context, its response (conditional responses first), its actions,
    /// then its next step.
    fn process(&mut self, i: usize) -> Flow {
        self.processed += 1;
        if self.processed > MAX_NODES_PER_TURN {
            self.warn(format!(
                "more than {MAX_NODES_PER_TURN} nodes in one turn: the dialog loops without waiting for input; stopped"
            ));
            self.top = json!({ "dialog_node": "root" });
            return Flow::Wait;
        }
        let ws = self.ws;
        let Some(node) = ws.nodes.get(i) else {
            return Flow::Wait;
        };
        self.visited.push(node.id.clone());
        if node.kind == Kind::Frame {
            if let Some(c) = &node.context {
                self.apply_context(c);
            }
            return self.slots(i, None, true, Vec::new());
        }
        if let Some(c) = &node.context {
            self.apply_context(c);
        }
        let next = self.respond(i);
        self.run_actions(i);
        if self.paused {
            return self.pause(i, next);
        }
        self.step(i, next)
    }

    /// What follows node `i`.
    fn step(&mut self, i: usize, next: Option<Next>) -> Flow {
        let behavior = next.map_or(Behavior::GetUserInput, |n| n.behavior);
        match behavior {
            Behavior::JumpTo => {
                let Some(n) = next else { return Flow::Wait };
                let Some(t) = n.target else {
                    self.warn(format!(
                        "node {} jumps to a node that does not exist",
                        self.id(i)
                    ));
                    return self.wait_after(i);
                };
                match n.selector {
                    Selector::Body => self.process(t),
                    Selector::Condition => {
                        let list = self.ws.siblings_from(t);
                        for c in list {
                            if self.cond(c) {
                                return self.process(c);
                            }
                        }
                        self.exit_branch("fallback");
                        self.root();
                        Flow::Wait
                    }
                    Selector::UserInput => {
                        self.top = json!({ "dialog_node": self.id(t), "selector": "user_input" });
                        Flow::Wait
                    }
                }
            }
            Behavior::SkipUserInput => {
                for c in self.ws.dialog_children(i) {
                    if self.cond(c) {
                        return self.process(c);
                    }
                }
                self.exit_branch("fallback");
                self.root();
                Flow::Wait
            }
            _ => self.wait_after(i),
        }
    }

    /// Waits for input after node `i`: at its children, else the branch is done (back to the
    /// node a digression left, or to the root level).
    fn wait_after(&mut self, i: usize) -> Flow {
        if !self.ws.dialog_children(i).is_empty() {
            self.top = json!({ "dialog_node": self.id(i) });
            return Flow::Wait;
        }
        while let Some(back) = self.returns.pop() {
            let Some(id) = back.get("dialog_node").and_then(Json::as_str) else {
                continue;
            };
            let Some(w) = self.ws.find(id) else {
                continue;
            };
            self.flags
                .insert("returning_from_digression".into(), json!(true));
            let flow = if back.get("state").and_then(Json::as_str) == Some("in_progress") {
                // Back to a frame filling its slots: the prompt of the next empty slot.
                self.resume_frame(w, &back)
            } else {
                // Back to a node: its prompt again.
                self.visited.push(id.to_owned());
                if let Some(o) = self.ws.nodes.get(w).and_then(|n| n.output.clone()) {
                    self.emit(w, &o);
                }
                self.top = json!({ "dialog_node": id });
                Flow::Wait
            };
            self.flags
                .insert("returning_from_digression".into(), json!(false));
            return flow;
        }
        self.exit_branch("completed");
        self.top = json!({ "dialog_node": "root" });
        Flow::Wait
    }

    /// A client action ends the turn (Watson returns so the client can run it); the next
    /// message continues where the node's next step points.
    fn pause(&mut self, i: usize, next: Option<Next>) -> Flow {
        match next {
            Some(n) if n.behavior == Behavior::JumpTo => {
                if let Some(t) = n.target {
                    let selector = match n.selector {
                        Selector::Body => "body",
                        Selector::Condition => "condition",
                        Selector::UserInput => "user_input",
                    };
                    self.top = json!({ "dialog_node": self.id(t), "selector": selector });
                    self.set_context("skip_user_input", json!(true));
                    return Flow::Wait;
                }
                self.wait_after(i)
            }
            Some(n) if n.behavior == Behavior::SkipUserInput => {
                self.set_context("skip_user_input", json!(true));
                self.top = json!({ "dialog_node": self.id(i) });
                Flow::Wait
            }
            _ => self.wait_after(i),
        }
    }

    /// Evaluates node `i`'s condition, and those of the folders it sits in (no condition:
    /// true; an error: false, logged).
    fn cond(&mut self, i: usize) -> bool {
        let ws = self.ws;
        if ws.nodes.get(i).is_some_and(|n| n.kind != Kind::Folder) {
            for f in ws.folders_of(i) {
                if !self.cond(f) {
                    return false;
                }
            }
        }
        let Some(node) = ws.nodes.get(i) else {
            return false;
        };
        let Some(c) = &node.condition else {
            return true;
        };
        match c {
            Err(e) => {
                let m = format!("node {}: its condition does not parse: {e}", node.id);
                self.warn(m);
                false
            }
            Ok(x) => {
                let flags = self.scope_flags();
                let scope = self.scope(&flags);
                match x.condition(&scope) {
                    Ok(b) => b,
                    Err(e) => {
                        let m = format!("node {}: {e}", node.id);
                        self.warn(m);
                        false
                    }
                }
            }
        }
    }

    /// What expressions read, with `flags` from [`Self::scope_flags`].
    fn scope<'a>(&'a self, flags: &'a Json) -> Scope<'a> {
        Scope {
            context: &self.context,
            contact: &NULL,
            input: &self.input,
            intents: &self.intents,
            entities: &self.entities,
            env: &NULL,
            system: flags,
        }
    }

    /// The flags expressions read, with `output` as built so far.
    fn scope_flags(&self) -> Json {
        let mut f = self.flags.clone();
        f.insert(
            "output".into(),
            json!({ "text": self.text, "generic": self.generic }),
        );
        Json::Object(f)
    }

    fn id(&self, i: usize) -> String {
        self.ws
            .nodes
            .get(i)
            .map(|n| n.id.clone())
            .unwrap_or_default()
    }

    fn warn(&mut self, msg: String) {
        if self.log.len() < 50 {
            self.log.push(json!({ "level": "warn", "msg": msg }));
        }
    }

    /// The `MessageResponse`.
    fn response(mut self, request: &Json) -> Json {
        let mut stack: Vec<Json> = self
            .returns
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if let Some(o) = r.as_object_mut() {
                    o.insert("invoked_subdialog".into(), json!(true));
                }
                r
            })
            .collect();
        stack.push(self.top.clone());
        self.system
            .insert("dialog_stack".into(), Json::Array(stack));
        self.system.insert("initialized".into(), json!(true));
        let mut context = match std::mem::take(&mut self.context) {
            Json::Object(o) => o,
            _ => Map::new(),
        };
        context.insert(
            "system".into(),
            Json::Object(std::mem::take(&mut self.system)),
        );
        let mut output = std::mem::take(&mut self.custom);
        output.insert("text".into(), Json::Array(self.text));
        output.insert("generic".into(), Json::Array(self.generic));
        output.insert("nodes_visited".into(), json!(self.visited));
        output.insert("log_messages".into(), Json::Array(self.log));
        let alternate = request
            .get("alternate_intents")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        let intents = match self.intents {
            Json::Array(a) if !alternate => Json::Array(a.into_iter().take(1).collect()),
            other => other,
        };
        let mut r = json!({
            "input": self.input,
            "intents": intents,
            "entities": self.entities,
            "context": context,
            "output": output,
        });
        if !self.actions.is_empty() {
            r["actions"] = Json::Array(self.actions);
        }
        if alternate {
            r["alternate_intents"] = json!(true);
        }
        r
    }
}

/// Whether a turn starts the conversation: its `system` shows no sign of a started one. Watson
/// did not always write `initialized`; a context with a `dialog_stack` or a
/// `dialog_turn_counter` (an older API version's, or one taken from Watson's logs) continues.
fn is_first_turn(system: &Map<String, Json>) -> bool {
    let initialized = system.get("initialized").and_then(Json::as_bool) == Some(true);
    !(initialized
        || system.contains_key("dialog_stack")
        || system.contains_key("dialog_turn_counter"))
}

/// `dialog_stack` as any version wrote it, as objects: an entry is a node id (`"node_1"`) or an
/// object with `dialog_node`; anything else is dropped.
fn read_stack(stack: Option<&Json>) -> Vec<Json> {
    let Some(Json::Array(entries)) = stack else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| match e {
            Json::String(id) => Some(json!({ "dialog_node": id })),
            Json::Object(o) if o.get("dialog_node").is_some_and(Json::is_string) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// A conversation id for a first message that brings none.
fn new_conversation_id(now: &str, text: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        now,
        text,
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::process::id(),
    )
        .hash(&mut h);
    let a = h.finish();
    let mut h2 = std::collections::hash_map::DefaultHasher::new();
    (a, "fluxo").hash(&mut h2);
    let b = h2.finish();
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}
