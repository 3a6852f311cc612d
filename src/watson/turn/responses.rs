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
    /// fires (and starts again after the last), `random` a different one from last time
    /// (drawn from the conversation id, the node and the turn: the same conversation gives the
    /// same answers), `multiline` all of them. The counters live in
    /// `context.system._node_output_map`.
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
