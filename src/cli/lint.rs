//! `fluxo lint`.

mod baseline;
mod config;

use clap::{Args, ValueEnum};
use fluxo::lint::render;
use fluxo::lint::Severity;
use fluxo::lint::{apply_fixes, lint_bytes, lint_file_at_most, FileKind, FileReport, LintOptions};
use fluxo::IntegrationsFile;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use baseline::Baseline;
use config::Config;

/// Largest file read (bytes).
const MAX_FILE: u64 = 256 << 20;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// rustc-style, with the source line and a caret.
    Human,
    /// An array of findings.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// GitHub Actions workflow commands.
    Github,
}

/// Arguments of `fluxo lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Files or directories (directories are walked for `.json` files).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Exit with 1 on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
    /// The integrations file the flows use (the builder's Live Chat menu).
    #[arg(long, value_name = "FILE")]
    pub integrations: Option<PathBuf>,
    /// Repair what can be repaired safely (missing and trailing commas, a BOM) in place.
    #[arg(long)]
    pub fix: bool,
    /// The configuration file (default: the `fluxo.toml` of each path's directory or of the
    /// nearest parent directory that has one).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Report only findings that this baseline file does not list.
    #[arg(long, value_name = "FILE", conflicts_with = "write_baseline")]
    pub baseline: Option<PathBuf>,
    /// Write every finding to this baseline file, and exit 0.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
}

pub(crate) fn run(args: LintArgs) -> ExitCode {
    let mut reports = Vec::new();
    let color = args.format == Format::Human
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    // Human output that no baseline and no fix changes: each file's findings are rendered on
    // the thread that linted it, which then lets its text go. Holding every file's text to
    // the end made the system zero and fill fresh memory for all of them (a directory of 200
    // flows: half the pages the lint touched).
    let renderer = (args.format == Format::Human
        && !args.fix
        && args.baseline.is_none()
        && args.write_baseline.is_none())
    .then(|| render::Human::new(color));
    // `rendered[i]`: the findings of `reports[i]`, rendered (when `renderer` is set).
    let mut rendered: Vec<Vec<String>> = Vec::new();
    let mut explicit_integrations = None;
    let named_config = match args.config.as_deref().map(Config::load).transpose() {
        Ok(c) => c.map(Arc::new),
        Err(e) => return usage_error(&e),
    };
    // Read first: a missing baseline is reported before any file is linted.
    let mut baseline = match args.baseline.as_deref().map(Baseline::read).transpose() {
        Ok(b) => b,
        Err(e) => return usage_error(&e),
    };
    // The configuration of each path named on the command line, by the directory searched.
    let mut configs: HashMap<PathBuf, Option<Arc<Config>>> = HashMap::new();
    let mut by_written_dir: HashMap<PathBuf, Option<Arc<Config>>> = HashMap::new();
    // `walked`: the file was found walking a directory, where only regular files are taken
    // (not links), so it need not be looked at again to know that.
    let mut config_of = |path: &Path, walked: bool| -> Result<Option<Arc<Config>>, String> {
        if let Some(c) = &named_config {
            return Ok(Some(c.clone()));
        }
        // Searched from the directory: the files of one directory share one lookup. A file
        // that is not a link is looked up by its directory as written, so a walked directory
        // resolves its path once, not once per file (each resolution reads every component).
        let written = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .filter(|_| {
                walked
                    || path
                        .symlink_metadata()
                        .is_ok_and(|m| m.file_type().is_file())
            })
            .map(Path::to_path_buf);
        if let Some(c) = written.as_ref().and_then(|d| by_written_dir.get(d)) {
            return Ok(c.clone());
        }
        let mut key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if !key.is_dir() {
            if let Some(parent) = key.parent() {
                key = parent.to_path_buf();
            }
        }
        let c = match configs.get(&key) {
            Some(c) => c.clone(),
            None => {
                let c = Config::find(&key)?.map(Arc::new);
                configs.insert(key, c.clone());
                c
            }
        };
        if let Some(d) = written {
            by_written_dir.insert(d, c.clone());
        }
        Ok(c)
    };
    if let Some(p) = &args.integrations {
        let bytes = match read(p) {
            Ok(b) => b,
            Err(e) => return usage_error(&e),
        };
        let mut opts = LintOptions::default();
        match config_of(p, false) {
            Ok(Some(c)) => c.apply(p, &mut opts),
            Ok(None) => {}
            Err(e) => return usage_error(&e),
        }
        let report = lint_bytes(&p.display().to_string(), &bytes, &opts);
        if report.kind != Some(FileKind::Integrations)
            && report.findings.iter().all(|f| f.severity < Severity::Error)
        {
            return usage_error(&format!(
                "{}: not an integrations file (no top-level `integrations`)",
                p.display()
            ));
        }
        if let Some(r) = &renderer {
            rendered.push(render_each(r, &report));
        }
        explicit_integrations = Some(Arc::new(LintOptions {
            integrations: serde_json::from_str::<IntegrationsFile>(&report.source.text).ok(),
            ..LintOptions::default()
        }));
        reports.push(report);
    }
    let mut files = Vec::new();
    for p in &args.paths {
        let found = match collect(std::slice::from_ref(p)) {
            Ok(f) => f,
            Err(e) => return usage_error(&e),
        };
        // Each file takes the nearest `fluxo.toml` above it: one deeper inside a walked
        // directory applies to the files below it (the nearest one wins, as in ruff).
        for (f, e) in found {
            let config = match config_of(&f, !e) {
                Ok(c) => c,
                Err(e) => return usage_error(&e),
            };
            files.push((f, e, config));
        }
    }
    // Without --integrations, a flow uses the `integrations.json` beside it, when there is one.
    let mut beside: HashMap<PathBuf, Arc<LintOptions>> = HashMap::new();
    let mut jobs: Vec<Job> = Vec::new();
    for (path, explicit, config) in files {
        if args
            .integrations
            .as_ref()
            .is_some_and(|i| same_file(i, &path))
        {
            continue;
        }
        let mut opts = match &explicit_integrations {
            Some(o) => o.clone(),
            None => {
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                beside
                    .entry(dir.clone())
                    .or_insert_with(|| Arc::new(integrations_beside(&dir)))
                    .clone()
            }
        };
        if let Some(c) = &config {
            let mut own = LintOptions::clone(&opts);
            c.apply(&path, &mut own);
            opts = Arc::new(own);
        }
        jobs.push(Job {
            path,
            explicit,
            opts,
        });
    }
    let linted = lint_parallel(&jobs, renderer.as_ref());
    let before = reports.len();
    let mut simulated_said = false;
    for (job, report) in jobs.iter().zip(linted) {
        // The first file that cannot be read, in order, ends the run as before any was linted.
        let (mut report, mut shown) = match report {
            Ok(r) => r,
            Err(e) => return usage_error(&e),
        };
        // Walked files that are not fluxo files (package.json, schemas) are skipped quietly.
        if !job.explicit
            && report.kind.is_none()
            && report.findings.iter().all(|f| f.code == "schema")
        {
            continue;
        }
        // "No integrations file" is said once per run (and its rendering with it).
        let keep: Vec<bool> = (report.findings.iter())
            .map(|f| {
                f.code != "integrations-simulated" || !std::mem::replace(&mut simulated_said, true)
            })
            .collect();
        let mut kept = keep.iter().copied();
        report.findings.retain(|_| kept.next().unwrap_or(true));
        if let Some(shown) = shown.as_mut() {
            let mut kept = keep.iter().copied();
            shown.retain(|_| kept.next().unwrap_or(true));
        }
        if args.fix {
            // A large file's report may hold only excerpts of its text; fixes (syntax repairs,
            // which files read that way never need) are made in the whole text.
            if !report.source.is_whole() && report.findings.iter().any(|f| f.fix.is_some()) {
                let bytes = match read(&job.path) {
                    Ok(b) => b,
                    Err(e) => return usage_error(&e),
                };
                report = fluxo::lint::lint_owned(&report.source.path, bytes, &job.opts);
            }
            if let Some(fixed) = apply_fixes(&report.source.text, &report.findings) {
                if let Err(e) = std::fs::write(&job.path, fixed) {
                    return usage_error(&format!(
                        "{}: cannot write the fix: {e}",
                        job.path.display()
                    ));
                }
                eprintln!("fixed {}", job.path.display());
                let bytes = std::fs::read(&job.path).unwrap_or_default();
                report = lint_bytes(&report.source.path, &bytes, &job.opts);
            }
        }
        reports.push(report);
        if let Some(shown) = shown {
            rendered.push(shown);
        }
    }
    // A CI job must not pass having checked nothing (an empty or mistyped directory).
    if reports.len() == before {
        let named: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        return usage_error(&format!(
            "no flow, Watson workspace or integrations file found under {}",
            named.join(", ")
        ));
    }
    if let Some(path) = &args.write_baseline {
        return match baseline::write(path, &reports) {
            Ok(n) => {
                eprintln!(
                    "wrote {n} finding{} to the baseline {}",
                    if n == 1 { "" } else { "s" },
                    path.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => usage_error(&e),
        };
    }
    if let (Some(path), Some(known)) = (&args.baseline, &mut baseline) {
        known.filter(&mut reports);
        let gone = known.unmatched();
        if gone > 0 {
            // On standard error, so the JSON and SARIF on standard output stay whole.
            eprintln!(
                "note: {gone} baseline entr{} no longer occur{}; rewrite with --write-baseline {}",
                if gone == 1 { "y" } else { "ies" },
                if gone == 1 { "s" } else { "" },
                path.display()
            );
        }
    }
    let text = match args.format {
        Format::Human if renderer.is_some() => render::human_rendered(&reports, &rendered),
        Format::Human => render::human(&reports, color),
        Format::Json => render::json(&reports),
        Format::Sarif => render::sarif(&reports, &fluxo::lint::rules()),
        Format::Github => render::github(&reports),
    };
    out!("{text}");
    let worst = reports
        .iter()
        .flat_map(|r| &r.findings)
        .map(|f| f.severity)
        .max();
    let fail = match worst {
        Some(Severity::Error) => true,
        Some(Severity::Warning) => args.deny_warnings,
        _ => false,
    };
    if fail {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The options `fluxo lint FILE` uses for `file`: the `integrations.json` beside it and the
/// `fluxo.toml` of its directory or the nearest parent that has one (the language server
/// lints each open document with these).
#[cfg_attr(not(feature = "lsp"), allow(dead_code))]
pub(crate) fn options_for(file: &Path) -> Result<LintOptions, String> {
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut opts = integrations_beside(&dir);
    if let Some(c) = Config::find(file)? {
        c.apply(file, &mut opts);
    }
    Ok(opts)
}

/// The integrations of `dir/integrations.json`, when it exists and reads as one.
fn integrations_beside(dir: &Path) -> LintOptions {
    let integrations = std::fs::read_to_string(dir.join("integrations.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<IntegrationsFile>(&t).ok());
    LintOptions {
        integrations,
        ..LintOptions::default()
    }
}

/// A file to lint.
struct Job {
    path: PathBuf,
    explicit: bool,
    opts: Arc<LintOptions>,
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// A path that cannot be read, in words ("does not exist" for a mistyped path).
fn io_error(path: &Path, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => format!("{}: does not exist", path.display()),
        _ => format!("{}: {e}", path.display()),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    within_limit(path)?;
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// An error when the file at `path` is larger than [`MAX_FILE`] (or cannot be looked at).
fn within_limit(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
    if meta.len() > MAX_FILE {
        return Err(format!(
            "{}: {} bytes is larger than the {} MiB limit",
            path.display(),
            meta.len(),
            MAX_FILE >> 20
        ));
    }
    Ok(())
}

/// Files to lint: named files (explicit) and `.json` files under named directories, sorted.
fn collect(paths: &[PathBuf]) -> Result<Vec<(PathBuf, bool)>, String> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| io_error(p, &e))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            let walker = walkdir::WalkDir::new(p)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    let name = e.file_name().to_string_lossy();
                    e.depth() == 0
                        || !(name.starts_with('.') || name == "target" || name == "node_modules")
                });
            for entry in walker {
                let entry = entry.map_err(|e| e.to_string())?;
                if entry.file_type().is_file()
                    && entry.path().extension().is_some_and(|x| x == "json")
                {
                    found.push((entry.into_path(), false));
                }
            }
            out.extend(found);
        } else {
            out.push((p.clone(), true));
        }
    }
    Ok(out)
}

/// Reads and lints files on every core (reading them all first kept the other cores idle
/// meanwhile); a file that cannot be read gives its error instead of a report. With a
/// `renderer`, each report comes with its findings rendered, and without its text (a walked
/// file that is not a fluxo file keeps it: it is skipped, not shown).
fn lint_parallel(jobs: &[Job], renderer: Option<&render::Human>) -> Vec<Result<Linted, String>> {
    super::parallel_map(jobs, |j| {
        let mut report =
            lint_file_at_most(&j.path, &j.path.display().to_string(), &j.opts, MAX_FILE)
                .map_err(|e| format!("{}: {e}", j.path.display()))?;
        let skipped = !j.explicit
            && report.kind.is_none()
            && report.findings.iter().all(|f| f.code == "schema");
        let shown = renderer.filter(|_| !skipped).map(|r| {
            let shown = render_each(r, &report);
            report.source =
                fluxo::lint::SourceFile::new(std::mem::take(&mut report.source.path), "");
            shown
        });
        Ok((report, shown))
    })
}

/// A file's report, with its findings rendered when [`lint_parallel`] was given a renderer.
type Linted = (FileReport, Option<Vec<String>>);

/// Each finding of `report`, rendered for human output.
fn render_each(renderer: &render::Human, report: &FileReport) -> Vec<String> {
    (report.findings.iter())
        .map(|f| renderer.finding(report, f))
        .collect()
}
