//! `fluxo watson message WORKSPACE`: one Watson v1 `/message` turn, stateless. A
//! `MessageRequest` JSON on standard input, the `MessageResponse` JSON on standard output, checked
//! and completed exactly as `fluxo serve` answers `POST /v1/workspaces/{id}/message`.

use clap::{Args, Subcommand};
use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `fluxo watson`.
#[derive(Debug, Args)]
pub struct WatsonArgs {
    /// What to do with the workspace.
    #[command(subcommand)]
    pub command: WatsonCommand,
}

/// `fluxo watson` subcommands.
#[derive(Debug, Subcommand)]
pub enum WatsonCommand {
    /// One `/message` turn: a MessageRequest on standard input (`input`, `context`, optional
    /// `intents`, `entities`, `alternate_intents`), the MessageResponse on standard output.
    /// The context carries the dialog's position: feed the answer's `context` to the next
    /// request to go on.
    Message {
        /// The workspace (a Watson Assistant export, plain or `{"workspace": …}`).
        workspace: PathBuf,
        /// The clock the date functions read (RFC 3339, default: now).
        #[arg(long, value_name = "RFC3339")]
        clock: Option<String>,
        /// Adds `output.nodes_visited_details`, as the v1 API's `nodes_visited_details=true`.
        #[arg(long)]
        nodes_visited_details: bool,
    },
}

pub(crate) fn run(args: WatsonArgs) -> ExitCode {
    let fail = |m: String| {
        eprintln!("error: {m}");
        ExitCode::from(2)
    };
    match args.command {
        WatsonCommand::Message {
            workspace,
            clock,
            nodes_visited_details,
        } => {
            let ws = match fluxo::watson::Workspace::load(&workspace) {
                Some(Ok(ws)) => ws,
                Some(Err(e)) => return fail(e),
                None => {
                    return fail(format!(
                    "{}: not a Watson workspace (no `dialog_nodes`, plain or under `workspace`)",
                    workspace.display()
                ))
                }
            };
            let now = match clock {
                Some(c) => match c.parse::<jiff::Timestamp>() {
                    Ok(t) => t.to_string(),
                    Err(e) => return fail(format!("--clock {c}: not an RFC 3339 time ({e})")),
                },
                None => jiff::Timestamp::now().to_string(),
            };
            let mut body = String::new();
            // A request is small; more than 16 MiB is not one.
            if let Err(e) = std::io::stdin().take(16 << 20).read_to_string(&mut body) {
                return fail(format!("standard input: {e}"));
            }
            let request: serde_json::Value = if body.trim().is_empty() {
                serde_json::json!({})
            } else {
                match serde_json::from_str(&body) {
                    Ok(v) => v,
                    Err(e) => {
                        return fail(format!("standard input: not a MessageRequest JSON ({e})"))
                    }
                }
            };
            if !request.is_object() {
                return fail("standard input: a MessageRequest is a JSON object".into());
            }
            // The checks and the answer of the HTTP API's `/message`: a request Watson would
            // answer 400 is refused with Watson's sentence, and the answer carries `user_id`
            // and the log messages' `code` as Watson's does.
            if let Err(refusal) = fluxo::watson::v1::check_request(&request) {
                let detail: Vec<String> = refusal
                    .errors
                    .iter()
                    .map(|(m, p)| format!("{m} (at {p})"))
                    .collect();
                return fail(format!(
                    "standard input: {}{}{}",
                    refusal.error,
                    if detail.is_empty() { "" } else { ": " },
                    detail.join("; ")
                ));
            }
            let response = fluxo::watson::v1::message(&ws, &request, &now, nodes_visited_details);
            outln!(
                "{}",
                serde_json::to_string_pretty(&response).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
    }
}
