//! The `verge` command line: parse arguments, run, print errors, exit 0 / 1 / 2.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use verge_host::cli::{Cli, ERROR_CODE};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
