//! `fluxo lsp` as an editor sees it: the real binary, spoken to in JSON-RPC over its standard
//! input and output. Exchanges are snapshotted (paths shown relative to the project as
//! `file:///ROOT/…`); diagnostics are checked against `fluxo lint --format json` on every
//! fixture and on the Watson corpus.

mod common;

use serde_json::{json, Value as Json};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

/// How long a test waits for one message before it fails (instead of hanging).
const PATIENCE: Duration = Duration::from_secs(120);

struct Client {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Json>,
    /// Messages read while waiting for another.
    pending: VecDeque<Json>,
    next: i64,
}

fn read_frame(r: &mut impl BufRead) -> Option<Json> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            length = v.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    r.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

impl Client {
    /// Starts `fluxo lsp` and initialises it with the position encodings the client offers.
    fn start(encodings: &[&str]) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fluxo"))
            .args(["lsp", "--stdio"])
            .current_dir(common::root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start fluxo lsp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            while let Some(m) = read_frame(&mut r) {
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        let mut c = Client {
            child,
            stdin,
            rx,
            pending: VecDeque::new(),
            next: 0,
        };
        let mut caps = json!({});
        if !encodings.is_empty() {
            caps = json!({ "general": { "positionEncodings": encodings } });
        }
        let init = c.request(
            "initialize",
            json!({ "processId": null, "rootUri": null, "capabilities": caps,
                    "initializationOptions": { "debounceMs": 20 } }),
        );
        assert!(init.get("result").is_some(), "{init}");
        c.notify("initialized", json!({}));
        c
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn send(&mut self, m: &Json) {
        let body = m.to_string();
        self.raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }

    fn notify(&mut self, method: &str, params: Json) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request; returns its id.
    fn send_request(&mut self, method: &str, params: Json) -> i64 {
        self.next += 1;
        let id = self.next;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        id
    }

    /// The next message that satisfies `want`; others are kept for later.
    fn wait(&mut self, what: &str, want: impl Fn(&Json) -> bool) -> Json {
        if let Some(i) = self.pending.iter().position(&want) {
            if let Some(m) = self.pending.remove(i) {
                return m;
            }
        }
        loop {
            let m = self
                .rx
                .recv_timeout(PATIENCE)
                .unwrap_or_else(|_| panic!("no {what} from the server"));
            if want(&m) {
                return m;
            }
            self.pending.push_back(m);
        }
    }

    fn response(&mut self, id: i64) -> Json {
        self.wait(&format!("response {id}"), |m| {
            m.get("id") == Some(&json!(id)) && m.get("method").is_none()
        })
    }

    /// The whole response message to a request.
    fn request(&mut self, method: &str, params: Json) -> Json {
        let id = self.send_request(method, params);
        self.response(id)
    }

    /// The `result` of a request.
    fn call(&mut self, method: &str, params: Json) -> Json {
        let r = self.request(method, params);
        r.get("result")
            .cloned()
            .unwrap_or_else(|| panic!("{method}: {r}"))
    }

    fn diagnostics(&mut self, uri: &str) -> Json {
        let m = self.wait(&format!("diagnostics of {uri}"), |m| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
        });
        m["params"]["diagnostics"].clone()
    }

    /// The diagnostics published for one version of a document.
    fn diagnostics_of_version(&mut self, uri: &str, version: i64) -> Json {
        let m = self.wait(&format!("diagnostics of {uri} v{version}"), |m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == uri
                && m["params"]["version"] == version
        });
        m["params"]["diagnostics"].clone()
    }

    fn open(&mut self, uri: &str, text: &str) -> Json {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "json", "version": 1, "text": text } }),
        );
        self.diagnostics(uri)
    }

    fn close(&mut self, uri: &str) {
        self.notify(
            "textDocument/didClose",
            json!({ "textDocument": { "uri": uri } }),
        );
        let _ = self.diagnostics(uri);
    }

    /// Shuts the server down; asserts it exits with status 0.
    fn finish(mut self) {
        let r = self.call("shutdown", Json::Null);
        assert_eq!(r, Json::Null);
        self.notify("exit", Json::Null);
        for _ in 0..600 {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "fluxo lsp exited with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("fluxo lsp did not exit after `exit`");
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `file:` URI of a path (the test paths have no characters that need escaping but
/// spaces).
fn uri(path: &Path) -> String {
    format!("file://{}", path.display()).replace(' ', "%20")
}

/// The URI of a file of the project.
fn project(rel: &str) -> String {
    uri(&common::root().join(rel))
}

/// URIs shown relative to the project.
fn redact(v: Json) -> Json {
    let root = uri(&common::root());
    let text = v.to_string().replace(&root, "file:///ROOT");
    let mut v = serde_json::from_str(&text).unwrap_or(v);
    sort_changes(&mut v);
    v
}

/// A workspace edit's `changes` is a map from file to edits that the protocol leaves unordered
/// (the server builds it from a hash map): sorted by file, so snapshots do not depend on it.
fn sort_changes(v: &mut Json) {
    match v {
        Json::Object(m) => {
            if let Some(Json::Object(changes)) = m.get_mut("changes") {
                let mut sorted: Vec<(String, Json)> = std::mem::take(changes).into_iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                changes.extend(sorted);
            }
            m.values_mut().for_each(sort_changes);
        }
        Json::Array(a) => a.iter_mut().for_each(sort_changes),
        _ => {}
    }
}

/// Line and UTF-16 column of the `n`-th byte after the start of `needle` in `text`.
fn at(text: &str, needle: &str, n: usize) -> Json {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} in text"))
        + n;
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let col = before
        .rsplit('\n')
        .next()
        .unwrap_or("")
        .encode_utf16()
        .count();
    json!({ "line": line, "character": col })
}

fn doc_pos(uri: &str, text: &str, needle: &str, n: usize) -> Json {
    json!({ "textDocument": { "uri": uri }, "position": at(text, needle, n) })
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(common::root().join(rel)).expect("read")
}

// ---------------------------------------------------------------------------------------
// Diagnostics equal `fluxo lint --format json`.

/// A finding as both sides can say it: code, severity, 1-based start and end, message.
fn from_lint(f: &Json) -> String {
    let mut message = f["message"].as_str().unwrap_or_default().to_owned();
    if let Some(h) = f["help"].as_str() {
        message.push_str("\nhelp: ");
        message.push_str(h);
    }
    format!(
        "{} {} {}:{}-{}:{} {message}",
        f["code"].as_str().unwrap_or_default(),
        f["severity"].as_str().unwrap_or_default(),
        f["line"],
        f["column"],
        f["end_line"],
        f["end_column"]
    )
}

/// The same from an LSP diagnostic of a client that counts columns in characters (UTF-32,
/// as `fluxo lint` does).
fn from_lsp(d: &Json, bom: i64) -> String {
    let severity = match d["severity"].as_i64() {
        Some(1) => "error",
        Some(2) => "warning",
        _ => "info",
    };
    let n = |v: &Json| v.as_i64().unwrap_or(-1) + 1;
    let column = |p: &Json| n(&p["character"]) - if p["line"] == 0 { bom } else { 0 };
    format!(
        "{} {severity} {}:{}-{}:{} {}",
        d["code"].as_str().unwrap_or_default(),
        n(&d["range"]["start"]["line"]),
        column(&d["range"]["start"]),
        n(&d["range"]["end"]["line"]),
        column(&d["range"]["end"]),
        d["message"].as_str().unwrap_or_default()
    )
}

fn lint_json(path: &Path) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args(["lint", "--format", "json"])
        .arg(path)
        .current_dir(common::root())
        .output()
        .expect("run fluxo lint");
    let findings: Json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut v: Vec<String> = findings
        .as_array()
        .map(|a| a.iter().map(from_lint).collect())
        .unwrap_or_default();
    // A file that is not a fluxo file is not linted by the server, as in `fluxo lint DIR`.
    if v.iter()
        .all(|f| f.starts_with("schema ") && f.contains("not a fluxo file"))
    {
        v.clear();
    }
    v.sort();
    v
}

fn json_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

fn assert_same_as_lint(files: &[std::path::PathBuf]) {
    let mut c = Client::start(&["utf-32"]);
    let mut checked = 0;
    for path in files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // not UTF-8: an editor cannot open it as text either
        };
        let u = uri(path);
        // The editor's text keeps a BOM that `fluxo lint` strips: one character more before
        // anything on the first line.
        let bom = i64::from(text.starts_with('\u{feff}'));
        let mut got: Vec<String> = c
            .open(&u, &text)
            .as_array()
            .map(|a| a.iter().map(|d| from_lsp(d, bom)).collect())
            .unwrap_or_default();
        got.sort();
        assert_eq!(got, lint_json(path), "{}", path.display());
        c.close(&u);
        checked += 1;
    }
    assert!(checked > 0, "no file was checked");
    c.finish();
}

#[test]
fn diagnostics_equal_fluxo_lint_on_every_fixture_and_flow() {
    let mut files = Vec::new();
    json_files(&common::root().join("tests/fixtures"), &mut files);
    json_files(&common::root().join("flows"), &mut files);
    json_files(&common::root().join("examples/watson"), &mut files);
    assert!(files.len() > 50, "{} files", files.len());
    assert_same_as_lint(&files);
}

#[test]
fn diagnostics_follow_fluxo_toml_and_the_integrations_beside_as_lint_does() {
    let dir = common::Scratch::new("lsp-config");
    dir.write(
        "fluxo.toml",
        "[lint]\nseverity = { \"unreachable-node\" = \"info\" }\nper-file-ignores = { \"legado/**\" = [\"unknown-goto-target\"] }\n",
    );
    std::fs::copy(
        common::root().join("flows/integrations.json"),
        dir.join("integrations.json"),
    )
    .expect("copy");
    let flow = r#"{ "nodes": [
  { "id": "a", "condition": "start", "comment": "fluxo: ignore[unknown-variable-root]", "next": [ { "goto": "zz" } ] },
  { "id": "b", "actions": [ { "name": "start_live_chat", "parameters": { "integration_id": 99 } } ] }
] }
"#;
    let files = [
        dir.write("flow.json", flow),
        dir.write("legado/flow.json", flow),
    ];
    assert_same_as_lint(&files);
    // The configuration did something: the severity changed, the integration is unknown.
    let top = lint_json(&files[0]);
    assert!(
        top.iter().any(|f| f.starts_with("unreachable-node info")),
        "{top:?}"
    );
    assert!(
        top.iter().any(|f| f.starts_with("unknown-integration")),
        "{top:?}"
    );
    assert!(
        top.iter().any(|f| f.starts_with("unused-suppression")),
        "{top:?}"
    );
    let legacy = lint_json(&files[1]);
    assert!(
        !legacy.iter().any(|f| f.starts_with("unknown-goto-target")),
        "{legacy:?}"
    );
}

#[test]
fn diagnostics_equal_fluxo_lint_on_the_watson_corpus() {
    let Some(shared) = common::shared() else {
        return;
    };
    let mut files = Vec::new();
    json_files(&shared.join("corpus/watson"), &mut files);
    assert_same_as_lint(&files);
}

// ---------------------------------------------------------------------------------------
// Positions.

const ACCENTED: &str = "{ \"nodes\": [\n  { \"id\": \"início\", \"name\": \"Olá 😀 você\", \"condition\": \"start\", \"next\": [ { \"goto\": \"açaí😀\" } ] }\n] }\n";

#[test]
fn positions_are_utf16_by_default_and_utf8_when_offered() {
    let scratch = common::Scratch::new("lsp-pos");
    let path = scratch.write("acentos.json", ACCENTED);
    let u = uri(&path);
    // UTF-16: the emoji in the name counts two.
    let mut c = Client::start(&[]);
    let d = c.open(&u, ACCENTED);
    let goto = d
        .as_array()
        .and_then(|a| a.iter().find(|d| d["code"] == "unknown-goto-target"))
        .cloned()
        .expect("unknown-goto-target");
    let start = at(ACCENTED, "\"açaí😀\"", 0);
    assert_eq!(goto["range"]["start"], start);
    // The end is after the closing quote: 8 UTF-16 units for `"açaí😀"`.
    assert_eq!(
        goto["range"]["end"]["character"].as_i64(),
        start["character"].as_i64().map(|c| c + 8)
    );
    c.finish();
    // UTF-8, when the client offers it.
    let mut c = Client::start(&["utf-8", "utf-16"]);
    let d = c.open(&u, ACCENTED);
    let goto = d
        .as_array()
        .and_then(|a| a.iter().find(|d| d["code"] == "unknown-goto-target"))
        .cloned()
        .expect("unknown-goto-target");
    let line = ACCENTED.lines().nth(1).unwrap_or_default();
    let bytes = line.find("\"açaí😀\"").unwrap_or_default();
    assert_eq!(
        goto["range"]["start"]["character"].as_u64(),
        Some(bytes as u64)
    );
    c.finish();
}

// ---------------------------------------------------------------------------------------
// Editing: incremental changes, the last good parse.

#[test]
fn incremental_edits_update_diagnostics_and_a_broken_file_keeps_navigation() {
    let scratch = common::Scratch::new("lsp-edit");
    let text = "{ \"nodes\": [\n  { \"id\": \"a\", \"condition\": \"start\", \"next\": [ { \"goto\": \"b\" } ] },\n  { \"id\": \"b\" }\n] }\n";
    let path = scratch.write("flow.json", text);
    let u = uri(&path);
    let mut c = Client::start(&[]);
    assert_eq!(c.open(&u, text), json!([]));
    // Change the goto target `b` to `bb`: one character inserted on line 1.
    let goto_b = at(text, "\"goto\": \"b", 10);
    let change = |c: &mut Client, version: i64, range: Json, new: &str| {
        c.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": u, "version": version },
                    "contentChanges": [ { "range": range, "text": new } ] }),
        );
    };
    change(&mut c, 2, json!({ "start": goto_b, "end": goto_b }), "b");
    let d = c.diagnostics(&u);
    let codes: Vec<&str> = d
        .as_array()
        .map(|a| a.iter().filter_map(|d| d["code"].as_str()).collect())
        .unwrap_or_default();
    assert!(codes.contains(&"unknown-goto-target"), "{d}");
    // Undo it, then cut the file in the middle of a string: nothing can be parsed.
    change(
        &mut c,
        3,
        json!({ "start": goto_b, "end": { "line": 1, "character": goto_b["character"].as_u64().map(|x| x + 1) } }),
        "",
    );
    assert_eq!(c.diagnostics_of_version(&u, 3), json!([]));
    let end = json!({ "line": 4, "character": 0 });
    change(
        &mut c,
        4,
        json!({ "start": { "line": 2, "character": 10 }, "end": end }),
        "\"unterminated",
    );
    let d = c.diagnostics_of_version(&u, 4);
    assert!(
        d.as_array()
            .is_some_and(|a| a.iter().any(|d| d["code"] == "json-syntax")),
        "{d}"
    );
    // Go to definition still finds `b` from the goto on line 1, through the last good parse.
    let def = c.call(
        "textDocument/definition",
        json!({ "textDocument": { "uri": u }, "position": goto_b }),
    );
    assert_eq!(def["range"]["start"]["line"], 2, "{def}");
    c.finish();
}

// ---------------------------------------------------------------------------------------
// Navigation over flows/omni.json, its test and its integrations.

#[test]
fn navigation_follows_node_ids_across_the_flow_and_its_tests() {
    let flow = read("flows/omni.json");
    let test = read("flows/omni.test.json");
    let (fu, tu) = (project("flows/omni.json"), project("flows/omni.test.json"));
    let mut c = Client::start(&[]);
    c.open(&fu, &flow);
    c.open(&tu, &test);
    let mut exchanges = Vec::new();
    let mut ask = |c: &mut Client, label: &str, method: &str, params: Json| {
        let r = c.request(method, params.clone());
        exchanges.push(json!({ "label": label, "method": method, "params": params,
                               "answer": r.get("result").or(r.get("error")) }));
    };
    ask(
        &mut c,
        "a goto's target",
        "textDocument/definition",
        doc_pos(&fu, &flow, "\"goto\": \"registra_cpf\"", 10),
    );
    ask(
        &mut c,
        "a test expectation's node",
        "textDocument/definition",
        doc_pos(&tu, &test, "\"node\": \"registra_cpf\"", 10),
    );
    ask(
        &mut c,
        "an integration id",
        "textDocument/definition",
        doc_pos(&fu, &flow, "\"integration_id\": 3", 18),
    );
    ask(
        &mut c,
        "every use of a node, tests included",
        "textDocument/references",
        json!({ "textDocument": { "uri": fu }, "position": at(&flow, "\"id\": \"menu\"", 8),
                "context": { "includeDeclaration": true } }),
    );
    ask(
        &mut c,
        "rename onto a taken id",
        "textDocument/rename",
        json!({ "textDocument": { "uri": fu }, "position": at(&flow, "\"id\": \"menu\"", 8),
                "newName": "transbordo" }),
    );
    ask(
        &mut c,
        "rename",
        "textDocument/rename",
        json!({ "textDocument": { "uri": fu }, "position": at(&flow, "\"id\": \"menu\"", 8),
                "newName": "menu_principal" }),
    );
    ask(
        &mut c,
        "prepare a rename",
        "textDocument/prepareRename",
        doc_pos(&tu, &test, "\"awaiting\": \"menu\"", 13),
    );
    ask(
        &mut c,
        "hover on a node id",
        "textDocument/hover",
        doc_pos(&fu, &flow, "\"goto\": \"menu\"", 10),
    );
    ask(
        &mut c,
        "hover on an integration id",
        "textDocument/hover",
        doc_pos(&fu, &flow, "\"integration_id\": 3", 18),
    );
    ask(
        &mut c,
        "the outline",
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": fu } }),
    );
    c.finish();
    insta::assert_json_snapshot!("navigation", redact(Json::Array(exchanges)));
}

#[test]
fn watson_jumps_lead_to_their_dialog_node() {
    let ws = read("examples/watson/pizzaria.json");
    let u = project("examples/watson/pizzaria.json");
    let mut c = Client::start(&[]);
    c.open(&u, &ws);
    let def = c.call(
        "textDocument/definition",
        doc_pos(&u, &ws, "\"dialog_node\": \"boas_vindas\"\n", 17),
    );
    let target = at(&ws, "\"dialog_node\": \"boas_vindas\",", 16);
    assert_eq!(def["range"]["start"], target, "{def}");
    c.finish();
}

// ---------------------------------------------------------------------------------------
// Completion, hover and code actions on a flow written for the test.

const FLOW: &str = r#"{
  "nodes": [
    {
      "id": "inicio",
      "name": "Início",
      "condition": "start",
      "context": { "tentativas": 0 },
      "input": { "default": { "type": "text_input", "payload": { "mask": "cpf" } } },
      "next": [ { "condition": "input.text.toLowerCase() == 'sim'", "goto": "transbordo" } ]
    },
    {
      "id": "transbordo",
      "actions": [
        {
          "name": "start_live_chat",
          "parameters": { "integration_id": 7, "skill_id": "x" },
          "result_variable": "resultado"
        }
      ],
      "next": [ { "condition": "input.live_chat.status == 'agent_closed'", "goto": "fim" } ]
    },
    { "id": "fim", "output": [ { "default": { "type": "text", "text": "Tchau <? $tentativas ?>" } } ] }
  ]
}
"#;

fn labels(result: &Json) -> Vec<String> {
    result
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["label"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn completion_offers_what_fits_the_place() {
    let scratch = common::Scratch::new("lsp-complete");
    std::fs::copy(
        common::root().join("flows/integrations.json"),
        scratch.join("integrations.json"),
    )
    .expect("copy");
    let path = scratch.write("flow.json", FLOW);
    let u = uri(&path);
    let mut c = Client::start(&[]);
    c.open(&u, FLOW);
    let complete = |c: &mut Client, needle: &str, n: usize| -> Vec<String> {
        labels(&c.call("textDocument/completion", doc_pos(&u, FLOW, needle, n)))
    };
    let places = [
        ("goto", "\"goto\": \"fim\"", 9),
        ("integration_id", "\"integration_id\": 7", 18),
        ("action name", "\"name\": \"start_live_chat\"", 9),
        ("close status", "'agent_closed'", 1),
        ("input type", "\"type\": \"text_input\"", 9),
        ("mask", "\"mask\": \"cpf\"", 9),
        ("payload key", "\"mask\": \"cpf\"", 1),
        ("input field", "input.text.toLowerCase", 6),
        ("variable", "$tentativas", 1),
    ];
    let seen: Vec<(&str, Vec<String>)> = places
        .iter()
        .map(|(what, needle, n)| (*what, complete(&mut c, needle, *n)))
        .collect();
    let parameters = complete(&mut c, "\"skill_id\"", 1);
    let methods = complete(&mut c, "toLowerCase()", 0);
    c.finish();
    insta::assert_json_snapshot!("completion", seen);
    // The integration is LivePerson's: its parameters, not Zendesk's.
    assert!(
        parameters.contains(&"skill_id".to_owned()),
        "{parameters:?}"
    );
    assert!(parameters.contains(&"integration_id".to_owned()));
    assert!(!parameters.contains(&"tags".to_owned()), "{parameters:?}");
    // Methods of the builder's dialect after a dot.
    assert!(methods.contains(&"toLowerCase".to_owned()), "{methods:?}");
    assert!(methods.contains(&"includes".to_owned()), "{methods:?}");
}

#[test]
fn hover_explains_rules_methods_and_nodes() {
    let scratch = common::Scratch::new("lsp-hover");
    let text = FLOW.replace("\"goto\": \"fim\"", "\"goto\": \"fin\"");
    let path = scratch.write("flow.json", &text);
    let u = uri(&path);
    let mut c = Client::start(&[]);
    c.open(&u, &text);
    let value = |r: Json| {
        r["contents"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let rule = value(c.call("textDocument/hover", doc_pos(&u, &text, "\"fin\"", 2)));
    assert!(rule.starts_with("# unknown-goto-target (error)"), "{rule}");
    let method = value(c.call("textDocument/hover", doc_pos(&u, &text, "toLowerCase", 3)));
    assert!(method.contains("string.toLowerCase(…)"), "{method}");
    let node = value(c.call(
        "textDocument/hover",
        doc_pos(&u, &text, "\"goto\": \"transbordo\"", 12),
    ));
    assert_eq!(node, "node `transbordo`\n\nreached from `inicio`");
    c.finish();
}

fn num(v: &Json) -> usize {
    v.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}

fn apply(text: &str, edits: &Json) -> String {
    // Edits of one line each, applied last first (UTF-16 columns, ASCII text here).
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let mut edits: Vec<&Json> = edits
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    edits.sort_by_key(|e| {
        std::cmp::Reverse((
            e["range"]["start"]["line"].as_u64(),
            e["range"]["start"]["character"].as_u64(),
        ))
    });
    for e in edits {
        let line = num(&e["range"]["start"]["line"]);
        assert_eq!(e["range"]["end"]["line"], e["range"]["start"]["line"]);
        let (a, b) = (
            num(&e["range"]["start"]["character"]),
            num(&e["range"]["end"]["character"]),
        );
        let l = &mut lines[line];
        l.replace_range(a..b, e["newText"].as_str().unwrap_or_default());
    }
    lines.join("\n")
}

#[test]
fn code_actions_repair_and_suppress_findings() {
    let scratch = common::Scratch::new("lsp-actions");
    let text = "{ \"nodes\": [\n  { \"id\": \"a\", \"condition\": \"start\", \"next\": [ { \"goto\": \"zz\" } ], },\n  { \"id\": \"b\", \"comment\": \"fim\" }\n] }\n";
    let path = scratch.write("flow.json", text);
    let u = uri(&path);
    let mut c = Client::start(&[]);
    let d = c.open(&u, text);
    let all =
        json!({ "start": { "line": 0, "character": 0 }, "end": { "line": 4, "character": 0 } });
    let actions = c.call(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": u }, "range": all, "context": { "diagnostics": d } }),
    );
    let titles: Vec<&str> = actions
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["title"].as_str()).collect())
        .unwrap_or_default();
    insta::assert_json_snapshot!("code-action-titles", titles);
    // Apply the comma fix and the suppression; the file is then clean.
    let edits: Vec<Json> = actions
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| {
                    let t = x["title"].as_str().unwrap_or_default();
                    t.starts_with("Fix:") || t.contains("unknown-goto-target")
                })
                .flat_map(|x| {
                    x["edit"]["changes"][&u]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    let fixed = apply(text, &Json::Array(edits));
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": u, "version": 2 }, "contentChanges": [ { "text": fixed } ] }),
    );
    let after = c.diagnostics(&u);
    let codes: Vec<&str> = after
        .as_array()
        .map(|a| a.iter().filter_map(|d| d["code"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        !codes.contains(&"json-syntax") && !codes.contains(&"unknown-goto-target"),
        "{fixed}\n{after}"
    );
    c.finish();
}

// ---------------------------------------------------------------------------------------
// Never crash, never hang.

#[test]
fn malformed_and_unknown_messages_get_errors_and_the_server_goes_on() {
    let mut c = Client::start(&[]);
    let mut answers = Vec::new();
    // Not JSON.
    c.raw(b"Content-Length: 8\r\n\r\n{\"jsonrp");
    answers.push(c.wait("parse error", |m| m["error"]["code"] == -32700));
    // JSON, but not a message.
    c.send(&json!({ "jsonrpc": "2.0", "id": 41, "method": 5 }));
    answers.push(c.wait("invalid request", |m| m["error"]["code"] == -32600));
    // A header line that is not a header.
    c.raw(b"hello\r\n\r\n");
    answers.push(c.wait("framing error", |m| {
        m["error"]["code"] == -32700
            && m["id"].is_null()
            && m["error"]["message"]
                .as_str()
                .is_some_and(|s| s.contains("header"))
    }));
    // An unknown method.
    answers.push(c.request("textDocument/semanticTokens/full", json!({})));
    // Parameters of the wrong shape.
    answers.push(c.request("textDocument/hover", json!({ "nope": true })));
    // A document that is not open.
    answers.push(c.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": "file:///nowhere.json" }, "position": { "line": 0, "character": 0 } }),
    ));
    // A notification with bad parameters is ignored; an unknown one too.
    c.notify("textDocument/didOpen", json!({ "textDocument": 3 }));
    c.notify("$/unknown", json!({}));
    insta::assert_json_snapshot!("errors", answers);
    c.finish();
}

#[test]
fn a_request_before_initialize_is_refused() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start");
    let mut stdin = child.stdin.take().expect("stdin");
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"textDocument/hover","params":{}}"#;
    let exit = r#"{"jsonrpc":"2.0","method":"exit"}"#;
    write!(
        stdin,
        "Content-Length: {}\r\n\r\n{body}Content-Length: {}\r\n\r\n{exit}",
        body.len(),
        exit.len()
    )
    .expect("write");
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    let mut r = BufReader::new(out.stdout.as_slice());
    let answer = read_frame(&mut r).expect("an answer");
    assert_eq!(answer["error"]["code"], -32002, "{answer}");
}

#[test]
fn the_end_of_input_ends_the_server_with_an_error_without_shutdown() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    drop(child.stdin.take());
    for _ in 0..600 {
        if let Ok(Some(status)) = child.try_wait() {
            // The protocol: status 1 when the client did not ask for `shutdown` first.
            assert_eq!(status.code(), Some(1));
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("fluxo lsp did not end with its input");
}

/// A flow of `n` nodes in a chain, the last with a misspelt goto.
fn chain(n: usize) -> String {
    let mut nodes = Vec::new();
    for i in 0..n {
        let next = if i + 1 == n {
            "nowhere".to_owned()
        } else {
            format!("n{}", i + 1)
        };
        let condition = if i == 0 {
            "\"condition\": \"start\", "
        } else {
            ""
        };
        nodes.push(format!(
            "    {{ \"id\": \"n{i}\", \"name\": \"Passo {i} — ação\", {condition}\"output\": [ {{ \"default\": {{ \"type\": \"text\", \"text\": \"Olá, passo {i}\" }} }} ], \"next\": [ {{ \"goto\": \"{next}\" }} ] }}"
        ));
    }
    format!("{{\n  \"nodes\": [\n{}\n  ]\n}}\n", nodes.join(",\n"))
}

#[test]
fn a_five_megabyte_flow_is_linted_and_requests_are_still_answered() {
    let scratch = common::Scratch::new("lsp-big");
    let mut n = 20_000;
    let mut text = chain(n);
    while text.len() < 5 << 20 {
        n += n / 2;
        text = chain(n);
    }
    let path = scratch.write("big.json", &text);
    let u = uri(&path);
    let mut c = Client::start(&[]);
    let d = c.open(&u, &text);
    let codes: Vec<&str> = d
        .as_array()
        .map(|a| a.iter().filter_map(|d| d["code"].as_str()).collect())
        .unwrap_or_default();
    assert!(codes.contains(&"unknown-goto-target"), "{codes:?}");
    let last = format!("\"goto\": \"n{}\"", n - 1);
    let def = c.call("textDocument/definition", doc_pos(&u, &text, &last, 10));
    assert_eq!(def["uri"], u.as_str());
    c.finish();
}

#[test]
fn a_cancelled_request_gets_one_answer_and_the_server_goes_on() {
    let flow = read("flows/omni.json");
    let fu = project("flows/omni.json");
    let mut c = Client::start(&[]);
    c.open(&fu, &flow);
    // Several requests and the cancellation of the last, written at once: it is answered
    // either with `RequestCancelled` or, if it was handled first, with its result — once.
    let params = json!({ "textDocument": { "uri": fu } });
    for _ in 0..5 {
        c.send_request("textDocument/documentSymbol", params.clone());
    }
    let id = c.send_request("textDocument/documentSymbol", params.clone());
    c.notify("$/cancelRequest", json!({ "id": id }));
    let answer = c.response(id);
    assert!(
        answer["error"]["code"] == -32800 || answer["result"].is_array(),
        "{answer}"
    );
    let later = c.call("textDocument/documentSymbol", params);
    assert!(later.is_array());
    // No second answer to the cancelled request.
    assert!(!c.pending.iter().any(|m| m["id"] == id), "{:?}", c.pending);
    c.finish();
}

#[test]
fn a_file_that_is_not_a_flow_gets_no_diagnostics_and_empty_answers() {
    let scratch = common::Scratch::new("lsp-foreign");
    let text =
        "{ \"name\": \"pacote\", \"version\": \"1.0.0\", \"scripts\": { \"build\": \"tsc\" } }\n";
    let path = scratch.write("package.json", text);
    let u = uri(&path);
    let mut c = Client::start(&[]);
    assert_eq!(c.open(&u, text), json!([]));
    for method in [
        "textDocument/definition",
        "textDocument/hover",
        "textDocument/prepareRename",
    ] {
        assert_eq!(
            c.call(method, doc_pos(&u, text, "pacote", 2)),
            Json::Null,
            "{method}"
        );
    }
    let completion = c.call("textDocument/completion", doc_pos(&u, text, "tsc", 1));
    assert_eq!(completion, json!([]));
    let symbols = c.call(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": u } }),
    );
    assert_eq!(symbols, json!([]));
    // Plain text that is not JSON at all is a broken file: its syntax error is reported.
    let u2 = uri(&scratch.join("notes.json"));
    let d = c.open(&u2, "olá 😀\n");
    assert!(
        d.as_array()
            .is_some_and(|a| a.iter().all(|d| d["code"] == "json-syntax")),
        "{d}"
    );
    c.finish();
}

#[test]
fn a_did_you_mean_becomes_a_quick_fix() {
    let scratch = common::Scratch::new("lsp-didyoumean");
    let text = FLOW
        .replace("\"goto\": \"transbordo\"", "\"goto\": \"trasnbordo\"")
        .replace("toLowerCase()", "toLowercase()");
    let path = scratch.write("flow.json", &text);
    let u = uri(&path);
    let mut c = Client::start(&[]);
    let d = c.open(&u, &text);
    let end = json!({ "line": text.lines().count(), "character": 0 });
    let actions = c.call(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": u }, "range": { "start": { "line": 0, "character": 0 }, "end": end },
                "context": { "diagnostics": d } }),
    );
    let replacements: Vec<&Json> = actions
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| {
                    x["title"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("Replace with"))
                })
                .collect()
        })
        .unwrap_or_default();
    let titles: Vec<&str> = replacements
        .iter()
        .filter_map(|x| x["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        ["Replace with `toLowerCase`", "Replace with `transbordo`"]
    );
    let edits: Vec<Json> = replacements
        .iter()
        .flat_map(|x| {
            x["edit"]["changes"][&u]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(apply(&text, &Json::Array(edits)), FLOW);
    c.finish();
}
