//! Definitions validation: every problem is found, named, and reported at once.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use verge_core::definition::{
    Definitions, Encoding, Entity, EstimatorSpec, FeatureRef, FeatureService, FeatureView, Field,
    Imputation, ModelSpec, ObjectKind, OnDemandFeatureView, OnDemandField, PushSource,
    ResolvedFeature, Scaling, Source, SourceFormat,
};
use verge_core::expr::{Program, Schema};
use verge_core::{DType, Duration, Error};

fn good() -> Definitions {
    let fields = vec![
        Field::new("temp", DType::Float64),
        Field::new("pulse", DType::Int64),
    ];
    let schema = Schema::new(vec![
        ("temp".into(), DType::Float64),
        ("pulse".into(), DType::Int64),
    ]);
    let mut defs = Definitions {
        project: "p".into(),
        entities: vec![Entity {
            name: "horse".into(),
            join_keys: vec![Field::new("id", DType::Int64)],
            description: String::new(),
        }],
        sources: vec![Source {
            name: "src".into(),
            path: "data.csv".into(),
            format: SourceFormat::Csv,
            timestamp_field: "ts".into(),
            created_timestamp_field: None,
            field_mapping: vec![],
        }],
        feature_views: vec![FeatureView {
            name: "stats".into(),
            entities: vec!["horse".into()],
            source: "src".into(),
            ttl: Duration::from_days(1),
            online: true,
            fields,
            description: String::new(),
            owner: String::new(),
            tags: vec![],
        }],
        on_demand_views: vec![OnDemandFeatureView {
            name: "derived".into(),
            sources: vec!["stats".into()],
            request: vec![],
            fields: vec![OnDemandField {
                name: "fever".into(),
                dtype: DType::Float64,
                program: Program::compile("max(temp - 38.5, 0)", &schema).unwrap(),
            }],
        }],
        feature_services: vec![FeatureService {
            name: "svc".into(),
            features: vec![
                FeatureRef::parse("stats:temp").unwrap(),
                FeatureRef::parse("derived:fever").unwrap(),
            ],
            description: String::new(),
        }],
        models: vec![ModelSpec {
            name: "m".into(),
            feature_service: "svc".into(),
            label: "y".into(),
            impute: Imputation::Mean,
            scale: Scaling::None,
            encode: Encoding::OneHot,
            select_k_best: Some(1),
            estimator: EstimatorSpec::GaussianNb {
                var_smoothing: 1e-9,
            },
        }],
        push_sources: vec![],
    };
    defs.canonicalize();
    defs
}

fn problems(defs: &Definitions) -> Vec<String> {
    match defs.validate() {
        Ok(()) => vec![],
        Err(Error::Invalid(problems)) => problems.iter().map(ToString::to_string).collect(),
        Err(other) => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn a_good_repository_validates() {
    assert_eq!(problems(&good()), Vec::<String>::new());
}

#[test]
fn every_problem_is_reported_at_once_with_its_object() {
    let mut defs = good();
    defs.feature_views[0].source = "nowhere".into();
    defs.feature_views[0].entities.push("ghost".into());
    defs.feature_services[0]
        .features
        .push(FeatureRef::parse("stats:nope").unwrap());
    defs.models[0].feature_service = "missing".into();
    defs.entities.push(defs.entities[0].clone());
    let found = problems(&defs);
    let expect = [
        "[[feature_view]] `stats`: source `nowhere` is not declared",
        "[[feature_view]] `stats`: entity `ghost` is not declared",
        "[[feature_service]] `svc`: `stats:nope`: unknown feature",
        "[[model]] `m`: feature service `missing` is not declared",
        "[[entity]] `horse`: the name is declared more than once",
    ];
    for needle in expect {
        assert!(
            found.iter().any(|p| p.contains(needle)),
            "missing {needle:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
}

#[test]
fn names_keys_and_types_are_checked() {
    let mut defs = good();
    defs.entities[0].join_keys[0].dtype = DType::Float64;
    defs.feature_views[0]
        .fields
        .push(Field::new("temp", DType::Float64));
    defs.feature_views[0]
        .fields
        .push(Field::new("bad name", DType::Float64));
    defs.models[0].select_k_best = Some(0);
    defs.models[0].label = "temp".into();
    let found = problems(&defs).join("\n");
    for needle in [
        "join key `id` has type float64",
        "`temp` is declared twice",
        "field `bad name` is not a valid name",
        "select_k_best = 0 keeps nothing",
        "the label `temp` is also an input feature",
    ] {
        assert!(found.contains(needle), "missing {needle:?} in\n{found}");
    }
}

#[test]
fn stale_or_mistyped_programs_are_caught() {
    let mut defs = good();
    defs.on_demand_views[0].fields[0].dtype = DType::Int64;
    assert!(
        problems(&defs)
            .join("\n")
            .contains("declared int64 but its expression gives float64")
    );

    // A view whose inputs changed type under a stored program: recompiling differs.
    let mut defs = good();
    defs.feature_views[0].fields[0].dtype = DType::String;
    let found = problems(&defs).join("\n");
    assert!(found.contains("field `fever`"), "{found}");
}

#[test]
fn views_and_on_demand_views_share_a_namespace() {
    let mut defs = good();
    defs.on_demand_views[0].name = "stats".into();
    assert!(
        problems(&defs)
            .join("\n")
            .contains("a feature view has the same name")
    );
}

#[test]
fn resolve_names_views_fields_and_hints() {
    let defs = good();
    let r = defs
        .resolve(&FeatureRef::parse("stats:pulse").unwrap())
        .unwrap();
    assert!(matches!(r, ResolvedFeature::View { field: 1, .. }));
    assert_eq!(r.dtype(), DType::Int64);
    let r = defs
        .resolve(&FeatureRef::parse("derived:fever").unwrap())
        .unwrap();
    assert!(matches!(r, ResolvedFeature::OnDemand { field: 0, .. }));
    let err = defs
        .resolve(&FeatureRef::parse("stats:nope").unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("`stats` has: temp, pulse"), "{err}");
    let err = defs
        .resolve(&FeatureRef::parse("nope:x").unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("known views: stats, derived"), "{err}");
}

#[test]
fn canonical_order_does_not_depend_on_declaration_order() {
    let a = good();
    let mut b = good();
    b.entities.push(Entity {
        name: "aardvark".into(),
        join_keys: vec![Field::new("k", DType::String)],
        description: String::new(),
    });
    b.entities.reverse();
    b.canonicalize();
    let mut c = good();
    c.entities.insert(
        0,
        Entity {
            name: "aardvark".into(),
            join_keys: vec![Field::new("k", DType::String)],
            description: String::new(),
        },
    );
    c.canonicalize();
    assert_eq!(b, c);
    assert_ne!(a, b);
    assert_eq!(ObjectKind::FeatureView.table(), "feature_view");
}

#[test]
fn a_view_may_read_a_push_source_whose_batch_source_offline_reads_use() {
    let mut defs = good();
    let batch = defs.sources[0].name.clone();
    defs.push_sources.push(PushSource {
        name: "fresh".into(),
        batch_source: batch.clone(),
        description: String::new(),
    });
    defs.feature_views[0].source = "fresh".into();
    assert_eq!(problems(&defs), Vec::<String>::new());
    assert_eq!(defs.source("fresh").unwrap().name, batch);
    assert_eq!(defs.push_views("fresh").len(), 1);

    // An unknown batch source, a name shared with a source, a name twice.
    defs.push_sources.push(PushSource {
        name: batch.clone(),
        batch_source: "nowhere".into(),
        description: String::new(),
    });
    defs.push_sources.push(defs.push_sources[0].clone());
    let found = problems(&defs);
    assert_eq!(
        found,
        [
            "[[push_source]] `fresh`: the name is declared more than once; each push_source needs a unique name".to_owned(),
            format!("[[push_source]] `{batch}`: a [[source]] has the same name; rename one of them"),
            format!("[[push_source]] `{batch}`: `batch_source` `nowhere` is not a declared [[source]]; add it or name another"),
        ]
    );
}
