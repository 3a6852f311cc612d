//! The playground as a front end other than the terminal sees it: typed commands in, typed
//! items out, as JSON; the same calls for a flow and a workspace.

mod common;

use fluxo::conversation::{load, AnyDialog};
use fluxo::playground::{Command, Playground, Setup, Shown};
use fluxo::testing::{run_file, RunOptions, Start};
use fluxo::Output;
use serde_json::json;

fn playground(path: &std::path::Path) -> Playground<AnyDialog> {
    let dialog = load(path, None).expect("loads");
    let clock = "2026-11-23T14:00:00Z"
        .parse::<jiff::Timestamp>()
        .expect("time")
        .as_millisecond();
    Playground::new(dialog, Setup::new(path, clock, Start::default()))
}

fn texts(shown: &[Shown]) -> Vec<String> {
    shown
        .iter()
        .filter_map(|s| match s {
            Shown::Output {
                output: Output::Message { text: Some(t), .. },
                ..
            } => Some(t.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_workspace_offers_numbered_options_and_its_conversation_saves_as_a_passing_test() {
    let dir = common::Scratch::new("playground-watson");
    let ws = dir.write(
        "opcoes.json",
        json!({ "dialog_nodes": [
            { "dialog_node": "oi", "conditions": "welcome", "output": { "generic": [
                { "response_type": "option", "title": "O que deseja?", "options": [
                    { "label": "Ver saldo", "value": { "input": { "text": "saldo" } } },
                    { "label": "Sair", "value": { "input": { "text": "sair" } } } ] } ] } },
            { "dialog_node": "saldo", "previous_sibling": "oi", "conditions": "input.text == 'saldo'",
              "output": { "text": "Seu saldo é R$ 10." } } ] })
        .to_string(),
    );
    let mut pg = playground(&ws);
    let shown = pg.reset();
    let offered = shown
        .iter()
        .find_map(|s| match s {
            Shown::Output { options, .. } if !options.is_empty() => Some(options.clone()),
            _ => None,
        })
        .expect("the option response carries its options");
    assert_eq!(
        serde_json::to_value(&offered).expect("json"),
        json!([ { "number": 1, "label": "Ver saldo", "text": "saldo" },
                { "number": 2, "label": "Sair", "text": "sair" } ])
    );
    // What a web page receives.
    let wire = serde_json::to_value(&shown[1]).expect("json");
    assert_eq!(wire["kind"], "output", "{wire}");
    assert_eq!(wire["output"]["type"], "message", "{wire}");
    assert_eq!(wire["options"][1]["label"], "Sair", "{wire}");
    // No option 3: nothing is sent, nothing recorded.
    assert_eq!(
        pg.command(Command::Pick { number: 3 }),
        [Shown::Error {
            message: "there is no option 3 on offer".into()
        }]
    );
    assert_eq!(pg.events().len(), 1);
    let command: Command =
        serde_json::from_value(json!({ "command": "pick", "number": 1 })).expect("a command");
    let shown = pg.command(command);
    assert_eq!(
        shown[0],
        Shown::Picked {
            text: "saldo".into()
        }
    );
    assert_eq!(texts(&shown), ["Seu saldo é R$ 10."]);
    assert_eq!(pg.snapshot().focus.as_deref(), Some("root"));
    let saved = pg.save(&dir.join("saldo")).expect("saves");
    assert_eq!(saved.replay_failure, None);
    let (r, _) = run_file(&saved.path, RunOptions::default());
    assert!(r.error.is_none(), "{:?}", r.error);
    assert!(r.conversations.iter().all(|c| c.passed()), "{r:?}");
    assert_eq!(r.coverage.nodes.len(), 2);
}

#[test]
fn a_flow_is_played_with_the_same_calls_and_the_clock_moves_only_when_told() {
    let mut pg = playground(&common::root().join("flows/simulator.json"));
    let shown = pg.reset();
    assert!(
        shown.contains(&Shown::InputMask { mask: "cpf".into() }),
        "{shown:?}"
    );
    let start = pg.now();
    pg.line("529.982.247-25");
    let shown = pg.line("2");
    assert!(
        shown.iter().any(|s| matches!(
            s,
            Shown::Output {
                output: Output::HandoffRequested { .. },
                ..
            }
        )),
        "{shown:?}"
    );
    assert!(pg.last_request().is_some());
    let shown = pg.command(Command::ProviderOpened {
        remote_id: "conv-1".into(),
    });
    assert_eq!(
        shown.last(),
        Some(&Shown::Notice {
            text: "[the provider accepted the hand-over: its conversation is conv-1]".into()
        })
    );
    pg.command(Command::AgentJoin {
        name: "Carla".into(),
    });
    let state = pg.snapshot();
    assert_eq!(state.clock, start, "only `advance` moves the clock");
    let chat = state.live_chat.as_ref().expect("a live chat");
    assert_eq!(chat.agents, ["Carla"]);
    let due = state.next_deadline.expect("the inactivity timer");
    let wire = serde_json::to_value(&state).expect("json");
    assert_eq!(wire["live_chat"]["phase"], "active", "{wire}");
    // Moving the clock past the deadline fires the timer.
    let shown = pg.line(&format!("/advance {}s", (due - start) / 1000));
    assert!(
        shown.iter().any(|s| matches!(
            s,
            Shown::Output {
                output: Output::LiveChatClosed { .. },
                ..
            }
        )),
        "{shown:?}"
    );
    assert!(pg.snapshot().live_chat.is_none());
    assert_eq!(
        pg.line("/nope"),
        [Shown::Error {
            message: "unknown command `/nope`; /help lists them".into()
        }]
    );
}

/// A state handed to a dialog of the other kind is refused with an `error` output, not a
/// panic, and nothing is read from it.
#[test]
fn a_state_of_the_other_kind_is_refused() {
    use fluxo::conversation::Dialog;
    let flow = load(&common::root().join("flows/simulator.json"), None).expect("flow");
    let ws = load(&common::root().join("examples/watson/pizzaria.json"), None).expect("ws");
    let mut state = flow.new_state("x");
    let start = fluxo::Event::Start {
        channel: None,
        context: None,
        contact: None,
    };
    let out = ws.handle(&mut state, start, 0);
    assert!(
        matches!(out.as_slice(), [Output::Error { code, .. }] if code.code() == "invalid_session"),
        "{out:?}"
    );
    assert_eq!(ws.view(&state).focus, None);
    assert_eq!(ws.next_deadline(&state), None);
}

/// The number rule is the engine's: the playground (`fluxo chat`, the studio) and a bare
/// `user` event (`fluxo run`, the service) answer `2` the same way, both when the options are
/// words (option 2) and when they are numbers themselves (the option worth 2).
#[test]
fn a_bare_number_means_the_same_in_the_playground_and_in_the_engine() {
    let dir = common::Scratch::new("playground-numbers");
    for (options, expected) in [
        (
            json!([ { "title": "Boleto", "value": "boleto" }, { "title": "Atendente", "value": "humano" } ]),
            "humano",
        ),
        (
            json!([ { "title": "Duas", "value": 2 }, { "title": "Três", "value": 3 }, { "title": "Quatro", "value": 4 } ]),
            "2",
        ),
    ] {
        let flow = dir.write(
            "menu.json",
            json!({ "nodes": [
                { "id": "menu", "condition": "start",
                  "output": [ { "default": { "type": "text", "text": "Escolha:" } } ],
                  "input": { "default": { "type": "select", "payload": { "options": options } } },
                  "next": [ { "goto": "fim" } ] },
                { "id": "fim", "output": [ { "default": { "type": "text", "text": "<? input.text ?>" } } ] } ] })
            .to_string(),
        );
        let mut pg = playground(&flow);
        let shown = pg.reset();
        let awaited = shown
            .iter()
            .find_map(|s| match s {
                Shown::Output {
                    output: Output::AwaitingInput { input: Some(i), .. },
                    ..
                } => Some(i.clone()),
                _ => None,
            })
            .expect("awaiting_input describes the select");
        assert_eq!(
            awaited.options.len(),
            options.as_array().map_or(0, Vec::len)
        );
        assert_eq!(awaited.numbered, expected == "humano");
        let in_playground = texts(&pg.line("2"));
        let bot = fluxo::Bot::from_json(&std::fs::read_to_string(&flow).expect("flow"), None)
            .expect("bot");
        let mut s = bot.new_session("c");
        bot.handle(
            &mut s,
            fluxo::Event::Start {
                channel: None,
                context: None,
                contact: None,
            },
            0,
        );
        let in_engine: Vec<String> = bot
            .handle(
                &mut s,
                fluxo::Event::User {
                    text: "2".into(),
                    intent: None,
                    entities: None,
                    confidence: None,
                },
                0,
            )
            .into_iter()
            .filter_map(|o| match o {
                Output::Message { text, .. } => text,
                _ => None,
            })
            .collect();
        assert_eq!(in_playground, [expected]);
        assert_eq!(in_engine, in_playground);
    }
}

/// A message the engine refuses (the turn waits for an action's result) is not recorded: the
/// saved test replays as the conversation went, and passes.
#[test]
fn a_refused_message_is_not_saved_and_the_saved_test_passes() {
    let dir = common::Scratch::new("playground-refused");
    let flow = dir.write(
        "consulta.json",
        json!({ "custom_actions": ["consultar_saldo"], "nodes": [
            { "id": "inicio", "condition": "start",
              "actions": [ { "name": "consultar_saldo", "result_variable": "saldo" } ],
              "output": [ { "default": { "type": "text", "text": "Saldo: <? $saldo.valor ?>" } } ],
              "input": { "default": { "type": "text_input" } },
              "next": [ { "goto": "fim" } ] },
            { "id": "fim", "output": [ { "default": { "type": "text", "text": "Até logo, <? input.text ?>" } } ] } ] })
        .to_string(),
    );
    let mut pg = playground(&flow);
    pg.reset();
    let before = pg.events().len();
    let shown = pg.line("oi?");
    assert!(
        shown.iter().any(|s| matches!(
            s,
            Shown::Output {
                output: Output::Error { .. },
                ..
            }
        )),
        "the message is refused: {shown:?}"
    );
    assert_eq!(
        pg.events().len(),
        before,
        "a refused message is not recorded"
    );
    let shown = pg.command(Command::Result {
        result: json!({ "valor": 10 }),
    });
    assert_eq!(texts(&shown), ["Saldo: 10"]);
    assert_eq!(texts(&pg.line("Ana")), ["Até logo, Ana"]);
    let saved = pg.save(&dir.join("consulta")).expect("saves");
    assert_eq!(saved.replay_failure, None);
    let text = std::fs::read_to_string(&saved.path).expect("saved");
    assert!(!text.contains("oi?"), "{text}");
    let (r, _) = run_file(&saved.path, RunOptions::default());
    assert!(r.error.is_none(), "{:?}", r.error);
    assert!(r.conversations.iter().all(|c| c.passed()), "{r:?}");
}
