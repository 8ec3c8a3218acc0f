//! The core's port of glibc's `expf` (what XGBoost's sigmoid and softmax call on
//! Linux) against the platform's own `expf`, where that is glibc: every bit, on
//! random inputs over the range the transforms use and at the edges.
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use verge_core::model::tree::xgboost_expf;

#[test]
fn matches_glibc_expf_bit_for_bit() {
    let mut seed = 15u64;
    let mut inputs = vec![
        0.0f32,
        -0.0,
        1.630_883_9,
        0.573_884_7,
        -0.573_884_7,
        88.7,
        -88.7,
        -103.9,
        88.72,
        -150.0,
        200.0,
    ];
    for _ in 0..1_000_000 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let u = (seed >> 11) as f64 / (1u64 << 53) as f64;
        inputs.push((u * 200.0 - 100.0) as f32);
    }
    for x in inputs {
        // std's f32::exp is the C library's expf on this target.
        let want = std::hint::black_box(x).exp();
        assert_eq!(xgboost_expf(x).to_bits(), want.to_bits(), "expf({x:e})");
    }
    assert!(xgboost_expf(f32::NAN).is_nan());
}
