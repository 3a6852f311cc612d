//! The OpenAPI document's typed part: events and outputs as JSON Schemas derived from
//! [`Event`](crate::Event) and [`Output`](crate::Output), one named schema per event and per
//! output, discriminated by `type`, so a client generator produces one class for each.
//!
//! `utoipa` derives the enums as a `oneOf` of inline objects; [`split_tagged`] names each
//! branch (`UserEvent`, `AwaitingInputOutput`, …), replaces it with a reference and adds the
//! `discriminator` with its mapping. Every output the service answers carries its `seq`, so the
//! output schemas require it. `ChannelEvent` is the events route's body: the six events a
//! channel may send.

use serde_json::{json, Map, Value as Json};

/// The events a channel may send (the events route's body); the others come from providers.
pub const CHANNEL_EVENTS: [&str; 6] = [
    "start",
    "user",
    "user_close",
    "user_typing",
    "user_file",
    "action_result",
];

/// `awaiting_input` → `AwaitingInput`.
fn pascal(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The `type` value of one branch of an internally tagged enum's `oneOf`.
fn tag_of(branch: &Json) -> Option<String> {
    let t = branch.pointer("/properties/type")?;
    t.get("const")
        .or_else(|| t.get("enum").and_then(|e| e.get(0)))
        .and_then(Json::as_str)
        .map(str::to_owned)
}

/// Names each branch of component `name` (an internally tagged enum) `{Type}{suffix}`, moves it
/// to the components, and makes `name` a discriminated `oneOf` of references. With `seq`, each
/// branch also requires the output's `seq`. Returns the tags in order.
fn split_tagged(
    schemas: &mut Map<String, Json>,
    name: &str,
    suffix: &str,
    seq: bool,
) -> Vec<String> {
    let Some(Json::Array(branches)) = schemas
        .get_mut(name)
        .and_then(|s| s.get_mut("oneOf"))
        .map(Json::take)
    else {
        return Vec::new();
    };
    let mut refs = Vec::new();
    let mut mapping = Map::new();
    let mut tags = Vec::new();
    for mut branch in branches {
        let Some(tag) = tag_of(&branch) else { continue };
        let component = format!("{}{suffix}", pascal(&tag));
        if let Some(props) = branch.get_mut("properties").and_then(Json::as_object_mut) {
            props.insert(
                "type".into(),
                json!({ "type": "string", "enum": [tag], "description": format!("`{tag}`") }),
            );
            if seq {
                props.insert(
                    "seq".into(),
                    json!({ "type": "integer", "format": "int64", "minimum": 1,
                            "description": "The output's place in its conversation: gap-free from 1." }),
                );
            }
        }
        if seq {
            if let Some(Json::Array(req)) = branch.get_mut("required") {
                req.push(json!("seq"));
            }
        }
        if let Some(b) = branch.as_object_mut() {
            b.insert("title".into(), json!(component));
        }
        let reference = format!("#/components/schemas/{component}");
        mapping.insert(tag.clone(), json!(reference));
        refs.push(json!({ "$ref": reference }));
        schemas.insert(component, branch);
        tags.push(tag);
    }
    if let Some(Json::Object(s)) = schemas.get_mut(name) {
        s.insert("oneOf".into(), Json::Array(refs));
        s.insert(
            "discriminator".into(),
            json!({ "propertyName": "type", "mapping": mapping }),
        );
    }
    tags
}

/// Rewrites the document (as JSON) so that events and outputs are named, discriminated
/// schemas, and adds `ChannelEvent`.
pub(super) fn typed(doc: &mut Json) {
    describe_responses(doc);
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Json::as_object_mut)
    else {
        return;
    };
    let events = split_tagged(schemas, "Event", "Event", false);
    split_tagged(schemas, "Output", "Output", true);
    let channel: Vec<&String> = events
        .iter()
        .filter(|t| CHANNEL_EVENTS.contains(&t.as_str()))
        .collect();
    let mapping: Map<String, Json> = channel
        .iter()
        .map(|t| {
            (
                (*t).clone(),
                json!(format!("#/components/schemas/{}Event", pascal(t))),
            )
        })
        .collect();
    schemas.insert(
        "ChannelEvent".into(),
        json!({
            "description": "An event a channel sends for its user. Provider events (`agent_*`, `provider_*`) come only through verified webhooks; `advance` only in tests.",
            "oneOf": mapping.values().map(|r| json!({ "$ref": r })).collect::<Vec<_>>(),
            "discriminator": { "propertyName": "type", "mapping": mapping },
        }),
    );
    if let Some(body) = doc.pointer_mut(
        "/paths/~1v1~1bots~1{bot}~1conversations~1{conversation}~1events/post/requestBody/content/application~1json",
    ) {
        body["schema"] = json!({ "$ref": "#/components/schemas/ChannelEvent" });
    }
}

/// What a response of `status` is, for the responses written without a description.
fn status_words(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "400" => "bad_request: the request is malformed; nothing changed",
        "401" => "unauthorized: missing or wrong bearer token",
        "403" => "forbidden: not an event a channel may send",
        "404" => "unknown_bot or not_found",
        "409" => "conflict: the conversation changed meanwhile (retry)",
        "413" => "payload_too_large",
        "503" => "store or timeout: try again (with the same Idempotency-Key)",
        _ => "see the body",
    }
}

/// OpenAPI 3 requires a `description` on every response (generators such as
/// openapi-python-client refuse a document without); `utoipa` leaves it empty when a handler
/// names only the body, so each gets its status's meaning.
fn describe_responses(doc: &mut Json) {
    let Some(paths) = doc.get_mut("paths").and_then(Json::as_object_mut) else {
        return;
    };
    for op in paths.values_mut().filter_map(Json::as_object_mut) {
        for responses in op
            .values_mut()
            .filter_map(|o| o.get_mut("responses").and_then(Json::as_object_mut))
        {
            for (status, r) in responses.iter_mut() {
                if let Some(r) = r.as_object_mut() {
                    let empty = r
                        .get("description")
                        .and_then(Json::as_str)
                        .is_none_or(str::is_empty);
                    if empty {
                        r.insert("description".into(), json!(status_words(status)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_and_output_is_a_named_discriminated_schema() {
        use utoipa::OpenApi;
        let mut doc = serde_json::to_value(super::super::Api::openapi()).unwrap_or_default();
        typed(&mut doc);
        let schemas = &doc["components"]["schemas"];
        for (name, suffix) in [("Event", "Event"), ("Output", "Output")] {
            let mapping = schemas[name]["discriminator"]["mapping"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            assert!(mapping.len() > 10, "{name}: {mapping:?}");
            for (tag, target) in &mapping {
                let component = format!("{}{suffix}", pascal(tag));
                assert_eq!(target, &json!(format!("#/components/schemas/{component}")));
                assert_eq!(
                    schemas[&component]["properties"]["type"]["enum"],
                    json!([tag])
                );
            }
        }
        assert!(schemas["AwaitingInputOutput"]["properties"]["input"].is_object());
        for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in ops.as_object().into_iter().flatten() {
                for (status, r) in op["responses"].as_object().into_iter().flatten() {
                    let d = r["description"].as_str().unwrap_or("");
                    assert!(!d.is_empty(), "{method} {path} {status} has no description");
                }
            }
        }
        let mut channel: Vec<String> = schemas["ChannelEvent"]["discriminator"]["mapping"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        channel.sort();
        let mut expected: Vec<String> = CHANNEL_EVENTS.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(channel, expected);
        assert_eq!(
            doc.pointer("/paths/~1v1~1bots~1{bot}~1conversations~1{conversation}~1events/post/requestBody/content/application~1json/schema/$ref"),
            Some(&json!("#/components/schemas/ChannelEvent"))
        );
    }
}
