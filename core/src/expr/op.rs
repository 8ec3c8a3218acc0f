//! The compiled form of an expression: a flat list of stack-machine instructions.
//!
//! The type checker emits one [`Op`] per syntax node, in postfix order, each
//! already specialised for its operand types (integer or float arithmetic,
//! which kind of comparison). Evaluating is then one loop over a slice with a
//! small value stack: no recursion, no allocation for numeric programs.
//!
//! This is also the stored form: a `Program` (and so every registry version and
//! bundle holding one) serialises these ops with serde + bincode. Variants are
//! encoded by position, so **only ever append** variants and never reorder or
//! change a payload without bumping the artifact format version.
//!
//! Arrays are never built, only read: an input array is borrowed onto the
//! stack, and the array ops reduce it to a scalar.
//!
//! Every op is strict about nothing but the value kinds it needs, and only in
//! the loosest way that keeps evaluation total: a float op accepts an integer
//! operand and widens it, which is how `int + float`, `if(c, 1, 2.5)` and
//! `coalesce(int, float)` get their float64 result without separate casts.

use alloc::string::String;
use serde::{Deserialize, Serialize};

use crate::artifact::wire::decode_enum;
use crate::value::DType;

/// Whether a numeric op works on `i64` or on `f64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Num {
    /// Both operands are integers; overflow gives null.
    Int,
    /// Operands are floats, integers are widened; IEEE 754 arithmetic.
    Float,
}

/// Which comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum CmpOp {
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

/// What a comparison compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum CmpOn {
    /// Two bools (`==` and `!=` only).
    Bool,
    /// Two integers, exactly.
    Int,
    /// Two numbers as `f64` (IEEE: every comparison with NaN is false except `!=`).
    Float,
    /// Two strings, by bytes (Unicode code point order).
    Str,
    /// Two timestamps, by their microseconds since the epoch.
    Time,
}

/// One instruction. "Pops" and "pushes" refer to the evaluation stack; operands
/// are popped in reverse, so a binary op's left operand is the one pushed first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Op {
    /// Pushes null.
    Null,
    /// Pushes a bool.
    Bool(bool),
    /// Pushes an integer.
    Int(i64),
    /// Pushes a float.
    Float(f64),
    /// Pushes a string (borrowed from the program while evaluating).
    Str(String),
    /// Pushes input `index`, which must be null or of type `dtype`.
    Load {
        /// Position in the input row (the schema field index).
        index: u32,
        /// The schema's type for it; other runtime types are an error.
        dtype: DType,
    },
    /// Pops x, pushes `-x`.
    Neg(Num),
    /// Pops a bool, pushes its negation.
    Not,
    /// Pops anything, pushes whether it is null (never null itself).
    IsNull,
    /// Pops b, a; pushes `a + b`.
    Add(Num),
    /// Pops b, a; pushes `a - b`.
    Sub(Num),
    /// Pops b, a; pushes `a * b`.
    Mul(Num),
    /// Pops b, a; pushes `a / b` as a float.
    Div,
    /// Pops b, a; pushes the comparison as a bool.
    Cmp(CmpOp, CmpOn),
    /// Pops b, a; pushes `a and b` (three-valued).
    And,
    /// Pops b, a; pushes `a or b` (three-valued).
    Or,
    /// Pops x, pushes `|x|`.
    Abs(Num),
    /// Pops x, pushes the natural logarithm.
    Ln,
    /// Pops x, pushes `e^x`.
    Exp,
    /// Pops x, pushes the square root.
    Sqrt,
    /// Pops y, x; pushes `x^y`.
    Pow,
    /// Pops b, a; pushes the smaller (the first on ties; NaN if either is NaN).
    Min(Num),
    /// Pops b, a; pushes the larger (the first on ties; NaN if either is NaN).
    Max(Num),
    /// Pops hi, lo, x; pushes `min(max(x, lo), hi)`.
    Clamp(Num),
    /// Pops else, then, cond; pushes then or else, or null for a null cond.
    If {
        /// Widen an integer result to float (the branches' types were mixed).
        to_float: bool,
    },
    /// Pops `n` values, pushes the first (deepest) non-null one, or null.
    Coalesce {
        /// How many values.
        n: u32,
        /// Widen an integer result to float (the arguments' types were mixed).
        to_float: bool,
    },
    /// Pops an array, pushes its length as an integer.
    Len,
    /// Pops i, then an array; pushes element i (float32 as float, int32 as
    /// integer), or null when i is negative or past the end.
    Index,
    /// Pops a numeric array, pushes the float sum of its elements in order.
    Sum,
    /// Pops a numeric array, pushes `sum / len`, or null when it is empty.
    Mean,
    /// Pops a numeric array, pushes `sqrt` of the sum of squares in order.
    L2Norm,
    /// Pops b, a (numeric arrays); pushes the sum of `a[i] * b[i]` in order,
    /// or null when their lengths differ.
    Dot,
    /// Pops b, a (numeric arrays); pushes `dot(a, b) / (l2_norm(a) *
    /// l2_norm(b))`, or null when their lengths differ or a norm is 0.
    Cosine,
}

decode_enum!(Num { Int, Float });
decode_enum!(CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge
});
decode_enum!(CmpOn {
    Bool,
    Int,
    Float,
    Str,
    Time
});
decode_enum!(Op {
    Null, Bool(v), Int(v), Float(v), Str(v), Load { index, dtype }, Neg(n), Not, IsNull,
    Add(n), Sub(n), Mul(n), Div, Cmp(op, on), And, Or, Abs(n), Ln, Exp, Sqrt, Pow,
    Min(n), Max(n), Clamp(n), If { to_float }, Coalesce { n, to_float }, Len, Index, Sum,
    Mean, L2Norm, Dot, Cosine,
});
