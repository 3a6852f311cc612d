//! `fluxo graph`.

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Mermaid flowchart.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// Arguments of `fluxo graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The flow.
    pub flow: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: GraphFormat,
}

pub(crate) fn run(args: GraphArgs) -> ExitCode {
    match super::run::load_bot(&args.flow, None) {
        Ok(bot) => {
            let f = match args.format {
                GraphFormat::Mermaid => fluxo::graph::Format::Mermaid,
                GraphFormat::Dot => fluxo::graph::Format::Dot,
            };
            out!("{}", fluxo::graph::render(&bot, f));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
