//! `fluxo studio`: serves the playground as a local web app (see [`fluxo::studio`]).

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `fluxo studio`.
#[derive(Debug, Args)]
pub struct StudioArgs {
    /// Flows, Watson workspaces and tests: files or directories (default: the current
    /// directory). Nothing outside them is read or written.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Where to listen (default 127.0.0.1 on a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Allow --listen on an address that is not loopback (anyone who can reach it and has
    /// the token can drive the studio).
    #[arg(long)]
    pub allow_remote: bool,
    /// Do not open the browser.
    #[arg(long)]
    pub no_open: bool,
    /// Integrations file for every flow (default: `integrations.json` beside each flow).
    #[arg(long, value_name = "FILE")]
    pub integrations: Option<PathBuf>,
    /// Start of the virtual clock (RFC 3339; default: now).
    #[arg(long, value_name = "TIME")]
    pub clock: Option<String>,
}

pub(crate) fn run(args: StudioArgs) -> ExitCode {
    let fail = |m: String| {
        eprintln!("error: {m}");
        ExitCode::from(2)
    };
    let clock = match super::run::clock(args.clock.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let mut config = fluxo::studio::Config::new(args.paths, clock);
    config.listen = args.listen;
    config.allow_remote = args.allow_remote;
    config.integrations = args.integrations;
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    else {
        return fail("cannot start the async runtime".into());
    };
    let server = match rt.block_on(fluxo::studio::Server::bind(config)) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    outln!("fluxo studio: {}", server.url());
    if !args.no_open {
        // Best effort: without a desktop, the URL above is the way in.
        let _ = std::process::Command::new("xdg-open")
            .arg(server.url())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
    rt.block_on(server.run(async {
        let _ = tokio::signal::ctrl_c().await;
    }));
    ExitCode::SUCCESS
}
