//! `fluxo studio` over HTTP, without a browser: the API plays a conversation, and the security
//! rules hold (token, Host, Origin, paths).

mod studio_support;

use reqwest::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value as Json};
use studio_support::{start, workdir, Studio};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

fn cookie(s: &Studio) -> String {
    format!("fluxo_studio={}", s.token)
}

async fn post(s: &Studio, path: &str, body: Json) -> (StatusCode, Json) {
    let r = client()
        .post(format!("{}{path}", s.base))
        .header(COOKIE, cookie(s))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("POST");
    let status = r.status();
    let text = r.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Json::Null))
}

async fn state(s: &Studio) -> Json {
    let r = client()
        .get(format!("{}/api/state", s.base))
        .header(COOKIE, cookie(s))
        .send()
        .await
        .expect("GET /api/state");
    assert_eq!(r.status(), StatusCode::OK);
    serde_json::from_str(&r.text().await.expect("a body")).expect("JSON")
}

fn said(state: &Json) -> String {
    state["open"]["turns"].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_the_host_and_the_origin_guard_every_route() {
    let s = start(&workdir("studio-security"), &[]);
    let c = client();
    for path in ["/", "/app.js", "/api/state", "/api/events"] {
        let r = c
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .expect("GET");
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "{path} without a token"
        );
        let r = c
            .get(format!("{}{path}", s.base))
            .header(COOKIE, "fluxo_studio=0123456789abcdef0123456789abcdef")
            .send()
            .await
            .expect("GET");
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "{path} with a wrong token"
        );
    }
    let r = c
        .post(format!("{}/api/restart", s.base))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // The URL's token becomes a cookie, and leaves the address bar.
    let r = c.get(&s.url).send().await.expect("GET the URL");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/");
    let set = r.headers()[SET_COOKIE].to_str().expect("ASCII");
    assert!(
        set.starts_with(&cookie(&s)) && set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let r = c
        .get(format!("{}/?token=nope", s.base))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // With the cookie: the page, with a policy that loads nothing from elsewhere.
    let r = c
        .get(format!("{}/", s.base))
        .header(COOKIE, cookie(&s))
        .send()
        .await
        .expect("GET /");
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let page = r.text().await.expect("the page");
    assert!(page.contains(r#"aria-label="Conversation""#));
    assert!(
        !page.contains("https://"),
        "the page loads nothing from elsewhere"
    );

    // DNS rebinding: a name that points here but is not this studio.
    let r = c
        .get(format!("{}/api/state", s.base))
        .header(COOKIE, cookie(&s))
        .header(HOST, "attacker.example:80")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A page elsewhere posting to the studio.
    let r = c
        .post(format!("{}/api/restart", s.base))
        .header(COOKIE, cookie(&s))
        .header(ORIGIN, "http://attacker.example")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Its own origin is fine.
    let r = c
        .post(format!("{}/api/restart", s.base))
        .header(COOKIE, cookie(&s))
        .header(ORIGIN, &s.base)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_read_or_written_outside_the_paths() {
    let dir = workdir("studio-paths");
    let s = start(&dir, &[]);
    for name in ["../escaped", "..", "sub/dir", "/tmp/abs", "..\\x", ""] {
        let (status, body) = post(&s, "/api/save", json!({ "name": name })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
    }
    assert!(!dir
        .parent()
        .expect("a parent")
        .join("escaped.test.json")
        .exists());
    let outside = std::fs::canonicalize("flows/liveperson.json").expect("the project's flow");
    let (status, body) = post(&s, "/api/open", json!({ "path": outside })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let sneaky = dir.join("../../../flows/liveperson.json");
    let (status, _) = post(&s, "/api/open", json!({ "path": sneaky })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_loopback_address_needs_an_explicit_flag() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args(["studio", "flows", "--no-open", "--listen", "0.0.0.0:0"])
        .output()
        .expect("run fluxo studio");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--allow-remote"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_plays_a_hand_over_and_saves_a_test_that_passes() {
    let dir = workdir("studio-api");
    let s = start(&dir, &[]);
    let st = state(&s).await;
    assert_eq!(st["open"]["current"], "boas_vindas");
    assert!(said(&st).contains("digite seu CPF"));
    let files = st["files"].to_string();
    assert!(
        files.contains("liveperson.json") && files.contains(r#""kind":"flow""#),
        "{files}"
    );

    let (status, _) = post(&s, "/api/say", json!({ "text": "529.982.247-25" })).await;
    assert_eq!(status, StatusCode::OK);
    let st = state(&s).await;
    assert_eq!(st["open"]["snapshot"]["context"]["cpf"], "529.982.247-25");
    assert!(st["open"]["changed"]
        .as_array()
        .expect("a list")
        .contains(&json!("context.cpf")));
    assert_eq!(st["open"]["current"], "menu");

    post(&s, "/api/say", json!({ "text": "2" })).await;
    let st = state(&s).await;
    assert_eq!(
        st["open"]["snapshot"]["live_chat"]["provider"],
        "liveperson"
    );
    assert!(
        st["open"]["request"]["url"].is_string(),
        "{}",
        st["open"]["request"]
    );
    assert!(st["open"]["graph"].as_str().expect("SVG").contains(r#"data-node-id="espera_atendente" tabindex="0" role="button" aria-label="Aguardando fim do atendimento (espera_atendente)" aria-current="step""#));

    for c in [
        json!({ "command": "provider_opened", "remote_id": "conv-1" }),
        json!({ "command": "agent_join", "name": "Carla" }),
        json!({ "command": "agent_say", "text": "Olá, sou a Carla." }),
    ] {
        let (status, body) = post(&s, "/api/command", c).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = post(&s, "/api/advance", json!({ "by": "ten minutes" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = post(&s, "/api/advance", json!({ "by": "10m" })).await;
    assert_eq!(status, StatusCode::OK);
    let st = state(&s).await;
    assert!(said(&st).contains("Encerramos o atendimento por falta de resposta"));
    assert_eq!(st["open"]["current"], "inatividade");

    let (status, body) = post(&s, "/api/save", json!({ "name": "inatividade" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let test = dir.join("inatividade.test.json");
    assert!(test.exists());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fluxo"))
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

    // Rewind to just after the CPF: the hand-over is undone.
    let (status, _) = post(&s, "/api/rewind", json!({ "turn": 1 })).await;
    assert_eq!(status, StatusCode::OK);
    let st = state(&s).await;
    assert_eq!(st["open"]["turns"].as_array().map(Vec::len), Some(2));
    assert!(st["open"]["snapshot"]["live_chat"].is_null());
    assert_eq!(st["open"]["current"], "menu");
    let (status, _) = post(&s, "/api/rewind", json!({ "turn": 9 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The tests under the path run; what they never reach is listed and drawn.
    let (status, _) = post(&s, "/api/tests/run", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let st = state(&s).await;
    assert_eq!(
        (
            st["tests"]["passed"].as_u64(),
            st["tests"]["failed"].as_u64()
        ),
        (Some(1), Some(0)),
        "{}",
        st["tests"]
    );
    let never = st["open"]["uncovered"]["close_statuses"].to_string();
    assert!(
        never.contains("transbordo: agent_closed") && !never.contains("user_inactivity_timeout"),
        "{never}"
    );
    assert!(st["open"]["graph"]
        .as_str()
        .expect("SVG")
        .contains(r#"class="edge status uncovered" data-edge="espera_atendente -&gt; pesquisa""#));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conversation_started_at_a_node_with_a_variable_set_by_hand_saves_a_test_that_replays_it()
{
    let dir = workdir("studio-start-set");
    let s = start(&dir, &[]);
    let (status, body) = post(&s, "/api/start", json!({ "node": "nao_existe" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]
        .as_str()
        .is_some_and(|e| e.contains("nao_existe")));

    // Straight to the menu: the welcome never runs.
    let (status, body) = post(&s, "/api/start", json!({ "node": "menu" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let st = state(&s).await;
    assert_eq!(st["open"]["current"], "menu");
    assert_eq!(st["open"]["start_node"], "menu");
    assert!(said(&st).contains("Como posso ajudar?"));
    assert!(!said(&st).contains("digite seu CPF"));

    // A variable set by hand is an event of the conversation: the next turn reads it.
    let (status, body) = post(&s, "/api/command", json!({ "command": "set" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let set = json!({ "command": "set", "context": { "cpf": "111.444.777-35" } });
    let (status, body) = post(&s, "/api/command", set).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let st = state(&s).await;
    assert_eq!(st["open"]["snapshot"]["context"]["cpf"], "111.444.777-35");
    assert_eq!(st["open"]["changed"], json!(["context.cpf"]));
    post(&s, "/api/say", json!({ "text": "1" })).await;
    let st = state(&s).await;
    assert!(
        said(&st).contains("e-mail cadastrado no CPF 111.444.777-35"),
        "{}",
        said(&st)
    );

    // Saved: the test starts at the menu and sets the CPF, and `fluxo test` replays it.
    let (status, body) = post(&s, "/api/save", json!({ "name": "menu-direto" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let test = dir.join("menu-direto.test.json");
    let saved: Json =
        serde_json::from_str(&std::fs::read_to_string(&test).expect("the test")).expect("JSON");
    let conv = &saved["conversations"][0];
    assert_eq!(conv["start"]["node"], "menu", "{saved}");
    assert_eq!(
        conv["steps"][0],
        json!({ "set": { "context": { "cpf": "111.444.777-35" } } })
    );
    let golden = std::fs::read_to_string(dir.join("menu-direto.transcript")).expect("golden");
    assert!(
        golden.contains(r#""type":"start_at","node":"menu""#),
        "{golden}"
    );
    assert!(golden.contains("CPF 111.444.777-35"), "{golden}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fluxo"))
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

    // Restart goes back to the start node.
    post(&s, "/api/restart", json!({})).await;
    let st = state(&s).await;
    assert_eq!(st["open"]["current"], "boas_vindas");
    assert!(st["open"]["start_node"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn advance_to_the_next_deadline_fires_the_inactivity_timer() {
    let s = start(&workdir("studio-next-deadline"), &[]);
    let (status, body) = post(&s, "/api/advance", json!({ "to": "next_deadline" })).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "nothing pending yet: {body}"
    );
    assert!(body["error"]
        .as_str()
        .is_some_and(|e| e.contains("no deadline")));
    for text in ["529.982.247-25", "2"] {
        post(&s, "/api/say", json!({ "text": text })).await;
    }
    for c in [
        json!({ "command": "provider_opened", "remote_id": "conv-1" }),
        json!({ "command": "agent_join", "name": "Carla" }),
        json!({ "command": "agent_say", "text": "Olá, sou a Carla." }),
    ] {
        let (status, body) = post(&s, "/api/command", c).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let before = state(&s).await;
    let snap = &before["open"]["snapshot"];
    let due = snap["live_chat"]["inactivity_deadline"]
        .as_i64()
        .expect("a deadline");
    assert_eq!(snap["next_deadline"].as_i64(), Some(due));
    let (status, body) = post(&s, "/api/advance", json!({ "to": "tomorrow" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = post(&s, "/api/advance", json!({ "to": "next_deadline" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let st = state(&s).await;
    assert_eq!(st["open"]["snapshot"]["clock"].as_i64(), Some(due));
    assert!(said(&st).contains("Encerramos o atendimento por falta de resposta"));
    assert_eq!(st["open"]["current"], "inatividade");
    let (status, _) = post(&s, "/api/advance", json!({ "to": "next_deadline" })).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the chat is over: nothing pending"
    );
}
