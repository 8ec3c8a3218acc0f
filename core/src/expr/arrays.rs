//! The array ops: `len`, element access `a[i]`, and the float reductions
//! `sum`, `mean`, `l2_norm`, `dot` and `cosine`.
//!
//! Arrays reach the stack borrowed from the inputs ([`Slot::Arr`]), and every
//! op here reduces one to a scalar, so an array program allocates nothing.
//!
//! The reductions are the one place where "computed identically offline and
//! online" needs care: a float sum depends on its order. Every reduction reads
//! each element as an `f64` (int64 rounded to nearest, int32 and float32
//! exactly) and accumulates into one `f64` starting at `0.0`, in element
//! order, one IEEE 754 addition per element: no pairwise or SIMD reassociation
//! and no fused multiply-add (Rust never fuses or reorders float operations on
//! its own, native or Wasm), so the host and every edge face agree bit for bit.

use super::eval::Fault;
use super::eval::{OPERAND, Slot};
use crate::value::Array;

/// The numeric element slices the reductions read.
#[derive(Clone, Copy)]
enum Nums<'a> {
    I32(&'a [i32]),
    I64(&'a [i64]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

/// An element read as the `f64` the reductions accumulate.
trait Num: Copy {
    fn f(self) -> f64;
}

impl Num for i32 {
    #[inline]
    fn f(self) -> f64 {
        f64::from(self)
    }
}

impl Num for i64 {
    #[inline]
    fn f(self) -> f64 {
        // Rounds to nearest beyond 2^53: the documented reading of an int64.
        self as f64
    }
}

impl Num for f32 {
    #[inline]
    fn f(self) -> f64 {
        f64::from(self)
    }
}

impl Num for f64 {
    #[inline]
    fn f(self) -> f64 {
        self
    }
}

/// Runs `$body` with `$v` bound to the typed slice of `$nums`, once per
/// element type, so each loop is monomorphic.
macro_rules! each {
    ($nums:expr, $v:ident => $body:expr) => {
        match $nums {
            Nums::I32($v) => $body,
            Nums::I64($v) => $body,
            Nums::F32($v) => $body,
            Nums::F64($v) => $body,
        }
    };
}

/// The slot's numeric elements; `None` for null. Any other slot, or an array
/// of bools, text or times, is a corrupt program: the checker refuses them.
fn nums(slot: Slot<'_>) -> Result<Option<Nums<'_>>, Fault> {
    Ok(Some(match slot {
        Slot::Null => return Ok(None),
        Slot::Arr(Array::Int32(v)) => Nums::I32(v),
        Slot::Arr(Array::Int64(v)) => Nums::I64(v),
        Slot::Arr(Array::Float32(v)) => Nums::F32(v),
        Slot::Arr(Array::Float64(v)) => Nums::F64(v),
        _ => return Err(OPERAND),
    }))
}

impl Nums<'_> {
    fn len(self) -> usize {
        each!(self, v => v.len())
    }

    /// `((0 + x0) + x1) + ...`.
    fn sum(self) -> f64 {
        each!(self, v => v.iter().fold(0.0, |acc, x| acc + x.f()))
    }

    /// `((0 + x0 * x0) + x1 * x1) + ...`.
    fn sum_of_squares(self) -> f64 {
        each!(self, v => v.iter().fold(0.0, |acc, x| acc + x.f() * x.f()))
    }
}

/// `((0 + a0 * b0) + a1 * b1) + ...` over two slices of one length.
fn dot_of<A: Num, B: Num>(a: &[A], b: &[B]) -> f64 {
    a.iter().zip(b).fold(0.0, |acc, (x, y)| acc + x.f() * y.f())
}

fn dot_nums(a: Nums<'_>, b: Nums<'_>) -> f64 {
    each!(a, x => each!(b, y => dot_of(x, y)))
}

/// `len(a)`: the number of elements, for an array of any element type.
pub(super) fn len(a: Slot<'_>) -> Result<Slot<'_>, Fault> {
    match a {
        Slot::Null => Ok(Slot::Null),
        // An array longer than i64::MAX elements cannot exist in memory.
        Slot::Arr(a) => Ok(i64::try_from(a.len()).map_or(Slot::Null, Slot::Int)),
        _ => Err(OPERAND),
    }
}

/// `a[i]`: element `i` as expressions read it (int32 as int64, float32 as
/// float64), or null for a null operand, a negative `i` or one past the end.
pub(super) fn index<'a>(a: Slot<'a>, i: Slot<'a>) -> Result<Slot<'a>, Fault> {
    let (a, i) = match (a, i) {
        (Slot::Null, Slot::Null | Slot::Int(_)) | (Slot::Arr(_), Slot::Null) => {
            return Ok(Slot::Null);
        }
        (Slot::Arr(a), Slot::Int(i)) => (a, i),
        _ => return Err(OPERAND),
    };
    let Ok(i) = usize::try_from(i) else {
        return Ok(Slot::Null);
    };
    let got = match a {
        Array::Bool(v) => v.get(i).map(|&b| Slot::Bool(b)),
        Array::Int32(v) => v.get(i).map(|&x| Slot::Int(i64::from(x))),
        Array::Int64(v) => v.get(i).map(|&x| Slot::Int(x)),
        Array::Float32(v) => v.get(i).map(|&x| Slot::Float(f64::from(x))),
        Array::Float64(v) => v.get(i).map(|&x| Slot::Float(x)),
        Array::String(v) => v.get(i).map(|s| Slot::Str(s)),
        Array::Timestamp(v) => v.get(i).map(|t| Slot::Time(t.0)),
        // Expressions have no bytes type; the checker refuses `a[i]` on these.
        Array::Bytes(_) => return Err(OPERAND),
    };
    Ok(got.unwrap_or(Slot::Null))
}

/// `sum(a)`: 0 for an empty array.
pub(super) fn sum(a: Slot<'_>) -> Result<Slot<'_>, Fault> {
    Ok(nums(a)?.map_or(Slot::Null, |a| Slot::Float(a.sum())))
}

/// `mean(a)`: `sum(a) / len(a)`, null for an empty array.
pub(super) fn mean(a: Slot<'_>) -> Result<Slot<'_>, Fault> {
    Ok(match nums(a)? {
        Some(a) if a.len() > 0 => Slot::Float(a.sum() / a.len() as f64),
        _ => Slot::Null,
    })
}

/// `l2_norm(a)`: `sqrt` of the sum of squares, 0 for an empty array.
pub(super) fn l2_norm(a: Slot<'_>) -> Result<Slot<'_>, Fault> {
    Ok(nums(a)?.map_or(Slot::Null, |a| Slot::Float(libm::sqrt(a.sum_of_squares()))))
}

/// Both operands' elements, or `None` when either is null or their lengths differ.
fn pair<'a>(a: Slot<'a>, b: Slot<'a>) -> Result<Option<(Nums<'a>, Nums<'a>)>, Fault> {
    // Both are checked before either null wins, so a corrupt operand is a fault.
    let (a, b) = (nums(a)?, nums(b)?);
    Ok(match (a, b) {
        (Some(a), Some(b)) if a.len() == b.len() => Some((a, b)),
        _ => None,
    })
}

/// `dot(a, b)`: null when the lengths differ, 0 for two empty arrays.
pub(super) fn dot<'a>(a: Slot<'a>, b: Slot<'a>) -> Result<Slot<'a>, Fault> {
    Ok(pair(a, b)?.map_or(Slot::Null, |(a, b)| Slot::Float(dot_nums(a, b))))
}

/// `cosine(a, b)`: `dot(a, b) / (l2_norm(a) * l2_norm(b))`, null when the
/// lengths differ or that product is 0 (a zero or empty vector has no
/// direction, or the norms are so small that their product underflows).
pub(super) fn cosine<'a>(a: Slot<'a>, b: Slot<'a>) -> Result<Slot<'a>, Fault> {
    let Some((a, b)) = pair(a, b)? else {
        return Ok(Slot::Null);
    };
    let norms = libm::sqrt(a.sum_of_squares()) * libm::sqrt(b.sum_of_squares());
    Ok(if norms == 0.0 {
        Slot::Null
    } else {
        Slot::Float(dot_nums(a, b) / norms)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn f(slot: Slot<'_>) -> f64 {
        match slot {
            Slot::Float(x) => x,
            other => panic!("expected a float, got {other:?}"),
        }
    }

    #[test]
    fn sums_accumulate_left_to_right_from_zero() {
        // (0 + 1e16) + 1 rounds the 1 away, then -1e16 leaves 0; a pairwise or
        // reversed sum would give 1. The order is the contract.
        let a = Array::Float64(vec![1e16, 1.0, -1e16]);
        assert_eq!(f(sum(Slot::Arr(&a)).unwrap()), 0.0);
        let b = Array::Float64(vec![1e16, -1e16, 1.0]);
        assert_eq!(f(sum(Slot::Arr(&b)).unwrap()), 1.0);
        // Starting at +0.0: the sum of [-0.0] is +0.0, as IEEE adds them.
        let z = Array::Float64(vec![-0.0]);
        assert!(f(sum(Slot::Arr(&z)).unwrap()).is_sign_positive());
        assert_eq!(
            f(dot(Slot::Arr(&a), Slot::Arr(&Array::Int32(vec![1, 1, 1]))).unwrap()),
            0.0
        );
    }

    #[test]
    fn int64_elements_round_to_nearest() {
        let a = Array::Int64(vec![(1 << 53) + 1]);
        assert_eq!(f(sum(Slot::Arr(&a)).unwrap()), 9_007_199_254_740_992.0);
    }

    #[test]
    fn corrupt_operands_are_faults() {
        let strings = Array::String(vec!["a".into()]);
        let bytes = Array::Bytes(vec![vec![1]]);
        assert_eq!(sum(Slot::Arr(&strings)), Err(OPERAND));
        assert_eq!(sum(Slot::Int(1)), Err(OPERAND));
        assert_eq!(len(Slot::Float(1.0)), Err(OPERAND));
        assert_eq!(index(Slot::Arr(&bytes), Slot::Int(0)), Err(OPERAND));
        assert_eq!(index(Slot::Int(1), Slot::Int(0)), Err(OPERAND));
        assert_eq!(index(Slot::Arr(&strings), Slot::Float(0.0)), Err(OPERAND));
        assert_eq!(dot(Slot::Null, Slot::Arr(&strings)), Err(OPERAND));
        assert_eq!(cosine(Slot::Bool(true), Slot::Null), Err(OPERAND));
        assert_eq!(dot(Slot::Null, Slot::Null), Ok(Slot::Null));
    }
}
