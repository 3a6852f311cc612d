//! `fluxo test` in CI and the author's loop, as a black box: JUnit XML, one JSON document on
//! stdout, `--filter`, `--fail-fast`, `--min-coverage`, mocks keyed by request, `action_result`
//! steps, what `--bless` refuses to record, and `fluxo chat`'s `/save` and numbered options.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn fluxo(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run fluxo")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scratch copy of the simulator flow, its integrations, test and golden transcript.
fn simulator(name: &str) -> common::Scratch {
    let dir = common::Scratch::new(&format!("ci-{name}"));
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

const OLD: &str = "Obrigada pela avaliação! Até logo.";
const NEW: &str = "Valeu pela nota!";

/// Changes the closing bot message of the simulator flow; when `keep_expectation` is false, the
/// test's explicit expectation on that text is dropped, so only the golden comparison fails.
fn change_closing_message(dir: &Path, keep_expectation: bool) {
    let p = dir.join("simulator.json");
    let text = std::fs::read_to_string(&p).expect("read").replace(OLD, NEW);
    std::fs::write(&p, text).expect("write");
    if !keep_expectation {
        let tp = dir.join("simulator.test.json");
        let t = std::fs::read_to_string(&tp)
            .expect("read")
            .replace(&format!("\"bot\": \"{OLD}\","), "");
        std::fs::write(&tp, t).expect("write");
    }
}

/// A flow that calls two HTTP APIs in one turn, then offers a choice.
const MOCK_FLOW: &str = r#"{
  "name": "mocks",
  "nodes": [
    { "id": "inicio", "condition": "start", "context": { "cpf": "123" },
      "actions": [ { "name": "http_request", "parameters": { "config": { "url": "https://api.acme.test/clientes/<? $cpf ?>", "method": "get" } }, "result_variable": "cliente" } ],
      "output": [ { "default": { "type": "text", "text": "Cliente: <? $cliente.data.nome ?>" } } ],
      "next": [ { "goto": "pedido" } ] },
    { "id": "pedido",
      "actions": [ { "name": "http_request", "parameters": { "config": { "url": "https://api.acme.test/pedidos", "method": "post", "data": { "cpf": "<? $cpf ?>", "canal": "chat" } } }, "result_variable": "pedido" } ],
      "output": [ { "default": { "type": "text", "text": "Pedido: <? $pedido.data.status ?>. Confirma?" } } ],
      "input": { "default": { "type": "select", "payload": { "options": [ { "title": "Sim", "value": "sim" }, { "title": "Não", "value": "nao" } ] } } },
      "next": [ { "condition": "input.text == 'sim'", "goto": "fim" }, { "goto": "pedido" } ] },
    { "id": "fim", "output": [ { "default": { "type": "text", "text": "Pedido confirmado" } } ] }
  ]
}"#;

fn mock_dir(name: &str, test: &serde_json::Value) -> common::Scratch {
    let dir = common::Scratch::new(&format!("ci-{name}"));
    dir.write("mocks.json", MOCK_FLOW);
    dir.write(
        "mocks.test.json",
        serde_json::to_string_pretty(test).expect("json"),
    );
    dir
}

// 2. One JSON document on stdout.

#[test]
fn format_json_is_one_document_on_stdout() {
    let dir = simulator("json");
    change_closing_message(&dir, false);
    let o = fluxo(&["test", ".", "--format", "json"], &dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // All of stdout is one JSON value: no progress line before or after it.
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{}", stdout(&o)));
    let files = doc["files"].as_array().expect("files");
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["file"], "./simulator.test.json");
    let convs = files[0]["conversations"].as_array().expect("conversations");
    assert_eq!(convs.len(), 8);
    let failed: Vec<&serde_json::Value> =
        convs.iter().filter(|c| c["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{convs:#?}");
    assert!(failed[0]["failures"][0]
        .as_str()
        .expect("text")
        .contains("the transcript differs"));
    assert_eq!(doc["summary"]["passed"], 7);
    assert_eq!(doc["summary"]["failed"], 1);
    assert_eq!(
        doc["coverage"][0]["handovers"]["transbordo"]["missed"],
        serde_json::json!([])
    );
    // The human lines went to stderr, for whoever watches the job.
    assert!(stderr(&o).contains("7 passed, 1 failed"), "{}", stderr(&o));
}

#[test]
fn coverage_json_leaves_only_json_on_stdout() {
    let dir = simulator("covjson");
    let o = fluxo(&["test", ".", "--coverage", "json"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("a JSON line");
    assert_eq!(v["coverage"][0]["nodes"], serde_json::json!([14, 14]));
    assert!(stderr(&o).contains("ok   ./simulator.test.json"));
}

// 1. JUnit XML.

#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: std::collections::BTreeMap<String, String>,
    text: String,
    children: Vec<Element>,
}

/// Parses XML into a tree with quick-xml (entities unescaped).
fn parse_xml(xml: &str) -> Element {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack = vec![Element::default()];
    let open = |e: &quick_xml::events::BytesStart| Element {
        name: e.name().as_ref().to_owned(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.expect("attribute");
                (
                    a.key.as_ref().to_owned(),
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .expect("value")
                        .into_owned(),
                )
            })
            .collect(),
        ..Default::default()
    };
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => stack.push(open(&e)),
            Event::Empty(e) => {
                let el = open(&e);
                stack.last_mut().expect("parent").children.push(el);
            }
            Event::End(_) => {
                let el = stack.pop().expect("open element");
                stack.last_mut().expect("parent").children.push(el);
            }
            Event::Text(t) => {
                let t = t.xml10_content();
                stack.last_mut().expect("element").text.push_str(&t);
            }
            Event::GeneralRef(r) => {
                let name = r.xml10_content();
                let t = quick_xml::escape::unescape(&format!("&{name};"))
                    .expect("entity")
                    .into_owned();
                stack.last_mut().expect("element").text.push_str(&t);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements");
    stack.pop().expect("document")
}

#[test]
fn junit_report_has_the_schema_elements_and_the_golden_diff() {
    let dir = simulator("junit");
    change_closing_message(&dir, false);
    let o = fluxo(&["test", ".", "--junit", "report.xml"], &dir);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let xml = std::fs::read_to_string(dir.join("report.xml")).expect("the JUnit file");
    assert!(xml.starts_with("<?xml"), "{xml}");
    let doc = parse_xml(&xml);
    let root = doc
        .children
        .iter()
        .find(|e| e.name == "testsuites")
        .expect("<testsuites>");
    assert_eq!(root.attrs.get("tests").map(String::as_str), Some("8"));
    assert_eq!(root.attrs.get("failures").map(String::as_str), Some("1"));
    let suites: Vec<&Element> = root
        .children
        .iter()
        .filter(|e| e.name == "testsuite")
        .collect();
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    for attr in ["name", "tests", "failures", "errors", "skipped", "time"] {
        assert!(suite.attrs.contains_key(attr), "testsuite lacks {attr}");
    }
    assert_eq!(suite.attrs["name"], "./simulator.test.json");
    assert_eq!(suite.attrs["tests"], "8");
    assert_eq!(suite.attrs["failures"], "1");
    let cases: Vec<&Element> = suite
        .children
        .iter()
        .filter(|e| e.name == "testcase")
        .collect();
    assert_eq!(cases.len(), 8);
    for c in &cases {
        for attr in ["name", "classname", "time"] {
            assert!(c.attrs.contains_key(attr), "testcase lacks {attr}");
        }
        assert_eq!(c.attrs["classname"], "./simulator.test.json");
    }
    let failing: Vec<&&Element> = cases
        .iter()
        .filter(|c| c.children.iter().any(|f| f.name == "failure"))
        .collect();
    assert_eq!(failing.len(), 1);
    let failure = failing[0]
        .children
        .iter()
        .find(|f| f.name == "failure")
        .expect("failure");
    assert_eq!(failure.attrs["type"], "golden");
    assert!(failure.attrs["message"].contains("the transcript differs from"));
    // The whole diff, with the new line, is the failure's body.
    assert!(
        failure.text.contains(&format!(
            "+   {{\"type\":\"message\",\"from\":\"bot\",\"text\":\"{NEW}\""
        )),
        "{}",
        failure.text
    );
    assert!(failure.text.contains(" - "), "{}", failure.text);
}

// 3. --filter, --fail-fast, --min-coverage, exit codes.

#[test]
fn filter_selects_by_file_and_conversation_name_case_insensitively() {
    let dir = simulator("filter");
    let o = fluxo(
        &["test", ".", "--filter", "SIMULATOR.test.json › o PROVEDOR"],
        &dir,
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("ok   ./simulator.test.json › o provedor falha"),
        "{out}"
    );
    assert!(
        out.contains("1 passed, 0 failed, 7 deselected by --filter"),
        "{out}"
    );
    let o = fluxo(&["test", ".", "-k", "nobody says this"], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("--filter `nobody says this` matches no conversation"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn fail_fast_starts_no_conversation_after_a_failure() {
    let ok = |name: &str| {
        serde_json::json!({ "name": name, "mocks": { "http_request": { "status": 200, "data": { "nome": "Ana", "status": "ok" } } },
            "steps": [ { "user": "sim" }, { "expect": { "bot": "Pedido confirmado" } } ] })
    };
    let mut first = ok("primeira falha");
    first["steps"][1]["expect"]["bot"] = serde_json::json!("outra coisa");
    let dir = mock_dir(
        "failfast",
        &serde_json::json!({ "flow": "mocks.json", "conversations": [first, ok("segunda"), ok("terceira")] }),
    );
    let o = fluxo(&["test", ".", "--fail-fast"], &dir);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL ./mocks.test.json › primeira falha"),
        "{out}"
    );
    assert!(!out.contains("segunda"), "{out}");
    assert!(
        out.trim_end()
            .ends_with("0 passed, 1 failed, 2 not run (--fail-fast)"),
        "{out}"
    );
    // Without it, every conversation runs.
    let o = fluxo(&["test", "."], &dir);
    assert!(stdout(&o).trim_end().ends_with("2 passed, 1 failed"));
}

#[test]
fn min_coverage_fails_the_run_naming_the_flow_and_metric() {
    let dir = simulator("mincov");
    // One conversation reaches one close status of five, and not every node.
    let args = [
        "test",
        ".",
        "-k",
        "o provedor falha",
        "--min-coverage",
        "nodes=90,edges=10,close-statuses=100",
    ];
    let o = fluxo(&args, &dir);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("coverage of simulator.json: close-statuses 20.0% is below the --min-coverage threshold of 100%"),
        "{out}"
    );
    assert!(out.contains("coverage of simulator.json: nodes "), "{out}");
    assert!(!out.contains(": edges "), "{out}");
    // The whole suite reaches them all.
    let o = fluxo(
        &[
            "test",
            ".",
            "--min-coverage",
            "nodes=100,close-statuses=100",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // A malformed threshold is a usage error.
    let o = fluxo(&["test", ".", "--min-coverage", "branches=50"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a coverage metric"),
        "{}",
        stderr(&o)
    );
}

// 4. Mocks keyed by request, and sequences.

#[test]
fn request_keyed_mocks_answer_each_call_and_sequences_run_out() {
    let mocks = serde_json::json!({ "http_request": [
        { "match": { "method": "GET", "url": "https://api.acme.test/clientes/*" },
          "result": { "status": 200, "data": { "nome": "Ana" } } },
        { "match": { "method": "post", "url": "https://api.acme.test/pedidos", "body": { "canal": "chat" } },
          "results": [ { "status": 200, "data": { "status": "enviado" } }, { "status": 200, "data": { "status": "entregue" } } ] }
    ] });
    let test = serde_json::json!({ "flow": "mocks.json", "conversations": [
        { "name": "duas chamadas, duas respostas", "mocks": mocks.clone(), "steps": [
            { "expect": { "bot": "Cliente: Ana" } },
            { "expect": { "bot": "Pedido: enviado. Confirma?" } },
            { "user": "não" },
            { "expect": { "bot": "Pedido: entregue. Confirma?" } }
        ] },
        { "name": "a terceira chamada esgota a sequência", "mocks": mocks, "steps": [
            { "user": "não" }, { "user": "não" }
        ] },
        { "name": "nenhum mock corresponde", "mocks": { "http_request": { "match": { "url": "https://outra.test/*" }, "result": {} } },
          "steps": [] },
        { "name": "a forma antiga continua", "mocks": { "http_request": { "status": 200, "data": { "nome": "Bia", "status": "ok" } } },
          "steps": [ { "expect": { "bot": "Cliente: Bia" } } ] }
    ] });
    let dir = mock_dir("mocks", &test);
    let o = fluxo(&["test", "."], &dir);
    let out = stdout(&o);
    assert!(
        out.contains("ok   ./mocks.test.json › duas chamadas, duas respostas"),
        "{out}"
    );
    assert!(
        out.contains("ok   ./mocks.test.json › a forma antiga continua"),
        "{out}"
    );
    assert!(
        out.contains("FAIL ./mocks.test.json › a terceira chamada esgota"),
        "{out}"
    );
    assert!(
        out.contains("for call 3 of that mock, and its `results` has only 2"),
        "{out}"
    );
    assert!(
        out.contains("FAIL ./mocks.test.json › nenhum mock corresponde"),
        "{out}"
    );
    assert!(
        out.contains(
            "(GET https://api.acme.test/clientes/123), and no mock of `http_request` matches it"
        ),
        "{out}"
    );
    assert!(out.trim_end().ends_with("2 passed, 2 failed"), "{out}");
    // An ill-formed entry is reported where it is.
    let bad = serde_json::json!({ "flow": "mocks.json", "conversations": [
        { "name": "x", "mocks": { "http_request": { "match": { "verb": "GET" }, "result": 1 } }, "steps": [] } ] });
    let dir = mock_dir("badmock", &bad);
    let o = fluxo(&["test", "."], &dir);
    assert!(
        stdout(&o).contains("mocks.http_request: unknown field `verb` in `match`"),
        "{}",
        stdout(&o)
    );
}

// 5. `action_result` steps answer the action the bot waits for.

#[test]
fn action_result_steps_answer_actions_without_mocks() {
    let test = serde_json::json!({ "flow": "mocks.json", "conversations": [
        { "name": "respostas dadas à mão", "steps": [
            { "action_result": { "status": 200, "data": { "nome": "Ana" } }, "id": "inicio-1" },
            { "expect": { "bot": "Cliente: Ana" } },
            { "action_result": { "status": 200, "data": { "status": "ok" } } },
            { "expect": { "bot": "Pedido: ok. Confirma?" } },
            { "user": "sim" },
            { "expect": { "bot": "Pedido confirmado" } }
        ] },
        { "name": "sem resposta nem mock", "steps": [ { "user": "sim" } ] }
    ] });
    let dir = mock_dir("actionresult", &test);
    let o = fluxo(&["test", "."], &dir);
    let out = stdout(&o);
    assert!(
        out.contains("ok   ./mocks.test.json › respostas dadas à mão"),
        "{out}"
    );
    assert!(
        out.contains("FAIL ./mocks.test.json › sem resposta nem mock"),
        "{out}"
    );
    assert!(out.contains("the test has no mock for it"), "{out}");
}

// 6. --bless records only passing conversations.

#[test]
fn bless_never_records_a_failing_conversation() {
    let dir = simulator("bless");
    change_closing_message(&dir, true);
    let golden_before = std::fs::read_to_string(dir.join("simulator.transcript")).expect("golden");
    let o = fluxo(&["test", ".", "--bless"], &dir);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("not blessed: `o agente encerra e o cliente avalia` fails its expectations, so ./simulator.test.json keeps its old transcript"),
        "{out}"
    );
    let golden_after = std::fs::read_to_string(dir.join("simulator.transcript")).expect("golden");
    assert!(
        golden_after.contains(OLD),
        "the failing conversation's old section stays"
    );
    assert!(
        !golden_after.contains(NEW),
        "the failing transcript is not recorded"
    );
    assert_eq!(golden_before, golden_after);
    // Once its expectation agrees, --bless records it.
    let tp = dir.join("simulator.test.json");
    let t = std::fs::read_to_string(&tp)
        .expect("read")
        .replace(OLD, NEW);
    std::fs::write(&tp, t).expect("write");
    let o = fluxo(&["test", ".", "--bless"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("blessed the golden transcript"));
    let golden = std::fs::read_to_string(dir.join("simulator.transcript")).expect("golden");
    assert!(golden.contains(NEW));
    assert_eq!(fluxo(&["test", "."], &dir).status.code(), Some(0));
}

// 7. `fluxo chat`: numbered options, `/save` that appends, Ctrl-C that asks first.

#[test]
fn chat_numbers_options_and_save_appends_instead_of_overwriting() {
    let dir = common::Scratch::new("ci-chat");
    dir.write("mocks.json", MOCK_FLOW);
    let saved = dir.join("pedido");
    let cmd = format!(
        "cd {} && {} chat mocks.json --contact '{{\"name\": \"Ana\"}}'",
        dir.display(),
        env!("CARGO_BIN_EXE_fluxo"),
    );
    let mut command = Command::new("sh");
    command.arg("-c").arg(cmd).env("NO_COLOR", "1");
    let mut p = rexpect::session::spawn_command(command, Some(20_000)).expect("spawn fluxo chat");
    p.exp_string("/help for commands").expect("banner");
    p.exp_string("answer with /result JSON")
        .expect("the first action");
    p.exp_string("> ").expect("the first prompt");
    // Type only once the next prompt is shown (rexpect reads bytes as Latin-1: ASCII only).
    let mut step = |send: &str, expect: &str| {
        p.send_line(send).expect("send");
        p.exp_string(expect)
            .unwrap_or_else(|e| panic!("after {send:?}, expected {expect:?}: {e}"));
        p.exp_string("> ")
            .unwrap_or_else(|e| panic!("after {send:?}, expected the prompt: {e}"));
    };
    step("/state", "contact: {\"name\":\"Ana\"}");
    step(
        r#"/result {"status": 200, "data": {"nome": "Ana"}}"#,
        "bot: Cliente: Ana",
    );
    step(
        r#"/result {"status": 200, "data": {"status": "ok"}}"#,
        "1) Sim",
    );
    step("1", "bot: Pedido confirmado");
    step(&format!("/save {}", saved.display()), "saved ");
    step(
        &format!("/save {}", saved.display()),
        "appended conversation 2 to ",
    );
    p.send_control('c').expect("Ctrl-C");
    p.exp_string("Ctrl-C again leaves")
        .expect("asks before leaving");
    p.send_control('c').expect("Ctrl-C");
    p.exp_eof().expect("fluxo chat exits");

    let file = dir.join("pedido.test.json");
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("saved")).expect("json");
    let names: Vec<&str> = test["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "saved from fluxo chat: pedido",
            "saved from fluxo chat: pedido (2)"
        ]
    );
    // The number typed was recorded as the option it picked.
    assert_eq!(
        test["conversations"][0]["steps"][2],
        serde_json::json!({ "user": "Sim" })
    );
    // The `/result` answers replay as `action_result` steps, without mocks.
    let o = fluxo(&["test", "pedido.test.json"], &dir);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("2 passed, 0 failed"), "{out}");
}

// 8. The README's `console` examples run as they are written.

/// README commands the test does not run, and why. Each skip is printed when the test runs.
const README_NOT_RUN: &[(&str, &str)] = &[
    (
        "--live",
        "needs a live provider's credentials and the network",
    ),
    ("export ", "sets the secrets of the live commands"),
    (" serve ", "starts a server that runs until stopped"),
    ("curl ", "talks to the running server"),
    (
        "fluxo studio",
        "starts a local web app that runs until stopped (tests/studio.rs runs it)",
    ),
    (
        "cargo ",
        "builds or installs in release mode; the test runs the built binary",
    ),
];

/// `…` in a line matches any run of characters.
fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return pattern == line;
    };
    if parts.len() == 1 {
        return pattern == line;
    }
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// A line that is only `…` matches any number of lines (none included).
fn lines_match(expected: &[&str], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((&"…", rest)) => (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..])),
        Some((p, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| line_matches(p, a) && lines_match(rest, more)),
    }
}

struct ReadmeCommand {
    /// Line of the README where the command stands.
    line: usize,
    command: String,
    /// What `fluxo chat` is typed (the `você> ` lines).
    input: String,
    expected: Vec<String>,
}

/// The `console` blocks of the README, each a list of commands with their expected output.
fn readme_blocks(text: &str) -> Vec<Vec<ReadmeCommand>> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((_, l)) = lines.next() {
        if l.trim() != "```console" {
            continue;
        }
        let mut block: Vec<ReadmeCommand> = Vec::new();
        let mut continued = false;
        for (i, l) in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            if continued {
                let c = block.last_mut().expect("a command");
                c.command.push('\n');
                c.command.push_str(l);
                continued = l.ends_with('\\');
            } else if let Some(cmd) = l.strip_prefix("$ ") {
                block.push(ReadmeCommand {
                    line: i + 1,
                    command: cmd.to_owned(),
                    input: String::new(),
                    expected: Vec::new(),
                });
                continued = l.ends_with('\\');
            } else if let Some(c) = block.last_mut() {
                match l.strip_prefix("você> ") {
                    Some(typed) => {
                        c.input.push_str(typed);
                        c.input.push('\n');
                    }
                    None => c.expected.push(l.trim_end().to_owned()),
                }
            }
        }
        blocks.push(block);
    }
    blocks
}

/// The files a document's examples use: each ` ```json file=NAME ` block, by name.
fn doc_files(text: &str) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        let Some(name) = l.trim().strip_prefix("```json file=") else {
            continue;
        };
        let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        files.push((name.trim().to_owned(), body.join("\n") + "\n"));
    }
    files
}

/// Runs the `console` examples of the document `doc` (relative to the project's root), each
/// block in a fresh copy of `flows/` with the document's `json file=` blocks written beside it,
/// and checks what they print. Returns how many commands ran.
fn run_doc_examples(doc: &str) -> usize {
    let root = common::root();
    let text = std::fs::read_to_string(root.join(doc)).expect("the document");
    let files = doc_files(&text);
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_fluxo"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (mut ran, mut problems) = (0, Vec::new());
    for block in readme_blocks(&text) {
        // Each block in a fresh copy of the flows, so that `/save` writes nowhere in the
        // project and one block's files do not change another's counts.
        let dir = common::Scratch::new("ci-readme");
        copy_dir(&root.join("flows"), &dir.join("flows"));
        std::os::unix::fs::symlink(root.join("tests"), dir.join("tests")).expect("symlink");
        std::os::unix::fs::symlink(root.join("examples"), dir.join("examples")).expect("symlink");
        for (name, body) in &files {
            dir.write(name, body);
        }
        for c in block {
            if let Some((_, why)) = README_NOT_RUN
                .iter()
                .find(|(marker, _)| c.command.contains(marker))
            {
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {doc}:{} ({why}): $ {}",
                    c.line,
                    c.command
                );
                continue;
            }
            let mut child = Command::new("sh")
                .arg("-c")
                // The newline ends a trailing `# comment` before the redirection.
                .arg(format!("{{ {}\n}} 2>&1", c.command))
                .current_dir(dir.path())
                .env("PATH", &path)
                .env("NO_COLOR", "1")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("sh");
            {
                use std::io::Write as _;
                let mut stdin = child.stdin.take().expect("stdin");
                let _ = stdin.write_all(c.input.as_bytes());
            }
            let o = child.wait_with_output().expect("run");
            ran += 1;
            let out = String::from_utf8_lossy(&o.stdout);
            let actual: Vec<&str> = out.lines().map(str::trim_end).collect();
            let mut expected: Vec<&str> = c.expected.iter().map(String::as_str).collect();
            while expected.last().is_some_and(|l| l.is_empty()) {
                expected.pop();
            }
            // The banner of `fluxo chat` is shown in the README as printed.
            if expected.is_empty() {
                if !o.status.success() {
                    problems.push(format!(
                        "{doc}:{}: `{}` failed ({:?}):\n{out}",
                        c.line, c.command, o.status
                    ));
                }
            } else if !lines_match(&expected, &actual) {
                problems.push(format!(
                    "{doc}:{}: `{}`\n--- {doc} shows:\n{}\n--- fluxo prints:\n{out}",
                    c.line,
                    c.command,
                    expected.join("\n")
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    ran
}

#[test]
fn readme_console_examples_match_the_real_output() {
    let ran = run_doc_examples("README.md");
    assert!(ran >= 8, "only {ran} README commands ran");
}

/// The flow authors' guide: its small flows (` ```json file=` blocks) run and lint as shown.
#[test]
fn flows_guide_examples_match_the_real_output() {
    let ran = run_doc_examples("docs/flows.md");
    assert!(ran >= 4, "only {ran} docs/flows.md commands ran");
}

/// The events reference, whose examples a channel's developer copies.
#[test]
fn events_reference_examples_match_the_real_output() {
    let ran = run_doc_examples("docs/events.md");
    assert!(ran >= 2, "only {ran} docs/events.md commands ran");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let p = e.expect("entry").path();
        let target = to.join(p.file_name().expect("name"));
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).expect("copy");
        }
    }
}

#[test]
fn chat_summarises_the_hand_over_and_confirms_provider_and_agent_commands() {
    let flow = common::root().join("flows/simulator.json");
    let mut command = Command::new(env!("CARGO_BIN_EXE_fluxo"));
    command.arg("chat").arg(&flow).env("NO_COLOR", "1");
    let mut p = rexpect::session::spawn_command(command, Some(20_000)).expect("spawn fluxo chat");
    p.exp_string("(input mask: cpf)")
        .expect("the CPF input's mask is shown");
    p.exp_string("> ").expect("the first prompt");
    let mut step = |send: &str, expect: &str| -> String {
        p.send_line(send).expect("send");
        let before = p
            .exp_string(expect)
            .unwrap_or_else(|e| panic!("after {send:?}, expected {expect:?}: {e}"));
        let after = p
            .exp_string("> ")
            .unwrap_or_else(|e| panic!("after {send:?}, expected the prompt: {e}"));
        format!("{before}{expect}{after}")
    };
    step("/request", "no hand-over yet");
    step("529.982.247-25", "Como posso ajudar?");
    // One line for the hand-over, not the request's JSON.
    let shown = step("2", "(/request prints the full request)");
    assert!(
        shown.contains("simulator (integration 9)] POST simulator:handoff"),
        "{shown:?}"
    );
    assert!(!shown.contains("\"headers\""), "{shown:?}");
    let request = step("/request", "\"url\": \"simulator:handoff\"");
    assert!(request.contains("\"method\": \"POST\""), "{request:?}");
    step(
        "/provider opened conv-1",
        "[the provider accepted the hand-over: its conversation is conv-1]",
    );
    step("/agent join Carla", "[Carla joined the chat]");
    step(
        "/agent transfer financeiro",
        "[the agent transferred the chat to financeiro]",
    );
    p.send_control('d').expect("Ctrl-D");
    p.exp_eof().expect("Ctrl-D leaves");
}

#[test]
fn junit_reports_a_file_that_cannot_run_as_an_error_and_fail_fast_skips_as_skipped() {
    let ok = serde_json::json!({ "name": "ok", "mocks": { "http_request": { "status": 200, "data": {} } }, "steps": [] });
    let bad = serde_json::json!({ "name": "falha", "steps": [ { "expect": { "bot": "nunca" } } ] });
    let dir = mock_dir(
        "junit-error",
        &serde_json::json!({ "flow": "mocks.json", "conversations": [bad, ok] }),
    );
    dir.write("quebrado.test.json", "{ \"flow\": ");
    let o = fluxo(
        &["test", "mocks.test.json", "--fail-fast", "--junit", "j.xml"],
        &dir,
    );
    assert_eq!(o.status.code(), Some(1));
    let doc = parse_xml(&std::fs::read_to_string(dir.join("j.xml")).expect("report"));
    let suite = &doc.children[0].children[0];
    assert_eq!(suite.attrs["skipped"], "1", "{suite:#?}");
    let skipped = &suite.children[1];
    assert_eq!(skipped.attrs["name"], "ok");
    assert_eq!(skipped.children[0].name, "skipped");

    let o = fluxo(&["test", "quebrado.test.json", "--junit", "j.xml"], &dir);
    assert_eq!(o.status.code(), Some(1));
    let doc = parse_xml(&std::fs::read_to_string(dir.join("j.xml")).expect("report"));
    let suite = &doc.children[0].children[0];
    assert_eq!(suite.attrs["errors"], "1");
    let error = &suite.children[0].children[0];
    assert_eq!(error.name, "error");
    assert!(
        error.text.contains("not a conversation test"),
        "{}",
        error.text
    );
}

// 6. The HTML report.

/// The `<meta>` policy of a report, and the text of its one `<style>`.
fn policy_and_style(html: &str) -> (String, String) {
    let csp = html
        .split("http-equiv=\"Content-Security-Policy\" content=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a Content-Security-Policy meta")
        .replace("&#x27;", "'")
        .replace("&#39;", "'");
    let style = html
        .split("<style>")
        .nth(1)
        .and_then(|r| r.split("</style>").next())
        .expect("one inline style sheet");
    (csp, style.to_owned())
}

/// The report loads nothing: no script, no attribute or style pointing anywhere, and the
/// policy forbids it anyway (the inline style sheet is allowed by its hash, nothing else).
fn assert_self_contained(html: &str) {
    use base64::Engine as _;
    use sha2::Digest as _;
    let (csp, style) = policy_and_style(html);
    assert!(
        html.find("Content-Security-Policy") < html.find("<style>"),
        "the policy comes before the style sheet"
    );
    let hash =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style.as_bytes()));
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    assert!(
        csp.contains(&format!("style-src 'sha256-{hash}'")),
        "{csp} does not allow the style sheet it carries (sha256-{hash})"
    );
    assert!(
        !csp.contains("unsafe") && !csp.contains("script-src"),
        "{csp}"
    );
    let lower = html.to_lowercase();
    for bad in [
        "<script",
        " src=\"",
        " href=\"",
        "srcset",
        "xlink:href",
        "<link",
        "@import",
        "<iframe",
        "<object",
        "<embed",
        "http-equiv=\"refresh\"",
    ] {
        assert!(!lower.contains(bad), "the report holds {bad}");
    }
    for (i, _) in lower.match_indices("url(") {
        assert!(lower[i..].starts_with("url(#"), "{}", &html[i..i + 40]);
    }
    // An address in an attribute is only the SVG namespace (bot messages may mention
    // addresses as text: they are escaped text, never loaded).
    for (i, _) in lower.match_indices("=\"http") {
        assert!(
            lower[..i].ends_with("xmlns")
                && lower[i..].starts_with("=\"http://www.w3.org/2000/svg\""),
            "an address in an attribute: {}",
            &html[i.saturating_sub(20)..(i + 60).min(html.len())]
        );
    }
}

#[test]
fn html_report_of_a_passing_run_has_the_results_the_coverage_graph_and_a_strict_policy() {
    let dir = simulator("html-pass");
    let o = fluxo(&["test", ".", "--report", "html"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("wrote the HTML report fluxo-test-report.html"),
        "{}",
        stdout(&o)
    );
    let html = std::fs::read_to_string(dir.join("fluxo-test-report.html")).expect("the report");
    assert!(html.starts_with("<!doctype html>"));
    assert!(
        html.contains("<title>fluxo test: 8 passed, 0 failed</title>"),
        "{html}"
    );
    assert_eq!(
        html.matches(r#"<li class="passed"><span class="status">ok</span>"#)
            .count(),
        8
    );
    assert!(
        !html.contains("class=\"sbs\""),
        "no diff when nothing failed"
    );
    // The flow's graph, with what the tests never reached drawn apart.
    assert!(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"graph\""));
    assert!(html.contains("data-node-id=\"boas_vindas\""), "{html}");
    assert!(html.contains("<h3>simulator.json</h3>"), "{html}");
    assert!(
        !html.contains("role=\"button\""),
        "nothing on the report is clickable"
    );
    assert_self_contained(&html);
}

#[test]
fn html_report_of_a_failing_run_draws_the_golden_diff_side_by_side_as_bubbles() {
    let dir = simulator("html-fail");
    change_closing_message(&dir, false);
    let o = fluxo(
        &[
            "test",
            ".",
            "--report",
            "html",
            "--report-file",
            "out/r.html",
        ],
        &dir,
    );
    // A report that cannot be written is an error, and says where.
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot write the HTML report out/r.html"),
        "{}",
        stderr(&o)
    );
    let o = fluxo(
        &["test", ".", "--report", "html", "--report-file", "r.html"],
        &dir,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let html = std::fs::read_to_string(dir.join("r.html")).expect("the report");
    assert!(html.contains("7 passed, 1 failed"), "{html}");
    assert_eq!(
        html.matches(r#"<span class="status">FAIL</span>"#).count(),
        1
    );
    let table = html
        .split("<table class=\"sbs\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("a side-by-side diff");
    // The changed message faces its golden line: the old text left, with its line number,
    // the new text right, both as bot bubbles.
    let row = table
        .split("<tr class=\"changed\">")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .expect("a changed row");
    let cells: Vec<&str> = row.split("<td>").skip(1).collect();
    assert_eq!(cells.len(), 2, "{row}");
    assert!(
        cells[0].contains("<div class=\"b bot\"") && cells[0].contains(OLD),
        "{row}"
    );
    assert!(cells[0].contains("<span class=\"ln\">"), "{row}");
    assert!(
        cells[1].contains("<div class=\"b bot\"") && cells[1].contains(NEW),
        "{row}"
    );
    assert!(
        table.contains("<tr class=\"same\">"),
        "context rows: {table}"
    );
    // The text diff is replaced by the bubbles, not shown twice.
    assert!(!html.contains("the transcript differs from"), "{html}");
    assert_self_contained(&html);
}
