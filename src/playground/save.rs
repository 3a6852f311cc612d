//! Keeping a playground's conversation as a conversation test.

use super::Playground;
use crate::conversation::Dialog;
use crate::error::{Error, ErrorKind};
use crate::testing::{conversation_from_events, run_file, RunOptions, TestFile};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

/// A conversation saved as a test.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Saved {
    /// The test file.
    pub path: PathBuf,
    /// When the file existed: the conversation's number in it (it was appended).
    pub appended: Option<usize>,
    /// The first line of the first failure when the saved conversation is replayed (e.g. it
    /// ends while the bot waits for an action's result).
    pub replay_failure: Option<String>,
}

fn io(message: String) -> Error {
    Error::new(ErrorKind::Io, message)
}

impl<D: Dialog> Playground<D> {
    /// Writes `file` (a `.test.json` is added when missing) and its golden transcript, recorded
    /// by replaying the test. An existing file is never overwritten: the conversation is
    /// appended to it, under a name no other conversation of the file has. Answers given with
    /// [`super::Command::Result`] replay as `action_result` steps, so the test needs no mocks.
    pub fn save(&self, file: &Path) -> Result<Saved, Error> {
        let mut path = file.to_path_buf();
        if !path.to_string_lossy().ends_with(".test.json") {
            path = PathBuf::from(format!("{}.test.json", path.display()));
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| io(format!("{}: {e}", dir.display())))?;
        let stem = path
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .trim_end_matches(".test.json")
                    .to_owned()
            })
            .unwrap_or_default();
        let clock = jiff::Timestamp::from_millisecond(self.setup.clock)
            .map(|t| t.to_string())
            .map_err(|e| io(e.to_string()))?;
        let mut conv = conversation_from_events(
            &format!("saved from fluxo chat: {stem}"),
            self.setup.start.clone(),
            self.events.get(1..).unwrap_or_default(),
        );
        let (test, appended) = if path.exists() {
            let mut test = self.existing(&path, dir)?;
            let taken = |n: &str| test.conversations.iter().any(|c| c.name == n);
            let base = conv.name.clone();
            let mut k = 2;
            while taken(&conv.name) {
                conv.name = format!("{base} ({k})");
                k += 1;
            }
            if test.clock.as_deref() != Some(clock.as_str()) {
                conv.clock = Some(clock);
            }
            test.conversations.push(conv);
            let n = test.conversations.len();
            (test, Some(n))
        } else {
            let test = TestFile {
                schema: None,
                flow: relative(&self.setup.source, dir),
                integrations: None,
                clock: Some(clock),
                golden: Some(format!("{stem}.transcript")),
                conversations: vec![conv],
            };
            (test, None)
        };
        let text = serde_json::to_string_pretty(&test).map_err(|e| io(e.to_string()))?;
        std::fs::write(&path, text + "\n").map_err(|e| io(format!("{}: {e}", path.display())))?;
        let (r, _) = run_file(
            &path,
            RunOptions {
                bless: true,
                ..Default::default()
            },
        );
        if let Some(e) = r.error {
            return Err(io(e));
        }
        // Said now rather than at the next `fluxo test`: the conversation was saved, but it
        // does not replay as it went.
        let replay_failure = r
            .conversations
            .last()
            .and_then(|c| c.failures.first())
            .and_then(|f| f.lines().next())
            .map(str::to_owned);
        Ok(Saved {
            path,
            appended,
            replay_failure,
        })
    }

    /// An existing test file to append to: it must be a test of the dialog being played.
    fn existing(&self, path: &Path, dir: &Path) -> Result<TestFile, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|e| io(format!("{}: {e}", path.display())))?;
        let test = serde_json::from_str::<Json>(&text)
            .map_err(|e| e.to_string())
            .and_then(|v| TestFile::from_value(&v))
            .map_err(|e| {
                io(format!(
                    "{} exists and is not a conversation test ({e}); it was left as it is, choose another name",
                    path.display()
                ))
            })?;
        let theirs = dir.join(&test.flow).canonicalize().ok();
        if theirs.is_none() || theirs != self.setup.source.canonicalize().ok() {
            return Err(io(format!(
                "{} tests another flow (`{}`); it was left as it is, choose another name",
                path.display(),
                test.flow
            )));
        }
        Ok(test)
    }
}

/// `target` relative to `dir` when both resolve (else `target` as it is).
fn relative(target: &Path, dir: &Path) -> String {
    let (Ok(t), Ok(d)) = (target.canonicalize(), dir.canonicalize()) else {
        return target.display().to_string();
    };
    let tc: Vec<_> = t.components().collect();
    let dc: Vec<_> = d.components().collect();
    let common = tc.iter().zip(&dc).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_string(), dc.len() - common).collect();
    parts.extend(
        tc.iter()
            .skip(common)
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}
