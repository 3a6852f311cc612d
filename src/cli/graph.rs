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

/// Draws the flow best effort: findings elsewhere in the file (a missing comma, a node that
/// does not fit the schema) go to standard error and the picture shows what can be read; the
/// exit status is 2 only when nothing can be drawn.
pub(crate) fn run(args: GraphArgs) -> ExitCode {
    let f = match args.format {
        GraphFormat::Mermaid => fluxo::graph::Format::Mermaid,
        GraphFormat::Dot => fluxo::graph::Format::Dot,
    };
    let bytes = match std::fs::read(&args.flow) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("error: {}: does not exist", args.flow.display());
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {}: {e}", args.flow.display());
            return ExitCode::from(2);
        }
    };
    if let Some(ws) = fluxo::watson::Workspace::load(&args.flow) {
        return match ws {
            Ok(ws) => {
                out!("{}", ws.draw(args.format == GraphFormat::Dot));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    match fluxo::graph::draw(&args.flow.display().to_string(), &bytes, f) {
        Ok(drawing) => {
            for x in &drawing.findings {
                eprintln!(
                    "{}: {}:{}:{}: {} [{}]",
                    x.severity.as_str(),
                    x.file,
                    x.line,
                    x.column,
                    x.message,
                    x.code
                );
            }
            if !drawing.findings.is_empty() {
                eprintln!(
                    "note: drawn from what could be read; `fluxo lint {}` explains each finding",
                    args.flow.display()
                );
            }
            out!("{}", drawing.text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
