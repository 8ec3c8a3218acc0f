//! `verge push` end to end on a `verge init` repository whose view reads a
//! `[[push_source]]`: pushed rows are read over the snapshot (newer wins),
//! folded by `materialize`, and bad pushes leave the log unchanged.
use std::fs;
use std::path::Path;

use serde_json::Value as Json;

use crate::support::{Repo, run_expect};

const NOW: &str = "2021-06-05T12:00:00Z";
const HEADER: &str =
    "hospital_number,event_timestamp,created,rectal_temperature,pulse,total_protein,pain";

/// `horse_vitals:pulse` of `ids` at [`NOW`] as `verge get-online-features`
/// reads the repository (its latest snapshot and pending pushes).
pub fn repo_pulse(repo: &Path, ids: &[i64]) -> Json {
    let mut args = vec![
        "get-online-features".to_string(),
        "--features".into(),
        "horse_vitals:pulse".into(),
        "--now".into(),
        NOW.into(),
    ];
    for id in ids {
        args.extend(["--entity".into(), format!("hospital_number={id}")]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out: Json = serde_json::from_str(&run_expect(repo, &args, 0).stdout).unwrap();
    out["results"][1]["values"].clone()
}

/// The init repository with `horse_vitals` reading push source `vitals_push`,
/// applied and materialized.
pub fn pushable() -> Repo {
    let repo = Repo::init();
    let config = repo.path.join("verge.toml");
    let text = fs::read_to_string(&config).unwrap().replacen(
        "source = \"vitals\"\nttl",
        "source = \"vitals_push\"\nttl",
        1,
    ) + "\n[[push_source]]\nname = \"vitals_push\"\nbatch_source = \"vitals\"\n"
        + "\n[[feature_service]]\nname = \"fresh\"\nfeatures = [\"horse_vitals:pulse\"]\n";
    fs::write(&config, text).unwrap();
    run_expect(&repo.path, &["apply"], 0);
    run_expect(
        &repo.path,
        &[
            "materialize",
            "2021-06-01T00:00:00Z",
            "2021-06-06T00:00:00Z",
        ],
        0,
    );
    repo
}

fn write(repo: &Path, name: &str, rows: &[&str]) -> String {
    let mut text = format!("{HEADER}\n");
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    fs::write(repo.join(name), text).unwrap();
    name.to_owned()
}

/// `horse_vitals:pulse` of `ids` at NOW: (values, event timestamps).
fn pulse(repo: &Path, ids: &[&str]) -> (Vec<Json>, Vec<Json>) {
    let mut args = vec![
        "get-online-features",
        "--features",
        "horse_vitals:pulse",
        "--now",
        NOW,
    ];
    let pairs: Vec<String> = ids.iter().map(|i| format!("hospital_number={i}")).collect();
    for p in &pairs {
        args.extend(["--entity", p.as_str()]);
    }
    let out: Json = serde_json::from_str(&run_expect(repo, &args, 0).stdout).unwrap();
    let c = &out["results"][1];
    (
        c["values"].as_array().unwrap().clone(),
        c["event_timestamps"].as_array().unwrap().clone(),
    )
}

#[test]
fn pushed_rows_are_read_over_the_snapshot_newer_wins_and_fold_into_the_next() {
    let repo = pushable();
    let (before, _) = pulse(&repo.path, &["530101", "534817", "777"]);
    assert_eq!(before, vec![Json::Null, Json::from(92), Json::Null]);
    let file = write(
        &repo.path,
        "fresh.csv",
        &[
            // Newer than the snapshot's 2021-06-05T08:00 row: wins.
            "530101,2021-06-05T10:00:00Z,2021-06-05T10:00:00Z,38.0,70,6.0,mild",
            // Older than what the snapshot holds for 534817: loses.
            "534817,2021-06-01T00:00:00Z,2021-06-01T00:00:00Z,38.0,11,6.0,mild",
            // A key the snapshot does not have.
            "777,2021-06-05T11:00:00Z,,38.0,55,6.0,mild",
        ],
    );
    run_expect(&repo.path, &["push", "vitals_push", &file], 0);
    let (after, ts) = pulse(&repo.path, &["530101", "534817", "777"]);
    assert_eq!(after, vec![Json::from(70), Json::from(92), Json::from(55)]);
    assert_eq!(ts[0], Json::from("2021-06-05T10:00:00Z"));

    // A second push of the same key and time with a later created time wins.
    let file = write(
        &repo.path,
        "again.csv",
        &["530101,2021-06-05T10:00:00Z,2021-06-05T10:30:00Z,38.0,71,6.0,mild"],
    );
    run_expect(&repo.path, &["push", "vitals_push", &file], 0);
    assert_eq!(pulse(&repo.path, &["530101"]).0, vec![Json::from(71)]);

    // JSON columns, as Feast's `df`, and a later event time wins again.
    let text = r#"{"hospital_number": [530101], "event_timestamp": ["2021-06-05T11:00:00Z"],
        "created": [null], "rectal_temperature": [38.0], "pulse": [72], "total_protein": [6.0], "pain": ["mild"]}"#;
    fs::write(repo.path.join("fresh.json"), text).unwrap();
    run_expect(&repo.path, &["push", "vitals_push", "fresh.json"], 0);
    assert_eq!(pulse(&repo.path, &["530101"]).0, vec![Json::from(72)]);

    // materialize folds the log into the snapshot and drops what it folded.
    run_expect(
        &repo.path,
        &[
            "materialize",
            "2021-06-01T00:00:00Z",
            "2021-06-06T00:00:00Z",
        ],
        0,
    );
    let (rows, _) = verge_host::push::pending(&repo.path, None).unwrap();
    assert!(rows.is_empty(), "the folded rows are still in the log");
    let latest = verge_host::artifacts::ArtifactStore::open(&repo.path)
        .get_ref("snapshot/latest")
        .unwrap()
        .unwrap();
    let path = verge_host::artifacts::ArtifactStore::open(&repo.path)
        .path(latest, verge_core::artifact::ArtifactKind::Snapshot);
    let snapshot = verge_core::artifact::Snapshot::load(fs::read(path).unwrap()).unwrap();
    let table = snapshot.table_index("horse_vitals").unwrap();
    let row = snapshot
        .lookup_int(table, 777)
        .expect("the pushed key is in the snapshot");
    assert_eq!(snapshot.value(table, 1, row), verge_core::Value::Int64(55));
    assert_eq!(
        pulse(&repo.path, &["530101", "534817", "777"]).0,
        after_fold()
    );
}

fn after_fold() -> Vec<Json> {
    vec![Json::from(72), Json::from(92), Json::from(55)]
}

#[test]
fn bad_pushes_exit_2_naming_row_and_column_and_leave_the_log_unchanged() {
    let repo = pushable();
    let good = write(
        &repo.path,
        "good.csv",
        &["530101,2021-06-05T10:00:00Z,,38.0,70,6.0,mild"],
    );
    run_expect(&repo.path, &["push", "vitals_push", &good], 0);
    let log = repo.path.join(verge_host::push::LOG_FILE);
    let bytes = fs::read(&log).unwrap();

    let r = run_expect(&repo.path, &["push", "nope", &good], 2);
    assert!(
        r.stderr
            .contains("unknown push source `nope`; push sources: vitals_push"),
        "{}",
        r.stderr
    );
    let r = run_expect(&repo.path, &["push", "vitals", &good], 2);
    assert!(
        r.stderr.contains("unknown push source `vitals`"),
        "{}",
        r.stderr
    );

    let wrong = write(
        &repo.path,
        "wrong.csv",
        &[
            "530101,2021-06-05T10:00:00Z,,38.0,70,6.0,mild",
            "530101,2021-06-05T11:00:00Z,,38.0,fast,6.0,mild",
        ],
    );
    let r = run_expect(&repo.path, &["push", "vitals_push", &wrong], 2);
    assert!(
        r.stderr.contains("row 2") && r.stderr.contains("`pulse`"),
        "{}",
        r.stderr
    );

    let no_key = write(
        &repo.path,
        "nokey.csv",
        &[",2021-06-05T10:00:00Z,,38.0,70,6.0,mild"],
    );
    let r = run_expect(&repo.path, &["push", "vitals_push", &no_key], 2);
    assert!(
        r.stderr.contains("row 1, column `hospital_number`"),
        "{}",
        r.stderr
    );

    let no_time = write(&repo.path, "notime.csv", &["530101,,,38.0,70,6.0,mild"]);
    let r = run_expect(&repo.path, &["push", "vitals_push", &no_time], 2);
    assert!(r.stderr.contains("event_timestamp"), "{}", r.stderr);

    fs::write(
        repo.path.join("nocol.csv"),
        "hospital_number,event_timestamp,created,pulse\n1,2021-06-05,,3\n",
    )
    .unwrap();
    let r = run_expect(&repo.path, &["push", "vitals_push", "nocol.csv"], 2);
    assert!(
        r.stderr.contains("no column `rectal_temperature`"),
        "{}",
        r.stderr
    );

    assert_eq!(
        fs::read(&log).unwrap(),
        bytes,
        "a refused push changed the log"
    );
}
