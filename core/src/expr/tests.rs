//! End-to-end tests of the language: compile text, evaluate rows, check the
//! results and the error messages against the semantics in the module docs.

#![allow(clippy::unwrap_used)]

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::{MAX_DEPTH, Program, Schema};
use crate::Error;
use crate::value::{DType, Value};

use Value::{Bool, Float64 as F, Int64 as I, Null};

mod arrays;

/// The schema every test compiles against.
fn schema() -> Schema {
    Schema::new(vec![
        ("i".into(), DType::Int64),
        ("j".into(), DType::Int64),
        ("x".into(), DType::Float64),
        ("y".into(), DType::Float64),
        ("f32".into(), DType::Float32),
        ("s".into(), DType::String),
        ("t".into(), DType::String),
        ("b".into(), DType::Bool),
        ("c".into(), DType::Bool),
    ])
}

/// A row with every input null.
fn nulls() -> Vec<Value> {
    vec![Null; schema().fields().len()]
}

/// A row: i=7, j=-2, x=1.5, y=-0.25, f32=0.5, s="abc", t="abd", b=true, c=false.
fn row() -> Vec<Value> {
    vec![
        I(7),
        I(-2),
        F(1.5),
        F(-0.25),
        Value::Float32(0.5),
        Value::String("abc".into()),
        Value::String("abd".into()),
        Bool(true),
        Bool(false),
    ]
}

fn compile(text: &str) -> Program {
    match Program::compile(text, &schema()) {
        Ok(p) => p,
        Err(e) => panic!("`{text}` should compile: {e}"),
    }
}

/// Compiles `text` and evaluates it on `inputs`.
fn eval_on(text: &str, inputs: &[Value]) -> Value {
    match compile(text).eval(inputs) {
        Ok(v) => v,
        Err(e) => panic!("`{text}` should evaluate: {e}"),
    }
}

fn eval(text: &str) -> Value {
    eval_on(text, &row())
}

fn type_of(text: &str) -> DType {
    compile(text).output_type()
}

fn type_error(text: &str) -> String {
    match Program::compile(text, &schema()) {
        Err(Error::Type {
            source_text,
            message,
        }) => {
            assert_eq!(source_text, text);
            message
        }
        other => panic!("expected a type error for `{text}`, got {other:?}"),
    }
}

fn parse_error(text: &str) -> (usize, String) {
    match Program::compile(text, &schema()) {
        Err(Error::Parse {
            offset, message, ..
        }) => (offset, message),
        other => panic!("expected a parse error for `{text}`, got {other:?}"),
    }
}

#[track_caller]
fn assert_nan(v: Value) {
    assert!(matches!(v, F(x) if x.is_nan()), "expected NaN, got {v:?}");
}

#[test]
fn the_crate_doc_example() {
    let schema = Schema::new(vec![("rectal_temperature".into(), DType::Float64)]);
    let p = Program::compile("max(rectal_temperature - 38.5, 0)", &schema).unwrap();
    assert_eq!(p.output_type(), DType::Float64);
    assert_eq!(p.eval(&[F(39.25)]).unwrap(), F(0.75));
    assert_eq!(p.eval(&[F(37.0)]).unwrap(), F(0.0));
    assert_eq!(p.eval(&[Null]).unwrap(), Null);
}

#[test]
fn literals() {
    assert_eq!(eval("42"), I(42));
    assert_eq!(eval("1e-3"), F(0.001));
    assert_eq!(eval("2.5E+1"), F(25.0));
    assert_eq!(eval("true"), Bool(true));
    assert_eq!(eval("false"), Bool(false));
    assert_eq!(
        eval(r#""tab\tquote\"back\\\u{e9}""#),
        Value::String("tab\tquote\"back\\é".into())
    );
    assert_eq!(eval(r#""""#), Value::String(String::new()));
    assert_eq!(type_of("\"x\""), DType::String);
}

#[test]
fn precedence_is_observable_in_results() {
    assert_eq!(eval("1 + 2 * 3"), I(7));
    assert_eq!(eval("(1 + 2) * 3"), I(9));
    assert_eq!(eval("10 - 4 - 3"), I(3));
    assert_eq!(eval("8 / 4 / 2"), F(1.0));
    assert_eq!(eval("-2 * 3"), I(-6));
    assert_eq!(eval("- -3"), I(3));
    assert_eq!(eval("2 - -3"), I(5));
    assert_eq!(eval("1 + 2 == 3"), Bool(true));
    assert_eq!(eval("not 1 == 2"), Bool(true));
    assert_eq!(eval("true or false and false"), Bool(true));
    assert_eq!(eval("(true or false) and false"), Bool(false));
    assert_eq!(eval("not false and false"), Bool(false));
    assert_eq!(eval("not (false and false)"), Bool(true));
}

#[test]
fn inputs_are_read_by_name() {
    assert_eq!(eval("i"), I(7));
    assert_eq!(eval("j"), I(-2));
    assert_eq!(eval("x + y"), F(1.25));
    assert_eq!(eval("s"), Value::String("abc".into()));
    assert_eq!(eval("b"), Bool(true));
    // float32 inputs are widened to float64.
    assert_eq!(type_of("f32"), DType::Float64);
    assert_eq!(eval("f32"), F(0.5));
    assert_eq!(eval_on("f32", &nulls()), Null);
    // Function names are ordinary names when not called.
    let s = Schema::new(vec![("abs".into(), DType::Int64)]);
    let p = Program::compile("abs(abs)", &s).unwrap();
    assert_eq!(p.eval(&[I(-3)]).unwrap(), I(3));
}

#[test]
fn arithmetic_types() {
    assert_eq!(type_of("i + j"), DType::Int64);
    assert_eq!(type_of("i * j - 1"), DType::Int64);
    assert_eq!(type_of("i + x"), DType::Float64);
    assert_eq!(type_of("i + f32"), DType::Float64);
    assert_eq!(type_of("i / j"), DType::Float64);
    assert_eq!(type_of("-i"), DType::Int64);
    assert_eq!(type_of("-x"), DType::Float64);
    assert_eq!(type_of("null + 1"), DType::Int64);
    assert_eq!(type_of("null * 1.0"), DType::Float64);
    assert_eq!(type_of("null / null"), DType::Float64);
    assert_eq!(eval("i + j"), I(5));
    assert_eq!(eval("i * j"), I(-14));
    assert_eq!(eval("i - x"), F(5.5));
    assert_eq!(eval("i / j"), F(-3.5));
    assert_eq!(eval("7 / 2"), F(3.5));
    assert_eq!(eval("-x"), F(-1.5));
}

#[test]
fn int_overflow_gives_null() {
    assert_eq!(eval("9223372036854775807 + 1"), Null);
    assert_eq!(eval("-9223372036854775807 - 2"), Null);
    assert_eq!(eval("-9223372036854775807 - 1"), I(i64::MIN));
    assert_eq!(eval("4611686018427387904 * 2"), Null);
    assert_eq!(eval("4611686018427387904 * -2"), I(i64::MIN));
    assert_eq!(eval("-(-9223372036854775807 - 1)"), Null);
    assert_eq!(eval("abs(-9223372036854775807 - 1)"), Null);
    // Overflow in a sub-expression is a null like any other.
    assert_eq!(eval("coalesce(9223372036854775807 + 1, -1)"), I(-1));
    assert_eq!(
        eval("is_null(9223372036854775807 * 9223372036854775807)"),
        Bool(true)
    );
    // Division is float, so it cannot overflow.
    assert_eq!(
        eval("(-9223372036854775807 - 1) / -1"),
        F(9_223_372_036_854_775_808.0)
    );
}

#[test]
fn float_arithmetic_is_ieee() {
    assert_eq!(eval("1 / 0"), F(f64::INFINITY));
    assert_eq!(eval("-1 / 0"), F(f64::NEG_INFINITY));
    assert_nan(eval("0 / 0"));
    assert_nan(eval("0.0 * (1 / 0)"));
    assert_eq!(eval("1e308 * 10"), F(f64::INFINITY));
}

#[test]
fn math_functions() {
    assert_eq!(eval("abs(j)"), I(2));
    assert_eq!(eval("abs(y)"), F(0.25));
    assert_eq!(type_of("abs(i)"), DType::Int64);
    assert_eq!(eval("ln(1)"), F(0.0));
    assert_eq!(eval("ln(0)"), F(f64::NEG_INFINITY));
    assert_nan(eval("ln(-1)"));
    assert_eq!(eval("exp(0)"), F(1.0));
    let F(e) = eval("exp(1)") else {
        panic!("exp gives a float")
    };
    assert!((e - core::f64::consts::E).abs() < 1e-15, "{e}");
    assert_eq!(eval("sqrt(16)"), F(4.0));
    assert_nan(eval("sqrt(-1)"));
    assert_eq!(eval("pow(2, 10)"), F(1024.0));
    assert_eq!(eval("pow(x, 2)"), F(2.25));
    assert_eq!(eval("pow(4, 0.5)"), F(2.0));
    for f in ["ln", "exp", "sqrt"] {
        assert_eq!(type_of(&alloc::format!("{f}(i)")), DType::Float64);
    }
    assert_eq!(type_of("pow(i, j)"), DType::Float64);
}

#[test]
fn min_max_clamp() {
    assert_eq!(eval("min(i, j)"), I(-2));
    assert_eq!(eval("max(i, j)"), I(7));
    assert_eq!(eval("min(3, 1, 2)"), I(1));
    assert_eq!(eval("max(3, 1, 5, 2)"), I(5));
    assert_eq!(type_of("max(i, j, 3)"), DType::Int64);
    assert_eq!(type_of("max(i, x)"), DType::Float64);
    assert_eq!(eval("max(i, x)"), F(7.0));
    assert_eq!(eval("min(1, 0.5, 2)"), F(0.5));
    assert_eq!(eval("clamp(i, 0, 5)"), I(5));
    assert_eq!(eval("clamp(j, 0, 5)"), I(0));
    assert_eq!(eval("clamp(x, 0, 5)"), F(1.5));
    assert_eq!(type_of("clamp(i, 0, 5)"), DType::Int64);
    assert_eq!(type_of("clamp(i, 0.0, 5)"), DType::Float64);
    // lo > hi: hi wins.
    assert_eq!(eval("clamp(3, 10, 0)"), I(0));
    // NaN anywhere gives NaN.
    assert_nan(eval("max(0 / 0, 1)"));
    assert_nan(eval("min(1, 0 / 0)"));
    assert_nan(eval("clamp(0 / 0, 0, 1)"));
    assert_nan(eval("clamp(0.5, 0 / 0, 1)"));
    assert_eq!(eval("max(null, 1)"), Null);
    assert_eq!(eval("min(1, 2, null)"), Null);
    assert_eq!(eval("clamp(1, null, 2)"), Null);
}

#[test]
fn comparisons() {
    assert_eq!(eval("i > j"), Bool(true));
    assert_eq!(eval("i == 7"), Bool(true));
    assert_eq!(eval("i != 7"), Bool(false));
    assert_eq!(
        eval("i <= 7 and i >= 7 and not (i < 7) and not (i > 7)"),
        Bool(true)
    );
    // Mixed numbers compare as float64.
    assert_eq!(eval("i == 7.0"), Bool(true));
    assert_eq!(eval("x < 2"), Bool(true));
    assert_eq!(eval("f32 == 0.5"), Bool(true));
    // Strings compare byte-wise.
    assert_eq!(eval("s < t"), Bool(true));
    assert_eq!(eval("s == \"abc\""), Bool(true));
    assert_eq!(eval("\"Z\" < \"a\""), Bool(true));
    assert_eq!(eval("\"ab\" < \"abc\""), Bool(true));
    assert_eq!(eval("\"é\" > \"z\""), Bool(true));
    // Bools compare for equality.
    assert_eq!(eval("b == c"), Bool(false));
    assert_eq!(eval("b != c"), Bool(true));
    // NaN: every comparison is false except `!=`.
    for op in ["==", "<", "<=", ">", ">="] {
        assert_eq!(eval(&alloc::format!("0 / 0 {op} 1")), Bool(false), "{op}");
        assert_eq!(
            eval(&alloc::format!("(0 / 0) {op} (0 / 0)")),
            Bool(false),
            "{op}"
        );
    }
    assert_eq!(eval("0 / 0 != 0 / 0"), Bool(true));
    // Large ints compare exactly with ints.
    assert_eq!(eval("9007199254740993 == 9007199254740992"), Bool(false));
    assert_eq!(eval("9007199254740993 == 9007199254740992.0"), Bool(true));
}

#[test]
fn null_propagates() {
    let n = nulls();
    for text in [
        "i + 1",
        "1 - i",
        "i * j",
        "x / 2",
        "-x",
        "-i",
        "abs(i)",
        "ln(x)",
        "exp(x)",
        "sqrt(x)",
        "pow(x, 2)",
        "pow(2, x)",
        "min(i, 1)",
        "max(1, x)",
        "clamp(x, 0, 1)",
        "i == 1",
        "s != \"a\"",
        "s < t",
        "b == true",
        "not b",
        "null == null",
        "null + 1",
    ] {
        assert_eq!(eval_on(text, &n), Null, "{text}");
    }
    assert_eq!(eval("i + null"), Null);
    assert_eq!(eval("s == null"), Null);
}

#[test]
fn three_valued_logic() {
    let cases = [
        ("true and true", Bool(true)),
        ("true and false", Bool(false)),
        ("false and false", Bool(false)),
        ("false and null", Bool(false)),
        ("null and false", Bool(false)),
        ("true and null", Null),
        ("null and true", Null),
        ("null and null", Null),
        ("true or false", Bool(true)),
        ("false or false", Bool(false)),
        ("true or null", Bool(true)),
        ("null or true", Bool(true)),
        ("false or null", Null),
        ("null or false", Null),
        ("null or null", Null),
        ("not null", Null),
        ("not true", Bool(false)),
    ];
    for (text, want) in cases {
        assert_eq!(eval(text), want, "{text}");
        assert_eq!(type_of(text), DType::Bool, "{text}");
    }
    // The same through inputs.
    let mut r = row();
    r[7] = Null; // b
    assert_eq!(eval_on("b and c", &r), Bool(false));
    assert_eq!(eval_on("b or c", &r), Null);
    assert_eq!(eval_on("b or not c", &r), Bool(true));
}

#[test]
fn if_is_null_coalesce() {
    assert_eq!(eval("if(b, i, j)"), I(7));
    assert_eq!(eval("if(c, i, j)"), I(-2));
    assert_eq!(type_of("if(b, i, j)"), DType::Int64);
    assert_eq!(type_of("if(b, i, x)"), DType::Float64);
    // Mixed branches are float64 whichever branch is taken.
    assert_eq!(eval("if(b, i, x)"), F(7.0));
    assert_eq!(eval("if(b, s, \"no\")"), Value::String("abc".into()));
    assert_eq!(type_of("if(b, null, 1.5)"), DType::Float64);
    assert_eq!(eval("if(b, null, 1.5)"), Null);
    assert_eq!(eval("if(c, null, 1)"), I(1));
    assert_eq!(eval("if(i > 100, \"big\", s)"), Value::String("abc".into()));
    // A null condition gives null, even when both branches agree.
    assert_eq!(eval("if(null, 1, 1)"), Null);
    assert_eq!(eval_on("if(b, 1, 2)", &nulls()), Null);

    assert_eq!(eval("is_null(i)"), Bool(false));
    assert_eq!(eval_on("is_null(i)", &nulls()), Bool(true));
    assert_eq!(eval("is_null(null)"), Bool(true));
    assert_eq!(eval("is_null(s)"), Bool(false));
    assert_eq!(eval("is_null(1 / 0)"), Bool(false));

    assert_eq!(eval("coalesce(i, 0)"), I(7));
    assert_eq!(eval_on("coalesce(i, 0)", &nulls()), I(0));
    assert_eq!(eval_on("coalesce(i, j, x, 9)", &nulls()), F(9.0));
    assert_eq!(type_of("coalesce(i, j, x, 9)"), DType::Float64);
    assert_eq!(eval_on("coalesce(null, i, j)", &nulls()), Null);
    assert_eq!(eval("coalesce(null, null, j)"), I(-2));
    assert_eq!(eval("coalesce(i)"), I(7));
    assert_eq!(
        eval_on("coalesce(s, t, \"none\")", &nulls()),
        Value::String("none".into())
    );
    assert_eq!(eval_on("coalesce(b, false)", &nulls()), Bool(false));
    // A NaN is a value, not a null.
    assert_nan(eval("coalesce(0 / 0, 1)"));
}

#[test]
fn type_errors_name_the_operator_and_types() {
    let cases = [
        ("s + x", "`+` needs numbers, got string and float64"),
        ("1 - b", "`-` needs numbers, got int64 and bool"),
        ("s * 2", "`*` needs numbers, got string and int64"),
        ("b / 2", "`/` needs numbers, got bool and int64"),
        ("-s", "unary `-` needs a number, got string"),
        ("not i", "`not` needs a bool, got int64"),
        ("i and b", "`and` needs bools, got int64 and bool"),
        ("b or s", "`or` needs bools, got bool and string"),
        (
            "s == 1",
            "`==` cannot compare string with int64; both sides must be numbers, strings, bools or timestamps",
        ),
        (
            "x < t",
            "`<` cannot compare float64 with string; both sides must be numbers, strings, bools or timestamps",
        ),
        (
            "b < c",
            "`<` cannot order bools; compare numbers or strings, or use `==` / `!=`",
        ),
        (
            "b == 1",
            "`==` cannot compare bool with int64; both sides must be numbers, strings, bools or timestamps",
        ),
        ("abs(s)", "`abs` needs a number, got string"),
        ("ln(b)", "`ln` needs a number, got bool"),
        ("pow(x, s)", "`pow` needs numbers, got float64 and string"),
        (
            "max(i, s, x)",
            "`max` needs numbers, got int64, string and float64",
        ),
        (
            "clamp(i, 0, b)",
            "`clamp` needs numbers, got int64, int64 and bool",
        ),
        ("if(i, 1, 2)", "`if` needs a bool condition, got int64"),
        (
            "if(b, 1, s)",
            "`if` branches must have the same type (or both be numbers), got int64 and string",
        ),
        (
            "coalesce(s, 1)",
            "`coalesce` arguments must have the same type (or all be numbers), got string and int64",
        ),
        (
            "null + null",
            "the expression is always null, so it has no type; an on-demand field needs a value (use `coalesce` or `if` to give one)",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(type_error(text), want, "{text}");
    }
    assert!(type_error("null").contains("always null"));
    assert!(type_error("coalesce(null, null)").contains("always null"));
}

#[test]
fn arity_errors() {
    let cases = [
        (
            "clamp(x, 0)",
            "`clamp` takes 3 arguments (x, lo, hi), got 2",
        ),
        ("abs()", "`abs` takes 1 argument (x), got 0"),
        ("ln(1, 2)", "`ln` takes 1 argument (x), got 2"),
        ("pow(2)", "`pow` takes 2 arguments (x, y), got 1"),
        (
            "min(1)",
            "`min` takes at least 2 arguments (a, b, ...), got 1",
        ),
        (
            "max()",
            "`max` takes at least 2 arguments (a, b, ...), got 0",
        ),
        (
            "if(b, 1)",
            "`if` takes 3 arguments (condition, then, else), got 2",
        ),
        ("is_null(i, j)", "`is_null` takes 1 argument (x), got 2"),
        (
            "coalesce()",
            "`coalesce` takes at least 1 argument (a, b, ...), got 0",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(type_error(text), want, "{text}");
    }
}

#[test]
fn unknown_names_suggest_close_ones() {
    assert_eq!(type_error("ii + 1"), "unknown name `ii`; did you mean `i`?");
    assert_eq!(type_error("f33"), "unknown name `f33`; did you mean `f32`?");
    assert_eq!(
        type_error("zzzz"),
        "unknown name `zzzz`; inputs are `i`, `j`, `x`, `y`, `f32`, `s`, `t` or `b` and 1 more"
    );
    assert_eq!(
        type_error("sqrt + 1"),
        "unknown name `sqrt`; `sqrt` is a function, call it like `sqrt(...)`"
    );
    assert_eq!(
        type_error("sqr(x)"),
        "unknown function `sqr`; did you mean `sqrt`? (functions: abs, ln, exp, sqrt, pow, min, max, clamp, if, is_null, coalesce, len, sum, mean, l2_norm, dot, cosine)"
    );
    assert!(type_error("log(x)").starts_with("unknown function `log`; did you mean `ln`?"));
    assert!(type_error("isnull(x)").contains("`is_null`"));
    assert!(type_error("ifnull(x, 1)").contains("did you mean `coalesce`?"));
    assert!(type_error("greatest(x, 1)").contains("did you mean `max`?"));
    let empty = Program::compile("a", &Schema::default()).unwrap_err();
    assert!(
        empty.to_string().contains("this expression has no inputs"),
        "{empty}"
    );
    let horse = Schema::new(vec![
        ("rectal_temperature".into(), DType::Float64),
        ("respiratory_rate".into(), DType::Float64),
        ("pulse".into(), DType::Int64),
    ]);
    let err = Program::compile("Pulse + rectal_temp", &horse).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expression `Pulse + rectal_temp`: unknown name `Pulse`; did you mean `pulse`?"
    );
    // A repeated name resolves to its first field.
    let dup = Schema::new(vec![
        ("a".into(), DType::Int64),
        ("a".into(), DType::String),
    ]);
    assert_eq!(
        Program::compile("a", &dup).unwrap().output_type(),
        DType::Int64
    );
}

#[test]
fn parse_errors_carry_offsets() {
    assert_eq!(parse_error("x +* 2").0, 3);
    assert_eq!(parse_error("max(x, 1").0, 8);
    assert_eq!(parse_error("s == \"abc").0, 5);
    assert_eq!(parse_error("x = 1").0, 2);
    assert_eq!(parse_error("1 < i < 3").0, 6);
    let err = Program::compile("x +", &schema()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expression `x +`: expected a value (a number, a string, a name, a call or `(`), found the end of the expression (at byte 3)"
    );
}

#[test]
fn hostile_input_is_bounded() {
    let deep = alloc::format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
    let (offset, message) = parse_error(&deep);
    assert_eq!(offset, super::MAX_LEN);
    assert!(message.contains("limit is 4096"), "{message}");
    let nested = alloc::format!(
        "{}x{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    let (offset, message) = parse_error(&nested);
    assert_eq!(offset, MAX_DEPTH);
    assert!(message.contains("deeper than 64"), "{message}");
    // Just inside the limits works, including a program deeper than the inline stack.
    let right_nested = alloc::format!("{}i{}", "(i + ".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(eval(&right_nested), I(7 * 65));
    let long_sum = vec!["i"; 1000].join("+");
    assert_eq!(eval(&long_sum), I(7000));
    let many_args = alloc::format!("coalesce({}, 1)", vec!["null"; 500].join(","));
    assert_eq!(eval(&many_args), I(1));
}

#[test]
fn eval_checks_its_inputs() {
    let p = compile("i + x");
    let err = p.eval(&[I(1)]).unwrap_err();
    assert_eq!(
        err,
        Error::Eval(
            "`i + x` reads input 2, but the row has only 1 value(s); pass one value per schema field"
                .into()
        )
    );
    let mut r = row();
    r[2] = I(1); // x is float64
    assert_eq!(
        p.eval(&r).unwrap_err(),
        Error::Eval("`i + x`: input 2 must be float64 or null, got a int64 value".into())
    );
    r[2] = Value::Float32(1.0);
    assert!(matches!(p.eval(&r), Err(Error::Eval(_))));
    // Inputs the program does not read are not looked at.
    assert_eq!(compile("i").eval(&[I(1)]).unwrap(), I(1));
    // Every input named is checked, on both branches of an `if`.
    let mut r = row();
    r[5] = I(3); // s is a string
    assert!(compile("if(true, \"a\", s)").eval(&r).is_err());
}

#[test]
fn inputs_lists_what_is_read() {
    assert_eq!(compile("1 + 2").inputs(), Vec::<usize>::new());
    assert_eq!(compile("if(b, x, y + x)").inputs(), [2, 3, 7]);
}

#[test]
fn compiling_is_deterministic_and_round_trips() {
    let texts = [
        "max(x - 38.5, 0)",
        "if(s == \"a\\n\", coalesce(i, j, 3), min(i, j, 4))",
        "not b or c and x / 2 >= f32",
        "clamp(pow(x, 2), -1e-3, 1e300)",
    ];
    for text in texts {
        let a = compile(text);
        let b = compile(text);
        assert_eq!(a, b);
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&a, config).unwrap();
        assert_eq!(bytes, bincode::serde::encode_to_vec(&b, config).unwrap());
        let (back, used): (Program, usize) =
            bincode::serde::decode_from_slice(&bytes, config).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(back, a);
        assert_eq!(back.eval(&row()).unwrap(), a.eval(&row()).unwrap());
        assert_eq!(back.source_text(), text);
    }
    // Compact: the ops of a small formula take a few bytes each.
    let p = compile("max(x - 38.5, 0)");
    let bytes = bincode::serde::encode_to_vec(&p, bincode::config::standard()).unwrap();
    assert!(
        bytes.len() < p.source_text().len() + 30,
        "{} bytes",
        bytes.len()
    );
}
