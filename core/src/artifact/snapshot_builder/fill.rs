//! [`ColumnFill`]: one column of a [`ViewBuilder`](super::ViewBuilder)'s
//! batch, filled on its own so that a host can fill a batch's columns on
//! several threads (the borrows are disjoint, and the bytes do not depend on
//! the order the columns are filled in).

use alloc::format;

use super::ColumnSlot;
use super::column::{ColumnBuf, is_variable};
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

    /// [`Self::fill`], visiting the rows in `order` (every batch row once,
    /// in any order) where the column is fixed-width, for the same bytes:
    /// a host whose reads of row `r` are cheaper in some order than in row
    /// order (winners gathered out of a large source, visited in source
    /// order) passes that order. Variable-width columns are filled in row
    /// order whatever `order` says.
    ///
    /// # Errors
    ///
    /// As [`Self::fill`], naming the first refused row in `order`; the column
    /// is then left as it was.
    pub fn fill_in_order<'a>(
        &mut self,
        order: &[u32],
        mut cell: impl FnMut(usize) -> CellRef<'a>,
    ) -> Result<()> {
        let rows = self.rows.saturating_sub(self.col.rows);
        if is_variable(self.col.dtype) || order.len() != rows {
            return self.fill(cell);
        }
        let is_key = matches!(self.slot, ColumnSlot::Key(_));
        let mark = self.col.mark();
        let mut null_key = None;
        let put = self.col.put_fixed(rows, order, |r| {
            let value = cell(r);
            if is_key && value == CellRef::Null && null_key.is_none() {
                null_key = Some(r);
            }
            value
        });
        let bad = match put {
            Err(r) => Some(r),
            Ok(()) => null_key,
        };
        match bad {
            None => Ok(()),
            Some(r) => {
                self.col.rollback(mark);
                let what = if is_key { "join key" } else { "field" };
                Err(Error::Request(format!(
                    "view `{}`: {what} `{}` is {}; batch row {r} has {:?} (or its text passes 4 GiB)",
                    self.view,
                    self.field.name,
                    self.field.dtype,
                    cell(r)
                )))
            }
        }
    }
}
