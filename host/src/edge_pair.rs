//! The bundle + snapshot pair an edge target loads: found in a repository,
//! checked to serve together, and written as one directory (`verge build`,
//! `verge run`'s build step) or published (`verge publish`).
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
use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::{Value as Json, json};
use verge_core::artifact::manifest::PublishedPair;
use verge_core::artifact::signature::SigningKey;
use verge_core::artifact::{Bundle, BundleContents, FORMAT_VERSION, SnapshotMeta};

use crate::publish::{sign_pair, signature_file_text};
use crate::resolve::{Repository, Wanted, pair_predictor};
use crate::store::atomic;

/// A checked bundle + snapshot pair from the repository, ready for the edge.
#[derive(Debug, Clone)]
pub struct EdgePair {
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
    pub fn resolve(repo: &Repository, target: &str, snapshot: &str) -> anyhow::Result<EdgePair> {
        EdgePair::resolve_inner(repo, target, snapshot, false)
    }

    /// [`EdgePair::resolve`] over one shard of a set, which a publish of the
    /// whole set ([`crate::publish::shards`]) pairs with every bundle.
    ///
    /// # Errors
    ///
    /// As [`EdgePair::resolve`], but for a shard.
    pub fn resolve_shard(
        repo: &Repository,
        target: &str,
        snapshot: &str,
    ) -> anyhow::Result<EdgePair> {
        EdgePair::resolve_inner(repo, target, snapshot, true)
    }

    fn resolve_inner(
        repo: &Repository,
        target: &str,
        snapshot: &str,
        shard: bool,
    ) -> anyhow::Result<EdgePair> {
        let bundle_ref = repo.bundle_ref_for(target)?;
        let (bundle_path, bundle_bytes) = repo
            .read(&bundle_ref, Wanted::Bundle)
            .with_context(|| format!("run `verge train` for {bundle_ref}"))?;
        let bundle = Bundle::load(&bundle_bytes)
            .with_context(|| format!("loading bundle {}", bundle_path.display()))?;
        let snapshot = repo.load_snapshot(snapshot)?;
        if snapshot.meta().shard_count > 1 && !shard {
            bail!(
                "snapshot {} is shard {} of {}; an edge bundle needs one whole snapshot: materialize without --shards, or publish the whole set (`verge publish --to DIR`)",
                snapshot.id().short(),
                snapshot.meta().shard_index,
                snapshot.meta().shard_count
            );
        }
        let contents = bundle.contents().clone();
        let meta = snapshot.meta().clone();
        let pair = PublishedPair::unsigned(bundle.id(), snapshot.id());
        let snapshot_bytes = snapshot.as_bytes().to_vec();
        pair_predictor(bundle, snapshot)?;
        Ok(EdgePair {
            bundle_bytes,
            snapshot_bytes,
            contents,
            meta,
            pair,
        })
    }

    /// Writes the pair into `dir` (created if needed): `bundle.bin`,
    /// `snapshot.bin`, with `sign_key` their `.sig` files, and `manifest.json`
    /// last, so a reader that finds the manifest finds the files it names.
    /// Returns the manifest.
    ///
    /// # Errors
    ///
    /// When a file cannot be written.
    pub fn write_dir(&self, dir: &Path, sign_key: Option<&SigningKey>) -> anyhow::Result<Json> {
        let EdgePair {
            bundle_bytes,
            snapshot_bytes,
            contents,
            meta,
            pair,
        } = self;
        let pair = match sign_key {
            Some(key) => sign_pair(pair.clone(), key),
            None => pair.clone(),
        };
        let (bundle_id, snapshot_id) = (pair.bundle, pair.snapshot);
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let manifest = json!({
            "format_version": FORMAT_VERSION,
            "verge_version": env!("CARGO_PKG_VERSION"),
            "model": contents.model_name(),
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
            let path = dir.join(name);
            atomic::replace(&path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))
        };
        write("bundle.bin", bundle_bytes)?;
        write("snapshot.bin", snapshot_bytes)?;
        for (name, sig) in [
            ("bundle.sig", pair.bundle_signature),
            ("snapshot.sig", pair.snapshot_signature),
        ] {
            if let Some(sig) = sig {
                write(name, signature_file_text(&sig).as_bytes())?;
            }
        }
        // The manifest last: a reader that finds it finds the files it names.
        let mut text = serde_json::to_vec_pretty(&manifest).context("encoding manifest.json")?;
        text.push(b'\n');
        write("manifest.json", &text)?;
        Ok(manifest)
    }
}
