//! A dense, row-major matrix of `f64`: the training data every `fit` reads.
//!
//! Row-major because training rows arrive one by one from the host, and because it
//! is numpy's default (C) order: summing a column row by row here adds numbers in
//! the same order numpy does for an `axis=0` reduction, which keeps the fitted
//! statistics bit-for-bit close to scikit-learn's.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::artifact::wire::decode_struct;
use crate::{Error, Result};

/// A dense `n_rows × n_cols` matrix stored row by row.
///
/// # Examples
///
/// ```
/// use verge_core::transform::Matrix;
/// let x = Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0]]).unwrap();
/// assert_eq!((x.n_rows(), x.n_cols()), (2, 2));
/// assert_eq!(x.column(1).collect::<Vec<_>>(), vec![2.0, 4.0]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "MatrixParts", into = "MatrixParts")]
pub struct Matrix {
    n_rows: usize,
    n_cols: usize,
    data: Vec<f64>,
}

/// The stored form of a [`Matrix`]; deserializing checks that the shape fits the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixParts {
    /// Number of rows.
    pub n_rows: usize,
    /// Number of columns.
    pub n_cols: usize,
    /// The values, row after row.
    pub data: Vec<f64>,
}

impl TryFrom<MatrixParts> for Matrix {
    type Error = Error;
    fn try_from(parts: MatrixParts) -> Result<Self> {
        Matrix::from_flat(parts.n_rows, parts.n_cols, parts.data)
    }
}

impl From<Matrix> for MatrixParts {
    fn from(m: Matrix) -> Self {
        MatrixParts {
            n_rows: m.n_rows,
            n_cols: m.n_cols,
            data: m.data,
        }
    }
}

impl Matrix {
    /// Builds a matrix from `n_rows * n_cols` values in row order.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `data.len() != n_rows * n_cols`.
    pub fn from_flat(n_rows: usize, n_cols: usize, data: Vec<f64>) -> Result<Self> {
        let expected = n_rows.checked_mul(n_cols).ok_or(Error::Shape {
            stage: "matrix",
            expected: usize::MAX,
            actual: data.len(),
        })?;
        if data.len() != expected {
            return Err(Error::Shape {
                stage: "matrix",
                expected,
                actual: data.len(),
            });
        }
        Ok(Matrix {
            n_rows,
            n_cols,
            data,
        })
    }

    /// Builds a matrix from rows of equal length. No rows gives a `0 × 0` matrix.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when a row's length differs from the first row's.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self> {
        let n_cols = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(rows.len().saturating_mul(n_cols));
        for row in rows {
            if row.len() != n_cols {
                return Err(Error::Shape {
                    stage: "matrix row",
                    expected: n_cols,
                    actual: row.len(),
                });
            }
            data.extend_from_slice(row);
        }
        Ok(Matrix {
            n_rows: rows.len(),
            n_cols,
            data,
        })
    }

    /// A matrix with `n_cols` columns and no rows yet; add rows with [`Matrix::push_row`].
    #[must_use]
    pub fn with_cols(n_cols: usize) -> Self {
        Matrix {
            n_rows: 0,
            n_cols,
            data: Vec::new(),
        }
    }

    /// Appends one row.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `row.len() != self.n_cols()`.
    pub fn push_row(&mut self, row: &[f64]) -> Result<()> {
        if row.len() != self.n_cols {
            return Err(Error::Shape {
                stage: "matrix row",
                expected: self.n_cols,
                actual: row.len(),
            });
        }
        self.data.extend_from_slice(row);
        self.n_rows += 1;
        Ok(())
    }

    /// Number of rows (samples).
    #[must_use]
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns (features).
    #[must_use]
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// All values, row after row.
    #[must_use]
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// Row `i`, or `None` past the end.
    #[must_use]
    pub fn row(&self, i: usize) -> Option<&[f64]> {
        let start = i.checked_mul(self.n_cols)?;
        self.data.get(start..start.checked_add(self.n_cols)?)
    }

    /// The rows in order. A matrix with zero columns yields no rows.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f64]> + '_ {
        // `chunks_exact(0)` would panic; a zero-width matrix has nothing to visit.
        self.data.chunks_exact(self.n_cols.max(1)).take(self.n_rows)
    }

    /// The rows in order, mutably.
    pub fn rows_mut(&mut self) -> impl ExactSizeIterator<Item = &mut [f64]> + '_ {
        let n_rows = self.n_rows;
        self.data.chunks_exact_mut(self.n_cols.max(1)).take(n_rows)
    }

    /// Column `j` from top to bottom (empty past the last column).
    pub fn column(&self, j: usize) -> impl Iterator<Item = f64> + Clone + '_ {
        let n = if j < self.n_cols { self.n_rows } else { 0 };
        self.data
            .iter()
            .skip(j)
            .step_by(self.n_cols.max(1))
            .take(n)
            .copied()
    }

    /// A new matrix with only the rows whose index `keep` accepts, in order.
    #[must_use]
    pub fn filter_rows(&self, mut keep: impl FnMut(usize) -> bool) -> Matrix {
        let mut out = Matrix::with_cols(self.n_cols);
        for (i, row) in self.rows().enumerate() {
            if keep(i) {
                out.data.extend_from_slice(row);
                out.n_rows += 1;
            }
        }
        out
    }

    /// A new matrix with the columns at `indices`, in that order.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when an index is out of range.
    pub fn select_columns(&self, indices: &[usize]) -> Result<Matrix> {
        if let Some(&bad) = indices.iter().find(|&&j| j >= self.n_cols) {
            return Err(Error::Shape {
                stage: "column selection",
                expected: self.n_cols,
                actual: bad.saturating_add(1),
            });
        }
        let mut data = Vec::with_capacity(self.n_rows.saturating_mul(indices.len()));
        for row in self.rows() {
            data.extend(indices.iter().filter_map(|&j| row.get(j)));
        }
        Ok(Matrix {
            n_rows: self.n_rows,
            n_cols: indices.len(),
            data,
        })
    }
}

decode_struct!(Matrix as MatrixParts { n_rows, n_cols, data });

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn ragged_rows_are_rejected() {
        let err = Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0]]).unwrap_err();
        assert!(matches!(
            err,
            Error::Shape {
                expected: 2,
                actual: 1,
                ..
            }
        ));
        assert!(Matrix::from_flat(2, 2, vec![1.0; 3]).is_err());
    }

    #[test]
    fn rows_columns_and_selection() {
        let x = Matrix::from_flat(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(x.row(1), Some(&[4.0, 5.0, 6.0][..]));
        assert_eq!(x.row(2), None);
        assert_eq!(x.column(2).collect::<Vec<_>>(), vec![3.0, 6.0]);
        assert_eq!(x.column(3).count(), 0);
        let s = x.select_columns(&[2, 0]).unwrap();
        assert_eq!(s.as_slice(), &[3.0, 1.0, 6.0, 4.0]);
        assert!(x.select_columns(&[3]).is_err());
        let f = x.filter_rows(|i| i == 1);
        assert_eq!(f.as_slice(), &[4.0, 5.0, 6.0]);
        let empty = Matrix::with_cols(0);
        assert_eq!(empty.rows().count(), 0);
    }
}
