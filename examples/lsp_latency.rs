//! The time from an edit to its diagnostics in `fluxo lsp`, on generated flows of 1,000 and
//! 10,000 nodes (the figures of docs/benchmarks.md, "Language server").
//!
//! Run: `cargo build --release && cargo run --release --example lsp_latency -- target/release/fluxo`.
//!
//! Each round changes one character of a node's name (an incremental `didChange`) and waits for
//! the `publishDiagnostics` of that version. The server's debounce is set to 0 so the figure is
//! the analysis itself; an editor sees it plus the default debounce (150 ms).

#[path = "../benches/support/flows.rs"]
#[allow(dead_code)] // `minified` is for the lint benchmarks
mod flows;

use serde_json::{json, Value as Json};
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

const ROUNDS: usize = 15;

fn read(r: &mut impl BufRead) -> Option<Json> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            length = v.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    r.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn send(w: &mut ChildStdin, m: &Json) -> std::io::Result<()> {
    let body = m.to_string();
    write!(w, "Content-Length: {}\r\n\r\n{body}", body.len())?;
    w.flush()
}

/// Waits for the diagnostics of `version`; returns how many there were.
fn diagnostics(r: &mut impl BufRead, version: i64) -> Option<usize> {
    loop {
        let m = read(r)?;
        if m["method"] == "textDocument/publishDiagnostics" && m["params"]["version"] == version {
            return m["params"]["diagnostics"].as_array().map(Vec::len);
        }
    }
}

fn measure(binary: &str, nodes: usize) -> Result<(), Box<dyn std::error::Error>> {
    let text = String::from_utf8(flows::generated_flow(nodes))?;
    let dir = std::env::temp_dir().join(format!("fluxo-lsp-latency-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("flow-{nodes}.json"));
    std::fs::write(&path, &text)?;
    let uri = format!("file://{}", path.display());
    let mut child = Command::new(binary)
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut w = child.stdin.take().ok_or("no stdin")?;
    let mut r = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    send(
        &mut w,
        &json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "capabilities": {}, "initializationOptions": { "debounceMs": 0 } } }),
    )?;
    read(&mut r).ok_or("no answer to initialize")?;
    send(
        &mut w,
        &json!({ "jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
            "textDocument": { "uri": uri, "languageId": "json", "version": 1, "text": text } } }),
    )?;
    let started = Instant::now();
    let found = diagnostics(&mut r, 1).ok_or("no diagnostics on open")?;
    let open = started.elapsed();
    // The first `"name": "` of the file: its first character is replaced each round.
    let at = text.find("\"name\": \"").ok_or("no name")? + 9;
    let line = u32::try_from(text[..at].matches('\n').count())?;
    let character = u32::try_from(text[..at].rsplit('\n').next().unwrap_or("").len())?;
    let mut times: Vec<Duration> = Vec::new();
    for round in 0..ROUNDS {
        let version = i64::try_from(round)? + 2;
        let letter = if round % 2 == 0 { "X" } else { "Y" };
        let range = json!({ "start": { "line": line, "character": character },
                            "end": { "line": line, "character": character + 1 } });
        let t = Instant::now();
        send(
            &mut w,
            &json!({ "jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": { "uri": uri, "version": version },
                "contentChanges": [ { "range": range, "text": letter } ] } }),
        )?;
        diagnostics(&mut r, version).ok_or("no diagnostics after a change")?;
        times.push(t.elapsed());
    }
    send(
        &mut w,
        &json!({ "jsonrpc": "2.0", "id": 2, "method": "shutdown" }),
    )?;
    send(&mut w, &json!({ "jsonrpc": "2.0", "method": "exit" }))?;
    child.wait()?;
    let _ = std::fs::remove_dir_all(&dir);
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{nodes} nodes ({:.1} MiB, {found} findings): open {:.1} ms; change → diagnostics: median {:.1} ms, min {:.1} ms, max {:.1} ms ({ROUNDS} rounds)",
        text.len() as f64 / f64::from(1 << 20),
        ms(open),
        ms(times[ROUNDS / 2]),
        ms(times[0]),
        ms(times[ROUNDS - 1]),
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let binary = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/release/fluxo".into());
    for nodes in [1_000, 10_000] {
        measure(&binary, nodes)?;
    }
    Ok(())
}
