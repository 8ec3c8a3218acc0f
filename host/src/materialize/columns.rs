//! Candidate rows for materialization, held as typed Arrow arrays, and the pass
//! that picks one winner per key.
//!
//! A view's candidates come in *segments*: the rows of the previous snapshot's
//! table (no window: they were already chosen), then the source rows (only those
//! with `start <= event_ts <= end` count). Winners are picked in one pass over
//! all segments in that order with a hash map from key to the best row so far; a
//! row replaces the best when its `(event_ts, created_ts)` is greater **or equal**,
//! so on a complete tie the later row wins: the last in the source, and a source
//! row over a snapshot row. Winners are then sorted by key, which makes the
//! snapshot bytes a function of the data alone. The pass runs on all cores,
//! split by key hash (`pick_by`), with the same winners for any thread count.
//!
//! Nothing here builds a `Value` or a `String` per cell: cells are lent to the
//! snapshot builder as [`CellRef`]s straight out of the arrays.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, Hash};

use anyhow::{Context as _, Result, bail};
use arrow_array::cast::AsArray as _;
use arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray, TimestampMicrosecondArray,
};
use rayon::prelude::*;
use rustc_hash::FxBuildHasher;
use verge_core::artifact::{CellRef, Snapshot};
use verge_core::definition::Field;

use crate::arrow_values::{array_of, value_at};
use verge_core::{DType, EntityKey, KeyPart, Value};

/// One typed column of candidate rows.
#[derive(Debug, Clone)]
pub(crate) enum TypedCol {
    Bool(BooleanArray),
    Int(Int64Array),
    F32(Float32Array),
    F64(Float64Array),
    Str(StringArray),
    Int32(Int32Array),
    Micros(TimestampMicrosecondArray),
    Bytes(BinaryArray),
    Json(StringArray),
    /// Arrays: each cell read once into a core value, then lent.
    Values(Vec<Value>),
}

impl TypedCol {
    /// Views `array` as a column of `dtype` (the source reader already converted it).
    fn new(array: &ArrayRef, dtype: DType, what: &dyn Fn() -> String) -> Result<TypedCol> {
        let col = match dtype {
            DType::Bool => array.as_boolean_opt().cloned().map(TypedCol::Bool),
            DType::Int64 => array
                .as_primitive_opt::<Int64Type>()
                .cloned()
                .map(TypedCol::Int),
            DType::Float32 => array
                .as_primitive_opt::<Float32Type>()
                .cloned()
                .map(TypedCol::F32),
            DType::Float64 => array
                .as_primitive_opt::<Float64Type>()
                .cloned()
                .map(TypedCol::F64),
            DType::String => array.as_string_opt::<i32>().cloned().map(TypedCol::Str),
            DType::Json => array.as_string_opt::<i32>().cloned().map(TypedCol::Json),
            DType::Int32 => array
                .as_primitive_opt::<Int32Type>()
                .cloned()
                .map(TypedCol::Int32),
            DType::UnixTimestamp => array
                .as_primitive_opt::<TimestampMicrosecondType>()
                .cloned()
                .map(TypedCol::Micros),
            DType::Bytes => array.as_binary_opt::<i32>().cloned().map(TypedCol::Bytes),
            DType::Array(_) => (0..array.len())
                .map(|r| value_at(array.as_ref(), dtype, r))
                .collect::<Result<Vec<_>>>()
                .ok()
                .map(TypedCol::Values),
        };
        col.with_context(|| {
            format!(
                "{} is {} in the batch, expected {dtype}",
                what(),
                array.data_type()
            )
        })
    }

    /// Row `row`'s cell; null when out of range (it never is: rows come from this column).
    #[inline]
    pub(crate) fn cell(&self, row: usize) -> CellRef<'_> {
        macro_rules! prim {
            ($a:expr, $variant:ident) => {
                if $a.is_null(row) {
                    CellRef::Null
                } else {
                    $a.values()
                        .get(row)
                        .map_or(CellRef::Null, |v| CellRef::$variant(*v))
                }
            };
        }
        match self {
            TypedCol::F64(a) => prim!(a, Float64),
            TypedCol::F32(a) => prim!(a, Float32),
            TypedCol::Int(a) => prim!(a, Int64),
            TypedCol::Bool(a) => {
                if row >= a.len() || a.is_null(row) {
                    CellRef::Null
                } else {
                    CellRef::Bool(a.value(row))
                }
            }
            TypedCol::Int32(a) => prim!(a, Int32),
            TypedCol::Micros(a) => prim!(a, Timestamp),
            TypedCol::Str(a) | TypedCol::Json(a) => {
                if row >= a.len() || a.is_null(row) {
                    CellRef::Null
                } else if matches!(self, TypedCol::Json(_)) {
                    CellRef::Json(a.value(row))
                } else {
                    CellRef::Str(a.value(row))
                }
            }
            TypedCol::Bytes(a) => {
                if row >= a.len() || a.is_null(row) {
                    CellRef::Null
                } else {
                    CellRef::Bytes(a.value(row))
                }
            }
            TypedCol::Values(values) => values.get(row).map_or(CellRef::Null, CellRef::from),
        }
    }

    /// Bytes a row of this column costs in a snapshot (data, plus its text).
    fn bytes_at(&self, row: usize) -> usize {
        match self {
            TypedCol::Bool(_) => 0,
            TypedCol::F32(_) | TypedCol::Int32(_) => 4,
            TypedCol::Int(_) | TypedCol::F64(_) | TypedCol::Micros(_) => 8,
            TypedCol::Str(a) | TypedCol::Json(a) => {
                4 + if row < a.len() && a.is_valid(row) {
                    a.value(row).len()
                } else {
                    0
                }
            }
            TypedCol::Bytes(a) => {
                4 + if row < a.len() && a.is_valid(row) {
                    a.value(row).len()
                } else {
                    0
                }
            }
            TypedCol::Values(values) => 4 + values.get(row).map_or(0, cell_bytes),
        }
    }
}

/// A run of candidate rows of one view, with the window they must fall in.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub(crate) rows: usize,
    pub(crate) keys: Vec<TypedCol>,
    pub(crate) event: Vec<i64>,
    /// Created times; `i64::MIN` for a null, or for every row when absent.
    pub(crate) created: Option<Vec<i64>>,
    /// Field columns; `None` once copied into the snapshot and released.
    pub(crate) fields: Vec<Option<TypedCol>>,
    /// `Some((start, end))`: only rows with `start <= event <= end` are candidates.
    pub(crate) window: Option<(i64, i64)>,
}

impl Segment {
    /// The source rows of a view, from a batch in the layout of
    /// [`crate::source::read_source`].
    pub(crate) fn from_batch(
        batch: &RecordBatch,
        view: &str,
        join_keys: &[Field],
        event: &str,
        created: Option<&str>,
        fields: &[Field],
        window: (i64, i64),
    ) -> Result<Segment> {
        let column = |name: &str| {
            batch.column_by_name(name).with_context(|| {
                format!("the batch for feature view `{view}` has no column `{name}`")
            })
        };
        let times = |name: &str| -> Result<Vec<i64>> {
            let array = column(name)?;
            let a = array
                .as_primitive_opt::<TimestampMicrosecondType>()
                .with_context(|| {
                    format!("feature view `{view}`: column `{name}` is not µs timestamps")
                })?;
            // Nulls (allowed in the created column only) rank lowest.
            Ok(match a.nulls() {
                None => a.values().to_vec(),
                Some(_) => a.iter().map(|v| v.unwrap_or(i64::MIN)).collect(),
            })
        };
        let mut keys = Vec::with_capacity(join_keys.len());
        for k in join_keys {
            let what = || format!("feature view `{view}`: join key `{}`", k.name);
            keys.push(key_column(column(&k.name)?, k.dtype, &what)?);
        }
        let mut cols = Vec::with_capacity(fields.len());
        for f in fields {
            cols.push(Some(TypedCol::new(column(&f.name)?, f.dtype, &|| {
                format!("feature view `{view}`: field `{}`", f.name)
            })?));
        }
        let event_col = column(event)?;
        if event_col.null_count() > 0 {
            bail!("feature view `{view}`: the event timestamp column `{event}` has empty values");
        }
        Ok(Segment {
            rows: batch.num_rows(),
            keys,
            event: times(event)?,
            created: created.map(times).transpose()?,
            fields: cols,
            window: Some(window),
        })
    }

    /// The rows of table `table` of a previous snapshot.
    pub(crate) fn from_snapshot(snapshot: &Snapshot, table: usize) -> Result<Segment> {
        let meta = snapshot
            .meta()
            .views
            .get(table)
            .context("internal: snapshot table out of range")?;
        let rows = snapshot.table(table).map_or(0, |t| t.rows());
        let mut keys = Vec::with_capacity(meta.join_keys.len());
        for (i, k) in meta.join_keys.iter().enumerate() {
            let values = (0..rows).map(|r| {
                snapshot
                    .key(table, r)
                    .and_then(|key| key.parts().get(i).cloned())
                    .map_or(Value::Null, |p| match p {
                        KeyPart::Int64(v) => Value::Int64(v),
                        KeyPart::String(s) => Value::String(s),
                    })
            });
            keys.push(column_of(key_dtype(k.dtype), rows, values));
        }
        let fields = meta
            .fields
            .iter()
            .enumerate()
            .map(|(c, f)| {
                Some(column_of(
                    f.dtype,
                    rows,
                    (0..rows).map(|r| snapshot.value(table, c, r)),
                ))
            })
            .collect();
        let has_created = meta.has_created;
        Ok(Segment {
            rows,
            keys,
            event: (0..rows)
                .map(|r| snapshot.event_ts(table, r).as_micros())
                .collect(),
            created: has_created.then(|| {
                (0..rows)
                    .map(|r| {
                        snapshot
                            .created_ts(table, r)
                            .map_or(i64::MIN, |t| t.as_micros())
                    })
                    .collect()
            }),
            fields,
            window: None,
        })
    }

    /// Row `row`'s event and created times (`i64::MIN` for no created time).
    #[inline]
    pub(crate) fn times(&self, row: usize) -> (i64, i64) {
        self.rank(row)
    }

    #[inline]
    fn rank(&self, row: usize) -> (i64, i64) {
        let created = self
            .created
            .as_ref()
            .and_then(|c| c.get(row).copied())
            .unwrap_or(i64::MIN);
        (self.event.get(row).copied().unwrap_or(i64::MIN), created)
    }

    #[inline]
    fn in_window(&self, row: usize) -> bool {
        match self.window {
            None => true,
            Some((start, end)) => self.event.get(row).is_some_and(|&e| start <= e && e <= end),
        }
    }

    /// Snapshot bytes row `row` costs: keys, timestamps, fields, validity bits.
    pub(crate) fn bytes_at(&self, row: usize) -> usize {
        let cols: usize = self
            .keys
            .iter()
            .chain(self.fields.iter().flatten())
            .map(|c| c.bytes_at(row))
            .sum();
        cols + 16 + self.fields.len().div_ceil(8)
    }
}

/// A column of `dtype` from `rows` values (the previous snapshot's path; not hot).
fn column_of(dtype: DType, rows: usize, values: impl Iterator<Item = Value>) -> TypedCol {
    let mut all = Vec::with_capacity(rows);
    all.extend(values);
    let array = array_of(dtype, &all);
    // `array_of` builds exactly the Arrow type `TypedCol::new` expects.
    TypedCol::new(&array, dtype, &String::new).unwrap_or(TypedCol::Values(all))
}

/// Join keys are held as int64 whatever their width: the key index, the
/// winner map and the snapshot builder all take integer keys as i64.
fn key_dtype(dtype: DType) -> DType {
    if dtype == DType::Int32 {
        DType::Int64
    } else {
        dtype
    }
}

fn key_column(array: &ArrayRef, dtype: DType, what: &dyn Fn() -> String) -> Result<TypedCol> {
    if dtype == DType::Int32
        && let Some(a) = array.as_primitive_opt::<Int32Type>()
    {
        let wide: Int64Array = a.iter().map(|v| v.map(i64::from)).collect();
        return Ok(TypedCol::Int(wide));
    }
    TypedCol::new(array, key_dtype(dtype), what)
}

/// Snapshot bytes of an array cell, beyond its offset.
fn cell_bytes(value: &Value) -> usize {
    match value {
        Value::Array(a) => match a.elem().width() {
            Some(w) => w * a.len(),
            None => (0..a.len())
                .filter_map(|i| a.get(i))
                .map(|v| match v {
                    Value::String(s) => 4 + s.len(),
                    Value::Bytes(b) => 4 + b.len(),
                    _ => 4,
                })
                .sum(),
        },
        _ => 0,
    }
}

/// A winning row: which segment, which row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pick {
    pub(crate) seg: u32,
    pub(crate) row: u32,
}

/// One part of a composite key, borrowed from its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum PartRef<'a> {
    Int(i64),
    Str(&'a str),
}

fn part_at(col: &TypedCol, row: usize) -> Option<PartRef<'_>> {
    match col.cell(row) {
        CellRef::Int64(v) => Some(PartRef::Int(v)),
        CellRef::Str(s) => Some(PartRef::Str(s)),
        _ => None,
    }
}

/// The winner of every key over `segments`, sorted by key.
///
/// # Errors
///
/// More than 2^32 rows in a segment, or a segment with no join key.
pub(crate) fn winners(segments: &[Segment]) -> Result<Vec<Pick>> {
    for s in segments {
        if u32::try_from(s.rows).is_err() {
            bail!(
                "{} rows in one feature view; materialize handles fewer than 2^32",
                s.rows
            );
        }
    }
    if u32::try_from(segments.len()).is_err() {
        bail!("too many segments");
    }
    let shape: Vec<Option<&TypedCol>> = match segments.first() {
        None => return Ok(Vec::new()),
        Some(s) => s.keys.iter().map(Some).collect(),
    };
    match shape.as_slice() {
        [Some(TypedCol::Int(_))] => Ok(pick_by(segments, |s, row| match s.keys.first() {
            Some(TypedCol::Int(a)) if a.is_valid(row) => a.values().get(row).copied(),
            _ => None,
        })),
        [Some(TypedCol::Str(_))] => Ok(pick_by(segments, |s, row| match s.keys.first() {
            Some(TypedCol::Str(a)) if row < a.len() && a.is_valid(row) => Some(a.value(row)),
            _ => None,
        })),
        [] => bail!("the feature view has no join keys"),
        _ => Ok(pick_by(segments, |s, row| {
            s.keys
                .iter()
                .map(|c| part_at(c, row))
                .collect::<Option<Vec<_>>>()
        })),
    }
}

/// How many key-hash partitions the winner pass splits the rows into. Fixed,
/// not the thread count, so nothing about the result depends on the threads.
const PARTITIONS: usize = 64;

/// Rows per block of the tagging pass: each block is one task, and sorts its
/// rows into its own partitions.
const BLOCK_ROWS: usize = 1 << 15;

/// A row on its way to its partition, with what the winner pass compares, so
/// the partition pass reads its rows in one forward stream rather than
/// reaching back into the key and time columns at random.
struct Tagged<K> {
    rank: (i64, i64),
    key: K,
    pick: Pick,
}

/// The winner pass on all cores: the rows are cut into fixed blocks, and each
/// block (blocks in parallel) puts its in-window rows with a key into its own
/// key-hash partitions, in row order. Each partition then picks its keys'
/// winners with its own map (partitions in parallel), reading its share of
/// every block in block order, and the winners are sorted by key. A key lives
/// in one partition and meets its rows in source order there, so every key's
/// winner is the one a single sequential pass picks, on any thread count.
fn pick_by<'a, K: Hash + Eq + Ord + Send>(
    segments: &'a [Segment],
    key_of: impl Fn(&'a Segment, usize) -> Option<K> + Sync,
) -> Vec<Pick> {
    let blocks: Vec<(usize, usize)> = segments
        .iter()
        .enumerate()
        .flat_map(|(si, s)| {
            (0..s.rows)
                .step_by(BLOCK_ROWS)
                .map(move |start| (si, start))
        })
        .collect();
    let tagged: Vec<Vec<Vec<Tagged<K>>>> = blocks
        .par_iter()
        .map(|&(si, start)| {
            let mut parts: Vec<Vec<Tagged<K>>> = (0..PARTITIONS).map(|_| Vec::new()).collect();
            let Some(s) = segments.get(si) else {
                return parts;
            };
            for row in start..(start + BLOCK_ROWS).min(s.rows) {
                if !s.in_window(row) {
                    continue;
                }
                // A row without a complete key cannot be looked up: it is skipped.
                let Some(key) = key_of(s, row) else {
                    continue;
                };
                let part = (FxBuildHasher.hash_one(&key) >> 58) as usize;
                if let Some(p) = parts.get_mut(part) {
                    // Both fit in u32: checked by `winners`.
                    let pick = Pick {
                        seg: si as u32,
                        row: row as u32,
                    };
                    p.push(Tagged {
                        rank: s.rank(row),
                        key,
                        pick,
                    });
                }
            }
            parts
        })
        .collect();
    let mut parts: Vec<Vec<Vec<Tagged<K>>>> = (0..PARTITIONS).map(|_| Vec::new()).collect();
    for block in tagged {
        for (part, rows) in parts.iter_mut().zip(block) {
            part.push(rows);
        }
    }
    let mut sorted: Vec<(K, Pick)> = parts
        .into_par_iter()
        .flat_map_iter(|blocks| {
            let mut best: HashMap<K, ((i64, i64), Pick), FxBuildHasher> = HashMap::default();
            for Tagged { rank, key, pick } in blocks.into_iter().flatten() {
                best.entry(key)
                    .and_modify(|b| {
                        if rank >= b.0 {
                            *b = (rank, pick);
                        }
                    })
                    .or_insert((rank, pick));
            }
            best.into_iter().map(|(key, (_, pick))| (key, pick))
        })
        .collect();
    sorted.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
    sorted.into_iter().map(|(_, p)| p).collect()
}

/// The entity key of a picked row (for sharding).
pub(crate) fn key_of(segments: &[Segment], pick: Pick) -> Option<EntityKey> {
    let s = segments.get(pick.seg as usize)?;
    let parts = s
        .keys
        .iter()
        .map(|c| match c.cell(pick.row as usize) {
            CellRef::Int64(v) => Some(KeyPart::Int64(v)),
            CellRef::Str(t) => Some(KeyPart::String(t.to_owned())),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some(EntityKey(parts))
}
