//! `fluxo.toml`: the `[lint]` table (`ignore`, `severity`, `per-file-ignores`), found in the
//! linted path's directory or the nearest parent directory, or named with `--config`.
//!
//! Every rule name is checked against the registry and every severity against the severities
//! fluxo has, so a typo in the configuration stops the run (status 2) instead of silently
//! checking less.

use fluxo::lint::{find_rule, suggest_rule, LintOptions, Severity};
use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The configuration file's name.
pub(crate) const FILE_NAME: &str = "fluxo.toml";

/// Largest configuration file read (bytes).
const MAX_CONFIG: u64 = 1 << 20;

/// The file as written. Tables other than `[lint]` are left to the commands they configure.
#[derive(Debug, Default, Deserialize)]
struct Raw {
    #[serde(default)]
    lint: RawLint,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLint {
    #[serde(default)]
    ignore: Vec<Spanned<String>>,
    #[serde(default)]
    severity: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    per_file_ignores: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
}

/// A loaded `fluxo.toml`.
#[derive(Debug)]
pub(crate) struct Config {
    /// The directory its globs are relative to (canonical).
    dir: PathBuf,
    /// Rules turned off everywhere.
    ignore: BTreeSet<String>,
    /// Severities that replace the rules' defaults.
    severity: BTreeMap<String, Severity>,
    /// Globs (relative to `dir`) and the rules they turn off.
    per_file: Vec<(GlobMatcher, BTreeSet<String>)>,
}

impl Config {
    /// Reads and checks the configuration file `path`.
    pub(crate) fn load(path: &Path) -> Result<Config, String> {
        let shown = path.display();
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("{shown}: does not exist"),
            _ => format!("{shown}: {e}"),
        })?;
        if meta.len() > MAX_CONFIG {
            return Err(format!(
                "{shown}: {} bytes is larger than the {} KiB limit of a configuration file",
                meta.len(),
                MAX_CONFIG >> 10
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
        let dir = path
            .canonicalize()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        Config::parse(&shown.to_string(), &text, dir)
    }

    /// Checks the text of a configuration file (`shown` is its path for messages; `dir` the
    /// directory its globs are relative to).
    fn parse(shown: &str, text: &str, dir: PathBuf) -> Result<Config, String> {
        let at = |span: std::ops::Range<usize>| {
            let (line, column) = line_col(text, span.start);
            format!("{shown}:{line}:{column}")
        };
        unknown_names(text, &at)?;
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let message = e.message().trim_end();
            match e.span() {
                Some(span) => format!("{}: {message}", at(span)),
                None => format!("{shown}: {message}"),
            }
        })?;
        let rule = |name: &Spanned<String>| -> Result<String, String> {
            let n = name.get_ref();
            if find_rule(n).is_some() {
                return Ok(n.clone());
            }
            let mut msg = format!("{}: no rule named `{n}`", at(name.span()));
            match suggest_rule(n) {
                Some(s) => msg.push_str(&format!("\nhelp: did you mean `{s}`?")),
                None => msg.push_str("\nhelp: `fluxo rule` lists the rules"),
            }
            Err(msg)
        };
        let lint = raw.lint;
        let ignore = lint.ignore.iter().map(rule).collect::<Result<_, _>>()?;
        let mut severity = BTreeMap::new();
        for (name, level) in &lint.severity {
            let code = rule(name)?;
            let Some(s) = Severity::parse(level.get_ref()) else {
                return Err(format!(
                    "{}: `{}` is not a severity: use \"error\", \"warning\" or \"info\"",
                    at(level.span()),
                    level.get_ref()
                ));
            };
            severity.insert(code, s);
        }
        let mut per_file = Vec::new();
        for (pattern, rules) in &lint.per_file_ignores {
            let p = pattern.get_ref();
            // A pattern without a `/` names files in any directory, as in `.gitignore`.
            let full = if p.contains('/') {
                p.clone()
            } else {
                format!("**/{p}")
            };
            let glob = GlobBuilder::new(&full)
                .literal_separator(true)
                .build()
                .map_err(|e| {
                    format!("{}: `{p}` is not a glob: {}", at(pattern.span()), e.kind())
                })?;
            let rules = rules.iter().map(rule).collect::<Result<_, _>>()?;
            per_file.push((glob.compile_matcher(), rules));
        }
        Ok(Config {
            dir,
            ignore,
            severity,
            per_file,
        })
    }

    /// The configuration that applies to `path` (a file or a directory named on the command
    /// line): the `fluxo.toml` of its directory or of the nearest parent that has one.
    pub(crate) fn find(path: &Path) -> Result<Option<Config>, String> {
        let Ok(abs) = path.canonicalize() else {
            return Ok(None);
        };
        let start = if abs.is_dir() {
            abs.as_path()
        } else {
            abs.parent().unwrap_or(&abs)
        };
        // Shown relative to the working directory when it lies below it.
        let cwd = std::env::current_dir().and_then(|c| c.canonicalize()).ok();
        for dir in start.ancestors() {
            let candidate = dir.join(FILE_NAME);
            if candidate.is_file() {
                let shown = cwd
                    .as_deref()
                    .and_then(|c| candidate.strip_prefix(c).ok())
                    .map_or_else(|| candidate.clone(), Path::to_path_buf);
                return Config::load(&shown).map(Some);
            }
        }
        Ok(None)
    }

    /// Adds what the configuration says about `file` to `opts`.
    pub(crate) fn apply(&self, file: &Path, opts: &mut LintOptions) {
        opts.ignore.extend(self.ignore.iter().cloned());
        opts.severity
            .extend(self.severity.iter().map(|(k, v)| (k.clone(), *v)));
        if self.per_file.is_empty() {
            return;
        }
        let Some(relative) = file
            .canonicalize()
            .ok()
            .and_then(|f| f.strip_prefix(&self.dir).ok().map(Path::to_path_buf))
        else {
            return;
        };
        for (glob, rules) in &self.per_file {
            if glob.is_match(&relative) {
                opts.ignore.extend(rules.iter().cloned());
            }
        }
    }
}

/// The tables fluxo reads, and the keys of each.
const KNOWN: &[(&str, &[&str])] = &[("lint", &["ignore", "severity", "per-file-ignores"])];

/// A table or key fluxo does not read (`[lnit]`, `ignor`) stops the run with a did-you-mean:
/// left alone it would silently check less than the author asked for. (A file that does not
/// parse is left to the reader, which says where.)
fn unknown_names(text: &str, at: &dyn Fn(std::ops::Range<usize>) -> String) -> Result<(), String> {
    use toml::de::{DeTable, DeValue};
    let Ok(doc) = DeTable::parse(text) else {
        return Ok(());
    };
    let tables: Vec<&str> = KNOWN.iter().map(|(t, _)| *t).collect();
    let suggest = |name: &str, candidates: &[&str], what: &str| match fluxo::lint::suggest_name(
        name, candidates,
    ) {
        Some(c) => format!("\nhelp: did you mean `{c}`?"),
        None => format!("\nhelp: {what}: {}", candidates.join(", ")),
    };
    for (key, value) in doc.get_ref() {
        let name: &str = key.get_ref();
        let Some((_, keys)) = KNOWN.iter().find(|(t, _)| *t == name) else {
            if !matches!(value.get_ref(), DeValue::Table(_)) {
                let home = KNOWN.iter().find(|(_, keys)| keys.contains(&name));
                return Err(format!(
                    "{}: `{name}` is outside any table; it would be ignored\nhelp: {}",
                    at(key.span()),
                    match home {
                        Some((t, _)) => format!("put it under `[{t}]`"),
                        None => format!("the tables are: {}", tables.join(", ")),
                    }
                ));
            }
            return Err(format!(
                "{}: fluxo.toml has no table `{name}`; it would be ignored{}",
                at(key.span()),
                suggest(name, &tables, "the tables are")
            ));
        };
        let DeValue::Table(table) = value.get_ref() else {
            continue;
        };
        for (k, _) in table {
            let k_name: &str = k.get_ref();
            if !keys.contains(&k_name) {
                return Err(format!(
                    "{}: `[{name}]` has no key `{k_name}`; it would be ignored{}",
                    at(k.span()),
                    suggest(k_name, keys, "its keys are")
                ));
            }
        }
    }
    Ok(())
}

/// 1-based line and column (in characters) of a byte offset of `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut o = offset.min(text.len());
    while !text.is_char_boundary(o) {
        o -= 1;
    }
    let before = text.get(..o).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
