//! `expf` exactly as XGBoost gets it on Linux: glibc's (`sysdeps/ieee754/flt-32/e_expf.c`,
//! from Arm's optimized-routines, MIT OR Apache-2.0 WITH LLVM-exception), ported so
//! that XGBoost's f32 sigmoid and softmax come out bit for bit on every face.
//!
//! Why not `libm::expf`: it is a different algorithm and disagrees with glibc in
//! the last bit on some inputs (e.g. 1.6308839); nor the f64 exponential rounded
//! to f32: glibc's result is not always the correctly rounded one (0.502 ulp, e.g.
//! at 0.5738847). The algorithm: `x·32/ln 2 = k + r`, `2^(k/32)` from a 32-entry
//! table, `2^(r/32)` from a cubic, all in f64, rounded once to f32. Its plain and
//! FMA builds (glibc picks one per CPU) agree on 2,000,000 random inputs in
//! [-20, 20] with each other and with this port; `core/tests/xgboost_expf.rs`
//! holds the port to the platform's `expf` where that is glibc.

/// `2^(i/32)` minus `i << 47`, so adding `k << 47` gives `2^(k/32)` in one step.
const T: [u64; 32] = [
    0x3ff0000000000000,
    0x3fefd9b0d3158574,
    0x3fefb5586cf9890f,
    0x3fef9301d0125b51,
    0x3fef72b83c7d517b,
    0x3fef54873168b9aa,
    0x3fef387a6e756238,
    0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715,
    0x3feef1a7373aa9cb,
    0x3feedea64c123422,
    0x3feece086061892d,
    0x3feebfdad5362a27,
    0x3feeb42b569d4f82,
    0x3feeab07dd485429,
    0x3feea47eb03a5585,
    0x3feea09e667f3bcd,
    0x3fee9f75e8ec5f74,
    0x3feea11473eb0187,
    0x3feea589994cce13,
    0x3feeace5422aa0db,
    0x3feeb737b0cdc5e5,
    0x3feec49182a3f090,
    0x3feed503b23e255d,
    0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47,
    0x3fef199bdd85529c,
    0x3fef3720dcef9069,
    0x3fef5818dcfba487,
    0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da,
    0x3fefd0765b6e4540,
];

/// `0x1.71547652b82fep+0 * 32`: 32 / ln 2.
const INV_LN2_N: f64 = 46.16624130844683;
/// `0x1.8p+52`: adding it rounds to an integer in the low mantissa bits.
const SHIFT: f64 = 6755399441055744.0;
/// The cubic's coefficients (`0x1.c6af84b912394p-5 / 32³`, `0x1.ebfce50fac4f3p-3 / 32²`,
/// `0x1.62e42ff0c52d6p-1 / 32`).
const C: [f64; 3] = [
    f64::from_bits(0x3ebc_6af8_4b91_2394),
    f64::from_bits(0x3f2e_bfce_50fa_c4f3),
    f64::from_bits(0x3f96_2e42_ff0c_52d6),
];

/// e^x as glibc's `expf` computes it.
#[must_use]
pub fn xgboost_expf(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    // glibc's limits: above 0x1.62e42ep6 overflows, below -0x1.9fe368p6 underflows.
    if x > f32::from_bits(0x42b1_7217) {
        return f32::INFINITY;
    }
    if x < f32::from_bits(0xc2cf_f1b4) {
        return 0.0;
    }
    let z = INV_LN2_N * f64::from(x);
    let k = z + SHIFT;
    let ki = k.to_bits();
    let kd = k - SHIFT;
    let r = z - kd;
    let t = T[(ki % 32) as usize].wrapping_add(ki << 47);
    let s = f64::from_bits(t);
    let zz = C[0] * r + C[1];
    let r2 = r * r;
    let y = C[2] * r + 1.0;
    ((zz * r2 + y) * s) as f32
}
