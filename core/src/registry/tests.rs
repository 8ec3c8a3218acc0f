//! Unit tests for registry versions: round trips, ids, hostile bytes and diffs.

use super::*;
use crate::definition::{
    Encoding, Entity, EstimatorSpec, FeatureRef, FeatureService, FeatureView, Field, Imputation,
    ModelSpec, Scaling, Source, SourceFormat,
};
use crate::{DType, Duration};
use alloc::string::ToString;
use alloc::vec;
use proptest::prelude::*;

fn sample() -> Definitions {
    Definitions {
        project: "horse_colic".into(),
        entities: vec![Entity {
            name: "horse".into(),
            join_keys: vec![Field::new("hospital_number", DType::Int64)],
            description: "a patient".into(),
        }],
        sources: vec![Source {
            name: "colic_records".into(),
            path: "data/horse_colic.db".into(),
            format: SourceFormat::Sqlite {
                table: "data".into(),
            },
            timestamp_field: "timestamp".into(),
            created_timestamp_field: Some("created".into()),
            field_mapping: vec![("Hospital Number".into(), "hospital_number".into())],
        }],
        feature_views: vec![FeatureView {
            name: "horse_colic_stats".into(),
            entities: vec!["horse".into()],
            source: "colic_records".into(),
            ttl: Duration::from_days(1),
            online: true,
            fields: vec![Field::new("rectal_temperature", DType::Float64)],
            description: String::new(),
            owner: "vet@example.com".into(),
            tags: vec![("team".into(), "surgery".into())],
        }],
        on_demand_views: vec![],
        feature_services: vec![FeatureService {
            name: "surgical_lesion_v1".into(),
            features: vec![FeatureRef {
                view: "horse_colic_stats".into(),
                field: "rectal_temperature".into(),
            }],
            description: String::new(),
        }],
        models: vec![ModelSpec {
            name: "surgical_lesion".into(),
            feature_service: "surgical_lesion_v1".into(),
            label: "surgical_lesion".into(),
            impute: Imputation::Constant(0.5),
            scale: Scaling::Standard,
            encode: Encoding::OneHot,
            select_k_best: Some(1),
            estimator: EstimatorSpec::LogisticRegression {
                c: 1.0,
                max_iter: 100,
            },
        }],
        push_sources: vec![],
    }
}

#[test]
fn round_trips_and_starts_with_header() {
    let v = RegistryVersion::new(None, Timestamp::from_secs(7), "init", sample());
    let bytes = v.to_bytes().unwrap();
    assert_eq!(&bytes[..4], b"VRGR");
    assert_eq!(&bytes[4..6], &[2, 0]);
    assert_eq!(RegistryVersion::from_bytes(&bytes).unwrap(), v);
}

#[test]
fn id_ignores_declaration_order() {
    let mut a = sample();
    a.entities.push(Entity {
        name: "clinic".into(),
        join_keys: vec![Field::new("clinic_id", DType::String)],
        description: String::new(),
    });
    let mut b = a.clone();
    b.entities.reverse();
    let va = RegistryVersion::new(None, Timestamp::from_secs(1), "", a);
    // Bypass `new` so only `to_bytes` canonicalizes.
    let vb = RegistryVersion {
        parent: None,
        applied_at: Timestamp::from_secs(1),
        message: String::new(),
        definitions: b,
    };
    assert_eq!(va.id().unwrap(), vb.id().unwrap());
}

#[test]
fn id_depends_on_every_field() {
    let base = RegistryVersion::new(None, Timestamp::from_secs(1), "m", sample());
    let mut other = base.clone();
    other.message = "n".into();
    assert_ne!(base.id().unwrap(), other.id().unwrap());
    let mut other = base.clone();
    other.parent = Some(ContentId::of(b"x"));
    assert_ne!(base.id().unwrap(), other.id().unwrap());
    let mut other = base.clone();
    other.applied_at = Timestamp::from_secs(2);
    assert_ne!(base.id().unwrap(), other.id().unwrap());
}

#[test]
fn rejects_bad_headers() {
    let bytes = RegistryVersion::new(None, Timestamp::from_secs(1), "", sample())
        .to_bytes()
        .unwrap();
    assert!(matches!(
        RegistryVersion::from_bytes(&bytes[..3]),
        Err(Error::Truncated { needed: 6, .. })
    ));
    let mut wrong = bytes.clone();
    wrong[0] = b'X';
    assert!(matches!(
        RegistryVersion::from_bytes(&wrong),
        Err(Error::BadMagic { .. })
    ));
    let mut wrong = bytes.clone();
    wrong[4] = 9;
    assert!(matches!(
        RegistryVersion::from_bytes(&wrong),
        Err(Error::UnsupportedVersion { found: 9, .. })
    ));
    let mut longer = bytes.clone();
    longer.push(0);
    let err = RegistryVersion::from_bytes(&longer).unwrap_err();
    assert!(err.to_string().contains("trailing"), "{err}");
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = RegistryVersion::new(None, Timestamp::from_secs(1), "msg", sample())
        .to_bytes()
        .unwrap();
    for len in 0..bytes.len() {
        assert!(
            RegistryVersion::from_bytes(&bytes[..len]).is_err(),
            "len {len}"
        );
    }
}

#[test]
fn huge_claimed_length_is_refused_without_allocating() {
    // Header, `parent = None`, timestamp 0, then a message claiming u64::MAX bytes.
    let mut bytes = vec![b'V', b'R', b'G', b'R', 1, 0, 0, 0, 253];
    bytes.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(RegistryVersion::from_bytes(&bytes).is_err());
    let mut bytes = vec![b'V', b'R', b'G', b'R', 1, 0, 0, 0, 252];
    bytes.extend_from_slice(&(60_000u32).to_le_bytes());
    assert!(RegistryVersion::from_bytes(&bytes).is_err());
}

#[test]
fn diff_reports_created_updated_deleted_sorted() {
    let old = sample();
    let mut new = sample();
    new.feature_views[0].ttl = Duration::from_days(2);
    new.models.clear();
    new.entities.push(Entity {
        name: "clinic".into(),
        join_keys: vec![Field::new("clinic_id", DType::String)],
        description: String::new(),
    });
    let changes = diff(&old, &new);
    let got: Vec<(ObjectKind, &str, ChangeOp)> = changes
        .iter()
        .map(|c| (c.kind, c.name.as_str(), c.op))
        .collect();
    assert_eq!(
        got,
        vec![
            (ObjectKind::Entity, "clinic", ChangeOp::Created),
            (
                ObjectKind::FeatureView,
                "horse_colic_stats",
                ChangeOp::Updated
            ),
            (ObjectKind::Model, "surgical_lesion", ChangeOp::Deleted),
        ]
    );
    assert_eq!(
        changes[1].to_string(),
        "~ [[feature_view]] horse_colic_stats"
    );
    assert!(diff(&old, &old).is_empty());
}

fn arb_text() -> impl Strategy<Value = String> {
    "[a-z_]{0,8}"
}

fn arb_definitions() -> impl Strategy<Value = Definitions> {
    let entity = (
        arb_text(),
        prop::collection::vec(arb_text(), 0..3),
        arb_text(),
    )
        .prop_map(|(name, keys, description)| Entity {
            name,
            join_keys: keys
                .into_iter()
                .map(|k| Field::new(k, DType::Int64))
                .collect(),
            description,
        });
    let view = (
        arb_text(),
        any::<i64>(),
        any::<bool>(),
        prop::collection::vec(arb_text(), 0..4),
    )
        .prop_map(|(name, ttl, online, fields)| FeatureView {
            name,
            entities: vec!["e".into()],
            source: "s".into(),
            ttl: Duration::from_micros(ttl),
            online,
            fields: fields
                .into_iter()
                .map(|f| Field::new(f, DType::Float32))
                .collect(),
            description: String::new(),
            owner: String::new(),
            tags: vec![],
        });
    let model =
        (arb_text(), any::<f64>(), prop::option::of(any::<u32>())).prop_map(|(name, x, k)| {
            ModelSpec {
                name,
                feature_service: "fs".into(),
                label: "y".into(),
                impute: Imputation::Constant(x),
                scale: Scaling::MinMax,
                encode: Encoding::Ordinal,
                select_k_best: k,
                estimator: EstimatorSpec::GaussianNb { var_smoothing: x },
            }
        });
    (
        arb_text(),
        prop::collection::vec(entity, 0..4),
        prop::collection::vec(view, 0..4),
        prop::collection::vec(model, 0..3),
    )
        .prop_map(|(project, entities, feature_views, models)| Definitions {
            project,
            entities,
            feature_views,
            models,
            ..Definitions::default()
        })
}

proptest! {
    #[test]
    fn prop_round_trip(
        defs in arb_definitions(),
        parent in prop::option::of(any::<[u8; 32]>()),
        at in any::<i64>(),
        message in prop::collection::vec(any::<char>(), 0..=20).prop_map(String::from_iter),
    ) {
        let v = RegistryVersion::new(parent.map(ContentId), Timestamp::from_micros(at), message, defs);
        let bytes = v.to_bytes().unwrap();
        let back = RegistryVersion::from_bytes(&bytes).unwrap();
        // NaN != NaN, so compare the canonical bytes rather than the values.
        prop_assert_eq!(back.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn prop_random_bytes_never_panic(tail in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = vec![b'V', b'R', b'G', b'R', 1, 0];
        bytes.extend_from_slice(&tail);
        let _ = RegistryVersion::from_bytes(&bytes);
        let _ = RegistryVersion::from_bytes(&tail);
    }

    #[test]
    fn prop_truncated_or_flipped_never_panic(
        defs in arb_definitions(),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let bytes = RegistryVersion::new(None, Timestamp::from_secs(1), "m", defs)
            .to_bytes()
            .unwrap();
        let n = cut.index(bytes.len());
        prop_assert!(RegistryVersion::from_bytes(&bytes[..n]).is_err());
        let mut flipped = bytes.clone();
        let i = flip.index(flipped.len());
        flipped[i] ^= 1 << bit;
        let _ = RegistryVersion::from_bytes(&flipped);
    }
}
