//! The UCI horse-colic files (dataset 47) as the SQLite source of `examples/horse-colic`.
//!
//! The Flyte + Feast example this project retells read a SQLite table `data` with
//! UCI attributes 1–24 under their UCI names ("surgery", "Age", "Hospital Number",
//! …, "surgical lesion") plus a `timestamp` column. That database was never
//! published, so it is rebuilt here from the UCI text files, deterministically:
//!
//! - **Rows.** Every row of the training file and of the test file is kept, in
//!   file order, including the 16 (training) and 3 (test) repeated hospital
//!   numbers: a repeated number is a horse that came back, and each visit is its
//!   own row. A `split` column (`train` / `test`) records where a row came from;
//!   verge ignores it, it is there for people reading the table.
//! - **Event time.** Training row `i` (0-based) happens at `start + i` minutes and
//!   test row `j` at `start + (n_train + j)` minutes (default start
//!   2021-06-25T00:00:00Z). Event times are therefore unique and increasing, a
//!   horse's later visit is later in time, and every test row is later than every
//!   training row.
//! - **Missing values** (`?`) are stored as SQL `NULL`, and every other value as an
//!   `INTEGER` (codes: the nominal and ordinal attributes) or a `REAL`
//!   (measurements). Flyte kept the `?` text; verge's SQLite reader would read that
//!   as null in numeric fields too, but a typed table lets any SQL tool
//!   (`AVG("pulse")`, `IS NULL`) see the data as it is.
//!
//! Why exact event times make training and holdout sets correct: an entity row
//! that asks for horse `h` at exactly the event time of one of its rows gets that
//! row back from the point-in-time join (it is the latest with `event_ts <= t`,
//! and any later visit is excluded because it is later than `t`). So
//! [`write_entities`] writes one entity row per training row (`train_entities.csv`)
//! and one per test row (`holdout_entities.csv`), and a model trained on the first
//! can never see a test row: every test row is later than every time the training
//! set asks about.
//!
//! Lines are split on whitespace (the files end most lines with a space); blank
//! lines are skipped. A row must have exactly 28 fields; columns 25–28 (lesion
//! codes and `cp_data`) are checked for presence and then dropped, as the Flyte
//! table does. Errors name the file, the line and the field.

//!
//! The `horse-colic-prepare` binary is this crate's command line; `scripts/demo`
//! and the example's tests run it. It lives beside the example, not in verge:
//! it is the example's data preparation, not a feature of the product.

pub mod table;
pub mod uci;

pub use table::*;
pub use uci::*;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
