//! Unit tests of the converter on small hand-written rows.

use crate::table::*;
use crate::uci::*;
use rusqlite::Connection;
use verge_core::Timestamp;

const ROW: &str =
    "2 1 530101 38.50 66 28 3 3 ? 2 5 4 4 ? ? ? 3 5 45.00 8.40 ? ? 2 2 11300 00000 00000 2 ";

fn start() -> Timestamp {
    Timestamp::parse_rfc3339(DEFAULT_START).unwrap()
}

fn row_with(position: usize, value: &str) -> String {
    let mut fields: Vec<&str> = ROW.split_whitespace().collect();
    fields[position - 1] = value;
    fields.join(" ")
}

#[test]
fn parses_codes_measurements_and_missing_values() {
    let v = &parse_uci(&format!("\n{ROW}\n\n"), "f").unwrap()[0];
    assert_eq!(v.line, 2);
    assert_eq!(v.hospital_number, 530_101);
    assert_eq!(v.get("surgery"), Some(Number::Int(2)));
    assert_eq!(v.get("pulse"), Some(Number::Real(66.0)));
    assert_eq!(v.get("total_protein"), Some(Number::Real(8.4)));
    assert_eq!(v.get("nasogastric reflux PH"), None);
    assert_eq!(v.get("no such column"), None);
    assert_eq!(v.values.iter().filter(|x| x.is_none()).count(), 6);
    assert_eq!(v.surgical_lesion(), Some(2));
}

#[test]
fn errors_name_file_line_and_field() {
    let short = ROW
        .rsplit_once(' ')
        .unwrap()
        .0
        .trim_end()
        .rsplit_once(' ')
        .unwrap()
        .0;
    let err = parse_uci(&format!("{ROW}\n{short}\n"), "bad.data").unwrap_err();
    assert_eq!(
        err.to_string().split(" (").next().unwrap(),
        "bad.data:2: 27 fields, expected 28"
    );

    let err = parse_uci(&row_with(8, "3.5"), "bad.data")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("bad.data:1: field 8 (`peripheral pulse`): cannot read `3.5`"),
        "{err}"
    );

    let err = parse_uci(&row_with(4, "nan"), "x").unwrap_err().to_string();
    assert!(err.contains("field 4 (`rectal temperature`)"), "{err}");
    assert!(err.contains("finite number"), "{err}");

    let err = parse_uci(&row_with(3, "?"), "x").unwrap_err().to_string();
    assert!(
        err.starts_with("x:1: field 3 (`Hospital Number`) is missing"),
        "{err}"
    );
}

#[test]
fn event_times_are_unique_and_test_rows_come_last() {
    let two = format!("{ROW}\n{ROW}\n");
    let dataset = Dataset {
        start: start(),
        train: parse_uci(&two, "a").unwrap(),
        test: parse_uci(ROW, "b").unwrap(),
    };
    let rows = dataset.rows().unwrap();
    let times: Vec<String> = rows.iter().map(|r| r.event_time.to_rfc3339()).collect();
    assert_eq!(
        times,
        [
            "2021-06-25T00:00:00Z",
            "2021-06-25T00:01:00Z",
            "2021-06-25T00:02:00Z"
        ]
    );
    assert_eq!(rows[2].split, Split::Test);

    let late = Dataset {
        start: Timestamp::from_micros(i64::MAX - 1),
        ..dataset
    };
    assert!(late.rows().unwrap_err().to_string().contains("row 2"));
}

#[test]
fn database_holds_typed_values_nulls_and_times() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sub/colic.db");
    let dataset = Dataset {
        start: start(),
        train: parse_uci(ROW, "a").unwrap(),
        test: parse_uci(&row_with(3, "42"), "b").unwrap(),
    };
    let summary = write_db(&dataset, &db).unwrap();
    assert_eq!(
        (summary.train_rows, summary.test_rows, summary.nulls),
        (1, 1, 12)
    );
    // Writing again replaces the file rather than appending to it.
    write_db(&dataset, &db).unwrap();
    let conn = Connection::open(&db).unwrap();
    let rows: Vec<(i64, f64, Option<f64>, String, String, String)> = conn
        .prepare(
            "SELECT \"Hospital Number\", \"total protein\", \"nasogastric reflux PH\", \
             typeof(\"pulse\"), timestamp, split FROM data ORDER BY timestamp",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0],
        (
            530_101,
            8.4,
            None,
            "real".into(),
            "2021-06-25T00:00:00Z".into(),
            "train".into()
        )
    );
    assert_eq!((rows[1].0, rows[1].5.as_str()), (42, "test"));
    let names: Vec<String> = conn
        .prepare("SELECT * FROM data")
        .unwrap()
        .column_names()
        .map(str::to_owned)
        .collect();
    assert_eq!(names.len(), 26);
    assert_eq!(names[2], "Hospital Number");
    assert_eq!(names[24..], ["timestamp", "split"]);
    // Only the database is left in the directory: no temporary or journal files.
    let files: Vec<_> = std::fs::read_dir(db.parent().unwrap()).unwrap().collect();
    assert_eq!(files.len(), 1);
}

#[test]
fn entity_files_ask_for_each_labelled_row_at_its_own_time() {
    let dir = tempfile::tempdir().unwrap();
    let unlabelled = row_with(24, "?");
    let dataset = Dataset {
        start: start(),
        train: parse_uci(&format!("{ROW}\n{unlabelled}\n{ROW}\n"), "a").unwrap(),
        test: parse_uci(ROW, "b").unwrap(),
    };
    let summary = write_entities(&dataset, dir.path()).unwrap();
    assert_eq!(
        summary,
        EntitySummary {
            train_rows: 2,
            holdout_rows: Some(1),
            unlabelled: 1
        }
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(TRAIN_ENTITIES)).unwrap(),
        "hospital_number,event_timestamp\n530101,2021-06-25T00:00:00Z\n530101,2021-06-25T00:02:00Z\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(HOLDOUT_ENTITIES)).unwrap(),
        "hospital_number,event_timestamp\n530101,2021-06-25T00:03:00Z\n"
    );

    let no_test = tempfile::tempdir().unwrap();
    let dataset = Dataset {
        test: Vec::new(),
        ..dataset
    };
    assert_eq!(
        write_entities(&dataset, no_test.path())
            .unwrap()
            .holdout_rows,
        None
    );
    assert!(!no_test.path().join(HOLDOUT_ENTITIES).exists());
}
