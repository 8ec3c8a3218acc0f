//! `horse-colic-prepare`: the UCI horse-colic files into the SQLite table
//! `examples/horse-colic` reads, and its entity tables.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use verge_core::Timestamp;
use verge_example_horse_colic::{self as prepare, Dataset};

/// The command line that rebuilds the example's data, shown in `--help`.
const EXAMPLE: &str = "\
Examples:
  cd examples/horse-colic
  horse-colic-prepare --data data/horse-colic.data --test data/horse-colic.test \\
      -o data/horse_colic.db --entities-out .";

/// Exit code of any error, as `verge`'s.
const ERROR_CODE: u8 = 2;

fn main() -> ExitCode {
    match HorseColicDb::parse().run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "error: {e}");
            for cause in e.chain().skip(1) {
                let _ = writeln!(err, "  caused by: {cause}");
            }
            ExitCode::from(ERROR_CODE)
        }
    }
}

/// A line for people on stderr; a closed stderr is ignored.
fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
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
#[derive(Debug, Parser)]
#[command(name = "horse-colic-prepare", after_help = EXAMPLE)]
struct HorseColicDb {
    /// The UCI training file (`horse-colic.data`: 28 fields per row, `?` = missing).
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// The UCI test file (`horse-colic.test`), stored after the training rows.
    #[arg(long, value_name = "FILE")]
    test: Option<PathBuf>,
    /// The SQLite database to write (replaced if it exists).
    #[arg(short, long, value_name = "DB")]
    output: PathBuf,
    /// Also write train_entities.csv (and holdout_entities.csv with --test) here.
    #[arg(long, value_name = "DIR")]
    entities_out: Option<PathBuf>,
    /// The event time of the first training row (RFC 3339).
    #[arg(long, value_name = "TIME", default_value = prepare::DEFAULT_START)]
    start: String,
}

impl HorseColicDb {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// A file cannot be read or parsed (the message names file, line and field),
    /// `--start` is not a timestamp, or an output cannot be written.
    fn run(self) -> anyhow::Result<()> {
        let start = Timestamp::parse_rfc3339(&self.start).with_context(|| {
            format!(
                "--start `{}` is not a timestamp; write e.g. {}",
                self.start,
                prepare::DEFAULT_START
            )
        })?;
        let train = prepare::read_uci(&self.data)?;
        let test = match &self.test {
            Some(path) => prepare::read_uci(path)?,
            None => Vec::new(),
        };
        let dataset = Dataset { start, train, test };
        let db = prepare::write_db(&dataset, &self.output)?;
        let span = match (db.first, db.last) {
            (Some(first), Some(last)) => {
                format!(", {} .. {}", first.to_rfc3339(), last.to_rfc3339())
            }
            _ => String::new(),
        };
        note(&format!(
            "Wrote {} (table `{}`): {} training + {} test rows{span}; {} missing values as NULL.",
            self.output.display(),
            prepare::TABLE,
            db.train_rows,
            db.test_rows,
            db.nulls,
        ));
        if let Some(dir) = &self.entities_out {
            let entities = prepare::write_entities(&dataset, dir)?;
            let holdout = match entities.holdout_rows {
                Some(n) => format!(
                    " and {} ({n} rows)",
                    dir.join(prepare::HOLDOUT_ENTITIES).display()
                ),
                None => String::new(),
            };
            let skipped = match entities.unlabelled {
                0 => String::new(),
                n => format!("; left out {n} rows without a label"),
            };
            note(&format!(
                "Wrote {} ({} rows){holdout}{skipped}.",
                dir.join(prepare::TRAIN_ENTITIES).display(),
                entities.train_rows,
            ));
        }
        Ok(())
    }
}
