//! The core's one error type.
//!
//! Every failure the core can report is a variant here, with a message that says
//! what was wrong and, where it helps, what to do. Nothing in the core panics on
//! bad input: artifacts, requests and expressions all come from outside.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::ContentId;
use crate::definition::Problem;

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in the core.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Definitions failed validation; every problem found is listed.
    #[error("{}", ProblemList(.0))]
    Invalid(Vec<Problem>),

    /// An on-demand expression could not be parsed.
    #[error("expression `{source_text}`: {message} (at byte {offset})")]
    Parse {
        /// The expression text.
        source_text: String,
        /// Byte offset of the problem in the text.
        offset: usize,
        /// What was expected or found.
        message: String,
    },

    /// An expression is well formed but ill typed, or names something unknown.
    #[error("expression `{source_text}`: {message}")]
    Type {
        /// The expression text.
        source_text: String,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// Evaluating a program met a value of the wrong type (a caller bug or a bad request).
    #[error("evaluation: {0}")]
    Eval(String),

    /// The bytes do not start with the expected magic number.
    #[error("not a verge {expected} (magic {found:02x?}); check the file is a verge {expected}")]
    BadMagic {
        /// The artifact kind that was expected ("bundle", "snapshot").
        expected: &'static str,
        /// The first bytes found.
        found: [u8; 4],
    },

    /// The artifact's format version is not one this build reads.
    #[error(
        "{kind} format version {found} is not supported: this build reads versions {oldest} to {supported}; {hint}, or upgrade verge if the {kind} is newer"
    )]
    UnsupportedVersion {
        /// The artifact kind.
        kind: &'static str,
        /// The version in the header.
        found: u16,
        /// The oldest version this build reads for the kind.
        oldest: u16,
        /// The newest version this build reads.
        supported: u16,
        /// How to get an artifact this build reads, e.g. "rebuild it with `verge materialize`".
        hint: &'static str,
    },

    /// The input ended before the artifact did.
    #[error(
        "{kind} is truncated: {needed} bytes needed, {available} available; the file was cut short (copy it again)"
    )]
    Truncated {
        /// The artifact kind.
        kind: &'static str,
        /// Bytes the header or a length promised.
        needed: u64,
        /// Bytes actually present.
        available: u64,
    },

    /// The content hash in the header does not match the bytes.
    #[error(
        "{kind} content hash mismatch: header says {expected}, bytes hash to {actual}; the file is corrupt"
    )]
    HashMismatch {
        /// The artifact kind.
        kind: &'static str,
        /// The id recorded in the header.
        expected: ContentId,
        /// The hash of the bytes present.
        actual: ContentId,
    },

    /// The hash matched but the structure inside is inconsistent.
    #[error("{kind} is malformed: {message}")]
    Malformed {
        /// The artifact kind.
        kind: &'static str,
        /// What is inconsistent.
        message: String,
    },

    /// A bundle and a snapshot were built from registry versions that disagree.
    #[error(
        "bundle and snapshot are incompatible: {message}; rebuild them together with `verge build`"
    )]
    Incompatible {
        /// Which definition differs, and how.
        message: String,
    },

    /// A trusted public key is configured and an artifact's signature is
    /// missing, malformed, or not made by that key (`artifact::signature`).
    #[error("{kind} {id} is refused: {message}")]
    Signature {
        /// The artifact kind.
        kind: &'static str,
        /// The artifact's content id.
        id: ContentId,
        /// What is wrong with the signature, and what to do.
        message: String,
    },

    /// A request names a feature, view or service that does not exist.
    #[error("unknown {what} `{name}`{}", hint_suffix(.hint))]
    Unknown {
        /// What kind of thing ("feature", "feature view", "request field", ...).
        what: &'static str,
        /// The name given.
        name: String,
        /// A suggestion, if one helps.
        hint: Option<String>,
    },

    /// A prediction was asked of a feature bundle, which has no model.
    #[error(
        "the bundle for feature service `{service}` is a feature bundle: it has no model to predict with; serve a model bundle (`verge train MODEL`) for /predict"
    )]
    NoModel {
        /// The bundle's feature service.
        service: String,
    },

    /// A request is malformed: a key of the wrong type, a missing field, a wrong count.
    #[error("bad request: {0}")]
    Request(String),

    /// A model or transform was given a row of the wrong width.
    #[error("{stage} expects {expected} inputs, got {actual}")]
    Shape {
        /// The stage that complained.
        stage: &'static str,
        /// Inputs it was fitted on.
        expected: usize,
        /// Inputs it got.
        actual: usize,
    },

    /// Fitting a transform or a model failed on the data given.
    #[error("fit {stage}: {message}")]
    Fit {
        /// The stage being fitted.
        stage: &'static str,
        /// Why, and what to do.
        message: String,
    },
}

fn hint_suffix(hint: &Option<String>) -> String {
    match hint {
        Some(h) => alloc::format!("; {h}"),
        None => String::new(),
    }
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem(s) in the definitions:", self.0.len())?;
        for p in self.0 {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}
