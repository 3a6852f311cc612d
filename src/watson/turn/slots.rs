//! Slots: a frame's slots filled from the input, prompted for in order, their handlers
//! (`focus`, `filled`, `nomatch`, …), and the frame done when every required slot is filled.

use super::responses::has_response;
use super::*;

impl Turn<'_> {
    /// Slot filling of frame `f`: on entry (`entering`) or on a later input with `focus`, the
    /// slot whose prompt was shown, and `skipped`, the slots skipped in earlier turns.
    pub(super) fn slots(
        &mut self,
        f: usize,
        focus: Option<usize>,
        entering: bool,
        mut skipped: Vec<String>,
    ) -> Flow {
        let ws = self.ws;
        let slots = ws.children_of(f, Kind::Slot);
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
        // 2. Any slot can be filled by any input; the one in focus first. Every slot's Check-for
        // runs before any Found response, so a Found response reads what the same input put in
        // the other slots.
        let mut order: Vec<usize> = focus.into_iter().collect();
        order.extend(slots.iter().copied().filter(|s| Some(*s) != focus));
        let mut found = Vec::new();
        for s in order {
            let in_focus = !entering && Some(s) == focus;
            if let Some(values) = self.check_for(s, in_focus) {
                found.push((s, values));
            }
        }
        let filled = !found.is_empty();
        let mut skip_all = false;
        for (s, (previous, current)) in found {
            if let Fill::SkipAll = self.found(s, previous, current) {
                skip_all = true;
            }
        }
        if skip_all {
            return self.frame_done(f);
        }
        if !filled && !entering {
            // 3. A root node may take the input when the frame lets it digress (not the root
            // `anything_else`, not the frame itself); with `allow_returning`, only a node that
            // returns. A node with `digress_in: returns` comes back to the frame when its branch
            // ends, to the prompt of the next empty slot; another one leaves the frame.
            let digress = ws
                .nodes
                .get(f)
                .and_then(|n| n.digress_out_slots.as_deref())
                .filter(|d| *d == "allow_returning" || *d == "allow_all");
            if let Some(mode) = digress {
                let mut roots = Vec::new();
                ws.candidates(&ws.roots, &mut roots, 0);
                for r in roots {
                    let Some(node) = ws.nodes.get(r) else {
                        continue;
                    };
                    let catch_all = node.condition_text.trim() == "anything_else";
                    let digress_in = node.digress_in.as_deref();
                    let closed = digress_in == Some("not_available")
                        || (mode == "allow_returning" && digress_in != Some("returns"));
                    if r == f || catch_all || closed || !self.cond(r) {
                        continue;
                    }
                    if digress_in == Some("returns") {
                        let back = self.frame_top(f, focus, &skipped);
                        self.returns.push(back);
                    } else {
                        self.exit_branch("digression");
                    }
                    return self.process(r);
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
                            self.top = self.frame_top(f, Some(s), &skipped);
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

    /// Slot `s`'s Check-for: its `input` handler's condition and context, with `slot_in_focus`
    /// true when `in_focus` (the slot whose prompt was just shown). The slot's variable before
    /// and after, when the input filled it.
    pub(super) fn check_for(&mut self, s: usize, in_focus: bool) -> Option<(Json, Json)> {
        let ws = self.ws;
        let var = ws.nodes.get(s).and_then(|n| n.variable.clone())?;
        let h = self.handlers(s, "input").into_iter().next()?;
        if ws.nodes.get(h).is_none_or(|n| n.condition.is_none()) {
            return None;
        }
        self.flags.insert("slot_in_focus".into(), json!(in_focus));
        let filled = self.cond(h).then(|| {
            let previous = self.context.get(&var).cloned().unwrap_or(Json::Null);
            if let Some(c) = ws.nodes.get(h).and_then(|n| n.context.clone()) {
                self.apply_context(&c);
            }
            let current = self.context.get(&var).cloned().unwrap_or(Json::Null);
            (previous, current)
        });
        self.flags.insert("slot_in_focus".into(), json!(false));
        let (previous, current) = filled?;
        if current.is_null() {
            return None;
        }
        self.visited.push(self.id(s));
        Some((previous, current))
    }

    /// Slot `s`'s Found responses (`filled` handlers, the first true one), once every slot's
    /// Check-for has run.
    pub(super) fn found(&mut self, s: usize, previous: Json, current: Json) -> Fill {
        let ws = self.ws;
        let Some(var) = ws.nodes.get(s).and_then(|n| n.variable.clone()) else {
            return Fill::No;
        };
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
            self.top = self.frame_top(f, Some(s), skipped);
            return Flow::Wait;
        }
        self.frame_done(f)
    }

    /// The dialog stack entry of frame `f` filling its slots, `s` the slot whose prompt was
    /// shown.
    pub(super) fn frame_top(&self, f: usize, s: Option<usize>, skipped: &[String]) -> Json {
        let mut top =
            json!({ "dialog_node": self.id(f), "state": "in_progress", "skipped": skipped });
        if let Some(s) = s {
            top["slot_in_focus"] = json!(self.id(s));
        }
        top
    }

    /// Back to frame `f` after a digression (`entry` is its dialog stack entry): the prompt of
    /// the next empty slot, or the frame's response when the digression filled them all.
    pub(super) fn resume_frame(&mut self, f: usize, entry: &Json) -> Flow {
        let slots = self.ws.children_of(f, Kind::Slot);
        let skipped = skipped_of(entry);
        self.prompt_or_done(f, &slots, &skipped)
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
        self.slots(f, focus, false, skipped_of(top));
    }
}

/// The slots a frame's dialog stack entry says were skipped.
fn skipped_of(entry: &Json) -> Vec<String> {
    entry
        .get("skipped")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

pub(super) enum Fill {
    No,
    Yes,
    SkipAll,
}
