//! Partitioned Parquet datasets: a source `path` that names a directory (read
//! recursively) or a glob (`data/stats/*/*.parquet`) instead of one file.
//!
//! - **Which files.** A directory contributes every file below it whose name
//!   ends in `.parquet` or `.pq`, skipping names that start with `_` or `.`
//!   (Spark's `_SUCCESS`, checksum and temporary files) at any depth. A glob
//!   contributes every regular file it matches.
//! - **In what order.** Files are sorted by their path relative to the
//!   repository, byte by byte, and their rows are concatenated in that order,
//!   so the row order of the whole dataset is fixed; the join's "on a complete
//!   tie the row appearing last wins" then means the last such row of the
//!   last file in that order.
//! - **Hive partitions.** Each `key=value` directory in a file's path (relative
//!   to the repository, so `data/stats/dt=2024-01-01/*.parquet` keeps its
//!   `dt`) gives every row of that file a column `key` holding `value`
//!   (percent-decoded; `__HIVE_DEFAULT_PARTITION__` is null). The value is text
//!   converted to the declared type by the same rules as CSV text, so a
//!   partition key can be a join key, a field or the event timestamp
//!   (`dt=2024-01-01`). Every file must sit under the same partition keys, in
//!   the same order, and no file may also hold a column of that name.
//! - **One schema.** Every file must hold the same columns with the same types
//!   as the first file: the readers and the `plan`/`apply` check read every
//!   file's footer (one small read each) and name the first file and column
//!   that disagree.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use arrow_array::{ArrayRef, StringArray};

use super::convert::{Origin, convert_array};
use super::parquet::Opened;
use super::{Wanted, concat_pieces};

/// Hive's marker for a null partition value.
const HIVE_NULL: &str = "__HIVE_DEFAULT_PARTITION__";

/// One file of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its path relative to the repository, as messages name it.
    pub shown: String,
    /// Its `key=value` partitions, outermost first; `None` is a null value.
    pub partitions: Vec<(String, Option<String>)>,
}

/// Whether a source `path` names a dataset (a glob or a directory) rather
/// than one file.
#[must_use]
pub fn is_dataset(repo_root: &Path, path: &str) -> bool {
    has_wildcard(path) || path.ends_with('/') || repo_root.join(path).is_dir()
}

fn has_wildcard(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

/// The files of dataset `path` in reading order (see the module docs).
///
/// # Errors
///
/// The directory cannot be listed, the glob is malformed, no file matches, or
/// the files' partition keys differ.
pub fn files(repo_root: &Path, path: &str, place: &str) -> Result<Vec<DataFile>> {
    let mut found = if has_wildcard(path) {
        let pattern = repo_root.join(path);
        let pattern = pattern.to_string_lossy();
        let matches = glob::glob(&pattern)
            .with_context(|| format!("{place}: `{path}` is not a valid glob"))?;
        let mut found = Vec::new();
        for entry in matches {
            let entry = entry.with_context(|| format!("{place}: listing `{path}`"))?;
            if entry.is_file() {
                found.push(entry);
            }
        }
        found
    } else {
        let dir = repo_root.join(path);
        if !dir.is_dir() {
            bail!("{place}: {} is not a directory", dir.display());
        }
        let mut found = Vec::new();
        walk(&dir, &mut found, place)?;
        found
    };
    found.sort();
    if found.is_empty() {
        bail!(
            "{place}: `{path}` holds no Parquet file (a directory is read for *.parquet and *.pq files, a glob for what it matches); check the path"
        );
    }
    let files: Vec<DataFile> = found
        .into_iter()
        .map(|p| {
            let shown = p
                .strip_prefix(repo_root)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            let partitions = partitions(p.strip_prefix(repo_root).unwrap_or(&p));
            DataFile {
                path: p,
                shown,
                partitions,
            }
        })
        .collect();
    let keys =
        |f: &DataFile| -> Vec<String> { f.partitions.iter().map(|(k, _)| k.clone()).collect() };
    if let Some(first) = files.first() {
        let expected = keys(first);
        if let Some(other) = files.iter().find(|f| keys(f) != expected) {
            bail!(
                "{place}: {} sits under partitions ({}) but {} under ({}); every file of a dataset needs the same partition keys in the same order",
                first.shown,
                expected.join(", "),
                other.shown,
                keys(other).join(", ")
            );
        }
    }
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, place: &str) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("{place}: cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("{place}: cannot list {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(['_', '.']) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out, place)?;
        } else if name.ends_with(".parquet") || name.ends_with(".pq") {
            out.push(path);
        }
    }
    Ok(())
}

/// The `key=value` directories of a file's path relative to the repository.
fn partitions(relative: &Path) -> Vec<(String, Option<String>)> {
    let Some(parent) = relative.parent() else {
        return Vec::new();
    };
    parent
        .components()
        .filter_map(|c| {
            let text = c.as_os_str().to_string_lossy();
            let (key, value) = text.split_once('=')?;
            if key.is_empty() {
                return None;
            }
            let value = (value != HIVE_NULL).then(|| percent_decode(value));
            Some((percent_decode(key), value))
        })
        .collect()
}

/// Hive escapes `/`, `=`, `:` and others in partition paths as `%XX`.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

/// Checks that `file` holds the columns of `first` with the same types,
/// naming the first column that disagrees.
fn check_agrees(
    first: (&DataFile, &Opened<'_>),
    file: (&DataFile, &Opened<'_>),
    place: &str,
) -> Result<()> {
    let (first_file, first) = first;
    let (this_file, this) = file;
    for (i, name) in first.names.iter().enumerate() {
        let Some(j) = this.names.iter().position(|n| n == name) else {
            bail!(
                "{place}: {} has no column `{name}`, which {} has; every file of a dataset needs the same columns",
                this_file.shown,
                first_file.shown
            );
        };
        if first.column_type(i) != this.column_type(j) {
            let shown =
                |t: Option<&arrow_schema::DataType>| t.map_or("?".to_owned(), ToString::to_string);
            bail!(
                "{place}: {}: column `{name}` holds {} but {} holds {}; every file of a dataset needs the same column types",
                this_file.shown,
                shown(this.column_type(j)),
                first_file.shown,
                shown(first.column_type(i))
            );
        }
    }
    if let Some(extra) = this.names.iter().find(|n| !first.names.contains(n)) {
        bail!(
            "{place}: {} has a column `{extra}` that {} has not; every file of a dataset needs the same columns",
            this_file.shown,
            first_file.shown
        );
    }
    Ok(())
}

/// Reads the wanted columns of every file of dataset `path`, in order.
pub(super) fn read(
    repo_root: &Path,
    path: &str,
    place: &str,
    wanted: &[Wanted],
    resolve: impl FnOnce(&[String]) -> Result<Vec<usize>>,
) -> Result<Vec<ArrayRef>> {
    let files = files(repo_root, path, place)?;
    let Some(first_file) = files.first() else {
        bail!("{place}: `{path}` holds no Parquet file");
    };
    let first_place = format!("{place}, file {}", first_file.shown);
    let first = Opened::load(&first_file.path, &first_place)?;
    let keys: Vec<String> = first_file
        .partitions
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    if let Some(clash) = keys.iter().find(|k| first.names.contains(k)) {
        bail!(
            "{first_place}: `{clash}` is both a partition key and a column of the file; rename one"
        );
    }
    let mut present = first.names.clone();
    present.extend(keys.iter().cloned());
    let indices = resolve(&present)?;
    let width = first.names.len();
    let mut pieces: Vec<Vec<ArrayRef>> = vec![Vec::with_capacity(files.len()); wanted.len()];
    // Every footer first, so a disagreeing file is named before any row is read.
    let places: Vec<String> = files
        .iter()
        .map(|f| format!("{place}, file {}", f.shown))
        .collect();
    let mut opened_files = Vec::with_capacity(files.len());
    for (file, file_place) in files.iter().zip(&places) {
        let opened = Opened::load(&file.path, file_place)?;
        check_agrees((first_file, &first), (file, &opened), place)?;
        opened_files.push(opened);
    }
    for ((file, file_place), opened) in files.iter().zip(&places).zip(&opened_files) {
        // The file's own columns, by name (files may order their columns differently).
        let mut own_wanted = Vec::new();
        let mut own_indices = Vec::new();
        for (w, &i) in wanted.iter().zip(&indices).filter(|&(_, &i)| i < width) {
            let name = present.get(i).map_or("", String::as_str);
            own_wanted.push(w.clone());
            own_indices.push(opened.names.iter().position(|n| n == name).unwrap_or(i));
        }
        let mut own = opened.read_columns(&own_wanted, &own_indices)?.into_iter();
        let rows = opened.num_rows();
        for ((w, &i), column_pieces) in wanted.iter().zip(&indices).zip(&mut pieces) {
            if i < width {
                let column = own.next().with_context(|| {
                    format!("{file_place}: internal: the reader returned too few columns")
                })?;
                column_pieces.push(column);
                continue;
            }
            let value = file
                .partitions
                .get(i - width)
                .and_then(|(_, v)| v.as_deref());
            let text: ArrayRef = std::sync::Arc::new(StringArray::from(vec![value; rows]));
            let origin = Origin {
                place: file_place,
                column: present.get(i).map_or("", String::as_str),
            };
            column_pieces.push(convert_array(&text, w.target, origin, 0)?);
        }
    }
    pieces
        .iter()
        .zip(wanted)
        .map(|(p, w)| concat_pieces(p, w.target, place))
        .collect()
}
