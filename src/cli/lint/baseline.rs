//! Baseline files (`--write-baseline FILE`, `--baseline FILE`): the findings a project accepts
//! for now, so that CI fails only on new ones.
//!
//! A finding is known by its rule, its file (relative to the baseline file's directory, with
//! `/` separators) and where it is: in a flow node, the node's id and the JSON Pointer inside
//! the node (`/next/0/goto`); elsewhere its JSON Pointer. Not its line, nor the node's index, so
//! editing a flow elsewhere (lines added above a finding, a node inserted before it) keeps it
//! matched. The same key may occur several times; the baseline keeps a count, and only that
//! many findings of the key are accepted. Version 1 baselines, which keyed every finding by
//! its whole pointer (`/nodes/3/next/0/goto`), are still read.

use fluxo::lint::FileReport;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// The format version written in the file. Version 1 (whole pointers only) is still read.
const VERSION: u32 = 2;

/// Largest baseline read (bytes).
const MAX_BASELINE: u64 = 64 << 20;

/// The file as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "baseline")]
struct BaselineFile {
    /// Format version (1).
    version: u32,
    /// Accepted findings, sorted by file, rule and pointer.
    findings: Vec<Entry>,
}

/// One accepted finding, and how many times it occurs.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    rule: String,
    file: String,
    /// The id of the flow node the finding is in; then `pointer` is relative to the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node: Option<String>,
    pointer: String,
    count: usize,
}

/// (file, rule, node id, pointer): the pointer is relative to the node when there is one.
type Key = (String, String, Option<String>, String);

/// The key of a finding by node id (when it is in a node), and by its whole pointer.
fn keys(file: &str, f: &fluxo::lint::Located) -> (Option<Key>, Key) {
    let whole = (file.to_owned(), f.code.to_owned(), None, f.pointer.clone());
    let in_node = f.node.as_ref().and_then(|n| {
        let rest = f.pointer.strip_prefix("/nodes/")?;
        let inner = rest.find('/').map_or("", |i| &rest[i..]);
        Some((
            file.to_owned(),
            f.code.to_owned(),
            Some(n.id.clone()),
            inner.to_owned(),
        ))
    });
    (in_node, whole)
}

/// A baseline being matched against this run's findings.
#[derive(Debug)]
pub(crate) struct Baseline {
    /// The directory file names are relative to (canonical).
    dir: PathBuf,
    /// How many findings of each key are still accepted.
    left: BTreeMap<Key, usize>,
}

impl Baseline {
    /// Reads the baseline `path`.
    pub(crate) fn read(path: &Path) -> Result<Baseline, String> {
        let shown = path.display();
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("{shown}: does not exist; create it with --write-baseline {shown}")
            }
            _ => format!("{shown}: {e}"),
        })?;
        if meta.len() > MAX_BASELINE {
            return Err(format!(
                "{shown}: {} bytes is larger than the {} MiB limit of a baseline",
                meta.len(),
                MAX_BASELINE >> 20
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
        let file: BaselineFile = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{shown}:{}:{}: not a fluxo baseline: {e}",
                e.line(),
                e.column()
            )
        })?;
        if !(1..=VERSION).contains(&file.version) {
            return Err(format!(
                "{shown}: baseline version {} is not one this fluxo reads (versions 1 to {VERSION}); rewrite it with --write-baseline",
                file.version
            ));
        }
        let mut left = BTreeMap::new();
        for e in file.findings {
            *left.entry((e.file, e.rule, e.node, e.pointer)).or_insert(0) += e.count;
        }
        Ok(Baseline {
            dir: base_dir(path)?,
            left,
        })
    }

    /// Removes from `reports` the findings the baseline accepts (each key as many times as
    /// it counts).
    pub(crate) fn filter(&mut self, reports: &mut [FileReport]) {
        for r in reports {
            let file = relative(&self.dir, &r.source.path);
            r.findings.retain(|f| {
                // By node id first; a version 1 entry matches the whole pointer.
                let (in_node, whole) = keys(&file, f);
                for key in in_node.iter().chain([&whole]) {
                    if let Some(n) = self.left.get_mut(key).filter(|n| **n > 0) {
                        *n -= 1;
                        return false;
                    }
                }
                true
            });
        }
    }

    /// Accepted findings that did not occur in this run.
    pub(crate) fn unmatched(&self) -> usize {
        self.left.values().sum()
    }
}

/// Writes every finding of `reports` to the baseline `path`; returns how many.
pub(crate) fn write(path: &Path, reports: &[FileReport]) -> Result<usize, String> {
    let dir = base_dir(path)?;
    let mut counts: BTreeMap<Key, usize> = BTreeMap::new();
    for r in reports {
        let file = relative(&dir, &r.source.path);
        for f in &r.findings {
            let (in_node, whole) = keys(&file, f);
            *counts.entry(in_node.unwrap_or(whole)).or_insert(0) += 1;
        }
    }
    let total = counts.values().sum();
    let file = BaselineFile {
        version: VERSION,
        findings: counts
            .into_iter()
            .map(|((file, rule, node, pointer), count)| Entry {
                rule,
                file,
                node,
                pointer,
                count,
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    Ok(total)
}

/// The canonical directory of a baseline file (which need not exist yet).
fn base_dir(path: &Path) -> Result<PathBuf, String> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    parent
        .canonicalize()
        .map_err(|e| format!("{}: {e}", parent.display()))
}

/// `file` (a path as given on the command line) relative to the directory `dir`, with `/`
/// separators; `..` where it lies outside.
fn relative(dir: &Path, file: &str) -> String {
    let given = Path::new(file);
    let abs = given.canonicalize().unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(given))
            .unwrap_or_else(|_| given.to_path_buf())
    });
    let from: Vec<Component<'_>> = dir.components().collect();
    let to: Vec<Component<'_>> = abs.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); from.len().saturating_sub(common)];
    parts.extend(
        to.iter()
            .skip(common)
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}
