//! Slots: a frame's slots filled from the input, prompted for in order, their handlers
//! (`focus`, `filled`, `nomatch`, …), and the frame done when every required slot is filled.

use super::responses::has_response;
use super::*;

impl Turn<'_> {
    /// Slot filling of frame `f`: on entry (`entering`) or on a later input with `focus`.
    pub(super) fn slots(&mut self, f: usize, focus: Option<usize>, entering: bool) -> Flow {
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
    pub(super) fn handlers(&self, i: usize, event: &str) -> Vec<usize> {
        self.ws
            .children_of(i, Kind::EventHandler)
            .into_iter()
            .filter(|&h| self.ws.nodes.get(h).and_then(|n| n.event.as_deref()) == Some(event))
            .collect()
    }

    /// Tries to fill slot `s` from this input (its `input` handler's condition and context).
    pub(super) fn fill(&mut self, s: usize) -> Fill {
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
    pub(super) fn prompt_or_done(&mut self, f: usize, slots: &[usize], skipped: &[String]) -> Flow {
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

    pub(super) fn frame_top(&self, f: usize, s: usize, skipped: &[String]) -> Json {
        json!({ "dialog_node": self.id(f), "state": "in_progress", "slot_in_focus": self.id(s), "skipped": skipped })
    }

    /// Every required slot is filled (or skipped): the frame's own response and next step.
    pub(super) fn frame_done(&mut self, f: usize) -> Flow {
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
    pub(super) fn slot_turn(&mut self, f: usize, top: &Json) {
        let focus = top
            .get("slot_in_focus")
            .and_then(Json::as_str)
            .and_then(|s| self.ws.find(s));
        self.flags.insert("slot_in_focus".into(), json!(true));
        self.slots(f, focus, false);
        self.flags.remove("slot_in_focus");
    }
}

pub(super) enum Fill {
    No,
    Yes,
    SkipAll,
}
