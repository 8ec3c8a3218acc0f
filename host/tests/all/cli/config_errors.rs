//! A broken `verge.toml` exits 2 with a message naming the file, the table and the key.

use crate::support::{Repo, run_expect};

/// Applies `edit` to the init template, runs `plan` and `apply`, and checks both
/// fail with every `needles` in the message and nothing written to the registry.
#[track_caller]
fn rejects(edit: impl Fn(&str) -> String, needles: &[&str]) {
    let repo = Repo::init();
    let edited = edit(&repo.config());
    assert_ne!(
        edited,
        repo.config(),
        "the edit did not change the template"
    );
    repo.write("verge.toml", &edited);
    for cmd in ["plan", "apply"] {
        let r = run_expect(&repo.path, &[cmd], 2);
        assert!(r.stderr.starts_with("error: verge.toml"), "{}", r.stderr);
        for needle in needles {
            assert!(
                r.stderr.contains(needle),
                "missing {needle:?} in:\n{}",
                r.stderr
            );
        }
    }
    assert!(repo.history().is_empty());
}

#[test]
fn syntax_error_shows_line_and_column() {
    rejects(
        |t| t.replace("project = \"horse_clinic\"", "project = \"horse_clinic"),
        &["line 3, column", "project = \"horse_clinic"],
    );
}

/// A syntax error is toml's own message with the line and column, never put in
/// a table guessed from a broken header or a line inside a multi-line value.
#[test]
fn syntax_errors_are_not_placed_in_a_guessed_table() {
    rejects(
        |t| t.replacen("[[source]]", "[[]]", 1),
        &["error: verge.toml: TOML parse error at line 13, column 3"],
    );
    rejects(
        |t| t.replacen("[[model]]", "[[model]]\n[", 1),
        &["error: verge.toml: TOML parse error at line 52, column 2"],
    );
}

#[test]
fn unknown_key_names_table_object_and_key() {
    rejects(
        |t| t.replace("online = true", "online = true\nttll = \"1d\""),
        &[
            "[[feature_view]] \"horse_vitals\"",
            "unknown field `ttll`",
            "line 26",
        ],
    );
}

#[test]
fn unknown_top_level_table() {
    rejects(
        |t| format!("{t}\n[[featureview]]\nname = \"x\"\n"),
        &["unknown field `featureview`"],
    );
}

#[test]
fn bad_ttl_has_a_hint() {
    rejects(
        |t| t.replace("ttl = \"2d\"", "ttl = \"1 day\""),
        &[
            "verge.toml: [[feature_view]] \"horse_vitals\": key \"ttl\": \"1 day\" is not a duration",
            "\"12h\"",
        ],
    );
    rejects(
        |t| t.replace("ttl = \"2d\"", "ttl = 86400"),
        &["key \"ttl\"", "needs a unit"],
    );
}

#[test]
fn unknown_source() {
    rejects(
        |t| t.replace("source = \"vitals\"", "source = \"vitalz\""),
        &[
            "[[feature_view]] `horse_vitals`",
            "source `vitalz` is not declared",
        ],
    );
}

#[test]
fn bad_feature_refs() {
    rejects(
        |t| t.replace("\"horse_vitals:pulse\",", "\"horse_vitals_pulse\","),
        &[
            "[[feature_service]] \"surgery_v1\": key \"features\"",
            "write \"view:field\"",
        ],
    );
    rejects(
        |t| t.replace("\"horse_vitals:pulse\",", "\"horse_vitals:pulze\","),
        &[
            "[[feature_service]] `surgery_v1`",
            "horse_vitals:pulze",
            "has: rectal_temperature",
        ],
    );
}

#[test]
fn bad_types_and_vocabulary_are_all_reported() {
    rejects(
        |t| {
            t.replace("dtype = \"int64\" }]", "dtype = \"integer\" }]")
                .replace("impute = \"mean\"", "impute = \"average\"")
                .replace("path = \"data/vitals.csv\"", "path = \"data/vitals.xlsx\"")
        },
        &[
            "3 problems",
            "[[entity]] \"horse\": key \"join_keys\": field \"hospital_number\": \"integer\" is not a type",
            "[[model]] \"surgical_lesion\": key \"impute\": \"average\"",
            "[[source]] \"vitals\": key \"path\"",
        ],
    );
}

#[test]
fn sqlite_source_needs_a_table() {
    rejects(
        |t| t.replace("path = \"data/vitals.csv\"", "path = \"data/vitals.db\""),
        &["[[source]] \"vitals\": key \"table\"", "SQLite"],
    );
}

#[test]
fn bad_expression() {
    rejects(
        |t| t.replace("expr = \"max(", "expr = \"maxx("),
        &[
            "[[on_demand_feature_view]] \"derived\"",
            "field \"fever\"",
            "maxx",
        ],
    );
}
