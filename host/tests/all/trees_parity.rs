//! Tree models against the libraries that trained them: `tests/trees/parity.py`
//! trains XGBoost and LightGBM models (binary, 3-class and regression, 1 to 500
//! trees, depth up to 10, on a generated set with NaNs and values on the split
//! thresholds, and on horse-colic) and writes the libraries' own predictions;
//! verge imports each model file with the host's readers and predicts the same
//! rows with the core.
//!
//! Bounds, per source:
//! - **XGBoost** computes in f32 and so does verge: every probability and value
//!   must be **bit for bit** the library's.
//! - **LightGBM** computes in f64 and so does verge, with the same comparisons
//!   and summation order, so values and margins are exact; its sigmoid and
//!   softmax call the C library's `exp` where verge calls `libm` (the same on
//!   every face, Wasm included), and the two may differ in the last bit, which
//!   `1 - p` then shows as a few ulps of the small side. So probabilities must
//!   be within **1e-15** (absolute), values exact. (XGBoost's `expf` is ported
//!   from glibc into the core for exactly this reason; LightGBM's f64 `exp` is
//!   not, yet.)
//!
//! Needs `VERGE_TREES_PYTHON` (the Python of `scripts/trees-venv`, printed by
//! `scripts/setup --print-env`). Without it the test says so and passes, unless
//! `VERGE_TREES_REQUIRED` is set. The script's output is cached under
//! `~/.cache/verge/trees-parity-<hash of the script and the Python path>`, so
//! only the first run trains (about 3 minutes on 2 cores); the comparison itself
//! takes seconds.
use std::path::{Path, PathBuf};
use std::process::Command;

use verge_core::model::TreeEnsemble;
use verge_host::train::import::{lightgbm, xgboost};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn trees_python() -> Option<PathBuf> {
    match std::env::var_os("VERGE_TREES_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("VERGE_TREES_REQUIRED").is_some() => {
            panic!("VERGE_TREES_REQUIRED is set but VERGE_TREES_PYTHON is not; run scripts/setup")
        }
        None => {
            eprintln!(
                "SKIPPED trees_parity: VERGE_TREES_PYTHON is not set (eval \"$(scripts/setup --print-env)\")"
            );
            None
        }
    }
}

/// The script's output for this script and this Python, made once.
fn cases(python: &Path) -> PathBuf {
    let script = workspace().join("tests/trees/parity.py");
    let mut key = std::fs::read(&script).unwrap();
    key.extend_from_slice(python.display().to_string().as_bytes());
    let hash = verge_core::ContentId::of(&key).to_string();
    let cache = std::env::var_os("VERGE_CACHE").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/verge"),
        PathBuf::from,
    );
    let dir = cache.join(format!("trees-parity-{}", &hash[..16]));
    if dir.join("manifest.json").is_file() {
        return dir;
    }
    let tmp = cache.join(format!("trees-parity-{}.tmp", &hash[..16]));
    let _ = std::fs::remove_dir_all(&tmp);
    let data = workspace().join("examples/horse-colic/data/horse-colic.data");
    let status = Command::new("timeout")
        .arg("900")
        .arg(python)
        .arg(&script)
        .arg(&tmp)
        .arg(&data)
        .status()
        .unwrap();
    assert!(status.success(), "tests/trees/parity.py failed: {status}");
    std::fs::rename(&tmp, &dir).unwrap();
    dir
}

fn rows(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect()
}

fn ulps(a: f64, b: f64) -> u64 {
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
}

#[test]
fn tree_models_match_xgboost_and_lightgbm() {
    let Some(python) = trees_python() else {
        return;
    };
    let dir = cases(&python);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut report = Vec::new();
    for case in manifest["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let bytes = std::fs::read(dir.join(case["model"].as_str().unwrap())).unwrap();
        let xgb = case["library"] == "xgboost";
        let imported = if xgb {
            xgboost::read(&bytes)
        } else {
            lightgbm::read(std::str::from_utf8(&bytes).unwrap())
        }
        .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let model = TreeEnsemble::from_parts(imported.parts).unwrap();
        // The size goal: verge's encoding is no larger than the library's file.
        let encoded = verge_core::artifact::encode_payload(&model, "tree model")
            .unwrap()
            .len();
        assert!(
            encoded <= bytes.len(),
            "{name}: {encoded} bytes encoded, {} in the file",
            bytes.len()
        );
        let x = rows(&dir.join(format!("{name}.x")));
        let expected = rows(&dir.join(format!("{name}.pred")));
        let n_classes = case["classes"].as_u64().unwrap() as usize;
        let (mut exact, mut worst, mut widest) = (0usize, 0u64, 0.0f64);
        let mut out = vec![0.0; n_classes];
        for (i, (row, want)) in x.iter().zip(&expected).enumerate() {
            let got = if n_classes == 0 {
                vec![model.predict_value(row).unwrap()]
            } else {
                model.predict_proba_into(row, &mut out).unwrap();
                out.clone()
            };
            assert_eq!(got.len(), want.len(), "{name} row {i}");
            let d = got
                .iter()
                .zip(want)
                .map(|(g, w)| ulps(*g, *w))
                .max()
                .unwrap_or(0);
            let gap = got
                .iter()
                .zip(want)
                .map(|(g, w)| (g - w).abs())
                .fold(0.0, f64::max);
            let exact_only = xgb || n_classes == 0;
            assert!(
                if exact_only { d == 0 } else { gap <= 1e-15 },
                "{name} row {i}: verge {got:?}, library {want:?} ({d} ulps, {gap:e} apart)\nrow: {row:?}"
            );
            exact += usize::from(d == 0);
            worst = worst.max(d);
            widest = widest.max(gap);
        }
        report.push(format!(
            "{name}: {exact}/{} rows bit-identical, worst {worst} ulps ({widest:e}); model {encoded} bytes in verge, {} in the file",
            x.len(),
            bytes.len()
        ));
    }
    eprintln!("{}", report.join("\n"));
    // XGBoost's JSON is the verbose one; LightGBM's text is compact already.
    assert!(
        report.len() >= 10,
        "the script trained too few cases: {report:?}"
    );
}
