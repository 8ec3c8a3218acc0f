//! `verge example`: builds the data of the examples that ship with verge.
//!
//! Raw example data (the UCI horse-colic text files) is vendored as published;
//! the source a feature repository reads, and the entity tables that query it,
//! are derived from it by these commands, so nothing in an example is edited by
//! hand and anyone can rebuild it. The logic lives in [`crate::example`].

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use verge_core::Timestamp;

use super::{Ctx, ExitStatus};
use crate::example::horse_colic::{self, Dataset};

/// The command line that rebuilds the horse-colic example's data, shown in `--help`.
const HORSE_COLIC_EXAMPLE: &str = "\
Examples:
  verge -C examples/horse-colic example horse-colic-db \\
      --data data/horse-colic.data --test data/horse-colic.test \\
      -o data/horse_colic.db --entities-out .";

/// Build the data of a bundled example.
// Variants carry no doc comments so each command's own help (with examples) shows.
#[allow(missing_docs)]
#[derive(Debug, Subcommand)]
#[command(after_help = HORSE_COLIC_EXAMPLE)]
pub enum Example {
    HorseColicDb(HorseColicDb),
}

impl Example {
    /// Runs the chosen example command.
    ///
    /// # Errors
    ///
    /// Whatever the command reports.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        match self {
            Example::HorseColicDb(c) => c.run(ctx),
        }
    }
}

/// Convert the UCI horse-colic files into the SQLite table the example reads.
///
/// Writes table `data` with the Flyte example's columns ("surgery", "Age",
/// "Hospital Number", …, "surgical lesion", then "timestamp") and a `split`
/// column (train / test). Every row is kept, repeated hospital numbers included;
/// `?` becomes NULL. Training row i gets event time START + i minutes and test
/// row j START + (training rows + j) minutes, so every test row is later than
/// every training row. The database is replaced atomically.
///
/// With --entities-out DIR, also writes DIR/train_entities.csv and
/// DIR/holdout_entities.csv: `hospital_number,event_timestamp`, one line per
/// labelled row at exactly its event time, so `verge historical` returns that
/// very visit.
#[derive(Debug, Args)]
#[command(after_help = HORSE_COLIC_EXAMPLE)]
pub struct HorseColicDb {
    /// The UCI training file (`horse-colic.data`: 28 fields per row, `?` = missing).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// The UCI test file (`horse-colic.test`), stored after the training rows.
    #[arg(long, value_name = "FILE")]
    pub test: Option<PathBuf>,
    /// The SQLite database to write (replaced if it exists).
    #[arg(short, long, value_name = "DB")]
    pub output: PathBuf,
    /// Also write train_entities.csv (and holdout_entities.csv with --test) here.
    #[arg(long, value_name = "DIR")]
    pub entities_out: Option<PathBuf>,
    /// The event time of the first training row (RFC 3339).
    #[arg(long, value_name = "TIME", default_value = horse_colic::DEFAULT_START)]
    pub start: String,
}

impl HorseColicDb {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// A file cannot be read or parsed (the message names file, line and field),
    /// `--start` is not a timestamp, or an output cannot be written.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let start = Timestamp::parse_rfc3339(&self.start).with_context(|| {
            format!(
                "--start `{}` is not a timestamp; write e.g. {}",
                self.start,
                horse_colic::DEFAULT_START
            )
        })?;
        let train = horse_colic::read_uci(&self.data)?;
        let test = match &self.test {
            Some(path) => horse_colic::read_uci(path)?,
            None => Vec::new(),
        };
        let dataset = Dataset { start, train, test };
        let db = horse_colic::write_db(&dataset, &self.output)?;
        let span = match (db.first, db.last) {
            (Some(first), Some(last)) => {
                format!(", {} .. {}", first.to_rfc3339(), last.to_rfc3339())
            }
            _ => String::new(),
        };
        ctx.note(&format!(
            "Wrote {} (table `{}`): {} training + {} test rows{span}; {} missing values as NULL.",
            self.output.display(),
            horse_colic::TABLE,
            db.train_rows,
            db.test_rows,
            db.nulls,
        ));
        if let Some(dir) = &self.entities_out {
            let entities = horse_colic::write_entities(&dataset, dir)?;
            let holdout = match entities.holdout_rows {
                Some(n) => format!(
                    " and {} ({n} rows)",
                    dir.join(horse_colic::HOLDOUT_ENTITIES).display()
                ),
                None => String::new(),
            };
            let skipped = match entities.unlabelled {
                0 => String::new(),
                n => format!("; left out {n} rows without a label"),
            };
            ctx.note(&format!(
                "Wrote {} ({} rows){holdout}{skipped}.",
                dir.join(horse_colic::TRAIN_ENTITIES).display(),
                entities.train_rows,
            ));
        }
        Ok(ExitStatus::Success)
    }
}
