//! `verge historical` on the init repository, compared byte for byte with a
//! reviewed golden file. Regenerate with `BLESS=1 cargo test -p verge-host --test all -- cli::historical`.

use std::path::Path;

use crate::support::{Repo, run_expect};

#[track_caller]
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with BLESS=1 to create it)", path.display()));
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

#[test]
fn training_set_from_a_service_matches_golden() {
    let repo = Repo::init();
    let p = &repo.path;
    run_expect(p, &["apply"], 0);
    let r = run_expect(
        p,
        &[
            "historical",
            "--entities",
            "entities.csv",
            "--service",
            "surgery_v1",
            "-o",
            "out.csv",
        ],
        0,
    );
    assert!(
        r.stderr.contains("Wrote 10 rows x 8 columns"),
        "{}",
        r.stderr
    );
    golden(
        "init_surgery_v1.csv",
        &std::fs::read_to_string(p.join("out.csv")).unwrap(),
    );
}

#[test]
fn explicit_features_with_full_names_match_golden() {
    let repo = Repo::init();
    let p = &repo.path;
    run_expect(p, &["apply"], 0);
    run_expect(
        p,
        &[
            "-q",
            "historical",
            "--entities",
            "entities.csv",
            "--features",
            "horse_vitals:pulse,derived:fever",
            "--full-feature-names",
            "-o",
            "out.csv",
        ],
        0,
    );
    golden(
        "init_full_names.csv",
        &std::fs::read_to_string(p.join("out.csv")).unwrap(),
    );
}

#[test]
fn filter_by_created_hides_late_corrections() {
    let repo = Repo::init();
    let p = &repo.path;
    run_expect(p, &["apply"], 0);
    // The 2021-06-02T08:00 correction was created at 09:30; an entity row at 09:00
    // must not see it with --filter-by-created, and must without.
    repo.write(
        "late.csv",
        "hospital_number,event_timestamp\n530101,2021-06-02T09:00:00Z\n",
    );
    let args = [
        "historical",
        "--entities",
        "late.csv",
        "--features",
        "horse_vitals:pulse",
    ];
    run_expect(p, &[&args[..], &["-o", "all.csv"]].concat(), 0);
    run_expect(
        p,
        &[&args[..], &["-o", "filtered.csv", "--filter-by-created"]].concat(),
        0,
    );
    let read = |n: &str| std::fs::read_to_string(p.join(n)).unwrap();
    assert_eq!(
        read("all.csv"),
        "hospital_number,event_timestamp,pulse\n530101,2021-06-02T09:00:00Z,84\n"
    );
    assert_eq!(
        read("filtered.csv"),
        "hospital_number,event_timestamp,pulse\n530101,2021-06-02T09:00:00Z,88\n"
    );
}

#[test]
fn bad_requests_exit_2() {
    let repo = Repo::init();
    let p = &repo.path;
    run_expect(p, &["apply"], 0);
    let r = run_expect(
        p,
        &[
            "historical",
            "--entities",
            "entities.csv",
            "--service",
            "nope",
            "-o",
            "o.csv",
        ],
        2,
    );
    assert!(
        r.stderr.contains("known services: surgery_v1"),
        "{}",
        r.stderr
    );
    let r = run_expect(
        p,
        &[
            "historical",
            "--entities",
            "entities.csv",
            "--features",
            "pulse",
            "-o",
            "o.csv",
        ],
        2,
    );
    assert!(r.stderr.contains("write view:field"), "{}", r.stderr);
    // Neither --service nor --features: a usage error.
    run_expect(
        p,
        &["historical", "--entities", "entities.csv", "-o", "o.csv"],
        2,
    );
    let r = run_expect(
        p,
        &[
            "historical",
            "--entities",
            "missing.csv",
            "--service",
            "surgery_v1",
            "-o",
            "o.csv",
        ],
        2,
    );
    assert!(r.stderr.contains("missing.csv"), "{}", r.stderr);
    assert!(!p.join("o.csv").exists());
}
