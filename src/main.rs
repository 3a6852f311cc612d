//! The `fluxo` command.

fn main() -> std::process::ExitCode {
    fluxo::cli::main()
}
