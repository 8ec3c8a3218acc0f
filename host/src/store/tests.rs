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
