//! Runs compiled [`Op`]s over one row of inputs.
//!
//! The evaluator is a loop over the op slice with a stack of [`Slot`]s. A slot
//! is `Copy` and borrows strings and arrays from the inputs or the program, so
//! a numeric, string or array program allocates nothing while it runs: the
//! stack lives in a fixed array (a heap buffer only for unusually deep
//! programs), and the one allocation is copying a string result out. The
//! array ops themselves are in `arrays`.
//!
//! Nothing here trusts the ops: a program may come from a corrupted or hostile
//! artifact, so every pop, every operand kind and every input index is checked,
//! and a mismatch is a [`Fault`] rather than a panic.

use alloc::vec;
use alloc::vec::Vec;

use super::arrays;
use super::op::{CmpOn, CmpOp, Num, Op};
use crate::time::Timestamp;
use crate::value::{Array, DType, Value};

/// Stack slots kept on the machine stack; deeper programs use a heap buffer.
const INLINE: usize = 32;

/// One value on the evaluation stack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Slot<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    /// A timestamp, µs since the epoch.
    Time(i64),
    /// An input array, borrowed: arrays are read, never built.
    Arr(&'a Array),
}

/// Why evaluation stopped, turned into [`crate::Error::Eval`] by the caller.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fault {
    /// The program reads an input the row does not have.
    MissingInput {
        /// The input position read.
        index: u32,
        /// How many inputs the row has.
        len: usize,
    },
    /// An input's value is not of the schema's type.
    WrongType {
        /// The input position read.
        index: u32,
        /// The schema's type.
        expected: DType,
        /// The value's type.
        found: DType,
    },
    /// The ops are inconsistent (a corrupt artifact, never a compiled program).
    Malformed(&'static str),
}

/// A fixed-capacity stack over a borrowed buffer.
struct Stack<'s, 'a> {
    slots: &'s mut [Slot<'a>],
    len: usize,
}

impl<'a> Stack<'_, 'a> {
    #[inline]
    fn push(&mut self, slot: Slot<'a>) -> Result<(), Fault> {
        let top = self
            .slots
            .get_mut(self.len)
            .ok_or(Fault::Malformed("stack overflow"))?;
        *top = slot;
        self.len += 1;
        Ok(())
    }

    #[inline]
    fn pop(&mut self) -> Result<Slot<'a>, Fault> {
        self.len = self
            .len
            .checked_sub(1)
            .ok_or(Fault::Malformed("stack underflow"))?;
        self.slots
            .get(self.len)
            .copied()
            .ok_or(Fault::Malformed("stack underflow"))
    }
}

pub(super) const OPERAND: Fault = Fault::Malformed("operand of the wrong kind");

/// Evaluates `code` on `inputs`; the result must have type `output` or be null.
///
/// `max_stack` sizes the stack; a program that needs more is malformed.
pub(crate) fn run(
    code: &[Op],
    max_stack: usize,
    output: DType,
    inputs: &[Value],
) -> Result<Value, Fault> {
    // A program pushes at most once per op, so a larger claim is corrupt and
    // must not size an allocation.
    if max_stack > code.len() {
        return Err(Fault::Malformed("stack size exceeds the program length"));
    }
    let mut inline = [Slot::Null; INLINE];
    let mut heap: Vec<Slot<'_>>;
    let slots: &mut [Slot<'_>] = if let Some(inline) = inline.get_mut(..max_stack) {
        inline
    } else {
        heap = vec![Slot::Null; max_stack];
        &mut heap
    };
    let mut stack = Stack { slots, len: 0 };
    for op in code {
        step(op, &mut stack, inputs)?;
    }
    let result = stack.pop()?;
    if stack.len != 0 {
        return Err(Fault::Malformed("values left on the stack"));
    }
    Ok(match (result, output) {
        (Slot::Null, _) => Value::Null,
        (Slot::Bool(b), DType::Bool) => Value::Bool(b),
        (Slot::Int(i), DType::Int64) => Value::Int64(i),
        (Slot::Float(x), DType::Float64) => Value::Float64(x),
        (Slot::Str(s), DType::String) => Value::String(s.into()),
        (Slot::Time(t), DType::UnixTimestamp) => Value::Timestamp(Timestamp(t)),
        _ => return Err(Fault::Malformed("result does not match the output type")),
    })
}

/// Executes one op.
#[inline]
fn step<'a>(op: &'a Op, stack: &mut Stack<'_, 'a>, inputs: &'a [Value]) -> Result<(), Fault> {
    let slot = match op {
        Op::Null => Slot::Null,
        Op::Bool(b) => Slot::Bool(*b),
        Op::Int(i) => Slot::Int(*i),
        Op::Float(x) => Slot::Float(*x),
        Op::Str(s) => Slot::Str(s),
        Op::Load { index, dtype } => load(inputs, *index, *dtype)?,
        Op::Neg(n) => unary_num(stack.pop()?, *n, i64::checked_neg, |x| -x)?,
        Op::Abs(n) => unary_num(stack.pop()?, *n, i64::checked_abs, libm::fabs)?,
        Op::Ln => unary_float(stack.pop()?, libm::log)?,
        Op::Exp => unary_float(stack.pop()?, libm::exp)?,
        Op::Sqrt => unary_float(stack.pop()?, libm::sqrt)?,
        Op::Not => match stack.pop()? {
            Slot::Null => Slot::Null,
            Slot::Bool(b) => Slot::Bool(!b),
            _ => return Err(OPERAND),
        },
        Op::IsNull => Slot::Bool(stack.pop()? == Slot::Null),
        Op::Add(n) => binary_num(stack, *n, i64::checked_add, |a, b| a + b)?,
        Op::Sub(n) => binary_num(stack, *n, i64::checked_sub, |a, b| a - b)?,
        Op::Mul(n) => binary_num(stack, *n, i64::checked_mul, |a, b| a * b)?,
        Op::Div => binary_num(stack, Num::Float, |_, _| None, |a, b| a / b)?,
        Op::Pow => binary_num(stack, Num::Float, |_, _| None, libm::pow)?,
        Op::Min(n) => binary_num(stack, *n, |a, b| Some(min_i(a, b)), min_f)?,
        Op::Max(n) => binary_num(stack, *n, |a, b| Some(max_i(a, b)), max_f)?,
        Op::Clamp(n) => clamp(stack, *n)?,
        Op::Cmp(cmp, on) => {
            let b = stack.pop()?;
            let a = stack.pop()?;
            compare(a, b, *cmp, *on)?
        }
        Op::And => {
            let b = stack.pop()?;
            let a = stack.pop()?;
            match (a, b) {
                (Slot::Bool(false), Slot::Bool(_) | Slot::Null)
                | (Slot::Bool(_) | Slot::Null, Slot::Bool(false)) => Slot::Bool(false),
                (Slot::Bool(true), Slot::Bool(true)) => Slot::Bool(true),
                (Slot::Bool(_) | Slot::Null, Slot::Bool(_) | Slot::Null) => Slot::Null,
                _ => return Err(OPERAND),
            }
        }
        Op::Or => {
            let b = stack.pop()?;
            let a = stack.pop()?;
            match (a, b) {
                (Slot::Bool(true), Slot::Bool(_) | Slot::Null)
                | (Slot::Bool(_) | Slot::Null, Slot::Bool(true)) => Slot::Bool(true),
                (Slot::Bool(false), Slot::Bool(false)) => Slot::Bool(false),
                (Slot::Bool(_) | Slot::Null, Slot::Bool(_) | Slot::Null) => Slot::Null,
                _ => return Err(OPERAND),
            }
        }
        Op::If { to_float } => {
            let otherwise = stack.pop()?;
            let then = stack.pop()?;
            let chosen = match stack.pop()? {
                Slot::Null => Slot::Null,
                Slot::Bool(true) => then,
                Slot::Bool(false) => otherwise,
                _ => return Err(OPERAND),
            };
            widen(chosen, *to_float)
        }
        Op::Coalesce { n, to_float } => {
            let n = usize::try_from(*n).map_err(|_| OPERAND)?;
            let from = stack
                .len
                .checked_sub(n)
                .ok_or(Fault::Malformed("stack underflow"))?;
            let args = stack
                .slots
                .get(from..stack.len)
                .ok_or(Fault::Malformed("stack underflow"))?;
            let first = args
                .iter()
                .copied()
                .find(|s| *s != Slot::Null)
                .unwrap_or(Slot::Null);
            stack.len = from;
            widen(first, *to_float)
        }
        Op::Len => arrays::len(stack.pop()?)?,
        Op::Sum => arrays::sum(stack.pop()?)?,
        Op::Mean => arrays::mean(stack.pop()?)?,
        Op::L2Norm => arrays::l2_norm(stack.pop()?)?,
        Op::Index | Op::Dot | Op::Cosine => {
            let b = stack.pop()?;
            let a = stack.pop()?;
            match op {
                Op::Index => arrays::index(a, b)?,
                Op::Dot => arrays::dot(a, b)?,
                _ => arrays::cosine(a, b)?,
            }
        }
    };
    stack.push(slot)
}

fn clamp<'a>(stack: &mut Stack<'_, 'a>, n: Num) -> Result<Slot<'a>, Fault> {
    let hi = stack.pop()?;
    let lo = stack.pop()?;
    let x = stack.pop()?;
    Ok(match (x, lo, hi, n) {
        (Slot::Null, _, _, _) | (_, Slot::Null, _, _) | (_, _, Slot::Null, _) => Slot::Null,
        (Slot::Int(x), Slot::Int(lo), Slot::Int(hi), Num::Int) => {
            Slot::Int(min_i(max_i(x, lo), hi))
        }
        (x, lo, hi, Num::Float) => Slot::Float(min_f(max_f(float(x)?, float(lo)?), float(hi)?)),
        _ => return Err(OPERAND),
    })
}

fn load(inputs: &[Value], index: u32, dtype: DType) -> Result<Slot<'_>, Fault> {
    let value = usize::try_from(index)
        .ok()
        .and_then(|i| inputs.get(i))
        .ok_or(Fault::MissingInput {
            index,
            len: inputs.len(),
        })?;
    Ok(match (value, dtype) {
        (Value::Null, _) => Slot::Null,
        (Value::Bool(b), DType::Bool) => Slot::Bool(*b),
        (Value::Int64(i), DType::Int64) => Slot::Int(*i),
        (Value::Int32(i), DType::Int32) => Slot::Int(i64::from(*i)),
        (Value::Float32(x), DType::Float32) => Slot::Float(f64::from(*x)),
        (Value::Float64(x), DType::Float64) => Slot::Float(*x),
        (Value::String(s), DType::String) => Slot::Str(s),
        (Value::Timestamp(t), DType::UnixTimestamp) => Slot::Time(t.0),
        (Value::Array(a), DType::Array(e)) if a.elem() == e => Slot::Arr(a),
        (v, expected) => {
            return Err(Fault::WrongType {
                index,
                expected,
                found: v.dtype().unwrap_or(expected),
            });
        }
    })
}

/// A number as `f64`: how float ops read integer operands.
#[inline]
fn float(slot: Slot<'_>) -> Result<f64, Fault> {
    match slot {
        Slot::Float(x) => Ok(x),
        Slot::Int(i) => Ok(i as f64),
        _ => Err(OPERAND),
    }
}

#[inline]
fn widen(slot: Slot<'_>, to_float: bool) -> Slot<'_> {
    match slot {
        Slot::Int(i) if to_float => Slot::Float(i as f64),
        other => other,
    }
}

#[inline]
fn unary_num<'a>(
    x: Slot<'a>,
    n: Num,
    int: fn(i64) -> Option<i64>,
    flt: fn(f64) -> f64,
) -> Result<Slot<'a>, Fault> {
    Ok(match (x, n) {
        (Slot::Null, _) => Slot::Null,
        (Slot::Int(i), Num::Int) => int(i).map_or(Slot::Null, Slot::Int),
        (x, Num::Float) => Slot::Float(flt(float(x)?)),
        _ => return Err(OPERAND),
    })
}

#[inline]
fn unary_float(x: Slot<'_>, f: fn(f64) -> f64) -> Result<Slot<'_>, Fault> {
    unary_num(x, Num::Float, |_| None, f)
}

#[inline]
fn binary_num<'a>(
    stack: &mut Stack<'_, 'a>,
    n: Num,
    int: fn(i64, i64) -> Option<i64>,
    flt: fn(f64, f64) -> f64,
) -> Result<Slot<'a>, Fault> {
    let b = stack.pop()?;
    let a = stack.pop()?;
    Ok(match (a, b, n) {
        (Slot::Null, _, _) | (_, Slot::Null, _) => Slot::Null,
        (Slot::Int(a), Slot::Int(b), Num::Int) => int(a, b).map_or(Slot::Null, Slot::Int),
        (a, b, Num::Float) => Slot::Float(flt(float(a)?, float(b)?)),
        _ => return Err(OPERAND),
    })
}

fn min_i(a: i64, b: i64) -> i64 {
    if b < a { b } else { a }
}

fn max_i(a: i64, b: i64) -> i64 {
    if b > a { b } else { a }
}

/// The smaller of two floats: NaN if either is NaN (unlike `f64::min`), else the first on ties.
fn min_f(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if b < a {
        b
    } else {
        a
    }
}

/// The larger of two floats: NaN if either is NaN (unlike `f64::max`), else the first on ties.
fn max_f(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if b > a {
        b
    } else {
        a
    }
}

fn compare<'a>(a: Slot<'a>, b: Slot<'a>, cmp: CmpOp, on: CmpOn) -> Result<Slot<'a>, Fault> {
    use core::cmp::Ordering;
    // Floats go through PartialOrd so NaN compares false (and `!=` true), as IEEE says.
    let ordering: Option<Ordering> = match (a, b, on) {
        (Slot::Null, _, _) | (_, Slot::Null, _) => return Ok(Slot::Null),
        (Slot::Int(a), Slot::Int(b), CmpOn::Int) => Some(a.cmp(&b)),
        (a, b, CmpOn::Float) => float(a)?.partial_cmp(&float(b)?),
        (Slot::Str(a), Slot::Str(b), CmpOn::Str) => Some(a.cmp(b)),
        (Slot::Bool(a), Slot::Bool(b), CmpOn::Bool) => Some(a.cmp(&b)),
        (Slot::Time(a), Slot::Time(b), CmpOn::Time) => Some(a.cmp(&b)),
        _ => return Err(OPERAND),
    };
    let result = match (cmp, ordering) {
        (CmpOp::Ne, None) => true,
        (_, None) => false,
        (CmpOp::Eq, Some(o)) => o == Ordering::Equal,
        (CmpOp::Ne, Some(o)) => o != Ordering::Equal,
        (CmpOp::Lt, Some(o)) => o == Ordering::Less,
        (CmpOp::Le, Some(o)) => o != Ordering::Greater,
        (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
        (CmpOp::Ge, Some(o)) => o != Ordering::Less,
    };
    Ok(Slot::Bool(result))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn eval(code: &[Op], output: DType, inputs: &[Value]) -> Result<Value, Fault> {
        run(code, code.len(), output, inputs)
    }

    #[test]
    fn malformed_programs_fail_cleanly() {
        let underflow = [Op::Add(Num::Int)];
        assert_eq!(
            eval(&underflow, DType::Int64, &[]),
            Err(Fault::Malformed("stack underflow"))
        );
        assert_eq!(
            eval(&[], DType::Int64, &[]),
            Err(Fault::Malformed("stack underflow"))
        );
        let leftover = [Op::Int(1), Op::Int(2)];
        assert_eq!(
            eval(&leftover, DType::Int64, &[]),
            Err(Fault::Malformed("values left on the stack"))
        );
        let wrong_kind = [Op::Str("a".into()), Op::Int(1), Op::Add(Num::Int)];
        assert_eq!(eval(&wrong_kind, DType::Int64, &[]), Err(OPERAND));
        let wrong_output = [Op::Int(1)];
        assert!(eval(&wrong_output, DType::String, &[]).is_err());
        let coalesce_too_many = [
            Op::Int(1),
            Op::Coalesce {
                n: 5,
                to_float: false,
            },
        ];
        assert!(eval(&coalesce_too_many, DType::Int64, &[]).is_err());
        // A lying stack size neither allocates nor overflows silently.
        assert!(run(&[Op::Int(1)], usize::MAX, DType::Int64, &[]).is_err());
        assert_eq!(
            run(
                &[Op::Int(1), Op::Int(1), Op::Add(Num::Int)],
                1,
                DType::Int64,
                &[]
            ),
            Err(Fault::Malformed("stack overflow"))
        );
    }

    #[test]
    fn inputs_are_checked() {
        let code = [Op::Load {
            index: 1,
            dtype: DType::Float32,
        }];
        assert_eq!(
            eval(&code, DType::Float64, &[Value::Null]),
            Err(Fault::MissingInput { index: 1, len: 1 })
        );
        assert_eq!(
            eval(&code, DType::Float64, &[Value::Null, Value::Float64(1.0)]),
            Err(Fault::WrongType {
                index: 1,
                expected: DType::Float32,
                found: DType::Float64
            })
        );
        assert_eq!(
            eval(&code, DType::Float64, &[Value::Null, Value::Float32(0.5)]),
            Ok(Value::Float64(0.5))
        );
        assert_eq!(
            eval(&code, DType::Float64, &[Value::Null, Value::Null]),
            Ok(Value::Null)
        );
    }

    #[test]
    fn deep_programs_use_the_heap_stack() {
        // 40 pushes then 39 adds: deeper than the inline stack.
        let mut code: Vec<Op> = (0..40).map(Op::Int).collect();
        code.extend((0..39).map(|_| Op::Add(Num::Int)));
        assert_eq!(run(&code, 40, DType::Int64, &[]), Ok(Value::Int64(780)));
    }

    #[test]
    fn strings_are_borrowed_until_the_result() {
        let code = [
            Op::Load {
                index: 0,
                dtype: DType::String,
            },
            Op::Str("fallback".into()),
            Op::Coalesce {
                n: 2,
                to_float: false,
            },
        ];
        let s = |v: &str| Value::String(String::from(v));
        assert_eq!(eval(&code, DType::String, &[s("x")]), Ok(s("x")));
        assert_eq!(
            eval(&code, DType::String, &[Value::Null]),
            Ok(s("fallback"))
        );
    }

    #[test]
    fn float_min_max_propagate_nan_and_keep_the_first_on_ties() {
        assert!(min_f(f64::NAN, 1.0).is_nan());
        assert!(max_f(1.0, f64::NAN).is_nan());
        assert_eq!(min_f(2.0, 1.0), 1.0);
        assert_eq!(max_f(2.0, 1.0), 2.0);
        assert!(min_f(0.0, -0.0).is_sign_positive());
        assert!(max_f(-0.0, 0.0).is_sign_negative());
    }
}
