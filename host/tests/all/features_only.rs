//! Feature-only serving, as most Feast users serve: a feature service that no
//! model uses gets a **feature bundle** (its plan, on-demand programs included,
//! and no model) from `verge build` and `verge serve --bundle SERVICE`, on the
//! Wasm module and the native core alike. `/get-online-features` answers for
//! the service and for any view of the snapshot; `/predict` is a 400 naming the
//! cause; `/version` has no model.
use serde_json::{Value as Json, json};
use verge_core::artifact::Bundle;
use verge_test_kit::http::{Answer, Client};

use crate::publish::Server;
use crate::support::{Repo, run_expect};

const T0: &str = "2021-06-01T00:00:00Z";
const T6: &str = "2021-06-06T00:00:00Z";

/// `verge init`'s repository plus a service of plain and on-demand features
/// that no model uses, applied and materialized.
fn repo_with_a_feature_service() -> Repo {
    let repo = Repo::init();
    add_feature_service(&repo);
    run_expect(&repo.path, &["materialize", T0, T6], 0);
    repo
}

/// Declares `vitals_only` (a plain and an on-demand feature, no model) in
/// `repo`'s verge.toml and applies it.
pub(crate) fn add_feature_service(repo: &Repo) {
    let config = repo.path.join("verge.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "\n[[feature_service]]\nname = \"vitals_only\"\nfeatures = [\"horse_vitals:pulse\", \"derived:fever\"]\n",
    );
    std::fs::write(&config, text).unwrap();
    run_expect(&repo.path, &["apply", "-m", "features"], 0);
}

/// POSTs `body` as JSON; the status and the answer's JSON.
pub(crate) fn post(c: &Client, path: &str, body: &Json) -> (u16, Json) {
    let Answer { status, body, .. } = c.send("POST", path, &[], body.to_string().as_bytes());
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
    (status, json)
}

#[test]
fn build_makes_a_feature_bundle_for_a_service_without_a_model() {
    let repo = repo_with_a_feature_service();
    let r = run_expect(&repo.path, &["build", "vitals_only", "-o", "feat"], 0);
    assert!(
        r.stderr
            .contains("feature service `vitals_only` (features only)"),
        "{}",
        r.stderr
    );
    let bundle = Bundle::load(&std::fs::read(repo.path.join("feat/bundle.bin")).unwrap()).unwrap();
    let c = bundle.contents();
    assert_eq!((c.service.as_str(), c.model_name()), ("vitals_only", None));
    let names: Vec<&str> = c.features.iter().map(|f| f.name()).collect();
    assert_eq!(names, ["horse_vitals:pulse", "derived:fever"]);
    // The same definitions build the same bundle: the ref does not move.
    let again = run_expect(&repo.path, &["build", "vitals_only", "-o", "feat2"], 0);
    assert_eq!(again.code, 0);
    assert_eq!(
        std::fs::read(repo.path.join("feat2/bundle.bin")).unwrap(),
        std::fs::read(repo.path.join("feat/bundle.bin")).unwrap()
    );
    let inspect = run_expect(&repo.path, &["inspect", "service/vitals_only", "--json"], 0);
    let report: Json = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(report["model"], Json::Null);
    assert_eq!(report["estimator"], Json::Null);
}

#[test]
fn serve_answers_features_only_on_both_engines() {
    let repo = repo_with_a_feature_service();
    for engine in [&[][..], &["--native"][..]] {
        let mut args = vec!["--bundle", "vitals_only"];
        args.extend_from_slice(engine);
        let server = Server::start(&repo, &args, None).unwrap();
        let c = Client::new(server.addr);
        let entities = json!({"hospital_number": [530101, 1]});

        // The service, on-demand feature included.
        let (status, answer) = post(
            &c,
            "/get-online-features",
            &json!({"feature_service": "vitals_only", "entities": entities, "now": T6}),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["metadata"]["feature_names"],
            json!(["hospital_number", "pulse", "fever"])
        );
        // Horse 530101's pulse is recorded as missing; horse 1 does not exist.
        assert_eq!(
            answer["results"][1]["statuses"],
            json!(["NULL_VALUE", "NOT_FOUND"])
        );
        assert_eq!(answer["results"][2]["statuses"][0], json!("PRESENT"));

        // Any field of a view in the snapshot, in or out of the service.
        let (status, answer) = post(
            &c,
            "/get-online-features",
            &json!({"features": ["horse_vitals:total_protein"], "entities": entities, "now": T6}),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["results"][1]["values"], json!([6.8, null]));

        // No model: /predict is the caller's 400, saying why.
        let (status, answer) = post(&c, "/predict", &json!({"entities": entities}));
        assert_eq!(status, 400, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("feature bundle"), "{message}");
        let Answer { status, body, .. } = c.get("/version");
        assert_eq!(status, 200);
        let version: Json = serde_json::from_slice(&body).unwrap();
        assert_eq!(version["model"], Json::Null);
        assert_eq!(version["feature_service"], json!("vitals_only"));
    }
}

/// A served feature bundle follows the registry: after `verge apply` changes
/// the service, the server builds the new feature bundle and serves it,
/// without a restart.
#[test]
fn serve_follows_a_changed_feature_service() {
    let repo = repo_with_a_feature_service();
    let server = Server::start(&repo, &["--bundle", "vitals_only", "--native"], None).unwrap();
    let c = Client::new(server.addr);
    let names = |c: &Client| {
        let (status, answer) = post(
            c,
            "/get-online-features",
            &json!({"feature_service": "vitals_only", "entities": {"hospital_number": [530101]}}),
        );
        assert_eq!(status, 200, "{answer}");
        answer["metadata"]["feature_names"].clone()
    };
    assert_eq!(names(&c), json!(["hospital_number", "pulse", "fever"]));
    let config = repo.path.join("verge.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "features = [\"horse_vitals:pulse\", \"derived:fever\"]",
        "features = [\"horse_vitals:pulse\", \"horse_vitals:total_protein\"]",
    );
    std::fs::write(&config, text).unwrap();
    run_expect(&repo.path, &["apply", "-m", "wider"], 0);
    let want = json!(["hospital_number", "pulse", "total_protein"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while names(&c) != want {
        assert!(
            std::time::Instant::now() < deadline,
            "the new service was never served: {}",
            server.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
