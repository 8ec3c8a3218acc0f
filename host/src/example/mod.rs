//! Data preparation for the examples that ship with verge.
//!
//! An example is a feature repository under `examples/`, and its raw data rarely
//! arrives in the shape a feature store reads: the UCI horse-colic files are
//! whitespace-separated text with `?` for missing values and no event time. The
//! code that turns such files into a source (and the entity tables that query it)
//! lives here, as library code with tests, so the example is rebuilt by a command
//! (`verge example ...`) instead of by hand-edited files.
//!
//! | module | example |
//! |---|---|
//! | [`horse_colic`] | `examples/horse-colic`: the UCI files into the Flyte example's SQLite table |

pub mod horse_colic;
