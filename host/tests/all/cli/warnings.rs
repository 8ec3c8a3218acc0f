//! What verge skips or ignores in its input is warned about, with a count, on
//! stderr (`warning: ...`), and the command still succeeds: source rows with an
//! empty or `?` join key, `field_mapping` entries that map nothing, repeated
//! entity-table columns, and holdout labels the model never saw.

use crate::support::{Repo, historical, run_expect, silent, warns};

const WINDOW: [&str; 3] = [
    "materialize",
    "2021-01-01T00:00:00Z",
    "2021-06-06T00:00:00Z",
];

#[test]
fn source_rows_without_a_join_key_are_counted() {
    let repo = Repo::init();
    run_expect(&repo.path, &["apply"], 0);
    silent(&run_expect(&repo.path, &WINDOW, 0));
    let vitals = repo.read("data/vitals.csv");
    repo.write(
        "data/vitals.csv",
        &format!(
            "{}\n,2021-06-01T08:00:00Z,2021-06-01T08:05:00Z,38.5,66,6.5,mild\n?,2021-06-01T08:00:00Z,,38.0,60,6.0,mild\n",
            vitals.trim_end()
        ),
    );
    let needle = "source `vitals` (data/vitals.csv): 2 rows have an empty or `?` join key (`hospital_number`) and are skipped";
    warns(&run_expect(&repo.path, &WINDOW, 0), needle);
    warns(&historical(&repo, "entities.csv", 0), needle);
    // Counted in --json output too.
    let r = run_expect(&repo.path, &[WINDOW[0], WINDOW[1], WINDOW[2], "--json"], 0);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["warnings"][0]["count"], 2, "{json}");
    // Even with --quiet: a skipped row is not chatter.
    let r = run_expect(
        &repo.path,
        &[
            "--quiet",
            "materialize",
            "2021-01-01T00:00:00Z",
            "2021-06-06T00:00:00Z",
        ],
        0,
    );
    warns(&r, needle);
}

#[test]
fn field_mapping_entries_for_missing_columns_are_counted() {
    let repo = Repo::init();
    let config = repo.config().replace(
        "field_mapping = { \"temperature\" = \"rectal_temperature\" }",
        "field_mapping = { \"temperature\" = \"rectal_temperature\", \"weight_kg\" = \"weight\", \"colour\" = \"coat\" }",
    );
    assert_ne!(config, repo.config(), "the template changed");
    repo.write("verge.toml", &config);
    run_expect(&repo.path, &["apply"], 0);
    let needle = "source `vitals` (data/vitals.csv): 2 field_mapping entries name no column of the source (`colour`, `weight_kg`)";
    warns(&run_expect(&repo.path, &WINDOW, 0), needle);
    warns(&historical(&repo, "entities.csv", 0), needle);
}

#[test]
fn repeated_entity_columns_are_counted() {
    let repo = Repo::init();
    run_expect(&repo.path, &["apply"], 0);
    silent(&historical(&repo, "entities.csv", 0));
    let doubled: String = repo
        .read("entities.csv")
        .lines()
        .map(|l| format!("{l},{}\n", l.rsplit(',').next().unwrap()))
        .collect();
    repo.write("doubled.csv", &doubled);
    warns(
        &historical(&repo, "doubled.csv", 0),
        "entity table doubled.csv: 1 column repeats an earlier column's name (`surgical_lesion`)",
    );
}

#[test]
fn holdout_labels_the_model_never_saw_are_counted() {
    let repo = Repo::init();
    run_expect(&repo.path, &["apply"], 0);
    let train = [
        "train",
        "surgical_lesion",
        "--entities",
        "entities.csv",
        "--holdout",
        "holdout.csv",
    ];
    repo.write("holdout.csv", &repo.read("entities.csv"));
    silent(&run_expect(&repo.path, &train, 0));
    let entities = repo.read("entities.csv");
    let mut lines = entities.lines();
    let header = lines.next().unwrap();
    let rows: Vec<String> = lines
        .enumerate()
        .map(|(i, l)| match i {
            0 | 3 => l.replace(",no", ",maybe"),
            1 => l.replace(",yes", ",unknown"),
            _ => l.to_owned(),
        })
        .collect();
    repo.write("holdout.csv", &format!("{header}\n{}\n", rows.join("\n")));
    warns(
        &run_expect(&repo.path, &train, 0),
        "holdout table holdout.csv: 3 holdout rows have a label the model never saw in training (`maybe`, `unknown`)",
    );
}
