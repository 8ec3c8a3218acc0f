//! The browser package end to end in headless Chromium.
//!
//! The test builds the package with `wasm/build-browser.sh`, builds a bundle and a
//! snapshot from the UCI horse-colic data with verge-core (the Feast example's
//! view, plus an on-demand `fever` computed from request data, so the request path
//! is exercised too), serves `examples/browser` with both on 127.0.0.1, and lets
//! Debian's Chromium render the page for chosen horses (`?horse=KEY&now=TS`). It
//! then reads the page's numbers out of the dumped DOM and demands they equal what
//! the native core answers for the same request through `Api::handle`: label,
//! classes, probabilities (bit for bit), every feature value, status and event
//! time, and the ids. It covers fresh rows, nulls, rows past the view's ttl, an
//! unknown horse, a bad key (the core's 400 message shown on the page) and a
//! damaged bundle (the loader's message shown on the page).
//!
//! Needs `CHROMIUM_BIN` and `WASM_BINDGEN_BIN` (`scripts/setup --print-env`;
//! `scripts/test` sets them). Without them the test says so loudly and passes, so
//! a plain `cargo test` works on a machine without a browser.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};
use verge_core::api::{Api, Limits};
use verge_core::artifact::signature::SigningKey;
use verge_core::artifact::{
    ArtifactKind, Bundle, BundleContents, ModelPart, Snapshot, SnapshotBuilder, TrainingMetadata,
    ViewBuilder,
};
use verge_core::definition::{
    Definitions, Encoding, Entity, EstimatorSpec, FeatureRef, FeatureService, FeatureView, Field,
    Imputation, ModelSpec, OnDemandFeatureView, OnDemandField, Scaling, Source, SourceFormat,
};
use verge_core::expr::{Program, Schema};
use verge_core::pipeline::{ColumnMeta, PipelineParams, fit_pipeline};
use verge_core::{ContentId, DType, Duration, EntityKey, KeyPart, Timestamp, Value};
use verge_test_kit::chromium::{chromium, render, serve, site_with_package};
use verge_test_kit::workspace;

/// UCI columns (1-based) of the view's eight clinical fields, in service order.
const FIELDS: [(usize, &str); 8] = [
    (4, "rectal_temperature"),
    (20, "total_protein"),
    (8, "peripheral_pulse"),
    (13, "abdominal_distension"),
    (14, "nasogastric_tube"),
    (23, "outcome"),
    (19, "packed_cell_volume"),
    (16, "nasogastric_reflux_ph"),
];
const LABEL: usize = 24;
const HOSPITAL_NUMBER: usize = 3;
const VIEW: &str = "horse_colic_stats";
/// The read time: 25 h after the first visit, so visits in the first hour are past the 1-day ttl.
const NOW: &str = "2021-07-05T01:00:00Z";
const FIRST_VISIT: &str = "2021-07-04T00:00:00Z";
const VISIT_SPACING_MINUTES: i64 = 5;

/// One UCI visit: hospital number, the eight fields (null for `?`), the label.
struct Visit {
    hospital_number: i64,
    fields: Vec<Value>,
    label: i64,
}

fn read_visits() -> Vec<Visit> {
    let text = verge_test_kit::horse_colic::DATA;
    let mut visits = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let number = |col: usize| -> Option<f64> {
            let cell = cells[col - 1];
            (cell != "?").then(|| cell.parse::<f64>().unwrap())
        };
        visits.push(Visit {
            hospital_number: number(HOSPITAL_NUMBER).unwrap() as i64,
            fields: FIELDS
                .iter()
                .map(|(col, _)| number(*col).map_or(Value::Null, Value::Float64))
                .collect(),
            label: number(LABEL).unwrap() as i64,
        });
    }
    assert_eq!(visits.len(), 300, "horse-colic.data has 300 visits");
    visits
}

fn definitions() -> Definitions {
    let mut fields: Vec<Field> = FIELDS
        .iter()
        .map(|(_, name)| Field::new(*name, DType::Float64))
        .collect();
    fields.push(Field::new("surgical_lesion", DType::Int64));
    let mut schema = vec![("baseline_temperature".to_string(), DType::Float64)];
    schema.extend(fields.iter().map(|f| (f.name.clone(), f.dtype)));
    let fever = Program::compile(
        "max(rectal_temperature - baseline_temperature, 0)",
        &Schema::new(schema),
    )
    .unwrap();
    let mut service: Vec<FeatureRef> = FIELDS
        .iter()
        .map(|(_, name)| FeatureRef::parse(&format!("{VIEW}:{name}")).unwrap())
        .collect();
    service.push(FeatureRef::parse("horse_colic_derived:fever").unwrap());
    let mut defs = Definitions {
        project: "horse_colic".into(),
        entities: vec![Entity {
            name: "horse".into(),
            join_keys: vec![Field::new("hospital_number", DType::Int64)],
            description: String::new(),
        }],
        sources: vec![Source {
            name: "colic_records".into(),
            path: "data/horse_colic.db".into(),
            format: SourceFormat::Csv,
            timestamp_field: "timestamp".into(),
            created_timestamp_field: None,
            field_mapping: vec![],
        }],
        feature_views: vec![FeatureView {
            name: VIEW.into(),
            entities: vec!["horse".into()],
            source: "colic_records".into(),
            ttl: Duration::from_days(1),
            online: true,
            fields,
            description: String::new(),
            owner: String::new(),
            tags: vec![],
        }],
        on_demand_views: vec![OnDemandFeatureView {
            name: "horse_colic_derived".into(),
            sources: vec![VIEW.into()],
            request: vec![Field::new("baseline_temperature", DType::Float64)],
            fields: vec![OnDemandField {
                name: "fever".into(),
                dtype: DType::Float64,
                program: fever,
            }],
        }],
        feature_services: vec![FeatureService {
            name: "surgical_lesion_v1".into(),
            features: service,
            description: String::new(),
        }],
        models: vec![ModelSpec {
            name: "surgical_lesion".into(),
            feature_service: "surgical_lesion_v1".into(),
            label: "surgical_lesion".into(),
            impute: Imputation::Mean,
            scale: Scaling::None,
            encode: Encoding::OneHot,
            select_k_best: Some(5),
            estimator: EstimatorSpec::GaussianNb {
                var_smoothing: 1e-9,
            },
        }],
        push_sources: vec![],
    };
    defs.canonicalize();
    defs
}

/// The baseline the training rows' `fever` was computed with.
const TRAINING_BASELINE: f64 = 37.8;

fn bundle_bytes(defs: &Definitions, visits: &[Visit]) -> Vec<u8> {
    let mut columns: Vec<ColumnMeta> = FIELDS
        .iter()
        .map(|(_, name)| ColumnMeta::new(format!("{VIEW}:{name}"), DType::Float64))
        .collect();
    columns.push(ColumnMeta::new("horse_colic_derived:fever", DType::Float64));
    let rows: Vec<Vec<Value>> = visits
        .iter()
        .map(|v| {
            let mut row = v.fields.clone();
            row.push(match v.fields[0] {
                Value::Float64(t) => Value::Float64((t - TRAINING_BASELINE).max(0.0)),
                _ => Value::Null,
            });
            row
        })
        .collect();
    let y: Vec<Value> = visits.iter().map(|v| Value::Int64(v.label)).collect();
    let params = PipelineParams::new(EstimatorSpec::GaussianNb {
        var_smoothing: 1e-9,
    })
    .impute(Some(Imputation::Mean))
    .select_k_best(Some(5));
    let pipeline = fit_pipeline(&params, &columns, &rows, &y).unwrap();
    let plan = BundleContents::plan(defs, "surgical_lesion_v1").unwrap();
    BundleContents {
        registry_id: ContentId::of(b"browser test registry"),
        service: "surgical_lesion_v1".into(),
        entity_keys: plan.entity_keys,
        request: plan.request,
        views: plan.views,
        features: plan.features,
        model: Some(ModelPart {
            name: "surgical_lesion".into(),
            pipeline,
            training: TrainingMetadata {
                rows: visits.len() as u64,
                data_hash: ContentId::of(b"horse-colic.data"),
                label: "surgical_lesion".into(),
                metrics: vec![],
                trained_with: "verge-core".into(),
                trained_at: Timestamp(0),
            },
        }),
    }
    .to_bytes()
    .unwrap()
}

fn visit_time(i: usize) -> Timestamp {
    let first = Timestamp::parse_rfc3339(FIRST_VISIT).unwrap();
    Timestamp(first.0 + i as i64 * VISIT_SPACING_MINUTES * 60_000_000)
}

/// One row per horse: its latest visit (a horse that came back keeps the later one).
fn latest_visits(visits: &[Visit]) -> BTreeMap<i64, usize> {
    let mut latest = BTreeMap::new();
    for (i, v) in visits.iter().enumerate() {
        latest.insert(v.hospital_number, i);
    }
    latest
}

fn snapshot_bytes(defs: &Definitions, visits: &[Visit]) -> Vec<u8> {
    let view = defs.feature_view(VIEW).unwrap();
    let mut b = ViewBuilder::new(
        VIEW,
        defs.join_keys(view),
        view.fields.clone(),
        view.ttl,
        false,
    );
    for (&number, &i) in &latest_visits(visits) {
        let mut values = visits[i].fields.clone();
        values.push(Value::Int64(visits[i].label));
        b.push_row(
            &EntityKey::single(KeyPart::Int64(number)),
            visit_time(i),
            None,
            &values,
        )
        .unwrap();
    }
    SnapshotBuilder::new(
        ContentId::of(b"browser test registry"),
        visit_time(0),
        Timestamp::parse_rfc3339(NOW).unwrap(),
    )
    .with_view(b)
    .finish()
    .unwrap()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The opening tag carrying `id="id"` and the text right after it, up to the next tag.
fn element<'a>(dom: &'a str, id: &str) -> (&'a str, String) {
    let marker = format!("id=\"{id}\"");
    let at = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in the page:\n{dom}"));
    let start = dom[..at].rfind('<').unwrap();
    let end = at + dom[at..].find('>').unwrap();
    let rest = &dom[end + 1..];
    let text = &rest[..rest.find('<').unwrap_or(rest.len())];
    (&dom[start..=end], unescape(text))
}

fn page_state(dom: &str) -> String {
    let (tag, _) = element(dom, "status");
    let at = tag.find("data-state=\"").unwrap() + "data-state=\"".len();
    tag[at..at + tag[at..].find('"').unwrap()].to_string()
}

/// `(feature name, status)` of each row of the page's feature table, in order.
fn feature_rows(dom: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(at) = rest.find("<tr data-name=\"") {
        rest = &rest[at + "<tr data-name=\"".len()..];
        let name = unescape(&rest[..rest.find('"').unwrap()]);
        let s = rest.find("class=\"status ").unwrap() + "class=\"status ".len();
        let status = rest[s..s + rest[s..].find('"').unwrap()].to_string();
        out.push((name, status));
    }
    out
}

/// The JSON a page wrote into its `out` element once `data-state` is `done`
/// (the whole DOM in the message when it never finished or hit a fatal error).
fn page_output(dom: &str) -> Json {
    let (tag, text) = element(dom, "out");
    assert!(
        tag.contains("data-state=\"done\""),
        "the page did not finish:\n{dom}"
    );
    let out: Json = serde_json::from_str(&text).unwrap();
    assert!(out.get("fatal").is_none(), "{out}");
    out
}

/// What a page records for a call: `{"ok": answer}` or `{"error": message}`,
/// from the native API.
fn native_outcome(api: &Api, path: &str, body: &Json, now: Timestamp) -> Json {
    let r = api.handle("POST", path, &serde_json::to_vec(body).unwrap(), now);
    let json: Json = serde_json::from_slice(&r.body).unwrap();
    if r.status == 200 {
        json!({ "ok": json })
    } else {
        json!({ "error": json["error"]["message"] })
    }
}

/// Asserts the page's `name` entry equals `want` (numbers compared by value).
fn expect_same(out: &Json, name: &str, want: &Json) {
    assert!(
        same(&out[name], want),
        "{name}: page {} native {want}",
        out[name]
    );
}

/// JSON equality where numbers compare as f64, bit for bit (JavaScript prints
/// `38.0` as `38`; the value is the same double).
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => {
            x.as_f64().unwrap().to_bits() == y.as_f64().unwrap().to_bits()
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// What the native core answers for one entity: `/predict`'s answer, unchanged,
/// which is what `Runtime.predict` returns.
fn native_prediction(api: &Api, entity: &Json, request: Option<&Json>) -> Result<Json, String> {
    let wrap = |row: &Json| -> Json {
        Json::Object(
            row.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), json!([v])))
                .collect(),
        )
    };
    let mut body = json!({ "entities": wrap(entity) });
    if let Some(request) = request {
        body["request_context"] = wrap(request);
    }
    let response = api.handle(
        "POST",
        "/predict",
        &serde_json::to_vec(&body).unwrap(),
        Timestamp::parse_rfc3339(NOW).unwrap(),
    );
    let all: Json = serde_json::from_slice(&response.body).unwrap();
    if response.status != 200 {
        return Err(all["error"]["message"].as_str().unwrap().to_string());
    }
    assert_eq!(all["predictions"].as_array().unwrap().len(), 1, "{all}");
    Ok(all)
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn the_page_shows_what_the_native_core_computes() {
    let Some(chromium) = chromium() else {
        return;
    };

    // The site: the example page, the package, the artifacts.
    let site = site_with_package();
    let root = site.path();
    for file in ["index.html", "app.js"] {
        std::fs::copy(
            workspace().join("examples/browser").join(file),
            root.join(file),
        )
        .unwrap();
    }
    let visits = read_visits();
    let defs = definitions();
    let bundle = bundle_bytes(&defs, &visits);
    let snapshot = snapshot_bytes(&defs, &visits);
    std::fs::write(root.join("bundle.bin"), &bundle).unwrap();
    std::fs::write(root.join("snapshot.bin"), &snapshot).unwrap();
    // One flipped byte in the payload: the hash check must catch it.
    let mut damaged = bundle.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x5a;
    std::fs::write(root.join("bundle-damaged.bin"), &damaged).unwrap();
    std::fs::write(root.join("api.html"), API_PAGE).unwrap();
    let (key, other) = signing_keys();
    let b = Bundle::load(&bundle).unwrap().id();
    let s = Snapshot::load(snapshot.clone()).unwrap().id();
    let signatures = json!({
        "publicKey": key.public_key().to_string(),
        "otherKey": other.public_key().to_string(),
        "bundle": key.sign(ArtifactKind::Bundle, b).to_string(),
        "snapshot": key.sign(ArtifactKind::Snapshot, s).to_string(),
    });
    std::fs::write(root.join("signatures.json"), signatures.to_string()).unwrap();
    if let Ok(keep) = std::env::var("VERGE_BROWSER_SITE") {
        // For a look by hand: `python3 -m http.server` in that directory.
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(keep.join("pkg")).unwrap();
        for entry in walk(root) {
            let to = keep.join(entry.strip_prefix(root).unwrap());
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&entry, to).unwrap();
        }
    }

    let api = Api::new(
        verge_core::online::Predictor::new(
            Bundle::load(&bundle).unwrap(),
            Snapshot::load(snapshot.clone()).unwrap(),
        )
        .unwrap(),
        Limits::default(),
    );
    let base = serve(root.to_path_buf());

    // Horses that exercise every status, chosen from the data.
    let latest = latest_visits(&visits);
    let fresh = |i: usize| {
        visit_time(i).0 + Duration::from_days(1).as_micros()
            >= Timestamp::parse_rfc3339(NOW).unwrap().0
    };
    let complete = latest
        .iter()
        .find(|&(_, &i)| fresh(i) && visits[i].fields.iter().all(|v| !v.is_null()))
        .map(|(&n, _)| n)
        .unwrap();
    let with_nulls = latest
        .iter()
        .find(|&(_, &i)| fresh(i) && visits[i].fields.iter().any(Value::is_null))
        .map(|(&n, _)| n)
        .unwrap();
    let stale = latest
        .iter()
        .find(|&(_, &i)| !fresh(i))
        .map(|(&n, _)| n)
        .unwrap();
    let unknown = 1_i64;
    assert!(!latest.contains_key(&unknown));

    let cases: Vec<(i64, Option<Json>, &[&str])> = vec![
        (
            complete,
            Some(json!({"baseline_temperature": 37.5})),
            &["PRESENT"],
        ),
        (
            with_nulls,
            Some(json!({"baseline_temperature": 37.2})),
            &["NULL_VALUE", "PRESENT"],
        ),
        (
            stale,
            Some(json!({"baseline_temperature": 37.5})),
            &["OUTSIDE_MAX_AGE"],
        ),
        (unknown, None, &["NOT_FOUND"]),
        (complete, None, &["PRESENT", "NULL_VALUE"]),
    ];
    for (horse, request, must_see) in cases {
        let mut url = format!("{base}/?horse={horse}&now={}", percent_encode(NOW));
        if let Some(r) = &request {
            url.push_str(&format!("&req={}", percent_encode(&r.to_string())));
        }
        let dom = render(&chromium, &url);
        assert_eq!(
            page_state(&dom),
            "ready",
            "{url}: the page did not finish:\n{dom}"
        );
        let (_, text) = element(&dom, "result-json");
        let page: Json = serde_json::from_str(&text).unwrap();
        let native =
            native_prediction(&api, &json!({"hospital_number": horse}), request.as_ref()).unwrap();
        assert!(
            same(&page, &native),
            "horse {horse}: the page and the native core differ\npage:   {page}\nnative: {native}"
        );

        // What a person sees: the label, one row per feature with its status, the ids.
        let one = &native["predictions"][0];
        let (_, label) = element(&dom, "label");
        assert_eq!(label, one["label"].to_string(), "horse {horse}");
        let rows = feature_rows(&dom);
        let names: Vec<&str> = native["feature_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        let statuses: Vec<&str> = one["features"]["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(
            rows,
            names
                .iter()
                .zip(&statuses)
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect::<Vec<_>>(),
            "horse {horse}"
        );
        for status in must_see {
            assert!(
                statuses.contains(status),
                "horse {horse} should show {status}: {statuses:?}"
            );
        }
        assert_eq!(
            element(&dom, "bundle-id").1,
            Bundle::load(&bundle).unwrap().id().to_string()
        );
        assert_eq!(
            element(&dom, "snapshot-id").1,
            native["snapshot_id"].as_str().unwrap()
        );
        let probabilities = one["probabilities"].as_array().unwrap();
        assert_eq!(probabilities.len(), 2);
        assert!(dom.contains(&format!(
            "{:.2} %",
            probabilities[0].as_f64().unwrap() * 100.0
        )));
    }

    // A key of the wrong type: the core's own 400 message, on the page.
    let dom = render(
        &chromium,
        &format!("{base}/?horse=abc&now={}", percent_encode(NOW)),
    );
    assert_eq!(page_state(&dom), "error");
    let expected = native_prediction(&api, &json!({"hospital_number": "abc"}), None).unwrap_err();
    assert_eq!(element(&dom, "error").1, expected);

    // A damaged bundle: the loader's message, on the page, and no prediction.
    let dom = render(
        &chromium,
        &format!(
            "{base}/?bundle=bundle-damaged.bin&horse={complete}&now={}",
            percent_encode(NOW)
        ),
    );
    assert_eq!(page_state(&dom), "error", "{dom}");
    let load_error = Bundle::load(&damaged).unwrap_err().to_string();
    let (_, shown) = element(&dom, "error");
    assert_eq!(shown, format!("cannot load the bundle: {load_error}"));
    assert!(element(&dom, "result").0.contains("hidden"));

    check_api_page(&chromium, &base, &api, &bundle, &snapshot, complete);
    check_api_page(&chromium, &base, &api, &bundle, &snapshot, with_nulls);
}

/// A bare page that drives every `Runtime` method and writes what each returned
/// (or the message it threw) into `#out` as JSON.
const API_PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<pre id="out" data-state="pending">pending</pre>
<script type="module">
import init, { Runtime } from "./pkg/verge_wasm.js";
const out = {};
const attempt = (f) => { try { return { ok: f() }; } catch (e) { return { error: String(e && e.message) }; } };
try {
  await init();
  const get = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
  const bundle = await get("bundle.bin");
  const snapshot = await get("snapshot.bin");
  const params = new URLSearchParams(location.search);
  const horse = Number(params.get("horse"));
  const now = params.get("now");
  const rt = Runtime.load(bundle, snapshot);
  out.hasSnapshot = rt.hasSnapshot;
  out.online = attempt(() => rt.getOnlineFeatures({
    feature_service: "surgical_lesion_v1",
    entities: { hospital_number: [horse, 1] },
    request_context: { baseline_temperature: [37.5, null] },
    now,
  }));
  out.onlineBad = attempt(() => rt.getOnlineFeatures({ features: ["horse_colic_stats:nope"], entities: { hospital_number: [horse] } }));
  out.predict = attempt(() => rt.predict({ hospital_number: horse }, { baseline_temperature: 37.5 }, new Date(now)));
  const answer = out.predict.ok;
  const p = answer.predictions[0];
  out.scoreArray = attempt(() => rt.score(p.features.values));
  out.scoreObject = attempt(() => rt.score(Object.fromEntries(answer.feature_names.map((n, i) => [n, p.features.values[i]]))));
  out.scoreBad = attempt(() => rt.score([1, 2]));
  out.version = attempt(() => rt.version());
  out.describe = attempt(() => rt.describe());
  out.keys = attempt(() => rt.keys(3));
  out.badNow = attempt(() => rt.predict({ hospital_number: horse }, undefined, "yesterday"));
  out.badSnapshot = attempt(() => Runtime.load(bundle, snapshot.subarray(0, 100)));
  const trust = await (await fetch("signatures.json")).json();
  const signedOpts = { publicKey: trust.publicKey, bundleSignature: trust.bundle, snapshotSignature: trust.snapshot };
  out.signed = attempt(() => Runtime.load(bundle, snapshot, signedOpts).version());
  out.unsigned = attempt(() => Runtime.load(bundle, snapshot, { publicKey: trust.publicKey }));
  out.otherKey = attempt(() => Runtime.load(bundle, snapshot, { ...signedOpts, publicKey: trust.otherKey }));
  out.swappedSignatures = attempt(() => Runtime.load(bundle, snapshot, { ...signedOpts, bundleSignature: trust.snapshot, snapshotSignature: trust.bundle }));
  out.unsignedSnapshot = attempt(() => Runtime.load(bundle, snapshot, { ...signedOpts, snapshotSignature: undefined }));
  out.badKey = attempt(() => Runtime.load(bundle, snapshot, { publicKey: "xyz" }));
  out.signedBundleOnly = attempt(() => Runtime.load(bundle, undefined, { publicKey: trust.publicKey, bundleSignature: trust.bundle }).hasSnapshot);
  out.noKeyNoCheck = attempt(() => Runtime.load(bundle, snapshot, { bundleSignature: trust.snapshot }).hasSnapshot);
  const alone = Runtime.load(bundle);
  out.aloneHasSnapshot = alone.hasSnapshot;
  out.alonePredict = attempt(() => alone.predict({ hospital_number: horse }));
  out.aloneOnline = attempt(() => alone.getOnlineFeatures({ features: ["horse_colic_stats:outcome"], entities: { hospital_number: [horse] } }));
  out.aloneScore = attempt(() => alone.score(p.features.values));
  out.aloneVersion = attempt(() => alone.version());
  out.aloneDescribe = attempt(() => alone.describe());
} catch (e) {
  out.fatal = String(e && e.message || e);
}
const pre = document.getElementById("out");
pre.textContent = JSON.stringify(out);
pre.dataset.state = "done";
</script>
"#;

/// Every `Runtime` method against the native core: `getOnlineFeatures`, `score`
/// (array and object, with and without a snapshot), `version`, `keys`, and the
/// messages of the errors they throw.
fn check_api_page(
    chromium: &str,
    base: &str,
    api: &Api,
    bundle: &[u8],
    snapshot: &[u8],
    horse: i64,
) {
    let dom = render(
        chromium,
        &format!("{base}/api.html?horse={horse}&now={}", percent_encode(NOW)),
    );
    let out = page_output(&dom);
    let now = Timestamp::parse_rfc3339(NOW).unwrap();
    let native = |path: &str, body: Json| native_outcome(api, path, &body, now);
    let expect = |name: &str, want: &Json| expect_same(&out, name, want);

    assert_eq!(out["hasSnapshot"], json!(true));
    expect(
        "online",
        &native(
            "/get-online-features",
            json!({
                "feature_service": "surgical_lesion_v1",
                "entities": { "hospital_number": [horse, 1] },
                "request_context": { "baseline_temperature": [37.5, null] },
                "now": NOW,
            }),
        ),
    );
    expect(
        "onlineBad",
        &native(
            "/get-online-features",
            json!({
                "features": ["horse_colic_stats:nope"], "entities": { "hospital_number": [horse] },
            }),
        ),
    );
    assert!(out["onlineBad"]["error"].as_str().unwrap().contains("nope"));
    let predicted = native_prediction(
        api,
        &json!({"hospital_number": horse}),
        Some(&json!({"baseline_temperature": 37.5})),
    )
    .unwrap();
    expect("predict", &json!({ "ok": predicted }));

    // Scoring the features a prediction read gives that prediction, bit for bit.
    let loaded = Bundle::load(bundle).unwrap();
    let one = &predicted["predictions"][0];
    let values = serde_json::to_vec(&one["features"]["values"]).unwrap();
    let scored: Json =
        serde_json::from_slice(&verge_core::api::score_json(&loaded, &values).unwrap()).unwrap();
    for key in ["label", "classes", "probabilities"] {
        assert!(
            same(&scored[key], &one[key]),
            "{key}: score {scored} predict {predicted}"
        );
    }
    for name in ["scoreArray", "scoreObject", "aloneScore"] {
        expect(name, &json!({ "ok": scored }));
    }
    let bad = verge_core::api::score_json(&loaded, b"[1, 2]")
        .unwrap_err()
        .message;
    expect("scoreBad", &json!({ "error": bad }));

    let version: Json = serde_json::from_slice(&api.version()).unwrap();
    expect("version", &json!({ "ok": version }));
    let keys = out["keys"]["ok"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    let table = Snapshot::load(snapshot.to_vec()).unwrap();
    for k in keys {
        let number = k["hospital_number"].as_i64().unwrap();
        assert!(
            table
                .lookup(0, &EntityKey::single(KeyPart::Int64(number)))
                .is_some(),
            "{k}"
        );
    }

    assert!(
        out["badNow"]["error"]
            .as_str()
            .unwrap()
            .contains("RFC 3339"),
        "{out}"
    );
    let truncated = Snapshot::load(snapshot[..100].to_vec())
        .unwrap_err()
        .to_string();
    expect(
        "badSnapshot",
        &json!({ "error": format!("cannot load the snapshot: {truncated}") }),
    );

    assert_eq!(out["aloneHasSnapshot"], json!(false));
    for name in ["alonePredict", "aloneOnline"] {
        assert!(
            out[name]["error"]
                .as_str()
                .unwrap()
                .contains("without a snapshot"),
            "{name}: {out}"
        );
    }
    // Signatures (`Runtime.load(bundle, snapshot, {publicKey, ...})`): the
    // core's own refusals, word for word.
    let (key, other) = signing_keys();
    let public = key.public_key();
    let (b, s) = (loaded.id(), table.id());
    let (bsig, ssig) = (
        key.sign(ArtifactKind::Bundle, b),
        key.sign(ArtifactKind::Snapshot, s),
    );
    expect("signed", &json!({ "ok": version }));
    let refusal = |r: Result<(), verge_core::Error>| json!({ "error": r.unwrap_err().to_string() });
    expect(
        "unsigned",
        &refusal(public.verify(ArtifactKind::Bundle, b, None)),
    );
    expect(
        "otherKey",
        &refusal(
            other
                .public_key()
                .verify(ArtifactKind::Bundle, b, Some(&bsig)),
        ),
    );
    expect(
        "swappedSignatures",
        &refusal(public.verify(ArtifactKind::Bundle, b, Some(&ssig))),
    );
    expect(
        "unsignedSnapshot",
        &refusal(public.verify(ArtifactKind::Snapshot, s, None)),
    );
    assert!(
        out["badKey"]["error"]
            .as_str()
            .unwrap()
            .contains("publicKey"),
        "{out}"
    );
    expect("signedBundleOnly", &json!({ "ok": false }));
    expect("noKeyNoCheck", &json!({ "ok": true }));

    // One version shape: without a snapshot, the same keys, the snapshot's null.
    let alone = &out["aloneVersion"]["ok"];
    assert_eq!(alone["bundle_id"], version["bundle_id"]);
    assert_eq!(alone["registry_id"], version["registry_id"]);
    for key in ["snapshot_id", "snapshot_registry_id", "snapshot_window_end"] {
        assert!(
            alone[key].is_null() && version[key].is_string(),
            "{key}: {alone}"
        );
    }
    let key_set = |j: &Json| j.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(key_set(alone), key_set(&version));
    let bundle_only: Json =
        serde_json::from_slice(&verge_core::api::version(&[&loaded], None)).unwrap();
    expect("aloneVersion", &json!({ "ok": bundle_only }));

    // One model-info shape: the core's, as the raw ABI's verge_model_info gives it.
    for (name, has_snapshot) in [("describe", true), ("aloneDescribe", false)] {
        let info: Json =
            serde_json::from_slice(&verge_core::api::model_info(&loaded, has_snapshot)).unwrap();
        assert_eq!(info["has_snapshot"], json!(has_snapshot));
        assert_eq!(info["feature_names"], predicted["feature_names"]);
        expect(name, &json!({ "ok": info }));
    }
}

/// The key the test signs with, and a stranger's.
fn signing_keys() -> (SigningKey, SigningKey) {
    (
        SigningKey::from_seed(&[7; 32]),
        SigningKey::from_seed(&[8; 32]),
    )
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A page over a deployment: `Runtime.load` a model bundle with the snapshot,
/// `addBundle` a second model and a feature bundle of another service, then
/// ask each of them by name; every answer (or message) goes into `#out`.
const DEPLOYMENT_PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<pre id="out" data-state="pending">pending</pre>
<script type="module">
import init, { Runtime } from "./pkg/verge_wasm.js";
const out = {};
const attempt = (f) => { try { return { ok: f() }; } catch (e) { return { error: String(e && e.message) }; } };
try {
  await init();
  const get = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
  const [m, m2, vitals, other, snapshot] = await Promise.all(
    ["m.bin", "m2.bin", "vitals.bin", "other.bin", "snapshot.bin"].map(get));
  const trust = await (await fetch("signatures.json")).json();
  const now = new URLSearchParams(location.search).get("now");
  const rt = Runtime.load(m, snapshot);
  out.added = attempt(() => { rt.addBundle(m2); rt.addBundle(vitals); return rt.hasSnapshot; });
  out.refused = attempt(() => rt.addBundle(other));
  out.predictM = attempt(() => rt.predict({ id: 1 }, { ambient: 38.25 }, now, "m"));
  out.predictM2 = attempt(() => rt.predict({ id: 2 }, { ambient: 37 }, now, "m2"));
  out.predictNoName = attempt(() => rt.predict({ id: 1 }, { ambient: 38.25 }, now));
  out.predictUnknown = attempt(() => rt.predict({ id: 1 }, { ambient: 38.25 }, now, "gbm"));
  out.onlineSvc = attempt(() => rt.getOnlineFeatures({
    feature_service: "svc", entities: { id: [1, 3] }, request_context: { ambient: [38.25, null] }, now }));
  out.onlineVitals = attempt(() => rt.getOnlineFeatures({ feature_service: "vitals", entities: { id: [1, 2] }, now }));
  out.version = attempt(() => rt.version());
  out.describe = attempt(() => rt.describe());
  out.scoreM2 = attempt(() => rt.score(out.predictM2.ok.predictions[0].features.values, "m2"));
  const signed = Runtime.load(m, snapshot);
  out.signedAdd = attempt(() => { signed.addBundle(m2, { publicKey: trust.publicKey, bundleSignature: trust.m2 }); return signed.version(); });
  out.unsignedAdd = attempt(() => signed.addBundle(vitals, { publicKey: trust.publicKey }));
  out.badLimits = attempt(() => rt.setLimits({ maxEntities: 0 }));
  rt.setLimits({ maxEntities: 1 });
  out.limited = attempt(() => rt.getOnlineFeatures({ feature_service: "vitals", entities: { id: [1, 2] }, now }));
  out.withinLimits = attempt(() => rt.getOnlineFeatures({ feature_service: "vitals", entities: { id: [1] }, now }));
} catch (e) {
  out.fatal = String(e && e.message || e);
}
const pre = document.getElementById("out");
pre.textContent = JSON.stringify(out);
pre.dataset.state = "done";
</script>
"#;

/// A feature bundle of a second service, `vitals`: the view fields of the
/// tiny service `svc` without its on-demand feature.
fn vitals_bundle() -> Vec<u8> {
    use verge_core::artifact::ServiceFeature;
    let tiny = verge_test_kit::tiny::Tiny::plain();
    let mut contents = Bundle::load(&tiny.bundle_bytes_for(None))
        .unwrap()
        .contents()
        .clone();
    contents.service = "vitals".into();
    contents
        .features
        .retain(|f| matches!(f, ServiceFeature::View { .. }));
    contents.request.clear();
    contents.to_bytes().unwrap()
}

/// `Runtime.addBundle`: one snapshot, two models and a feature bundle of
/// another service in one runtime answer `predict` by model name,
/// `getOnlineFeatures` by each service and `version` listing every bundle —
/// each exactly as the native `Api::serving` over the same deployment.
#[test]
fn added_bundles_answer_as_the_native_deployment() {
    use verge_core::online::Deployment;
    use verge_test_kit::tiny::{Tiny, now as tiny_now};
    let Some(chromium) = chromium() else {
        return;
    };
    let site = site_with_package();
    let root = site.path();
    let tiny = Tiny::plain();
    let (m, m2, vitals) = (
        tiny.bundle_bytes_for(Some("m")),
        tiny.bundle_bytes_for(Some("m2")),
        vitals_bundle(),
    );
    // Built on another view shape: the snapshot does not fit it.
    let other = Tiny::plain()
        .with_field("spo2")
        .bundle_bytes_for(Some("m3"));
    let snapshot = tiny.snapshot_bytes();
    for (name, bytes) in [
        ("m.bin", &m),
        ("m2.bin", &m2),
        ("vitals.bin", &vitals),
        ("other.bin", &other),
        ("snapshot.bin", &snapshot),
    ] {
        std::fs::write(root.join(name), bytes).unwrap();
    }
    let (key, _) = signing_keys();
    let m2_id = Bundle::load(&m2).unwrap().id();
    let signatures = json!({
        "publicKey": key.public_key().to_string(),
        "m2": key.sign(ArtifactKind::Bundle, m2_id).to_string(),
    });
    std::fs::write(root.join("signatures.json"), signatures.to_string()).unwrap();
    std::fs::write(root.join("deployment.html"), DEPLOYMENT_PAGE).unwrap();

    let deployment = |bundles: &[&Vec<u8>]| {
        Deployment::new(
            Snapshot::load(snapshot.clone()).unwrap(),
            bundles.iter().map(|b| Bundle::load(b).unwrap()).collect(),
        )
    };
    let api = Api::serving(deployment(&[&m, &m2, &vitals]).unwrap(), Limits::default());
    let now = tiny_now();
    let base = serve(root.to_path_buf());
    let dom = render(
        &chromium,
        &format!(
            "{base}/deployment.html?now={}",
            percent_encode(&now.to_rfc3339())
        ),
    );
    let out = page_output(&dom);
    let native = |path: &str, body: Json| native_outcome(&api, path, &body, now);
    let expect = |name: &str, want: &Json| expect_same(&out, name, want);

    expect("added", &json!({ "ok": true }));
    let refusal = deployment(&[&m, &m2, &vitals, &other]).unwrap_err();
    expect(
        "refused",
        &json!({ "error": format!("the bundle and the snapshot do not fit each other: {refusal}") }),
    );
    let predict = |id: i64, ambient: f64, model: Option<&str>| {
        let mut body =
            json!({ "entities": { "id": [id] }, "request_context": { "ambient": [ambient] } });
        if let Some(model) = model {
            body["model"] = json!(model);
        }
        native("/predict", body)
    };
    expect("predictM", &predict(1, 38.25, Some("m")));
    expect("predictM2", &predict(2, 37.0, Some("m2")));
    assert_eq!(
        out["predictM2"]["ok"]["bundle_id"],
        json!(m2_id.to_string()),
        "{out}"
    );
    expect("predictNoName", &predict(1, 38.25, None));
    assert!(
        out["predictNoName"]["error"]
            .as_str()
            .unwrap()
            .contains("give `model`")
    );
    expect("predictUnknown", &predict(1, 38.25, Some("gbm")));
    expect(
        "onlineSvc",
        &native(
            "/get-online-features",
            json!({ "feature_service": "svc", "entities": { "id": [1, 3] },
                    "request_context": { "ambient": [38.25, null] } }),
        ),
    );
    expect(
        "onlineVitals",
        &native(
            "/get-online-features",
            json!({ "feature_service": "vitals", "entities": { "id": [1, 2] } }),
        ),
    );
    // The vitals service's own features (svc's would add `excess`).
    assert_eq!(
        out["onlineVitals"]["ok"]["metadata"]["feature_names"],
        json!(["id", "temp", "pulse"]),
        "{out}"
    );
    // setLimits: the same 413 as the native API under the same limits.
    let limited = Api::serving(
        api.deployment().clone(),
        Limits {
            max_entities: 1,
            ..Limits::default()
        },
    );
    for (name, ids) in [("limited", json!([1, 2])), ("withinLimits", json!([1]))] {
        let body = json!({ "feature_service": "vitals", "entities": { "id": ids } });
        expect(
            name,
            &native_outcome(&limited, "/get-online-features", &body, now),
        );
    }
    assert!(
        out["limited"]["error"]
            .as_str()
            .is_some_and(|m| m.contains("the limit is 1")),
        "{out}"
    );
    assert!(
        out["badLimits"]["error"]
            .as_str()
            .is_some_and(|m| m.contains("limits.maxEntities must be a positive whole number")),
        "{out}"
    );
    let version: Json = serde_json::from_slice(&api.version()).unwrap();
    assert_eq!(version["bundles"].as_array().unwrap().len(), 3, "{version}");
    expect("version", &json!({ "ok": version }));
    // describe() is the first bundle's model info.
    let first = Bundle::load(&m).unwrap();
    let info: Json = serde_json::from_slice(&verge_core::api::model_info(&first, true)).unwrap();
    expect("describe", &json!({ "ok": info }));
    let values =
        serde_json::to_vec(&out["predictM2"]["ok"]["predictions"][0]["features"]["values"])
            .unwrap();
    let scored: Json = serde_json::from_slice(
        &verge_core::api::score_json(&Bundle::load(&m2).unwrap(), &values).unwrap(),
    )
    .unwrap();
    expect("scoreM2", &json!({ "ok": scored }));

    // Signatures: an added bundle is checked as `Runtime.load` checks one.
    let pair = Api::serving(deployment(&[&m, &m2]).unwrap(), Limits::default());
    let pair_version: Json = serde_json::from_slice(&pair.version()).unwrap();
    expect("signedAdd", &json!({ "ok": pair_version }));
    let unsigned = key
        .public_key()
        .verify(
            ArtifactKind::Bundle,
            Bundle::load(&vitals).unwrap().id(),
            None,
        )
        .unwrap_err();
    expect("unsignedAdd", &json!({ "error": unsigned.to_string() }));
}
