//! The online commands end to end on `verge init` repositories, through the built
//! binary: materialize (windows, ties, merging, incremental, shards), reading
//! (`get-online-features` statuses), `predict`, `build`, `inspect`, and bad input.
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use verge_core::artifact::{
    Bundle, BundleContents, ModelPart, Snapshot, TrainingMetadata, shard_of,
};
use verge_core::definition::{EstimatorSpec, Imputation};
use verge_core::online::Predictor;
use verge_core::pipeline::{ColumnMeta, PipelineParams, fit_pipeline};
use verge_core::{ContentId, EntityKey, KeyPart, Timestamp, Value};
use verge_host::artifacts::ArtifactStore;

use crate::support::{Repo, run_expect};

const T0: &str = "2021-06-01T00:00:00Z";
const T3: &str = "2021-06-03T00:00:00Z";
const T4: &str = "2021-06-04T00:00:00Z";
const T6: &str = "2021-06-06T00:00:00Z";

fn applied() -> Repo {
    let repo = Repo::init();
    run_expect(&repo.path, &["apply", "-m", "first"], 0);
    repo
}

fn json(text: &str) -> Json {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// `get-online-features` for `features` and hospital numbers at `now`.
fn read(repo: &Path, features: &str, ids: &[&str], now: &str) -> Json {
    let mut args = vec!["get-online-features", "--features", features, "--now", now];
    let pairs: Vec<String> = ids.iter().map(|i| format!("hospital_number={i}")).collect();
    for p in &pairs {
        args.extend(["--entity", p.as_str()]);
    }
    json(&run_expect(repo, &args, 0).stdout)
}

/// Result column `i` (0 is the join key): (values, statuses).
fn column(answer: &Json, i: usize) -> (Vec<Json>, Vec<String>) {
    let c = &answer["results"][i];
    (
        c["values"].as_array().unwrap().clone(),
        c["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect(),
    )
}

fn printed_ids(stdout: &str) -> Vec<ContentId> {
    stdout
        .lines()
        .map(|l| ContentId::parse_hex(l.trim()).unwrap_or_else(|| panic!("not an id: {l}")))
        .collect()
}

fn load_snapshot(repo: &Path, id: ContentId) -> Snapshot {
    let path = ArtifactStore::open(repo).path(id, verge_core::artifact::ArtifactKind::Snapshot);
    Snapshot::load(std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn materialize_then_read_every_status() {
    let repo = applied();
    let r = run_expect(&repo.path, &["materialize", T0, T6], 0);
    let ids = printed_ids(&r.stdout);
    assert_eq!(ids.len(), 1);
    let latest = ArtifactStore::open(&repo.path)
        .get_ref("snapshot/latest")
        .unwrap();
    assert_eq!(latest, Some(ids[0]));

    let answer = read(
        &repo.path,
        "horse_vitals:pulse,horse_vitals:total_protein",
        &["530101", "534817", "1"],
        "2021-06-05T12:00:00Z",
    );
    assert_eq!(
        answer["metadata"]["feature_names"],
        json(r#"["hospital_number", "pulse", "total_protein"]"#)
    );
    assert_eq!(
        column(&answer, 0).0,
        vec![json("530101"), json("534817"), json("1")]
    );
    let (pulse, pulse_status) = column(&answer, 1);
    assert_eq!(pulse, vec![Json::Null, json("92"), Json::Null]);
    assert_eq!(pulse_status, ["NULL_VALUE", "PRESENT", "NOT_FOUND"]);
    let (protein, protein_status) = column(&answer, 2);
    assert_eq!(protein, vec![json("6.8"), Json::Null, Json::Null]);
    assert_eq!(protein_status, ["PRESENT", "NULL_VALUE", "NOT_FOUND"]);
    assert_eq!(
        answer["results"][2]["event_timestamps"][0],
        json(r#""2021-06-05T08:00:00Z""#)
    );

    // Three days later the 2-day ttl has passed for every row.
    let late = read(
        &repo.path,
        "horse_vitals:total_protein",
        &["530101"],
        "2021-06-08T12:00:00Z",
    );
    assert_eq!(
        column(&late, 1),
        (vec![Json::Null], vec!["OUTSIDE_MAX_AGE".to_owned()])
    );

    // Full feature names, and byte-identical output to the core's API function.
    let r = run_expect(
        &repo.path,
        &[
            "get-online-features",
            "--features",
            "horse_vitals:pain",
            "--entity",
            "hospital_number=528355",
            "--now",
            "2021-06-04T00:00:00Z",
            "--full-feature-names",
        ],
        0,
    );
    let snapshot = load_snapshot(&repo.path, ids[0]);
    let expected = verge_core::api::get_online_features_json(
        &snapshot,
        br#"{"features":["horse_vitals:pain"],"entities":{"hospital_number":[528355]},"full_feature_names":true}"#,
        Timestamp::parse_rfc3339("2021-06-04T00:00:00Z").unwrap(),
        verge_core::api::Limits::default(),
    );
    assert_eq!(r.stdout.trim_end().as_bytes(), expected.body.as_slice());
    assert!(r.stdout.contains(r#""horse_vitals__pain""#), "{}", r.stdout);
    assert!(r.stdout.contains(r#""mild""#), "{}", r.stdout);
}

#[test]
fn ties_windows_and_merging() {
    let repo = applied();
    // Two rows of 530101 at 06-02 08:00: the later created (pulse 84) wins.
    run_expect(&repo.path, &["materialize", T0, T3], 0);
    let a = read(&repo.path, "horse_vitals:pulse", &["530101"], T3);
    assert_eq!(column(&a, 1).0, vec![json("84")]);

    // A newer window moves 530101 on; an older one afterwards does not move it back.
    run_expect(&repo.path, &["materialize", T4, T6], 0);
    let r = run_expect(&repo.path, &["materialize", T0, T3, "--json"], 0);
    let report = json(&r.stdout);
    assert_eq!(report["views"][0]["merged"], Json::Bool(true));
    // 530101 keeps its 06-05 row (pulse null); 528355 comes from the older window
    // only (06-01: the 06-03 10:00 row is after T3).
    let b = read(
        &repo.path,
        "horse_vitals:pulse",
        &["530101"],
        "2021-06-05T08:00:00Z",
    );
    assert_eq!(
        column(&b, 1),
        (vec![Json::Null], vec!["NULL_VALUE".to_owned()])
    );
    let c = read(
        &repo.path,
        "horse_vitals:pulse",
        &["528355"],
        "2021-06-02T00:00:00Z",
    );
    assert_eq!(
        column(&c, 1),
        (vec![json("48")], vec!["PRESENT".to_owned()])
    );

    // The same data materialized again gives the same snapshot id.
    let again = run_expect(&repo.path, &["materialize", T0, T6], 0);
    let once_more = run_expect(&repo.path, &["materialize", T0, T6], 0);
    assert_eq!(again.stdout, once_more.stdout);
}

#[test]
fn incremental_starts_at_end_minus_ttl_then_where_it_ended() {
    let repo = applied();
    // First time: from 06-06 minus the 2-day ttl, so 528355's last row (06-03) is out.
    let r = run_expect(&repo.path, &["materialize-incremental", T6, "--json"], 0);
    let report = json(&r.stdout);
    assert_eq!(
        report["views"][0]["start"],
        json(r#""2021-06-04T00:00:00Z""#)
    );
    let a = read(
        &repo.path,
        "horse_vitals:total_protein",
        &["528355", "534817"],
        "2021-06-05T00:00:00Z",
    );
    assert_eq!(column(&a, 1).1, ["NOT_FOUND", "NULL_VALUE"]);
    let state: Json =
        json(&std::fs::read_to_string(repo.path.join(".verge/materialize.json")).unwrap());
    assert_eq!(
        state["views"]["horse_vitals"]["last_end"],
        json(r#""2021-06-06T00:00:00Z""#)
    );
    // Next time: from where it ended.
    let r = run_expect(
        &repo.path,
        &["materialize-incremental", "2021-06-07T00:00:00Z", "--json"],
        0,
    );
    assert_eq!(
        json(&r.stdout)["views"][0]["start"],
        json(r#""2021-06-06T00:00:00Z""#)
    );
}

#[test]
fn shards_partition_the_keys() {
    let repo = applied();
    let whole = printed_ids(&run_expect(&repo.path, &["materialize", T0, T6], 0).stdout);
    let whole = load_snapshot(&repo.path, whole[0]);
    let r = run_expect(&repo.path, &["materialize", T0, T6, "--shards", "3"], 0);
    let ids = printed_ids(&r.stdout);
    assert_eq!(ids.len(), 3);
    let store = ArtifactStore::open(&repo.path);
    assert_eq!(store.get_ref("snapshot/latest").unwrap(), None);
    let shards: Vec<Snapshot> = ids
        .iter()
        .map(|id| load_snapshot(&repo.path, *id))
        .collect();
    let mut total = 0;
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(
            store
                .get_ref(&format!("snapshot/latest-shard-{i}"))
                .unwrap(),
            Some(ids[i])
        );
        assert_eq!((s.meta().shard_index, s.meta().shard_count), (i as u32, 3));
        total += s.table(0).unwrap().rows();
    }
    assert_eq!(total, whole.table(0).unwrap().rows());
    for row in 0..whole.table(0).unwrap().rows() {
        let key = whole.key(0, row).unwrap();
        for (i, s) in shards.iter().enumerate() {
            assert_eq!(s.lookup(0, &key).is_some(), i as u32 == shard_of(&key, 3));
        }
    }
    // A shard reads like any snapshot.
    let key = EntityKey::single(KeyPart::Int64(530101));
    let owner = shard_of(&key, 3);
    let read_shard = |shard: u32, code: i32| {
        let snapshot = format!("snapshot/latest-shard-{shard}");
        run_expect(
            &repo.path,
            &[
                "get-online-features",
                "--snapshot",
                &snapshot,
                "--features",
                "horse_vitals:total_protein",
                "--entity",
                "hospital_number=530101",
                "--now",
                T6,
            ],
            code,
        )
    };
    let r = read_shard(owner, 0);
    assert_eq!(column(&json(&r.stdout), 1).0, vec![json("6.8")]);
    // Another shard refuses the key, naming its home, instead of `NOT_FOUND`.
    let r = read_shard((owner + 1) % 3, 2);
    assert!(
        r.stderr.contains(&format!("belongs to shard {owner} of 3")),
        "{}",
        r.stderr
    );
    // Fewer shards next: the refs describe that set alone.
    let two =
        printed_ids(&run_expect(&repo.path, &["materialize", T0, T6, "--shards", "2"], 0).stdout);
    assert_eq!(two.len(), 2);
    for (i, id) in two.iter().enumerate() {
        assert_eq!(
            store
                .get_ref(&format!("snapshot/latest-shard-{i}"))
                .unwrap(),
            Some(*id)
        );
    }
    assert_eq!(
        store.get_ref("snapshot/latest-shard-2").unwrap(),
        None,
        "a stale shard ref is left"
    );
    // More shards than keys is refused, with what to do.
    let r = run_expect(
        &repo.path,
        &["materialize", T0, T6, "--shards", "100000"],
        2,
    );
    assert!(
        r.stderr.contains("more than the snapshot's 3 keys") && r.stderr.contains("give at most 3"),
        "{}",
        r.stderr
    );
    // The next materialization merges all shards back, and no shard ref is left.
    let merged = printed_ids(&run_expect(&repo.path, &["materialize", T0, T0], 0).stdout);
    assert_eq!(
        load_snapshot(&repo.path, merged[0])
            .table(0)
            .unwrap()
            .rows(),
        total
    );
    for i in 0..3 {
        assert_eq!(
            store
                .get_ref(&format!("snapshot/latest-shard-{i}"))
                .unwrap(),
            None
        );
    }
}

#[test]
fn inspect_reports_contents_and_damage() {
    let repo = applied();
    let id = printed_ids(&run_expect(&repo.path, &["materialize", T0, T6], 0).stdout)[0];
    let r = run_expect(&repo.path, &["inspect", "snapshot/latest", "--json"], 0);
    let report = json(&r.stdout);
    assert_eq!(report["kind"], json(r#""snapshot""#));
    assert_eq!(report["id"], Json::String(id.to_string()));
    assert_eq!(report["views"][0]["name"], json(r#""horse_vitals""#));
    assert_eq!(report["views"][0]["rows"], json("3"));
    let text = run_expect(&repo.path, &["inspect", &id.to_string()[..12]], 0).stdout;
    assert!(text.contains("window_end: 2021-06-06T00:00:00Z"), "{text}");

    let path =
        ArtifactStore::open(&repo.path).path(id, verge_core::artifact::ArtifactKind::Snapshot);
    let bytes = std::fs::read(&path).unwrap();
    let damaged = repo.path.join("damaged.snapshot");
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    std::fs::write(&damaged, &flipped).unwrap();
    let r = run_expect(&repo.path, &["inspect", "damaged.snapshot"], 2);
    assert!(r.stderr.contains("hash mismatch"), "{}", r.stderr);
    assert!(r.stdout.contains("kind: snapshot"), "{}", r.stdout);
    std::fs::write(&damaged, &bytes[..100]).unwrap();
    let r = run_expect(&repo.path, &["inspect", "damaged.snapshot"], 2);
    assert!(r.stderr.contains("truncated"), "{}", r.stderr);
    std::fs::write(&damaged, b"hello world, not an artifact at all").unwrap();
    let r = run_expect(&repo.path, &["inspect", "damaged.snapshot"], 2);
    assert!(r.stderr.contains("not a verge artifact"), "{}", r.stderr);
    let mut version = bytes.clone();
    version[4] = 9;
    std::fs::write(&damaged, &version).unwrap();
    let r = run_expect(&repo.path, &["inspect", "damaged.snapshot"], 2);
    assert!(r.stderr.contains("format version 9"), "{}", r.stderr);
}

#[test]
fn bad_input_is_a_clear_error() {
    let repo = applied();
    let cases: &[(&[&str], &str)] = &[
        (&["materialize", "yesterday", T6], "is not a time"),
        (&["materialize", T6, T0], "is after END"),
        (
            &["materialize", T0, T6, "--views", "nope"],
            "unknown feature view `nope`",
        ),
        (&["materialize", T0, T6, "--shards", "0"], "at least 1"),
        (
            &["materialize", T0, T6, "--max-shard-bytes", "lots"],
            "not a shard size",
        ),
        (
            &["materialize", T0, T6, "--max-shard-bytes", "1KiB"],
            "too small; give at least 8192",
        ),
        (
            &[
                "get-online-features",
                "--features",
                "horse_vitals:pulse",
                "--entity",
                "hospital_number=1",
            ],
            "run `verge materialize` first",
        ),
    ];
    for (args, message) in cases {
        let r = run_expect(&repo.path, args, 2);
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
    }
    run_expect(&repo.path, &["materialize", T0, T6], 0);
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "get-online-features",
                "--features",
                "horse_vitals:nope",
                "--entity",
                "hospital_number=1",
            ],
            "unknown feature `horse_vitals:nope`",
        ),
        (
            &[
                "get-online-features",
                "--features",
                "nope:pulse",
                "--entity",
                "hospital_number=1",
            ],
            "unknown feature view `nope`",
        ),
        (
            &[
                "get-online-features",
                "--features",
                "horse_vitals:pulse",
                "--entity",
                "hospital_number=abc",
            ],
            "is not an integer",
        ),
        (
            &[
                "get-online-features",
                "--features",
                "horse_vitals:pulse",
                "--entity",
                "horse=1",
            ],
            "not a join key",
        ),
        (
            &[
                "get-online-features",
                "--features",
                "horse_vitals:pulse",
                "--entity",
                "hospital_number=1",
                "--now",
                "soon",
            ],
            "is not a time",
        ),
        (
            &[
                "predict",
                "--bundle",
                "model/nope",
                "--entity",
                "hospital_number=1",
            ],
            "model/nope",
        ),
        (
            &["build", "nope"],
            "is neither a model (models: surgical_lesion) nor a feature service",
        ),
    ];
    for (args, message) in cases {
        let r = run_expect(&repo.path, args, 2);
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
    }
}

/// A bundle for `surgery_v1` fitted by the core on made-up rows, stored as
/// `model/surgical_lesion`.
fn store_core_bundle(repo: &Repo) -> (ContentId, PathBuf) {
    let (registry_id, version) = repo.store().read_head().unwrap().unwrap();
    let defs = &version.definitions;
    let plan = BundleContents::plan(defs, "surgery_v1").unwrap();
    let columns: Vec<ColumnMeta> = plan
        .features
        .iter()
        .map(|f| {
            let dtype = match f {
                verge_core::artifact::ServiceFeature::View { dtype, .. }
                | verge_core::artifact::ServiceFeature::OnDemand { dtype, .. } => *dtype,
            };
            ColumnMeta::new(f.name(), dtype)
        })
        .collect();
    let rows: Vec<Vec<Value>> = (0..20)
        .map(|i| {
            let t = 37.0 + f64::from(i % 6) * 0.5;
            vec![
                Value::Float64(t),
                Value::Int64(40 + i64::from(i) * 3),
                Value::Float64(6.0 + f64::from(i % 3) * 0.5),
                Value::String(["mild", "severe", "none"][(i % 3) as usize].into()),
                Value::Float64((t - 38.5f64).max(0.0)),
            ]
        })
        .collect();
    let y: Vec<Value> = (0..20)
        .map(|i| Value::String(if i % 6 >= 3 { "yes" } else { "no" }.into()))
        .collect();
    let params = PipelineParams::new(EstimatorSpec::GaussianNb {
        var_smoothing: 1e-9,
    })
    .impute(Some(Imputation::Mean))
    .encode(verge_core::definition::Encoding::OneHot);
    let pipeline = fit_pipeline(&params, &columns, &rows, &y).unwrap();
    let bytes = BundleContents {
        registry_id,
        service: "surgery_v1".into(),
        entity_keys: plan.entity_keys,
        request: plan.request,
        views: plan.views,
        features: plan.features,
        model: Some(ModelPart {
            name: "surgical_lesion".into(),
            pipeline,
            training: TrainingMetadata {
                rows: 20,
                data_hash: ContentId::of(b"rows"),
                label: "surgical_lesion".into(),
                metrics: vec![("holdout_accuracy".into(), 0.75)],
                trained_with: "verge-core test".into(),
                trained_at: Timestamp(0),
            },
        }),
    }
    .to_bytes()
    .unwrap();
    let store = ArtifactStore::open(&repo.path);
    let (id, path) = store.put(&bytes).unwrap();
    store.set_ref("model/surgical_lesion", id).unwrap();
    (id, path)
}

fn check_predict_and_build(repo: &Repo, bundle_id: ContentId, target: &str) {
    let snapshot_id = printed_ids(&run_expect(&repo.path, &["materialize", T0, T6], 0).stdout)[0];
    let r = run_expect(
        &repo.path,
        &[
            "predict",
            "--bundle",
            "model/surgical_lesion",
            "--entity",
            "hospital_number=530101",
            "--entity",
            "hospital_number=999",
            "--now",
            "2021-06-05T12:00:00Z",
        ],
        0,
    );
    let answer = json(&r.stdout);
    assert_eq!(answer["bundle_id"], Json::String(bundle_id.to_string()));
    assert_eq!(answer["snapshot_id"], Json::String(snapshot_id.to_string()));
    let predictions = answer["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 2);
    for p in predictions {
        let total: f64 = p["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .sum();
        assert!((total - 1.0).abs() < 1e-9, "{p}");
        assert!(
            p["classes"].as_array().unwrap().contains(&p["label"]),
            "{p}"
        );
    }
    assert_eq!(
        predictions[0]["features"]["statuses"][1],
        json(r#""NULL_VALUE""#)
    );
    assert_eq!(
        predictions[1]["features"]["statuses"][0],
        json(r#""NOT_FOUND""#)
    );

    // The service's features through the bundle (on-demand `fever` included).
    let r = run_expect(
        &repo.path,
        &[
            "get-online-features",
            "--service",
            "surgery_v1",
            "--entity",
            "hospital_number=530101",
            "--now",
            "2021-06-05T12:00:00Z",
        ],
        0,
    );
    let online = json(&r.stdout);
    assert_eq!(online["metadata"]["feature_names"][5], json(r#""fever""#));
    assert_eq!(online["results"][5]["values"][0], json("0.0"));

    let out = repo.path.join("dist");
    let r = run_expect(&repo.path, &["build", target, "-o", "dist", "--json"], 0);
    let manifest = json(&r.stdout);
    assert_eq!(
        manifest,
        json(&std::fs::read_to_string(out.join("manifest.json")).unwrap())
    );
    assert_eq!(
        manifest["bundle"]["id"],
        Json::String(bundle_id.to_string())
    );
    assert_eq!(
        manifest["snapshot"]["id"],
        Json::String(snapshot_id.to_string())
    );
    assert_eq!(manifest["model"], json(r#""surgical_lesion""#));
    let bundle = Bundle::load(&std::fs::read(out.join("bundle.bin")).unwrap()).unwrap();
    let snapshot = Snapshot::load(std::fs::read(out.join("snapshot.bin")).unwrap()).unwrap();
    assert_eq!((bundle.id(), snapshot.id()), (bundle_id, snapshot_id));
    Predictor::new(bundle, snapshot).unwrap();

    let r = run_expect(&repo.path, &["inspect", "dist/bundle.bin", "--json"], 0);
    let report = json(&r.stdout);
    assert_eq!(report["kind"], json(r#""bundle""#));
    assert_eq!(report["feature_service"], json(r#""surgery_v1""#));
    assert_eq!(report["estimator"], json(r#""gaussian_nb""#));
    assert_eq!(report["features"].as_array().unwrap().len(), 5);
}

#[test]
fn predict_and_build_with_a_core_fitted_bundle() {
    let repo = applied();
    let (bundle_id, _) = store_core_bundle(&repo);
    check_predict_and_build(&repo, bundle_id, "surgery_v1");
    // A sharded latest snapshot cannot be built into one edge pair.
    run_expect(&repo.path, &["materialize", T0, T6, "--shards", "2"], 0);
    let r = run_expect(
        &repo.path,
        &[
            "build",
            "surgical_lesion",
            "--snapshot",
            "snapshot/latest-shard-0",
        ],
        2,
    );
    assert!(r.stderr.contains("shard 0 of 2"), "{}", r.stderr);
}

#[test]
fn predict_and_build_with_a_trained_bundle() {
    let repo = applied();
    let r = run_expect(
        &repo.path,
        &["train", "surgical_lesion", "--entities", "entities.csv"],
        0,
    );
    let bundle_id = ArtifactStore::open(&repo.path)
        .get_ref("model/surgical_lesion")
        .unwrap()
        .unwrap_or_else(|| panic!("train moved no ref: {}", r.stdout));
    check_predict_and_build(&repo, bundle_id, "surgical_lesion");
}

#[test]
fn max_shard_bytes_takes_a_size_with_a_unit() {
    let repo = applied();
    let ids = |size: &str| {
        printed_ids(
            &run_expect(
                &repo.path,
                &["materialize", T0, T6, "--max-shard-bytes", size],
                0,
            )
            .stdout,
        )
    };
    let in_bytes = ids("8192");
    assert!(!in_bytes.is_empty());
    assert_eq!(ids("8KiB"), in_bytes);
    assert_eq!(ids("0.0078125 MiB"), in_bytes);
}
