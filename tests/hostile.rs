//! Hostile input never panics or hangs: each case runs the real `fluxo lint` binary and must end
//! with exit 1 or 2 and a diagnostic. A watchdog kills a run that takes over 60 s (a hang, not a
//! timing assertion); the measured time is printed for docs/benchmarks.md.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn temp(dir: &common::Scratch, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .and_then(|mut f| f.write_all(bytes))
        .expect("write");
    p
}

/// Runs `fluxo lint` on the bytes; returns (exit code, stdout).
fn lint(name: &str, bytes: &[u8]) -> (i32, String) {
    let dir = common::Scratch::new("hostile");
    let path = temp(&dir, name, bytes);
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args(["lint", "--format", "json"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fluxo");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let out = reader.join().unwrap_or_default();
            eprintln!(
                "{name}: {} bytes linted in {:?}",
                bytes.len(),
                started.elapsed()
            );
            return (status.code().unwrap_or(-1), out);
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{name}: fluxo lint did not finish within 60 s (hang)");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn assert_diagnosed(name: &str, bytes: &[u8], code: &str) {
    let (status, out) = lint(name, bytes);
    assert!(status == 1 || status == 2, "{name}: exit {status}");
    let findings: serde_json::Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{name}: JSON output: {e}\n{out:.500}"));
    let codes: Vec<&str> = findings
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(
        codes.contains(&code),
        "{name}: expected {code}, got {codes:?}"
    );
}

#[test]
fn random_bytes() {
    // xorshift: deterministic "random" bytes.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..200 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[3]
        })
        .collect();
    assert_diagnosed("random.json", &bytes, "json-syntax");
}

#[test]
fn deeply_nested_arrays() {
    let mut s = String::from("{\"nodes\": ");
    s.push_str(&"[".repeat(200_000));
    assert_diagnosed("nested.json", s.as_bytes(), "json-syntax");
}

#[test]
fn deeply_nested_parentheses_in_a_template() {
    let expr = format!("{}$x{}", "(".repeat(20_000), ")".repeat(20_000));
    let flow = serde_json::json!({ "nodes": [ { "id": "a", "condition": "start",
        "output": [ { "default": { "type": "text", "text": format!("<? {expr} ?>") } } ] } ] });
    assert_diagnosed(
        "parens.json",
        flow.to_string().as_bytes(),
        "expression-syntax",
    );
}

#[test]
fn five_megabyte_strings() {
    let big = "a".repeat(5 << 20);
    let flow =
        serde_json::json!({ "nodes": [ { "id": "a", "condition": format!("$x == '{big}'") } ] });
    assert_diagnosed(
        "big-condition.json",
        flow.to_string().as_bytes(),
        "expression-syntax",
    );
    let flow = serde_json::json!({ "nodes": [ { "id": "a", "condition": "start",
        "output": [ { "default": { "type": "text", "text": format!("{big} <? $x") } } ] } ] });
    assert_diagnosed(
        "big-text.json",
        flow.to_string().as_bytes(),
        "expression-syntax",
    );
}

#[test]
fn empty_bom_and_nul() {
    assert_diagnosed("empty.json", b"", "json-syntax");
    assert_diagnosed("whitespace.json", b"  \n\t ", "json-syntax");
    assert_diagnosed("bom.json", b"\xEF\xBB\xBF{\"nodes\": []}", "json-syntax");
    assert_diagnosed("nul.json", b"{\"nodes\": [\0]}", "json-syntax");
    assert_diagnosed(
        "nul-in-string.json",
        b"{\"nodes\": [{\"id\": \"\0\"}]}",
        "json-syntax",
    );
}

#[test]
fn wrong_shapes_everywhere() {
    assert_diagnosed("array.json", b"[1, 2, 3]", "schema");
    assert_diagnosed("nodes-string.json", b"{\"nodes\": \"x\"}", "schema");
    assert_diagnosed(
        "node-number.json",
        b"{\"nodes\": [1, null, {\"id\": []}]}",
        "schema",
    );
    assert_diagnosed(
        "huge-number.json",
        b"{\"nodes\": [{\"id\": \"a\", \"condition\": \"start\", \"context\": {\"n\": 1e999999}}]}",
        "json-syntax",
    );
}

#[test]
fn a_megabyte_of_empty_segments_in_one_string() {
    // 200,000 findings in one string: placing each must not rescan the string.
    let text = "<? ?>".repeat(200_000);
    let flow = serde_json::json!({ "nodes": [ { "id": "a", "condition": "start",
        "output": [ { "default": { "type": "text", "text": text } } ] } ] });
    assert_diagnosed(
        "segments.json",
        flow.to_string().as_bytes(),
        "expression-syntax",
    );
}

#[test]
fn a_minified_flow_with_thousands_of_findings() {
    // One line of 3.6 MB and 16,000 findings: columns are counted without rescanning the line.
    let mut nodes = vec![serde_json::json!({ "id": "inicio", "condition": "start" })];
    let pad = "x".repeat(400);
    for i in 0..8000 {
        nodes.push(serde_json::json!({ "id": format!("n{i}"), "comment": pad,
            "next": [ { "goto": format!("nada{i}") } ] }));
    }
    let flow = serde_json::json!({ "nodes": nodes }).to_string();
    assert!(!flow.contains('\n'));
    assert_diagnosed("minified.json", flow.as_bytes(), "unknown-goto-target");
}

/// Runs `fluxo run FLOW` with `events` on stdin; returns (exit code, stdout, stderr).
fn run(flow: &[u8], events: &str) -> (i32, String, String) {
    let dir = common::Scratch::new("hostile-run");
    let path = temp(&dir, "flow.json", flow);
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .arg("run")
        .arg(&path)
        .args(["--clock", "2026-01-05T12:00:00Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fluxo run");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(events.as_bytes());
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn deep_expressions_do_not_crash_fluxo_run() {
    // 12,000 `!` and 7,600 terms of `+` aborted the process with a stack overflow (exit 134).
    let deep = format!("{}$x", "!".repeat(12_000));
    let long: Vec<&str> = vec!["$x"; 7600];
    let events =
        "{\"type\": \"start\", \"context\": {\"x\": 1}}\n{\"type\": \"user\", \"text\": \"oi\"}\n";
    for (condition, loads) in [(deep, false), (format!("{} > 0", long.join(" + ")), true)] {
        let flow = serde_json::json!({ "nodes": [
            { "id": "a", "condition": "start", "input": { "default": { "type": "text_input" } },
              "next": [ { "condition": condition, "goto": "b" } ] },
            { "id": "b", "output": [ { "default": { "type": "text", "text": "sim" } } ] } ] });
        let (status, stdout, stderr) = run(flow.to_string().as_bytes(), events);
        if loads {
            assert_eq!(status, 0, "{stderr}");
            assert!(stdout.contains("\"text\":\"sim\""), "{stdout}");
        } else {
            assert_eq!(status, 2, "a load error, not a crash: {stderr:.300}");
            assert!(stderr.contains("nested more than"), "{stderr:.300}");
        }
    }
}

#[test]
fn a_closed_pipe_ends_lint_quietly() {
    // `fluxo lint … | head`: the reader goes away after a few bytes.
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args([
            "lint",
            "tests/fixtures/lint",
            "tests/fixtures/lint",
            "tests/fixtures/lint",
        ])
        .current_dir(common::root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 64];
    let _ = std::io::Read::read(&mut stdout, &mut first);
    drop(stdout);
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}
