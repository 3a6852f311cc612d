//! `fluxo studio` in a real headless Chromium, driven through WebDriver (Debian's `chromium`
//! and `chromium-driver`). Controls are found the way a screen reader finds them: by their
//! computed ARIA role and accessible name. Screenshots are kept under
//! `target/studio-screenshots/`. Without Chromium or its driver the tests print `SKIPPED`.

mod common;
mod studio_support;

use base64::Engine as _;
use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use studio_support::{start, workdir};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where Chromium and its driver are, when both are installed.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let find = |names: &[&str]| {
        names
            .iter()
            .map(|n| Path::new("/usr/bin").join(n))
            .find(|p| p.exists())
    };
    Some((
        find(&["chromium", "chromium-browser", "google-chrome"])?,
        find(&["chromedriver"])?,
    ))
}

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    shots: PathBuf,
    shot: usize,
    name: String,
    _profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // End the browser session first: killing chromedriver alone leaves Chromium running
        // after the test. A plain blocking request, since a destructor cannot await.
        if let Some(addr) = self.base.strip_prefix("http://") {
            if let Ok(mut s) = std::net::TcpStream::connect(addr) {
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let req = format!(
                    "DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    self.session
                );
                let _ = s.write_all(req.as_bytes());
                let mut answer = Vec::new();
                let _ = s.read_to_end(&mut answer);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Driver {
    async fn start(name: &str) -> Option<Driver> {
        let Some((chromium, chromedriver)) = tools() else {
            println!("SKIPPED: chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let ready = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                ready.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chromium-{name}"));
        let _ = std::fs::remove_dir_all(&profile);
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=1400,1900",
                         format!("--user-data-dir={}", profile.display())]
            }
        } } });
        let r: Json = http
            .post(format!("{base}/session"))
            .body(caps.to_string())
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("JSON");
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_owned();
        let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/studio-screenshots");
        std::fs::create_dir_all(&shots).expect("the screenshot directory");
        Some(Driver {
            child,
            base,
            session,
            http,
            shots,
            shot: 0,
            name: name.to_owned(),
            _profile: profile,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Json>) -> Json {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let r: Json = req
            .send()
            .await
            .expect("WebDriver")
            .json()
            .await
            .expect("JSON");
        r["value"].clone()
    }

    async fn post(&self, path: &str, body: Json) -> Json {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Json {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    async fn css(&self, css: &str) -> Vec<String> {
        let v = self
            .post(
                "/elements",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
            .collect()
    }

    /// The element with ARIA `role` and accessible name `name`, as the browser computes them.
    async fn by_role(&self, role: &str, name: &str) -> String {
        let css = match role {
            "button" => "button, [role=button]",
            "textbox" => "input, textarea, [role=textbox]",
            "log" => "[role=log]",
            "region" => "section, [role=region]",
            other => other,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut seen = Vec::new();
            for e in self.css(css).await {
                let r = self.get(&format!("/element/{e}/computedrole")).await;
                let l = self.get(&format!("/element/{e}/computedlabel")).await;
                if r.as_str() == Some(role) && l.as_str() == Some(name) {
                    return e;
                }
                seen.push(format!("{r} {l}"));
            }
            if Instant::now() >= deadline {
                let raw = self
                    .post(
                        "/elements",
                        json!({ "using": "css selector", "value": css }),
                    )
                    .await;
                panic!("no {role} named {name:?} on the page; found {seen:?} ({raw})");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn text(&self, e: &str) -> String {
        self.get(&format!("/element/{e}/text"))
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// Waits until the `role` named `name` shows `want`.
    async fn wait_text(&self, role: &str, name: &str, want: &str) -> String {
        let e = self.by_role(role, name).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let t = self.text(&e).await;
            if t.contains(want) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "the {role} {name:?} never showed {want:?}; it shows:\n{t}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn click(&self, role: &str, name: &str) {
        let e = self.by_role(role, name).await;
        self.post(&format!("/element/{e}/click"), json!({})).await;
    }

    /// Replaces what the textbox holds with `text` (a trailing `\n` presses Enter).
    async fn fill(&self, name: &str, text: &str) {
        let e = self.by_role("textbox", name).await;
        self.post(&format!("/element/{e}/clear"), json!({})).await;
        let keys = text.replace('\n', "\u{E007}");
        self.post(&format!("/element/{e}/value"), json!({ "text": keys }))
            .await;
    }

    /// The node marked as where the conversation is, waiting until it is `want`.
    async fn wait_current(&self, want: &str) {
        let graph = self.by_role("region", "Flow graph").await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self
                .post(
                    &format!("/element/{graph}/elements"),
                    json!({ "using": "css selector", "value": "[aria-current=step]" }),
                )
                .await;
            let ids: Vec<String> = found
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
                .collect();
            let mut at = Vec::new();
            for e in &ids {
                at.push(
                    self.get(&format!("/element/{e}/attribute/data-node-id"))
                        .await
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                );
            }
            if at == [want] {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the graph marks {at:?} as current, not {want}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn screenshot(&mut self, what: &str) -> PathBuf {
        let v = self.get("/screenshot").await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .expect("a PNG in base64");
        self.shot += 1;
        let path = self
            .shots
            .join(format!("{}-{:02}-{what}.png", self.name, self.shot));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_liveperson_hand_over_in_the_browser() {
    let Some(mut b) = Driver::start("handover").await else {
        return;
    };
    let dir = workdir("studio-browser");
    let s = start(&dir, &[]);
    b.goto(&s.url).await;

    // Welcome.
    b.wait_text("log", "Conversation", "digite seu CPF").await;
    b.wait_current("boas_vindas").await;
    b.wait_text("region", "Problems", "").await;
    b.screenshot("welcome").await;

    // The CPF, sent with Enter: the variables show it, marked as changed.
    b.fill("Message", "529.982.247-25\n").await;
    b.wait_text("log", "Conversation", "Como posso ajudar?")
        .await;
    let vars = b
        .wait_text("region", "Variables", "context.cpf (changed)")
        .await;
    assert!(vars.contains("\"529.982.247-25\""), "{vars}");
    b.wait_current("menu").await;

    // The menu, sent with the button: the hand-over, and the agent desk with the wire request.
    b.fill("Message", "2").await;
    b.click("button", "Send").await;
    b.wait_text(
        "log",
        "Conversation",
        "Vou transferir você para um atendente",
    )
    .await;
    b.wait_current("espera_atendente").await;
    b.click("button", "Provider opened").await;
    b.wait_text("log", "Conversation", "the provider accepted the hand-over")
        .await;
    b.fill("Agent name", "Carla").await;
    b.click("button", "Join as agent").await;
    b.wait_text("log", "Conversation", "Carla joined the chat")
        .await;
    b.fill(
        "Agent message",
        "Olá Maria, sou a Carla. Como posso ajudar?\n",
    )
    .await;
    b.wait_text("log", "Conversation", "Carla: Olá Maria, sou a Carla.")
        .await;
    b.wait_text(
        "region",
        "Clock",
        "customer inactivity ends the chat in 10 min",
    )
    .await;
    b.screenshot("agent-desk").await;

    // Ten minutes of silence: the inactivity branch answers.
    b.fill("Advance by", "10m").await;
    b.click("button", "Advance").await;
    b.wait_text(
        "log",
        "Conversation",
        "Encerramos o atendimento por falta de resposta",
    )
    .await;
    b.wait_text(
        "log",
        "Conversation",
        "live chat closed: user_inactivity_timeout",
    )
    .await;
    b.wait_current("inatividade").await;
    b.screenshot("inactivity").await;

    // Saved as a test, which `fluxo test` passes.
    b.fill("Test name", "inatividade-no-studio").await;
    b.click("button", "Save as test").await;
    let test = dir.join("inatividade-no-studio.test.json");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !test.exists() {
        assert!(Instant::now() < deadline, "the test was not saved");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .arg("test")
        .arg(&test)
        .output()
        .expect("run fluxo test");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    b.click("button", "Run tests").await;
    b.wait_text("region", "Tests", "1 passed, 0 failed").await;
    b.wait_text("region", "Tests", "close status transbordo: agent_closed")
        .await;
    b.screenshot("tests-run").await;

    // A golden transcript that no longer matches: the diff side by side, as chat bubbles.
    let golden = dir.join("inatividade-no-studio.transcript");
    let text = std::fs::read_to_string(&golden).expect("the golden transcript");
    std::fs::write(
        &golden,
        text.replace(
            "Encerramos o atendimento por falta",
            "Fechamos o chat por falta",
        ),
    )
    .expect("write the golden transcript");
    b.click("button", "Run tests").await;
    b.wait_text("region", "Tests", "0 passed, 1 failed").await;
    let diff = b
        .wait_text(
            "region",
            "Golden diff of saved from fluxo chat: inatividade-no-studio",
            "Fechamos o chat por falta",
        )
        .await;
    assert!(
        diff.contains("Encerramos o atendimento por falta"),
        "{diff}"
    );
    let changed = b.css("#test-results table.sbs tr.changed .b.bot").await;
    assert_eq!(
        changed.len(),
        2,
        "the changed message, golden and this run, face each other"
    );
    b.screenshot("golden-diff").await;
    std::fs::write(&golden, text).expect("restore the golden transcript");

    // Rewind to just after the CPF: the hand-over is gone, the conversation goes on from there.
    b.click("button", "Rewind to turn 1").await;
    b.wait_current("menu").await;
    let e = b.by_role("log", "Conversation").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.text(&e).await.contains("Vou transferir") {
        assert!(
            Instant::now() < deadline,
            "the rewind did not undo the hand-over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A variable edited by hand: the next turn reads it.
    b.fill("Variable", "context.cpf").await;
    b.fill("Value", "111.444.777-35\n").await;
    let vars = b
        .wait_text("region", "Variables", "\"111.444.777-35\"")
        .await;
    assert!(vars.contains("context.cpf (changed)"), "{vars}");
    b.fill("Message", "1\n").await;
    b.wait_text(
        "log",
        "Conversation",
        "Enviamos a segunda via para o e-mail cadastrado no CPF 111.444.777-35",
    )
    .await;
    b.wait_current("encerramento").await;
    b.screenshot("rewound").await;

    // Start at a node picked on the graph.
    let node = b.css("[data-node-id='sem_agente']").await;
    let node = node.first().expect("the node on the graph").clone();
    b.post(&format!("/element/{node}/click"), json!({})).await;
    b.click("button", "Start conversation here").await;
    b.wait_current("menu").await;
    let log = b
        .wait_text("log", "Conversation", "Nossos atendentes estão ocupados")
        .await;
    assert!(!log.contains("digite seu CPF"), "{log}");

    // Live reload: a broken `goto` on disk shows its finding, the studio says why it keeps
    // the previous version, and a restart still works.
    let flow = dir.join("liveperson.json");
    let text = std::fs::read_to_string(&flow).expect("the flow");
    std::fs::write(
        &flow,
        text.replacen("\"goto\": \"menu\"", "\"goto\": \"menu_que_nao_existe\"", 1),
    )
    .expect("write the flow");
    b.wait_text("region", "Problems", "unknown-goto-target")
        .await;
    b.screenshot("broken-file").await;
    b.click("button", "Restart conversation").await;
    b.wait_current("boas_vindas").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watson_workspace_in_the_browser() {
    let Some(mut b) = Driver::start("watson").await else {
        return;
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("studio-watson");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the work directory");
    std::fs::copy("examples/watson/pizzaria.json", dir.join("pizzaria.json"))
        .expect("copy the workspace");
    let s = start(&dir, &[]);
    b.goto(&s.url).await;
    b.wait_text("log", "Conversation", "Quer pedir uma pizza?")
        .await;
    b.fill("Message", "quero pedir uma pizza\n").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.css("body[data-turns='2']").await.is_empty() {
        assert!(Instant::now() < deadline, "the message was not answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = b
        .wait_text("log", "Conversation", "quero pedir uma pizza")
        .await;
    assert!(log.lines().count() >= 3, "{log}");
    // What the workspace understood of the message: intents and entities with confidences,
    // and the nodes it visited.
    let nlu = b.css("[data-understood]").await;
    assert_eq!(nlu.len(), 1, "one reading, for the one message");
    let nlu = b.text(&nlu[0]).await;
    assert!(nlu.contains("intents: #"), "{nlu}");
    assert!(
        regex::Regex::new(r"#\w+ [01]\.\d\d")
            .expect("a regex")
            .is_match(&nlu),
        "an intent with its confidence: {nlu}"
    );
    assert!(nlu.contains("nodes_visited: "), "{nlu}");
    assert!(!nlu.contains("nodes_visited: (none)"), "{nlu}");
    assert_eq!(
        b.css("[data-node-id][aria-current=step]").await.len(),
        1,
        "one node is where the conversation is"
    );
    let graph = b.by_role("region", "Flow graph").await;
    let nodes = b
        .post(
            &format!("/element/{graph}/elements"),
            json!({ "using": "css selector", "value": "[data-node-id]" }),
        )
        .await;
    assert!(
        nodes.as_array().is_some_and(|n| n.len() > 1),
        "the dialog tree is drawn"
    );
    b.screenshot("watson").await;
}

/// `fluxo serve --webchat`, killed when dropped.
struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves a menu bot (a numbered list, then an echo loop) with the web chat, on a free port.
fn serve_webchat() -> Serve {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("webchat-browser");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the flow directory");
    let flow = json!({ "nodes": [
        { "id": "menu", "condition": "start",
          "output": [ { "default": { "type": "text", "text": "Escolha:" } } ],
          "input": { "default": { "type": "select", "payload": { "options": [
              { "title": "Boleto", "value": "boleto" }, { "title": "Atendente", "value": "humano" } ] } } },
          "next": [ { "goto": "eco" } ] },
        { "id": "eco", "output": [ { "default": { "type": "text", "text": "Você disse <? input.text ?>." } } ],
          "next": [ { "goto": "espera" } ] },
        { "id": "espera", "input": { "default": { "type": "text_input" } }, "next": [ { "goto": "eco" } ] }
    ] });
    std::fs::write(dir.join("menu.json"), flow.to_string()).expect("write the flow");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .arg("serve")
        .arg("--flows")
        .arg(dir.join("menu.json"))
        .args(["--store", "memory:", "--listen", "127.0.0.1:0", "--webchat"])
        .env_remove("FLUXO_API_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fluxo serve");
    let stderr = child.stderr.take().expect("stderr");
    let addr = common::listen_address(stderr, "fluxo serve --webchat");
    Serve {
        child,
        base: format!("http://{addr}"),
    }
}

/// The reference web chat of `fluxo serve --webchat` in the browser: it starts the
/// conversation, draws the menu's options as numbered buttons from `awaiting_input`, sends a
/// click and a typed message, and shows a bot answer to an event the page never sent (posted by
/// this test over HTTP), which can only have come through its `EventSource` stream.
#[tokio::test(flavor = "multi_thread")]
async fn the_webchat_draws_inputs_and_follows_the_stream() {
    let Some(mut b) = Driver::start("webchat").await else {
        return;
    };
    let s = serve_webchat();
    b.goto(&format!(
        "{}/webchat?bot=menu&conversation=browser-1",
        s.base
    ))
    .await;
    b.wait_text("log", "Conversation", "Escolha:").await;
    b.by_role("button", "2. Atendente").await;
    let hint = b.css("#hint").await;
    let shown = b.text(hint.first().expect("the input's hint")).await;
    assert!(shown.contains("type an option's number"), "{shown}");
    b.screenshot("menu").await;

    b.click("button", "1. Boleto").await;
    b.wait_text("log", "Conversation", "Você disse boleto.")
        .await;
    b.fill("Message", "oi\n").await;
    b.wait_text("log", "Conversation", "Você disse oi.").await;

    // Another client of the same conversation: the answer reaches the page by the stream.
    let r = reqwest::Client::new()
        .post(format!(
            "{}/v1/bots/menu/conversations/browser-1/events",
            s.base
        ))
        .header("content-type", "application/json")
        .body(json!({ "type": "user", "text": "pelo outro lado" }).to_string())
        .send()
        .await
        .expect("the event is sent");
    assert!(r.status().is_success(), "{}", r.status());
    let log = b
        .wait_text("log", "Conversation", "Você disse pelo outro lado.")
        .await;
    assert_eq!(
        log.matches("pelo outro lado").count(),
        1,
        "the page shows the bot's answer, not a message it did not send: {log}"
    );
    b.screenshot("streamed").await;
}
