//! On-demand expressions: a small typed language for features computed at read time.
//!
//! An on-demand feature view computes its fields from other features and from
//! request data with expressions like `max(rectal_temperature - 38.5, 0)`. The
//! host compiles the text once against the view's input [`Schema`] into a
//! [`Program`], which is stored in the registry and in bundles and evaluated by
//! the core everywhere (host training sets, Wasm at the edge), so the feature is
//! computed identically offline and online.
//!
//! Compiling goes text → tokens (`lexer`) → postfix syntax (`parser`) → typed
//! stack-machine ops (`check`, `op`); evaluation (`eval`) is a loop over the
//! ops. Nothing recurses without a bound, so hostile text or a corrupt program
//! gives an error, never a stack overflow or a panic.
//!
//! # Syntax
//!
//! | form | examples |
//! |---|---|
//! | integer literal (int64) | `0`, `42` (a literal outside int64 is a parse error) |
//! | float literal (float64) | `1.5`, `1e-3`, `2.5E+2` (digits on both sides of `.`) |
//! | string literal | `"chest \"pain\""`, escapes `\" \\ \n \t \r \0 \u{e9}` |
//! | bool, null | `true`, `false`, `null` |
//! | input reference | `pulse`, `_x1`: `[A-Za-z_][A-Za-z0-9_]*`, resolved against the schema |
//! | element access | `embedding[0]`, `clicks[len(clicks) - 1]`: any value followed by `[index]` |
//! | operators, loosest first | `or`, `and`, `not`, `== != < <= > >=`, `+ -`, `* /`, unary `-`, `a[i]` |
//! | functions | `abs ln exp sqrt pow min max clamp if is_null coalesce len sum mean l2_norm dot cosine` |
//!
//! Binary operators are left-associative; comparisons do not chain (`a < b < c`
//! is an error: write `a < b and b < c`); `not` inside a tighter operator needs
//! parentheses (`a == (not b)`); `-a[0]` is `-(a[0])`. `and or not true false null` are reserved; a
//! function name not followed by `(` is an ordinary input name. Limits: at most
//! [`MAX_LEN`] bytes and [`MAX_DEPTH`] nested parentheses / call arguments /
//! indexes / unary operators; beyond them compiling is a parse error.
//!
//! # Types
//!
//! Values have the [`DType`]s bool, int64, float64, string and
//! unix_timestamp. A float32 input is read as float64 and an int32 input as
//! int64 (both widened exactly), so a program never returns float32 or int32.
//! Array inputs (`array<T>`, any element type) can be read but not built:
//! `len`, `a[i]` and the reductions below turn them into scalars, `is_null`,
//! `if` and `coalesce` pass them through, and a program whose result is an
//! array is a type error. Inputs of type bytes or json are a type error
//! naming the input. The `null` literal has a type of its own that fits
//! anywhere; an expression that is *always* null (such as `null + null`) is
//! a type error, since a field needs a type. All type errors are found at
//! compile time.
//!
//! | expression | operand types | result |
//! |---|---|---|
//! | `a + b`, `a - b`, `a * b` | numbers | int64 if both int64 (**overflow → null**), else float64 |
//! | `a / b` | numbers | float64, always (`1 / 2` is `0.5`) |
//! | `-a`, `abs(a)` | a number | same type (int64 overflow → null) |
//! | `ln exp sqrt` (1 arg), `pow(x, y)` | numbers | float64 |
//! | `min(a, b, ...)`, `max(a, b, ...)`, `clamp(x, lo, hi)` | numbers | int64 if all int64, else float64 |
//! | `== !=` | two numbers, two strings, two bools or two timestamps | bool |
//! | `< <= > >=` | two numbers, two strings or two timestamps | bool |
//! | `and`, `or`, `not` | bools | bool |
//! | `if(c, a, b)` | `c` bool; `a`, `b` of one type or both numbers | that type (int64 with float64 → float64) |
//! | `is_null(x)` | anything | bool, never null |
//! | `coalesce(a, ...)` | one type, or all numbers | that type (mixed numbers → float64) |
//! | `len(a)` | an array of any element type | int64 |
//! | `a[i]` | `a` an array of anything but bytes, `i` int64 | the element type (float32 → float64, int32 → int64) |
//! | `sum(a)`, `mean(a)`, `l2_norm(a)` | an array of int32, int64, float32 or float64 | float64 |
//! | `dot(a, b)`, `cosine(a, b)` | two such arrays (element types may differ) | float64 |
//!
//! A unix_timestamp is not a number: it compares with timestamps (by its
//! microseconds since the epoch) and passes through `if`, `coalesce` and
//! `is_null`, but `ts + 1`, `ts < 5` or `max(ts, ts2)` are type errors.
//! Arrays compare only by their elements (`a == b` is a type error), and
//! `array<float32>` and `array<float64>` are different types to `if` and
//! `coalesce`. Element types outside the table, such as `sum` over
//! `array<bool>`, are errors such as "`dot` needs two numeric arrays
//! (elements int32, int64, float32 or float64), got `array<float32>` and
//! float64".
//!
//! Numbers of different types compare as float64 (so an int64 beyond 2^53 may
//! compare equal to a neighbour). Strings compare byte-wise, which is Unicode
//! code point order. Comparing a string with a number, ordering bools, or
//! `1 + "a"` is a type error such as "`+` needs numbers, got int64 and string".
//!
//! # Values
//!
//! | rule | behaviour |
//! |---|---|
//! | null | propagates: any null operand of arithmetic, a comparison or a function gives null |
//! | except `is_null(x)` | true or false, never null |
//! | except `coalesce(a, b, ...)` | the first non-null argument, null if all are null |
//! | `if(c, a, b)` | `a` if `c` is true, `b` if false, **null if `c` is null** |
//! | `and`, `or` | SQL three-valued logic: `false and null` is false, `true or null` is true, `true and null` / `false or null` are null; `not null` is null |
//! | int64 `+ - *`, `-`, `abs` | checked: an overflow gives null, never a wrapped value |
//! | float arithmetic | IEEE 754: `x / 0.0` is ±inf, `0 / 0` is NaN; NaN propagates |
//! | `ln`, `sqrt`, `pow` out of domain | IEEE 754 (not null): `ln(0)` is -inf, `ln(-1)` and `sqrt(-1)` are NaN |
//! | comparisons with NaN | false, except `!=` which is true |
//! | `min`, `max` | NaN if any argument is NaN; on ties the first argument wins |
//! | `clamp(x, lo, hi)` | `min(max(x, lo), hi)`: so `hi` wins when `lo > hi` |
//! | null array | `len`, `a[i]` and every reduction of a null array (or with a null index) is null |
//! | `a[i]` out of range | null when `i` is negative or `i >= len(a)` (no counting from the end) |
//! | `sum(a)` | `0 + a[0] + a[1] + ...`: 0 for an empty array |
//! | `mean(a)` | `sum(a) / len(a)`: **null for an empty array** |
//! | `l2_norm(a)` | `sqrt(0 + a[0]*a[0] + a[1]*a[1] + ...)`: 0 for an empty array |
//! | `dot(a, b)` | `0 + a[0]*b[0] + a[1]*b[1] + ...`: **null when the lengths differ**, 0 for two empty arrays |
//! | `cosine(a, b)` | `dot(a, b) / (l2_norm(a) * l2_norm(b))`: null when the lengths differ or that product is 0 (a zero or empty vector has no direction; so do norms whose product underflows), otherwise IEEE 754 (a NaN or infinite element gives NaN) |
//!
//! The reductions read every element as float64 (int32 and float32 exactly,
//! int64 rounded to nearest) and add left to right into one float64 starting
//! at 0, one IEEE 754 operation at a time: no pairwise or vectorised
//! reordering and no fused multiply-add, and a NaN or infinity propagates as
//! IEEE says. The order is part of the contract, because a float sum depends
//! on it: the host and every edge face give the same bits for the same row.
//!
//! All arguments are evaluated (there is no short-circuit), which is
//! unobservable except that every input an expression names must have the
//! schema's type even on the branch not taken.
//!
//! # Stored form
//!
//! A [`Program`] serialises (serde) as its source text, output type, a flat
//! list of ops and the stack depth it needs. Ops are only ever appended (the
//! array ops and the timestamp comparison came later), so a program stored
//! before them keeps its bytes and its meaning. Compiling the same text against
//! the same schema always gives an equal program, so the encoded bytes, and the
//! content ids of registry versions and bundles holding them, are deterministic.
//!
//! # Examples
//!
//! ```
//! use verge_core::expr::{Program, Schema};
//! use verge_core::value::{DType, Value};
//!
//! let schema = Schema::new(vec![
//!     ("pulse".into(), DType::Int64),
//!     ("pain".into(), DType::String),
//! ]);
//! let p = Program::compile(r#"if(pain == "severe", pulse * 2, coalesce(pulse, 0))"#, &schema)?;
//! assert_eq!(p.output_type(), DType::Int64);
//! assert_eq!(p.eval(&[Value::Int64(80), Value::String("severe".into())])?, Value::Int64(160));
//! assert_eq!(p.eval(&[Value::Null, Value::String("mild".into())])?, Value::Int64(0));
//! // A null condition gives null.
//! assert_eq!(p.eval(&[Value::Int64(80), Value::Null])?, Value::Null);
//!
//! // Embeddings: arrays are read, and reduced to a scalar.
//! use verge_core::value::{Array, ElemType};
//! let schema = Schema::new(vec![
//!     ("query".into(), DType::Array(ElemType::Float32)),
//!     ("item".into(), DType::Array(ElemType::Float32)),
//! ]);
//! let p = Program::compile("coalesce(cosine(query, item), 0.0) + item[0]", &schema)?;
//! let q = Value::Array(Array::Float32(vec![3.0, 4.0]));
//! let i = Value::Array(Array::Float32(vec![4.0, 3.0]));
//! assert_eq!(p.eval(&[q.clone(), i])?, Value::Float64(24.0 / 25.0 + 4.0));
//! // Different lengths have no cosine; an empty array has no element 0.
//! let empty = Value::Array(Array::Float32(vec![]));
//! assert_eq!(p.eval(&[q, empty])?, Value::Null);
//! # Ok::<(), verge_core::Error>(())
//! ```

mod arrays;
mod check;
mod eval;
mod lexer;
mod op;
mod parser;
#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

pub use parser::{MAX_DEPTH, MAX_LEN};

use crate::artifact::wire::decode_struct;
use crate::value::{DType, Value};
use crate::{Error, Result};
use eval::Fault;
use op::Op;

/// Names and types an expression may read, in input order.
///
/// A field's position is the index of its value in the row passed to
/// [`Program::eval`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    fields: Vec<(String, DType)>,
}

impl Schema {
    /// A schema with these fields, in input order.
    #[must_use]
    pub fn new(fields: Vec<(String, DType)>) -> Self {
        Schema { fields }
    }

    /// The fields, in input order.
    #[must_use]
    pub fn fields(&self) -> &[(String, DType)] {
        &self.fields
    }

    /// The input position of the field called `name`; the first one if the name repeats.
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_core::expr::Schema;
    /// use verge_core::DType;
    /// let schema = Schema::new(vec![("a".into(), DType::Int64), ("b".into(), DType::Bool)]);
    /// assert_eq!(schema.index_of("b"), Some(1));
    /// assert_eq!(schema.index_of("c"), None);
    /// ```
    #[must_use]
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.lookup(name).map(|(i, _)| i)
    }

    fn lookup(&self, name: &str) -> Option<(usize, DType)> {
        self.fields
            .iter()
            .enumerate()
            .find(|(_, (n, _))| n == name)
            .map(|(i, (_, t))| (i, *t))
    }
}

/// A compiled, type-checked expression, ready to evaluate.
///
/// See the [module docs](self) for the language and its semantics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Program {
    source: String,
    output: DType,
    code: Vec<Op>,
    max_stack: u32,
}

decode_struct!(Program {
    source,
    output,
    code,
    max_stack
});

impl Program {
    /// Parses and type-checks `text` against `schema`.
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_core::expr::{Program, Schema};
    /// use verge_core::{DType, Error};
    ///
    /// let schema = Schema::new(vec![("rectal_temperature".into(), DType::Float32)]);
    /// let p = Program::compile("clamp(rectal_temperature, 35, 42) > 39", &schema)?;
    /// assert_eq!(p.output_type(), DType::Bool);
    ///
    /// let Err(Error::Type { message, .. }) = Program::compile("rectal_temp > 39", &schema) else {
    ///     panic!("expected a type error");
    /// };
    /// assert_eq!(message, "unknown name `rectal_temp`; did you mean `rectal_temperature`?");
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// - [`Error::Parse`] when the text is not a well-formed expression, is longer
    ///   than [`MAX_LEN`] bytes or nests deeper than [`MAX_DEPTH`]; it carries the
    ///   byte offset and what was expected there.
    /// - [`Error::Type`] for an unknown name or function (with the closest known
    ///   names), a wrong number of arguments, operands of the wrong types, or an
    ///   expression that is always null.
    pub fn compile(text: &str, schema: &Schema) -> Result<Program> {
        let nodes = parser::parse(text)?;
        let checked = check::check(text, nodes, schema)?;
        let max_stack = u32::try_from(checked.max_stack).map_err(|_| Error::Type {
            source_text: text.into(),
            message: "the expression is too large".into(),
        })?;
        Ok(Program {
            source: text.into(),
            output: checked.output,
            code: checked.code,
            max_stack,
        })
    }

    /// The type of the result: bool, int64, float64, string or unix_timestamp
    /// (never float32 or int32, which are read widened, nor an array).
    #[must_use]
    pub fn output_type(&self) -> DType {
        self.output
    }

    /// The text the program was compiled from.
    #[must_use]
    pub fn source_text(&self) -> &str {
        &self.source
    }

    /// The input positions the program reads, ascending and without repeats.
    ///
    /// A caller can use this to fetch only the features an expression needs.
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_core::expr::{Program, Schema};
    /// use verge_core::DType;
    /// let schema = Schema::new(vec![
    ///     ("a".into(), DType::Int64),
    ///     ("b".into(), DType::Int64),
    ///     ("c".into(), DType::Int64),
    /// ]);
    /// let p = Program::compile("c + a * c", &schema)?;
    /// assert_eq!(p.inputs(), [0, 2]);
    /// # Ok::<(), verge_core::Error>(())
    /// ```
    #[must_use]
    pub fn inputs(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .code
            .iter()
            .filter_map(|op| match op {
                Op::Load { index, .. } => usize::try_from(*index).ok(),
                _ => None,
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Evaluates the program on one row of inputs laid out as the schema.
    ///
    /// Each input the program reads must be [`Value::Null`] or exactly the
    /// schema's type (a float32 field takes [`Value::Float32`], an
    /// `array<float32>` field a [`Value::Array`] of [`crate::value::Array::Float32`]).
    /// The result is null or of [`Program::output_type`]. Arrays are borrowed,
    /// never copied: a program whose result is not text does not allocate.
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_core::expr::{Program, Schema};
    /// use verge_core::{DType, Value};
    /// let schema = Schema::new(vec![("x".into(), DType::Int64)]);
    /// let p = Program::compile("x * 1000000000000", &schema)?;
    /// assert_eq!(p.eval(&[Value::Int64(3)])?, Value::Int64(3_000_000_000_000));
    /// // int64 overflow gives null rather than a wrapped number.
    /// assert_eq!(p.eval(&[Value::Int64(i64::MAX)])?, Value::Null);
    /// # Ok::<(), verge_core::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Eval`] when `inputs` is shorter than the schema position read,
    /// when an input's value has a type other than the schema's, or when the
    /// program itself is corrupt (it was decoded from damaged bytes).
    pub fn eval(&self, inputs: &[Value]) -> Result<Value> {
        let max_stack = usize::try_from(self.max_stack).unwrap_or(usize::MAX);
        eval::run(&self.code, max_stack, self.output, inputs).map_err(|fault| {
            let source = &self.source;
            Error::Eval(match fault {
                Fault::MissingInput { index, len } => alloc::format!(
                    "`{source}` reads input {index}, but the row has only {len} value(s); pass one value per schema field"
                ),
                Fault::WrongType {
                    index,
                    expected,
                    found,
                } => alloc::format!(
                    "`{source}`: input {index} must be {expected} or null, got a {found} value"
                ),
                Fault::Malformed(what) => alloc::format!(
                    "the program for `{source}` is corrupt ({what}); recompile it from its source"
                ),
            })
        })
    }
}
