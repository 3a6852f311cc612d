//! The command-line front end.

mod lint;
mod run;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Interpreter, linter and test runner for builder flows.
#[derive(Debug, Parser)]
#[command(name = "fluxo", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lint flows, Watson workspaces and integrations files (directories are walked).
    Lint(lint::LintArgs),
    /// Run a flow: events in as JSON lines, outputs out as JSON lines.
    Run(run::RunArgs),
    /// Print the documentation of a lint rule (or list every rule).
    Rule {
        /// Rule name, e.g. `unhandled-live-chat-status`.
        name: Option<String>,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
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
    match cli.command {
        Command::Lint(args) => lint::run(args),
        Command::Run(args) => run::run(args),
        Command::Rule { name } => rule(name.as_deref()),
    }
}

fn rule(name: Option<&str>) -> ExitCode {
    match name {
        None => {
            for r in crate::lint::rules::all() {
                println!("{:<30} {}", r.code, r.severity.as_str());
            }
            ExitCode::SUCCESS
        }
        Some(n) => match crate::lint::rules::find(n) {
            Some(r) => {
                println!("# {} ({})\n", r.code, r.severity.as_str());
                println!(
                    "{}",
                    r.docs
                        .lines()
                        .map(|l| l.strip_prefix(' ').unwrap_or(l))
                        .collect::<Vec<_>>()
                        .join("\n")
                        .trim()
                );
                ExitCode::SUCCESS
            }
            None => {
                let names: Vec<&str> = crate::lint::rules::all().iter().map(|r| r.code).collect();
                eprintln!("error: no rule named `{n}`");
                if let Some(s) = crate::schema::closest(n, &names) {
                    eprintln!("help: did you mean `{s}`?");
                }
                ExitCode::from(2)
            }
        },
    }
}
