//! The names of types as `verge.toml`, messages and `docs/` write them, and
//! parsing them back with Feast's spellings accepted.
//!
//! verge's own names are lower-case (`float32`, `array<int64>`, `json`). Feast
//! writes `Float32`, `Array(Int64)`, `UnixTimestamp`, `Map`, `Struct(...)`; both
//! read the same, case-insensitively, so a Feast repository's types port as
//! written. `map` and `struct` are JSON text in verge (see `docs/types.md`).

use super::{DType, ElemType};

impl ElemType {
    /// The name used in `verge.toml` and in error messages.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            ElemType::Bool => "bool",
            ElemType::Int32 => "int32",
            ElemType::Int64 => "int64",
            ElemType::Float32 => "float32",
            ElemType::Float64 => "float64",
            ElemType::String => "string",
            ElemType::Bytes => "bytes",
            ElemType::UnixTimestamp => "unix_timestamp",
        }
    }

    /// Every element type, in the order messages list them.
    pub const ALL: [ElemType; 8] = [
        ElemType::Bool,
        ElemType::Int32,
        ElemType::Int64,
        ElemType::Float32,
        ElemType::Float64,
        ElemType::String,
        ElemType::Bytes,
        ElemType::UnixTimestamp,
    ];

    /// Parses a scalar name, case-insensitively; `_` may be left out
    /// (`UnixTimestamp`).
    #[must_use]
    pub fn parse(name: &str) -> Option<ElemType> {
        ElemType::ALL
            .into_iter()
            .find(|e| same_name(e.name(), name.trim()))
    }
}

impl DType {
    /// The name used in `verge.toml` and in error messages.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Float32 => "float32",
            DType::Float64 => "float64",
            DType::String => "string",
            DType::Bytes => "bytes",
            DType::UnixTimestamp => "unix_timestamp",
            DType::Json => "json",
            DType::Array(e) => match e {
                ElemType::Bool => "array<bool>",
                ElemType::Int32 => "array<int32>",
                ElemType::Int64 => "array<int64>",
                ElemType::Float32 => "array<float32>",
                ElemType::Float64 => "array<float64>",
                ElemType::String => "array<string>",
                ElemType::Bytes => "array<bytes>",
                ElemType::UnixTimestamp => "array<unix_timestamp>",
            },
        }
    }

    /// The scalar types, in the order messages list them (arrays of each, and
    /// `json`, are listed after them by [`DType::NAMES`]).
    pub const ALL: [DType; 8] = [
        DType::Bool,
        DType::Int32,
        DType::Int64,
        DType::Float32,
        DType::Float64,
        DType::String,
        DType::Bytes,
        DType::UnixTimestamp,
    ];

    /// What an unknown type's message lists.
    pub const NAMES: &'static str = "bool, int32, int64, float32, float64, string, bytes, \
        unix_timestamp, json (also map, struct), array<T> of any of the first eight";

    /// Parses a name as written in `verge.toml`, case-insensitively, so
    /// Feast's spellings (`Float32`, `Array(Int64)`, `UnixTimestamp`, `Map`)
    /// read as verge's (`float32`, `array<int64>`, `unix_timestamp`, `json`).
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_core::{DType, ElemType};
    /// assert_eq!(DType::parse("float32"), Some(DType::Float32));
    /// assert_eq!(DType::parse("Float64"), Some(DType::Float64));
    /// assert_eq!(DType::parse("array<float32>"), Some(DType::Array(ElemType::Float32)));
    /// assert_eq!(DType::parse("Array(Int64)"), Some(DType::Array(ElemType::Int64)));
    /// assert_eq!(DType::parse("UnixTimestamp"), Some(DType::UnixTimestamp));
    /// assert_eq!(DType::parse("Map"), Some(DType::Json));
    /// assert_eq!(DType::parse("double"), None);
    /// ```
    #[must_use]
    pub fn parse(name: &str) -> Option<DType> {
        let name = name.trim();
        if let Some(inner) = strip_wrapper(name, "array", '<', '>')
            .or_else(|| strip_wrapper(name, "array", '(', ')'))
        {
            return ElemType::parse(inner).map(DType::Array);
        }
        // Feast's `Struct({"name": String, ...})` is JSON whatever its fields.
        if strip_wrapper(name, "struct", '(', ')').is_some() {
            return Some(DType::Json);
        }
        if ["json", "map", "struct"]
            .iter()
            .any(|alias| same_name(alias, name))
        {
            return Some(DType::Json);
        }
        ElemType::parse(name).map(DType::from)
    }
}

/// `text` without `word` + `open` ... `close` around it (`array<float32>`
/// gives `float32`), the word compared case-insensitively.
fn strip_wrapper<'a>(text: &'a str, word: &str, open: char, close: char) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    if !head.eq_ignore_ascii_case(word) {
        return None;
    }
    text[word.len()..]
        .trim_start()
        .strip_prefix(open)?
        .strip_suffix(close)
}

/// Case-insensitive equality that also lets `_` be left out
/// (`unix_timestamp` = `UnixTimestamp`).
fn same_name(ours: &str, theirs: &str) -> bool {
    let mut a = ours.bytes().filter(|&b| b != b'_');
    let mut b = theirs.bytes().filter(|&b| b != b'_');
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(&y) => {}
            _ => return false,
        }
    }
}
