//! `verge build`: the bundle + snapshot pair an edge target loads, in one directory.
//!
//! Output (`dist/` by default), each file written atomically:
//!
//! | file | holds |
//! |---|---|
//! | `bundle.bin` | the model bundle, byte for byte as stored |
//! | `snapshot.bin` | the snapshot, byte for byte as stored |
//! | `manifest.json` | ids, registry ids, model, service, sizes, window, format version |
//!
//! The pair is checked with [`Predictor::new`](verge_core::online::Predictor::new)
//! before anything is written, so a worker never receives a pair that cannot serve.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::json;
use verge_core::artifact::FORMAT_VERSION;

use super::get_online_features::{load_bundle, load_snapshot, locate, model_ref_for, predictor};
use super::output::print_json;
use super::{Ctx, ExitStatus};
use crate::artifacts::ArtifactStore;
use crate::materialize::LATEST;
use crate::store::atomic;

/// Write the bundle + snapshot pair an edge target loads.
///
/// SERVICE_OR_MODEL is a model name (its bundle is the `model/<name>` ref that
/// `verge train` moves) or a feature service (the model that uses it). The
/// snapshot is `snapshot/latest` unless --snapshot says otherwise. Writes
/// DIR/bundle.bin, DIR/snapshot.bin and DIR/manifest.json after checking that
/// the two fit together.
///
/// Examples:
///   verge build surgical_lesion
///   verge build surgery_v1 -o worker/assets
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
}

impl Build {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// No such model or service, no trained bundle or materialized snapshot, a
    /// pair that does not fit, or a failed write.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let store = ArtifactStore::open(&ctx.repo);
        let model_ref = format!("model/{}", self.target);
        let bundle_ref = if store.get_ref(&model_ref).ok().flatten().is_some() {
            model_ref
        } else {
            model_ref_for(ctx, &self.target).with_context(|| {
                format!(
                    "`{}` is neither a trained model (no ref {model_ref}; run `verge train {}`) nor a feature service a model uses",
                    self.target, self.target
                )
            })?
        };
        let bundle_path = locate(ctx, &bundle_ref, "bundle")
            .with_context(|| format!("run `verge train` for {bundle_ref}"))?;
        let snapshot_path = locate(ctx, &self.snapshot, "snapshot")?;
        let bundle = load_bundle(ctx, &bundle_path.display().to_string())?;
        let snapshot = load_snapshot(ctx, &snapshot_path.display().to_string())?;
        if snapshot.meta().shard_count > 1 {
            bail!(
                "snapshot {} is shard {} of {}; an edge bundle needs one whole snapshot: materialize without --shards",
                snapshot.id().short(),
                snapshot.meta().shard_index,
                snapshot.meta().shard_count
            );
        }
        let contents = bundle.contents().clone();
        let meta = snapshot.meta().clone();
        let (bundle_id, snapshot_id) = (bundle.id(), snapshot.id());
        let bundle_bytes = fs::read(&bundle_path)
            .with_context(|| format!("cannot read {}", bundle_path.display()))?;
        let snapshot_bytes = snapshot.as_bytes().to_vec();
        predictor(bundle, snapshot)?;

        fs::create_dir_all(&self.output)
            .with_context(|| format!("cannot create {}", self.output.display()))?;
        let manifest = json!({
            "format_version": FORMAT_VERSION,
            "verge_version": env!("CARGO_PKG_VERSION"),
            "model": contents.model,
            "feature_service": contents.service,
            "bundle": {
                "file": "bundle.bin",
                "id": bundle_id.to_string(),
                "registry_id": contents.registry_id.to_string(),
                "bytes": bundle_bytes.len(),
            },
            "snapshot": {
                "file": "snapshot.bin",
                "id": snapshot_id.to_string(),
                "registry_id": meta.registry_id.to_string(),
                "bytes": snapshot_bytes.len(),
                "window_start": meta.window_start.to_rfc3339(),
                "window_end": meta.window_end.to_rfc3339(),
                "views": meta.views.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
            },
        });
        let write = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
            let path = self.output.join(name);
            atomic::replace(&path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))
        };
        write("bundle.bin", &bundle_bytes)?;
        write("snapshot.bin", &snapshot_bytes)?;
        // The manifest last: a reader that finds it finds the files it names.
        let mut text = serde_json::to_vec_pretty(&manifest)?;
        text.push(b'\n');
        write("manifest.json", &text)?;
        if self.json {
            print_json(&manifest)?;
        }
        ctx.note(&format!(
            "Wrote {} (bundle {} for model `{}`, {} bytes; snapshot {}, {} bytes).",
            self.output.display(),
            bundle_id.short(),
            contents.model,
            bundle_bytes.len(),
            snapshot_id.short(),
            snapshot_bytes.len()
        ));
        Ok(ExitStatus::Success)
    }
}
