//! The builder's documented turn order (SPEC §4.2, v3): an NLU intent moves the conversation
//! unless a mandatory input is collecting its answer; a conversation that ended goes on through
//! the entry conditions; the `date` widget's `min`, `max` and `weekends`.

use fluxo::engine::{Bot, Event, Output};
use serde_json::{json, Value};

const NOW: i64 = 1_795_453_200_000; // Monday 2026-11-23

fn user(text: &str, intent: Option<&str>) -> Event {
    Event::User {
        text: text.into(),
        intent: intent.map(str::to_owned),
        entities: None,
        confidence: None,
    }
}

fn start() -> Event {
    serde_json::from_value(json!({ "type": "start" })).expect("event")
}

/// The ids of the nodes entered, in order.
fn entered(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::NodeEntered { id } => Some(id.clone()),
            _ => None,
        })
        .collect()
}

fn texts(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Message { text: Some(t), .. } => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn bot(nodes: Value) -> Bot {
    Bot::from_json(&json!({ "nodes": nodes }).to_string(), None).expect("flow loads")
}

fn say(id: &str, text: &str) -> Value {
    json!([{ "default": { "type": "text", "text": format!("{id}: {text}") } }])
}

/// A menu on a free-text input whose last `next` is a catch-all, and a node entered by an intent.
fn menu(input: Value) -> Bot {
    bot(json!([
        { "id": "menu", "condition": "start", "output": say("menu", "1 para pedidos"),
          "input": { "default": input },
          "next": [ { "condition": "input.text == '1'", "goto": "pedidos" }, { "goto": "atendimento" } ] },
        { "id": "pedidos", "output": say("pedidos", "seus pedidos") },
        { "id": "atendimento", "output": say("atendimento", "já te ajudo") },
        { "id": "cancelar", "condition": "#cancelar_pedido", "output": say("cancelar", "vamos cancelar") },
        { "id": "saudacao", "condition": "intent == 'saudacao'", "output": say("saudacao", "oi de novo") }
    ]))
}

#[test]
fn an_intent_interrupts_a_menu_with_a_catch_all() {
    let b = menu(json!({ "type": "text_input" }));
    let mut s = b.new_session("u");
    b.handle(&mut s, start(), NOW);
    let out = b.handle(
        &mut s,
        user("quero cancelar meu pedido", Some("cancelar_pedido")),
        NOW,
    );
    assert_eq!(entered(&out), ["cancelar"], "{out:?}");
    // The bare `intent` root counts as testing the intent too.
    let mut s = b.new_session("u2");
    b.handle(&mut s, start(), NOW);
    let out = b.handle(&mut s, user("oi", Some("saudacao")), NOW);
    assert_eq!(entered(&out), ["saudacao"]);
    // An intent no entry condition tests leaves the menu's own order in charge.
    let mut s = b.new_session("u3");
    b.handle(&mut s, start(), NOW);
    let out = b.handle(&mut s, user("1", Some("outra_coisa")), NOW);
    assert_eq!(entered(&out), ["pedidos"]);
    // Without an intent, the catch-all answers.
    let mut s = b.new_session("u4");
    b.handle(&mut s, start(), NOW);
    let out = b.handle(&mut s, user("quero cancelar", None), NOW);
    assert_eq!(entered(&out), ["atendimento"]);
}

#[test]
fn a_mandatory_input_still_collecting_is_not_interrupted() {
    let b = menu(json!({ "type": "text_input", "payload": {
        "mandatory": true, "mask": "cpf", "tries": 2,
        "error_message": ["CPF inválido, tente de novo", "Ainda inválido"] } }));
    let mut s = b.new_session("u");
    b.handle(&mut s, start(), NOW);
    let out = b.handle(&mut s, user("cancelar", Some("cancelar_pedido")), NOW);
    assert!(entered(&out).is_empty(), "{out:?}");
    assert_eq!(texts(&out), ["CPF inválido, tente de novo"]);
    // A valid answer follows the menu's `next`, intent or not.
    let out = b.handle(&mut s, user("529.982.247-25", Some("cancelar_pedido")), NOW);
    assert_eq!(entered(&out), ["atendimento"]);
    // A select is mandatory unless it says otherwise.
    let b = menu(json!({ "type": "select", "payload": {
        "options": [ { "title": "Pedidos", "value": "1" }, { "title": "Outros", "value": "2" } ] } }));
    let mut s = b.new_session("u");
    b.handle(&mut s, start(), NOW);
    let out = b.handle(&mut s, user("cancelar", Some("cancelar_pedido")), NOW);
    assert!(entered(&out).is_empty(), "{out:?}");
    // …and a select that says `"mandatory": false` can be interrupted.
    let b = menu(json!({ "type": "select", "payload": { "mandatory": false,
        "options": [ { "title": "Pedidos", "value": "1" } ] } }));
    let mut s = b.new_session("u");
    b.handle(&mut s, start(), NOW);
    let out = b.handle(&mut s, user("cancelar", Some("cancelar_pedido")), NOW);
    assert_eq!(entered(&out), ["cancelar"]);
}

#[test]
fn intent_nodes_are_tried_in_file_order_and_only_when_they_hold() {
    let b = bot(json!([
        { "id": "oi", "condition": "start", "output": say("oi", "diga algo"),
          "input": { "default": { "type": "text_input" } }, "next": [ { "goto": "eco" } ] },
        { "id": "eco", "output": say("eco", "ok") },
        { "id": "baixa", "condition": "#ajuda && intents[0].confidence < 0.5", "output": say("baixa", "não entendi bem") },
        { "id": "ajuda", "condition": "#ajuda", "output": say("ajuda", "ajudo") },
        { "id": "ajuda2", "condition": "#ajuda", "output": say("ajuda2", "nunca") }
    ]));
    let mut s = b.new_session("u");
    b.handle(&mut s, start(), NOW);
    let out = b.handle(&mut s, user("socorro", Some("ajuda")), NOW);
    assert_eq!(entered(&out), ["ajuda"]);
}

#[test]
fn a_conversation_that_ended_goes_on_through_the_entry_conditions() {
    let b = bot(json!([
        { "id": "a", "condition": "start", "output": say("a", "até logo") },
        { "id": "b", "condition": "anything_else", "output": say("b", "voltou?") }
    ]));
    let mut s = b.new_session("u");
    let out = b.handle(&mut s, start(), NOW);
    assert_eq!(entered(&out), ["a"]);
    let out = b.handle(&mut s, user("oi de novo", None), NOW);
    assert_eq!(entered(&out), ["b"]);
}

#[test]
fn date_bounds_and_weekends_make_an_answer_invalid() {
    let b = bot(json!([
        { "id": "quando", "condition": "start", "output": say("quando", "que dia?"),
          "input": { "default": { "type": "date", "payload": {
              "min": "2026-12-01", "max": "2026-12-31", "weekends": false, "mandatory": true, "tries": 3,
              "error_message": ["Escolha um dia útil de dezembro"] } } },
          "next": [ { "goto": "ok" } ] },
        { "id": "ok", "output": [ { "default": { "type": "text", "text": "<? input.value ?> <? input.valid ?>" } } ] }
    ]));
    let mut s = b.new_session("u");
    b.handle(&mut s, start(), NOW);
    for refused in ["30/11/2026", "01/01/2027", "05/12/2026", "2026-12-06"] {
        let out = b.handle(&mut s, user(refused, None), NOW);
        assert_eq!(
            texts(&out),
            ["Escolha um dia útil de dezembro"],
            "{refused}"
        );
        // Three tries: the third refusal lets the flow go on with `input.valid == false`.
        if entered(&out).contains(&"ok".to_owned()) {
            unreachable!("{refused} was accepted");
        }
        s = {
            let mut fresh = b.new_session("u");
            b.handle(&mut fresh, start(), NOW);
            fresh
        };
    }
    let out = b.handle(&mut s, user("03/12/2026", None), NOW);
    assert_eq!(texts(&out), ["2026-12-03 true"]);
    // Out of tries: the flow continues with input.valid false.
    let mut s = b.new_session("v");
    b.handle(&mut s, start(), NOW);
    b.handle(&mut s, user("05/12/2026", None), NOW);
    b.handle(&mut s, user("06/12/2026", None), NOW);
    let out = b.handle(&mut s, user("07/12/2027", None), NOW);
    assert_eq!(entered(&out), ["ok"]);
    assert_eq!(texts(&out).last().map(String::as_str), Some(" false"));
}
