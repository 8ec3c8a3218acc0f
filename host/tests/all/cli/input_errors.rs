//! Bad input files and values name their real cause: a header-only entity
//! table, invalid UTF-8, integers beyond int64. Each exits 2 with the file, row
//! and column (or flag) in the message; invalid bytes in a column verge does
//! not read are no error at all.

use crate::support::{Repo, Run, historical, run_expect};

const HEADER: &str = "hospital_number,event_timestamp,surgical_lesion\n";

#[track_caller]
fn assert_says(r: &Run, needles: &[&str]) {
    for needle in needles {
        assert!(
            r.stderr.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stderr
        );
    }
}

#[test]
fn a_header_only_entity_table_says_it_has_no_rows() {
    let repo = Repo::init();
    run_expect(&repo.path, &["apply"], 0);
    repo.write("empty.csv", HEADER);
    let r = historical(&repo, "empty.csv", 2);
    assert_says(&r, &["empty.csv has no rows, only a header"]);
    assert!(!r.stderr.contains("Utf8"), "{}", r.stderr);
    let r = run_expect(
        &repo.path,
        &["train", "surgical_lesion", "--entities", "empty.csv"],
        2,
    );
    assert_says(&r, &["empty.csv has no rows, only a header"]);
    assert!(!repo.path.join("out.csv").exists());
    // verify would check nothing and pass.
    run_expect(
        &repo.path,
        &["train", "surgical_lesion", "--entities", "entities.csv"],
        0,
    );
    let window = [
        "materialize",
        "2021-01-01T00:00:00Z",
        "2021-06-06T00:00:00Z",
    ];
    run_expect(&repo.path, &window, 0);
    let r = run_expect(
        &repo.path,
        &[
            "verify",
            "--bundle",
            "model/surgical_lesion",
            "--entities",
            "empty.csv",
        ],
        2,
    );
    assert_says(&r, &["empty.csv has no rows, only a header"]);
}

#[test]
fn an_integer_key_beyond_int64_is_named_as_written() {
    let repo = Repo::init();
    run_expect(&repo.path, &["apply"], 0);
    repo.write(
        "wide.csv",
        &format!("{HEADER}530101,2021-06-01T12:00:00Z,no\n100000000000000000000,2021-06-02T12:00:00Z,no\n"),
    );
    let r = historical(&repo, "wide.csv", 2);
    assert_says(
        &r,
        &[
            "wide.csv: row 2, column `hospital_number`: 100000000000000000000 is beyond int64's range",
        ],
    );
    assert!(!r.stderr.contains("Float64"), "{}", r.stderr);

    run_expect(
        &repo.path,
        &[
            "materialize",
            "2021-01-01T00:00:00Z",
            "2021-06-06T00:00:00Z",
        ],
        0,
    );
    let r = run_expect(
        &repo.path,
        &[
            "get-online-features",
            "--features",
            "horse_vitals:pulse",
            "--entity",
            "hospital_number=100000000000000000000",
        ],
        2,
    );
    assert_says(
        &r,
        &[
            "`100000000000000000000` is beyond int64's range (-9223372036854775808 to 9223372036854775807)",
        ],
    );
}

#[test]
fn invalid_utf8_matters_only_in_a_column_that_is_read() {
    let repo = Repo::init();
    run_expect(&repo.path, &["apply"], 0);
    let vitals = repo.path.join("data/vitals.csv");
    let original = std::fs::read(&vitals).unwrap();
    // A `notes` column verge never reads, with Latin-1 bytes in row 2.
    let mut with_notes = Vec::new();
    for (i, line) in original.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        with_notes.extend_from_slice(line);
        with_notes.extend_from_slice(match i {
            0 => b",notes".as_slice(),
            2 => b",fi\xe8vre",
            _ => b",",
        });
        with_notes.push(b'\n');
    }
    std::fs::write(&vitals, &with_notes).unwrap();
    let window = [
        "materialize",
        "2021-01-01T00:00:00Z",
        "2021-06-06T00:00:00Z",
    ];
    run_expect(&repo.path, &window, 0);
    historical(&repo, "entities.csv", 0);

    // The same bytes in `pain`, a field of the feature view: row and column named.
    let text = String::from_utf8(original).unwrap();
    let mut bytes = text.replacen("severe", "\u{1}", 1).into_bytes();
    let at = bytes.iter().position(|&b| b == 1).unwrap();
    bytes[at] = 0xe8;
    std::fs::write(&vitals, &bytes).unwrap();
    let r = run_expect(&repo.path, &window, 2);
    assert_says(
        &r,
        &[
            "data/vitals.csv): row 2, column `pain`: not valid UTF-8",
            "save the file as UTF-8",
        ],
    );

    // In an entity table every column is carried through, so every column is read.
    repo.write("bad.csv", HEADER);
    let mut entities = std::fs::read(repo.path.join("bad.csv")).unwrap();
    entities.extend_from_slice(b"530101,2021-06-01T12:00:00Z,n\xf6\n");
    std::fs::write(repo.path.join("bad.csv"), entities).unwrap();
    let r = historical(&repo, "bad.csv", 2);
    assert_says(
        &r,
        &["bad.csv: row 1, column `surgical_lesion`: not valid UTF-8"],
    );
}
