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
//! | operators, loosest first | `or`, `and`, `not`, `== != < <= > >=`, `+ -`, `* /`, unary `-` |
//! | functions | `abs ln exp sqrt pow min max clamp if is_null coalesce` |
//!
//! Binary operators are left-associative; comparisons do not chain (`a < b < c`
//! is an error: write `a < b and b < c`); `not` inside a tighter operator needs
//! parentheses (`a == (not b)`). `and or not true false null` are reserved; a
//! function name not followed by `(` is an ordinary input name. Limits: at most
//! [`MAX_LEN`] bytes and [`MAX_DEPTH`] nested parentheses / call arguments /
//! unary operators; beyond them compiling is a parse error.
//!
//! # Types
//!
//! Values have the [`DType`]s bool, int64, float64 and string; a float32 input
//! is read as float64 (widened exactly), so a program never returns float32. The
//! `null` literal has a type of its own that fits anywhere; an expression that
//! is *always* null (such as `null + null`) is a type error, since a field needs
//! a type. All type errors are found at compile time.
//!
//! | expression | operand types | result |
//! |---|---|---|
//! | `a + b`, `a - b`, `a * b` | numbers | int64 if both int64 (**overflow → null**), else float64 |
//! | `a / b` | numbers | float64, always (`1 / 2` is `0.5`) |
//! | `-a`, `abs(a)` | a number | same type (int64 overflow → null) |
//! | `ln exp sqrt` (1 arg), `pow(x, y)` | numbers | float64 |
//! | `min(a, b, ...)`, `max(a, b, ...)`, `clamp(x, lo, hi)` | numbers | int64 if all int64, else float64 |
//! | `== !=` | two numbers, two strings or two bools | bool |
//! | `< <= > >=` | two numbers or two strings | bool |
//! | `and`, `or`, `not` | bools | bool |
//! | `if(c, a, b)` | `c` bool; `a`, `b` of one type or both numbers | that type (int64 with float64 → float64) |
//! | `is_null(x)` | anything | bool, never null |
//! | `coalesce(a, ...)` | one type, or all numbers | that type (mixed numbers → float64) |
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
//!
//! All arguments are evaluated (there is no short-circuit), which is
//! unobservable except that every input an expression names must have the
//! schema's type even on the branch not taken.
//!
//! # Stored form
//!
//! A [`Program`] serialises (serde) as its source text, output type, a flat
//! list of ops and the stack depth it needs. Compiling the same text against
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
//! # Ok::<(), verge_core::Error>(())
//! ```

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

    /// The type of the result (never float32: float inputs are read as float64).
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
    /// schema's type (a float32 field takes [`Value::Float32`]). The result is
    /// null or of [`Program::output_type`]. Numeric programs do not allocate.
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
