//! Unit tests for the fitted pipeline: stages, names, serving and fit errors.

use super::*;
use alloc::string::ToString;
use alloc::vec;

fn nb() -> PipelineParams {
    PipelineParams::new(EstimatorSpec::GaussianNb {
        var_smoothing: 1e-9,
    })
}

fn data() -> (Vec<ColumnMeta>, Vec<Vec<Value>>, Vec<Value>) {
    let columns = vec![
        ColumnMeta::new("a", DType::Float64),
        ColumnMeta::new("b", DType::Int64),
        ColumnMeta::new("c", DType::String),
    ];
    let rows = vec![
        vec![
            Value::Float64(1.0),
            Value::Int64(3),
            Value::String("x".into()),
        ],
        vec![Value::Null, Value::Int64(4), Value::String("y".into())],
        vec![Value::Float64(2.0), Value::Int64(9), Value::Null],
        vec![
            Value::Float64(6.0),
            Value::Int64(8),
            Value::String("y".into()),
        ],
        vec![Value::Float64(7.0), Value::Null, Value::String("x".into())],
    ];
    let y = [1, 1, 2, 2, 2].map(Value::Int64).to_vec();
    (columns, rows, y)
}

#[test]
fn stages_and_names() {
    let (columns, rows, y) = data();
    let params = nb()
        .encode(Encoding::OneHot)
        .scale(Scaling::MinMax)
        .select_k_best(Some(3));
    let p = fit_pipeline(&params, &columns, &rows, &y).unwrap();
    assert_eq!(p.input_names(), vec!["a", "b", "c"]);
    assert_eq!(
        p.transforms().prepared_names(),
        vec!["a", "b", "c=x", "c=y"]
    );
    assert_eq!(p.selected_names().len(), 3);
    let trace = p
        .transform_row(&[Value::Null, Value::Int64(5), Value::String("new".into())])
        .unwrap();
    assert!(trace.prepared[0].is_nan());
    assert_eq!(
        &trace.prepared[2..],
        &[0.0, 0.0],
        "unknown category is all zeros"
    );
    assert_eq!(trace.imputed[0], 4.0, "mean of 1, 2, 6, 7");
    assert!((trace.scaled[0] - 0.5).abs() < 1e-15, "(4 - 1) / 6");
    assert_eq!(trace.selected.len(), 3);
    let Prediction::Classes { probabilities, .. } = p.predict(&vec![Value::Null; 3]).unwrap()
    else {
        panic!("a classifier")
    };
    assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
}

#[test]
fn ordinal_unknown_is_imputed() {
    let (columns, rows, y) = data();
    let p = fit_pipeline(
        &nb().impute(Some(Imputation::MostFrequent)),
        &columns,
        &rows,
        &y,
    )
    .unwrap();
    let trace = p
        .transform_row(&[
            Value::Float64(1.0),
            Value::Bool(true),
            Value::String("zzz".into()),
        ])
        .unwrap();
    assert_eq!(trace.prepared[1], 1.0, "bools are 0/1");
    assert!(trace.prepared[2].is_nan());
    assert_eq!(
        trace.imputed[2], 0.0,
        "x and y tie twice each: the smaller code wins"
    );
}

#[test]
fn serving_errors_name_the_feature() {
    let (columns, rows, y) = data();
    let p = fit_pipeline(&nb(), &columns, &rows, &y).unwrap();
    let err = p
        .predict(&[Value::String("hot".into()), Value::Null, Value::Null])
        .unwrap_err();
    assert!(
        matches!(&err, Error::Request(m) if m.contains("`a`")),
        "{err}"
    );
    let err = p
        .predict(&[Value::Null, Value::Null, Value::Int64(1)])
        .unwrap_err();
    assert!(
        matches!(&err, Error::Request(m) if m.contains("`c`")),
        "{err}"
    );
    let err = p.predict(&[Value::Float64(f64::INFINITY), Value::Null, Value::Null]);
    assert!(matches!(err, Err(Error::Request(_))));
    assert!(matches!(
        p.predict(&[]),
        Err(Error::Shape {
            expected: 3,
            actual: 0,
            ..
        })
    ));
    // Without an imputer a missing value is refused, by name.
    let full: Vec<Vec<Value>> = rows.iter().take(2).cloned().collect();
    let strict = fit_pipeline(&nb().impute(None), &columns, &full, &y[..2]);
    assert!(strict.is_err(), "row 1 has a null and there is no imputer");
}

#[test]
fn fit_errors_are_clear() {
    let (columns, rows, y) = data();
    let e = fit_pipeline(&nb(), &columns, &[], &[]).unwrap_err();
    assert!(format!("{e}").contains("empty"), "{e}");
    let e = fit_pipeline(&nb(), &columns, &rows, &vec![Value::Int64(1); 5]).unwrap_err();
    assert!(format!("{e}").contains("single class"), "{e}");
    let e = fit_pipeline(&nb().select_k_best(Some(4)), &columns, &rows, &y).unwrap_err();
    assert!(format!("{e}").contains("k = 4"), "{e}");
    let mut nulls = rows.clone();
    for r in &mut nulls {
        r[1] = Value::Null;
    }
    let e = fit_pipeline(&nb(), &columns, &nulls, &y).unwrap_err();
    assert!(format!("{e}").contains("`b`"), "{e}");
    let mut text = rows.clone();
    text[3][0] = Value::String("six".into());
    let e = fit_pipeline(&nb(), &columns, &text, &y).unwrap_err();
    assert!(
        format!("{e}").contains("training row 3") && format!("{e}").contains("`a`"),
        "{e}"
    );
    let mut inf = rows.clone();
    inf[0][0] = Value::Float64(f64::NEG_INFINITY);
    assert!(fit_pipeline(&nb(), &columns, &inf, &y).is_err());
    let lr = PipelineParams::new(EstimatorSpec::LinearRegression);
    let e = fit_pipeline(&lr, &columns, &rows, &y).unwrap_err();
    assert!(format!("{e}").contains("host"), "{e}");
    assert!(fit_transforms(&lr, &columns, &rows, &y).is_ok());
    assert!(fit_transforms(&lr.select_k_best(Some(1)), &columns, &rows, &y).is_err());
}

#[test]
fn mismatched_parts_are_rejected() {
    let (columns, rows, y) = data();
    let p = fit_pipeline(&nb(), &columns, &rows, &y).unwrap();
    let parts = PipelineParts::from(p.clone());
    let mut stages = TransformParts::from(parts.transforms.clone());
    stages.inputs.pop();
    assert!(
        FittedTransforms::from_parts(stages).is_err(),
        "imputer is wider"
    );
    let narrow =
        Estimator::LinearRegression(crate::model::LinearRegression::new(vec![1.0], 0.0).unwrap());
    assert!(
        parts.transforms.with_estimator(narrow).is_err(),
        "estimator is narrower"
    );
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(&p, config).unwrap();
    let (back, _): (FittedPipeline, _) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
    assert_eq!(back, p);
}

/// A numeric array is one model column per element, in order; a null array is
/// missing in each; training with two lengths, or serving another length, is
/// refused naming the feature.
#[test]
fn arrays_flatten_into_one_column_per_element() {
    use crate::value::{Array, ElemType};
    let columns = [ColumnMeta::new("emb", DType::Array(ElemType::Float32))];
    let emb = |a: f32, b: f32| vec![Value::Array(Array::Float32(vec![a, b]))];
    let rows = vec![
        emb(0.0, 1.0),
        emb(0.2, 1.1),
        emb(5.0, -1.0),
        emb(5.2, -1.2),
        vec![Value::Null],
    ];
    let y = [1, 1, 2, 2, 1].map(Value::Int64).to_vec();
    let params = nb().impute(Some(Imputation::Mean));
    let p = fit_pipeline(&params, &columns, &rows, &y).unwrap();
    assert_eq!(p.transforms().prepared_names(), ["emb[0]", "emb[1]"]);
    assert_eq!(
        p.predict(&emb(5.1, -1.1)).unwrap().label_value(),
        Some(&Value::Int64(2))
    );
    assert!(p.predict(&[Value::Null]).is_ok(), "imputed");
    let three = [Value::Array(Array::Float32(vec![1.0, 2.0, 3.0]))];
    let err = p.predict(&three).unwrap_err().to_string();
    assert!(
        err.contains("`emb` is an array of 2 numbers") && err.contains("got 3"),
        "{err}"
    );
    let mut ragged = rows.clone();
    ragged[1] = vec![Value::Array(Array::Float32(vec![1.0]))];
    let err = fit_pipeline(&params, &columns, &ragged, &y)
        .unwrap_err()
        .to_string();
    assert!(err.contains("lengths 2 and 1"), "{err}");
    let text = [ColumnMeta::new("tags", DType::Array(ElemType::String))];
    let tags = vec![vec![Value::Array(Array::String(vec![]))]; 5];
    let err = fit_pipeline(&nb(), &text, &tags, &y)
        .unwrap_err()
        .to_string();
    assert!(err.contains("which a model cannot read"), "{err}");
}
