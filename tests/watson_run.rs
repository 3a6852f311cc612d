//! Watson workspaces run offline: every real workspace of the corpus answers its first turn,
//! and the dialog model's rules (tree order, jumps, slots, digressions, selection policies,
//! context merge) hold on small workspaces written for each.

mod common;

use fluxo::watson::Workspace;
use serde_json::{json, Value};

const NOW: &str = "2026-11-23T14:00:00-03:00";

fn turn(ws: &Workspace, text: &str, context: &Value, nlu: Option<(Value, Value)>) -> Value {
    let mut req = json!({ "input": { "text": text }, "context": context });
    if let Some((i, e)) = nlu {
        req["intents"] = i;
        req["entities"] = e;
    }
    ws.message(&req, NOW)
}

/// Every workspace of `../shared/corpus/watson` loads and answers its first turn (an empty
/// message, as a channel opens a conversation) with no error in `log_messages`.
#[test]
fn every_corpus_workspace_answers_its_first_turn() {
    let Some(shared) = common::shared() else {
        return;
    };
    let dir = shared.join("corpus/watson");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut answered = 0;
    let mut with_text = 0;
    let mut problems = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        let ws = match Workspace::from_json(&text) {
            Ok(ws) => ws,
            Err(e) => {
                problems.push(format!("{}: {e}", f.display()));
                continue;
            }
        };
        let r = ws.message(&json!({ "input": { "text": "" } }), NOW);
        let logs = r["output"]["log_messages"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !logs.is_empty() {
            problems.push(format!("{}: {logs:?}", f.display()));
        }
        if r["output"]["text"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
        {
            with_text += 1;
        }
        assert!(r["context"]["system"]["dialog_stack"].is_array());
        answered += 1;
    }
    eprintln!(
        "watson corpus: {answered} of {} workspaces answered the first turn, {with_text} with text",
        files.len()
    );
    assert_eq!(files.len(), 58, "the corpus has 58 workspaces");
    assert!(problems.is_empty(), "{problems:#?}");
}

fn intent(name: &str) -> Option<(Value, Value)> {
    Some((json!([{ "intent": name, "confidence": 0.9 }]), json!([])))
}

fn texts(r: &Value) -> Vec<String> {
    r["output"]["text"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect()
}

fn visited(r: &Value) -> Vec<String> {
    r["output"]["nodes_visited"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect()
}

/// A small workspace with every construct of the dialog model, written for these tests.
fn model() -> Workspace {
    Workspace::from_value(&json!({ "name": "modelo", "language": "pt-br",
      "entities": [ { "entity": "tamanho", "values": [ { "value": "grande" }, { "value": "pequena" } ] } ],
      "dialog_nodes": [
        { "dialog_node": "inicio", "conditions": "conversation_start", "context": { "perfil": { "nome": "Ana" } },
          "next_step": { "behavior": "jump_to", "selector": "condition", "dialog_node": "boas_vindas" } },
        { "dialog_node": "boas_vindas", "previous_sibling": "inicio", "conditions": "welcome",
          "output": { "text": { "values": ["Olá, $perfil.nome!"], "selection_policy": "sequential" } } },
        { "dialog_node": "pedido", "previous_sibling": "boas_vindas", "type": "frame", "conditions": "#pedir_pizza",
          "digress_in": "does_not_return",
          "output": { "text": { "values": ["Uma pizza $tamanho saindo!"], "selection_policy": "sequential" } },
          "context": { "perfil": { "canal": "web" } } },
        { "dialog_node": "slot_tamanho", "parent": "pedido", "type": "slot", "variable": "$tamanho" },
        { "dialog_node": "tamanho_focus", "parent": "slot_tamanho", "type": "event_handler", "event_name": "focus",
          "output": { "text": { "values": ["Qual tamanho?"] } } },
        { "dialog_node": "tamanho_input", "parent": "slot_tamanho", "previous_sibling": "tamanho_focus", "type": "event_handler",
          "event_name": "input", "conditions": "@tamanho", "context": { "tamanho": "@tamanho" } },
        { "dialog_node": "tamanho_nomatch", "parent": "slot_tamanho", "previous_sibling": "tamanho_input", "type": "event_handler",
          "event_name": "nomatch", "output": { "text": { "values": ["Grande ou pequena?"] } } },
        { "dialog_node": "horario", "previous_sibling": "pedido", "conditions": "#horario", "digress_in": "returns",
          "output": { "text": { "values": ["Abrimos às 18h.", "Das 18h às 23h.", "A partir das 18h."], "selection_policy": "sequential" } } },
        { "dialog_node": "pergunta", "previous_sibling": "horario", "conditions": "#cadastro",
          "output": { "text": "Você já é cliente?" } },
        { "dialog_node": "sim", "parent": "pergunta", "conditions": "#sim", "output": { "text": "Que bom!" } },
        { "dialog_node": "nao", "parent": "pergunta", "previous_sibling": "sim", "conditions": "#nao",
          "next_step": { "behavior": "jump_to", "selector": "body", "dialog_node": "cadastro_fim" } },
        { "dialog_node": "pasta", "previous_sibling": "pergunta", "type": "folder", "conditions": "$aberto" },
        { "dialog_node": "dentro", "parent": "pasta", "conditions": "#cardapio", "output": { "text": "Temos calabresa." } },
        { "dialog_node": "cadastro_fim", "previous_sibling": "pasta", "conditions": "false",
          "output": { "text": "Vamos fazer seu cadastro." } },
        { "dialog_node": "senao", "previous_sibling": "cadastro_fim", "conditions": "anything_else",
          "output": { "text": { "values": ["Não entendi.", "Pode repetir?"], "selection_policy": "sequential" } } }
      ] }))
    .expect("workspace")
}

/// `conversation_start` runs first and jumps (selector `condition`) to `welcome`; context
/// objects merge deeply; the answer carries the dialog's position and counters.
#[test]
fn the_first_turn_starts_initialises_and_welcomes() {
    let ws = model();
    let r = turn(&ws, "", &json!({}), None);
    assert_eq!(visited(&r), ["inicio", "boas_vindas"]);
    assert_eq!(texts(&r), ["Olá, Ana!"]);
    assert_eq!(r["context"]["system"]["dialog_turn_counter"], 1);
    assert_eq!(
        r["context"]["system"]["dialog_stack"],
        json!([{ "dialog_node": "root" }])
    );
    assert!(r["context"]["conversation_id"].is_string());
    // A user who speaks first: no `welcome`, but `conversation_start` still fires.
    let spoke = turn(&ws, "oi", &json!({}), intent("horario"));
    assert_eq!(visited(&spoke), ["inicio", "horario"]);
}

/// Root nodes in tree order; the first true one wins; `anything_else` answers the rest,
/// sequentially through its variations and round again.
#[test]
fn root_order_anything_else_and_sequential_variations() {
    let ws = model();
    let mut ctx = turn(&ws, "", &json!({}), None)["context"].clone();
    let mut said = Vec::new();
    for _ in 0..3 {
        let r = turn(&ws, "hmm", &ctx, None);
        said.extend(texts(&r));
        ctx = r["context"].clone();
    }
    assert_eq!(said, ["Não entendi.", "Pode repetir?", "Não entendi."]);
    // Watson's form for a legacy `output.text`: the position shown last, under the node.
    assert_eq!(ctx["system"]["_node_output_map"]["senao"], json!([0]));
}

/// Children are tried first after a node waits; none matching leaves the branch for the root
/// level; a `jump_to` with selector `body` fires its target without testing its condition.
#[test]
fn children_then_root_and_jumps() {
    let ws = model();
    let ctx = turn(&ws, "", &json!({}), None)["context"].clone();
    let r = turn(&ws, "quero me cadastrar", &ctx, intent("cadastro"));
    assert_eq!(
        r["context"]["system"]["dialog_stack"],
        json!([{ "dialog_node": "pergunta" }])
    );
    let no = turn(&ws, "não", &r["context"], intent("nao"));
    assert_eq!(visited(&no), ["nao", "cadastro_fim"]);
    assert_eq!(texts(&no), ["Vamos fazer seu cadastro."]);
    let other = turn(&ws, "blá", &r["context"], None);
    assert_eq!(visited(&other), ["senao"]);
    assert_eq!(other["context"]["system"]["branch_exited"], json!(true));
    assert_eq!(
        other["context"]["system"]["branch_exited_reason"],
        "fallback"
    );
}

/// A folder's condition gates its children; the folder itself never answers.
#[test]
fn folders_gate_their_children() {
    let ws = model();
    let ctx = turn(&ws, "", &json!({}), None)["context"].clone();
    let closed = turn(&ws, "cardápio", &ctx, intent("cardapio"));
    assert_eq!(visited(&closed), ["senao"]);
    let mut open = ctx.clone();
    open["aberto"] = json!(true);
    let r = turn(&ws, "cardápio", &open, intent("cardapio"));
    assert_eq!(visited(&r), ["dentro"]);
}

/// Slots: the frame prompts for an empty slot, says its not-found response to an input that
/// fills nothing, and answers once the slot is filled; the frame's context merges into an
/// object set earlier.
#[test]
fn slots_prompt_fill_and_answer() {
    let ws = model();
    let ctx = turn(&ws, "", &json!({}), None)["context"].clone();
    let r = turn(&ws, "quero uma pizza", &ctx, intent("pedir_pizza"));
    assert_eq!(texts(&r), ["Qual tamanho?"]);
    assert_eq!(
        r["context"]["perfil"],
        json!({ "nome": "Ana", "canal": "web" })
    );
    let miss = turn(&ws, "azul", &r["context"], Some((json!([]), json!([]))));
    assert_eq!(texts(&miss), ["Grande ou pequena?"]);
    let hit = turn(
        &ws,
        "a grande",
        &miss["context"],
        Some((
            json!([]),
            json!([{ "entity": "tamanho", "value": "grande", "location": [2, 8], "confidence": 1.0 }]),
        )),
    );
    assert_eq!(texts(&hit), ["Uma pizza grande saindo!"]);
    assert_eq!(hit["context"]["tamanho"], "grande");
    // Entering the frame with the slot's value already in the input fills it at once.
    let direct = turn(
        &ws,
        "pizza pequena",
        &ctx,
        Some((
            json!([{ "intent": "pedir_pizza", "confidence": 0.9 }]),
            json!([{ "entity": "tamanho", "value": "pequena", "location": [6, 13] }]),
        )),
    );
    assert_eq!(texts(&direct), ["Uma pizza pequena saindo!"]);
}

/// A digression to a root node with `digress_in: returns` comes back to the interrupted
/// node, whose prompt is said again.
#[test]
fn digressions_return_to_the_interrupted_node() {
    let ws = model();
    let ctx = turn(&ws, "", &json!({}), None)["context"].clone();
    let asked = turn(&ws, "cadastro", &ctx, intent("cadastro"));
    let away = turn(&ws, "que horas abre?", &asked["context"], intent("horario"));
    assert_eq!(texts(&away), ["Abrimos às 18h.", "Você já é cliente?"]);
    assert_eq!(visited(&away), ["horario", "pergunta"]);
    let back = turn(&ws, "sim", &away["context"], intent("sim"));
    assert_eq!(texts(&back), ["Que bom!"]);
}

/// `fluxo watson message` is stateless: the answer's context, fed back as the next request's,
/// goes on exactly as a session held in memory does, turn after turn (through the command
/// itself, so the JSON crosses a process boundary as it does between Watson and a client).
#[test]
fn watson_message_round_trip_through_the_command() {
    let dir = common::Scratch::new("watson-message");
    let path = dir.join("modelo.json");
    let ws_json = serde_json::to_string(&json!({ "dialog_nodes": [
        { "dialog_node": "a", "conditions": "welcome", "output": { "text": "Oi!" } },
        { "dialog_node": "b", "previous_sibling": "a", "conditions": "anything_else",
          "output": { "text": { "values": ["um", "dois", "três"], "selection_policy": "sequential" } } } ] }))
    .expect("json");
    std::fs::write(&path, &ws_json).expect("write");
    let ws = Workspace::from_json(&ws_json).expect("ws");
    let mut memory = json!({ "conversation_id": "c-1" });
    let mut wire = memory.clone();
    for text in ["", "x", "y", "z", "w"] {
        let req = json!({ "input": { "text": text }, "context": wire });
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fluxo"))
            .args([
                "watson",
                "message",
                path.to_str().expect("path"),
                "--clock",
                "2026-11-23T17:00:00Z",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write as _;
                c.stdin
                    .take()
                    .expect("stdin")
                    .write_all(req.to_string().as_bytes())?;
                c.wait_with_output()
            })
            .expect("runs");
        assert!(out.status.success());
        let r: Value = serde_json::from_slice(&out.stdout).expect("a MessageResponse");
        let m = ws.message(
            &json!({ "input": { "text": text }, "context": memory }),
            "2026-11-23T17:00:00Z",
        );
        assert_eq!(r["output"], m["output"]);
        assert_eq!(r["context"], m["context"]);
        wire = r["context"].clone();
        memory = m["context"].clone();
    }
    assert_eq!(wire["system"]["dialog_turn_counter"], 5);
}

/// A workspace with an option response, for the command-line tests.
fn options_workspace(dir: &common::Scratch) -> std::path::PathBuf {
    dir.write(
        "opcoes.json",
        json!({ "workspace": { "name": "opcoes", "dialog_nodes": [
            { "dialog_node": "oi", "conditions": "welcome", "output": { "generic": [
                { "response_type": "text", "values": [ { "text": "Olá!" } ], "selection_policy": "sequential" },
                { "response_type": "option", "title": "O que deseja?", "options": [
                    { "label": "Ver saldo", "value": { "input": { "text": "saldo" } } },
                    { "label": "Falar com alguém", "value": { "input": { "text": "atendente" } } } ] } ] } },
            { "dialog_node": "saldo", "previous_sibling": "oi", "conditions": "input.text == 'saldo' || #saldo",
              "output": { "text": "Seu saldo é R$ 10." },
              "next_step": { "behavior": "jump_to", "selector": "body", "dialog_node": "fim" } },
            { "dialog_node": "fim", "previous_sibling": "saldo", "conditions": "false", "output": { "text": "Algo mais?" } },
            { "dialog_node": "outro", "previous_sibling": "fim", "conditions": "anything_else", "output": { "text": "Não entendi." } } ] } })
        .to_string(),
    )
}

fn fluxo(args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("fluxo runs");
    let written = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    // A command that refuses its arguments ends without reading its input, at times before
    // the input is written: the pipe is then closed, and that is not the test's failure.
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write: {e}");
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `fluxo run` takes a workspace (here the wrapped export) as it takes a flow: events in,
/// outputs out, one JSON per line.
#[test]
fn fluxo_run_on_a_workspace() {
    let dir = common::Scratch::new("watson-run");
    let ws = options_workspace(&dir);
    let (code, out, err) = fluxo(
        &[
            "run",
            ws.to_str().expect("path"),
            "--clock",
            "2026-11-23T14:00:00Z",
        ],
        "{\"type\": \"start\"}\n{\"type\": \"user\", \"text\": \"saldo\"}\n",
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["type"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "node_entered",
            "message",
            "message",
            "awaiting_input",
            "node_entered",
            "node_entered",
            "message",
            "message",
            "awaiting_input"
        ],
        "{out}"
    );
    assert_eq!(lines[2]["message"]["response_type"], "option");
    assert_eq!(lines[6]["text"], "Seu saldo é R$ 10.");
    assert_eq!(lines[7]["text"], "Algo mais?");
}

/// `fluxo chat` on a workspace numbers the options and sends the chosen one's text.
#[test]
fn fluxo_chat_on_a_workspace_numbers_options() {
    let dir = common::Scratch::new("watson-chat");
    let ws = options_workspace(&dir);
    let (code, out, err) = fluxo(&["chat", ws.to_str().expect("path")], "1\n/quit\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("bot: Olá!"), "{out}");
    assert!(
        out.contains("  1. Ver saldo\n  2. Falar com alguém"),
        "{out}"
    );
    assert!(
        out.contains("bot: Seu saldo é R$ 10.\nbot: Algo mais?"),
        "{out}"
    );
}

/// `fluxo graph` draws the dialog tree with its jumps; `fluxo watson message` refuses what is
/// not a request, and what is not a workspace, with exit 2 and a sentence.
#[test]
fn graph_and_refusals() {
    let dir = common::Scratch::new("watson-graph");
    let ws = options_workspace(&dir);
    let p = ws.to_str().expect("path");
    let (code, out, _) = fluxo(&["graph", p], "");
    assert_eq!(code, 0);
    assert!(out.starts_with("flowchart TD"), "{out}");
    assert!(out.contains("-. \"jump (body)\" .->"), "{out}");
    let (code, _, err) = fluxo(&["watson", "message", p], "[1, 2]");
    assert_eq!(code, 2);
    assert!(err.contains("a MessageRequest is a JSON object"), "{err}");
    let (code, _, err) = fluxo(&["watson", "message", p], "{ not json");
    assert_eq!(code, 2);
    assert!(err.contains("not a MessageRequest JSON"), "{err}");
    // Watson's own request checks: a newline in `input.text` is a 400 there, exit 2 here.
    let (code, _, err) = fluxo(
        &["watson", "message", p],
        r#"{"input": {"text": "linha um\nlinha dois"}}"#,
    );
    assert_eq!(code, 2);
    assert!(err.contains("Invalid Request Body"), "{err}");
    // The answer carries what the v1 API adds: `user_id` (default: the conversation id) and,
    // when asked, `nodes_visited_details`.
    let (code, out, err) = fluxo(
        &["watson", "message", p, "--nodes-visited-details"],
        r#"{"input": {"text": ""}, "context": {"conversation_id": "c-9"}}"#,
    );
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).expect("a MessageResponse");
    assert_eq!(r["user_id"], "c-9", "{r}");
    assert_eq!(
        r["output"]["nodes_visited_details"][0]["dialog_node"], "oi",
        "{r}"
    );
    let flow = common::root().join("flows/simulator.json");
    let (code, _, err) = fluxo(&["watson", "message", flow.to_str().expect("path")], "{}");
    assert_eq!(code, 2);
    assert!(err.contains("not a Watson workspace"), "{err}");
}

/// Without intents and entities in the events, the offline NLU reads the text: a training
/// example is its intent, a synonym its entity value, so `fluxo chat` on a workspace works as
/// it is. While the frame fills its slot, another intent does not digress (a frame's
/// `digress_out_slots` is `not_allowed` unless set): the slot is asked for again.
#[test]
fn the_offline_nlu_makes_chat_usable() {
    let ws = common::root().join("examples/watson/pizzaria.json");
    let (code, out, err) = fluxo(
        &["chat", ws.to_str().expect("path")],
        "quero uma pizza\nque horas vocês abrem\nfamília\n/quit\n",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "bot: Olá! Aqui é a Pizzaria Bella. Quer pedir uma pizza?\n\
         bot: Qual tamanho: grande ou pequena?\n\
         bot: Qual tamanho: grande ou pequena?\n\
         bot: Uma pizza grande saindo!\n"
    );
}

/// `fluxo test` runs conversation tests on a workspace as on a flow: expectations, coverage
/// of nodes and `jump_to` edges, and a failing expectation fails the run.
#[test]
fn fluxo_test_on_a_workspace() {
    let example = common::root().join("examples/watson/pizzaria.test.json");
    let (code, out, err) = fluxo(
        &["test", example.to_str().expect("path"), "--format", "json"],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(report["summary"]["passed"], 2, "{report}");
    let cov = &report["coverage"][0];
    assert_eq!(cov["nodes"], json!([6, 6]), "{cov}");
    assert_eq!(cov["edges"], json!([1, 1]), "{cov}");
    let dir = common::Scratch::new("watson-test");
    std::fs::copy(
        common::root().join("examples/watson/pizzaria.json"),
        dir.join("pizzaria.json"),
    )
    .expect("copy");
    let wrong = std::fs::read_to_string(&example)
        .expect("read")
        .replace("Uma pizza grande saindo!", "Uma pizza pequena saindo!");
    let t = dir.write("pizzaria.test.json", wrong);
    let (code, out, _) = fluxo(&["test", t.to_str().expect("path")], "");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("expected the bot to say \"Uma pizza pequena saindo!\""),
        "{out}"
    );
}

/// A slot without a prompt (no `focus` handler, or one that says nothing) is optional: it is
/// filled when the input has its value and never asked for; `@entity.values` is missing, not
/// an empty list, when the input has no such entity, so its slot stays empty.
#[test]
fn optional_slots_are_not_prompted() {
    let ws = Workspace::from_value(&json!({
      "entities": [ { "entity": "size", "values": [ { "value": "large" } ] },
                    { "entity": "extra", "values": [ { "value": "ham" } ] },
                    { "entity": "place", "values": [ { "value": "stay" } ] } ],
      "dialog_nodes": [
        { "dialog_node": "order", "type": "frame", "conditions": "#order",
          "output": { "text": "A $size pizza." } },
        { "dialog_node": "s_size", "parent": "order", "type": "slot", "variable": "$size" },
        { "dialog_node": "s_size_focus", "parent": "s_size", "type": "event_handler", "event_name": "focus",
          "output": { "text": "Which size?" } },
        { "dialog_node": "s_size_input", "parent": "s_size", "previous_sibling": "s_size_focus", "type": "event_handler",
          "event_name": "input", "conditions": "@size", "context": { "size": "@size" } },
        { "dialog_node": "s_extra", "parent": "order", "previous_sibling": "s_size", "type": "slot", "variable": "$extra" },
        { "dialog_node": "s_extra_input", "parent": "s_extra", "type": "event_handler",
          "event_name": "input", "conditions": "@extra.values", "context": { "extra": "@extra.values" } },
        { "dialog_node": "s_place", "parent": "order", "previous_sibling": "s_extra", "type": "slot", "variable": "$place" },
        { "dialog_node": "s_place_focus", "parent": "s_place", "type": "event_handler", "event_name": "focus", "output": {} },
        { "dialog_node": "s_place_input", "parent": "s_place", "previous_sibling": "s_place_focus", "type": "event_handler",
          "event_name": "input", "conditions": "@place", "context": { "place": "@place" } }
      ] }))
    .expect("workspace");
    let r = turn(&ws, "pizza", &json!({}), intent("order"));
    assert_eq!(texts(&r), ["Which size?"]);
    assert_eq!(r["context"]["extra"], Value::Null);
    let r = turn(
        &ws,
        "large",
        &r["context"],
        Some((
            json!([]),
            json!([{ "entity": "size", "value": "large", "location": [0, 5] }]),
        )),
    );
    assert_eq!(texts(&r), ["A large pizza."]);
    assert_eq!(
        r["context"]["system"]["dialog_stack"],
        json!([{ "dialog_node": "root" }])
    );
}

/// One user turn of the property below: what the user says and what the NLU found.
fn step_strategy() -> impl proptest::strategy::Strategy<Value = (String, Option<(Value, Value)>)> {
    use proptest::prelude::*;
    prop_oneof![
        Just(("".to_owned(), None)),
        Just(("blá".to_owned(), Some((json!([]), json!([]))))),
        Just(("pizza".to_owned(), intent("pedir_pizza"))),
        Just(("horário".to_owned(), intent("horario"))),
        Just(("cadastro".to_owned(), intent("cadastro"))),
        Just(("sim".to_owned(), intent("sim"))),
        Just(("não".to_owned(), intent("nao"))),
        Just(("cardápio".to_owned(), intent("cardapio"))),
        Just((
            "grande".to_owned(),
            Some((
                json!([]),
                json!([{ "entity": "tamanho", "value": "grande", "location": [0, 6] }])
            ))
        )),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Stateless turns: a conversation whose context travels as JSON text between turns (as it
    /// does between Watson's API and a client, or `fluxo watson message` runs) answers every
    /// turn exactly as one whose context never leaves memory.
    #[test]
    fn the_context_alone_carries_the_conversation(steps in proptest::collection::vec(step_strategy(), 1..12)) {
        let ws = model();
        // The stateful side: a session as `fluxo run`, `chat` and `test` hold it.
        let mut session = fluxo::watson::WatsonSession::new("prop");
        let mut wire = serde_json::to_string(&json!({ "conversation_id": "prop" })).expect("json");
        for (text, nlu) in steps {
            let (intent, entities) = match &nlu {
                Some((i, e)) => (
                    i[0]["intent"].as_str().map(str::to_owned),
                    e.as_array().cloned(),
                ),
                None => (None, None),
            };
            let stateful = session.handle(
                &ws,
                fluxo::engine::Event::User { text: text.clone(), intent, entities, confidence: Some(0.9) },
                1_795_453_200_000,
            );
            let carried: Value = serde_json::from_str(&wire).expect("json");
            let stateless = turn(&ws, &text, &carried, nlu);
            proptest::prop_assert_eq!(&stateful, &fluxo::watson::outputs_of(&stateless));
            proptest::prop_assert_eq!(&session.context, &stateless["context"]);
            wire = serde_json::to_string(&stateless["context"]).expect("json");
        }
    }
}

/// A root node with `digress_in: not_available` cannot be digressed into: from inside a
/// branch whose children do not match, the input goes to the next root node that can; from the
/// root level, it fires as any node.
#[test]
fn not_available_nodes_take_no_digression() {
    let ws = Workspace::from_value(&json!({ "dialog_nodes": [
        { "dialog_node": "ask", "conditions": "#ask", "output": { "text": "Yes or no?" } },
        { "dialog_node": "yes", "parent": "ask", "conditions": "#yes", "output": { "text": "Great." } },
        { "dialog_node": "hours", "previous_sibling": "ask", "conditions": "#hours", "digress_in": "not_available",
          "output": { "text": "9 to 5." } },
        { "dialog_node": "else", "previous_sibling": "hours", "conditions": "anything_else", "output": { "text": "Sorry?" } } ] }))
    .expect("workspace");
    let asked = turn(&ws, "ask", &json!({}), intent("ask"));
    let inside = turn(&ws, "hours?", &asked["context"], intent("hours"));
    assert_eq!(visited(&inside), ["else"]);
    let outside = turn(&ws, "hours?", &inside["context"], intent("hours"));
    assert_eq!(visited(&outside), ["hours"]);
}

/// `digress_out: allow_returning`: from inside the node's branch, the input may go only to a
/// root node that returns (`digress_in: returns`); one that does not return is not tried; when
/// no returning node takes the input, the node asks again and the dialog stays in the branch.
#[test]
fn allow_returning_digresses_only_to_nodes_that_return() {
    let ws = Workspace::from_value(&json!({ "dialog_nodes": [
        { "dialog_node": "ask", "conditions": "#ask", "digress_out": "allow_returning", "output": { "text": "Yes or no?" } },
        { "dialog_node": "yes", "parent": "ask", "conditions": "#yes", "output": { "text": "Great." } },
        { "dialog_node": "hours", "previous_sibling": "ask", "conditions": "#hours", "digress_in": "returns",
          "output": { "text": "9 to 5." } },
        { "dialog_node": "bye", "previous_sibling": "hours", "conditions": "#bye", "digress_in": "does_not_return",
          "output": { "text": "Bye." } } ] }))
    .expect("workspace");
    let asked = turn(&ws, "ask", &json!({}), intent("ask"));
    let hours = turn(&ws, "hours?", &asked["context"], intent("hours"));
    assert_eq!(visited(&hours), ["hours", "ask"]);
    assert_eq!(texts(&hours), ["9 to 5.", "Yes or no?"]);
    let bye = turn(&ws, "bye", &hours["context"], intent("bye"));
    assert_eq!(visited(&bye), ["ask"]);
    assert_eq!(texts(&bye), ["Yes or no?"]);
    assert_eq!(
        bye["context"]["system"]["dialog_stack"],
        json!([{ "dialog_node": "ask" }])
    );
    let yes = turn(&ws, "yes", &bye["context"], intent("yes"));
    assert_eq!(texts(&yes), ["Great."]);
    // From the root level, the same node answers as any other.
    let root = turn(&ws, "bye", &yes["context"], intent("bye"));
    assert_eq!(texts(&root), ["Bye."]);
}

/// A slot skipped by its Not-found response (`skip_slot`) stays skipped on the turns that
/// follow: another input that fills nothing prompts the next slot again, not the skipped one.
#[test]
fn a_skipped_slot_stays_skipped() {
    let ws = Workspace::from_value(&json!({ "dialog_nodes": [
        { "dialog_node": "order", "type": "frame", "conditions": "#order", "output": { "text": "Done." } },
        { "dialog_node": "s_a", "parent": "order", "type": "slot", "variable": "$a" },
        { "dialog_node": "s_a_focus", "parent": "s_a", "type": "event_handler", "event_name": "focus", "output": { "text": "A?" } },
        { "dialog_node": "s_a_input", "parent": "s_a", "previous_sibling": "s_a_focus", "type": "event_handler",
          "event_name": "input", "conditions": "@a", "context": { "a": "@a" } },
        { "dialog_node": "s_a_nomatch", "parent": "s_a", "previous_sibling": "s_a_input", "type": "event_handler",
          "event_name": "nomatch", "output": { "text": "Skipping A." }, "next_step": { "behavior": "skip_slot" } },
        { "dialog_node": "s_b", "parent": "order", "previous_sibling": "s_a", "type": "slot", "variable": "$b" },
        { "dialog_node": "s_b_focus", "parent": "s_b", "type": "event_handler", "event_name": "focus", "output": { "text": "B?" } },
        { "dialog_node": "s_b_input", "parent": "s_b", "previous_sibling": "s_b_focus", "type": "event_handler",
          "event_name": "input", "conditions": "@b", "context": { "b": "@b" } } ] }))
    .expect("workspace");
    let none = || Some((json!([]), json!([])));
    let r = turn(&ws, "order", &json!({}), intent("order"));
    assert_eq!(texts(&r), ["A?"]);
    let r = turn(&ws, "hmm", &r["context"], none());
    assert_eq!(texts(&r), ["Skipping A.", "B?"]);
    let r = turn(&ws, "hmm", &r["context"], none());
    assert_eq!(texts(&r), ["B?"]);
    let r = turn(
        &ws,
        "b",
        &r["context"],
        Some((
            json!([]),
            json!([{ "entity": "b", "value": "b", "location": [0, 1] }]),
        )),
    );
    assert_eq!(texts(&r), ["Done."]);
}

/// Hostile contexts: stack entries that are neither node ids nor objects with a
/// `dialog_node`, counters that are not whole numbers, a random order that is not one, and a
/// `_node_output_map` that is not an object. Nothing panics, nothing is logged as an error of
/// the workspace: the entries are dropped, the counters start again, and what is written back
/// is well formed.
#[test]
fn hostile_contexts_are_read_without_harm() {
    let ws = model();
    for system in [
        json!({ "dialog_stack": [1, null, { "no": "node" }, ["x"]], "dialog_turn_counter": -3 }),
        json!({ "dialog_stack": "root", "_node_output_map": "nope" }),
        json!({ "dialog_stack": [], "_node_output_map": { "senao": [-1, "a", 2.5] } }),
        json!({ "dialog_stack": [{ "dialog_node": 7 }], "_node_output_map": { "senao": [18_446_744_073_709_551_615u64] } }),
        json!({ "initialized": true, "_node_output_map": { "senao": [3, 0, 0, 0] } }),
        json!({ "initialized": true, "_node_output_map": { "senao": { "text": [], "0": {} } } }),
        json!({ "dialog_stack": [{ "dialog_node": "nowhere", "state": "in_progress", "skipped": 5 }] }),
    ] {
        let ctx = json!({ "conversation_id": "h", "system": system });
        let r = turn(&ws, "hmm", &ctx, None);
        assert_eq!(r["output"]["log_messages"], json!([]), "{system}");
        assert_eq!(visited(&r), ["senao"], "{system}");
        let stack = r["context"]["system"]["dialog_stack"]
            .as_array()
            .expect("a stack")
            .clone();
        assert!(
            stack.iter().all(|e| e["dialog_node"].is_string()),
            "{stack:?}"
        );
        let counter = &r["context"]["system"]["_node_output_map"]["senao"];
        assert!(
            counter
                .as_array()
                .is_some_and(|a| a.len() == 1 && a[0].as_u64().is_some_and(|n| n < 2)),
            "{system} gave {counter}"
        );
    }
}
