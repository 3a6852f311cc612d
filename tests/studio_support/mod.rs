//! Starting `fluxo studio` as a user does, for the route and browser tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `fluxo studio`, killed when dropped.
pub struct Studio {
    pub child: Child,
    /// The URL it printed, token included.
    pub url: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub token: String,
    /// The directory it serves.
    pub dir: PathBuf,
}

impl Drop for Studio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory under `target/` holding `flows/liveperson.json` and its integrations.
pub fn workdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the work directory");
    for f in ["liveperson.json", "integrations.json"] {
        std::fs::copy(Path::new("flows").join(f), dir.join(f)).expect("copy the flow");
    }
    dir
}

/// Starts `fluxo studio DIR --no-open` at the liveperson test's clock and reads its URL.
pub fn start(dir: &Path, extra: &[&str]) -> Studio {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .arg("studio")
        .arg(dir)
        .args(["--no-open", "--clock", "2026-11-23T14:00:00-03:00"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start fluxo studio");
    let stdout = child.stdout.take().expect("its standard output");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the URL line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    let (base, token) = url.split_once("/?token=").expect("a token in the URL");
    Studio {
        base: base.to_owned(),
        token: token.to_owned(),
        url: url.clone(),
        child,
        dir: dir.to_path_buf(),
    }
}
