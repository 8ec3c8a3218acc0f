//! Unit tests for the snapshot builder: layout, sorting, sharding and merge rules.

use super::*;
use crate::artifact::Snapshot;
use crate::value::{DType, KeyPart};
use alloc::string::ToString;
use alloc::vec;

fn fields() -> Vec<Field> {
    vec![
        Field::new("b", DType::Bool),
        Field::new("i", DType::Int64),
        Field::new("f32", DType::Float32),
        Field::new("f64", DType::Float64),
        Field::new("s", DType::String),
    ]
}

fn row(r: usize) -> (EntityKey, Timestamp, Timestamp, Vec<Value>) {
    let null = |k: usize| (r * 7 + k).is_multiple_of(5);
    let pick = |k: usize, v: Value| if null(k) { Value::Null } else { v };
    (
        EntityKey(vec![
            KeyPart::Int64(r as i64 * 3 - 10),
            KeyPart::String(format!("k{r}é")),
        ]),
        Timestamp::from_secs(r as i64),
        Timestamp::from_secs(r as i64 + 1),
        vec![
            pick(0, Value::Bool(r.is_multiple_of(3))),
            pick(1, Value::Int64(-(r as i64))),
            pick(2, Value::Float32(r as f32 / 4.0)),
            pick(3, Value::Float64(r as f64 * 1.5)),
            pick(4, Value::String(format!("text {r}"))),
        ],
    )
}

fn empty(created: bool) -> ViewBuilder {
    ViewBuilder::new(
        "v",
        vec![
            Field::new("id", DType::Int64),
            Field::new("name", DType::String),
        ],
        fields(),
        Duration::from_secs(60),
        created,
    )
}

fn frame(view: ViewBuilder) -> Vec<u8> {
    SnapshotBuilder::new(ContentId::of(b"r"), Timestamp::MIN, Timestamp::MAX)
        .with_view(view)
        .finish()
        .unwrap()
}

#[test]
fn columns_and_rows_write_the_same_bytes() {
    for n in [0usize, 1, 7, 8, 9, 23] {
        for created in [false, true] {
            let rows: Vec<_> = (0..n).map(row).collect();
            let mut by_row = empty(created);
            for (key, e, c, values) in &rows {
                by_row
                    .push_row(key, *e, created.then_some(*c), values)
                    .unwrap();
            }
            // Two batches, split unevenly, to exercise appending to partial bytes.
            let mut by_col = empty(created);
            let split = n / 3;
            for range in [0..split, split..n] {
                let part = &rows[range];
                by_col
                    .push_columns(
                        part.len(),
                        |r| (part[r].1, Some(part[r].2)),
                        |slot, r| match slot {
                            ColumnSlot::Key(i) => CellRef::from(&part[r].0.parts()[i]),
                            ColumnSlot::Field(i) => CellRef::from(&part[r].3[i]),
                        },
                    )
                    .unwrap();
            }
            assert_eq!(by_col.rows(), n);
            let bytes = frame(by_col);
            assert_eq!(bytes, frame(by_row), "n={n} created={created}");
            Snapshot::load(bytes).unwrap();
        }
    }
}

#[test]
fn a_failed_batch_leaves_no_trace() {
    let rows: Vec<_> = (0..11).map(row).collect();
    let push_some = |view: &mut ViewBuilder, range: core::ops::Range<usize>| {
        let part = &rows[range];
        view.push_columns(
            part.len(),
            |r| (part[r].1, Some(part[r].2)),
            |slot, r| match slot {
                ColumnSlot::Key(i) => CellRef::from(&part[r].0.parts()[i]),
                ColumnSlot::Field(i) => CellRef::from(&part[r].3[i]),
            },
        )
    };
    let mut clean = empty(true);
    push_some(&mut clean, 0..5).unwrap();
    push_some(&mut clean, 5..11).unwrap();

    let mut dirty = empty(true);
    push_some(&mut dirty, 0..5).unwrap();
    // A bool where a float belongs, on the batch's fourth row: the batch is refused whole.
    let err = dirty
        .push_columns(
            6,
            |_| (Timestamp::from_secs(1), Some(Timestamp::from_secs(1))),
            |slot, r| match (slot, r) {
                (ColumnSlot::Key(0), _) => CellRef::Int64(99),
                (ColumnSlot::Key(_), _) => CellRef::Str("x"),
                (ColumnSlot::Field(3), 3) => CellRef::Bool(true),
                (ColumnSlot::Field(0), _) => CellRef::Bool(true),
                _ => CellRef::Null,
            },
        )
        .unwrap_err();
    assert!(format!("{err}").contains("field `f64` is float64"), "{err}");
    // A null join key is refused too.
    assert!(
        dirty
            .push_columns(
                1,
                |_| (Timestamp::from_secs(1), Some(Timestamp::from_secs(1))),
                |_, _| CellRef::Null,
            )
            .is_err()
    );
    assert_eq!(dirty.rows(), 5);
    push_some(&mut dirty, 5..11).unwrap();
    assert_eq!(frame(dirty), frame(clean));
}

#[test]
fn column_at_a_time_matches_and_incomplete_batches_are_refused() {
    let rows: Vec<_> = (0..13).map(row).collect();
    let mut by_row = empty(true);
    for (key, e, c, values) in &rows {
        by_row.push_row(key, *e, Some(*c), values).unwrap();
    }
    let mut by_col = empty(true);
    by_col
        .push_times(rows.len(), |r| (rows[r].1, Some(rows[r].2)))
        .unwrap();
    for i in 0..2 {
        by_col
            .push_column(ColumnSlot::Key(i), |r| CellRef::from(&rows[r].0.parts()[i]))
            .unwrap();
    }
    for i in 0..5 {
        if i == 4 {
            // Unfilled column: no new batch, no row, no finish.
            assert!(
                by_col
                    .push_times(1, |_| (Timestamp(0), Some(Timestamp(0))))
                    .is_err()
            );
            assert!(
                by_col
                    .push_row(&rows[0].0, rows[0].1, Some(rows[0].2), &rows[0].3)
                    .is_err()
            );
            assert!(
                SnapshotBuilder::new(ContentId::of(b"r"), Timestamp::MIN, Timestamp::MAX)
                    .with_view(by_col.clone())
                    .finish()
                    .is_err()
            );
            // A wrong type leaves the column unfilled, to be filled again.
            assert!(
                by_col
                    .push_column(ColumnSlot::Field(4), |_| CellRef::Int64(1))
                    .is_err()
            );
        }
        by_col
            .push_column(ColumnSlot::Field(i), |r| CellRef::from(&rows[r].3[i]))
            .unwrap();
    }
    assert!(
        by_col
            .push_column(ColumnSlot::Field(9), |_| CellRef::Null)
            .is_err()
    );
    assert_eq!(frame(by_col), frame(by_row));
}

/// Fills every column of a batch of `rows` through [`ColumnFill::fill_in_order`]
/// with `order`, after the rows of `before` were pushed one by one.
fn filled_in_order(
    rows: &[(EntityKey, Timestamp, Timestamp, Vec<Value>)],
    before: usize,
    order: &[u32],
) -> ViewBuilder {
    let mut view = empty(true);
    for (key, e, c, values) in &rows[..before] {
        view.push_row(key, *e, Some(*c), values).unwrap();
    }
    let batch = &rows[before..];
    view.push_times(batch.len(), |r| (batch[r].1, Some(batch[r].2)))
        .unwrap();
    for mut fill in view.column_fills() {
        let slot = fill.slot();
        fill.fill_in_order(order, |r| match slot {
            ColumnSlot::Key(i) => CellRef::from(&batch[r].0.parts()[i]),
            ColumnSlot::Field(i) => CellRef::from(&batch[r].3[i]),
        })
        .unwrap();
    }
    view
}

#[test]
fn filling_in_any_order_writes_the_bytes_of_row_order() {
    for (n, before) in [(0usize, 0usize), (1, 0), (9, 3), (23, 5), (64, 13)] {
        let rows: Vec<_> = (0..n).map(row).collect();
        let mut by_row = empty(true);
        for (key, e, c, values) in &rows {
            by_row.push_row(key, *e, Some(*c), values).unwrap();
        }
        let batch = (n - before) as u32;
        // Reversed, then a stride of 7, which visits every row once: no
        // batch size here is a multiple of 7.
        let reversed: Vec<u32> = (0..batch).rev().collect();
        let strided: Vec<u32> = (0..batch).map(|i| (i * 7) % batch.max(1)).collect();
        for order in [reversed, strided] {
            let view = filled_in_order(&rows, before, &order);
            assert_eq!(
                frame(view),
                frame(by_row.clone()),
                "{n} rows, {before} before, {order:?}"
            );
        }
    }
}

#[test]
fn a_refused_cell_in_order_leaves_the_column_as_it_was() {
    let rows: Vec<_> = (0..10).map(row).collect();
    let mut view = empty(true);
    view.push_times(rows.len(), |r| (rows[r].1, Some(rows[r].2)))
        .unwrap();
    let order: Vec<u32> = (0..10).rev().collect();
    let mut fills = view.column_fills();
    // A text cell in the Int64 field, at batch row 4.
    let int = fills
        .iter_mut()
        .find(|f| f.slot() == ColumnSlot::Field(1))
        .unwrap();
    let err = int
        .fill_in_order(&order, |r| {
            if r == 4 {
                CellRef::Str("x")
            } else {
                CellRef::Int64(1)
            }
        })
        .unwrap_err();
    assert!(err.to_string().contains("batch row 4"), "{err}");
    // A null join key is refused too.
    let key = fills
        .iter_mut()
        .find(|f| f.slot() == ColumnSlot::Key(0))
        .unwrap();
    let err = key
        .fill_in_order(&order, |r| {
            if r == 2 {
                CellRef::Null
            } else {
                CellRef::Int64(1)
            }
        })
        .unwrap_err();
    assert!(
        err.to_string().contains("join key") && err.to_string().contains("batch row 2"),
        "{err}"
    );
    drop(fills);
    // Both columns were left unfilled: filling them again in row order works.
    for mut fill in view.column_fills() {
        let slot = fill.slot();
        fill.fill(|r| match slot {
            ColumnSlot::Key(i) => CellRef::from(&rows[r].0.parts()[i]),
            ColumnSlot::Field(i) => CellRef::from(&rows[r].3[i]),
        })
        .unwrap();
    }
    let mut by_row = empty(true);
    for (key, e, c, values) in &rows {
        by_row.push_row(key, *e, Some(*c), values).unwrap();
    }
    assert_eq!(frame(view), frame(by_row));
}
