//! The `verge` command line: parse arguments, run, print errors, exit 0 / 1 / 2.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};
mod cli;

/// Large blocks on huge pages: about half the offline jobs' page faults
/// (`verge_host::huge_pages`).
#[global_allocator]
static ALLOCATOR: verge_host::huge_pages::HugePageHint = verge_host::huge_pages::HugePageHint;

use cli::{Cli, ERROR_CODE};

fn main() -> ExitCode {
    let cli = parse();
    match cli.run() {
        Ok(status) => ExitCode::from(status.code()),
        // `verge registry log | head` closing the pipe is not a failure.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "error: {e}");
            for cause in e.chain().skip(1) {
                let _ = writeln!(err, "  caused by: {cause}");
            }
            ExitCode::from(ERROR_CODE)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Parses the arguments; `--version` also names the Wasm module built into
/// this binary, the one `verify` and `serve` run unless told otherwise.
fn parse() -> Cli {
    let version = format!(
        "{} (Wasm ABI module {}, {} bytes)",
        env!("CARGO_PKG_VERSION"),
        verge_host::wasm_runtime::embedded_id(),
        verge_host::wasm_runtime::EMBEDDED.len()
    );
    // clap wants a `'static` version string; this one lives for the process.
    let version: &'static str = Box::leak(version.into_boxed_str());
    let matches = Cli::command().version(version).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}
