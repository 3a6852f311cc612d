//! Conversation tests — the format `fluxo test` offers users — run on the project's own flows
//! and engine behaviours; plus the author's loop as a user lives it: coverage that notices a
//! deleted branch, a golden transcript that names the changed line, `--bless`, and `fluxo
//! chat` driven through a pseudo-terminal, on a flow and on a Watson workspace, saved with `/save`
//! and replayed by `fluxo test`.

mod common;

use fluxo::testing::{discover, run_file, Coverage, CoverageReport, RunOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[test]
fn the_project_conversations_pass_with_full_close_status_coverage() {
    let root = common::root();
    let files =
        discover(&[root.join("flows"), root.join("tests/conversations")]).expect("discover");
    assert!(files.len() >= 7, "{files:?}");
    let mut by_flow: std::collections::BTreeMap<PathBuf, (Coverage, fluxo::testing::Target)> =
        Default::default();
    let mut passed = 0;
    for f in &files {
        let (r, bot) = run_file(f, RunOptions::default());
        assert!(r.error.is_none(), "{}: {:?}", f.display(), r.error);
        for c in &r.conversations {
            assert!(
                c.failures.is_empty(),
                "{} › {}: {:#?}",
                f.display(),
                c.name,
                c.failures
            );
            passed += 1;
        }
        let entry = by_flow
            .entry(r.flow.clone())
            .or_insert_with(|| (Coverage::default(), bot.expect("bot")));
        entry.0.merge(&r.coverage);
    }
    println!("{passed} conversations passed");
    for (flow, (cov, bot)) in &by_flow {
        let rep = CoverageReport::of(&flow.display().to_string(), bot, cov);
        assert!(!rep.handovers.is_empty(), "{}", flow.display());
        for (node, h) in &rep.handovers {
            assert!(
                h.missed.is_empty(),
                "{} `{node}`: statuses never reached: {:?}",
                flow.display(),
                h.missed
            );
        }
        assert!(
            rep.nodes_missed.is_empty(),
            "{}: {:?}",
            flow.display(),
            rep.nodes_missed
        );
    }
}

fn fluxo(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run fluxo")
}

/// A scratch copy of the simulator flow, its integrations, test and golden transcript.
fn scratch(name: &str) -> common::Scratch {
    let dir = common::Scratch::new(&format!("conv-{name}"));
    for f in [
        "simulator.json",
        "simulator.test.json",
        "simulator.transcript",
        "integrations.json",
    ] {
        std::fs::copy(common::root().join("flows").join(f), dir.join(f)).expect("copy");
    }
    dir
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn deleting_a_branch_shows_in_coverage() {
    let dir = scratch("branch");
    let o = fluxo(&["test", "."], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("hand-over `transbordo`: close statuses 5/5 (all)"),
        "{}",
        stdout(&o)
    );
    // Remove the branch that routes user_inactivity_timeout.
    let p = dir.join("simulator.json");
    let mut flow: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json");
    let nodes = flow["nodes"].as_array_mut().expect("nodes");
    let espera = nodes
        .iter_mut()
        .find(|n| n["id"] == "espera_atendente")
        .expect("espera_atendente");
    espera["next"]
        .as_array_mut()
        .expect("next")
        .retain(|x| x["goto"] != "inatividade");
    std::fs::write(&p, serde_json::to_string_pretty(&flow).expect("json")).expect("write");
    let o = fluxo(&["test", "."], &dir);
    let out = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the conversation that expected `inatividade` fails:\n{out}"
    );
    assert!(
        out.contains(
            "hand-over `transbordo`: close statuses 4/5, never reached: user_inactivity_timeout"
        ),
        "{out}"
    );
    assert!(out.contains("(the tests end chats with user_inactivity_timeout, but no `next` branch tests that status"), "{out}");
    assert!(out.trim_end().ends_with("passed, 1 failed"), "{out}");
    // For tools.
    let o = fluxo(&["test", ".", "--coverage", "json"], &dir);
    let json_line = stdout(&o)
        .lines()
        .find(|l| l.starts_with("{\"coverage\""))
        .map(str::to_owned)
        .expect("a JSON coverage line");
    let v: serde_json::Value = serde_json::from_str(&json_line).expect("json");
    assert_eq!(
        v["coverage"][0]["handovers"]["transbordo"]["missed"],
        serde_json::json!(["user_inactivity_timeout"])
    );
}

#[test]
fn a_changed_bot_message_fails_the_golden_test_with_the_line_and_bless_fixes_it() {
    let dir = scratch("golden");
    let p = dir.join("simulator.json");
    let old = "Obrigada pela avaliação! Até logo.";
    let text = std::fs::read_to_string(&p)
        .expect("read")
        .replace(old, "Valeu pela nota!");
    std::fs::write(&p, text).expect("write");
    // The line of the golden file where the old message stands.
    let golden = std::fs::read_to_string(dir.join("simulator.transcript")).expect("golden");
    let line = golden
        .lines()
        .position(|l| l.contains(old))
        .expect("old message in the golden file")
        + 1;
    // Drop the explicit expectation on that text so only the golden comparison catches it.
    let tp = dir.join("simulator.test.json");
    let t = std::fs::read_to_string(&tp)
        .expect("read")
        .replace(&format!("\"bot\": \"{old}\","), "");
    std::fs::write(&tp, t).expect("write");
    let o = fluxo(&["test", "."], &dir);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("the transcript differs from"), "{out}");
    assert!(
        out.contains(&format!("{line:>5} - ")),
        "the diff names line {line} of the golden file:\n{out}"
    );
    assert!(
        out.contains("+   {\"type\":\"message\",\"from\":\"bot\",\"text\":\"Valeu pela nota!\""),
        "{out}"
    );
    let o = fluxo(&["test", ".", "--bless"], &dir);
    assert!(
        stdout(&o).contains("blessed the golden transcript"),
        "{}",
        stdout(&o)
    );
    let o = fluxo(&["test", "."], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn broken_test_files_are_reported_not_skipped() {
    let dir = scratch("broken");
    std::fs::write(
        dir.join("bad.test.json"),
        "{ \"flow\": \"simulator.json\", \"conversations\": [ ",
    )
    .expect("write");
    std::fs::write(
        dir.join("typo.test.json"),
        r#"{ "flow": "simulator.json", "conversations": [ { "name": "x", "steps": [ { "usr": "oi" } ] } ] }"#,
    )
    .expect("write");
    std::fs::write(
        dir.join("noflow.test.json"),
        r#"{ "flow": "nope.json", "conversations": [] }"#,
    )
    .expect("write");
    let o = fluxo(&["test", "."], &dir);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL ./bad.test.json: not a conversation test"),
        "{out}"
    );
    assert!(
        out.contains("step 1: unknown step {usr} (did you mean `user`?)"),
        "{out}"
    );
    assert!(out.contains("FAIL ./noflow.test.json: "), "{out}");
    assert!(out.trim_end().ends_with("3 failed"), "{out}");
    let o = fluxo(&["test", "no-such-dir"], &dir);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn chat_through_a_pseudo_terminal_then_save_and_replay() {
    let dir = common::Scratch::new("chat");
    let flow = common::root().join("flows/simulator.json");
    let saved = dir.join("handover");
    let cmd = format!(
        "{} chat {} --clock 2026-11-23T14:00:00-03:00",
        env!("CARGO_BIN_EXE_fluxo"),
        flow.display()
    );
    let mut command = std::process::Command::new("sh");
    command.arg("-c").arg(cmd).env("NO_COLOR", "1");
    let mut p = rexpect::session::spawn_command(command, Some(20_000)).expect("spawn fluxo chat");
    p.exp_string("/help for commands").expect("banner");
    p.exp_string("> ").expect("the first prompt");
    // Type only once the next prompt is shown, as a person does (the line editor drops
    // what is typed while it sets the terminal up).
    let mut step = |send: &str, expect: &str| {
        p.send_line(send).expect("send");
        p.exp_string(expect)
            .unwrap_or_else(|e| panic!("after {send:?}, expected {expect:?}: {e}"));
        if send != "/quit" {
            p.exp_string("> ")
                .unwrap_or_else(|e| panic!("after {send:?}, expected the prompt: {e}"));
        }
    };
    step("529.982.247-25", "Como posso ajudar?");
    // rexpect reads the terminal byte by byte as Latin-1, so expectations stay ASCII.
    step("2", "simulator (integration 9)] ");
    step("/agent join Carla", "[Carla joined the chat]");
    step(
        "/agent say Oi, sou a Carla!",
        "agent Carla: Oi, sou a Carla!",
    );
    step(
        "Minha fatura veio em dobro",
        "to the agent: Minha fatura veio em dobro",
    );
    step("/advance 2m", "/advance 2m");
    step("/state", "live chat: Active on simulator");
    step("/agent close resolvido", "[live chat closed: agent_closed");
    step("5", "bot: Obrigada pela avalia");
    step(&format!("/save {}", saved.display()), "saved ");
    step("/nope", "unknown command");
    step("/quit", "");
    p.exp_eof().expect("fluxo chat exits");

    let test_file = dir.join("handover.test.json");
    assert!(test_file.exists() && dir.join("handover.transcript").exists());
    let o = fluxo(&["test", test_file.to_str().expect("utf8")], &dir);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("1 passed, 0 failed"), "{out}");
    assert!(out.contains("close statuses 1/5, never reached: user_closed, timeout, user_inactivity_timeout, error"), "{out}");
}

#[test]
fn chat_colours_on_a_terminal_unless_no_color() {
    let flow = common::root().join("flows/simulator.json");
    for (no_color, coloured) in [(false, true), (true, false)] {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fluxo"));
        command.arg("chat").arg(&flow);
        if no_color {
            command.env("NO_COLOR", "1");
        } else {
            command.env_remove("NO_COLOR");
        }
        let mut p = rexpect::session::spawn_command(command, Some(20_000)).expect("spawn");
        // The greeting, printed before the first prompt, carries the bot's label.
        let seen = p.exp_string("> ").expect("prompt");
        assert!(seen.contains("bot:"), "{seen:?}");
        assert_eq!(
            seen.contains("\u{1b}[1;36mbot:"),
            coloured,
            "NO_COLOR={no_color}: {seen:?}"
        );
        p.send_line("/quit").expect("quit");
        let _ = p.exp_eof();
    }
}

/// A workspace with an option response, an intent, and a client action whose result a child
/// node reads.
const WORKSPACE: &str = r##"{ "name": "pedidos", "intents": [ { "intent": "pedido", "examples": [ { "text": "meu pedido" } ] } ],
  "dialog_nodes": [
    { "dialog_node": "oi", "conditions": "welcome", "output": { "generic": [
        { "response_type": "text", "values": [ { "text": "Oi!" } ] },
        { "response_type": "option", "title": "O que deseja?", "options": [
            { "label": "Ver saldo", "value": { "input": { "text": "saldo" } } },
            { "label": "Falar com alguém", "value": { "input": { "text": "atendente" } } } ] } ] } },
    { "dialog_node": "saldo", "previous_sibling": "oi", "conditions": "input.text == 'saldo'",
      "output": { "text": "Seu saldo: 10 reais." } },
    { "dialog_node": "pedido", "previous_sibling": "saldo", "conditions": "#pedido",
      "output": { "text": "Vou buscar seu pedido." },
      "actions": [ { "name": "buscar_pedido", "type": "client", "parameters": { "numero": "42" },
                     "result_variable": "pedido_info" } ] },
    { "dialog_node": "pedido_ok", "parent": "pedido", "conditions": "$pedido_info",
      "output": { "text": "Seu pedido esta $pedido_info." } },
    { "dialog_node": "senao", "previous_sibling": "pedido", "conditions": "anything_else",
      "output": { "text": "Nao entendi." } } ] }"##;

#[test]
fn chat_on_a_workspace_through_a_pseudo_terminal_then_save_and_replay() {
    let dir = common::Scratch::new("chat-watson");
    let ws = dir.write("pedidos.json", WORKSPACE);
    let saved = dir.join("pedidos");
    let cmd = format!(
        "{} chat {} --clock 2026-11-23T14:00:00-03:00",
        env!("CARGO_BIN_EXE_fluxo"),
        ws.display()
    );
    let mut command = std::process::Command::new("sh");
    command.arg("-c").arg(cmd).env("NO_COLOR", "1");
    let mut p = rexpect::session::spawn_command(command, Some(20_000)).expect("spawn fluxo chat");
    p.exp_string("/help for commands").expect("banner");
    p.exp_string("  2. Falar com ")
        .expect("the numbered options");
    p.exp_string("> ").expect("the first prompt");
    let mut step = |send: &str, expect: &str| {
        p.send_line(send).expect("send");
        p.exp_string(expect)
            .unwrap_or_else(|e| panic!("after {send:?}, expected {expect:?}: {e}"));
        if send != "/quit" {
            p.exp_string("> ")
                .unwrap_or_else(|e| panic!("after {send:?}, expected the prompt: {e}"));
        }
    };
    // The number sends the option's value, not its label.
    step("1", "bot: Seu saldo: 10 reais.");
    step(
        "#pedido onde esta meu pedido",
        "[the bot waits for action `buscar_pedido` (buscar_pedido): {\"numero\":\"42\"}]",
    );
    step("/state", "waiting for action `buscar_pedido`");
    step(r#"/result "a caminho""#, "bot: Seu pedido esta a caminho.");
    step("/result {}", "error: the bot is not waiting for an action");
    step(&format!("/save {}", saved.display()), "saved ");
    step("/quit", "");
    p.exp_eof().expect("fluxo chat exits");

    let test_file = dir.join("pedidos.test.json");
    assert!(dir.join("pedidos.transcript").exists());
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&test_file).expect("saved")).expect("json");
    assert_eq!(test["flow"], "pedidos.json");
    assert_eq!(
        test["conversations"][0]["steps"],
        serde_json::json!([
            { "user": "saldo" },
            { "user": "onde esta meu pedido", "intent": "pedido", "confidence": 1.0 },
            { "action_result": "a caminho", "id": "buscar_pedido" }
        ])
    );
    let o = fluxo(&["test", test_file.to_str().expect("utf8")], dir.path());
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("1 passed, 0 failed"), "{out}");
    assert!(out.contains("nodes 4/5 (80%), jump edges 0/0"), "{out}");
    // The saved transcript is the reference: a changed answer fails the test.
    std::fs::write(&ws, WORKSPACE.replace("10 reais", "20 reais")).expect("write");
    let o = fluxo(&["test", test_file.to_str().expect("utf8")], dir.path());
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("the transcript differs from"), "{out}");
    assert!(out.contains("Seu saldo: 20 reais."), "{out}");
}
