//! The Watson v1 routes of the service, as IBM's SDKs read them: `user_id`, log message codes,
//! `nodes_visited_details`, `alternate_intents` as sent, Watson's input limits, gzip bodies,
//! `GET /v1/workspaces[/{id}]`, write calls refused with 501, and every refusal in Watson's
//! shape `{"error": "…", "code": N}`. In process, on a loopback port.
#![cfg(feature = "drivers")]

mod common;

use fluxo::drivers::http::{Http, RetryPolicy};
use fluxo::drivers::Secret;
use fluxo::engine::Bot;
use fluxo::runtime::server::{app, Settings};
use fluxo::runtime::{MemoryStore, Runtime, TokioClock};
use fluxo::watson::Workspace;
use serde_json::{json, Value};
use std::io::Write as _;
use std::sync::Arc;

const TOKEN: &str = "watson-api-token";

fn workspace() -> Value {
    json!({ "name": "Pizzeria", "language": "en", "description": "orders pizza",
        "learning_opt_out": true,
        "intents": [ { "intent": "order_pizza", "examples": [ { "text": "I want a pizza" } ] },
            { "intent": "hello", "examples": [ { "text": "hello" } ] } ],
        "entities": [ { "entity": "size", "values": [ { "value": "large", "synonyms": [] } ] } ],
        "dialog_nodes": [
            { "dialog_node": "welcome", "title": "Welcome", "conditions": "welcome",
              "output": { "text": "Hello!" } },
            { "dialog_node": "pizza", "title": "Order", "previous_sibling": "welcome",
              "conditions": "#order_pizza", "output": { "text": "What size?" } },
            { "dialog_node": "size", "parent": "pizza", "conditions": "@size",
              "output": { "text": "A large one." } },
            { "dialog_node": "broken", "previous_sibling": "pizza",
              "conditions": "input.text == 'broken'",
              "output": { "text": "<? input.text.frobnicate() ?>" } },
            { "dialog_node": "else", "previous_sibling": "broken", "conditions": "anything_else",
              "output": { "text": "Sorry?" } } ] })
}

/// The service with workspaces `pizzeria` and `another`, behind a bearer token.
async fn start() -> String {
    let bot = Bot::from_json(
        &std::fs::read_to_string(common::root().join("flows/omni.json")).expect("flow"),
        Some(
            &std::fs::read_to_string(common::root().join("flows/integrations.json"))
                .expect("integrations"),
        ),
    )
    .expect("flow loads");
    let (rt, _rx) = Runtime::new(
        bot,
        Arc::new(MemoryStore::default()),
        Http::new(RetryPolicy::default()),
        Arc::new(TokioClock::starting_at(1_795_453_200_000)),
    );
    let mut settings = Settings {
        api_token: Some(Secret::new(TOKEN.to_owned())),
        ..Settings::default()
    };
    let ws = Workspace::from_value(&workspace()).expect("workspace");
    settings.workspaces.insert("pizzeria".into(), Arc::new(ws));
    let mut other = workspace();
    other["name"] = json!("Another");
    other["learning_opt_out"] = json!(null);
    settings.workspaces.insert(
        "another".into(),
        Arc::new(Workspace::from_value(&other).expect("workspace")),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app(rt, settings);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

async fn call(
    method: &str,
    url: &str,
    body: Option<Vec<u8>>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client
        .request(method.parse().expect("method"), url)
        .header("authorization", format!("Bearer {TOKEN}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn post(url: &str, body: &Value) -> (u16, Value) {
    call("POST", url, Some(body.to_string().into_bytes()), &[]).await
}

/// A refusal in Watson's shape: `error` a sentence and `code` the status.
fn watson_refusal(status: u16, body: &Value, expected: u16) {
    assert_eq!(status, expected, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "`error` is a sentence: {body}"
    );
    assert_eq!(body["code"], expected, "{body}");
}

#[tokio::test]
async fn message_answers_what_the_sdk_models_require() {
    let base = start().await;
    let url = format!("{base}/v1/workspaces/pizzeria/message?version=2021-06-14");
    let (status, first) = post(&url, &json!({ "input": { "text": "" } })).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        first["user_id"], first["context"]["conversation_id"],
        "user_id defaults to the conversation id"
    );
    assert!(
        first.get("alternate_intents").is_none(),
        "absent when not sent"
    );
    let (_, second) = post(
        &format!("{url}&nodes_visited_details=true"),
        &json!({ "input": { "text": "I want a pizza" }, "context": first["context"],
            "user_id": "u-42", "alternate_intents": false }),
    )
    .await;
    assert_eq!(second["user_id"], "u-42", "echoed when sent");
    assert_eq!(second["alternate_intents"], false, "echoed as sent");
    assert_eq!(second["output"]["text"], json!(["What size?"]));
    assert_eq!(
        second["output"]["nodes_visited_details"],
        json!([{ "dialog_node": "pizza", "title": "Order", "conditions": "#order_pizza" }])
    );
    let (_, third) = post(
        &url,
        &json!({ "input": { "text": "large" }, "context": second["context"],
            "alternate_intents": true }),
    )
    .await;
    assert_eq!(third["output"]["text"], json!(["A large one."]));
    assert_eq!(third["alternate_intents"], true);
    assert!(
        third["output"].get("nodes_visited_details").is_none(),
        "only when asked"
    );
    // user_id from context.metadata when the root has none.
    let (_, meta) = post(
        &url,
        &json!({ "input": { "text": "hi" }, "context": { "metadata": { "user_id": "m-1" } } }),
    )
    .await;
    assert_eq!(meta["user_id"], "m-1");
    // A log message has a code.
    let (_, broken) = post(&url, &json!({ "input": { "text": "broken" } })).await;
    let logs = broken["output"]["log_messages"]
        .as_array()
        .expect("log_messages");
    assert!(!logs.is_empty(), "{broken}");
    for l in logs {
        assert_eq!(l["code"], "expression_error", "{l}");
        assert!(l["msg"].is_string() && l["level"].is_string());
    }
}

#[tokio::test]
async fn watson_input_limits_are_refused_as_watson_refuses_them() {
    let base = start().await;
    let url = format!("{base}/v1/workspaces/pizzeria/message");
    let long = "x".repeat(2049);
    let exactly = "é".repeat(2048);
    let (status, body) = post(&url, &json!({ "input": { "text": exactly } })).await;
    assert_eq!(status, 200, "2,048 characters (not bytes) pass: {body}");
    for (request, path) in [
        (json!({ "input": { "text": long } }), ".input.text"),
        (json!({ "input": { "text": "a\nb" } }), ".input.text"),
        (json!({ "input": { "text": "a\rb" } }), ".input.text"),
        (json!({ "input": { "text": "a\tb" } }), ".input.text"),
        (json!({ "input": { "text": 5 } }), ".input.text"),
        (json!({ "input": "hello" }), ".input"),
        (json!({ "input": ["hello"] }), ".input"),
        (json!({ "context": "x" }), ".context"),
        (json!({ "intents": {} }), ".intents"),
        (json!({ "alternate_intents": "yes" }), ".alternate_intents"),
        (json!({ "user_id": "a\tb" }), ".user_id"),
        (json!({ "user_id": 7 }), ".user_id"),
        (json!(["not", "an", "object"]), "."),
    ] {
        let (status, body) = post(&url, &request).await;
        watson_refusal(status, &body, 400);
        assert_eq!(body["errors"][0]["path"], path, "{request}: {body}");
        assert!(body["errors"][0]["message"].is_string());
    }
    let (status, body) = call("POST", &url, Some(b"{not json".to_vec()), &[]).await;
    watson_refusal(status, &body, 400);
    // An empty body is an empty request, as Watson takes it.
    let (status, body) = call("POST", &url, Some(Vec::new()), &[]).await;
    assert_eq!(status, 200, "{body}");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

#[tokio::test]
async fn gzip_bodies_are_answered_and_bad_ones_refused() {
    let base = start().await;
    let url = format!("{base}/v1/workspaces/pizzeria/message");
    let body = json!({ "input": { "text": "I want a pizza" } }).to_string();
    let (status, r) = call(
        "POST",
        &url,
        Some(gzip(body.as_bytes())),
        &[("content-encoding", "gzip")],
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["output"]["text"], json!(["What size?"]));
    // Not gzip at all.
    let (status, r) = call(
        "POST",
        &url,
        Some(body.clone().into_bytes()),
        &[("content-encoding", "gzip")],
    )
    .await;
    watson_refusal(status, &r, 400);
    // A bomb: small compressed, larger than the body limit (1 MiB) once inflated.
    let bomb = gzip(&vec![b' '; 3 << 20]);
    assert!(bomb.len() < 1 << 20);
    let (status, r) = call("POST", &url, Some(bomb), &[("content-encoding", "gzip")]).await;
    watson_refusal(status, &r, 413);
    let (status, r) = call(
        "POST",
        &url,
        Some(body.into_bytes()),
        &[("content-encoding", "br")],
    )
    .await;
    watson_refusal(status, &r, 415);
}

#[tokio::test]
async fn workspaces_are_listed_and_exported_in_watson_shapes() {
    let base = start().await;
    let (status, list) = call(
        "GET",
        &format!("{base}/v1/workspaces?version=2021-06-14&include_count=true"),
        None,
        &[],
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["workspaces"]
        .as_array()
        .expect("workspaces")
        .iter()
        .map(|w| w["workspace_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["another", "pizzeria"]);
    assert_eq!(list["pagination"]["total"], 2);
    assert!(list["pagination"]["refresh_url"].is_string());
    let first = &list["workspaces"][0];
    assert_eq!(first["name"], "Another");
    assert_eq!(first["language"], "en");
    assert_eq!(first["learning_opt_out"], false, "Watson's default");
    assert!(
        first.get("dialog_nodes").is_none(),
        "content only with export"
    );
    // Pages.
    let (_, page) = call(
        "GET",
        &format!("{base}/v1/workspaces?page_limit=1&sort=-name"),
        None,
        &[],
    )
    .await;
    assert_eq!(page["workspaces"][0]["workspace_id"], "pizzeria");
    let next = page["pagination"]["next_url"].as_str().expect("next_url");
    let (_, page2) = call("GET", &format!("{base}{next}"), None, &[]).await;
    assert_eq!(page2["workspaces"][0]["workspace_id"], "another");
    assert!(page2["pagination"].get("next_url").is_none());
    let (status, bad) = call("GET", &format!("{base}/v1/workspaces?cursor=zz"), None, &[]).await;
    watson_refusal(status, &bad, 400);
    // One workspace.
    let (status, one) = call("GET", &format!("{base}/v1/workspaces/pizzeria"), None, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(one["workspace_id"], "pizzeria");
    assert_eq!(one["learning_opt_out"], true);
    assert_eq!(one["description"], "orders pizza");
    assert!(one.get("intents").is_none());
    let (_, full) = call(
        "GET",
        &format!("{base}/v1/workspaces/pizzeria?export=true"),
        None,
        &[],
    )
    .await;
    assert_eq!(full["dialog_nodes"], workspace()["dialog_nodes"]);
    assert_eq!(full["intents"], workspace()["intents"]);
    assert_eq!(full["entities"][0]["values"][0]["type"], "synonyms");
    assert_eq!(full["counterexamples"], json!([]));
    let (status, r) = call("GET", &format!("{base}/v1/workspaces/nope"), None, &[]).await;
    watson_refusal(status, &r, 404);
}

#[tokio::test]
async fn write_calls_and_refusals_have_watsons_shape() {
    let base = start().await;
    for (method, path) in [
        ("POST", "/v1/workspaces"),
        ("POST", "/v1/workspaces/pizzeria"),
        ("PUT", "/v1/workspaces/pizzeria"),
        ("DELETE", "/v1/workspaces/pizzeria"),
        ("POST", "/v1/workspaces/pizzeria/intents"),
        ("DELETE", "/v1/workspaces/pizzeria/intents/hello"),
        ("POST", "/v1/workspaces/pizzeria/dialog_nodes"),
    ] {
        let (status, body) = call(
            method,
            &format!("{base}{path}?version=2021-06-14"),
            Some(b"{}".to_vec()),
            &[],
        )
        .await;
        watson_refusal(status, &body, 501);
    }
    let (status, body) = call(
        "POST",
        &format!("{base}/v1/workspaces/nope/message"),
        Some(b"{}".to_vec()),
        &[],
    )
    .await;
    watson_refusal(status, &body, 404);
    let (status, body) = call(
        "GET",
        &format!("{base}/v1/workspaces/pizzeria/message"),
        None,
        &[],
    )
    .await;
    watson_refusal(status, &body, 405);
    // Without the token.
    let resp = reqwest::Client::new()
        .get(format!("{base}/v1/workspaces"))
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("json");
    watson_refusal(status, &body, 401);
    // The OpenAPI document lists the routes.
    let (_, api) = call("GET", &format!("{base}/openapi.json"), None, &[]).await;
    for p in [
        "/v1/workspaces",
        "/v1/workspaces/{bot}",
        "/v1/workspaces/{bot}/message",
    ] {
        assert!(
            api["paths"][p]["get"].is_object() || api["paths"][p]["post"].is_object(),
            "{p}"
        );
    }
}
