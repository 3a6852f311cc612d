//! The free-form parts of a node (context and contact assignments, output messages, analytics
//! events) as the typed read gives them to the compiler: objects as lists of fields, not
//! `serde_json` maps.
//!
//! A `serde_json::Map` (with `preserve_order`, an index and a hash table per object) is built
//! only to be taken apart again: the compiler keeps a literal object as its minified text, and
//! an object with templates as a list of fields. Read as a [`Free`], an object costs a vector;
//! its text is written from it exactly as from the map (same order, same number and string
//! forms), so the compiled flow is the same, which a test checks on every flow it has.
//!
//! These readers accept exactly what the model's accept (strict JSON values, no key twice in an
//! object, an output message an object with a string `type`): [`FreeNode`] is read with the
//! same fields and attributes as [`crate::model::Node`].

use crate::model::{Action, Input, Next};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value as Json};
use std::collections::BTreeMap;

/// A JSON value whose objects are lists of fields in the order written (no key twice).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Free {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Free>),
    Object(Vec<(String, Free)>),
}

impl Free {
    /// True when a `<?` occurs in some string of the value.
    pub(crate) fn has_template(&self) -> bool {
        match self {
            Free::String(s) => crate::expr::find_open(s).is_some(),
            Free::Array(a) => a.iter().any(Free::has_template),
            Free::Object(m) => m.iter().any(|(_, v)| v.has_template()),
            _ => false,
        }
    }

    /// True when the value nests deeper than `max` arrays and objects.
    pub(crate) fn depth_over(&self, max: usize) -> bool {
        match self {
            Free::Array(a) => max == 0 || a.iter().any(|x| x.depth_over(max - 1)),
            Free::Object(m) => max == 0 || m.iter().any(|(_, x)| x.depth_over(max - 1)),
            _ => false,
        }
    }

    /// The value as a `serde_json` value (moved, not copied).
    pub(crate) fn into_json(self) -> Json {
        match self {
            Free::Null => Json::Null,
            Free::Bool(b) => Json::Bool(b),
            Free::Number(n) => Json::Number(n),
            Free::String(s) => Json::String(s),
            Free::Array(a) => Json::Array(a.into_iter().map(Free::into_json).collect()),
            Free::Object(m) => Json::Object(
                m.into_iter()
                    .map(|(k, v)| (k, v.into_json()))
                    .collect::<Map<String, Json>>(),
            ),
        }
    }
}

/// Written as the `serde_json` value of the same content is: the compiler's literal text is the
/// same whichever read gave the value.
impl Serialize for Free {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap as _, SerializeSeq as _};
        match self {
            Free::Null => s.serialize_unit(),
            Free::Bool(b) => s.serialize_bool(*b),
            Free::Number(n) => n.serialize(s),
            Free::String(v) => s.serialize_str(v),
            Free::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for x in a {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            Free::Object(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Free {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FreeVisitor)
    }
}

struct FreeVisitor;

impl<'de> serde::de::Visitor<'de> for FreeVisitor {
    type Value = Free;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Free, E> {
        Ok(Free::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Free, E> {
        Ok(Free::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Free, E> {
        Ok(Free::Number(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Free, E> {
        Number::from_f64(v)
            .map(Free::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Free, E> {
        Ok(Free::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Free, E> {
        Ok(Free::String(v))
    }
    fn visit_unit<E>(self) -> Result<Free, E> {
        Ok(Free::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Free, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element()? {
            v.push(x);
        }
        Ok(Free::Array(v))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Free, A::Error> {
        fields(map).map(Free::Object)
    }
}

/// The fields of an object, refusing a key seen before.
fn fields<'de, A: serde::de::MapAccess<'de>>(mut map: A) -> Result<Vec<(String, Free)>, A::Error> {
    let mut out: Vec<(String, Free)> = Vec::new();
    while let Some(k) = map.next_key::<String>()? {
        let v = map.next_value()?;
        out.push((k, v));
    }
    if repeats_a_key(&out) {
        return Err(serde::de::Error::custom("duplicate key"));
    }
    Ok(out)
}

/// True when two fields have the same key: compared pair by pair in a small object (most have
/// a handful of fields), sorted in a large one.
fn repeats_a_key(fields: &[(String, Free)]) -> bool {
    const PAIRWISE: usize = 12;
    if fields.len() <= PAIRWISE {
        return fields
            .iter()
            .enumerate()
            .any(|(i, (k, _))| fields[..i].iter().any(|(seen, _)| seen == k));
    }
    let mut keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.windows(2).any(|w| w[0] == w[1])
}

/// An object of free-form fields (context and contact assignments).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FreeMap(pub(crate) Vec<(String, Free)>);

impl<'de> Deserialize<'de> for FreeMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = FreeMap;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<FreeMap, A::Error> {
                fields(map).map(FreeMap)
            }
        }
        d.deserialize_map(V)
    }
}

/// One output entry, channel name → message: [`crate::model::OutputItem`] as a list of fields,
/// refused as the model refuses it (a message that is not an object with a string `type`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FreeItem(pub(crate) Vec<(String, Free)>);

impl<'de> Deserialize<'de> for FreeItem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let FreeMap(m) = FreeMap::deserialize(d)?;
        let refused = m.iter().find_map(|(channel, message)| {
            let why = match message {
                Free::Object(fields) => match fields.iter().find(|(k, _)| k == "type") {
                    None => "missing field `type`",
                    Some((_, Free::String(_))) => return None,
                    Some(_) => "`type` must be a string",
                },
                _ => "a message must be an object",
            };
            Some(format!("output `{channel}`: {why}"))
        });
        if let Some(why) = refused {
            return Err(serde::de::Error::custom(why));
        }
        Ok(FreeItem(m))
    }
}

/// A node as the typed read gives it to the compiler: [`crate::model::Node`] with its context,
/// contact, output messages and analytics events read as [`Free`] values. Its fields and
/// attributes are the model's, so that it accepts and refuses the same nodes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct FreeNode {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) comment: Option<String>,
    #[serde(default)]
    pub(crate) condition: Option<String>,
    #[serde(default)]
    pub(crate) context: Option<FreeMap>,
    #[serde(default)]
    pub(crate) contact: Option<FreeMap>,
    #[serde(default)]
    pub(crate) actions: Vec<Action>,
    #[serde(default)]
    pub(crate) events: Vec<FreeEvent>,
    #[serde(default)]
    pub(crate) output: Vec<FreeItem>,
    #[serde(default)]
    pub(crate) responses: Vec<FreeResponse>,
    #[serde(default, deserialize_with = "crate::model::opt_inputs")]
    pub(crate) input: Option<BTreeMap<String, Input>>,
    #[serde(default)]
    pub(crate) next: Vec<Next>,
}

/// A conditional response of a [`FreeNode`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct FreeResponse {
    #[serde(default)]
    pub(crate) condition: Option<String>,
    #[serde(default)]
    pub(crate) output: Vec<FreeItem>,
}

/// An analytics event of a [`FreeNode`] ([`crate::model::AnalyticsEvent`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct FreeEvent {
    pub(crate) event_name: String,
    #[serde(default)]
    pub(crate) details: Option<FreeDetails>,
    #[serde(default)]
    pub(crate) extra1: Option<Free>,
    #[serde(default)]
    pub(crate) extra2: Option<Free>,
}

/// The detail fields of a [`FreeEvent`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct FreeDetails {
    #[serde(default)]
    pub(crate) field1: Option<Free>,
    #[serde(default)]
    pub(crate) field2: Option<Free>,
}

impl FreeEvent {
    /// The event as the value it is sent as: [`crate::compile`]'s `event_value` of the model's
    /// event, field for field.
    pub(crate) fn into_value(self) -> Free {
        let mut m = vec![("event_name".to_owned(), Free::String(self.event_name))];
        if let Some(d) = self.details {
            let mut details = Vec::new();
            if let Some(v) = d.field1 {
                details.push(("field1".to_owned(), v));
            }
            if let Some(v) = d.field2 {
                details.push(("field2".to_owned(), v));
            }
            m.push(("details".to_owned(), Free::Object(details)));
        }
        if let Some(v) = self.extra1 {
            m.push(("extra1".to_owned(), v));
        }
        if let Some(v) = self.extra2 {
            m.push(("extra2".to_owned(), v));
        }
        Free::Object(m)
    }
}

crate::model::objects_only!(@de FreeNode);
crate::model::objects_only!(@de FreeEvent);
crate::model::objects_only!(@de FreeDetails);
crate::model::objects_only!(@de FreeResponse);

#[cfg(test)]
mod tests {
    use super::Free;
    use serde_json::Value as Json;

    /// A value read as a [`Free`] is written as the same value read by `serde_json` is, and
    /// becomes that value; a key twice is refused at any depth and any size of object.
    #[test]
    fn free_values_write_as_json_values_do() {
        let texts = [
            r#"{"b": 1, "a": [1, {"x": null, "\"": "\\u00e9\/"}], "": {}, "n": -0.0}"#,
            r#"[1e300, 0.1, -3, 18446744073709551615, -9223372036854775808, true, "olá"]"#,
            r#"{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"ka":10,"kb":11,"kc":12,"kd":{"z":[]}}"#,
        ];
        for t in texts {
            let free: Free = serde_json::from_str(t).expect("a value");
            let json: Json = serde_json::from_str(t).expect("a value");
            assert_eq!(
                serde_json::to_string(&free).unwrap(),
                serde_json::to_string(&json).unwrap()
            );
            assert_eq!(free.into_json(), json);
        }
        let many = (0..40)
            .map(|i| format!("\"k{i}\": {i}"))
            .collect::<Vec<_>>();
        for dup in [
            r#"{"a": 1, "a": 2}"#.to_string(),
            r#"[{"x": {"a": 1, "b": 2, "a": 3}}]"#.to_string(),
            format!("{{{}, \"k39\": 0}}", many.join(", ")),
        ] {
            assert!(serde_json::from_str::<Free>(&dup).is_err(), "{dup}");
        }
        assert!(serde_json::from_str::<Free>(&format!("{{{}}}", many.join(", "))).is_ok());
    }
}
