//! `verge build`: the bundle + snapshot pair an edge target loads, in one directory.
//!
//! Output (`dist/` by default), each file written atomically:
//!
//! | file | holds |
//! |---|---|
//! | `bundle.bin` | the model bundle, byte for byte as stored |
//! | `snapshot.bin` | the snapshot, byte for byte as stored |
//! | `manifest.json` | ids, registry ids, model, service, sizes, window, format version, signatures |
//! | `bundle.sig`, `snapshot.sig` | with `--sign-key`: each artifact's ed25519 signature (hex) |
//!
//! The pair is checked with [`Predictor::new`](verge_core::online::Predictor::new)
//! before anything is written, so a worker never receives a pair that cannot serve.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::json;
use verge_core::artifact::manifest::PublishedPair;
use verge_core::artifact::{BundleContents, FORMAT_VERSION, SnapshotMeta};

use super::get_online_features::{load_bundle, load_snapshot, locate, model_ref_for, predictor};
use super::output::print_json;
use super::{Ctx, ExitStatus};
use crate::artifacts::ArtifactStore;
use crate::materialize::LATEST;
use crate::publish::{keys, sign_pair, signature_file_text};
use crate::store::atomic;

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

/// A checked bundle + snapshot pair from the repository, ready for the edge.
pub(crate) struct EdgePair {
    /// The bundle's bytes, as stored.
    pub bundle_bytes: Vec<u8>,
    /// The snapshot's bytes, as stored.
    pub snapshot_bytes: Vec<u8>,
    /// What the bundle holds.
    pub contents: BundleContents,
    /// The snapshot's metadata.
    pub meta: SnapshotMeta,
    /// Their ids (unsigned).
    pub pair: PublishedPair,
}

impl EdgePair {
    /// Finds the bundle of `target` (a model, or the feature service of one)
    /// and the snapshot `snapshot`, and checks that they serve together.
    ///
    /// # Errors
    ///
    /// No such model or service, no trained bundle or materialized snapshot, a
    /// sharded snapshot, or a pair that does not fit.
    pub(crate) fn resolve(ctx: &Ctx, target: &str, snapshot: &str) -> anyhow::Result<EdgePair> {
        let store = ArtifactStore::open(&ctx.repo);
        let model_ref = format!("model/{target}");
        let bundle_ref = if store.get_ref(&model_ref).ok().flatten().is_some() {
            model_ref
        } else {
            model_ref_for(ctx, target).with_context(|| {
                format!(
                    "`{target}` is neither a trained model (no ref {model_ref}; run `verge train {target}`) nor a feature service a model uses"
                )
            })?
        };
        let bundle_path = locate(ctx, &bundle_ref, "bundle")
            .with_context(|| format!("run `verge train` for {bundle_ref}"))?;
        let snapshot_path = locate(ctx, snapshot, "snapshot")?;
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
        let pair = PublishedPair::unsigned(bundle.id(), snapshot.id());
        let bundle_bytes = fs::read(&bundle_path)
            .with_context(|| format!("cannot read {}", bundle_path.display()))?;
        let snapshot_bytes = snapshot.as_bytes().to_vec();
        predictor(bundle, snapshot)?;
        Ok(EdgePair {
            bundle_bytes,
            snapshot_bytes,
            contents,
            meta,
            pair,
        })
    }
}

impl Build {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// No such model or service, no trained bundle or materialized snapshot, a
    /// pair that does not fit, or a failed write.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let EdgePair {
            bundle_bytes,
            snapshot_bytes,
            contents,
            meta,
            pair,
        } = EdgePair::resolve(ctx, &self.target, &self.snapshot)?;
        let (bundle_id, snapshot_id) = (pair.bundle, pair.snapshot);
        let pair = match &self.sign_key {
            Some(path) => sign_pair(pair, &keys::read_key_file(path)?),
            None => pair,
        };

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
                "signature": pair.bundle_signature.map(|s| s.to_string()),
            },
            "snapshot": {
                "file": "snapshot.bin",
                "id": snapshot_id.to_string(),
                "registry_id": meta.registry_id.to_string(),
                "bytes": snapshot_bytes.len(),
                "signature": pair.snapshot_signature.map(|s| s.to_string()),
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
        for (name, sig) in [
            ("bundle.sig", pair.bundle_signature),
            ("snapshot.sig", pair.snapshot_signature),
        ] {
            if let Some(sig) = sig {
                write(name, signature_file_text(&sig).as_bytes())?;
            }
        }
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
