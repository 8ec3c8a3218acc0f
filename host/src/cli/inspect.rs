//! `verge inspect`: what an artifact file holds, or exactly why it cannot be read.
//!
//! The header is read first without hashing ([`Header::peek`]) so even a damaged
//! file shows its kind, version and claimed id; then the whole artifact is
//! loaded with every check the edge runs. A failed check is reported with the
//! core's own error (truncation, bad magic, unknown version, hash mismatch,
//! malformed structure) and exit code 2.

use std::fs;

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value as Json, json};
use verge_core::ContentId;
use verge_core::api::value_to_json;
use verge_core::artifact::{ArtifactKind, Bundle, HEADER_LEN, Header, ServiceFeature, Snapshot};
use verge_core::model::Estimator;
use verge_core::registry::RegistryVersion;

use super::output::print_json;
use super::{Ctx, ExitStatus};
use verge_host::artifacts::{ArtifactStore, kind_of};

/// Show an artifact's header, ids, registry version, sizes and contents.
///
/// Bundles: model, feature service, features, selected features, estimator,
/// classes, training metadata. Snapshots: window, shard, and per view the rows,
/// join keys and fields. Registry versions: parent, time, message, object counts.
/// A damaged file is reported with the specific error (exit code 2).
///
/// Examples:
///   verge inspect dist/bundle.bin
///   verge inspect snapshot/latest --json
#[derive(Debug, Args)]
pub struct Inspect {
    /// A file, an artifact id (or unique prefix), or a ref.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

impl Inspect {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// An unreadable file, or an artifact that fails a check (after printing what
    /// could be read).
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let path = ArtifactStore::open(&ctx.repo).locate(&self.file)?;
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let shown = path.display().to_string();
        let kind = kind_of(&bytes).with_context(|| format!("{shown} is not a verge artifact"))?;
        let mut report = json!({
            "file": shown,
            "kind": kind.name(),
            "bytes": bytes.len(),
        });
        if kind == ArtifactKind::Registry {
            // Registry objects carry a short header of their own; their id is the
            // hash of the whole file.
            report["id"] = Json::String(ContentId::of(&bytes).to_string());
        } else {
            let header =
                Header::peek(&bytes, kind).with_context(|| format!("{shown}: bad header"))?;
            report["format_version"] = json!(header.version);
            report["id"] = Json::String(header.id.to_string());
            report["payload_bytes"] = json!(header.payload_len);
        }
        let loaded = match kind {
            ArtifactKind::Bundle => Bundle::load(&bytes).map(|b| bundle_json(&b)),
            ArtifactKind::Snapshot => Snapshot::load(bytes.clone()).map(|s| snapshot_json(&s)),
            ArtifactKind::Registry => {
                RegistryVersion::from_bytes(&bytes).map(|v| registry_json(&v))
            }
        };
        let details = match loaded {
            Ok(d) => d,
            Err(e) => {
                // Show what the header says, then fail with the precise reason.
                self.print(&report)?;
                return Err(anyhow::Error::new(e))
                    .with_context(|| format!("{shown}: the {} is damaged", kind.name()));
            }
        };
        if let (Json::Object(r), Json::Object(d)) = (&mut report, details) {
            r.extend(d);
        }
        self.print(&report)?;
        Ok(ExitStatus::Success)
    }

    fn print(&self, report: &Json) -> anyhow::Result<()> {
        if self.json {
            return print_json(report);
        }
        let mut out = std::io::stdout().lock();
        write_text(&mut out, "", report)?;
        Ok(())
    }
}

/// Indented `key: value` lines; arrays of scalars on one line.
fn write_text(out: &mut impl std::io::Write, indent: &str, value: &Json) -> std::io::Result<()> {
    let Json::Object(map) = value else {
        return writeln!(out, "{indent}{value}");
    };
    for (k, v) in map {
        match v {
            Json::Object(_) => {
                writeln!(out, "{indent}{k}:")?;
                write_text(out, &format!("{indent}  "), v)?;
            }
            Json::Array(items) if items.iter().any(|i| i.is_object()) => {
                writeln!(out, "{indent}{k}:")?;
                for item in items {
                    writeln!(out, "{indent}  -")?;
                    write_text(out, &format!("{indent}    "), item)?;
                }
            }
            Json::Array(items) => {
                let parts: Vec<String> = items.iter().map(scalar).collect();
                writeln!(out, "{indent}{k}: {}", parts.join(", "))?;
            }
            other => writeln!(out, "{indent}{k}: {}", scalar(other))?,
        }
    }
    Ok(())
}

fn scalar(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn bundle_json(bundle: &Bundle) -> Json {
    let c = bundle.contents();
    let mut out = json!({
        "registry_id": c.registry_id.to_string(),
        "model": c.model_name(),
        "feature_service": c.service,
        "entity_keys": c.entity_keys.iter().map(|k| format!("{} ({})", k.name, k.dtype)).collect::<Vec<_>>(),
        "request_fields": c.request.iter().map(|k| format!("{} ({})", k.name, k.dtype)).collect::<Vec<_>>(),
        "features": c.features.iter().map(|f| match f {
            ServiceFeature::View { name, dtype, .. } => format!("{name} ({dtype})"),
            ServiceFeature::OnDemand { name, dtype, .. } => format!("{name} ({dtype}, on demand)"),
        }).collect::<Vec<_>>(),
        "views": c.views.iter().map(|v| json!({
            "name": v.name,
            "fingerprint": v.fingerprint.to_string(),
            "ttl_seconds": v.ttl.as_micros() / 1_000_000,
        })).collect::<Vec<_>>(),
        "selected_features": null,
        "estimator": null,
        "classes": null,
        "training": null,
    });
    // A feature bundle has no model: the model's fields stay null.
    if let Some(m) = &c.model {
        let pipeline = &m.pipeline;
        let (estimator, classes) = match pipeline.estimator() {
            Estimator::GaussianNb(_) => ("gaussian_nb", true),
            Estimator::LogisticRegression(_) => ("logistic_regression", true),
            Estimator::LinearRegression(_) => ("linear_regression", false),
            Estimator::TreeEnsemble(m) => (m.kind(), m.is_classifier()),
        };
        let classes = classes
            .then(|| pipeline.estimator().classes())
            .flatten()
            .map(|cs| cs.iter().map(value_to_json).collect::<Vec<_>>());
        out["selected_features"] = json!(pipeline.selected_names());
        out["estimator"] = json!(estimator);
        out["classes"] = json!(classes);
        out["training"] = json!({
            "rows": m.training.rows,
            "label": m.training.label,
            "data_hash": m.training.data_hash.to_string(),
            "metrics": m.training.metrics.iter().map(|(k, v)| json!({ "name": k, "value": v })).collect::<Vec<_>>(),
            "trained_with": m.training.trained_with,
            "trained_at": m.training.trained_at.to_rfc3339(),
        });
    }
    out
}

fn snapshot_json(snapshot: &Snapshot) -> Json {
    let m = snapshot.meta();
    json!({
        "registry_id": m.registry_id.to_string(),
        "window_start": m.window_start.to_rfc3339(),
        "window_end": m.window_end.to_rfc3339(),
        "shard_index": m.shard_index,
        "shard_count": m.shard_count,
        "views": m.views.iter().map(|v| json!({
            "name": v.name,
            "rows": v.rows,
            "fingerprint": v.fingerprint.to_string(),
            "ttl_seconds": v.ttl.as_micros() / 1_000_000,
            "join_keys": v.join_keys.iter().map(|k| format!("{} ({})", k.name, k.dtype)).collect::<Vec<_>>(),
            "fields": v.fields.iter().map(|k| format!("{} ({})", k.name, k.dtype)).collect::<Vec<_>>(),
            "created_timestamps": v.has_created,
        })).collect::<Vec<_>>(),
        "header_bytes": HEADER_LEN,
    })
}

fn registry_json(v: &RegistryVersion) -> Json {
    let d = &v.definitions;
    json!({
        "parent": v.parent.map(|p| p.to_string()),
        "applied_at": v.applied_at.to_rfc3339(),
        "message": v.message,
        "project": d.project,
        "entities": d.entities.len(),
        "sources": d.sources.len(),
        "feature_views": d.feature_views.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        "on_demand_views": d.on_demand_views.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        "feature_services": d.feature_services.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        "models": d.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
    })
}
