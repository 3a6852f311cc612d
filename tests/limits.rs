//! Resources stay bounded and hostile expressions end in a clear error: each case as a user (or
//! an attacker) would meet it, through the library on a thread with a 2 MiB stack — the stack a
//! tokio worker of a backend has.

mod common;

use fluxo::lint::{lint_bytes, LintOptions};
use fluxo::{Bot, ErrorKind, Event, Output};
use serde_json::{json, Value};

/// Runs `f` on a thread with a 2 MiB stack (a tokio worker's), propagating its panic.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

fn user(text: &str) -> Event {
    Event::User {
        text: text.into(),
        intent: None,
        entities: None,
        confidence: None,
    }
}

fn start() -> Event {
    Event::Start {
        channel: None,
        context: None,
        contact: None,
    }
}

fn codes(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Error { code, .. } => Some(code.code().to_owned()),
            _ => None,
        })
        .collect()
}

fn lint_codes(flow: &Value) -> Vec<String> {
    lint_bytes(
        "f.json",
        flow.to_string().as_bytes(),
        &LintOptions::default(),
    )
    .findings
    .iter()
    .map(|f| f.code.to_owned())
    .collect()
}

/// A flow whose start node waits, then routes on `condition`.
fn routing(condition: &str) -> Value {
    json!({ "nodes": [
        { "id": "a", "condition": "start", "input": { "default": { "type": "text_input" } },
          "next": [ { "condition": condition, "goto": "b" }, { "goto": "c" } ] },
        { "id": "b", "output": [ { "default": { "type": "text", "text": "sim" } } ] },
        { "id": "c", "output": [ { "default": { "type": "text", "text": "não" } } ] }
    ] })
}

#[test]
fn deep_expressions_are_refused_when_loaded_and_linted() {
    for (what, condition) in [
        ("12,000 `!`", format!("{}$x", "!".repeat(12_000))),
        (
            "a member chain 10,000 long",
            format!("$x{}", ".y".repeat(10_000)),
        ),
        ("100 nested ternaries", "$x ? 1 : ".repeat(100) + "0"),
    ] {
        let flow = routing(&condition);
        let text = flow.to_string();
        on_small_stack(move || {
            let err = Bot::from_json(&text, None).expect_err("refused");
            assert_eq!(err.kind(), ErrorKind::InvalidFlow);
            assert_eq!(err.findings()[0].code, "expression-syntax", "{}", err);
        });
        assert!(
            lint_codes(&flow).contains(&"expression-syntax".to_owned()),
            "{what}"
        );
    }
}

#[test]
fn long_flat_conditions_run_on_a_small_stack() {
    // 2,000 alternatives (48 KB) and 7,600 terms of `+`: flat chains, not towers.
    let alternatives: Vec<String> = (0..2000).map(|i| format!("$a == 'c{i}'")).collect();
    let sum: Vec<&str> = vec!["$n"; 7600];
    for condition in [
        alternatives.join(" || "),
        format!("{} > 0", sum.join(" + ")),
    ] {
        let flow = routing(&condition);
        assert!(!lint_codes(&flow).contains(&"expression-syntax".to_owned()));
        let text = flow.to_string();
        on_small_stack(move || {
            let bot = Bot::from_json(&text, None).expect("loads");
            let mut s = bot.new_session("u");
            let ctx = json!({ "a": "c1999", "n": 1 });
            let start = Event::Start {
                channel: None,
                context: ctx.as_object().cloned(),
                contact: None,
            };
            bot.handle(&mut s, start, 0);
            let out = bot.handle(&mut s, user("x"), 0);
            assert!(codes(&out).is_empty(), "{out:?}");
            assert!(out
                .iter()
                .any(|o| matches!(o, Output::NodeEntered { id } if id == "b")));
        });
    }
}

#[test]
fn overlapping_template_delimiters_are_findings_not_panics() {
    for flow in [
        json!({ "nodes": [ { "id": "a", "condition": "<?>" } ] }),
        json!({ "nodes": [ { "id": "a", "condition": "start",
            "output": [ { "default": { "type": "text", "text": "<?>" } } ] } ] }),
        json!({ "nodes": [ { "id": "a", "condition": "start", "next": [ { "condition": "?><?", "goto": "a" } ] } ] }),
    ] {
        let found = lint_codes(&flow);
        assert!(
            found
                .iter()
                .any(|c| c == "expression-syntax" || c == "template-in-condition"),
            "{found:?}"
        );
        let text = flow.to_string();
        on_small_stack(move || {
            let _ = Bot::from_json(&text, None);
        });
    }
}

#[test]
fn builtins_refuse_huge_results_before_building_them() {
    // `split('')` of a 5 MB message would build 5 million strings (535 MB).
    let flow = json!({ "nodes": [
        { "id": "a", "condition": "start", "input": { "default": { "type": "text_input" } }, "next": [ { "goto": "b" } ] },
        { "id": "b", "context": { "letras": "<? input.text.split('').length ?>" },
          "output": [ { "default": { "type": "text", "text": "ok" } } ] }
    ] });
    let bot = Bot::from_json(&flow.to_string(), None).expect("loads");
    let mut s = bot.new_session("u");
    bot.handle(&mut s, start(), 0);
    let out = bot.handle(&mut s, user(&"x".repeat(5 << 20)), 0);
    assert_eq!(codes(&out), ["expression_too_large"]);
    assert!(s.context().get("letras").is_none());
}

#[test]
fn a_context_that_nests_every_turn_stays_restorable() {
    // Each answer wraps the previous value one level deeper.
    let flow = json!({ "nodes": [
        { "id": "a", "condition": "start", "context": { "x": { "prev": "<? $x ?>" } },
          "input": { "default": { "type": "text_input" } }, "next": [ { "goto": "a" } ] }
    ] });
    let bot = Bot::from_json(&flow.to_string(), None).expect("loads");
    let mut s = bot.new_session("u");
    bot.handle(&mut s, start(), 0);
    let mut refused = 0;
    for turn in 0..200 {
        let out = bot.handle(&mut s, user("de novo"), turn);
        refused += codes(&out)
            .iter()
            .filter(|c| *c == "context_too_deep")
            .count();
        let saved = serde_json::to_string(&s).expect("saves");
        s = bot
            .restore(&saved)
            .unwrap_or_else(|e| panic!("turn {turn}: the session no longer restores: {e}"));
    }
    assert!(
        refused > 100,
        "the assignment is refused once too deep ({refused})"
    );
}

#[test]
fn absurd_timeouts_are_refused_and_absurd_advances_do_not_wrap() {
    let integ = json!({ "integrations": [ { "id": 9, "provider": "simulator", "wait_timeout_s": 18446744073709551615u64 } ] });
    let flow = std::fs::read_to_string(common::root().join("flows/simulator.json")).expect("flow");
    let err = Bot::from_json(&flow, Some(&integ.to_string())).expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::InvalidIntegrations);
    assert!(err.findings()[0].message.contains("604800"), "{err}");
    let report = lint_bytes(
        "i.json",
        integ.to_string().as_bytes(),
        &LintOptions::default(),
    );
    assert!(report.findings.iter().any(|f| f.code == "schema"));
    // An advance past the end of time saturates: the clock never moves back, and the wait
    // timer fires exactly once.
    let integ =
        json!({ "integrations": [ { "id": 9, "provider": "simulator", "wait_timeout_s": 300 } ] });
    let bot = Bot::from_json(&flow, Some(&integ.to_string())).expect("loads");
    let mut s = bot.new_session("u");
    let now = 1_795_453_200_000;
    for e in [start(), user("529.982.247-25"), user("2")] {
        bot.handle(&mut s, e, now);
    }
    let advance = Event::Advance { seconds: u64::MAX };
    let later = advance.clock_after(now);
    assert!(later > now);
    let out = bot.handle(&mut s, advance, later);
    let closes = out
        .iter()
        .filter(|o| matches!(o, Output::LiveChatClosed { .. }))
        .count();
    assert_eq!(closes, 1, "{out:?}");
    let again = bot.handle(&mut s, Event::Advance { seconds: 1 }, later);
    assert!(!again
        .iter()
        .any(|o| matches!(o, Output::LiveChatClosed { .. })));
}

#[test]
fn sessions_stay_small_through_a_long_live_chat() {
    // Zendesk sends the conversation so far with the hand-over: that history is all the
    // session keeps, and it is gone once sent.
    let root = common::root();
    let flow = std::fs::read_to_string(root.join("flows/zendesk.json")).expect("flow");
    let integ = std::fs::read_to_string(root.join("flows/integrations.json")).expect("integ");
    let bot = Bot::from_json(&flow, Some(&integ)).expect("loads");
    let mut s = bot.new_session("u");
    let now = 1_795_453_200_000;
    for e in [start(), user("529.982.247-25"), user("2")] {
        bot.handle(&mut s, e, now);
    }
    let opened = Event::ProviderOpened {
        remote_id: "ticket-1".into(),
        result: None,
    };
    bot.handle(&mut s, opened, now);
    bot.handle(
        &mut s,
        Event::AgentJoin {
            name: "Carla".into(),
            avatar: None,
            representative_type: None,
        },
        now,
    );
    for i in 0..100 {
        let text = format!("mensagem {i} do agente, com algum texto para pesar");
        bot.handle(
            &mut s,
            Event::AgentMessage {
                text,
                content: None,
            },
            now + i,
        );
        bot.handle(&mut s, user(&format!("resposta {i} do cliente")), now + i);
    }
    let size = serde_json::to_vec(&s).expect("saves").len();
    println!("session after 200 chat messages: {size} bytes");
    assert!(size < 2048, "{size} bytes");
}

#[test]
fn variable_maybe_unset_follows_a_long_chain_laid_out_backwards() {
    // start → n0 → n1 → … → n1001, written in the file from the end: a fixed-point iteration
    // in file order needs one round per node, and used to give up at 1,000 rounds silently.
    let n = 1002;
    let mut nodes: Vec<Value> = Vec::new();
    for i in (0..n).rev() {
        let mut node = json!({ "id": format!("n{i}") });
        if i + 1 < n {
            node["next"] = json!([ { "goto": format!("n{}", i + 1) } ]);
        } else {
            node["output"] =
                json!([ { "default": { "type": "text", "text": "Olá <? $nome ?>" } } ]);
        }
        nodes.push(node);
    }
    nodes.push(json!({ "id": "inicio", "condition": "start", "next": [ { "goto": "n0" } ] }));
    // `nome` is assigned somewhere, just not on the way.
    nodes.push(json!({ "id": "outro", "condition": "#outro", "context": { "nome": "Ana" } }));
    let flow = json!({ "nodes": nodes });
    let report = lint_bytes(
        "chain.json",
        flow.to_string().as_bytes(),
        &LintOptions::default(),
    );
    let found: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.code == "variable-maybe-unset")
        .map(|f| f.pointer.as_str())
        .collect();
    assert_eq!(found, ["/nodes/0/output/0/default/text"]);
}

#[test]
fn the_runtime_survives_a_long_condition_when_a_chat_closes() {
    // A 55 KB condition of 1,500 alternatives on the node that receives the close: evaluated
    // on a tokio worker (2 MiB stack) when the chat ends, such a condition used to abort the
    // whole backend.
    use fluxo::runtime::{MemoryStore, Runtime, TokioClock};
    use std::sync::Arc;
    let alternatives: Vec<String> = (0..1500)
        .map(|i| format!("input.live_chat.status == 'c{i}'"))
        .collect();
    let flow = json!({ "nodes": [
        { "id": "a", "condition": "start",
          "actions": [ { "name": "start_live_chat", "parameters": { "integration_id": 9 } } ],
          "next": [ { "goto": "espera" } ] },
        { "id": "espera", "input": { "default": { "type": "text_input" } },
          "next": [ { "condition": format!("{} || input.live_chat.status == 'user_closed'", alternatives.join(" || ")), "goto": "fim" } ] },
        { "id": "fim", "output": [ { "default": { "type": "text", "text": "Até logo." } } ] }
    ] });
    let bot = Bot::from_json(&flow.to_string(), None).expect("loads");
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(2 << 20)
        .enable_all()
        .build()
        .expect("tokio");
    let said = tokio.block_on(async move {
        let (rt, _rx) = Runtime::new(
            bot,
            Arc::new(MemoryStore::default()),
            fluxo::drivers::http::Http::new(Default::default()),
            Arc::new(TokioClock::starting_at(0)),
        );
        let task = tokio::spawn(async move {
            rt.event("u", start()).await;
            rt.event("u", Event::UserClose { reason: None }).await
        });
        task.await.expect("the worker did not crash")
    });
    assert!(
        said.iter()
            .any(|o| matches!(o, Output::Message { text: Some(t), .. } if t == "Até logo.")),
        "{said:?}"
    );
}

#[test]
fn deeply_nested_values_in_a_flow_are_safe_on_a_small_stack() {
    // 200 levels of objects in a node's context (the loader reads about 256): every stage that walks
    // values — syntax, schema, model, compile, lint, the engine — runs on a 2 MiB stack.
    let mut value = json!("<? $x ?>");
    for _ in 0..200 {
        value = json!({ "a": value });
    }
    let flow = json!({ "nodes": [
        { "id": "a", "condition": "start", "context": { "fundo": value },
          "output": [ { "default": { "type": "text", "text": "ok" } } ] } ] });
    let text = flow.to_string();
    on_small_stack(move || {
        let report = lint_bytes("deep.json", text.as_bytes(), &LintOptions::default());
        assert!(
            report.findings.iter().all(|f| f.code != "json-syntax"),
            "{:?}",
            report.findings.first()
        );
        let bot = Bot::from_json(&text, None).expect("loads");
        let mut s = bot.new_session("u");
        let out = bot.handle(&mut s, start(), 0);
        assert_eq!(codes(&out), ["context_too_deep"]);
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::Message { text: Some(t), .. } if t == "ok")));
    });
}
