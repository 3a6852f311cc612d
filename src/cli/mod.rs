//! The command-line front end.

/// Writes a line to standard output (see [`write_out`]).
macro_rules! outln {
    () => {
        $crate::cli::write_out(format_args!("\n"))
    };
    ($($t:tt)*) => {
        $crate::cli::write_out(format_args!("{}\n", format_args!($($t)*)))
    };
}

/// Writes to standard output (see [`write_out`]).
macro_rules! out {
    ($($t:tt)*) => {
        $crate::cli::write_out(format_args!($($t)*))
    };
}

mod chat;
mod graph;
mod lint;
#[cfg(feature = "drivers")]
mod live;
#[cfg(feature = "lsp")]
mod lsp;
pub(crate) mod run;
#[cfg(feature = "drivers")]
mod serve;
#[cfg(feature = "studio")]
mod studio;
mod test;
mod watson;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Interpreter, linter and test runner for builder flows.
#[derive(Debug, Parser)]
#[command(name = "fluxo", version, about, long_about = None)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Lint flows, Watson workspaces and integrations files (directories are walked).
    Lint(lint::LintArgs),
    /// Run a flow: events in as JSON lines, outputs out as JSON lines.
    Run(run::RunArgs),
    /// Talk to a flow in the terminal; slash commands play the agent and the clock.
    Chat(chat::ChatArgs),
    /// Run conversation tests (`*.test.json`), compare golden transcripts, report coverage.
    Test(test::TestArgs),
    /// Draw the flow as Mermaid or Graphviz DOT.
    Graph(graph::GraphArgs),
    /// Serve bots over HTTP, durably (SQLite by default; PostgreSQL for several replicas).
    #[cfg(feature = "drivers")]
    Serve(serve::ServeArgs),
    /// List the sessions in a store that a new version of the flows would leave on their
    /// old version, and why (exit 1 when there are any).
    #[cfg(feature = "drivers")]
    DeployCheck(serve::DeployCheckArgs),
    /// Serve a local web app to talk to flows and workspaces, play the agent and the clock, and
    /// watch the variables and the flow graph; prints its URL (with its token).
    #[cfg(feature = "studio")]
    Studio(studio::StudioArgs),
    /// Watson Assistant workspaces: `fluxo watson message WORKSPACE` answers one v1 `/message`
    /// request, statelessly, as Watson does.
    Watson(watson::WatsonArgs),
    /// The language server for editors, on standard input and output (docs/editors.md).
    #[cfg(feature = "lsp")]
    Lsp(lsp::LspArgs),
    /// Print the documentation of a lint rule (or list every rule).
    Rule {
        /// Rule name, e.g. `unhandled-live-chat-status`.
        name: Option<String>,
    },
}

/// Runs the command line; returns the process exit code.
pub(crate) fn main() -> ExitCode {
    // Off before the arguments are parsed, so that no page of the commands that run without
    // them is touched as a huge page; back on for the commands that keep them.
    let turned_off = huge_pages_off();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if !matches!(
        cli.command,
        Command::Lint(_) | Command::Run(_) | Command::Chat(_) | Command::Test(_)
    ) && turned_off
    {
        huge_pages_back_on();
    }
    match cli.command {
        Command::Lint(args) => lint::run(args),
        Command::Run(args) => run::run(args),
        Command::Chat(args) => chat::run(args),
        Command::Test(args) => test::run(args),
        Command::Graph(args) => graph::run(args),
        #[cfg(feature = "drivers")]
        Command::Serve(args) => serve::serve(args),
        #[cfg(feature = "drivers")]
        Command::DeployCheck(args) => serve::deploy_check(args),
        #[cfg(feature = "studio")]
        Command::Studio(args) => studio::run(args),
        Command::Watson(args) => watson::run(args),
        #[cfg(feature = "lsp")]
        Command::Lsp(args) => lsp::run(args),
        Command::Rule { name } => rule(name.as_deref()),
    }
}

/// Turns transparent huge pages off for this process; `true` when they were on. A system whose
/// setting is `always` gives them to the allocator's arenas (mimalloc itself is built not to
/// ask for them, `no_thp` in `Cargo.toml`: the ones it asked for before `main` stayed, 4 MiB
/// of every lint), and every 2 MiB region touched then becomes resident and zeroed whole.
/// That is wrong for the commands that load a flow to run it, which keep one large compiled
/// flow and allocate little after: the start-up on a 100,000-node flow took 1.9 s and 356 MiB
/// with them, 1.4 s and 222 MiB without. For lint it is a trade: a directory of small flows
/// takes less CPU without them (each thread frees and reuses memory within few pages, and the
/// kernel zeroes only those) and a large flow's lint peaks a quarter lower, but that large lint
/// takes 7 to 20 % more CPU, as every 4 KiB page is then faulted in alone. Lint runs without
/// them: its memory was the furthest from its goal, its CPU on large flows the nearest
/// (`docs/benchmarks.md`). Where the system does not allow it, nothing changes.
fn huge_pages_off() -> bool {
    #[cfg(target_os = "linux")]
    {
        rustix::thread::transparent_huge_pages_are_disabled() == Ok(false)
            && rustix::thread::disable_transparent_huge_pages(true).is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    false
}

/// Turns transparent huge pages back on after [`huge_pages_off`] turned them off (never when
/// they were off before: whoever started this process may have had a reason).
fn huge_pages_back_on() {
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(false);
}

fn rule(name: Option<&str>) -> ExitCode {
    match name {
        None => {
            for r in fluxo::lint::rules() {
                outln!("{:<30} {}", r.code, r.severity.as_str());
            }
            ExitCode::SUCCESS
        }
        Some(n) => match fluxo::lint::find_rule(n) {
            Some(r) => {
                out!("{}", fluxo::lint::rule_text(r));
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("error: no rule named `{n}`");
                if let Some(s) = fluxo::lint::suggest_rule(n) {
                    eprintln!("help: did you mean `{s}`?");
                }
                ExitCode::from(2)
            }
        },
    }
}

/// Writes to standard output. When the reader has gone away (`fluxo lint … | head`), the command
/// ends at once and quietly, with status 0, as ripgrep does; another write error is reported.
pub(crate) fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        let _ = writeln!(std::io::stderr(), "error: cannot write the output: {e}");
        std::process::exit(2);
    }
}

/// Applies `f` to every item on all cores (each worker with a 64 MiB stack), keeping order.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len())
        .max(1);
    std::thread::scope(|s| {
        for _ in 0..workers {
            let spawned = std::thread::Builder::new()
                .stack_size(64 << 20)
                .spawn_scoped(s, || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(r);
                    }
                });
            if spawned.is_err() {
                break;
            }
        }
    });
    // A slot left empty (no worker could start) is computed here.
    slots
        .into_iter()
        .zip(items)
        .map(|(m, item)| m.into_inner().ok().flatten().unwrap_or_else(|| f(item)))
        .collect()
}
