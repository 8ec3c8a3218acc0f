//! The types added for Feast: int32 and unix_timestamp inputs, array inputs
//! with `len`, `a[i]` and the reductions, and the types expressions refuse.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::Error;
use crate::expr::{Program, Schema};
use crate::time::Timestamp;
use crate::value::{Array, DType, ElemType, Value};

use Value::{Bool, Float64 as F, Int64 as I, Null};

fn schema() -> Schema {
    let arr = |e| DType::Array(e);
    Schema::new(vec![
        ("v".into(), arr(ElemType::Float32)),
        ("w".into(), arr(ElemType::Float64)),
        ("n".into(), arr(ElemType::Int64)),
        ("m".into(), arr(ElemType::Int32)),
        ("flags".into(), arr(ElemType::Bool)),
        ("names".into(), arr(ElemType::String)),
        ("times".into(), arr(ElemType::UnixTimestamp)),
        ("blobs".into(), arr(ElemType::Bytes)),
        ("e".into(), arr(ElemType::Float64)),
        ("i".into(), DType::Int64),
        ("k".into(), DType::Int32),
        ("ts".into(), DType::UnixTimestamp),
        ("ts2".into(), DType::UnixTimestamp),
        ("x".into(), DType::Float64),
        ("b".into(), DType::Bool),
        ("raw".into(), DType::Bytes),
        ("doc".into(), DType::Json),
        ("z".into(), arr(ElemType::Float64)),
    ])
}

fn t(micros: i64) -> Value {
    Value::Timestamp(Timestamp(micros))
}

/// v=[3, 4] (float32), w=[1, 2], n=[1, -2, 3], m=[7], flags=[true, false],
/// names=["a", "bc"], times=[5, 6], blobs=[[1]], e=[], i=1, k=-5, ts=10,
/// ts2=20, x=0.5, b=true, raw=[9], doc={}, z=[0, 0].
fn row() -> Vec<Value> {
    vec![
        Value::Array(Array::Float32(vec![3.0, 4.0])),
        Value::Array(Array::Float64(vec![1.0, 2.0])),
        Value::Array(Array::Int64(vec![1, -2, 3])),
        Value::Array(Array::Int32(vec![7])),
        Value::Array(Array::Bool(vec![true, false])),
        Value::Array(Array::String(vec!["a".into(), "bc".into()])),
        Value::Array(Array::Timestamp(vec![Timestamp(5), Timestamp(6)])),
        Value::Array(Array::Bytes(vec![vec![1]])),
        Value::Array(Array::Float64(vec![])),
        I(1),
        Value::Int32(-5),
        t(10),
        t(20),
        F(0.5),
        Bool(true),
        Value::Bytes(vec![9]),
        Value::Json("{}".into()),
        Value::Array(Array::Float64(vec![0.0, 0.0])),
    ]
}

fn nulls() -> Vec<Value> {
    vec![Null; schema().fields().len()]
}

fn compile(text: &str) -> Program {
    Program::compile(text, &schema()).unwrap_or_else(|e| panic!("`{text}` should compile: {e}"))
}

fn eval_on(text: &str, inputs: &[Value]) -> Value {
    compile(text)
        .eval(inputs)
        .unwrap_or_else(|e| panic!("`{text}` should evaluate: {e}"))
}

fn eval(text: &str) -> Value {
    eval_on(text, &row())
}

/// Evaluates with input `name` replaced by `value`.
fn eval_with(text: &str, name: &str, value: Value) -> Value {
    let mut r = row();
    r[schema().index_of(name).unwrap()] = value;
    eval_on(text, &r)
}

fn type_of(text: &str) -> DType {
    compile(text).output_type()
}

fn type_error(text: &str) -> String {
    match Program::compile(text, &schema()) {
        Err(Error::Type { message, .. }) => message,
        other => panic!("expected a type error for `{text}`, got {other:?}"),
    }
}

#[track_caller]
fn assert_nan(v: Value) {
    assert!(matches!(v, F(x) if x.is_nan()), "expected NaN, got {v:?}");
}

fn f64s(v: &[f64]) -> Value {
    Value::Array(Array::Float64(v.to_vec()))
}

#[test]
fn int32_inputs_read_as_int64() {
    assert_eq!(type_of("k"), DType::Int64);
    assert_eq!(eval("k"), I(-5));
    assert_eq!(eval("k * 2 + i"), I(-9));
    assert_eq!(eval_on("k", &nulls()), Null);
    // int32 extremes widen exactly, so their product cannot overflow int64.
    let big = Value::Int32(i32::MIN);
    assert_eq!(eval_with("k * k", "k", big), I(1 << 62));
}

#[test]
fn timestamps_are_compared_chosen_and_returned() {
    assert_eq!(type_of("ts"), DType::UnixTimestamp);
    assert_eq!(eval("ts"), t(10));
    assert_eq!(eval("ts < ts2"), Bool(true));
    assert_eq!(eval("ts >= ts2"), Bool(false));
    assert_eq!(eval("ts == ts"), Bool(true));
    assert_eq!(eval("ts != ts2"), Bool(true));
    assert_eq!(eval("ts == null"), Null);
    assert_eq!(eval("if(ts > ts2, ts, ts2)"), t(20));
    assert_eq!(type_of("coalesce(ts, ts2)"), DType::UnixTimestamp);
    assert_eq!(eval_with("coalesce(ts, ts2)", "ts", Null), t(20));
    assert_eq!(eval_on("coalesce(ts, ts2)", &nulls()), Null);
    assert_eq!(eval("is_null(ts)"), Bool(false));
    assert_eq!(eval_on("is_null(ts)", &nulls()), Bool(true));
    // Order is by microseconds, before the epoch included.
    assert_eq!(eval_with("ts < ts2", "ts", t(-1)), Bool(true));
    assert_eq!(eval_with("ts < ts2", "ts", t(i64::MIN)), Bool(true));
    assert_eq!(eval("times[1]"), t(6));
    assert_eq!(eval("times[0] < ts"), Bool(true));
}

#[test]
fn timestamps_are_not_numbers() {
    let cases = [
        ("ts + 1", "`+` needs numbers, got unix_timestamp and int64"),
        (
            "ts2 - ts",
            "`-` needs numbers, got unix_timestamp and unix_timestamp",
        ),
        ("-ts", "unary `-` needs a number, got unix_timestamp"),
        ("abs(ts)", "`abs` needs a number, got unix_timestamp"),
        (
            "max(ts, ts2)",
            "`max` needs numbers, got unix_timestamp and unix_timestamp",
        ),
        (
            "ts < 5",
            "`<` cannot compare unix_timestamp with int64; both sides must be numbers, strings, bools or timestamps",
        ),
        (
            "coalesce(ts, 0)",
            "`coalesce` arguments must have the same type (or all be numbers), got unix_timestamp and int64",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(type_error(text), want, "{text}");
    }
}

#[test]
fn bytes_and_json_inputs_are_refused_by_name() {
    assert_eq!(
        type_error("is_null(raw)"),
        "input `raw` is bytes, which expressions do not read"
    );
    assert_eq!(
        type_error("coalesce(doc, doc)"),
        "input `doc` is json, which expressions do not read"
    );
}

#[test]
fn len_counts_elements_of_any_array() {
    assert_eq!(type_of("len(v)"), DType::Int64);
    assert_eq!(eval("len(v)"), I(2));
    assert_eq!(eval("len(n)"), I(3));
    assert_eq!(eval("len(names)"), I(2));
    assert_eq!(eval("len(blobs)"), I(1));
    assert_eq!(eval("len(times) + len(flags)"), I(4));
    assert_eq!(eval("len(e)"), I(0));
    assert_eq!(eval_on("len(v)", &nulls()), Null);
    assert_eq!(eval_on("coalesce(len(v), -1)", &nulls()), I(-1));
    assert_eq!(eval("len(null)"), Null);
}

#[test]
fn element_access_reads_the_element_type() {
    assert_eq!(type_of("v[0]"), DType::Float64);
    assert_eq!(eval("v[1]"), F(4.0));
    // float32 widens exactly.
    let third = Value::Array(Array::Float32(vec![0.1]));
    assert_eq!(eval_with("v[0]", "v", third), F(f64::from(0.1f32)));
    assert_eq!(type_of("m[0]"), DType::Int64);
    assert_eq!(eval("m[0]"), I(7));
    assert_eq!(eval("n[i]"), I(-2));
    assert_eq!(eval("n[i + 1] * 2"), I(6));
    assert_eq!(eval("-n[2]"), I(-3));
    assert_eq!(type_of("flags[0]"), DType::Bool);
    assert_eq!(eval("flags[1]"), Bool(false));
    assert_eq!(eval("names[1]"), Value::String("bc".into()));
    assert_eq!(eval("names[0] < names[1]"), Bool(true));
    assert_eq!(type_of("times[0]"), DType::UnixTimestamp);
    assert_eq!(eval("n[len(n) - 1]"), I(3));
    assert_eq!(eval("w[n[0]]"), F(2.0));
}

#[test]
fn element_access_out_of_range_is_null() {
    assert_eq!(eval("v[2]"), Null);
    assert_eq!(eval("v[len(v)]"), Null);
    assert_eq!(eval("v[-1]"), Null);
    assert_eq!(eval("v[-9223372036854775807 - 1]"), Null);
    assert_eq!(eval("v[9223372036854775807]"), Null);
    assert_eq!(eval("e[0]"), Null);
    assert_eq!(eval("names[5]"), Null);
    assert_eq!(eval_on("v[0]", &nulls()), Null);
    assert_eq!(eval("v[null]"), Null);
    assert_eq!(eval_with("v[i]", "i", Null), Null);
    assert_eq!(eval("coalesce(v[5], -1)"), F(-1.0));
    assert_eq!(type_of("coalesce(null[0], 1)"), DType::Int64);
}

#[test]
fn sums_and_means() {
    assert_eq!(type_of("sum(n)"), DType::Float64);
    assert_eq!(eval("sum(v)"), F(7.0));
    assert_eq!(eval("sum(n)"), F(2.0));
    assert_eq!(eval("sum(m)"), F(7.0));
    assert_eq!(eval("mean(n)"), F(2.0 / 3.0));
    assert_eq!(eval("mean(w)"), F(1.5));
    // The empty sum is 0; the mean of nothing has no value.
    assert_eq!(eval("sum(e)"), F(0.0));
    assert_eq!(eval("mean(e)"), Null);
    assert_eq!(eval_on("sum(v)", &nulls()), Null);
    assert_eq!(eval_on("mean(v)", &nulls()), Null);
    assert_nan(eval_with("sum(w)", "w", f64s(&[1.0, f64::NAN])));
    assert_nan(eval_with("mean(w)", "w", f64s(&[f64::NAN])));
    assert_nan(eval_with(
        "sum(w)",
        "w",
        f64s(&[f64::INFINITY, f64::NEG_INFINITY]),
    ));
    assert_eq!(
        eval_with("sum(w)", "w", f64s(&[f64::MAX, f64::MAX])),
        F(f64::INFINITY)
    );
    // int64 elements are summed as floats: no overflow, rounding instead.
    let huge = Value::Array(Array::Int64(vec![i64::MAX, i64::MAX]));
    assert_eq!(
        eval_with("sum(n)", "n", huge),
        F(2.0 * 9_223_372_036_854_775_808.0)
    );
}

#[test]
fn norms_and_dot_products() {
    assert_eq!(eval("l2_norm(v)"), F(5.0));
    assert_eq!(eval("l2_norm(e)"), F(0.0));
    assert_eq!(eval("l2_norm(n)"), F(libm::sqrt(14.0)));
    assert_eq!(eval_on("l2_norm(v)", &nulls()), Null);
    assert_nan(eval_with("l2_norm(w)", "w", f64s(&[f64::NAN, 1.0])));
    assert_eq!(eval("dot(v, w)"), F(11.0));
    assert_eq!(eval("dot(m, m)"), F(49.0));
    assert_eq!(eval("dot(e, e)"), F(0.0));
    // Different lengths have no dot product.
    assert_eq!(eval("dot(v, n)"), Null);
    assert_eq!(eval("dot(v, e)"), Null);
    assert_eq!(eval_with("dot(v, w)", "w", Null), Null);
    assert_nan(eval_with("dot(v, w)", "w", f64s(&[f64::NAN, 0.0])));
}

#[test]
fn cosine_similarity() {
    assert_eq!(type_of("cosine(v, w)"), DType::Float64);
    assert_eq!(eval("cosine(v, w)"), F(11.0 / (5.0 * libm::sqrt(5.0))));
    assert_eq!(
        eval("cosine(w, w)"),
        F(5.0 / (libm::sqrt(5.0) * libm::sqrt(5.0)))
    );
    let opposite = f64s(&[-3.0, -4.0]);
    assert_eq!(eval_with("cosine(v, w)", "w", opposite), F(-1.0));
    assert_eq!(eval("cosine(v, n)"), Null);
    // A zero or empty vector has no direction: null, not 0/0.
    assert_eq!(eval("cosine(v, z)"), Null);
    assert_eq!(eval("cosine(z, z)"), Null);
    assert_eq!(eval("cosine(e, e)"), Null);
    // So do norms whose product underflows.
    let tiny = f64s(&[1e-170, 0.0]);
    assert_eq!(eval_with("cosine(w, w)", "w", tiny), Null);
    assert_eq!(eval_on("cosine(v, w)", &nulls()), Null);
    assert_nan(eval_with("cosine(v, w)", "w", f64s(&[f64::NAN, 1.0])));
    assert_nan(eval_with("cosine(v, w)", "w", f64s(&[f64::INFINITY, 1.0])));
}

#[test]
fn reductions_are_exactly_their_definitions() {
    let w = f64s(&[0.1, 0.7, -1e-3, 3.3]);
    let z = f64s(&[1.0 / 3.0, 2.0, 1e5, 0.25]);
    let mut r = row();
    r[1] = w;
    r[17] = z;
    let same = |a: &str, b: &str| {
        let (x, y) = (eval_on(a, &r), eval_on(b, &r));
        assert!(
            matches!((&x, &y), (F(p), F(q)) if p.to_bits() == q.to_bits()),
            "{a} = {x:?} but {b} = {y:?}"
        );
    };
    same("sum(w)", "w[0] + w[1] + w[2] + w[3]");
    same("mean(w)", "(w[0] + w[1] + w[2] + w[3]) / 4");
    same(
        "dot(w, z)",
        "w[0] * z[0] + w[1] * z[1] + w[2] * z[2] + w[3] * z[3]",
    );
    same("l2_norm(w)", "sqrt(dot(w, w))");
    same("cosine(w, z)", "dot(w, z) / (l2_norm(w) * l2_norm(z))");
}

#[test]
fn arrays_pass_through_if_and_coalesce() {
    assert_eq!(eval("len(if(b, n, null))"), I(3));
    assert_eq!(eval("if(b, w, e)[1]"), F(2.0));
    assert_eq!(eval("if(not b, w, e)[1]"), Null);
    assert_eq!(eval_with("sum(coalesce(w, e))", "w", Null), F(0.0));
    assert_eq!(eval("is_null(v)"), Bool(false));
    assert_eq!(eval_on("is_null(v)", &nulls()), Bool(true));
    assert_eq!(eval("is_null(blobs)"), Bool(false));
}

#[test]
fn array_type_errors_name_the_function_and_types() {
    let cases = [
        (
            "dot(v, x)",
            "`dot` needs two numeric arrays (elements int32, int64, float32 or float64), got array<float32> and float64",
        ),
        (
            "cosine(names, v)",
            "`cosine` needs two numeric arrays (elements int32, int64, float32 or float64), got array<string> and array<float32>",
        ),
        (
            "sum(flags)",
            "`sum` needs a numeric array (elements int32, int64, float32 or float64), got array<bool>",
        ),
        (
            "mean(times)",
            "`mean` needs a numeric array (elements int32, int64, float32 or float64), got array<unix_timestamp>",
        ),
        (
            "l2_norm(x)",
            "`l2_norm` needs a numeric array (elements int32, int64, float32 or float64), got float64",
        ),
        ("len(x)", "`len` needs an array, got float64"),
        ("len(ts)", "`len` needs an array, got unix_timestamp"),
        (
            "x[0]",
            "`[]` takes an element of an array, but this is float64",
        ),
        (
            "v[0][0]",
            "`[]` takes an element of an array, but this is float64",
        ),
        ("v[x]", "an array index must be an int64, got float64"),
        (
            "v[ts]",
            "an array index must be an int64, got unix_timestamp",
        ),
        (
            "blobs[0]",
            "the elements of array<bytes> cannot be read by expressions (only `len` and `is_null` read the array)",
        ),
        (
            "v == v",
            "`==` cannot compare arrays (array<float32> and array<float32>); compare their elements `a[i]` or reductions such as `len(a)`",
        ),
        ("v + 1", "`+` needs numbers, got array<float32> and int64"),
        (
            "coalesce(v, w)",
            "`coalesce` arguments must have the same type (or all be numbers), got array<float32> and array<float64>",
        ),
        ("dot(v)", "`dot` takes 2 arguments (a, b), got 1"),
        ("len(v, w)", "`len` takes 1 argument (a), got 2"),
    ];
    for (text, want) in cases {
        assert_eq!(type_error(text), want, "{text}");
    }
    assert!(type_error("length(v)").contains("did you mean `len`?"));
    assert!(type_error("avg(v)").contains("did you mean `mean`?"));
    assert!(type_error("cosine_similarity(v, w)").contains("did you mean `cosine`?"));
}

#[test]
fn a_program_never_returns_an_array() {
    let want = "the result is array<float32>, but an expression computes one scalar value; reduce the array with `len`, `sum`, `mean`, `l2_norm`, `dot` or `cosine`, or take an element with `a[i]`";
    assert_eq!(type_error("v"), want);
    assert_eq!(type_error("coalesce(v, null)"), want);
    assert!(type_error("if(b, names, names)").starts_with("the result is array<string>"));
}

#[test]
fn array_inputs_are_checked_at_eval() {
    let p = compile("len(v)");
    let mut r = row();
    r[0] = f64s(&[1.0]); // v is array<float32>
    assert_eq!(
        p.eval(&r).unwrap_err(),
        Error::Eval(
            "`len(v)`: input 0 must be array<float32> or null, got a array<float64> value".into()
        )
    );
    r[0] = F(1.0);
    assert!(p.eval(&r).is_err());
    let mut r = row();
    r[11] = I(10); // ts is a unix_timestamp
    assert!(compile("is_null(ts)").eval(&r).is_err());
}

#[test]
fn array_programs_round_trip() {
    for text in [
        "cosine(v, w) + dot(n, n)",
        "if(ts < times[0], mean(n), l2_norm(v) - sum(m))",
        "coalesce(names[i], \"none\")",
        "len(blobs) + k",
    ] {
        let p = compile(text);
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&p, config).unwrap();
        let (back, _): (Program, usize) =
            bincode::serde::decode_from_slice(&bytes, config).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.eval(&row()).unwrap(), p.eval(&row()).unwrap());
        assert_eq!(compile(text), p);
    }
    assert_eq!(compile("dot(v, w) + k").inputs(), [0, 1, 10]);
}

#[test]
fn new_ops_are_appended_to_the_stored_form() {
    use crate::expr::op::{CmpOn, CmpOp, Op};
    // bincode writes a variant as its position: the ops that existed before
    // arrays keep theirs (so old registry versions decode), the new ones follow.
    let tag = |op: &Op| bincode::serde::encode_to_vec(op, bincode::config::standard()).unwrap()[0];
    let coalesce = Op::Coalesce {
        n: 1,
        to_float: false,
    };
    assert_eq!(tag(&Op::Null), 0);
    assert_eq!(tag(&coalesce), 25);
    let appended = [
        Op::Len,
        Op::Index,
        Op::Sum,
        Op::Mean,
        Op::L2Norm,
        Op::Dot,
        Op::Cosine,
    ];
    let tags: Vec<u8> = appended.iter().map(tag).collect();
    assert_eq!(tags, [26, 27, 28, 29, 30, 31, 32]);
    let cmp =
        bincode::serde::encode_to_vec(Op::Cmp(CmpOp::Eq, CmpOn::Time), bincode::config::standard())
            .unwrap();
    assert_eq!(cmp, [13, 0, 4]);
}
