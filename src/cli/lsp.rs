//! `fluxo lsp`: the language server on standard input and output.

use clap::Args;
use std::process::ExitCode;

/// Arguments of `fluxo lsp`.
#[derive(Debug, Args)]
pub struct LspArgs {
    /// Speak over standard input and output (the only transport; accepted because editors'
    /// clients pass it).
    #[arg(long)]
    pub stdio: bool,
}

pub(crate) fn run(_args: LspArgs) -> ExitCode {
    // Each file gets the options `fluxo lint FILE` would give it.
    match fluxo::lsp::run_stdio(Box::new(super::lint::options_for)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
