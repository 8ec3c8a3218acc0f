//! Every Feast type at the edge (issue 14 §1): one typed deployment (see
//! [`fixture`]: a Parquet source holding every scalar, every array and the
//! JSON kinds, a feature service with on-demand array features), built and
//! published with the real `verge`, answers the same in the Cloudflare
//! Worker under workerd and in the browser package under headless Chromium
//! as `verge serve --native --bundle typed` does for the same body.
//!
//! - The Worker serves `verge publish typed --to DIR`; its
//!   `/get-online-features` answer (several keys, one unknown, the query
//!   embedding as request data) and its 400 for a key of the wrong type are
//!   the native server's, byte for byte.
//! - The browser's `Runtime` loads the same published bundle and snapshot;
//!   its `getOnlineFeatures` answer is the native one, value for value
//!   (through `JSON.parse`, so numbers compare as the doubles JavaScript
//!   holds and integers exactly), and its error for the wrong key carries
//!   the native message.
//!
//! The horse-colic example's models (see [`horse_trees`]: the naive Bayes,
//! the imported XGBoost and LightGBM trees, one published deployment) answer
//! `POST /predict` for every horse in the Worker and in the browser exactly as
//! the native core does: the Worker's body and the browser's `handle` body
//! byte for byte (numbers in shortest round-trip form, so the same f64 bits),
//! and the browser's `predict` probabilities, through `JSON.parse`, as the
//! same f64 bits.
//!
//! Skip rules are the edge tests' own: without `WORKERD_BIN` the Worker test,
//! without `CHROMIUM_BIN` and `WASM_BINDGEN_BIN` the browser test, says so
//! loudly and passes (`scripts/test` sets them all).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod fixture;
mod horse_trees;

use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use verge_test_kit::chromium;
use verge_test_kit::http::{Answer, Client};
use verge_test_kit::workerd::{Workerd, workerd_bin};

use fixture::{Deployment, NativeServer};

fn post(c: &Client, body: &[u8]) -> Answer {
    c.send(
        "POST",
        "/get-online-features",
        &[("content-type", "application/json")],
        body,
    )
}

/// The native answer is a real answer: every type in its online JSON form,
/// the unknown key null, the on-demand features computed. Without this the
/// comparisons below could pass over two equal empty answers.
fn check_native_answer(answer: &Json) {
    let names = answer["metadata"]["feature_names"].as_array().unwrap();
    let column = |name: &str| -> &Json {
        let i = names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("no {name} in {answer}"));
        &answer["results"][i]["values"]
    };
    assert_eq!(column("driver_id"), &json!([1001, 1002, 5, 1003, 1004]));
    assert_eq!(column("trips")[1], json!(-2_147_483_648_i64));
    assert_eq!(column("avatar")[0], json!("AAH/"));
    assert_eq!(column("last_seen")[0], json!("2021-06-25T16:36:26Z"));
    assert_eq!(
        column("metadata")[0],
        json!({"rating": "4.5", "vehicle": "suv"})
    );
    assert_eq!(column("embedding")[0], json!([0.5, -1.0, 2.0]));
    assert_eq!(column("embedding")[1], json!([]));
    assert_eq!(column("tags")[0], json!(["north", "east"]));
    assert_eq!(column("blobs")[0], json!(["AQ==", ""]));
    assert_eq!(column("tag_count"), &json!([2, 0, null, null, 1]));
    assert_eq!(column("total")[0], json!(6.0));
    // cosine([0.5,-1,2], [1,0.5,-0.25]) = -0.5 / (sqrt(5.25) * sqrt(1.3125)).
    let want = -0.5 / (5.25_f64.sqrt() * 1.3125_f64.sqrt());
    let got = column("match")[0].as_f64().unwrap();
    assert!((got - want).abs() < 1e-12, "cosine: {got} vs {want}");
    for (i, name) in names.iter().enumerate().skip(1) {
        assert_eq!(
            answer["results"][i]["values"][2],
            Json::Null,
            "{name} of the unknown key"
        );
    }
}

/// Polls the Worker's `/healthz` until it answers 200 (bounded).
fn wait_healthy(w: &Workerd) {
    let c = w.client();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = c.get("/healthz");
        if a.status == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never healthy: {a:?}\n{}",
            w.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_worker_answers_every_type_as_verge_serve_native() {
    if workerd_bin().is_none() {
        return;
    }
    let d = Deployment::build();
    let native = NativeServer::start(&d.repo);
    // The manifest never changes here: a long ttl keeps re-reads away; no admin routes.
    let mut worker = Workerd::start(&d.published, 600_000, &[("VERGE_ADMIN_TOKEN", "")]);
    wait_healthy(&worker);
    let cases = [
        ("typed request", fixture::request_body(), 200),
        ("wrong key type", fixture::wrong_key_body(), 400),
    ];
    for (what, body, status) in cases {
        let body = serde_json::to_vec(&body).unwrap();
        let want = post(&native.client(), &body);
        assert_eq!(want.status, status, "{what}: native {}", want.text());
        if status == 200 {
            check_native_answer(&want.json());
        }
        let got = post(&worker.client(), &body);
        assert_eq!(
            (got.status, got.text()),
            (want.status, want.text()),
            "{what}: the Worker (left) and verge serve --native (right) differ\n{}",
            worker.logs()
        );
        assert_eq!(got.body, want.body, "{what}");
        assert_eq!(got.content_type(), want.content_type(), "{what}");
    }
    assert!(worker.is_running(), "workerd exited:\n{}", worker.logs());
}

/// The page: loads the published pair through its manifest, asks
/// `getOnlineFeatures` the test's bodies, writes each answer (or message) to `#out`.
const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<pre id="out" data-state="pending">pending</pre>
<script type="module">
import init, { Runtime } from "./pkg/verge_wasm.js";
const out = {};
const attempt = (f) => { try { return { ok: f() }; } catch (e) { return { error: String(e && e.message) }; } };
try {
  await init();
  const get = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
  const manifest = await (await fetch("published/manifest.json")).json();
  const bundle = await get(`published/bundles/${manifest.bundle}.bin`);
  const snapshot = await get(`published/snapshots/${manifest.snapshot}.bin`);
  const bodies = await (await fetch("bodies.json")).json();
  const rt = Runtime.load(bundle, snapshot);
  out.online = attempt(() => rt.getOnlineFeatures(bodies.online));
  out.wrong = attempt(() => rt.getOnlineFeatures(bodies.wrong));
  // The text route: the exact request bytes in, the exact answer bytes out.
  const text = await (await fetch("online.json")).text();
  out.text = attempt(() => rt.handle("POST", "/get-online-features", text));
  out.wrongText = attempt(() => rt.handle("POST", "/get-online-features", JSON.stringify(bodies.wrong)));
} catch (e) {
  out.fatal = String(e && e.message || e);
}
const pre = document.getElementById("out");
// JSON.stringify writes -0 as 0: mark it, so a lost sign is the runtime's, not the page's.
pre.textContent = JSON.stringify(out, (k, v) => Object.is(v, -0) ? "-0" : v);
pre.dataset.state = "done";
</script>
"#;

/// Integers JavaScript's numbers hold exactly: |n| <= 2^53.
const SAFE: u64 = 1 << 53;

/// JSON equality as a page can hold it: objects by key (JavaScript orders
/// integer-like keys first), numbers as the same double (JavaScript prints
/// `2.0` as `2`), integers exactly; the page marks `-0` as the string `"-0"`.
///
/// The one accepted difference: an integer beyond ±2^53 (an int64 feature)
/// reaches the page as the nearest double, as `JSON.parse` reads every
/// number; anything else is a difference.
fn same(page: &Json, native: &Json) -> bool {
    match (page, native) {
        (Json::String(s), Json::Number(y)) if s == "-0" => {
            y.as_f64().map(f64::to_bits) == Some((-0.0_f64).to_bits())
        }
        (Json::Number(x), Json::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) if y.unsigned_abs() <= SAFE => x == y,
            // Precision JavaScript cannot hold: the nearest double.
            (_, Some(y)) if y.unsigned_abs() > SAFE => x.as_f64() == Some(y as f64),
            _ => x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits),
        },
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => page == native,
    }
}

#[test]
fn the_browser_runtime_answers_every_type_as_verge_serve_native() {
    let Some(chromium) = chromium::chromium() else {
        return;
    };
    let d = Deployment::build();
    let site = chromium::site_with_package();
    let root = site.path();
    let published = root.join("published");
    for rel in ["manifest.json", "bundles", "snapshots"] {
        copy(&d.published.join(rel), &published.join(rel));
    }
    let bodies = json!({"online": fixture::request_body(), "wrong": fixture::wrong_key_body()});
    std::fs::write(root.join("bodies.json"), bodies.to_string()).unwrap();
    let online = serde_json::to_vec(&bodies["online"]).unwrap();
    std::fs::write(root.join("online.json"), &online).unwrap();
    std::fs::write(root.join("typed.html"), PAGE).unwrap();
    let base = chromium::serve(root.to_path_buf());
    let out = chromium::page_output(&chromium::render(&chromium, &format!("{base}/typed.html")));
    assert!(out.get("fatal").is_none(), "{out}");

    let native = NativeServer::start(&d.repo);
    let c = native.client();
    let want = post(&c, &online);
    assert_eq!(want.status, 200, "{}", want.text());
    // `handle` gives the native status and bytes exactly, int64 beyond 2^53 included.
    assert_eq!(
        (
            &out["text"]["ok"]["status"],
            out["text"]["ok"]["body"].as_str()
        ),
        (&json!(200), Some(want.text().as_str())),
        "handle (left) and verge serve --native (right) differ"
    );
    let want = want.json();
    check_native_answer(&want);
    let got = &out["online"]["ok"];
    assert!(
        same(got, &want),
        "the browser (left) and verge serve --native (right) differ:\n{got}\n{want}"
    );
    let wrong = post(&c, &serde_json::to_vec(&bodies["wrong"]).unwrap());
    assert_eq!(wrong.status, 400, "{}", wrong.text());
    assert_eq!(
        (
            &out["wrongText"]["ok"]["status"],
            out["wrongText"]["ok"]["body"].as_str()
        ),
        (&json!(400), Some(wrong.text().as_str())),
        "an error through handle is the native 400, byte for byte"
    );
    assert_eq!(
        out["wrong"],
        json!({"error": wrong.json()["error"]["message"]}),
        "{out}"
    );
}

/// Copies a file or a directory tree.
fn copy(from: &std::path::Path, to: &std::path::Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap().flatten() {
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

#[test]
fn the_worker_answers_the_horse_colic_models_as_the_native_core() {
    if workerd_bin().is_none() {
        return;
    }
    let ex = horse_trees::Example::build();
    let native = ex.native();
    let worker = Workerd::start(&ex.published, 600_000, &[("VERGE_ADMIN_TOKEN", "")]);
    wait_healthy(&worker);
    for model in horse_trees::MODELS {
        let (status, want) = ex.native_answer(&native, model);
        let got = worker.client().send(
            "POST",
            "/predict",
            &[("content-type", "application/json")],
            &ex.body(model),
        );
        assert_eq!(
            (got.status, got.text()),
            (status, String::from_utf8(want).unwrap()),
            "{model}: the Worker (left) and the native core (right) differ\n{}",
            worker.logs()
        );
    }
}

/// The page for the horse-colic models: loads the published deployment
/// through its manifest (`addBundle` for each more bundle), then per model
/// answers the whole body through `handle` and each horse through `predict`.
const TREES_PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<pre id="out" data-state="pending">pending</pre>
<script type="module">
import init, { Runtime } from "./pkg/verge_wasm.js";
const out = {};
const attempt = (f) => { try { return { ok: f() }; } catch (e) { return { error: String(e && e.message) }; } };
try {
  await init();
  const get = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
  const manifest = await (await fetch("published/manifest.json")).json();
  const rt = Runtime.load(await get(`published/bundles/${manifest.bundle}.bin`),
                          await get(`published/snapshots/${manifest.snapshot}.bin`));
  for (const more of manifest.more_bundles || []) rt.addBundle(await get(`published/bundles/${more.bundle}.bin`));
  const cases = await (await fetch("cases.json")).json();
  for (const model of cases.models) {
    out[model] = {
      handle: attempt(() => rt.handle("POST", "/predict", cases.bodies[model])),
      predict: cases.horses.map((h) => attempt(() =>
        rt.predict({ hospital_number: h }, undefined, cases.now, model).predictions[0].probabilities)),
    };
  }
} catch (e) {
  out.fatal = String(e && e.message || e);
}
const pre = document.getElementById("out");
pre.textContent = JSON.stringify(out);
pre.dataset.state = "done";
</script>
"#;

#[test]
fn the_browser_answers_the_horse_colic_models_as_the_native_core() {
    let Some(chromium) = chromium::chromium() else {
        return;
    };
    let ex = horse_trees::Example::build();
    let native = ex.native();
    let site = chromium::site_with_package();
    let root = site.path();
    copy(&ex.published, &root.join("published"));
    let bodies: serde_json::Map<String, Json> = horse_trees::MODELS
        .iter()
        .map(|m| {
            (
                m.to_string(),
                Json::String(String::from_utf8(ex.body(m)).unwrap()),
            )
        })
        .collect();
    let cases = json!({"models": horse_trees::MODELS, "horses": ex.horses, "now": horse_trees::NOW, "bodies": bodies});
    std::fs::write(root.join("cases.json"), cases.to_string()).unwrap();
    std::fs::write(root.join("trees.html"), TREES_PAGE).unwrap();
    let base = chromium::serve(root.to_path_buf());
    let out = chromium::page_output(&chromium::render(&chromium, &format!("{base}/trees.html")));
    assert!(out.get("fatal").is_none(), "{out}");
    for model in horse_trees::MODELS {
        let (status, want) = ex.native_answer(&native, model);
        let want = String::from_utf8(want).unwrap();
        let page = &out[model];
        assert_eq!(
            (
                &page["handle"]["ok"]["status"],
                page["handle"]["ok"]["body"].as_str()
            ),
            (&json!(status), Some(want.as_str())),
            "{model}: handle in the browser (left) and the native core (right) differ"
        );
        let want: Json = serde_json::from_str(&want).unwrap();
        let bits = |probs: &Json| -> Vec<u64> {
            probs
                .as_array()
                .unwrap_or_else(|| panic!("{model}: not probabilities: {probs}"))
                .iter()
                .map(|p| p.as_f64().unwrap().to_bits())
                .collect()
        };
        for (i, horse) in ex.horses.iter().enumerate() {
            assert_eq!(
                bits(&page["predict"][i]["ok"]),
                bits(&want["predictions"][i]["probabilities"]),
                "{model}, hospital number {horse}: predict in the browser (left) and the native core (right)"
            );
        }
    }
}
