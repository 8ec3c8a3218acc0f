//! Property tests: each fitted transform against a plain reference implementation,
//! and the serving path against arbitrary (often wrong) rows.

// Test and benchmark code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use verge_core::definition::{Encoding, EstimatorSpec, Imputation, Scaling};
use verge_core::model::{GaussianNb, GaussianNbParams, GaussianNbParts};
use verge_core::pipeline::{
    ColumnMeta, FittedPipeline, PipelineParams, Prediction, Scratch, fit_pipeline,
};
use verge_core::transform::{Matrix, SelectKBest, SimpleImputer, StandardScaler, f_classif};
use verge_core::{DType, Value};

/// Matrices of small integers (so ties and repeats are common) with some NaNs;
/// every column keeps at least one value.
fn matrix_with_nans() -> impl Strategy<Value = Matrix> {
    (1usize..5, 1usize..30).prop_flat_map(|(cols, rows)| {
        prop::collection::vec(
            prop_oneof![4 => (-5i32..6).prop_map(f64::from), 1 => Just(f64::NAN)],
            rows * cols,
        )
        .prop_map(move |mut data| {
            for (j, cell) in data.iter_mut().take(cols).enumerate() {
                *cell = j as f64; // row 0 is never missing
            }
            Matrix::from_flat(rows, cols, data).unwrap()
        })
    })
}

fn reference_statistic(values: &[f64], strategy: Imputation) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    match strategy {
        Imputation::Mean => v.iter().sum::<f64>() / v.len() as f64,
        Imputation::Median => {
            let n = v.len();
            if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            }
        }
        Imputation::MostFrequent => {
            // O(n²): count every value, keep the best count, smallest value first.
            let mut best = (0usize, f64::NAN);
            for &x in &v {
                let count = v.iter().filter(|&&y| y == x).count();
                if count > best.0 {
                    best = (count, x);
                }
            }
            best.1
        }
        Imputation::Constant(c) => c,
        // No imputer: the strategies under test never include it.
        Imputation::None => f64::NAN,
    }
}

/// Is column `j` among the `k` best? It is when fewer than `k` columns beat it,
/// where `i` beats `j` with a higher score, or an equal one and a later index.
fn reference_support(scores: &[f64], k: usize) -> Vec<usize> {
    let clean = |s: f64| if s.is_nan() { f64::MIN } else { s };
    (0..scores.len())
        .filter(|&j| {
            let beaten_by = (0..scores.len())
                .filter(|&i| {
                    let (a, b) = (clean(scores[i]), clean(scores[j]));
                    a > b || (a == b && i > j)
                })
                .count();
            beaten_by < k
        })
        .collect()
}

/// One-way ANOVA from group means: Σ n_k (m_k - m)² / (g - 1) over Σ (x - m_k)² / (n - g).
fn reference_f(values: &[f64], groups: &[usize]) -> f64 {
    let classes: std::collections::BTreeSet<usize> = groups.iter().copied().collect();
    let n = values.len() as f64;
    let grand = values.iter().sum::<f64>() / n;
    let (mut between, mut within) = (0.0, 0.0);
    for &c in &classes {
        let members: Vec<f64> = values
            .iter()
            .zip(groups)
            .filter(|(_, g)| **g == c)
            .map(|(v, _)| *v)
            .collect();
        let m = members.iter().sum::<f64>() / members.len() as f64;
        between += members.len() as f64 * (m - grand) * (m - grand);
        within += members.iter().map(|v| (v - m) * (v - m)).sum::<f64>();
    }
    (between / (classes.len() - 1) as f64) / (within / (n - classes.len() as f64))
}

fn value_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int64),
        any::<f32>().prop_map(Value::Float32),
        any::<f64>().prop_map(Value::Float64),
        (-1e3..1e3f64).prop_map(Value::Float64),
        "[a-c]{0,2}".prop_map(Value::String),
    ]
}

fn small_pipeline(encode: Encoding, scale: Scaling, k: Option<usize>) -> FittedPipeline {
    let columns = [
        ColumnMeta::new("x", DType::Float64),
        ColumnMeta::new("n", DType::Int64),
        ColumnMeta::new("s", DType::String),
    ];
    let rows: Vec<Vec<Value>> = (0..12)
        .map(|i| {
            vec![
                if i % 5 == 0 {
                    Value::Null
                } else {
                    Value::Float64(f64::from(i) * 0.7)
                },
                Value::Int64(i64::from(i % 4)),
                Value::String(["a", "b", "c"][i as usize % 3].into()),
            ]
        })
        .collect();
    let y: Vec<Value> = (0..12)
        .map(|i| Value::String(if i < 6 { "no" } else { "yes" }.into()))
        .collect();
    let params = PipelineParams::new(EstimatorSpec::GaussianNb {
        var_smoothing: 1e-9,
    })
    .encode(encode)
    .scale(scale)
    .select_k_best(k);
    fit_pipeline(&params, &columns, &rows, &y).unwrap()
}

/// Finite numbers of any magnitude up to 1e308, either sign, zero included.
fn extreme() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        (any::<bool>(), 1.0..10.0f64, -310i32..308).prop_map(|(neg, m, e)| {
            let v = (m * 10f64.powi(e)).min(f64::MAX);
            if neg { -v } else { v }
        }),
    ]
}

/// Positive finite variances, from subnormal to 1e308.
fn variance() -> impl Strategy<Value = f64> {
    (1.0..10.0f64, -315i32..308)
        .prop_map(|(m, e)| (m * 10f64.powi(e)).clamp(f64::MIN_POSITIVE / 1e10, f64::MAX))
}

/// A Gaussian NB with arbitrary means, variances and priors, and a query for it.
fn extreme_nb() -> impl Strategy<Value = (GaussianNb, Vec<f64>)> {
    (2usize..5, 1usize..5).prop_flat_map(|(k, p)| {
        (
            prop::collection::vec(extreme(), k * p),
            prop::collection::vec(variance(), k * p),
            prop::collection::vec(1u32..100, k),
            prop::collection::vec(extreme(), p),
        )
            .prop_map(move |(theta, var, weights, query)| {
                let total: u32 = weights.iter().sum();
                let parts = GaussianNbParts {
                    classes: (0..k as i64).map(Value::Int64).collect(),
                    class_prior: weights
                        .iter()
                        .map(|&w| f64::from(w) / f64::from(total))
                        .collect(),
                    theta: Matrix::from_flat(k, p, theta).unwrap(),
                    var: Matrix::from_flat(k, p, var).unwrap(),
                    epsilon: 0.0,
                };
                (GaussianNb::from_parts(parts).unwrap(), query)
            })
    })
}

proptest! {
    #[test]
    fn imputer_matches_reference(x in matrix_with_nans(), which in 0usize..3) {
        let strategy = [Imputation::Mean, Imputation::Median, Imputation::MostFrequent][which];
        let imputer = SimpleImputer::fit(&x, strategy, &[]).unwrap();
        for j in 0..x.n_cols() {
            let column: Vec<f64> = x.column(j).collect();
            let want = reference_statistic(&column, strategy);
            prop_assert!((imputer.statistics()[j] - want).abs() <= 1e-12 * want.abs().max(1.0),
                "{strategy:?} column {j}: {} vs {want}", imputer.statistics()[j]);
        }
        let mut filled = x.clone();
        imputer.transform(&mut filled).unwrap();
        prop_assert!(filled.as_slice().iter().all(|v| !v.is_nan()));
    }

    #[test]
    fn standard_scaler_matches_reference(
        data in prop::collection::vec(-1e4..1e4f64, 2..60),
        constant in any::<bool>(),
    ) {
        let rows: Vec<Vec<f64>> = data.iter().map(|&v| vec![v, if constant { 3.25 } else { v * 2.0 + 1.0 }]).collect();
        let x = Matrix::from_rows(&rows).unwrap();
        let s = StandardScaler::fit(&x, &[]).unwrap();
        for j in 0..2 {
            let col: Vec<f64> = x.column(j).collect();
            let n = col.len() as f64;
            let mean = col.iter().sum::<f64>() / n;
            let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            prop_assert!((s.mean()[j] - mean).abs() <= 1e-12 * mean.abs().max(1.0));
            if var > 1e-9 * mean.abs().max(1.0) {
                prop_assert!((s.scale()[j] - var.sqrt()).abs() <= 1e-9 * var.sqrt());
            }
        }
        if constant {
            prop_assert_eq!(s.scale()[1], 1.0);
        }
    }

    #[test]
    fn selection_matches_reference(
        scores in prop::collection::vec(prop_oneof![(-3i32..4).prop_map(f64::from), Just(f64::NAN), Just(f64::INFINITY)], 1..12),
        k_seed in any::<usize>(),
    ) {
        let k = k_seed % scores.len() + 1;
        let s = SelectKBest::from_scores(scores.clone(), k).unwrap();
        let want = reference_support(&scores, k);
        prop_assert_eq!(s.support(), want.as_slice());
    }

    #[test]
    fn f_classif_matches_textbook_anova(
        data in prop::collection::vec((-100.0..100.0f64, 0usize..3), 6..40),
    ) {
        let groups: Vec<usize> = data.iter().map(|(_, g)| *g).collect();
        let distinct: std::collections::BTreeSet<usize> = groups.iter().copied().collect();
        prop_assume!(distinct.len() >= 2 && distinct.len() < data.len());
        let values: Vec<f64> = data.iter().map(|(v, _)| *v).collect();
        let x = Matrix::from_flat(values.len(), 1, values.clone()).unwrap();
        let ours = f_classif(&x, &groups).unwrap()[0];
        let want = reference_f(&values, &groups);
        prop_assert!((ours - want).abs() <= 1e-7 * want.abs().max(1e-3), "{ours} vs {want}");
    }

    #[test]
    fn gaussian_nb_probabilities_are_a_distribution(
        train in prop::collection::vec((prop::collection::vec(-50.0..50.0f64, 3), 0usize..3), 4..40),
        query in prop::collection::vec(-1e6..1e6f64, 3),
    ) {
        let classes: std::collections::BTreeSet<usize> = train.iter().map(|(_, c)| *c).collect();
        prop_assume!(classes.len() >= 2);
        let rows: Vec<Vec<f64>> = train.iter().map(|(r, _)| r.clone()).collect();
        let y: Vec<Value> = train.iter().map(|(_, c)| Value::Int64(*c as i64)).collect();
        let model = GaussianNbParams::new().fit(&Matrix::from_rows(&rows).unwrap(), &y).unwrap();
        let p = model.predict_proba(&query).unwrap();
        prop_assert!(p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)), "{p:?}");
        prop_assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{p:?}");
    }

    #[test]
    fn gaussian_nb_answers_every_finite_input((model, query) in extreme_nb()) {
        let p = model.predict_proba(&query).unwrap();
        prop_assert!(p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)), "{p:?}");
        prop_assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{p:?}");
        let label = model.predict(&query).unwrap();
        let i = model.classes().iter().position(|c| c == label).unwrap();
        let top = p.iter().copied().fold(0.0, f64::max);
        prop_assert_eq!(p[i], top, "label {} but {:?}", i, p);
    }

    #[test]
    fn predict_never_panics(
        rows in prop::collection::vec(prop::collection::vec(value_strategy(), 0..5), 1..20),
        which in 0usize..4,
    ) {
        let pipeline = match which {
            0 => small_pipeline(Encoding::Ordinal, Scaling::None, None),
            1 => small_pipeline(Encoding::OneHot, Scaling::Standard, Some(2)),
            2 => small_pipeline(Encoding::Ordinal, Scaling::MinMax, Some(1)),
            _ => small_pipeline(Encoding::OneHot, Scaling::None, None),
        };
        let mut scratch = Scratch::new();
        for row in &rows {
            let owned = pipeline.predict(row);
            let view = pipeline.predict_into(row, &mut scratch).map(|v| v.to_prediction());
            prop_assert_eq!(&owned, &view);
            match owned {
                Ok(Prediction::Classes { probabilities, label, classes }) => {
                    prop_assert!(label < classes.len());
                    prop_assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                }
                Ok(Prediction::Value(_)) => prop_assert!(false, "a classifier returned a value"),
                Err(_) => {}
            }
            let _ = pipeline.transform_row(row);
        }
    }
}
