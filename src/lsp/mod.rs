//! The language server (`fluxo lsp`): the linter as you type, node ids you can follow and
//! rename, completion and hover for flows, integrations files, Watson workspaces and
//! conversation tests.
//!
//! It follows the shape of ruff's server: `lsp-server` for the JSON-RPC messages, `lsp-types`
//! kept inside this module, a session that holds the open documents, handlers that read a
//! snapshot of one document and its index, and positions converted at the edge (UTF-16 unless
//! the client offers UTF-8 or UTF-32). Diagnostics come from [`crate::lint::lint_bytes`] with
//! the options `fluxo lint` would use for the same path (its `fluxo.toml`, the
//! `integrations.json` beside it), which the caller supplies, so the two always agree.
//!
//! The server is single-threaded and synchronous: one thread reads and frames messages, the
//! other handles them in order. Edits are debounced; a request that needs a document's latest
//! text analyses it first. A request cancelled before it is handled is answered with
//! `RequestCancelled`.

mod document;
mod features;
mod files;
mod index;
mod server;
mod transport;

use crate::lint::LintOptions;
use std::path::Path;

/// How the server learns the lint options of a file: the same `fluxo.toml` and integrations
/// discovery `fluxo lint` applies to that path. An `Err` (a broken `fluxo.toml`) is shown to
/// the user once and the file is linted with the default options.
pub type OptionsFor = dyn Fn(&Path) -> Result<LintOptions, String> + Send + Sync;

/// Serves the language server protocol on standard input and output until the client sends
/// `exit` or closes standard input. Returns an error when standard output cannot be written,
/// or when the session ends without the `shutdown` request the protocol asks for first.
pub fn run_stdio(options: Box<OptionsFor>) -> Result<(), String> {
    // The pipeline recurses over JSON trees; `fluxo lint` gives it a 64 MiB stack too.
    let worker = std::thread::Builder::new()
        .name("fluxo-lsp".into())
        .stack_size(64 << 20)
        .spawn(move || {
            let incoming = transport::spawn_reader(std::io::stdin());
            let mut out = std::io::stdout();
            server::Server::new(options, &mut out).run(&incoming)
        })
        .map_err(|e| format!("cannot start the server thread: {e}"))?;
    match worker.join() {
        Ok(r) => r,
        Err(_) => Err("the server thread stopped unexpectedly".into()),
    }
}
