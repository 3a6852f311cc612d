//! Reading a node from a JSON value it owns, by taking the value apart.
//!
//! The serde derive on [`Node`] reads from a borrowed value and rebuilds every nested map and
//! string; a large flow spent a fifth of its lint time there. This reader moves the value's
//! strings, maps and subtrees into the model instead. It accepts exactly what the serde model
//! accepts (a test compares the two on every shipped flow and on mutated ones); the serde
//! reader stays the reference and salvages nodes that do not fit.

use super::flow::{Action, AnalyticsEvent, EventDetails, Input, Next, Node, Response};
use super::OutputItem;
use crate::model::InputType;
use crate::text::json_kind;
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

type R<T> = Result<T, String>;

fn object(v: Json, what: &str) -> R<Map<String, Json>> {
    match v {
        Json::Object(m) => Ok(m),
        other => Err(format!(
            "{what}: expected an object, found {}",
            json_kind(&other)
        )),
    }
}

fn array(v: Json, what: &str) -> R<Vec<Json>> {
    match v {
        Json::Array(a) => Ok(a),
        other => Err(format!(
            "{what}: expected an array, found {}",
            json_kind(&other)
        )),
    }
}

fn string(v: Json, what: &str) -> R<String> {
    match v {
        Json::String(s) => Ok(s),
        other => Err(format!(
            "{what}: expected a string, found {}",
            json_kind(&other)
        )),
    }
}

/// `null` is absent, as serde reads an `Option`.
fn opt<T>(v: Json, read: impl FnOnce(Json) -> R<T>) -> R<Option<T>> {
    match v {
        Json::Null => Ok(None),
        other => read(other).map(Some),
    }
}

fn list<T>(v: Json, what: &str, read: impl Fn(Json) -> R<T>) -> R<Vec<T>> {
    array(v, what)?.into_iter().map(read).collect()
}

fn unknown(what: &str, key: &str) -> String {
    format!("{what}: unknown field `{key}`")
}

impl Node {
    /// Reads a node from a value it takes apart. Errors say what does not fit.
    pub fn from_json(v: Json) -> R<Node> {
        let mut n = Node::default();
        let mut id = None;
        for (k, v) in object(v, "node")? {
            match k.as_str() {
                "id" => id = Some(string(v, "id")?),
                "name" => n.name = opt(v, |v| string(v, "name"))?,
                "comment" => n.comment = opt(v, |v| string(v, "comment"))?,
                "condition" => n.condition = opt(v, |v| string(v, "condition"))?,
                "context" => n.context = opt(v, |v| object(v, "context"))?,
                "contact" => n.contact = opt(v, |v| object(v, "contact"))?,
                "actions" => n.actions = list(v, "actions", action)?,
                "events" => n.events = list(v, "events", event)?,
                "output" => n.output = list(v, "output", output_item)?,
                "responses" => n.responses = list(v, "responses", response)?,
                "input" => n.input = opt(v, input)?,
                "next" => n.next = list(v, "next", next)?,
                other => return Err(unknown("node", other)),
            }
        }
        n.id = id.ok_or("node: missing field `id`")?;
        Ok(n)
    }
}

fn action(v: Json) -> R<Action> {
    let mut name = None;
    let mut parameters = Map::new();
    let mut result_variable = None;
    for (k, v) in object(v, "action")? {
        match k.as_str() {
            "name" => name = Some(string(v, "name")?),
            "parameters" => {
                parameters = object(v, "parameters")?;
                super::flow::check_parameters(&parameters)?;
            }
            "result_variable" => result_variable = opt(v, |v| string(v, "result_variable"))?,
            other => return Err(unknown("action", other)),
        }
    }
    Ok(Action {
        name: name.ok_or("action: missing field `name`")?,
        parameters,
        result_variable,
    })
}

fn event(v: Json) -> R<AnalyticsEvent> {
    let mut event_name = None;
    let mut e = AnalyticsEvent {
        event_name: String::new(),
        details: None,
        extra1: None,
        extra2: None,
    };
    for (k, v) in object(v, "event")? {
        match k.as_str() {
            "event_name" => event_name = Some(string(v, "event_name")?),
            "details" => e.details = opt(v, details)?,
            "extra1" => e.extra1 = opt(v, Ok)?,
            "extra2" => e.extra2 = opt(v, Ok)?,
            other => return Err(unknown("event", other)),
        }
    }
    e.event_name = event_name.ok_or("event: missing field `event_name`")?;
    Ok(e)
}

fn details(v: Json) -> R<EventDetails> {
    let mut d = EventDetails {
        field1: None,
        field2: None,
    };
    for (k, v) in object(v, "details")? {
        match k.as_str() {
            "field1" => d.field1 = opt(v, Ok)?,
            "field2" => d.field2 = opt(v, Ok)?,
            other => return Err(unknown("details", other)),
        }
    }
    Ok(d)
}

fn output_item(v: Json) -> R<OutputItem> {
    let m = object(v, "output item")?;
    super::flow::check_output_item(&m)?;
    Ok(OutputItem(m))
}

fn response(v: Json) -> R<Response> {
    let mut r = Response {
        condition: None,
        output: Vec::new(),
    };
    for (k, v) in object(v, "response")? {
        match k.as_str() {
            "condition" => r.condition = opt(v, |v| string(v, "condition"))?,
            "output" => r.output = list(v, "output", output_item)?,
            other => return Err(unknown("response", other)),
        }
    }
    Ok(r)
}

fn input(v: Json) -> R<BTreeMap<String, Input>> {
    object(v, "input")?
        .into_iter()
        .map(|(channel, i)| {
            let mut kind = None;
            let mut payload = Map::new();
            for (k, v) in object(i, "input")? {
                match k.as_str() {
                    "type" => {
                        kind = Some(InputType::deserialize(v).map_err(|e| format!("type: {e}"))?);
                    }
                    "payload" => payload = object(v, "payload")?,
                    other => return Err(unknown("input", other)),
                }
            }
            let kind = kind.ok_or("input: missing field `type`")?;
            Ok((channel, Input::new(kind, payload)?))
        })
        .collect()
}

fn next(v: Json) -> R<Next> {
    let mut condition = None;
    let mut goto = None;
    for (k, v) in object(v, "next")? {
        match k.as_str() {
            "condition" => condition = opt(v, |v| string(v, "condition"))?,
            "goto" => goto = Some(string(v, "goto")?),
            other => return Err(unknown("next", other)),
        }
    }
    Ok(Next {
        condition,
        goto: goto.ok_or("next: missing field `goto`")?,
    })
}
