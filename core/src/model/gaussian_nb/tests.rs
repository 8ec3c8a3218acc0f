//! Unit tests for Gaussian naive Bayes: numpy's summation orders, sklearn's fit and predict.

use super::*;

fn labels(ids: &[i64]) -> Vec<Value> {
    ids.iter().map(|&i| Value::Int64(i)).collect()
}

#[test]
fn numpy_sum_orders() {
    let v: Vec<f64> = (0..300).map(|i| 1.0 / f64::from(i + 1)).collect();
    let plain: f64 = v.iter().sum();
    let pairwise = numpy_sum(v.len(), |j| v[j]);
    assert!((plain - pairwise).abs() < 1e-13);
    // 1e16 + 1 + 1 ... : the grouping is visible, so this pins the 8-accumulator order.
    let w = [1e16, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
    assert_eq!(numpy_sum(8, |j| w[j]), ((1e16 + 1.0) + 2.0) + 4.0);
    assert_eq!(numpy_sum(0, |_| 1.0), 0.0);
}

#[test]
fn logsumexp_is_stable() {
    assert!((logsumexp(&[1000.0, 1000.0]) - (1000.0 + libm::log(2.0))).abs() < 1e-12);
    assert_eq!(logsumexp(&[-1e308, 0.0]), 0.0);
    assert!((logsumexp(&[0.0, 0.0, 0.0]) - libm::log(3.0)).abs() < 1e-15);
}

#[test]
fn single_sample_class_and_zero_variance() {
    // Class 1 has one sample: its variance is zero before smoothing.
    let x = Matrix::from_rows(&[vec![0.0, 1.0], vec![2.0, 1.0], vec![5.0, 1.0]]).unwrap();
    let m = GaussianNbParams::new()
        .fit(&x, &labels(&[0, 0, 1]))
        .unwrap();
    assert!((m.epsilon() - 1e-9 * 114.0 / 27.0).abs() < 1e-20);
    assert_eq!(m.var().row(1).unwrap()[0], m.epsilon());
    let p = m.predict_proba(&[5.0, 1.0]).unwrap();
    assert!(p[1] > 0.999_999);
    // Every feature constant: nothing can smooth a zero variance.
    let flat = Matrix::from_rows(&[vec![1.0], vec![1.0]]).unwrap();
    let err = GaussianNbParams::new()
        .fit(&flat, &labels(&[0, 1]))
        .unwrap_err();
    assert!(format!("{err}").contains("var_smoothing"), "{err}");
}

#[test]
fn fit_errors() {
    let x = Matrix::from_rows(&[vec![1.0], vec![2.0]]).unwrap();
    let one = GaussianNbParams::new()
        .fit(&x, &labels(&[3, 3]))
        .unwrap_err();
    assert!(format!("{one}").contains("single class"), "{one}");
    assert!(
        GaussianNbParams::new()
            .fit(&Matrix::with_cols(1), &[])
            .is_err()
    );
    assert!(GaussianNbParams::new().fit(&x, &labels(&[1])).is_err());
    let bad = GaussianNbParams::new().var_smoothing(-1.0);
    assert!(bad.fit(&x, &labels(&[0, 1])).is_err());
    let nan = Matrix::from_rows(&[vec![f64::NAN], vec![2.0]]).unwrap();
    assert!(GaussianNbParams::new().fit(&nan, &labels(&[0, 1])).is_err());
}

#[test]
fn predict_rejects_bad_input_and_ties_pick_the_first() {
    let x = Matrix::from_rows(&[vec![-1.0], vec![1.0], vec![-1.0], vec![1.0]]).unwrap();
    let m = GaussianNbParams::new()
        .fit(&x, &labels(&[0, 0, 1, 1]))
        .unwrap();
    let p = m.predict_proba(&[0.3]).unwrap();
    assert_eq!(p, vec![0.5, 0.5]);
    assert_eq!(m.predict(&[0.3]).unwrap(), &Value::Int64(0));
    assert!(matches!(m.predict(&[f64::NAN]), Err(Error::Eval(_))));
    assert!(matches!(m.predict(&[1.0, 2.0]), Err(Error::Shape { .. })));
}

#[test]
fn extreme_input_still_gives_a_distribution() {
    // Pinned from proptest: at |x| ~ 5e17 the log-likelihoods of both classes
    // round to the same number; `jll - logsumexp(jll)` would give [1, 1].
    let x = Matrix::from_rows(&[vec![0.0], vec![1.0], vec![3.0], vec![5.0]]).unwrap();
    let m = GaussianNbParams::new()
        .fit(&x, &labels(&[0, 0, 1, 1]))
        .unwrap();
    let p = m.predict_proba(&[-5.290_886_363_787_5e17]).unwrap();
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-15, "{p:?}");
}

#[test]
fn serde_round_trip_revalidates() {
    let x = Matrix::from_rows(&[vec![0.0], vec![1.0], vec![4.0], vec![5.0]]).unwrap();
    let m = GaussianNbParams::new()
        .fit(&x, &labels(&[0, 0, 1, 1]))
        .unwrap();
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(&m, config).unwrap();
    let (back, _): (GaussianNb, _) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
    assert_eq!(back, m);
    let mut parts = GaussianNbParts::from(m);
    parts.class_prior = vec![0.5];
    let bytes = bincode::serde::encode_to_vec(&parts, config).unwrap();
    let decoded: core::result::Result<(GaussianNb, usize), _> =
        bincode::serde::decode_from_slice(&bytes, config);
    assert!(decoded.is_err());
}

/// A two-class, one-feature model with the given means, variances and equal priors.
fn model_1d(theta: [f64; 2], var: [f64; 2]) -> GaussianNb {
    GaussianNb::from_parts(GaussianNbParts {
        classes: labels(&[0, 1]),
        class_prior: vec![0.5, 0.5],
        theta: Matrix::from_flat(2, 1, theta.to_vec()).unwrap(),
        var: Matrix::from_flat(2, 1, var.to_vec()).unwrap(),
        epsilon: 0.0,
    })
    .unwrap()
}

#[test]
fn squares_that_overflow_still_answer() {
    // The repro: 20 / 1e-300 reaches the model as 2e301, whose square
    // overflows for every class. The wider class is the likelier one, with certainty.
    let m = model_1d([0.0, 5.0], [1.0, 2.0]);
    assert_eq!(m.predict_proba(&[2e301]).unwrap(), vec![0.0, 1.0]);
    assert_eq!(m.predict(&[2e301]).unwrap(), &Value::Int64(1));
    // x - theta itself overflows for class 0; class 1 is exact.
    let m = model_1d([1e308, -1e308], [1.0, 1.0]);
    assert_eq!(m.predict_proba(&[-1e308]).unwrap(), vec![0.0, 1.0]);
    // Equal distances and variances: the priors alone decide, as they would in exact arithmetic.
    let m = model_1d([-1.0, 1.0], [1e-310, 1e-310]);
    let p = m.predict_proba(&[0.0]).unwrap();
    assert_eq!(p, vec![0.5, 0.5]);
    // d² overflows but d²/var does not: the exact likelihoods still decide.
    let m = model_1d([0.0, 1e200], [1e300, 1e300]);
    // Class 0's Σ d²/var is 16e100, class 1's 9e100.
    assert_eq!(m.predict_proba(&[4e200]).unwrap(), vec![0.0, 1.0]);
    // d² overflows (4e308) but Σ d²/var is 4 and 8/3: an ordinary, undecided answer.
    let m = model_1d([0.0, 4e154], [1e308, 1.5e308]);
    let p = m.predict_proba(&[2e154]).unwrap();
    let jll_diff = -0.5 * (1.0_f64 / 1.5).ln() - 0.5 * (4.0 - 4.0 / 1.5);
    let want = 1.0 / (1.0 + (-jll_diff).exp());
    assert!(
        (p[0] - want).abs() < 1e-12 && (p[1] - (1.0 - want)).abs() < 1e-12,
        "{p:?} vs {want}"
    );
}

#[test]
fn huge_variances_keep_a_finite_normaliser() {
    // 2π · 1e308 overflows; log(2π) + log(var) does not.
    let m = model_1d([0.0, 1.0], [1e308, 1e308]);
    let p = m.predict_proba(&[0.5]).unwrap();
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-15, "{p:?}");
    assert!(p.iter().all(|v| (v - 0.5).abs() < 1e-12), "{p:?}");
}
