//! IBM's own SDKs talk to `fluxo serve` unchanged: the Python `ibm-watson` package and the npm
//! `ibm-watson` package run a multi-turn `message()` loop (their typed models parse every
//! answer), list and export the workspaces, read refusals as sentences, and send gzip bodies.
//! The scripts are `tests/sdk/watson_sdk.py` and `tests/sdk/watson_sdk.js`. Each test prints
//! `SKIPPED` when its SDK is not installed (`.ci/run` installs both: `pip install ibm-watson`,
//! and `npm install ibm-watson` into `target/sdk-node`, or the directory `FLUXO_NODE_SDK`
//! names).
#![cfg(feature = "drivers")]

mod common;

use common::Scratch;
use serde_json::json;
use std::process::{Child, Command, Stdio};

const TOKEN: &str = "sdk-test-token";

/// A running `fluxo serve` with one workspace, `pizzeria`.
struct Service {
    child: Child,
    url: String,
    _dir: Scratch,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(tag: &str) -> Service {
    let dir = Scratch::new(tag);
    dir.write(
        "pizzeria.json",
        json!({ "name": "Pizzeria", "language": "en", "description": "orders pizza",
            "intents": [ { "intent": "order_pizza", "examples": [
                { "text": "I want a pizza" }, { "text": "order a pizza" }, { "text": "pizza please" } ] },
                { "intent": "hello", "examples": [ { "text": "hi" }, { "text": "hello" } ] } ],
            "entities": [ { "entity": "size", "values": [ { "value": "large", "synonyms": ["big"] },
                { "value": "small", "synonyms": [] } ] } ],
            "dialog_nodes": [
                { "dialog_node": "welcome", "title": "Welcome", "conditions": "welcome",
                  "output": { "text": "Hello! What would you like?" } },
                { "dialog_node": "pizza", "title": "Order", "previous_sibling": "welcome",
                  "conditions": "#order_pizza", "output": { "text": "What size?" } },
                { "dialog_node": "size", "parent": "pizza", "conditions": "@size",
                  "output": { "text": "A <? @size ?> pizza, coming up." } },
                { "dialog_node": "broken", "previous_sibling": "pizza",
                  "conditions": "input.text == 'broken'",
                  "output": { "text": "<? input.text.frobnicate() ?>" } },
                { "dialog_node": "else", "previous_sibling": "broken", "conditions": "anything_else",
                  "output": { "text": "Sorry?" } } ] })
        .to_string(),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            "memory:",
            "--flows",
        ])
        .arg(dir.path())
        .env("FLUXO_API_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fluxo serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let addr = common::listen_address(stderr, "fluxo serve");
    Service {
        child,
        url: format!("http://{addr}"),
        _dir: dir,
    }
}

/// Runs an SDK script against a fresh service; panics with its output when it fails.
fn drive(program: &str, script: &str, env: &[(&str, String)]) {
    let s = serve(&format!("sdk-{program}"));
    let out = Command::new(program)
        .arg(common::root().join("tests/sdk").join(script))
        .args([s.url.as_str(), "pizzeria", TOKEN])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("the SDK script runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "{script} failed:\n{text}");
}

#[test]
fn python_sdk_talks_to_fluxo_serve() {
    let found = Command::new("python3")
        .args(["-c", "import ibm_watson"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: the Python SDK is not installed (`pip install ibm-watson`)");
        return;
    }
    drive("python3", "watson_sdk.py", &[]);
}

#[test]
fn node_sdk_talks_to_fluxo_serve() {
    let dir = std::env::var("FLUXO_NODE_SDK").map_or_else(
        |_| common::root().join("target/sdk-node"),
        std::path::PathBuf::from,
    );
    let modules = dir.join("node_modules");
    let found = modules.join("ibm-watson/assistant/v1.js").exists()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "SKIPPED: the Node SDK is not installed (`npm install --prefix target/sdk-node ibm-watson`)"
        );
        return;
    }
    drive(
        "node",
        "watson_sdk.js",
        &[("NODE_PATH", modules.display().to_string())],
    );
}
