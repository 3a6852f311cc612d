//! `fluxo lint` and `fluxo rule` as a black box: exit codes, output formats, `--fix`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fluxo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args(args)
        .current_dir(common::root())
        .output()
        .expect("run fluxo")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn fixture(p: &str) -> String {
    format!("tests/fixtures/lint/{p}")
}

fn scratch(dir: &common::Scratch, name: &str, from: &Path) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(from, &p).expect("copy");
    p
}

#[test]
fn exit_codes() {
    assert_eq!(
        code(&fluxo(&["lint", &fixture("json-syntax/valid.json")])),
        0,
        "clean file"
    );
    // Warnings only: 0, or 1 with --deny-warnings.
    let warn = fixture("unreachable-node/invalid.json");
    assert_eq!(code(&fluxo(&["lint", &warn])), 0);
    assert_eq!(code(&fluxo(&["lint", "--deny-warnings", &warn])), 1);
    assert_eq!(
        code(&fluxo(&[
            "lint",
            &fixture("unknown-goto-target/invalid.json")
        ])),
        1,
        "errors"
    );
    // A directory with nothing to check is not a pass: a CI job must not go green having
    // checked nothing.
    let empty = common::Scratch::new("cli-empty");
    std::fs::write(empty.join("package.json"), r#"{"name": "x"}"#).expect("write");
    let dir = empty.path().display().to_string();
    let nothing = fluxo(&["lint", &dir]);
    assert_eq!(code(&nothing), 2, "lint of a directory without flows");
    assert!(String::from_utf8_lossy(&nothing.stderr)
        .contains("no flow, Watson workspace or integrations file found under"));
    let nothing = fluxo(&["test", &dir]);
    assert_eq!(code(&nothing), 2, "test of a directory without tests");
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("no conversation tests"));
    let missing = fluxo(&["lint", "no/such/file.json"]);
    assert_eq!(code(&missing), 2, "I/O error");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such/file.json"));
    assert_eq!(
        code(&fluxo(&["lint", "--format", "yaml", &warn])),
        2,
        "usage error"
    );
    assert_eq!(code(&fluxo(&["lint"])), 2, "no path");
    let not_integrations = fluxo(&[
        "lint",
        "--integrations",
        &fixture("json-syntax/valid.json"),
        &warn,
    ]);
    assert_eq!(
        code(&not_integrations),
        2,
        "--integrations must be an integrations file"
    );
}

#[test]
fn json_format_has_every_field() {
    let o = fluxo(&[
        "lint",
        "--format",
        "json",
        &fixture("unknown-goto-target/invalid.json"),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON array");
    let first = &v.as_array().expect("array")[0];
    for field in [
        "code", "severity", "message", "file", "line", "column", "pointer",
    ] {
        assert!(first.get(field).is_some(), "missing {field}: {first}");
    }
    assert_eq!(first["code"], "unknown-goto-target");
    assert_eq!(first["pointer"], "/nodes/0/next/0/goto");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(2), Some(134))
    );
}

#[test]
fn github_format_is_workflow_commands() {
    let o = fluxo(&[
        "lint",
        "--format",
        "github",
        &fixture("unknown-goto-target/invalid.json"),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out.lines().next().expect("a line");
    assert!(
        line.starts_with(
            "::error file=tests/fixtures/lint/unknown-goto-target/invalid.json,line=2,col=134,"
        ),
        "{line}"
    );
    assert!(
        line.contains("title=unknown-goto-target::no node has the id"),
        "{line}"
    );
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0() {
    let o = fluxo(&["lint", "--format", "sarif", "tests/fixtures/lint"]);
    assert_eq!(code(&o), 1);
    let sarif: serde_json::Value = serde_json::from_slice(&o.stdout).expect("SARIF is JSON");
    let mut schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("tests/data/sarif-schema-2.1.0.json"))
            .expect("schema"),
    )
    .expect("schema JSON");
    // The official schema's `language` patterns (on `run` and `toolComponent`) have a stray
    // `]` that ECMA-262 reads as a literal but the meta-schema's `format: regex` check
    // rejects. fluxo emits no `language`, so those patterns are replaced by their evident intent.
    for def in ["run", "toolComponent"] {
        if let Some(p) =
            schema.pointer_mut(&format!("/definitions/{def}/properties/language/pattern"))
        {
            *p = serde_json::json!("^[a-zA-Z]{2}(-[a-zA-Z]{2})?$");
        }
    }
    let validator = jsonschema::validator_for(&schema).expect("SARIF schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert!(results.len() > 50, "{}", results.len());
    assert!(
        results.iter().all(|r| r["ruleIndex"].is_u64()),
        "every result names a rule"
    );
    // Columns count UTF-16 code units (what GitHub code scanning reads), and the run says so.
    assert_eq!(sarif["runs"][0]["columnKind"], "utf16CodeUnits");
    // A second caret (the first of two duplicate node ids) is a related location.
    let duplicate = results
        .iter()
        .find(|r| r["ruleId"] == "duplicate-node-id")
        .expect("a duplicate-node-id result");
    let related = &duplicate["relatedLocations"][0];
    assert_eq!(related["message"]["text"], "first used here");
    assert_eq!(related["physicalLocation"]["region"]["startLine"], 2);
}

#[test]
fn run_ignores_lint_findings_of_unused_integrations_that_lint_reports() {
    // An inline secret in an integration the flow never uses: `fluxo run` runs (the linter's
    // rules never stop a flow), and `fluxo lint` still reports it.
    let dir = common::Scratch::new("inline-secret");
    std::fs::copy(
        common::root().join("flows/simulator.json"),
        dir.join("simulator.json"),
    )
    .expect("copy");
    let integrations = serde_json::json!({ "integrations": [
        { "id": 9, "provider": "simulator", "wait_timeout_s": 300 },
        { "id": 2, "provider": "altu_connector",
          "settings": { "webhook_url": "https://example.invalid/h", "access_key": "s3cr3t-inline" } }
    ] });
    let ipath = dir.write("integrations.json", integrations.to_string());
    let flow = dir.join("simulator.json");
    let o = run_with(
        &["run", flow.to_str().expect("utf8")],
        "{\"type\": \"start\"}\n",
    );
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"node_entered\""));
    let lint = fluxo(&["lint", "--format", "json", ipath.to_str().expect("utf8")]);
    assert_eq!(code(&lint), 1);
    assert!(String::from_utf8_lossy(&lint.stdout).contains("\"inline-secret\""));
}

#[test]
fn directories_are_walked_and_non_fluxo_json_skipped() {
    let dir = common::Scratch::new("walk");
    std::fs::create_dir_all(dir.join("sub")).expect("dir");
    std::fs::write(dir.join("package.json"), "{\"name\": \"x\"}").expect("w");
    std::fs::copy(
        common::root().join(fixture("unknown-goto-target/invalid.json")),
        dir.join("sub/flow.json"),
    )
    .expect("cp");
    let o = fluxo(&["lint", "--format", "json", dir.to_str().expect("utf8")]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let files: std::collections::BTreeSet<&str> = v
        .as_array()
        .expect("arr")
        .iter()
        .filter_map(|f| f["file"].as_str())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files.iter().all(|f| f.ends_with("flow.json")));
    // Named explicitly, a non-fluxo file is reported.
    let o = fluxo(&["lint", dir.join("package.json").to_str().expect("utf8")]);
    assert_eq!(code(&o), 1);
    assert!(String::from_utf8_lossy(&o.stdout).contains("not a fluxo file"));
}

#[test]
fn fix_repairs_the_doc_examples() {
    let dir = common::Scratch::new("fix");
    for name in [
        "doc-generic-template-trailing-comma.json",
        "doc-altu-connector-missing-comma.json",
        "bom.json",
    ] {
        let p = scratch(
            &dir,
            name,
            &common::root().join(fixture(&format!("json-syntax/{name}"))),
        );
        let o = fluxo(&[
            "lint",
            "--fix",
            "--format",
            "json",
            p.to_str().expect("utf8"),
        ]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        let codes: Vec<&str> = v
            .as_array()
            .expect("arr")
            .iter()
            .filter_map(|f| f["code"].as_str())
            .collect();
        assert!(!codes.contains(&"json-syntax"), "{name}: still {codes:?}");
        let fixed = std::fs::read(&p).expect("read back");
        assert!(
            serde_json::from_slice::<serde_json::Value>(&fixed).is_ok(),
            "{name} is JSON after --fix"
        );
    }
}

#[test]
fn rule_prints_its_documentation() {
    let o = fluxo(&["rule", "unhandled-live-chat-status"]);
    assert_eq!(code(&o), 0);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with("# unhandled-live-chat-status (warning)"),
        "{out}"
    );
    assert!(out.contains("## Why it matters"));
    for typo in ["unknown-goto-targt", "unknown-goto"] {
        let o = fluxo(&["rule", typo]);
        assert_eq!(code(&o), 2);
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("did you mean `unknown-goto-target`?"),
            "{typo}"
        );
    }
    // The method table is printed with the rule that reads it.
    let methods = fluxo(&["rule", "unknown-method"]);
    let methods = String::from_utf8_lossy(&methods.stdout);
    assert!(methods.contains("string.equalsIgnoreCase(…)") && methods.contains("watson"));
    let list = fluxo(&["rule"]);
    assert!(String::from_utf8_lossy(&list.stdout).lines().count() >= 20);
}

#[test]
fn integrations_option_enables_provider_rules() {
    let flow = fixture("unsupported-parameter/invalid.json");
    let integ = fixture("unsupported-parameter/integrations.json");
    let count = |o: &Output, c: &str| {
        String::from_utf8_lossy(&o.stdout)
            .matches(&format!("\"{c}\""))
            .count()
    };
    let explicit = fluxo(&["lint", "--format", "json", "--integrations", &integ, &flow]);
    assert_eq!(count(&explicit, "unsupported-parameter"), 6);
    // Zendesk receives neither info parameter: the help does not send the author to the other.
    let text = String::from_utf8_lossy(&explicit.stdout);
    assert!(text.contains("Zendesk receives neither `extra_info` nor `contact_info`"));
    assert!(!text.contains("move the data into `extra_info`\",\"file\":\"tests/fixtures/lint/unsupported-parameter/invalid.json\",\"line\":3"));
    // Without the option, the `integrations.json` beside the flow is used.
    let beside = fluxo(&["lint", "--format", "json", &flow]);
    assert_eq!(count(&beside, "unsupported-parameter"), 6);
    // Alone in a directory, the flow runs on the simulator, and fluxo says so once.
    let dir = common::Scratch::new("alone");
    let alone = scratch(&dir, "alone.json", &common::root().join(&flow));
    let also = scratch(&dir, "also.json", &common::root().join(&flow));
    let o = fluxo(&[
        "lint",
        "--format",
        "json",
        alone.to_str().expect("utf8"),
        also.to_str().expect("utf8"),
    ]);
    assert_eq!(count(&o, "unsupported-parameter"), 0);
    assert_eq!(count(&o, "integrations-simulated"), 1, "said once");
    // Human output is laid out on the threads that lint, each file's findings as it is linted;
    // with a baseline it is laid out at the end instead. An empty baseline changes nothing, so
    // both ways give the same bytes: the finding said once stays once, at its place.
    let empty = dir.write("empty-baseline.json", r#"{"version": 2, "findings": []}"#);
    let files = [
        alone.to_str().expect("utf8"),
        also.to_str().expect("utf8"),
        "tests/fixtures/lint/loop-without-input/invalid.json",
        "tests/fixtures/lint/variable-maybe-unset/invalid.json",
        "tests/fixtures/lint/schema/invalid.json",
    ];
    let as_linted = fluxo(&[&["lint"][..], &files].concat());
    let with_baseline = ["lint", "--baseline", empty.to_str().expect("utf8")];
    let at_the_end = fluxo(&[&with_baseline[..], &files].concat());
    let shown = String::from_utf8_lossy(&as_linted.stdout);
    assert_eq!(shown, String::from_utf8_lossy(&at_the_end.stdout));
    assert_eq!(as_linted.status.code(), at_the_end.status.code());
    assert_eq!(
        shown.matches("[integrations-simulated]").count(),
        1,
        "{shown}"
    );
    for f in [&files[0], &files[2], &files[3], &files[4]] {
        assert!(shown.contains(&format!("--> {f}:")), "{f} in {shown}");
    }
}

/// `fluxo ARGS` from the project's root, its standard streams piped.
fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args(args)
        .current_dir(common::root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn")
}

fn run_with(args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = spawn(args);
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin.as_bytes());
    }
    child.wait_with_output().expect("wait")
}

#[test]
fn run_the_readme_main_job() {
    let o = fluxo(&[
        "run",
        "flows/liveperson.json",
        "--events",
        "flows/liveperson.events.jsonl",
        "--clock",
        "2026-11-23T14:00:00-03:00",
    ]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert!(lines
        .iter()
        .any(|l| l["type"] == "handoff_requested" && l["provider"] == "liveperson"));
    assert!(lines
        .iter()
        .any(|l| l["type"] == "live_chat_closed" && l["status"] == "agent_closed"));
    assert_eq!(
        lines.last().map(|l| l["text"].clone()),
        Some(serde_json::json!("Obrigada pela avaliação! Até logo."))
    );
}

#[test]
fn run_flags_and_errors() {
    // --context and --channel fill the implied start; an error output makes the exit status 1.
    let flow = r#"{ "nodes": [ { "id": "a", "condition": "start", "output": [ { "default": { "type": "text", "text": "oi <? $nome ?>" }, "Whatsapp": { "type": "text", "text": "zap <? $nome ?>" } } ], "input": { "default": { "type": "text_input" } } } ] }"#;
    let dir = common::Scratch::new("run");
    let p = dir.join("f.json");
    std::fs::write(&p, flow).expect("write");
    let path = p.to_str().expect("utf8");
    let o = run_with(
        &[
            "run",
            path,
            "--channel",
            "Whatsapp",
            "--context",
            r#"{"nome": "Ana"}"#,
        ],
        "{\"type\": \"user\", \"text\": \"x\"}\n",
    );
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"text\":\"zap Ana\""));
    let o = run_with(
        &["run", path],
        "{\"type\": \"agent_message\", \"text\": \"x\"}\n",
    );
    assert_eq!(code(&o), 1, "an error output");
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"code\":\"unexpected_event\""));
    // Bad input is a usage error with the line number; nothing is silently skipped.
    let o = run_with(
        &["run", path],
        "{\"type\": \"start\"}\n\n{\"type\": \"usr\", \"text\": \"x\"}\n",
    );
    assert_eq!(code(&o), 2);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("-:3: not an event"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run_with(
        &["run", path],
        "{\"type\": \"user\", \"text\": \"x\", \"extra\": 1}\n",
    );
    assert_eq!(code(&o), 2, "unknown fields are refused");
    let o = run_with(&["run", path, "--clock", "ontem"], "");
    assert_eq!(code(&o), 2);
    let o = run_with(&["run", path, "--context", "[1]"], "");
    assert_eq!(code(&o), 2);
    // A flow that cannot run says why, with positions.
    std::fs::write(
        &p,
        r#"{ "nodes": [ { "id": "a", "condition": "start" }, ] }"#,
    )
    .expect("write");
    let o = run_with(&["run", path], "");
    assert_eq!(code(&o), 2);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(":1:49: trailing comma"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The commands that load a flow to run it turn transparent huge pages off for their process
/// (a large flow's start-up costs less CPU and memory without them); the kernel says so in
/// `/proc/PID/status`, read while `fluxo chat` waits for the user's first message.
#[test]
fn chat_runs_without_transparent_huge_pages() {
    use std::io::{BufRead, BufReader};
    if !std::fs::read_to_string("/proc/self/status").is_ok_and(|s| s.contains("THP_enabled:")) {
        println!("SKIPPED: this system does not report THP_enabled in /proc/PID/status");
        return;
    }
    let mut child = spawn(&["chat", "flows/simulator.json"]);
    // The bot's greeting: the flow is loaded and the chat waits for input.
    let mut line = String::new();
    let read = child
        .stdout
        .take()
        .map(|out| BufReader::new(out).read_line(&mut line));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()));
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        matches!(read, Some(Ok(n)) if n > 0),
        "no greeting: {line:?}"
    );
    let status = status.expect("the status of the running chat");
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().eq(["THP_enabled:", "0"])),
        "{status}"
    );
}

/// A flow or a workspace given as a pipe (`/dev/stdin`, `<(…)`) is read once, whole: a pipe
/// cannot be read a second time, so the window-at-a-time read leaves it alone. A flow with a
/// fault gets its own finding (not an empty file's), and a workspace runs.
#[test]
fn run_reads_a_pipe_once_and_whole() {
    let dir = common::Scratch::new("pipe");
    let events = dir.join("events.jsonl");
    std::fs::write(&events, "{\"type\": \"start\"}\n").expect("write");
    let events = events.to_str().expect("utf8");
    let o = run_with(
        &["run", "/dev/stdin", "--events", events],
        r#"{"nodes": [{"id": "a", "condtion": "start"}]}"#,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), 2, "{err}");
    assert!(err.contains("unknown field `condtion`"), "{err}");
    let workspace = std::fs::read_to_string(common::root().join("tests/fixtures/watson/nlu.json"))
        .expect("the workspace fixture");
    let o = run_with(&["run", "/dev/stdin", "--events", events], &workspace);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("awaiting_input"));
}

/// `fluxo lint` turns transparent huge pages off too (a directory of flows takes less CPU and a
/// large flow's lint less memory without them), from before it reads anything; the commands
/// that keep them, such as the language server, turn them back on. Read in
/// `/proc/PID/status` while lint waits on a pipe and once the server has answered.
#[test]
fn lint_runs_without_transparent_huge_pages_and_the_language_server_with_them() {
    use std::io::{BufRead, BufReader, Write};
    if !std::fs::read_to_string("/proc/self/status").is_ok_and(|s| s.contains("THP_enabled:")) {
        println!("SKIPPED: this system does not report THP_enabled in /proc/PID/status");
        return;
    }
    let thp = |pid: u32| -> Option<String> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        (status.lines()).find_map(|l| l.strip_prefix("THP_enabled:").map(|v| v.trim().to_owned()))
    };
    // Lint blocks reading the flow from its standard input: huge pages are off by then.
    let mut lint = spawn(&["lint", "/dev/stdin"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = thp(lint.id());
    while seen.as_deref() != Some("0") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        seen = thp(lint.id());
    }
    let _ = lint.kill();
    let _ = lint.wait();
    assert_eq!(seen.as_deref(), Some("0"), "lint with huge pages");
    // The language server, once it has answered `initialize`: they are on.
    let mut lsp = spawn(&["lsp"]);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#;
    if let Some(stdin) = lsp.stdin.as_mut() {
        let _ = write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len());
        let _ = stdin.flush();
    }
    let mut header = String::new();
    let read = (lsp.stdout.take()).map(|out| BufReader::new(out).read_line(&mut header));
    let seen = thp(lsp.id());
    let _ = lsp.kill();
    let _ = lsp.wait();
    assert!(header.starts_with("Content-Length"), "{read:?} {header:?}");
    assert_eq!(
        seen.as_deref(),
        Some("1"),
        "the language server without huge pages"
    );
}
