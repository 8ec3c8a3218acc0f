//! Warnings: problems in the input that do not stop the work but change its
//! result (rows skipped, a mapping that maps nothing), each with a count.
//!
//! The library never prints; a function that can warn takes `&mut Warnings`
//! and adds to it, and the caller decides who hears about them (the CLI prints
//! each as `warning: ...` on stderr, even with `--quiet`, since a silent skip
//! is the thing this type exists to prevent).

use std::fmt;

/// One warning: what happened, and to how many rows or entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The sentence, naming the file, source or table and what to do.
    pub message: String,
    /// How many rows or entries it concerns (never 0).
    pub count: usize,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The warnings of one run, in the order they were found.
///
/// # Examples
///
/// ```
/// let mut w = verge_host::warnings::Warnings::default();
/// w.add(0, || "never said".to_owned());
/// w.add(2, || "source `s`: 2 rows have an empty join key and are skipped".to_owned());
/// assert_eq!(w.len(), 1);
/// assert_eq!(w.iter().next().unwrap().count, 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Warnings(Vec<Warning>);

impl Warnings {
    /// Adds a warning about `count` rows or entries; nothing when `count` is 0
    /// (the message is built only when it is needed) or when the same warning
    /// is already there (a source read once per feature view says it once).
    pub fn add(&mut self, count: usize, message: impl FnOnce() -> String) {
        if count == 0 {
            return;
        }
        let warning = Warning {
            message: message(),
            count,
        };
        if !self.0.contains(&warning) {
            self.0.push(warning);
        }
    }

    /// Moves every warning of `other` to the end of these.
    pub fn append(&mut self, other: &mut Warnings) {
        self.0.append(&mut other.0);
    }

    /// The warnings, oldest first.
    pub fn iter(&self) -> std::slice::Iter<'_, Warning> {
        self.0.iter()
    }

    /// How many warnings there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Warnings {
    type Item = &'a Warning;
    type IntoIter = std::slice::Iter<'a, Warning>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
