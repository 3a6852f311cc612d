//! The artefacts that install fluxo without Rust, and the editor extension: their manifests
//! agree with the crate (name, version, the `fluxo` command), the npm launcher knows every
//! platform package it depends on, the VS Code extension starts `fluxo lsp` with the schemas
//! the crate ships, and the Docker image's health check asks a real `fluxo serve`.
//! (`.ci/run` builds and installs the wheel, the npm packages and the .vsix.)

mod common;

use serde_json::Value as Json;
use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(common::root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn json(rel: &str) -> Json {
    serde_json::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn crate_version() -> String {
    let cargo: toml::Table = toml::from_str(&read("Cargo.toml")).expect("Cargo.toml");
    cargo["package"]["version"]
        .as_str()
        .expect("version")
        .to_owned()
}

#[test]
fn the_wheel_carries_the_fluxo_binary() {
    let py: toml::Table = toml::from_str(&read("pyproject.toml")).expect("pyproject.toml");
    assert_eq!(
        py["build-system"]["build-backend"].as_str(),
        Some("maturin")
    );
    assert_eq!(py["tool"]["maturin"]["bindings"].as_str(), Some("bin"));
    assert_eq!(py["project"]["name"].as_str(), Some("fluxo"));
    // The version is the crate's, read by maturin from Cargo.toml.
    let dynamic = py["project"]["dynamic"].as_array().expect("dynamic");
    assert!(dynamic.iter().any(|d| d.as_str() == Some("version")));
    assert!(py["project"].get("version").is_none());
}

/// The `PLATFORMS` table of the launcher script: `"key": "package"` lines.
fn launcher_platforms(script: &str) -> Vec<(String, String)> {
    let table = script
        .split("const PLATFORMS = {")
        .nth(1)
        .and_then(|t| t.split("};").next())
        .expect("PLATFORMS table");
    table
        .lines()
        .filter_map(|l| {
            let mut parts = l.split('"').skip(1).step_by(2);
            Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
        })
        .collect()
}

#[test]
fn the_npm_launcher_knows_every_platform_package_it_depends_on() {
    let manifest = json("packaging/npm/fluxo/package.json");
    assert_eq!(manifest["name"], "fluxo");
    assert_eq!(manifest["version"].as_str(), Some(crate_version().as_str()));
    assert_eq!(manifest["bin"]["fluxo"], "bin/fluxo");
    let script = read("packaging/npm/fluxo/bin/fluxo");
    assert!(script.starts_with("#!/usr/bin/env node\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(common::root().join("packaging/npm/fluxo/bin/fluxo"))
            .expect("launcher")
            .permissions()
            .mode();
        assert!(mode & 0o111 != 0, "the launcher is not executable");
    }
    let platforms = launcher_platforms(&script);
    assert!(platforms.len() >= 6, "{platforms:?}");
    let deps = manifest["optionalDependencies"]
        .as_object()
        .expect("optionalDependencies");
    let mut named: Vec<&str> = platforms.iter().map(|(_, p)| p.as_str()).collect();
    named.sort_unstable();
    let mut depended: Vec<&str> = deps.keys().map(String::as_str).collect();
    depended.sort_unstable();
    assert_eq!(named, depended);
    for (key, package) in &platforms {
        // `@fluxo-dev/fluxo-<os>-<cpu>[-musl]`, the name build.sh gives the package it builds.
        assert_eq!(package, &format!("@fluxo-dev/fluxo-{key}"));
    }
    for v in deps.values() {
        assert_eq!(v.as_str(), Some(crate_version().as_str()));
    }
    let build = read("packaging/npm/build.sh");
    assert!(build.contains("@fluxo-dev/fluxo-${platform}"));
}

#[test]
fn the_vscode_extension_starts_fluxo_lsp_with_the_shipped_schemas() {
    let manifest = json("editors/vscode/package.json");
    assert_eq!(manifest["version"].as_str(), Some(crate_version().as_str()));
    assert_eq!(manifest["main"], "./out/extension.js");
    assert!(common::root()
        .join("editors/vscode/src/extension.ts")
        .is_file());
    assert!(manifest["dependencies"]["vscode-languageclient"].is_string());
    let setting = &manifest["contributes"]["configuration"]["properties"]["fluxo.path"];
    assert_eq!(setting["type"], "string");
    // Each associated schema is one the crate ships (copied into the extension when built).
    let validation = manifest["contributes"]["jsonValidation"]
        .as_array()
        .expect("jsonValidation");
    let mut urls: Vec<&str> = validation
        .iter()
        .filter_map(|v| v["url"].as_str())
        .collect();
    urls.sort_unstable();
    assert_eq!(
        urls,
        [
            "./schemas/flow.schema.json",
            "./schemas/integrations.schema.json",
            "./schemas/test.schema.json"
        ]
    );
    for u in &urls {
        let name = u.trim_start_matches("./schemas/");
        assert!(
            common::root().join("schemas").join(name).is_file(),
            "{name}"
        );
        assert!(read("editors/vscode/scripts/copy-schemas.js").contains(name));
    }
    // The extension runs `<fluxo.path or fluxo> lsp`.
    let source = read("editors/vscode/src/extension.ts");
    assert!(source.contains("args: [\"lsp\"]"), "{source}");
    assert!(source.contains("getConfiguration(\"fluxo\")"));
    // @types/vscode may not be newer than the VS Code the extension says it needs.
    let engine = manifest["engines"]["vscode"].as_str().unwrap_or_default();
    let types = manifest["devDependencies"]["@types/vscode"]
        .as_str()
        .unwrap_or_default();
    let minor = |v: &str| -> Option<u32> {
        v.trim_start_matches(['^', '~'])
            .split('.')
            .nth(1)?
            .parse()
            .ok()
    };
    assert!(minor(types) <= minor(engine), "{types} > {engine}");
}

/// Entries of a zip archive, listed by `unzip -Z1` when it is installed.
fn zip_entries(archive: &Path) -> Option<Vec<String>> {
    let out = std::process::Command::new("unzip")
        .arg("-Z1")
        .arg(archive)
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    })
}

#[test]
fn the_packaged_vsix_holds_the_extension_its_client_and_the_schemas() {
    let vsix = common::root().join("editors/vscode/fluxo.vsix");
    if !vsix.is_file() {
        eprintln!("SKIPPED: editors/vscode/fluxo.vsix is not built (.ci/run builds it: cd editors/vscode && npm ci && npm run package)");
        return;
    }
    let Some(entries) = zip_entries(&vsix) else {
        eprintln!("SKIPPED: unzip is not installed");
        return;
    };
    for wanted in [
        "extension.vsixmanifest",
        "extension/package.json",
        "extension/out/extension.js",
        "extension/schemas/flow.schema.json",
        "extension/schemas/integrations.schema.json",
        "extension/schemas/test.schema.json",
        "extension/node_modules/vscode-languageclient/package.json",
    ] {
        assert!(
            entries.iter().any(|e| e == wanted),
            "{wanted} not in the .vsix"
        );
    }
    // Sources and build tools stay out.
    assert!(!entries.iter().any(|e| e.starts_with("extension/src/")));
    assert!(!entries
        .iter()
        .any(|e| e.starts_with("extension/node_modules/typescript/")));
}

#[test]
fn the_image_runs_fluxo_serve_as_an_unprivileged_user() {
    let docker = read("Dockerfile");
    let last_stage = docker.rsplit("\nFROM ").next().expect("a stage");
    assert!(last_stage.contains("\nUSER fluxo\n"), "{last_stage}");
    assert!(last_stage.contains("ENTRYPOINT [\"fluxo\", \"serve\"]"));
    assert!(last_stage.contains("/healthz"));
    let ignore = read(".dockerignore");
    assert!(
        ignore.lines().any(|l| l == "target"),
        "the build context would hold target/"
    );
}

/// The health check of the image, run against a real `fluxo serve`.
#[cfg(feature = "drivers")]
#[test]
fn the_image_health_check_passes_against_fluxo_serve() {
    use std::process::{Command, Stdio};
    let docker = read("Dockerfile");
    let check: Vec<String> = docker
        .lines()
        .skip_while(|l| !l.starts_with("HEALTHCHECK"))
        .find_map(|l| l.trim().strip_prefix("CMD "))
        .and_then(|c| serde_json::from_str(c).ok())
        .expect("HEALTHCHECK … CMD [\"…\"]");
    if Command::new(&check[0]).arg("--version").output().is_err() {
        eprintln!("SKIPPED: {} is not installed", check[0]);
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args([
            "serve",
            "--flows",
            "flows/simulator.json",
            "--store",
            "memory:",
        ])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .current_dir(common::root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("fluxo serve");
    let run_check = || {
        let args: Vec<String> = check
            .iter()
            .map(|a| a.replace("127.0.0.1/8080", &format!("127.0.0.1/{port}")))
            .collect();
        Command::new(&args[0])
            .args(&args[1..])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut healthy = false;
    for _ in 0..300 {
        if run_check() {
            healthy = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(healthy, "the health check never passed");
    // And it fails when nothing answers.
    assert!(!run_check());
}

/// The flow schema explains itself to an editor: every node key, action key and `next` key has
/// a `markdownDescription`, each input type and mask an enum description, and nodes, inputs,
/// actions and `next` entries have snippets.
#[test]
fn the_flow_schema_has_markdown_descriptions_enum_descriptions_and_snippets() {
    let schema: serde_json::Value =
        serde_json::from_str(&read("schemas/flow.schema.json")).expect("the flow schema");
    let defs = &schema["$defs"];
    for def in ["node", "action", "next"] {
        let props = defs[def]["properties"].as_object().expect("properties");
        for (key, p) in props {
            assert!(
                p["markdownDescription"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{def}.{key} has no markdownDescription"
            );
        }
    }
    for (def, path) in [
        ("input", "/properties/type"),
        ("payloadTextInput", "/properties/mask/anyOf/0"),
    ] {
        let e = defs[def].pointer(path).expect(path);
        let values = e["enum"].as_array().expect("enum");
        let docs = e["markdownEnumDescriptions"]
            .as_array()
            .expect("enum descriptions");
        assert_eq!(values.len(), docs.len(), "{def}{path}");
    }
    for def in ["node", "input", "action", "next"] {
        let snippets = defs[def]["defaultSnippets"].as_array().expect("snippets");
        assert!(!snippets.is_empty(), "{def}");
        assert!(snippets
            .iter()
            .all(|s| s["label"].is_string() && !s["body"].is_null()));
    }
    let names: Vec<&str> = defs["action"]["properties"]["name"]["defaultSnippets"]
        .as_array()
        .expect("action name snippets")
        .iter()
        .filter_map(|s| s["body"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "start_live_chat",
            "http_request",
            "transfer_to_agent_liveperson"
        ]
    );
}
