//! Responses: a node's conditional responses or its own output, its actions and context,
//! rendered through the workspace's compiled templates (Watson's `$var`/`@entity` shorthand
//! made explicit), and the selection policies of a response's values.

use super::*;
use crate::expr::{render_compiled, ParseCache};
use crate::watson::templates::{compile_string, Compiled};

impl Turn<'_> {
    /// The node's response: its first true conditional response, or its own output. Returns
    /// the next step (a conditional response's own jump wins over the node's).
    pub(super) fn respond(&mut self, i: usize) -> Option<Next> {
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

    /// Runs node `i`'s actions: client actions go back to the caller (and end the turn);
    /// server-side ones cannot run offline, and their result variable is `null`.
    pub(super) fn run_actions(&mut self, i: usize) {
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

    /// Renders a value: strings are templates (Watson's `$var` / `@entity` shorthand and
    /// `<? … ?>`); a string that is exactly one expression keeps the value's type.
    pub(super) fn render(&mut self, v: &Json) -> Json {
        match v {
            Json::String(s) => {
                let ws = self.ws;
                // Every string of a node was compiled at load; another (none today) is
                // compiled here, as the load would have.
                let once;
                let compiled = match ws.templates.get(s) {
                    Some(c) => c,
                    None => {
                        let mut cache = ParseCache::new(Dialect::Watson);
                        once = compile_string(s, &ws.entities, &mut cache);
                        &once
                    }
                };
                match compiled {
                    Compiled::Text(t) => Json::String(t.clone()),
                    Compiled::Invalid(e) => {
                        self.warn(format!("{s}: {e}"));
                        Json::String(String::new())
                    }
                    Compiled::Template(t) => {
                        let flags = self.scope_flags();
                        let scope = self.scope(&flags);
                        match render_compiled(t, Dialect::Watson, &scope) {
                            Ok(v) => v,
                            Err(e) => {
                                self.warn(format!("{s}: {e}"));
                                Json::String(String::new())
                            }
                        }
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
    pub(super) fn apply_context(&mut self, block: &Map<String, Json>) {
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

    pub(super) fn set_context(&mut self, k: &str, v: Json) {
        if let Some(ctx) = self.context.as_object_mut() {
            ctx.insert(k.to_owned(), v);
        }
    }

    /// Adds node `i`'s response to the turn's output.
    pub(super) fn emit(&mut self, i: usize, output: &Json) {
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

    pub(super) fn push_text(&mut self, v: Json) {
        let t = text_of(&v);
        if t.is_empty() {
            return;
        }
        self.generic
            .push(json!({ "response_type": "text", "text": t }));
        self.text.push(Json::String(t));
    }

    /// The values to show by `policy`: `sequential` takes the next one each time the node
    /// fires (and starts again after the last), `random` the next one of a shuffled order that
    /// never starts with the value shown last (the order is drawn from the conversation id, the
    /// node and the turn: the same conversation gives the same answers), `multiline` all of
    /// them.
    ///
    /// The counters live in `context.system._node_output_map`, in the forms Watson writes: a
    /// legacy `output.text` as `"node": [i]`, a `generic` item `n` as `"node": {"n": [i]}`;
    /// `i` is the position of the value shown last, and a random order follows it
    /// (`[i, 2, 0, 1]`). Older fluxo contexts (`"node": {"text": [i]}`) are read too.
    pub(super) fn select(
        &mut self,
        i: usize,
        key: &str,
        values: &[Json],
        policy: &str,
    ) -> Vec<Json> {
        if values.is_empty() {
            return Vec::new();
        }
        if policy == "multiline" {
            return values.to_vec();
        }
        let id = self.id(i);
        let len = values.len();
        let (pointer, order) = self
            .system
            .get("_node_output_map")
            .and_then(|m| m.get(&id))
            .map_or((None, Vec::new()), |entry| read_counter(entry, key));
        // A shuffled order is ours to follow only when it orders exactly these values.
        let valid_order = is_permutation(&order, len);
        let shown = pointer.map(|p| {
            if valid_order {
                order.get(p).copied().unwrap_or(p)
            } else {
                p
            }
        });
        let (pick, written) = if policy == "random" {
            match pointer {
                // A valid order has `len` entries, so `p + 1 < len` cannot overflow.
                Some(p) if valid_order && p < len - 1 => {
                    let mut w = vec![p + 1];
                    w.extend(&order);
                    (order[p + 1], w)
                }
                _ => {
                    let order = self.shuffle(&id, key, len, shown);
                    let mut w = vec![0];
                    w.extend(&order);
                    (order[0], w)
                }
            }
        } else {
            // `s` comes from the client: any whole number, however large.
            let next = shown.map_or(0, |s| (s % len + 1) % len);
            (next, vec![next])
        };
        let map = self
            .system
            .entry("_node_output_map")
            .or_insert_with(|| json!({}));
        if !map.is_object() {
            *map = json!({});
        }
        if let Some(m) = map.as_object_mut() {
            write_counter(m, &id, key, json!(written));
        }
        values.get(pick).cloned().into_iter().collect()
    }

    /// A shuffled order of `len` values for a random selection, not starting with `last`.
    fn shuffle(&self, id: &str, key: &str, len: usize, last: Option<usize>) -> Vec<usize> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (
            &self.conversation_id,
            id,
            key,
            self.system
                .get("dialog_turn_counter")
                .and_then(Json::as_u64),
        )
            .hash(&mut h);
        let mut seed = h.finish() | 1;
        let mut order: Vec<usize> = (0..len).collect();
        for k in (1..len).rev() {
            // xorshift64
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let j = usize::try_from(seed % (k as u64 + 1)).unwrap_or(0);
            order.swap(k, j);
        }
        if len > 1 && order.first().copied() == last {
            order.swap(0, len - 1);
        }
        order
    }
}

/// The counter of `key` in a node's `_node_output_map` entry, in any form written: the
/// position of the value shown last, and the shuffled order that follows it, if any.
fn read_counter(entry: &Json, key: &str) -> (Option<usize>, Vec<usize>) {
    let list = match entry {
        // Watson's form for a legacy `output.text` (and the first response of older versions).
        Json::Array(a) if key == "text" || key == "0" => Some(a),
        // A legacy text counted as Watson counts its first `generic` response.
        Json::Object(o) => o
            .get(key)
            .or_else(|| o.get("0").filter(|_| key == "text"))
            .and_then(Json::as_array),
        _ => None,
    };
    let numbers: Vec<Option<usize>> = list
        .into_iter()
        .flatten()
        .map(|n| n.as_u64().and_then(|n| usize::try_from(n).ok()))
        .collect();
    match numbers.split_first() {
        Some((pointer, rest)) => (*pointer, rest.iter().map_while(|n| *n).collect()),
        None => (None, Vec::new()),
    }
}

/// Writes the counter of `key` into the node's entry: the legacy text as the entry itself
/// (Watson's form), a `generic` item under its position.
fn write_counter(map: &mut Map<String, Json>, id: &str, key: &str, counter: Json) {
    let entry = map.entry(id.to_owned()).or_insert(Json::Null);
    // The legacy text's own form replaces an entry that counts nothing else.
    let only_text = entry
        .as_object()
        .is_none_or(|o| o.keys().all(|k| k == "text" || k == "0"));
    if key == "text" && only_text {
        *entry = counter;
        return;
    }
    if !entry.is_object() {
        *entry = json!({});
    }
    if let Some(e) = entry.as_object_mut() {
        e.insert(key.to_owned(), counter);
    }
}

/// Whether `order` holds each of `0..len` once.
fn is_permutation(order: &[usize], len: usize) -> bool {
    if order.len() != len {
        return false;
    }
    let mut seen = vec![false; len];
    order
        .iter()
        .all(|&k| k < len && !std::mem::replace(&mut seen[k], true))
}

/// Whether an `output` says something: a non-empty `text` (string, list or `values`) or a
/// `generic` item.
pub(super) fn has_response(output: &Json) -> bool {
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
pub(super) fn text_of(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// Deep merge: objects key by key, anything else overwritten.
pub(super) fn merge(old: &mut Map<String, Json>, new: Map<String, Json>, depth: u8) {
    for (k, v) in new {
        match (old.get_mut(&k), v) {
            (Some(Json::Object(o)), Json::Object(n)) if depth < 64 => merge(o, n, depth + 1),
            (_, v) => {
                old.insert(k, v);
            }
        }
    }
}
