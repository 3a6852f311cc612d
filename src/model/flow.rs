//! The flow file, as typed data (SPEC §2.1).
//!
//! The serde model and `schemas/flow.schema.json` describe the same shape; a test checks that
//! they accept exactly the same documents.

use crate::source::json::{StrictMap, StrictValue};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

/// serde's derived reader also takes a struct written as an array of its field values
/// (`[null, "x", …]`); the schema allows objects only, so every struct of the typed read takes
/// an object and nothing else, and a file with that form goes down the full path, which names
/// the mistake. (`remote = "Self"` makes the derive an inherent function these impls call.)
macro_rules! objects_only {
    (@de $t:ty) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        map: A,
                    ) -> Result<$t, A::Error> {
                        <$t>::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
    ($($t:ty),*) => {$(
        objects_only!(@de $t);
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$t>::serialize(self, s)
            }
        }
    )*};
}
pub(crate) use objects_only;
objects_only!(
    Flow,
    Node,
    Action,
    AnalyticsEvent,
    EventDetails,
    Response,
    Next
);
objects_only!(@de RawInput);

/// Readers for the free-form parts of the model that refuse a duplicate key, as the JSON stage
/// does: reading a flow straight from its text then accepts exactly what the JSON and schema
/// stages accept.
pub(crate) use strict::opt_inputs;

mod strict {
    use super::{BTreeMap, Input, Json, Map, StrictMap, StrictValue};
    use serde::{Deserialize, Deserializer};

    pub(super) fn map<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Json>, D::Error> {
        StrictMap::deserialize(d).map(|m| m.0)
    }

    pub(super) fn opt_map<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Map<String, Json>>, D::Error> {
        Option::<StrictMap>::deserialize(d).map(|m| m.map(|m| m.0))
    }

    pub(super) fn opt_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Json>, D::Error> {
        Option::<StrictValue>::deserialize(d).map(|v| v.map(|v| v.0))
    }

    pub(crate) fn opt_inputs<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<BTreeMap<String, Input>>, D::Error> {
        Option::<Inputs>::deserialize(d).map(|i| i.map(|i| i.0))
    }

    /// Inputs by channel; a channel named twice is refused.
    struct Inputs(BTreeMap<String, Input>);

    impl<'de> Deserialize<'de> for Inputs {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Inputs;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("inputs keyed by channel")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Inputs, A::Error> {
                    let mut out = BTreeMap::new();
                    while let Some((k, v)) = map.next_entry::<String, Input>()? {
                        if out.insert(k, v).is_some() {
                            return Err(serde::de::Error::custom("duplicate key"));
                        }
                    }
                    Ok(Inputs(out))
                }
            }
            d.deserialize_map(V)
        }
    }
}

/// A flow: a named list of nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Flow {
    /// Editor hint (`"$schema": "../schemas/flow.schema.json"`).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Flow name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Context variables the conversation's `start` event supplies (known to be set).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub start_context: Vec<String>,
    /// Names of custom actions (the builder's Functions) the host implements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_actions: Vec<String>,
    /// The nodes, in file order (order matters for `start` and entry conditions).
    pub nodes: Vec<Node>,
}

/// A node of the flow.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Node {
    /// Unique id, the target of `next[].goto`.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Entry point: an expression, `start` or `anything_else`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Context assignments, in key order.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict::opt_map"
    )]
    pub context: Option<Map<String, Json>>,
    /// Contact assignments, in key order.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict::opt_map"
    )]
    pub contact: Option<Map<String, Json>>,
    /// Actions, run in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    /// Analytics events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<AnalyticsEvent>,
    /// Messages to the user, each keyed by channel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<OutputItem>,
    /// Conditional responses: the first true one replaces `output`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responses: Vec<Response>,
    /// Open input: the node waits for the user. Keyed by channel.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict::opt_inputs"
    )]
    pub input: Option<BTreeMap<String, Input>>,
    /// Destinations, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<Next>,
}

/// One output entry: channel name → message, each message an object with a string `type`
/// (`text`, `file`, …) and whatever fields that type has, kept as written (they are passed
/// through after rendering).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct OutputItem(pub Map<String, Json>);

impl<'de> Deserialize<'de> for OutputItem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = StrictMap::deserialize(d)?.0;
        check_output_item(&m).map_err(serde::de::Error::custom)?;
        Ok(OutputItem(m))
    }
}

/// An output item as the model accepts it: every channel's message is an object with a string
/// `type`.
pub(super) fn check_output_item(m: &Map<String, Json>) -> Result<(), String> {
    for (channel, message) in m {
        match message.as_object().map(|o| o.get("type")) {
            None => return Err(format!("output `{channel}`: a message must be an object")),
            Some(None) => return Err(format!("output `{channel}`: missing field `type`")),
            Some(Some(Json::String(_))) => {}
            Some(Some(_)) => return Err(format!("output `{channel}`: `type` must be a string")),
        }
    }
    Ok(())
}

/// An action `{name, parameters, result_variable}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Action {
    /// `start_live_chat`, `http_request`, `transfer_to_agent_liveperson`, or a custom action.
    pub name: String,
    /// Parameters (templates allowed). `before_action_messages`, when present, is a list of
    /// strings.
    #[serde(default, deserialize_with = "parameters")]
    pub parameters: Map<String, Json>,
    /// Context variable that receives the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_variable: Option<String>,
}

fn parameters<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Map<String, Json>, D::Error> {
    let m = StrictMap::deserialize(d)?.0;
    check_parameters(&m).map_err(serde::de::Error::custom)?;
    Ok(m)
}

/// An action's parameters as the model accepts them: `before_action_messages`, when present,
/// is a list of strings.
pub(super) fn check_parameters(m: &Map<String, Json>) -> Result<(), &'static str> {
    match m.get(crate::domain::BEFORE_ACTION_MESSAGES) {
        Some(v) if !v.as_array().is_some_and(|a| a.iter().all(Json::is_string)) => {
            Err("`before_action_messages` must be a list of strings")
        }
        _ => Ok(()),
    }
}

/// An analytics event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct AnalyticsEvent {
    /// Event name (as registered in the builder's Monitor).
    pub event_name: String,
    /// `field1`, `field2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<EventDetails>,
    /// Extra value 1.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict::opt_value"
    )]
    pub extra1: Option<Json>,
    /// Extra value 2.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict::opt_value"
    )]
    pub extra2: Option<Json>,
}

/// The fixed detail fields of an analytics event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct EventDetails {
    /// Detail 1.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict::opt_value"
    )]
    pub field1: Option<Json>,
    /// Detail 2.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict::opt_value"
    )]
    pub field2: Option<Json>,
}

/// A conditional response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Response {
    /// Condition (bare expression); absent means always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Messages sent when it is the first true response.
    #[serde(default)]
    pub output: Vec<OutputItem>,
}

/// Input widget types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InputType {
    /// Open question ("pergunta aberta").
    TextInput,
    /// Inline list.
    Select,
    /// Full-screen list.
    OptionList,
    /// Quick replies.
    QuickReplies,
    /// Autocomplete.
    Autocomplete,
    /// Date picker.
    Date,
    /// File upload.
    FileUpload,
}

impl InputType {
    /// True when an input of this kind with `payload` insists on a valid answer: the builder's
    /// lists (`select`, `option_list`) are mandatory unless told otherwise; every other input
    /// only with `"mandatory": true`. While such an input collects its answer, an intent does
    /// not move the conversation (SPEC §4.2).
    pub fn mandatory(self, payload: &serde_json::Map<String, serde_json::Value>) -> bool {
        payload
            .get("mandatory")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(matches!(self, InputType::Select | InputType::OptionList))
    }
}

/// An open input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawInput")]
pub struct Input {
    /// Widget type.
    #[serde(rename = "type")]
    pub kind: InputType,
    /// Widget payload: `mandatory`, `mask`, `tries`, `error_message`, options… (checked
    /// against the schema's payload of its type when read).
    #[serde(default)]
    pub payload: Map<String, Json>,
}

/// An input as written, before its payload is checked.
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct RawInput {
    #[serde(rename = "type")]
    kind: InputType,
    #[serde(default, deserialize_with = "strict::map")]
    payload: Map<String, Json>,
}

impl TryFrom<RawInput> for Input {
    type Error = String;

    fn try_from(raw: RawInput) -> Result<Input, String> {
        Input::new(raw.kind, raw.payload)
    }
}

impl Input {
    /// An input of `kind` whose `payload` fits the schema's payload of that type.
    pub(crate) fn new(kind: InputType, payload: Map<String, Json>) -> Result<Input, String> {
        let name = serde_json::to_value(kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let payload = Json::Object(payload);
        if !crate::schema::payload_fits(&name, &payload) {
            return Err(format!("payload: does not fit a `{name}` input"));
        }
        let Json::Object(payload) = payload else {
            return Err("payload: expected an object".into());
        };
        Ok(Input { kind, payload })
    }
}

/// A destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Next {
    /// Condition (bare expression); absent means `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Target node id.
    pub goto: String,
}

/// Fields a node may have.
pub const NODE_FIELDS: &[&str] = &[
    "id",
    "name",
    "comment",
    "condition",
    "context",
    "contact",
    "actions",
    "events",
    "output",
    "responses",
    "input",
    "next",
];

impl Node {
    /// Reads a node that may not fit the model: unknown fields are dropped, then fields that
    /// still do not fit; a node with at least a string `id` is kept so that `goto`s to it
    /// resolve and one typo does not cascade into more findings.
    pub fn salvage(v: &Json) -> Option<Node> {
        if let Ok(n) = Node::deserialize(v) {
            return Some(n);
        }
        let obj = v.as_object()?;
        let mut known: Map<String, Json> = obj
            .iter()
            .filter(|(k, _)| NODE_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Ok(n) = Node::deserialize(&Json::Object(known.clone())) {
            return Some(n);
        }
        // Drop fields one by one until the rest fits.
        for f in NODE_FIELDS.iter().filter(|f| **f != "id") {
            let mut only = Map::new();
            if let Some(id) = known.get("id") {
                only.insert("id".into(), id.clone());
            }
            if let Some(x) = known.get(*f) {
                only.insert((*f).into(), x.clone());
            }
            if Node::deserialize(&Json::Object(only)).is_err() {
                known.remove(*f);
            }
        }
        Node::deserialize(&Json::Object(known)).ok()
    }
}

/// Nodes the model refused: their index in the file and why.
pub type Refused = Vec<(usize, String)>;

impl Flow {
    /// Reads a flow leniently, so every other node can still be checked: takes the value and
    /// moves its strings and subtrees into the model instead of copying them; returns the flow
    /// and, for each kept node, its index in the file. `suspect(i)` says whether node `i` has
    /// schema findings: those are salvaged field by field (from a copy); the others are read
    /// directly. A node the schema accepts but the model refuses (which the tests rule out) is
    /// returned in the third list with the reason, never dropped silently.
    pub fn from_value_owned(
        v: Json,
        suspect: impl Fn(usize) -> bool,
    ) -> Option<(Flow, Vec<usize>, Refused)> {
        let Json::Object(mut obj) = v else {
            return None;
        };
        let Some(Json::Array(nodes_v)) = obj.shift_remove("nodes") else {
            return None;
        };
        let mut nodes = Vec::with_capacity(nodes_v.len());
        let mut positions = Vec::with_capacity(nodes_v.len());
        let mut refused = Vec::new();
        for (i, n) in nodes_v.into_iter().enumerate() {
            let node = if suspect(i) {
                Node::salvage(&n)
            } else {
                match Node::from_json(n) {
                    Ok(node) => Some(node),
                    Err(e) => {
                        refused.push((i, e));
                        None
                    }
                }
            };
            if let Some(node) = node {
                nodes.push(node);
                positions.push(i);
            }
        }
        let mut strings = |k: &str| -> Vec<String> {
            match obj.shift_remove(k) {
                Some(Json::Array(a)) => a
                    .into_iter()
                    .filter_map(|s| match s {
                        Json::String(s) => Some(s),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            }
        };
        let start_context = strings("start_context");
        let custom_actions = strings("custom_actions");
        let mut text = |k: &str| match obj.shift_remove(k) {
            Some(Json::String(s)) => Some(s),
            _ => None,
        };
        Some((
            Flow {
                schema: text("$schema"),
                name: text("name"),
                description: text("description"),
                start_context,
                custom_actions,
                nodes,
            },
            positions,
            refused,
        ))
    }
}
