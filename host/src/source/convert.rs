//! Cell-level conversion from whatever a file holds to a declared type.
//!
//! CSV gives text, SQLite gives a dynamic storage class per cell, and Parquet gives
//! typed Arrow columns of many widths and units. All three funnel through one small
//! vocabulary ([`Cell`]) and one set of typed builders ([`Builder`]), so the rules
//! (what counts as null, which numbers convert to which types, how timestamps are
//! read) are written once and behave the same for every format and for entity
//! tables. Columns that are already exactly the target type skip the per-cell path
//! and are passed through without copying.
//!
//! Rules:
//! - numeric targets (`bool`, `int64`, `float32`, `float64`): text that is empty or
//!   `?` (after trimming spaces) is null — the UCI / Flyte horse-colic data marks
//!   missing values with `?`;
//! - integers convert to floats; floats (and float text) convert to `int64` only when
//!   whole; `bool` accepts `true`/`false`/`t`/`f`/`yes`/`no`/`1`/`0` (any case) and the
//!   numbers 0 and 1;
//! - `string` accepts text as is, and numbers or booleans printed (`{}` formatting);
//! - timestamps accept Arrow timestamps of any unit and time zone (the stored value is
//!   already UTC), `Date32` / `Date64`, and text in the shapes of
//!   [`super::timestamp::parse_timestamp`]; bare numbers are rejected with a hint,
//!   because epoch seconds and epoch milliseconds cannot be told apart.

use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow, bail};
use arrow_array::cast::AsArray as _;
use arrow_array::types::{
    Date32Type, Date64Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, PrimitiveArray};
use arrow_schema::{DataType, TimeUnit};
use verge_core::DType;

pub use crate::arrow_values::{dtype_to_arrow, timestamp_type};

pub(crate) use super::builder::Builder;
use super::timestamp::format_micros;

/// What a column is converted to: a feature type or a UTC timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A value of a declared feature / key type.
    Value(DType),
    /// A point in time, as `Timestamp(Microsecond, "UTC")`.
    Timestamp,
}

impl Target {
    /// The Arrow type a converted column has.
    #[must_use]
    pub fn arrow_type(self) -> DataType {
        match self {
            Target::Value(d) => dtype_to_arrow(d),
            Target::Timestamp => timestamp_type(),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Target::Value(d) => d.name(),
            Target::Timestamp => "a timestamp",
        }
    }
}

/// One cell as read from a file, before conversion.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cell<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// An unsigned value too large for `i64`.
    BigUInt(u64),
    Float(f64),
    Text(&'a str),
    /// A point in time, µs since the epoch, UTC.
    Micros(i64),
    /// Raw bytes (a SQLite BLOB, a Parquet binary value).
    Bytes(&'a [u8]),
}

impl std::fmt::Display for Cell<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Null => f.write_str("null"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::BigUInt(u) => write!(f, "{u}"),
            Cell::Float(x) => write!(f, "{x}"),
            Cell::Text(s) => write!(f, "{s}"),
            Cell::Micros(m) => f.write_str(&format_micros(*m)),
            Cell::Bytes(b) => write!(f, "<{} bytes>", b.len()),
        }
    }
}

/// Text that means "missing" in a numeric column.
pub(crate) fn is_null_marker(text: &str) -> bool {
    matches!(text, "" | "?")
}

pub(crate) fn whole_to_i64(x: f64) -> Option<i64> {
    // Only whole numbers inside i64's range convert without loss.
    if x.fract() == 0.0 && (-9.223_372_036_854_775e18..9.223_372_036_854_775e18).contains(&x) {
        Some(x as i64)
    } else {
        None
    }
}

/// The rule for non-finite numbers, the same for every source and every face:
/// NaN is a missing value (null, as pandas and Arrow writers mean it), and an
/// infinity (`inf`, `-Infinity`, `1e400`) is refused where it is read, so a
/// stored value is always finite and nothing non-finite is ever served.
pub(crate) fn finite(v: Option<f64>) -> Result<Option<f64>, &'static str> {
    match v {
        Some(x) if x.is_nan() => Ok(None),
        Some(x) if x.is_infinite() => Err(
            "not a finite number: verge refuses infinities (NaN reads as null); write an empty cell for a missing value",
        ),
        other => Ok(other),
    }
}

/// Whether a float column holds a NaN or an infinity (which [`finite`] handles).
///
/// Every column of every source passes through here, so the common case is
/// one branch-free pass over the values buffer, null slots included (it
/// vectorizes; a null-aware walk tests a validity bit per value and cost a
/// tenth of a whole `verge historical`). Only when that pass finds something
/// are the null slots, whose contents Arrow leaves unspecified, left out.
fn has_non_finite(array: &dyn Array) -> bool {
    if let Some(a) = array.as_primitive_opt::<Float64Type>() {
        return any_non_finite(a.values(), |x| x.is_finite())
            && a.iter().flatten().any(|x| !x.is_finite());
    }
    if let Some(a) = array.as_primitive_opt::<Float32Type>() {
        return any_non_finite(a.values(), |x| x.is_finite())
            && a.iter().flatten().any(|x| !x.is_finite());
    }
    false
}

/// Whether any of `values` is not finite, nulls' slots included: a fold over
/// fixed-size chunks with no early exit, so the compiler can vectorize it.
fn any_non_finite<T: Copy>(values: &[T], is_finite: impl Fn(T) -> bool) -> bool {
    values
        .chunks(256)
        .any(|chunk| chunk.iter().fold(false, |seen, &x| seen | !is_finite(x)))
}

pub(crate) fn number(cell: Cell<'_>) -> Result<Option<f64>, ()> {
    Ok(match cell {
        Cell::Null => None,
        Cell::Bool(v) => Some(if v { 1.0 } else { 0.0 }),
        Cell::Int(i) => Some(i as f64),
        Cell::BigUInt(u) => Some(u as f64),
        Cell::Float(x) => Some(x),
        Cell::Text(t) => {
            let t = t.trim();
            if is_null_marker(t) {
                None
            } else {
                Some(t.parse::<f64>().map_err(|_| ())?)
            }
        }
        Cell::Micros(_) | Cell::Bytes(_) => return Err(()),
    })
}

/// An Arrow column viewed as cells, with its type resolved once.
enum Cells<'a> {
    Null,
    Bool(&'a arrow_array::BooleanArray),
    I8(&'a PrimitiveArray<Int8Type>),
    I16(&'a PrimitiveArray<Int16Type>),
    I32(&'a PrimitiveArray<Int32Type>),
    I64(&'a PrimitiveArray<Int64Type>),
    U8(&'a PrimitiveArray<UInt8Type>),
    U16(&'a PrimitiveArray<UInt16Type>),
    U32(&'a PrimitiveArray<UInt32Type>),
    U64(&'a PrimitiveArray<UInt64Type>),
    F32(&'a PrimitiveArray<Float32Type>),
    F64(&'a PrimitiveArray<Float64Type>),
    Str(&'a arrow_array::StringArray),
    LargeStr(&'a arrow_array::LargeStringArray),
    StrView(&'a arrow_array::StringViewArray),
    /// Any timestamp / date, with the factor to µs: multiply when `mul`, else floor-divide.
    Time {
        values: Vec<Option<i64>>,
        scale: i64,
        mul: bool,
    },
}

fn time_values<T: arrow_array::ArrowPrimitiveType>(a: &dyn Array) -> Option<Vec<Option<i64>>>
where
    T::Native: Into<i64>,
{
    let a = a.as_primitive_opt::<T>()?;
    Some(a.iter().map(|v| v.map(Into::into)).collect())
}

impl<'a> Cells<'a> {
    fn new(a: &'a dyn Array) -> Option<Cells<'a>> {
        Some(match a.data_type() {
            DataType::Null => Cells::Null,
            DataType::Boolean => Cells::Bool(a.as_boolean_opt()?),
            DataType::Int8 => Cells::I8(a.as_primitive_opt()?),
            DataType::Int16 => Cells::I16(a.as_primitive_opt()?),
            DataType::Int32 => Cells::I32(a.as_primitive_opt()?),
            DataType::Int64 => Cells::I64(a.as_primitive_opt()?),
            DataType::UInt8 => Cells::U8(a.as_primitive_opt()?),
            DataType::UInt16 => Cells::U16(a.as_primitive_opt()?),
            DataType::UInt32 => Cells::U32(a.as_primitive_opt()?),
            DataType::UInt64 => Cells::U64(a.as_primitive_opt()?),
            DataType::Float32 => Cells::F32(a.as_primitive_opt()?),
            DataType::Float64 => Cells::F64(a.as_primitive_opt()?),
            DataType::Utf8 => Cells::Str(a.as_string_opt()?),
            DataType::LargeUtf8 => Cells::LargeStr(a.as_string_opt()?),
            DataType::Utf8View => Cells::StrView(a.as_string_view_opt()?),
            DataType::Timestamp(unit, _) => {
                let (values, scale, mul) = match unit {
                    TimeUnit::Second => (time_values::<TimestampSecondType>(a)?, 1_000_000, true),
                    TimeUnit::Millisecond => {
                        (time_values::<TimestampMillisecondType>(a)?, 1_000, true)
                    }
                    TimeUnit::Microsecond => (time_values::<TimestampMicrosecondType>(a)?, 1, true),
                    TimeUnit::Nanosecond => {
                        (time_values::<TimestampNanosecondType>(a)?, 1_000, false)
                    }
                };
                Cells::Time { values, scale, mul }
            }
            DataType::Date32 => Cells::Time {
                values: time_values::<Date32Type>(a)?,
                scale: 86_400_000_000,
                mul: true,
            },
            DataType::Date64 => Cells::Time {
                values: time_values::<Date64Type>(a)?,
                scale: 1_000,
                mul: true,
            },
            _ => return None,
        })
    }

    /// The cell at `i`; `Err` carries a message for a time out of range.
    fn get(&self, i: usize) -> Result<Cell<'a>, String> {
        fn opt<T>(a: &dyn Array, i: usize, f: impl FnOnce() -> T) -> Option<T> {
            if a.is_null(i) { None } else { Some(f()) }
        }
        let cell = match self {
            Cells::Null => None,
            Cells::Bool(a) => opt(*a, i, || Cell::Bool(a.value(i))),
            Cells::I8(a) => opt(*a, i, || Cell::Int(a.value(i).into())),
            Cells::I16(a) => opt(*a, i, || Cell::Int(a.value(i).into())),
            Cells::I32(a) => opt(*a, i, || Cell::Int(a.value(i).into())),
            Cells::I64(a) => opt(*a, i, || Cell::Int(a.value(i))),
            Cells::U8(a) => opt(*a, i, || Cell::Int(a.value(i).into())),
            Cells::U16(a) => opt(*a, i, || Cell::Int(a.value(i).into())),
            Cells::U32(a) => opt(*a, i, || Cell::Int(a.value(i).into())),
            Cells::U64(a) => opt(*a, i, || {
                let v = a.value(i);
                i64::try_from(v).map_or(Cell::BigUInt(v), Cell::Int)
            }),
            Cells::F32(a) => opt(*a, i, || Cell::Float(a.value(i).into())),
            Cells::F64(a) => opt(*a, i, || Cell::Float(a.value(i))),
            Cells::Str(a) => opt(*a, i, || Cell::Text(a.value(i))),
            Cells::LargeStr(a) => opt(*a, i, || Cell::Text(a.value(i))),
            Cells::StrView(a) => opt(*a, i, || Cell::Text(a.value(i))),
            Cells::Time { values, scale, mul } => match values.get(i).copied().flatten() {
                None => None,
                Some(v) => {
                    let micros = if *mul {
                        v.checked_mul(*scale)
                            .ok_or_else(|| format!("time value {v} is out of range"))?
                    } else {
                        v.div_euclid(*scale)
                    };
                    Some(Cell::Micros(micros))
                }
            },
        };
        Ok(cell.unwrap_or(Cell::Null))
    }
}

/// Where a column came from, for error messages: `place` is e.g.
/// "source `x` (data/x.csv)" and `column` the column's name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub(crate) place: &'a str,
    pub(crate) column: &'a str,
}

impl Origin<'_> {
    /// An error at 0-based data row `row`.
    pub(crate) fn at(&self, row: usize, message: &str) -> anyhow::Error {
        anyhow!(
            "{}: row {}, column `{}`: {message}",
            self.place,
            row + 1,
            self.column
        )
    }
}

/// Converts an Arrow column to `target`, naming `origin` and the 1-based row
/// (counting from `first_row`) of the first cell that does not convert.
///
/// A column already of the target type is returned as is, without copying.
pub(crate) fn convert_array(
    array: &ArrayRef,
    target: Target,
    origin: Origin<'_>,
    first_row: usize,
) -> Result<ArrayRef> {
    let target_type = target.arrow_type();
    // Lists are checked element by element (no nulls) and JSON text is
    // canonicalized, so neither passes through as it is.
    let checked_inside = matches!(target, Target::Value(DType::Array(_) | DType::Json));
    if array.data_type() == &target_type && !checked_inside && !has_non_finite(array.as_ref()) {
        return Ok(Arc::clone(array));
    }
    // Microsecond timestamps in another (or no) zone hold the same UTC instants.
    if matches!(
        target,
        Target::Timestamp | Target::Value(DType::UnixTimestamp)
    ) && let Some(ts) = array.as_primitive_opt::<TimestampMicrosecondType>()
    {
        return Ok(Arc::new(ts.clone().with_timezone("UTC")));
    }
    if let DataType::Dictionary(_, _) = array.data_type() {
        let dict = array
            .as_any_dictionary_opt()
            .context("dictionary column without a dictionary")?;
        let plain = arrow_select::take::take(dict.values().as_ref(), dict.keys(), None)
            .with_context(|| {
                format!(
                    "{}: column `{}`: decoding a dictionary",
                    origin.place, origin.column
                )
            })?;
        return convert_array(&plain, target, origin, first_row);
    }
    if let Some(converted) = super::nested::convert(array, target, origin, first_row) {
        return converted;
    }
    let cells = Cells::new(array.as_ref()).ok_or_else(|| {
        anyhow!(
            "{}: column `{}` has type {} which verge cannot read as {}",
            origin.place,
            origin.column,
            array.data_type(),
            target.name()
        )
    })?;
    let mut builder = Builder::new(target, array.len());
    for i in 0..array.len() {
        let cell = cells.get(i).map_err(|m| origin.at(first_row + i, &m))?;
        builder
            .push(cell)
            .map_err(|m| origin.at(first_row + i, &m))?;
    }
    Ok(builder.finish())
}

/// Fails naming the first null row of `array` (a column that must be complete).
pub(crate) fn require_no_nulls(array: &dyn Array, origin: Origin<'_>, what: &str) -> Result<()> {
    if array.null_count() == 0 {
        return Ok(());
    }
    match (0..array.len()).find(|&i| array.is_null(i)) {
        Some(row) => Err(origin.at(row, &format!("{what} is empty; every row needs one"))),
        None => bail!("{}: column `{}` has nulls", origin.place, origin.column),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int64Array, StringArray, TimestampNanosecondArray};

    const ORIGIN: Origin<'static> = Origin {
        place: "test",
        column: "c",
    };

    fn text(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    #[test]
    fn numeric_text_with_markers() {
        let a = text(&[Some("1"), Some("?"), Some(""), Some(" 2.0 "), None]);
        let out = convert_array(&a, Target::Value(DType::Int64), ORIGIN, 0).unwrap();
        let want: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, None, Some(2), None]));
        assert_eq!(&out, &want);
        let out = convert_array(&a, Target::Value(DType::Float64), ORIGIN, 0).unwrap();
        let want: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(1.0),
            None,
            None,
            Some(2.0),
            None,
        ]));
        assert_eq!(&out, &want);
    }

    #[test]
    fn fractional_float_is_not_an_int() {
        let a = text(&[Some("1"), Some("2.5")]);
        let err = convert_array(&a, Target::Value(DType::Int64), ORIGIN, 10)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "test: row 12, column `c`: cannot read `2.5` as int64; not a whole number"
        );
    }

    #[test]
    fn numbers_print_as_strings_and_ints_widen() {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(7), None]));
        let out = convert_array(&a, Target::Value(DType::String), ORIGIN, 0).unwrap();
        assert_eq!(&out, &text(&[Some("7"), None]));
        let out = convert_array(&a, Target::Value(DType::Float32), ORIGIN, 0).unwrap();
        assert_eq!(out.as_primitive::<Float32Type>().value(0), 7.0);
        let out = convert_array(&a, Target::Value(DType::Bool), ORIGIN, 0);
        assert!(out.is_err(), "7 is not a bool");
    }

    #[test]
    fn timestamps_from_nanos_floor_and_epoch_ints_are_refused() {
        let a: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![Some(-1), Some(1_999)]));
        let out = convert_array(&a, Target::Timestamp, ORIGIN, 0).unwrap();
        let out = out.as_primitive::<TimestampMicrosecondType>();
        assert_eq!(out.values().as_ref(), &[-1, 1]);
        let a: ArrayRef = Arc::new(Int64Array::from(vec![1_624_638_987]));
        let err = convert_array(&a, Target::Timestamp, ORIGIN, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("epoch seconds"), "{err}");
    }

    #[test]
    fn nan_is_null_and_infinities_are_refused_with_their_row() {
        let a: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.5), Some(f64::NAN), None]));
        let out = convert_array(&a, Target::Value(DType::Float64), ORIGIN, 0).unwrap();
        let want: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.5), None, None]));
        assert_eq!(&out, &want);
        for bad in [f64::INFINITY, f64::NEG_INFINITY] {
            let a: ArrayRef = Arc::new(Float64Array::from(vec![1.0, bad]));
            let err = convert_array(&a, Target::Value(DType::Float64), ORIGIN, 10)
                .unwrap_err()
                .to_string();
            assert!(err.contains("row 12, column `c`"), "{err}");
            assert!(err.contains("not a finite number"), "{err}");
        }
        for text in ["inf", "-Infinity", "1e400"] {
            let a: ArrayRef = Arc::new(StringArray::from(vec![text]));
            let err = convert_array(&a, Target::Value(DType::Float64), ORIGIN, 0)
                .unwrap_err()
                .to_string();
            assert!(err.contains("not a finite number"), "{text}: {err}");
        }
        // Finite in float64, infinite in float32: refused, with the fix.
        let a: ArrayRef = Arc::new(Float64Array::from(vec![1e300]));
        let err = convert_array(&a, Target::Value(DType::Float32), ORIGIN, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("declare the field float64"), "{err}");
    }
}
