//! [`ColumnFill`]: one column of a [`ViewBuilder`](super::ViewBuilder)'s
//! batch, filled on its own so that a host can fill a batch's columns on
//! several threads (the borrows are disjoint, and the bytes do not depend on
//! the order the columns are filled in).

use alloc::format;

use super::ColumnSlot;
use super::column::ColumnBuf;
use crate::definition::Field;
use crate::{Error, Result};

use super::column::CellRef;

/// One column of a [`ViewBuilder`](super::ViewBuilder)'s current batch, from
/// [`ViewBuilder::column_fills`](super::ViewBuilder::column_fills).
#[derive(Debug)]
pub struct ColumnFill<'v> {
    pub(super) view: &'v str,
    pub(super) slot: ColumnSlot,
    pub(super) field: &'v Field,
    pub(super) col: &'v mut ColumnBuf,
    pub(super) rows: usize,
}

impl ColumnFill<'_> {
    /// Which column this is.
    #[must_use]
    pub fn slot(&self) -> ColumnSlot {
        self.slot
    }

    /// Fills the column: `cell(r)` lends row `r` of the batch, for every row
    /// the column lacks.
    ///
    /// # Errors
    ///
    /// As [`ViewBuilder::push_column`](super::ViewBuilder::push_column); the column is then left as it was.
    pub fn fill<'a>(&mut self, mut cell: impl FnMut(usize) -> CellRef<'a>) -> Result<()> {
        let what = match self.slot {
            ColumnSlot::Key(_) => "join key",
            ColumnSlot::Field(_) => "field",
        };
        let col = &mut *self.col;
        let start = col.rows;
        let rows = self.rows.saturating_sub(start);
        let mark = col.mark();
        col.reserve(rows);
        for r in 0..rows {
            let value = cell(r);
            let refused = (what == "join key" && matches!(value, CellRef::Null))
                || col.push_cell(value).is_err();
            if refused {
                col.rollback(mark);
                return Err(Error::Request(format!(
                    "view `{}`: {what} `{}` is {}; batch row {r} has {value:?} (or its text passes 4 GiB)",
                    self.view, self.field.name, self.field.dtype
                )));
            }
        }
        Ok(())
    }
}
