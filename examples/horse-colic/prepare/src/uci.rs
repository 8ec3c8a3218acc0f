//! Reading the UCI horse-colic text files: 28 whitespace-separated fields a
//! row, `?` for missing, errors naming the file, the line and the field.

use std::path::Path;

use anyhow::{Context as _, Result, bail};

/// Fields per row in the UCI files.
pub const UCI_FIELDS: usize = 28;

/// The event time of the first training row unless another is asked for: the day
/// of the Flyte example's training query (2021-06-25T16:36:27Z), so that query's
/// times fall within a one-day ttl of every row.
pub const DEFAULT_START: &str = "2021-06-25T00:00:00Z";

/// The table every row is written to: the Flyte example's name.
pub const TABLE: &str = "data";

/// The event-time column (text, RFC 3339 with `Z`).
pub const TIMESTAMP_COLUMN: &str = "timestamp";

/// The column naming the file a row came from (`train` or `test`).
pub const SPLIT_COLUMN: &str = "split";

/// The entity table for training, written by [`write_entities`].
pub const TRAIN_ENTITIES: &str = "train_entities.csv";

/// The entity table for the holdout (test) rows, written by [`write_entities`].
pub const HOLDOUT_ENTITIES: &str = "holdout_entities.csv";

/// Minutes between consecutive rows' event times.
pub(crate) const STEP_MICROS: i64 = 60 * 1_000_000;

/// How a column's values are read and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A nominal or ordinal code, or the hospital number: a whole number, `INTEGER`.
    Code,
    /// A measurement (temperature, pulse, pH, …): any finite number, `REAL`.
    Measurement,
}

/// One of the 24 kept UCI attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The column's name in the database: the UCI / Flyte name, spaces and case kept.
    pub name: &'static str,
    /// The snake_case name a feature repository maps it to (`field_mapping`).
    pub field: &'static str,
    /// How values are read and stored.
    pub kind: Kind,
}

pub(crate) const fn code(name: &'static str, field: &'static str) -> Column {
    Column {
        name,
        field,
        kind: Kind::Code,
    }
}

pub(crate) const fn measurement(name: &'static str, field: &'static str) -> Column {
    Column {
        name,
        field,
        kind: Kind::Measurement,
    }
}

/// UCI attributes 1–24 in file order, under the Flyte example's column names.
pub const COLUMNS: [Column; 24] = [
    code("surgery", "surgery"),
    code("Age", "age"),
    code("Hospital Number", "hospital_number"),
    measurement("rectal temperature", "rectal_temperature"),
    measurement("pulse", "pulse"),
    measurement("respiratory rate", "respiratory_rate"),
    code("temperature of extremities", "temperature_of_extremities"),
    code("peripheral pulse", "peripheral_pulse"),
    code("mucous membranes", "mucous_membranes"),
    code("capillary refill time", "capillary_refill_time"),
    code("pain", "pain"),
    code("peristalsis", "peristalsis"),
    code("abdominal distension", "abdominal_distension"),
    code("nasogastric tube", "nasogastric_tube"),
    code("nasogastric reflux", "nasogastric_reflux"),
    measurement("nasogastric reflux PH", "nasogastric_reflux_ph"),
    code("rectal examination", "rectal_examination"),
    code("abdomen", "abdomen"),
    measurement("packed cell volume", "packed_cell_volume"),
    measurement("total protein", "total_protein"),
    code("abdominocentesis appearance", "abdominocentesis_appearance"),
    measurement("abdomcentesis total protein", "abdomcentesis_total_protein"),
    code("outcome", "outcome"),
    code("surgical lesion", "surgical_lesion"),
];

/// Index in [`COLUMNS`] of "Hospital Number", the entity's join key.
pub(crate) const HOSPITAL_NUMBER: usize = 2;
/// Index in [`COLUMNS`] of "surgical lesion", the label.
pub(crate) const SURGICAL_LESION: usize = 23;

/// One value as read from a UCI file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A code column's value.
    Int(i64),
    /// A measurement column's value.
    Real(f64),
}

impl Number {
    /// The value as a float (codes widen exactly: they are small).
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Real(x) => x,
        }
    }
}

/// One row of a UCI file: a horse's visit.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    /// 1-based line number in its file, for messages.
    pub line: usize,
    /// The join key (never missing: a row without one is an error).
    pub hospital_number: i64,
    /// Attributes 1–24 in [`COLUMNS`] order; `None` where the file has `?`.
    pub values: [Option<Number>; 24],
}

impl Visit {
    /// The label, 1 (surgical) or 2 (not), if the row has one.
    #[must_use]
    pub fn surgical_lesion(&self) -> Option<i64> {
        match self.values.get(SURGICAL_LESION).copied().flatten() {
            Some(Number::Int(i)) => Some(i),
            _ => None,
        }
    }

    /// The value of the column whose database name or field name is `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Number> {
        let index = COLUMNS
            .iter()
            .position(|c| c.name == name || c.field == name)?;
        self.values.get(index).copied().flatten()
    }
}

/// Parses the text of a UCI horse-colic file; `file` names it in errors.
///
/// # Examples
///
/// ```
/// use verge_example_horse_colic::{Number, parse_uci};
/// let line = "2 1 530101 38.50 66 28 3 3 ? 2 5 4 4 ? ? ? 3 5 45.00 8.40 ? ? 2 2 11300 00000 00000 2 \n";
/// let visits = parse_uci(line, "horse-colic.data")?;
/// assert_eq!(visits[0].hospital_number, 530101);
/// assert_eq!(visits[0].get("rectal temperature"), Some(Number::Real(38.5)));
/// assert_eq!(visits[0].get("mucous_membranes"), None); // `?`
/// assert_eq!(visits[0].surgical_lesion(), Some(2));
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
///
/// A non-blank line without exactly 28 fields, a code that is not a whole number,
/// a measurement that is not a finite number, or a missing hospital number; the
/// message names the file, the line and the field.
pub fn parse_uci(text: &str, file: &str) -> Result<Vec<Visit>> {
    let mut visits = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() != UCI_FIELDS {
            bail!(
                "{file}:{number}: {} fields, expected {UCI_FIELDS} (a horse-colic row is \
                 {UCI_FIELDS} values separated by spaces, `?` for a missing one)",
                fields.len()
            );
        }
        let mut values = [None; 24];
        for ((slot, column), (position, text)) in values
            .iter_mut()
            .zip(&COLUMNS)
            .zip(fields.iter().enumerate())
        {
            *slot = parse_value(text, column).map_err(|why| {
                anyhow::anyhow!(
                    "{file}:{number}: field {} (`{}`): {why}",
                    position + 1,
                    column.name
                )
            })?;
        }
        let hospital_number = match values.get(HOSPITAL_NUMBER).copied().flatten() {
            Some(Number::Int(h)) => h,
            _ => bail!(
                "{file}:{number}: field {} (`Hospital Number`) is missing; every row needs \
                 its horse's hospital number (the entity's join key)",
                HOSPITAL_NUMBER + 1
            ),
        };
        visits.push(Visit {
            line: number,
            hospital_number,
            values,
        });
    }
    Ok(visits)
}

pub(crate) fn parse_value(
    text: &str,
    column: &Column,
) -> std::result::Result<Option<Number>, String> {
    if text == "?" {
        return Ok(None);
    }
    match column.kind {
        Kind::Code => text
            .parse::<i64>()
            .map(|i| Some(Number::Int(i)))
            .map_err(|_| format!("cannot read `{text}` as a whole-number code (or `?`)")),
        Kind::Measurement => match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Some(Number::Real(x))),
            _ => Err(format!("cannot read `{text}` as a finite number (or `?`)")),
        },
    }
}

/// Reads and parses a UCI horse-colic file.
///
/// # Errors
///
/// The file cannot be read, or [`parse_uci`] fails.
pub fn read_uci(path: &Path) -> Result<Vec<Visit>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_uci(&text, &path.display().to_string())
}
