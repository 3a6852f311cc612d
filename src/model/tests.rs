//! The serde model and the JSON Schemas accept exactly the same documents: structural
//! mutations of a valid flow (proptest), every file the project ships, and the edges of the
//! conversation-test format.

use crate::model::flow::Node;
use crate::model::{Flow, IntegrationsFile};
use crate::schema::{is_valid, SchemaKind};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn seed_flow() -> String {
    std::fs::read_to_string(root().join("tests/fixtures/lint/schema/valid.json")).expect("seed")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    /// Structural mutations of valid flows: the model accepts exactly what the schema accepts.
    #[test]
    fn model_and_schema_agree(path in prop::sample::select(vec![
        "", "/nodes/0", "/nodes/0/actions/0", "/nodes/0/events/0", "/nodes/0/events/0/details",
        "/nodes/0/output/0/default", "/nodes/0/responses/0", "/nodes/0/input/default", "/nodes/0/next/0",
    ]), key in prop::sample::select(vec![
        "id", "name", "condition", "context", "actions", "output", "input", "next", "goto", "type",
        "payload", "parameters", "result_variable", "event_name", "field1", "extra1", "text", "nodes",
        "bogus", "$schema", "start_context", "custom_actions",
    ]), value in prop::sample::select(vec![
        json!(null), json!(1), json!("s"), json!(true), json!([]), json!({}), json!(["a"]), json!([{}]),
        json!({"type": "text"}), json!({"goto": "x"}), json!("text_input"),
    ]), remove in any::<bool>()) {
        let mut v: Value = serde_json::from_str(&seed_flow()).expect("seed parses");
        if let Some(Value::Object(m)) = v.pointer_mut(path) {
            if remove { m.remove(key); } else { m.insert(key.to_owned(), value); }
        }
        let model = Flow::deserialize(&v).is_ok();
        let schema = is_valid(SchemaKind::Flow, &v);
        prop_assert_eq!(model, schema, "model and schema disagree on {}", v);
        nodes_read_alike(&v);
    }
}

/// The reader that takes a node value apart ([`Node::from_json`]) and the serde reader give the
/// same node, or both refuse it.
fn nodes_read_alike(v: &Value) {
    for n in v
        .get("nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let by_serde = Node::deserialize(n).ok();
        let by_parts = Node::from_json(n.clone());
        assert_eq!(
            by_parts.as_ref().ok(),
            by_serde.as_ref(),
            "{n}: {by_parts:?}"
        );
    }
}

/// Every flow and integrations file the project ships or uses as a fixture: model ⇔ schema.
#[test]
fn shipped_files_agree_with_the_schema() {
    let mut checked = 0;
    for dir in ["flows", "tests/fixtures"] {
        for e in crate::source::json_files_under(&root().join(dir)) {
            let Ok(v) = serde_json::from_slice::<Value>(&std::fs::read(&e).unwrap_or_default())
            else {
                continue;
            };
            if v.get("nodes").is_some() {
                nodes_read_alike(&v);
                assert_eq!(
                    Flow::deserialize(&v).is_ok(),
                    is_valid(SchemaKind::Flow, &v),
                    "{}",
                    e.display()
                );
                checked += 1;
            } else if v.get("conversations").is_some() {
                let model = crate::testing::TestFile::from_value(&v).is_ok();
                assert_eq!(model, is_valid(SchemaKind::Test, &v), "{}", e.display());
                checked += 1;
            } else if v.get("integrations").is_some() {
                let model = IntegrationsFile::deserialize(&v).is_ok();
                assert_eq!(
                    model,
                    is_valid(SchemaKind::Integrations, &v),
                    "{}",
                    e.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "{checked}");
}

/// Steps at the edges of the format: `fluxo test` reads exactly what the schema accepts.
#[test]
fn test_steps_agree_with_the_schema() {
    let steps = [
        json!({ "user": "oi" }),
        json!({ "user": 1 }),
        json!({ "usr": "oi" }),
        json!({ "user": "x", "extra": 1 }),
        json!({ "user": "x", "agent": "y" }),
        json!({ "user": "x", "intent": "i", "entities": [], "confidence": 0.5 }),
        json!({ "user": "x", "entities": {} }),
        json!({ "user": "x", "confidence": "alta" }),
        json!({ "user": "x", "intent": 2 }),
        json!({ "advance": "1h30m" }),
        json!({ "advance": "5x" }),
        json!({ "advance": -1 }),
        json!({ "advance": 1.5 }),
        json!({ "advance": "" }),
        json!({ "advance": 300 }),
        json!({ "agent_close": null }),
        json!({ "agent_close": 3 }),
        json!({ "agent_close": "ok" }),
        json!({ "user_close": true }),
        json!({ "action_result": {}, "id": 3 }),
        json!({ "action_result": {}, "id": "n-1" }),
        json!({}),
        json!([]),
        json!({ "expect": { "closed": "nope" } }),
        json!({ "expect": { "closed": "timeout", "bot": "x" } }),
        json!({ "expect": { "bot": 1 } }),
        json!({ "expect": { "botx": "x" } }),
        json!({ "provider_opened": "r", "result": { "a": 1 } }),
        json!({ "provider_error": 5 }),
    ];
    for step in steps {
        let file = json!({ "flow": "f.json", "conversations": [ { "name": "c", "steps": [step.clone()] } ] });
        let model = crate::testing::TestFile::from_value(&file).is_ok();
        assert_eq!(
            model,
            is_valid(SchemaKind::Test, &file),
            "model and schema disagree on step {step}"
        );
    }
}

/// Mocks at the edges of the format: plain results, entries keyed by request, sequences.
#[test]
fn mocks_agree_with_the_schema() {
    let mocks = [
        json!({ "custom": { "ok": true } }),
        json!({ "custom": [1, 2] }),
        json!({ "custom": {} }),
        json!({ "http_request": { "match": { "url": "https://x/*" }, "result": { "status": 200 } } }),
        json!({ "http_request": { "results": [ { "status": 500 }, { "status": 200 } ] } }),
        json!({ "http_request": [ { "match": { "method": "POST", "body": { "a": 1 } }, "result": 1 }, { "result": 2, "match": {} } ] }),
        json!({ "http_request": { "match": {} } }),
        json!({ "http_request": { "match": {}, "result": 1, "results": [1] } }),
        json!({ "http_request": { "results": [] } }),
        json!({ "http_request": { "results": 3 } }),
        json!({ "http_request": { "match": 3, "result": 1 } }),
        json!({ "http_request": { "match": { "verb": "GET" }, "result": 1 } }),
        json!({ "http_request": { "match": { "method": 1 }, "result": 1 } }),
        json!({ "http_request": { "match": { "url": "x" }, "result": 1, "extra": 1 } }),
        json!({ "http_request": [ { "match": { "url": "x" }, "result": 1 }, 5 ] }),
        json!({ "http_request": [ { "result": 1 }, { "result": 2 } ] }),
    ];
    for m in mocks {
        let file = json!({ "flow": "f.json", "conversations": [ { "name": "c", "mocks": m.clone(), "steps": [] } ] });
        let model = crate::testing::TestFile::from_value(&file).is_ok();
        assert_eq!(
            model,
            is_valid(SchemaKind::Test, &file),
            "model and schema disagree on mocks {m}"
        );
    }
}
