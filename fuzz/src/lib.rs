//! Shared pieces of verge's fuzz targets: the fixture deployment, re-framing of
//! mutated payloads, and the checks every successfully loaded artifact must pass.
//!
//! The fuzzer mutates whole artifacts, so almost every mutation breaks the content
//! hash and stops at the header. Each artifact target therefore also re-frames the
//! input with a correct header and hash ([`reframe`]), which sends the mutated
//! payload through the structural checks behind the hash. Anything that loads is
//! then used ([`exercise_snapshot`], [`exercise_bundle`]): a loader that accepts an
//! inconsistent artifact shows up as a panic at first use, which is what the
//! checks exist to prevent.

use verge_core::api::Api;
use verge_core::artifact::{ArtifactKind, Bundle, HEADER_LEN, Header, ServiceFeature, Snapshot};
use verge_core::online::Predictor;
use verge_core::{EntityKey, KeyPart, Value};

/// The fixture deployment (the test kit's tiny one), shared with `core/tests` so
/// findings replay as tests.
pub use verge_test_kit::tiny as fixture;

/// HTTP methods the `api_handle` target picks from with its first byte.
pub const METHODS: &[&str] = &["POST", "GET", "PUT", "DELETE", "post", ""];

/// Paths the `api_handle` target picks from with its second byte.
pub const PATHS: &[&str] = &[
    "/get-online-features",
    "/predict",
    "/healthz",
    "/version",
    "/predict?debug=1",
    "/",
    "",
    "/get-online-features/",
];

/// `data` as an artifact of `kind` with a correct header: its payload (the bytes
/// after a header, when `data` starts with `kind`'s magic; else all of `data`)
/// framed anew, so the hash always matches.
#[must_use]
pub fn reframe(kind: ArtifactKind, data: &[u8]) -> Vec<u8> {
    let payload = match data.get(..4) {
        Some(magic) if magic == kind.magic() && data.len() >= HEADER_LEN => &data[HEADER_LEN..],
        _ => data,
    };
    Header::frame(kind, payload)
}

/// Reads every value of the first rows of every table, and checks that each row's
/// key looks up that very row: a loaded snapshot must be self-consistent.
///
/// # Panics
///
/// When the snapshot is not: that is a finding.
pub fn exercise_snapshot(snapshot: &Snapshot) {
    for (t, view) in snapshot.meta().views.iter().enumerate() {
        let table = snapshot.table(t).expect("every view has a table");
        for row in 0..table.rows().min(64) {
            let key = snapshot.key(t, row).expect("every row has a key");
            assert_eq!(
                snapshot.lookup(t, &key),
                Some(row),
                "row {row} of `{}`",
                view.name
            );
            if let [KeyPart::Int64(k)] = key.parts() {
                assert_eq!(snapshot.lookup_int(t, *k), Some(row));
            }
            for c in 0..view.fields.len() {
                let value = snapshot.value(t, c, row);
                let f = snapshot.f64_at(t, c, row);
                if value.is_null() {
                    assert_eq!(f, None, "a null reads as a number");
                }
            }
            let _ = snapshot.event_ts(t, row);
            let _ = snapshot.created_ts(t, row);
        }
        let _ = snapshot.lookup(t, &EntityKey::single(KeyPart::String("absent".into())));
        let _ = snapshot.lookup(t, &EntityKey(vec![KeyPart::Int64(i64::MIN); 3]));
        let _ = snapshot.lookup_int(t, i64::MAX);
    }
}

/// Evaluates each on-demand program and the pipeline on rows of nulls and of ones,
/// then serves the fixture's requests with the bundle against the fixture snapshot
/// when the two are compatible. Results may be errors; only panics are findings.
pub fn exercise_bundle(bundle: &Bundle) {
    let contents = bundle.contents();
    for feature in &contents.features {
        if let ServiceFeature::OnDemand {
            program, inputs, ..
        } = feature
        {
            let width = inputs.len().min(64);
            let _ = program.eval(&vec![Value::Null; width]);
            let _ = program.eval(&vec![Value::Float64(1.0); width]);
            let _ = program.eval(&[]);
        }
    }
    // A feature bundle has no model to run.
    if let Some(model) = &contents.model {
        let pipeline = &model.pipeline;
        let width = pipeline.input_names().len().min(256);
        let _ = pipeline.predict(&vec![Value::Null; width]);
        let _ = pipeline.predict(&vec![Value::Float64(1.0); width]);
        let _ = pipeline.predict(&vec![Value::Int64(1); width]);
        let _ = pipeline.predict(&[]);
    }
    let Ok(snapshot) = Snapshot::load(fixture::snapshot_bytes()) else {
        return;
    };
    if let Ok(predictor) = Predictor::new(bundle.clone(), snapshot) {
        let api = Api::new(predictor, fixture::limits());
        for (method, path, body) in fixture::REQUESTS {
            let _ = api.handle(method, path, body.as_bytes(), fixture::now());
        }
    }
}

/// Evaluates a decoded tree model on rows of zeros, NaNs, extremes and numbers
/// read from `data`, checking each answer's shape.
///
/// # Panics
///
/// When a loaded model panics, answers the wrong number of probabilities, or
/// predicts a class out of range: that is a finding.
pub fn exercise_trees(model: &verge_core::model::TreeEnsemble, data: &[u8]) {
    let width = model.n_features();
    let n_classes = model.classes().len();
    let mut rows: Vec<Vec<f64>> = [0.0, f64::NAN, -1e300, 1e300, 1e-36, -0.5]
        .iter()
        .map(|&v| vec![v; width])
        .collect();
    rows.push(
        (0..width)
            .map(|j| f64::from(data.get(j % data.len().max(1)).copied().unwrap_or(0)) - 128.0)
            .collect(),
    );
    let mut out = vec![0.0; n_classes];
    for row in &rows {
        if n_classes == 0 {
            let _ = model.predict_value(row);
        } else if let Ok(label) = model.predict_proba_into(row, &mut out) {
            assert!(label < n_classes, "label {label} of {n_classes} classes");
        }
    }
    assert!(model.predict_value(&vec![0.0; width + 1]).is_err());
}
