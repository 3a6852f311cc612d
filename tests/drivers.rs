//! The provider drivers end to end, against fake provider APIs on 127.0.0.1 (wiremock): a flow
//! hands over, the fake receives exactly the documented requests (headers and auth included),
//! the fake's webhooks — sent to fluxo's router, signed as the provider signs them — drive the
//! agent's join, messages both ways and the close, and the flow resumes in that status's branch.
//! Then the failures: retries, timeouts, bad answers, bad signatures, duplicates.

#![cfg(feature = "drivers")]

mod common;

use base64::Engine as _;
use fluxo::drivers::http::{Http, RetryPolicy};
use fluxo::engine::{Bot, CloseStatus, Event, Output, RepresentativeType};
use fluxo::runtime::{Delivery, MemoryStore, Runtime, TokioClock};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Secrets, set once for the whole test process (same values everywhere).
fn secrets() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (k, v) in [
            ("T_LP_CLIENT_ID", "lp-client-id-4f1"),
            ("T_LP_CLIENT_SECRET", "lp-client-secret-9a8b7c"),
            ("T_LP_APP_SECRET", "lp-app-secret-5d6e"),
            ("T_ZD_API_TOKEN", "zd-api-token-11aa22"),
            ("T_ZD_WEBHOOK_SECRET", "zd-webhook-secret-33bb"),
            ("T_ALTU_ACCESS_KEY", "altu-access-key-44cc55dd"),
            ("T_ALTU_ACCESS_TOKEN", "altu-access-token-66ee"),
            ("T_OMNI_API_KEY", "omni-api-key-77ff"),
            ("T_OMNI_WEBHOOK_SECRET", "omni-webhook-secret-88gg"),
            ("T_WEBEX_TOKEN", "webex-token-99hh"),
            ("T_WEBEX_WEBHOOK_SECRET", "webex-webhook-secret-00ii"),
            ("T_WEBEX_REFRESH_TOKEN", "webex-refresh-token-11jj"),
            ("T_WEBEX_CLIENT_ID", "webex-client-id-22kk"),
            ("T_WEBEX_CLIENT_SECRET", "webex-client-secret-33ll"),
            ("T_WEBEX_EMPTY_SECRET", ""),
        ] {
            // Process-wide, set once, before any driver reads them.
            std::env::set_var(k, v);
        }
    });
}

const ALL_SECRETS: &[&str] = &[
    "lp-client-id-4f1",
    "lp-client-secret-9a8b7c",
    "lp-app-secret-5d6e",
    "zd-api-token-11aa22",
    "zd-webhook-secret-33bb",
    "altu-access-key-44cc55dd",
    "altu-access-token-66ee",
    "omni-api-key-77ff",
    "omni-webhook-secret-88gg",
    "webex-token-99hh",
    "webex-webhook-secret-00ii",
    "webex-refresh-token-11jj",
    "webex-client-id-22kk",
    "webex-client-secret-33ll",
    // What the fake token endpoint issues.
    "webex-access-1-55nn",
    "webex-access-2-55nn",
    "webex-refresh-rotated-44mm",
];

fn read(p: &str) -> String {
    std::fs::read_to_string(common::root().join(p)).expect("read")
}

fn integration(provider: &str, base: &str) -> Value {
    match provider {
        "liveperson" => {
            json!({ "id": 7, "provider": "liveperson", "wait_timeout_s": 300, "user_inactivity_timeout_s": 600,
            "settings": { "account_id": "123", "domain_url": base, "client_id": { "env": "T_LP_CLIENT_ID" },
                          "client_secret": { "env": "T_LP_CLIENT_SECRET" }, "app_secret": { "env": "T_LP_APP_SECRET" },
                          "agent_display_name": "Atendente ACME", "bot_participants": { "lp-bot-1": "Assistente ACME" } } })
        }
        "zendesk" => json!({ "id": 1, "provider": "zendesk", "wait_timeout_s": 120,
            "settings": { "base_url": base, "mode": "tickets", "email": "bot@acme.example", "api_token": { "env": "T_ZD_API_TOKEN" },
                          "webhook_secret": { "env": "T_ZD_WEBHOOK_SECRET" } } }),
        "altu_connector" => json!({ "id": 2, "provider": "altu_connector", "include_history": true,
            "settings": { "webhook_url": format!("{base}/altu/receive"), "access_key": { "env": "T_ALTU_ACCESS_KEY" },
                          "access_token": { "env": "T_ALTU_ACCESS_TOKEN" } } }),
        "omni" => json!({ "id": 3, "provider": "omni",
            "settings": { "base_url": base, "api_key": { "env": "T_OMNI_API_KEY" }, "webhook_secret": { "env": "T_OMNI_WEBHOOK_SECRET" } } }),
        _ => {
            json!({ "id": 4, "provider": "webex_cc", "mask_pii": true, "max_agent_message_chars": 1000,
            "settings": { "base_url": base, "entry_point_id": "ep-1", "access_token": { "env": "T_WEBEX_TOKEN" },
                          "webhook_secret": { "env": "T_WEBEX_WEBHOOK_SECRET" } } })
        }
    }
}

struct Harness {
    rt: Runtime,
    rx: tokio::sync::broadcast::Receiver<Delivery>,
    router: String,
    mock: MockServer,
}

async fn harness(provider: &str, policy: RetryPolicy) -> Harness {
    harness_with(provider, policy, |base| integration(provider, base)).await
}

/// [`harness`] with an integration of the test's own, made from the fake's base URL.
async fn harness_with(
    provider: &str,
    policy: RetryPolicy,
    integ: impl FnOnce(&str) -> Value,
) -> Harness {
    secrets();
    let mock = MockServer::start().await;
    let integ = json!({ "integrations": [ integ(&mock.uri()) ] });
    let bot = Bot::from_json(
        &read(&format!("flows/{provider}.json")),
        Some(&integ.to_string()),
    )
    .expect("flow loads");
    let (rt, rx) = Runtime::new(
        bot,
        Arc::new(MemoryStore::default()),
        Http::new(policy),
        Arc::new(TokioClock::starting_at(1_795_453_200_000)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = fluxo::runtime::server::router(rt.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Harness {
        rt,
        rx,
        router: format!("http://{addr}"),
        mock,
    }
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(2),
        timeout: Duration::from_millis(500),
    }
}

async fn hand_over(h: &Harness) -> Vec<Output> {
    let start = Event::Start {
        channel: None,
        context: json!({ "zendeskTag": "vip", "matricula": "2024001" })
            .as_object()
            .cloned(),
        contact: json!({ "name": "Maria Silva", "email": "maria@exemplo.com.br" })
            .as_object()
            .cloned(),
    };
    to_the_agent(&h.rt, "maria", start).await
}

/// Start, give the CPF, ask for an agent; returns the outputs of the last step.
async fn to_the_agent(rt: &Runtime, id: &str, start: Event) -> Vec<Output> {
    rt.event(id, start).await;
    rt.event(id, user("529.982.247-25")).await;
    rt.event(id, user("2")).await
}

fn plain_start() -> Event {
    Event::Start {
        channel: None,
        context: None,
        contact: None,
    }
}

fn user(t: &str) -> Event {
    Event::User {
        text: t.into(),
        intent: None,
        entities: None,
        confidence: None,
    }
}

async fn post(url: &str, headers: &[(&str, String)], body: &[u8]) -> u16 {
    let client = reqwest::Client::new();
    let mut b = client.post(url).body(body.to_vec());
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    b.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

/// Node ids fired since the last call (drains the deliveries).
fn fired(h: &mut Harness) -> Vec<String> {
    let mut ids = Vec::new();
    while let Ok(d) = h.rx.try_recv() {
        if let Output::NodeEntered { id } = d.output {
            ids.push(id);
        }
    }
    ids
}

fn closed(out: &[Output]) -> Option<CloseStatus> {
    out.iter().find_map(|o| match o {
        Output::LiveChatClosed { status, .. } => Some(*status),
        _ => None,
    })
}

/// The fake's received requests, as `METHOD /path` + chosen headers + body, for snapshots.
async fn requests(mock: &MockServer, keep_headers: &[&str]) -> String {
    let mut s = String::new();
    for r in mock.received_requests().await.unwrap_or_default() {
        s.push_str(&format!("{} {}", r.method, r.url.path()));
        if let Some(q) = r.url.query() {
            s.push_str(&format!("?{q}"));
        }
        s.push('\n');
        for h in keep_headers {
            if let Some(v) = r.headers.get(*h) {
                s.push_str(&format!("  {h}: {}\n", v.to_str().unwrap_or("?")));
            }
        }
        let body = String::from_utf8_lossy(&r.body);
        if !body.is_empty() {
            let shown = serde_json::from_str::<Value>(&body)
                .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
                .unwrap_or(body.into_owned());
            for line in shown.lines() {
                s.push_str(&format!("  | {line}\n"));
            }
        }
    }
    s
}

/// Replaces Unix timestamps (which change every run) in request bodies.
fn scrub_times(s: &str) -> String {
    let re = regex::Regex::new(r#""(timestamp|at)": \d+"#).expect("regex");
    re.replace_all(s, "\"$1\": <time>").into_owned()
}

fn lp_sign(body: &[u8]) -> String {
    fluxo::drivers::signature::liveperson("lp-app-secret-5d6e", body)
}

/// A fake LivePerson for the harness: service discovery, tokens, the conversation and sends.
async fn liveperson_fake(h: &Harness) {
    let base = h.mock.uri();
    for service in ["sentinel", "idp", "asyncMessagingEnt", "swift"] {
        Mock::given(method("GET"))
            .and(path(format!(
                "/api/account/123/service/{service}/baseURI.json"
            )))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(
                    json!({ "service": service, "account": "123", "baseURI": base }),
                ),
            )
            .mount(&h.mock)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/sentinel/api/account/123/app/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({ "access_token": "app-jwt-1", "token_type": "Bearer", "expires_in": 3600 }),
        ))
        .expect(1)
        .mount(&h.mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/account/123/consumer"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "token": "consumer-jws-1" })),
        )
        .expect(1)
        .mount(&h.mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/account/123/messaging/consumer/conversation"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            { "reqId": "1,", "code": "OK", "body": { "msg": "OK User Profile set successfully" } },
            { "reqId": "2,", "code": "OK", "body": { "conversationId": "conv-77" } } ])))
        .expect(1)
        .mount(&h.mock)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/api/account/123/messaging/consumer/conversation/send",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "reqId": "1", "code": "OK", "body": { "sequence": 0 } })),
        )
        .mount(&h.mock)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveperson_end_to_end() {
    let mut h = harness("liveperson", fast()).await;
    let base = h.mock.uri();
    liveperson_fake(&h).await;

    hand_over(&h).await;
    let s = h.rt.session("maria").await.expect("session");
    assert_eq!(s.live_chat().and_then(|c| c.remote_id()), Some("conv-77"));
    assert_eq!(
        s.context()["transbordo"]["body"]["body"]["conversationId"],
        "conv-77",
        "the result variable (SPEC §4.3's LivePerson shape)"
    );

    let hook = format!("{}/webhooks/7", h.router);
    let join = json!({ "kind": "notification", "type": "cqm.ExConversationChangeNotification", "body": { "changes": [ { "type": "UPSERT",
        "result": { "convId": "conv-77", "conversationDetails": { "state": "OPEN", "stage": "OPEN",
            "participants": [ { "id": "carla-1", "role": "ASSIGNED_AGENT" }, { "id": "c", "role": "CONSUMER" } ] } } } ] } }).to_string();
    let sig = |b: &str| {
        vec![
            ("x-liveperson-signature", lp_sign(b.as_bytes())),
            ("x-liveperson-account-id", "123".to_owned()),
        ]
    };
    assert_eq!(post(&hook, &sig(&join), join.as_bytes()).await, 200);
    // An agent message with accents and an emoji: the signature is over the raw bytes.
    let msg = json!({ "kind": "notification", "type": "ms.MessagingEventNotification", "body": { "changes": [ { "sequence": 3,
        "originatorId": "carla-1", "serverTimestamp": 1_795_453_260_000_i64, "originatorMetadata": { "id": "carla-1", "role": "ASSIGNED_AGENT" }, "conversationId": "conv-77", "dialogId": "conv-77",
        "event": { "type": "ContentEvent", "contentType": "text/plain", "message": "Olá Maria, já vi sua fatura 😀" } } ] } }).to_string();
    assert_eq!(post(&hook, &sig(&msg), msg.as_bytes()).await, 200);
    // The fixtures follow LivePerson's own notification schema.
    if let Some(v) =
        common::vendor_file_validator("liveperson/assets/schema/ms/messagingEventNotification.json")
    {
        let body: Value = serde_json::from_str(&msg).expect("json");
        let errors: Vec<String> = v
            .iter_errors(&body["body"])
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
    // The same delivery again: acknowledged, no second effect.
    assert_eq!(post(&hook, &sig(&msg), msg.as_bytes()).await, 200);
    // As in LivePerson's own webhook examples: `dialogId` only, and a SHA-256 signature.
    let by_dialog = json!({ "kind": "notification", "type": "ms.MessagingEventNotification", "body": { "changes": [ { "sequence": 4,
        "originatorId": "carla-1", "serverTimestamp": 1_795_453_260_000_i64, "originatorMetadata": { "id": "carla-1", "role": "ASSIGNED_AGENT" }, "dialogId": "conv-77",
        "event": { "type": "ContentEvent", "contentType": "text/plain", "message": "Pode me passar o CPF?" } } ] } }).to_string();
    let sha256 = vec![
        (
            "x-liveperson-signature",
            fluxo::drivers::signature::liveperson_sha256(
                "lp-app-secret-5d6e",
                by_dialog.as_bytes(),
            ),
        ),
        ("x-liveperson-account-id", "123".to_owned()),
    ];
    assert_eq!(post(&hook, &sha256, by_dialog.as_bytes()).await, 200);
    // A private line between the agent and a manager never reaches the customer.
    let private = json!({ "kind": "notification", "type": "ms.MessagingEventNotification", "body": { "changes": [ { "sequence": 5,
        "originatorId": "carla-1", "serverTimestamp": 1_795_453_260_000_i64, "originatorMetadata": { "id": "carla-1", "role": "ASSIGNED_AGENT" }, "conversationId": "conv-77", "dialogId": "conv-77",
        "event": { "type": "ContentEvent", "contentType": "text/plain", "message": "cliente difícil, ajuda?", "messageAudience": "AGENTS_AND_MANAGERS" } } ] } }).to_string();
    assert_eq!(post(&hook, &sig(&private), private.as_bytes()).await, 200);
    // Typing both ways: the agent's `ChatStateEvent` reaches the user; the user's typing goes
    // to LivePerson as a `ChatStateEvent` (validated with the other published events below).
    let typing = json!({ "kind": "notification", "type": "ms.MessagingEventNotification", "body": { "changes": [ { "sequence": 6,
        "originatorId": "carla-1", "serverTimestamp": 1_795_453_260_000_i64, "originatorMetadata": { "id": "carla-1", "role": "ASSIGNED_AGENT" }, "dialogId": "conv-77",
        "event": { "type": "ChatStateEvent", "chatState": "COMPOSING" } } ] } }).to_string();
    assert_eq!(post(&hook, &sig(&typing), typing.as_bytes()).await, 200);
    h.rt.event("maria", Event::UserTyping { typing: true })
        .await;
    let out = h.rt.event("maria", user("Obrigada! Pode estornar?")).await;
    assert!(matches!(&out[..], [Output::RelayToAgent { .. }]), "{out:?}");
    let close = json!({ "kind": "notification", "type": "cqm.ExConversationChangeNotification", "body": { "changes": [ { "type": "UPSERT",
        "result": { "convId": "conv-77", "conversationDetails": { "state": "CLOSE", "stage": "CLOSE", "closeReason": "AGENT" } } } ] } }).to_string();
    assert_eq!(post(&hook, &sig(&close), close.as_bytes()).await, 200);

    let s = h.rt.session("maria").await.expect("session");
    assert!(s.live_chat().is_none());
    assert_eq!(
        s.focus(),
        Some("pesquisa"),
        "the flow resumed in the agent_closed branch"
    );
    // Every message fluxo published validates against LivePerson's own `PublishEvent` schema
    // (the start message once carried no `dialogId`).
    if let Some(v) = common::vendor_file_validator("liveperson/assets/schema/ms/PublishEvent.json")
    {
        let mut checked = 0;
        for r in h.mock.received_requests().await.unwrap_or_default() {
            let Ok(b) = serde_json::from_slice::<Value>(&r.body) else {
                continue;
            };
            if b["type"] == "ms.PublishEvent" {
                let errors: Vec<String> =
                    v.iter_errors(&b["body"]).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{b}: {errors:?}");
                checked += 1;
            }
        }
        assert!(
            checked >= 2,
            "the start message and the relay were checked ({checked})"
        );
        assert!(!v.is_valid(&json!({ "event": { "type": "ContentEvent", "contentType": "text/plain", "message": "sem dialogId" } })));
    }
    let mut transcript = Vec::new();
    while let Ok(d) = h.rx.try_recv() {
        transcript.push(serde_json::to_string(&d.output).unwrap_or_default());
    }
    let agent_msgs = transcript
        .iter()
        .filter(|l| l.contains("\"type\":\"message\"") && l.contains("\"from\":\"agent\""))
        .count();
    assert_eq!(
        agent_msgs, 2,
        "the duplicate webhook had no effect, the private line was not shown: {transcript:#?}"
    );
    assert!(transcript
        .iter()
        .any(|l| l.contains("Pode me passar o CPF?")));
    assert!(!transcript.iter().any(|l| l.contains("cliente difícil")));
    assert!(
        transcript
            .iter()
            .any(|l| l == r#"{"type":"typing","from":"agent","typing":true}"#),
        "{transcript:#?}"
    );
    assert!(transcript
        .iter()
        .any(|l| l.contains("Olá Maria, já vi sua fatura 😀")));
    assert!(
        transcript
            .iter()
            .any(|l| l.contains("\"status\":\"agent_closed\",\"reason\":\"AGENT\"")),
        "the raw close reason is kept"
    );
    let reqs = requests(
        &h.mock,
        &["authorization", "x-lp-on-behalf", "content-type"],
    )
    .await
    .replace(&base, "http://fake");
    assert!(
        reqs.contains("authorization: app-jwt-1")
            && reqs.contains("x-lp-on-behalf: consumer-jws-1")
    );
    assert!(
        reqs.contains("client_secret=lp-client-secret-9a8b7c"),
        "the secret goes to Sentinel, in the form body"
    );
    insta::assert_snapshot!(
        "liveperson_requests",
        reqs.replace("lp-client-secret-9a8b7c", "<client_secret>")
            .replace("lp-client-id-4f1", "<client_id>")
    );
}

/// What LivePerson's notifications say about who is in the conversation and what they sent:
/// an agent only offered the conversation (`SUGGESTED`) has not joined; the assigned agent
/// joins under the configured display name, never the opaque participant id; a LivePerson bot
/// is announced as `BOT`; a private line marked beside the event is not shown; a hosted file
/// reaches the user with a signed download URL; rich content passes through; and LivePerson's
/// echo of a close fluxo asked for is no error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveperson_participants_files_and_rich_content() {
    let mut h = harness("liveperson", fast()).await;
    let base = h.mock.uri();
    // Mounted before the fake's generic answer to every send, so it is matched first.
    Mock::given(method("POST"))
        .and(path("/api/account/123/messaging/consumer/conversation/send"))
        .and(wiremock::matchers::body_string_contains("GenerateURLForDownloadFile"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "kind": "resp", "reqId": "1", "code": 200,
            "type": "ms.GenerateURLResponse", "body": { "relativePath": "/v1/AUTH_async-images/123/fatura.pdf",
            "queryParams": { "temp_url_sig": "sig-abc", "temp_url_expires": "1795460000" } } })))
        .with_priority(1)
        .mount(&h.mock)
        .await;
    liveperson_fake(&h).await;
    hand_over(&h).await;
    let hook = format!("{}/webhooks/7", h.router);
    let sig = |b: &str| {
        vec![
            ("x-liveperson-signature", lp_sign(b.as_bytes())),
            ("x-liveperson-account-id", "123".to_owned()),
        ]
    };
    let send = |body: Value| {
        let hook = hook.clone();
        async move {
            let b = body.to_string();
            post(&hook, &sig(&b), b.as_bytes()).await
        }
    };
    let roster = |participants: Value| {
        json!({ "kind": "notification", "type": "cqm.ExConversationChangeNotification", "body": { "subscriptionId": "s-1", "changes": [ { "type": "UPSERT",
            "result": { "convId": "conv-77", "conversationDetails": { "state": "OPEN", "stage": "OPEN", "startTs": 1_795_453_200_000_i64,
                "participants": participants } } } ] } })
    };
    let suggested = roster(
        json!([ { "id": "sug-1", "role": "ASSIGNED_AGENT", "state": "SUGGESTED" }, { "id": "c", "role": "CONSUMER" } ]),
    );
    assert_eq!(send(suggested).await, 200);
    let s = h.rt.session("maria").await.expect("session");
    assert!(
        s.live_chat().is_some_and(|c| c.agents().is_empty()),
        "a suggested agent has not joined"
    );
    let assigned = roster(
        json!([ { "id": "carla-1", "role": "ASSIGNED_AGENT", "state": "ACTIVE" }, { "id": "c", "role": "CONSUMER" } ]),
    );
    if let Some(v) = common::vendor_file_validator(
        "liveperson/assets/schema/aam/subscribeExConversationsNotification.json",
    ) {
        let errors: Vec<String> = v
            .iter_errors(&assigned["body"])
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
    assert_eq!(send(assigned.clone()).await, 200);
    // The whole roster again (LivePerson repeats it on every change): nothing new.
    assert_eq!(send(assigned).await, 200);
    let change = |seq: u32, event: Value, audience: &str| {
        json!({ "kind": "notification", "type": "ms.MessagingEventNotification", "body": { "changes": [ { "sequence": seq,
            "originatorId": "carla-1", "serverTimestamp": 1_795_453_260_000_i64, "originatorMetadata": { "id": "carla-1", "role": "ASSIGNED_AGENT" },
            "conversationId": "conv-77", "dialogId": "conv-77", "messageAudience": audience, "event": event } ] } })
    };
    // As on LivePerson's events page: `messageAudience` beside the event.
    let private = change(
        10,
        json!({ "type": "ContentEvent", "contentType": "text/plain", "message": "só entre nós" }),
        "AGENTS_AND_MANAGERS",
    );
    assert_eq!(send(private).await, 200);
    let file = change(
        11,
        json!({ "type": "ContentEvent", "contentType": "hosted/file",
        "message": { "caption": "fatura.pdf", "relativePath": "/v1/AUTH_async-images/123/fatura.pdf", "fileType": "PDF" } }),
        "ALL",
    );
    if let Some(v) = common::vendor_file_validator("liveperson/assets/schema/ms/HostedFile.json") {
        assert!(v.is_valid(
            &json!({ "type": "ContentEvent", "contentType": "HostedFile",
            "message": file["body"]["changes"][0]["event"]["message"] })
        ));
    }
    assert_eq!(send(file).await, 200);
    let card = json!({ "type": "vertical", "elements": [ { "type": "text", "text": "Escolha uma opção" },
        { "type": "button", "title": "Segunda via", "click": { "actions": [ { "type": "publishText", "text": "segunda via" } ] } } ] });
    let rich = change(
        12,
        json!({ "type": "RichContentEvent", "content": card }),
        "ALL",
    );
    assert_eq!(send(rich).await, 200);
    // Chat states come without a sequence (LivePerson's "Agent is typing" example) and repeat:
    // typing, stopping, typing again are three indications, not one.
    for state in ["COMPOSING", "ACTIVE", "COMPOSING"] {
        let typing = json!({ "kind": "notification", "type": "ms.MessagingEventNotification", "body": { "changes": [ {
            "originatorId": "carla-1", "originatorMetadata": { "id": "carla-1", "role": "ASSIGNED_AGENT" },
            "event": { "type": "ChatStateEvent", "chatState": state }, "dialogId": "conv-77" } ] } });
        assert_eq!(send(typing).await, 200);
    }
    let bot = roster(
        json!([ { "id": "carla-1", "role": "ASSIGNED_AGENT", "state": "ACTIVE" },
        { "id": "lp-bot-1", "role": "ASSIGNED_AGENT", "state": "ACTIVE" }, { "id": "c", "role": "CONSUMER" } ]),
    );
    assert_eq!(send(bot).await, 200);
    // The user leaves; fluxo closes the conversation on LivePerson, whose notification of
    // that close comes back: acknowledged, and no error.
    h.rt.event("maria", Event::UserClose { reason: None }).await;
    let echo = json!({ "kind": "notification", "type": "cqm.ExConversationChangeNotification", "body": { "changes": [ { "type": "UPSERT",
        "result": { "convId": "conv-77", "conversationDetails": { "state": "CLOSE", "stage": "CLOSE", "closeReason": "CONSUMER" } } } ] } });
    assert_eq!(send(echo).await, 200);

    let mut out = Vec::new();
    while let Ok(d) = h.rx.try_recv() {
        out.push(d.output);
    }
    let joined: Vec<(String, RepresentativeType)> = out
        .iter()
        .filter_map(|o| match o {
            Output::RepresentativeJoined {
                name,
                representative_type,
                ..
            } => Some((name.clone(), *representative_type)),
            _ => None,
        })
        .collect();
    assert_eq!(
        joined,
        [
            ("Atendente ACME".to_owned(), RepresentativeType::Human),
            ("Assistente ACME".to_owned(), RepresentativeType::Bot)
        ],
        "{out:#?}"
    );
    let left: Vec<RepresentativeType> = out
        .iter()
        .filter_map(|o| match o {
            Output::RepresentativeLeft {
                representative_type,
                ..
            } => Some(*representative_type),
            _ => None,
        })
        .collect();
    assert_eq!(left, [RepresentativeType::Human, RepresentativeType::Bot]);
    assert!(
        !format!("{out:?}").contains("carla-1"),
        "the participant id is never shown"
    );
    let typing: Vec<bool> = out
        .iter()
        .filter_map(|o| match o {
            Output::Typing { from, typing } if from == "agent" => Some(*typing),
            _ => None,
        })
        .collect();
    assert_eq!(typing, [true, false, true]);
    assert!(
        !format!("{out:?}").contains("só entre nós"),
        "the private line is not shown"
    );
    let file_url = format!("{base}/v1/AUTH_async-images/123/fatura.pdf?temp_url_sig=sig-abc&temp_url_expires=1795460000");
    assert!(
        out.iter().any(
            |o| matches!(o, Output::File { from, url, name: Some(n), mime_type: Some(m) }
            if from == "agent" && *url == file_url && n == "fatura.pdf" && m == "application/pdf")
        ),
        "{out:#?}"
    );
    assert!(
        out.iter().any(|o| matches!(o, Output::Message { from: fluxo::engine::Speaker::Agent, text: None, message: Some(m), .. } if *m == card)),
        "{out:#?}"
    );
    assert!(
        !out.iter().any(|o| matches!(o, Output::Error { .. })),
        "the echo of fluxo's own close is no error: {out:#?}"
    );
    assert!(
        out.iter().any(|o| matches!(
            o,
            Output::LiveChatClosed {
                status: CloseStatus::UserClosed,
                ..
            }
        )),
        "{out:#?}"
    );
    // The download URL was asked for with LivePerson's own request.
    if let Some(v) = common::vendor_file_validator(
        "liveperson/assets/schema/ms/GenerateURLForDownloadFileBody.json",
    ) {
        let mut asked = 0;
        for r in h.mock.received_requests().await.unwrap_or_default() {
            let Ok(b) = serde_json::from_slice::<Value>(&r.body) else {
                continue;
            };
            if b["type"] == "ms.GenerateURLForDownloadFile" {
                assert!(v.is_valid(&b["body"]), "{b}");
                asked += 1;
            }
        }
        assert_eq!(asked, 1);
    }
}

/// Zendesk's signature headers for `body`, signed now (Zendesk webhooks older than five
/// minutes are refused as replays).
fn zd_sign(body: &[u8]) -> Vec<(&'static str, String)> {
    zd_sign_at(&jiff::Timestamp::now().to_string(), body)
}

fn zd_sign_at(ts: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        (
            "x-zendesk-webhook-signature",
            fluxo::drivers::signature::zendesk("zd-webhook-secret-33bb", ts, body),
        ),
        ("x-zendesk-webhook-signature-timestamp", ts.to_owned()),
    ]
}

async fn zendesk_ticket_mock(h: &Harness) {
    Mock::given(method("POST"))
        .and(path("/api/v2/tickets"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            json!({ "ticket": { "id": 4711, "status": "new", "requester_id": 361_000_042 } }),
        ))
        .mount(&h.mock)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v2/tickets/4711"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "ticket": { "id": 4711 } })))
        .mount(&h.mock)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_tickets_end_to_end() {
    let h = harness("zendesk", fast()).await;
    zendesk_ticket_mock(&h).await;
    hand_over(&h).await;
    let s = h.rt.session("maria").await.expect("session");
    assert_eq!(
        s.context()["transbordo"]["response"]["body"]["ticket"]["id"],
        4711
    );
    let hook = format!("{}/webhooks/1", h.router);
    for b in [
        json!({ "type": "agent_join", "ticket_id": 4711, "agent_name": "Bruno" }),
        json!({ "type": "agent_message", "ticket_id": 4711, "agent_name": "Bruno", "comment_id": 9001, "text": "Oi, é o Bruno." }),
    ]
    .iter()
    {
        let body = b.to_string();
        assert_eq!(post(&hook, &zd_sign(body.as_bytes()), body.as_bytes()).await, 200);
    }
    h.rt.event("maria", user("Tudo certo agora")).await;
    let solved = json!({ "type": "solved", "ticket_id": 4711 }).to_string();
    assert_eq!(
        post(&hook, &zd_sign(solved.as_bytes()), solved.as_bytes()).await,
        200
    );
    assert_eq!(
        h.rt.session("maria")
            .await
            .and_then(|s| s.focus().map(str::to_owned)),
        Some("pesquisa".into())
    );
    let reqs = requests(&h.mock, &["authorization", "idempotency-key"]).await;
    assert!(
        reqs.contains("\"author_id\": 361000042"),
        "the user's comment is posted as the ticket's requester: {reqs}"
    );
    assert!(reqs.contains("idempotency-key: default/maria/"), "{reqs}");
    let basic = base64::engine::general_purpose::STANDARD
        .encode("bot@acme.example/token:zd-api-token-11aa22");
    assert!(
        reqs.contains(&format!("authorization: Basic {basic}")),
        "{reqs}"
    );
    insta::assert_snapshot!("zendesk_requests", reqs.replace(&basic, "<basic>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altu_connector_end_to_end() {
    let mut h = harness("altu_connector", fast()).await;
    Mock::given(method("POST"))
        .and(path("/altu/receive"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "conversationID": "t4h-555" })),
        )
        .mount(&h.mock)
        .await;
    hand_over(&h).await;
    // The fake checks what ALTU Connector checks: a fresh HS256 token, 60 s, with the access token.
    let reqs = h.mock.received_requests().await.unwrap_or_default();
    let auth = reqs[0]
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let jwt = auth.strip_prefix("Bearer ").expect("a bearer token");
    let claims = jsonwebtoken::decode::<Value>(
        jwt,
        &jsonwebtoken::DecodingKey::from_secret(b"altu-access-key-44cc55dd"),
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
    )
    .expect("HS256 with the access key")
    .claims;
    assert_eq!(claims["access_token"], "altu-access-token-66ee");
    assert_eq!(
        claims["exp"].as_u64().unwrap_or(0) - claims["iat"].as_u64().unwrap_or(0),
        60
    );
    let open: Value = serde_json::from_slice(&reqs[0].body).expect("json");
    assert_eq!(open["action"], "OPEN_CONVERSATION");
    assert_eq!(open["parameters"]["extraInfo"]["matricula"], "2024001");
    assert!(
        open["parameters"]["history"]
            .as_array()
            .is_some_and(|h| h.len() >= 3),
        "include_history sends the conversation so far"
    );

    let hook = format!("{}/webhooks/2", h.router);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let bearer = format!(
        "Bearer {}",
        fluxo::drivers::altu_connector::token(
            "altu-access-token-66ee",
            b"altu-access-key-44cc55dd",
            now
        )
        .expect("token")
    );
    let event = |action: &str, p: Value| {
        json!({ "action": action, "conversationID": "t4h-555", "identifier": "maria", "parameters": p, "timestamp": now }).to_string()
    };
    for b in [
        event("AGENT_JOINED", json!({ "agent": { "name": "Júlia" } })),
        event(
            "SEND_MESSAGE",
            json!({ "message": { "id": "m1", "text": "Olá!" } }),
        ),
        // Two messages without ids in the same second: both reach the user (a seconds
        // timestamp used to be their de-duplication key, and the second was dropped).
        event(
            "SEND_MESSAGE",
            json!({ "message": { "text": "Um momento." } }),
        ),
        event(
            "SEND_MESSAGE",
            json!({ "message": { "text": "Já verifiquei." } }),
        ),
    ] {
        assert_eq!(
            post(&hook, &[("authorization", bearer.clone())], b.as_bytes()).await,
            200
        );
    }
    let mut said = Vec::new();
    while let Ok(d) = h.rx.try_recv() {
        if let Output::Message { text: Some(t), .. } = d.output {
            said.push(t);
        }
    }
    for t in ["Olá!", "Um momento.", "Já verifiquei."] {
        assert!(
            said.iter().any(|s| s == t),
            "{t} reached the user: {said:?}"
        );
    }
    let out = h.rt.event("maria", user("Oi Júlia")).await;
    assert!(matches!(&out[..], [Output::RelayToAgent { .. }]), "{out:?}");
    // Signed with another key, or expired: refused, nothing changes.
    let forged = format!(
        "Bearer {}",
        fluxo::drivers::altu_connector::token("altu-access-token-66ee", b"another-key", now)
            .expect("token")
    );
    let close = event(
        "CLOSE_CONVERSATION",
        json!({ "closedBy": "user", "reason": "cliente saiu" }),
    );
    assert_eq!(
        post(&hook, &[("authorization", forged)], close.as_bytes()).await,
        401
    );
    let expired = format!(
        "Bearer {}",
        fluxo::drivers::altu_connector::token(
            "altu-access-token-66ee",
            b"altu-access-key-44cc55dd",
            now - 3600
        )
        .expect("token")
    );
    assert_eq!(
        post(&hook, &[("authorization", expired)], close.as_bytes()).await,
        401
    );
    assert!(h
        .rt
        .session("maria")
        .await
        .is_some_and(|s| s.live_chat().is_some()));
    fired(&mut h);
    assert_eq!(
        post(&hook, &[("authorization", bearer)], close.as_bytes()).await,
        200
    );
    assert_eq!(fired(&mut h), ["despedida"], "the user_closed branch");
    assert!(h
        .rt
        .session("maria")
        .await
        .is_none_or(|s| s.live_chat().is_none()));
    let sent = h.mock.received_requests().await.unwrap_or_default();
    let bodies: Vec<Value> = sent
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect();
    assert_eq!(
        bodies
            .iter()
            .map(|b| b["action"].as_str().unwrap_or(""))
            .collect::<Vec<_>>(),
        ["OPEN_CONVERSATION", "SEND_MESSAGE"]
    );
    assert_eq!(bodies[1]["conversationID"], "t4h-555");
    assert_eq!(bodies[1]["parameters"]["message"]["text"], "Oi Júlia");
    // Every request has its own fresh token.
    assert!(sent.iter().all(|r| r
        .headers
        .get("authorization")
        .is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("Bearer ey")))));
    let shown = requests(&h.mock, &["content-type"]).await;
    insta::assert_snapshot!("altu_connector_requests", scrub_times(&shown));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omni_and_webex_end_to_end() {
    // Omni: api key out, api key in; "abandoned" is the user's inactivity.
    let mut h = harness("omni", fast()).await;
    Mock::given(method("POST"))
        .and(path("/integration/attendance"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "id": "at-9", "queuePosition": 2 })),
        )
        .mount(&h.mock)
        .await;
    hand_over(&h).await;
    let hook = format!("{}/webhooks/3", h.router);
    let key = || vec![("x-api-key", "omni-webhook-secret-88gg".to_owned())];
    Mock::given(method("POST"))
        .and(path("/integration/attendance/at-9/messages"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&h.mock)
        .await;
    for b in [
        json!({ "event": "agent_joined", "attendanceId": "at-9", "agent": { "name": "Rita" } }),
        json!({ "event": "agent_message", "attendanceId": "at-9", "message": { "id": 1, "text": "Oi, aqui é a Rita." } }),
    ] {
        assert_eq!(post(&hook, &key(), b.to_string().as_bytes()).await, 200);
    }
    h.rt.event("maria", user("Oi Rita")).await;
    fired(&mut h);
    let b = json!({ "event": "abandoned", "attendanceId": "at-9", "reason": "Tempo Abandono" });
    assert_eq!(post(&hook, &key(), b.to_string().as_bytes()).await, 200);
    assert_eq!(
        fired(&mut h),
        ["inatividade"],
        "abandoned is the user's inactivity"
    );
    let reqs = requests(&h.mock, &["x-api-key"]).await;
    assert!(reqs.contains("x-api-key: omni-api-key-77ff"), "{reqs}");
    assert!(
        reqs.contains("POST /integration/attendance/at-9/messages") && reqs.contains("Oi Rita"),
        "{reqs}"
    );
    insta::assert_snapshot!(
        "omni_requests",
        reqs.replace("omni-api-key-77ff", "<api_key>")
    );

    // Webex: a RONA re-queues; the agent's end keeps the wrap-up reason.
    let h = harness("webex_cc", fast()).await;
    Mock::given(method("POST"))
        .and(path("/v1/tasks"))
        // The answer's shape is the public spec's `CreateTaskResponse`: `{meta, data: {id}}`.
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "meta": { "orgId": "658d1102-8c11-4850-a809-d7a99cc1c22f" }, "data": { "id": "task-31" } })))
        .mount(&h.mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/tasks/task-31/messages"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&h.mock)
        .await;
    hand_over(&h).await;
    let hook = format!("{}/webhooks/4", h.router);
    let send = |b: Value| {
        let body = b.to_string();
        let sig = fluxo::drivers::signature::webex_cc("webex-webhook-secret-00ii", body.as_bytes());
        (body, vec![("x-webexcc-signature", sig)])
    };
    let (b, s) = send(
        json!({ "id": "e1", "type": "task:ended", "data": { "taskId": "task-31", "terminatingParty": "System", "reason": "RONA Timer Expired" } }),
    );
    assert_eq!(post(&hook, &s, b.as_bytes()).await, 200);
    assert!(
        h.rt.session("maria")
            .await
            .is_some_and(|s| s.live_chat().is_some()),
        "RONA does not end the chat"
    );
    let (b, s) = send(
        json!({ "id": "e2", "type": "task:connect", "data": { "taskId": "task-31", "agentName": "Ana" } }),
    );
    assert_eq!(post(&hook, &s, b.as_bytes()).await, 200);
    let (b, s) = send(
        json!({ "id": "e2b", "type": "agent:message", "data": { "taskId": "task-31", "text": "Olá, sou a Ana." } }),
    );
    assert_eq!(post(&hook, &s, b.as_bytes()).await, 200);
    assert!(h
        .rt
        .session("maria")
        .await
        .is_some_and(|s| s.live_chat().is_some_and(|c| c.agents() == ["Ana"])));
    let out =
        h.rt.event("maria", user("meu email é melissa@gmail.com"))
            .await;
    assert!(
        matches!(&out[..], [Output::RelayToAgent { text }] if text == "meu email é m******@gmail.com"),
        "{out:?}"
    );
    let (b, s) = send(
        json!({ "id": "e3", "type": "task:ended", "data": { "taskId": "task-31", "terminatingParty": "Agent", "wrapUpReason": "Resolvido no primeiro contato" } }),
    );
    assert_eq!(post(&hook, &s, b.as_bytes()).await, 200);
    assert_eq!(
        h.rt.session("maria")
            .await
            .and_then(|s| s.focus().map(str::to_owned)),
        Some("pesquisa".into())
    );
    let reqs = requests(&h.mock, &["authorization"]).await;
    assert!(reqs.contains("authorization: Bearer webex-token-99hh"));
    assert!(
        reqs.contains("m******@gmail.com") && !reqs.contains("melissa@"),
        "the agent never sees the raw e-mail:\n{reqs}"
    );
    insta::assert_snapshot!(
        "webex_cc_requests",
        reqs.replace("webex-token-99hh", "<token>")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_then_success_and_429_retry_after() {
    let h = harness("zendesk", fast()).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/tickets"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.mock)
        .await;
    zendesk_ticket_mock(&h).await;
    let out = hand_over(&h).await;
    assert!(closed(&out).is_none(), "{out:?}");
    assert_eq!(
        h.rt.session("maria")
            .await
            .and_then(|s| s.live_chat().and_then(|c| c.remote_id().map(str::to_owned))),
        Some("4711".into())
    );
    assert_eq!(
        h.mock.received_requests().await.map(|r| r.len()),
        Some(2),
        "one retry"
    );

    let h = harness("zendesk", fast()).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/tickets"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.mock)
        .await;
    zendesk_ticket_mock(&h).await;
    let started = std::time::Instant::now();
    hand_over(&h).await;
    assert_eq!(
        h.rt.session("maria")
            .await
            .and_then(|s| s.live_chat().and_then(|c| c.remote_id().map(str::to_owned))),
        Some("4711".into())
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 was honoured"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_end_the_chat_with_error_and_the_user_is_not_left_hanging() {
    // 500 forever.
    let h = harness("zendesk", fast()).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/tickets"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&h.mock)
        .await;
    let out = hand_over(&h).await;
    assert_eq!(closed(&out), Some(CloseStatus::Error));
    assert_eq!(
        h.mock.received_requests().await.map(|r| r.len()),
        Some(3),
        "bounded retries"
    );
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::NodeEntered { id } if id == "falha")),
        "the flow's error branch"
    );
    let s = h.rt.session("maria").await.expect("session");
    assert_eq!(s.context()["transbordo"]["status"], "error");

    // A provider that never answers.
    let h = harness("omni", fast()).await;
    Mock::given(method("POST"))
        .and(path("/integration/attendance"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(5))
                .set_body_json(json!({ "id": "x" })),
        )
        .mount(&h.mock)
        .await;
    let out = hand_over(&h).await;
    assert_eq!(closed(&out), Some(CloseStatus::Error));
    assert!(out.iter().any(|o| matches!(o, Output::LiveChatClosed { reason: Some(r), .. } if r.contains("no answer in time"))), "{out:?}");

    // An answer that is not JSON.
    let h = harness("omni", fast()).await;
    Mock::given(method("POST"))
        .and(path("/integration/attendance"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>oops</html>", "text/html"))
        .mount(&h.mock)
        .await;
    let out = hand_over(&h).await;
    assert_eq!(closed(&out), Some(CloseStatus::Error));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_webhooks_change_nothing() {
    let h = harness("zendesk", fast()).await;
    zendesk_ticket_mock(&h).await;
    hand_over(&h).await;
    let before = h.rt.session("maria").await;
    let hook = format!("{}/webhooks/1", h.router);
    let body = json!({ "type": "solved", "ticket_id": 4711 }).to_string();
    assert_eq!(
        post(&hook, &[], body.as_bytes()).await,
        401,
        "missing signature"
    );
    let mut bad = zd_sign(body.as_bytes());
    bad[0].1 = fluxo::drivers::signature::zendesk(
        "wrong-secret",
        &jiff::Timestamp::now().to_string(),
        body.as_bytes(),
    );
    assert_eq!(
        post(&hook, &bad, body.as_bytes()).await,
        401,
        "wrong signature"
    );
    let replayed = zd_sign_at("2026-01-01T00:00:00Z", body.as_bytes());
    assert_eq!(
        post(&hook, &replayed, body.as_bytes()).await,
        401,
        "a correctly signed delivery from long ago (a replay)"
    );
    let tampered = body.replace("4711", "4712");
    assert_eq!(
        post(&hook, &zd_sign(body.as_bytes()), tampered.as_bytes()).await,
        401,
        "body changed after signing"
    );
    assert_eq!(h.rt.session("maria").await, before, "nothing changed");
    let garbage = b"{not json";
    assert_eq!(
        post(&hook, &zd_sign(garbage), garbage).await,
        400,
        "malformed JSON"
    );
    let other = json!({ "type": "solved", "ticket_id": 99 }).to_string();
    assert_eq!(
        post(&hook, &zd_sign(other.as_bytes()), other.as_bytes()).await,
        200,
        "an unknown provider conversation is acknowledged (the provider must not retry or disable the endpoint) and changes nothing"
    );
    assert_eq!(
        post(&format!("{}/webhooks/77", h.router), &[], b"{}").await,
        404,
        "unknown integration"
    );
    assert_eq!(h.rt.session("maria").await, before, "nothing changed");
}

/// Timers run on tokio: with tokio's clock paused, the wait timeout fires exactly when due.
#[tokio::test(start_paused = true)]
async fn timers_follow_the_virtual_clock() {
    let bot = Bot::from_json(
        &read("flows/simulator.json"),
        Some(&read("flows/integrations.json")),
    )
    .expect("loads");
    let (rt, mut rx) = Runtime::new(
        bot,
        Arc::new(MemoryStore::default()),
        Http::new(fast()),
        Arc::new(TokioClock::starting_at(1_795_453_200_000)),
    );
    to_the_agent(&rt, "u", plain_start()).await;
    while rx.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_millis(299_900)).await;
    assert!(
        rt.session("u")
            .await
            .is_some_and(|s| s.live_chat().is_some()),
        "not yet"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    tokio::task::yield_now().await;
    let mut statuses = Vec::new();
    while let Ok(d) = rx.try_recv() {
        if let Output::LiveChatClosed { status, .. } = d.output {
            statuses.push(status);
        }
    }
    assert_eq!(statuses, vec![CloseStatus::Timeout]);
    assert_eq!(
        rt.session("u")
            .await
            .and_then(|s| s.focus().map(str::to_owned)),
        Some("menu".into())
    );
}

/// Logs say what was called and how it went; no secret ever appears in them or in errors.
/// The check runs in a process of its own: `tracing` caches per call site whether anybody
/// listens, and the other tests of this file, running beside it without a subscriber, could
/// make it miss the very lines it looks for.
#[test]
fn no_secret_in_logs() {
    let exe = std::env::current_exe().expect("the test binary");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "logs_in_a_process_of_their_own",
            "--include-ignored",
            "--test-threads=1",
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "run by no_secret_in_logs, alone in its process"]
fn logs_in_a_process_of_their_own() {
    let buf = Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let writer = {
        let buf = buf.clone();
        move || LogWriter(buf.clone())
    };
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            // A LivePerson hand-over that fails at the token step (500 forever), then a Zendesk
            // one that works, and refused webhooks for both.
            let h = harness("liveperson", fast()).await;
            for service in ["sentinel", "idp", "asyncMessagingEnt"] {
                Mock::given(method("GET"))
                    .and(path(format!(
                        "/api/account/123/service/{service}/baseURI.json"
                    )))
                    .respond_with(
                        ResponseTemplate::new(200)
                            .set_body_json(json!({ "baseURI": h.mock.uri() })),
                    )
                    .mount(&h.mock)
                    .await;
            }
            Mock::given(method("POST"))
                .and(path("/sentinel/api/account/123/app/token"))
                .respond_with(ResponseTemplate::new(500))
                .mount(&h.mock)
                .await;
            let out = hand_over(&h).await;
            assert_eq!(closed(&out), Some(CloseStatus::Error));
            let text = serde_json::to_string(&out).unwrap_or_default();
            for s in ALL_SECRETS {
                assert!(!text.contains(s), "a secret in the outputs");
            }
            assert_eq!(
                post(
                    &format!("{}/webhooks/7", h.router),
                    &[("x-liveperson-signature", "sha1=AAAA".into())],
                    b"{}"
                )
                .await,
                401
            );
            let h = harness("zendesk", fast()).await;
            zendesk_ticket_mock(&h).await;
            hand_over(&h).await;
            assert_eq!(
                post(&format!("{}/webhooks/1", h.router), &[], b"{}").await,
                401
            );
            // Webex with refreshed tokens that the API keeps refusing, then a bad signature.
            let h = harness_with("webex_cc", fast(), |base| {
                let mut i = webex_callback(base);
                if let Some(s) = i.get_mut("settings").and_then(Value::as_object_mut) {
                    s.insert("token_url".into(), json!(format!("{base}/v1/access_token")));
                    s.insert(
                        "refresh_token".into(),
                        json!({ "env": "T_WEBEX_REFRESH_TOKEN" }),
                    );
                    s.insert("client_id".into(), json!({ "env": "T_WEBEX_CLIENT_ID" }));
                    s.insert(
                        "client_secret".into(),
                        json!({ "env": "T_WEBEX_CLIENT_SECRET" }),
                    );
                }
                i
            })
            .await;
            Mock::given(method("POST"))
                .and(path("/v1/access_token"))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "access_token": "webex-access-1-55nn", "expires_in": 3600,
                    "refresh_token": "webex-refresh-rotated-44mm" })))
                .mount(&h.mock)
                .await;
            Mock::given(method("POST"))
                .and(path("/v1/tasks"))
                .respond_with(ResponseTemplate::new(401))
                .mount(&h.mock)
                .await;
            let out = to_the_agent(
                &h.rt,
                "joao",
                start_with_phone(Some(("phone", "+5511987654321"))),
            )
            .await;
            assert_eq!(closed(&out), Some(CloseStatus::Error));
            let text = serde_json::to_string(&out).unwrap_or_default();
            for s in ALL_SECRETS {
                assert!(!text.contains(s), "a secret in the outputs");
            }
            assert_eq!(
                post(
                    &format!("{}/webhooks/4", h.router),
                    &[("x-webexcc-signature", "00".into())],
                    b"{}"
                )
                .await,
                401
            );
        });
    });
    let logs =
        String::from_utf8_lossy(&buf.lock().map(|b| b.clone()).unwrap_or_default()).into_owned();
    assert!(
        logs.contains("provider call") && logs.contains("webhook refused"),
        "the logs say what happened:\n{logs}"
    );
    for s in ALL_SECRETS {
        assert!(!logs.contains(s), "secret {s:?} in the logs:\n{logs}");
    }
}

struct LogWriter(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(b);
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fluxo_run_live_against_a_fake_provider() {
    secrets();
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/tickets"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "ticket": { "id": 4711 } })))
        .mount(&mock)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v2/tickets/4711"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&mock)
        .await;
    let dir = common::Scratch::new("live");
    std::fs::copy(
        common::root().join("flows/zendesk.json"),
        dir.join("zendesk.json"),
    )
    .expect("copy");
    std::fs::write(
        dir.join("integrations.json"),
        json!({ "integrations": [ integration("zendesk", &mock.uri()) ] }).to_string(),
    )
    .expect("write");
    std::fs::write(dir.join("events.jsonl"), "{\"type\": \"start\", \"context\": {\"zendeskTag\": \"vip\"}}\n{\"type\": \"user\", \"text\": \"529.982.247-25\"}\n{\"type\": \"user\", \"text\": \"2\"}\n").expect("write");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args([
            "run",
            "zendesk.json",
            "--live",
            "--events",
            "events.jsonl",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn fluxo run --live");
    // Wait until the ticket exists, then play the agent through signed webhooks.
    for _ in 0..100 {
        if mock
            .received_requests()
            .await
            .is_some_and(|r| !r.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hook = format!("http://127.0.0.1:{port}/webhooks/1");
    for b in [
        json!({ "type": "agent_join", "ticket_id": 4711, "agent_name": "Bruno" }),
        json!({ "type": "agent_message", "ticket_id": 4711, "comment_id": 1, "text": "Resolvido!" }),
        json!({ "type": "solved", "ticket_id": 4711 }),
    ]
    .iter()
    {
        let body = b.to_string();
        assert_eq!(post(&hook, &zd_sign(body.as_bytes()), body.as_bytes()).await, 200, "{body}");
    }
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("fluxo ends once the chat is closed")
        .expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("\"type\":\"handoff_requested\"")
            && stdout.contains("\"text\":\"Resolvido!\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"status\":\"agent_closed\",\"reason\":\"solved\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"id\":\"pesquisa\""),
        "the flow resumed in its branch:\n{stdout}"
    );
    for s in ALL_SECRETS {
        assert!(!stdout.contains(s) && !String::from_utf8_lossy(&out.stderr).contains(s));
    }
}

/// A backend's own driver, registered for a provider (here the simulator, which has none).
struct Recorder(std::sync::Mutex<Vec<String>>);

impl fluxo::drivers::Driver for Recorder {
    fn open<'a>(
        &'a self,
        conv: &'a fluxo::drivers::Conversation,
        _: &'a fluxo::HttpRequest,
    ) -> fluxo::drivers::BoxFuture<'a, Result<fluxo::drivers::Opened, fluxo::Error>> {
        Box::pin(async move {
            self.0
                .lock()
                .map(|mut v| v.push(format!("open {}", conv.identifier)))
                .ok();
            Ok(fluxo::drivers::Opened {
                remote_id: "mine-1".into(),
                result: json!({ "mine": true }),
            })
        })
    }
    fn send<'a>(
        &'a self,
        conv: &'a fluxo::drivers::Conversation,
        text: &'a str,
    ) -> fluxo::drivers::BoxFuture<'a, Result<(), fluxo::Error>> {
        Box::pin(async move {
            self.0
                .lock()
                .map(|mut v| {
                    v.push(format!(
                        "send {} {text}",
                        conv.remote_id.clone().unwrap_or_default()
                    ))
                })
                .ok();
            Ok(())
        })
    }
    fn close<'a>(
        &'a self,
        _: &'a fluxo::drivers::Conversation,
    ) -> fluxo::drivers::BoxFuture<'a, Result<(), fluxo::Error>> {
        Box::pin(async move { Ok(()) })
    }
    fn webhook(
        &self,
        _: &fluxo::Integration,
        _: &fluxo::drivers::Headers,
        body: &[u8],
    ) -> Result<Vec<fluxo::drivers::Inbound>, fluxo::Error> {
        let v = fluxo::drivers::json_body(body)?;
        Ok(vec![fluxo::drivers::Inbound {
            remote_id: "mine-1".into(),
            dedupe: v.to_string(),
            event: Event::AgentJoin {
                name: "Zé".into(),
                avatar: None,
                representative_type: None,
            },
        }])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_registers_its_own_driver() {
    let bot = Bot::from_json(
        &read("flows/simulator.json"),
        Some(&read("flows/integrations.json")),
    )
    .expect("loads");
    let (rt, _rx) = Runtime::new(
        bot,
        Arc::new(MemoryStore::default()),
        Http::new(fast()),
        Arc::new(TokioClock::starting_at(0)),
    );
    let rec = Arc::new(Recorder(std::sync::Mutex::default()));
    rt.register_driver(fluxo::Provider::Simulator, rec.clone());
    to_the_agent(&rt, "u", plain_start()).await;
    assert_eq!(rt.webhook("9", &vec![], b"{\"n\": 1}").await.status, 200);
    rt.event("u", user("oi")).await;
    assert_eq!(
        rec.0.lock().map(|v| v.clone()).unwrap_or_default(),
        ["open u", "send mine-1 oi"]
    );
    assert_eq!(
        rt.session("u")
            .await
            .and_then(|s| s.live_chat().map(|c| c.agents().to_vec())),
        Some(vec!["Zé".to_string()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_messaging_end_to_end() {
    secrets();
    std::env::set_var("T_ZD_KEY_ID", "zd-key-id-1");
    std::env::set_var("T_ZD_KEY_SECRET", "zd-key-secret-2");
    let mock = MockServer::start().await;
    let integ = json!({ "integrations": [ { "id": 1, "provider": "zendesk", "wait_timeout_s": 120, "settings": {
        "base_url": mock.uri(), "mode": "messaging", "app_id": "app-1", "switchboard_integration": "zd-agentWorkspace",
        "key_id": { "env": "T_ZD_KEY_ID" }, "key_secret": { "env": "T_ZD_KEY_SECRET" }, "webhook_secret": { "env": "T_ZD_WEBHOOK_SECRET" } } } ] });
    let bot = Bot::from_json(&read("flows/zendesk.json"), Some(&integ.to_string())).expect("loads");
    let (rt, mut rx) = Runtime::new(
        bot,
        Arc::new(MemoryStore::default()),
        Http::new(fast()),
        Arc::new(TokioClock::starting_at(0)),
    );
    Mock::given(method("POST"))
        .and(path("/v2/apps/app-1/conversations/sc-9/passControl"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/apps/app-1/conversations/sc-9/messages"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "messages": [] })))
        .mount(&mock)
        .await;
    // The user's messages are posted as the conversation's Sunshine user, read once from its
    // participants (the answer follows Sunshine's `participantListResponse`).
    let participants = json!({ "participants": [ { "id": "67a0ecf880e2647cbb7a9701", "userId": "sun-user-42",
        "unreadCount": 0, "clientAssociations": [] } ], "meta": { "hasMore": false } });
    if let Some(doc) = common::vendor_spec("sunshine-conversations/openapi.yaml") {
        let v = common::openapi_validator(
            &doc,
            &json!({ "$ref": "#/components/schemas/participantListResponse" }),
        );
        assert!(v.is_valid(&participants));
    }
    Mock::given(method("GET"))
        .and(path("/v2/apps/app-1/conversations/sc-9/participants"))
        .respond_with(ResponseTemplate::new(200).set_body_json(participants))
        .expect(1)
        .mount(&mock)
        .await;
    let ctx = json!({ "zendeskTag": "vip", "sunco_conversation_id": "sc-9" })
        .as_object()
        .cloned()
        .unwrap_or_default();
    to_the_agent(
        &rt,
        "maria",
        Event::Start {
            channel: None,
            context: Some(ctx),
            contact: None,
        },
    )
    .await;
    assert_eq!(
        rt.session("maria")
            .await
            .and_then(|s| s.live_chat().and_then(|c| c.remote_id().map(str::to_owned))),
        Some("sc-9".into())
    );
    let key = vec![("x-api-key", "zd-webhook-secret-33bb".to_owned())];
    let msg = json!({ "app": { "id": "app-1" }, "events": [ { "id": "ev-1", "type": "conversation:message", "payload": {
        "conversation": { "id": "sc-9" }, "message": { "author": { "type": "business", "subtypes": ["agent"], "displayName": "Paula", "avatarUrl": "https://media.example/paula.png" }, "content": { "type": "text", "text": "Oi, Paula aqui." } } } } ] }).to_string();
    let app = fluxo::runtime::server::router(rt.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let hook = format!("http://{addr}/webhooks/1");
    assert_eq!(post(&hook, &key, msg.as_bytes()).await, 200);
    assert_eq!(
        post(&hook, &key, msg.as_bytes()).await,
        200,
        "a retried delivery"
    );
    // The business's AI agent and system activity are not the human agent.
    let ai = json!({ "app": { "id": "app-1" }, "events": [ { "id": "ev-ai", "type": "conversation:message", "createdAt": "2026-11-23T17:00:01.000Z", "payload": {
        "conversation": { "id": "sc-9", "type": "personal" }, "message": { "id": "m-ai", "received": "2026-11-23T17:00:01.000Z",
        "author": { "type": "business", "subtypes": ["AI"], "displayName": "Assistente" }, "content": { "type": "text", "text": "Posso ajudar?" } } } } ] });
    if let Some(doc) = common::vendor_spec("sunshine-conversations/openapi.yaml") {
        let v = common::openapi_validator(
            &doc,
            &json!({ "$ref": "#/components/schemas/conversationMessageEvent" }),
        );
        let errors: Vec<String> = v
            .iter_errors(&ai["events"][0])
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "the fixture follows Sunshine's webhook schema: {errors:#?}"
        );
    }
    let ai = ai.to_string();
    assert_eq!(post(&hook, &key, ai.as_bytes()).await, 200);
    // Files both ways: the agent's image reaches the user; the user's PDF goes to Sunshine as
    // `file` content with its `mediaUrl` (validated against the spec with the other messages).
    let image = json!({ "app": { "id": "app-1" }, "events": [ { "id": "ev-img", "type": "conversation:message", "payload": {
        "conversation": { "id": "sc-9" }, "message": { "author": { "type": "business", "displayName": "Paula" },
        "content": { "type": "image", "mediaUrl": "https://media.example/segunda-via.png", "mediaType": "image/png" } } } } ] }).to_string();
    assert_eq!(post(&hook, &key, image.as_bytes()).await, 200);
    rt.event(
        "maria",
        Event::UserFile {
            url: "https://files.example/comprovante.pdf".into(),
            name: Some("comprovante.pdf".into()),
            mime_type: Some("application/pdf".into()),
        },
    )
    .await;
    rt.event("maria", user("Obrigada, Paula")).await;
    let release = json!({ "events": [ { "id": "ev-2", "type": "switchboard:releaseControl", "payload": { "conversation": { "id": "sc-9" }, "reason": "ticketSolved" } } ] }).to_string();
    assert_eq!(
        post(&hook, &[("x-api-key", "wrong".into())], release.as_bytes()).await,
        401
    );
    assert_eq!(post(&hook, &key, release.as_bytes()).await, 200);
    let mut out = Vec::new();
    while let Ok(d) = rx.try_recv() {
        out.push(d.output);
    }
    assert_eq!(
        out.iter()
            .filter(|o| matches!(
                o,
                Output::Message {
                    from: fluxo::engine::Speaker::Agent,
                    ..
                }
            ))
            .count(),
        1
    );
    assert!(out.iter().any(|o| matches!(o, Output::LiveChatClosed { status: CloseStatus::AgentClosed, reason: Some(r) } if r == "ticketSolved")));
    assert!(
        out.iter().any(|o| matches!(o, Output::RepresentativeJoined { name, avatar: Some(a), .. } if name == "Paula" && a == "https://media.example/paula.png")),
        "the agent's name and avatar: {out:?}"
    );
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::Message { text: Some(t), .. } if t == "Posso ajudar?")),
        "an AI author's message is not relayed as the agent's"
    );
    assert!(
        out.iter().any(|o| matches!(o, Output::File { from, url, .. } if from == "agent" && url == "https://media.example/segunda-via.png")),
        "{out:?}"
    );
    assert_eq!(
        rt.session("maria")
            .await
            .and_then(|s| s.focus().map(str::to_owned)),
        Some("pesquisa".into())
    );
    let reqs = requests(&mock, &["authorization"]).await;
    let basic = base64::engine::general_purpose::STANDARD.encode("zd-key-id-1:zd-key-secret-2");
    assert!(
        reqs.contains(&format!("authorization: Basic {basic}")),
        "{reqs}"
    );
    // Every request the driver sent validates against Sunshine Conversations' own OpenAPI.
    if let Some(doc) = common::vendor_spec("sunshine-conversations/openapi.yaml") {
        let received = mock.received_requests().await.unwrap_or_default();
        let mut checked = 0;
        for r in &received {
            let Some(op) = r.url.path().rsplit('/').next() else {
                continue;
            };
            let template = format!("/v2/apps/{{appId}}/conversations/{{conversationId}}/{op}");
            let Some(schema) = common::request_schema(&doc, &template, "post") else {
                continue;
            };
            let body: Value = serde_json::from_slice(&r.body).expect("a JSON body");
            let v = common::openapi_validator(&doc, schema);
            let errors: Vec<String> = v
                .iter_errors(&body)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{template}: {body}\n{errors:#?}");
            checked += 1;
        }
        assert!(
            checked >= 2,
            "passControl and messages were checked ({checked})"
        );
        // The check can fail: a body the spec forbids is refused.
        let messages = common::request_schema(
            &doc,
            "/v2/apps/{appId}/conversations/{conversationId}/messages",
            "post",
        )
        .expect("schema");
        let v = common::openapi_validator(&doc, messages);
        assert!(!v.is_valid(
            &json!({ "author": { "type": "robot" }, "content": { "type": "text", "text": "x" } })
        ));
    }
    assert!(
        reqs.contains("\"userId\": \"sun-user-42\"") && !reqs.contains("\"userId\": \"maria\""),
        "messages are the Sunshine user's, not fluxo's session id: {reqs}"
    );
    insta::assert_snapshot!(
        "zendesk_messaging_requests",
        reqs.replace(&basic, "<basic>")
    );
}

/// Sunshine's release reasons: `ticketClosed` is the agent's end; `transferToEmail` means the
/// user left the chat and the agent goes on by email. A later hand-over of the same Sunshine
/// conversation to the same agent is joined again (the join is keyed by the event).
#[test]
fn sunshine_release_reasons_and_joins_across_hand_overs() {
    secrets();
    let integration: fluxo::Integration = serde_json::from_value(json!({ "id": 1, "provider": "zendesk", "settings": {
        "base_url": "http://127.0.0.1:9", "mode": "messaging", "app_id": "app-1",
        "key_id": { "env": "T_ZD_API_TOKEN" }, "key_secret": { "env": "T_ZD_API_TOKEN" }, "webhook_secret": { "env": "T_ZD_WEBHOOK_SECRET" } } }))
    .expect("integration");
    let driver = fluxo::drivers::zendesk::Zendesk::new(Http::new(fast()));
    let key = vec![("x-api-key".to_owned(), "zd-webhook-secret-33bb".to_owned())];
    let read = |body: Value| {
        fluxo::drivers::Driver::webhook(&driver, &integration, &key, body.to_string().as_bytes())
            .expect("read")
    };
    let release = |id: &str, reason: &str| json!({ "events": [ { "id": id, "type": "switchboard:releaseControl", "payload": { "conversation": { "id": "sc-9" }, "reason": reason } } ] });
    let by_email = read(release("ev-a", "transferToEmail"));
    assert!(
        matches!(&by_email[..], [i] if i.event == Event::ProviderClosed { status: CloseStatus::UserInactivityTimeout, reason: Some("transferToEmail".into()) }),
        "{by_email:?}"
    );
    let closed = read(release("ev-b", "ticketClosed"));
    assert!(
        matches!(&closed[..], [i] if i.event == Event::AgentClose { wrap_up: Some("ticketClosed".into()) }),
        "{closed:?}"
    );
    let message = |id: &str| {
        json!({ "events": [ { "id": id, "type": "conversation:message", "payload": { "conversation": { "id": "sc-9" },
            "message": { "author": { "type": "business", "subtypes": ["agent"], "displayName": "Paula" }, "content": { "type": "text", "text": "Oi" } } } } ] })
    };
    // Typing, in the shape of Sunshine's `conversationTypingEvent` example: the agent's
    // (a `business` author) is shown; the user's own is not news to the user.
    let typing = |id: &str, author: &str, kind: &str| {
        json!({ "events": [ { "id": id, "createdAt": "2020-09-30T15:14:29.834Z", "type": "conversation:typing", "payload": {
            "conversation": { "id": "sc-9", "type": "personal" },
            "activity": { "type": kind, "author": { "type": author }, "source": { "type": "zd:agentWorkspace" } } } } ] })
    };
    let agent_typing = typing("ev-t1", "business", "typing:start");
    if let Some(doc) = common::vendor_spec("sunshine-conversations/openapi.yaml") {
        let v = common::openapi_validator(
            &doc,
            &json!({ "$ref": "#/components/schemas/conversationTypingEvent" }),
        );
        assert!(v.is_valid(&agent_typing["events"][0]));
    }
    assert!(
        matches!(&read(agent_typing)[..], [i] if i.event == Event::AgentTyping { typing: true })
    );
    assert!(
        matches!(&read(typing("ev-t2", "business", "typing:stop"))[..], [i] if i.event == Event::AgentTyping { typing: false })
    );
    assert!(read(typing("ev-t3", "user", "typing:start")).is_empty());
    let first = read(message("ev-1"));
    let later = read(message("ev-2"));
    assert_ne!(
        first[0].dedupe, later[0].dedupe,
        "a second hand-over's join is not taken for a repeat of the first"
    );
}

/// fluxo ends a Sunshine hand-over with `releaseControl`; when control has already left the
/// agent, Sunshine answers 403 (an integration-scoped key may release only while active). The
/// conversation is over either way: no error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sunshine_release_refused_because_control_already_left_is_not_an_error() {
    secrets();
    std::env::set_var("T_ZD_KEY_ID", "zd-key-id-1");
    std::env::set_var("T_ZD_KEY_SECRET", "zd-key-secret-2");
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/apps/app-1/conversations/sc-9/releaseControl"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(
                json!({ "errors": [ { "code": "forbidden", "title": "Forbidden" } ] }),
            ),
        )
        .expect(1)
        .mount(&mock)
        .await;
    let integration: fluxo::Integration = serde_json::from_value(json!({ "id": 1, "provider": "zendesk", "settings": {
        "base_url": mock.uri(), "mode": "messaging", "app_id": "app-1",
        "key_id": { "env": "T_ZD_KEY_ID" }, "key_secret": { "env": "T_ZD_KEY_SECRET" }, "webhook_secret": { "env": "T_ZD_WEBHOOK_SECRET" } } }))
    .expect("integration");
    let driver = fluxo::drivers::zendesk::Zendesk::new(Http::new(fast()));
    let conv = fluxo::drivers::Conversation {
        identifier: "maria".into(),
        remote_id: Some("sc-9".into()),
        integration,
        idempotency_key: None,
    };
    assert!(fluxo::drivers::Driver::close(&driver, &conv).await.is_ok());
}

/// After a restart the driver no longer remembers the ticket's requester: it reads the ticket
/// once, then posts the user's comment as that requester.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_reads_the_requester_of_a_ticket_it_did_not_open() {
    secrets();
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/tickets/777"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "ticket": { "id": 777, "requester_id": 55 } })),
        )
        .expect(1)
        .mount(&mock)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v2/tickets/777"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "ticket": { "id": 777 } })))
        .expect(2)
        .mount(&mock)
        .await;
    let integ: fluxo::Integration =
        serde_json::from_value(integration("zendesk", &mock.uri())).expect("integration");
    let driver = fluxo::drivers::zendesk::Zendesk::new(Http::new(fast()));
    let conv = fluxo::drivers::Conversation {
        identifier: "maria".into(),
        remote_id: Some("777".into()),
        integration: integ,
        idempotency_key: None,
    };
    use fluxo::drivers::Driver as _;
    driver.send(&conv, "primeira").await.expect("sent");
    driver.send(&conv, "segunda").await.expect("sent");
    let puts: Vec<Value> = mock
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect();
    assert_eq!(puts.len(), 2);
    for p in puts {
        assert_eq!(p["ticket"]["comment"]["author_id"], 55);
    }
}

/// Omni's integration APIs take `Authorization: Bearer` from `/Login/loginApi` besides
/// `x-api-key`; an expired token (401) logs in again, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omni_logs_in_and_logs_in_again_when_the_token_expires() {
    use wiremock::matchers::header;
    secrets();
    std::env::set_var("T_OMNI_PASSWORD", "omni-password-1");
    let mock = MockServer::start().await;
    let logins = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = logins.clone();
    Mock::given(method("POST"))
        .and(path("/Login/loginApi"))
        .respond_with(move |_: &wiremock::Request| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(json!({ "token": format!("tk-{n}") }))
        })
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/integration/attendance/at-9/messages"))
        .and(header("authorization", "Bearer tk-1"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/integration/attendance/at-9/messages"))
        .and(header("authorization", "Bearer tk-2"))
        .and(header("x-api-key", "omni-api-key-77ff"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "ok": true })))
        .expect(2)
        .mount(&mock)
        .await;
    let mut settings = integration("omni", &mock.uri());
    settings["settings"]["login"] = json!("bot@acme.example");
    settings["settings"]["password"] = json!({ "env": "T_OMNI_PASSWORD" });
    let integ: fluxo::Integration = serde_json::from_value(settings).expect("integration");
    let driver = fluxo::drivers::omni::Omni::new(Http::new(fast()));
    let conv = fluxo::drivers::Conversation {
        identifier: "maria".into(),
        remote_id: Some("at-9".into()),
        integration: integ,
        idempotency_key: None,
    };
    use fluxo::drivers::Driver as _;
    driver
        .send(&conv, "oi")
        .await
        .expect("sent after logging in again");
    driver
        .send(&conv, "tudo bem?")
        .await
        .expect("sent with the new token");
    assert_eq!(
        logins.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "one login, one renewal"
    );
    let login: Value = mock
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .find(|r| r.url.path() == "/Login/loginApi")
        .and_then(|r| serde_json::from_slice(&r.body).ok())
        .unwrap_or_default();
    assert_eq!(
        login,
        json!({ "login": "bot@acme.example", "password": "omni-password-1" })
    );
}

/// Omni's hand-over (the open call) logs in again after a 401, as its messages and closes do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omni_opens_after_logging_in_again() {
    use wiremock::matchers::header;
    secrets();
    std::env::set_var("T_OMNI_PASSWORD", "omni-password-1");
    let mock = MockServer::start().await;
    let logins = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = logins.clone();
    Mock::given(method("POST"))
        .and(path("/Login/loginApi"))
        .respond_with(move |_: &wiremock::Request| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(json!({ "token": format!("tk-{n}") }))
        })
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/integration/attendance"))
        .and(header("authorization", "Bearer tk-1"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/integration/attendance"))
        .and(header("authorization", "Bearer tk-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "at-1" })))
        .expect(1)
        .mount(&mock)
        .await;
    let mut settings = integration("omni", &mock.uri());
    settings["settings"]["login"] = json!("bot@acme.example");
    settings["settings"]["password"] = json!({ "env": "T_OMNI_PASSWORD" });
    let integ: fluxo::Integration = serde_json::from_value(settings).expect("integration");
    let driver = fluxo::drivers::omni::Omni::new(Http::new(fast()));
    let conv = fluxo::drivers::Conversation {
        identifier: "maria".into(),
        remote_id: None,
        integration: integ,
        idempotency_key: None,
    };
    let request = fluxo::HttpRequest::json(
        fluxo::Method::Post,
        format!("{}/integration/attendance", mock.uri()),
        json!({ "clientId": "maria" }),
    )
    .credential("x-api-key", "", "api_key");
    use fluxo::drivers::Driver as _;
    let opened = driver
        .open(&conv, &request)
        .await
        .expect("opened after logging in again");
    assert_eq!(opened.remote_id, "at-1");
    assert_eq!(logins.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// An AppJWT LivePerson expired before its `expires_in`: the 401 gets fresh tokens and the
/// message goes out, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveperson_gets_fresh_tokens_after_a_401() {
    use wiremock::matchers::header;
    secrets();
    let mock = MockServer::start().await;
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = issued.clone();
    Mock::given(method("POST"))
        .and(path("/sentinel/api/account/123/app/token"))
        .respond_with(move |_: &wiremock::Request| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(
                json!({ "access_token": format!("app-jwt-{n}"), "expires_in": 3600 }),
            )
        })
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/account/123/consumer"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "token": "consumer-jws" })))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/api/account/123/messaging/consumer/conversation/send",
        ))
        .and(header("authorization", "app-jwt-1"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/api/account/123/messaging/consumer/conversation/send",
        ))
        .and(header("authorization", "app-jwt-2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "reqId": "1", "code": "OK", "body": { "sequence": 1 } })),
        )
        .expect(1)
        .mount(&mock)
        .await;
    let mut settings = integration("liveperson", &mock.uri());
    settings["settings"]["base_url"] = json!(mock.uri());
    let integ: fluxo::Integration = serde_json::from_value(settings).expect("integration");
    let driver = fluxo::drivers::liveperson::LivePerson::new(Http::new(fast()));
    let conv = fluxo::drivers::Conversation {
        identifier: "maria".into(),
        remote_id: Some("conv-77".into()),
        integration: integ,
        idempotency_key: None,
    };
    use fluxo::drivers::Driver as _;
    driver
        .send(&conv, "oi")
        .await
        .expect("sent with fresh tokens");
    assert_eq!(issued.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// A host that runs without the runtime's workers (`Options::workers` off) drives timers
/// itself with `Runtime::work`: nothing fires until it calls, and then the due timer fires.
#[tokio::test(start_paused = true)]
async fn a_host_without_workers_fires_timers_with_work() {
    let bot = Bot::from_json(
        &read("flows/simulator.json"),
        Some(&read("flows/integrations.json")),
    )
    .expect("loads");
    let (rt, _rx) = Runtime::with_bots(
        vec![fluxo::runtime::NamedBot {
            name: "default".into(),
            bot,
            source: None,
        }],
        Arc::new(MemoryStore::default()),
        Http::new(fast()),
        Arc::new(TokioClock::starting_at(1_795_453_200_000)),
        fluxo::runtime::Options {
            workers: false,
            ..Default::default()
        },
    );
    to_the_agent(&rt, "u", plain_start()).await;
    tokio::time::sleep(Duration::from_secs(301)).await;
    assert!(
        rt.session("u")
            .await
            .is_some_and(|s| s.live_chat().is_some()),
        "no worker: still waiting"
    );
    assert!(rt.work().await, "the due timer fired");
    assert!(rt
        .session("u")
        .await
        .is_some_and(|s| s.live_chat().is_none()));
    assert!(!rt.work().await, "nothing left to do");
}

/// Ctrl-C while `fluxo run --live` waits on an open live chat ends it as the user would: the
/// provider's ticket is closed before fluxo exits, not left waiting for an agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_in_live_mode_closes_the_open_chat() {
    secrets();
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/tickets"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({ "ticket": { "id": 4711, "requester_id": 9 } })),
        )
        .mount(&mock)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v2/tickets/4711"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&mock)
        .await;
    let dir = common::Scratch::new("live-ctrl-c");
    std::fs::copy(
        common::root().join("flows/zendesk.json"),
        dir.join("zendesk.json"),
    )
    .expect("copy");
    std::fs::write(
        dir.join("integrations.json"),
        json!({ "integrations": [ integration("zendesk", &mock.uri()) ] }).to_string(),
    )
    .expect("write");
    std::fs::write(dir.join("events.jsonl"), "{\"type\": \"start\", \"context\": {\"zendeskTag\": \"vip\"}}\n{\"type\": \"user\", \"text\": \"529.982.247-25\"}\n{\"type\": \"user\", \"text\": \"2\"}\n").expect("write");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args([
            "run",
            "zendesk.json",
            "--live",
            "--events",
            "events.jsonl",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn fluxo run --live");
    for _ in 0..200 {
        if mock
            .received_requests()
            .await
            .is_some_and(|r| !r.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give the provider's answer time to be applied, then press Ctrl-C.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().expect("pid").to_string();
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status();
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("fluxo exits after Ctrl-C")
        .expect("status");
    assert!(status.code().is_some(), "exited, not killed by the signal");
    let closed = mock
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .any(|b| b["ticket"]["status"] == "closed");
    assert!(closed, "the ticket was closed before leaving");
}

/// A `webex_cc` integration in callback mode (the public Create Task API).
fn webex_callback(base: &str) -> Value {
    json!({ "id": 4, "provider": "webex_cc", "mask_pii": true, "wait_timeout_s": 300,
        "settings": { "mode": "callback", "base_url": base, "entry_point_id": "9b3c5a2e-1f4d-4c7a-8e2b-6d1f0a9c3e57",
                      "origin": "+551130001000", "access_token": { "env": "T_WEBEX_TOKEN" },
                      "webhook_secret": { "env": "T_WEBEX_WEBHOOK_SECRET" } } })
}

/// A start whose contact has `phone_field: phone` (or no phone).
fn start_with_phone(phone: Option<(&str, &str)>) -> Event {
    let mut contact = json!({ "name": "João Souza", "email": "joao@exemplo.com.br" });
    if let (Some((field, number)), Some(c)) = (phone, contact.as_object_mut()) {
        c.insert(field.into(), json!(number));
    }
    Event::Start {
        channel: None,
        context: json!({ "matricula": "2024002" }).as_object().cloned(),
        contact: contact.as_object().cloned(),
    }
}

/// A Contact Center delivery: the CloudEvents-like envelope around `data`, signed as Webex
/// signs it (`X-WebexCC-Signature`), with the version 2 timestamp in the body and the header
/// when `at_ms` is given.
fn webex_delivery(
    secret: &str,
    id: &str,
    kind: &str,
    data: Value,
    at_ms: Option<i64>,
) -> (String, Vec<(&'static str, String)>) {
    let mut event = json!({ "id": id, "specversion": "1.0", "type": kind,
        "source": "/com/cisco/wxcc/8b3f2f43-6a8f-4bd4-9d7e-0c2f3a4b5c6d",
        "comciscoorgid": "658d1102-8c11-4850-a809-d7a99cc1c22f",
        "datacontenttype": "application/json", "data": data });
    if let (Some(t), Some(e)) = (at_ms, event.as_object_mut()) {
        e.insert("comciscotimestamp".into(), json!(t));
    }
    let body = event.to_string();
    let mut headers = vec![(
        "x-webexcc-signature",
        fluxo::drivers::signature::webex_cc(secret, body.as_bytes()),
    )];
    if let Some(t) = at_ms {
        headers.push(("x-webexcc-timestamp", t.to_string()));
    }
    (body, headers)
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Answers task creation with a `CreateTaskResponse` and a new task UUID each time.
async fn webex_task_mock(mock: &MockServer) {
    let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/v1/tasks"))
        .respond_with(move |_: &wiremock::Request| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            ResponseTemplate::new(201).set_body_json(webex_created(i))
        })
        .mount(mock)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path_regex(r"^/v1/tasks/[^/]+/end$"))
        .respond_with(ResponseTemplate::new(202))
        .mount(mock)
        .await;
}

/// The `i`th task the fake creates, as `CreateTaskResponse`.
fn webex_created(i: usize) -> Value {
    json!({ "meta": { "orgId": "658d1102-8c11-4850-a809-d7a99cc1c22f" },
            "data": { "id": format!("768d1102-8c11-4850-a809-d7a99cc1c2{i:02}") } })
}

fn webex_task(i: usize) -> String {
    format!("768d1102-8c11-4850-a809-d7a99cc1c2{i:02}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webex_callback_end_to_end() {
    let spec = common::vendor_spec("webex/webex-contact-center.json");
    let mut h = harness_with("webex_cc", fast(), webex_callback).await;
    webex_task_mock(&h.mock).await;
    if let Some(spec) = &spec {
        // The fake answers what the spec says Webex answers.
        let v = common::openapi_validator(
            spec,
            &json!({ "$ref": "#/components/schemas/CreateTaskResponse" }),
        );
        let answer = webex_created(1);
        assert!(
            v.is_valid(&answer),
            "{:?}",
            v.iter_errors(&answer)
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
        );
    }

    // João asks for an agent; his phone number is in the contact, written as people write it.
    let out = to_the_agent(
        &h.rt,
        "joao",
        start_with_phone(Some(("telefone", "+55 (11) 98765-4321"))),
    )
    .await;
    assert!(closed(&out).is_none(), "{out:?}");
    let task = webex_task(1);
    assert_eq!(
        h.rt.session("joao")
            .await
            .and_then(|s| s.live_chat().and_then(|c| c.remote_id().map(str::to_owned))),
        Some(task.clone())
    );
    // There is no chat in a callback: what he types meanwhile is dropped, and the callback
    // stays pending (a refusal would end it with `error`).
    h.rt.event("joao", user("vocês vão me ligar mesmo?")).await;
    assert!(h
        .rt
        .session("joao")
        .await
        .is_some_and(|s| s.live_chat().is_some()));

    let hook = format!("{}/webhooks/4", h.router);
    let secret = "webex-webhook-secret-00ii";
    let deliver =
        |id: &str, kind: &str, data: Value| webex_delivery(secret, id, kind, data, Some(now_ms()));
    // Offered to an agent who does not answer (RONA): back to the queue, nothing ends.
    for (id, kind, data) in [
        (
            "e1",
            "task:connect",
            json!({ "taskId": task, "agentId": "a-1" }),
        ),
        (
            "e2",
            "task:ended",
            json!({ "taskId": task, "terminatingParty": "System", "reason": "RONA Timer Expired" }),
        ),
        (
            "e3",
            "agent:message",
            json!({ "taskId": task, "text": "not in a callback" }),
        ),
    ] {
        let (b, s) = deliver(id, kind, data);
        assert_eq!(post(&hook, &s, b.as_bytes()).await, 200);
    }
    let s = h.rt.session("joao").await;
    assert!(
        s.as_ref()
            .is_some_and(|s| s.live_chat().is_some_and(|c| c.agents().is_empty())),
        "only task:connected is an agent on the line in callback mode: {s:?}"
    );
    let (b, s) = deliver(
        "e4",
        "task:connected",
        json!({ "taskId": task, "agentId": "a-2", "agentName": "Carla" }),
    );
    assert_eq!(post(&hook, &s, b.as_bytes()).await, 200);
    assert!(h
        .rt
        .session("joao")
        .await
        .is_some_and(|s| s.live_chat().is_some_and(|c| c.agents() == ["Carla"])));
    fired(&mut h);
    let (b, s) = deliver(
        "e5",
        "task:ended",
        json!({ "taskId": task, "terminatingParty": "Agent", "wrapUpReason": "Retorno concluído" }),
    );
    assert_eq!(post(&hook, &s, b.as_bytes()).await, 200);
    assert_eq!(
        fired(&mut h).first().map(String::as_str),
        Some("pesquisa"),
        "the agent's end is `agent_closed`"
    );

    // Ana's callback is ended from the bot's side: End Task, which takes no body.
    to_the_agent(
        &h.rt,
        "ana",
        start_with_phone(Some(("celular", "11 91234-5678"))),
    )
    .await;
    fired(&mut h);
    h.rt.event("ana", Event::UserClose { reason: None }).await;
    assert_eq!(fired(&mut h).first().map(String::as_str), Some("despedida"));
    // A customer who hangs up is `user_closed`.
    to_the_agent(
        &h.rt,
        "bia",
        start_with_phone(Some(("phone", "+5511955554444"))),
    )
    .await;
    fired(&mut h);
    let (b, s) = deliver(
        "e6",
        "task:ended",
        json!({ "taskId": webex_task(3), "terminatingParty": "Customer" }),
    );
    assert_eq!(post(&hook, &s, b.as_bytes()).await, 200);
    assert_eq!(fired(&mut h).first().map(String::as_str), Some("despedida"));
    // A task Webex could not route is `error`.
    to_the_agent(
        &h.rt,
        "caio",
        start_with_phone(Some(("phone", "11 3333-2222"))),
    )
    .await;
    fired(&mut h);
    let (b, s) = deliver(
        "e7",
        "task:failed",
        json!({ "taskId": webex_task(4), "reason": "No outdial ANI" }),
    );
    assert_eq!(post(&hook, &s, b.as_bytes()).await, 200);
    assert_eq!(fired(&mut h).first().map(String::as_str), Some("falha"));

    // No phone number, or one longer than Webex takes: the hand-over fails with a reason, in
    // the flow's error branch, and nothing is sent.
    let out = to_the_agent(&h.rt, "sem_fone", start_with_phone(None)).await;
    assert_eq!(closed(&out), Some(CloseStatus::Error));
    assert!(out.iter().any(|o| matches!(o, Output::LiveChatClosed { reason: Some(r), .. } if r.contains("no phone number"))), "{out:?}");
    let long = "1".repeat(37);
    let out = to_the_agent(&h.rt, "longo", start_with_phone(Some(("phone", &long)))).await;
    assert!(out.iter().any(|o| matches!(o, Output::LiveChatClosed { reason: Some(r), .. } if r.contains("at most 36"))), "{out:?}");

    // Every request: task creations validate against `CreateTaskRequest`, ends have no body,
    // and no message went anywhere.
    let received = h.mock.received_requests().await.unwrap_or_default();
    let creates: Vec<Value> = received
        .iter()
        .filter(|r| r.url.path() == "/v1/tasks")
        .map(|r| serde_json::from_slice(&r.body).expect("JSON body"))
        .collect();
    assert_eq!(
        creates.len(),
        4,
        "no request for the contacts without a usable phone"
    );
    assert!(received
        .iter()
        .filter(|r| r.url.path().ends_with("/end"))
        .all(|r| r.body.is_empty()));
    assert!(!received.iter().any(|r| r.url.path().ends_with("/messages")));
    if let Some(spec) = &spec {
        let schema = common::request_schema(spec, "/v1/tasks", "post").expect("Create Task");
        let v = common::openapi_validator(spec, schema);
        assert!(
            !v.is_valid(&json!({ "entryPointId": "ep", "mediaType": "telephony" })),
            "the validator refuses a task without a destination"
        );
        for body in &creates {
            assert!(
                v.is_valid(body),
                "{body}: {:?}",
                v.iter_errors(body)
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
            );
        }
        assert_eq!(
            spec.pointer("/paths/~1v1~1tasks~1{taskId}~1end/post/requestBody"),
            None,
            "End Task takes no body"
        );
    }
    let reqs = requests(&h.mock, &["authorization", "content-type"]).await;
    assert!(
        reqs.contains("authorization: Bearer webex-token-99hh"),
        "{reqs}"
    );
    insta::assert_snapshot!(
        "webex_cc_callback_requests",
        reqs.replace("webex-token-99hh", "<token>")
    );
}

/// What a Contact Center webhook must carry: the right `X-WebexCC-Signature`, and a signed
/// timestamp close to now; anything else is refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webex_webhook_signatures() {
    use hmac::Mac as _;
    let h = harness_with("webex_cc", fast(), webex_callback).await;
    webex_task_mock(&h.mock).await;
    to_the_agent(
        &h.rt,
        "joao",
        start_with_phone(Some(("phone", "+5511987654321"))),
    )
    .await;
    let before = h.rt.session("joao").await;
    let hook = format!("{}/webhooks/4", h.router);
    let secret = "webex-webhook-secret-00ii";
    let data = json!({ "taskId": webex_task(1), "agentName": "Carla" });
    let (body, good) = webex_delivery(secret, "e1", "task:connected", data.clone(), Some(now_ms()));

    assert_eq!(post(&hook, &[], body.as_bytes()).await, 401, "missing");
    let mut wrong = good.clone();
    if let Some(sig) = wrong.first_mut() {
        sig.1 = fluxo::drivers::signature::webex_cc("another-secret", body.as_bytes());
    }
    assert_eq!(
        post(&hook, &wrong, body.as_bytes()).await,
        401,
        "wrong secret"
    );
    let tampered = body.replace("Carla", "Mallory");
    assert_eq!(
        post(&hook, &good, tampered.as_bytes()).await,
        401,
        "body changed after signing"
    );
    // The Webex Webhooks API's scheme is not Contact Center's, even when computed correctly.
    let mut sha1 = <hmac::Hmac<sha1::Sha1> as hmac::KeyInit>::new_from_slice(secret.as_bytes())
        .expect("any key length");
    sha1.update(body.as_bytes());
    let spark: String = sha1
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        post(&hook, &[("x-spark-signature", spark)], body.as_bytes()).await,
        401,
        "X-Spark-Signature is not accepted"
    );
    // A delivery signed ten minutes ago (a replay), with or without the header.
    let old = now_ms() - 10 * 60 * 1000;
    let (stale, stale_h) = webex_delivery(secret, "e1", "task:connected", data.clone(), Some(old));
    assert_eq!(
        post(&hook, &stale_h, stale.as_bytes()).await,
        401,
        "replayed"
    );
    assert_eq!(
        post(&hook, &stale_h[..1], stale.as_bytes()).await,
        401,
        "replayed without the header"
    );
    let mut moved = good.clone();
    if let Some(t) = moved.get_mut(1) {
        t.1 = (now_ms() + 1).to_string();
    }
    assert_eq!(
        post(&hook, &moved, body.as_bytes()).await,
        401,
        "header and body timestamps differ"
    );
    assert_eq!(h.rt.session("joao").await, before, "nothing changed");

    // A version 1 subscription sends no timestamp: the signature alone is checked.
    let (v1, v1_h) = webex_delivery(
        secret,
        "e0",
        "agent:login",
        json!({ "agentId": "a-2" }),
        None,
    );
    assert_eq!(
        post(&hook, &v1_h, v1.as_bytes()).await,
        200,
        "an event fluxo does not use is acknowledged"
    );
    assert_eq!(post(&hook, &good, body.as_bytes()).await, 200, "correct");
    assert!(h
        .rt
        .session("joao")
        .await
        .is_some_and(|s| s.live_chat().is_some_and(|c| c.agents() == ["Carla"])));
    assert_eq!(
        post(&hook, &good, body.as_bytes()).await,
        200,
        "a repeated delivery"
    );

    // An empty secret is no secret: a delivery signed with the empty key is refused.
    let h = harness_with("webex_cc", fast(), |base| {
        let mut i = webex_callback(base);
        i["settings"]["webhook_secret"] = json!({ "env": "T_WEBEX_EMPTY_SECRET" });
        i
    })
    .await;
    let (b, s) = webex_delivery("", "e1", "task:connected", data, Some(now_ms()));
    assert_eq!(
        post(&format!("{}/webhooks/4", h.router), &s, b.as_bytes()).await,
        401
    );
}

/// With `refresh_token`, `client_id` and `client_secret`, the driver gets its access token from
/// the token endpoint, keeps it, and after a 401 gets a fresh one and calls again, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webex_refreshes_the_access_token_after_a_401() {
    use wiremock::matchers::header;
    let h = harness_with("webex_cc", fast(), |base| {
        let mut i = webex_callback(base);
        if let Some(s) = i.get_mut("settings").and_then(Value::as_object_mut) {
            s.remove("access_token");
            s.insert("token_url".into(), json!(format!("{base}/v1/access_token")));
            s.insert(
                "refresh_token".into(),
                json!({ "env": "T_WEBEX_REFRESH_TOKEN" }),
            );
            s.insert("client_id".into(), json!({ "env": "T_WEBEX_CLIENT_ID" }));
            s.insert(
                "client_secret".into(),
                json!({ "env": "T_WEBEX_CLIENT_SECRET" }),
            );
        }
        i
    })
    .await;
    let issued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = issued.clone();
    Mock::given(method("POST"))
        .and(path("/v1/access_token"))
        .respond_with(move |_: &wiremock::Request| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            // Webex's answer; this fake rotates the refresh token.
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": format!("webex-access-{n}-55nn"), "expires_in": 1_209_599,
                "refresh_token": "webex-refresh-rotated-44mm", "refresh_token_expires_in": 7_775_999,
                "token_type": "Bearer" }))
        })
        .mount(&h.mock)
        .await;
    // The first token is refused before its time.
    Mock::given(method("POST"))
        .and(path("/v1/tasks"))
        .and(header("authorization", "Bearer webex-access-1-55nn"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&h.mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/tasks"))
        .and(header("authorization", "Bearer webex-access-2-55nn"))
        .respond_with(ResponseTemplate::new(201).set_body_json(webex_created(1)))
        .mount(&h.mock)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/tasks/{}/end", webex_task(1))))
        .and(header("authorization", "Bearer webex-access-2-55nn"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&h.mock)
        .await;
    let out = to_the_agent(
        &h.rt,
        "joao",
        start_with_phone(Some(("phone", "+5511987654321"))),
    )
    .await;
    assert!(closed(&out).is_none(), "{out:?}");
    assert_eq!(
        h.rt.session("joao")
            .await
            .and_then(|s| s.live_chat().and_then(|c| c.remote_id().map(str::to_owned))),
        Some(webex_task(1))
    );
    h.rt.event("joao", Event::UserClose { reason: None }).await;
    assert_eq!(
        issued.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "one token, one fresh one after the 401, then the cached one for the close"
    );
    let forms: Vec<String> = h
        .mock
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/v1/access_token")
        .map(|r| {
            assert_eq!(
                r.headers.get("content-type").and_then(|v| v.to_str().ok()),
                Some("application/x-www-form-urlencoded")
            );
            String::from_utf8_lossy(&r.body).into_owned()
        })
        .collect();
    assert_eq!(
        forms,
        [
            "grant_type=refresh_token&client_id=webex-client-id-22kk&client_secret=webex-client-secret-33ll&refresh_token=webex-refresh-token-11jj",
            "grant_type=refresh_token&client_id=webex-client-id-22kk&client_secret=webex-client-secret-33ll&refresh_token=webex-refresh-rotated-44mm",
        ],
        "the refresh token Webex returned is the one used next"
    );

    // Without refresh settings, `access_token` is all there is: a 401 is not retried.
    let h = harness_with("webex_cc", fast(), webex_callback).await;
    Mock::given(method("POST"))
        .and(path("/v1/tasks"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&h.mock)
        .await;
    let out = to_the_agent(
        &h.rt,
        "joao",
        start_with_phone(Some(("phone", "+5511987654321"))),
    )
    .await;
    assert_eq!(closed(&out), Some(CloseStatus::Error));
    assert_eq!(h.mock.received_requests().await.map(|r| r.len()), Some(1));
}

/// The subscription command in `docs/providers.md` sends what Webex's Register Subscription
/// accepts.
#[test]
fn webex_subscription_in_the_docs_matches_the_spec() {
    let docs = read("docs/providers.md");
    let section = docs
        .split("### Webex Contact Center")
        .nth(1)
        .expect("a Webex setup section");
    let body = section
        .split("<<EOF\n")
        .nth(1)
        .and_then(|b| b.split("\nEOF").next())
        .expect("a heredoc body in the Webex section")
        .replace(
            "$WEBEX_WEBHOOK_SECRET",
            "a-webhook-secret-of-forty-characters-000",
        );
    let body: Value = serde_json::from_str(&body).expect("the body is JSON");
    assert_eq!(body["resourceVersion"], "task:1.0.0");
    let Some(spec) = common::vendor_spec("webex/webex-contact-center.json") else {
        return;
    };
    let check = |path: &str, body: &Value| {
        let schema = common::request_schema(&spec, path, "post").expect("Register Subscription");
        let v = common::openapi_validator(&spec, schema);
        assert!(
            v.is_valid(body),
            "{path}: {:?}",
            v.iter_errors(body)
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
        );
    };
    check("/v2/subscriptions", &body);
    let mut v1 = body.clone();
    if let Some(m) = v1.as_object_mut() {
        m.remove("resourceVersion");
    }
    check("/v1/subscriptions", &v1);
}

/// Digital mode (the beta's chat task), named explicitly: chat both ways, and one join per task
/// although the beta's `task:connect` and the documented `task:connected` both arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webex_digital_mode_chats_and_joins_once() {
    let h = harness_with("webex_cc", fast(), |base| {
        let mut i = integration("webex_cc", base);
        i["settings"]["mode"] = json!("digital");
        i
    })
    .await;
    webex_task_mock(&h.mock).await;
    let task = webex_task(1);
    Mock::given(method("POST"))
        .and(path(format!("/v1/tasks/{task}/messages")))
        .respond_with(ResponseTemplate::new(202))
        .mount(&h.mock)
        .await;
    hand_over(&h).await;
    let hook = format!("{}/webhooks/4", h.router);
    let secret = "webex-webhook-secret-00ii";
    for (id, kind, data) in [
        (
            "d1",
            "task:connect",
            json!({ "taskId": task, "agentName": "Ana" }),
        ),
        (
            "d2",
            "task:connected",
            json!({ "taskId": task, "agentId": "a-7" }),
        ),
        (
            "d3",
            "agent:message",
            json!({ "taskId": task, "text": "Olá, sou a Ana." }),
        ),
    ] {
        let (b, s) = webex_delivery(secret, id, kind, data, Some(now_ms()));
        assert_eq!(post(&hook, &s, b.as_bytes()).await, 200);
    }
    assert!(h
        .rt
        .session("maria")
        .await
        .is_some_and(|s| s.live_chat().is_some_and(|c| c.agents() == ["Ana"])));
    h.rt.event("maria", user("Oi Ana")).await;
    let received = h.mock.received_requests().await.unwrap_or_default();
    let sent: Vec<Value> = received
        .iter()
        .filter(|r| r.url.path().ends_with("/messages"))
        .map(|r| serde_json::from_slice(&r.body).unwrap_or_default())
        .collect();
    assert_eq!(sent, [json!({ "text": "Oi Ana" })]);
    let created: Value = received
        .iter()
        .find(|r| r.url.path() == "/v1/tasks")
        .map(|r| serde_json::from_slice(&r.body).unwrap_or_default())
        .unwrap_or_default();
    assert_eq!(created["mediaType"], "chat", "the beta's chat task");
}
