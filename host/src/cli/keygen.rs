//! `verge keygen`: a new ed25519 signing key for artifacts.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;

use super::{Ctx, ExitStatus};
use verge_host::publish::keys;

/// Make an ed25519 key for signing bundles and snapshots.
///
/// Writes the private key to FILE (mode 0600; an existing file is kept unless
/// --force) and prints the public key, 64 hex digits, on stdout. Give the public
/// key to whatever serves the artifacts (the worker's PUBLIC_KEY variable,
/// `verge serve --public-key`, the browser's `Runtime.load(..., {publicKey})`),
/// and the file to `verge publish --sign-key` / `verge build --sign-key`. The
/// private key is never printed.
///
/// Examples:
///   verge keygen -o ~/.config/verge/release.key
///   PUB=$(verge keygen -o release.key) && verge serve --from site --public-key "$PUB"
#[derive(Debug, Args)]
pub struct Keygen {
    /// Where to write the private key.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Replace an existing key file.
    #[arg(long)]
    pub force: bool,
}

impl Keygen {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// No random source, an existing file without --force, or a failed write.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let (key, seed) = keys::generate()?;
        keys::write_key_file(&self.output, &seed, self.force)?;
        let public = key.public_key();
        let mut out = std::io::stdout().lock();
        writeln!(out, "{public}")?;
        out.flush()?;
        ctx.note(&format!(
            "Wrote the private key to {} (mode 0600; keep it secret). The public key {}… is above.",
            self.output.display(),
            public.fingerprint()
        ));
        Ok(ExitStatus::Success)
    }
}
