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

/// A scratch directory of the test, removed when it goes out of scope.
pub struct Scratch(PathBuf);

impl Scratch {
    /// A new, empty directory named after `tag` (and the process, so parallel runs differ).
    pub fn new(tag: &str) -> Scratch {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fluxo-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `name` inside the directory.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `contents` to `name` inside the directory; returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("dir");
        }
        std::fs::write(&p, contents).expect("write");
        p
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
