//! `verge verify`: proves the edge computes what the host computes, with
//! [`verge_host::verify::run`].

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use verge_host::materialize::LATEST;
use verge_host::resolve::Wanted;
use verge_host::verify::{Entities, Outcome, Verification};
use verge_host::wasm_runtime::WasmModule;

use super::get_online_features::read_time;
use super::output::{print_line, spinner};
use super::{Ctx, ExitStatus};

/// Check that the Wasm module answers exactly as the native core.
///
/// Runs every entity through `POST /predict` and `POST /get-online-features`
/// (one at a time and in batches), natively and in the raw ABI module under
/// wasmtime, and demands byte-identical JSON; for models keyed by one int64 it
/// also compares the binary batch path's probabilities bit for bit. Exit 0 when
/// everything matches, 1 naming the first difference.
///
/// Entities: every key in the snapshot (default), a random `--sample N` of them,
/// or the join-key columns of `--entities FILE` (CSV or Parquet; columns named
/// like request fields are sent as request data). A few keys the snapshot does
/// not hold are always added. The module is the one built into verge
/// (`verge --version` prints its id), `--wasm FILE`, or `$VERGE_WASM`.
///
/// Examples:
///   verge verify --bundle model/surgical_lesion
///   verge verify --bundle model/surgical_lesion --snapshot snapshot/latest --sample 200 --seed 7
///   verge verify --bundle 3fa1 --entities entities.csv --now 2021-07-05T12:00:00Z
#[derive(Debug, Args)]
pub struct Verify {
    /// The model bundle: a path, an id or unique prefix, or a ref (`model/NAME`).
    #[arg(long, value_name = "B")]
    pub bundle: String,
    /// The snapshot: a path, an id or unique prefix, or a ref.
    #[arg(long, value_name = "S", default_value = LATEST)]
    pub snapshot: String,
    /// Entity table (.csv or .parquet) whose join-key columns to check.
    #[arg(long, value_name = "FILE", conflicts_with = "sample")]
    pub entities: Option<PathBuf>,
    /// Check N keys drawn at random from the snapshot instead of all of them.
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// Evaluate TTLs at this time (RFC 3339, `now`, `now-1d`); default: the
    /// snapshot's window end, so reruns give the same answers.
    #[arg(long, value_name = "TS", allow_hyphen_values = true)]
    pub now: Option<String>,
    /// Seed for `--sample` and the generated request data.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// The Wasm module (default: `$VERGE_WASM`, else the one built into verge).
    #[arg(long, value_name = "FILE")]
    pub wasm: Option<PathBuf>,
}

impl Verify {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// Unreadable or incompatible artifacts, an unreadable Wasm module or
    /// entity table.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let repo = ctx.repository();
        let (_, bundle) = repo.read(&self.bundle, Wanted::Bundle)?;
        let (_, snapshot) = repo.read(&self.snapshot, Wanted::Snapshot)?;
        let now = self
            .now
            .as_deref()
            .map(|t| read_time(Some(t)))
            .transpose()?;
        let (module, source) = match &self.wasm {
            Some(path) => (WasmModule::load(path)?, path.display().to_string()),
            None => (WasmModule::configured()?, WasmModule::configured_source()),
        };
        let entities = match &self.entities {
            Some(path) => Entities::File(path.clone()),
            None => Entities::Snapshot {
                sample: self.sample,
                seed: self.seed,
            },
        };
        let progress = spinner(ctx.quiet, "checking natively and under wasmtime");
        let job = Verification {
            bundle: &bundle,
            snapshot: &snapshot,
            entities,
            now,
        };
        let Outcome { report, now } = verge_host::verify::run(&module, &job)?;
        if let Some(p) = progress {
            p.finish_and_clear();
        }
        if self.json {
            let summary = json!({
                "rows": report.rows,
                "requests": report.requests,
                "mismatches": report.mismatches,
                "largest_difference": report.largest_difference,
                "first_difference": report.first,
                "now": now.to_rfc3339(),
                "wasm": source,
            });
            print_line(&summary)?;
        } else {
            let mut out = format!(
                "checked {} entity rows in {} requests, natively and under wasmtime ({source}): {} mismatches, largest difference {:e}",
                report.rows, report.requests, report.mismatches, report.largest_difference
            );
            if let Some(first) = &report.first {
                let _ = write!(out, "\nfirst difference: {first}");
            }
            print_line(&out)?;
        }
        Ok(if report.mismatches == 0 {
            ExitStatus::Success
        } else {
            ExitStatus::CheckFailed
        })
    }
}
