//! `fluxo lint` in CI, as a black box: `fluxo.toml` (discovery, `--config`, its mistakes),
//! suppression comments and `unused-suppression`, baselines, the messages for paths with
//! nothing to check, SARIF columns, and schema errors that no longer cascade.

mod common;

use std::path::Path;
use std::process::{Command, Output};

/// Runs fluxo in `dir`.
fn fluxo_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run fluxo")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The codes of a `--format json` run, in order.
fn codes(o: &Output) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("JSON on stdout ({e}): {}{}", stdout(o), stderr(o)));
    v.as_array()
        .expect("an array")
        .iter()
        .filter_map(|f| f["code"].as_str().map(str::to_owned))
        .collect()
}

/// A flow with one unreachable node (`pesquisa`, a warning) and one variable read before it is
/// set (`$nome`, a warning).
const FLOW: &str = r#"{ "nodes": [
  { "id": "inicio", "condition": "start", "output": [ { "default": { "type": "text", "text": "Oi <? $nome ?>" } } ], "next": [ { "goto": "fim" } ] },
  { "id": "pesquisa", "context": { "nome": "Ana" }, "output": [ { "default": { "type": "text", "text": "Nota?" } } ] },
  { "id": "fim", "output": [ { "default": { "type": "text", "text": "Tchau" } } ] }
] }
"#;

#[test]
fn flow_fixture_has_the_two_warnings_the_tests_rely_on() {
    let dir = common::Scratch::new("cfg-base");
    dir.write("f.json", FLOW);
    let o = fluxo_in(&dir, &["lint", "--format", "json", "f.json"]);
    assert_eq!(code(&o), 0);
    let c = codes(&o);
    assert!(c.contains(&"unreachable-node".to_owned()), "{c:?}");
    assert!(c.contains(&"variable-maybe-unset".to_owned()), "{c:?}");
}

#[test]
fn config_is_found_in_the_linted_directory_or_above() {
    let dir = common::Scratch::new("cfg-find");
    dir.write("fluxo.toml", "[lint]\nignore = [\"unreachable-node\"]\n");
    dir.write("flows/sub/f.json", FLOW);
    // From the project root, a parent of the file, the file itself, and from elsewhere.
    for (cwd, path) in [
        (dir.path().to_path_buf(), "flows".to_owned()),
        (dir.join("flows/sub"), "f.json".to_owned()),
        (
            std::env::temp_dir(),
            dir.join("flows/sub/f.json").display().to_string(),
        ),
    ] {
        let o = fluxo_in(&cwd, &["lint", "--format", "json", &path]);
        let c = codes(&o);
        assert!(!c.contains(&"unreachable-node".to_owned()), "{path}: {c:?}");
        assert!(
            c.contains(&"variable-maybe-unset".to_owned()),
            "{path}: {c:?}"
        );
    }
    // Without a fluxo.toml anywhere above, every rule runs.
    let bare = common::Scratch::new("cfg-none");
    bare.write("f.json", FLOW);
    let o = fluxo_in(&bare, &["lint", "--format", "json", "f.json"]);
    assert!(codes(&o).contains(&"unreachable-node".to_owned()));
}

#[test]
fn config_severity_changes_the_exit_status_and_per_file_ignores_follow_globs() {
    let dir = common::Scratch::new("cfg-sev");
    dir.write(
        "fluxo.toml",
        r#"[lint]
severity = { "variable-maybe-unset" = "error", "unreachable-node" = "info" }
per-file-ignores = { "legado/**" = ["variable-maybe-unset"], "*.antigo.json" = ["unreachable-node"] }
"#,
    );
    dir.write("novo/f.json", FLOW);
    dir.write("legado/velho/f.json", FLOW);
    dir.write("novo/f.antigo.json", FLOW);
    // Run from outside the project: globs are relative to the configuration file.
    let o = fluxo_in(
        &std::env::temp_dir(),
        &[
            "lint",
            "--format",
            "json",
            dir.path().to_str().expect("utf8"),
        ],
    );
    assert_eq!(code(&o), 1, "variable-maybe-unset raised to error");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let found: Vec<(String, String, String)> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|f| {
            let file = f["file"].as_str().unwrap_or_default();
            let rel = file
                .strip_prefix(dir.path().to_str().unwrap_or_default())
                .unwrap_or(file)
                .trim_start_matches('/')
                .to_owned();
            (
                rel,
                f["code"].as_str().unwrap_or_default().to_owned(),
                f["severity"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expect = |file: &str, code: &str, severity: &str| {
        (file.to_owned(), code.to_owned(), severity.to_owned())
    };
    assert_eq!(
        found,
        [
            expect("legado/velho/f.json", "unreachable-node", "info"),
            expect("novo/f.antigo.json", "variable-maybe-unset", "error"),
            expect("novo/f.json", "variable-maybe-unset", "error"),
            expect("novo/f.json", "unreachable-node", "info"),
        ]
    );
    // Lowered to info, a warning no longer fails --deny-warnings.
    dir.write(
        "fluxo.toml",
        "[lint]\nseverity = { \"variable-maybe-unset\" = \"info\", \"unreachable-node\" = \"info\" }\n",
    );
    let o = fluxo_in(&dir, &["lint", "--deny-warnings", "novo/f.json"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

#[test]
fn config_option_names_the_file_and_its_directory_anchors_the_globs() {
    let dir = common::Scratch::new("cfg-opt");
    dir.write("flows/legado/f.json", FLOW);
    // A fluxo.toml beside the flows is not read when --config names another file.
    dir.write(
        "flows/fluxo.toml",
        "[lint]\nignore = [\"variable-maybe-unset\"]\n",
    );
    dir.write(
        "ci/lint.toml",
        "[lint]\nper-file-ignores = { \"../flows/legado/**\" = [\"unreachable-node\"], \"flows/**\" = [\"variable-maybe-unset\"] }\n",
    );
    let o = fluxo_in(
        &dir,
        &[
            "lint",
            "--format",
            "json",
            "--config",
            "ci/lint.toml",
            "flows",
        ],
    );
    let c = codes(&o);
    // `flows/**` is relative to ci/, so it matches nothing; `../flows/legado/**` does not
    // match either (globs apply to files under the configuration's directory).
    assert!(
        c.contains(&"variable-maybe-unset".to_owned()),
        "the fluxo.toml beside the flows is not read: {c:?}"
    );
    assert!(c.contains(&"unreachable-node".to_owned()), "{c:?}");
    dir.write(
        "lint.toml",
        "[lint]\nper-file-ignores = { \"flows/legado/*.json\" = [\"unreachable-node\"] }\n",
    );
    let o = fluxo_in(
        &dir,
        &["lint", "--format", "json", "--config", "lint.toml", "flows"],
    );
    assert_eq!(codes(&o), ["variable-maybe-unset"]);
}

#[test]
fn config_mistakes_stop_the_run_with_their_position() {
    let dir = common::Scratch::new("cfg-bad");
    dir.write("f.json", FLOW);
    let mut seen = String::new();
    for (name, text) in [
        (
            "unknown rule",
            "[lint]\nignore = [\"unreachable-node\", \"unreachable-nod\"]\n",
        ),
        (
            "unknown rule in severity",
            "[lint]\nseverity = { \"variable-maybe-unsett\" = \"error\" }\n",
        ),
        (
            "unknown severity",
            "[lint]\nseverity = { \"variable-maybe-unset\" = \"fatal\" }\n",
        ),
        (
            "unknown rule in per-file-ignores",
            "[lint]\nper-file-ignores = { \"legado/**\" = [\"loop-without-inpt\"] }\n",
        ),
        (
            "not a glob",
            "[lint]\nper-file-ignores = { \"legado/[\" = [\"schema\"] }\n",
        ),
        ("unknown key", "[lint]\nignored = [\"schema\"]\n"),
        ("unknown table", "[lnit]\nignore = [\"schema\"]\n"),
        (
            "unknown dotted table",
            "[lint]\nignore = []\n[tool.fluxo]\nx = 1\n",
        ),
        ("key outside a table", "ignore = [\"schema\"]\n"),
        ("wrong type", "[lint]\nignore = \"schema\"\n"),
        (
            "malformed TOML",
            "[lint]\nignore = [\"schema\"\nseverity = {}\n",
        ),
    ] {
        dir.write("fluxo.toml", text);
        let o = fluxo_in(&dir, &["lint", "f.json"]);
        assert_eq!(code(&o), 2, "{name}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{name}: nothing is linted");
        seen.push_str(&format!("## {name}\n{}\n", stderr(&o)));
    }
    insta::assert_snapshot!("config_mistakes", seen);
    let o = fluxo_in(&dir, &["lint", "--config", "nao-existe.toml", "f.json"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("nao-existe.toml: does not exist"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn suppression_comments_silence_their_node_and_unused_ones_are_reported() {
    let dir = common::Scratch::new("suppress");
    let flow = FLOW.replace(
        r#"{ "id": "pesquisa","#,
        r#"{ "id": "pesquisa", "comment": "campanha de 2025; fluxo: ignore[unreachable-node]","#,
    );
    dir.write("f.json", &flow);
    let o = fluxo_in(&dir, &["lint", "--format", "json", "f.json"]);
    assert_eq!(
        codes(&o),
        ["variable-maybe-unset"],
        "only `pesquisa` is silenced"
    );
    // The same comment on another node suppresses nothing there, and says so.
    let misplaced = FLOW.replace(
        r#"{ "id": "fim","#,
        r#"{ "id": "fim", "comment": "fluxo: ignore[unreachable-node, variable-maybe-unset, unreachable-nodes]","#,
    );
    dir.write("g.json", &misplaced);
    let o = fluxo_in(&dir, &["lint", "g.json"]);
    assert_eq!(code(&o), 0, "unused-suppression is a warning");
    insta::assert_snapshot!("unused_suppression_human", stdout(&o));
    let o = fluxo_in(&dir, &["lint", "--deny-warnings", "g.json"]);
    assert_eq!(code(&o), 1);
    // `unused-suppression` is a rule like the others: configurable, and documented.
    dir.write("fluxo.toml", "[lint]\nignore = [\"unused-suppression\"]\n");
    let o = fluxo_in(&dir, &["lint", "--format", "json", "g.json"]);
    assert!(!codes(&o).contains(&"unused-suppression".to_owned()));
    let o = fluxo_in(&dir, &["rule", "unused-suppression"]);
    assert_eq!(code(&o), 0);
    let doc = stdout(&o);
    assert!(doc.starts_with("# unused-suppression (warning)"), "{doc}");
    for section in ["## What it does", "## Why it matters", "## Example"] {
        assert!(doc.contains(section), "{doc}");
    }
    let o = fluxo_in(&dir, &["rule", "unused-supression"]);
    assert!(stderr(&o).contains("did you mean `unused-suppression`?"));
}

#[test]
fn baseline_round_trip() {
    let dir = common::Scratch::new("baseline");
    dir.write("flows/f.json", FLOW);
    // Written beside the project; files are relative to the baseline's directory.
    let o = fluxo_in(
        &dir,
        &["lint", "--write-baseline", "ci/baseline.json", "flows"],
    );
    assert_eq!(code(&o), 2, "the baseline's directory must exist");
    std::fs::create_dir_all(dir.join("ci")).expect("dir");
    let o = fluxo_in(
        &dir,
        &[
            "lint",
            "--deny-warnings",
            "--write-baseline",
            "ci/baseline.json",
            "flows",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("wrote 2 findings to the baseline ci/baseline.json"));
    let written = std::fs::read_to_string(dir.join("ci/baseline.json")).expect("written");
    insta::assert_snapshot!("baseline_file", written);
    let lint = |extra: &[&str]| {
        let mut args = vec![
            "lint",
            "--deny-warnings",
            "--format",
            "json",
            "--baseline",
            "ci/baseline.json",
        ];
        args.extend_from_slice(extra);
        fluxo_in(&dir, &args)
    };
    let o = lint(&["flows"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(codes(&o).is_empty());
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    // The same file named another way (from another directory) still matches.
    let o = fluxo_in(
        &dir.join("flows"),
        &[
            "lint",
            "--deny-warnings",
            "--baseline",
            "../ci/baseline.json",
            "f.json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    // Edited elsewhere: lines added above the findings (a reformatted first node, a name).
    let edited = FLOW
        .replace(
            "{ \"nodes\": [",
            "{\n  \"name\": \"atendimento\",\n\n  \"nodes\": [",
        )
        .replace(
            "\"condition\": \"start\", ",
            "\n    \"condition\": \"start\",\n    ",
        );
    assert!(edited.lines().count() > FLOW.lines().count() + 2);
    dir.write("flows/f.json", &edited);
    let o = lint(&["flows"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(codes(&o).is_empty());
    // A new defect is reported, and fails.
    let broken = edited.replace("\"goto\": \"fim\"", "\"goto\": \"fin\"");
    dir.write("flows/f.json", &broken);
    let o = lint(&["flows"]);
    assert_eq!(code(&o), 1);
    assert!(codes(&o).contains(&"unknown-goto-target".to_owned()));
    // A second finding of a key the baseline counts once (another read of the unset variable
    // in the same string: same rule, file, node and pointer) is new too.
    let twice = edited.replace("Oi <? $nome ?>", "Oi <? $nome ?> <? $nome ?>");
    dir.write("flows/f.json", &twice);
    let o = lint(&["flows"]);
    assert_eq!(codes(&o), ["variable-maybe-unset"], "{}", stdout(&o));
    // Fixed findings leave entries that no longer occur: one summary line, on stderr so the
    // JSON stays whole.
    let fixed = edited.replace("Oi <? $nome ?>", "Oi");
    dir.write("flows/f.json", &fixed);
    let o = lint(&["flows"]);
    assert_eq!(code(&o), 0);
    assert!(codes(&o).is_empty());
    assert_eq!(
        stderr(&o),
        "note: 1 baseline entry no longer occurs; rewrite with --write-baseline ci/baseline.json\n"
    );
    // A node inserted before the findings moves their indices, not their node ids: still
    // matched.
    let inserted = edited.replace(
        "  \"nodes\": [",
        "  \"nodes\": [\n  { \"id\": \"novo\", \"condition\": \"#novo\", \"output\": [] },",
    );
    assert!(inserted.contains("\"novo\""));
    dir.write("flows/f.json", &inserted);
    let o = lint(&["flows"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(codes(&o).is_empty(), "{}", stdout(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    // A version 1 baseline (whole pointers, before node ids) is still read.
    dir.write("flows/f.json", FLOW);
    dir.write(
        "ci/v1.json",
        r#"{ "version": 1, "findings": [
  { "rule": "unreachable-node", "file": "../flows/f.json", "pointer": "/nodes/1/id", "count": 1 },
  { "rule": "variable-maybe-unset", "file": "../flows/f.json", "pointer": "/nodes/0/output/0/default/text", "count": 1 }
] }"#,
    );
    let o = fluxo_in(
        &dir,
        &[
            "lint",
            "--deny-warnings",
            "--baseline",
            "ci/v1.json",
            "flows",
        ],
    );
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    // A missing or foreign baseline is a usage error.
    let o = fluxo_in(&dir, &["lint", "--baseline", "ci/none.json", "flows"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("ci/none.json: does not exist"));
    dir.write("ci/other.json", "[1, 2]");
    let o = fluxo_in(&dir, &["lint", "--baseline", "ci/other.json", "flows"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("ci/other.json:1:") && stderr(&o).contains("not a fluxo baseline"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn paths_with_nothing_to_check_say_so() {
    let dir = common::Scratch::new("paths");
    std::fs::create_dir_all(dir.join("vazio")).expect("dir");
    dir.write("outro/package.json", r#"{"name": "x"}"#);
    let o = fluxo_in(&dir, &["lint", "vazio"]);
    assert_eq!(code(&o), 2);
    assert_eq!(
        stderr(&o),
        "error: no flow, Watson workspace or integrations file found under vazio\n"
    );
    let o = fluxo_in(&dir, &["lint", "outro"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("found under outro"));
    let o = fluxo_in(&dir, &["lint", "flosw/"]);
    assert_eq!(code(&o), 2);
    assert_eq!(stderr(&o), "error: flosw/: does not exist\n");
    let o = fluxo_in(&dir, &["lint", "--integrations", "nada.json", "outro"]);
    assert_eq!(code(&o), 2);
    assert_eq!(stderr(&o), "error: nada.json: does not exist\n");
}

#[test]
fn a_file_that_cannot_be_read_ends_the_run_before_any_report() {
    // Files are read on every core, as they are linted: the first unreadable one in order
    // still stops the run with its error and nothing on standard output.
    let dir = common::Scratch::new("unreadable");
    dir.write(
        "fluxos/a.json",
        r#"{"nodes": [{"id": "a", "condition": "true"}]}"#,
    );
    dir.write(
        "fluxos/c.json",
        r#"{"nodes": [{"id": "c", "condition": "true"}]}"#,
    );
    // Two files too large to read: the run names the first of them, only.
    for name in ["fluxos/b.json", "fluxos/d.json"] {
        let big = std::fs::File::create(dir.join(name)).expect("create");
        big.set_len((256 << 20) + 1).expect("sparse file");
    }
    let o = fluxo_in(&dir, &["lint", "fluxos"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert_eq!(
        stderr(&o),
        format!(
            "error: {}: 268435457 bytes is larger than the 256 MiB limit\n",
            Path::new("fluxos").join("b.json").display()
        )
    );
}

/// The official SARIF 2.1.0 schema, with the repair `tests/cli.rs` explains.
fn sarif_validator() -> jsonschema::Validator {
    let mut schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("tests/data/sarif-schema-2.1.0.json"))
            .expect("schema"),
    )
    .expect("schema JSON");
    for def in ["run", "toolComponent"] {
        if let Some(p) =
            schema.pointer_mut(&format!("/definitions/{def}/properties/language/pattern"))
        {
            *p = serde_json::json!("^[a-zA-Z]{2}(-[a-zA-Z]{2})?$");
        }
    }
    jsonschema::validator_for(&schema).expect("SARIF schema compiles")
}

#[test]
fn sarif_columns_count_utf16_code_units() {
    let dir = common::Scratch::new("sarif-utf16");
    // Two emoji (outside the Basic Multilingual Plane: two UTF-16 units each) and an `é`
    // (one unit) before the finding, on the same line.
    dir.write(
        "f.json",
        "{ \"nodes\": [ { \"id\": \"a\", \"condition\": \"start\", \"output\": [ { \"default\": { \"type\": \"text\", \"text\": \"😀🎉 é <? $nome ?>\" } } ] } ] }\n",
    );
    let json = fluxo_in(&dir, &["lint", "--format", "json", "f.json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let finding = &v[0];
    assert_eq!(finding["code"], "variable-never-assigned");
    let chars = finding["column"].as_u64().expect("column");
    let end_chars = finding["end_column"].as_u64().expect("end column");
    let text = std::fs::read_to_string(dir.join("f.json")).expect("read");
    let before: String = text
        .chars()
        .take(usize::try_from(chars).expect("small") - 1)
        .collect();
    assert!(
        before.ends_with("😀🎉 é <? ") || before.ends_with("😀🎉 é <? $"),
        "JSON counts characters: {before}"
    );
    let human = fluxo_in(&dir, &["lint", "f.json"]);
    assert!(
        stdout(&human).contains(&format!("--> f.json:1:{chars}")),
        "{}",
        stdout(&human)
    );
    let o = fluxo_in(&dir, &["lint", "--format", "sarif", "f.json"]);
    let sarif: serde_json::Value = serde_json::from_slice(&o.stdout).expect("SARIF");
    let errors: Vec<String> = sarif_validator()
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(sarif["runs"][0]["columnKind"], "utf16CodeUnits");
    let region = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 1);
    assert_eq!(
        region["startColumn"].as_u64(),
        u64::try_from(before.encode_utf16().count() + 1).ok()
    );
    assert_eq!(region["startColumn"].as_u64(), Some(chars + 2));
    assert_eq!(region["endColumn"].as_u64(), Some(end_chars + 2));
}

#[test]
fn schema_errors_do_not_cascade_into_graph_findings() {
    let fixture = "tests/fixtures/lint/schema/invalid-no-cascade.json";
    let o = fluxo_in(&common::root(), &["lint", "--format", "json", fixture]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let found: Vec<(&str, &str)> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or_default(),
                f["pointer"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    // `menu`'s `next` is an object: its target `pergunta` is still read, so neither
    // `pergunta` nor `resposta` is unreachable. `pergunta`'s `input` is a string: it still
    // counts as waiting, so `pergunta` ⇄ `resposta` is no loop without input. `esquecido`
    // really is unreachable, whatever the broken fields meant.
    assert_eq!(
        found,
        [
            ("schema", "/nodes/1/next"),
            ("schema", "/nodes/2/input"),
            ("unreachable-node", "/nodes/4/id"),
        ]
    );
    // A node with a `next` of which nothing can be read may lead anywhere: nothing is
    // reported unreachable because of it.
    let dir = common::Scratch::new("cascade");
    dir.write(
        "f.json",
        r#"{ "nodes": [
  { "id": "a", "condition": "start", "next": "b" },
  { "id": "b", "output": [] },
  { "id": "c", "condition": 1, "nxt": [ { "goto": "d" } ] },
  { "id": "d", "output": [] }
] }"#,
    );
    let o = fluxo_in(&dir, &["lint", "--format", "json", "f.json"]);
    let c = codes(&o);
    assert!(c.iter().all(|c| c == "schema"), "{c:?}");
    // After a hand-over: a lost `input` may be the open input the chat returns to, and a lost
    // `next` may handle every close status.
    for (espera, unwanted) in [
        (
            r#""input": "text_input", "next": [ { "goto": "fim" } ]"#,
            "live-chat-without-open-input",
        ),
        (
            r#""input": { "default": { "type": "text_input" } }, "next": { "goto": "fim" }"#,
            "unhandled-live-chat-status",
        ),
    ] {
        let flow = format!(
            r#"{{ "nodes": [
  {{ "id": "inicio", "condition": "start", "next": [ {{ "goto": "transbordo" }} ] }},
  {{ "id": "transbordo", "actions": [ {{ "name": "start_live_chat", "parameters": {{ "integration_id": 9 }} }} ], "next": [ {{ "goto": "espera" }} ] }},
  {{ "id": "espera", {espera} }},
  {{ "id": "fim", "output": [] }}
] }}"#
        );
        dir.write("h.json", &flow);
        let c = codes(&fluxo_in(&dir, &["lint", "--format", "json", "h.json"]));
        assert!(c.contains(&"schema".to_owned()), "{c:?}");
        assert!(!c.contains(&unwanted.to_owned()), "{unwanted}: {c:?}");
        // Repaired, the same flow has the finding.
        let repaired = flow
            .replace(r#""input": "text_input""#, r#""output": []"#)
            .replace(
                r#""next": { "goto": "fim" }"#,
                r#""next": [ { "goto": "fim" } ]"#,
            );
        dir.write("h.json", &repaired);
        let c = codes(&fluxo_in(&dir, &["lint", "--format", "json", "h.json"]));
        assert!(c.contains(&unwanted.to_owned()), "{unwanted}: {c:?}");
    }
    // The same flow without the broken fields has its graph findings.
    dir.write(
        "f.json",
        r#"{ "nodes": [
  { "id": "a", "condition": "start", "output": [] },
  { "id": "b", "output": [] },
  { "id": "c", "output": [] },
  { "id": "d", "output": [] }
] }"#,
    );
    let o = fluxo_in(&dir, &["lint", "--format", "json", "f.json"]);
    assert_eq!(
        codes(&o),
        ["unreachable-node", "unreachable-node", "unreachable-node"]
    );
}

/// A `fluxo.toml` deeper inside a walked directory applies to the files below it; the nearest
/// one wins (it does not merge with the one above).
#[test]
fn a_deeper_config_applies_to_the_files_below_it() {
    let dir = common::Scratch::new("cfg-nested");
    dir.write("fluxo.toml", "[lint]\nignore = [\"unreachable-node\"]\n");
    dir.write("flows/f.json", FLOW);
    dir.write("flows/legado/f.json", FLOW);
    dir.write(
        "flows/legado/fluxo.toml",
        "[lint]\nignore = [\"variable-maybe-unset\"]\n",
    );
    let o = fluxo_in(&dir, &["lint", "--format", "json", "flows"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let found: Vec<(String, String)> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap_or_default().replace('\\', "/"),
                f["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("flows/f.json".to_owned(), "variable-maybe-unset".to_owned()),
            (
                "flows/legado/f.json".to_owned(),
                "unreachable-node".to_owned()
            ),
        ],
        "{}",
        stdout(&o)
    );
    // Named on the command line, a file below it takes the deeper one too.
    let o = fluxo_in(&dir, &["lint", "--format", "json", "flows/legado/f.json"]);
    assert_eq!(codes(&o), ["unreachable-node"]);
}
