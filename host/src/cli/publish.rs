//! `verge publish`: put a checked bundle + snapshot pair where edge runtimes
//! read it — a directory in the publish layout (`--to`), a running worker's or
//! `verge serve`'s admin endpoint (`--url`), or both — and roll back.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::{Value as Json, json};
use verge_core::artifact::manifest::{PublishManifest, PublishedPair};
use verge_core::artifact::signature::PublicKey;

use super::output::print_json;
use super::{Ctx, ExitStatus};
use verge_host::edge_pair::EdgePair;
use verge_host::materialize::LATEST;
use verge_host::publish::push::{self, Endpoint};
use verge_host::publish::{PublishDir, keys, sign_pair};

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
/// --rollback swaps the current pair with `previous` (in DIR, or through
/// `POST /admin/rollback`); rolling back twice rolls forward.
///
/// Examples:
///   verge publish surgical_lesion --to site
///   verge publish surgical_lesion --to site --sign-key release.key
///   VERGE_ADMIN_TOKEN=… verge publish surgical_lesion --url http://127.0.0.1:8787
///   verge publish --rollback --to site
#[derive(Debug, Args)]
pub struct Publish {
    /// A model, or the feature service of one (not with --rollback).
    #[arg(
        value_name = "SERVICE_OR_MODEL",
        required_unless_present = "rollback",
        conflicts_with = "rollback"
    )]
    pub target: Option<String>,
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
        json!({"bundle_id": p.bundle.to_string(), "snapshot_id": p.snapshot.to_string(), "signed": p.bundle_signature.is_some()})
    })
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
            let key = match &self.public_key {
                Some(hex) => Some(PublicKey::parse_hex(hex).context(
                    "--public-key must be 64 hex digits of an ed25519 public key (as `verge keygen` prints)",
                )?),
                None => None,
            };
            if let Some(dir) = &self.to {
                let m = PublishDir::new(dir).rollback(key.as_ref())?;
                ctx.note(&format!(
                    "Rolled {} back to bundle {} + snapshot {}.",
                    dir.display(),
                    m.current.bundle.short(),
                    m.current.snapshot.short()
                ));
                report.insert("to".into(), manifest_json(&m));
            }
            if let Some((endpoint, token)) = &remote {
                let answer = push::rollback(endpoint, token)?;
                ctx.note(&format!(
                    "{} rolled back.",
                    self.url.as_deref().unwrap_or("")
                ));
                report.insert("url".into(), answer);
            }
        } else {
            let target = self
                .target
                .as_deref()
                .context("name the model (or feature service) to publish")?;
            let edge = EdgePair::resolve(&ctx.repository(), target, &self.snapshot)?;
            let pair = match &self.sign_key {
                Some(path) => sign_pair(edge.pair, &keys::read_key_file(path)?),
                None => edge.pair,
            };
            if let Some(dir) = &self.to {
                let m =
                    PublishDir::new(dir).publish(&edge.bundle_bytes, &edge.snapshot_bytes, pair)?;
                ctx.note(&format!(
                    "Published bundle {} ({}) + snapshot {}{} to {}{}.",
                    pair.bundle.short(),
                    edge.contents.describe(),
                    pair.snapshot.short(),
                    if pair.bundle_signature.is_some() {
                        ", signed,"
                    } else {
                        ""
                    },
                    dir.display(),
                    m.previous.map_or(String::new(), |p| format!(
                        " (previous: {} + {})",
                        p.bundle.short(),
                        p.snapshot.short()
                    ))
                ));
                report.insert("to".into(), manifest_json(&m));
            }
            if let Some((endpoint, token)) = &remote {
                let answer = push::push(
                    endpoint,
                    token,
                    &edge.bundle_bytes,
                    &edge.snapshot_bytes,
                    &pair,
                )?;
                ctx.note(&format!(
                    "Pushed bundle {} + snapshot {} to {}.",
                    pair.bundle.short(),
                    pair.snapshot.short(),
                    self.url.as_deref().unwrap_or("")
                ));
                report.insert("url".into(), answer);
            }
        }
        if self.json {
            print_json(&Json::Object(report))?;
        }
        Ok(ExitStatus::Success)
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
