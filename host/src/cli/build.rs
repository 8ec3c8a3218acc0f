//! `verge build`: the bundle + snapshot pair an edge target loads, in one
//! directory, written by [`verge_host::edge_pair::EdgePair::write_dir`].

use std::path::PathBuf;

use clap::Args;
use verge_host::edge_pair::EdgePair;
use verge_host::materialize::LATEST;
use verge_host::publish::keys;

use super::output::print_json;
use super::{Ctx, ExitStatus};

/// Write the bundle + snapshot pair an edge target loads.
///
/// SERVICE_OR_MODEL is a model name (its bundle is the `model/<name>` ref that
/// `verge train` moves) or a feature service (the model that uses it). The
/// snapshot is `snapshot/latest` unless --snapshot says otherwise. Writes
/// DIR/bundle.bin, DIR/snapshot.bin and DIR/manifest.json after checking that
/// the two fit together; with --sign-key also DIR/bundle.sig and
/// DIR/snapshot.sig (ed25519; docs/format.md, "Signatures"). For the layout a
/// worker reads (content-addressed, with rollback), use `verge publish`.
///
/// Examples:
///   verge build surgical_lesion
///   verge build surgery_v1 -o worker/assets
///   verge build surgical_lesion --sign-key ~/.config/verge/release.key
#[derive(Debug, Args)]
pub struct Build {
    /// A model, or the feature service of one.
    #[arg(value_name = "SERVICE_OR_MODEL")]
    pub target: String,
    /// Output directory.
    #[arg(short, long, value_name = "DIR", default_value = "dist")]
    pub output: PathBuf,
    /// The snapshot: a path, an id or unique prefix, or a ref.
    #[arg(long, value_name = "S", default_value = LATEST)]
    pub snapshot: String,
    /// Print the manifest on stdout.
    #[arg(long)]
    pub json: bool,
    /// Sign both artifacts with this key (from `verge keygen`): writes
    /// bundle.sig and snapshot.sig, and the signatures into manifest.json.
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
}

impl Build {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// No such model or service, no trained bundle or materialized snapshot, a
    /// pair that does not fit, or a failed write.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let pair = EdgePair::resolve(&ctx.repository(), &self.target, &self.snapshot)?;
        let key = self
            .sign_key
            .as_deref()
            .map(keys::read_key_file)
            .transpose()?;
        let manifest = pair.write_dir(&self.output, key.as_ref())?;
        if self.json {
            print_json(&manifest)?;
        }
        ctx.note(&format!(
            "Wrote {} (bundle {} for {}, {} bytes; snapshot {}, {} bytes).",
            self.output.display(),
            pair.pair.bundle.short(),
            pair.contents.describe(),
            pair.bundle_bytes.len(),
            pair.pair.snapshot.short(),
            pair.snapshot_bytes.len()
        ));
        Ok(ExitStatus::Success)
    }
}
