//! Deployments through the CLI: one snapshot and several bundles (a model and
//! a feature service no model uses), served by `verge serve --bundle A
//! --bundle B` on both engines, published together (`verge publish A B --to`)
//! and served `--from` the directory, grown by an admin upload that replaces
//! only its own model's bundle, and followed when the snapshot moves.
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use verge_core::artifact::manifest::PublishManifest;
use verge_test_kit::http::Client;

use crate::features_only::{add_feature_service, post};
use crate::publish::{Server, trained};
use crate::support::{Repo, run_expect, verge};

const T0: &str = "2021-06-01T00:00:00Z";
const T6: &str = "2021-06-06T00:00:00Z";
const TOKEN: &str = "tok-9c1f2e4d";

/// [`trained`] plus a feature service no model uses, `vitals_only`.
fn repo() -> Repo {
    let repo = trained();
    add_feature_service(&repo);
    repo
}

fn version(c: &Client) -> Json {
    serde_json::from_slice(&c.get("/version").body).unwrap()
}

/// `(model, feature_service)` of every bundle `/version` lists.
fn listed(version: &Json) -> Vec<(Json, Json)> {
    version["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["model"].clone(), b["feature_service"].clone()))
        .collect()
}

/// Every request a deployment of the model and `vitals_only` answers, with
/// the status it must give.
fn check_deployment(c: &Client) {
    let entities = json!({"hospital_number": [530101, 1]});
    let (status, answer) = post(c, "/predict", &json!({"entities": entities}));
    assert_eq!(status, 200, "one model: `model` may be left out: {answer}");
    let (status, named) = post(
        c,
        "/predict",
        &json!({"entities": entities, "model": "surgical_lesion"}),
    );
    assert_eq!((status, &named), (200, &answer));
    let (status, answer) = post(
        c,
        "/predict",
        &json!({"entities": entities, "model": "vitals_only"}),
    );
    assert_eq!(status, 400);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown model `vitals_only`; this deployment serves: surgical_lesion"),
        "{answer}"
    );
    for (service, width) in [("vitals_only", 3), ("surgery_v1", 0)] {
        let (status, answer) = post(
            c,
            "/get-online-features",
            &json!({"feature_service": service, "entities": entities}),
        );
        assert_eq!(status, 200, "{service}: {answer}");
        let names = answer["metadata"]["feature_names"].as_array().unwrap();
        if width > 0 {
            assert_eq!(names.len(), width, "{answer}");
        }
    }
    let (status, answer) = post(
        c,
        "/get-online-features",
        &json!({"feature_service": "billing", "entities": entities}),
    );
    assert_eq!(status, 400);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("this deployment serves: surgery_v1, vitals_only"),
        "{answer}"
    );
    assert_eq!(
        listed(&version(c)),
        [
            (json!("surgical_lesion"), json!("surgery_v1")),
            (Json::Null, json!("vitals_only"))
        ]
    );
}

#[test]
fn serve_answers_for_every_bundle_of_a_deployment_on_both_engines() {
    let repo = repo();
    for engine in [&[][..], &["--native"][..]] {
        let mut args = vec!["--bundle", "surgical_lesion", "--bundle", "vitals_only"];
        args.extend_from_slice(engine);
        let server = Server::start(&repo, &args, None).unwrap();
        check_deployment(&Client::new(server.addr));
    }
    // Two bundles one request could not tell apart are refused at startup.
    let r = run_expect(
        &repo.path,
        &[
            "serve",
            "--bundle",
            "surgical_lesion",
            "--bundle",
            "model/surgical_lesion",
            "--addr",
            "127.0.0.1:0",
        ],
        2,
    );
    assert!(r.stderr.contains("given twice"), "{}", r.stderr);
}

#[test]
fn a_published_deployment_is_served_from_its_directory_and_grown_by_uploads() {
    let repo = repo();
    run_expect(
        &repo.path,
        &["publish", "surgical_lesion", "vitals_only", "--to", "site"],
        0,
    );
    let site = repo.path.join("site");
    let m1 = PublishManifest::parse(&std::fs::read(site.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m1.current.bundles().count(), 2);

    let server = Server::start(
        &repo,
        &["--from", "site", "--admin-token-env", "ADMIN_TOK"],
        Some(TOKEN),
    )
    .unwrap();
    let c = Client::new(server.addr);
    check_deployment(&c);

    // A new snapshot and a retrained model, uploaded as one pair: the model's
    // bundle and the snapshot are replaced, the feature bundle stays.
    run_expect(&repo.path, &["materialize", T0, T6], 0);
    let pushed = verge()
        .arg("-C")
        .arg(&repo.path)
        .args(["publish", "surgical_lesion", "--url"])
        .arg(format!("http://{}", server.addr))
        .env("VERGE_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let v = version(&c);
    assert_ne!(v["snapshot_id"], json!(m1.current.snapshot.to_string()));
    check_deployment(&c);
    let m2 = PublishManifest::parse(&std::fs::read(site.join("manifest.json")).unwrap()).unwrap();
    let ids: Vec<String> = m2.current.bundles().map(|b| b.id.to_string()).collect();
    let served: Vec<String> = v["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["bundle_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, served, "the directory records what is served");
    assert_eq!(m2.previous.as_ref(), Some(&m1.current));
}

#[test]
fn a_deployment_follows_its_snapshot_ref() {
    let repo = repo();
    let server = Server::start(
        &repo,
        &["--bundle", "surgical_lesion", "--bundle", "vitals_only"],
        None,
    )
    .unwrap();
    let c = Client::new(server.addr);
    let before = version(&c);
    run_expect(&repo.path, &["materialize", T0, T6], 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        let v = version(&c);
        if v["snapshot_id"] != before["snapshot_id"] {
            break v;
        }
        assert!(Instant::now() < deadline, "{}", server.stderr());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(listed(&after), listed(&before));
    check_deployment(&c);
}

/// `verge serve --all` serves what the registry head can, as `feast serve`
/// serves its registry: the trained model's bundle, and a feature bundle for
/// the service no trained model serves.
#[test]
fn serve_all_serves_every_trained_model_and_feature_service() {
    let repo = repo();
    let server = Server::start(&repo, &["--all", "--native"], None).unwrap();
    check_deployment(&Client::new(server.addr));
    let r = run_expect(
        &repo.path,
        &["serve", "--all", "--bundle", "vitals_only"],
        2,
    );
    assert!(r.stderr.contains("--all"), "{}", r.stderr);
}
