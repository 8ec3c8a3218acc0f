//! Store tests: compare-and-swap, corruption detection, id resolution, apply.

use verge_core::definition::Definitions;
use verge_core::registry::{ChangeOp, RegistryVersion};
use verge_core::{ContentId, Timestamp};

use super::apply::{Applied, ApplyOptions, apply};
use super::{Conflict, Store};

fn defs(project: &str) -> Definitions {
    Definitions {
        project: project.into(),
        ..Definitions::default()
    }
}

fn version(parent: Option<ContentId>, project: &str) -> RegistryVersion {
    RegistryVersion::new(parent, Timestamp::from_secs(1), "", defs(project))
}

#[test]
fn cas_refuses_a_stale_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path());
    let a = store.write(&version(None, "a")).unwrap();
    let b = store.write(&version(Some(a), "b")).unwrap();
    store.compare_and_swap(None, a).unwrap();
    store.compare_and_swap(Some(a), b).unwrap();
    let err = store.compare_and_swap(Some(a), a).unwrap_err();
    let conflict = err.downcast_ref::<Conflict>().unwrap();
    assert_eq!(
        conflict,
        &Conflict {
            expected: Some(a),
            found: Some(b)
        }
    );
    assert!(err.to_string().contains("run `verge plan` and apply again"));
    assert_eq!(store.head().unwrap(), Some(b));
    assert_eq!(
        store
            .history(b)
            .unwrap()
            .iter()
            .map(|(id, _)| *id)
            .collect::<Vec<_>>(),
        vec![b, a]
    );
}

#[test]
fn writing_an_object_twice_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path());
    let v = version(None, "a");
    assert_eq!(store.write(&v).unwrap(), store.write(&v).unwrap());
    assert_eq!(store.object_ids().unwrap().len(), 1);
}

#[test]
fn corruption_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path());
    let id = store.write(&version(None, "a")).unwrap();
    let path = store.root().join("objects").join(id.to_string());
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let err = format!("{:#}", store.read(id).unwrap_err());
    assert!(err.contains("content hash mismatch"), "{err}");

    std::fs::create_dir_all(store.root().join("refs")).unwrap();
    std::fs::write(store.root().join("refs/main"), "not an id\n").unwrap();
    let err = store.head().unwrap_err().to_string();
    assert!(err.contains("does not hold a registry id"), "{err}");
}

#[test]
fn resolve_by_prefix_and_head() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path());
    assert!(store.resolve("HEAD").is_err());
    // Write versions until two share a first hex digit pair, to test ambiguity.
    let mut ids: Vec<ContentId> = Vec::new();
    let mut n = 0;
    let (x, y) = loop {
        let id = store.write(&version(None, &format!("p{n}"))).unwrap();
        n += 1;
        if let Some(other) = ids.iter().find(|o| o.0[..2] == id.0[..2]) {
            break (*other, id);
        }
        ids.push(id);
    };
    let shared = &x.to_string()[..4];
    let err = store.resolve(shared).unwrap_err().to_string();
    assert!(err.contains("ambiguous"), "{err}");
    assert_eq!(store.resolve(&y.to_string()[..20]).unwrap(), y);
    assert_eq!(store.resolve(&y.to_string().to_uppercase()).unwrap(), y);
    store.compare_and_swap(None, y).unwrap();
    assert_eq!(store.resolve("HEAD").unwrap(), y);
    // Stray temporary files from a killed writer are ignored.
    std::fs::write(store.root().join("objects/.tmpXYZ"), "partial").unwrap();
    assert_eq!(store.object_ids().unwrap().len(), n);
}

#[test]
fn apply_is_idempotent_and_reports_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path());
    let options = ApplyOptions::default();
    let first = apply(&store, defs("a"), Timestamp::from_secs(1), &options).unwrap();
    let Applied::Created {
        id, parent: None, ..
    } = first
    else {
        panic!("{first:?}")
    };
    let again = apply(&store, defs("a"), Timestamp::from_secs(2), &options).unwrap();
    assert_eq!(again, Applied::Unchanged { id });

    let mut next = defs("b");
    next.entities.push(verge_core::definition::Entity {
        name: "horse".into(),
        join_keys: vec![verge_core::definition::Field::new(
            "k",
            verge_core::DType::Int64,
        )],
        description: String::new(),
    });
    let second = apply(&store, next, Timestamp::from_secs(3), &options).unwrap();
    let Applied::Created {
        parent,
        changes,
        project_renamed,
        ..
    } = &second
    else {
        panic!("{second:?}")
    };
    assert_eq!(*parent, Some(id));
    assert!(*project_renamed);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].op, ChangeOp::Created);
    assert_eq!(store.head().unwrap(), Some(second.id()));
}

#[test]
fn expect_head_and_retry() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path());
    let a = apply(
        &store,
        defs("a"),
        Timestamp::from_secs(1),
        &ApplyOptions::default(),
    )
    .unwrap()
    .id();
    let stale = ApplyOptions {
        expect_head: Some(None),
        ..ApplyOptions::default()
    };
    let err = apply(&store, defs("b"), Timestamp::from_secs(2), &stale).unwrap_err();
    assert!(err.downcast_ref::<Conflict>().is_some());
    let fresh = ApplyOptions {
        expect_head: Some(Some(a)),
        ..ApplyOptions::default()
    };
    apply(&store, defs("b"), Timestamp::from_secs(2), &fresh).unwrap();
}

/// Definitions holding feature services named by `services` (name, description).
fn with_services(services: &[(String, String)]) -> Definitions {
    let mut d = defs("p");
    d.feature_services = services
        .iter()
        .map(
            |(name, description)| verge_core::definition::FeatureService {
                name: name.clone(),
                features: Vec::new(),
                description: description.clone(),
            },
        )
        .collect();
    d.canonicalize();
    d
}

fn service<'d>(d: &'d Definitions, name: &str) -> Option<&'d str> {
    d.feature_services
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.description.as_str())
}

/// One writer's edit of the base: for each service name (of a pool of 6),
/// keep it, set its description, or delete it.
fn edit(base: &[(String, String)], choices: &[u8], writer: usize) -> Vec<(String, String)> {
    (0..6)
        .filter_map(|i| {
            let name = format!("s{i}");
            let old = base.iter().find(|(n, _)| *n == name).cloned();
            match choices[i] % 4 {
                0 | 1 => old,                                                  // untouched
                2 => Some((name, format!("writer {writer} v{}", choices[i]))), // set
                _ => None,                                                     // deleted
            }
        })
        .collect()
}

proptest::proptest! {
    /// The three-way rule: a rebase keeps every change of each side, or names
    /// an object both changed differently.
    #[test]
    fn rebase_keeps_both_sides_or_names_the_clash(
        base_pick in proptest::collection::vec(0u8..4, 6),
        ours_pick in proptest::collection::vec(0u8..8, 6),
        theirs_pick in proptest::collection::vec(0u8..8, 6),
    ) {
        let base: Vec<(String, String)> = (0..6)
            .filter(|i| base_pick[*i] != 0)
            .map(|i| (format!("s{i}"), "base".to_owned()))
            .collect();
        let (b, o, t) = (
            with_services(&base),
            with_services(&edit(&base, &ours_pick, 1)),
            with_services(&edit(&base, &theirs_pick, 2)),
        );
        let merged = super::merge::rebase(&b, &o, &t, None, None);
        let mut clash = false;
        for i in 0..6 {
            let name = format!("s{i}");
            let (bv, ov, tv) = (service(&b, &name), service(&o, &name), service(&t, &name));
            if ov != bv && tv != bv && ov != tv {
                clash = true;
            }
            if let Ok(m) = &merged {
                let want = if ov != bv { ov } else { tv };
                proptest::prop_assert_eq!(service(m, &name), want, "{}", name);
            }
        }
        proptest::prop_assert_eq!(merged.is_err(), clash);
    }

    /// Writers that all planned against the same head, applied one after
    /// another with --retry: no acknowledged change is missing from the final
    /// head unless a later acknowledged apply changed that same object.
    #[test]
    fn no_acknowledged_change_is_lost(
        writers in proptest::collection::vec(proptest::collection::vec(0u8..8, 6), 1..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path());
        let base: Vec<(String, String)> =
            (0..6).map(|i| (format!("s{i}"), "base".to_owned())).collect();
        let planned = apply(&store, with_services(&base), Timestamp::from_secs(1), &ApplyOptions::default())
            .unwrap()
            .id();
        let options = ApplyOptions {
            retries: 1,
            expect_head: Some(Some(planned)),
            ..ApplyOptions::default()
        };
        // (service, description or deleted) each acknowledged writer set.
        let mut acknowledged: Vec<Vec<(String, Option<String>)>> = Vec::new();
        for (w, choices) in writers.iter().enumerate() {
            let ours = edit(&base, choices, w);
            let result = apply(&store, with_services(&ours), Timestamp::from_secs(2 + w as i64), &options);
            let changed: Vec<(String, Option<String>)> = (0..6)
                .map(|i| format!("s{i}"))
                .filter_map(|n| {
                    let now = ours.iter().find(|(m, _)| *m == n).map(|(_, d)| d.clone());
                    (now.as_deref() != Some("base")).then_some((n, now))
                })
                .collect();
            match result {
                Ok(_) => acknowledged.push(changed),
                Err(e) => proptest::prop_assert!(e.downcast_ref::<super::merge::MergeConflict>().is_some(), "{e:#}"),
            }
        }
        let head = store.read_head().unwrap().unwrap().1.definitions;
        for (k, changes) in acknowledged.iter().enumerate() {
            for (name, value) in changes {
                let overwritten = acknowledged[k + 1..]
                    .iter()
                    .any(|later| later.iter().any(|(n, _)| n == name));
                if !overwritten {
                    proptest::prop_assert_eq!(service(&head, name), value.as_deref(), "{}", name);
                }
            }
        }
    }
}
