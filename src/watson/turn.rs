//! One `/message` turn: the dialog stack read from the context, nodes evaluated in Watson's
//! order, outputs gathered, the new position written back into `context.system`.

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
    /// Nodes to return to after a digression, innermost last.
    returns: Vec<String>,
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
        let first = !system
            .get("initialized")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        let mut flags = Map::new();
        flags.insert("conversation_start".into(), json!(first));
        flags.insert("welcome".into(), json!(first && text.trim().is_empty()));
        flags.insert("anything_else".into(), json!(true));
        flags.insert("irrelevant".into(), json!(false));
        flags.insert("returning_from_digression".into(), json!(false));
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
        let stack: Vec<Json> = self
            .system
            .get("dialog_stack")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        let Some((top, below)) = stack.split_last() else {
            self.root();
            return;
        };
        self.returns = below
            .iter()
            .filter_map(|e| {
                e.get("dialog_node")
                    .and_then(Json::as_str)
                    .map(str::to_owned)
            })
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
        let never_return = self.ws.nodes.get(w).and_then(|n| n.digress_out.as_deref())
            == Some("allow_all_never_return");
        for r in roots {
            // A node with `digress_in: not_available` cannot be reached from inside a branch.
            let closed =
                self.ws.nodes.get(r).and_then(|n| n.digress_in.as_deref()) == Some("not_available");
            if !closed && self.cond(r) {
                let returns = !never_return
                    && self.ws.nodes.get(r).and_then(|n| n.digress_in.as_deref())
                        == Some("returns");
                if returns {
                    if let Some(n) = self.ws.nodes.get(w) {
                        self.returns.push(n.id.clone());
                    }
                } else {
                    self.exit_branch("fallback");
                }
                self.process(r);
                return;
            }
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
            return self.slots(i, None, true);
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

    /// The node's response: its first true conditional response, or its own output. Returns
    /// the next step (a conditional response's own jump wins over the node's).
    fn respond(&mut self, i: usize) -> Option<Next> {
        let ws = self.ws;
        let node = ws.nodes.get(i)?;
        let conditional = ws.children_of(i, Kind::ResponseCondition);
        if conditional.is_empty() {
            if let Some(o) = &node.output {
                self.emit(i, o);
            }
            return node.next;
        }
        for r in conditional {
            if self.cond(r) {
                let Some(rn) = ws.nodes.get(r) else { break };
                if let Some(c) = &rn.context {
                    self.apply_context(c);
                }
                if let Some(o) = &rn.output {
                    self.emit(r, o);
                }
                self.run_actions(r);
                if let Some(n) = rn.next.filter(|n| n.behavior == Behavior::JumpTo) {
                    return Some(n);
                }
                break;
            }
        }
        node.next
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
        if let Some(back) = self.returns.pop() {
            if let Some(w) = self.ws.find(&back) {
                // Back from a digression: the interrupted node's prompt again.
                self.flags
                    .insert("returning_from_digression".into(), json!(true));
                self.visited.push(back.clone());
                if let Some(o) = self.ws.nodes.get(w).and_then(|n| n.output.clone()) {
                    self.emit(w, &o);
                }
                self.flags
                    .insert("returning_from_digression".into(), json!(false));
                self.top = json!({ "dialog_node": back });
                return Flow::Wait;
            }
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

    /// Slot filling of frame `f`: on entry (`entering`) or on a later input with `focus`.
    fn slots(&mut self, f: usize, focus: Option<usize>, entering: bool) -> Flow {
        let ws = self.ws;
        let slots = ws.children_of(f, Kind::Slot);
        let mut skipped: Vec<String> = Vec::new();
        if !entering {
            // 1. Handlers: the slot's, then the frame's.
            let mut handlers = Vec::new();
            if let Some(s) = focus {
                handlers.extend(self.handlers(s, "generic"));
            }
            handlers.extend(self.handlers(f, "generic"));
            for h in handlers {
                if self.cond(h) {
                    self.visited.push(self.id(h));
                    let hn = ws.nodes.get(h);
                    if let Some(c) = hn.and_then(|n| n.context.clone()) {
                        self.apply_context(&c);
                    }
                    if let Some(o) = hn.and_then(|n| n.output.clone()) {
                        self.emit(h, &o);
                    }
                    match hn.and_then(|n| n.next).map(|n| n.behavior) {
                        Some(Behavior::SkipAllSlots) => return self.frame_done(f),
                        Some(Behavior::SkipSlot) => {
                            if let Some(s) = focus {
                                skipped.push(self.id(s));
                            }
                        }
                        _ => {}
                    }
                    return self.prompt_or_done(f, &slots, &skipped);
                }
            }
        }
        // 2. Any slot can be filled by any input; the one in focus first.
        let mut order: Vec<usize> = focus.into_iter().collect();
        order.extend(slots.iter().copied().filter(|s| Some(*s) != focus));
        let mut filled = false;
        let mut skip_all = false;
        for s in order {
            match self.fill(s) {
                Fill::No => {}
                Fill::Yes => filled = true,
                Fill::SkipAll => {
                    filled = true;
                    skip_all = true;
                }
            }
        }
        if skip_all {
            return self.frame_done(f);
        }
        if !filled && !entering {
            // 3. A root node may take the input when the frame lets it digress (not the root
            // `anything_else`). fluxo does not come back to the frame afterwards.
            let digress = ws
                .nodes
                .get(f)
                .and_then(|n| n.digress_out_slots.as_deref())
                .is_some_and(|d| d == "allow_returning" || d == "allow_all");
            if digress {
                let mut roots = Vec::new();
                ws.candidates(&ws.roots, &mut roots, 0);
                for r in roots {
                    let catch_all = ws
                        .nodes
                        .get(r)
                        .is_some_and(|n| n.condition_text.trim() == "anything_else");
                    if !catch_all && self.cond(r) {
                        self.exit_branch("digression");
                        return self.process(r);
                    }
                }
            }
            // 4. Not found: the slot's nomatch response, or its prompt again.
            if let Some(s) = focus {
                let nomatch: Vec<usize> = self
                    .handlers(s, "nomatch")
                    .into_iter()
                    .filter(|&h| self.cond(h))
                    .collect();
                if let Some(&h) = nomatch.first() {
                    self.visited.push(self.id(h));
                    if let Some(o) = ws.nodes.get(h).and_then(|n| n.output.clone()) {
                        self.emit(h, &o);
                    }
                    if let Some(c) = ws.nodes.get(h).and_then(|n| n.context.clone()) {
                        self.apply_context(&c);
                    }
                    match ws.nodes.get(h).and_then(|n| n.next).map(|n| n.behavior) {
                        Some(Behavior::SkipSlot) => skipped.push(self.id(s)),
                        Some(Behavior::SkipAllSlots) => return self.frame_done(f),
                        Some(Behavior::Reprompt) => {}
                        _ => {
                            self.top = self.frame_top(f, s, &skipped);
                            return Flow::Wait;
                        }
                    }
                }
            }
        }
        self.prompt_or_done(f, &slots, &skipped)
    }

    /// The slot handlers of node `i` for `event`.
    fn handlers(&self, i: usize, event: &str) -> Vec<usize> {
        self.ws
            .children_of(i, Kind::EventHandler)
            .into_iter()
            .filter(|&h| self.ws.nodes.get(h).and_then(|n| n.event.as_deref()) == Some(event))
            .collect()
    }

    /// Tries to fill slot `s` from this input (its `input` handler's condition and context).
    fn fill(&mut self, s: usize) -> Fill {
        let ws = self.ws;
        let Some(var) = ws.nodes.get(s).and_then(|n| n.variable.clone()) else {
            return Fill::No;
        };
        let Some(h) = self.handlers(s, "input").into_iter().next() else {
            return Fill::No;
        };
        let has_condition = ws.nodes.get(h).is_some_and(|n| n.condition.is_some());
        if !has_condition || !self.cond(h) {
            return Fill::No;
        }
        let previous = self.context.get(&var).cloned().unwrap_or(Json::Null);
        if let Some(c) = ws.nodes.get(h).and_then(|n| n.context.clone()) {
            self.apply_context(&c);
        }
        let current = self.context.get(&var).cloned().unwrap_or(Json::Null);
        if current.is_null() {
            return Fill::No;
        }
        self.visited.push(self.id(s));
        self.flags.insert(
            "event".into(),
            json!({ "current_value": current, "previous_value": previous }),
        );
        let mut result = Fill::Yes;
        for f in self.handlers(s, "filled") {
            if self.cond(f) {
                self.visited.push(self.id(f));
                if let Some(o) = ws.nodes.get(f).and_then(|n| n.output.clone()) {
                    self.emit(f, &o);
                }
                if let Some(c) = ws.nodes.get(f).and_then(|n| n.context.clone()) {
                    self.apply_context(&c);
                }
                match ws.nodes.get(f).and_then(|n| n.next).map(|n| n.behavior) {
                    Some(Behavior::Reprompt) => {
                        self.set_context(&var, Json::Null);
                        result = Fill::No;
                    }
                    Some(Behavior::SkipAllSlots) => result = Fill::SkipAll,
                    _ => {}
                }
                break;
            }
        }
        self.flags.remove("event");
        result
    }

    /// Prompts for the first empty required slot, or finishes the frame.
    fn prompt_or_done(&mut self, f: usize, slots: &[usize], skipped: &[String]) -> Flow {
        let ws = self.ws;
        for &s in slots {
            let Some(var) = ws.nodes.get(s).and_then(|n| n.variable.clone()) else {
                continue;
            };
            if skipped.contains(&self.id(s)) {
                continue;
            }
            let empty = self.context.get(&var).is_none_or(Json::is_null);
            // A slot without a prompt is optional: it is never prompted for.
            let focus: Vec<usize> = self
                .handlers(s, "focus")
                .into_iter()
                .filter(|&h| {
                    ws.nodes
                        .get(h)
                        .and_then(|n| n.output.as_ref())
                        .is_some_and(has_response)
                })
                .collect();
            if !empty || focus.is_empty() {
                continue;
            }
            self.visited.push(self.id(s));
            for h in focus {
                if self.cond(h) {
                    if let Some(o) = ws.nodes.get(h).and_then(|n| n.output.clone()) {
                        self.emit(h, &o);
                    }
                    break;
                }
            }
            if let Some(o) = ws.nodes.get(s).and_then(|n| n.output.clone()) {
                self.emit(s, &o);
            }
            self.top = self.frame_top(f, s, skipped);
            return Flow::Wait;
        }
        self.frame_done(f)
    }

    fn frame_top(&self, f: usize, s: usize, skipped: &[String]) -> Json {
        json!({ "dialog_node": self.id(f), "state": "in_progress", "slot_in_focus": self.id(s), "skipped": skipped })
    }

    /// Every required slot is filled (or skipped): the frame's own response and next step.
    fn frame_done(&mut self, f: usize) -> Flow {
        self.flags.insert("all_slots_filled".into(), json!(true));
        let next = self.respond(f);
        self.flags.remove("all_slots_filled");
        self.run_actions(f);
        if self.paused {
            return self.pause(f, next);
        }
        self.step(f, next)
    }

    /// A later input while frame `f` fills its slots.
    fn slot_turn(&mut self, f: usize, top: &Json) {
        let focus = top
            .get("slot_in_focus")
            .and_then(Json::as_str)
            .and_then(|s| self.ws.find(s));
        self.flags.insert("slot_in_focus".into(), json!(true));
        self.slots(f, focus, false);
        self.flags.remove("slot_in_focus");
    }

    /// Runs node `i`'s actions: client actions go back to the caller (and end the turn);
    /// server-side ones cannot run offline, and their result variable is `null`.
    fn run_actions(&mut self, i: usize) {
        let actions = self
            .ws
            .nodes
            .get(i)
            .map(|n| n.actions.clone())
            .unwrap_or_default();
        for a in actions {
            let kind = a.get("type").and_then(Json::as_str).unwrap_or("client");
            let rendered = self.render(&a);
            if kind == "client" {
                self.actions.push(rendered);
                self.paused = true;
            } else {
                self.warn(format!(
                    "action {} ({kind}) is not called offline; its result variable is null",
                    a.get("name").and_then(Json::as_str).unwrap_or("?")
                ));
                if let Some(v) = a.get("result_variable").and_then(Json::as_str) {
                    let name = v.trim_start_matches('$').trim_start_matches("context.");
                    self.set_context(name, Json::Null);
                }
            }
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

    /// Renders a value: strings are templates (Watson's `$var` / `@entity` shorthand and
    /// `<? … ?>`); a string that is exactly one expression keeps the value's type.
    fn render(&mut self, v: &Json) -> Json {
        match v {
            Json::String(s) => {
                let t = expand_shorthand(s, &self.ws.entities);
                if !t.contains("<?") {
                    return Json::String(t);
                }
                let flags = self.scope_flags();
                let scope = self.scope(&flags);
                match crate::expr::render(&t, Dialect::Watson, &scope) {
                    Ok(v) => v,
                    Err(e) => {
                        self.warn(format!("{s}: {e}"));
                        Json::String(String::new())
                    }
                }
            }
            Json::Array(a) => Json::Array(a.iter().map(|x| self.render(x)).collect()),
            Json::Object(o) => {
                Json::Object(o.iter().map(|(k, x)| (k.clone(), self.render(x))).collect())
            }
            other => other.clone(),
        }
    }

    /// Applies a `context` block: values rendered, objects deep-merged, the rest overwritten.
    fn apply_context(&mut self, block: &Map<String, Json>) {
        for (k, v) in block {
            if k == "system" {
                continue;
            }
            let value = self.render(v);
            if let Some(ctx) = self.context.as_object_mut() {
                match (ctx.get_mut(k), value) {
                    (Some(Json::Object(old)), Json::Object(new)) => merge(old, new, 0),
                    (_, value) => {
                        ctx.insert(k.clone(), value);
                    }
                }
            }
        }
    }

    fn set_context(&mut self, k: &str, v: Json) {
        if let Some(ctx) = self.context.as_object_mut() {
            ctx.insert(k.to_owned(), v);
        }
    }

    /// Adds node `i`'s response to the turn's output.
    fn emit(&mut self, i: usize, output: &Json) {
        let Some(o) = output.as_object() else { return };
        let overwrite = o
            .get("modifiers")
            .and_then(|m| m.get("overwrite"))
            .and_then(Json::as_bool)
            .unwrap_or(false)
            || o.get("text")
                .and_then(|t| t.get("append"))
                .and_then(Json::as_bool)
                == Some(false);
        if overwrite {
            self.text.clear();
            self.generic.clear();
        }
        match o.get("text") {
            Some(Json::String(s)) => {
                let r = self.render(&Json::String(s.clone()));
                self.push_text(r);
            }
            Some(Json::Array(values)) => {
                let chosen = self.select(i, "text", values, "sequential");
                for c in chosen {
                    let r = self.render(&c);
                    self.push_text(r);
                }
            }
            Some(Json::Object(t)) => {
                let values = t
                    .get("values")
                    .and_then(Json::as_array)
                    .cloned()
                    .unwrap_or_default();
                let policy = t
                    .get("selection_policy")
                    .and_then(Json::as_str)
                    .unwrap_or("sequential");
                let chosen = self.select(i, "text", &values, policy);
                for c in chosen {
                    let r = self.render(&c);
                    self.push_text(r);
                }
            }
            _ => {}
        }
        if let Some(items) = o.get("generic").and_then(Json::as_array) {
            for (n, item) in items.iter().enumerate() {
                if item.get("response_type").and_then(Json::as_str) == Some("text") {
                    let values: Vec<Json> = item
                        .get("values")
                        .and_then(Json::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.get("text").cloned())
                        .collect();
                    let policy = item
                        .get("selection_policy")
                        .and_then(Json::as_str)
                        .unwrap_or("sequential");
                    let chosen = self.select(i, &n.to_string(), &values, policy);
                    if policy == "multiline" {
                        let delimiter = item
                            .get("delimiter")
                            .and_then(Json::as_str)
                            .unwrap_or("\n")
                            .to_owned();
                        let parts: Vec<String> = chosen
                            .iter()
                            .map(|c| text_of(&self.render(c)))
                            .filter(|t| !t.is_empty())
                            .collect();
                        if !parts.is_empty() {
                            self.push_text(Json::String(parts.join(&delimiter)));
                        }
                    } else {
                        for c in chosen {
                            let r = self.render(&c);
                            self.push_text(r);
                        }
                    }
                } else {
                    let r = self.render(item);
                    self.generic.push(r);
                }
            }
        }
        for (k, v) in o {
            if matches!(k.as_str(), "text" | "generic" | "modifiers") {
                continue;
            }
            let r = self.render(v);
            match (self.custom.get_mut(k), r) {
                (Some(Json::Object(old)), Json::Object(new)) => merge(old, new, 0),
                (_, r) => {
                    self.custom.insert(k.clone(), r);
                }
            }
        }
    }

    fn push_text(&mut self, v: Json) {
        let t = text_of(&v);
        if t.is_empty() {
            return;
        }
        self.generic
            .push(json!({ "response_type": "text", "text": t }));
        self.text.push(Json::String(t));
    }

    /// The values to show by `policy`: `sequential` takes the next one each time the node
    /// fires (and starts again after the last), `random` a different one from last time
    /// (drawn from the conversation id, the node and the turn: the same conversation gives the
    /// same answers), `multiline` all of them. The counters live in
    /// `context.system._node_output_map`.
    fn select(&mut self, i: usize, key: &str, values: &[Json], policy: &str) -> Vec<Json> {
        if values.is_empty() {
            return Vec::new();
        }
        if policy == "multiline" {
            return values.to_vec();
        }
        let id = self.id(i);
        let map = self
            .system
            .entry("_node_output_map")
            .or_insert_with(|| json!({}));
        if !map.is_object() {
            *map = json!({});
        }
        let seen = map
            .get(&id)
            .and_then(|n| n.get(key))
            .and_then(Json::as_array)
            .and_then(|a| a.last())
            .and_then(Json::as_u64);
        let len = values.len() as u64;
        let pick = if policy == "random" {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (
                &self.conversation_id,
                &id,
                key,
                self.system
                    .get("dialog_turn_counter")
                    .and_then(Json::as_u64),
            )
                .hash(&mut h);
            let mut p = h.finish() % len;
            if len > 1 && Some(p) == seen {
                p = (p + 1) % len;
            }
            p
        } else {
            seen.map_or(0, |s| (s + 1) % len)
        };
        if let Some(Json::Object(m)) = self.system.get_mut("_node_output_map") {
            let entry = m.entry(id).or_insert_with(|| json!({}));
            if !entry.is_object() {
                *entry = json!({});
            }
            if let Some(e) = entry.as_object_mut() {
                e.insert(key.to_owned(), json!([pick]));
            }
        }
        usize::try_from(pick)
            .ok()
            .and_then(|p| values.get(p))
            .cloned()
            .into_iter()
            .collect()
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
            .map(|r| json!({ "dialog_node": r, "invoked_subdialog": true }))
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

enum Fill {
    No,
    Yes,
    SkipAll,
}

/// Whether an `output` says something: a non-empty `text` (string, list or `values`) or a
/// `generic` item.
fn has_response(output: &Json) -> bool {
    let text = match output.get("text") {
        Some(Json::String(s)) => !s.is_empty(),
        Some(Json::Array(a)) => !a.is_empty(),
        Some(t) => t
            .get("values")
            .and_then(Json::as_array)
            .is_some_and(|v| !v.is_empty()),
        None => false,
    };
    text || output
        .get("generic")
        .and_then(Json::as_array)
        .is_some_and(|g| !g.is_empty())
}

/// A value as text: strings as they are, anything else as JSON.
fn text_of(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// Deep merge: objects key by key, anything else overwritten.
fn merge(old: &mut Map<String, Json>, new: Map<String, Json>, depth: u8) {
    for (k, v) in new {
        match (old.get_mut(&k), v) {
            (Some(Json::Object(o)), Json::Object(n)) if depth < 64 => merge(o, n, depth + 1),
            (_, v) => {
                old.insert(k, v);
            }
        }
    }
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

/// Watson's text shorthand made explicit: outside `<? … ?>`, `$name` (and `$name.field`),
/// `$(name)` and `@entity` (an entity the workspace knows, with an optional `.literal`,
/// `.value`, `.confidence`, `.location` or `.values`) become expressions; `\$`, `\@` and `\#`
/// are the characters themselves.
pub(crate) fn expand_shorthand(s: &str, entities: &std::collections::HashSet<String>) -> String {
    if !s.contains(['$', '@', '\\']) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 16);
    let b = s.as_bytes();
    let mut i = 0;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        if s[i..].starts_with("<?") {
            let end = s[i..].find("?>").map_or(s.len(), |e| i + e + 2);
            out.push_str(&s[i..end]);
            i = end;
            continue;
        }
        let c = b[i];
        if c == b'\\' && matches!(b.get(i + 1), Some(b'$' | b'@' | b'#')) {
            out.push(char::from(b[i + 1]));
            i += 2;
            continue;
        }
        if c == b'$' {
            if b.get(i + 1) == Some(&b'(') {
                if let Some(close) = s[i + 2..].find(')') {
                    let name = &s[i + 2..i + 2 + close];
                    out.push_str(&format!("<? context['{}'] ?>", name.replace('\'', "''")));
                    i += 3 + close;
                    continue;
                }
            }
            if b.get(i + 1)
                .is_some_and(|&n| n.is_ascii_alphabetic() || n == b'_')
            {
                let mut j = i + 1;
                loop {
                    while j < b.len() && ident(b[j]) {
                        j += 1;
                    }
                    if j + 1 < b.len()
                        && b[j] == b'.'
                        && (b[j + 1].is_ascii_alphabetic() || b[j + 1] == b'_')
                    {
                        j += 1;
                        continue;
                    }
                    break;
                }
                out.push_str(&format!("<? {} ?>", &s[i..j]));
                i = j;
                continue;
            }
        }
        if c == b'@' {
            let mut j = i + 1;
            while j < b.len() && (ident(b[j]) || b[j] == b'-') {
                j += 1;
            }
            let name = &s[i + 1..j];
            if !name.is_empty() && entities.contains(name) {
                for prop in [".literal", ".value", ".confidence", ".location", ".values"] {
                    if s[j..].starts_with(prop)
                        && !s.as_bytes().get(j + prop.len()).is_some_and(|&n| ident(n))
                    {
                        j += prop.len();
                        break;
                    }
                }
                out.push_str(&format!("<? {} ?>", &s[i..j]));
                i = j;
                continue;
            }
        }
        // One whole character (the text is UTF-8).
        let len = s[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&s[i..i + len]);
        i += len;
    }
    out
}
