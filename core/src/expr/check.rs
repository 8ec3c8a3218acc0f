//! Resolves names and checks types, turning postfix syntax into typed [`Op`]s.
//!
//! The checker walks the parser's postfix nodes with a stack of static types,
//! so it never recurses however long the expression. Each node becomes one op
//! (a variadic `min`/`max` becomes a chain of binary ones) chosen for its
//! operand types; every type error is reported here, at compile time, naming
//! the operator or function and the types it got.

use alloc::string::String;
use alloc::vec::Vec;

use super::Schema;
use super::op::{CmpOn, CmpOp, Num, Op};
use super::parser::{BinOp, Node, NodeKind, UnOp};
use crate::Error;
use crate::value::{DType, ElemType};

/// A static type. Inputs of type float32 are read as float64, int32 as int64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    /// The type of the `null` literal: unifies with every other type.
    Null,
    /// bool.
    Bool,
    /// int64.
    Int,
    /// float64.
    Float,
    /// string.
    Str,
    /// unix_timestamp.
    Time,
    /// An array input, with the element type it was declared with (an array
    /// is only ever read, so `array<float32>` stays itself until an element
    /// is taken or it is reduced).
    Array(ElemType),
}

impl Ty {
    /// The static type an input of `dtype` is read as; `None` for the types
    /// expressions do not read.
    fn of(dtype: DType) -> Option<Ty> {
        Some(match dtype {
            DType::Bool => Ty::Bool,
            DType::Int32 | DType::Int64 => Ty::Int,
            DType::Float32 | DType::Float64 => Ty::Float,
            DType::String => Ty::Str,
            DType::UnixTimestamp => Ty::Time,
            DType::Array(e) => Ty::Array(e),
            DType::Bytes | DType::Json => return None,
        })
    }

    /// The [`DType`] a value of this type is returned as; `None` for
    /// always-null and for arrays, which a program never returns.
    pub fn dtype(self) -> Option<DType> {
        Some(match self {
            Ty::Null | Ty::Array(_) => return None,
            Ty::Bool => DType::Bool,
            Ty::Int => DType::Int64,
            Ty::Float => DType::Float64,
            Ty::Str => DType::String,
            Ty::Time => DType::UnixTimestamp,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Ty::Null => "null",
            Ty::Bool => "bool",
            Ty::Int => "int64",
            Ty::Float => "float64",
            Ty::Str => "string",
            Ty::Time => "unix_timestamp",
            Ty::Array(e) => DType::Array(e).name(),
        }
    }

    /// True for an array the numeric reductions read (or the `null` literal).
    fn is_numeric_array(self) -> bool {
        match self {
            Ty::Null => true,
            Ty::Array(e) => matches!(
                e,
                ElemType::Int32 | ElemType::Int64 | ElemType::Float32 | ElemType::Float64
            ),
            _ => false,
        }
    }

    fn is_number(self) -> bool {
        matches!(self, Ty::Null | Ty::Int | Ty::Float)
    }

    fn is_bool(self) -> bool {
        matches!(self, Ty::Null | Ty::Bool)
    }
}

/// The common type of two branches or arguments: equal types, null with
/// anything, or int with float as float.
fn unify(a: Ty, b: Ty) -> Option<Ty> {
    Some(match (a, b) {
        (Ty::Null, t) | (t, Ty::Null) => t,
        (a, b) if a == b => a,
        (Ty::Int, Ty::Float) | (Ty::Float, Ty::Int) => Ty::Float,
        _ => return None,
    })
}

/// The numeric kind an arithmetic op runs in for a result of type `t`.
fn num(t: Ty) -> Num {
    if t == Ty::Float { Num::Float } else { Num::Int }
}

/// "int64", "int64 and string", "int64, string and float64".
fn list(types: &[Ty]) -> String {
    let mut out = String::new();
    for (i, t) in types.iter().enumerate() {
        if i > 0 {
            out.push_str(if i + 1 == types.len() { " and " } else { ", " });
        }
        out.push_str(t.name());
    }
    out
}

/// A built-in function: its name, how many arguments it takes, and their names.
struct Function {
    name: &'static str,
    min: usize,
    /// `None` for variadic functions.
    max: Option<usize>,
    params: &'static str,
}

impl Function {
    const fn new(name: &'static str, min: usize, max: Option<usize>, params: &'static str) -> Self {
        Function {
            name,
            min,
            max,
            params,
        }
    }
}

const FUNCTIONS: &[Function] = &[
    Function::new("abs", 1, Some(1), "x"),
    Function::new("ln", 1, Some(1), "x"),
    Function::new("exp", 1, Some(1), "x"),
    Function::new("sqrt", 1, Some(1), "x"),
    Function::new("pow", 2, Some(2), "x, y"),
    Function::new("min", 2, None, "a, b, ..."),
    Function::new("max", 2, None, "a, b, ..."),
    Function::new("clamp", 3, Some(3), "x, lo, hi"),
    Function::new("if", 3, Some(3), "condition, then, else"),
    Function::new("is_null", 1, Some(1), "x"),
    Function::new("coalesce", 1, None, "a, b, ..."),
    Function::new("len", 1, Some(1), "a"),
    Function::new("sum", 1, Some(1), "a"),
    Function::new("mean", 1, Some(1), "a"),
    Function::new("l2_norm", 1, Some(1), "a"),
    Function::new("dot", 2, Some(2), "a, b"),
    Function::new("cosine", 2, Some(2), "a, b"),
];

/// The checked program: its ops, result type and the evaluation stack it needs.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The instructions, in evaluation order.
    pub code: Vec<Op>,
    /// The static type of the result (never [`Ty::Null`]).
    pub output: DType,
    /// The most values ever on the stack at once.
    pub max_stack: usize,
}

/// Resolves names against `schema`, checks types and emits ops.
///
/// # Errors
///
/// [`Error::Type`] for unknown names and functions, wrong arities, ill-typed
/// operands and an expression that is always null.
pub(crate) fn check(text: &str, nodes: Vec<Node<'_>>, schema: &Schema) -> Result<Checked, Error> {
    let err = |message: String| Error::Type {
        source_text: text.into(),
        message,
    };
    let mut types: Vec<Ty> = Vec::new();
    let mut code: Vec<Op> = Vec::with_capacity(nodes.len());
    let mut max_stack = 0;
    let underflow = || err("internal: the parser left an unbalanced program".into());
    for node in nodes {
        let (op, ty) = match node.kind {
            NodeKind::Null => (Op::Null, Ty::Null),
            NodeKind::Bool(b) => (Op::Bool(b), Ty::Bool),
            NodeKind::Int(i) => (Op::Int(i), Ty::Int),
            NodeKind::Float(x) => (Op::Float(x), Ty::Float),
            NodeKind::Str(s) => (Op::Str(s), Ty::Str),
            NodeKind::Name(name) => {
                let Some((index, dtype)) = schema.lookup(name) else {
                    return Err(err(unknown_name(name, schema)));
                };
                let index = u32::try_from(index)
                    .map_err(|_| err("the schema has more than 2^32 fields".into()))?;
                let ty = Ty::of(dtype).ok_or_else(|| {
                    err(alloc::format!(
                        "input `{name}` is {dtype}, which expressions do not read"
                    ))
                })?;
                (Op::Load { index, dtype }, ty)
            }
            NodeKind::Unary(op) => {
                let t = pop(&mut types, 1).ok_or_else(underflow)?[0];
                unary(op, t).map_err(err)?
            }
            NodeKind::Binary(op) => {
                let args = pop(&mut types, 2).ok_or_else(underflow)?;
                binary(op, args[0], args[1]).map_err(err)?
            }
            NodeKind::Index => {
                let args = pop(&mut types, 2).ok_or_else(underflow)?;
                (Op::Index, index(args[0], args[1]).map_err(err)?)
            }
            NodeKind::Call { name, argc } => {
                let args = pop(&mut types, argc).ok_or_else(underflow)?;
                let (ops, ty) = call(name, &args).map_err(err)?;
                // All but the last op of a chain (a variadic min/max) go in here.
                let mut ops = ops;
                let last = ops
                    .pop()
                    .ok_or_else(|| err("internal: empty call".into()))?;
                code.extend(ops);
                (last, ty)
            }
        };
        code.push(op);
        types.push(ty);
        max_stack = max_stack.max(types.len());
    }
    let result = match types.as_slice() {
        [t] => *t,
        _ => return Err(underflow()),
    };
    let output = match result {
        Ty::Array(_) => return Err(err(alloc::format!(
            "the result is {}, but an expression computes one scalar value; reduce the array with `len`, `sum`, `mean`, `l2_norm`, `dot` or `cosine`, or take an element with `a[i]`",
            result.name()
        ))),
        _ => result.dtype().ok_or_else(|| {
            err("the expression is always null, so it has no type; an on-demand field needs a value (use `coalesce` or `if` to give one)".into())
        })?,
    };
    Ok(Checked {
        code,
        output,
        max_stack,
    })
}

/// Pops the last `n` types; the parser guarantees they are there.
fn pop(types: &mut Vec<Ty>, n: usize) -> Option<Vec<Ty>> {
    let at = types.len().checked_sub(n)?;
    Some(types.split_off(at))
}

fn unary(op: UnOp, t: Ty) -> Result<(Op, Ty), String> {
    match op {
        UnOp::Neg if t.is_number() => Ok((Op::Neg(num(t)), t)),
        UnOp::Neg => Err(alloc::format!("unary `-` needs a number, got {}", t.name())),
        UnOp::Not if t.is_bool() => Ok((Op::Not, Ty::Bool)),
        UnOp::Not => Err(alloc::format!("`not` needs a bool, got {}", t.name())),
    }
}

fn binary(op: BinOp, a: Ty, b: Ty) -> Result<(Op, Ty), String> {
    let symbol = op.symbol();
    let numbers = a.is_number() && b.is_number();
    let needs_numbers = || alloc::format!("`{symbol}` needs numbers, got {}", list(&[a, b]));
    let arithmetic = |make: fn(Num) -> Op| {
        if !numbers {
            return Err(needs_numbers());
        }
        let t = unify(a, b).unwrap_or(Ty::Float);
        Ok((make(num(t)), t))
    };
    let comparison = |cmp: CmpOp| {
        let ordering = !matches!(cmp, CmpOp::Eq | CmpOp::Ne);
        let on = match unify(a, b) {
            Some(Ty::Float) => CmpOn::Float,
            Some(Ty::Int | Ty::Null) => CmpOn::Int,
            Some(Ty::Str) => CmpOn::Str,
            Some(Ty::Time) => CmpOn::Time,
            Some(Ty::Bool) if !ordering => CmpOn::Bool,
            Some(Ty::Bool) => {
                return Err(alloc::format!(
                    "`{symbol}` cannot order bools; compare numbers or strings, or use `==` / `!=`"
                ));
            }
            Some(Ty::Array(_)) => {
                return Err(alloc::format!(
                    "`{symbol}` cannot compare arrays ({}); compare their elements `a[i]` or reductions such as `len(a)`",
                    list(&[a, b])
                ));
            }
            None => {
                return Err(alloc::format!(
                    "`{symbol}` cannot compare {} with {}; both sides must be numbers, strings, bools or timestamps",
                    a.name(),
                    b.name()
                ));
            }
        };
        Ok((Op::Cmp(cmp, on), Ty::Bool))
    };
    let logic = |op: Op| {
        if a.is_bool() && b.is_bool() {
            Ok((op, Ty::Bool))
        } else {
            Err(alloc::format!(
                "`{symbol}` needs bools, got {}",
                list(&[a, b])
            ))
        }
    };
    match op {
        BinOp::Add => arithmetic(Op::Add),
        BinOp::Sub => arithmetic(Op::Sub),
        BinOp::Mul => arithmetic(Op::Mul),
        BinOp::Div if numbers => Ok((Op::Div, Ty::Float)),
        BinOp::Div => Err(needs_numbers()),
        BinOp::Eq => comparison(CmpOp::Eq),
        BinOp::Ne => comparison(CmpOp::Ne),
        BinOp::Lt => comparison(CmpOp::Lt),
        BinOp::Le => comparison(CmpOp::Le),
        BinOp::Gt => comparison(CmpOp::Gt),
        BinOp::Ge => comparison(CmpOp::Ge),
        BinOp::And => logic(Op::And),
        BinOp::Or => logic(Op::Or),
    }
}

/// Checks a call and returns its ops (more than one for a variadic min/max).
fn call(name: &str, args: &[Ty]) -> Result<(Vec<Op>, Ty), String> {
    let Some(f) = FUNCTIONS.iter().find(|f| f.name == name) else {
        return Err(unknown_function(name));
    };
    let n = args.len();
    if n < f.min || f.max.is_some_and(|max| n > max) {
        let plural = if f.min == 1 { "argument" } else { "arguments" };
        return Err(match f.max {
            Some(_) => alloc::format!("`{name}` takes {} {plural} ({}), got {n}", f.min, f.params),
            None => alloc::format!(
                "`{name}` takes at least {} {plural} ({}), got {n}",
                f.min,
                f.params
            ),
        });
    }
    let needs_numbers = || {
        let what = if n == 1 { "a number" } else { "numbers" };
        alloc::format!("`{name}` needs {what}, got {}", list(args))
    };
    let all_numbers = args.iter().all(|t| t.is_number());
    let one = |op: Op, ty: Ty| Ok((alloc::vec![op], ty));
    let unified = || args.iter().try_fold(Ty::Null, |acc, &t| unify(acc, t));
    match name {
        "abs" if all_numbers => one(Op::Abs(num(args[0])), args[0]),
        "ln" if all_numbers => one(Op::Ln, Ty::Float),
        "exp" if all_numbers => one(Op::Exp, Ty::Float),
        "sqrt" if all_numbers => one(Op::Sqrt, Ty::Float),
        "pow" if all_numbers => one(Op::Pow, Ty::Float),
        "min" | "max" if all_numbers => {
            let t = unified().unwrap_or(Ty::Float);
            let op = if name == "min" { Op::Min } else { Op::Max };
            Ok(((1..n).map(|_| op(num(t))).collect(), t))
        }
        "clamp" if all_numbers => {
            let t = unified().unwrap_or(Ty::Float);
            one(Op::Clamp(num(t)), t)
        }
        "abs" | "ln" | "exp" | "sqrt" | "pow" | "min" | "max" | "clamp" => Err(needs_numbers()),
        "if" => {
            if !args[0].is_bool() {
                return Err(alloc::format!(
                    "`if` needs a bool condition, got {}",
                    args[0].name()
                ));
            }
            let t = unify(args[1], args[2]).ok_or_else(|| {
                alloc::format!(
                    "`if` branches must have the same type (or both be numbers), got {}",
                    list(&args[1..])
                )
            })?;
            one(
                Op::If {
                    to_float: t == Ty::Float,
                },
                t,
            )
        }
        "is_null" => one(Op::IsNull, Ty::Bool),
        "len" | "sum" | "mean" | "l2_norm" | "dot" | "cosine" => {
            array_call(name, args).map(|(op, ty)| (alloc::vec![op], ty))
        }
        "coalesce" => {
            let t = unified().ok_or_else(|| {
                alloc::format!(
                    "`coalesce` arguments must have the same type (or all be numbers), got {}",
                    list(args)
                )
            })?;
            let n = u32::try_from(n).map_err(|_| String::from("too many arguments"))?;
            one(
                Op::Coalesce {
                    n,
                    to_float: t == Ty::Float,
                },
                t,
            )
        }
        _ => Err(unknown_function(name)),
    }
}

/// The array functions: `len` reads any array, the others numeric ones.
fn array_call(name: &str, args: &[Ty]) -> Result<(Op, Ty), String> {
    if name == "len" {
        return match args[0] {
            Ty::Null | Ty::Array(_) => Ok((Op::Len, Ty::Int)),
            t => Err(alloc::format!("`len` needs an array, got {}", t.name())),
        };
    }
    if !args.iter().all(|t| t.is_numeric_array()) {
        let what = if args.len() == 1 {
            "a numeric array"
        } else {
            "two numeric arrays"
        };
        return Err(alloc::format!(
            "`{name}` needs {what} (elements int32, int64, float32 or float64), got {}",
            list(args)
        ));
    }
    let op = match name {
        "sum" => Op::Sum,
        "mean" => Op::Mean,
        "l2_norm" => Op::L2Norm,
        "dot" => Op::Dot,
        _ => Op::Cosine,
    };
    Ok((op, Ty::Float))
}

/// The type of `a[i]`: the element type as expressions read it.
fn index(array: Ty, i: Ty) -> Result<Ty, String> {
    if !matches!(i, Ty::Null | Ty::Int) {
        return Err(alloc::format!(
            "an array index must be an int64, got {}",
            i.name()
        ));
    }
    match array {
        Ty::Null => Ok(Ty::Null),
        Ty::Array(e) => Ty::of(DType::from(e)).ok_or_else(|| {
            alloc::format!(
                "the elements of {} cannot be read by expressions (only `len` and `is_null` read the array)",
                array.name()
            )
        }),
        t => Err(alloc::format!(
            "`[]` takes an element of an array, but this is {}",
            t.name()
        )),
    }
}

/// Names other languages use for our functions, for "did you mean" hints.
const ALIASES: &[(&str, &str)] = &[
    ("log", "ln"),
    ("power", "pow"),
    ("least", "min"),
    ("greatest", "max"),
    ("iif", "if"),
    ("isnull", "is_null"),
    ("ifnull", "coalesce"),
    ("nvl", "coalesce"),
    ("length", "len"),
    ("size", "len"),
    ("cardinality", "len"),
    ("avg", "mean"),
    ("norm", "l2_norm"),
    ("dot_product", "dot"),
    ("inner_product", "dot"),
    ("cosine_similarity", "cosine"),
];

fn unknown_function(name: &str) -> String {
    let names: Vec<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
    let mut msg = alloc::format!("unknown function `{name}`");
    let lower = name.to_ascii_lowercase();
    let alias = ALIASES.iter().find(|(a, _)| *a == lower).map(|(_, f)| *f);
    let close = match alias {
        Some(f) => alloc::vec![f],
        None => closest(name, names.iter().copied()),
    };
    if !close.is_empty() {
        msg.push_str(&alloc::format!("; did you mean {}?", quoted(&close)));
    }
    msg.push_str(&alloc::format!(" (functions: {})", names.join(", ")));
    msg
}

fn unknown_name(name: &str, schema: &Schema) -> String {
    let names = schema.fields().iter().map(|(n, _)| n.as_str());
    let mut msg = alloc::format!("unknown name `{name}`");
    if FUNCTIONS.iter().any(|f| f.name == name) {
        msg.push_str(&alloc::format!(
            "; `{name}` is a function, call it like `{name}(...)`"
        ));
        return msg;
    }
    let close = closest(name, names.clone());
    if !close.is_empty() {
        msg.push_str(&alloc::format!("; did you mean {}?", quoted(&close)));
    } else if schema.fields().is_empty() {
        msg.push_str("; this expression has no inputs (add request fields or source views)");
    } else {
        const SHOWN: usize = 8;
        let all: Vec<&str> = names.take(SHOWN).collect();
        msg.push_str(&alloc::format!("; inputs are {}", quoted(&all)));
        if schema.fields().len() > SHOWN {
            msg.push_str(&alloc::format!(
                " and {} more",
                schema.fields().len() - SHOWN
            ));
        }
    }
    msg
}

/// "`a`", "`a` or `b`", "`a`, `b` or `c`".
fn quoted(names: &[&str]) -> String {
    let mut out = String::new();
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            out.push_str(if i + 1 == names.len() { " or " } else { ", " });
        }
        out.push('`');
        out.push_str(n);
        out.push('`');
    }
    out
}

/// Up to three of `candidates` within a small edit distance of `name`, closest first.
fn closest<'n>(name: &str, candidates: impl Iterator<Item = &'n str>) -> Vec<&'n str> {
    // A third of the name's length, at least 1 and at most 3 edits, or a case-only difference.
    let limit = (name.chars().count() / 3).clamp(1, 3);
    let lower = name.to_ascii_lowercase();
    let mut scored: Vec<(usize, usize, &str)> = candidates
        .enumerate()
        .filter_map(|(i, c)| {
            let d = edit_distance(&lower, &c.to_ascii_lowercase());
            let prefix = c.starts_with(name) || name.starts_with(c);
            (d <= limit || (prefix && c.len().min(name.len()) >= 3)).then_some((d, i, c))
        })
        .collect();
    scored.sort_unstable();
    scored.dedup_by(|a, b| a.2 == b.2);
    scored.into_iter().take(3).map(|(_, _, c)| c).collect()
}

/// Levenshtein distance over chars, with one row of memory.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("pulse", "puls"), 1);
        assert_eq!(edit_distance("héllo", "hello"), 1);
    }

    #[test]
    fn closest_names() {
        let names = ["pulse", "rectal_temperature", "respiratory_rate", "age"];
        assert_eq!(closest("puls", names.into_iter()), ["pulse"]);
        assert_eq!(
            closest("rectal_temp", names.into_iter()),
            ["rectal_temperature"]
        );
        assert_eq!(closest("Pulse", names.into_iter()), ["pulse"]);
        assert!(closest("zzz", names.into_iter()).is_empty());
    }

    #[test]
    fn unification() {
        assert_eq!(unify(Ty::Int, Ty::Int), Some(Ty::Int));
        assert_eq!(unify(Ty::Int, Ty::Float), Some(Ty::Float));
        assert_eq!(unify(Ty::Null, Ty::Str), Some(Ty::Str));
        assert_eq!(unify(Ty::Bool, Ty::Null), Some(Ty::Bool));
        assert_eq!(unify(Ty::Null, Ty::Null), Some(Ty::Null));
        assert_eq!(unify(Ty::Str, Ty::Int), None);
        assert_eq!(unify(Ty::Bool, Ty::Float), None);
    }

    #[test]
    fn type_lists_read_naturally() {
        assert_eq!(list(&[Ty::Int]), "int64");
        assert_eq!(list(&[Ty::Int, Ty::Str]), "int64 and string");
        assert_eq!(
            list(&[Ty::Int, Ty::Str, Ty::Float]),
            "int64, string and float64"
        );
    }
}
