//! Helpers shared by the integration tests.
#![allow(dead_code)]

use fluxo::lint::{lint_bytes, FileReport, LintOptions};
use std::path::{Path, PathBuf};

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the project, when present. Tests that need it print a visible skip
/// message and return early when it is absent (a user's clone has no `../shared`).
pub fn shared() -> Option<PathBuf> {
    let p = root().join("../shared");
    if p.join("corpus/watson").is_dir() {
        Some(p)
    } else {
        // Written to stderr directly: libtest captures `eprintln!` of passing tests, and this
        // message must be seen.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: ../shared is not beside the project; this test needs ../shared/corpus/watson"
        );
        None
    }
}

/// Lints a fixture, with the `integrations.json` of its directory when there is one.
pub fn lint_fixture(path: &Path) -> FileReport {
    let mut opts = LintOptions::default();
    let integ = path.with_file_name("integrations.json");
    if integ.exists() && integ != path {
        let text = std::fs::read_to_string(&integ).expect("integrations fixture");
        opts.integrations = Some(serde_json::from_str(&text).expect("valid integrations fixture"));
    }
    let bytes = std::fs::read(path).expect("fixture");
    let rel = path
        .strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string();
    lint_bytes(&rel, &bytes, &opts)
}
