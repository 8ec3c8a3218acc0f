//! `verge train` on a model that fits but learned nonsense: each sign is a
//! `warning:` line (and an entry of `warnings` in `--json`) and the bundle is
//! stored; with `--strict` it is refused with exit 2 and nothing is stored.

use verge_host::artifacts::ArtifactStore;

use crate::support::{Repo, run_expect, silent, warns};

const TRAIN: [&str; 4] = ["train", "surgical_lesion", "--entities", "entities.csv"];

/// `verge init`'s repository with the model turned into a linear regression
/// (ordinal encoding: one-hot columns plus the intercept are collinear) on
/// numeric labels, one per entity row.
fn regression(labels: &[&str]) -> Repo {
    let repo = Repo::init();
    let config = repo.config().replace(
        "estimator = \"gaussian_nb\"",
        "estimator = \"linear_regression\"\nencode = \"ordinal\"",
    );
    assert_ne!(config, repo.config(), "the template changed");
    repo.write("verge.toml", &config);
    run_expect(&repo.path, &["apply"], 0);
    relabel(&repo, "entities.csv", labels);
    repo
}

/// Rewrites the last column (the label) of entity table `file`.
fn relabel(repo: &Repo, file: &str, labels: &[&str]) {
    let text = repo.read("entities.csv");
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<String> = lines
        .zip(labels)
        .map(|(l, y)| format!("{},{y}", l.rsplit_once(',').unwrap().0))
        .collect();
    assert_eq!(rows.len(), labels.len(), "one label per entity row");
    repo.write(file, &format!("{header}\n{}\n", rows.join("\n")));
}

fn stored(repo: &Repo) -> bool {
    ArtifactStore::open(&repo.path)
        .get_ref("model/surgical_lesion")
        .unwrap()
        .is_some()
}

/// `--strict` refuses with exit 2, says why, and stores nothing.
#[track_caller]
fn refused(repo: &Repo, args: &[&str], needle: &str) {
    let strict: Vec<&str> = args.iter().copied().chain(["--strict"]).collect();
    let r = run_expect(&repo.path, &strict, 2);
    assert!(
        r.stderr
            .contains("--strict: not storing model `surgical_lesion`")
            && r.stderr.contains(needle),
        "{}",
        r.stderr
    );
    assert!(!stored(repo), "a refused model is not stored");
}

#[test]
fn a_constant_regression_label() {
    let repo = regression(&["2.5"; 10]);
    let needle = "model `surgical_lesion`: label `surgical_lesion` is constant: all 10 training rows have 2.5, so the linear regression can only ever predict 2.5";
    refused(&repo, &TRAIN, needle);
    let r = run_expect(&repo.path, &TRAIN, 0);
    warns(&r, needle);
    // Said once: the RMSE check does not pile on.
    assert_eq!(r.stderr.matches("warning: ").count(), 1, "{}", r.stderr);
    assert!(stored(&repo));
    let r = run_expect(
        &repo.path,
        &[TRAIN[0], TRAIN[1], TRAIN[2], TRAIN[3], "--json"],
        0,
    );
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["warnings"][0]["count"], 10, "{json}");
    assert!(
        json["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("is constant"),
        "{json}"
    );
}

#[test]
fn a_holdout_rmse_worse_than_the_training_mean() {
    // Training labels vary (mean 4.5); the holdout's all sit at that mean, so
    // predicting the mean is perfect there and any fitted slope is worse.
    let labels = ["3", "9", "1", "7", "4", "8", "2", "6", "5", "0"];
    let repo = regression(&labels);
    relabel(&repo, "holdout.csv", &["4.5"; 10]);
    let args = [
        TRAIN[0],
        TRAIN[1],
        TRAIN[2],
        TRAIN[3],
        "--holdout",
        "holdout.csv",
    ];
    let needle = "the RMSE of predicting the training mean of `surgical_lesion` for every row";
    refused(&repo, &args, "holdout RMSE");
    let r = run_expect(&repo.path, &args, 0);
    warns(&r, "model `surgical_lesion`: holdout RMSE ");
    warns(&r, "over 10 rows is worse than 0.0000");
    warns(&r, needle);
    // Least squares with an intercept never does worse than the mean on its
    // own training rows.
    assert!(!r.stderr.contains("training RMSE"), "{}", r.stderr);
    // A holdout like the training set is no worse than the mean.
    relabel(&repo, "holdout.csv", &labels);
    silent(&run_expect(&repo.path, &args, 0));
}

#[test]
fn one_hot_over_a_text_feature_with_many_values() {
    let repo = Repo::init();
    run_expect(&repo.path, &["apply"], 0);
    // 60 horses, each in its own kind of pain.
    let mut vitals = String::from(
        "hospital_number,event_timestamp,created,temperature,pulse,total_protein,pain\n",
    );
    let mut entities = String::from("hospital_number,event_timestamp,surgical_lesion\n");
    for i in 0..60 {
        let pulse = 40 + i;
        vitals.push_str(&format!(
            "{},2021-06-01T08:00:00Z,2021-06-01T08:05:00Z,38.{},{pulse},6.{},pain{i:02}\n",
            600_000 + i,
            i % 10,
            i % 7
        ));
        let label = if i % 2 == 0 { "yes" } else { "no" };
        entities.push_str(&format!("{},2021-06-01T12:00:00Z,{label}\n", 600_000 + i));
    }
    repo.write("data/vitals.csv", &vitals);
    repo.write("entities.csv", &entities);
    let needle = "model `surgical_lesion`: text feature `horse_vitals:pain` has 60 distinct values in the 60 training rows (more than 50)";
    refused(&repo, &TRAIN, needle);
    let r = run_expect(&repo.path, &TRAIN, 0);
    warns(&r, needle);
    warns(
        &r,
        "set encode = \"ordinal\" on the model, or drop the feature from feature service `surgery_v1`",
    );
    // Ordinal encoding makes one column, so there is nothing to say.
    let config = repo.config().replace(
        "estimator = \"gaussian_nb\"",
        "estimator = \"gaussian_nb\"\nencode = \"ordinal\"",
    );
    repo.write("verge.toml", &config);
    run_expect(&repo.path, &["apply"], 0);
    silent(&run_expect(
        &repo.path,
        &[TRAIN[0], TRAIN[1], TRAIN[2], TRAIN[3], "--strict"],
        0,
    ));
}

#[test]
fn the_sample_model_has_no_doubts() {
    let repo = Repo::init();
    run_expect(&repo.path, &["apply"], 0);
    silent(&run_expect(
        &repo.path,
        &[TRAIN[0], TRAIN[1], TRAIN[2], TRAIN[3], "--strict"],
        0,
    ));
    assert!(stored(&repo));
}
