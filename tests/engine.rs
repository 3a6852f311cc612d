//! The conversation engine through its public API: the hand-over lifecycle on every provider
//! and every close status, timers at their exact boundaries, events in the wrong state, and
//! save/restore at every point of a conversation.

mod common;

use fluxo::engine::{Bot, CloseStatus, Event, Output, Session, Speaker};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Monday 2026-11-23 14:00 in São Paulo: inside the example business hours.
const MONDAY_2PM: i64 = 1_795_453_200_000;
/// Sunday 2026-11-22 10:00 in São Paulo: outside them.
const SUNDAY_10AM: i64 = 1_795_352_400_000;

const PROVIDERS: &[(&str, &str)] = &[
    ("liveperson", "7"),
    ("zendesk", "1"),
    ("altu_connector", "2"),
    ("omni", "3"),
    ("webex_cc", "4"),
    ("simulator", "9"),
];

fn read(p: &str) -> String {
    std::fs::read_to_string(common::root().join(p)).expect("read")
}

/// The bot for `flows/<name>.json`; `business_hours` gives its integration the Omni hours.
fn load(name: &str, business_hours: bool) -> Bot {
    let mut integ: Value =
        serde_json::from_str(&read("flows/integrations.json")).expect("integrations");
    if business_hours {
        let hours = integ["integrations"][3]["business_hours"].clone();
        for i in integ["integrations"].as_array_mut().expect("array") {
            i["business_hours"] = hours.clone();
        }
    }
    Bot::from_json(
        &read(&format!("flows/{name}.json")),
        Some(&integ.to_string()),
    )
    .expect("flow loads")
}

/// The example flow of `provider`, played up to the provider's acceptance (`remote` id).
fn accepted(provider: &str, remote: &str) -> (Vec<Output>, Session) {
    let bot = load(provider, false);
    let mut s = bot.new_session("u");
    let events = [
        prefix(),
        vec![json!({ "type": "provider_opened", "remote_id": remote })],
    ]
    .concat();
    let (out, _) = play(&bot, &mut s, MONDAY_2PM, &events);
    (out, s)
}

/// The `request` of the conversation's `handoff_requested`.
fn request_of(out: &[Output]) -> Value {
    out.iter()
        .find_map(|o| match o {
            Output::HandoffRequested { request, .. } => {
                Some(serde_json::to_value(request).unwrap_or_default())
            }
            _ => None,
        })
        .expect("a handoff_requested output")
}

fn ev(v: Value) -> Event {
    serde_json::from_value(v).expect("event")
}

/// Runs events, advancing the clock on `advance`; returns every output and a transcript.
fn play(bot: &Bot, s: &mut Session, start: i64, events: &[Value]) -> (Vec<Output>, String) {
    let mut now = start;
    let mut all = Vec::new();
    let mut transcript = String::new();
    for e in events {
        if let Some(secs) = e.get("seconds").and_then(Value::as_i64) {
            now += secs * 1000;
        }
        transcript.push_str(&format!("> {e}\n"));
        for o in bot.handle(s, ev(e.clone()), now) {
            transcript.push_str(&format!("  {}\n", serde_json::to_string(&o).expect("json")));
            all.push(o);
        }
    }
    (all, transcript)
}

fn prefix() -> Vec<Value> {
    vec![
        json!({ "type": "start", "contact": { "name": "Maria Silva", "email": "maria@exemplo.com.br", "phone": "+5511912345678" },
                "context": { "zendeskTag": "vip", "matricula": "2024001" } }),
        json!({ "type": "user", "text": "529.982.247-25" }),
        json!({ "type": "user", "text": "2" }),
    ]
}

fn ending(status: CloseStatus) -> Vec<Value> {
    let opened = json!({ "type": "provider_opened", "remote_id": "conv-1", "result": { "estimated_wait_s": 120 } });
    let join = json!({ "type": "agent_join", "name": "Carla" });
    let hello = json!({ "type": "agent_message", "text": "Olá, sou a Carla." });
    match status {
        CloseStatus::AgentClosed => vec![
            opened,
            join,
            hello,
            json!({ "type": "user", "text": "Obrigada!" }),
            json!({ "type": "agent_close", "wrap_up": "resolvido" }),
            json!({ "type": "user", "text": "5" }),
        ],
        CloseStatus::UserClosed => vec![opened, join, hello, json!({ "type": "user_close" })],
        CloseStatus::Timeout => vec![opened, json!({ "type": "advance", "seconds": 900 })],
        CloseStatus::UserInactivityTimeout => vec![
            opened,
            join,
            hello,
            json!({ "type": "advance", "seconds": 600 }),
        ],
        CloseStatus::Error => {
            vec![json!({ "type": "provider_error", "message": "HTTP 503 from the provider" })]
        }
        CloseStatus::OutOfHours => vec![],
        _ => unreachable!("a status the tests do not know"),
    }
}

/// The node each status leads to in the example flows.
fn branch(status: CloseStatus, provider: &str) -> &'static str {
    match status {
        CloseStatus::AgentClosed => "pesquisa",
        CloseStatus::UserClosed => "despedida",
        CloseStatus::Timeout => "sem_agente",
        CloseStatus::UserInactivityTimeout => "inatividade",
        CloseStatus::Error => "falha",
        CloseStatus::OutOfHours if provider == "omni" => "fora_do_horario",
        CloseStatus::OutOfHours => "menu",
        _ => unreachable!("a status the tests do not know"),
    }
}

#[test]
fn every_close_status_on_every_provider() {
    for (provider, _) in PROVIDERS {
        for status in CloseStatus::ALL {
            let ooh = status == CloseStatus::OutOfHours;
            let bot = load(provider, ooh);
            let mut s = bot.new_session("maria-42");
            let mut events = prefix();
            events.extend(ending(status));
            let (out, transcript) = play(
                &bot,
                &mut s,
                if ooh { SUNDAY_10AM } else { MONDAY_2PM },
                &events,
            );
            insta::assert_snapshot!(format!("{provider}__{}", status.as_str()), transcript);

            let closes: Vec<_> = out
                .iter()
                .filter_map(|o| match o {
                    Output::LiveChatClosed { status, .. } => Some(*status),
                    _ => None,
                })
                .collect();
            assert_eq!(
                closes,
                vec![status],
                "{provider}/{status:?}: exactly one close status"
            );
            let after = out
                .iter()
                .skip_while(|o| !matches!(o, Output::LiveChatClosed { .. }));
            let next_node = after
                .filter_map(|o| match o {
                    Output::NodeEntered { id } => Some(id.as_str()),
                    _ => None,
                })
                .next();
            assert_eq!(
                next_node,
                Some(branch(status, provider)),
                "{provider}/{status:?} resumes in its branch"
            );
            assert_eq!(
                out.iter()
                    .any(|o| matches!(o, Output::HandoffRequested { .. })),
                !ooh,
                "{provider}/{status:?}"
            );
            // The bot never speaks between the request and the close.
            let mut open = false;
            for o in &out {
                match o {
                    Output::HandoffRequested { .. } => open = true,
                    Output::LiveChatClosed { .. } => open = false,
                    Output::Message {
                        from: Speaker::Bot,
                        text,
                        ..
                    } => assert!(
                        !open,
                        "{provider}/{status:?}: the bot spoke during the chat: {text:?}"
                    ),
                    _ => {}
                }
            }
            // The engine closes the provider's side only when the end did not come from it.
            let engine_closed = out
                .iter()
                .any(|o| matches!(o, Output::CloseProviderConversation { .. }));
            let expected = matches!(
                status,
                CloseStatus::UserClosed | CloseStatus::Timeout | CloseStatus::UserInactivityTimeout
            );
            assert_eq!(engine_closed, expected, "{provider}/{status:?}");
        }
    }
}

/// A small bot on the simulator (wait 300 s, inactivity 600 s) already handed over.
fn handed_over() -> (Bot, Session, i64) {
    let bot = load("simulator", false);
    let mut s = bot.new_session("u");
    play(&bot, &mut s, MONDAY_2PM, &prefix());
    assert!(s.live_chat().is_some());
    (bot, s, MONDAY_2PM)
}

fn status_of(out: &[Output]) -> Option<CloseStatus> {
    out.iter().find_map(|o| match o {
        Output::LiveChatClosed { status, .. } => Some(*status),
        _ => None,
    })
}

#[test]
fn wait_timeout_fires_at_the_exact_boundary() {
    let (bot, mut s, t0) = handed_over();
    let out = bot.handle(&mut s, Event::Advance { seconds: 299 }, t0 + 299_000);
    assert_eq!(status_of(&out), None, "299 s does not fire a 300 s timeout");
    let out = bot.handle(&mut s, Event::Advance { seconds: 1 }, t0 + 300_000);
    assert_eq!(status_of(&out), Some(CloseStatus::Timeout), "300 s does");
}

#[test]
fn inactivity_is_rearmed_by_agent_messages_and_stopped_by_the_user() {
    let (bot, mut s, t0) = handed_over();
    bot.handle(
        &mut s,
        ev(json!({ "type": "agent_join", "name": "Carla" })),
        t0 + 10_000,
    );
    assert_eq!(
        status_of(&bot.handle(&mut s, Event::Advance { seconds: 0 }, t0 + 609_999)),
        None
    );
    bot.handle(
        &mut s,
        ev(json!({ "type": "agent_message", "text": "Oi?" })),
        t0 + 609_999,
    );
    assert_eq!(
        status_of(&bot.handle(&mut s, Event::Advance { seconds: 0 }, t0 + 1_209_998)),
        None,
        "re-armed by the agent message"
    );
    assert_eq!(
        status_of(&bot.handle(&mut s, Event::Advance { seconds: 0 }, t0 + 1_209_999)),
        Some(CloseStatus::UserInactivityTimeout)
    );

    let (bot, mut s, t0) = handed_over();
    bot.handle(
        &mut s,
        ev(json!({ "type": "agent_join", "name": "Carla" })),
        t0,
    );
    bot.handle(
        &mut s,
        ev(json!({ "type": "agent_message", "text": "Oi?" })),
        t0 + 1_000,
    );
    bot.handle(
        &mut s,
        ev(json!({ "type": "user", "text": "Oi, tudo bem" })),
        t0 + 2_000,
    );
    assert_eq!(
        status_of(&bot.handle(&mut s, Event::Advance { seconds: 0 }, t0 + 3_600_000)),
        None,
        "stopped by the user's reply"
    );
    assert!(s.live_chat().is_some());
}

#[test]
fn transfer_requeues_and_rearms_the_wait_timer() {
    let (bot, mut s, t0) = handed_over();
    bot.handle(
        &mut s,
        ev(json!({ "type": "agent_join", "name": "Carla" })),
        t0 + 200_000,
    );
    let out = bot.handle(
        &mut s,
        ev(json!({ "type": "agent_transfer", "to": "fila-financeiro" })),
        t0 + 250_000,
    );
    assert!(matches!(&out[..], [Output::RepresentativeLeft { name, .. }] if name == "Carla"));
    assert_eq!(
        status_of(&bot.handle(&mut s, Event::Advance { seconds: 0 }, t0 + 549_999)),
        None
    );
    assert_eq!(
        status_of(&bot.handle(&mut s, Event::Advance { seconds: 0 }, t0 + 550_000)),
        Some(CloseStatus::Timeout)
    );
}

#[test]
fn conference_joins_and_both_agents_leave() {
    let (bot, mut s, t0) = handed_over();
    let a = bot.handle(
        &mut s,
        ev(json!({ "type": "agent_join", "name": "Carla" })),
        t0,
    );
    let b = bot.handle(
        &mut s,
        ev(json!({ "type": "agent_join", "name": "Bruno" })),
        t0,
    );
    assert!(
        matches!(&a[..], [Output::RepresentativeJoined { .. }])
            && matches!(&b[..], [Output::RepresentativeJoined { .. }])
    );
    let m = bot.handle(
        &mut s,
        ev(json!({ "type": "agent_message", "text": "Entrei também" })),
        t0,
    );
    assert!(
        matches!(&m[..], [Output::Message { from: Speaker::Agent, agent: Some(a), .. }] if a == "Bruno")
    );
    let out = bot.handle(&mut s, ev(json!({ "type": "agent_close" })), t0);
    let left: Vec<_> = out
        .iter()
        .filter(|o| matches!(o, Output::RepresentativeLeft { .. }))
        .collect();
    assert_eq!(left.len(), 2);
}

/// Who joins is shown as the provider says it: a bot as `BOT`, an avatar when there is one,
/// on the join and on the leave (which survives a save and restore of the session). A join
/// the provider repeats changes nothing; structured content reaches the channel whole.
#[test]
fn representatives_as_the_provider_describes_them() {
    let (bot, mut s, t0) = handed_over();
    let joined = bot.handle(
        &mut s,
        ev(json!({ "type": "agent_join", "name": "Carla", "avatar": "https://cdn.example/carla.png" })),
        t0,
    );
    let line = serde_json::to_string(&joined).expect("json");
    assert!(
        line.contains(r#""representative_type":"HUMAN","avatar":"https://cdn.example/carla.png""#),
        "{line}"
    );
    let again = bot.handle(
        &mut s,
        ev(json!({ "type": "agent_join", "name": "Carla", "avatar": "https://cdn.example/carla.png" })),
        t0,
    );
    assert!(again.is_empty(), "a repeated join is no news: {again:?}");
    let robot = bot.handle(
        &mut s,
        ev(json!({ "type": "agent_join", "name": "Assistente", "representative_type": "BOT" })),
        t0,
    );
    assert_eq!(
        serde_json::to_string(&robot).expect("json"),
        r#"[{"type":"representative_joined","name":"Assistente","representative_type":"BOT"}]"#
    );
    let card = json!({ "type": "vertical", "elements": [ { "type": "text", "text": "Escolha" } ] });
    let rich = bot.handle(
        &mut s,
        ev(json!({ "type": "agent_message", "text": "", "content": card })),
        t0,
    );
    assert!(
        matches!(&rich[..], [Output::Message { from: Speaker::Agent, text: None, message: Some(m), .. }] if *m == card),
        "{rich:?}"
    );
    let mut s = bot
        .restore(&serde_json::to_string(&s).expect("save"))
        .expect("restore");
    let out = bot.handle(&mut s, ev(json!({ "type": "agent_close" })), t0);
    let left: Vec<String> = out
        .iter()
        .filter(|o| matches!(o, Output::RepresentativeLeft { .. }))
        .map(|o| serde_json::to_string(o).expect("json"))
        .collect();
    assert_eq!(
        left,
        [
            r#"{"type":"representative_left","name":"Carla","representative_type":"HUMAN","avatar":"https://cdn.example/carla.png"}"#,
            r#"{"type":"representative_left","name":"Assistente","representative_type":"BOT"}"#
        ]
    );
}

#[test]
fn events_in_the_wrong_state_change_nothing() {
    let bot = load("simulator", false);
    let mut s = bot.new_session("u");
    play(&bot, &mut s, MONDAY_2PM, &prefix()[..2]);
    let before = serde_json::to_string(&s).expect("json");
    for e in [
        json!({ "type": "agent_message", "text": "oi" }),
        json!({ "type": "agent_join", "name": "Carla" }),
        json!({ "type": "agent_close" }),
        json!({ "type": "agent_transfer", "to": "x" }),
        json!({ "type": "user_close" }),
        json!({ "type": "provider_opened", "remote_id": "r" }),
        json!({ "type": "provider_error", "message": "x" }),
        json!({ "type": "action_result", "id": "nope", "result": {} }),
    ] {
        let out = bot.handle(&mut s, ev(e.clone()), MONDAY_2PM);
        assert!(
            matches!(&out[..], [Output::Error { code, .. }] if code.code() == "unexpected_event"),
            "{e}: {out:?}"
        );
        assert_eq!(
            serde_json::to_string(&s).expect("json"),
            before,
            "{e} changed the session"
        );
    }
    // During a chat: an agent message before anyone joined (a provider's webhooks out of
    // order) joins the agent first and reaches the user; a second close is an error.
    let (bot, mut s, t0) = handed_over();
    let out = bot.handle(
        &mut s,
        ev(json!({ "type": "agent_message", "text": "oi" })),
        t0,
    );
    assert!(
        matches!(&out[..], [Output::RepresentativeJoined { .. }, Output::Message { text: Some(t), .. }] if t == "oi"),
        "{out:?}"
    );
    bot.handle(&mut s, ev(json!({ "type": "agent_close" })), t0);
    let out = bot.handle(&mut s, ev(json!({ "type": "agent_close" })), t0);
    assert!(
        matches!(&out[..], [Output::Error { .. }]),
        "a second close is an error"
    );
}

fn inline(flow: Value) -> Bot {
    Bot::from_json(&flow.to_string(), None).expect("flow loads")
}

#[test]
fn a_user_who_types_a_template_gets_it_back_literally() {
    let bot = inline(json!({ "nodes": [
        { "id": "eco", "condition": "start", "context": { "secret": "s3nh4" }, "input": { "default": { "type": "text_input" } }, "next": [ { "goto": "diz" } ] },
        { "id": "diz", "context": { "dito": "<? input.text ?>" }, "output": [ { "default": { "type": "text", "text": "Você disse: <? input.text ?> / <? $dito ?>" } } ] } ] }));
    let mut s = bot.new_session("u");
    let (out, _) = play(
        &bot,
        &mut s,
        0,
        &[
            json!({ "type": "start" }),
            json!({ "type": "user", "text": "<? $secret ?>" }),
        ],
    );
    assert!(out.iter().any(|o| matches!(o, Output::Message { text: Some(t), .. } if t == "Você disse: <? $secret ?> / <? $secret ?>")), "{out:?}");
}

#[test]
fn the_loop_limit_stops_the_turn() {
    let bot = inline(json!({ "nodes": [
        { "id": "a", "condition": "start", "next": [ { "goto": "b" } ] },
        { "id": "b", "next": [ { "goto": "a" } ] } ] }));
    let mut s = bot.new_session("u");
    let out = bot.handle(
        &mut s,
        Event::Start {
            channel: None,
            context: None,
            contact: None,
        },
        0,
    );
    assert_eq!(
        out.iter()
            .filter(|o| matches!(o, Output::NodeEntered { .. }))
            .count(),
        64
    );
    assert!(matches!(out.last(), Some(Output::Error { code, .. }) if code.code() == "loop_limit"));
}

#[test]
fn input_validation_uses_tries_and_error_messages() {
    let bot = load("simulator", false);
    let mut s = bot.new_session("u");
    let (out, _) = play(
        &bot,
        &mut s,
        0,
        &[
            json!({ "type": "start" }),
            json!({ "type": "user", "text": "123" }),
            json!({ "type": "user", "text": "abc" }),
        ],
    );
    let texts: Vec<&str> = out
        .iter()
        .filter_map(|o| match o {
            Output::Message { text: Some(t), .. } => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        texts.ends_with(&["CPF inválido, tente de novo.", "Ainda não é um CPF válido."]),
        "{texts:?}"
    );
    assert_eq!(s.focus(), Some("boas_vindas"));
    let out = bot.handle(&mut s, ev(json!({ "type": "user", "text": "000" })), 0);
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::NodeEntered { id } if id == "encerramento")),
        "after the third try the flow goes on with input.valid == false"
    );
}

#[test]
fn host_actions_suspend_and_resume() {
    let bot = inline(json!({ "nodes": [
        { "id": "cep", "condition": "start",
          "actions": [ { "name": "http_request", "parameters": { "flavor": "axios", "config": { "url": "https://viacep.com.br/ws/<? $cep ?>/json", "method": "get" },
                          "before_action_messages": ["Consultando o CEP…"] }, "result_variable": "viacep" } ],
          "output": [ { "default": { "type": "text", "text": "Rua: <? $viacep.body.logradouro ?> (<? $viacep.statusCode ?>)" } } ] } ] }));
    let mut s = bot.new_session("u");
    let out = bot.handle(
        &mut s,
        Event::Start {
            channel: None,
            context: Some(
                json!({ "cep": "01001000" })
                    .as_object()
                    .cloned()
                    .expect("obj"),
            ),
            contact: None,
        },
        0,
    );
    let id = out
        .iter()
        .find_map(|o| match o {
            Output::ActionRequested { id, parameters, .. } => {
                assert_eq!(
                    parameters["config"]["url"],
                    "https://viacep.com.br/ws/01001000/json"
                );
                Some(id.clone())
            }
            _ => None,
        })
        .expect("action requested");
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Message { text: Some(t), .. } if t == "Consultando o CEP…")));
    // The session can be saved while it waits.
    let mut s = bot
        .restore(&serde_json::to_string(&s).expect("json"))
        .expect("restores");
    let out = bot.handle(
        &mut s,
        Event::ActionResult {
            id,
            result: json!({ "code": 200, "body": { "logradouro": "Praça da Sé" } }),
        },
        0,
    );
    assert!(
        out.iter().any(
            |o| matches!(o, Output::Message { text: Some(t), .. } if t == "Rua: Praça da Sé (200)")
        ),
        "{out:?}"
    );
}

#[test]
fn restore_refuses_other_flows_and_versions() {
    let bot = load("simulator", false);
    let mut s = bot.new_session("u");
    play(&bot, &mut s, 0, &prefix());
    let saved = serde_json::to_string(&s).expect("json");
    let other = bot_with_renamed_node();
    assert!(other
        .restore(&saved)
        .expect_err("other flow")
        .to_string()
        .contains("different version of the flow"));
    let v2 = saved.replacen("\"v\":1", "\"v\":2", 1);
    assert!(bot
        .restore(&v2)
        .expect_err("version")
        .to_string()
        .contains("format version 2"));
    assert!(bot.restore("{\"v\":1").is_err());
    assert!(bot.restore("[]").is_err());
    assert_eq!(bot.restore(&saved).expect("same flow"), s);
}

fn bot_with_renamed_node() -> Bot {
    let flow = read("flows/simulator.json").replace("\"pesquisa\"", "\"pesquisa_nova\"");
    Bot::from_json(&flow, Some(&read("flows/integrations.json"))).expect("loads")
}

#[test]
fn providers_specific_behaviour() {
    // Omni: the wait notice once, queue messages while queued.
    let bot = load("omni", false);
    let mut s = bot.new_session("u");
    let (out, _) = play(&bot, &mut s, MONDAY_2PM, &[prefix(), vec![
        json!({ "type": "provider_opened", "remote_id": "o-1", "result": { "estimated_wait_s": 150 } }),
        json!({ "type": "advance", "seconds": 60 }),
    ]].concat());
    let system: Vec<&str> = out
        .iter()
        .filter_map(|o| match o {
            Output::Message {
                from: Speaker::System,
                text: Some(t),
                ..
            } => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        system,
        [
            "Você está na fila de atendimento. Tempo estimado de espera: 3 min.",
            "Você ainda está na fila. Já já alguém te atende."
        ]
    );

    // Webex: what the agent sees is masked; long or markup agent messages are rejected.
    let bot = load("webex_cc", false);
    let mut s = bot.new_session("u");
    play(
        &bot,
        &mut s,
        MONDAY_2PM,
        &[
            prefix(),
            vec![json!({ "type": "agent_join", "name": "Ana" })],
        ]
        .concat(),
    );
    let out = bot.handle(&mut s, ev(json!({ "type": "user", "text": "meu e-mail é melissa@gmail.com e o celular +447966197542" })), MONDAY_2PM);
    assert!(
        matches!(&out[..], [Output::RelayToAgent { text }] if text == "meu e-mail é m******@gmail.com e o celular *********7542"),
        "{out:?}"
    );
    let long = "a".repeat(1001);
    for bad in [long.as_str(), "<b>oi</b>"] {
        let out = bot.handle(
            &mut s,
            Event::AgentMessage {
                text: bad.into(),
                content: None,
            },
            MONDAY_2PM,
        );
        assert!(
            matches!(&out[..], [Output::Error { code, .. }] if code.code() == "agent_message_rejected")
        );
    }

    // ALTU Connector with include_history: the conversation so far goes in OPEN_CONVERSATION.
    let bot = load("altu_connector", false);
    let mut s = bot.new_session("u");
    let (out, _) = play(&bot, &mut s, MONDAY_2PM, &prefix());
    let req = request_of(&out);
    assert_eq!(req["body"]["action"], "OPEN_CONVERSATION");
    assert_eq!(
        req["body"]["parameters"]["extraInfo"]["matricula"],
        "2024001"
    );
    assert_eq!(
        req["body"]["parameters"]["contact"]["extra"]["contact_info"]["cpf"],
        "529.982.247-25"
    );
    let history = req["body"]["parameters"]["history"]
        .as_array()
        .expect("history");
    assert_eq!(
        history.first().and_then(|h| h["text"].as_str()),
        Some("Olá! Sou a assistente virtual da ACME. Para começar, digite seu CPF.")
    );
    assert!(history.iter().any(|h| h["text"] == "529.982.247-25"));

    // LivePerson: skillId inside ConsumerRequestConversation, result variable on acceptance.
    let (out, s) = accepted("liveperson", "8602");
    let req = request_of(&out);
    assert_eq!(req["body"][0]["type"], "userprofile.SetUserProfile");
    assert_eq!(req["body"][1]["type"], "cm.ConsumerRequestConversation");
    assert_eq!(req["body"][1]["body"]["skillId"], "1234567890");
    assert_eq!(
        req["body"][1]["body"]["campaignInfo"]["engagementId"],
        "2897367310"
    );
    assert_eq!(
        s.context()["transbordo"],
        json!({ "status": "ok", "body": { "reqId": "2,", "code": "OK", "body": { "conversationId": "8602" } } })
    );

    // Zendesk: tags and custom fields from templates; the result variable's shape.
    let (out, s) = accepted("zendesk", "4711");
    let req = request_of(&out);
    assert_eq!(req["url"], "https://acme.zendesk.com/api/v2/tickets");
    assert_eq!(req["body"]["ticket"]["tags"], json!(["vip", "chatbot"]));
    assert_eq!(
        req["body"]["ticket"]["custom_fields"][0]["value"],
        "529.982.247-25"
    );
    assert_eq!(s.context()["transbordo"]["response"]["status"], "ok");

    // A provider error before acceptance: the result variable says so.
    let bot = load("simulator", false);
    let mut s = bot.new_session("u");
    play(
        &bot,
        &mut s,
        0,
        &[
            prefix(),
            vec![json!({ "type": "provider_error", "message": "HTTP 500" })],
        ]
        .concat(),
    );
    assert_eq!(
        s.context()["transbordo"],
        json!({ "status": "error", "message": "HTTP 500" })
    );
}

fn pool() -> Vec<Value> {
    vec![
        json!({ "type": "user", "text": "529.982.247-25" }),
        json!({ "type": "user", "text": "2" }),
        json!({ "type": "user", "text": "1" }),
        json!({ "type": "user", "text": "oi" }),
        json!({ "type": "user", "text": "5" }),
        json!({ "type": "provider_opened", "remote_id": "r1" }),
        json!({ "type": "agent_join", "name": "Carla" }),
        json!({ "type": "agent_join", "name": "Bruno" }),
        json!({ "type": "agent_message", "text": "Olá" }),
        json!({ "type": "agent_transfer", "to": "fila" }),
        json!({ "type": "agent_close" }),
        json!({ "type": "user_close" }),
        json!({ "type": "provider_error", "message": "x" }),
        json!({ "type": "advance", "seconds": 299 }),
        json!({ "type": "advance", "seconds": 301 }),
        json!({ "type": "start" }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Saving and restoring the session between any two events gives the same transcript.
    #[test]
    fn save_restore_at_every_point_gives_the_same_transcript(picks in prop::collection::vec(0usize..16, 1..40)) {
        let bot = load("simulator", false);
        let events: Vec<Value> = std::iter::once(json!({ "type": "start" })).chain(picks.iter().map(|&i| pool()[i].clone())).collect();
        let mut straight = bot.new_session("u");
        let (expected, _) = play(&bot, &mut straight, 0, &events);
        let mut s = bot.new_session("u");
        let mut now = 0;
        let mut got = Vec::new();
        for e in &events {
            if let Some(secs) = e.get("seconds").and_then(Value::as_i64) { now += secs * 1000; }
            s = bot.restore(&serde_json::to_string(&s).expect("json")).expect("restores");
            got.extend(bot.handle(&mut s, ev(e.clone()), now));
        }
        prop_assert_eq!(got, expected);
        prop_assert_eq!(s, straight);
    }
}

#[test]
fn zendesk_messaging_mode_passes_control_with_data_capture() {
    let mut integ: Value =
        serde_json::from_str(&read("flows/integrations.json")).expect("integrations");
    integ["integrations"][2]["settings"] = json!({ "subdomain": "acme", "mode": "messaging", "app_id": "app-1", "switchboard_integration": "zd-agentWorkspace" });
    let bot = Bot::from_json(&read("flows/zendesk.json"), Some(&integ.to_string())).expect("loads");
    let mut s = bot.new_session("u");
    let mut events = prefix();
    events[0]["context"]["sunco_conversation_id"] = json!("c-77");
    let (out, _) = play(&bot, &mut s, MONDAY_2PM, &events);
    let req = request_of(&out);
    assert_eq!(
        req["url"],
        "https://acme.zendesk.com/sc/v2/apps/app-1/conversations/c-77/passControl"
    );
    assert_eq!(req["body"]["switchboardIntegration"], "zd-agentWorkspace");
    assert_eq!(
        req["body"]["metadata"]["dataCapture.systemField.tags"],
        "vip chatbot"
    );
    assert_eq!(
        req["body"]["metadata"]["dataCapture.ticketField.360000000001"],
        "529.982.247-25"
    );
    assert_eq!(
        req["body"]["metadata"]["dataCapture.systemField.requester.name"],
        "Maria Silva"
    );
}

/// Typing: the user's is relayed only to an agent who is there; the agent's reaches the user;
/// an agent typing with no chat open is an event that makes no sense.
#[test]
fn typing_both_ways() {
    let bot = load("simulator", false);
    let mut s = bot.new_session("u");
    play(&bot, &mut s, MONDAY_2PM, &prefix()[..2]);
    let out = bot.handle(
        &mut s,
        ev(json!({ "type": "user_typing", "typing": true })),
        MONDAY_2PM,
    );
    assert!(out.is_empty(), "no one to tell: {out:?}");
    let out = bot.handle(
        &mut s,
        ev(json!({ "type": "agent_typing", "typing": true })),
        MONDAY_2PM,
    );
    assert!(matches!(&out[..], [Output::Error { .. }]), "{out:?}");
    let (bot, mut s, t0) = handed_over();
    bot.handle(
        &mut s,
        ev(json!({ "type": "agent_join", "name": "Carla" })),
        t0,
    );
    let out = bot.handle(
        &mut s,
        ev(json!({ "type": "user_typing", "typing": true })),
        t0,
    );
    assert_eq!(
        out,
        vec![Output::Typing {
            from: "user".into(),
            typing: true
        }]
    );
    let out = bot.handle(
        &mut s,
        ev(json!({ "type": "agent_typing", "typing": false })),
        t0,
    );
    assert_eq!(
        out,
        vec![Output::Typing {
            from: "agent".into(),
            typing: false
        }]
    );
}

/// Files: the user's goes to the agent during a chat and to the bot (as its URL) otherwise; the
/// agent's reaches the user, joining the agent first if the join was not seen yet.
#[test]
fn files_both_ways() {
    let bot = load("simulator", false);
    let mut s = bot.new_session("u");
    play(&bot, &mut s, MONDAY_2PM, &prefix()[..1]);
    let out = bot.handle(
        &mut s,
        ev(json!({ "type": "user_file", "url": "https://files.example/cpf.png", "mime_type": "image/png" })),
        MONDAY_2PM,
    );
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::File { .. } | Output::RelayToAgent { .. })),
        "{out:?}"
    );
    assert!(!out.is_empty(), "the bot answered the URL as a message");
    let out = bot.handle(
        &mut s,
        ev(json!({ "type": "agent_file", "url": "https://x" })),
        MONDAY_2PM,
    );
    assert!(matches!(&out[..], [Output::Error { .. }]), "{out:?}");
    let (bot, mut s, t0) = handed_over();
    let out = bot.handle(
        &mut s,
        ev(json!({ "type": "agent_file", "url": "https://files.example/boleto.pdf", "name": "boleto.pdf" })),
        t0,
    );
    assert!(
        matches!(&out[..], [Output::RepresentativeJoined { .. }, Output::File { from, url, .. }] if from == "agent" && url.ends_with("boleto.pdf")),
        "{out:?}"
    );
    let out = bot.handle(
        &mut s,
        ev(json!({ "type": "user_file", "url": "https://files.example/comprovante.pdf", "name": "comprovante.pdf" })),
        t0,
    );
    assert_eq!(
        out,
        vec![Output::File {
            from: "user".into(),
            url: "https://files.example/comprovante.pdf".into(),
            name: Some("comprovante.pdf".into()),
            mime_type: None,
        }]
    );
}
