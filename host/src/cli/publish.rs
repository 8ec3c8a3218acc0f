//! `verge publish`: put a checked bundle + snapshot pair where edge runtimes
//! read it — a directory in the publish layout (`--to`), a running worker's or
//! `verge serve`'s admin endpoint (`--url`), or both — and roll back.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::{Value as Json, json};
use verge_core::artifact::manifest::{PublishManifest, PublishedBundle, PublishedPair};
use verge_core::artifact::signature::PublicKey;

use super::output::print_json;
use super::{Ctx, ExitStatus};
use verge_core::artifact::Snapshot;
use verge_core::online::{Layers, compact};
use verge_host::edge_pair::EdgePair;
use verge_host::materialize::{LATEST, shard_ref};
use verge_host::publish::delta::{PublishConfig, Shipped, plan};
use verge_host::publish::push::{self, Endpoint};
use verge_host::publish::{PublishDir, keys, shards, sign_pair};
use verge_host::push::delta::layers;

/// Publish a model's bundle and a snapshot for the edge, or roll back.
///
/// With --to DIR, writes the layout the worker and `verge serve --from` read
/// (docs/publish.md): bundles/<id>.bin and snapshots/<id>.bin (content-addressed,
/// never rewritten), their .sig files when signed, then manifest.json naming the
/// new pair and keeping the replaced one as `previous`. Every file is written
/// atomically, the manifest last, so a reader (or a publish killed midway) never
/// leaves a half-published pair. With --url, pushes the pair to a running
/// worker's or `verge serve`'s `PUT /admin/artifacts`; the bearer token is read
/// from the environment variable --token-env names, never from the command line.
/// The receiver checks hashes, signatures and compatibility before swapping, and
/// keeps serving the old pair if anything fails.
///
/// With --to, when DIR already serves the same bundles, only the keys whose
/// row changed since (by `materialize`, or rows pushed with `verge push`) are
/// shipped, as a delta snapshot the edge layers over the published one; a chain
/// longer than --max-deltas is compacted into a new base (docs/publish.md).
/// --url always sends one whole snapshot, pushed rows folded in.
///
/// --rollback swaps the current pair with `previous` (in DIR, or through
/// `POST /admin/rollback`); rolling back twice rolls forward.
///
/// Examples:
///   verge publish surgical_lesion --to site
///   verge publish surgical_lesion driver_activity --to site   # a deployment: two bundles, one snapshot
///   verge publish surgical_lesion --to site --sign-key release.key
///   VERGE_ADMIN_TOKEN=… verge publish surgical_lesion --url http://127.0.0.1:8787
///   verge publish --rollback --to site
#[derive(Debug, Args)]
pub struct Publish {
    /// Models or feature services (not with --rollback): one publishes a
    /// pair, more a deployment, every bundle over the one snapshot.
    #[arg(
        value_name = "SERVICE_OR_MODEL",
        required_unless_present = "rollback",
        conflicts_with = "rollback"
    )]
    pub targets: Vec<String>,
    /// The publish directory to write (created if needed).
    #[arg(long, value_name = "DIR", required_unless_present = "url")]
    pub to: Option<PathBuf>,
    /// A running worker's or `verge serve`'s base URL (http://HOST:PORT).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The environment variable holding the admin bearer token for --url.
    #[arg(
        long,
        value_name = "VAR",
        default_value = "VERGE_ADMIN_TOKEN",
        requires = "url"
    )]
    pub token_env: String,
    /// Push to a non-loopback --url over plain HTTP (the token travels in clear text).
    #[arg(long, requires = "url")]
    pub allow_insecure_http: bool,
    /// Sign both artifacts with this key (from `verge keygen`).
    #[arg(long, value_name = "FILE", conflicts_with = "rollback")]
    pub sign_key: Option<PathBuf>,
    /// The snapshot: a path, an id or unique prefix, or a ref.
    #[arg(long, value_name = "S", default_value = LATEST, conflicts_with = "rollback")]
    pub snapshot: String,
    /// With --to: the longest chain of delta snapshots over one base
    /// (default: `[publish] max_deltas` in verge.toml, else 8; 0: always a
    /// whole snapshot). A publish that would make the chain longer ships a
    /// new base instead.
    #[arg(long, value_name = "N", conflicts_with = "rollback")]
    pub max_deltas: Option<usize>,
    /// Serve the previous pair again instead of publishing.
    #[arg(long)]
    pub rollback: bool,
    /// With --rollback --to: also require the previous pair's signatures to
    /// verify with this public key (64 hex digits).
    #[arg(long, value_name = "HEX", requires = "rollback")]
    pub public_key: Option<String>,
    /// Print what was published as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn pair_json(pair: Option<&PublishedPair>) -> Json {
    pair.map_or(Json::Null, |p| {
        let ids: Vec<String> = p.bundles().map(|b| b.id.to_string()).collect();
        let deltas: Vec<String> = p.deltas.iter().map(|d| d.id.to_string()).collect();
        let mut entry = json!({"bundle_id": p.bundle.to_string(), "bundle_ids": ids, "snapshot_id": p.snapshot.to_string(), "delta_ids": deltas, "signed": p.bundle_signature.is_some()});
        if !p.shards.is_empty() {
            entry["shard_ids"] = p.shards.iter().map(|s| s.id.to_string()).collect();
        }
        entry
    })
}

/// `bundle A + bundle B + snapshot S`, short ids, for notes.
fn pair_text(pair: &PublishedPair) -> String {
    let mut parts: Vec<String> = pair
        .bundles()
        .map(|b| format!("bundle {}", b.id.short()))
        .collect();
    parts.push(format!("snapshot {}", pair.snapshot.short()));
    parts.extend(
        pair.deltas
            .iter()
            .map(|d| format!("delta {}", d.id.short())),
    );
    parts.join(" + ")
}

/// A publish's note: what it shipped to the directory.
fn shipped_text(shipped: &Shipped) -> String {
    match shipped {
        Shipped::Unchanged => "already published, nothing changed".into(),
        Shipped::Delta { rows } => format!("a delta of {rows} changed row(s)"),
        Shipped::Base { reason } => format!("a new base ({reason})"),
    }
}

fn shipped_json(shipped: &Shipped) -> Json {
    match shipped {
        Shipped::Unchanged => json!({"kind": "unchanged"}),
        Shipped::Delta { rows } => json!({"kind": "delta", "rows": rows}),
        Shipped::Base { reason } => json!({"kind": "base", "reason": reason}),
    }
}

fn manifest_json(m: &PublishManifest) -> Json {
    json!({"published": pair_json(Some(&m.current)), "previous": pair_json(m.previous.as_ref())})
}

impl Publish {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// As `verge build` for finding the pair; a bad key file; an unset token
    /// variable; write failures; a receiver that refuses the pair.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let remote = match &self.url {
            Some(url) => Some((self.endpoint(url)?, self.token()?)),
            None => None,
        };
        let mut report = serde_json::Map::new();
        if self.rollback {
            self.roll_back(ctx, remote.as_ref(), &mut report)?;
        } else {
            self.publish(ctx, remote.as_ref(), &mut report)?;
        }
        if self.json {
            print_json(&Json::Object(report))?;
        }
        Ok(ExitStatus::Success)
    }

    /// `--rollback`: in DIR and/or through the admin endpoint.
    fn roll_back(
        &self,
        ctx: &Ctx,
        remote: Option<&(Endpoint, String)>,
        report: &mut serde_json::Map<String, Json>,
    ) -> anyhow::Result<()> {
        let key = match &self.public_key {
            Some(hex) => Some(PublicKey::parse_hex(hex).context(
                "--public-key must be 64 hex digits of an ed25519 public key (as `verge keygen` prints)",
            )?),
            None => None,
        };
        if let Some(dir) = &self.to {
            let m = PublishDir::new(dir).rollback(key.as_ref())?;
            ctx.note(&format!(
                "Rolled {} back to {}.",
                dir.display(),
                pair_text(&m.current)
            ));
            report.insert("to".into(), manifest_json(&m));
        }
        if let Some((endpoint, token)) = remote {
            let answer = push::rollback(endpoint, token)?;
            ctx.note(&format!(
                "{} rolled back.",
                self.url.as_deref().unwrap_or("")
            ));
            report.insert("url".into(), answer);
        }
        Ok(())
    }

    /// Publishes the targets' bundles over one snapshot: to DIR and/or the
    /// admin endpoint.
    fn publish(
        &self,
        ctx: &Ctx,
        remote: Option<&(Endpoint, String)>,
        report: &mut serde_json::Map<String, Json>,
    ) -> anyhow::Result<()> {
        let repo = ctx.repository();
        if self.snapshot == LATEST
            && let Some(shards) = shards::latest_shards(&repo)?
        {
            return self.publish_shard_set(ctx, remote, report, &repo, &shards);
        }
        let (edges, pair) =
            self.deployment_pair(|target| EdgePair::resolve(&repo, target, &self.snapshot))?;
        let first = &edges[0];
        let bundles: Vec<&[u8]> = edges.iter().map(|e| e.bundle_bytes.as_slice()).collect();
        // Each bundle fits the snapshot; together they must also be told
        // apart by requests (one bundle per model, one definition per service).
        pair.check(
            &bundles,
            first.snapshot_bytes.clone(),
            Vec::<Vec<u8>>::new(),
            None,
        )
        .context("these bundles cannot be served together")?;
        let sign_key = match &self.sign_key {
            Some(path) => Some(keys::read_key_file(path)?),
            None => None,
        };
        let sign = |pair: PublishedPair| match &sign_key {
            Some(key) => sign_pair(pair, key),
            None => pair,
        };
        // What online reads see: the snapshot and the rows pushed since.
        let target = layers(repo.root(), Snapshot::load(first.snapshot_bytes.clone())?)?;
        if let Some(dir) = &self.to {
            let answer = self.publish_to_dir(ctx, dir, &pair, &edges, &target, &sign)?;
            report.insert("to".into(), answer);
        }
        // The admin route takes whole snapshots: pushed rows are folded in.
        let (remote_snapshot, pair) = if remote.is_some() && target.delta_count() > 0 {
            let folded = Snapshot::load(compact(&target)?)?;
            let mut folded_pair = pair.clone();
            folded_pair.snapshot = folded.id();
            (folded.as_bytes().to_vec(), sign(folded_pair))
        } else {
            (first.snapshot_bytes.clone(), sign(pair))
        };
        if let Some((endpoint, token)) = remote {
            // The admin route takes one bundle and a snapshot at a time;
            // each replaces its model's bundle and keeps the others.
            let mut answers = Vec::new();
            for (edge, named) in edges.iter().zip(pair.bundles()) {
                let mut one = PublishedPair::unsigned(named.id, pair.snapshot);
                (one.bundle_signature, one.snapshot_signature) =
                    (named.signature, pair.snapshot_signature);
                answers.push(push::push(
                    endpoint,
                    token,
                    &edge.bundle_bytes,
                    &remote_snapshot,
                    &one,
                )?);
            }
            ctx.note(&format!(
                "Pushed {} to {}.",
                pair_text(&pair),
                self.url.as_deref().unwrap_or("")
            ));
            let answer = if answers.len() == 1 {
                answers.remove(0)
            } else {
                Json::Array(answers)
            };
            report.insert("url".into(), answer);
        }
        Ok(())
    }

    /// `--to DIR`: a delta over what DIR serves when one can be, else a new
    /// base (docs/publish.md, "Delta snapshots"); the report's `to` entry.
    fn publish_to_dir(
        &self,
        ctx: &Ctx,
        dir: &std::path::Path,
        pair: &PublishedPair,
        edges: &[EdgePair],
        target: &Layers,
        sign: &dyn Fn(PublishedPair) -> PublishedPair,
    ) -> anyhow::Result<Json> {
        let bundles: Vec<&[u8]> = edges.iter().map(|e| e.bundle_bytes.as_slice()).collect();
        let served: Vec<String> = edges.iter().map(|e| e.contents.describe()).collect();
        let dir_layout = PublishDir::new(dir);
        let max_deltas = match self.max_deltas {
            Some(n) => n,
            None if ctx.config.exists() => PublishConfig::load(&ctx.config)?.max_deltas,
            None => PublishConfig::default().max_deltas,
        };
        let ids: Vec<_> = pair.bundles().map(|b| b.id).collect();
        let planned = plan(&dir_layout, &ids, target, max_deltas)?;
        let dir_pair = sign(planned.apply(pair.clone()));
        dir_pair
            .check(
                &bundles,
                planned.snapshot.clone(),
                planned.delta_bytes(&dir_layout)?,
                None,
            )
            .context(
                "the published snapshot, its deltas and these bundles do not serve together",
            )?;
        let m = dir_layout.publish(
            &bundles,
            &planned.snapshot,
            &planned.new_deltas,
            dir_pair.clone(),
        )?;
        ctx.note(&format!(
            "Published {} ({}){} to {}: {}{}.",
            pair_text(&dir_pair),
            served.join(", "),
            if dir_pair.bundle_signature.is_some() {
                ", signed,"
            } else {
                ""
            },
            dir.display(),
            shipped_text(&planned.shipped),
            m.previous
                .as_ref()
                .map_or(String::new(), |p| format!(" (previous: {})", pair_text(p)))
        ));
        let mut answer = manifest_json(&m);
        answer["shipped"] = shipped_json(&planned.shipped);
        Ok(answer)
    }

    /// The latest materialization was sharded: `--to DIR` gets every shard
    /// (only those it lacks are written) and a manifest naming them in order.
    fn publish_shard_set(
        &self,
        ctx: &Ctx,
        remote: Option<&(Endpoint, String)>,
        report: &mut serde_json::Map<String, Json>,
        repo: &verge_host::resolve::Repository,
        shards: &[Arc<Snapshot>],
    ) -> anyhow::Result<()> {
        let Some(dir) = &self.to else {
            bail!(
                "the latest snapshot is a set of {} shards, and --url takes one whole snapshot; publish the set with --to DIR (docs/worker.md, \"Sharded deployments\")",
                shards.len()
            );
        };
        if remote.is_some() {
            bail!(
                "--url takes one whole snapshot and the latest is a set of {} shards; publish with --to DIR alone",
                shards.len()
            );
        }
        shards::refuse_pending_pushes(repo.root(), shards)?;
        let (edges, mut pair) =
            self.deployment_pair(|target| EdgePair::resolve_shard(repo, target, &shard_ref(0)))?;
        pair.shards = shards::entries(shards);
        if let Some(path) = &self.sign_key {
            pair = sign_pair(pair, &keys::read_key_file(path)?);
        }
        let bundles: Vec<&[u8]> = edges.iter().map(|e| e.bundle_bytes.as_slice()).collect();
        // The shards were loaded (hashed and indexed) once, by `latest_shards`:
        // pair them with the bundles as they are, without copying or
        // re-reading them.
        let loaded = pair.check_bundles(&bundles, None)?;
        pair.sharded_deployment(loaded, shards.to_vec())
            .context("these bundles and shards cannot be served together")?;
        let rest: Vec<&[u8]> = shards[1..].iter().map(|s| s.as_bytes()).collect();
        let written = shards::new_in(dir, shards);
        let m = PublishDir::new(dir).publish(&bundles, shards[0].as_bytes(), &rest, pair)?;
        ctx.note(&format!(
            "Published {} over {} shards ({written} new) to {}.",
            pair_text(&m.current),
            shards.len(),
            dir.display()
        ));
        let mut answer = manifest_json(&m);
        answer["shipped"] = json!({"kind": "shards", "shards": shards.len(), "written": written});
        report.insert("to".into(), answer);
        Ok(())
    }

    /// Every target's bundle resolved by `resolve`, and the unsigned pair
    /// naming them (the first as `bundle`, the rest as `more_bundles`).
    fn deployment_pair(
        &self,
        resolve: impl Fn(&str) -> anyhow::Result<EdgePair>,
    ) -> anyhow::Result<(Vec<EdgePair>, PublishedPair)> {
        let edges = self
            .targets
            .iter()
            .map(|target| resolve(target))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (first, more) = edges
            .split_first()
            .context("name the model (or feature service) to publish")?;
        let mut pair = first.pair.clone();
        pair.more_bundles = more
            .iter()
            .map(|e| PublishedBundle {
                id: e.pair.bundle,
                signature: None,
            })
            .collect();
        Ok((edges, pair))
    }

    fn endpoint(&self, url: &str) -> anyhow::Result<Endpoint> {
        let endpoint = Endpoint::parse(url)?;
        if !self.allow_insecure_http && !endpoint.is_loopback()? {
            bail!(
                "--url {url} is not a loopback address and the token would cross the network in clear text; tunnel it to 127.0.0.1, or pass --allow-insecure-http"
            );
        }
        Ok(endpoint)
    }

    fn token(&self) -> anyhow::Result<String> {
        match std::env::var(&self.token_env) {
            Ok(token) if !token.is_empty() => Ok(token),
            _ => bail!(
                "the admin token is not set: put it in the environment variable {} (or name another with --token-env)",
                self.token_env
            ),
        }
    }
}
