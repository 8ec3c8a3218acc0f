//! The raw Wasm ABI module under wasmtime against the native core: the same
//! requests must give the same status and the same bytes, the batch paths the same
//! bits, and hostile calls through the ABI error codes — with the instance still
//! answering correctly afterwards.
use verge_core::Timestamp;
use verge_core::api::{Api, Limits};
use verge_core::artifact::{Bundle, Snapshot, SnapshotBuilder, ViewBuilder};
use verge_core::definition::Field;
use verge_core::online::Predictor;
use verge_core::{ContentId, DType, Duration, KeyPart, Value};
use verge_host::wasm_runtime::{AbiError, WasmRuntime};
use verge_test_kit::horse_colic::{self, Fixture, fixture, now};
use verge_test_kit::rng::Rng;
use wasmtime::Val;

use crate::support::{module, verge, wasm_path};

fn native(f: &Fixture, limits: Limits) -> Api {
    let p = Predictor::new(
        Bundle::load(&f.bundle).unwrap(),
        Snapshot::load(f.snapshot.clone()).unwrap(),
    )
    .unwrap();
    Api::new(p, limits)
}

fn wasm(f: &Fixture, limits: Limits) -> WasmRuntime {
    let mut r = module().instantiate().unwrap();
    r.set_limits(limits).unwrap();
    r.load_bundle(&f.bundle).unwrap();
    r.load_snapshot(&f.snapshot).unwrap();
    r
}

fn abi_code(e: &anyhow::Error) -> i32 {
    e.downcast_ref::<AbiError>()
        .unwrap_or_else(|| panic!("not an ABI error: {e:#}"))
        .code
}

fn requests(f: &Fixture, on_demand: bool, rng: &mut Rng) -> Vec<(&'static str, String, String)> {
    let mut out: Vec<(&'static str, String, String)> = Vec::new();
    let key = |rng: &mut Rng| -> i64 {
        if rng.index(5) == 0 {
            // unknown keys, including extremes
            [0, -1, i64::MAX, i64::MIN, 999_999_999][rng.index(5)]
        } else {
            f.keys[rng.index(f.keys.len())]
        }
    };
    for i in 0..120 {
        let n = 1 + rng.index(if i % 10 == 0 { 60 } else { 3 });
        let keys: Vec<String> = (0..n).map(|_| key(rng).to_string()).collect();
        let keys = keys.join(",");
        let context = if on_demand {
            let temps: Vec<String> = (0..n)
                .map(|j| match (j + i) % 4 {
                    0 => "null".to_string(),
                    1 => "21".to_string(),
                    _ => format!("{}.{}", rng.index(40), rng.index(100)),
                })
                .collect();
            format!(
                r#","request_context":{{"ambient_temperature":[{}]}}"#,
                temps.join(",")
            )
        } else {
            String::new()
        };
        let now = if i % 3 == 0 {
            r#","now":"2021-06-01T00:00:00Z""#
        } else {
            ""
        };
        out.push((
            "POST",
            "/predict".into(),
            format!(r#"{{"entities":{{"hospital_number":[{keys}]}}{context}{now}}}"#),
        ));
        let features = if i % 2 == 0 {
            r#""feature_service":"surgery_v1""#.to_string()
        } else {
            r#""features":["horse_colic_stats:pulse","horse_colic_stats:pain"],"full_feature_names":true"#.to_string()
        };
        out.push((
            "POST",
            "/get-online-features".into(),
            format!(r#"{{{features},"entities":{{"hospital_number":[{keys}]}}{context}{now}}}"#),
        ));
    }
    let many: Vec<String> = (0..1001).map(|i| i.to_string()).collect();
    for body in [
        "".to_string(),
        "{".to_string(),
        "[]".to_string(),
        "null".to_string(),
        r#"{"entities":{}}"#.to_string(),
        r#"{"entities":{"hospital_number":["abc"]}}"#.to_string(),
        r#"{"entities":{"hospital_number":[1.5]}}"#.to_string(),
        r#"{"entities":{"horse":[1]}}"#.to_string(),
        r#"{"entities":{"hospital_number":[1]},"extra":1}"#.to_string(),
        r#"{"entities":{"hospital_number":[1]},"now":"yesterday"}"#.to_string(),
        format!(
            r#"{{"entities":{{"hospital_number":[{}]}}}}"#,
            many.join(",")
        ),
        format!("{}1{}", "[".repeat(200), "]".repeat(200)),
        "\u{1F40E} not json".to_string(),
    ] {
        out.push(("POST", "/predict".into(), body.clone()));
        out.push(("POST", "/get-online-features".into(), body));
    }
    out.push((
        "POST",
        "/get-online-features".into(),
        r#"{"features":["horse_colic_stats:nope"],"entities":{"hospital_number":[1]}}"#.into(),
    ));
    out.push((
        "POST",
        "/get-online-features".into(),
        r#"{"feature_service":"other","entities":{"hospital_number":[1]}}"#.into(),
    ));
    for (method, path) in [
        ("GET", "/healthz"),
        ("GET", "/version"),
        ("GET", "/version?x=1"),
        ("GET", "/predict"),
        ("DELETE", "/get-online-features"),
        ("POST", "/healthz"),
        ("GET", "/nope"),
        ("GET", ""),
    ] {
        out.push((method, path.into(), String::new()));
    }
    out
}

fn check_parity(on_demand: bool) {
    let f = fixture(on_demand);
    let limits = Limits {
        max_body_bytes: 64 * 1024,
        max_entities: 1000,
        ..Limits::default()
    };
    let api = native(&f, limits);
    let mut rt = wasm(&f, limits);
    // Seeded, so a failure replays.
    let mut rng = Rng::new(0x5eed_0000 + u64::from(on_demand));
    let mut statuses = std::collections::BTreeMap::new();
    for (method, path, body) in requests(&f, on_demand, &mut rng) {
        let want = api.handle(method, &path, body.as_bytes(), now());
        let (status, got) = rt.handle(method, &path, body.as_bytes(), now()).unwrap();
        assert_eq!(
            (status, String::from_utf8_lossy(&got)),
            (want.status, String::from_utf8_lossy(&want.body)),
            "{method} {path} {body:.200}"
        );
        *statuses.entry(status).or_insert(0) += 1;
    }
    // The mix exercised every kind of answer.
    for s in [200, 400, 404, 405, 413] {
        assert!(statuses.contains_key(&s), "no {s} in {statuses:?}");
    }
    // A body over the limit is refused by size, before parsing.
    let big = vec![b' '; 64 * 1024 + 1];
    let (status, got) = rt.handle("POST", "/predict", &big, now()).unwrap();
    assert_eq!(status, 413);
    assert_eq!(got, api.handle("POST", "/predict", &big, now()).body);
}

#[test]
fn the_module_imports_nothing() {
    let m = module();
    assert_eq!(m.imports(), Vec::<String>::new());
    let exports = m.exports();
    for name in [
        "memory",
        "verge_alloc",
        "verge_free",
        "verge_load_bundle",
        "verge_load_snapshot",
        "verge_handle",
        "verge_predict_json",
        "verge_get_online_features_json",
        "verge_score_batch",
        "verge_predict_batch_i64",
        "verge_result_ptr",
        "verge_result_len",
        "verge_last_error_ptr",
        "verge_last_error_len",
    ] {
        assert!(exports.iter().any(|e| e == name), "missing export {name}");
    }
}

#[test]
fn native_and_wasm_answer_identically() {
    check_parity(false);
}

#[test]
fn native_and_wasm_answer_identically_with_on_demand_features() {
    check_parity(true);
}

#[test]
fn batch_paths_give_the_native_bits() {
    let f = fixture(false);
    let api = native(&f, Limits::default());
    let mut rt = wasm(&f, Limits::default());
    assert_eq!(rt.output_width().unwrap(), 2);
    let info = rt.model_info().unwrap();
    assert_eq!(info["outputs"], 2);
    assert_eq!(info["classes"], serde_json::json!([1, 2]));

    // score_batch: the training rows, NaN for missing.
    let flat: Vec<f64> = f
        .rows
        .iter()
        .flat_map(|r| {
            r.iter().map(|v| match v {
                Value::Float64(x) => *x,
                _ => f64::NAN,
            })
        })
        .collect();
    let got = rt.score_batch(&flat, 8).unwrap();
    assert_eq!(got.len(), f.rows.len() * 2);
    let pipeline = &api
        .predictor()
        .bundle()
        .contents()
        .require_model()
        .unwrap()
        .pipeline;
    for (i, row) in f.rows.iter().enumerate() {
        let verge_core::pipeline::Prediction::Classes { probabilities, .. } =
            pipeline.predict(row).unwrap()
        else {
            panic!("a classifier");
        };
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&got[i * 2..i * 2 + 2]),
            bits(&probabilities),
            "row {i}"
        );
    }

    // predict_batch_i64: known and unknown keys.
    let mut keys = f.keys.clone();
    keys.extend([0, -5, i64::MAX]);
    let got = rt.predict_batch_i64(&keys, now()).unwrap();
    for (i, k) in keys.iter().enumerate() {
        let out = api
            .predictor()
            .predict(&[KeyPart::Int64(*k)], &[], now())
            .unwrap();
        let verge_core::pipeline::Prediction::Classes { probabilities, .. } = out.prediction else {
            panic!("a classifier");
        };
        assert_eq!(
            got[i * 2..i * 2 + 2]
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>(),
            probabilities
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>(),
            "key {k}"
        );
    }

    // A wrong width and an infinite value are input errors naming the problem.
    let e = rt.score_batch(&flat[..16], 4).unwrap_err();
    assert_eq!(abi_code(&e), -6);
    assert!(format!("{e}").contains("8 features"), "{e}");
    let mut bad = flat[..16].to_vec();
    bad[9] = f64::INFINITY;
    let e = rt.score_batch(&bad, 8).unwrap_err();
    assert_eq!(abi_code(&e), -6);
    assert!(format!("{e}").contains("row 1"), "{e}");
    // Empty batches are fine.
    assert_eq!(rt.score_batch(&[], 8).unwrap(), Vec::<f64>::new());
}

fn other_snapshot() -> Vec<u8> {
    // Same view name, different ttl: built from different definitions.
    let view = ViewBuilder::new(
        horse_colic::VIEW,
        vec![Field::new("hospital_number", DType::Int64)],
        vec![Field::new("pulse", DType::Float64)],
        Duration::from_days(1),
        false,
    );
    SnapshotBuilder::new(ContentId::of(b"other"), Timestamp(0), now())
        .with_view(view)
        .finish()
        .unwrap()
}

#[test]
fn hostile_calls_become_error_codes_and_the_instance_survives() {
    let f = fixture(false);
    let api = native(&f, Limits::default());
    let mut rt = module().instantiate().unwrap();
    let body = br#"{"entities":{"hospital_number":[530101, 1]}}"#;

    // Nothing loaded yet.
    let e = rt.handle("POST", "/predict", body, now()).unwrap_err();
    assert_eq!(abi_code(&e), -5);
    assert!(
        format!("{e}").contains("load a bundle and a snapshot"),
        "{e}"
    );

    // Garbage, truncated and mismatched artifacts.
    for bad in [
        &b""[..],
        &b"garbage"[..],
        &f.snapshot[..],
        &f.bundle[..f.bundle.len() - 1],
    ] {
        let e = rt.load_bundle(bad).unwrap_err();
        assert_eq!(abi_code(&e), -3, "{e}");
    }
    let mut flipped = f.bundle.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_eq!(abi_code(&rt.load_bundle(&flipped).unwrap_err()), -3);
    assert_eq!(abi_code(&rt.load_snapshot(&f.bundle).unwrap_err()), -3);
    assert_eq!(
        abi_code(&rt.load_snapshot(&f.snapshot[..100]).unwrap_err()),
        -3
    );

    rt.load_bundle(&f.bundle).unwrap();
    let e = rt.load_snapshot(&other_snapshot()).unwrap_err();
    assert_eq!(abi_code(&e), -4, "{e}");
    rt.load_snapshot(&f.snapshot).unwrap();
    // A refused snapshot leaves the served pair alone.
    assert_eq!(
        abi_code(&rt.load_snapshot(&other_snapshot()).unwrap_err()),
        -4
    );
    let want = api.handle("POST", "/predict", body, now());
    let answer = |rt: &mut WasmRuntime| rt.handle("POST", "/predict", body, now()).unwrap();
    assert_eq!(answer(&mut rt), (want.status, want.body.clone()));
    let baseline = rt.live_buffers().unwrap();

    // Raw calls with pointers and lengths that are not the module's to give.
    let i = |v: u32| Val::I32(v as i32);
    let now_val = Val::I64(now().as_micros());
    for (export, args) in [
        ("verge_load_bundle", vec![i(0xFFFF_FFF0), i(100)]),
        ("verge_load_bundle", vec![i(8), i(u32::MAX)]),
        ("verge_load_snapshot", vec![i(1), i(1)]),
        ("verge_predict_json", vec![i(0x10_0000), i(10), now_val]),
        (
            "verge_get_online_features_json",
            vec![i(u32::MAX), i(u32::MAX), now_val],
        ),
        (
            "verge_handle",
            vec![i(0), i(4), i(0), i(8), i(0), i(0), now_val],
        ),
        ("verge_free", vec![i(12345), i(8)]),
        (
            "verge_score_batch",
            vec![i(0), i(u32::MAX), i(u32::MAX), i(0)],
        ),
        ("verge_score_batch", vec![i(0), i(10), i(8), i(64)]),
        (
            "verge_predict_batch_i64",
            vec![i(16), i(1_000_000), now_val, i(0)],
        ),
    ] {
        let code = rt.call_raw(export, &args).unwrap();
        assert_eq!(code, -1, "{export}{args:?}: {}", rt.last_error().unwrap());
        assert!(!rt.last_error().unwrap().is_empty());
    }
    // Allocations the memory cannot hold, and double frees.
    let e = rt.alloc(u32::MAX).unwrap_err();
    assert_eq!(abi_code(&e), -2, "{e}");
    assert!(rt.alloc(0).is_err());
    let p = rt.alloc(64).unwrap();
    rt.free(p, 64).unwrap();
    assert_eq!(abi_code(&rt.free(p, 64).unwrap_err()), -1);
    let p = rt.alloc(64).unwrap();
    assert_eq!(abi_code(&rt.free(p, 63).unwrap_err()), -1);
    rt.free(p, 64).unwrap();
    // A non-UTF-8 method through a real buffer.
    let p = rt.alloc(4).unwrap();
    rt.write(p, &[0xff, 0xfe, 0, 1]).unwrap();
    let code = rt
        .call_raw(
            "verge_handle",
            &[i(p), i(4), i(p), i(4), i(0), i(0), now_val],
        )
        .unwrap();
    assert_eq!(code, -6);
    rt.free(p, 4).unwrap();

    // Still serving the same bytes, with no leaked buffers.
    assert_eq!(answer(&mut rt), (want.status, want.body));
    assert_eq!(rt.live_buffers().unwrap(), baseline);
}

#[test]
fn unload_and_reload_swaps_pairs() {
    let plain = fixture(false);
    let derived = fixture(true);
    let mut rt = wasm(&plain, Limits::default());
    assert_eq!(
        abi_code(&rt.load_snapshot(&other_snapshot()).unwrap_err()),
        -4
    );
    // Bundles from the same view shape swap in place; the snapshot stays.
    rt.load_bundle(&derived.bundle).unwrap();
    let body = br#"{"entities":{"hospital_number":[530101]},"request_context":{"ambient_temperature":[20]}}"#;
    let want = native(&derived, Limits::default()).handle("POST", "/predict", body, now());
    assert_eq!(
        rt.handle("POST", "/predict", body, now()).unwrap(),
        (want.status, want.body)
    );
    rt.call_raw("verge_unload", &[]).unwrap();
    assert_eq!(
        abi_code(&rt.handle("GET", "/healthz", b"", now()).unwrap_err()),
        -5
    );
    rt.load_snapshot(&other_snapshot()).unwrap();
}

fn verify(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    verge()
        .current_dir(dir)
        .args([
            "verify",
            "--bundle",
            "model.bundle",
            "--snapshot",
            "features.snapshot",
            "--json",
        ])
        .args(extra)
        .env("VERGE_WASM", wasm_path())
        .output()
        .unwrap()
}

#[test]
fn verify_passes_on_every_entity_and_a_sample() {
    for on_demand in [false, true] {
        let f = fixture(on_demand);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("model.bundle"), &f.bundle).unwrap();
        std::fs::write(dir.path().join("features.snapshot"), &f.snapshot).unwrap();
        let out = verify(dir.path(), &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            summary["rows"],
            f.keys.len() + 4,
            "every key plus 4 unknown"
        );
        assert_eq!(summary["mismatches"], 0);
        assert_eq!(summary["largest_difference"], 0.0);
        // Two requests per row, the batches, /version, /healthz, the binary path.
        assert!(summary["requests"].as_u64().unwrap() > 2 * f.keys.len() as u64);

        let out = verify(
            dir.path(),
            &["--sample", "25", "--seed", "9", "--now", NOW_TEXT],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["rows"], 29);

        // An entity file: join keys plus request data, other columns ignored.
        std::fs::write(
            dir.path().join("entities.csv"),
            "hospital_number,ambient_temperature,label\n530101,20.5,1\n1,,2\n534817,-3,1\n",
        )
        .unwrap();
        let out = verify(dir.path(), &["--entities", "entities.csv"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["rows"], 3);
    }
}

const NOW_TEXT: &str = "2021-06-20T00:00:00Z";

#[test]
fn verify_reports_a_difference_and_bad_setups() {
    // `check` against an instance serving another bundle: differences found and named.
    let plain = fixture(false);
    let derived = fixture(true);
    let api = native(&plain, Limits::default());
    let mut rt = wasm(&derived, Limits::default());
    let row = |k: i64| {
        let mut keys = serde_json::Map::new();
        keys.insert("hospital_number".into(), serde_json::json!(k));
        (keys, serde_json::Map::new())
    };
    let rows = vec![row(530101), row(1)];
    let report = verge_host::verify::check(&api, &mut rt, &rows, now()).unwrap();
    assert!(report.mismatches > 0);
    let first = report.first.unwrap();
    assert!(first.contains("/version"), "{first}");
    // The same instance serving the right bundle: no differences.
    let mut rt = wasm(&plain, Limits::default());
    let report = verge_host::verify::check(&api, &mut rt, &rows, now()).unwrap();
    assert_eq!((report.mismatches, report.first), (0, None));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.bundle"), &plain.bundle).unwrap();
    std::fs::write(dir.path().join("features.snapshot"), &plain.snapshot).unwrap();
    // No module: exit 2 with the build command.
    let out = verge()
        .current_dir(dir.path())
        .args([
            "verify",
            "--bundle",
            "model.bundle",
            "--snapshot",
            "features.snapshot",
        ])
        .env("VERGE_WASM", dir.path().join("nope.wasm"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--profile wasm"));
    // A module that is not the verge ABI (it imports something): refused.
    let importing = wat_module_with_import();
    std::fs::write(dir.path().join("other.wasm"), importing).unwrap();
    let out = verify(dir.path(), &["--wasm", "other.wasm"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("must import nothing"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An entity file without the join key.
    std::fs::write(dir.path().join("e.csv"), "horse\n1\n").unwrap();
    let out = verify(dir.path(), &["--entities", "e.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no column is a join key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A minimal valid module importing one function (binary form of
/// `(module (import "env" "f" (func)))`).
fn wat_module_with_import() -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type: () -> ()
    m.extend_from_slice(&[
        0x02, 0x09, 0x01, 0x03, b'e', b'n', b'v', 0x01, b'f', 0x00, 0x00,
    ]);
    m
}

/// Several bundles over one snapshot in one instance (`verge_add_bundle`)
/// answer exactly as the native deployment of the same bundles.
#[test]
fn added_bundles_answer_as_the_native_deployment() {
    use verge_core::online::Deployment;
    use verge_test_kit::tiny::{Tiny, now as tiny_now};
    let tiny = Tiny::plain();
    let bundles: Vec<Vec<u8>> = [Some("m"), Some("m2"), None]
        .into_iter()
        .map(|m| tiny.bundle_bytes_for(m))
        .collect();
    let native = Api::serving(
        Deployment::new(
            Snapshot::load(tiny.snapshot_bytes()).unwrap(),
            bundles.iter().map(|b| Bundle::load(b).unwrap()).collect(),
        )
        .unwrap(),
        Limits::default(),
    );
    let mut rt = module().instantiate().unwrap();
    rt.load_snapshot(&tiny.snapshot_bytes()).unwrap();
    rt.load_bundle(&bundles[0]).unwrap();
    for b in &bundles[1..] {
        rt.add_bundle(b).unwrap();
    }
    // A bundle of another view shape is refused, and the deployment stays.
    assert_eq!(
        abi_code(
            &rt.add_bundle(
                &Tiny::plain()
                    .with_field("spo2")
                    .bundle_bytes_for(Some("m3"))
            )
            .unwrap_err()
        ),
        -4
    );
    let cases = [
        (
            "POST",
            "/predict",
            r#"{"entities":{"id":[1,2]},"model":"m2"}"#,
        ),
        ("POST", "/predict", r#"{"entities":{"id":[1]}}"#),
        (
            "POST",
            "/get-online-features",
            r#"{"feature_service":"svc","entities":{"id":[1,3],"ambient":[38.25,null]}}"#,
        ),
        (
            "POST",
            "/get-online-features",
            r#"{"features":["derived:excess"],"entities":{"id":[2],"ambient":[37]}}"#,
        ),
        ("GET", "/version", ""),
    ];
    for (method, path, body) in cases {
        let want = native.handle(method, path, body.as_bytes(), tiny_now());
        assert_eq!(
            rt.handle(method, path, body.as_bytes(), tiny_now())
                .unwrap(),
            (want.status, want.body),
            "{method} {path} {body}"
        );
    }
    let version: serde_json::Value =
        serde_json::from_slice(&rt.handle("GET", "/version", b"", tiny_now()).unwrap().1).unwrap();
    assert_eq!(version["bundles"].as_array().unwrap().len(), 3, "{version}");
}

/// The module's compiled code goes to `$VERGE_WASM_CACHE` (by default
/// `~/.cache/verge/wasmtime`) on the first run and is reused by the next, with
/// the same answers; `off` writes nothing.
#[test]
fn compiled_code_is_cached_where_told() {
    let f = fixture(false);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.bundle"), &f.bundle).unwrap();
    std::fs::write(dir.path().join("features.snapshot"), &f.snapshot).unwrap();
    let files = |d: &std::path::Path| walk(d).into_iter().filter(|p| p.is_file()).count();
    let run = |home: &std::path::Path, cache: Option<&std::path::Path>| {
        let mut cmd = verge();
        cmd.current_dir(dir.path())
            .args([
                "verify",
                "--bundle",
                "model.bundle",
                "--snapshot",
                "features.snapshot",
                "--json",
            ])
            .env("VERGE_WASM", wasm_path())
            .env("HOME", home)
            .env_remove("XDG_CACHE_HOME");
        match cache {
            Some(c) => cmd.env("VERGE_WASM_CACHE", c),
            None => cmd.env_remove("VERGE_WASM_CACHE"),
        };
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let home = dir.path().join("home");
    let cache = dir.path().join("cache");
    let first = run(&home, Some(&cache));
    let cached = files(&cache);
    assert!(cached > 0, "nothing cached in {}", cache.display());
    assert_eq!(
        run(&home, Some(&cache)),
        first,
        "the cached code answers the same"
    );
    assert_eq!(files(&cache), cached, "the second run compiled nothing new");
    assert!(
        !home.join(".cache").exists(),
        "only the directory named is used"
    );

    run(&home, Some(std::path::Path::new("off")));
    assert!(!home.join(".cache").exists() && !dir.path().join("off").exists());

    run(&home, None);
    assert!(
        files(&home.join(".cache/verge/wasmtime")) > 0,
        "the default place"
    );
}

/// Every path under `dir` (none when it does not exist).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path.clone());
            }
            out.push(path);
        }
    }
    out
}
