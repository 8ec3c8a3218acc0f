//! Property tests for the on-demand expression language.
//!
//! - Random well-typed expressions over a small schema are printed as text,
//!   compiled, and evaluated on random rows (nulls, NaN, infinities, int64
//!   extremes included); the result must equal that of the plain tree-walking
//!   reference evaluator below, which implements the semantics table in
//!   `verge_core::expr` independently of the compiler. The schema has int32,
//!   unix_timestamp and array inputs too, so random programs take elements,
//!   lengths, sums, means, norms, dot products and cosines of random arrays
//!   (empty, zero, NaN and mismatched lengths included) and the reference
//!   recomputes each with a plain in-order `f64` loop.
//! - Random text and token soup never make `Program::compile` panic, and any
//!   program that compiles evaluates on a well-typed row.
//! - Programs survive a bincode round trip, and corrupted encodings, or op
//!   streams written byte by byte, never make decoding or evaluation panic.

#![allow(clippy::unwrap_used, missing_docs)]

use proptest::prelude::*;
use verge_core::expr::{Program, Schema};
use verge_core::time::Timestamp;
use verge_core::value::{Array, ElemType};
use verge_core::{DType, Error, Value};

// ---------------------------------------------------------------------------
// The reference: a test-only syntax tree, its types, printer and evaluator.
// ---------------------------------------------------------------------------

/// Field names and types of the test schema, in input order.
const FIELDS: [(&str, DType); 15] = [
    ("a", DType::Int64),
    ("b", DType::Int64),
    ("x", DType::Float64),
    ("y", DType::Float32),
    ("s", DType::String),
    ("p", DType::Bool),
    ("k", DType::Int32),
    ("t", DType::UnixTimestamp),
    ("u", DType::Array(ElemType::Float32)),
    ("v", DType::Array(ElemType::Float64)),
    ("n", DType::Array(ElemType::Int64)),
    ("m", DType::Array(ElemType::Int32)),
    ("ss", DType::Array(ElemType::String)),
    ("tt", DType::Array(ElemType::UnixTimestamp)),
    ("bb", DType::Array(ElemType::Bool)),
];

/// The timestamp field and the timestamp array, which adapters use to make
/// any expression into a timestamp.
const T_FIELD: usize = 7;
const TT_FIELD: usize = 13;

/// The array fields, by their element type.
fn array_field(e: ElemType) -> usize {
    FIELDS
        .iter()
        .position(|(_, t)| *t == DType::Array(e))
        .unwrap()
}

/// The numeric array fields, for `sum` and friends.
const NUMERIC: [ElemType; 4] = [
    ElemType::Float32,
    ElemType::Float64,
    ElemType::Int64,
    ElemType::Int32,
];

/// The array fields whose elements expressions read.
const INDEXABLE: [ElemType; 7] = [
    ElemType::Float32,
    ElemType::Float64,
    ElemType::Int64,
    ElemType::Int32,
    ElemType::String,
    ElemType::UnixTimestamp,
    ElemType::Bool,
];

fn schema() -> Schema {
    Schema::new(FIELDS.iter().map(|(n, t)| ((*n).into(), *t)).collect())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl Bin {
    fn symbol(self) -> &'static str {
        match self {
            Bin::Add => "+",
            Bin::Sub => "-",
            Bin::Mul => "*",
            Bin::Div => "/",
            Bin::Eq => "==",
            Bin::Ne => "!=",
            Bin::Lt => "<",
            Bin::Le => "<=",
            Bin::Gt => ">",
            Bin::Ge => ">=",
            Bin::And => "and",
            Bin::Or => "or",
        }
    }

    fn prec(self) -> u8 {
        match self {
            Bin::Or => 1,
            Bin::And => 2,
            Bin::Eq | Bin::Ne | Bin::Lt | Bin::Le | Bin::Gt | Bin::Ge => 4,
            Bin::Add | Bin::Sub => 5,
            Bin::Mul | Bin::Div => 6,
        }
    }
}

const CMPS: [Bin; 6] = [Bin::Eq, Bin::Ne, Bin::Lt, Bin::Le, Bin::Gt, Bin::Ge];

#[derive(Debug, Clone)]
enum E {
    Null,
    Bool(bool),
    /// Non-negative: negative numbers are `Neg(Int)`, as in the text.
    Int(i64),
    /// Finite and non-negative, for the same reason.
    Float(f64),
    Str(String),
    Var(usize),
    Neg(Box<E>),
    Not(Box<E>),
    Bin(Bin, Box<E>, Box<E>),
    Call(&'static str, Vec<E>),
    /// `a[i]`.
    Index(Box<E>, Box<E>),
}

/// Static types, as the module docs define them.
#[derive(Debug, Clone, Copy, PartialEq)]
enum T {
    Null,
    Bool,
    Int,
    Float,
    Str,
    Time,
    Arr(ElemType),
}

fn unify(a: T, b: T) -> Option<T> {
    match (a, b) {
        (T::Null, t) | (t, T::Null) => Some(t),
        (a, b) if a == b => Some(a),
        (T::Int, T::Float) | (T::Float, T::Int) => Some(T::Float),
        _ => None,
    }
}

fn ty(e: &E) -> T {
    match e {
        E::Null => T::Null,
        E::Bool(_) => T::Bool,
        E::Int(_) => T::Int,
        E::Float(_) => T::Float,
        E::Str(_) => T::Str,
        E::Var(i) => scalar(FIELDS[*i].1),
        E::Index(a, _) => match ty(a) {
            T::Arr(e) => scalar(e.into()),
            _ => T::Null,
        },
        E::Neg(a) => ty(a),
        E::Not(_) => T::Bool,
        E::Bin(op, a, b) => match op {
            Bin::Add | Bin::Sub | Bin::Mul => unify(ty(a), ty(b)).unwrap(),
            Bin::Div => T::Float,
            _ => T::Bool,
        },
        E::Call(f, args) => match *f {
            "abs" => ty(&args[0]),
            "ln" | "exp" | "sqrt" | "pow" => T::Float,
            "min" | "max" | "clamp" | "coalesce" => args
                .iter()
                .try_fold(T::Null, |acc, a| unify(acc, ty(a)))
                .unwrap(),
            "if" => unify(ty(&args[1]), ty(&args[2])).unwrap(),
            "is_null" => T::Bool,
            "len" => T::Int,
            "sum" | "mean" | "l2_norm" | "dot" | "cosine" => T::Float,
            other => unreachable!("{other}"),
        },
    }
}

/// How an input of `dtype` is read: int32 as int64, float32 as float64.
fn scalar(dtype: DType) -> T {
    match dtype {
        DType::Bool => T::Bool,
        DType::Int32 | DType::Int64 => T::Int,
        DType::Float32 | DType::Float64 => T::Float,
        DType::String => T::Str,
        DType::UnixTimestamp => T::Time,
        DType::Array(e) => T::Arr(e),
        other => unreachable!("FIELDS has no {other}"),
    }
}

// Adapters that turn an expression of any type into one of the wanted type,
// so every random combination is well typed.

fn as_num(e: E) -> E {
    match ty(&e) {
        T::Null | T::Int | T::Float => e,
        T::Arr(_) => E::Call("len", vec![e]),
        T::Time => as_num(as_bool(e)),
        T::Bool => E::Call("if", vec![e, E::Int(1), E::Float(0.5)]),
        T::Str => E::Call(
            "if",
            vec![
                E::Bin(Bin::Lt, Box::new(e), Box::new(E::Str("m".into()))),
                E::Int(2),
                E::Neg(Box::new(E::Int(3))),
            ],
        ),
    }
}

fn as_bool(e: E) -> E {
    match ty(&e) {
        T::Null | T::Bool => e,
        T::Int | T::Float => E::Bin(Bin::Gt, Box::new(e), Box::new(E::Int(1))),
        T::Str => E::Bin(Bin::Ge, Box::new(e), Box::new(E::Str("h".into()))),
        T::Time => E::Bin(Bin::Lt, Box::new(e), Box::new(E::Var(T_FIELD))),
        T::Arr(_) => as_bool(as_num(e)),
    }
}

/// An int64 expression (an index), from an int one or a choice of two
/// indexes, one usually in range.
fn as_int(e: E) -> E {
    match ty(&e) {
        T::Null | T::Int => e,
        _ => E::Call("if", vec![as_bool(e), E::Int(0), E::Int(2)]),
    }
}

/// A timestamp expression.
fn as_time(e: E) -> E {
    match ty(&e) {
        T::Null | T::Time => e,
        _ => E::Call(
            "if",
            vec![
                as_bool(e),
                E::Var(T_FIELD),
                E::Index(Box::new(E::Var(TT_FIELD)), Box::new(E::Int(0))),
            ],
        ),
    }
}

/// An expression of type `array<elem>`: `e` if it is one, else a choice
/// between that array input and null that still depends on `e`.
fn as_arr(e: E, elem: ElemType) -> E {
    match ty(&e) {
        T::Null => e,
        T::Arr(x) if x == elem => e,
        _ => E::Call("if", vec![as_bool(e), E::Var(array_field(elem)), E::Null]),
    }
}

/// A numeric array: `e` if it is one, else one picked by `pick`.
fn as_num_arr(e: E, pick: usize) -> E {
    match ty(&e) {
        T::Arr(x) if NUMERIC.contains(&x) => e,
        _ => as_arr(e, NUMERIC[pick % NUMERIC.len()]),
    }
}

fn as_str(e: E) -> E {
    match ty(&e) {
        T::Null | T::Str => e,
        _ => E::Call(
            "if",
            vec![as_bool(e), E::Str("abc".into()), E::Str("b\"\\".into())],
        ),
    }
}

/// Makes `e` fit alongside a value of type `t` in an `if` or `coalesce`.
fn like(e: E, t: T) -> E {
    match t {
        T::Null => e,
        T::Int | T::Float => as_num(e),
        T::Bool => as_bool(e),
        T::Str => as_str(e),
        T::Time => as_time(e),
        T::Arr(x) => as_arr(e, x),
    }
}

/// Combines up to three sub-expressions into a well-typed node of kind `kind`.
fn build(kind: u8, a: E, b: E, c: E, pick: usize) -> E {
    let bx = Box::new;
    match kind {
        0 => E::Neg(bx(as_num(a))),
        1 => E::Not(bx(as_bool(a))),
        2 => {
            let op = [Bin::Add, Bin::Sub, Bin::Mul, Bin::Div][pick % 4];
            E::Bin(op, bx(as_num(a)), bx(as_num(b)))
        }
        3 => E::Bin(CMPS[pick % 6], bx(as_num(a)), bx(as_num(b))),
        4 => E::Bin(CMPS[pick % 6], bx(as_str(a)), bx(as_str(b))),
        5 => E::Bin(CMPS[pick % 2], bx(as_bool(a)), bx(as_bool(b))),
        6 => {
            let op = [Bin::And, Bin::Or][pick % 2];
            E::Bin(op, bx(as_bool(a)), bx(as_bool(b)))
        }
        7 => {
            let f = ["abs", "ln", "exp", "sqrt"][pick % 4];
            E::Call(f, vec![as_num(a)])
        }
        8 => E::Call("pow", vec![as_num(a), as_num(b)]),
        9 => {
            let f = ["min", "max"][pick % 2];
            let mut args = vec![as_num(a), as_num(b)];
            if pick.is_multiple_of(3) {
                args.push(as_num(c));
            }
            E::Call(f, args)
        }
        10 => E::Call("clamp", vec![as_num(a), as_num(b), as_num(c)]),
        11 => {
            let tb = ty(&b);
            E::Call("if", vec![as_bool(a), b, like(c, tb)])
        }
        12 => E::Call("is_null", vec![a]),
        14 => {
            let f = ["len", "sum", "mean", "l2_norm"][pick % 4];
            E::Call(f, vec![as_num_arr(a, pick / 4)])
        }
        15 => {
            let f = ["dot", "cosine"][pick % 2];
            E::Call(f, vec![as_num_arr(a, pick / 2), as_num_arr(b, pick / 3)])
        }
        16 => {
            let array = match ty(&a) {
                T::Arr(x) if INDEXABLE.contains(&x) => a,
                _ => as_arr(a, INDEXABLE[pick % INDEXABLE.len()]),
            };
            // Indexes near the ends, past them and negative, as well as random ones.
            let index = match pick % 4 {
                0 => as_int(b),
                1 => E::Int((pick / 4) as i64),
                2 => E::Neg(bx(E::Int(1 + (pick / 4) as i64 % 2))),
                _ => E::Bin(
                    Bin::Sub,
                    bx(E::Call("len", vec![array.clone()])),
                    bx(E::Int(1 + (pick / 4) as i64 % 2)),
                ),
            };
            E::Index(bx(array), bx(index))
        }
        17 => E::Bin(CMPS[pick % 6], bx(as_time(a)), bx(as_time(b))),
        _ => {
            // Each argument is adapted to the type of those before it.
            let mut t = ty(&a);
            let b = like(b, t);
            t = unify(t, ty(&b)).unwrap_or(t);
            let mut args = vec![a, b];
            if pick.is_multiple_of(2) {
                args.push(like(c, t));
            }
            E::Call("coalesce", args)
        }
    }
}

/// Text for `e`, with parentheses only where precedence needs them.
fn print(e: &E) -> String {
    print_prec(e).0
}

const ATOM: u8 = 8;

fn print_prec(e: &E) -> (String, u8) {
    let wrap = |child: &E, at_least: u8| {
        let (s, p) = print_prec(child);
        if p < at_least { format!("({s})") } else { s }
    };
    match e {
        E::Null => ("null".into(), ATOM),
        E::Bool(b) => (b.to_string(), ATOM),
        E::Int(i) => (i.to_string(), ATOM),
        E::Float(x) => {
            // `{:?}` round-trips exactly; make sure the text reads as a float.
            let s = format!("{x:?}");
            let s = if s.contains(['.', 'e']) {
                s
            } else {
                format!("{s}.0")
            };
            (s, ATOM)
        }
        E::Str(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            out.push('"');
            (out, ATOM)
        }
        E::Var(i) => (FIELDS[*i].0.into(), ATOM),
        E::Neg(a) => (format!("-{}", wrap(a, 7)), 7),
        E::Not(a) => (format!("not {}", wrap(a, 3)), 3),
        E::Bin(op, a, b) => {
            let p = op.prec();
            // Left-associative; comparisons do not chain, so both sides bind tighter.
            let left_min = if p == 4 { p + 1 } else { p };
            (
                format!("{} {} {}", wrap(a, left_min), op.symbol(), wrap(b, p + 1)),
                p,
            )
        }
        E::Call(f, args) => {
            let args: Vec<String> = args.iter().map(print).collect();
            (format!("{f}({})", args.join(", ")), ATOM)
        }
        // Tighter than unary `-`: only an atom is indexed without parentheses.
        E::Index(a, i) => (format!("{}[{}]", wrap(a, ATOM), print(i)), ATOM),
    }
}

/// Converts an integer result to float where the static type says float.
fn to(t: T, v: Value) -> Value {
    match (t, v) {
        (T::Float, Value::Int64(i)) => Value::Float64(i as f64),
        (_, v) => v,
    }
}

fn f(v: &Value) -> f64 {
    match v {
        Value::Int64(i) => *i as f64,
        Value::Float64(x) => *x,
        other => panic!("not a number: {other:?}"),
    }
}

fn fmin(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if b < a {
        b
    } else {
        a
    }
}

fn fmax(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if b > a {
        b
    } else {
        a
    }
}

/// `min`/`max` over two values of the static type `t` (null propagates).
fn pick(t: T, a: Value, b: Value, max: bool) -> Value {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Value::Null,
        (Value::Int64(a), Value::Int64(b)) if t == T::Int => Value::Int64(if max {
            if b > a { b } else { a }
        } else if b < a {
            b
        } else {
            a
        }),
        (a, b) => Value::Float64(if max {
            fmax(f(&a), f(&b))
        } else {
            fmin(f(&a), f(&b))
        }),
    }
}

fn reference(e: &E, row: &[Value]) -> Value {
    use Value::{Bool as B, Float64 as F, Int64 as I, Null};
    let t = ty(e);
    match e {
        E::Null => Null,
        E::Bool(b) => B(*b),
        E::Int(i) => I(*i),
        E::Float(x) => F(*x),
        E::Str(s) => Value::String(s.clone()),
        E::Var(i) => match &row[*i] {
            Value::Float32(x) => F(f64::from(*x)),
            Value::Int32(x) => I(i64::from(*x)),
            v => v.clone(),
        },
        E::Index(a, i) => match (reference(a, row), reference(i, row)) {
            (Value::Array(arr), I(i)) => match usize::try_from(i).ok().and_then(|i| arr.get(i)) {
                Some(Value::Float32(x)) => F(f64::from(x)),
                Some(Value::Int32(x)) => I(i64::from(x)),
                Some(v) => v,
                None => Null,
            },
            _ => Null,
        },
        E::Neg(a) => match reference(a, row) {
            I(i) => i.checked_neg().map_or(Null, I),
            F(x) => F(-x),
            v => v,
        },
        E::Not(a) => match reference(a, row) {
            B(b) => B(!b),
            v => v,
        },
        E::Bin(op, a, b) => {
            let (va, vb) = (reference(a, row), reference(b, row));
            match op {
                Bin::And => match (va, vb) {
                    (B(false), _) | (_, B(false)) => B(false),
                    (B(true), B(true)) => B(true),
                    _ => Null,
                },
                Bin::Or => match (va, vb) {
                    (B(true), _) | (_, B(true)) => B(true),
                    (B(false), B(false)) => B(false),
                    _ => Null,
                },
                _ if va.is_null() || vb.is_null() => Null,
                Bin::Add | Bin::Sub | Bin::Mul => match (t, &va, &vb) {
                    (T::Int, I(x), I(y)) => match op {
                        Bin::Add => x.checked_add(*y),
                        Bin::Sub => x.checked_sub(*y),
                        _ => x.checked_mul(*y),
                    }
                    .map_or(Null, I),
                    _ => {
                        let (x, y) = (f(&va), f(&vb));
                        F(match op {
                            Bin::Add => x + y,
                            Bin::Sub => x - y,
                            _ => x * y,
                        })
                    }
                },
                Bin::Div => F(f(&va) / f(&vb)),
                cmp => {
                    let ord = match (&va, &vb) {
                        (I(x), I(y)) => Some(x.cmp(y)),
                        (Value::String(x), Value::String(y)) => {
                            Some(x.as_bytes().cmp(y.as_bytes()))
                        }
                        (B(x), B(y)) => Some(x.cmp(y)),
                        (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.0.cmp(&y.0)),
                        _ => f(&va).partial_cmp(&f(&vb)),
                    };
                    use std::cmp::Ordering::*;
                    B(match (cmp, ord) {
                        (Bin::Ne, None) => true,
                        (_, None) => false,
                        (Bin::Eq, Some(o)) => o == Equal,
                        (Bin::Ne, Some(o)) => o != Equal,
                        (Bin::Lt, Some(o)) => o == Less,
                        (Bin::Le, Some(o)) => o != Greater,
                        (Bin::Gt, Some(o)) => o == Greater,
                        (_, Some(o)) => o != Less,
                    })
                }
            }
        }
        E::Call(name, args) => {
            let vals: Vec<Value> = args.iter().map(|a| reference(a, row)).collect();
            match *name {
                "is_null" => B(vals[0].is_null()),
                "coalesce" => to(t, vals.into_iter().find(|v| !v.is_null()).unwrap_or(Null)),
                "if" => match &vals[0] {
                    B(true) => to(t, vals[1].clone()),
                    B(false) => to(t, vals[2].clone()),
                    _ => Null,
                },
                _ if vals.iter().any(Value::is_null) => Null,
                "abs" => match &vals[0] {
                    I(i) => i.checked_abs().map_or(Null, I),
                    v => F(f(v).abs()),
                },
                "ln" => F(libm::log(f(&vals[0]))),
                "exp" => F(libm::exp(f(&vals[0]))),
                "sqrt" => F(f(&vals[0]).sqrt()),
                "pow" => F(libm::pow(f(&vals[0]), f(&vals[1]))),
                "min" | "max" => {
                    let max = *name == "max";
                    let mut it = vals.into_iter();
                    let first = to(t, it.next().unwrap());
                    it.fold(first, |acc, v| pick(t, acc, to(t, v), max))
                }
                "clamp" => {
                    let [x, lo, hi]: [Value; 3] = vals.try_into().unwrap();
                    pick(t, pick(t, x, lo, true), hi, false)
                }
                "len" | "sum" | "mean" | "l2_norm" | "dot" | "cosine" => reduce(name, &vals),
                other => unreachable!("{other}"),
            }
        }
    }
}

/// A numeric array's elements as the reductions read them.
fn elems(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(Array::Int32(x)) => x.iter().map(|&i| f64::from(i)).collect(),
        Value::Array(Array::Int64(x)) => x.iter().map(|&i| i as f64).collect(),
        Value::Array(Array::Float32(x)) => x.iter().map(|&i| f64::from(i)).collect(),
        Value::Array(Array::Float64(x)) => x.clone(),
        other => panic!("not a numeric array: {other:?}"),
    }
}

/// `0 + x0 + x1 + ...`, left to right, as the module docs define every reduction.
fn total(xs: impl Iterator<Item = f64>) -> f64 {
    let mut acc = 0.0;
    for x in xs {
        acc += x;
    }
    acc
}

/// The array functions on non-null arguments.
fn reduce(name: &str, vals: &[Value]) -> Value {
    use Value::{Float64 as F, Null};
    if name == "len" {
        let Value::Array(a) = &vals[0] else {
            panic!("len of {:?}", vals[0])
        };
        return Value::Int64(a.len() as i64);
    }
    let a = elems(&vals[0]);
    let norm = |v: &[f64]| total(v.iter().map(|x| x * x)).sqrt();
    match name {
        "sum" => F(total(a.iter().copied())),
        "mean" if a.is_empty() => Null,
        "mean" => F(total(a.iter().copied()) / a.len() as f64),
        "l2_norm" => F(norm(&a)),
        _ => {
            let b = elems(&vals[1]);
            if a.len() != b.len() {
                return Null;
            }
            let dot = total(a.iter().zip(&b).map(|(x, y)| x * y));
            if name == "dot" {
                return F(dot);
            }
            let norms = norm(&a) * norm(&b);
            if norms == 0.0 { Null } else { F(dot / norms) }
        }
    }
}

/// Equal values, with NaN equal to NaN and floats compared bit for bit otherwise.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float64(x), Value::Float64(y)) => {
            (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits()
        }
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------

const STRINGS: [&str; 7] = ["", "a", "abc", "m", "héllo", "b\"\\", "tab\there\n"];

fn int_value() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -20i64..=20,
        1 => any::<i64>(),
        1 => prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(i64::MAX / 2 + 1), Just(-(1i64 << 53) - 1)],
    ]
}

fn float_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -100.0f64..100.0,
        1 => any::<f64>(),
        1 => prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY), Just(-0.0), Just(0.0), Just(1e300)],
    ]
}

fn nullable(v: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![1 => Just(Value::Null), 3 => v].boxed()
}

fn time_value() -> impl Strategy<Value = Timestamp> {
    prop_oneof![4 => -5i64..5, 1 => any::<i64>()].prop_map(Timestamp)
}

/// Array elements that are often zero, so zero vectors (cosine's null) occur.
fn element<T: std::fmt::Debug + Clone + 'static>(
    zero: T,
    v: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    prop_oneof![1 => Just(zero), 3 => v].boxed()
}

/// Arrays of up to 4 elements: empty ones and mismatched lengths are common.
fn array<T: std::fmt::Debug + Clone + 'static>(
    elem: impl Strategy<Value = T> + 'static,
    make: fn(Vec<T>) -> Array,
) -> BoxedStrategy<Value> {
    nullable(prop::collection::vec(elem, 0..5).prop_map(move |v| Value::Array(make(v))))
}

fn row() -> impl Strategy<Value = Vec<Value>> {
    let scalars = (
        nullable(int_value().prop_map(Value::Int64)),
        nullable(int_value().prop_map(Value::Int64)),
        nullable(float_value().prop_map(Value::Float64)),
        nullable(float_value().prop_map(|x| Value::Float32(x as f32))),
        nullable(proptest::sample::select(&STRINGS[..]).prop_map(|s| Value::String(s.into()))),
        nullable(any::<bool>().prop_map(Value::Bool)),
        nullable(any::<i32>().prop_map(Value::Int32)),
        nullable(time_value().prop_map(Value::Timestamp)),
    );
    let arrays = (
        array(
            element(0.0, float_value().prop_map(|x| x as f32)),
            Array::Float32,
        ),
        array(element(0.0, float_value()), Array::Float64),
        array(element(0, int_value()), Array::Int64),
        array(element(0, any::<i32>()), Array::Int32),
        array(
            proptest::sample::select(&STRINGS[..]).prop_map(String::from),
            Array::String,
        ),
        array(time_value(), Array::Timestamp),
        array(any::<bool>(), Array::Bool),
    );
    (scalars, arrays).prop_map(|((a, b, x, y, s, p, k, t), (u, v, n, m, ss, tt, bb))| {
        vec![a, b, x, y, s, p, k, t, u, v, n, m, ss, tt, bb]
    })
}

fn leaf() -> impl Strategy<Value = E> {
    prop_oneof![
        1 => Just(E::Null),
        1 => any::<bool>().prop_map(E::Bool),
        2 => prop_oneof![3 => 0i64..=10, 1 => 0i64..=i64::MAX, 1 => Just(i64::MAX)].prop_map(E::Int),
        2 => prop_oneof![
            3 => (0u32..400).prop_map(|n| f64::from(n) / 4.0),
            1 => 0.0f64..1e6,
            1 => prop_oneof![Just(1e-3), Just(38.5), Just(1e300), Just(2.5e-8)],
        ]
        .prop_map(E::Float),
        1 => proptest::sample::select(&STRINGS[..]).prop_map(|s| E::Str(s.into())),
        6 => (0..FIELDS.len()).prop_map(E::Var),
    ]
}

fn expr() -> impl Strategy<Value = E> {
    leaf()
        .prop_recursive(6, 48, 3, |inner| {
            (0u8..18, inner.clone(), inner.clone(), inner, 0usize..12)
                .prop_map(|(kind, a, b, c, pick)| build(kind, a, b, c, pick))
        })
        .prop_map(|e| {
            // A program must have a scalar type: give an always-null
            // expression one, and reduce an array to its length.
            match ty(&e) {
                T::Null => E::Call("coalesce", vec![e, E::Int(1)]),
                T::Arr(_) => E::Call("len", vec![e]),
                _ => e,
            }
        })
}

fn dtype(t: T) -> DType {
    match t {
        T::Bool => DType::Bool,
        T::Int => DType::Int64,
        T::Float => DType::Float64,
        T::Str => DType::String,
        T::Time => DType::UnixTimestamp,
        T::Null | T::Arr(_) => unreachable!("always-null and array expressions are wrapped"),
    }
}

// ---------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn compiled_programs_agree_with_the_reference(e in expr(), rows in prop::collection::vec(row(), 1..6)) {
        let text = print(&e);
        let program = Program::compile(&text, &schema())
            .unwrap_or_else(|err| panic!("`{text}` should compile: {err}"));
        prop_assert_eq!(program.output_type(), dtype(ty(&e)), "{}", text);
        for r in &rows {
            let got = program.eval(r).unwrap();
            let want = reference(&e, r);
            prop_assert!(same(&got, &want), "`{}` on {:?}: got {:?}, reference {:?}", text, r, got, want);
            if let Some(t) = got.dtype() {
                prop_assert_eq!(t, program.output_type());
            }
        }
    }

    #[test]
    fn reductions_agree_bit_for_bit_with_in_order_loops(
        u in prop::collection::vec(element(0.0, float_value().prop_map(|x| x as f32)), 0..16),
        v in prop::collection::vec(element(0.0, float_value()), 0..16),
        n in prop::collection::vec(element(0, int_value()), 0..16),
        same_length in any::<bool>(),
    ) {
        // Longer arrays than the random programs use, so a change of
        // summation order (pairwise, reversed, SIMD lanes) shows in the bits.
        let v = if same_length { u.iter().map(|&x| f64::from(x) * 1.1).collect() } else { v };
        let mut row = vec![Value::Null; FIELDS.len()];
        row[8] = Value::Array(Array::Float32(u));
        row[9] = Value::Array(Array::Float64(v));
        row[10] = Value::Array(Array::Int64(n));
        for text in [
            "sum(u)", "sum(v)", "sum(n)", "mean(u)", "mean(v)", "mean(n)",
            "l2_norm(u)", "l2_norm(v)", "l2_norm(n)", "dot(u, v)", "dot(v, v)",
            "dot(n, u)", "cosine(u, v)", "cosine(v, v)", "cosine(n, v)",
        ] {
            let program = Program::compile(text, &schema()).unwrap();
            let got = program.eval(&row).unwrap();
            let (name, rest) = text.split_once('(').unwrap();
            let args: Vec<Value> = rest
                .trim_end_matches(')')
                .split(", ")
                .map(|a| row[schema().index_of(a).unwrap()].clone())
                .collect();
            let want = reduce(name, &args);
            prop_assert!(same(&got, &want), "{}: got {:?}, reference {:?}", text, got, want);
        }
    }

    #[test]
    fn programs_round_trip_through_bincode(e in expr(), r in row()) {
        let text = print(&e);
        let program = Program::compile(&text, &schema()).unwrap();
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&program, config).unwrap();
        let (back, used): (Program, usize) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(&back, &program);
        // Deterministic: recompiling gives the same bytes.
        let again = Program::compile(&text, &schema()).unwrap();
        prop_assert_eq!(bincode::serde::encode_to_vec(&again, config).unwrap(), bytes);
        prop_assert!(same(&back.eval(&r).unwrap(), &program.eval(&r).unwrap()));
    }

    #[test]
    fn corrupted_programs_never_panic(e in expr(), r in row(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let program = Program::compile(&print(&e), &schema()).unwrap();
        let config = bincode::config::standard();
        let mut bytes = bincode::serde::encode_to_vec(&program, config).unwrap();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        // Bounded decoding so a corrupted length cannot ask for gigabytes.
        let config = config.with_limit::<65536>();
        if let Ok((p, _)) = bincode::serde::decode_from_slice::<Program, _>(&bytes, config) {
            match p.eval(&r) {
                Ok(_) | Err(Error::Eval(_)) => {}
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
            let _ = p.inputs();
        }
    }

    #[test]
    fn hostile_op_streams_never_panic(bytes in op_stream(), r in row()) {
        let config = bincode::config::standard().with_limit::<65536>();
        if let Ok((p, _)) = bincode::serde::decode_from_slice::<Program, _>(&bytes, config) {
            match p.eval(&r) {
                Ok(v) => {
                    if let Some(t) = v.dtype() {
                        prop_assert_eq!(t, p.output_type());
                    }
                }
                Err(Error::Eval(_)) => {}
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
            let _ = p.inputs();
        }
    }

    #[test]
    fn compile_never_panics_on_arbitrary_text(text in any::<String>()) {
        check_compile(&text);
    }

    #[test]
    fn compile_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        check_compile(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn compile_never_panics_on_token_soup(
        tokens in prop::collection::vec(proptest::sample::select(&TOKENS[..]), 0..40),
        r in row(),
    ) {
        let text = tokens.join(" ");
        if let Some(p) = check_compile(&text) {
            // Whatever compiles evaluates on a row of the schema's types.
            let v = p.eval(&r).unwrap_or_else(|e| panic!("`{text}`: {e}"));
            if let Some(t) = v.dtype() {
                prop_assert_eq!(t, p.output_type());
            }
        }
        let glued = tokens.concat();
        check_compile(&glued);
    }
}

/// A `Program` written byte by byte in bincode's standard encoding: an empty
/// source, an output type, a count of ops each written as a variant tag and a
/// few small payload bytes, then the stack size. The ops decode with operands
/// of any kind in any order (an array where a number goes, `Index` on a
/// string, a `Load` of an array as another element type), which is what a
/// hostile artifact gives the evaluator.
fn op_stream() -> impl Strategy<Value = Vec<u8>> {
    let op = (0u8..34, prop::collection::vec(0u8..12, 0..3));
    (0u8..10, 0u8..8, prop::collection::vec(op, 0..24), 0u8..30).prop_map(
        |(output, elem, ops, max_stack)| {
            let mut bytes = vec![0, output];
            if output == 9 {
                bytes.push(elem);
            }
            bytes.push(u8::try_from(ops.len()).unwrap());
            for (tag, payload) in ops {
                bytes.push(tag);
                bytes.extend(payload);
            }
            bytes.push(max_stack);
            bytes
        },
    )
}

const TOKENS: [&str; 60] = [
    "(",
    "(",
    ")",
    ")",
    ",",
    "+",
    "-",
    "*",
    "/",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "not",
    "and",
    "or",
    "abs(",
    "ln(",
    "sqrt(",
    "pow(",
    "min(",
    "max(",
    "clamp(",
    "if(",
    "is_null(",
    "coalesce(",
    "len(",
    "sum(",
    "mean(",
    "l2_norm(",
    "dot(",
    "cosine(",
    "[",
    "]",
    "nope(",
    "a",
    "b",
    "x",
    "y",
    "s",
    "p",
    "k",
    "t",
    "u",
    "v",
    "n",
    "ss",
    "tt",
    "bb",
    "q",
    "1",
    "2.5",
    "1e-3",
    "\"q\"",
    "null",
    "true",
    "9223372036854775807",
    "\"\\u{e9}",
];

/// Compiles `text`; only parse and type errors are allowed.
fn check_compile(text: &str) -> Option<Program> {
    match Program::compile(text, &schema()) {
        Ok(p) => Some(p),
        Err(Error::Parse { offset, .. }) => {
            assert!(
                offset <= text.len(),
                "offset {offset} past the end of {text:?}"
            );
            None
        }
        Err(Error::Type { .. }) => None,
        Err(other) => panic!("unexpected error kind for {text:?}: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Pinned cases: the printer, and hand-computed results on awkward inputs.
// ---------------------------------------------------------------------------

#[test]
fn printer_respects_precedence() {
    let bx = Box::new;
    let e = E::Bin(
        Bin::Mul,
        bx(E::Bin(Bin::Add, bx(E::Var(0)), bx(E::Int(1)))),
        bx(E::Neg(bx(E::Var(2)))),
    );
    assert_eq!(print(&e), "(a + 1) * -x");
    let e = E::Bin(
        Bin::Sub,
        bx(E::Var(0)),
        bx(E::Bin(Bin::Sub, bx(E::Var(1)), bx(E::Int(2)))),
    );
    assert_eq!(print(&e), "a - (b - 2)");
    let e = E::Bin(
        Bin::Eq,
        bx(E::Not(bx(E::Var(5)))),
        bx(E::Bin(Bin::Lt, bx(E::Var(0)), bx(E::Var(1)))),
    );
    assert_eq!(print(&e), "(not p) == (a < b)");
    assert_eq!(print(&E::Float(1e300)), "1e300");
    assert_eq!(print(&E::Float(2.0)), "2.0");
    assert_eq!(print(&E::Str("b\"\\".into())), r#""b\"\\""#);
}

#[test]
fn op_streams_reach_the_array_ops() {
    // Empty source, float64 output, 2 ops: Load { index: 8, dtype:
    // array<float32> }, Sum; stack size 1. The stream format above is right.
    let bytes = [0, 3, 2, 5, 8, 9, 3, 28, 1];
    let config = bincode::config::standard();
    let (p, used): (Program, usize) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
    assert_eq!(used, bytes.len());
    let mut row = vec![Value::Null; FIELDS.len()];
    row[8] = Value::Array(Array::Float32(vec![1.5, 2.0]));
    assert_eq!(p.eval(&row).unwrap(), Value::Float64(3.5));
    // It is what compiling `sum(u)` stores, after the 7 bytes of its source.
    let compiled = Program::compile("sum(u)", &schema()).unwrap();
    let compiled = bincode::serde::encode_to_vec(&compiled, config).unwrap();
    assert_eq!(compiled[7..], bytes[1..]);
    // The same ops on an int64 where the array should be: an error, not a panic.
    let bytes = [0, 3, 2, 5, 0, 1, 28, 1];
    let (p, _): (Program, usize) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
    row[0] = Value::Int64(1);
    assert!(matches!(p.eval(&row), Err(Error::Eval(_))));
}

#[test]
fn hand_computed_cases() {
    let row = vec![
        Value::Int64(i64::MAX),
        Value::Int64(2),
        Value::Float64(f64::NAN),
        Value::Float32(0.5),
        Value::Null,
        Value::Bool(false),
    ];
    for (text, want) in [
        ("a + 1", Value::Null),
        ("y * b", Value::Float64(1.0)),
        ("if(p, 1, 2.0)", Value::Float64(2.0)),
        ("x != x", Value::Bool(true)),
        ("max(y, x)", Value::Float64(f64::NAN)),
        ("s < \"a\" or not p", Value::Bool(true)),
        ("coalesce(s, \"z\")", Value::String("z".into())),
    ] {
        let p = Program::compile(text, &schema()).unwrap();
        let got = p.eval(&row).unwrap();
        assert!(same(&got, &want), "{text}: got {got:?}, want {want:?}");
    }
}
