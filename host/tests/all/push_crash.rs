//! `verge push` and `materialize` (which folds the push log) SIGKILLed at
//! seeded moments while rows are pushed: every acknowledged push is still read
//! afterwards, the log never yields a half-written record, and the repository
//! verifies. `VERGE_CRASH_SEED` replays a run, `VERGE_CRASH_ROUNDS` sets the
//! kills (default 20), as in [`crate::crash`].
use std::collections::BTreeMap;
use std::fs;

use serde_json::Value as Json;
use verge_test_kit::rng::Rng;

use crate::crash::{check_registry, duration_of, kill_at_random, rounds};
use crate::push::pushable;
use crate::support::run_expect;

const HEADER: &str =
    "hospital_number,event_timestamp,created,rectal_temperature,pulse,total_protein,pain";
const WINDOW: [&str; 3] = [
    "materialize",
    "2021-06-01T00:00:00Z",
    "2021-06-06T00:00:00Z",
];

/// A push file of 2,000 rows for keys `base..base + 2000`, pulse `pulse`.
fn rows(repo: &std::path::Path, name: &str, base: i64, pulse: i64) {
    let mut text = format!("{HEADER}\n");
    for k in base..base + 2000 {
        text.push_str(&format!(
            "{k},2021-06-05T09:00:00Z,,38.0,{pulse},6.0,mild\n"
        ));
    }
    fs::write(repo.join(name), text).unwrap();
}

/// The served pulse of each key in `keys` at noon on 2021-06-05.
fn read(repo: &std::path::Path, keys: &[i64]) -> Vec<Json> {
    let mut args = vec![
        "get-online-features",
        "--features",
        "horse_vitals:pulse",
        "--now",
        "2021-06-05T12:00:00Z",
    ];
    let pairs: Vec<String> = keys
        .iter()
        .map(|k| format!("hospital_number={k}"))
        .collect();
    for p in &pairs {
        args.extend(["--entity", p.as_str()]);
    }
    let out: Json = serde_json::from_str(&run_expect(repo, &args, 0).stdout).unwrap();
    out["results"][1]["values"].as_array().unwrap().clone()
}

#[test]
fn killed_pushes_and_folds_never_lose_an_acknowledged_row_nor_read_a_torn_one() {
    let repo = pushable();
    let mut rng = Rng::from_env("VERGE_CRASH_SEED", "push crash");
    rows(&repo.path, "warm.csv", 100_000, 1);
    let push_time = duration_of(&repo.path, &["push", "vitals_push", "warm.csv"]);
    let fold_time = duration_of(&repo.path, &WINDOW);
    // key block -> pulse of each push that finished before its kill.
    let mut acknowledged = BTreeMap::new();
    for round in 0..rounds() as i64 {
        let name = format!("p{round}.csv");
        let base = 200_000 + round * 10_000;
        rows(&repo.path, &name, base, round);
        if !kill_at_random(
            &repo.path,
            &["push", "vitals_push", &name],
            push_time,
            &mut rng,
        ) {
            acknowledged.insert(base, round);
        }
        if round % 2 == 1 {
            kill_at_random(&repo.path, &WINDOW, fold_time, &mut rng);
        }
        // The log always decodes: a torn tail is never read as a record.
        verge_host::push::pending(&repo.path, None).unwrap();
    }
    let check = |label: &str| {
        for (base, pulse) in &acknowledged {
            let keys = [*base, base + 1999];
            assert_eq!(
                read(&repo.path, &keys),
                vec![Json::from(*pulse); 2],
                "{label}: push of block {base} lost (seed {})",
                rng.seed()
            );
        }
    };
    eprintln!(
        "push crash: {} of {} pushes finished before their kill",
        acknowledged.len(),
        rounds()
    );
    check("after the kills");
    run_expect(&repo.path, &WINDOW, 0);
    check("after a whole fold");
    check_registry(&repo);
    assert!(
        verge_host::push::pending(&repo.path, None)
            .unwrap()
            .0
            .is_empty()
    );
}
