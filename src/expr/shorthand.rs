//! Watson's shorthand over the turn's understanding: `#intent`, `@entity` and its properties,
//! `intent.confidence`, `entities['name']` and `entities.get('name')`, and an entity mention's
//! `value` and `literal` as Watson reads them. The evaluator asks these when it meets the
//! shorthand; nothing here evaluates an expression.

use super::ast::{Expr, ExprKind};
use super::eval::Evaluator;
use super::value::{index_val, member, Val};
use super::Dialect;
use serde_json::Value as Json;
use std::borrow::Cow;

impl<'s> Evaluator<'s> {
    /// The top intent's name. In Watson, only when its confidence passes the threshold
    /// (`system.__intent_threshold`, 0.2 by default).
    pub(super) fn top_intent(&self) -> Option<&'s str> {
        let top = self.scope.intents.get(0)?;
        if self.dialect == Dialect::Watson {
            let threshold = self
                .scope
                .system
                .get("__intent_threshold")
                .and_then(Json::as_f64)
                .unwrap_or(0.2);
            let confidence = top.get("confidence").and_then(Json::as_f64).unwrap_or(1.0);
            if confidence < threshold {
                return None;
            }
        }
        top.get("intent")?.as_str()
    }

    pub(super) fn mentions<'a>(&self, name: &'a str) -> impl Iterator<Item = &'s Json> + 'a
    where
        's: 'a,
    {
        self.scope
            .entities
            .as_array()
            .into_iter()
            .flatten()
            .filter(move |e| e.get("entity").and_then(Json::as_str) == Some(name))
    }

    /// The value of a mention: numeric system entities give their number (Watson reads
    /// `@sys-number + 1` for "42" as 43).
    pub(super) fn entity_value(&self, m: &'s Json) -> Val<'s> {
        numeric_value(m).unwrap_or_else(|| m.get("value").map_or(Val::Undefined, Val::from_json))
    }

    /// A mention's `literal`: the one sent with it, else the part of `input.text` at its
    /// `location`, else its value.
    pub(super) fn literal_of<'m>(&self, m: &'m Json) -> Val<'m>
    where
        's: 'm,
    {
        if let Some(l) = m.get("literal") {
            return Val::from_json(l);
        }
        let text = self.scope.input.get("text").and_then(Json::as_str);
        let loc = m.get("location").and_then(Json::as_array);
        match (text, loc) {
            (Some(t), Some(l)) => {
                let at = |i: usize| {
                    l.get(i)
                        .and_then(Json::as_u64)
                        .and_then(|x| usize::try_from(x).ok())
                };
                match (at(0), at(1)) {
                    (Some(a), Some(b)) => {
                        utf16_slice(t, a, b).map_or(Val::Undefined, |s| Val::Str(Cow::Borrowed(s)))
                    }
                    _ => Val::Undefined,
                }
            }
            _ => m.get("value").map_or(Val::Undefined, Val::from_json),
        }
    }

    /// The mentions of `name`, each with its `literal` (derived when the event has none), as
    /// `entities['name']` and `entities.get('name')` give them; undefined when there is none.
    pub(super) fn mentions_of(&self, name: &str) -> Val<'static> {
        let found: Vec<Json> = self
            .mentions(name)
            .map(|m| {
                let mut owned = m.clone();
                if m.get("literal").is_none() {
                    let literal = self.literal_of(m).into_json();
                    if let (Json::Object(o), false) = (&mut owned, literal.is_null()) {
                        o.insert("literal".into(), literal);
                    }
                }
                owned
            })
            .collect();
        if found.is_empty() {
            Val::Undefined
        } else {
            Val::Own(Json::Array(found))
        }
    }

    pub(super) fn entity_property(&self, entity: &str, prop: &str) -> Option<Val<'s>> {
        let first = self.mentions(entity).next();
        Some(match prop {
            "value" => first.map_or(Val::Undefined, |m| self.entity_value(m)),
            "literal" => self.literal_of(first?),
            "confidence" | "location" | "groups" | "metadata" | "role" | "interpretation" => first
                .and_then(|m| m.get(prop))
                .map_or(Val::Undefined, Val::from_json),
            // No mention: missing, as every entity shorthand is (a condition on it is false).
            "values" => {
                let all: Vec<Json> = self
                    .mentions(entity)
                    .map(|m| self.entity_value(m).into_json())
                    .collect();
                if all.is_empty() {
                    Val::Undefined
                } else {
                    Val::Own(Json::Array(all))
                }
            }
            _ => return None,
        })
    }

    pub(super) fn member_of<'e>(&self, o: Val<'e>, name: &str) -> Val<'e> {
        if self.dialect == Dialect::Watson {
            // Watson's entity collections read as their first mention (`entities['city'].value`).
            if let Some(first) = o.array().and_then(|a| a.first()).filter(|f| f.is_object()) {
                if name != "length" {
                    return self.mention_member(first, name).unwrap_or_else(|| {
                        first
                            .get(name)
                            .map_or(Val::Undefined, |v| Val::Own(v.clone()).normalize())
                    });
                }
            }
            if let Some(v) = o.json().and_then(|m| self.mention_member(m, name)) {
                return v;
            }
        }
        member(o, name)
    }

    /// `value` and `literal` of an entity mention read as the shorthand reads them: numeric
    /// system entities give numbers, and a missing `literal` comes from `input.text`.
    pub(super) fn mention_member(&self, m: &Json, name: &str) -> Option<Val<'static>> {
        m.get("entity")?;
        match name {
            "value" => numeric_value(m),
            "literal" if m.get("literal").is_none() => {
                Some(Val::Own(self.literal_of(m).into_json()).normalize())
            }
            _ => None,
        }
    }

    /// `intent.confidence` (and `intent.intent`): Watson's `intent` is the top intent, which
    /// compares as its name and has the properties of `intents[0]`.
    pub(super) fn intent_property(&self, object: &Expr, name: &str) -> Option<Val<'s>> {
        let is_root = matches!(&object.kind, ExprKind::Ident(n) if n == "intent");
        if self.dialect != Dialect::Watson || !is_root || self.this.is_some() {
            return None;
        }
        if !matches!(name, "confidence" | "intent") {
            return None;
        }
        self.top_intent()?;
        Some(
            self.scope
                .intents
                .get(0)
                .and_then(|i| i.get(name))
                .map_or(Val::Undefined, Val::from_json),
        )
    }

    /// `entities.get('food')`: the mentions of that entity, as `entities['food']` gives them.
    pub(super) fn entities_get(
        &self,
        o: &Val<'_>,
        name: &str,
        args: &[Val<'_>],
    ) -> Option<Val<'static>> {
        if self.dialect != Dialect::Watson || name != "get" {
            return None;
        }
        match (o, args) {
            (Val::Ref(j), [Val::Str(entity)]) if std::ptr::eq(*j, self.scope.entities) => {
                Some(self.mentions_of(entity))
            }
            _ => None,
        }
    }

    pub(super) fn index_of<'e>(&self, o: Val<'e>, i: &Val<'_>) -> Val<'e> {
        // `entities['sys-date']`: the mentions of that entity.
        if let (Val::Ref(j), Val::Str(name)) = (&o, i) {
            if std::ptr::eq(*j, self.scope.entities) {
                return self.mentions_of(name);
            }
        }
        index_val(o, i)
    }
}

/// The part of `text` between two UTF-16 offsets, as Watson's `location` counts (Java string
/// indexes); `None` when an offset is past the end, inside a character, or reversed.
fn utf16_slice(text: &str, start: usize, end: usize) -> Option<&str> {
    let byte_at = |target: usize| -> Option<usize> {
        let mut units = 0;
        for (i, c) in text.char_indices() {
            if units >= target {
                return (units == target).then_some(i);
            }
            units += c.len_utf16();
        }
        (units == target).then_some(text.len())
    };
    text.get(byte_at(start)?..byte_at(end)?)
}

/// The number of a numeric system entity's mention (`sys-number`, `sys-currency`,
/// `sys-percentage`): its `metadata.numeric_value`, else its value text read as a number.
fn numeric_value(m: &Json) -> Option<Val<'static>> {
    let name = m.get("entity").and_then(Json::as_str)?;
    if !matches!(name, "sys-number" | "sys-currency" | "sys-percentage") {
        return None;
    }
    if let Some(n) = m
        .pointer("/metadata/numeric_value")
        .filter(|n| n.is_number())
    {
        return Some(Val::Own(n.clone()).normalize());
    }
    match m.get("value")? {
        Json::Number(n) => Some(Val::Own(Json::Number(n.clone())).normalize()),
        Json::String(s) => {
            let t = s.trim();
            t.parse::<i64>().map(Val::Int).ok().or_else(|| {
                t.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Val::Num)
            })
        }
        _ => None,
    }
}
