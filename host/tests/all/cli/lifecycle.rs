//! init → plan → apply → edit → plan → apply → log / show / diff.

use crate::support::{Repo, printed_id, run_expect, verge};

#[test]
fn full_lifecycle() {
    let repo = Repo::init();
    let p = &repo.path;

    // Nothing applied yet: the plan lists everything, --check fails with 1.
    let plan = run_expect(p, &["plan"], 0);
    assert!(
        plan.stdout.contains("+ [[feature_view]] horse_vitals"),
        "{}",
        plan.stdout
    );
    run_expect(p, &["plan", "--check"], 1);
    run_expect(p, &["registry", "log"], 0);

    let first = printed_id(&run_expect(p, &["apply", "-m", "first"], 0));
    // Re-applying unchanged definitions creates nothing and prints the same id.
    let again = run_expect(p, &["apply", "-m", "again"], 0);
    assert_eq!(printed_id(&again), first);
    assert!(again.stderr.contains("No changes"), "{}", again.stderr);
    assert_eq!(repo.history(), vec![first]);
    assert_eq!(repo.check_every_object(), 1);
    run_expect(p, &["plan", "--check"], 0);

    // Edit: update a view, delete the model, add a service.
    let edited = repo
        .config()
        .replace("ttl = \"2d\"", "ttl = \"3d\"")
        .replace(
            "[[model]]\nname = \"surgical_lesion\"\nfeature_service = \"surgery_v1\"\nlabel = \"surgical_lesion\"     # a column of the entity table\nimpute = \"mean\"\nscale = \"standard\"\nestimator = \"gaussian_nb\"\n",
            "[[feature_service]]\nname = \"pulse_only\"\nfeatures = [\"horse_vitals:pulse\"]\n",
        );
    assert_ne!(
        edited,
        repo.config(),
        "the edit must apply to the init template"
    );
    repo.write("verge.toml", &edited);
    let plan = run_expect(p, &["plan", "--check"], 1);
    assert_eq!(
        plan.stdout
            .lines()
            .filter(|l| l.starts_with("  "))
            .collect::<Vec<_>>(),
        [
            "  ~ [[feature_view]] horse_vitals",
            "  + [[feature_service]] pulse_only",
            "  - [[model]] surgical_lesion",
        ],
        "{}",
        plan.stdout
    );
    let json = run_expect(p, &["plan", "--json"], 0);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["head"], first.to_string());
    assert_eq!(json["changes"][0]["op"], "updated");
    assert_eq!(json["changes"][0]["kind"], "feature_view");

    let second = printed_id(&run_expect(p, &["apply", "-m", "three days"], 0));
    assert_ne!(second, first);
    run_expect(p, &["plan", "--check"], 0);
    assert_eq!(repo.history(), vec![second, first]);

    // Log: newest first, with parents and counts.
    let log = run_expect(p, &["registry", "log"], 0);
    let lines: Vec<&str> = log.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", log.stdout);
    assert!(lines[0].starts_with(&second.short()), "{}", log.stdout);
    assert!(lines[0].contains(&format!("parent {}", first.short())));
    assert!(
        lines[0].contains("+1 ~1 -1") && lines[0].ends_with("three days"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("+6 ~0 -0") && lines[1].ends_with("first"),
        "{}",
        lines[1]
    );
    let log: serde_json::Value =
        serde_json::from_str(&run_expect(p, &["registry", "log", "--json"], 0).stdout).unwrap();
    assert_eq!(log[0]["id"], second.to_string());
    assert_eq!(log[0]["parent"], first.to_string());
    assert_eq!(log[1]["parent"], serde_json::Value::Null);
    assert_eq!(
        (log[0]["created"].as_u64(), log[0]["deleted"].as_u64()),
        (Some(1), Some(1))
    );

    // Show the old version by prefix: it still has the model and the 2d ttl.
    let old = run_expect(p, &["registry", "show", &first.to_string()[..8]], 0);
    assert!(
        old.stdout
            .starts_with(&format!("# registry version {first}"))
    );
    assert!(old.stdout.contains("ttl = \"2d\"") && old.stdout.contains("[[model]]"));
    let head = run_expect(p, &["registry", "show"], 0);
    assert!(head.stdout.contains("ttl = \"3d\"") && !head.stdout.contains("[[model]]"));
    let shown: serde_json::Value = serde_json::from_str(
        &run_expect(p, &["registry", "show", &first.to_string(), "--json"], 0).stdout,
    )
    .unwrap();
    assert_eq!(shown["definitions"]["project"], "horse_clinic");
    assert_eq!(shown["message"], "first");

    // Diff both ways.
    let diff = run_expect(p, &["registry", "diff", &first.short(), "HEAD"], 0);
    assert!(
        diff.stdout.contains("- [[model]] surgical_lesion"),
        "{}",
        diff.stdout
    );
    let back = run_expect(
        p,
        &[
            "registry",
            "diff",
            &second.short(),
            &first.short(),
            "--json",
        ],
        0,
    );
    let back: serde_json::Value = serde_json::from_str(&back.stdout).unwrap();
    assert_eq!(back["changes"].as_array().unwrap().len(), 3);

    // An old version restored with `show > verge.toml` applies as a new version
    // whose definitions equal the old one's.
    repo.write("verge.toml", &old.stdout);
    let third = printed_id(&run_expect(p, &["apply", "-m", "restore"], 0));
    let same = run_expect(
        p,
        &["registry", "diff", &first.to_string(), &third.to_string()],
        0,
    );
    assert!(same.stdout.contains(": 0 change(s)"), "{}", same.stdout);
    assert_eq!(repo.history(), vec![third, second, first]);
}

#[test]
fn ids_and_prefixes_are_checked() {
    let repo = Repo::init();
    let p = &repo.path;
    let r = run_expect(p, &["registry", "show"], 2);
    assert!(r.stderr.contains("run `verge apply` first"), "{}", r.stderr);
    run_expect(p, &["apply"], 0);
    let r = run_expect(p, &["registry", "show", "ab"], 2);
    assert!(r.stderr.contains("at least 4 hex digits"), "{}", r.stderr);
    let r = run_expect(p, &["registry", "show", "zzzzzz"], 2);
    assert!(r.stderr.contains("not a registry id"), "{}", r.stderr);
    let head = repo.history()[0].to_string();
    let missing = if head.starts_with("0000") {
        "ffff"
    } else {
        "0000"
    };
    let r = run_expect(p, &["registry", "show", missing], 2);
    assert!(
        r.stderr.contains("no registry version starts with"),
        "{}",
        r.stderr
    );
}

#[test]
fn expect_head_guards_apply() {
    let repo = Repo::init();
    let p = &repo.path;
    let first = printed_id(&run_expect(p, &["apply", "--expect-head", "none"], 0));
    repo.write("verge.toml", &repo.config().replace("\"2d\"", "\"4d\""));
    let r = run_expect(p, &["apply", "--expect-head", "none"], 2);
    assert!(
        r.stderr.contains("conflict") && r.stderr.contains(&first.short()),
        "{}",
        r.stderr
    );
    run_expect(p, &["apply", "--expect-head", &first.short()], 0);
}

#[test]
fn init_refuses_a_non_empty_directory() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let r: crate::support::Run = verge().arg("init").arg(tmp.path()).output().unwrap().into();
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not empty"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn errors_print_the_cause_chain_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run_expect(tmp.path(), &["plan"], 2);
    assert!(
        r.stderr.starts_with("error: cannot read verge.toml"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("\n  caused by: "), "{}", r.stderr);
    // Usage errors are errors too.
    run_expect(tmp.path(), &["plan", "--bogus"], 2);
    run_expect(tmp.path(), &["--help"], 0);
}

#[test]
fn historical_needs_an_applied_registry() {
    let repo = Repo::init();
    let r = run_expect(
        &repo.path,
        &[
            "historical",
            "--entities",
            "entities.csv",
            "--service",
            "surgery_v1",
            "-o",
            "o.csv",
        ],
        2,
    );
    assert!(r.stderr.contains("run `verge apply` first"), "{}", r.stderr);
}
